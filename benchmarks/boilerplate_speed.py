"""The `blocks` classifier's speed against an earlier revision of it, side by side in one process.

    taskset -c 1 .venv/bin/python benchmarks/boilerplate_speed.py [--baseline REV] [--passes 5]

Loads dentro/web/boilerplate.py as it was at git revision REV (default HEAD) beside the working
tree's, then times both over the pages of benchmarks/data_extraction.py (672 real pages from
../shared/data/extraction), alternating baseline and current pass by pass so that both see the
same machine:
- the classifier alone: `clean_text` over each page's marked main-content text (resiliparse's
  part computed once beforehand, not timed);
- the whole extractor: `extract_text(html, "blocks")` with one or the other classifier.
It fails if the two give a different text for any page (a speed change must not change the
output; a change of the output is a change of the model, measured by data_extraction.py).
Prints medians over the passes (ms per page, pages/s) and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from data_extraction import DATA, load_sets  # noqa: E402

from dentro.web import boilerplate, extract  # noqa: E402


def module_at(rev: str):
    """dentro/web/boilerplate.py at git revision `rev`, imported under another name."""
    source = subprocess.run(["git", "show", f"{rev}:dentro/web/boilerplate.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "boilerplate_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("boilerplate_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(fn, items) -> tuple[float, list]:
    t0 = time.perf_counter()
    out = [fn(x) for x in items]
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="HEAD", help="git revision of the baseline classifier")
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"no benchmark data at {DATA}")
    baseline = module_at(args.baseline)
    pages = [extract.decode_html(b) for raw, _ in load_sets().values() for b in raw]
    marked = [extract.extract_resiliparse(h, marked=True) for h in pages]
    for module in (baseline, boilerplate):   # warm-up: imports, one-time tables
        [module.clean_text(t) for t in marked[:20]]

    def whole(module):
        def run(html):
            extract.boilerplate = module
            try:
                return extract.extract_text(html, "blocks")
            finally:
                extract.boilerplate = boilerplate
        return run

    rows = []
    for label, cases in (("classifier (clean_text on marked text)",
                          ((baseline.clean_text, marked), (boilerplate.clean_text, marked))),
                         ("whole extractor (extract_text, blocks)",
                          ((whole(baseline), pages), (whole(boilerplate), pages)))):
        times = ([], [])
        for _ in range(args.passes):
            outs = []
            for k, (fn, items) in enumerate(cases):
                t, out = timed(fn, items)
                times[k].append(t)
                outs.append(out)
            differ = sum(a != b for a, b in zip(*outs))
            if differ:
                sys.exit(f"{label}: {differ} of {len(pages)} pages came out different; not a speed change")
        base, new = (statistics.median(t) / len(pages) * 1e3 for t in times)
        rows.append((label, base, new))
    print(f"{len(pages)} pages, {args.passes} alternating passes, medians; outputs identical on every page\n")
    print(f"| part | baseline ({args.baseline}) ms/page | current ms/page | baseline pages/s | current pages/s "
          "| speed-up |\n|---|---|---|---|---|---|")
    for label, base, new in rows:
        print(f"| {label} | {base:.3f} | {new:.3f} | {1e3 / base:.0f} | {1e3 / new:.0f} | {base / new:.2f}x |")


if __name__ == "__main__":
    main()
