"""Generation speed: the KV-cache engine against naive generation, side by side in one run.

    .venv/bin/python benchmarks/engine_kvcache.py [--depth 4] [--prompt 32] [--new 224] [--repeats 5]

Naive generation re-runs the whole sequence for every new token (O(T^2) work per token
in attention, O(T) in the matmuls); the engine runs the prompt once (prefill) and then one
token at a time against cached keys/values. Same random model, same greedy tokens (checked).
Reports the median of `repeats` timings of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dentro.model.engine import Sampling, generate_all, generate_naive  # noqa: E402
from dentro.model.gpt import GPT, ModelConfig  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--prompt", type=int, default=32, help="prompt tokens")
    p.add_argument("--new", type=int, default=224, help="new tokens")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = ModelConfig.from_depth(args.depth, args.vocab, args.prompt + args.new)
    model = GPT(cfg).eval()
    prompt = torch.randint(0, args.vocab, (args.prompt,)).tolist()
    cached = generate_all(model, prompt, max_tokens=args.new, sampling=Sampling(temperature=0))[0]
    naive, _ = generate_naive(model, prompt, args.new)
    same = cached == naive
    times = {"kv cache": [], "naive": []}
    for _ in range(args.repeats):  # interleaved, so load changes on the machine hit both alike
        t0 = time.perf_counter()
        generate_all(model, prompt, max_tokens=args.new, sampling=Sampling(temperature=0))
        times["kv cache"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        generate_naive(model, prompt, args.new)
        times["naive"].append(time.perf_counter() - t0)
    print(f"model: depth {args.depth}, width {cfg.hidden_size}, {model.num_params() / 1e6:.2f}M params; "
          f"prompt {args.prompt} + {args.new} new tokens, greedy, {args.threads} thread(s); "
          f"same tokens: {same}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {k:>8}: median {v:.3f} s  ({args.new / v:,.0f} new tokens/s)  runs: "
              + ", ".join(f"{t:.3f}" for t in times[k]))
    print(f"  speed-up of the KV cache: {med['naive'] / med['kv cache']:.2f}x")
    return {"same_tokens": same, "median_s": med, "speedup": med["naive"] / med["kv cache"]}


if __name__ == "__main__":
    main()
