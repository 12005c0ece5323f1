"""The training loop shared by pretraining and fine-tuning.

    optimisers  Muon for the 2D matrices inside the blocks (torch.optim.Muon, orthogonalising in
                the matmul dtype: dentro/train/muon.py), AdamW for the embedding, the lm_head
                and the RMSNorm gains; or AdamW for everything.
    schedule    linear warmup, constant, then linear decay to final_lr_frac over the last
                warmdown_frac of the run (warmup-stable-decay, WSD: Hu et al. 2024,
                MiniCPM, arXiv:2404.06395, section 4). "The run" ends at max_steps or at
                the time budget, whichever comes first, so the decay happens inside it.
    batch       gradient accumulation up to total_batch_tokens per optimiser step, summed
                over every rank (DDP via torchrun, or FSDP2 with --fsdp).
    precision   bf16 autocast (fp32 weights and optimiser states, matmuls in bf16) on GPU and
                on CPUs that multiply bf16 in hardware (AVX512-BF16, AMX); fp32 elsewhere.
                torch.compile on GPU, and on CPU for runs with a budget of CPU_COMPILE_MINUTES
                or more (its ~40 s of compilation then pays for itself); eager if it fails.
    shown       a progress bar with loss, tokens/s, MFU (GPU) and ETA; validation bits per
                byte; greedy samples from fixed prompts; metrics.jsonl; TensorBoard / W&B
                when installed.
    resume      train_state = optimiser states, step, data position, RNG states, elapsed
                time: continuing from it reproduces the uninterrupted run exactly on CPU.

The caller builds the model and the data loaders (see dentro/commands/pretrain.py).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from dentro.errors import UserError
from dentro.train.muon import Muon


@dataclass
class TrainConfig:
    seq_len: int = 256
    device_batch_size: int = 16         # rows per forward/backward on one device
    total_batch_tokens: int = 4096      # tokens per optimiser step, all ranks and accumulation steps
    max_steps: int = 1000
    max_minutes: float | None = None    # wall-clock budget; the schedule decays within it
    optimizer: str = "muon"             # "muon": Muon + AdamW groups; "adamw": AdamW for everything
    matrix_lr: float = 0.02             # Muon, hidden matrices (Jordan et al. 2024, modded-nanogpt: 0.02-0.05)
    embedding_lr: float = 0.01          # AdamW, token embedding
    unembedding_lr: float = 0.004       # AdamW, lm_head (nanochat uses 0.004)
    scalar_lr: float = 0.01             # AdamW, RMSNorm gains
    adamw_lr: float = 1e-3              # optimizer="adamw": every parameter (3e-3 diverged at depth 4, docs/pretrain.md)
    weight_decay: float = 0.0           # decoupled; on the hidden matrices only
    adam_betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 10
    warmdown_frac: float = 0.4          # share of the run spent decaying (WSD)
    final_lr_frac: float = 0.0
    grad_clip: float = 1.0              # max global gradient norm; 0 = off
    eval_every: int = 100               # steps between validation passes (and at the end)
    eval_tokens: int = 32 * 256         # validation tokens per pass
    sample_every: int = 0               # steps between sample completions; 0: only at the end
    sample_tokens: int = 24
    save_every: int = 0                 # steps between checkpoints; 0: only at the end
    log_every: int = 1
    seed: int = 1337
    compile: bool | None = None         # None: on GPU, and on CPU for long budgets (should_compile)
    precision: str = "auto"             # "bf16" autocast, "fp32", or "auto": bf16 where the hardware has it
    fsdp: bool = False                  # FSDP2 instead of DDP when several ranks

    def accumulation_steps(self, world_size: int) -> int:
        per_micro = self.device_batch_size * self.seq_len * world_size
        if self.total_batch_tokens % per_micro:
            raise UserError(f"total_batch_tokens {self.total_batch_tokens} must be a multiple of "
                            f"device_batch_size x seq_len x ranks = {per_micro}; change --batch-size or "
                            f"--total-batch-tokens")
        return self.total_batch_tokens // per_micro


# ---------------------------------------------------------------------------- devices, ranks

@dataclass
class Dist:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def master(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str | None = None) -> Dist:
    """Single process, or one rank of `torchrun` (RANK/WORLD_SIZE/LOCAL_RANK in the environment):
    NCCL on GPUs, gloo on CPU."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return Dist(device=torch.device(device))
    import torch.distributed as dist

    rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return Dist(rank, local, world, dev)


