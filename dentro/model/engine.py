"""Inference: sample text from a model, one token at a time, with a KV cache.

    prefill:  the prompt goes through the model once; every layer's keys and values are kept
    decode:   each new token goes through alone and attends to the cached keys/values,
              so a step costs O(T) instead of re-running the whole O(T^2) sequence.

generate_batch() continues many different prompts together, for evaluation (hundreds of
questions) and serving: the prompts are left-padded to the longest, so that every row's last
prompt token sits at the same index and one decode step serves all rows (the KV cache's `pad`
gives each row its own RoPE positions and masks its padding). Each row stops at its own stop
token; generate() is the special case of num_samples copies of one prompt (no padding).
Cost of B prompts, the longest of Tmax tokens, n new tokens:
    prefill   one forward of B x Tmax tokens; the padding, sum over rows of (Tmax - len), is
              computed and thrown away, so batch prompts of similar length together
    decode    n steps of B tokens each, attending to Tmax + t keys; a row that has stopped
              still runs (its tokens are dropped) until every row stops or n is reached,
              so batch answers of similar expected length together
    memory    the cache holds 2 x layers x B x kv_heads x (Tmax + n) x head_dim numbers
A decode step of one token per row reads all the weights once whatever B is, so up to the
point where the matmuls become compute-bound (on a GPU, typically dozens of rows) B rows
cost little more than one; on a CPU the cost grows roughly linearly with B.

generate_batch() streams one Step per new token; generate_naive() is the slow reference
(re-runs the full sequence every step, no cache) that tests/test_engine.py checks it against,
and tests also check that a batch of prompts gives each prompt's tokens alone.
Sampling: temperature, top-k (Fan et al. 2018, arXiv:1805.04833) and top-p / nucleus
sampling (Holtzman et al. 2019, arXiv:1904.09751), from a seeded torch.Generator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from dentro.model.gpt import GPT, KVCache


@dataclass
class Sampling:
    temperature: float = 1.0  # 0 = greedy (always the most likely token)
    top_k: int | None = None  # keep only the k most likely tokens
    top_p: float | None = None  # keep the smallest set of tokens whose probabilities sum to >= p

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


@dataclass
class Step:
    """One generation step for every row (prompt or sample) in the batch."""
    tokens: list[int | None]  # the new token of each row (None: that row had stopped)
    finished: list[bool]  # True once a row has produced a stop token
    logits: torch.Tensor | None = None  # (B, V) float32: the next-token logits these tokens came from
    top: list[list[tuple[int, float]]] | None = None  # per sample: the most likely next tokens
    # (id, probability) under the model's own distribution (softmax of the logits, temperature 1)


def filter_logits(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """logits (B, V) -> logits with temperature applied and the tokens outside top-k/top-p at -inf."""
    logits = logits / s.temperature
    if s.top_k is not None and s.top_k < logits.size(-1):
        kth = torch.topk(logits, s.top_k, dim=-1).values[:, -1:]  # (B, 1) the k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p is not None and s.top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        # drop a token when the tokens before it already reach top_p (the first always stays)
        drop_sorted = (cum - sorted_logits.softmax(-1)) >= s.top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, s: Sampling, generator: torch.Generator | None = None) -> torch.Tensor:
    """logits (B, V) float -> next token ids (B,)."""
    if s.temperature == 0:
        return logits.argmax(dim=-1)
    # One uniform draw per row against the cumulative distribution (inverse transform sampling):
    # torch.multinomial draws an exponential for every vocabulary entry, a quarter of a sampled
    # decode step of the tiny model on CPU (docs/model.md, "The engine"). A token of probability 0
    # (filtered out) is never the first whose cumulative sum exceeds the draw.
    cdf = filter_logits(logits.float(), s).softmax(dim=-1).cumsum(dim=-1)  # (B, V), float32 whatever the model's dtype
    u = torch.rand(cdf.size(0), 1, generator=generator, device=cdf.device, dtype=cdf.dtype) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp(max=cdf.size(-1) - 1)


@torch.no_grad()
def generate_batch(model: GPT, prompts: list[list[int]], *, max_tokens: int = 64, sampling: Sampling = Sampling(),
                   seed: int | None = None, stop_ids=(), show_top: int = 0,
                   constrain: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Iterator[Step]:
    """Continue every prompt (token ids) in one batch; yields a Step per new token, whose row b
    belongs to prompts[b]. Stops a row at any id in stop_ids (the stop token is yielded, then
    None), all rows after max_tokens, which is clamped to the context window left after the
    longest prompt. show_top > 0 fills Step.top. constrain(logits) -> logits, called before each
    draw (after the previous Step was consumed), may set tokens a row must not write to -inf;
    Step.logits stay the model's. With a seed the draws are reproducible for
    the same batch; a row's draws depend on the rows beside it (one generator for the batch)."""
    if not prompts:
        raise ValueError("no prompts to continue")
    if not all(prompts):
        raise ValueError("every prompt needs at least one token (start it with <|endoftext|>)")
    ctx = model.config.max_position_embeddings
    longest = max(len(p) for p in prompts)
    if longest >= ctx:
        raise ValueError(f"the longest prompt has {longest} tokens; the model's context window is {ctx}")
    max_tokens = min(max_tokens, ctx - longest)
    B = len(prompts)
    device = model.embed_tokens.weight.device
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
    stop = torch.tensor(sorted(set(stop_ids)) or [-1], device=device)
    pad = [longest - len(p) for p in prompts]
    cache = KVCache(model.config, B, longest + max_tokens, device=device, dtype=model.embed_tokens.weight.dtype,
                    pad=pad if any(pad) else None)  # equal lengths keep the unmasked fast path
    idx = torch.tensor([[0] * n + p for n, p in zip(pad, prompts)], dtype=torch.long, device=device)  # (B, T)
    logits = model(idx, kv_cache=cache)[:, -1]  # prefill -> (B, V): every row's last prompt token is at -1
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    for _ in range(max_tokens):
        nxt = sample_next(logits if constrain is None else constrain(logits), sampling, generator)  # (B,)
        top = None
        if show_top:
            p, i = logits.softmax(-1).topk(min(show_top, logits.size(-1)), dim=-1)
            top = [list(zip(i[b].tolist(), p[b].tolist())) for b in range(B)]
        tokens = [None if f else t for t, f in zip(nxt.tolist(), finished.tolist())]
        finished = finished | torch.isin(nxt, stop)
        yield Step(tokens, finished.tolist(), logits, top)
        if finished.all() or cache.pos >= cache.max_len:
            return
        logits = model(nxt[:, None], kv_cache=cache)[:, -1]  # decode one token per row -> (B, V)


