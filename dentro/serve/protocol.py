"""The OpenAI protocol subset dentro serves: request validation and response shapes.

Requests are checked field by field; anything wrong raises ApiError (status, message, param),
which the app answers in OpenAI's error JSON: {"error": {"message", "type", "param", "code"}}.
Fields that OpenAI defines but dentro does not use (frequency_penalty, user, metadata, ...) are
ignored, as vLLM does; fields whose meaning dentro cannot honour (echo, best_of > 1, images) are
refused with a 400 rather than silently dropped. vLLM's extension chat_template_kwargs is read
for its enable_thinking (false: the prompt ends with the empty <think> block, as Qwen3's template
writes it); its other keys are ignored, as a template that does not use them would.
Sources: https://platform.openai.com/docs/api-reference/chat and .../completions (shapes of
responses, chunks, logprobs), vLLM's openai/protocol.py (the same subset, for comparison).
"""

from __future__ import annotations

import json
import math
import secrets
import time
from dataclasses import dataclass, field

MAX_N = 8  # choices per request
MAX_STOP = 4  # stop strings per request (OpenAI's limit)
MAX_TOP_LOGPROBS = 20  # chat; completions allow 5 in OpenAI, we allow the same 20


class ApiError(Exception):
    TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
             405: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error",
             500: "server_error", 503: "server_error"}

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.headers = status, message, param, code, headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.TYPES.get(self.status, "invalid_request_error"),
                          "param": self.param, "code": self.code}}


# ---- JSON body ------------------------------------------------------------------------------
def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> dict:
    """The request body -> a dict, or a 400 (invalid UTF-8, bad JSON, NaN, lone surrogates, too deep)."""
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise ApiError(400, "the request body is not valid UTF-8") from None
    except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError; so are 5000-digit ints
        raise ApiError(400, f"the request body is not valid JSON: {str(e)[:200]}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the request body must be a JSON object, got {type(body).__name__}")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "the request holds a string that is not valid Unicode (a lone surrogate?)") from None
    except (ValueError, RecursionError):
        raise ApiError(400, "the request body is nested too deeply") from None
    return body


# ---- typed fields ---------------------------------------------------------------------------
def _number(body, name, lo, hi, default, integer=False):
    v = body.get(name)
    if v is None:
        return default
    kind = int if integer else (int, float)
    if isinstance(v, bool) or not isinstance(v, kind) or (isinstance(v, float) and not math.isfinite(v)):
        raise ApiError(400, f"{name} must be {'an integer' if integer else 'a number'}, got {json.dumps(v)[:50]}",
                       name)
    if v < lo or (hi is not None and v > hi):
        raise ApiError(400, f"{name} must be between {lo} and {hi}, got {v}" if hi is not None
                       else f"{name} must be >= {lo}, got {v}", name)
    return v


def _bool(body, name, default=False):
    v = body.get(name)
    if v is None:
        return default
    if not isinstance(v, bool):
        raise ApiError(400, f"{name} must be true or false, got {json.dumps(v)[:50]}", name)
    return v


def _stop(body) -> list[str]:
    v = body.get("stop")
    if v is None:
        return []
    stops = [v] if isinstance(v, str) else v
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops) or len(stops) > MAX_STOP:
        raise ApiError(400, f"stop must be a non-empty string or a list of up to {MAX_STOP} of them", "stop")
    return stops


@dataclass
class Common:
    """What chat and completion requests share."""
    model: str
    temperature: float
    top_p: float | None
    max_tokens: int | None
    stop: list[str]
    seed: int | None
    n: int
    stream: bool
    include_usage: bool
    logprobs: int | None  # None: none; k: the chosen token's and the k most likely


def _common(body: dict, max_tokens_limit: int, logprobs: int | None, max_tokens_names=("max_tokens",)) -> Common:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required: one of the ids GET /v1/models lists", "model")
    max_tokens = None
    for name in max_tokens_names:
        max_tokens = _number(body, name, 1, max_tokens_limit, max_tokens, integer=True)
    stream = _bool(body, "stream")
    opts = body.get("stream_options")
    if opts is not None and (not isinstance(opts, dict) or not stream):
        raise ApiError(400, "stream_options is an object, allowed only with stream: true", "stream_options")
    include_usage = _bool(opts or {}, "include_usage")
    return Common(model=model, temperature=_number(body, "temperature", 0, 2, 1.0),
                  top_p=_number(body, "top_p", 0, 1, None), max_tokens=max_tokens, stop=_stop(body),
                  seed=_number(body, "seed", -2**63, 2**64 - 1, None, integer=True),
                  n=_number(body, "n", 1, MAX_N, 1, integer=True), stream=stream, include_usage=include_usage,
                  logprobs=logprobs)


