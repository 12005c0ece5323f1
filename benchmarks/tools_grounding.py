"""After a tool, is the answer what the tool said? The gate's two ways to judge the tool model's answer.

    .venv/bin/python benchmarks/tools_grounding.py RUN [RUN ...] [--per-group 40]

For each run (a folder after `dentro factuality`: factuality/checkpoint, factuality/gate.json,
tools/search.sqlite), held-out questions go through the tool loop with the run's tool model as
`dentro chat` asks them (greedy, the tools line in the system message, up to two calls, batched):
`--per-group` facts per bucket (frequent, medium, rare, people who do not exist) and language (the
knowledge evaluation's items, seed 9) and 40 arithmetic problems of each of two kinds (4-5 digits,
mixed sizes; seed 3). Of the replies that called a tool and ended with an answer, each is judged
two ways, as `dentro chat` would let it stand or refuse it:

  confidence   its geometric mean against the run's answer_threshold (the gate before);
  grounding    dentro.chat.gate.unsupported: an answer that adds names or numbers stands when the
               tools' results hold them and is refused when they do not; one that adds none is
               judged on its confidence (dentro.chat.gate.after_tools, the gate now).

Printed per bucket and pooled: for each way, the right answers that stand and the wrong ones that
stand (an answer about someone who does not exist is wrong unless refused), and how the answers
split by grounding (grounded / not grounded / nothing to check). Replies that called no tool (the
tool model answering from memory) are counted apart: their verdicts, and those that stand on
their confidence (both ways judge them alike). The facts are held out (the SFT split's held-out
facts); the problems are the stage's own arithmetic draw (seed 3, as tools_confidence.py), and
whether a python conversation of the run used one of them is not checked here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--per-group", type=int, default=40)
    args = ap.parse_args()

    from dentro.chat.gate import after_tools, unsupported
    from dentro.eval.tools import item_verdict
    from tools_confidence import asked  # the same questions, asked the same way

    per: dict[str, dict] = {}

    def count(bucket: str, key: str, n: int = 1) -> None:
        for b in (bucket, "pooled"):
            g = per.setdefault(b, {})
            g[key] = g.get(key, 0) + n

    for run in args.runs:
        _, _, gate, items, _, dones = asked(run, args.per_group)
        threshold = gate["answer_threshold"]
        for it, done in zip(items, dones):
            if done.reason != "stop" or done.messages[-1]["role"] != "assistant":
                continue
            v = item_verdict(done.messages[-1]["content"], it)
            if it["bucket"] == "absent":
                v = "refused" if v == "refused" else "wrong"
            if not done.calls:  # answered from memory: the gate judges it on its confidence alone
                count(it["bucket"], f"no call ({v})")
                if v != "refused" and after_tools(done.confidence, threshold):
                    count(it["bucket"], f"no call: {v} stands")
                continue
            if v == "refused":
                count(it["bucket"], "refused by the model")
                continue
            missing = unsupported([it["question"]], done.messages)
            count(it["bucket"], {None: "nothing to check", True: "grounded", False: "not grounded"}[
                None if missing is None else not missing] + f" ({v})")
            for way, stands in (("confidence", after_tools(done.confidence, threshold)),
                                ("grounding", after_tools(done.confidence, threshold, missing))):
                if stands:
                    count(it["bucket"], f"{way}: {v} stands")
        print(json.dumps({"run": str(run), "answer_threshold": threshold}), flush=True)
    for b, g in per.items():
        print(f"{b}: {json.dumps(dict(sorted(g.items())))}")


if __name__ == "__main__":
    main()
