"""Main-content extraction quality and speed on the ScrapingHub article-extraction benchmark.

    .venv/bin/python benchmarks/data_extraction.py

Data: ../shared/data/extraction (181 real pages, html.gz + ground-truth.json with the article body).
Score: token-level precision/recall/F1 per page (tokens = lower-cased \\w+ runs, compared as
multisets), averaged over pages (macro); also the micro F1 over all tokens. Extractors, side by side
in one run: resiliparse as dentro runs it (default), resiliparse with its own defaults, trafilatura
with FineWeb's settings (dentro's high-precision option). Speed: pages per second on one core,
median of 3 passes (HTML decoding included).
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dentro.web.extract import decode_html, extract_text  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction"


def tokens(s: str) -> Counter:
    return Counter(re.findall(r"\w+", (s or "").lower()))


def score(preds: list[str], golds: list[str]) -> dict:
    P, R, F = [], [], []
    TP = NP = NG = 0
    for p, g in zip(preds, golds):
        tp_, tg = tokens(p), tokens(g)
        tp = sum((tp_ & tg).values())
        np_, ng = sum(tp_.values()), sum(tg.values())
        pr, rc = (tp / np_ if np_ else 0.0), (tp / ng if ng else 0.0)
        P.append(pr), R.append(rc), F.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
        TP, NP, NG = TP + tp, NP + np_, NG + ng
    return {"f1": statistics.mean(F), "precision": statistics.mean(P), "recall": statistics.mean(R),
            "micro_f1": 2 * TP / (NP + NG)}


def resiliparse_defaults(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(html), main_content=True)


def main():
    if not DATA.exists():
        sys.exit(f"no benchmark data at {DATA}")
    truth = json.loads((DATA / "ground-truth.json").read_text())
    keys = sorted(truth)
    raw = [gzip.decompress((DATA / "html" / f"{k}.html.gz").read_bytes()) for k in keys]
    golds = [truth[k]["articleBody"] for k in keys]
    extractors = {
        "resiliparse (dentro default)": lambda h: extract_text(h, "resiliparse"),
        "resiliparse, library defaults": resiliparse_defaults,
        "trafilatura, FineWeb settings (dentro --extractor trafilatura)": lambda h: extract_text(h, "trafilatura"),
    }
    print(f"ScrapingHub benchmark: {len(keys)} pages\n")
    print("| extractor | F1 | precision | recall | micro F1 | pages/s (1 core) |\n|---|---|---|---|---|---|")
    for name, fn in extractors.items():
        fn(decode_html(raw[0]))   # warm-up
        times, preds = [], None
        for _ in range(3):
            t0 = time.perf_counter()
            preds = [fn(decode_html(b)) for b in raw]
            times.append(time.perf_counter() - t0)
        s = score(preds, golds)
        print(f"| {name} | {s['f1']:.3f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['micro_f1']:.3f} "
              f"| {len(keys) / statistics.median(times):.0f} |")


if __name__ == "__main__":
    main()