# ---- chat -----------------------------------------------------------------------------------
@dataclass
class ChatRequest(Common):
    messages: list[dict] = field(default_factory=list)  # clean messages for chat.template.render
    tools: list[dict] = field(default_factory=list)  # the function definitions, when tool calls are parsed
    think: bool = True  # chat_template_kwargs.enable_thinking: False prefills the empty <think> block
    gate: bool = False  # dentro's extension: the confidence gate judges the reply (dentro/chat/gate.py)


def parse_chat(body: dict, max_tokens_limit: int) -> ChatRequest:
    logprobs = None
    if _bool(body, "logprobs"):
        logprobs = _number(body, "top_logprobs", 0, MAX_TOP_LOGPROBS, 0, integer=True)
    elif body.get("top_logprobs") is not None:
        raise ApiError(400, "top_logprobs needs logprobs: true", "top_logprobs")
    c = _common(body, max_tokens_limit, logprobs, ("max_tokens", "max_completion_tokens"))
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise ApiError(400, "messages must be a non-empty list of {role, content} objects", "messages")
    tools = _tools(body)
    gate = _bool(body, "gate")
    if gate and c.n > 1:
        raise ApiError(400, "gate: true answers greedily, so n must be 1", "n")
    if gate and tools:
        raise ApiError(400, "gate: true judges the chat model's answers from memory; send the question without "
                            "tools (`dentro chat` sends unsure questions to the tool model itself)", "gate")
    return ChatRequest(**vars(c), messages=[_message(m, i) for i, m in enumerate(msgs)], tools=tools,
                       think=_enable_thinking(body), gate=gate)


def _enable_thinking(body) -> bool:
    """vLLM's chat_template_kwargs: {"enable_thinking": false} switches thinking off (Qwen3's switch)."""
    kw = body.get("chat_template_kwargs")
    if kw is None:
        return True
    if not isinstance(kw, dict):
        raise ApiError(400, f"chat_template_kwargs must be an object, got {json.dumps(kw)[:50]}",
                       "chat_template_kwargs")
    v = kw.get("enable_thinking")
    if v is not None and not isinstance(v, bool):
        raise ApiError(400, f"chat_template_kwargs.enable_thinking must be true or false, got {json.dumps(v)[:50]}",
                       "chat_template_kwargs")
    return v is not False


def _content(c, where: str) -> str:
    """A message's content: a string, or OpenAI's list of parts of which only text is understood."""
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        texts = []
        for p in c:
            if not isinstance(p, dict) or p.get("type") != "text" or not isinstance(p.get("text"), str):
                raise ApiError(400, f"{where}: only text content parts are supported "
                                    "({'type': 'text', 'text': ...}); this model reads no images or audio", "messages")
            texts.append(p["text"])
        return "\n".join(texts)
    raise ApiError(400, f"{where}: content must be a string or a list of text parts", "messages")


def _message(m, i: int) -> dict:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        raise ApiError(400, f"{where} must be an object with role and content", "messages")
    role = m.get("role")
    if role == "developer":  # OpenAI's newer name for the system role
        role = "system"
    if role not in ("system", "user", "assistant", "tool"):
        raise ApiError(400, f"{where}: unknown role {json.dumps(role)[:50]}; expected system, developer, user, "
                            "assistant or tool", "messages")
    calls = m.get("tool_calls") or None
    if role == "assistant" and m.get("content") is None:
        content = ""
    else:
        content = _content(m.get("content"), where)
    out = {"role": role, "content": content}
    if calls is not None:
        if role != "assistant":
            raise ApiError(400, f"{where}: only assistant messages have tool_calls", "messages")
        out["tool_calls"] = calls  # checked by render
    return out


def _tools(body) -> list[dict]:
    tools, choice = body.get("tools"), body.get("tool_choice")
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise ApiError(400, "tools must be a list of {type: function, function: {name, parameters}}", "tools")
    for i, t in enumerate(tools):
        f = t.get("function") if isinstance(t, dict) else None
        if not isinstance(f, dict) or t.get("type", "function") != "function" or not isinstance(f.get("name"), str) \
                or not f["name"]:
            raise ApiError(400, f"tools[{i}] must be {{type: function, function: {{name, description, parameters}}}}",
                           "tools")
    if choice == "none":
        return []
    if choice not in (None, "auto", "required") and not isinstance(choice, dict):
        raise ApiError(400, "tool_choice must be none, auto, required or {type: function, function: {name}}",
                       "tool_choice")
    return tools


