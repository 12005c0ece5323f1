"""CPU pretraining, side by side: dentro's loop vs a minimal nanoGPT-style reference loop.

Both train a model of the same size (depth, width, heads, vocabulary, context) for the same
wall time on the same token shards:
    dentro     Qwen3-style GPT (RoPE, GQA, QK-norm, SwiGLU, RMSNorm), Muon + AdamW groups,
               warmup-stable-decay within the budget, BOS-aligned best-fit packed rows;
               its default learning rates, untuned here
    reference  written below: GPT-2 style (learned positions, LayerNorm with biases, GELU MLP),
               plain AdamW, warmup + cosine within the budget, random windows of the token
               stream (nanoGPT's get_batch), no compile; its learning rate is swept first
The protocol, so that neither loop is scored on the other's kind of rows:
    1. score   both models on the same neutral held-out rows: fixed random windows of seq_len+1
               tokens of the held-out token stream (seeded, drawn once). The packed rows of
               dentro's loader over the held-out documents are scored too, labelled "packed".
    2. sweep   the reference trains once at each of --ref-lrs (3e-4, 1e-3, 3e-3) with the same
               wall time as every run; the lowest neutral bits per byte picks its lr.
    3. rounds  alternate (dentro, reference at the picked lr) --rounds times, since the machine
               is shared; the table gives medians, the lines below it dentro/reference ratios.

    .venv/bin/python benchmarks/pretrain_cpu.py --minutes 1.5 --rounds 2   # real text from ../shared/data
    .venv/bin/python benchmarks/pretrain_cpu.py --run ~/.cache/dentro/runs/tiny   # the tiny world
    .venv/bin/python benchmarks/pretrain_cpu.py --smoke   # seconds: a synthetic corpus, a depth-1 model
    options: --minutes 2 --rounds 2 --depth 4 --seq-len 256 --ref-lrs 3e-4,1e-3,3e-3
             --fp32-too --compile-too --adamw-too --torch-muon-too --ref-bf16-too (more loops beside)
"""

from __future__ import annotations

import argparse
import math
import os
import random
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
from dentro.train import loop as loop_module  # noqa: E402

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
                    lr: float = 1e-3, seed: int = 1337, bf16: bool = False) -> tuple[nn.Module, int, float]:
    """nanoGPT's loop: random windows, AdamW (wd 0.1 on matrices), warmup + cosine to lr/10
    over the time budget. bf16: the forward under bf16 autocast (nanoGPT does so on GPUs only;
    on CPU it runs fp32). Returns (model, tokens trained, median tokens/s of a step after the first)."""
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
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
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
    return write_corpus(folder, docs)


def smoke_corpus(folder: Path) -> Path:
    """300 short documents of seeded random sentences (--smoke: no files needed)."""
    rng = random.Random(0)
    words = "the a cat dog sat on mat ran to house o gato cão correu para casa and e".split()
    docs = [" ".join(rng.choice(words) for _ in range(rng.randint(40, 120))) + "." for _ in range(300)]
    return write_corpus(folder, docs)


def write_corpus(folder: Path, docs: list[str]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"text": docs, "id": [f"doc{i}" for i in range(len(docs))]}), folder / "00000.parquet")
    return folder


class Windows:
    """A loader (next_batch, as evaluate_bpb wants) over fixed rows, B at a time, in order."""

    def __init__(self, rows: torch.Tensor, batch: int):
        self.rows, self.B, self.i = rows, batch, 0

    def next_batch(self, device):
        r = self.rows[self.i:self.i + self.B]  # (B, T+1)
        self.i += self.B
        return r[:, :-1].to(device), r[:, 1:].to(device)


