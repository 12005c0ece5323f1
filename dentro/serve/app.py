"""The HTTP side of `dentro serve`: routes, limits, authentication, streaming (Starlette + uvicorn).

    GET  /v1/models             the served checkpoints
    POST /v1/chat/completions   chat models: messages -> ChatML prompt -> scheduler -> reply (SSE or JSON)
    POST /v1/completions        base models: text -> continuation (SSE or JSON)
    GET  /health                liveness, no key needed
    GET  /                      the web UI; its routes are in ui_api.py

Every request is checked before it reaches the model (protocol.py): a bad one gets a 4xx in
OpenAI's error JSON, never a 500. The event loop never runs the model; each model's Scheduler
thread does, and sends tokens back through an asyncio.Queue per request. A client that
disconnects (or a stop string that matches) marks its sequences cancelled: the scheduler frees
their rows before its next step.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from dentro.chat.template import render
from dentro.model.engine import Sampling
from dentro.serve import protocol as P
from dentro.serve.scheduler import Error, Full, Scheduler, Sequence, Token
from dentro.serve.ui_api import ui_routes

log = logging.getLogger("dentro.serve")


@dataclass
class Limits:
    max_prompt_tokens: int = 1 << 30  # further capped by each model's context window
    max_tokens: int = 1024  # per choice
    max_batch: int = 16  # sequences decoding together, per model
    max_queue: int = 64  # sequences waiting, per model
    request_timeout: float = 300.0  # seconds, queue + generation
    max_body_bytes: int = 1 << 20


@dataclass
class ServedModel:
    id: str
    model: object  # a dentro GPT, eval mode
    tokenizer: object
    scheduler: Scheduler
    created: int
    owned_by: str = "dentro"
    gate: float | None = None  # the confidence gate's threshold, when the run calibrated one for this model
    gate_weights: dict | None = None  # its regression over the answer and the name's familiarity (dentro.chat.gate)

    @property
    def context(self) -> int:
        return self.model.config.max_position_embeddings


class TextStream:
    """A choice's token ids -> text deltas safe to send: a cut UTF-8 character waits for its end,
    text that may begin a stop string waits until it cannot, and from a <tool_call> id on (when
    tools are parsed) nothing is sent: the call is parsed when the choice ends."""

    def __init__(self, tokenizer, stops: list[str], tool_call_id: int | None = None):
        self.tok, self.stops, self.tool_call_id = tokenizer, stops, tool_call_id
        self.ids: list[int] = []
        self.tool_start: int | None = None
        self.sent = 0  # characters of content sent
        self.final: str | None = None  # the content, once a stop string cut it

    def push(self, i: int) -> str:
        if self.final is not None:
            return ""
        if self.tool_start is None and i == self.tool_call_id:
            self.tool_start = len(self.ids)
        self.ids.append(i)
        if self.tool_start is not None:
            return ""
        text = self.tok.decode(self.ids)
        cuts = [j for j in (text.find(s) for s in self.stops) if j >= 0]
        if cuts:
            self.final = text[:min(cuts)]
            out, self.sent = self.final[self.sent:], len(self.final)
            return out
        # a cut character waits; with tools so does a trailing newline: the template writes one before <tool_call>
        hold = len(text) - len(text.rstrip("\ufffd\n" if self.tool_call_id is not None else "\ufffd"))
        for s in self.stops:  # the longest end of the text that starts a stop string
            for k in range(min(len(s) - 1, len(text)), hold, -1):
                if s.startswith(text[-k:]):
                    hold = k
                    break
        safe = max(self.sent, len(text) - hold)
        out, self.sent = text[self.sent:safe], safe
        return out

    @property
    def stopped(self) -> bool:
        return self.final is not None

    def content(self) -> str:
        if self.final is not None:
            return self.final
        if self.tool_start is None:
            return self.tok.decode(self.ids)
        return self.tok.decode(self.ids[:self.tool_start]).removesuffix("\n")  # the newline before <tool_call>

    def flush(self) -> str:
        """What is left to send of the content when the choice ends."""
        out = self.content()[self.sent:]
        self.sent += len(out)
        return out

    def tool_text(self) -> str | None:
        return None if self.tool_start is None else self.tok.decode(self.ids[self.tool_start:])


class Choice:
    def __init__(self, seq: Sequence, text: TextStream, stop_ids):
        self.seq, self.text, self.stop_ids = seq, text, stop_ids
        self.tokens: list[Token] = []  # content tokens, for logprobs
        self.pending: list[Token] = []  # tokens not yet reported in a stream chunk
        self.finish: str | None = None
        self.produced = 0

    def on_token(self, ev: Token) -> str:
        """-> the text delta to send."""
        self.produced += 1
        delta = ""
        if ev.id not in self.stop_ids and not self.text.stopped:
            self.tokens.append(ev)
            self.pending.append(ev)
            delta = self.text.push(ev.id)
            if self.text.stopped:
                self.finish = "stop"
                self.seq.cancelled = True  # frees the row; the scheduler sends nothing more
        if ev.finish and not self.finish:
            self.finish = ev.finish
        return delta


def create_app(models: list[ServedModel], limits: Limits = Limits(), api_key: str | None = None,
               run: Path | None = None) -> Starlette:
    """run: the run folder whose report and arena votes the web UI shows (None: those pages are off)."""
    by_id = {m.id: m for m in models}

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(given.encode("utf-8", "replace"), api_key.encode("utf-8")):
            raise P.ApiError(401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'",
                             code="invalid_api_key")

    async def read_json(request: Request) -> dict:
        check_key(request)
        too_big = P.ApiError(413, f"the request body is larger than {limits.max_body_bytes} bytes")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limits.max_body_bytes):
            raise too_big if length.isdigit() else P.ApiError(400, "bad Content-Length")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_body_bytes:
                raise too_big
            chunks.append(chunk)
        return P.parse_json(b"".join(chunks))

    def served(name: str) -> ServedModel:
        if name not in by_id:
            raise P.ApiError(404, f"the model {name!r} does not exist; this server has: {', '.join(by_id)}",
                             "model", "model_not_found")
        return by_id[name]

    def budget(m: ServedModel, max_tokens: int | None) -> int:
        """The longest prompt allowed: the limit, and room for min(max_tokens, 16) new tokens."""
        return min(limits.max_prompt_tokens, m.context - min(max_tokens or 16, 16))

    async def models_route(request: Request):
        check_key(request)
        return JSONResponse({"object": "list", "data": [
            {"id": m.id, "object": "model", "created": m.created, "owned_by": m.owned_by,
             "max_model_len": m.context, **({"gate_threshold": m.gate} if m.gate is not None else {})}
            for m in models]})

    async def health(request: Request):
        return JSONResponse({"status": "ok"})

    async def chat_route(request: Request):
        body = await read_json(request)
        req = P.parse_chat(body, limits.max_tokens)
        m = served(req.model)
        messages = req.messages
        if req.gate:
            if m.gate is None:
                raise P.ApiError(400, f"the model {m.id!r} has no confidence gate: the gate is calibrated for the "
                                      f"run's chat model by `dentro factuality` (<run>/factuality/gate.json); "
                                      f"models with one list a gate_threshold in GET /v1/models", "gate")
            req.temperature = 0.0  # the threshold was chosen on greedy answers
        if req.tools:
            text = P.tools_system_text(req.tools)
            if messages[0]["role"] == "system":
                messages = [{"role": "system", "content": messages[0]["content"] + "\n\n" + text}] + messages[1:]
            else:
                messages = [{"role": "system", "content": text}] + messages
        ids = await asyncio.to_thread(fit_chat, m.tokenizer, messages, budget(m, req.max_tokens), think=req.think)
        tool_id = m.tokenizer.special_tokens.get("<tool_call>") if req.tools else None
        stops = {m.tokenizer.special_id("<|im_end|>"), m.tokenizer.eot_id}
        return await generate(request, m, req, [ids], stops, tool_id, chat=True)

    async def completions_route(request: Request):
        body = await read_json(request)
        known = by_id.get(body.get("model")) if isinstance(body.get("model"), str) else None
        req = P.parse_completion(body, limits.max_tokens, known.tokenizer.vocab_size if known else 1 << 62)
        m = served(req.model)
        prompts = []
        for p in req.prompts:
            ids = [m.tokenizer.eot_id] + m.tokenizer.encode(p) if isinstance(p, str) else list(p)
            if len(ids) > budget(m, req.max_tokens):
                raise P.ApiError(413, f"the prompt has {len(ids)} tokens; this model takes at most "
                                      f"{budget(m, req.max_tokens)} here", "prompt", "context_length_exceeded")
            prompts.append(ids)
        return await generate(request, m, req, prompts, {m.tokenizer.eot_id}, None, chat=False)

    async def generate(request, m: ServedModel, req, prompts, stop_ids, tool_id, chat: bool):
        loop = asyncio.get_running_loop()
        gated = chat and req.gate  # the reply is judged whole: a stream gets it in one piece at the end
        queue: asyncio.Queue = asyncio.Queue()
        deadline = loop.time() + limits.request_timeout  # loop.time() is time.monotonic()

        def emit(ev):
            loop.call_soon_threadsafe(queue.put_nowait, ev)

        choices = []
        for p, ids in enumerate(prompts):
            for j in range(req.n):
                seq = Sequence(index=len(choices), prompt=ids, max_tokens=min(req.max_tokens or limits.max_tokens,
                                                                              m.context - len(ids)),
                               sampling=Sampling(temperature=req.temperature, top_p=req.top_p), emit=emit,
                               seed=None if req.seed is None else req.seed + j, stop_ids=frozenset(stop_ids),
                               logprobs=0 if gated and req.logprobs is None else req.logprobs,
                               deadline=deadline)
                choices.append(Choice(seq, TextStream(m.tokenizer, req.stop, tool_id), stop_ids))
        try:
            m.scheduler.submit([c.seq for c in choices])
        except Full as e:
            raise P.ApiError(429, str(e), code="rate_limit_exceeded", headers={"Retry-After": "1"}) from None
        prompt_tokens = sum(len(p) for p in prompts)
        rid, created = P.new_id("chatcmpl" if chat else "cmpl"), P.now()

        def cancel():
            for c in choices:
                c.seq.cancelled = True

        async def next_event():
            try:
                ev = await asyncio.wait_for(queue.get(), timeout=max(1.0, deadline - loop.time() + 5))
            except asyncio.TimeoutError:
                raise P.ApiError(503, "the request timed out") from None
            if isinstance(ev, Error):
                raise P.ApiError(ev.status, ev.message)
            return ev

        watcher = asyncio.create_task(watch_disconnect(request, cancel))
        if not req.stream or gated:
            try:
                while not all(c.finish for c in choices):
                    ev = await next_event()
                    choices[ev.index].on_token(ev)
            finally:
                cancel()
                watcher.cancel()
            out = [final_choice(c, m.tokenizer, req, chat) for c in choices]
            if gated:
                familiar = [None] * len(out)
                if m.gate_weights:  # one forward pass over the prompt, off the event loop
                    from dentro.chat.gate import familiarity, plain_turns

                    familiar = await asyncio.to_thread(familiarity, m.model, m.tokenizer,
                                                       [plain_turns(req.messages)] * len(out),
                                                       [o["message"]["content"] or "" for o in out])
                out = [gate_choice(o, c, m.gate, req, m.gate_weights, f) for o, c, f in zip(out, choices, familiar)]
                if req.stream:
                    return StreamingResponse(gated_stream(out, rid, created, m.id, req, P.usage(
                        prompt_tokens, sum(c.produced for c in choices))), media_type="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            body = {"id": rid, "object": "chat.completion" if chat else "text_completion", "created": created,
                    "model": m.id, "choices": out,
                    "usage": P.usage(prompt_tokens, sum(c.produced for c in choices))}
            return JSONResponse(body)

        try:  # the first token before the headers: an error up to here still gets its status code
            first = await next_event()
        except BaseException:
            cancel()
            raise
        finally:
            watcher.cancel()  # from here on StreamingResponse watches for the client leaving

        async def sse():
            def chunk(choice_list, usage=None):
                return sse_chunk(rid, created, m.id, chat, req, choice_list, usage)

            try:
                if chat:
                    for c in choices:
                        yield chunk([{"index": c.seq.index, "delta": {"role": "assistant", "content": ""},
                                      "logprobs": None, "finish_reason": None}])
                ev = first
                while True:
                    c = choices[ev.index]
                    delta = c.on_token(ev)
                    if delta or (req.logprobs is not None and c.pending and not c.finish):
                        yield chunk([stream_piece(c, m.tokenizer, req, chat, delta)])
                    if c.finish:
                        for piece in stream_end(c, m.tokenizer, req, chat):
                            yield chunk([piece])
                    if all(c.finish for c in choices):
                        break
                    ev = await next_event()
                if req.include_usage:
                    yield chunk([], P.usage(prompt_tokens, sum(c.produced for c in choices)))
            except P.ApiError as e:  # after the headers: the error goes in the stream, as OpenAI does
                yield f"data: {json.dumps(e.body())}\n\n"
            finally:
                cancel()
            yield "data: [DONE]\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def api_error(request, exc: P.ApiError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async def http_error(request, exc: HTTPException):
        return JSONResponse(P.ApiError(exc.status_code, exc.detail or "error").body(), status_code=exc.status_code)

    async def server_error(request, exc: Exception):
        log.exception("unexpected error", exc_info=exc)
        return JSONResponse(P.ApiError(500, f"internal error: {type(exc).__name__}").body(), status_code=500)

    routes = [Route("/v1/models", models_route, methods=["GET"]), Route("/health", health, methods=["GET"]),
              Route("/v1/chat/completions", chat_route, methods=["POST"]),
              Route("/v1/completions", completions_route, methods=["POST"])]
    routes += ui_routes(by_id, check_key, read_json, run)  # the web UI at / (ui_api.py)
    return Starlette(routes=routes, exception_handlers={P.ApiError: api_error, HTTPException: http_error,
                                                        Exception: server_error})


async def watch_disconnect(request: Request, on_disconnect) -> None:
    """Wait for the client to hang up (the body is read by now), then cancel its sequences."""
    while True:
        msg = await request.receive()
        if msg["type"] == "http.disconnect":
            on_disconnect()
            return


def fit_chat(tokenizer, messages: list[dict], budget: int, *, think: bool = True) -> list[int]:
    """Render the conversation with an open assistant turn (think=False: and the empty <think>
    block, chat_template_kwargs.enable_thinking false); when it is longer than `budget` tokens,
    drop the oldest turns (never a leading system prompt), resuming at a user message, as
    `dentro chat` does: a binary search over the resume points, so thousands of messages cost
    a few renders. 400 for a malformed conversation, 413 when even the last turn does not fit."""
    system = messages[:1] if messages[0]["role"] == "system" else []
    rest = messages[len(system):]

    def ids_from(k):
        try:
            return render(tokenizer, system + rest[k:], add_generation_prompt=True, think=think)[0]
        except ValueError as e:
            raise P.ApiError(400, str(e), "messages") from None

    ids = ids_from(0)
    if len(ids) <= budget:
        return ids
    starts = [k for k in range(1, len(rest)) if rest[k]["role"] == "user"]
    lo, hi, best = 0, len(starts) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        cand = ids_from(starts[mid])
        if len(cand) <= budget:
            best, hi = cand, mid - 1
        else:
            lo = mid + 1
    if best is None:
        raise P.ApiError(413, f"the conversation's last turn is too long: {len(ids_from(starts[-1] if starts else 0))}"
                              f" tokens with the system prompt; this model takes at most {budget} here",
                         "messages", "context_length_exceeded")
    return best


def tool_calls(c: Choice) -> tuple[list | None, str | None, str]:
    """(tool_calls, finish reason, text to show) of a choice's <tool_call> text: parsed calls
    finish with "tool_calls"; text that does not parse is shown as it is."""
    tool_text = c.text.tool_text()
    if tool_text is None:
        return None, c.finish, ""
    parsed = P.parse_tool_calls(tool_text)
    if parsed is None:
        return None, c.finish, tool_text
    return parsed[1], "tool_calls", ""


def final_choice(c: Choice, tokenizer, req, chat: bool) -> dict:
    calls, finish, unparsed = tool_calls(c)
    content = c.text.content() + unparsed
    if not chat:
        lp = None if req.logprobs is None else P.completion_logprobs(tokenizer, c.tokens, 0)
        return {"index": c.seq.index, "text": content, "logprobs": lp, "finish_reason": finish}
    msg = {"role": "assistant", "content": content if content or not calls else None}
    if calls:
        msg["tool_calls"] = calls
    lp = None if req.logprobs is None else {"content": [P.chat_logprob(tokenizer, t) for t in c.tokens]}
    return {"index": c.seq.index, "message": msg, "logprobs": lp, "finish_reason": finish}


def gate_choice(out: dict, c: Choice, threshold: float, req, weights: dict | None = None,
                familiar: float | None = None) -> dict:
    """A greedy chat choice judged by the confidence gate (dentro/chat/gate.py, with tools off): an
    answer from memory below the threshold becomes a refusal in the question's language; the
    model's own answer and its confidence stay in the choice's "gate" object, for the client to show.
    With weights, the confidence is the gate's score of the answer and of the name's familiarity."""
    import random

    from dentro.chat.assistant import geometric_mean
    from dentro.chat.gate import decide, plain_turns, refusal_for, score

    answer = out["message"]["content"] or ""
    confidence = score(weights, geometric_mean([t.logprob for t in c.tokens if t.logprob is not None]), familiar)
    plain = plain_turns(req.messages)
    route = decide(plain, answer, confidence, threshold, tools=False)
    verdict = {"as_usual": "not_judged", "stands": "stands", "refuse": "refused"}[route]
    out["gate"] = {"confidence": round(confidence, 4), "threshold": round(threshold, 4), "verdict": verdict}
    if weights and familiar is not None:
        out["gate"]["familiarity"] = round(familiar, 4)
    if route == "refuse":
        question = next(m["content"] for m in reversed(plain) if m["role"] == "user")
        out["gate"]["answer"] = answer
        out["message"]["content"] = refusal_for(question, answer, random.Random(req.seed), "en")
        out["logprobs"] = None  # they were the withheld answer's
        out["finish_reason"] = "stop"
    return out


def sse_chunk(rid: str, created: int, model_id: str, chat: bool, req, choices: list[dict], usage: dict | None = None) -> str:
    """One server-sent event of a streamed completion: its choices, and the usage when the request
    asked for it (stream_options.include_usage; null except in the last chunk, as OpenAI sends it)."""
    d = {"id": rid, "object": "chat.completion.chunk" if chat else "text_completion", "created": created,
         "model": model_id, "choices": choices}
    if req.include_usage:
        d["usage"] = usage
    return f"data: {json.dumps(d, ensure_ascii=False)}\n\n"


async def gated_stream(out: list[dict], rid: str, created: int, model_id: str, req, usage: dict):
    """A gated reply as a stream: the role, the whole content with the gate's verdict, the finish."""
    def chunk(choices, with_usage=None):
        return sse_chunk(rid, created, model_id, True, req, choices, with_usage)

    for o in out:
        i = o["index"]
        yield chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}])
        yield chunk([{"index": i, "delta": {"content": o["message"]["content"] or ""}, "logprobs": o["logprobs"],
                      "finish_reason": None, "gate": o["gate"]}])
        yield chunk([{"index": i, "delta": {}, "logprobs": None, "finish_reason": o["finish_reason"]}])
    if req.include_usage:
        yield chunk([], usage)
    yield "data: [DONE]\n\n"


