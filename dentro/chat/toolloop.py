"""The tool loop: one assistant reply in which the model may call tools, as a state machine.

    WRITING   sample the assistant's tokens           <tool_call>            -> IN_CALL
                                                      <|im_end|> (no call)   -> DONE "stop"
    IN_CALL   sample the call's tokens                </tool_call>           -> RUNNING
                                                      <|im_end|> (unclosed)  -> RUNNING (an error)
    RUNNING   parse {"name": ..., "arguments": {...}} and run it with call_tool;
              a malformed call is not run: its result is "Error: ..."       -> FORCED
    FORCED    feed, never sample, what the chat template renders after an assistant tool-call
              turn and a tool message:
                  <|im_end|>\\n<|im_start|>user\\n<tool_response>\\n{result}\\n</tool_response><|im_end|>\\n<|im_start|>assistant\\n
              so the model reads at inference exactly the tokens it was trained on   -> WRITING
    DONE      reason "stop" (<|im_end|> or <|endoftext|>), "max_tokens" (sampled tokens, forced
              ones not counted), "tool_limit" (the model opened call max_calls + 1: the reply
              ends there) or "context" (the model's window is full)

One KV cache serves the whole reply: the prompt is prefilled once, each sampled token and each
block of forced tokens goes through the model once (GPT.forward appends several tokens to a
filled cache). Each call is run as soon as its </tool_call> is written, so an assistant turn
holds at most one call (the template allows several; dentro's tool data has one per turn).

Reply holds that state machine for one reply; two drivers own the model. tool_loop() streams one
reply (one KV cache, as above); tool_loop_batch() answers many prompts at once for evaluations,
in rounds of batched generation (engine.generate_batch), and greedy gives each reply the same
tokens.

tool_loop() yields events for a UI: Token (every sampled token; `text` is what to print, empty
inside a call), ToolCall, ToolResult, and last Done, which holds the reply as OpenAI-format
messages: [assistant with tool_calls, tool, ..., assistant]. A call the loop could not parse is
kept as the assistant's text (render() gives back the tokens the model wrote) followed by the
tool message with the error, so those messages too render as what the model saw.

What the model copies, it copies exactly (dentro.chat.copying, ToolContext.copy_quotes and
copy_numbers): before each sampled token the driver asks Reply.constrain for the logits with the
tokens at -inf that would write a search's quoted phrase the conversation does not hold, or end a
copied number before it is whole; both drivers sample from those (Step.logits stay the model's).

think=False (thinking switched off, the prompt built with it): every assistant turn after a
tool's answer opens with the empty <think> block too, as a request rendered with
enable_thinking=False would, and each assistant message of Done starts with it (THINK_OFF).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import torch

from dentro.chat.assistant import geometric_mean
from dentro.chat.copying import CallOperands, CallOperator, NameCopy, NumberCopy, QuoteCopy
from dentro.chat.template import THINK_OFF
from dentro.chat.tools import NO_RESULTS, ToolContext, call_tool
from dentro.model.engine import Sampling, Step, generate_batch, sample_next
from dentro.model.gpt import KVCache

WRITING, IN_CALL, RUNNING, FORCED, DONE = "writing", "in_call", "running", "forced", "done"


@dataclass
class Token:
    id: int
    text: str  # the new printable text of the answer ("" inside a call or mid-character)
    in_call: bool  # part of a <tool_call>...</tool_call> block (the tags included)
    step: Step | None  # the engine's Step: logits and, with show_top, the top candidates (tool_loop)


@dataclass
class ToolCall:
    name: str | None  # None when the call could not be parsed
    arguments: dict | None
    raw: str  # the text between <tool_call> and </tool_call>, as the model wrote it


@dataclass
class ToolResult:
    text: str


@dataclass
class Done:
    reason: str  # stop | max_tokens | tool_limit | context
    messages: list[dict]  # the reply in OpenAI format
    calls: list[ToolCall] = field(default_factory=list)  # the calls the reply made, in order
    # the confidence gate's measure of the final assistant turn (dentro.chat.gate): the geometric mean
    # of the probabilities of the tokens it wrote, from the logits they were sampled from; None when
    # the reply ended without a final turn of its own, or the driver gave no logits
    confidence: float | None = None


Event = Token | ToolCall | ToolResult | Done


# How a call is written, in the error a malformed one gets: for the tool the call names when its
# name can be read, else search's.
USAGE = {"search": '{"name": "search", "arguments": {"query": "..."}}',
         "python": '{"name": "python", "arguments": {"code": "print(...)"}}'}


def parse_call(text: str) -> tuple[str, dict] | str:
    """The text inside <tool_call>...</tool_call> -> (name, arguments), or an "Error: ..." for the
    model that shows how a call to the tool it named is written."""
    named = re.search(r'"name"\s*:\s*"([^"]*)"', text)
    usage = f"write <tool_call>\n{USAGE.get(named.group(1) if named else '', USAGE['search'])}\n</tool_call>"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        return f"Error: the tool call is not valid JSON ({e.msg} at character {e.pos}); {usage}"
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return f"Error: a tool call is a JSON object with a name and arguments; {usage}"
    arguments = obj.get("arguments", {})
    if isinstance(arguments, str):  # arguments written as a JSON string, as the OpenAI API carries them
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            pass
    if not isinstance(arguments, dict):
        return f"Error: the arguments of a tool call are a JSON object; {usage}"
    return obj["name"], arguments


def response_ids(tokenizer, result: str, think: bool = True) -> list[int]:
    """The forced tokens after a call: <|im_end|> closing the assistant's turn, the tool message
    as a user turn, and the open assistant turn (think=False: with the empty <think> block). Cut
    from render() itself, so the two cannot drift: everything after </tool_call> is independent
    of the call (a special id separates them)."""
    from dentro.chat.template import render

    call = {"type": "function", "function": {"name": "f", "arguments": {}}}
    ids, _ = render(tokenizer, [{"role": "assistant", "content": "", "tool_calls": [call]},
                                {"role": "tool", "content": result}], add_generation_prompt=True, think=think)
    return ids[ids.index(tokenizer.special_id("</tool_call>")) + 1:]


class _Text:
    """Decodes a growing list of ids into printable deltas (a cut UTF-8 character waits)."""

    def __init__(self, tokenizer):
        self.tok, self.ids, self.shown = tokenizer, [], ""

    def push(self, i: int) -> str:
        self.ids.append(i)
        text = self.tok.decode(self.ids)
        if text.endswith("\ufffd"):
            return ""
        delta, self.shown = text[len(self.shown):], text
        return delta

    def flush(self) -> str:
        text = self.tok.decode(self.ids)
        delta, self.shown = text[len(self.shown):], text
        return delta


class Reply:
    """One assistant reply through tool calls: the state machine above, one object per reply. A
    driver owns the model: it asks wants_token(), samples, push()es the token (and feeds it to the
    model unless the reply is DONE), lets run() run a closed call, feeds what forced() returns, and
    ends with finish(). `pos`: the tokens of the sequence so far (the prompt's, at the start)."""

    def __init__(self, tokenizer, pos: int, *, window: int, context: ToolContext, max_tokens: int, max_calls: int,
                 run_tool: Callable[..., str], think: bool, source: bytes = b""):
        special = tokenizer.special_id
        self.tok, self.pos, self.window, self.context = tokenizer, pos, window, context
        self.max_tokens, self.max_calls, self.run_tool, self.think = max_tokens, max_calls, run_tool, think
        self.tool_call, self.end_call, self.im_end = special("<tool_call>"), special("</tool_call>"), special("<|im_end|>")
        self.stops = {self.im_end, tokenizer.eot_id}
        self.lead = "" if think else THINK_OFF  # what the template wrote at the start of each assistant turn
        self.messages: list[dict] = []
        self.calls: list[ToolCall] = []
        self.between_turns = False  # a tool has answered and its response is not in the sequence yet
        self.result = ""
        self.sampled = self.n_calls = 0
        self.state, self.reason = WRITING, None
        # source: the conversation before the reply, which a search's quoted phrase and a copied number copy
        # (dentro.chat.copying); the results of the reply's calls join it
        self.copy = QuoteCopy(tokenizer, source) if context.copy_quotes else None
        self.numbers = NumberCopy(tokenizer, source) if context.copy_numbers else None  # a copied number ends whole
        self.operands = CallOperands(tokenizer, source) if context.copy_numbers else None  # a program stops at its problem
        self.operator = CallOperator(tokenizer, source) if context.copy_numbers else None  # with the question's operation
        self.names = NameCopy(tokenizer, source) if context.copy_quotes else None  # after nothing found: the question's names
        self.found_nothing = False  # every call so far was a search that found nothing
        self.thinking = False  # inside a <think> block the model wrote: its numbers are its own
        self.think_ids = (special("<think>"), special("</think>"))
        self._new_turn()

    def _new_turn(self) -> None:
        self.text = _Text(self.tok)  # the current assistant turn's text before any call
        self.opened = False  # the current turn has written <tool_call>
        self.call: list[int] = []  # the ids after <tool_call>, up to </tool_call>
        self.closed_by_model = False  # the model itself wrote the <|im_end|> that ends a call's turn
        self.logprobs: list[float] | None = []  # of the turn's text tokens (None: a token came without logits)

    def wants_token(self) -> bool:
        """The next step is a sampled token (a reply that has sampled max_tokens is DONE instead)."""
        if self.state in (WRITING, IN_CALL) and self.sampled >= self.max_tokens:
            self.state, self.reason = DONE, "max_tokens"
        return self.state in (WRITING, IN_CALL)

    def constrain(self, logits: torch.Tensor) -> torch.Tensor | None:
        """logits (1, V) of the next token with what the reply may not write at -inf
        (dentro.chat.copying): inside a search's quoted phrase, only copies of the conversation;
        in a call, or in text after a tool's result (not in <think>), a number that started as a
        copy of one of its numbers, only that copy; in a python program that holds every number of
        the question, no further operator unless sure, and no operator of another kind than the
        one the question names; after searches that found nothing, no name the question does not
        write. None when nothing is forbidden."""
        out = None
        if self.state == IN_CALL and self.copy is not None:
            out = self.copy.constrain(self.call, logits)
        if self.numbers is not None and not self.thinking and (self.state == IN_CALL or
                                                               (self.state == WRITING and self.n_calls)):
            numbers = self.numbers.constrain(logits if out is None else out, answer=self.state == WRITING)
            out = out if numbers is None else numbers
        if self.operands is not None and self.state == IN_CALL:
            operands = self.operands.constrain(self.call, logits if out is None else out)
            out = out if operands is None else operands
        if self.operator is not None and self.state == IN_CALL:
            operator = self.operator.constrain(self.call, logits if out is None else out)
            out = out if operator is None else operator
        if self.names is not None and self.found_nothing and self.state == WRITING and not self.thinking:
            names = self.names.constrain(logits if out is None else out)
            out = out if names is None else names
        return out

    def push(self, t: int, step: Step | None = None) -> Token:
        """A sampled token. Unless the reply is then DONE, it joins the sequence (the driver feeds it)."""
        self.sampled += 1
        if t in self.think_ids:
            self.thinking = t == self.think_ids[0]
        if self.numbers is not None:
            self.numbers.push(t)
        if self.names is not None and self.state == WRITING:
            self.names.push(t)
        if self.state == WRITING:
            if t == self.tool_call and self.n_calls >= self.max_calls:
                self.state, self.reason = DONE, "tool_limit"
            elif t == self.tool_call:
                self.state, self.opened = IN_CALL, True
            elif t in self.stops:
                self.state, self.reason = DONE, "stop"
            if self.state == WRITING:  # a token of the turn's text: the gate's confidence counts it
                if step is None or step.logits is None or self.logprobs is None:
                    self.logprobs = None
                else:
                    self.logprobs.append(step.logits[0].float().log_softmax(-1)[t].item())
            token = Token(t, self.text.push(t) if self.state == WRITING else self.text.flush(), self.state == IN_CALL,
                          step)
        else:  # IN_CALL
            if t == self.end_call:
                self.state = RUNNING
            elif t == self.im_end:  # the turn ended inside the call: no </tool_call>, a malformed call
                self.state, self.closed_by_model = RUNNING, True
            elif t in self.stops:  # <|endoftext|>: the model left the conversation
                self.state, self.reason = DONE, "stop"
            else:
                self.call.append(t)
            token = Token(t, "", True, step)
        if self.state != DONE:  # the sampled token goes into the sequence (</tool_call> included)
            if self.pos >= self.window:
                self.state, self.reason = DONE, "context"
            else:
                self.pos += 1
        return token

    def run(self) -> list[Event]:
        """RUNNING -> FORCED: parse the call and run it (a malformed one is answered with its error)."""
        self.n_calls += 1
        raw = self.tok.decode(self.call)
        parsed = parse_call(raw.strip()) if not self.closed_by_model else \
            "Error: the tool call was not closed with </tool_call>"
        content = self.tok.decode(self.text.ids)
        if isinstance(parsed, str):  # malformed: kept as text, answered with the error, not run
            call = ToolCall(None, None, raw)
            self.result = parsed
            written = self.lead + content + "<tool_call>" + raw + ("" if self.closed_by_model else "</tool_call>")
            self.messages.append({"role": "assistant", "content": written})
            self.messages.append({"role": "tool", "content": self.result})
        else:
            name, arguments = parsed
            call = ToolCall(name, arguments, raw)
            self.result = self.run_tool(name, arguments, context=self.context)
            self.found_nothing = (self.n_calls == 1 or self.found_nothing) and name == "search" and \
                self.result.strip() == NO_RESULTS
            if self.copy is not None:  # what a result names, a later call may quote
                self.copy.add(self.result)
            if self.numbers is not None:  # and a number it prints, the answer copies (a program's, whole)
                self.numbers.add(self.result, printed=name == "python" and not self.result.startswith("Error"))
            cid = f"call_{self.n_calls}"
            self.messages.append({"role": "assistant", "content": self.lead + content.removesuffix("\n"),  # the template's \n
                                  "tool_calls": [{"id": cid, "type": "function", "function": {
                                      "name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}]})
            self.messages.append({"role": "tool", "tool_call_id": cid, "content": self.result})
        self.calls.append(call)
        self.state, self.between_turns = FORCED, True
        return [call, ToolResult(self.result)]

    def forced(self) -> list[int]:
        """FORCED -> WRITING: the ids to feed (never sampled); [] and DONE when they do not fit."""
        ids = response_ids(self.tok, self.result, self.think)
        if self.closed_by_model:
            ids = ids[1:]  # the model's own <|im_end|> is already in the sequence
        if self.pos + len(ids) > self.window:
            self.state, self.reason = DONE, "context"
            return []
        self.pos += len(ids)
        if self.numbers is not None:
            self.numbers.reset()
        if self.names is not None:
            self.names.reset()
        self._new_turn()
        self.between_turns = False
        self.state = WRITING
        return ids

    def finish(self) -> Done:
        """The reply as messages. The last assistant turn is kept when the model closed it, or
        wrote anything in it."""
        confidence = None
        if not self.between_turns and (self.reason == "stop" or self.text.ids or self.opened or not self.messages):
            content = self.lead + self.tok.decode(self.text.ids)
            if self.opened:  # ended inside a call (cut, or <|endoftext|>): what the model wrote, as text
                content += "<tool_call>" + self.tok.decode(self.call)
            self.messages.append({"role": "assistant", "content": content})
            if self.logprobs is not None:
                confidence = geometric_mean(self.logprobs)
        return Done(self.reason, self.messages, self.calls, confidence)


@torch.no_grad()
def tool_loop(model, tokenizer, prompt: list[int], *, context: ToolContext | None = None, max_tokens: int = 256,
              max_calls: int = 3, sampling: Sampling = Sampling(temperature=0.0), seed: int | None = None,
              show_top: int = 0, run_tool: Callable[..., str] = call_tool,
              think: bool = True) -> Generator[Event, None, list[dict]]:
    """Continue `prompt` (a conversation rendered with an open assistant turn, e.g.
    assistant.build_prompt(...).ids) through tool calls to a final answer. Yields events; the
    last is Done, whose messages are also the generator's return value. run_tool(name,
    arguments, context=context) -> str is call_tool unless a test brings its own. think: as the
    prompt was built (False: it ends with the empty <think> block)."""
    window = model.config.max_position_embeddings
    if len(prompt) >= window:
        raise ValueError(f"the prompt has {len(prompt)} tokens; the model's context window is {window}")
    reply = Reply(tokenizer, len(prompt), window=window, context=context or ToolContext(), max_tokens=max_tokens,
                  max_calls=max_calls, run_tool=run_tool, think=think, source=tokenizer.decode_bytes(prompt))
    weight = next(model.parameters())
    cache = KVCache(model.config, 1, window, device=weight.device, dtype=weight.dtype)
    generator = torch.Generator(device=weight.device).manual_seed(seed) if seed is not None else None

    def feed(ids: list[int]) -> torch.Tensor:  # ids through the model, appended to the cache -> (1, V)
        return model(torch.tensor([ids], device=weight.device), kv_cache=cache)[:, -1]

    logits = feed(prompt)
    while True:
        if reply.wants_token():
            allowed = reply.constrain(logits)
            t = int(sample_next(logits if allowed is None else allowed, sampling, generator)[0])
            top = None
            if show_top:
                p, i = logits.softmax(-1).topk(min(show_top, logits.size(-1)), dim=-1)
                top = [list(zip(i[0].tolist(), p[0].tolist()))]
            yield reply.push(t, Step([t], [t in reply.stops], logits, top))
            if reply.state != DONE:
                logits = feed([t])
        elif reply.state == RUNNING:
            yield from reply.run()
        elif reply.state == FORCED:
            ids = reply.forced()
            if ids:
                logits = feed(ids)
        else:
            break
    done = reply.finish()
    yield done
    return done.messages


@torch.no_grad()
def tool_loop_batch(model, tokenizer, prompts: list[list[int]], *, context: ToolContext | None = None,
                    max_tokens: int = 256, max_calls: int = 3, sampling: Sampling = Sampling(temperature=0.0),
                    seed: int | None = None, batch_size: int = 64, run_tool: Callable[..., str] = call_tool,
                    think: bool = True, progress=None) -> list[Done]:
    """tool_loop for many prompts, in batches, without the events: each reply's Done (its calls in
    Done.calls), in input order. It goes in rounds: every reply still writing continues in
    batches of similar lengths (engine.generate_batch) until its turn closes a call, ends or is
    cut by the batch's room; the calls run; their forced tokens join the reply's sequence; the next
    round prefills the sequences again. Greedy, each reply gets the tokens tool_loop gives it (up to
    the rounding of batched products); sampled, a reply's draws depend on the rows beside it.
    progress: a tqdm-like bar, updated as replies end."""
    window = model.config.max_position_embeddings
    for p in prompts:
        if len(p) >= window:
            raise ValueError(f"a prompt has {len(p)} tokens; the model's context window is {window}")
    context = context or ToolContext()
    replies = [Reply(tokenizer, len(p), window=window, context=context, max_tokens=max_tokens, max_calls=max_calls,
                     run_tool=run_tool, think=think, source=tokenizer.decode_bytes(p)) for p in prompts]
    seqs = [list(p) for p in prompts]
    if not replies:
        return []
    device = next(model.parameters()).device
    special = tokenizer.special_id  # a turn stops where a call closes or it ends
    stops = sorted({special("</tool_call>"), special("<|im_end|>"), tokenizer.eot_id})
    reported = 0  # replies ended, as the bar shows them

    def constrain(chunk: list[int], logits: torch.Tensor) -> torch.Tensor:  # each row's Reply.constrain
        out = logits
        for b, i in enumerate(chunk):
            row = replies[i].constrain(logits[b:b + 1])
            if row is not None:
                out = out.clone() if out is logits else out
                out[b] = row[0]
        return out

    for round_ in itertools.count():
        for i, r in enumerate(replies):
            while r.state in (RUNNING, FORCED):
                if r.state == RUNNING:
                    r.run()
                else:
                    seqs[i] += r.forced()
        live = [i for i, r in enumerate(replies) if r.wants_token()]
        if progress is not None:
            ended = sum(r.state == DONE for r in replies)
            progress.update(ended - reported)
            reported = ended
        if not live:
            break
        full = [i for i in live if len(seqs[i]) >= window]  # no room to continue in a cache: one last token
        for k in range(0, len(full), batch_size):
            chunk = full[k:k + batch_size]
            logits = model(torch.tensor([seqs[i] for i in chunk], device=device))[:, -1]
            allowed = constrain(chunk, logits)
            for b, i in enumerate(chunk):
                t = int(sample_next(allowed[b:b + 1], sampling)[0])
                replies[i].push(t, Step([t], [False], logits[b:b + 1]))  # at a full window: DONE, by the stop or the context
        rest = sorted((i for i in live if len(seqs[i]) < window), key=lambda i: len(seqs[i]))
        for k in range(0, len(rest), batch_size):
            chunk = rest[k:k + batch_size]
            steps = generate_batch(model, [seqs[i] for i in chunk], sampling=sampling,
                                   seed=None if seed is None else seed + round_, stop_ids=stops,
                                   max_tokens=max(replies[i].max_tokens - replies[i].sampled for i in chunk),
                                   constrain=lambda logits, chunk=chunk: constrain(chunk, logits))
            for step in steps:
                writing = False
                for b, i in enumerate(chunk):
                    t, r = step.tokens[b], replies[i]
                    if t is None or not r.wants_token():
                        continue
                    r.push(t, Step([t], [False], step.logits[b:b + 1]))
                    if r.state != DONE:
                        seqs[i].append(t)
                    writing |= r.state in (WRITING, IN_CALL)
                if not writing:  # every row of the batch has stopped, closed a call or ended
                    break
    return [r.finish() for r in replies]
