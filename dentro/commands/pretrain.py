"""`dentro pretrain`: corpus + tokenizer -> token shards -> a base model checkpoint (stage 3)."""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

from dentro.commands import add_run_argument, non_negative_int, positive_float, positive_int
from dentro.errors import UserError

TITLE = "Stage 3 · pretraining: next-token prediction"

HELP = """Pretrain a Transformer on next-token prediction (stage 3).

Reads the corpus (Parquet, column `text`) and the tokenizer, writes token shards, then
trains a Qwen3-style GPT from scratch and saves a checkpoint (weights, config, tokenizer,
training state) to <run>/pretrain/checkpoint, with metrics.jsonl and loss.png beside it.

examples:
  dentro pretrain                                   # the tiny preset on the tiny world (CPU, ~13 min)
  dentro pretrain --preset micro                    # a few seconds, a smoke test
  dentro pretrain --max-minutes 2 --depth 2         # smaller and shorter
  dentro pretrain --resume                          # continue from the last checkpoint, exactly
  torchrun --nproc_per_node 8 -m dentro pretrain --preset small          # DDP on 8 GPUs
  torchrun --nproc_per_node 8 -m dentro pretrain --preset small --fsdp   # FSDP2 (sharded)

Inputs come from `dentro data` (the corpus) and `dentro tokenizer train` (the tokenizer);
`dentro speedrun` runs every stage in order."""


@dataclass
class Preset:
    depth: int                  # the one size dial: ModelConfig.from_depth
    seq_len: int                # context window in tokens
    device_batch_size: int      # rows per forward/backward
    total_batch_tokens: int     # tokens per optimiser step (gradient accumulation fills it)
    max_steps: int
    max_minutes: float | None   # time budget; the LR schedule decays within it
    eval_every: int
    eval_tokens: int
    sample_every: int
    save_every: int
    matrix_lr: float = 0.02
    embedding_lr: float = 0.01
    unembedding_lr: float = 0.004
    warmup_steps: int = 10
    val_fraction: float = 0.05


# micro: seconds, for the end-to-end test. tiny: a 5.05M-parameter model (depth 4: width 256,
# 4 heads; 1M of them in each of the embedding and lm_head at vocabulary 4096) on the tiny
# world's ~1.1M training tokens: ~5M tokens (~4.5 epochs; 4.96M measured, bf16 and compiled) in
# 11.6 minutes of a 2-core CPU (13 until 2026-11-30, when stage 6's tools phase took 15 s of it;
# 12.75 until later that day, when a fresh-clone speedrun on a slow day took 19.7 of its 20 minutes;
# 12.5 until 2026-12-01, when on a slower machine, 6.8-7.7k tokens/s against 11-14k, the stages
# after pretraining took 7.1 minutes and the speedrun 19.7 again; 12.25 until later that day, when on
# the same machine at a slow hour the stages after pretraining took 7.8 minutes and the speedrun 20.3;
# 11.75 until later that day, when stage 6's tools evaluation went batched, 70 -> 27 s; 12.25 until
# later still, when a fresh clone on a slow hour took 19.97 minutes, stage 6 and the evaluation 18 s
# slower than the hour before; 12 until 2026-12-02, when a fresh clone at 6.0k tokens/s took 19.9
# minutes, 6 s short of the budget; 11.75 until later that day, when a fresh clone at 5.4k tokens/s,
# the slowest hour yet, took 20.2 minutes).
# 13, not 8: the base model must know what the world repeats.
# Measured at 840 steps (3.44M tokens): 89.6% of the frequent facts completed in a greedy cloze
# (pt and en), against 27.6% after the 1.1M tokens a contended 8-minute run trained
# (docs/pretrain.md, "How long the tiny model trains"). small: 128M parameters at vocabulary 32K
# (depth 12 = GPT-2 small's width 768 and 12 layers), 0.5M tokens per step
# (GPT-2 / nanoGPT's batch), ~2.6B tokens = ~20 tokens per parameter (Chinchilla, Hoffmann
# et al. 2022), on one GPU.
PRESETS = {
    "micro": Preset(depth=1, seq_len=32, device_batch_size=4, total_batch_tokens=128, max_steps=8,
                    max_minutes=None, eval_every=4, eval_tokens=256, sample_every=0, save_every=0,
                    warmup_steps=2, val_fraction=0.1),
    "tiny": Preset(depth=4, seq_len=256, device_batch_size=16, total_batch_tokens=4096, max_steps=5000,
                   max_minutes=11.6, eval_every=25, eval_tokens=16 * 256, sample_every=100, save_every=100),
    "small": Preset(depth=12, seq_len=1024, device_batch_size=32, total_batch_tokens=524_288, max_steps=5000,
                    max_minutes=None, eval_every=250, eval_tokens=32 * 1024 * 16, sample_every=1000,
                    save_every=1000, warmup_steps=50),
}

