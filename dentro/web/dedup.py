"""Deduplication across the whole corpus: exact (normalised text hash) and MinHash near-duplicates.

FineWeb's MinHash (Penedo et al. 2024, §3.3.4; Broder 1997): word 5-grams of the normalised text,
112 hash functions in 14 bands of 8. Two documents with Jaccard similarity s share a band with
probability 1 - (1 - s^8)^14: 0.5 at s = 0.72, 0.94 at s = 0.8, 0.9997 at s = 0.9, but also 0.05
at s = 0.5 and 0.003 at s = 0.4: among thousands of pages made from one template (adverts,
exercise lists) some pairs share a band by chance. So a candidate pair is checked, as LSH's
candidates should be (Leskovec, Rajaraman & Ullman, "Mining of Massive Datasets", ch. 3.4): the
share of its 112 MinHash values that agree estimates its Jaccard similarity (+-0.05 at 0.5), and
the pair is joined only when that is at least MinHashConfig.verify (0.6; 0 joins every candidate,
as FineWeb does). Joined documents form clusters (transitively) and only the first in crawl order
stays.

Signatures are computed per document in the parallel tasks (`sketch`); `find_duplicates` then
sees every document of every shard at once, so duplicates across input files and output shards
are found too. Memory: 14 x 8 bytes of band hashes and 112 x 4 bytes of MinHash values (their
low 32 bits) per document, about 5.6 GB per 10 M documents (1.1 GB without the check).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class MinHashConfig:
    ngram: int = 5
    bands: int = 14
    rows: int = 8        # hashes per band: bands * rows = 112 hash functions
    seed: int = 1
    verify: float = 0.6  # a candidate pair is joined when this share of its MinHash values agree


_NON_WORD = re.compile(r"[^\w\s]+")
_DIGITS = re.compile(r"\d+")


def normalise(text: str) -> str:
    """Lower case, no punctuation, digits folded to 0, single spaces: the text both hashes see."""
    return " ".join(_DIGITS.sub("0", _NON_WORD.sub(" ", text.lower())).split())


def exact_hash(text: str, normalised: str | None = None) -> int:
    """64-bit hash of the normalised text (as a signed int, Parquet-friendly)."""
    norm = normalise(text) if normalised is None else normalised
    return int.from_bytes(hashlib.blake2b(norm.encode(), digest_size=8).digest(), "little", signed=True)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 that spreads every input bit (wrapping math)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@lru_cache(maxsize=8)
def _hash_params(cfg: MinHashConfig) -> tuple[np.ndarray, np.ndarray]:
    """(H,) odd multipliers a and (H,) offsets b: hash function i is x -> a_i * x + b_i (mod 2^64).
    The shingle hashes x are already well mixed, so one multiply-add per function is enough."""
    rng = np.random.default_rng(cfg.seed)
    h = cfg.bands * cfg.rows
    a = rng.integers(0, 2**63, size=h, dtype=np.int64).view(np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=h, dtype=np.int64).view(np.uint64)
    return a, b


def signature(text: str, cfg: MinHashConfig = MinHashConfig(), normalised: str | None = None) -> list[int]:
    """(bands,) band hashes: documents with a band hash in common are near-duplicate candidates."""
    return sketch(text, cfg, normalised)[0]


def sketch(text: str, cfg: MinHashConfig = MinHashConfig(),
           normalised: str | None = None) -> tuple[list[int], np.ndarray]:
    """(band hashes as in `signature`, (bands * rows,) uint32 MinHash values: their low 32 bits, what
    find_duplicates compares to check a candidate pair)."""
    words = (normalise(text) if normalised is None else normalised).split()
    if not words:
        words = [""]
    with np.errstate(over="ignore"):
        w = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words))
        n = min(cfg.ngram, len(words))
        sh = np.zeros(len(words) - n + 1, dtype=np.uint64)          # (S,) shingle hashes
        for j in range(n):                                            # polynomial in the word hashes
            sh = sh * np.uint64(0x100000001B3) + w[j: len(words) - n + 1 + j]
        sh = np.unique(_mix(sh))                                      # a set of well-mixed shingles
        a, b = _hash_params(cfg)
        hashed = np.multiply.outer(sh, a)                             # (S, H), in place below
        hashed += b
        mins = hashed.min(axis=0)                                     # (H,) the MinHash values
        bands = mins.reshape(cfg.bands, cfg.rows)                     # (bands, rows)
        acc = np.zeros(cfg.bands, dtype=np.uint64)
        for r in range(cfg.rows):
            acc = _mix(acc ^ bands[:, r])
        acc = _mix(acc ^ np.arange(cfg.bands, dtype=np.uint64))       # band index: no cross-band hits
    return acc.view(np.int64).tolist(), mins.astype(np.uint32)


def find_duplicates(exact: np.ndarray, bands: np.ndarray, mins: np.ndarray | None = None,
                    verify: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Documents in crawl order: exact (N,) int64 hashes, bands (N, B) int64 band hashes and, to
    check candidate pairs, mins (N, H) MinHash values: a pair that shares a band is joined only when
    at least `verify` of its H values agree (with mins None or verify 0, every candidate is).

    Returns (reason (N,) int8: 0 keep, 1 exact duplicate, 2 near duplicate;
             root (N,) int64: index of the kept document of its cluster;
             cluster_size (N,) int64)."""
    n = len(exact)
    reason = np.zeros(n, dtype=np.int8)
    if n == 0:
        return reason, np.zeros(0, np.int64), np.zeros(0, np.int64)
    # exact: every document whose hash appeared earlier points at the first one
    _, first, inv = np.unique(exact, return_index=True, return_inverse=True)
    parent = first[inv].astype(np.int64)                              # (N,)
    reason[parent != np.arange(n)] = 1

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # near: union each document with the first holder of each of its band hashes
    check = mins is not None and verify > 0
    for b in range(bands.shape[1]):
        _, first, inv = np.unique(bands[:, b], return_index=True, return_inverse=True)
        head = first[inv]
        candidates = np.flatnonzero(head != np.arange(n))
        if check and len(candidates):   # the pairs whose MinHash values agree often enough
            agree = (mins[candidates] == mins[head[candidates]]).mean(axis=1)
            candidates = candidates[agree >= verify]
        for i in candidates:
            ri, rj = find(int(i)), find(int(head[i]))
            if ri != rj:
                lo, hi = min(ri, rj), max(ri, rj)
                parent[hi] = lo   # the earlier document is the root: it is the one kept
    root = np.array([find(i) for i in range(n)], dtype=np.int64)
    near = (root != np.arange(n)) & (reason == 0)
    reason[near] = 2
    sizes = np.bincount(root, minlength=n)[root]
    return reason, root, sizes
