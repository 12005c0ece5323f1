"""End-to-end throughput of `dentro data`, documents per second per core, beside a baseline.

    .venv/bin/python benchmarks/data_throughput.py [--world RUN] [--repeats 5] [--extractor NAME]

Ours:     FastWARC + resiliparse + the filters, the whole stage (tasks + global dedup + shards).
Baseline: what a straightforward pipeline does: warcio to read, trafilatura (FineWeb's settings) to
          extract, then the same URL/language/quality/PII/MinHash functions, one record at a time.
          (So a faster filter speeds up both: to compare two versions of dentro, run them side by side;
          the ratio understates the change.)
Both run on one core over the same inputs, one after the other in this process, repeated; we quote
medians and the ratio. The world (if given) also runs on every core to show the parallel speed.
Inputs: ../shared/data/warc (real Common Crawl, wget, ClueWeb, arquivo.pt WARCs) and a tiny world.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DENTRO_PROGRESS", "0")

from dentro.runs import run_dir  # noqa: E402
from dentro.web import dedup as dd  # noqa: E402
from dentro.web.language import identify  # noqa: E402
from dentro.web.pii import anonymise  # noqa: E402
from dentro.web.pipeline import DataConfig, process  # noqa: E402
from dentro.web.quality import run_quality  # noqa: E402
from dentro.web.readers import list_inputs  # noqa: E402
from dentro.web.url_filter import check_url, load_blocklist  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "warc"


def _cpu() -> float:
    """CPU seconds of this process and its finished children: on a shared, busy machine this is
    fairer than wall time for a per-core rate."""
    import resource

    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


EXTRACTORS = [DataConfig.extractor]   # --extractor: dentro's extractors to run, each beside the baseline


def ours(inputs: list[Path], blocklist: str | None, workers: int,
         extractor: str = DataConfig.extractor) -> tuple[int, float, float]:
    out = Path(tempfile.mkdtemp(prefix="dentro-bench-"))
    try:
        t0, c0 = time.perf_counter(), _cpu()
        stats = process(inputs, out, DataConfig(blocklist=blocklist, extractor=extractor), workers=workers,
                        log=lambda *a: None)
        return stats["stages"][0]["docs_in"], time.perf_counter() - t0, _cpu() - c0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def baseline(inputs: list[Path], blocklist: str | None) -> tuple[int, float, float]:
    import numpy as np
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    bl = load_blocklist(Path(blocklist) if blocklist else None)
    t0, c0 = time.perf_counter(), _cpu()
    n = 0
    exact, bands, kept = [], [], []
    for path in list_inputs(inputs):
        with open(path, "rb") as f:
            try:
                for rec in ArchiveIterator(f):
                    if rec.rec_type not in ("response", "conversion", "resource"):
                        continue
                    n += 1
                    if rec.rec_type == "resource":   # not a web page (ours counts these too)
                        continue
                    url = rec.rec_headers.get_header("WARC-Target-URI") or ""
                    body = rec.content_stream().read()
                    if check_url(url, bl):
                        continue
                    if rec.rec_type == "response":
                        text = trafilatura.extract(body.decode("utf-8", "replace"), favor_precision=True,
                                                   include_comments=False, deduplicate=True) or ""
                    else:
                        text = body.decode("utf-8", "replace")
                    if not text.strip():
                        continue
                    lang, score = identify(text)
                    if lang not in ("pt", "en") or score < 0.65:
                        continue
                    failed, _, text = run_quality(text, lang)
                    if failed:
                        continue
                    exact.append(dd.exact_hash(text))
                    bands.append(dd.signature(text))
                    kept.append(anonymise(text)[0])
            except Exception:   # warcio raises on a truncated gzip: the file ends there
                pass
    if exact:
        dd.find_duplicates(np.array(exact), np.array(bands))
    return n, time.perf_counter() - t0, _cpu() - c0


def measure(name: str, inputs: list[Path], blocklist: str | None, repeats: int, base_subset=None):
    rows = []
    runs_of = [(f"dentro (FastWARC + {x})", lambda x=x: ours(inputs, blocklist, 1, x)) for x in EXTRACTORS]
    for label, fn in runs_of + [("baseline (warcio + trafilatura)", lambda: baseline(base_subset or inputs, blocklist))]:
        fn()  # warm-up: imports, the language model, page cache
        runs = [fn() for _ in range(repeats)]
        docs = runs[0][0]
        wall = statistics.median(d / s for d, s, _ in runs)
        cpu = statistics.median(d / c for d, _, c in runs)
        rows.append((label, docs, wall, cpu))
    print(f"\n### {name}\n\n| pipeline (1 core) | documents | docs/s wall | docs/s per CPU-second |\n|---|---|---|---|")
    for label, docs, wall, cpu in rows:
        print(f"| {label} | {docs} | {wall:.0f} | {cpu:.0f} |")
    for row in rows[:-1]:
        print(f"\n(medians of {repeats} runs) {row[0]} / baseline: {row[2] / rows[-1][2]:.1f}x wall, "
              f"{row[3] / rows[-1][3]:.1f}x CPU")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", default="bench-world", help="run holding a tiny world (made if missing)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--extractor", default=DataConfig.extractor, help="dentro's extractors, comma-separated, "
                    f"each measured beside the baseline (default: {DataConfig.extractor})")
    args = ap.parse_args()
    EXTRACTORS[:] = args.extractor.split(",")
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    if SHARED.exists():
        measure("real WARC (../shared/data/warc, 10 small files: per-file costs included)", [SHARED], None,
                max(args.repeats, 5))
        # steady state: the same records in one bigger file (gzip members concatenate), 5 times over
        big = Path(tempfile.mkdtemp(prefix="dentro-bench-")) / "real-x5.warc.gz"
        parts = [f.read_bytes() for f in sorted(SHARED.glob("*.warc.gz")) if ".wet." not in f.name]
        big.write_bytes(b"".join(parts) * 5)
        measure("real WARC records in one file, 5 copies (dedup removes the copies)", [big], None, args.repeats)
        shutil.rmtree(big.parent, ignore_errors=True)
    run = run_dir(args.world)
    if not (run / "world" / "crawl").exists():
        import subprocess

        subprocess.run([sys.executable, "-m", "dentro", "world", "--run", str(run)], check=True)
    crawl = sorted((run / "world" / "crawl").glob("*.warc.gz"))
    bl = str(run / "world" / "blocklist")
    measure(f"tiny world, one WARC file of {len(crawl)}", crawl[:1], bl, args.repeats)
    workers = os.cpu_count() or 1
    docs, secs, cpu = ours([run / "world" / "crawl"], bl, workers)
    print(f"\ntiny world, whole crawl, {workers} workers: {docs} documents in {secs:.1f} s wall = "
          f"{docs / secs:.0f} docs/s ({docs / secs / workers:.0f} docs/s/core wall, {docs / cpu:.0f} per CPU-second)")


if __name__ == "__main__":
    main()