def neutral_windows(stream: np.ndarray, n: int, seq_len: int, seed: int = 0) -> torch.Tensor:
    """(n, seq_len+1) windows of the held-out stream at seeded random offsets: nanoGPT's
    get_batch drawn once: plain text, no packing. They are the reference's kind of row (it trains
    on windows of the training text); dentro trains on packed rows that start at <|endoftext|>,
    while a window starts anywhere, so if anything they cost dentro, not the reference."""
    assert len(stream) > seq_len + 1, (f"the held-out split has {len(stream)} tokens, fewer than a window of "
                                       f"{seq_len + 1}; use a bigger corpus or a smaller --seq-len")
    starts = np.random.default_rng(seed).integers(0, len(stream) - seq_len, size=n)
    return torch.from_numpy(np.stack([stream[s:s + seq_len + 1] for s in starts]).astype(np.int64))


# ---------------------------------------------------------------------------- the protocol

METRICS = ("tok_s", "tokens", "val_loss", "val_bpb", "packed_loss", "packed_bpb", "params")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="a dentro run folder with data/corpus and tokenizer/ (default: real text)")
    ap.add_argument("--minutes", type=float, default=2.0, help="training wall time of every run (sweep included)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (dentro, reference) x rounds")
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16, help="rows per step (both loops; no accumulation)")
    ap.add_argument("--vocab", type=int, default=4096, help="tokenizer size when training one on real text")
    ap.add_argument("--eval-rows", type=int, default=128, help="held-out rows, neutral windows and packed rows each")
    ap.add_argument("--ref-lrs", default="3e-4,1e-3,3e-3", help="the reference's AdamW learning rates to sweep")
    ap.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                    help="dentro's training precision (default auto: bf16 on CPUs with native bf16)")
    ap.add_argument("--adamw-too", action="store_true", help="also run dentro's loop with plain AdamW")
    ap.add_argument("--fp32-too", action="store_true", help="also run dentro's loop in fp32 (dentro-fp32)")
    ap.add_argument("--compile-too", action="store_true", help="also run dentro's loop under torch.compile "
                    "(dentro-compile; its compile time is inside its budget and reported)")
    ap.add_argument("--torch-muon-too", action="store_true",
                    help="also run dentro's loop with torch.optim.Muon, which orthogonalises in bf16 whatever the "
                    "matmul dtype (dentro-torch-muon: the loop before dentro/train/muon.py)")
    ap.add_argument("--ref-bf16-too", action="store_true",
                    help="also run the reference under bf16 autocast (reference-bf16), at the swept lr")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    ap.add_argument("--smoke", action="store_true", help="seconds, for the tests: a synthetic corpus, depth 1, "
                    "context 32, 4 rows/step, 1.2 s per run, 1 round")
    args = ap.parse_args(argv)
    if args.smoke:
        args.depth, args.seq_len, args.batch, args.vocab = 1, 32, 4, 300
        args.minutes, args.rounds, args.eval_rows = 0.02, 1, 8
    return args


