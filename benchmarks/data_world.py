"""Stage 1 against the tiny world's ground truth: every filter's precision and recall, survival,
PII recall/precision, extraction quality against `main_text`.

    .venv/bin/python benchmarks/data_world.py [--run RUN] [--workers N] [--extractor NAME]

Makes the world with `dentro world` if the run has none, runs `dentro data` into run/data, then
compares what each filter removed with pages.jsonl's `expect` (the first filter, in FineWeb's
order, that should remove the page). Prints a Markdown report (copy it into docs/data.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dentro.runs import run_dir  # noqa: E402
from dentro.web.pipeline import DataConfig, process  # noqa: E402
from dentro.web.truth import evaluate  # noqa: E402

def token_f1(pred: str, gold: str) -> float:
    p, g = Counter(re.findall(r"\w+", pred.lower())), Counter(re.findall(r"\w+", gold.lower()))
    tp = sum((p & g).values())
    if not tp:
        return 1.0 if not p and not g else 0.0
    pr, rc = tp / sum(p.values()), tp / sum(g.values())
    return 2 * pr * rc / (pr + rc)


def world_pages(run: Path, expect: tuple[str, ...], limit: int):
    """(url, decoded html, main_text) of the first `limit` pages of the run's world whose `expect`
    is one of these and that have a main_text, in crawl order."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from dentro.web.extract import decode_html

    truth = {}
    for line in open(run / "world" / "truth" / "pages.jsonl", encoding="utf-8"):
        p = json.loads(line)
        if p["expect"] in expect and p["main_text"]:
            truth[p["url"]] = p["main_text"]
    n = 0
    for w in sorted((run / "world" / "crawl").glob("*.warc.gz")):
        with open(w, "rb") as fh:
            for r in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                u = r.headers.get("WARC-Target-URI")
                if u not in truth or n >= limit:
                    continue
                n += 1
                yield u, decode_html(r.reader.read(), r.http_charset), truth[u]


def extraction_quality(run: Path, limit: int = 1500) -> dict:
    """Token F1 of each extractor's output against main_text, on pages that should keep text."""
    from dentro.web.extract import extract_text

    f1 = defaultdict(list)
    n = 0
    for _, html, main in world_pages(run, ("keep", "language", "quality", "dedup"), limit):
        n += 1
        for name in ("resiliparse", "blocks", "trafilatura", "precise"):
            f1[name].append(token_f1(extract_text(html, name), main))
    return {k: sum(v) / len(v) for k, v in f1.items()} | {"pages": n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="bench-world", help="run with a world (made if missing)")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--extractor", default=DataConfig.extractor, help="the pipeline's extractor "
                    f"(default: {DataConfig.extractor}); the extraction F1 line scores every extractor")
    args = ap.parse_args()
    run = run_dir(args.run)
    if not (run / "world" / "truth" / "pages.jsonl").exists():
        subprocess.run([sys.executable, "-m", "dentro", "world", "--run", str(run)], check=True)
    t0 = time.time()
    stats = process([run / "world" / "crawl"], run / "data",
                    DataConfig(blocklist=str(run / "world" / "blocklist"), extractor=args.extractor),
                    workers=args.workers,
                    log=lambda *a: None) if not (run / "data" / "stats.json").exists() else None
    seconds = time.time() - t0
    res = evaluate(run / "world" / "truth" / "pages.jsonl", run / "data")
    ext = extraction_quality(run)
    print(f"## Filters against the tiny world ({res['pages']} pages, {run}, extractor {args.extractor})\n")
    if stats:
        print(f"pipeline: {seconds:.1f} s on {args.workers} workers ({res['pages'] / seconds:.0f} pages/s)\n")
    print("| filter | precision | recall | removed | expected |\n|---|---|---|---|---|")
    for f, v in res["filters"].items():
        print(f"| {f} | {v['precision']:.3f} | {v['recall']:.3f} | {v['removed']} | {v['expected']} |")
    print(f"\nsurvival of pages that should survive: {res['survival']:.3f}")
    p = res["pii"]
    print(f"PII: recall {p['recall']:.3f} ({p['values']} values in surviving pages), precision "
          f"{p['precision']:.3f} ({p['placeholders']} placeholders), decoys kept {p['decoys_kept']:.3f} "
          f"of {p['decoys']}")
    print(f"extraction token F1 vs main_text ({ext['pages']} pages): "
          + ", ".join(f"{k} {v:.3f}" for k, v in ext.items() if k != "pages"))
    print("\nwhere expectation and result differ (expect -> got: {kind: stage.reason: pages}):")
    for k, v in res["disagreements"].items():
        print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