def _all_reduce(x: torch.Tensor, d: Dist, op="sum") -> torch.Tensor:
    if d.world_size > 1:
        import torch.distributed as dist

        dist.all_reduce(x, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return x


# Dense bf16 tensor-core peak FLOP/s, from NVIDIA's data sheets (H100/H200 SXM: 989 TFLOPS,
# H100 PCIe: 756, A100: 312, L40S: 362, L4: 121, A10: 125; "with sparsity" figures are 2x these).
PEAK_BF16_FLOPS = [("H200", 989e12), ("H100 PCIe", 756e12), ("H100", 989e12), ("A100", 312e12),
                   ("L40S", 362e12), ("L4", 121e12), ("A10", 125e12)]


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None  # MFU is a GPU figure; CPU peak depends on too much (AVX width, clocks, cores)
    name = torch.cuda.get_device_name(device)
    for key, flops in PEAK_BF16_FLOPS:
        if key in name:
            return flops
    return None


# ---------------------------------------------------------------------------- optimisers

def param_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Spell out who is optimised how. named_parameters() lists a tied weight once."""
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    head = getattr(model, "lm_head", None)
    groups = {"embedding": [], "lm_head": [], "matrices": [], "scalars": []}
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if id(p) in embeddings:
            groups["embedding"].append(p)      # a lookup table, not a linear map: AdamW
        elif head is not None and p is head.weight:
            groups["lm_head"].append(p)        # the output layer: AdamW (Muon's authors keep it off Muon)
        elif p.ndim == 2:
            groups["matrices"].append(p)       # q, k, v, o, gate, up, down: Muon
        else:
            groups["scalars"].append(p)        # RMSNorm gains: AdamW, no decay
    return groups


def build_optimizers(model: nn.Module, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    g = param_groups(model)
    adam = dict(betas=cfg.adam_betas, eps=1e-8)
    if cfg.optimizer == "adamw":
        return [torch.optim.AdamW([
            {"params": g["matrices"] + g["embedding"] + g["lm_head"], "lr": cfg.adamw_lr, "weight_decay": cfg.weight_decay},
            {"params": g["scalars"], "lr": cfg.adamw_lr, "weight_decay": 0.0},
        ], **adam)]
    if cfg.optimizer != "muon":
        raise UserError(f"unknown optimizer {cfg.optimizer!r}; choose muon or adamw")
    adamw = torch.optim.AdamW([
        {"params": g["embedding"], "lr": cfg.embedding_lr, "weight_decay": 0.0},
        {"params": g["lm_head"], "lr": cfg.unembedding_lr, "weight_decay": 0.0},
        {"params": g["scalars"], "lr": cfg.scalar_lr, "weight_decay": 0.0},
    ], **adam)
    # Muon (Jordan et al. 2024, https://kellerjordan.github.io/posts/muon/): momentum, then the
    # update orthogonalised by 5 Newton-Schulz steps; "original" scales it by sqrt(max(1, A/B)).
    # The orthogonalisation runs in the training's matmul dtype: bf16 emulated on a CPU without
    # native bf16 made every step ~100x slower (dentro/train/muon.py).
    device = g["matrices"][0].device if g["matrices"] else torch.device("cpu")
    muon = Muon(g["matrices"], lr=cfg.matrix_lr, weight_decay=cfg.weight_decay, momentum=0.95,
                nesterov=True, adjust_lr_fn="original", ns_dtype=training_dtype(device, cfg.precision))
    return [adamw, muon]


def lr_multiplier(step: int, progress: float, cfg: TrainConfig) -> float:
    """Warmup over the first warmup_steps, 1 in the middle, linear decay over the last
    warmdown_frac of progress (0 -> 1 through the run) down to final_lr_frac."""
    warm = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
    if progress <= 1 - cfg.warmdown_frac:
        return warm
    frac = min(1.0, (1 - progress) / max(cfg.warmdown_frac, 1e-9))
    return warm * (cfg.final_lr_frac + (1 - cfg.final_lr_frac) * frac)


# ---------------------------------------------------------------------------- evaluation, samples

@torch.no_grad()
def evaluate_bpb(model: nn.Module, make_loader, steps: int, byte_lengths: torch.Tensor, d: Dist,
                 autocast) -> dict:
    """Bits per byte on held-out rows: sum of the targets' losses in nats / (ln 2 x their UTF-8
    bytes). Targets that are special tokens (0 bytes) count in neither sum, as in nanochat;
    targets of -1 (not trained, in fine-tuning) in no sum at all.
    Independent of the vocabulary, so tokenizers of any size compare."""
    was_training = model.training
    model.eval()
    loader = make_loader()
    nats = torch.zeros((), dtype=torch.float64, device=d.device)
    nbytes = torch.zeros((), dtype=torch.float64, device=d.device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=d.device)
    count = torch.zeros((), dtype=torch.float64, device=d.device)
    for _ in range(steps):
        x, y = loader.next_batch(d.device)
        with autocast:
            logits = model(x)  # (B, T, V)
        y = y.reshape(-1)
        valid = y >= 0  # fine-tuning ignores the targets that are not the assistant's (-1)
        losses = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y, ignore_index=-1, reduction="none")
        b = byte_lengths[y.clamp(min=0)] * valid
        nats += (losses * (b > 0)).sum().double()
        nbytes += b.sum().double()
        loss_sum += losses.sum().double()
        count += valid.sum().double()
    for t in (nats, nbytes, loss_sum, count):
        _all_reduce(t, d)
    model.train(was_training)
    return {"val_bpb": (nats / (math.log(2) * nbytes.clamp(min=1))).item(),
            "val_loss": (loss_sum / count.clamp(min=1)).item()}


@torch.no_grad()
def greedy_complete(model: nn.Module, tokenizer, prompt: str, max_new_tokens: int) -> str:
    """Greedy continuation of `prompt` as a new document (after <|endoftext|>), stopping at the
    next <|endoftext|>: with dentro.model.engine's KV cache when there, else a plain loop."""
    was_training = model.training
    model.eval()
    ids = [tokenizer.eot_id] + tokenizer.encode(prompt)
    try:
        from dentro.model.engine import Sampling, generate_all

        out = generate_all(model, ids, max_tokens=max_new_tokens, sampling=Sampling(temperature=0.0),
                           stop_ids=(tokenizer.eot_id,))[0]
    except ImportError:  # no engine: re-run the whole sequence each step
        out, device = [], next(model.parameters()).device
        limit = model.config.max_position_embeddings
        for _ in range(max_new_tokens):
            if len(ids) >= limit:
                break
            nxt = int(model(torch.tensor([ids], device=device))[0, -1].argmax())
            ids.append(nxt)
            out.append(nxt)
            if nxt == tokenizer.eot_id:
                break
    model.train(was_training)
    return tokenizer.decode([t for t in out if t != tokenizer.eot_id])


