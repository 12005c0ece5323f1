"""Sampled generation: the engine's inverse-CDF draw against torch.multinomial, side by side.

    .venv/bin/python benchmarks/engine_sampling.py [--checkpoint RUN/sft/checkpoint] [--batch 64]
        [--prompt 32] [--new 48] [--repeats 5] [--threads 2]

The engine draws a sampled token with one uniform number per row against the cumulative
distribution (dentro.model.engine.sample_next); the baseline is the draw it replaced,
`torch.multinomial(probs, 1)`, which draws an exponential for every vocabulary entry. Both run
generate_batch on the same model and prompts (temperature 0.7, as stage 6's probing samples),
alternating, `--repeats` times each; the medians and their ratio are printed. A random depth-4
model (5.05M parameters, vocabulary 4,096) unless --checkpoint names one (its speed is the same;
its rows stop at different times). Then both samplers draw 200,000 tokens from one fixed
distribution (a real model's next-token distribution when there is a checkpoint) and the
total-variation distance of their frequencies to the probabilities is printed: both sample the
same distribution, so both distances are sampling noise (~0.01).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dentro.model import engine  # noqa: E402
from dentro.model.engine import Sampling, filter_logits  # noqa: E402
from dentro.model.gpt import GPT, ModelConfig  # noqa: E402

INVERSE_CDF = engine.sample_next


def multinomial(logits, s, generator=None):
    """The baseline: the draw before, one exponential per vocabulary entry."""
    if s.temperature == 0:
        return logits.argmax(dim=-1)
    probs = filter_logits(logits, s).softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=None)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--prompt", type=int, default=32)
    p.add_argument("--new", type=int, default=48)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.checkpoint:
        from dentro.model.checkpoint import load_checkpoint
        model = load_checkpoint(args.checkpoint, load_train_state=False)[0]
    else:
        model = GPT(ModelConfig.from_depth(4, 4096, 256))
    model.eval()
    V = model.config.vocab_size
    prompts = torch.randint(1, V, (args.batch, args.prompt)).tolist()
    sampling = Sampling(temperature=0.7)

    def run(sampler) -> float:
        engine.sample_next = sampler
        try:
            t = time.perf_counter()
            for _ in engine.generate_batch(model, prompts, max_tokens=args.new, sampling=sampling, seed=1):
                pass
            return time.perf_counter() - t
        finally:
            engine.sample_next = INVERSE_CDF

    run(INVERSE_CDF), run(multinomial)  # warm-up
    times = {"inverse CDF (engine)": [], "torch.multinomial (before)": []}
    for _ in range(args.repeats):
        times["inverse CDF (engine)"].append(run(INVERSE_CDF))
        times["torch.multinomial (before)"].append(run(multinomial))
    med = {k: statistics.median(v) for k, v in times.items()}
    tokens = args.batch * args.new
    for k, v in med.items():
        print(f"{k:28s} {v * 1000:7.0f} ms  {tokens / v:7.0f} tokens/s")
    ratio = med["torch.multinomial (before)"] / med["inverse CDF (engine)"]
    print(f"speed-up {ratio:.2f}x ({args.batch} rows x {args.new} new tokens, prompt {args.prompt}, "
          f"{torch.get_num_threads()} threads)")

    with torch.no_grad():
        logits = model(torch.tensor([prompts[0]]))[:, -1]  # (1, V)
    probs = filter_logits(logits, sampling).softmax(-1)[0]
    n, g = 200_000, torch.Generator().manual_seed(0)
    tv = {}
    for name, sampler in (("inverse CDF", INVERSE_CDF), ("multinomial", multinomial)):
        draws = torch.cat([sampler(logits.expand(1000, V), sampling, g) for _ in range(n // 1000)])
        freq = torch.bincount(draws, minlength=V).double() / n
        tv[name] = round(0.5 * float((freq - probs.double()).abs().sum()), 4)
    print(f"total-variation distance to the probabilities over {n:,} draws: {tv}")
    print(json.dumps({"median_s": med, "speedup": round(ratio, 3), "tv_distance": tv}))


if __name__ == "__main__":
    main()
