"""Seeing tokens: the Tiktokenizer-style terminal view, a Markdown view, and compression stats.

Terminal view of "O céu é azul" (each token on its own background colour, shown here as [..];
the ids below in the same colours):
    [O][·céu][·é][·azul]
    <id> <id> <id> <id>
    4 tokens · 12 characters · 15 bytes · 3.75 bytes/token
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

# Background colours cycled over tokens (xterm-256 palette, pastel so black text reads well).
BACKGROUNDS = [153, 187, 224, 193, 225, 230, 159, 217]
SPECIAL_STYLE = "\x1b[1;97;45m"  # bold white on magenta: a special token, never plain text
RESET = "\x1b[0m"
VISIBLE = {" ": "·", "\n": "↵", "\t": "→", "\r": "␍"}


def visible(piece: bytes) -> str:
    """Token bytes as text with whitespace made visible; a token holding part of a
    multi-byte character shows its raw bytes (\\xf0\\x9f) instead."""
    s = piece.decode("utf-8", errors="backslashreplace")
    out = []
    for ch in s:
        if ch in VISIBLE:
            out.append(VISIBLE[ch])
        elif not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def render_terminal(tok, ids: list[int], color: bool = True, ids_only: bool = False) -> str:
    """The coloured token view: text line(s) then the ids, same colour per token."""
    if ids_only:
        return " ".join(map(str, ids))
    texts, nums = [], []
    for k, i in enumerate(ids):
        shown = visible(tok.token_bytes(i))
        if tok.is_special(i):
            style = SPECIAL_STYLE
        else:
            style = f"\x1b[30;48;5;{BACKGROUNDS[k % len(BACKGROUNDS)]}m"
        if color:
            texts.append(f"{style}{shown}{RESET}")
            nums.append(f"{style}{i}{RESET}")
        else:
            texts.append(f"[{shown}]")
            nums.append(str(i))
        if tok.token_bytes(i).endswith(b"\n") and not tok.is_special(i):
            texts.append("\n")  # keep the text's line layout after the ↵
    return "".join(texts).rstrip("\n") + "\n\n" + " ".join(nums)


def summary_line(tok, text: str, ids: list[int]) -> str:
    nbytes = len(text.encode("utf-8"))
    n_special = sum(tok.is_special(i) for i in ids)
    line = f"{len(ids)} tokens · {len(text)} characters · {nbytes} bytes"
    if ids:
        line += f" · {nbytes / len(ids):.2f} bytes/token"
    if n_special:
        line += f" · {n_special} special"
    return line


def render_markdown(tok, text: str, per_row: int = 12) -> str:
    """Markdown tables of per_row tokens each: the tokens (whitespace visible) over their ids."""
    ids = tok.encode(text)
    tables = []
    for k in range(0, len(ids), per_row):
        part = ids[k:k + per_row]
        cells = [visible(tok.token_bytes(i)).replace("|", "\\|").replace("`", "'") for i in part]
        tables.append("\n".join(["| " + " | ".join(f"`{c}`" for c in cells) + " |",
                                 "|" + "|".join("---" for _ in part) + "|",
                                 "| " + " | ".join(str(i) for i in part) + " |"]))
    return "\n\n".join(tables)


def compression_stats(tok, docs: Iterable, max_bytes_per_language: int = 5_000_000,
                      batch: int = 256) -> dict[str, dict]:
    """Per language (and 'all'): documents, bytes, words, tokens, bytes/token, tokens/word.

    docs: objects with .text and .language (dentro.tokenizer.corpus.Document). At most
    max_bytes_per_language of text per language is encoded (enough for 3 significant digits).
    Words are whitespace-separated runs, so tokens/word compares languages on the same footing."""
    acc: dict[str, dict] = {}
    docs = iter(docs)
    while True:
        chunk = list(islice(docs, batch))
        if not chunk:
            break
        keep = [d for d in chunk if acc.get(d.language, {}).get("bytes", 0) < max_bytes_per_language]
        for d, ids in zip(keep, tok.encode_batch([d.text for d in keep])):
            for lang in (d.language, "all"):
                a = acc.setdefault(lang, {"documents": 0, "bytes": 0, "words": 0, "tokens": 0})
                a["documents"] += 1
                a["bytes"] += len(d.text.encode("utf-8"))
                a["words"] += len(d.text.split())
                a["tokens"] += len(ids)
    for a in acc.values():
        a["bytes_per_token"] = round(a["bytes"] / a["tokens"], 4) if a["tokens"] else None
        a["tokens_per_word"] = round(a["tokens"] / a["words"], 4) if a["words"] else None
    return acc