def main(argv=None) -> dict:
    """Runs the protocol, prints the tables; returns {"sweep": {lr: scores}, "ref_lr": lr,
    "runs": {loop: [scores per round]}, "median": {loop: scores}}."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)  # 1 keeps a shared machine's contention out of OpenMP barriers
    ref_lrs = [float(x) for x in args.ref_lrs.split(",")]

    work = Path(tempfile.mkdtemp(prefix="dentro_bench_"))
    if args.run:
        run = Path(args.run).expanduser()
        corpus, tok_path, source = run / "data" / "corpus", run / "tokenizer" / "tokenizer.dentro.json", f"run {run}"
    else:
        if args.smoke:
            corpus, source = smoke_corpus(work / "corpus"), "synthetic sentences (--smoke)"
        elif SHARED.exists():
            corpus = real_text_corpus(work / "corpus")
            source = "Machado de Assis (pt) + tinyshakespeare (en), ../shared/data/text"
        else:
            sys.exit(f"no real text at {SHARED}; pass --run RUN_FOLDER or --smoke")
        import pyarrow.parquet as pq

        texts = pq.read_table(corpus).column("text").to_pylist()
        tok_path = train_tokenizer(texts, args.vocab).save(work / "tokenizer.dentro.json")
    meta = tokenize_corpus(corpus, tok_path, work / "tokens", ShardSpec(val_fraction=0.05), progress=False)
    tok = Tokenizer.load(tok_path)
    train_idx, val_idx = DocumentIndex(work / "tokens", "train"), DocumentIndex(work / "tokens", "val")
    stream = np.concatenate([np.asarray(s) for s in train_idx.shards])  # the reference reads the raw stream
    val_stream = np.concatenate([np.asarray(s) for s in val_idx.shards])
    T, B = args.seq_len, args.batch
    byte_len = torch.as_tensor(token_byte_lengths(tok, tok.vocab_size))
    eval_steps = max(1, args.eval_rows // B)
    # 1. the neutral held-out rows, drawn once: the same for every model, every run
    neutral = neutral_windows(val_stream, eval_steps * B, T, seed=0)

    def packed():  # dentro's loader over the held-out documents, the same rows each time
        return BatchLoader(val_idx, B, T, shuffle=False)

    def score(model: nn.Module) -> dict:
        """Both held-out sets, one code path for every model: neutral windows, then packed rows."""
        n = evaluate_bpb(model, lambda: Windows(neutral, B), eval_steps, byte_len, Dist(), _nullcontext())
        p = evaluate_bpb(model, packed, eval_steps, byte_len, Dist(), _nullcontext())
        return {"val_loss": n["val_loss"], "val_bpb": n["val_bpb"], "packed_loss": p["val_loss"],
                "packed_bpb": p["val_bpb"], "params": sum(q.numel() for q in model.parameters())}

    def run_reference(lr: float, seed: int, bf16: bool = False) -> dict:
        ref, n_tok, tok_s = train_reference(stream, tok.vocab_size, args.depth, T, B, args.minutes * 60,
                                            lr=lr, seed=seed, bf16=bf16)
        return {"tok_s": tok_s, "tokens": n_tok, **score(ref)}

    def run_dentro(name: str, r: int) -> dict:
        cfg = TrainConfig(seq_len=T, device_batch_size=B, total_batch_tokens=B * T, max_steps=10**9,
                          max_minutes=args.minutes, eval_every=0, eval_tokens=B * T, sample_every=0,
                          optimizer="adamw" if name == "dentro-adamw" else "muon",
                          precision="fp32" if name == "dentro-fp32" else args.precision,
                          compile=name == "dentro-compile")
        torch.manual_seed(cfg.seed)
        model = GPT(ModelConfig.from_depth(args.depth, tok.vocab_size, T))
        saved = loop_module.Muon
        if name == "dentro-torch-muon":  # torch's Muon: its Newton-Schulz in bf16 on every machine
            loop_module.Muon = lambda params, ns_dtype=None, **kw: torch.optim.Muon(params, **kw)
        try:
            res = train(model, tok, BatchLoader(train_idx, B, T, seed=r), packed, cfg)
        finally:
            loop_module.Muon = saved
        return {"tok_s": res.tokens_per_second, "tokens": res.tokens, **score(model)}
    # (tokens/s is the loop's own figure: tokens over the steps' time, which for dentro-compile
    # includes the first step's compilation; "tokens in budget" is the fair total either way)

    print(f"data: {source}; {meta['splits']['train']['tokens']:,} train / {meta['splits']['val']['tokens']:,} val "
          f"tokens, vocab {tok.vocab_size}; model depth {args.depth}, context {T}, {B} rows/step; "
          f"{args.minutes} min per run, {len(ref_lrs)} sweep runs + {args.rounds} round(s); held out: "
          f"{eval_steps * B} neutral windows + {eval_steps * B} packed rows of {T} tokens; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs", flush=True)

    # 2. the reference's learning rate: one run per lr, same budget, seed apart from the rounds'
    sweep = {}
    for lr in ref_lrs:
        sweep[lr] = run_reference(lr, seed=1337)
        print(f"sweep reference lr {lr:g}: {fmt(sweep[lr])}", flush=True)
    ref_lr = min(sweep, key=lambda lr: sweep[lr]["val_bpb"])
    print(f"\nreference learning-rate sweep ({args.minutes} min each, scored on the neutral windows):")
    print("| AdamW lr | tokens in budget | tokens/s (median step) | neutral bits/byte | packed bits/byte |")
    print("|---|---|---|---|---|")
    for lr, s in sweep.items():
        mark = " (best, used below)" if lr == ref_lr else ""
        print(f"| {lr:g}{mark} | {s['tokens']:,} | {s['tok_s']:,.0f} | {s['val_bpb']:.3f} | {s['packed_bpb']:.3f} |")

    # 3. alternating rounds, the reference at its best lr
    # dentro-adamw: dentro's model and loop with plain AdamW, to separate the optimiser's cost;
    # dentro-fp32: before bf16 autocast; reference-bf16: the same autocast given to the reference
    loops = (["dentro"] + (["dentro-fp32"] if args.fp32_too else []) + (["dentro-compile"] if args.compile_too else [])
             + (["dentro-adamw"] if args.adamw_too else []) + (["dentro-torch-muon"] if args.torch_muon_too else []))
    refs = ["reference"] + (["reference-bf16"] if args.ref_bf16_too else [])
    runs = {k: [] for k in loops + refs}
    for r in range(args.rounds):
        for name in loops:
            runs[name].append(run_dentro(name, r))
            print(f"round {r + 1} {name}: {fmt(runs[name][-1])}", flush=True)
        for name in refs:
            runs[name].append(run_reference(ref_lr, seed=r, bf16=name == "reference-bf16"))
            print(f"round {r + 1} {name} (lr {ref_lr:g}): {fmt(runs[name][-1])}", flush=True)

    med = {k: {m: statistics.median(x[m] for x in v) for m in METRICS} for k, v in runs.items()}
    print(f"\nmedians of {args.rounds} round(s), {args.minutes} min each; bits/byte on held-out text "
          f"(lower is better), neutral = the same random windows for both loops, packed = dentro's loader's rows")
    print("| loop | params | tokens/s (median step) | tokens in budget | neutral val loss (nats) "
          "| **neutral val bits/byte** | packed val bits/byte |")
    print("|---|---|---|---|---|---|---|")
    for k, m in med.items():
        label = f"{k} (AdamW lr {ref_lr:g}, best of {len(ref_lrs)})" if k.startswith("reference") else k
        print(f"| {label} | {m['params'] / 1e6:.2f}M | {m['tok_s']:,.0f} | {m['tokens']:,.0f} | {m['val_loss']:.3f} "
              f"| {m['val_bpb']:.3f} | {m['packed_bpb']:.3f} |")
    d, ref = med["dentro"], med["reference"]
    print(f"\ndentro/reference: tokens/s {d['tok_s'] / ref['tok_s']:.2f}x; at equal wall time, bits/byte "
          f"{d['val_bpb'] / ref['val_bpb']:.3f}x on neutral windows, {d['packed_bpb'] / ref['packed_bpb']:.3f}x "
          f"on packed rows (below 1: dentro better)")
    for k in med:
        if k not in ("dentro", "reference"):
            print(f"dentro/{k}: tokens/s {d['tok_s'] / med[k]['tok_s']:.2f}x, tokens in budget "
                  f"{d['tokens'] / med[k]['tokens']:.2f}x, neutral bits/byte {d['val_bpb'] / med[k]['val_bpb']:.3f}x")
    return {"sweep": sweep, "ref_lr": ref_lr, "runs": runs, "median": med}


def fmt(s: dict) -> str:
    return (f"{s['tokens']:,} tokens, {s['tok_s']:,.0f} tokens/s, neutral {s['val_loss']:.3f} nats "
            f"{s['val_bpb']:.3f} bpb, packed {s['packed_loss']:.3f} nats {s['packed_bpb']:.3f} bpb")


if __name__ == "__main__":
    main()  # (the token shards stay in a dentro_bench_* temporary folder; delete it when done)
