"""RL rollouts: P problems x G sampled answers in one batch through the KV-cache engine (what
`dentro rl` does) against the same answers generated one sample at a time, side by side in one run.

    .venv/bin/python benchmarks/rl_rollouts.py --checkpoint <run>/sft/checkpoint [--run <run>]
                                               [--prompts 4] [--group 8] [--max-tokens 96] [--repeats 3]

The problems are the run's held-out world math problems (`<run>/world/truth/math.jsonl` and the
SFT split), rendered as `dentro rl` renders them; sampling at T=1, stopping at <|im_end|>.
Reports generated tokens per second (the stop token included) for each way, the median of
`repeats` timings, and their ratio. Stops by itself.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    from dentro.chat.assistant import stop_ids
    from dentro.commands.rl import load_problems
    from dentro.model.checkpoint import load_checkpoint
    from dentro.model.engine import Sampling, generate_all, generate_batch_all
    from dentro.train.rl import prompt_ids

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="the policy (an SFT checkpoint)")
    p.add_argument("--run", help="the run folder with the problems (default: the checkpoint's grandparent)")
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=96)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ckpt = Path(a.checkpoint)
    run = Path(a.run) if a.run else ckpt.parent.parent
    model, tok, _ = load_checkpoint(ckpt, load_train_state=False)
    _, held = load_problems(run)
    prompts = [prompt_ids(tok, q["question"]) for q in held[:a.prompts] for _ in range(a.group)]
    stops = stop_ids(tok)
    sampling = Sampling(temperature=1.0)

    def batched(seed):
        return generate_batch_all(model, prompts, max_tokens=a.max_tokens, sampling=sampling, seed=seed,
                                  stop_ids=stops)

    def one_at_a_time(seed):
        return [generate_all(model, pr, max_tokens=a.max_tokens, sampling=sampling, seed=seed + i,
                             stop_ids=stops)[0] for i, pr in enumerate(prompts)]

    rates = {"batched": [], "one at a time": []}
    for r in range(a.repeats):
        for name, fn in (("batched", batched), ("one at a time", one_at_a_time)):
            t0 = time.perf_counter()
            outs = fn(1000 + r)
            rates[name].append(sum(len(o) for o in outs) / (time.perf_counter() - t0))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"{len(prompts)} rollouts ({a.prompts} problems x {a.group}), up to {a.max_tokens} tokens, T=1, "
          f"{a.threads} threads, {model.num_params() / 1e6:.2f}M parameters")
    for k, v in rates.items():
        print(f"  {k:14s} median {med[k]:8.1f} generated tokens/s   runs: {', '.join(f'{x:.1f}' for x in v)}")
    print(f"  batched / one at a time: {med['batched'] / med['one at a time']:.2f}x")


if __name__ == "__main__":
    main()
