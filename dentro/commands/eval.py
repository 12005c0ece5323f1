"""`dentro eval`: standard benchmarks and the world's questions on the run's checkpoints (stage 9)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from dentro.commands import add_run_argument, positive_int
from dentro.errors import UserError

HELP = """Measure checkpoints on benchmarks (stage 9).

Multiple choice (hellaswag, arc, mmlu) is scored without generating: each option's
log-likelihood after the question, the best option wins (accuracy), or the best per character
(acc_norm, as lm-evaluation-harness). gsm8k: greedy answer, right when its final number is the
truth. world: the run's held-out facts (a cloze sentence for the base model, the question for a
chat model). Every figure comes with a 95% interval and as centred accuracy
((acc - chance) / (1 - chance): 0 = guessing). Benchmarks are read from local files in their
published formats (see docs/eval.md); nothing is downloaded.
Writes <run>/eval/<checkpoint>/<task>.json.

examples:
  dentro eval --task world                                  # every checkpoint of the run
  dentro eval --stage base --task hellaswag --data hellaswag_val.jsonl --limit 500
  dentro eval --stage sft --task gsm8k --data gsm8k_test.jsonl --limit 100
  dentro eval --checkpoint ~/ckpt --task mmlu --data mmlu/data/test"""

STAGES = {"base": "pretrain", "sft": "sft", "factuality": "factuality", "rl": "rl"}  # --stage -> run folder
TASK_CHOICES = ("hellaswag", "arc", "mmlu", "gsm8k", "world")


def add_arguments(p):
    add_run_argument(p)
    p.add_argument("--checkpoint", metavar="DIR", action="append", default=[],
                   help="a checkpoint folder to evaluate (repeatable)")
    p.add_argument("--stage", nargs="+", choices=list(STAGES), default=[],
                   help="the run's checkpoints to evaluate (default, without --checkpoint: every one present)")
    p.add_argument("--task", nargs="+", required=True, choices=TASK_CHOICES, help="benchmark(s) to run")
    p.add_argument("--data", metavar="FILE_OR_DIR",
                   help="the benchmark's local file (a folder of CSVs for mmlu); world: <run>/world/truth")
    p.add_argument("--limit", type=positive_int, help="the first N items (world: N per bucket and language; "
                   "default 80)")
    p.add_argument("--format", choices=["auto", "base", "chat"], default="auto",
                   help="gsm8k and world: ask as a document (base) or as a chat turn (chat); auto reads the "
                        "checkpoint's stage")
    p.add_argument("--max-tokens", type=positive_int, default=256, help="gsm8k: longest answer in tokens (256)")
    p.add_argument("--batch-tokens", type=positive_int, default=8192,
                   help="multiple choice: positions per forward pass, padding included (8192)")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")


def checkpoints(run: Path, stages: list[str], folders: list[str]) -> list[tuple[str, Path]]:
    """(name, folder) to evaluate: the named stages, the extra folders, or every stage present."""
    out = []
    for s in stages:
        folder = run / STAGES[s] / "checkpoint"
        if not (folder / "config.json").is_file():
            raise UserError(f"--stage {s}: no checkpoint at {folder}; train it first or pass --checkpoint DIR")
        out.append((s, folder))
    for f in folders:
        path = Path(f).expanduser()
        out.append((path.parent.name if path.name == "checkpoint" else path.name, path))
    if not out:
        out = [(s, run / d / "checkpoint") for s, d in STAGES.items() if (run / d / "checkpoint" / "config.json").is_file()]
    if not out:
        raise UserError(f"no checkpoints in {run}; run `dentro pretrain` (or the speedrun) or pass --checkpoint DIR")
    return out


def fmt_ci(r: dict, key: str) -> str:
    if key not in r:
        return "–"
    lo, hi = r[f"{key}_ci"]
    return f"{100 * r[key]:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"


def main(args):
    import torch

    from dentro.eval import tasks as T
    from dentro.model.checkpoint import load_checkpoint, read_config
    from dentro.report import md_table
    from dentro.runs import atomic_write_json, run_dir

    run = run_dir(args.run)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    loaded = {}
    for task in args.task:
        if task == "world":
            continue
        if not args.data:
            raise UserError(f"--task {task} needs --data FILE (the benchmark's local file, see docs/eval.md)")
        loaded[task] = T.load_task(task, args.data, args.limit)
        bad = loaded[task].bad
        print(f"[eval] {task}: {len(loaded[task].items)} items from {args.data}"
              + (f"; {len(bad)} bad records skipped (the first: {bad[0]})" if bad else ""))
    rows = []
    for name, folder in checkpoints(run, args.stage, args.checkpoint):
        stage = read_config(folder)[1].get("stage")
        chat = args.format == "chat" or (args.format == "auto" and bool(stage))  # pretrain sets no stage
        model, tok, _ = load_checkpoint(folder, device, load_train_state=False)
        for task in args.task:
            t0 = time.time()
            if task == "world":
                truth = Path(args.data) if args.data else run / "world" / "truth"
                split = run / "sft" / "conversations" / "heldout.json"
                held = set(json.loads(split.read_text(encoding="utf-8"))["facts"]) if split.is_file() else None
                if held is None:
                    print(f"[eval] world: no held-out split at {split}; asking about every fact")
                r = T.evaluate_world(model, tok, truth, held, chat=chat, per_group=args.limit or 80)
            else:
                r = T.evaluate(model, tok, task, loaded[task].items, chat=chat, batch_tokens=args.batch_tokens,
                               max_tokens=args.max_tokens)
                r["bad_records"] = len(loaded[task].bad)
            r.update(checkpoint=str(folder), name=name, format="chat" if chat else "base",
                     seconds=round(time.time() - t0, 2))
            atomic_write_json(run / "eval" / name / f"{task}.json", r)
            rows.append([name, task, r["n"], fmt_ci(r, "accuracy"), fmt_ci(r, "acc_norm"),
                         " / ".join(f"{r[k]:+.3f}" for k in ("accuracy_centred", "acc_norm_centred") if k in r),
                         f"{r['chance']:.3f}",
                         f"{r['seconds']:.1f}"])
        del model
    print(md_table(["checkpoint", "task", "n", "accuracy [95% CI]", "acc_norm [95% CI]", "centred (acc / norm)", "chance",
                    "seconds"], rows))
    print(f"results in {run / 'eval'}/<checkpoint>/<task>.json")
