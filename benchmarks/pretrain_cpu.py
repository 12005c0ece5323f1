"""CPU pretraining, side by side: dentro's loop vs a minimal nanoGPT-style reference loop.

Both train a model of the same size (depth, width, heads, vocabulary, context) for the same
wall time on the same token shards, and are scored on the same held-out rows:
    dentro     Qwen3-style GPT (RoPE, GQA, QK-norm, SwiGLU, RMSNorm), Muon + AdamW groups,
               warmup-stable-decay within the budget, BOS-aligned best-fit packed rows
    reference  written below: GPT-2 style (learned positions, LayerNorm with biases, GELU MLP), plain AdamW, warmup + cosine within the budget, random windows
               of the token stream (nanoGPT's get_batch), no compile
Runs alternate (dentro, reference, dentro, ...) because the machine is shared; the report
gives medians and the dentro/reference ratios.

    .venv/bin/python benchmarks/pretrain_cpu.py                     # real text from ../shared/data
    .venv/bin/python benchmarks/pretrain_cpu.py --run ~/.cache/dentro/runs/tiny   # the tiny world
    options: --minutes 2 --rounds 2 --depth 4 --seq-len 256
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DENTRO_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from dentro.train.data import BatchLoader, DocumentIndex, ShardSpec, token_byte_lengths, tokenize_corpus  # noqa: E402
from dentro.model.gpt import GPT, ModelConfig  # noqa: E402
from dentro.tokenizer.bpe import Tokenizer, train_tokenizer  # noqa: E402
from dentro.train.loop import Dist, TrainConfig, _nullcontext, evaluate_bpb, train  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "text"


# ---------------------------------------------------------------------------- the reference

class RefBlock(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.heads = heads

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class RefGPT(nn.Module):
    """nanoGPT's model, minimal: token + learned position embeddings, pre-LN blocks, GELU MLP."""

    def __init__(self, vocab: int, d: int, layers: int, heads: int, ctx: int):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(RefBlock(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)  # untied (nanoGPT ties it) so both models have the same size
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02 / (math.sqrt(2 * layers) if name.endswith(("proj.weight", "out.weight")) else 1))
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets=None):
        x = self.wte(idx) + self.wpe(torch.arange(idx.size(1)))
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.ln_f(x))
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def train_reference(tokens: np.ndarray, vocab: int, depth: int, seq_len: int, batch: int, seconds: float,
                    lr: float = 1e-3, seed: int = 1337) -> tuple[nn.Module, int, float]:
    """nanoGPT's loop: random windows, AdamW (wd 0.1 on matrices), warmup + cosine to lr/10
    over the time budget. Returns (model, tokens trained, median tokens/s of a step after the first)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    width = 64 * depth
    model = RefGPT(vocab, width, depth, width // 64, seq_len)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95))
    data = torch.from_numpy(tokens.astype(np.int64))
    step, n_tokens, t0, rates = 0, 0, time.perf_counter(), []
    while (elapsed := time.perf_counter() - t0) < seconds:
        p = elapsed / seconds
        mult = min(1.0, (step + 1) / 10) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))
        for g in opt.param_groups:
            g["lr"] = lr * mult
        t_step = time.perf_counter()
        ix = rng.integers(0, len(data) - seq_len - 1, size=batch)
        x = torch.stack([data[i:i + seq_len] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + seq_len] for i in ix])
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        n_tokens += batch * seq_len
        rates.append(batch * seq_len / (time.perf_counter() - t_step))
    return model, n_tokens, statistics.median(rates[1:] or rates)


# ---------------------------------------------------------------------------- data

def real_text_corpus(folder: Path) -> Path:
    """Parquet of real text from ../shared/data: Machado de Assis (pt) and Shakespeare (en),
    cut into documents of ~2,000+ characters at blank lines."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted((SHARED / "machado").rglob("*.txt")) + [SHARED / "tinyshakespeare.txt"]
    docs = []
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        buf = ""
        for line in text.splitlines(keepends=True):
            buf += line
            if len(buf) > 2000 and not line.strip():  # cut at a blank line past 2,000 characters
                docs.append(buf.strip())
                buf = ""
        if buf.strip():
            docs.append(buf.strip())
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"text": docs, "id": [f"doc{i}" for i in range(len(docs))]}), folder / "00000.parquet")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a dentro run folder with data/corpus and tokenizer/ (default: real text)")
    ap.add_argument("--minutes", type=float, default=2.0, help="training wall time per run")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (dentro, reference) x rounds")
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16, help="rows per step (both loops; no accumulation)")
    ap.add_argument("--vocab", type=int, default=4096, help="tokenizer size when training one on real text")
    ap.add_argument("--eval-rows", type=int, default=64)
    ap.add_argument("--adamw-too", action="store_true", help="also run dentro's loop with plain AdamW")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # 1 keeps a shared machine's contention out of OpenMP barriers

    work = Path(tempfile.mkdtemp(prefix="dentro_bench_"))
    if args.run:
        run = Path(args.run).expanduser()
        corpus, tok_path, source = run / "data" / "corpus", run / "tokenizer" / "tokenizer.dentro.json", f"run {run}"
    else:
        if not SHARED.exists():
            sys.exit(f"no real text at {SHARED}; pass --run RUN_FOLDER")
        corpus = real_text_corpus(work / "corpus")
        import pyarrow.parquet as pq

        texts = pq.read_table(corpus).column("text").to_pylist()
        tok_path = train_tokenizer(texts, args.vocab).save(work / "tokenizer.dentro.json")
        source = "Machado de Assis (pt) + tinyshakespeare (en), ../shared/data/text"
    meta = tokenize_corpus(corpus, tok_path, work / "tokens", ShardSpec(val_fraction=0.05), progress=False)
    tok = Tokenizer.load(tok_path)
    train_idx, val_idx = DocumentIndex(work / "tokens", "train"), DocumentIndex(work / "tokens", "val")
    stream = np.concatenate([np.asarray(s) for s in train_idx.shards])  # the reference reads the raw stream
    T, B = args.seq_len, args.batch
    byte_len = torch.as_tensor(token_byte_lengths(tok, tok.vocab_size))
    eval_steps = max(1, args.eval_rows // B)

    def val_loader():
        return BatchLoader(val_idx, B, T, shuffle=False)

    print(f"data: {source}; {meta['splits']['train']['tokens']:,} train / {meta['splits']['val']['tokens']:,} val "
          f"tokens, vocab {tok.vocab_size}; model depth {args.depth}, context {T}, {B} rows/step; "
          f"{args.minutes} min per run, {args.rounds} round(s); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    loops = ["dentro"] + (["dentro-adamw"] if args.adamw_too else [])
    results = {k: [] for k in loops + ["reference"]}
    for r in range(args.rounds):
        for name in loops:  # dentro-adamw: dentro's model and loop with plain AdamW, to separate optimiser cost
            cfg = TrainConfig(seq_len=T, device_batch_size=B, total_batch_tokens=B * T, max_steps=10**9,
                              max_minutes=args.minutes, eval_every=0, eval_tokens=args.eval_rows * T, sample_every=0,
                              optimizer="adamw" if name == "dentro-adamw" else "muon")
            torch.manual_seed(cfg.seed)
            model = GPT(ModelConfig.from_depth(args.depth, tok.vocab_size, T))
            res = train(model, tok, BatchLoader(train_idx, B, T, seed=r), val_loader, cfg)
            ev = res.evals[-1]
            results[name].append({"tok_s": res.tokens_per_second, "tokens": res.tokens,
                                  "val_loss": ev["val_loss"], "val_bpb": ev["val_bpb"],
                                  "params": model.num_params()})
            print(f"round {r + 1} {name}: {results[name][-1]}", flush=True)

        ref, n_tok, tok_s = train_reference(stream, tok.vocab_size, args.depth, T, B, args.minutes * 60, seed=r)
        ev = evaluate_bpb(ref, val_loader, eval_steps, byte_len, Dist(), _nullcontext())
        results["reference"].append({"tok_s": tok_s, "tokens": n_tok, "val_loss": ev["val_loss"],
                                     "val_bpb": ev["val_bpb"], "params": sum(p.numel() for p in ref.parameters())})
        print(f"round {r + 1} reference: {results['reference'][-1]}", flush=True)

    med = {k: {m: statistics.median(x[m] for x in v) for m in ("tok_s", "tokens", "val_loss", "val_bpb", "params")}
           for k, v in results.items()}
    print("\n| loop | params | tokens/s (median step) | tokens in budget | val loss (nats) | val bits/byte |")
    print("|---|---|---|---|---|---|")
    for k in results:
        m = med[k]
        print(f"| {k} | {m['params'] / 1e6:.2f}M | {m['tok_s']:,.0f} | {m['tokens']:,.0f} | {m['val_loss']:.3f} | "
              f"{m['val_bpb']:.3f} |")
    d, ref = med["dentro"], med["reference"]
    print(f"\nratios dentro/reference: tokens/s {d['tok_s'] / ref['tok_s']:.2f}x, val loss {d['val_loss'] / ref['val_loss']:.3f}, "
          f"val bpb {d['val_bpb'] / ref['val_bpb']:.3f} (lower is better for loss and bpb)")


if __name__ == "__main__":
    main()  # (the token shards stay in a dentro_bench_* temporary folder; delete it when done)
