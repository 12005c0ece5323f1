"""Stage 1 against the tiny world's ground truth: every filter's precision and recall, survival,
PII recall/precision, extraction quality against `main_text`.

    .venv/bin/python benchmarks/data_world.py [--run RUN] [--workers N]

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

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dentro.runs import run_dir  # noqa: E402
from dentro.web.pipeline import DataConfig, process  # noqa: E402
from dentro.web.pii import PLACEHOLDER  # noqa: E402

GROUP = {"url": "url", "extraction": "extraction", "language": "language", "dedup": "dedup",
         "gopher_repetition": "quality", "gopher_quality": "quality", "c4": "quality", "fineweb": "quality"}
FILTERS = ["url", "extraction", "language", "quality", "dedup"]


def token_f1(pred: str, gold: str) -> float:
    p, g = Counter(re.findall(r"\w+", pred.lower())), Counter(re.findall(r"\w+", gold.lower()))
    tp = sum((p & g).values())
    if not tp:
        return 1.0 if not p and not g else 0.0
    pr, rc = tp / sum(p.values()), tp / sum(g.values())
    return 2 * pr * rc / (pr + rc)


def evaluate(run: Path) -> dict:
    out = run / "data"
    pages = [json.loads(l) for l in open(run / "world" / "truth" / "pages.jsonl", encoding="utf-8")]
    removed = {r["url"]: r for r in pq.read_table(out / "removed.parquet").to_pylist()}
    corpus = {}
    for f in sorted((out / "corpus").glob("*.parquet")):
        for r in pq.read_table(f, columns=["url", "text"]).to_pylist():
            corpus[r["url"]] = r["text"]
    got = {}
    for p in pages:
        u = p["url"]
        got[u] = "keep" if u in corpus else GROUP[removed[u]["stage"]] if u in removed else "read"
    res = {"pages": len(pages), "filters": {}}
    for f in FILTERS:
        pred = {u for u, g in got.items() if g == f}
        true = {p["url"] for p in pages if p["expect"] == f}
        tp = len(pred & true)
        res["filters"][f] = {"precision": tp / len(pred) if pred else 1.0, "recall": tp / len(true) if true else 1.0,
                             "predicted": len(pred), "expected": len(true)}
    keep = [p["url"] for p in pages if p["expect"] == "keep"]
    res["survival"] = sum(got[u] == "keep" for u in keep) / len(keep)
    res["confusion"] = Counter((p["expect"], got[p["url"]]) for p in pages)
    wrong = defaultdict(Counter)
    for p in pages:
        if p["expect"] != got[p["url"]]:
            r = removed.get(p["url"], {})
            wrong[(p["expect"], got[p["url"]])][(p["kind"], r.get("stage", "-"), r.get("reason", "-"))] += 1
    res["errors"] = {f"{e}->{g}": dict(c.most_common(6)) for (e, g), c in wrong.items()}

    # PII: in the pages that reached the corpus, every PII value must be gone, every decoy kept
    tp = fn = decoy_kept = decoys = placeholders = expected_occ = 0
    for p in pages:
        text = corpus.get(p["url"])
        if text is None:
            continue
        for item in p["pii"]:
            n = p["main_text"].count(item["value"])
            expected_occ += max(1, n)
            if item["value"] in text:
                fn += 1
            else:
                tp += 1
        for d in p["pii_decoys"]:
            decoys += 1
            decoy_kept += d in text
        placeholders += sum(text.count(v) for v in PLACEHOLDER.values())
    res["pii"] = {"recall": tp / (tp + fn) if tp + fn else 1.0,
                  "precision": min(1.0, expected_occ / placeholders) if placeholders else 1.0,
                  "values": tp + fn, "placeholders": placeholders, "expected_occurrences": expected_occ,
                  "decoys_kept": decoy_kept / decoys if decoys else 1.0, "decoys": decoys}
    return res


def extraction_quality(run: Path, limit: int = 1500) -> dict:
    """Token F1 of each extractor's output against main_text, on pages that should keep text."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from dentro.web.extract import decode_html, extract_text

    truth = {}
    for l in open(run / "world" / "truth" / "pages.jsonl", encoding="utf-8"):
        p = json.loads(l)
        if p["expect"] in ("keep", "language", "quality", "dedup") and p["main_text"]:
            truth[p["url"]] = p["main_text"]
    f1 = defaultdict(list)
    n = 0
    for w in sorted((run / "world" / "crawl").glob("*.warc.gz")):
        with open(w, "rb") as fh:
            for r in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                u = r.headers.get("WARC-Target-URI")
                if u not in truth or n >= limit:
                    continue
                n += 1
                html = decode_html(r.reader.read(), r.http_charset)
                for name in ("resiliparse", "trafilatura"):
                    f1[name].append(token_f1(extract_text(html, name), truth[u]))
    return {k: sum(v) / len(v) for k, v in f1.items()} | {"pages": n}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="bench-world", help="run with a world (made if missing)")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    run = run_dir(args.run)
    if not (run / "world" / "truth" / "pages.jsonl").exists():
        subprocess.run([sys.executable, "-m", "dentro", "world", "--run", str(run)], check=True)
    t0 = time.time()
    stats = process([run / "world" / "crawl"], run / "data",
                    DataConfig(blocklist=str(run / "world" / "blocklist")), workers=args.workers,
                    log=lambda *a: None) if not (run / "data" / "stats.json").exists() else None
    seconds = time.time() - t0
    res = evaluate(run)
    ext = extraction_quality(run)
    print(f"## Filters against the tiny world ({res['pages']} pages, {run})\n")
    if stats:
        print(f"pipeline: {seconds:.1f} s on {args.workers} workers ({res['pages'] / seconds:.0f} pages/s)\n")
    print("| filter | precision | recall | removed | expected |\n|---|---|---|---|---|")
    for f, v in res["filters"].items():
        print(f"| {f} | {v['precision']:.3f} | {v['recall']:.3f} | {v['predicted']} | {v['expected']} |")
    print(f"\nsurvival of pages that should survive: {res['survival']:.3f}")
    p = res["pii"]
    print(f"PII: recall {p['recall']:.3f} ({p['values']} values in surviving pages), precision "
          f"{p['precision']:.3f} ({p['placeholders']} placeholders for {p['expected_occurrences']} "
          f"occurrences), decoys kept {p['decoys_kept']:.3f} of {p['decoys']}")
    print(f"extraction token F1 vs main_text ({ext['pages']} pages): resiliparse {ext['resiliparse']:.3f}, "
          f"trafilatura {ext['trafilatura']:.3f}")
    print("\nwhere expectation and result differ (expect->got: (kind, stage, reason) count):")
    for k, v in res["errors"].items():
        print(f"  {k}: {v}")


if __name__ == "__main__":
    main()
