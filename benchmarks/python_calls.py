"""How well a model calls `python` for arithmetic: held-out problems of five kinds, side by side.

    .venv/bin/python benchmarks/python_calls.py RUN CHECKPOINT [CHECKPOINT ...] [--n 60] [--show]
                                                [--also-avoid CONVERSATIONS.jsonl ...]

RUN is a run folder after `dentro factuality` (its `factuality/conversations/train.jsonl`: no
problem of its python conversations is asked, nor of --also-avoid's, e.g. another stage run's
mix when its model is compared); each CHECKPOINT a model to ask (e.g.
RUN/factuality/checkpoint). Five sets of `--n` problems each, pt and en alternating, asked
through the tool loop as `dentro chat` runs it (greedy, the tools line in the system message,
every call run in the sandbox):

  4-5 digits   the kind of the stage's held-out arithmetic (with --seed 0, its very problems): two
               operands of 4-5 digits (products 4 x 4);
  mixed sizes  operands of 1-6 digits drawn apart, one of them 3 or more ("48213 × 771",
               "1234 + 98"), what a user types as often;
  small        two operands of 1-2 digits ("7 + 5", "34 × 12");
  division     a / b, b of 1-3 digits, a of at most 6, half of them exact; the program rounds the
               float to two decimals (`print( round( a / b, 2))`; the unrounded float also counts);
  separators   4-5 digit problems written as people write them ("48.213 + 7.719", "48,213 + 7,719");
               the program keeps the separator as Python's "_" (`print( 48_213 + 7_719)`).

Counted per set: replies whose final answer holds the exact result as a whole number (not
inside a longer one), replies that called python, and calls whose program is the problem as
the training conversations write it (`print( a op b)`: both numbers and the operator copied).
With the run's factuality/gate.json, also the right and the wrong answers that the gate lets
stand after the tools, as `dentro chat` judges them (dentro.chat.gate.after_tools: grounded in the
results, or else the answer_threshold).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("checkpoints", type=Path, nargs="+")
    ap.add_argument("--n", type=int, default=60, help="problems per set")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--show", action="store_true", help="print every problem, call and answer")
    ap.add_argument("--free-copy", action="store_true",
                    help="quoted names and numbers as the model writes them (ToolContext.copy_quotes and "
                         "copy_numbers off; dentro.chat.copying)")
    ap.add_argument("--also-avoid", type=Path, nargs="*", default=[],
                    help="more conversation files (JSONL) whose python problems are not asked")
    args = ap.parse_args()

    from dentro.runs import read_jsonl
    from dentro.chat.gate import after_tools
    from dentro.chat.tool_mix import chat_context, python_pairs
    from dentro.eval.tools import answer_with_tools, arithmetic_items, number_in
    from dentro.model.checkpoint import load_checkpoint
    from dentro.world.tool_conversations import KINDS, python_code

    train = args.run / "factuality" / "conversations" / "train.jsonl"
    avoid = python_pairs(read_jsonl(train)) if train.is_file() else set()
    for path in args.also_avoid:
        avoid |= python_pairs(read_jsonl(path))
    sets = {kind: arithmetic_items(args.n, seed=args.seed, avoid=avoid, kind=kind) for kind in KINDS}
    sets["separators"] = arithmetic_items(args.n, seed=args.seed, avoid=avoid, separators=True)
    out = {"run": str(args.run), "n": args.n, "seed": args.seed, "avoided_pairs": len(avoid), "models": {}}
    gate_file = args.run / "factuality" / "gate.json"
    judge = json.loads(gate_file.read_text())["answer_threshold"] if gate_file.is_file() else None
    for ckpt in args.checkpoints:
        model, tok, _ = load_checkpoint(ckpt, load_train_state=False)
        model.eval()
        ctx = chat_context(args.run / "tools" / "search.sqlite", model.config.max_position_embeddings)
        ctx.copy_quotes = ctx.copy_numbers = not args.free_copy
        res = {}
        for name, items in sets.items():
            t0 = time.time()
            n = {"problems": len(items), "correct": 0, "called_python": 0, "program_exact": 0}
            if judge is not None:
                n.update(right_stands=0, wrong_stands=0)
            for it, r in zip(items, answer_with_tools(model, tok, [it["question"] for it in items], ctx)):
                r["codes"] = [str(a.get("code", "")) for c, a in zip(r["calls"], r["arguments"]) if c == "python"]
                right = any(number_in(r["text"], a) for a in it["answers"])
                exact = python_code(it["a"], it["op"], it["b"], it["bucket"].endswith("_separators")) in r["codes"]
                n["correct"] += right
                n["called_python"] += bool(r["codes"])
                n["program_exact"] += exact
                if judge is not None and after_tools(r["confidence"], judge, r["missing"]):
                    n["right_stands" if right else "wrong_stands"] += 1
                if args.show:
                    print(f"{name} | {it['question']} | {r['codes'][:1]} | {r['text'][:60]!r} | "
                          f"{'right' if right else 'WRONG'}")
            n["seconds"] = round(time.time() - t0, 1)
            res[name] = n
        out["models"][str(ckpt)] = res
        print(json.dumps({str(ckpt): res}), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