SAMPLE_PROMPTS = ["A cidade de", "The city of"]  # fixed pt and en prompts, sampled at intervals

# CLI option -> TrainConfig field. On --resume only the SAFE ones may differ from the checkpoint.
TRAIN_OPTIONS = {"seq_len": "seq_len", "batch_size": "device_batch_size", "total_batch_tokens": "total_batch_tokens",
                 "steps": "max_steps", "max_minutes": "max_minutes", "optimizer": "optimizer",
                 "matrix_lr": "matrix_lr", "lr": "adamw_lr", "eval_every": "eval_every",
                 "sample_every": "sample_every", "save_every": "save_every", "seed": "seed", "compile": "compile",
                 "precision": "precision", "fsdp": "fsdp"}
SAFE_ON_RESUME = {"max_steps", "max_minutes", "eval_every", "sample_every", "save_every", "compile", "fsdp",
                  "precision"}


def add_arguments(p):
    add_run_argument(p)
    p.add_argument("--preset", default="tiny", choices=list(PRESETS), help="sizes and budget (default: tiny)")
    p.add_argument("--corpus", help="Parquet file or folder (default: <run>/data/corpus)")
    p.add_argument("--tokenizer", help="tokenizer file (default: <run>/tokenizer/tokenizer.dentro.json)")
    p.add_argument("--out", help="output folder (default: <run>/pretrain)")
    p.add_argument("--depth", type=positive_int, help="number of layers; width, heads, MLP follow from it")
    p.add_argument("--seq-len", type=positive_int, help="context window in tokens")
    p.add_argument("--batch-size", type=positive_int, help="rows per forward/backward on one device")
    p.add_argument("--total-batch-tokens", type=positive_int, help="tokens per optimiser step (all devices, accumulated)")
    p.add_argument("--steps", type=positive_int, help="optimiser steps at most")
    p.add_argument("--max-minutes", type=positive_float, help="time budget; training stops, decays and saves within it")
    p.add_argument("--optimizer", choices=["muon", "adamw"], help="muon (+AdamW for embeddings/norms) or adamw")
    p.add_argument("--matrix-lr", type=positive_float, help="Muon learning rate for the hidden matrices")
    p.add_argument("--lr", type=positive_float, help="AdamW learning rate with --optimizer adamw")
    p.add_argument("--eval-every", type=non_negative_int,
                   help="steps between validation bits-per-byte passes (0: at the end only)")
    p.add_argument("--sample-every", type=non_negative_int, help="steps between sample completions (0: at the end only)")
    p.add_argument("--save-every", type=non_negative_int, help="steps between checkpoints (0: at the end only)")
    p.add_argument("--seed", type=non_negative_int, help="random seed (model init, data order)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint exactly where it stopped")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile (default: on GPU, and on CPU for time budgets of 5 minutes or more)")
    p.add_argument("--precision", choices=["auto", "bf16", "fp32"],
                   help="matmul precision: bf16 autocast or fp32 (default auto: bf16 on GPU and on CPUs with "
                        "native bf16, such as AVX512-BF16 or AMX)")
    p.add_argument("--fsdp", action="store_true", default=None, help="with torchrun: FSDP2 instead of DDP")
    p.add_argument("--num-workers", type=non_negative_int, default=0, help="tokenizing processes (default: one per core)")


