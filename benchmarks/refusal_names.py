"""Whom a refusal after an empty search names: the person asked about, or someone the model recalls.

    .venv/bin/python benchmarks/refusal_names.py RUN [RUN ...] [--per-group 40]

For each run (a folder after `dentro factuality`), held-out questions (frequent, rare and people
who do not exist; `--per-group` per bucket and language, the knowledge evaluation's items, seed 5)
go through the tool loop with the run's tool model as `dentro chat` asks them (greedy, batched),
twice: with NameCopy switched off and on (dentro/chat/copying.py: after searches that found
nothing, the answer's names are the question's). Printed per run and mode: the verdicts per
bucket, the refusals that name someone the question does not ("...não falam de Olivia Perry."
for Olivia Byrne), and how many replies changed. Every other constraint stays on in both modes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_NAMED = re.compile(r"(?:sobre|about|falam de|say nothing about) (.+?)\.?$")


def names_someone_else(question: str, text: str) -> bool:
    m = _NAMED.search(text.strip())
    return bool(m) and m.group(1) not in question


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--per-group", type=int, default=40)
    args = ap.parse_args()

    from dentro.chat import copying
    from dentro.chat.tool_mix import chat_context
    from dentro.eval import knowledge as K
    from dentro.eval import tools as T
    from dentro.model.checkpoint import load_checkpoint

    constrain = copying.NameCopy.constrain
    for run in args.runs:
        model, tok, _ = load_checkpoint(run / "factuality" / "checkpoint", load_train_state=False)
        held = json.loads((run / "sft" / "conversations" / "heldout.json").read_text())
        items = K.load_items(run / "world" / "truth", set(held["facts"]), per_group=args.per_group, seed=5,
                             buckets=("frequent", "rare", "absent"))
        out = {"run": str(run), "questions": len(items)}
        try:
            for mode in ("off", "on"):
                copying.NameCopy.constrain = constrain if mode == "on" else (lambda self, logits: None)
                ctx = chat_context(run / "tools" / "search.sqlite", model.config.max_position_embeddings)
                t0 = time.time()
                T.measure(model, tok, items, mode, context=ctx)
                verdicts = Counter(f"{it['bucket']} {it[mode]['verdict']}" for it in items)
                out[mode] = {"seconds": round(time.time() - t0, 1), "verdicts": dict(sorted(verdicts.items())),
                             "refusals": sum(it[mode]["verdict"] == "refused" for it in items),
                             "refusals_naming_someone_else": sum(
                                 names_someone_else(it["question"], it[mode]["text"]) for it in items
                                 if it[mode]["verdict"] == "refused")}
        finally:
            copying.NameCopy.constrain = constrain
        out["replies_changed"] = sum(it["off"]["text"] != it["on"]["text"] for it in items)
        print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
