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


# ---- the speedrun stage: the scoreboard, the course's claims, the arena ------------------------

TITLE = "Stage 9 · benchmarks: the scoreboard, the course's claims, the arena"

# Per preset: world questions per (bucket, language), reversal facts per (stated, bucket), held-out
# arithmetic and word problems per form, held-out facts per bucket for the memory curve. tiny: about 30
# seconds of a 2-core CPU for the run's four checkpoints. tiny asks every held-out frequent fact (75 per
# language; the SFT stage's sample): on a sample of 20 the frequent row's 95% interval was 74-95%.
STAGE_SIZES = {"micro": {"world": 2, "reversal": 2, "arith": 6, "word": 4, "memory": 4},
               "tiny": {"world": {"frequent": 75, "medium": 20, "rare": 20, "absent": 20}, "reversal": 15,
                        "arith": 60, "word": 40, "memory": 150},
               "small": {"world": 80, "reversal": 60, "arith": 300, "word": 300, "memory": 500}}


def stage_items(run: Path, sizes: dict) -> dict:
    """What every checkpoint is asked, read once per stage: the held-out facts, the reversal
    items, the held-out arithmetic and word problems."""
    from dentro.eval import reversal as RV
    from dentro.runs import read_json, read_jsonl

    truth = run / "world" / "truth"
    split = read_json(run / "sft" / "conversations" / "heldout.json")
    held, held_math = set(split["facts"]), set(split.get("math", []))
    word = [p for p in read_jsonl(truth / "math.jsonl") if p["id"] in held_math][:sizes["word"]]
    return {"truth": truth, "held": held, "reversal": RV.reversal_items(truth, held, per_group=sizes["reversal"]),
            "math": {"arith": split.get("arithmetic", [])[:sizes["arith"]], "word": word}}


def measure_checkpoint(folder: Path, asked: dict, sizes: dict, device: str) -> tuple[dict, list[dict]]:
    """One checkpoint on the stage's evaluations (asked: stage_items) -> ({evaluation: rate dict},
    world items with replies)."""
    from dentro.eval import reversal as RV
    from dentro.eval import thinking
    from dentro.eval.scoreboard import rate
    from dentro.eval.tasks import evaluate_world
    from dentro.model.checkpoint import load_checkpoint, read_config

    truth, held = asked["truth"], asked["held"]
    chat = bool(read_config(folder)[1].get("stage"))
    model, tok, _ = load_checkpoint(folder, device, load_train_state=False)
    out = {}
    items = evaluate_world(model, tok, truth, held, chat=chat, per_group=sizes["world"])["items"]
    for b in ("frequent", "rare"):
        g = [it for it in items if it["bucket"] == b]
        out[f"world_{b}"] = rate(sum(it["correct"] for it in g), len(g))
    if not chat:
        out["memory"] = memory_curve(model, tok, truth, held, sizes["memory"])
    rv = RV.measure(model, tok, asked["reversal"]) if chat else RV.cloze(model, tok, truth, asked["reversal"])
    out.update(reversal_summary(rv["items"]))
    out["reversal_table"] = RV.markdown_table(rv)
    if chat:
        absent = [it for it in items if it["bucket"] == "absent"]
        out["absent_answered"] = rate(sum(not it["refused"] for it in absent), len(absent))
        for g, r in thinking.measure(model, tok, asked["math"]).items():
            out[f"{g}_think"] = rate(r["think_correct"], r["n"])
            out[f"{g}_direct"] = rate(r["direct_correct"], r["n"])
            out[f"{g}_examples"] = r["items"][:2]
    del model
    return out, items


# Bins of the number of kept pages (after the data pipeline) that state a fact.
PAGE_BINS = [(1, 1), (2, 3), (4, 7), (8, 15), (16, 31), (32, 10_000)]


