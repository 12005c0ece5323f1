"""Talking to a chat model: render the conversation, fit it in the context window, stream a reply.

    prompt   the conversation rendered with the chat template and an open assistant turn
             (`<|im_start|>assistant\\n`); the model writes until <|im_end|>. think=False
             prefills an empty <think> block there (thinking switched off, template.THINK_OFF):
             the model answers at once.
    window   when the conversation outgrows the context window (minus room for the reply),
             the oldest turns are dropped, never the system prompt nor the latest user turn,
             and the caller is told how many (dentro chat says so on screen).
    batch    reply_batch answers many conversations at once (evaluation): one left-padded
             batch through the KV-cache engine instead of one conversation at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from dentro.model.engine import Sampling, Step


@dataclass
class Prompt:
    ids: list[int]  # the rendered conversation + "<|im_start|>assistant\n" (+ THINK_OFF when think=False)
    dropped: int  # messages dropped from the start to fit the window
    max_tokens: int  # room left for the reply


def stop_ids(tokenizer) -> set[int]:
    """A reply ends at <|im_end|>; <|endoftext|> also stops a model that drifts into a new document."""
    return {tokenizer.special_id("<|im_end|>"), tokenizer.eot_id}


def build_prompt(tokenizer, messages: list[dict], context: int, max_tokens: int, min_reply: int = 16, *,
                 think: bool = True) -> Prompt:
    """Render messages for a reply of up to max_tokens tokens within `context` positions,
    dropping the oldest non-system messages while the prompt leaves less than
    min(max_tokens, min_reply) tokens of room (the last message alone gets whatever room is
    left). Raises ValueError when even the system prompt and the last message leave no room.
    think=False: thinking switched off, the prompt ends with the empty block (THINK_OFF)."""
    from dentro.chat.template import render

    system = [m for m in messages[:1] if m["role"] == "system"]
    rest = list(messages[len(system):])
    dropped = 0
    while True:
        ids, _ = render(tokenizer, system + rest, add_generation_prompt=True, think=think)
        room = context - len(ids)
        if room >= min(max_tokens, min_reply) or (len(rest) <= 1 and room >= 1):
            return Prompt(ids, dropped, min(max_tokens, room))
        if len(rest) <= 1:
            raise ValueError(f"the message is too long for the model's context window ({len(ids)} tokens "
                             f"with the system prompt, window {context}); shorten it")
        rest.pop(0)
        dropped += 1
        while len(rest) > 1 and rest[0]["role"] != "user":  # a conversation resumes at a user turn
            rest.pop(0)
            dropped += 1


def stream_reply(model, tokenizer, messages: list[dict], *, max_tokens: int = 128,
                 sampling: Sampling = Sampling(temperature=0.0), seed: int | None = None,
                 show_top: int = 0, think: bool = True) -> tuple[Prompt, Iterator[Step]]:
    """(the prompt that was built, an iterator of Steps for one reply). The last step's token is
    the stop token when the model closed its turn. think=False: thinking switched off (the
    prompt ends with the empty <think> block, which is not part of the reply)."""
    from dentro.model.engine import generate

    p = build_prompt(tokenizer, messages, model.config.max_position_embeddings, max_tokens, think=think)
    steps = generate(model, p.ids, max_tokens=p.max_tokens, sampling=sampling, seed=seed,
                     stop_ids=stop_ids(tokenizer), show_top=show_top)
    return p, steps


def reply(model, tokenizer, messages: list[dict], **kw) -> str:
    """The whole reply as text (without its stop token); keywords as stream_reply (think=False...)."""
    stops = stop_ids(tokenizer)
    _, steps = stream_reply(model, tokenizer, messages, **kw)
    ids = [s.tokens[0] for s in steps if s.tokens[0] is not None and s.tokens[0] not in stops]
    return tokenizer.decode(ids)


def reply_batch(model, tokenizer, conversations: list[list[dict]], *, max_tokens: int = 48,
                sampling: Sampling = Sampling(temperature=0.0), seed: int | None = None,
                batch_size: int = 64, think: bool = True, confidence: bool = False) -> list[dict]:
    """Replies to many conversations, batch_size at a time (grouped by prompt length; think=False:
    thinking switched off in all of them): [{"text",
    "closed" (ended with <|im_end|>), "tokens", "too_long" (no room left for a reply)}] in input order.
    confidence=True: each also gets "confidence", the geometric mean of the model's probabilities of
    the tokens it wrote before the stop (dentro.chat.gate; 0.0 for an empty reply)."""
    from dentro.model.engine import collect, generate_batch

    context = model.config.max_position_embeddings
    im_end = tokenizer.special_id("<|im_end|>")
    stops = stop_ids(tokenizer)
    out: list[dict | None] = [None] * len(conversations)
    fits = []
    for i, c in enumerate(conversations):
        try:
            fits.append((i, build_prompt(tokenizer, c, context, max_tokens, think=think).ids))
        except ValueError:  # no room at all for a reply: an empty, unclosed answer, marked
            out[i] = {"text": "", "closed": False, "tokens": 0, "too_long": True}
    fits.sort(key=lambda p: len(p[1]))  # similar lengths together: less padding per batch
    for k in range(0, len(fits), batch_size):
        chunk = fits[k:k + batch_size]
        room = context - max(len(p) for _, p in chunk)
        steps = generate_batch(model, [p for _, p in chunk], max_tokens=min(max_tokens, room),
                               sampling=sampling, seed=seed, stop_ids=stops)
        logs = [[] for _ in chunk]  # per row: the log-probability of each token it wrote (stop excluded)
        if confidence:
            steps = track_logprobs(steps, logs, stops)
        rows = collect(steps, len(chunk))
        for j, ((i, _), r) in enumerate(zip(chunk, rows)):
            text = [t for t in r if t not in stops]
            out[i] = {"text": tokenizer.decode(text), "closed": bool(r) and r[-1] == im_end, "tokens": len(r),
                      "too_long": False}
            if confidence:
                out[i]["confidence"] = round(geometric_mean(logs[j]), 6)
    if confidence:
        for o in out:
            o.setdefault("confidence", 0.0)
    return out


def track_logprobs(steps, logs: list[list[float]], stops: set[int]):
    """The engine's steps, passed on, appending to logs[b] the log-probability (log-softmax of the
    step's logits, temperature 1) of each token row b writes that is not a stop token."""
    for step in steps:
        rows = [b for b, t in enumerate(step.tokens) if t is not None and t not in stops]
        if rows:
            lp = step.logits[rows].float().log_softmax(-1)
            for k, b in enumerate(rows):
                logs[b].append(lp[k, step.tokens[b]].item())
        yield step


def geometric_mean(logprobs: list[float]) -> float:
    """exp of the mean log-probability: the per-token probability of the whole reply (0.0 if empty)."""
    return math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0


def chat_complete(model, tokenizer, prompt: str, max_new_tokens: int) -> str:
    """The training loop's sample hook for chat models: a greedy reply to one user message."""
    was_training = model.training
    model.eval()
    try:
        return reply(model, tokenizer, [{"role": "user", "content": prompt}], max_tokens=max_new_tokens)
    finally:
        model.train(was_training)
