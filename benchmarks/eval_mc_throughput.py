"""Multiple-choice scoring speed: batched (all options of many items in right-padded forward
passes) against one (item, option) row at a time, side by side in one run, same random model.

    .venv/bin/python benchmarks/eval_mc_throughput.py [--depth 4] [--items 64] [--options 4] [--threads 1]

Items are random token contexts of 20-60 tokens with options of 2-12 tokens (HellaSwag-like
shapes). Checks that both give the same log-likelihoods (1e-4), then reports items/s of each
(median of `repeats`, after one warm-up pass) and the speed-up.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dentro.eval.tasks import loglikelihood_one, loglikelihoods  # noqa: E402
from dentro.model.gpt import GPT, ModelConfig  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--items", type=int, default=64)
    p.add_argument("--options", type=int, default=4)
    p.add_argument("--batch-tokens", type=int, default=8192)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    model = GPT(ModelConfig.from_depth(args.depth, args.vocab, 128)).eval()
    rows = []
    for _ in range(args.items):
        ctx = [rng.randrange(args.vocab) for _ in range(rng.randint(20, 60))]
        rows += [(ctx, [rng.randrange(args.vocab) for _ in range(rng.randint(2, 12))]) for _ in range(args.options)]

    def batched():
        return loglikelihoods(model, rows, batch_tokens=args.batch_tokens)

    def one():
        return [loglikelihood_one(model, c, o) for c, o in rows]

    a, b = batched(), one()  # warm-up, and the check
    worst = max(abs(x - y) for x, y in zip(a, b))
    assert worst < 1e-4, f"batched and one-at-a-time disagree by {worst}"
    times = {}
    for name, fn in (("batched", batched), ("one at a time", one)):
        ts = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        times[name] = statistics.median(ts)
    print(f"depth {args.depth} ({model.num_params() / 1e6:.1f}M parameters), {args.items} items x {args.options} "
          f"options, {args.threads} thread(s); max |difference| {worst:.1e}")
    for name, t in times.items():
        print(f"  {name:14s} {args.items / t:8.1f} items/s  ({t:.2f} s)")
    print(f"  speed-up {times['one at a time'] / times['batched']:.1f}x")


if __name__ == "__main__":
    main()
