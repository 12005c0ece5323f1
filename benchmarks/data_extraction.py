"""Main-content extraction quality and speed on two real page sets, every extractor side by side.

    taskset -c 1 .venv/bin/python benchmarks/data_extraction.py [--only NAME ...] [--passes 3]

Data (../shared/data/extraction, see its README):
- trafilatura-dev: 491 pages of trafilatura's benchmark, many languages, each with snippets that must
  be in the text (`with`) and snippets that must not (`without`). Scored as trafilatura's
  tests/eval_common.py does: whitespace collapsed, substring match, counts summed over pages
  (micro), an empty output misses every `with` and contains no `without`. Split in two halves by
  the MD5 of the file name: "tune" (the pages the block classifier's thresholds were chosen on) and
  "held-out" (never looked at while tuning).
- ScrapingHub: 181 pages with the article body. Token-level precision/recall/F1 per page (tokens =
  lower-cased \\w+ runs, compared as multisets), averaged over pages (macro).
`blocks`' model is fitted on the tune half and on ScrapingHub (benchmarks/boilerplate_fit.py): its
rows for those two sets are in-sample; that script prints their cross-validated figures.
Speed: pages per second on whatever core the process runs on (pin it with taskset), HTML decoding
included; median of --passes passes for the fast extractors, one pass for trafilatura (~30 pages/s).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
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
_WS = re.compile(r"\s+")


def tokens(s: str) -> Counter:
    return Counter(re.findall(r"\w+", (s or "").lower()))


def score_tokens(preds: list[str], golds: list[str]) -> dict:
    P, R, F = [], [], []
    for p, g in zip(preds, golds):
        tp_, tg = tokens(p), tokens(g)
        tp = sum((tp_ & tg).values())
        np_, ng = sum(tp_.values()), sum(tg.values())
        pr, rc = (tp / np_ if np_ else 0.0), (tp / ng if ng else 0.0)
        P.append(pr), R.append(rc), F.append(2 * pr * rc / (pr + rc) if pr + rc else 0.0)
    return {"f1": statistics.mean(F), "precision": statistics.mean(P), "recall": statistics.mean(R)}


def score_snippets(preds: list[str], items: list[dict]) -> dict:
    """trafilatura's evaluation: TP/FN over `with` snippets, FP over `without`, summed over pages."""
    tp = fn = fp = 0
    for p, it in zip(preds, items):
        text = _WS.sub(" ", p or "")
        for s in it["with"]:
            if p and _WS.sub(" ", s) in text:
                tp += 1
            else:
                fn += 1
        fp += sum(bool(p) and _WS.sub(" ", s) in text for s in it["without"])
    pr, rc = tp / (tp + fp), tp / (tp + fn)
    return {"f1": 2 * pr * rc / (pr + rc), "precision": pr, "recall": rc}


def resiliparse_defaults(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(html), main_content=True)


def trafilatura_old_precision(html: str) -> str:
    """dentro's precision mode before: FineWeb's settings with deduplicate=True (cache emptied per page)."""
    import trafilatura
    from trafilatura.deduplication import LRU_TEST

    LRU_TEST.clear()
    return trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True) or ""


def trafilatura_defaults(html: str) -> str:
    import trafilatura

    return trafilatura.extract(html) or ""


_A_OPEN_HTML = re.compile(r"<a\b[^>]*>")
_A_EMPTY = re.compile(r'<a(?: href="")?>')   # no target: not a link (often an <a> never closed)
_MINIMAL_TAGS = re.compile(r"</?(?:h[1-6]|p|ul|ol|li|pre|br)\b[^>]*>")


def _minimal_to_marked(out: str) -> str:
    """resiliparse's minimal_html output -> the marked text boilerplate.features reads: <a ...> and
    </a> become the link markers, other tags go, entities are unescaped; a link still open at a
    paragraph's end is closed there (lexbor extends an unclosed <a> over the paragraphs after it)."""
    import html as html_lib

    from dentro.web import boilerplate as bp

    out = _MINIMAL_TAGS.sub("", _A_OPEN_HTML.sub(bp.A_OPEN, _A_EMPTY.sub("", out)).replace("</a>", bp.A_CLOSE))
    lines, in_link = [], False
    for line in out.split("\n"):
        if not line.strip():
            if in_link and lines:
                lines[-1] += bp.A_CLOSE
                in_link = False
        elif bp.A_OPEN in line or bp.A_CLOSE in line:
            in_link = line.rfind(bp.A_OPEN) > line.rfind(bp.A_CLOSE)
        lines.append(line)
    return html_lib.unescape("\n".join(lines))


