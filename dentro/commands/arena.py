"""`dentro arena`: the run's checkpoints in battles on held-out questions, plus people's votes,
rated by a Bradley-Terry fit (stage 9)."""

from __future__ import annotations

import json
from pathlib import Path

from dentro.commands import add_run_argument, non_negative_int, positive_int
from dentro.errors import UserError

HELP = """Rate the run's models against each other (stage 9).

Every checkpoint of the run answers the same held-out world questions (facts no fine-tuning
conversation stated, and people who do not exist). For each question every pair of models
meets once, anonymously and in random order; the world's truth judges: a correct answer beats
a wrong one, "I don't know" beats a wrong one, anything else is a tie. People's votes from the
web UI's arena (`dentro serve`, <run>/arena/votes.sqlite) join the battles. A Bradley-Terry fit
(LM Arena's method) turns them into ratings on the Elo scale (mean 1000), with 95% bootstrap
intervals. Writes <run>/arena/battles.jsonl, leaderboard.json, leaderboard.md, leaderboard.png.

examples:
  dentro arena                        # automatic battles + votes
  dentro arena --per-group 10         # fewer questions (faster)
  dentro arena --votes-only           # only people's votes"""


def add_arguments(p):
    add_run_argument(p)
    p.add_argument("--checkpoint", metavar="[ID=]DIR", action="append", default=[],
                   help="also bring this checkpoint folder (repeatable); ids as in `dentro serve`")
    p.add_argument("--per-group", type=positive_int, default=20,
                   help="held-out questions per (bucket, language) (default 20: 160 questions)")
    p.add_argument("--votes-only", action="store_true", help="no automatic battles: rate people's votes only")
    p.add_argument("--samples", type=non_negative_int, default=200, help="bootstrap resamples (default 200)")
    p.add_argument("--anchor", help="pin this model's rating at 1000 (default: the mean is 1000)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="sides of each battle, bootstrap")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")


def main(args):
    from dentro.runs import run_dir

    r = arena(run_dir(args.run), extra=args.checkpoint, per_group=args.per_group, auto=not args.votes_only,
              samples=args.samples, anchor=args.anchor, seed=args.seed, device=args.device)
    print(r["markdown"].split("\n\n![")[0])
    print(f"{r['auto']} automatic battles, {r['votes']} votes; leaderboard in {r['out']}")


def arena(run: Path, *, extra=(), per_group: int = 20, auto: bool = True, samples: int = 200,
          anchor: str | None = None, seed: int = 0, device: str | None = None, log=print) -> dict:
    """Battles (automatic and voted), the leaderboard, its files; returns arena_from_battles' dict."""
    battles = []
    if auto:
        battles = auto_battles(run, extra, per_group=per_group, seed=seed, device=device, log=log)
    return arena_from_battles(run, battles, samples=samples, anchor=anchor, seed=seed)


def arena_from_battles(run: Path, battles: list[dict], *, samples: int = 200, anchor: str | None = None,
                       seed: int = 0, log=print) -> dict:
    """Automatic battles + the votes in <run>/arena/votes.sqlite -> the leaderboard, written to
    <run>/arena (battles.jsonl, leaderboard.json/.md/.png); returns {"leaderboard", "auto",
    "votes", "out", "markdown"}."""
    from dentro.eval import arena as A
    from dentro.report import md_table
    from dentro.runs import atomic_write_json, atomic_write_jsonl, atomic_write_text

    out = run / "arena"
    if battles:
        atomic_write_jsonl(out / "battles.jsonl", battles)
    votes = A.read_votes(out / "votes.sqlite")
    if not battles and not votes:
        raise UserError(f"no battles: no automatic ones (--votes-only, or fewer than two checkpoints in {run}) and "
                        f"no votes in {out / 'votes.sqlite'} (vote in `dentro serve`'s arena tab)")
    rows = A.leaderboard(battles + votes, samples=samples, seed=seed, anchor=anchor)
    atomic_write_json(out / "leaderboard.json", {"leaderboard": rows, "auto_battles": len(battles),
                                                 "votes": len(votes), "samples": samples, "anchor": anchor})
    A.plot_leaderboard(out / "leaderboard.png", rows,
                       title=f"arena: {len(battles)} automatic battles, {len(votes)} votes")
    markdown = md_table(
        ["model", "rating", "95% CI", "battles", "wins", "ties", "losses"],
        [[x["model"], round(x["rating"]), f"{x['ci'][0]:.0f}–{x['ci'][1]:.0f}", x["battles"], x["wins"], x["ties"],
          x["losses"]] for x in rows]) + "\n\n![leaderboard](arena/leaderboard.png)\n"
    atomic_write_text(out / "leaderboard.md", markdown)
    return {"leaderboard": rows, "auto": len(battles), "votes": len(votes), "out": out, "markdown": markdown}


def auto_battles(run: Path, extra, *, per_group: int, seed: int, device: str | None, log=print) -> list[dict]:
    """Every checkpoint answers the held-out questions (greedy, as a chat turn); the truth judges."""
    import torch

    from dentro.chat.assistant import reply_batch
    from dentro.commands.serve import checkpoint_folders
    from dentro.eval import arena as A
    from dentro.eval import knowledge as K
    from dentro.model.checkpoint import load_checkpoint

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    models = checkpoint_folders(run, list(extra))  # the ids `dentro serve` gives them: votes use the same
    if len(models) < 2:
        log(f"[arena] {len(models)} checkpoint(s) in {run}: no automatic battles")
        return []
    truth = run / "world" / "truth"
    split = run / "sft" / "conversations" / "heldout.json"
    if not split.is_file():
        raise UserError(f"no held-out split at {split}: the arena asks only about facts no training conversation "
                        f"stated; run `dentro sft` first (or use --votes-only)")
    held = set(json.loads(split.read_text(encoding="utf-8")).get("facts", []))
    items = K.load_items(truth, held, per_group=per_group, seed=seed)
    if not items:
        raise UserError(f"no held-out questions in {truth / 'questions'}; run `dentro world` first")
    replies = {}
    for mid, folder in models:
        model, tok, _ = load_checkpoint(folder, device, load_train_state=False)
        rs = reply_batch(model, tok, [[{"role": "user", "content": it["question"]}] for it in items], max_tokens=48)
        replies[mid] = [r["text"] for r in rs]
        grades = [A.grade(it, t) for it, t in zip(items, replies[mid])]
        log(f"[arena] {mid}: {grades.count('correct')} correct, {grades.count('refusal')} refusals, "
            f"{grades.count('wrong')} wrong of {len(items)}")
        del model
    return A.auto_battles(items, replies, seed=seed)
