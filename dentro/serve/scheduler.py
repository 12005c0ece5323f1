"""Continuous batching: one thread owns a model and decodes every active request together.

    submit()   the HTTP side hands over Sequences (one per choice, n per request); they wait in a
               bounded queue; Full when max_batch decoding + max_queue waiting are taken (-> 429).
    loop       between two decode steps: drop rows whose client left (cancelled) or whose time is
               up; admit waiting sequences while slots are free, all of them prefilled in one
               forward (left-padded to the longest prompt) straight into free rows of the shared
               SlotCache, and their first tokens sampled; then one decode step of (n, 1) tokens
               for all active rows.
    events     every new token goes back through seq.emit (a thread-safe callback into the
               asyncio side) as a Token, the last one with its finish reason ("stop": a stop id;
               "length": max_tokens, the context window or the request's time limit); a failure
               as an Error. A cancelled sequence gets nothing more and frees its row at once.

Sampling is per row (each request has its own temperature, top_p, seed and torch.Generator), so
a seeded request gets the same tokens whoever shares the batch. Logprobs are those of the model's
own distribution (log-softmax of the logits, temperature 1), as vLLM reports them by default.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dentro.model.engine import Sampling, sample_next
from dentro.serve.slots import SlotCache

log = logging.getLogger("dentro.serve")


@dataclass
class Token:
    index: int  # the choice this token belongs to
    id: int
    logprob: float | None = None  # log p(id) under the model, when asked
    top: list[tuple[int, float]] | None = None  # the top_logprobs most likely (id, log p)
    finish: str | None = None  # set on a sequence's last token: "stop" | "length"


@dataclass
class Error:
    index: int
    message: str
    status: int = 503


@dataclass
class Sequence:
    """One choice of one request, as the scheduler sees it."""
    index: int
    prompt: list[int]
    max_tokens: int  # already clamped to the context window left after the prompt
    sampling: Sampling
    emit: Callable[[Token | Error], None]  # called from the scheduler thread
    seed: int | None = None
    stop_ids: frozenset[int] = frozenset()
    logprobs: int | None = None  # None: no logprobs; k: the chosen token's and the top k
    deadline: float = float("inf")  # time.monotonic() after which the sequence is cut
    cancelled: bool = False  # set by the HTTP side: the client left or a stop string matched
    produced: int = 0
    next_token: int = -1
    generator: torch.Generator | None = field(default=None, repr=False)


class Full(Exception):
    """No room for more requests: answer 429."""


class Scheduler:
    def __init__(self, model, *, max_batch: int = 16, max_queue: int = 64, name: str = "model"):
        self.model, self.max_batch, self.max_queue = model, max_batch, max_queue
        self.device = model.embed_tokens.weight.device
        self.slots = SlotCache(model.config, max_batch, device=self.device, dtype=model.embed_tokens.weight.dtype)
        self.active: list[Sequence] = []  # active[r] decodes in slot row r
        self.waiting: collections.deque[Sequence] = collections.deque()
        self.prefilling = 0  # taken from waiting, not yet active: their first token may already be out
        self.cond = threading.Condition()
        self.stopped = False
        self.steps = 0  # decode steps run (for tests and stats)
        self.prefills = 0  # prefill forwards run, each for all the sequences joining in that step
        self.thread = threading.Thread(target=self._run, name=f"dentro-serve-{name}", daemon=True)

    def start(self) -> Scheduler:
        self.thread.start()
        return self

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify()
        self.thread.join(timeout=10)

    def load(self) -> int:
        """Sequences decoding or waiting."""
        with self.cond:
            return len(self.active) + len(self.waiting) + self.prefilling

    def submit(self, seqs: list[Sequence]) -> None:
        with self.cond:
            if len(self.active) + len(self.waiting) + self.prefilling + len(seqs) > self.max_batch + self.max_queue:
                raise Full(f"the server is busy ({len(self.active)} decoding, {len(self.waiting)} waiting); retry later")
            self.waiting.extend(seqs)
            self.cond.notify()

    # ---- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.stopped and not self.active and not self.waiting:
                    self.cond.wait()
                if self.stopped:
                    return
                now = time.monotonic()
                for s in [s for s in self.waiting if s.cancelled or s.deadline < now]:
                    self.waiting.remove(s)
                    if not s.cancelled:
                        s.emit(Error(s.index, "the request timed out waiting for a free slot", 503))
                admitted = []
                while self.waiting and len(self.active) + len(admitted) < self.max_batch:
                    admitted.append(self.waiting.popleft())
                self.prefilling = len(admitted)
            try:
                with torch.no_grad():
                    self._drop_cancelled()
                    if admitted:
                        self._prefill(admitted)
                    if self.active:
                        self._decode_step()
            except Exception as e:  # a failure (e.g. out of memory) ends the affected requests, not the server
                log.exception("scheduler step failed")
                with self.cond:
                    failed, self.active = self.active + [s for s in admitted if s not in self.active], []
                    self.prefilling = 0
                    self.slots.n, self.slots.pos = 0, 0
                for s in failed:
                    s.emit(Error(s.index, f"generation failed: {type(e).__name__}", 500))

    def _prefill(self, seqs: list[Sequence]) -> None:
        """Prefill the joining sequences in one forward (a step with several joins costs one batched
        forward, not one per request) and sample their first tokens; they decode in rows n.. ."""
        seqs = [s for s in seqs if not s.cancelled]
        done = []
        if seqs:
            for s in seqs:
                if s.seed is not None:
                    s.generator = torch.Generator(device=self.device).manual_seed(s.seed)
            first_row = self.slots.n
            cache = self.slots.join([len(s.prompt) for s in seqs])
            T = max(len(s.prompt) for s in seqs)
            idx = torch.tensor([[0] * (T - len(s.prompt)) + s.prompt for s in seqs], dtype=torch.long,
                               device=self.device)  # (B, T) left-padded
            logits = self.model(idx, kv_cache=cache)[:, -1]  # (B, V): every row's last prompt token is at -1
            self.prefills += 1
            done = [first_row + r for r in self._sample_rows(seqs, logits)]
        with self.cond:
            self.active.extend(seqs)
            self.prefilling = 0
        self._remove_rows(done)  # those that finished at their first token

    def _decode_step(self) -> None:
        self.slots.make_room()
        tokens = torch.tensor([[s.next_token] for s in self.active], dtype=torch.long, device=self.device)  # (n, 1)
        logits = self.model(tokens, kv_cache=self.slots)[:, -1]  # (n, V)
        self.steps += 1
        self._remove_rows(self._sample_rows(self.active, logits))

    def _sample_rows(self, seqs: list[Sequence], logits: torch.Tensor) -> list[int]:
        """Draw the next token of each seqs[r] from logits[r] (n, V) and emit it; -> the rows that finished.
        The draws stay on the device until one .tolist() for the batch: one host-device sync per
        step, not one per sampled row. Greedy rows (the common case) share one argmax."""
        drawn = logits.argmax(-1)  # (n,)
        for r, s in enumerate(seqs):
            if s.sampling.temperature > 0 and not s.cancelled:
                drawn[r] = sample_next(logits[r:r + 1], s.sampling, s.generator)[0]
        tokens = drawn.tolist()
        return [r for r, s in enumerate(seqs) if self._sample(s, logits[r], tokens[r])]

    def _sample(self, s: Sequence, logits: torch.Tensor, token: int | None = None) -> bool:
        """Emit `token` as s's next token (drawn from its logits (V,) when None: test schedulers
        script the logits); -> True when s is finished."""
        if s.cancelled:
            return True
        t = token if token is not None else int(sample_next(logits[None], s.sampling, s.generator)[0])
        s.produced += 1
        s.next_token = t
        ev = Token(s.index, t)
        if s.logprobs is not None:
            logp = logits.float().log_softmax(-1)
            ev.logprob = float(logp[t])
            if s.logprobs:
                v, i = logp.topk(min(s.logprobs, logp.numel()))
                ev.top = list(zip(i.tolist(), v.tolist()))
        if t in s.stop_ids:
            ev.finish = "stop"
        elif s.produced >= s.max_tokens or time.monotonic() > s.deadline:
            ev.finish = "length"
        s.emit(ev)
        return ev.finish is not None

    def _drop_cancelled(self) -> None:
        self._remove_rows([r for r, s in enumerate(self.active) if s.cancelled])

    def _remove_rows(self, rows: list[int]) -> None:
        """Free the rows (ascending), then shift the rest left over the columns no row uses any more."""
        for r in reversed(rows):
            self._remove(r)
        if rows:
            self.slots.compact()

    def _remove(self, r: int) -> None:
        moved = self.slots.remove(r)
        with self.cond:
            if moved is not None:
                self.active[r] = self.active[moved]
            self.active.pop()