# ---------------------------------------------------------------------------- logging

class MetricsLog:
    """metrics.jsonl (one JSON object per line) plus TensorBoard / W&B when they are installed
    (W&B only when WANDB_PROJECT is set: it needs an account)."""

    def __init__(self, path: Path | None, resume_step: int | None, config: dict):
        self.path, self.tb, self.wandb = path, None, None
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            path.write_text("")
        elif path.exists():  # drop what was logged after the checkpoint we continue from
            # (the evaluation and samples at resume_step itself come again, before the next step)
            recs = [(l, json.loads(l)) for l in path.read_text().splitlines() if l.strip()]
            keep = [l for l, r in recs if r.get("step", 0) < resume_step or (r.get("step") == resume_step and "loss" in r)]
            path.write_text("".join(l + "\n" for l in keep))
        try:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

            self.tb = SummaryWriter(str(path.parent / "tensorboard"))
        except Exception:
            pass
        if os.environ.get("WANDB_PROJECT"):
            try:
                import wandb

                self.wandb = wandb.init(project=os.environ["WANDB_PROJECT"], config=config, resume="allow")
            except Exception as e:
                print(f"[train] W&B logging off: {e}")

    def write(self, rec: dict) -> None:
        if self.path is None:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        nums = {k: v for k, v in rec.items() if isinstance(v, (int, float)) and k != "step"}
        if self.tb:
            for k, v in nums.items():
                self.tb.add_scalar(k, v, rec["step"])
        if self.wandb:
            self.wandb.log(nums, step=rec["step"])

    def close(self) -> None:
        if self.tb:
            self.tb.close()
        if self.wandb:
            self.wandb.finish()


