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

    docs: objects with .text and .language (dentro.corpus.Document). At most
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


# ---- the bytes under the tokens ------------------------------------------------------------
# `dentro tokenizer show --bytes`: a token is a run of UTF-8 bytes, not of characters. ASCII
# letters are one byte (0xxxxxxx), "é" two (110xxxxx 10xxxxxx), "😀" four (11110xxx then three
# 10xxxxxx); BPE starts from these bytes (ids 0..255) and joins frequent neighbours into tokens,
# so a token may hold several characters, or only part of one (an emoji the corpus never saw).

def merged_from(tok, i: int) -> list[int] | None:
    """The two tokens BPE joined into token i (None for a single byte or a special token):
    encode i's bytes with only the merges learned before i (minbpe's recover_merges)."""
    if i < 256 or tok.is_special(i):
        return None
    from dentro.tokenizer.reference import encode_chunk

    b = tok.token_bytes(i)
    rank = {}  # the pieces of b that were tokens before i (first id wins, as in bpe.Tokenizer)
    for s in range(len(b)):
        for e in range(s + 1, len(b) + 1):
            j = tok.encode_bytes(b[s:e])
            if len(j) == 1 and j[0] < i:
                rank[b[s:e]] = j[0]
    parts = encode_chunk(b, rank)
    return parts if len(parts) == 2 else None  # a twin learned twice (bpe.Tokenizer.n_unreachable)


def byte_view(tok, text: str) -> dict:
    """JSON-able: every character with its UTF-8 bytes (hex, bits) and the tokens they went into.

    {"text", "n_chars", "n_bytes", "n_tokens",
     "chars":  [{"char", "codepoint": "U+00E9", "hex": ["c3", "a9"], "bits": ["11000011", ...],
                 "byte_start", "tokens": [token positions holding its bytes]}],
     "tokens": [{"id", "text" (whitespace visible), "hex", "byte_start", "byte_end",
                 "chars": [character positions], "merged_from": [left id, right id] | null,
                 "merged_text": [left, right] | null}]}"""
    data = text.encode("utf-8")
    ids = tok.encode(text)
    tokens, pos = [], 0
    for k, i in enumerate(ids):
        b = tok.token_bytes(i)
        parts = merged_from(tok, i)
        tokens.append({"id": i, "text": visible(b), "hex": [f"{x:02x}" for x in b],
                       "byte_start": pos, "byte_end": pos + len(b), "chars": [], "merged_from": parts,
                       "merged_text": [visible(tok.token_bytes(j)) for j in parts] if parts else None})
        pos += len(b)
    assert pos == len(data), "the tokens do not spell the text"
    token_at = [k for k, t in enumerate(tokens) for _ in range(t["byte_end"] - t["byte_start"])]  # byte -> token
    chars, pos = [], 0
    for c, ch in enumerate(text):
        b = ch.encode("utf-8")
        held = sorted(set(token_at[pos:pos + len(b)]))
        for k in held:
            tokens[k]["chars"].append(c)
        chars.append({"char": ch, "codepoint": f"U+{ord(ch):04X}", "hex": [f"{x:02x}" for x in b],
                      "bits": [f"{x:08b}" for x in b], "byte_start": pos, "tokens": held})
        pos += len(b)
    return {"text": text, "n_chars": len(text), "n_bytes": len(data), "n_tokens": len(ids),
            "chars": chars, "tokens": tokens}


def render_bytes(view: dict) -> str:
    """byte_view as two plain-text tables: characters -> bytes, then tokens -> bytes."""
    width = max([len(" ".join(c["bits"])) for c in view["chars"]] + [4])
    lines = [f"{'char':<6}{'code':<9}{'UTF-8 (hex)':<13}{'bits':<{width + 2}}token #",
             "-" * (30 + width + 8)]
    for c in view["chars"]:
        shown = VISIBLE.get(c["char"], c["char"]) if c["char"].isprintable() or c["char"] in VISIBLE \
            else c["codepoint"]
        lines.append(f"{shown:<6}{c['codepoint']:<9}{' '.join(c['hex']):<13}{' '.join(c['bits']):<{width + 2}}"
                     + ", ".join(str(k) for k in c["tokens"]))
    lines += ["", f"{'token #':<9}{'id':<7}{'bytes (hex)':<24}{'token':<14}BPE merged it from"]
    for k, t in enumerate(view["tokens"]):
        parts = " + ".join(f"{p} '{x}'" for p, x in zip(t["merged_from"], t["merged_text"])) if t["merged_from"] else \
            ("a single byte" if t["id"] < 256 else "")
        lines.append(f"{k:<9}{t['id']:<7}{' '.join(t['hex']):<24}{t['text']:<14}{parts}")
    lines += ["", f"{view['n_chars']} characters · {view['n_bytes']} bytes (UTF-8) · {view['n_tokens']} tokens"]
    return "\n".join(lines)