def tools_system_text(tools: list[dict]) -> str:
    """The tool descriptions for the system prompt, worded as Qwen3's chat template words them
    (dentro's own template leaves describing the tools to the system message)."""
    lines = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    return ("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" + lines +
            "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
            "<tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>')


def parse_tool_calls(text: str) -> tuple[str, list[dict]] | None:
    """Text the model wrote after its answer began, holding <tool_call>{json}</tool_call> blocks ->
    (the content before the first block, OpenAI tool_calls); None when a block is not a valid call."""
    head, _, rest = text.partition("<tool_call>")
    calls = []
    for block in ("<tool_call>" + rest).split("<tool_call>")[1:]:
        body, closed, tail = block.partition("</tool_call>")
        try:
            obj = json.loads(body)
        except ValueError:
            return None
        if not closed or tail.strip() or not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            return None
        args = obj.get("arguments", {})
        calls.append({"id": "call_" + secrets.token_hex(12), "type": "function",
                      "function": {"name": obj["name"],
                                   "arguments": args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)}})
    return head.rstrip("\n"), calls


# ---- completions ----------------------------------------------------------------------------
@dataclass
class CompletionRequest(Common):
    prompts: list = field(default_factory=list)  # str or list[int] each


def parse_completion(body: dict, max_tokens_limit: int, vocab_size: int) -> CompletionRequest:
    lp = body.get("logprobs")
    logprobs = None if lp is None or lp is False else _number(body, "logprobs", 0, MAX_TOP_LOGPROBS, 0, integer=True)
    for name in ("echo", "suffix"):
        if body.get(name) not in (None, False, ""):
            raise ApiError(400, f"{name} is not supported by this server", name)
    if _number(body, "best_of", 1, 1, 1, integer=True) != 1:
        raise ApiError(400, "best_of must be 1", "best_of")
    c = _common(body, max_tokens_limit, logprobs)
    if c.max_tokens is None:
        c.max_tokens = min(16, max_tokens_limit)  # OpenAI's default for completions
    p = body.get("prompt")
    if isinstance(p, str) or (isinstance(p, list) and p and all(isinstance(t, int) and not isinstance(t, bool)
                                                                for t in p)):
        prompts = [p]
    elif isinstance(p, list) and p and all(isinstance(x, str) or (isinstance(x, list) and x and all(
            isinstance(t, int) and not isinstance(t, bool) for t in x)) for x in p):
        prompts = p
    else:
        raise ApiError(400, "prompt must be a string, a list of strings, a list of token ids or a list of those",
                       "prompt")
    for x in prompts:
        if isinstance(x, list) and any(not 0 <= t < vocab_size for t in x):
            raise ApiError(400, f"prompt token ids must be in [0, {vocab_size})", "prompt")
    if len(prompts) * c.n > MAX_N:
        raise ApiError(400, f"at most {MAX_N} choices per request (prompts x n)", "n")
    return CompletionRequest(**vars(c), prompts=prompts)


# ---- responses ------------------------------------------------------------------------------
def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def token_text(tokenizer, i: int) -> tuple[str, list[int]]:
    """A token's text as OpenAI reports it (its bytes decoded, U+FFFD for a cut character) and its bytes."""
    b = tokenizer.token_bytes(i)
    return b.decode("utf-8", errors="replace"), list(b)


def chat_logprob(tokenizer, tok) -> dict:
    """One entry of choices[].logprobs.content (chat)."""
    text, b = token_text(tokenizer, tok.id)
    top = []
    for i, lp in tok.top or []:
        t, tb = token_text(tokenizer, i)
        top.append({"token": t, "logprob": lp, "bytes": tb})
    return {"token": text, "logprob": tok.logprob, "bytes": b, "top_logprobs": top}


def completion_logprobs(tokenizer, toks: list, offset0: int) -> dict:
    """choices[].logprobs of a completion: parallel lists, text_offset counted in characters."""
    out = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    offset = offset0
    for tok in toks:
        text, _ = token_text(tokenizer, tok.id)
        out["tokens"].append(text)
        out["token_logprobs"].append(tok.logprob)
        out["top_logprobs"].append({token_text(tokenizer, i)[0]: lp for i, lp in tok.top or []} if tok.top else None)
        out["text_offset"].append(offset)
        offset += len(text)
    return out