# ---------------------------------------------------------------------------- state

def rng_state() -> dict:
    s = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def _optimizer_states(model, optimizers, fsdp: bool) -> list[dict]:
    if not fsdp:
        return [o.state_dict() for o in optimizers]
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    opts = StateDictOptions(full_state_dict=True, cpu_offload=True)  # gathered on rank 0
    return [get_optimizer_state_dict(model, o, options=opts) for o in optimizers]


def _load_optimizer_states(model, optimizers, states: list[dict], fsdp: bool) -> None:
    if len(states) != len(optimizers):
        raise UserError(f"the checkpoint has {len(states)} optimiser states, this run builds {len(optimizers)} "
                        f"(a different --optimizer?); resume with the checkpoint's settings or start anew")
    for o, s in zip(optimizers, states):
        if fsdp:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(model, o, optim_state_dict=s, options=StateDictOptions(full_state_dict=True))
        else:
            try:
                o.load_state_dict(s)
            except (ValueError, KeyError) as e:
                raise UserError(f"the checkpoint's optimiser state does not fit this model ({e}); "
                                f"resume with the same settings or start a new run") from e


# ---------------------------------------------------------------------------- the loop

@dataclass
class TrainResult:
    steps: int
    tokens: int
    seconds: float
    tokens_per_second: float      # median over steps after the first (warm)
    final_loss: float             # mean of the last 10 training losses
    losses: list[float]
    evals: list[dict]
    samples: dict[str, str]
    mfu: float | None
    stopped_by: str               # "steps" or "time"


