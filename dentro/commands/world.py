"""`dentro world`: generate the tiny world (a crawl with ground truth) into a run folder."""

HELP = """Generate the tiny world: a deterministic crawl of generated web pages (gzip WARC) with
ground truth for every page and fact, a UT1-style URL blocklist and question sets.

Writes <run>/world/: crawl/*.warc.gz, blocklist/<category>/{domains,urls},
truth/{facts,pages,math}.jsonl, truth/entities.json, truth/questions/*.jsonl, stats.json.
Same seed, same size: byte-identical output. See docs/world.md.

Look inside a generated world (no generation): dentro world --show 3 [--kind news]"""

TITLE = "Stage 0 · the tiny world"


def add_arguments(p):
    from dentro.commands import add_run_argument, int_range, non_negative_int, positive_int

    add_run_argument(p)
    p.add_argument("--out", default=None, help="write into this folder instead of <run>/world")
    p.add_argument("--size", default="tiny", choices=["micro", "tiny", "small"],
                   help="world size preset (default: tiny, ~4,000 pages)")
    p.add_argument("--pages", type=int_range(50, 2_000_000), default=None,
                   help="target number of pages, 50 to 2,000,000 (overrides the preset's)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: 0)")
    p.add_argument("--show", type=positive_int, default=None, metavar="N",
                   help="print N pages of an existing world with their ground truth, instead of generating")
    p.add_argument("--kind", default=None, help="with --show: only pages of this kind (news, forum, adult, ...)")


def main(args):
    from pathlib import Path

    from dentro.errors import UserError
    from dentro.runs import run_dir
    from dentro.world import config_for, generate

    out = Path(args.out) if args.out else run_dir(args.run) / "world"
    if args.show is not None:
        from dentro.world.inspect import show_pages

        if not (out / "truth" / "pages.jsonl").exists():
            raise UserError(f"no world in {out}; generate one first with `dentro world` (same --run/--out)")
        try:
            print(show_pages(out, args.show, args.kind, args.seed))
        except ValueError as e:
            raise UserError(str(e)) from None
        return 0
    stats = generate(out, config_for(args.size, seed=args.seed, pages=args.pages), log=print)
    print(f"pages by kind: {stats['pages_by_kind']}")
    print(f"expected removals: {stats['expect']}")
    return 0


def run_stage(run, preset: str):
    from dentro.world import config_for, generate
    from dentro.world.report import stage_report

    size = preset if preset in ("micro", "tiny", "small") else "tiny"
    out = run / "world"
    stats = generate(out, config_for(size), log=print)
    return stage_report(run, stats)