def memory_curve(model, tok, truth: Path, held: set[str], per_group: int) -> dict:
    """What was repeated is remembered: the base model's cloze accuracy on held-out facts by the
    number of pages of the filtered corpus that state them, and by relation. -> {"bins": [{"pages",
    "n", "k", "rate", "ci"}], "relations": {relation: rate dict}}."""
    from dentro.eval import knowledge as K
    from dentro.eval.scoreboard import rate

    items = K.load_items(truth, held, per_group=per_group, buckets=("frequent", "medium", "rare"))
    prompts = K.cloze_prompts(truth, items)
    done = [(it, K.contains_answer(c, it["answers"]))
            for it, p, c in zip(items, prompts, K.run_cloze(model, tok, prompts)) if p]
    bins = []
    for lo, hi in PAGE_BINS:
        g = [ok for it, ok in done if lo <= it.get("kept_pages", 0) <= hi]
        if g:
            bins.append({"pages": f"{lo}" if lo == hi else f"{lo}+" if hi >= 10_000 else f"{lo}–{hi}",
                         "x": (lo + min(hi, 2 * lo)) / 2, **rate(sum(g), len(g))})
    relations = {}
    for rel in sorted({it["relation"] for it, _ in done}):
        g = [ok for it, ok in done if it["relation"] == rel]
        relations[rel] = rate(sum(g), len(g))
    none = [ok for it, ok in done if it.get("kept_pages", 0) == 0]  # every page of the fact was filtered out
    return {"bins": bins, "relations": relations, "filtered_out": rate(sum(none), len(none))}


def reversal_summary(items: list[dict]) -> dict:
    """Forward accuracy, and reverse accuracy on the facts answered forward (the paper's question:
    does what the model knows one way come back the other way?), split by how the crawl stated
    them; the in-context workaround over every item."""
    from dentro.eval.scoreboard import rate

    known = {s: [it for it in items if it["stated"] == s and it["forward_correct"]] for s in ("forward_only", "both")}
    return {"reverse_forward": rate(sum(it["forward_correct"] for it in items), len(items)),
            "reverse_forward_only": rate(sum(it["reverse_correct"] for it in known["forward_only"]),
                                         len(known["forward_only"])),
            "reverse_both": rate(sum(it["reverse_correct"] for it in known["both"]), len(known["both"])),
            "reverse_in_context": rate(sum(it["in_context_correct"] for it in items), len(items))}


