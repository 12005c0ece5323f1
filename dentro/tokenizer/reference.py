"""Byte-level BPE, slowly and readably, in plain Python: the algorithm behind dentro/tokenizer/bpe.py.

The fast path (rustbpe to train, tiktoken to encode) must give the same tokens and ids as
this file on small data; tests/test_tokenizer_reference.py checks it. Read this file to
learn BPE (Sennrich et al. 2016, https://arxiv.org/abs/1508.07909, as byte-level BPE
in GPT-2, Radford et al. 2019); never use it on a real corpus: measured on 200 KB of
Portuguese (benchmarks/tokenizer_speed.py --reference), it trains 200 merges ~85x slower
and encodes ~11x slower than the fast path, and training slows further with more text
and merges because it recounts every pair after each merge.

Training:
  1. Split every text into chunks with the split pattern (words, numbers, punctuation,
     spaces), so no token ever spans two words. Count how often each chunk occurs.
  2. Write each distinct chunk as its UTF-8 bytes: token ids 0..255.
  3. Repeat: count adjacent pairs of ids over all chunks (weighted by chunk frequency);
     the most frequent pair becomes a new token with the next id; replace it everywhere.
     Tie rule (the same as rustbpe's): among pairs with equal counts, the smallest
     (left id, right id) wins.
Encoding (the same rule as tiktoken's):
  a chunk that is a token is that token; otherwise start from its bytes and repeatedly
  join the adjacent pair whose joined bytes form the token with the lowest id (on a tie,
  the leftmost pair), until no adjacent pair forms a token.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import regex  # the `regex` module: Unicode classes \p{L}, \p{N} and possessive quantifiers


def split_chunks(text: str, pattern: str) -> list[str]:
    return regex.findall(pattern, text)


def count_pairs(words: list[list[int]], freqs: list[int]) -> Counter:
    """(a, b) -> how often id a is directly followed by id b, over all chunks."""
    pairs = Counter()
    for ids, f in zip(words, freqs):
        for a, b in zip(ids, ids[1:]):
            pairs[a, b] += f
    return pairs


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of pair in ids, left to right."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train(texts: Iterable[str], n_merges: int, pattern: str) -> tuple[list[tuple[int, int]], list[bytes]]:
    """Learn up to n_merges merges. Returns (merges in order, token bytes by id)."""
    chunks = Counter()
    for text in texts:
        chunks.update(split_chunks(text, pattern))
    words = [list(c.encode("utf-8")) for c in chunks]
    freqs = list(chunks.values())
    vocab = [bytes([i]) for i in range(256)]
    merges = []
    for _ in range(n_merges):
        pairs = count_pairs(words, freqs)
        if not pairs:
            break  # every chunk is a single token already
        best = max(pairs, key=lambda p: (pairs[p], -p[0], -p[1]))  # most frequent; tie: smallest pair
        new_id = len(vocab)
        words = [merge(ids, best, new_id) for ids in words]
        merges.append(best)
        vocab.append(vocab[best[0]] + vocab[best[1]])
    return merges, vocab


def encode_chunk(chunk: bytes, rank: dict[bytes, int]) -> list[int]:
    if chunk in rank:
        return [rank[chunk]]
    parts = [bytes([b]) for b in chunk]
    while len(parts) > 1:
        best_rank, best_i = None, None
        for i in range(len(parts) - 1):
            r = rank.get(parts[i] + parts[i + 1])
            if r is not None and (best_rank is None or r < best_rank):
                best_rank, best_i = r, i
        if best_i is None:
            break
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return [rank[p] for p in parts]


def encode(text: str, vocab: list[bytes], pattern: str) -> list[int]:
    """Plain text -> ids (no special tokens)."""
    rank = {}
    for i, b in enumerate(vocab):
        rank.setdefault(b, i)  # a byte string learned twice: the first id is the token
    ids = []
    for chunk in split_chunks(text, pattern):
        ids.extend(encode_chunk(chunk.encode("utf-8"), rank))
    return ids


def decode(ids: Iterable[int], vocab: list[bytes]) -> str:
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
