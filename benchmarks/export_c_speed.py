"""Decode speed, batch 1: run.c (fp32 and int8) against dentro's PyTorch engine, in one run.

    .venv/bin/python benchmarks/export_c_speed.py --checkpoint DIR [--new 128] [--threads 1] [--openmp]

Exports the checkpoint to a temporary folder (model.bin fp32 and int8, run.c), builds run.c with
-O3 -march=native (and -fopenmp with --openmp), then generates --new greedy tokens after the
same prompt with each. Tokens/s counts decode steps after the first new token (prefill excluded),
as run.c prints it; the PyTorch engine is warmed up once, then timed the same way (its Step
stream gives the time of the first token). Also says whether the greedy tokens agree.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from dentro.export.c import build, export_c
from dentro.model.checkpoint import load_checkpoint
from dentro.model.engine import Sampling, generate


def torch_speed(model, ids, new: int) -> tuple[float, list[int]]:
    steps = generate(model, ids, max_tokens=new, sampling=Sampling(0))  # no stop: always `new` tokens
    out, t1 = [next(steps).tokens[0]], time.perf_counter()
    out += [s.tokens[0] for s in steps]
    return (len(out) - 1) / max(time.perf_counter() - t1, 1e-9), out


def c_speed(exe, model_bin, prompt: str, new: int, env) -> tuple[float, list[int]]:
    r = subprocess.run([str(exe), str(model_bin), "-m", "tokens", "-t", "0", "-n", str(new), "-i", prompt],
                       capture_output=True, text=True, env=env, check=True)
    speed = float(re.search(r"([\d.]+) tokens/s", r.stderr).group(1))
    return speed, [int(x) for x in r.stdout.split()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--prompt", default="O céu é")
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="torch threads and OMP_NUM_THREADS")
    ap.add_argument("--openmp", action="store_true", help="build run.c with -fopenmp")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    model, tok, _ = load_checkpoint(args.checkpoint, "cpu", load_train_state=False)
    ids = [tok.eot_id] + tok.encode(args.prompt)
    new = min(args.new, model.config.max_position_embeddings - len(ids))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sizes = {q: export_c(args.checkpoint, tmp / q, int8=q == "int8")["model.bin"]["bytes"] for q in ("fp32", "int8")}
        exe = build(tmp / "fp32", ("-O3", "-march=native") + (("-fopenmp",) if args.openmp else ()))
        torch_speed(model, ids, min(new, 8))  # warm-up
        t_speed, t_ids = torch_speed(model, ids, new)
        rows = [("PyTorch engine fp32", t_speed, "", "-")]
        for q in ("fp32", "int8"):
            speed, c_ids = c_speed(exe, tmp / q / "model.bin", args.prompt, new, env)
            same = sum(a == b for a, b in zip(c_ids, t_ids))
            rows.append((f"run.c {q}", speed, f"{sizes[q] / 2**20:.1f} MB", f"{same}/{len(t_ids)}"))
    print(f"{model.num_params():,} parameters, {len(ids)} prompt tokens, {new} new tokens, batch 1, "
          f"{args.threads} thread(s){', OpenMP' if args.openmp else ''}")
    print(f"{'program':<22}{'tokens/s':>10}{'model.bin':>12}  greedy tokens equal to PyTorch")
    for name, speed, size, same in rows:
        print(f"{name:<22}{speed:>10.1f}{size:>12}  {same}")


if __name__ == "__main__":
    main()