def run_stage(run: Path, preset: str) -> tuple[dict, str]:
    import torch

    from dentro.commands.arena import arena_from_battles
    from dentro.eval import arena as A
    from dentro.eval.scoreboard import claims, scoreboard_rows
    from dentro.report import md_table
    from dentro.runs import atomic_write_json, read_json

    sizes = STAGE_SIZES.get(preset, STAGE_SIZES["tiny"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if not (run / "sft" / "conversations" / "heldout.json").is_file():
        raise UserError(f"no held-out split in {run / 'sft'}: the stage measures held-out facts and problems; "
                        f"run `dentro sft` first")
    t0 = time.time()
    results, replies, world_items, seconds = {}, {}, None, {}
    asked = stage_items(run, sizes)
    for name, folder in checkpoints(run, [], []):
        t = time.time()
        results[name], items = measure_checkpoint(folder, asked, sizes, device)
        seconds[name] = round(time.time() - t, 1)
        if name != "base":  # the arena's contestants are the chat models, asked the same questions
            replies[f"dentro-{name}"] = [it.get("reply", "") for it in items]
            world_items = items
    extra = {}
    fact_summary = run / "factuality" / "summary.json"
    if fact_summary.is_file():
        figures = read_json(fact_summary)["figures"]
        extra["sft_correct_kept"] = figures.get("sft_correct_kept")
        extra["gate"] = {k: figures.get(f"{k}_gate") for k in ("absent_refused", "sft_correct_kept")}
    if (run / "factuality" / "eval.json").is_file():
        extra["tools"] = read_json(run / "factuality" / "eval.json").get("tools")
    claim_rows = claims(results, extra)
    battles = A.auto_battles(world_items, replies, seed=0) if len(replies) >= 2 else []
    board = arena_from_battles(run, battles, log=lambda *_: None) if battles else None
    atomic_write_json(run / "eval" / "scoreboard.json", {"results": results, "claims": claim_rows,
                                                         "seconds": seconds, "sizes": sizes})
    head, rows = scoreboard_rows(results)
    reproduced = sum(c["verdict"].startswith("reproduced") for c in claim_rows)
    figures = {"claims_reproduced": reproduced, "claims": len(claim_rows), "arena_battles": len(battles),
               "minutes": round((time.time() - t0) / 60, 2)}
    for name, r in results.items():
        for key in ("world_frequent", "absent_answered", "arith_think", "arith_direct"):
            if r.get(key) and r[key]["n"]:
                figures[f"{name}_{key}"] = round(r[key]["rate"], 4)
    lines = [
        "**The scoreboard**: every checkpoint of the run on the same held-out items (greedy; rate, count and 95% "
        "Wilson interval). The base model is asked by cloze, the chat models by question. Facts: no conversation "
        "of SFT or probing stated them, so what a model knows of them came from pretraining. Arithmetic: drawn "
        "apart from every training problem and from the homework pages of the crawl. Word problems: held out "
        "from SFT and RL, but the world's homework pages that pose them were in the pretraining crawl.", "",
        md_table(head, rows), "",
        *memory_section(run, results.get("base", {}).get("memory")),
        f"**The course's claims, measured** ({reproduced} of {len(claim_rows)} reproduced at this scale). A claim "
        f"counts as reproduced when its contrast is at least its margin and the intervals do not overlap:", "",
        md_table(["claim", "measured", "verdict"], [[c["claim"], c["measured"], c["verdict"]] for c in claim_rows]),
    ]
    sft = results.get("sft", {})
    base = results.get("base", {})
    if base.get("reversal_table") or sft.get("reversal_table"):
        lines += ["", "**The reversal curse** (Berglund et al. 2023, arXiv:2309.12288): the same held-out facts "
                      "forward (\"A's mother is …\" / \"Who is A's mother?\"), in reverse (\"B is the mother of …\" / "
                      "\"Who is B's son?\"), and in reverse after a sentence stating the fact forward. *forward-only*: "
                      "the crawl never wrote the fact object-first; *both ways*: it did, half of its pages being "
                      "pages about B (the control). The last column is an upper bound: the answer's name is in the "
                      "prompt, and a reply that repeats it about something else still counts."]
        for label, r in (("The base model, completing sentences", base), ("The SFT model, answering questions", sft)):
            if r.get("reversal_table"):
                lines += ["", f"{label}:", "", r["reversal_table"]]
    if sft.get("arith_examples"):
        ex = sft["arith_examples"] + sft.get("word_examples", [])
        lines += ["", "**Step by step and direct, the same problems** (the SFT model):", "",
                  md_table(["problem", "truth", "step by step", "direct"],
                           [[_cell(e["question"]), e["answer"], _cell(e["think"], 160), _cell(e["direct"])]
                            for e in ex])]
    if board:
        lines += ["", f"**The arena**: {len(battles)} automatic battles between the chat models on the held-out "
                      f"questions above, judged by the world's truth (right beats wrong, \"I don't know\" beats "
                      f"wrong, else a tie); Bradley–Terry ratings with 95% bootstrap intervals "
                      f"(`dentro arena` adds people's votes from `dentro serve`):", "", board["markdown"]]
    return figures, "\n".join(lines)


def memory_section(run: Path, memory: dict | None) -> list[str]:
    """The curve "what was repeated is remembered" and the by-relation table, as report lines."""
    from dentro.eval.scoreboard import fmt
    from dentro.report import md_table, plot_lines

    if not memory or not memory["bins"]:
        return []
    xs = [b["x"] for b in memory["bins"]]
    plot_lines(run / "eval" / "memory.png", {"base model, cloze": (xs, [b["rate"] for b in memory["bins"]])},
               title="held-out facts completed by the base model", xlabel="pages of the filtered corpus stating the fact",
               ylabel="share completed")
    lines = ["**What was repeated is remembered**: the base model completes held-out facts' sentences by how many "
             "pages of the filtered corpus state the fact (a seeded sample of every bucket):", "",
             "![memory](eval/memory.png)", "",
             md_table(["pages stating the fact", "completed"], [[b["pages"], fmt(b)] for b in memory["bins"]])]
    if memory.get("filtered_out"):
        lines += ["", f"Facts whose every page the pipeline removed: {fmt(memory['filtered_out'])}."]
    lines += ["", "By relation:", "", md_table(["relation", "completed"],
                                                [[k, fmt(v)] for k, v in memory["relations"].items()]), ""]
    return lines


def _cell(s, n: int = 90) -> str:
    s = " ".join(str(s).split()).replace("|", "\\|")
    return (s if len(s) <= n else s[:n - 1] + "…") or "∅"
