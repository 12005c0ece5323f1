"""`dentro inspect`: look inside a trained model (for now: which tokens it keeps close together)."""

from __future__ import annotations

from dentro.commands import add_run_argument, positive_int
from dentro.errors import UserError

HELP = """Look inside the run's base model.

  neighbours TOKEN   the tokens nearest to TOKEN (cosine similarity) in the model's input
                     embedding and/or its output (unembedding) matrix: after pretraining,
                     cities tend to sit near cities and years near years.

TOKEN is a word or a token id written #123. A word the tokenizer cuts into several tokens
is the mean of its tokens' vectors (said in the output); see dentro/model/neighbours.py.

examples:
  dentro inspect neighbours Lisboa
  dentro inspect neighbours 1990 --k 20 --space unembedding
  dentro inspect neighbours "#300" --run base1"""


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="<action>", title="actions")
    n = sub.add_parser("neighbours", help="the tokens nearest to a token in the embedding matrices")
    n.add_argument("token", help="a word, or a token id written #123")
    add_run_argument(n)
    n.add_argument("--checkpoint", metavar="DIR", help="checkpoint folder (default: <run>/pretrain/checkpoint)")
    n.add_argument("--k", type=positive_int, default=10, help="how many neighbours (default: 10)")
    n.add_argument("--space", choices=["embedding", "unembedding", "both"], default="both",
                   help="which matrix (default: both, side by side)")
    p.set_defaults(_parser=p)


def main(args):
    if not getattr(args, "action", None):
        args._parser.print_help()
        return 0
    return cmd_neighbours(args)


def load_model(run: str, checkpoint: str | None = None):
    """(model, tokenizer) of a run's base model, on the CPU; UserError when there is none."""
    from pathlib import Path

    from dentro.model.checkpoint import load_checkpoint
    from dentro.runs import run_dir

    folder = Path(checkpoint) if checkpoint else run_dir(run) / "pretrain" / "checkpoint"
    if not folder.exists():
        raise UserError(f"no checkpoint at {folder}: pretrain one with `dentro pretrain --run {run}` "
                        f"(or `dentro speedrun`), or pass --checkpoint DIR")
    model, tok, _ = load_checkpoint(folder, "cpu", load_train_state=False)
    return model, tok


def cmd_neighbours(args):
    from dentro.model.neighbours import neighbours

    model, tok = load_model(args.run, args.checkpoint)
    spaces = ["embedding", "unembedding"] if args.space == "both" else [args.space]
    try:
        results = [neighbours(model, tok, args.token, k=args.k, space=s) for s in spaces]
    except ValueError as e:
        raise UserError(str(e)) from None
    r0 = results[0]
    pieces = " ".join(f"'{p['text']}' (#{p['id']})" for p in r0["pieces"])
    print(f"{args.token!r} -> {pieces}: {r0['how']}" + (" (their mean vector)" if len(r0["pieces"]) > 1 else ""))
    if r0["tied"] and len(spaces) == 2:
        print("this model ties its embedding and unembedding: both columns are the same matrix")
    print()
    cols = [[f"{n['cosine']:+.3f}  '{n['text']}'" for n in r["neighbours"]] for r in results]
    width = max(len(c) for col in cols for c in col) + 4 if cols[0] else 20
    print("".join(f"{r['space']:<{width}}" for r in results).rstrip())
    for row in zip(*cols):
        print("".join(f"{c:<{width}}" for c in row).rstrip())
    return 0
