"""Stage 2: the byte-level BPE tokenizer (fast path).

Training borrows rustbpe (Rust, parallel), encoding borrows tiktoken; the algorithm
itself is written out slowly and readably in dentro/tokenizer/reference.py, and the tests
check that both give the same tokens and ids.

Vocabulary layout (ids), like Qwen's: the mergeable tokens first, then the special tokens.

    0 .. 255                   the 256 single bytes (so every input is encodable)
    256 .. 256+n_merges-1      one token per BPE merge, in the order they were learned
    n_ranks .. vocab_size-1    SPECIAL_TOKENS, in DESIGN.md order (<|endoftext|> first)

The tokenizer is one JSON file (TOKENIZER_FILE), readable without the trainer:

    {"format": "dentro-tokenizer", "version": 1,
     "pattern": <split regex>,
     "ranks": [<base64 bytes of token 0>, <token 1>, ...],   # id = position, as in .tiktoken files
     "special_tokens": {"<|endoftext|>": id, ...},
     "metadata": {...}}                                       # how, on what and when it was trained
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

from dentro.runs import atomic_write_json, atomic_write_text

TOKENIZER_FILE = "tokenizer.dentro.json"
HF_TOKENIZER_FILE = "tokenizer.json"
FORMAT, VERSION = "dentro-tokenizer", 1

# Reserved from the start (DESIGN.md), so every later stage (chat template, tools, thinking)
# finds its ids already in the embedding table: Qwen3's conventions.
SPECIAL_TOKENS = [
    "<|endoftext|>",  # document boundary (pretraining)
    "<|im_start|>", "<|im_end|>",  # ChatML turns: <|im_start|>user\n...<|im_end|>
    "<tool_call>", "</tool_call>",  # the assistant calls a tool
    "<tool_response>", "</tool_response>",  # the tool's answer
    "<think>", "</think>",  # reasoning
]

# Qwen2's split pattern (also Qwen3's), written exactly as llama.cpp runs it (src/llama-vocab.cpp,
# LLAMA_VOCAB_PRE_TYPE_QWEN2), so that a GGUF export (dentro/export/gguf.py) marked
# tokenizer.ggml.pre = "qwen2" tokenizes in stock llama.cpp as dentro does. llama.cpp takes no
# regex from the file: it implements a fixed list of pre-tokenizers, chosen by that name, and none
# splits numbers in groups of at most 2 digits, as dentro (and nanochat) did until issue 13. Of the
# two that fit a Qwen3-style model, Qwen2's (one digit per piece) and Llama 3's (groups of 1-3), we
# take single digits: every number is cut into the same pieces whatever its value, as in written
# column arithmetic, while with {1,3} a 3-digit number is one token or two depending on which
# number it is. Liu & Low 2023 (arXiv:2305.14201) attribute Goat's near-perfect multi-digit
# addition and subtraction to LLaMA's digit-by-digit tokenization, which models with irregular
# number tokens (Bloom, OPT, GPT-NeoX) could not learn. At dentro's scale too: a depth-2 model on
# 4-digit addition/subtraction reached 56% held-out exact match with single digits, 30% with
# {1,2}, 1% with {1,3} (benchmarks/tokenizer_arithmetic.py, docs/tokenizer.md). The cost is
# compression on number-heavy text only: on held-out pt
# and en prose the grouping moves bytes/token by < 0.5%; on GSM8K single digits cost ~10%
# (benchmarks/tokenizer_compression.py; table in docs/tokenizer.md).
# Pieces, first match wins:
#   English contractions in ASCII case only ('s 'S 're 'RE 'Re ...: Qwen's tokenizer.json writes
#     (?i:'s|...), whose Unicode case folding also takes 'ſ; llama.cpp folds ASCII only)
#   | one optional char that is not \r, \n, a letter or a number, then letters
#   | one number | optional space + punctuation + newlines | whitespace up to its last newline
#   | whitespace that leaves its last space to the next word | whitespace.
SPLIT_PATTERN = (
    r"""(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
# The same pattern is the pre-tokenizer called "qwen2" in llama.cpp's GGUF files.
LLAMA_CPP_PRE = "qwen2"


class Tokenizer:
    """A trained byte-level BPE: token bytes by id, a split pattern and special tokens."""

    def __init__(self, ranks: list[bytes], pattern: str = SPLIT_PATTERN,
                 special_tokens: list[str] = SPECIAL_TOKENS, metadata: dict | None = None):
        import tiktoken

        if len(ranks) < 256 or any(ranks[i] != bytes([i]) for i in range(256)):
            raise ValueError("ranks must start with the 256 single bytes in order (ids 0..255)")
        self._bytes = [bytes(b) for b in ranks]  # id -> token bytes, mergeable tokens only
        self.pattern = pattern
        self.special_tokens = {s: len(ranks) + i for i, s in enumerate(special_tokens)}
        self.metadata = dict(metadata or {})
        # rustbpe can learn the same byte string twice through two different merges
        # ((ab, c) in one word, (a, bc) in another). tiktoken needs bytes -> one id: the first
        # id wins and the later twin is never emitted (it still decodes).
        mergeable = {}
        for i, b in enumerate(self._bytes):
            mergeable.setdefault(b, i)
        self.n_unreachable = len(self._bytes) - len(mergeable)
        self._enc = tiktoken.Encoding(name="dentro", pat_str=pattern, mergeable_ranks=mergeable,
                                      special_tokens=self.special_tokens)

    # ---- sizes and lookups -------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Rows the model's embedding table needs: mergeable tokens + special tokens."""
        return len(self._bytes) + len(self.special_tokens)

    @property
    def n_ranks(self) -> int:
        return len(self._bytes)

    def special_id(self, name: str) -> int:
        try:
            return self.special_tokens[name]
        except KeyError:
            raise KeyError(f"{name!r} is not a special token; known: {list(self.special_tokens)}") from None

    @property
    def eot_id(self) -> int:
        return self.special_tokens["<|endoftext|>"]

    def is_special(self, i: int) -> bool:
        return self.n_ranks <= i < self.vocab_size

    def token_bytes(self, i: int) -> bytes:
        """The bytes token i stands for (a special token: its spelling in UTF-8)."""
        if 0 <= i < len(self._bytes):
            return self._bytes[i]
        for s, j in self.special_tokens.items():
            if j == i:
                return s.encode("utf-8")
        raise IndexError(f"token id {i} is outside the vocabulary (0..{self.vocab_size - 1})")

    def token_byte_lengths(self) -> list[int]:
        """Bytes per id (0 for special tokens): for bits-per-byte metrics."""
        return [len(b) for b in self._bytes] + [0] * len(self.special_tokens)

    # ---- encoding ----------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Plain text -> ids. Never emits a special id: user text that spells `<|im_start|>`
        is encoded as the characters it contains."""
        return self._enc.encode_ordinary(text)

    def encode_batch(self, texts: list[str], num_threads: int = 0) -> list[list[int]]:
        """encode() over many texts on num_threads threads (0: one per CPU core)."""
        n = num_threads or os.cpu_count() or 1
        return self._enc.encode_ordinary_batch(list(texts), num_threads=n)

    def encode_with_special(self, text: str, allowed: Iterable[str] | str = "all") -> list[int]:
        """For TRUSTED text only (a chat template the program itself wrote): spellings of the
        special tokens in `allowed` ("all", or a set of names) become their special ids; other
        special spellings stay plain text. Never call this on user or web text."""
        if allowed != "all":
            allowed = set(allowed)
            for name in allowed:
                self.special_id(name)  # a KeyError naming the known ones, not a silent no-op
        return self._enc.encode(text, allowed_special=allowed, disallowed_special=())

    def encode_bytes(self, data: bytes) -> list[int]:
        """Arbitrary bytes (not necessarily UTF-8) -> ids; decode_bytes gives them back exactly."""
        return self._enc._encode_bytes(bytes(data))  # tiktoken's byte-level entry point

    # ---- decoding ----------------------------------------------------------------------
    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """ids -> bytes. Ids outside the vocabulary become U+FFFD instead of raising."""
        ids = list(ids)
        try:
            return self._enc.decode_bytes(ids)
        except Exception:  # an unknown, negative or unreachable-twin id: slow path, id by id
            out = []
            for i in ids:
                try:
                    out.append(self.token_bytes(int(i)))
                except (IndexError, TypeError, ValueError):
                    out.append("\ufffd".encode())
            return b"".join(out)

    def decode(self, ids: Iterable[int]) -> str:
        """ids -> text; never raises: a cut multi-byte character becomes U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ---- files -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "pattern": self.pattern,
                "ranks": [base64.b64encode(b).decode("ascii") for b in self._bytes],
                "special_tokens": self.special_tokens, "metadata": self.metadata}

    def save(self, path: str | os.PathLike) -> Path:
        """Write TOKENIZER_FILE (path: the file, or a folder to put it in). Returns the file."""
        path = _file_path(path, must_exist=False)
        atomic_write_json(path, self.to_dict())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer file, or the TOKENIZER_FILE inside a folder."""
        path = _file_path(path, must_exist=True)
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        if not isinstance(d, dict) or d.get("format") != FORMAT or d.get("version") != VERSION:
            raise ValueError(f"{path} is not a {FORMAT} v{VERSION} file")
        ranks = [base64.b64decode(s) for s in d["ranks"]]
        specials = sorted(d["special_tokens"], key=d["special_tokens"].get)
        tok = cls(ranks, d["pattern"], specials, d.get("metadata"))
        if tok.special_tokens != d["special_tokens"]:
            raise ValueError(f"{path}: special token ids must follow the mergeable tokens, in order")
        return tok

    def export_hf(self, path: str | os.PathLike) -> Path:
        """Write a Hugging Face `tokenizer.json` (path: file or folder) that encodes like encode()."""
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path = path / HF_TOKENIZER_FILE
        atomic_write_text(path, json.dumps(self.to_hf_dict(), ensure_ascii=False))
        return path

    def to_hf_dict(self) -> dict:
        from dentro.tokenizer.hf import hf_tokenizer_dict

        return hf_tokenizer_dict(self)

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, merges={self.n_ranks - 256})"


def _file_path(path, must_exist: bool) -> Path:
    path = Path(path).expanduser()
    if path.is_dir() or (not path.suffix and not path.exists()):
        path = path / TOKENIZER_FILE
    if must_exist and not path.is_file():
        raise FileNotFoundError(f"no tokenizer file at {path}")
    return path


def train_tokenizer(texts: Iterable[str], vocab_size: int, *, pattern: str = SPLIT_PATTERN,
                    special_tokens: list[str] = SPECIAL_TOKENS, metadata: dict | None = None) -> Tokenizer:
    """Train a byte-level BPE with rustbpe. vocab_size counts everything, special tokens
    included (the model's embedding rows): merges = vocab_size - 256 - len(special_tokens).
    If the text runs out of pairs to merge first, the vocabulary comes out smaller."""
    import rustbpe

    n_merges = vocab_size - 256 - len(special_tokens)
    if n_merges < 0:
        raise ValueError(f"vocab_size {vocab_size} is too small: it needs 256 bytes + "
                         f"{len(special_tokens)} special tokens at least ({256 + len(special_tokens)})")
    stats = {"documents": 0, "chars": 0}

    def strings():  # skip what is not text instead of stopping the job
        for t in texts:
            if isinstance(t, str) and t:
                stats["documents"] += 1
                stats["chars"] += len(t)
                yield t

    t0 = time.perf_counter()
    rb = rustbpe.Tokenizer()
    rb.train_from_iterator(strings(), vocab_size=256 + n_merges, pattern=pattern)
    pairs = sorted(rb.get_mergeable_ranks(), key=lambda p: p[1])
    ranks = [bytes(b) for b, _ in pairs]
    assert [i for _, i in pairs] == list(range(len(ranks))), "rustbpe returned non-contiguous ids"
    meta = {"trainer": "rustbpe", "requested_vocab_size": vocab_size, "merges": len(ranks) - 256,
            "train_seconds": round(time.perf_counter() - t0, 3), **stats,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(metadata or {})}
    return Tokenizer(ranks, pattern, special_tokens, meta)
