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

tool_loop() yields events for a UI: Token (every sampled token; `text` is what to print, empty
inside a call), ToolCall, ToolResult, and last Done, which holds the reply as OpenAI-format
messages: [assistant with tool_calls, tool, ..., assistant]. A call the loop could not parse is
kept as the assistant's text (render() gives back the tokens the model wrote) followed by the
tool message with the error, so those messages too render as what the model saw.

think=False (thinking switched off, the prompt built with it): every assistant turn after a
tool's answer opens with the empty <think> block too, as a request rendered with
enable_thinking=False would, and each assistant message of Done starts with it (THINK_OFF).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass

import torch

from dentro.chat.template import THINK_OFF
from dentro.chat.tools import ToolContext, call_tool
from dentro.model.engine import Sampling, Step, sample_next
from dentro.model.gpt import KVCache

WRITING, IN_CALL, RUNNING, FORCED, DONE = "writing", "in_call", "running", "forced", "done"


@dataclass
class Token:
    id: int
    text: str  # the new printable text of the answer ("" inside a call or mid-character)
    in_call: bool  # part of a <tool_call>...</tool_call> block (the tags included)
    step: Step  # the engine's Step: logits and, with show_top, the top candidates


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
    context = context or ToolContext()
    lead = "" if think else THINK_OFF  # what the template wrote at the start of each assistant turn
    special = tokenizer.special_id
    tool_call, end_call, im_end = special("<tool_call>"), special("</tool_call>"), special("<|im_end|>")
    stops = {im_end, tokenizer.eot_id}
    window = model.config.max_position_embeddings
    weight = next(model.parameters())
    cache = KVCache(model.config, 1, window, device=weight.device, dtype=weight.dtype)
    generator = torch.Generator(device=weight.device).manual_seed(seed) if seed is not None else None

    def feed(ids: list[int]) -> torch.Tensor:  # ids through the model, appended to the cache -> (1, V)
        return model(torch.tensor([ids], device=weight.device), kv_cache=cache)[:, -1]

    if len(prompt) >= window:
        raise ValueError(f"the prompt has {len(prompt)} tokens; the model's context window is {window}")
    logits = feed(prompt)
    messages: list[dict] = []
    text = _Text(tokenizer)  # the current assistant turn's text before any call
    opened = False  # the current turn has written <tool_call>
    call: list[int] = []  # the ids after <tool_call>, up to </tool_call>
    closed_by_model = False  # the model itself wrote the <|im_end|> that ends a call's turn
    between_turns = False  # a tool has answered and its response is not in the cache yet
    result = ""
    sampled = calls = 0
    state, reason = WRITING, None
    while state != DONE:
        if state in (WRITING, IN_CALL):
            if sampled >= max_tokens:
                state, reason = DONE, "max_tokens"
                continue
            t = int(sample_next(logits, sampling, generator)[0])
            sampled += 1
            top = None
            if show_top:
                p, i = logits.softmax(-1).topk(min(show_top, logits.size(-1)), dim=-1)
                top = [list(zip(i[0].tolist(), p[0].tolist()))]
            step = Step([t], [t in stops], logits, top)
            if state == WRITING:
                if t == tool_call and calls >= max_calls:
                    state, reason = DONE, "tool_limit"
                elif t == tool_call:
                    state, opened = IN_CALL, True
                elif t in stops:
                    state, reason = DONE, "stop"
                yield Token(t, text.push(t) if state == WRITING else text.flush(), state == IN_CALL, step)
            else:  # IN_CALL
                if t == end_call:
                    state = RUNNING
                elif t == im_end:  # the turn ended inside the call: no </tool_call>, a malformed call
                    state, closed_by_model = RUNNING, True
                elif t in stops:  # <|endoftext|>: the model left the conversation
                    state, reason = DONE, "stop"
                else:
                    call.append(t)
                yield Token(t, "", True, step)
            if state != DONE:  # the sampled token goes into the cache (</tool_call> included)
                if cache.pos >= window:
                    state, reason = DONE, "context"
                else:
                    logits = feed([t])

        elif state == RUNNING:
            calls += 1
            raw = tokenizer.decode(call)
            parsed = parse_call(raw.strip()) if not closed_by_model else \
                "Error: the tool call was not closed with </tool_call>"
            content = tokenizer.decode(text.ids)
            if isinstance(parsed, str):  # malformed: kept as text, answered with the error, not run
                yield ToolCall(None, None, raw)
                result = parsed
                written = lead + content + "<tool_call>" + raw + ("" if closed_by_model else "</tool_call>")
                messages.append({"role": "assistant", "content": written})
                messages.append({"role": "tool", "content": result})
            else:
                name, arguments = parsed
                yield ToolCall(name, arguments, raw)
                result = run_tool(name, arguments, context=context)
                cid = f"call_{calls}"
                messages.append({"role": "assistant", "content": lead + content.removesuffix("\n"),  # the template's \n
                                 "tool_calls": [{"id": cid, "type": "function", "function": {
                                     "name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}]})
                messages.append({"role": "tool", "tool_call_id": cid, "content": result})
            yield ToolResult(result)
            state, between_turns = FORCED, True

        elif state == FORCED:
            forced = response_ids(tokenizer, result, think)
            if closed_by_model:
                forced = forced[1:]  # the model's own <|im_end|> is already in the cache
            if cache.pos + len(forced) > window:
                state, reason = DONE, "context"
                continue
            logits = feed(forced)
            text, opened, call, closed_by_model, between_turns = _Text(tokenizer), False, [], False, False
            state = WRITING

    # The last assistant turn: kept when the model closed it, or wrote anything in it.
    if not between_turns and (reason == "stop" or text.ids or opened or not messages):
        content = lead + tokenizer.decode(text.ids)
        if opened:  # ended inside a call (cut, or <|endoftext|>): what the model wrote, as text
            content += "<tool_call>" + tokenizer.decode(call)
        messages.append({"role": "assistant", "content": content})
    yield Done(reason, messages)
    return messages
