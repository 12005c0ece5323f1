"""Reinforcement learning with verifiable rewards: GRPO, and REINFORCE as its ablation.

One step (DeepSeekMath, Shao et al. 2024, arXiv:2402.03300 section 4; DeepSeek-R1, arXiv:2501.12948):

    rollouts     P problems, each rendered as a user turn with an open assistant turn, each
                 copied G times: one batch of P*G rows through the KV-cache engine
                 (dentro.model.engine.generate_batch), sampled at temperature T from the
                 current policy pi_old. Row o_i ends at <|im_end|> or after max_tokens.
    rewards      r_i = dentro.eval.math.reward(reply_i, truth): 1 if the final number is right,
                 + a small format bonus for <think>...</think> then an answer.
    advantages   relative to the group of the same problem (no value network):
                     grpo:       A_i = (r_i - mean(r_group)) / (std(r_group) + 1e-4)
                     reinforce:  A_i =  r_i - mean(r_group)          (the mean baseline)
                 a group whose answers all get the same reward has A = 0: it teaches nothing.
    objective    every generated token t of o_i gets A_i (the prompt gets no loss):
                     ratio_t = pi(o_t | q, o_<t) / pi_old(o_t | q, o_<t)
                     grpo:       l_t = -min(ratio_t A_i, clip(ratio_t, 1-eps, 1+eps) A_i) + beta k3_t
                     reinforce:  l_t = -A_i log pi(o_t | ...)                         + beta k3_t
                     k3_t = pi_ref/pi - log(pi_ref/pi) - 1   (Schulman 2020, "Approximating KL
                            divergence"; >= 0, unbiased for KL(pi || pi_ref))
                 loss = sum of l_t over every generated token of the batch / their number:
                 token-level normalisation (DAPO, arXiv:2503.14476 section 3.3; Dr. GRPO,
                 arXiv:2503.20783), so a long answer weighs by its tokens, instead of GRPO's
                 per-answer mean that favours long wrong answers.
    updates      `epochs` passes over the rollouts in `minibatches` chunks, one optimiser step
                 each. With one pass in one chunk (the default) pi = pi_old, ratio = 1, nothing
                 is clipped and GRPO's gradient is REINFORCE's with normalised advantages;
                 clipping starts to matter from the second update on the same rollouts.
                 A step whose groups all have A = 0 (and no KL term) is skipped: its gradient is
                 0, but the optimisers' momentum would still move the weights.

Exact resume: the train state holds the optimisers, the step, the problem order's position,
the torch/numpy/python RNG states and the sampler's generator (each step's rollout seed is
drawn from it), so a killed run continues with the same rollouts and losses (on CPU).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dentro.errors import UserError


@dataclass
class RLConfig:
    algo: str = "grpo"                 # "grpo" | "reinforce" (the ablation: mean baseline, no clip)
    prompts_per_step: int = 4          # P problems per step
    group_size: int = 8                # G samples per problem
    max_tokens: int = 96               # longest answer, in tokens
    temperature: float = 1.0           # rollouts; log-probabilities are taken at the same temperature
    clip_eps: float = 0.2              # PPO's epsilon (Schulman et al. 2017, arXiv:1707.06347)
    kl_coef: float = 0.0               # beta; R1-Zero-style runs and DAPO drop the KL term
    std_normalize: bool = True         # grpo: divide by the group's std (Dr. GRPO argues against)
    format_bonus: float = 0.1
    epochs: int = 1                    # passes over one step's rollouts
    minibatches: int = 1               # optimiser steps per pass
    max_steps: int = 50
    max_minutes: float | None = None
    optimizer: str = "muon"
    matrix_lr: float = 0.002
    embedding_lr: float = 0.001
    unembedding_lr: float = 0.0004
    scalar_lr: float = 0.001
    adamw_lr: float = 1e-4
    warmup_steps: int = 3
    grad_clip: float = 1.0
    eval_every: int = 10               # steps between held-out pass@1 measurements; 0 = at the end only
    eval_problems: int = 64            # held-out problems per measurement
    save_every: int = 0                # 0: save at the end only
    seed: int = 1337
    precision: str = "auto"            # the policy's forward for the loss: as TrainConfig.precision

    def __post_init__(self):
        if self.algo not in ("grpo", "reinforce"):
            raise UserError(f"unknown --algo {self.algo!r}; choose grpo or reinforce")
        if (self.prompts_per_step * self.group_size) % self.minibatches:
            raise UserError(f"prompts x group size = {self.prompts_per_step * self.group_size} rollouts must "
                            f"split into {self.minibatches} equal minibatches")


# ---------------------------------------------------------------------------- rollouts

@dataclass
class Rollouts:
    """P*G samples, row p*G + g = sample g of problem p."""
    prompts: list[list[int]]       # the prompt of each row (token ids)
    completions: list[list[int]]   # the generated ids of each row (the stop token included)
    texts: list[str]               # the replies as text (without the stop token)
    rewards: torch.Tensor          # (P*G,) float
    correct: torch.Tensor          # (P*G,) bool
    well_formed: torch.Tensor      # (P*G,) bool
    closed: torch.Tensor           # (P*G,) bool: ended with a stop token
    group_size: int


def prompt_ids(tokenizer, question: str, think: bool = True) -> list[int]:
    """The question as a user turn and an open assistant turn (what `dentro chat` sends);
    think=False prefills the empty <think> block (`dentro chat --no-think`)."""
    from dentro.chat.template import render

    return render(tokenizer, [{"role": "user", "content": question}], add_generation_prompt=True, think=think)[0]


@torch.no_grad()
def rollout(model, tokenizer, problems: list[dict], group_size: int, *, max_tokens: int, temperature: float,
            seed: int, format_bonus: float = 0.1, think: bool = True) -> Rollouts:
    """G samples of each problem ({"question", "answer"}) in one batch: the P prompts, each
    repeated G times, continued together by generate_batch (left padding, KV cache)."""
    from dentro.chat.assistant import stop_ids
    from dentro.eval import math as V
    from dentro.model.engine import Sampling, generate_batch_all

    was_training = model.training
    model.eval()
    prompts = [prompt_ids(tokenizer, p["question"], think) for p in problems for _ in range(group_size)]
    stops = stop_ids(tokenizer)
    sampling = Sampling(temperature=temperature) if temperature > 0 else Sampling(temperature=0.0)
    comps = generate_batch_all(model, prompts, max_tokens=max_tokens, sampling=sampling, seed=seed, stop_ids=stops)
    model.train(was_training)
    texts = [tokenizer.decode([t for t in c if t not in stops]) for c in comps]
    truths = [p["answer"] for p in problems for _ in range(group_size)]
    return Rollouts(prompts, comps, texts,
                    rewards=torch.tensor([V.reward(t, a, format_bonus) for t, a in zip(texts, truths)]),
                    correct=torch.tensor([V.is_correct(t, a) for t, a in zip(texts, truths)]),
                    well_formed=torch.tensor([V.well_formed(t) for t in texts]),
                    closed=torch.tensor([bool(c) and c[-1] in stops for c in comps]), group_size=group_size)


def group_advantages(rewards: torch.Tensor, group_size: int, *, std_normalize: bool = True,
                     eps: float = 1e-4) -> torch.Tensor:
    """rewards (P*G,) -> advantages (P*G,): reward minus its group's mean, divided by the
    group's standard deviation (population std, as TRL's GRPO) when std_normalize."""
    r = rewards.float().view(-1, group_size)  # (P, G)
    a = r - r.mean(dim=1, keepdim=True)
    if std_normalize:
        a = a / (r.std(dim=1, unbiased=False, keepdim=True) + eps)
    return a.reshape(-1)


def pack(rollouts: Rollouts, pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows prompt + completion, right-padded: (x (B, T), y (B, T), mask (B, T)) where y[t] =
    the token after x[t] and mask = 1 where that token was generated (the prompt and padding
    get no loss). Right padding needs no attention mask: attention is causal."""
    rows = [p + c for p, c in zip(rollouts.prompts, rollouts.completions)]
    T = max(len(r) for r in rows) - 1
    x = torch.full((len(rows), T), pad_id, dtype=torch.long)
    y = torch.full((len(rows), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.float32)
    for i, (r, p) in enumerate(zip(rows, rollouts.prompts)):
        n = len(r) - 1
        x[i, :n] = torch.tensor(r[:-1])
        y[i, :n] = torch.tensor(r[1:])
        mask[i, len(p) - 1:n] = 1.0  # targets from the first generated token to the last
    return x.to(device), y.to(device), mask.to(device)


def token_logprobs(model, x: torch.Tensor, y: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log pi(y_t | x_<=t) for every position: (B, T)."""
    logits = model(x)  # (B, T, V) float32
    if temperature > 0 and temperature != 1.0:
        logits = logits / temperature
    return -F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (B, T)


def policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor, *,
                algo: str = "grpo", clip_eps: float = 0.2, ref_logp: torch.Tensor | None = None,
                kl_coef: float = 0.0) -> tuple[torch.Tensor, dict]:
    """The per-token objective (module docstring), summed over generated tokens / their number.
    logp, old_logp, ref_logp, mask: (B, T); adv: (B,). -> (loss, {"kl", "clip_frac", "ratio"})."""
    a = adv[:, None]  # (B, 1): one advantage for every token of an answer
    n = mask.sum().clamp(min=1)
    ratio = torch.exp(logp - old_logp)
    if algo == "grpo":
        clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps)
        per_token = -torch.min(ratio * a, clipped * a)
        clip_frac = (((ratio - clipped).abs() > 1e-6).float() * mask).sum() / n
    elif algo == "reinforce":
        per_token = -a * logp
        clip_frac = torch.zeros(())
    else:
        raise ValueError(f"unknown algo {algo!r}")
    kl = torch.zeros((), device=logp.device)
    if ref_logp is not None:
        d = ref_logp - logp
        k3 = torch.exp(d) - d - 1  # (B, T) >= 0
        kl = (k3 * mask).sum() / n
        if kl_coef:
            per_token = per_token + kl_coef * k3
    loss = (per_token * mask).sum() / n
    return loss, {"kl": kl.detach(), "clip_frac": clip_frac.detach(),
                  "ratio": ((ratio * mask).sum() / n).detach()}


# ---------------------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(model, tokenizer, problems: list[dict], *, k: int = 1, samples: int = 0, max_tokens: int = 96,
             temperature: float = 1.0, seed: int = 0, batch_size: int = 64, think: bool = True) -> dict:
    """pass@1 greedy on each problem, and pass@k from `samples` >= k sampled answers (unbiased
    estimator) when samples > 0. Uses its own seeded generator: the training RNG is untouched.
    -> {"pass1", "passk", "k", "mean_len", "format_rate", "closed_rate", "items"}."""
    from dentro.eval import math as V

    items = []
    for i in range(0, len(problems), batch_size):
        chunk = problems[i:i + batch_size]
        g = rollout(model, tokenizer, chunk, 1, max_tokens=max_tokens, temperature=0.0, seed=seed, think=think)
        for j, p in enumerate(chunk):
            items.append({"id": p.get("id"), "question": p["question"], "answer": p["answer"],
                          "reply": g.texts[j], "correct": bool(g.correct[j]), "tokens": len(g.completions[j]),
                          "well_formed": bool(g.well_formed[j]), "closed": bool(g.closed[j]),
                          "checks": V.checks_own_work(g.texts[j])})
    out = {"pass1": float(np.mean([it["correct"] for it in items])) if items else 0.0,
           "mean_len": float(np.mean([it["tokens"] for it in items])) if items else 0.0,
           "format_rate": float(np.mean([it["well_formed"] for it in items])) if items else 0.0,
           "closed_rate": float(np.mean([it["closed"] for it in items])) if items else 0.0,
           "checks_rate": float(np.mean([it["checks"] for it in items])) if items else 0.0,
           "k": k, "passk": None, "items": items}
    if samples:
        per_batch = max(1, batch_size // samples)
        passk, n_correct = [], []
        for i in range(0, len(problems), per_batch):
            chunk = problems[i:i + per_batch]
            r = rollout(model, tokenizer, chunk, samples, max_tokens=max_tokens, temperature=temperature,
                        seed=seed + 1 + i, think=think)
            c = r.correct.view(len(chunk), samples).sum(1).tolist()
            n_correct += c
            passk += [V.pass_at_k(samples, ci, k) for ci in c]
        out["passk"] = float(np.mean(passk)) if passk else 0.0
        out["pass1_sampled"] = float(np.sum(n_correct) / max(1, samples * len(n_correct)))
        for it, c in zip(items, n_correct):
            it["sampled_correct"] = c
    return out


# ---------------------------------------------------------------------------- the problem stream

class ProblemLoader:
    """Problems in a seeded order per epoch; position (epoch, cursor) for exact resume."""

    def __init__(self, problems: list[dict], seed: int):
        if not problems:
            raise UserError("no training problems for RL")
        self.problems, self.seed, self.epoch, self.cursor = problems, seed, 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.problems))

    def next(self, n: int) -> list[dict]:
        out = []
        for _ in range(n):
            if self.cursor == len(self._order):
                self.epoch, self.cursor = self.epoch + 1, 0
                self._order = self._permutation(self.epoch)
            out.append(self.problems[int(self._order[self.cursor])])
            self.cursor += 1
        return out

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor, "seed": self.seed, "num_problems": len(self.problems)}

    def load_state_dict(self, s: dict) -> None:
        if s["num_problems"] != len(self.problems):
            raise UserError(f"the checkpoint's data position is for {s['num_problems']} problems, this run has "
                            f"{len(self.problems)}; start a new run instead of --resume")
        self.seed, self.epoch, self.cursor = s["seed"], s["epoch"], s["cursor"]
        self._order = self._permutation(self.epoch)


# ---------------------------------------------------------------------------- the loop

@dataclass
class RLResult:
    steps: int
    seconds: float
    history: list[dict]      # one record per step (reward_mean, correct_rate, kl, clip_frac, ...)
    evals: list[dict]        # held-out pass@1 at intervals (without items)
    stopped_by: str


def _optimizers(model, cfg: RLConfig):
    from dentro.train.loop import TrainConfig, build_optimizers

    tc = TrainConfig(optimizer=cfg.optimizer, matrix_lr=cfg.matrix_lr, embedding_lr=cfg.embedding_lr,
                     unembedding_lr=cfg.unembedding_lr, scalar_lr=cfg.scalar_lr, adamw_lr=cfg.adamw_lr)
    opts = build_optimizers(model, tc)
    for o in opts:
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
    return opts


def train_rl(model, ref_model, tokenizer, train_problems: list[dict], eval_problems: list[dict], cfg: RLConfig, *,
             train_state: dict | None = None, save_fn=None, out_dir: Path | None = None, device="cpu",
             desc: str = "rl") -> RLResult:
    """Train `model` (the policy, on device) in place with cfg.algo. ref_model: the frozen
    reference for the KL (None: no KL measured nor applied). save_fn(model, train_state)
    writes a checkpoint; train_state (from a checkpoint) resumes exactly."""
    from dentro.model.checkpoint import unwrap
    from dentro.progress import bar
    from dentro.train.loop import MetricsLog, _load_optimizer_states, rng_state, set_rng_state

    if ref_model is not None:
        ref_model.eval().requires_grad_(False)
    optimizers = _optimizers(model, cfg)
    loader = ProblemLoader(train_problems, cfg.seed)
    sampler = torch.Generator().manual_seed(cfg.seed)  # draws each step's rollout seed
    from dentro.train.loop import autocast_context

    autocast = autocast_context(torch.device(device), cfg.precision)
    step, elapsed_before = 0, 0.0
    if train_state is not None:
        step, elapsed_before = train_state["step"], train_state.get("elapsed_seconds", 0.0)
        _load_optimizer_states(model, optimizers, train_state["optimizers"], False)
        for o in optimizers:
            for g in o.param_groups:
                g.setdefault("initial_lr", g["lr"])
        loader.load_state_dict(train_state["loader"])
        sampler.set_state(train_state["sampler"])
        set_rng_state(train_state["rng"])
    else:
        torch.manual_seed(cfg.seed)
    metrics = MetricsLog(out_dir / "metrics.jsonl" if out_dir else None,
                         step if train_state is not None else None, asdict(cfg))
    pad = tokenizer.eot_id
    budget = cfg.max_minutes * 60 if cfg.max_minutes else None
    t_start = time.perf_counter()

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - t_start

    def state() -> dict:
        return {"step": step, "elapsed_seconds": elapsed(), "optimizers": [o.state_dict() for o in optimizers],
                "loader": loader.state_dict(), "sampler": sampler.get_state(), "rng": rng_state(),
                "rl_config": asdict(cfg)}

    evals, history = [], []

    def run_eval():
        r = evaluate(model, tokenizer, eval_problems, max_tokens=cfg.max_tokens, seed=cfg.seed)
        rec = {"step": step, "heldout_pass1": round(r["pass1"], 4), "heldout_mean_len": round(r["mean_len"], 2),
               "heldout_format_rate": round(r["format_rate"], 4)}
        evals.append(rec)
        metrics.write(rec)
        return rec

    pbar = bar(total=cfg.max_steps, initial=step, desc=desc, unit="step")
    stopped_by = "steps"
    model.train()
    while True:
        if step >= cfg.max_steps:
            break
        if budget and elapsed() >= budget:
            stopped_by = "time"
            break
        if step > 0 and cfg.eval_every and step % cfg.eval_every == 0 and eval_problems:
            run_eval()
        if step > 0 and cfg.save_every and step % cfg.save_every == 0 and save_fn:
            save_fn(model, state())
        t0 = time.perf_counter()
        # learning rate: linear warmup, then constant
        mult = min(1.0, (step + 1) / max(1, cfg.warmup_steps))
        for o in optimizers:
            for g in o.param_groups:
                g["lr"] = g["initial_lr"] * mult
        # 1. rollouts: P problems x G samples in one batch from the current policy
        problems = loader.next(cfg.prompts_per_step)
        seed = int(torch.randint(0, 2**62, (1,), generator=sampler))
        ro = rollout(unwrap(model), tokenizer, problems, cfg.group_size, max_tokens=cfg.max_tokens,
                     temperature=cfg.temperature, seed=seed, format_bonus=cfg.format_bonus)
        t_gen = time.perf_counter() - t0
        # 2. advantages relative to each problem's group
        adv = group_advantages(ro.rewards, cfg.group_size,
                               std_normalize=cfg.std_normalize and cfg.algo == "grpo").to(device)
        x, y, mask = pack(ro, pad, device)
        with torch.no_grad(), autocast:  # pi_old and pi_ref, fixed for this step's updates
            old_logp = token_logprobs(model, x, y, cfg.temperature)
            ref_logp = token_logprobs(ref_model, x, y, cfg.temperature) if ref_model is not None else None
        # 3. updates: epochs x minibatches optimiser steps on these rollouts
        B = x.size(0)
        mb = B // cfg.minibatches
        losses, kls, clips = [], [], []
        # every group all right or all wrong (and no KL term): the gradient is 0, but Muon and
        # Adam would still move the weights along their momentum; a step without signal is skipped
        skip = not adv.abs().any().item() and not cfg.kl_coef
        if skip:  # still measured: the KL of the current policy to the reference
            _, info = policy_loss(old_logp, old_logp, adv, mask, ref_logp=ref_logp)
            losses, kls, clips = [0.0], [info["kl"].item()], [0.0]
        for _ in range(0 if skip else cfg.epochs):
            for i in range(0, B, mb):
                s = slice(i, i + mb)
                with autocast:  # the same precision as old_logp: the first epoch's ratio is exactly 1
                    logp = token_logprobs(model, x[s], y[s], cfg.temperature)
                loss, info = policy_loss(logp, old_logp[s], adv[s], mask[s], algo=cfg.algo, clip_eps=cfg.clip_eps,
                                         ref_logp=None if ref_logp is None else ref_logp[s], kl_coef=cfg.kl_coef)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                for o in optimizers:
                    o.step()
                for o in optimizers:
                    o.zero_grad(set_to_none=True)
                losses.append(loss.item())
                kls.append(info["kl"].item())
                clips.append(info["clip_frac"].item())
        step += 1
        if not all(math.isfinite(v) for v in losses):
            raise RuntimeError(f"the RL loss became {losses} at step {step}: lower the learning rates (--lr-frac)")
        lens = [len(c) for c in ro.completions]
        rec = {"step": step, "loss": round(float(np.mean(losses)), 6),
               "reward_mean": round(ro.rewards.mean().item(), 4),
               "correct_rate": round(ro.correct.float().mean().item(), 4),
               "format_rate": round(ro.well_formed.float().mean().item(), 4),
               "closed_rate": round(ro.closed.float().mean().item(), 4),
               "zero_adv_groups": int((ro.rewards.view(-1, cfg.group_size).std(1) == 0).sum()), "skipped": int(skip),
               "response_len": round(float(np.mean(lens)), 2), "kl": round(float(np.mean(kls)), 6),
               "clip_frac": round(float(np.mean(clips)), 4), "lr_mult": round(mult, 4),
               "gen_s": round(t_gen, 3), "step_s": round(time.perf_counter() - t0, 3), "elapsed": round(elapsed(), 2)}
        history.append(rec)
        metrics.write(rec)
        pbar.update(1)
        pbar.set_postfix_str(f"reward {rec['reward_mean']:.3f} · correct {rec['correct_rate']:.2f} · "
                             f"len {rec['response_len']:.0f} · kl {rec['kl']:.4f}", refresh=False)
    pbar.close()
    if eval_problems and (not evals or evals[-1]["step"] != step):
        run_eval()
    if save_fn:
        save_fn(model, state())
    metrics.close()
    return RLResult(steps=step, seconds=elapsed(), history=history, evals=evals, stopped_by=stopped_by)
