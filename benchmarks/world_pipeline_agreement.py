"""How well does the stage-1 pipeline (dentro data) agree with the world's ground truth?

    .venv/bin/python benchmarks/world_pipeline_agreement.py RUN_FOLDER

RUN_FOLDER holds world/ (from `dentro world`) and data/ (from `dentro data` on it). Prints, per
filter, precision and recall of its removals against truth/pages.jsonl `expect`, the confusion
table (expected -> actual fate) by page kind, and a few examples of disagreements.
"""

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

STAGE_TO_EXPECT = {"url": "url", "extraction": "extraction", "language": "language", "gopher_repetition": "quality",
                   "gopher_quality": "quality", "c4": "quality", "fineweb": "quality", "dedup": "dedup"}


def main(run: Path) -> None:
    pages = [json.loads(x) for x in (run / "world/truth/pages.jsonl").read_text().splitlines()]
    removed = {r["url"]: r for r in pq.read_table(run / "data/removed.parquet").to_pylist()}
    actual = {p["url"]: STAGE_TO_EXPECT.get(removed[p["url"]]["stage"], removed[p["url"]]["stage"])
              if p["url"] in removed else "keep" for p in pages}
    conf = Counter((p["expect"], actual[p["url"]]) for p in pages)
    print("expected -> actual: pages")
    for (e, a), n in sorted(conf.items()):
        print(f"  {e:11s} -> {a:11s} {n}")
    print("\nfilter       precision  recall   (removed by it / expected of it)")
    for f in ["url", "extraction", "language", "quality", "dedup", "keep"]:
        tp = conf[(f, f)]
        pred = sum(n for (e, a), n in conf.items() if a == f)
        gold = sum(n for (e, a), n in conf.items() if e == f)
        print(f"  {f:11s} {tp / max(1, pred):9.3f} {tp / max(1, gold):7.3f}   ({pred} / {gold})")
    by_kind = defaultdict(Counter)
    for p in pages:
        if actual[p["url"]] != p["expect"]:
            r = removed.get(p["url"], {})
            by_kind[p["kind"]][(p["expect"], actual[p["url"]], r.get("reason", ""))] += 1
    print("\ndisagreements by kind (expected, actual, reason): pages")
    for k, c in sorted(by_kind.items()):
        print(f"  {k}: " + ", ".join(f"{e}->{a} {why} {n}" for (e, a, why), n in c.most_common(6)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
