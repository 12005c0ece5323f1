"""Reading a user's own conversations: JSONL in the OpenAI chat format, checked line by line.

    {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": "What is 2 + 2?"},
                  {"role": "assistant", "content": null,
                   "tool_calls": [{"id": "call_1", "type": "function",
                                   "function": {"name": "python", "arguments": "{\\"code\\": \\"2 + 2\\"}"}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "4"},
                  {"role": "assistant", "content": "2 + 2 = 4."}]}

A bad line is skipped and counted under its reason, with its line number, and never stops the
read; blank lines are ignored. Kept conversations are normalised: plain dicts, content always a
string ("" on an assistant message that only calls tools), tool-call arguments parsed to dicts,
"developer" (OpenAI's newer name for system) read as "system", text-part lists
([{"type": "text", "text": ...}]) joined into one string. Keys other than "messages" on a line
(e.g. "tools") are kept; "line" is set to the line number. Whether a conversation fits the
model's context is for the training code to say, not this reader.
"""

from __future__ import annotations

import json
from pathlib import Path

from dentro.chat.template import trained
from dentro.errors import UserError

ROLES = ("system", "user", "assistant", "tool")
MAX_LINES_LISTED = 20  # line numbers kept per reason

FORMAT = ('each line must be one JSON object {"messages": [...]}, e.g. {"messages": [{"role": "user", '
          '"content": "Oi!"}, {"role": "assistant", "content": "Olá! Como posso ajudar?"}]}: roles system, '
          'user, assistant or tool; content a non-empty string (null allowed on an assistant message with '
          'tool_calls); at least one assistant message; tool calls as the OpenAI API writes them '
          '([{"id", "type": "function", "function": {"name", "arguments": JSON object as a string}}]), '
          'each tool message after an assistant message with tool_calls')


class Bad(Exception):
    """A line that cannot be used; args[0] is the reason (a stats key)."""


def _text(content) -> str:
    """content -> str; a list of {"type": "text", "text": str} parts is joined."""
    if isinstance(content, list) and content and all(
            isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
        content = "".join(p["text"] for p in content)
    if not isinstance(content, str):
        raise Bad("bad_content")
    return content


def _tool_calls(calls) -> list[dict]:
    if not isinstance(calls, list):
        raise Bad("bad_tool_calls")
    out = []
    for k, c in enumerate(calls):
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict) or c.get("type", "function") != "function":
            raise Bad("bad_tool_calls")
        name, args, cid = fn.get("name"), fn.get("arguments"), c.get("id", f"call_{k}")
        if not isinstance(name, str) or not name.strip() or not isinstance(cid, str):
            raise Bad("bad_tool_calls")
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except (ValueError, RecursionError):  # RecursionError: "[[[[...]]]]" nested too deep
                raise Bad("bad_tool_calls") from None
        if not isinstance(args, dict):  # a function takes a JSON object
            raise Bad("bad_tool_calls")
        out.append({"id": cid, "type": "function", "function": {"name": name, "arguments": args}})
    return out


def _message(m, after_calls: bool) -> dict:
    """One message -> its normalised dict, or Bad. after_calls: the previous message was an
    assistant message with tool_calls, or a tool message answering one."""
    if not isinstance(m, dict):
        raise Bad("bad_message")
    role = m.get("role")
    role = "system" if role == "developer" else role
    if role not in ROLES:
        raise Bad("unknown_role")
    out = {"role": role}
    calls = m.get("tool_calls") or None  # some exporters write "tool_calls": [] on every message
    if calls is not None and role != "assistant":
        raise Bad("bad_tool_calls")  # only the assistant calls tools
    if calls is not None:
        out["tool_calls"] = _tool_calls(calls)
        out["content"] = "" if m.get("content") is None else _text(m["content"])
    elif role == "tool":
        if not after_calls:
            raise Bad("bad_tool_calls")  # a tool answer to no call
        out["content"] = _text(m.get("content"))  # may be empty: a tool can print nothing
        if m.get("tool_call_id") is not None:
            if not isinstance(m["tool_call_id"], str):
                raise Bad("bad_tool_calls")
            out["tool_call_id"] = m["tool_call_id"]
    else:
        out["content"] = _text(m.get("content"))
        if not out["content"].strip():
            raise Bad("bad_content")
    if isinstance(m.get("name"), str):
        out["name"] = m["name"]
    if role == "assistant" and m.get("weight") in (0, 1):  # OpenAI fine-tuning: 0 = do not train on it
        out["weight"] = m["weight"]
    return out


def parse_line(raw: bytes) -> dict:
    """One JSONL line -> a normalised conversation, or Bad(reason)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Bad("bad_unicode") from None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise Bad("not_json") from None
    if not isinstance(obj, dict):
        raise Bad("not_object")
    msgs = obj.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise Bad("no_messages")
    out, after_calls = [], False
    for m in msgs:
        nm = _message(m, after_calls)
        after_calls = "tool_calls" in nm or (nm["role"] == "tool" and after_calls)
        out.append(nm)
    if not any(m["role"] == "assistant" and trained(m) for m in out):
        raise Bad("no_assistant")  # no assistant turn to train on ("weight": 0 on every one counts as none)
    conv = {k: v for k, v in obj.items() if k != "messages"}
    conv["messages"] = out
    try:  # "\ud800" is valid JSON but no text: the tokenizer could not encode it
        json.dumps(conv, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Bad("bad_unicode") from None
    return conv


def read_conversations(path) -> tuple[list[dict], dict]:
    """A JSONL file of OpenAI-format conversations -> (conversations, stats), stats =
    {"lines", "kept", "skipped": {reason: count}, "skipped_lines": {reason: [line numbers,
    the first 20]}}; "lines" counts non-blank lines. Raises UserError when the file is
    missing or has no usable line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; give a JSONL file of conversations ({FORMAT})")
    convs, skipped, where = [], {}, {}
    n = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            raw = raw.removeprefix(b"\xef\xbb\xbf") if lineno == 1 else raw  # a UTF-8 byte-order mark
            if not raw.strip():
                continue
            n += 1
            try:
                conv = parse_line(raw)
            except Bad as e:
                reason = e.args[0]
                skipped[reason] = skipped.get(reason, 0) + 1
                lines = where.setdefault(reason, [])
                if len(lines) < MAX_LINES_LISTED:
                    lines.append(lineno)
                continue
            conv["line"] = lineno
            convs.append(conv)
    stats = {"lines": n, "kept": len(convs), "skipped": skipped, "skipped_lines": where}
    if not convs:
        found = "; ".join(f"{r}: {c} (lines {', '.join(map(str, where[r]))}{', ...' if c > len(where[r]) else ''})"
                          for r, c in skipped.items())
        raise UserError(f"{path}: no usable conversation in {n} non-blank lines"
                        + (f" ({found})" if found else "") + f"; {FORMAT}")
    return convs, stats
