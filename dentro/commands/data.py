HELP = """Stage 1, process the internet: crawl files -> a clean, deduplicated corpus (FineWeb's recipe).

Reads WARC (.warc.gz), WET, folders of HTML files, JSONL or Parquet text; filters URLs (UT1
blocklists + banned words), extracts the main text, keeps the asked languages, applies the
Gopher, C4 and FineWeb quality filters (Portuguese with FineWeb-2's settings), removes exact and
near duplicates across everything, and replaces PII (emails, IPs, phones, CPF, CNPJ, cards).

Writes <output>/corpus/*.parquet (FineWeb's columns), stats.json (documents and bytes into and
out of every stage, per language and reason), removed/<stage>.<reason>.jsonl (samples of what
each filter removed) and removed.parquet (every removed document and why).
A killed run resumes where it stopped; --fresh starts over.

Default input: the run's tiny world (run/world/crawl/*.warc.gz, blocklist run/world/blocklist).
Example: dentro data --input crawl/ --blocklist ut1.tar.gz --blocklist-categories adult"""

TITLE = "Stage 1 · process the internet"

# per preset: settings that differ from DataConfig's defaults (none need to: the tiny world is
# small enough for the full recipe); workers None = every core.
PRESETS = {
    "tiny": {},
    "small": {},
    "micro": {},
}


def add_arguments(p):
    from dentro.commands import add_run_argument, float_range, positive_float, positive_int

    add_run_argument(p)
    p.add_argument("--input", nargs="+", metavar="PATH",
                   help="files or folders to read (default: the run's world/crawl)")
    p.add_argument("--output", metavar="DIR", help="output folder (default: the run's data/)")
    p.add_argument("--blocklist", metavar="PATH",
                   help="UT1-layout folder or .tar.gz (default: the run's world/blocklist when reading the world)")
    p.add_argument("--blocklist-categories", metavar="A,B",
                   help="only these blocklist categories (default: all in the list; FineWeb used 'adult')")
    p.add_argument("--languages", default="pt,en", help="languages to keep, ISO 639-1 (default: pt,en)")
    p.add_argument("--language-threshold", type=float_range(0, 1), default=None,
                   help="minimum fastText lid.176 score (default: 0.65, FineWeb's)")
    p.add_argument("--extractor", choices=["blocks", "resiliparse", "precise", "trafilatura"], default="blocks",
                   help="blocks (default): resiliparse's main content + a fitted boilerplate classifier over its "
                        "blocks, which drops site furniture in any language; resiliparse: the same without the "
                        "classifier (fastest, keeps furniture); precise: trafilatura's text checked and completed "
                        "by the same classifier, the most accurate, ~6x slower than blocks; trafilatura: "
                        "trafilatura alone, FineWeb's settings (docs/data.md)")
    p.add_argument("--timeout", type=positive_float, default=2.0, help="extraction time limit per page, seconds")
    p.add_argument("--no-pii", action="store_true", help="keep PII as it is (not recommended)")
    p.add_argument("--docs-per-shard", type=positive_int, default=50_000,
                   help="documents per corpus Parquet file (default: 50,000)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local processes (default) or Ray")
    p.add_argument("--workers", type=positive_int, default=None, help="parallel tasks (default: all cores)")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster address (default: start a local one); input/output must be on shared storage")
    p.add_argument("--fresh", action="store_true", help="forget finished tasks and start over")


def _config(**kw):
    from dentro.web.pipeline import DataConfig

    return DataConfig(**{k: v for k, v in kw.items() if v is not None})


def _world_inputs(run):
    from dentro.errors import UserError

    crawl = run / "world" / "crawl"
    if not crawl.is_dir() or not any(crawl.glob("*.warc*")):
        raise UserError(f"no crawl in {crawl}; run `dentro world --run {run}` first, or give --input")
    bl = run / "world" / "blocklist"
    return [crawl], (bl if bl.exists() else None)


def main(args):
    import shutil
    from pathlib import Path

    from dentro.errors import UserError
    from dentro.runs import run_dir
    from dentro.web.pipeline import process
    from dentro.web.readers import FORMATS

    run = run_dir(args.run)
    if args.input:
        inputs = [Path(p) for p in args.input]
        missing = [str(p) for p in inputs if not p.exists()]
        if missing:
            raise UserError(f"input not found: {', '.join(missing)}; give existing files or folders")
        blocklist = Path(args.blocklist) if args.blocklist else None
    else:
        inputs, blocklist = _world_inputs(run)
        blocklist = Path(args.blocklist) if args.blocklist else blocklist
    if blocklist is not None and not blocklist.exists():
        raise UserError(f"blocklist not found: {blocklist}; give a UT1-layout folder or .tar.gz")
    out = Path(args.output) if args.output else run / "data"
    if args.fresh:
        shutil.rmtree(out / "tasks", ignore_errors=True)
    langs = tuple(x.strip() for x in args.languages.split(",") if x.strip())
    cats = tuple(x.strip() for x in args.blocklist_categories.split(",")) if args.blocklist_categories else None
    cfg = _config(languages=langs, language_threshold=args.language_threshold, extractor=args.extractor,
                  timeout_s=args.timeout, pii=not args.no_pii, docs_per_shard=args.docs_per_shard,
                  blocklist=str(blocklist) if blocklist else None, blocklist_categories=cats)
    try:
        stats = process(inputs, out, cfg, executor=args.executor, workers=args.workers,
                        ray_address=args.ray_address)
    except FileNotFoundError as e:
        raise UserError(f"{e}; dentro data reads {FORMATS}")
    except RuntimeError as e:
        if "Ray" in str(e):
            raise UserError(str(e))
        raise
    print(funnel_text(stats))
    print(f"corpus: {stats['documents_out']:,} documents in {len(stats['shards'])} shard(s) -> {out / 'corpus'}")
    return 0


def funnel_text(stats) -> str:
    lines = [f"{'stage':<18}{'docs in':>10}{'docs out':>10}  top reasons"]
    for s in stats["stages"]:
        top = ", ".join(f"{k} {v['docs']}" for k, v in list(s["removed"].items())[:3])
        lines.append(f"{s['stage']:<18}{s['docs_in']:>10,}{s['docs_out']:>10,}  {top}")
    return "\n".join(lines)


def run_stage(run, preset):
    import time

    from dentro.web.pipeline import process
    from dentro.web.report import section

    inputs, blocklist = _world_inputs(run)
    cfg = _config(blocklist=str(blocklist) if blocklist else None, **PRESETS[preset])
    t0 = time.time()
    stats = process(inputs, run / "data", cfg)
    seconds = time.time() - t0
    return section(run, stats, seconds)
