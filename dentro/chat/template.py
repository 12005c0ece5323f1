"""The chat template: ChatML as Qwen3 writes it. One renderer gives the text, the token ids and
the training mask; JINJA_TEMPLATE is the same template for Hugging Face's tokenizer_config.json.

A conversation is a list of OpenAI-format messages:

    {"role": "system" | "user" | "assistant" | "tool", "content": str,
     "tool_calls": [{"type": "function",                        # assistant only, optional;
                     "function": {"name": str, "arguments": dict | JSON str}}]}  # content may then be None

It renders as below (<|...|> and <tag> spellings are single special ids; `trained` marks the
tokens the SFT loss is computed on):

    <|endoftext|>                                     document start, as every pretraining document
    <|im_start|>system\n{content}<|im_end|>\n         a system prompt is its own turn, never merged
    <|im_start|>user\n{content}<|im_end|>\n
    <|im_start|>assistant\n{content}                  trained: content ...
    \n<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>   ... one block per call (no \n
                                                      before the first if content is empty) ...
    <|im_end|>\n                                      ... and <|im_end|>; the \n after it is not
    <|im_start|>user\n<tool_response>\n{content}\n</tool_response>\n<tool_response>\n...\n</tool_response><|im_end|>\n
                                                      consecutive tool messages share one user turn
    <|im_start|>assistant\n                           add_generation_prompt=True
    <think>\n\n</think>\n\n                          ... and think=False (Qwen3's enable_thinking=False)

Thinking switched off is an empty <think> block that the template writes, not the model: when
an assistant turn opens with it (a direct answer in the SFT data) it is not trained, and
`think=False` prefills it. A model trained so thinks by default where its data did (math) and
answers at once when the request says so (`dentro chat --no-think`, the evaluation's direct form).
An assistant message with `"weight": 0` (OpenAI's fine-tuning format: a turn the model reads,
not one it learns to write) is rendered the same and trained nowhere.

Unlike Qwen3's own template: no built-in tools system prompt (whoever writes the system message
describes the tools), and the assistant's <think>...</think> is kept as written in every turn
(Qwen3 drops it from turns before the last user message).

Trust: system, user and tool text is encoded with Tokenizer.encode, so a user who types
`<|im_start|>` gets plain text tokens. Assistant text (SFT data, or the model's own output) may
hold <think>, </think> and the tool-call tags as special ids, but the ChatML and <|endoftext|>
spellings stay plain text there too: only the template opens and closes turns.
"""

from __future__ import annotations

import itertools
import json

ROLES = ("system", "user", "assistant", "tool")
# Special tokens that assistant content may contain as special ids (reasoning, tool calls).
ASSISTANT_SPECIALS = frozenset({"<think>", "</think>", "<tool_call>", "</tool_call>"})
THINK_OFF = "<think>\n\n</think>\n\n"  # an empty thinking block: thinking switched off

# The rendered conversation is a list of pieces (text, kind, trained):
#   kind "special": one special token, written by the template;
#   kind "text": template or system/user/tool text, encoded with Tokenizer.encode;
#   kind "assistant": assistant text, encoded with ASSISTANT_SPECIALS allowed.
Piece = tuple[str, str, bool]


def render_text(messages: list[dict], *, add_generation_prompt: bool = False, think: bool = True) -> str:
    """The conversation as one string (what JINJA_TEMPLATE renders too, think=False being its
    enable_thinking=False)."""
    return "".join(text for text, _, _ in _pieces(messages, add_generation_prompt, think))


def render(tokenizer, messages: list[dict], *, add_generation_prompt: bool = False,
           think: bool = True) -> tuple[list[int], list[int]]:
    """-> (ids, mask), same length; mask[i] = 1 where token i is trained (assistant content,
    its tool calls and its <|im_end|>). The ids equal encode_with_special(render_text()) as long
    as no system/user/tool text spells a special token, nor assistant text a ChatML one."""
    ids, mask = [], []
    pieces = _pieces(messages, add_generation_prompt, think)
    for is_special, group in itertools.groupby(pieces, key=lambda p: p[1] == "special"):
        if is_special:
            for text, _, trained in group:
                ids.append(tokenizer.special_id(text))
                mask.append(int(trained))
        else:
            # Text between two special tokens is encoded as one string, so that BPE merges across
            # piece boundaries ("assistant\n" | content) exactly as it does on the whole text.
            run_ids, run_mask = _encode_run(tokenizer, list(group))
            ids += run_ids
            mask += run_mask
    return ids, mask