def main(args):
    overrides = {field: getattr(args, opt) for opt, field in TRAIN_OPTIONS.items() if getattr(args, opt) is not None}
    r = pretrain(_run(args), args.preset, corpus=args.corpus, tokenizer=args.tokenizer, out=args.out,
                 depth=args.depth, overrides=overrides, resume=args.resume, device=args.device,
                 num_workers=args.num_workers)
    if r is not None:
        print(json.dumps(r["figures"], indent=2))


def _run(args) -> Path:
    from dentro.runs import run_dir

    return run_dir(args.run)


def train_config(preset: str, overrides: dict):
    from dentro.train.loop import TrainConfig

    p = PRESETS[preset]
    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{f.name: getattr(p, f.name) for f in fields(Preset) if f.name in names})
    return replace(cfg, **overrides)


def pretrain(run: Path, preset: str = "tiny", *, corpus=None, tokenizer=None, out=None, depth=None,
             overrides: dict | None = None, resume: bool = False, device=None, num_workers: int = 0,
             progress: bool = True) -> dict | None:
    """Tokenize, train, save. Returns {"figures", "result", "world_prompts"} on rank 0 (None elsewhere)."""
    import torch

    from dentro.model.checkpoint import load_checkpoint, save_checkpoint
    from dentro.train.data import BatchLoader, DocumentIndex, ShardSpec, tokenize_corpus
    from dentro.model.gpt import GPT, ModelConfig
    from dentro.tokenizer.bpe import TOKENIZER_FILE, Tokenizer
    from dentro.train.loop import TrainConfig, setup_distributed, train

    overrides = dict(overrides or {})
    p = PRESETS[preset]
    corpus = Path(corpus) if corpus else run / "data" / "corpus"
    tok_path = Path(tokenizer) if tokenizer else run / "tokenizer" / TOKENIZER_FILE
    out = Path(out) if out else run / "pretrain"
    if not (corpus.exists() and (corpus.is_file() or any(corpus.glob("*.parquet")))):
        raise UserError(f"no corpus at {corpus}; run `dentro data` first (or `dentro speedrun`), "
                        f"or pass --corpus FILE_OR_FOLDER")
    if tok_path.is_dir():
        tok_path = tok_path / TOKENIZER_FILE
    if not tok_path.is_file():
        raise UserError(f"no tokenizer at {tok_path}; run `dentro tokenizer train` first (or `dentro speedrun`), "
                        f"or pass --tokenizer FILE")
    d = setup_distributed(device)
    t0 = time.time()

    # 1. token shards (rank 0 writes, the others wait)
    spec = ShardSpec(val_fraction=p.val_fraction, num_workers=num_workers)
    if d.master:
        meta = tokenize_corpus(corpus, tok_path, out / "tokens", spec, progress=progress)
    _barrier(d)
    if not d.master:
        meta = json.loads((out / "tokens" / "meta.json").read_text())
    tok = Tokenizer.load(tok_path)
    if meta["vocab_size"] != tok.vocab_size:
        raise UserError(f"the token shards in {out / 'tokens'} were made with a {meta['vocab_size']}-token "
                        f"vocabulary, the tokenizer has {tok.vocab_size}; delete {out / 'tokens'} and run again")

    # 2. the model: fresh, or from the checkpoint with its optimiser and data position
    ckpt = out / "checkpoint"
    state = None
    if resume:
        model, ck_tok, state = load_checkpoint(ckpt, d.device)
        if state is None:
            raise UserError(f"{ckpt} has no training state (train_state.pt) to resume from; start a new run "
                            f"without --resume")
        if ck_tok.to_dict() != tok.to_dict():
            raise UserError(f"the checkpoint in {ckpt} was trained with another tokenizer than {tok_path} "
                            f"({ck_tok.vocab_size} vs {tok.vocab_size} tokens); resume with the same tokenizer, "
                            f"or start a new run without --resume")
        saved = TrainConfig(**{k: (tuple(v) if k == "adam_betas" else v) for k, v in state["train_config"].items()})
        clash = {k: (getattr(saved, k), v) for k, v in overrides.items()
                 if k not in SAFE_ON_RESUME and getattr(saved, k) != v}
        if clash:
            raise UserError(f"--resume continues the checkpoint's run, but these settings differ from it: "
                            + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in clash.items())
                            + "; drop them or start a new run")
        cfg = replace(saved, **{k: v for k, v in overrides.items() if k in SAFE_ON_RESUME})
        if depth is not None and depth != model.config.num_hidden_layers:
            raise UserError(f"--depth {depth} differs from the checkpoint's {model.config.num_hidden_layers}; "
                            f"drop it to resume, or start a new run")
        model.train()
    else:
        cfg = train_config(preset, overrides)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        mcfg = ModelConfig.from_depth(p.depth if depth is None else depth, vocab_size=tok.vocab_size,
                                      max_seq_len=cfg.seq_len)
        model = GPT(mcfg).to(d.device)
    if model.config.vocab_size < tok.vocab_size:
        raise UserError(f"the model has {model.config.vocab_size} embedding rows, the tokenizer "
                        f"{tok.vocab_size} tokens; they do not belong together")
    if cfg.seq_len > model.config.max_position_embeddings:
        raise UserError(f"--seq-len {cfg.seq_len} exceeds the model's context {model.config.max_position_embeddings}")

    # 3. data loaders: each rank reads its own rows of one global stream
    train_index = DocumentIndex(out / "tokens", "train")
    val_index = DocumentIndex(out / "tokens", "val")
    loader = BatchLoader(train_index, cfg.device_batch_size, cfg.seq_len, rank=d.rank, world_size=d.world_size,
                         seed=cfg.seed)

    def make_val_loader():
        return BatchLoader(val_index, cfg.device_batch_size, cfg.seq_len, rank=d.rank, world_size=d.world_size,
                           shuffle=False)

    from dentro.world.questions import birth_prompts

    world = birth_prompts(run / "world" / "truth", 2)  # the two people the corpus states most
    prompts = SAMPLE_PROMPTS + [w["prompt"] for w in world]
    n_params = model.num_params()
    if d.master:
        accum = cfg.accumulation_steps(d.world_size)
        print(f"[pretrain] {n_params / 1e6:.2f}M parameters (depth {model.config.num_hidden_layers}, width "
              f"{model.config.hidden_size}), vocab {tok.vocab_size}, context {cfg.seq_len}; "
              f"{meta['splits']['train']['tokens']:,} training tokens in {meta['splits']['train']['docs']:,} documents; "
              f"{cfg.total_batch_tokens:,} tokens/step = {cfg.device_batch_size} rows x {cfg.seq_len} x "
              f"{d.world_size} rank(s) x {accum} accumulation; {d.device}, {cfg.optimizer}, "
              f"{_matmul_words(d.device, cfg.precision)}")

    def save_fn(m, train_state):
        extra = {"step": train_state["step"], "tokens": train_state["tokens"], "preset": preset}
        save_checkpoint(ckpt, m, tok, train_state, extra=extra, write=d.master)

    result = train(model, tok, loader, make_val_loader, cfg, d=d, train_state=state, save_fn=save_fn,
                   out_dir=out, prompts=prompts)
    if not d.master:
        return None
    figures = {"params": n_params, "tokens_trained": result.tokens, "tokens_per_s": round(result.tokens_per_second),
               "final_train_loss": round(result.final_loss, 4), "val_bpb": round(result.evals[-1]["val_bpb"], 4),
               "minutes": round((time.time() - t0) / 60, 2), "steps": result.steps, "stopped_by": result.stopped_by}
    if result.mfu is not None:
        figures["mfu"] = round(result.mfu, 4)
    plot_loss(out / "metrics.jsonl", out / "loss.png")
    for w in world:
        w["completion"] = result.samples.get(w["prompt"], "")
    from dentro.runs import atomic_write_json

    atomic_write_json(out / "result.json", {"figures": figures, "evals": result.evals, "samples": result.samples})
    return {"figures": figures, "result": result, "world_prompts": world}


