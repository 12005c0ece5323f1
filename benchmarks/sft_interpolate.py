"""Interpolate a run's fine-tuned weights with its base model's (WiSE-FT) and ask the held-out facts again.

    .venv/bin/python benchmarks/sft_interpolate.py RUN [--alphas 1,0.9,0.85,0.8] [--finetuned DIR]

RUN is a run folder after `dentro speedrun` (or `dentro sft` from the world): its
pretrain/checkpoint is the base model, sft/conversations/heldout.json the facts no conversation
stated. --finetuned: the weights as trained (default sft/checkpoint; when that checkpoint was
itself saved interpolated, alpha is applied on top of its weights, so pass a checkpoint saved
with `dentro sft --interpolate 1`, or read the report card's "as trained" figures).

For each alpha the weights become alpha x fine-tuned + (1 - alpha) x base, and the SFT stage's
`evaluate` puts the held-out questions (greedy; frequent, medium, rare and absent buckets, per
language) and the identity phrasings no conversation used. Printed per alpha: correct answers per
bucket and language, absent people refused, replies closed within 48 tokens, identity right.
Recorded in docs/sft.md ("Interpolating with the base model").
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--alphas", default="1,0.9,0.85,0.8")
    ap.add_argument("--finetuned", type=Path, help="the fine-tuned checkpoint (default RUN/sft/checkpoint)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from dentro.commands.sft import EVAL_PER_GROUP, evaluate
    from dentro.eval import identity
    from dentro.model.checkpoint import load_checkpoint, read_config, save_checkpoint

    torch.set_num_threads(args.threads)
    run = args.run
    base_dir = run / "pretrain" / "checkpoint"
    tuned_dir = args.finetuned or run / "sft" / "checkpoint"
    mixed = read_config(tuned_dir)[1].get("interpolated")
    if mixed:
        print(f"note: {tuned_dir} was saved interpolated (alpha {mixed['alpha']}); alphas apply on top of it")
    held = json.loads((run / "sft" / "conversations" / "heldout.json").read_text(encoding="utf-8"))
    base, _, _ = load_checkpoint(base_dir, "cpu", load_train_state=False)
    chat, tok, _ = load_checkpoint(tuned_dir, "cpu", load_train_state=False)
    w_base = {k: v.clone() for k, v in base.state_dict().items()}
    w_tuned = {k: v.clone() for k, v in chat.state_dict().items()}
    del base
    with tempfile.TemporaryDirectory(prefix="dentro_wise_") as tmp:
        for alpha in (float(a) for a in args.alphas.split(",")):
            t0 = time.time()
            chat.load_state_dict({k: alpha * w_tuned[k] + (1 - alpha) * w_base[k] for k in w_tuned})
            folder = save_checkpoint(Path(tmp) / f"alpha_{alpha:g}", chat, tok)
            ev = evaluate(run, base_dir, folder, set(held["facts"]), EVAL_PER_GROUP["tiny"], "cpu",
                          set(held.get("entities", [])))
            cells = []
            for bucket in ("frequent", "medium", "rare", "absent"):
                key = "refused" if bucket == "absent" else "correct"
                for lang in ("pt", "en"):
                    asked = [i for i in ev["items"] if i["bucket"] == bucket and i["lang"] == lang]
                    cells.append(f"{bucket} {lang} {sum(i[key] for i in asked)}/{len(asked)}")
            ident = identity.evaluate(ev["chat"], ev["tok"])
            right = sum(g["right"] for g in ident["by_lang"].values())
            n = sum(g["n"] for g in ident["by_lang"].values())
            form = ev["form"]
            print(f"alpha {alpha:g}: " + ", ".join(cells)
                  + f"; closed {form['closed']}/{form['replies']}; identity {right}/{n} ({time.time() - t0:.0f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