def _encode_run(tokenizer, run: list[Piece]) -> tuple[list[int], list[int]]:
    """One run of text pieces -> (ids, mask). A token is trained if any of its bytes comes from
    a trained piece (a token may straddle "assistant\n" and the content, e.g. "\n\n")."""
    text = "".join(t for t, _, _ in run)
    # A run never mixes assistant text with user text: every turn ends with <|im_end|>.
    if any(kind == "assistant" for _, kind, _ in run):
        ids = tokenizer.encode_with_special(text, allowed=ASSISTANT_SPECIALS)
    else:
        ids = tokenizer.encode(text)
    trained, pos = [], 0  # byte ranges [a, b) of the trained pieces within the run
    for t, _, is_trained in run:
        n = len(t.encode("utf-8"))
        if is_trained and n:
            trained.append((pos, pos + n))
        pos += n
    mask, pos = [], 0
    for i in ids:
        n = len(tokenizer.token_bytes(i))  # a special id's bytes are its spelling, as in the text
        mask.append(int(any(a < pos + n and pos < b for a, b in trained)))
        pos += n
    assert pos == len(text.encode("utf-8")), "token bytes do not add up to the text"
    return ids, mask


def trained(message: dict) -> bool:
    """An assistant message is trained unless it has OpenAI fine-tuning's "weight": 0 (shown, not learned)."""
    return message.get("weight", 1) != 0


def _pieces(messages: list[dict], add_generation_prompt: bool, think: bool = True) -> list[Piece]:
    messages = _check_list(messages)
    turns = [_check(m, i) for i, m in enumerate(messages)]
    out: list[Piece] = [("<|endoftext|>", "special", False)]
    for i, (role, content, calls) in enumerate(turns):
        if role == "tool":
            # Tool results are shown to the model as a user turn (Qwen3); consecutive results
            # (answers to one assistant message's several calls) share that turn.
            if i == 0 or turns[i - 1][0] != "tool":
                out += [("<|im_start|>", "special", False), ("user", "text", False)]
            out += [("\n", "text", False), ("<tool_response>", "special", False),
                    ("\n" + content + "\n", "text", False), ("</tool_response>", "special", False)]
            if i == len(turns) - 1 or turns[i + 1][0] != "tool":
                out += [("<|im_end|>", "special", False), ("\n", "text", False)]
        elif role == "assistant":
            train = trained(messages[i])
            out += [("<|im_start|>", "special", False), ("assistant\n", "text", False)]
            if content.startswith(THINK_OFF):  # the template's, not the model's: not trained
                out.append((THINK_OFF, "assistant", False))
                content = content[len(THINK_OFF):]
            out.append((content, "assistant", train))
            for j, call in enumerate(calls):
                sep = "\n" if content or j > 0 else ""
                out += [(sep, "assistant", train), ("<tool_call>", "special", train),
                        ("\n" + call + "\n", "assistant", train), ("</tool_call>", "special", train)]
            out += [("<|im_end|>", "special", train), ("\n", "text", False)]
        else:  # system, user
            out += [("<|im_start|>", "special", False), (role + "\n" + content, "text", False),
                    ("<|im_end|>", "special", False), ("\n", "text", False)]
    if add_generation_prompt:
        out += [("<|im_start|>", "special", False), ("assistant\n", "text", False)]
        if not think:
            out.append((THINK_OFF, "assistant", False))
    return out


# ---- validation: clear errors for malformed messages ----------------------------------------
def _check_list(messages) -> list:
    if not isinstance(messages, (list, tuple)):
        raise ValueError(f"a conversation is a list of messages, got {type(messages).__name__}")
    return list(messages)