def stream_piece(c: Choice, tokenizer, req, chat: bool, delta: str) -> dict:
    pending, c.pending = c.pending, []
    if chat:
        lp = None if req.logprobs is None else {"content": [P.chat_logprob(tokenizer, t) for t in pending]}
        return {"index": c.seq.index, "delta": {"content": delta}, "logprobs": lp, "finish_reason": None}
    lp = None if req.logprobs is None else P.completion_logprobs(tokenizer, pending, c.text.sent - len(delta))
    return {"index": c.seq.index, "text": delta, "logprobs": lp, "finish_reason": None}


def stream_end(c: Choice, tokenizer, req, chat: bool) -> list[dict]:
    """The last chunks of a choice: held-back text, tool calls, then the finish reason."""
    out = []
    rest = c.text.flush()
    calls, finish, unparsed = tool_calls(c)
    rest += unparsed
    if rest or c.pending:
        out.append(stream_piece(c, tokenizer, req, chat, rest))
    if chat:
        if calls:
            out.append({"index": c.seq.index, "delta": {"tool_calls": [dict(call, index=k) for k, call in
                                                                       enumerate(calls)]},
                        "logprobs": None, "finish_reason": None})
        out.append({"index": c.seq.index, "delta": {}, "logprobs": None, "finish_reason": finish})
    else:
        out.append({"index": c.seq.index, "text": "", "logprobs": None, "finish_reason": finish})
    return out
