"""What a model does after a python call fails: held-out problems whose first call is a slip.

    .venv/bin/python benchmarks/python_failed.py RUN CHECKPOINT [CHECKPOINT ...] [--n 60] [--show]

RUN is a run folder after `dentro factuality` (its `factuality/conversations/train.jsonl`: no
problem of its python conversations is asked); each CHECKPOINT a model to ask. For each of
`--n` held-out problems (4-5 digits and mixed sizes alternating, pt and en alternating) the
conversation so far is the question, the assistant's lead ("Vou somar.") with a call whose
program has one slip (dentro.world.tool_conversations.broken_code: the slips in turn, the three of
the training conversations and "no operator", which none of them has), and the
tool message with what the sandbox returns for it (an error, or "(no output; ...)"). The model
continues from there through the tool loop as `dentro chat` runs it (greedy, at most two more
calls, each run in the sandbox). Counted:

  called again   it called python again
  right program  one of those calls is the problem's program (python_code)
  correct        the final answer holds the exact result
  invented       the final answer states a number (two or more digits) that is not the result
                 and no call after the slip printed a number: a result made up
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("checkpoints", type=Path, nargs="+")
    ap.add_argument("--n", type=int, default=60, help="problems")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--show", action="store_true", help="print every problem, call and answer")
    args = ap.parse_args()

    from dentro.chat.assistant import build_prompt
    from dentro.chat.tool_mix import chat_context, python_pairs
    from dentro.chat.toolloop import tool_loop_batch
    from dentro.chat.tools import TOOLS_PROMPT, call_tool
    from dentro.eval.tools import arithmetic_items, number_in
    from dentro.model.checkpoint import load_checkpoint
    from dentro.model.engine import Sampling
    from dentro.runs import read_jsonl
    from dentro.world.tool_conversations import PYTHON_LEAD, SLIPS, broken_code, python_code

    slips = SLIPS + ("no operator",)  # the last one is in no training conversation
    train = args.run / "factuality" / "conversations" / "train.jsonl"
    avoid = python_pairs(read_jsonl(train)) if train.is_file() else set()
    half = (args.n + 1) // 2
    items = [it for pair in zip(arithmetic_items(half, seed=args.seed, avoid=avoid),
                                arithmetic_items(half, seed=args.seed + 1, avoid=avoid, kind="mixed sizes"))
             for it in pair][:args.n]
    sandbox = chat_context(None, 256)  # the python tool's limits are the same for every window
    prompts = []
    for i, it in enumerate(items):
        code = python_code(it["a"], it["op"], it["b"])
        bad = broken_code(code, slips[i % len(slips)])
        error = call_tool("python", {"code": bad}, context=sandbox)
        prompts.append((bad, error, [
            {"role": "system", "content": TOOLS_PROMPT}, {"role": "user", "content": it["question"]},
            {"role": "assistant", "content": PYTHON_LEAD[it["op"]][it["lang"]], "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "python", "arguments": json.dumps({"code": bad})}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": error}]))

    out = {"run": str(args.run), "n": len(items), "seed": args.seed, "avoided_pairs": len(avoid), "models": {}}
    for ckpt in args.checkpoints:
        model, tok, _ = load_checkpoint(ckpt, load_train_state=False)
        model.eval()
        ctx = chat_context(args.run / "tools" / "search.sqlite", model.config.max_position_embeddings)
        n = {"problems": len(items), "called_again": 0, "right_program": 0, "correct": 0, "invented": 0}
        by_slip = {s: [0, 0] for s in slips}  # slip -> [correct, problems]
        t0 = time.time()
        ids = [build_prompt(tok, messages, model.config.max_position_embeddings, 96).ids for _, _, messages in prompts]
        dones = tool_loop_batch(model, tok, ids, context=ctx, max_tokens=96, max_calls=2,
                                sampling=Sampling(temperature=0.0))
        for i, (it, (bad, error, _), done) in enumerate(zip(items, prompts, dones)):
            codes = [str((c.arguments or {}).get("code", "")) for c in done.calls if c.name == "python"]
            results = [m["content"] for m in done.messages if m["role"] == "tool"]
            last = done.messages[-1] if done.messages else {}
            text = (last.get("content") or "") if last.get("role") == "assistant" else ""
            right = any(number_in(text, a) for a in it["answers"])
            printed = any(re.fullmatch(r"-?[\d.]+", r.strip()) for r in results)
            invented = not right and not printed and bool(re.search(r"\d\d", text))
            n["called_again"] += bool(codes)
            n["right_program"] += python_code(it["a"], it["op"], it["b"]) in codes
            n["correct"] += right
            n["invented"] += invented
            slip = slips[i % len(slips)]
            by_slip[slip][0] += right
            by_slip[slip][1] += 1
            if args.show:
                print(f"{slip} | {it['question']} | {bad!r} -> {error[:40]!r} | {codes[:2]} | {text[:60]!r} | "
                      f"{'right' if right else 'INVENTED' if invented else 'wrong'}")
        n["by_slip"] = {s: f"{c}/{t}" for s, (c, t) in by_slip.items()}
        n["seconds"] = round(time.time() - t0, 1)
        out["models"][str(ckpt)] = n
        print(json.dumps({str(ckpt): n}), flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
