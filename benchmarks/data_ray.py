"""Ray gives the same corpus as the local executor: run both on the same crawl and compare.

    .venv/bin/python benchmarks/data_ray.py [--world RUN] [--workers N]

Compares every corpus row (all columns, in order), the stats of every stage and the removed-document
index; prints the wall time of each executor (Ray's includes starting its local cluster).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DENTRO_PROGRESS", "0")

from dentro.runs import run_dir  # noqa: E402
from dentro.web.pipeline import DataConfig, process  # noqa: E402


def digest(out: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    for f in sorted((out / "corpus").glob("*.parquet")):
        for row in pq.read_table(f).to_pylist():
            h.update(json.dumps(row, sort_keys=True).encode())
            n += 1
    h.update(json.dumps(pq.read_table(out / "removed.parquet").to_pylist()).encode())
    return h.hexdigest()[:16], n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", default="bench-world")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    run = run_dir(args.world)
    if not (run / "world" / "crawl").exists():
        import subprocess

        subprocess.run([sys.executable, "-m", "dentro", "world", "--run", str(run)], check=True)
    cfg = DataConfig(blocklist=str(run / "world" / "blocklist"))
    tmp = Path(tempfile.mkdtemp(prefix="dentro-ray-"))
    res = {}
    try:
        for ex in ("local", "ray"):
            t0 = time.perf_counter()
            stats = process([run / "world" / "crawl"], tmp / ex, cfg, executor=ex, workers=args.workers,
                            log=lambda *a: None)
            secs = time.perf_counter() - t0
            d, n = digest(tmp / ex)
            res[ex] = (d, n, secs, json.dumps(stats["stages"], sort_keys=True))
            print(f"{ex:>5}: {n} documents, digest {d}, {secs:.1f} s on {args.workers} workers")
        same = res["local"][0] == res["ray"][0] and res["local"][3] == res["ray"][3]
        print(f"identical corpus, removed index and stats: {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
