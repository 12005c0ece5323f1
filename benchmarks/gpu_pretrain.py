"""Pretraining throughput on one GPU: tokens/s and MFU for a ~124M and a ~500M model.

    .venv/bin/python benchmarks/gpu_pretrain.py                 # on an H100 / H200
    .venv/bin/python benchmarks/gpu_pretrain.py --smoke         # anywhere (CPU): tiny, proves it runs
    .venv/bin/python benchmarks/gpu_pretrain.py --json out.json # also write the results

Two implementations side by side in one run, on the same model and batch:
    train   dentro.train.train(): the real pretraining loop (Muon + AdamW groups, bf16
            autocast, torch.compile, gradient clipping), fed random tokens
    plain   a self-contained step: fused AdamW for everything, bf16 autocast, torch.compile
            (the nanoGPT recipe; the baseline, and the fallback when dentro.train.loop is absent)
Random tokens are enough: throughput does not depend on what the tokens say.

MFU = flops_per_token (6N + attention, GPT.flops_per_token) x tokens/s / peak, with peak
the dense bf16 tensor-core figure of NVIDIA's data sheets: 989 TFLOP/s for H100 SXM and
H200 (756 for H100 PCIe). For orientation (issue 6): well-tuned runs reach ~45-50% MFU on
an H100; llm.c's GPT-2 124M ran at ~460K tokens/s per H100.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dentro.model.gpt import GPT, ModelConfig  # noqa: E402

VOCAB = 50304  # GPT-2's 50,257 padded to a multiple of 128 (as nanoGPT/llm.c)


@dataclass
class Case:
    name: str
    depth: int
    tie: bool
    seq_len: int
    batch_size: int  # rows per step on the device (no accumulation: we time one step)


# ~124M: GPT-2 small's shape (12 layers, width 768, tied embeddings) -> 116.5M parameters here
# (GPT-2's 124M has a 4x GELU MLP with biases and learned positions). ~500M: depth 20, width
# 1280, untied -> 492.6M. Batch sizes fit an 80 GB H100 in bf16; halved on out-of-memory.
CASES = [Case("124M", 12, True, 1024, 32), Case("500M", 20, False, 1024, 16)]
SMOKE = [Case("smoke", 2, False, 64, 4)]


def peak_flops() -> tuple[str, float | None]:
    """The GPU's name and dense bf16 peak, from dentro.train.loop's table (one table for the project)."""
    if not torch.cuda.is_available():
        return "cpu", None
    from dentro.train.loop import peak_flops as train_peak

    return torch.cuda.get_device_name(), train_peak(torch.device("cuda"))


class RandomTokens:
    """The loader interface dentro.train.loop expects, over uniform random tokens."""

    def __init__(self, batch_size: int, seq_len: int, vocab: int, seed: int = 0):
        self.b, self.t, self.v = batch_size, seq_len, vocab
        self.g = torch.Generator().manual_seed(seed)

    def next_batch(self, device):
        xy = torch.randint(0, self.v, (self.b, self.t + 1), generator=self.g).to(device, non_blocking=True)
        return xy[:, :-1], xy[:, 1:]

    def state_dict(self):
        return {}

    def load_state_dict(self, _):
        pass


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run_plain(model: GPT, case: Case, steps: int, warmup: int, device, compile_: bool) -> list[float]:
    """Seconds per step of the baseline, for each of `steps` steps after `warmup` untimed ones."""
    cuda = device.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=cuda)
    step_model = torch.compile(model) if compile_ else model
    loader = RandomTokens(case.batch_size, case.seq_len, model.config.vocab_size)
    times = []
    for i in range(warmup + steps):
        x, y = loader.next_batch(device)
        sync()
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = step_model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()  # waits for the GPU, as a training loop that logs the loss does
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def run_train(model: GPT, case: Case, steps: int, warmup: int, device, compile_: bool) -> list[float]:
    """dentro.train.train() for warmup + steps steps. It reports the median tokens/s over its
    steps after the first, so compilation steps are outvoted when warmup < steps."""
    from dentro.tokenizer.bpe import Tokenizer
    from dentro.train.loop import Dist, TrainConfig, train

    tokens = case.batch_size * case.seq_len
    cfg = TrainConfig(seq_len=case.seq_len, device_batch_size=case.batch_size, total_batch_tokens=tokens,
                      max_steps=warmup + steps, eval_every=0, eval_tokens=tokens, warmup_steps=1,
                      compile=compile_, log_every=10**9)
    tok = Tokenizer([bytes([i]) for i in range(256)])  # only for the final bits-per-byte bookkeeping
    loader = RandomTokens(case.batch_size, case.seq_len, model.config.vocab_size)
    result = train(model, tok, loader, lambda: RandomTokens(case.batch_size, case.seq_len, model.config.vocab_size, 1),
                   cfg, d=Dist(device=device))
    return [tokens / result.tokens_per_second]


def measure(case: Case, impl: str, args, device) -> dict:
    config = ModelConfig.from_depth(case.depth, VOCAB if not args.smoke else 512, case.seq_len,
                                    tie_word_embeddings=case.tie)
    while True:
        torch.manual_seed(0)
        model = GPT(config).to(device)
        try:
            fn = run_train if impl == "train" else run_plain
            times = fn(model, case, args.steps, args.warmup, device, not args.no_compile and device.type == "cuda")
            break
        except torch.cuda.OutOfMemoryError:
            del model
            torch._dynamo.reset()
            torch.cuda.empty_cache()
            if case.batch_size == 1:
                raise
            case = Case(case.name, case.depth, case.tie, case.seq_len, case.batch_size // 2)
            print(f"  out of memory: retrying {case.name} with batch {case.batch_size}", file=sys.stderr)
    tokens = case.batch_size * case.seq_len
    med = statistics.median(times)
    tps = tokens / med
    gpu, peak = peak_flops()
    fpt = model.flops_per_token(case.seq_len)
    return {"case": case.name, "impl": impl, "device": gpu, "params": model.num_params(),
            "depth": case.depth, "hidden": config.hidden_size, "seq_len": case.seq_len,
            "batch": case.batch_size, "tokens_per_step": tokens, "steps_timed": args.steps,
            "median_step_s": round(med, 5), "tokens_per_s": round(tps), "flops_per_token": fpt,
            "tflops": round(fpt * tps / 1e12, 2), "mfu": round(fpt * tps / peak, 4) if peak else None}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny config and few steps: runs on CPU in seconds")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 20; smoke 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first, for compilation (default 5; smoke 1)")
    p.add_argument("--impl", choices=["both", "train", "plain"], default="both")
    p.add_argument("--case", choices=[c.name for c in CASES], action="append",
                   help="only this config (repeatable; default: all). Each case x impl compiles for 1-2 min")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    args.steps = args.steps or (3 if args.smoke else 20)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 5)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    impls = ["train", "plain"] if args.impl == "both" else [args.impl]
    if "train" in impls:
        try:
            import dentro.train.loop  # noqa: F401
        except ImportError:
            print("dentro.train.loop not available: timing the plain step only", file=sys.stderr)
            impls.remove("train")
            impls = impls or ["plain"]
    rows = []
    cases = SMOKE if args.smoke else [c for c in CASES if not args.case or c.name in args.case]
    for case in cases:
        for impl in impls:
            r = measure(case, impl, args, device)
            if device.type == "cuda":  # free the compiled graphs and memory before the next run
                torch._dynamo.reset()
                torch.cuda.empty_cache()
            rows.append(r)
            mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a (no GPU peak)"
            print(f"{r['case']:>6} {r['impl']:>5}  {r['params'] / 1e6:7.1f}M params  batch {r['batch']}x{r['seq_len']}"
                  f"  {r['tokens_per_s']:>10,} tok/s  {r['tflops']:8.2f} TFLOP/s  MFU {mfu}  on {r['device']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