def _barrier(d) -> None:
    if d.world_size > 1:
        import torch.distributed as dist

        dist.barrier()


def plot_loss(metrics: Path, png: Path, title: str = "pretraining loss (nats per token)") -> Path | None:
    from dentro.report import plot_lines

    recs = [json.loads(l) for l in metrics.read_text().splitlines() if l.strip()]
    train = [(r["tokens"], r["loss"]) for r in recs if "loss" in r]
    val = [(r["tokens"], r["val_loss"]) for r in recs if "val_loss" in r]
    if not train:
        return None
    k = max(1, len(train) // 50)  # a running mean over ~2% of the run, so the trend shows through the noise
    xs = [t for t, _ in train]
    ys = [sum(l for _, l in train[max(0, i - k + 1):i + 1]) / len(train[max(0, i - k + 1):i + 1]) for i in range(len(train))]
    series = {"train loss (running mean)": (xs, ys)}
    if val:
        series["validation loss"] = ([t for t, _ in val], [l for _, l in val])
    return plot_lines(png, series, title=title, xlabel="tokens", ylabel="loss")


def run_stage(run: Path, preset: str) -> tuple[dict, str]:
    from dentro.report import md_table

    # A speedrun killed mid-training picks up from its last checkpoint (same preset only).
    ckpt = run / "pretrain" / "checkpoint"
    resume = False
    if (ckpt / "train_state.pt").exists():
        from dentro.model.checkpoint import read_config

        resume = read_config(ckpt)[1].get("preset") == preset
    cap = os.environ.get("DENTRO_PRETRAIN_MAX_MINUTES")  # dentro speedrun --pretrain-minutes
    r = pretrain(run, preset, resume=resume, progress=True, overrides={"max_minutes": float(cap)} if cap else None)
    f, result = r["figures"], r["result"]
    evals = result.evals
    keep = evals if len(evals) <= 8 else [evals[i * (len(evals) - 1) // 7] for i in range(8)]
    lines = [f"A {f['params'] / 1e6:.1f}M-parameter Qwen3-style GPT trained from scratch on "
             f"{f['tokens_trained']:,} tokens in {f['minutes']} min ({f['tokens_per_s']:,} tokens/s, "
             f"stopped by {'the time budget' if f['stopped_by'] == 'time' else 'the step limit'}). "
             f"Validation: **{f['val_bpb']:.3f} bits per byte**.", "",
             "![loss curve](pretrain/loss.png)", "",
             md_table(["step", "tokens", "val loss (nats)", "val bits/byte"],
                      [[e["step"], e["tokens"], round(e["val_loss"], 4), round(e["val_bpb"], 4)] for e in keep]), ""]
    if r["world_prompts"]:
        rows = [[f"`{w['prompt']}`", _short(w["completion"]), " / ".join(w["answers"])] for w in r["world_prompts"]]
        lines += ["Greedy completions of facts from the world (people the corpus mentions most):", "",
                  md_table(["prompt", "the model continues", "truth"], rows)]
    return f, "\n".join(lines)


def _short(s: str, n: int = 80) -> str:
    s = " ".join(s.split()).replace("|", "\\|")
    return s if len(s) <= n else s[:n - 1] + "…"


def _matmul_words(device, precision: str) -> str:
    """What the matmuls run in, and why, for the first line of the log."""
    import torch

    from dentro.train.loop import training_dtype

    dtype = training_dtype(device, precision)
    if precision != "auto":
        return f"{'bf16' if dtype == torch.bfloat16 else 'fp32'} matmuls (--precision {precision})"
    if dtype == torch.bfloat16:
        return "bf16 matmuls"
    return "fp32 matmuls (this CPU has no native bf16)" if device.type == "cpu" else "fp32 matmuls"