def native_bf16_cpu() -> bool:
    """True when this CPU multiplies bf16 matrices in hardware: x86 with AVX512-BF16 or AMX-BF16
    (read from /proc/cpuinfo's flags). Elsewhere oneDNN emulates bf16 and gains nothing."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:  # not Linux
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def training_dtype(device: torch.device, precision: str) -> torch.dtype:
    """The matmul dtype of training: bf16 or fp32. "auto" picks bf16 on CUDA and on CPUs with
    native bf16 (1.5-1.7x tokens/s at the tiny preset's size, docs/pretrain.md), fp32 otherwise."""
    if precision not in ("auto", "bf16", "fp32"):
        raise UserError(f"unknown precision {precision!r}; choose auto, bf16 or fp32")
    if precision == "auto":
        native = device.type == "cuda" or (device.type == "cpu" and native_bf16_cpu())
        return torch.bfloat16 if native else torch.float32
    return torch.bfloat16 if precision == "bf16" else torch.float32


def autocast_context(device: torch.device, precision: str, fsdp: bool = False):
    """The forward's autocast for `precision`: weights and optimiser states stay fp32, matmul
    inputs are cast to bf16 (Micikevicius et al. 2018's mixed precision, with bf16 needing no loss
    scaling). Under FSDP2 its MixedPrecisionPolicy does the casting instead."""
    if fsdp or training_dtype(device, precision) == torch.float32:
        return _nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def wrap_model(model: nn.Module, cfg: TrainConfig, d: Dist) -> nn.Module:
    """DDP or FSDP2 across ranks, then torch.compile on GPU. Returns the module to train with;
    `model` itself stays the plain module (FSDP2 shards it in place)."""
    wrapped = model
    if d.world_size > 1 and cfg.fsdp:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = (MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
              if d.device.type == "cuda" else MixedPrecisionPolicy())
        for block in model.layers:  # one all-gather per block, freed after use (ZeRO-3)
            fully_shard(block, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
    elif d.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        wrapped = DDP(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None)
    if should_compile(cfg, d.device):
        wrapped = torch.compile(wrapped)
    return wrapped


# On CPU, inductor writes and builds C++ kernels: ~40 s on 2 cores for the tiny model, paid back
# by a ~1.2x faster step only on a long run (docs/pretrain.md, "Training speed on CPU").
CPU_COMPILE_MINUTES = 5.0


def should_compile(cfg: TrainConfig, device: torch.device) -> bool:
    """cfg.compile if set; else on GPU, and on CPU when the run has a time budget of at least
    CPU_COMPILE_MINUTES and a C++ compiler (inductor's CPU backend needs one)."""
    if cfg.compile is not None:
        return cfg.compile
    if device.type == "cuda":
        return True
    import shutil

    long_run = cfg.max_minutes is not None and cfg.max_minutes >= CPU_COMPILE_MINUTES
    return device.type == "cpu" and long_run and any(shutil.which(c) for c in ("g++", "c++", "clang++"))


def train(model: nn.Module, tokenizer, train_loader, make_val_loader, cfg: TrainConfig, *, d: Dist = Dist(),
          train_state: dict | None = None, save_fn=None, out_dir: Path | None = None,
          prompts: list[str] = (), complete=None, desc: str = "pretrain") -> TrainResult:
    """Train `model` (already on d.device) in place.

    train_loader: next_batch(device) -> (x, y) (B, T) and state_dict()/load_state_dict().
    make_val_loader(): a fresh loader over the same validation rows each time.
    save_fn(model, train_state): writes a checkpoint (called on every rank; writes on rank 0).
    complete(model, tokenizer, prompt, max_new_tokens) -> str: how `prompts` are sampled
    (default greedy_complete, a document continuation; fine-tuning passes a chat reply).
    desc: the progress bar's label.
    """
    complete = complete or greedy_complete
    from dentro.progress import bar

    accum = cfg.accumulation_steps(d.world_size)
    fsdp = cfg.fsdp and d.world_size > 1
    wrapped = wrap_model(model, cfg, d)  # before the optimisers: FSDP2 swaps parameters for sharded ones
    optimizers = build_optimizers(model, cfg)
    for o in optimizers:
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
    step, tokens_seen, elapsed_before = 0, 0, 0.0
    if train_state is not None:
        step, tokens_seen = train_state["step"], train_state["tokens"]
        elapsed_before = train_state.get("elapsed_seconds", 0.0)
        _load_optimizer_states(model, optimizers, train_state["optimizers"], fsdp)
        for o in optimizers:  # load_state_dict restores the lr of the moment; the schedule needs the base
            for g in o.param_groups:
                g.setdefault("initial_lr", g["lr"])
        train_loader.load_state_dict(train_state["loader"])
        set_rng_state(train_state["rng"])
    else:
        torch.manual_seed(cfg.seed)
    start_step = step  # the first step of this call: a compiled model compiles there
    autocast = autocast_context(d.device, cfg.precision, fsdp)
    byte_lengths = torch.as_tensor(_byte_lengths(tokenizer, model), device=d.device)
    eval_steps = max(1, cfg.eval_tokens // (cfg.device_batch_size * cfg.seq_len * d.world_size))
    flops_per_token = model.flops_per_token(cfg.seq_len) if hasattr(model, "flops_per_token") else None
    peak = peak_flops(d.device)
    metrics = MetricsLog(out_dir / "metrics.jsonl" if (out_dir and d.master) else None,
                         step if train_state is not None else None, asdict(cfg))
    budget = cfg.max_minutes * 60 if cfg.max_minutes else None
    t_start = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t_start

    def progress() -> float:
        p = step / cfg.max_steps
        if budget:
            # every rank must agree on when to stop: the latest clock over the ranks decides
            e = _all_reduce(torch.tensor([elapsed()], dtype=torch.float64, device=d.device), d, "max").item()
            p = max(p, e / budget)
        return p

    def state() -> dict:
        return {"step": step, "tokens": tokens_seen, "elapsed_seconds": elapsed(),
                "optimizers": _optimizer_states(model, optimizers, fsdp), "loader": train_loader.state_dict(),
                "rng": rng_state(), "train_config": asdict(cfg)}

    def run_eval() -> dict:
        # the plain module: no DDP hooks, no recompiling for the target-less call (FSDP2 shards it in place)
        r = evaluate_bpb(model, make_val_loader, eval_steps, byte_lengths, d, autocast)
        r = {"step": step, "tokens": tokens_seen, **r}
        evals.append(r)
        if d.master:
            metrics.write(r)
        return r

    def run_samples() -> dict:
        out = {}
        for p in prompts:
            with autocast:
                out[p] = complete(model, tokenizer, p, cfg.sample_tokens)
        if d.master and out:
            metrics.write({"step": step, "samples": out})
            for p, c in out.items():
                pbar.write(f"  [step {step}] {p!r} -> {c!r}")
        return out

    losses, evals, rates, mfus, samples = [], [], [], [], {}
    pbar = bar(total=cfg.max_steps, initial=step, desc=desc if d.master else None,
               disable=not d.master, unit="step")
    if hasattr(wrapped, "_orig_mod") and d.master:
        wait = "about 40 s on a 2-core CPU" if d.device.type == "cpu" else "a minute or so"
        pbar.write(f"  torch.compile: the first step compiles the model ({wait})")
    stopped_by = "steps"
    model.train()
    while True:
        p = progress()
        if p >= 1:
            stopped_by = "time" if step < cfg.max_steps else "steps"
            break
        if step > 0 and cfg.eval_every and step % cfg.eval_every == 0:
            r = run_eval()
            pbar.set_postfix_str(f"val bpb {r['val_bpb']:.3f}", refresh=False)
        if step > 0 and cfg.sample_every and step % cfg.sample_every == 0:
            run_samples()
        if step > 0 and cfg.save_every and step % cfg.save_every == 0 and save_fn:
            save_fn(model, state())
        # one optimiser step = accum micro-steps of device_batch_size rows on every rank
        mult = lr_multiplier(step, p, cfg)
        for o in optimizers:
            for g in o.param_groups:
                g["lr"] = g["initial_lr"] * mult
        t0 = time.perf_counter()
        loss_acc = torch.zeros((), device=d.device)
        for micro in range(accum):
            x, y = train_loader.next_batch(d.device)
            last = micro == accum - 1
            _set_grad_sync(wrapped, model, last, d, fsdp)
            with autocast:
                loss, wrapped = _forward(wrapped, x, y, first=step == start_step and micro == 0)
            (loss / accum).backward()
            loss_acc += loss.detach()
        grad_norm = None
        if cfg.grad_clip:
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        for o in optimizers:
            o.step()
        for o in optimizers:
            o.zero_grad(set_to_none=True)
        loss_val = _all_reduce(loss_acc / accum, d).item() / d.world_size  # the step's global mean loss
        dt = time.perf_counter() - t0
        step += 1
        tokens_seen += cfg.total_batch_tokens
        if not math.isfinite(loss_val):
            raise RuntimeError(f"loss became {loss_val} at step {step}: lower the learning rates "
                               f"(--matrix-lr / --lr) or check the data")
        losses.append(loss_val)
        tps = cfg.total_batch_tokens / dt
        rates.append(tps)
        mfu = flops_per_token * tps / (peak * d.world_size) if (peak and flops_per_token) else None
        if mfu is not None:
            mfus.append(mfu)
        if budget and d.master and step > 1:  # a time budget: re-estimate the bar's total
            pbar.total = min(cfg.max_steps, max(step + 1, int(step / max(p, 1e-9))))
        pbar.update(1)
        if step % cfg.log_every == 0 and d.master:
            rec = {"step": step, "tokens": tokens_seen, "loss": round(loss_val, 6), "lr_mult": round(mult, 5),
                   "tok_per_s": round(tps), "elapsed": round(elapsed(), 2)}
            if grad_norm is not None:
                rec["grad_norm"] = round(float(grad_norm), 4)
            if mfu is not None:
                rec["mfu"] = round(mfu, 4)
            metrics.write(rec)
            post = f"loss {loss_val:.3f} · {tps:,.0f} tok/s"
            if mfu is not None:
                post += f" · MFU {100 * mfu:.1f}%"
            if evals:
                post += f" · val bpb {evals[-1]['val_bpb']:.3f}"
            pbar.set_postfix_str(post, refresh=False)
    pbar.close()
    if not evals or evals[-1]["step"] != step:
        run_eval()
    if prompts:
        samples = run_samples()
    if save_fn:
        save_fn(model, state())
    metrics.close()
    warm = rates[1:] or rates
    return TrainResult(steps=step, tokens=tokens_seen, seconds=elapsed(),
                       tokens_per_second=float(np.median(warm)) if warm else 0.0,
                       final_loss=float(np.mean(losses[-10:])) if losses else float("nan"),
                       losses=losses, evals=evals, samples=samples,
                       mfu=float(np.median(mfus[1:] or mfus)) if mfus else None, stopped_by=stopped_by)


def _forward(wrapped, x, y, first: bool):
    """The training forward. A compiled model compiles on its first call; if that fails (no
    working compiler, an unsupported op), training goes on in eager mode with a warning instead
    of dying: returns (loss, the module used from now on)."""
    if not (first and hasattr(wrapped, "_orig_mod")):
        return wrapped(x, y), wrapped
    try:
        return wrapped(x, y), wrapped
    except Exception as e:  # noqa: BLE001 - any compile failure; a real bug re-raises in eager mode below
        import warnings

        warnings.warn(f"torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                      f"training in eager mode (pass --no-compile to skip the attempt)")
        eager = wrapped._orig_mod
        return eager(x, y), eager


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def _set_grad_sync(wrapped, model, sync: bool, d: Dist, fsdp: bool) -> None:
    """Gradients are averaged across ranks only on the last micro-step of an accumulation."""
    if d.world_size == 1:
        return
    if fsdp:
        model.set_requires_gradient_sync(sync)
    else:
        ddp = getattr(wrapped, "_orig_mod", wrapped)
        ddp.require_backward_grad_sync = sync  # what DDP.no_sync() toggles


def _byte_lengths(tokenizer, model) -> np.ndarray:
    from dentro.train.data import token_byte_lengths

    vocab = model.config.vocab_size if hasattr(model, "config") else tokenizer.vocab_size
    return token_byte_lengths(tokenizer, vocab)
