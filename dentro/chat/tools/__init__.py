"""The tools the assistant may call, and one dispatcher that runs a call (docs/tools.md).

    search.py    full-text search over a corpus: SQLite FTS5 passages ranked by BM25
    sandbox.py   runs model-written Python in a sandbox (namespaces + rlimits, or rlimits only)

The assistant writes <tool_call>{"name": "search", "arguments": {"query": "..."}}</tool_call>;
the engine passes name and arguments to call_tool and puts the string it returns inside
<tool_response>...</tool_response>. call_tool never raises: an unknown tool, bad arguments or a
failing tool come back as a short "Error: ..." the model can read and recover from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dentro.chat.tools import sandbox, search

# OpenAI `tools` format: the server's /v1/chat/completions accepts and returns these, and the
# system prompt that describes the tools to the model is rendered from them.
TOOLS = {
    "search": {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the knowledge base for passages about a topic. Returns the best "
                           "matching passages with their source.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "words to look for"}},
                "required": ["query"],
            },
        },
    },
    "python": {
        "type": "function",
        "function": {
            "name": "python",
            "description": "Run a short Python program (standard library only, no files, no network) "
                           "and return what it prints. Use print() to see a result.",
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string", "description": "the Python source to run"}},
                "required": ["code"],
            },
        },
    },
}

# The system prompt line that tells the model it has tools: stage 6 trains every tool
# conversation with it, and `dentro chat` (tools on) adds it to the conversation's system
# message; without it the model answers (or refuses) on its own.
TOOLS_PROMPT = "Tools: search, python."
NO_RESULTS = "No results."   # what search answers when no passage matches

MAX_ARGUMENT_CHARS = 20_000  # a query or a program longer than this is a runaway generation


@dataclass
class ToolContext:
    """What the tools need from the caller: the search index and the limits of a call."""
    index_path: Path | None = None  # None: search answers that no index is available
    k: int = 3  # passages per search
    max_chars: int = 1200  # characters of passages per search response
    timeout_s: float = 5
    memory_mb: int = 256
    max_output: int = 2000  # characters of program output per python response
    sources: bool = True  # each passage ends with "(source: url)"
    # what the model copies, it copies whole (dentro.chat.copying): a search query's quoted phrase is
    # text of the conversation (and after searches that found nothing, the answer's names are the
    # question's); a number that starts as a copy of one of its numbers ends as that number
    # (and a python program that holds the question's numbers stops there, unless the model is sure;
    # its operator is the one the question names)
    copy_quotes: bool = True
    copy_numbers: bool = True


def tool_calls(messages: list[dict]):
    """(index of the message, tool name, arguments as a dict) of every tool call of OpenAI-format
    messages, in order."""
    for i, m in enumerate(messages):
        for call in m.get("tool_calls") or []:
            args = call["function"]["arguments"]
            yield i, call["function"]["name"], json.loads(args) if isinstance(args, str) else args


def call_tool(name: str, arguments: dict | str, *, context: ToolContext) -> str:
    """Run one tool call; return the text for <tool_response>. Never raises."""
    try:
        if name not in TOOLS:
            return f"Error: unknown tool {name!r}; the tools are: {', '.join(TOOLS)}"
        arguments = _check_arguments(name, arguments)
        if isinstance(arguments, str):
            return arguments
        if name == "search":
            return _search(arguments["query"], context)
        return _python(arguments["code"], context)
    except Exception as e:  # a tool failure is a message to the model, not a crash of the engine
        return f"Error: {type(e).__name__}: {str(e)[:300]}"


def _check_arguments(name: str, arguments) -> dict | str:
    """The arguments as a dict, or an error string saying what is wrong with them."""
    if isinstance(arguments, str):  # OpenAI tool_calls carry arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as e:
            return f"Error: arguments are not valid JSON ({e.msg} at character {e.pos})"
    if not isinstance(arguments, dict):
        return f"Error: arguments must be a JSON object, got {type(arguments).__name__}"
    schema = TOOLS[name]["function"]["parameters"]
    missing = [key for key in schema["required"] if key not in arguments]
    if missing:
        return f"Error: {name} needs the argument(s) {', '.join(missing)}"
    extra = [key for key in arguments if key not in schema["properties"]]
    if extra:
        return f"Error: {name} takes only {', '.join(schema['properties'])}; unknown: {', '.join(map(str, extra))}"
    for key, value in arguments.items():
        if not isinstance(value, str):
            return f"Error: argument {key} must be a string, got {type(value).__name__}"
        if len(value) > MAX_ARGUMENT_CHARS:
            return f"Error: argument {key} is {len(value)} characters; the limit is {MAX_ARGUMENT_CHARS}"
    return arguments


def _search(query: str, context: ToolContext) -> str:
    if context.index_path is None:
        return "Error: no search index is available"
    results = search.search(context.index_path, query, k=context.k, max_chars=context.max_chars)
    if not results:
        return NO_RESULTS
    return search_response(query, [(r["text"], r["url"] if context.sources else None) for r in results])


def search_response(query: str, passages: list[tuple[str, str | None]]) -> str:
    """The text of a search's <tool_response>: each passage numbered ("[1] ...", with
    "(source: url)" when it has one), then the query again on the last line ("Query: ...").
    The query comes last so that what was asked (the name and the word asked about) is the
    last thing the model reads before it answers: a small model answers from the few tokens
    just before, and the question and its own "Vou procurar a mãe de X." are a passage away.
    With it, the tiny model reads a rare fact right from a result that holds it about 1 time in 4
    instead of 1 in 8 (docs/factuality.md, "The query at the end of a search result")."""
    lines = [f"[{i}] {text}" + (f" (source: {url})" if url else "") for i, (text, url) in enumerate(passages, 1)]
    return "\n".join(lines + [f"Query: {' '.join(query.split())}"])   # one line, whatever the model wrote


def response_passages(response: str) -> str:
    """A search response without its last "Query: ..." line: what the passages say, for checking
    whether a result holds an answer (the query names what is asked, never where it was found).
    Passages hold no line break (search.passages joins their words with spaces), nor does the
    query line, so the last "\nQuery: " is where that line starts."""
    head, sep, _ = response.rpartition("\nQuery: ")
    return head if sep else response


def _python(code: str, context: ToolContext) -> str:
    r = sandbox.run_python(code, timeout_s=context.timeout_s, memory_mb=context.memory_mb,
                           max_output=context.max_output)
    out = r["stdout"].rstrip("\n")
    if r["ok"]:
        return out if out else "(no output; use print() to see a value)"
    return (out + "\n" if out else "") + f"Error: {r['error']}"
