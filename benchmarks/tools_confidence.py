"""After a tool, how sure is the answer? The tool model's confidence in its final reply, right against wrong.

    .venv/bin/python benchmarks/tools_confidence.py RUN [RUN ...] [--per-group 40]

For each run (a folder after `dentro factuality`: factuality/checkpoint, factuality/gate.json,
tools/search.sqlite), held-out questions go through the tool loop with the run's tool model, as
`dentro chat` asks them (greedy, the tools line in the system message, up to two calls, batched):
`--per-group` facts per bucket (frequent, medium, rare, people who do not exist) and language
(the knowledge evaluation's items, seed 9), and 40 arithmetic problems of each kind (4-5 digits,
mixed sizes; seed 3). Of the replies that called a tool and ended, the final answer's confidence
is the confidence gate's (dentro.chat.gate): the geometric mean of the model's probabilities of
the tokens it wrote after the last tool response, from one forward of the whole conversation.

Printed: the AUC of that confidence for right against wrong answers (pooled over the runs), the
right answers kept and wrong ones stopped at a few thresholds, and per bucket, at each run's own
gate threshold (calibrated on the probe, never on held-out questions): [answers, of them at or
above it] for right, wrong and refused answers. It measures whether the gate could judge the
answer after a tool as it judges an answer from memory; nothing is changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def asked(run: Path, per_group: int):
    """The run's tool model, its gate.json, and the held-out questions (facts: `per_group` per bucket
    and language, seed 9; 40 arithmetic problems of each of two kinds, seed 3) as conversations and
    the tool loop's replies to them (greedy, up to two calls, batched): (model, tok, gate, items,
    convs, dones). Shared with tools_grounding.py."""
    from dentro.chat.assistant import build_prompt
    from dentro.chat.tool_mix import chat_context
    from dentro.chat.toolloop import tool_loop_batch
    from dentro.chat.tools import TOOLS_PROMPT
    from dentro.eval import knowledge as K
    from dentro.eval.tools import arithmetic_items
    from dentro.model.checkpoint import load_checkpoint

    model, tok, _ = load_checkpoint(run / "factuality" / "checkpoint", load_train_state=False)
    model.eval()
    gate = json.loads((run / "factuality" / "gate.json").read_text())
    held = json.loads((run / "sft" / "conversations" / "heldout.json").read_text())
    items = K.load_items(run / "world" / "truth", set(held["facts"]), per_group=per_group, seed=9,
                         buckets=("frequent", "medium", "rare", "absent"))
    items += arithmetic_items(40, seed=3) + arithmetic_items(40, seed=3, kind="mixed sizes")
    window = model.config.max_position_embeddings
    context = chat_context(run / "tools" / "search.sqlite", window)
    convs = [[{"role": "system", "content": TOOLS_PROMPT}, {"role": "user", "content": it["question"]}]
             for it in items]
    dones = tool_loop_batch(model, tok, [build_prompt(tok, c, window, 96).ids for c in convs], context=context,
                            max_tokens=96, max_calls=2)
    return model, tok, gate, items, convs, dones


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--per-group", type=int, default=40)
    args = ap.parse_args()

    import torch

    from dentro.chat.assistant import geometric_mean
    from dentro.chat.template import render
    from dentro.eval.stats import auc
    from dentro.eval.tools import item_verdict

    scores: dict[str, list[float]] = {"correct": [], "wrong": [], "refused": []}
    per: dict[str, dict] = {}
    for run in args.runs:
        model, tok, gate, items, convs, dones = asked(run, args.per_group)
        threshold = gate["threshold"]
        window = model.config.max_position_embeddings
        im_end = tok.special_id("<|im_end|>")
        for it, conv, done in zip(items, convs, dones):
            if not done.calls or done.reason != "stop" or done.messages[-1]["role"] != "assistant":
                continue
            ids, _ = render(tok, conv + done.messages)
            before, _ = render(tok, conv + done.messages[:-1], add_generation_prompt=True)
            if len(ids) > window + 1:
                continue
            with torch.no_grad():
                logp = model(torch.tensor([ids[:-1]]))[0].float().log_softmax(-1)
            end = ids.index(im_end, len(before))
            lps = [logp[j - 1, ids[j]].item() for j in range(len(before), end)]
            confidence = geometric_mean(lps)
            v = item_verdict(done.messages[-1]["content"], it)
            if it["bucket"] == "absent":
                v = "refused" if v == "refused" else "wrong"
            scores[v].append(confidence)
            g = per.setdefault(it["bucket"], {k: [0, 0] for k in scores})
            g[v][0] += 1
            g[v][1] += confidence >= threshold
        print(json.dumps({"run": str(run), "threshold": threshold, "answers": sum(len(d.calls) > 0 for d in dones)}),
              flush=True)
    print(json.dumps({k: len(v) for k, v in scores.items()}))
    print("AUC right vs wrong:", round(auc(scores["correct"], scores["wrong"]) or 0, 3))
    for t in (0.7, 0.8, 0.85, 0.9, 0.95):
        print(f"at {t}: right kept {sum(c >= t for c in scores['correct'])}/{len(scores['correct'])}, "
              f"wrong stopped {sum(c < t for c in scores['wrong'])}/{len(scores['wrong'])}")
    print("per bucket at each run's own gate threshold: [answers, of them at or above it]")
    for b, g in per.items():
        print(f"  {b}: {json.dumps(g)}")


if __name__ == "__main__":
    main()