def generate(model: GPT, prompt: list[int], *, max_tokens: int = 64, sampling: Sampling = Sampling(),
             num_samples: int = 1, seed: int | None = None, stop_ids=(), show_top: int = 0) -> Iterator[Step]:
    """Continue one prompt num_samples times in one batch: generate_batch on num_samples copies."""
    return generate_batch(model, [prompt] * num_samples, max_tokens=max_tokens, sampling=sampling, seed=seed,
                          stop_ids=stop_ids, show_top=show_top)


def collect(steps: Iterator[Step], rows: int) -> list[list[int]]:
    """The new token ids of each row (stop token included) from a stream of Steps."""
    out = [[] for _ in range(rows)]
    for step in steps:
        for b, t in enumerate(step.tokens):
            if t is not None:
                out[b].append(t)
    return out


def generate_all(model: GPT, prompt: list[int], **kw) -> list[list[int]]:
    """generate() collected: the new token ids of each sample."""
    return collect(generate(model, prompt, **kw), kw.get("num_samples", 1))


def generate_batch_all(model: GPT, prompts: list[list[int]], **kw) -> list[list[int]]:
    """generate_batch() collected: the new token ids of each prompt."""
    return collect(generate_batch(model, prompts, **kw), len(prompts))


@torch.no_grad()
def generate_naive(model: GPT, prompt: list[int], max_tokens: int) -> tuple[list[int], list[torch.Tensor]]:
    """The slow reference: greedy, re-running the whole sequence each step without a cache.
    Returns (new token ids, the next-token logits (V,) of each step)."""
    device = model.embed_tokens.weight.device
    ids, new, all_logits = list(prompt), [], []
    for _ in range(max_tokens):
        logits = model(torch.tensor([ids], device=device))[0, -1]
        all_logits.append(logits)
        t = int(logits.argmax())
        ids.append(t)
        new.append(t)
    return new, all_logits
