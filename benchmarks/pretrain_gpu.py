"""GPU pretraining throughput: tokens/s and MFU of dentro's training loop for a 128M (depth 12)
and a 448M-parameter model (depth 20), vocabulary 32K (bf16 autocast, torch.compile, Muon + AdamW), on random tokens so that
only the model and the loop are measured.

    .venv/bin/python benchmarks/pretrain_gpu.py                       # depths 12 and 20, one GPU
    .venv/bin/python benchmarks/pretrain_gpu.py --device cpu --depths 1 --steps 3 --seq-len 64 --batch 2   # smoke test

For orientation (issue 6): well-tuned runs reach about 45-50% MFU on an H100; llm.c's GPT-2
124M ran at about 460K tokens/s per H100. MFU here = model.flops_per_token() x tokens/s /
the GPU's dense bf16 peak (dentro.train.PEAK_BF16_FLOPS).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("DENTRO_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from dentro.model import GPT, ModelConfig  # noqa: E402
from dentro.train import TrainConfig, setup_distributed, train  # noqa: E402


class RandomTokens:
    """A loader of uniformly random token ids: (B, T) inputs and targets, already on the device."""

    def __init__(self, vocab: int, batch: int, seq_len: int, seed: int = 0):
        self.vocab, self.B, self.T, self.calls = vocab, batch, seq_len, 0
        self.g = torch.Generator().manual_seed(seed)

    def next_batch(self, device="cpu"):
        self.calls += 1
        t = torch.randint(0, self.vocab, (self.B, self.T + 1), generator=self.g)
        t = t.to(device, non_blocking=True)
        return t[:, :-1], t[:, 1:]

    def state_dict(self):
        return {"calls": self.calls}

    def load_state_dict(self, s):
        self.calls = s["calls"]


class _NoTokenizer:
    """evaluate_bpb needs byte lengths: every id counts as one byte (bpb is not the point here)."""

    def __init__(self, vocab):
        self.vocab_size = vocab

    def token_byte_lengths(self):
        return [1] * self.vocab_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depths", type=int, nargs="+", default=[12, 20], help="12: 128M, 20: 448M parameters at vocab 32K")
    ap.add_argument("--vocab", type=int, default=32768)
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=16, help="rows per device per step")
    ap.add_argument("--steps", type=int, default=40, help="steps per model (the first ones compile and warm up)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    d = setup_distributed(args.device)
    name = torch.cuda.get_device_name(d.device) if d.device.type == "cuda" else "CPU"
    rows = []
    for depth in args.depths:
        cfg = TrainConfig(seq_len=args.seq_len, device_batch_size=args.batch,
                          total_batch_tokens=args.batch * args.seq_len * d.world_size, max_steps=args.steps,
                          warmup_steps=5, eval_every=0, eval_tokens=args.batch * args.seq_len * d.world_size,
                          compile=not args.no_compile and d.device.type == "cuda")
        torch.manual_seed(0)
        model = GPT(ModelConfig.from_depth(depth, args.vocab, args.seq_len)).to(d.device)
        r = train(model, _NoTokenizer(args.vocab), RandomTokens(args.vocab, args.batch, args.seq_len, d.rank),
                  lambda: RandomTokens(args.vocab, args.batch, args.seq_len, 99), cfg, d=d)
        # r.tokens_per_second: the median step rate, so the compiling first steps do not count
        rows.append((depth, model.num_params(), r.tokens_per_second, r.mfu))
        del model
        if d.device.type == "cuda":
            torch.cuda.empty_cache()
    if d.master:
        print(f"device: {name} x {d.world_size}; torch {torch.__version__}; seq {args.seq_len}, {args.batch} rows/device")
        print("| depth | params | tokens/s (median step) | MFU |\n|---|---|---|---|")
        for depth, n, tps, mfu in rows:
            print(f"| {depth} | {n / 1e6:.1f}M | {tps:,.0f} | {'-' if mfu is None else f'{100 * mfu:.1f}%'} |")


if __name__ == "__main__":
    main()
