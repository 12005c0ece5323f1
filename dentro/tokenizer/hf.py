"""Export a dentro Tokenizer to a Hugging Face `tokenizer.json` (the `tokenizers` library's format).

Three things make the export encode exactly like tiktoken does:
1. Byte-level alphabet: HF's BPE works on strings, so each byte is shown as one printable
   character (GPT-2's byte->unicode table: printable Latin-1 bytes stand for themselves,
   the others are shifted to U+0100 and up; the space 0x20 becomes 'Ġ').
2. Merges: tiktoken has no merge list; it repeatedly joins the adjacent pair whose
   concatenation has the lowest rank. So every way of splitting a token into two tokens
   becomes a merge, ordered by the rank of the result: HF then picks the same pair.
3. `ignore_merges`: like tiktoken, a pre-token that is itself in the vocabulary is one token.
The split pattern goes in a Split pre-tokenizer; special tokens are added tokens.
"""

from __future__ import annotations


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 bytes to 256 printable characters."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, shift = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + shift)
            shift += 1
    return table


def hf_tokenizer_dict(tok) -> dict:
    b2u = byte_to_unicode()

    def show(b: bytes) -> str:
        return "".join(b2u[x] for x in b)

    rank = {}  # bytes -> id, the first id of a (rare) twin, as in Tokenizer
    for i in range(tok.n_ranks):
        rank.setdefault(tok.token_bytes(i), i)
    vocab = {show(b): i for b, i in rank.items()}
    merges = []  # (rank of result, rank of left part, left, right)
    for b, r in rank.items():
        for k in range(1, len(b)):
            left, right = b[:k], b[k:]
            if left in rank and right in rank:
                merges.append((r, rank[left], show(left), show(right)))
    merges.sort()
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s, i in tok.special_tokens.items()]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": tok.pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": True, "vocab": vocab, "merges": [[a, b] for _, _, a, b in merges]},
    }