def _check(m, i: int) -> tuple[str, str, list[str]]:
    """One message -> (role, content, rendered tool calls), or a ValueError saying what is wrong."""
    if not isinstance(m, dict):
        raise ValueError(f"message {i}: expected a dict with 'role' and 'content', got {type(m).__name__}")
    role, content, calls = m.get("role"), m.get("content"), m.get("tool_calls")
    if role not in ROLES:
        raise ValueError(f"message {i}: unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if calls is not None and role != "assistant":
        raise ValueError(f"message {i}: only assistant messages may have tool_calls (this one is {role!r})")
    if content is None and calls:
        content = ""  # OpenAI writes content null on a message that only calls tools
    if not isinstance(content, str):
        raise ValueError(f"message {i} ({role}): content must be a string, got {type(content).__name__}")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"message {i} ({role}): content is not valid Unicode (a lone surrogate?)") from None
    if calls is not None and not isinstance(calls, list):
        raise ValueError(f"message {i}: tool_calls must be a list, got {type(calls).__name__}")
    return role, content, [_tool_call_json(c, f"message {i}, tool call {j}") for j, c in enumerate(calls or [])]


def _tool_call_json(call, where: str) -> str:
    """{"type": "function", "function": {"name", "arguments"}} -> '{"name": ..., "arguments": ...}'.
    Arguments given as a JSON string are kept as written (Qwen3 and the Jinja template do the
    same; Jinja cannot re-serialise them); a dict is serialised like Jinja's tojson."""
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise ValueError(f"{where}: expected {{'type': 'function', 'function': {{'name': ..., 'arguments': ...}}}}")
    if call.get("type", "function") != "function":
        raise ValueError(f"{where}: type must be 'function', got {call.get('type')!r}")
    name, args = call["function"].get("name"), call["function"].get("arguments")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: function name must be a non-empty string, got {name!r}")
    if isinstance(args, str):
        try:
            parsed = json.loads(args)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}: arguments is not valid JSON ({e})") from None
        if not isinstance(parsed, dict):
            raise ValueError(f"{where}: arguments must be a JSON object, got {args!r}")
        args_json = args
    elif isinstance(args, dict):
        args_json = json.dumps(args, ensure_ascii=False)
    else:
        raise ValueError(f"{where}: arguments must be a dict or a JSON string, got {type(args).__name__}")
    return '{"name": ' + json.dumps(name, ensure_ascii=False) + ', "arguments": ' + args_json + "}"


# ---- the same template in Jinja, for Hugging Face (tokenizer_config.json "chat_template") ----
# Rendered by transformers' apply_chat_template (trim_blocks and lstrip_blocks on; `{%-` and `{{-`
# drop the template's own line breaks, so only the quoted strings reach the output). Its `tojson`
# is json.dumps(ensure_ascii=False), as in _tool_call_json. `{% generation %}` is transformers'
# tag for the trained span: apply_chat_template(return_assistant_tokens_mask=True) then gives the
# mask render() does. tests/test_chat_template.py checks the text byte for byte, the ids and mask.
JINJA_TEMPLATE = r"""{{- '<|endoftext|>' }}
{%- for message in messages %}
    {%- if message.role == 'system' or message.role == 'user' %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- elif message.role == 'assistant' %}
        {%- set content = message.content if message.content is string else '' %}
        {{- '<|im_start|>assistant\n' }}
        {%- if content.startswith('<think>\n\n</think>\n\n') %}
            {{- '<think>\n\n</think>\n\n' }}
            {%- set content = content[19:] %}
        {%- endif %}
        {%- generation %}
        {{- content }}
        {%- for call in message.tool_calls or [] %}
            {%- if content or not loop.first %}
                {{- '\n' }}
            {%- endif %}
            {{- '<tool_call>\n{"name": ' + (call.function.name | tojson) + ', "arguments": ' }}
            {%- if call.function.arguments is string %}
                {{- call.function.arguments }}
            {%- else %}
                {{- call.function.arguments | tojson }}
            {%- endif %}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>' }}
        {%- endgeneration %}
        {{- '\n' }}
    {%- elif message.role == 'tool' %}
        {%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
        {%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- else %}
        {{- raise_exception('unknown role: ' + message.role) }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"""