def blocks_over_minimal_html(html: str) -> str:
    """An experiment (not in dentro): the block classifier over resiliparse's `minimal_html` output,
    where resiliparse itself writes the links (no regex over the page); no furniture-container
    markers (class names are not in that output); the same whole-page fallback as `blocks`."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    from dentro.web import boilerplate as bp
    from dentro.web.extract import FULL_PAGE_BELOW, FULL_PAGE_GAIN, FULL_PAGE_MIN, _tidy

    opts = dict(preserve_formatting="minimal_html", links=True, alt_texts=False, list_bullets=False,
                form_fields=False, noscript=False, comments=False)
    tree = HTMLTree.parse(html)
    text = bp.clean_text(_minimal_to_marked(extract_plain_text(tree, main_content=True, **opts)))
    if len(text) < FULL_PAGE_BELOW:
        whole = bp.clean_text(_minimal_to_marked(extract_plain_text(tree, main_content=False, **opts)),
                              fallback=False)
        if len(whole) >= FULL_PAGE_MIN and len(whole) > FULL_PAGE_GAIN * len(text):
            text = whole
    return _tidy(text)


EXTRACTORS = {   # name -> (function of the decoded page, slow: timed on one pass)
    "dentro default: blocks (resiliparse + block classifier)": (lambda h: extract_text(h, "blocks"), False),
    "experiment: blocks over resiliparse's minimal_html": (blocks_over_minimal_html, False),
    "dentro `--extractor resiliparse` (line filter only)": (lambda h: extract_text(h, "resiliparse"), False),
    "dentro precise (`--extractor precise`: trafilatura weighed by the block classifier)":
        (lambda h: extract_text(h, "precise"), True),
    "dentro precision (`--extractor trafilatura`)": (lambda h: extract_text(h, "trafilatura"), True),
    "dentro old precision (deduplicate=True)": (trafilatura_old_precision, True),
    "trafilatura, library defaults": (trafilatura_defaults, True),
    "resiliparse, library defaults": (resiliparse_defaults, False),
}


def load_sets() -> dict:
    """name -> (raw pages, scorer over the predictions)."""
    dev = json.loads((DATA / "trafilatura-dev" / "evaldata.json").read_text())
    items = sorted(dev.values(), key=lambda it: it["file"])
    held = [hashlib.md5(it["file"].encode()).digest()[0] >= 128 for it in items]
    raw = [gzip.decompress((DATA / "trafilatura-dev" / "html" / f"{it['file']}.gz").read_bytes()) for it in items]
    truth = json.loads((DATA / "ground-truth.json").read_text())
    keys = sorted(truth)
    sets = {}
    for name, h in (("trafilatura-dev, tune half", False), ("trafilatura-dev, held-out half", True)):
        idx = [i for i in range(len(items)) if held[i] == h]
        its = [items[i] for i in idx]
        sets[name] = ([raw[i] for i in idx], lambda preds, its=its: score_snippets(preds, its))
    golds = [truth[k]["articleBody"] for k in keys]
    sets["ScrapingHub"] = ([gzip.decompress((DATA / "html" / f"{k}.html.gz").read_bytes()) for k in keys],
                           lambda preds: score_tokens(preds, golds))
    return sets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", help="substrings of extractor names to run")
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"no benchmark data at {DATA}")
    sets = load_sets()
    print("| page set | extractor | F1 | precision | recall | empty | pages/s |\n|---|---|---|---|---|---|---|")
    for name, (fn, slow) in EXTRACTORS.items():
        if args.only and not any(o in name for o in args.only):
            continue
        for sname, (raw, scorer) in sets.items():
            fn(decode_html(raw[0]))   # warm-up (imports, caches)
            times, preds = [], []
            for _ in range(1 if slow else args.passes):
                t0 = time.perf_counter()
                preds = [fn(decode_html(b)) for b in raw]
                times.append(time.perf_counter() - t0)
            s = scorer(preds)
            empty = sum(not p.strip() for p in preds)
            print(f"| {sname} ({len(raw)}) | {name} | {s['f1']:.3f} | {s['precision']:.3f} | {s['recall']:.3f} "
                  f"| {empty} | {len(raw) / statistics.median(times):.0f} |", flush=True)


if __name__ == "__main__":
    main()
