"""Corpus -> token shards -> batches.

1. `tokenize_corpus` reads the `text` column of the corpus Parquet files (through dentro.corpus,
   the reading layer the tokenizer uses too), encodes every
   document in worker processes (one task per Parquet row group), prefixes each document
   with <|endoftext|> and writes binary token shards for a train and a validation split.
   A document goes to validation when a hash of its id falls under `val_fraction`, so the
   split does not depend on file order, worker count or the tokenizer.
2. `DocumentIndex` opens a split's shards (memory-mapped) and finds its documents.
3. `BatchLoader` packs documents into rows of seq_len+1 tokens, each row starting at a
   document start where possible (best-fit packing, the tail of a document that fits
   nowhere is cropped), and hands each DDP rank its own rows. Its position is a small
   dict, saved in checkpoints, from which it continues exactly.

Shard file (little-endian), HEADER_BYTES then the tokens:
    magic b"DNTRTOKS" | version u32 | bytes per token u32 (2: uint16, 4: uint32)
    | number of tokens u64 | number of documents u64 | zero padding to 64 bytes
uint16 when the vocabulary has < 65,536 ids (half the disk and page cache), else uint32.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dentro.corpus import corpus_files, is_validation, read_row_group
from dentro.errors import UserError
from dentro.runs import atomic_write_json

MAGIC = b"DNTRTOKS"
VERSION = 1
HEADER = struct.Struct("<8sIIQQ")  # magic, version, bytes/token, n_tokens, n_docs
HEADER_BYTES = 64
SPLITS = ("train", "val")


# ---------------------------------------------------------------------------- shard files

def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size < 2**16 else np.dtype(np.uint32)


def write_shard(path: Path, tokens: np.ndarray, n_docs: int) -> None:
    """Write one shard atomically (temporary file + rename)."""
    assert tokens.dtype in (np.uint16, np.uint32), tokens.dtype
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    header = HEADER.pack(MAGIC, VERSION, tokens.dtype.itemsize, len(tokens), n_docs)
    with open(tmp, "wb") as f:
        f.write(header.ljust(HEADER_BYTES, b"\0"))
        f.write(tokens.astype(tokens.dtype.newbyteorder("<"), copy=False).tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_shard(path: Path) -> tuple[np.ndarray, int]:
    """Memory-map one shard: (tokens, n_docs). Raises UserError when the file is damaged."""
    path = Path(path)
    redo = "delete that tokens folder and run `dentro pretrain` again to re-tokenize the corpus"
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
    if len(head) < HEADER_BYTES or head[:8] != MAGIC:
        raise UserError(f"{path} is not a dentro token shard (bad magic); {redo}")
    _, version, itemsize, n_tokens, n_docs = HEADER.unpack(head[:HEADER.size])
    if version != VERSION:
        raise UserError(f"{path} has token shard version {version}, this dentro reads {VERSION}; {redo}")
    if itemsize not in (2, 4):
        raise UserError(f"{path}: bad bytes per token {itemsize}; {redo}")
    expected = HEADER_BYTES + n_tokens * itemsize
    if path.stat().st_size != expected:
        raise UserError(f"{path} is truncated or corrupt ({path.stat().st_size} bytes, header says "
                        f"{expected}); {redo}")
    dtype = np.dtype("<u2") if itemsize == 2 else np.dtype("<u4")
    if n_tokens == 0:
        return np.zeros(0, dtype=dtype), 0
    return np.memmap(path, dtype=dtype, mode="r", offset=HEADER_BYTES, shape=(n_tokens,)), n_docs


# ---------------------------------------------------------------------------- tokenizing

_worker_tok = None
_worker_threads = 1


def _init_worker(tokenizer_path: str, threads: int = 1) -> None:
    global _worker_tok, _worker_threads
    from dentro.tokenizer.bpe import Tokenizer

    _worker_tok = Tokenizer.load(tokenizer_path)
    _worker_threads = threads  # 1 in a pool of processes (they already use every core)


def _tokenize_task(task: tuple[str, int, float]) -> dict:
    """One Parquet row group -> {split: (uint32 tokens, n_docs)}, plus counts of skipped rows."""
    path, row_group, val_fraction = task
    rows, skipped = read_row_group(path, row_group)  # empty or null text: counted, never a crash
    keep = [(text, doc_id) for text, doc_id, _ in rows]
    encoded = _worker_tok.encode_batch([t for t, _ in keep], num_threads=_worker_threads) if keep else []
    eot = _worker_tok.eot_id
    out = {"skipped": skipped, "bytes": {s: 0 for s in SPLITS}}
    parts = {s: [] for s in SPLITS}
    for (text, doc_id), ids_ in zip(keep, encoded):
        split = "val" if is_validation(doc_id, val_fraction) else "train"
        parts[split].append(np.asarray([eot] + list(ids_), dtype=np.uint32))
        out["bytes"][split] += len(text.encode("utf-8"))
    for s in SPLITS:
        out[s] = (np.concatenate(parts[s]) if parts[s] else np.zeros(0, np.uint32), len(parts[s]))
    return out


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _corpus_signature(files: list[Path]) -> list:
    return [[f.name, f.stat().st_size, int(f.stat().st_mtime)] for f in files]


@dataclass
class ShardSpec:
    val_fraction: float = 0.05        # share of documents held out for validation
    shard_tokens: int = 100_000_000   # tokens per shard file (~200 MB as uint16)
    num_workers: int = 0              # 0: one per CPU core
    min_rows_for_workers: int = 20_000  # below this many documents, tokenize in this process


def tokenize_corpus(corpus: Path, tokenizer_path: Path, out_dir: Path, spec: ShardSpec = ShardSpec(),
                    progress: bool = True) -> dict:
    """Encode the corpus into out_dir/{train,val}_NNNNNN.bin and out_dir/meta.json.

    Returns the meta dict. When meta.json already records the same corpus files, tokenizer
    and settings, nothing is redone.
    """
    import pyarrow.parquet as pq

    from dentro.progress import bar
    from dentro.tokenizer.bpe import Tokenizer

    files = corpus_files(corpus)
    tok_file = Path(tokenizer_path)
    if tok_file.is_dir():
        from dentro.tokenizer.bpe import TOKENIZER_FILE
        tok_file = tok_file / TOKENIZER_FILE
    if not tok_file.exists():
        raise UserError(f"tokenizer not found at {tok_file}; run `dentro tokenizer train` first "
                        f"(or `dentro speedrun`)")
    tok = Tokenizer.load(tok_file)
    want = {"version": VERSION, "corpus": _corpus_signature(files), "tokenizer_sha256": _file_sha256(tok_file),
            "val_fraction": spec.val_fraction, "shard_tokens": spec.shard_tokens}
    out_dir = Path(out_dir)
    meta_path = out_dir / "meta.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if all(old.get(k) == v for k, v in want.items()):
            return old
    out_dir.mkdir(parents=True, exist_ok=True)
    for old_shard in out_dir.glob("*.bin"):
        old_shard.unlink()
    meta_path.unlink(missing_ok=True)

    tasks, total_rows = [], 0
    for f in files:
        try:
            pf = pq.ParquetFile(f)
            n_groups, total_rows = pf.num_row_groups, total_rows + pf.metadata.num_rows
        except Exception as e:  # a damaged shard: say which, and what to do
            raise UserError(f"cannot read corpus file {f}: {e}; re-run `dentro data`") from e
        tasks += [(str(f), g, spec.val_fraction) for g in range(n_groups)]
    dtype = token_dtype(tok.vocab_size)
    writers = {s: _SplitWriter(out_dir, s, dtype, spec.shard_tokens) for s in SPLITS}
    skipped, nbytes = 0, {s: 0 for s in SPLITS}
    workers = spec.num_workers or os.cpu_count() or 1
    workers = min(workers, len(tasks))
    if total_rows < spec.min_rows_for_workers:
        workers = 1  # tiny corpus: the tokenizer's own threads beat process start-up
    pbar = bar(total=len(tasks), desc="tokenize", unit="row group", disable=not progress)
    if workers <= 1:  # small corpus: no process start-up cost
        _init_worker(str(tok_file), threads=0)
        results = map(_tokenize_task, tasks)
        pool = None
    else:
        # fork where there is one: workers inherit the imports (fast start) and need no importable
        # __main__; they use no torch, so torch's thread pools in the parent do not matter.
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        pool = ctx.Pool(workers, initializer=_init_worker, initargs=(str(tok_file),))
        results = pool.imap(_tokenize_task, tasks)  # imap keeps task order: shards are deterministic
    try:
        for r in results:
            skipped += r["skipped"]
            for s in SPLITS:
                writers[s].add(*r[s])
                nbytes[s] += r["bytes"][s]
            pbar.update(1)
    finally:
        pbar.close()
        if pool is not None:
            pool.close()
            pool.join()
    # A tiny corpus may hash no document into validation: move the last training document there.
    if writers["val"].n_docs == 0 and writers["train"].n_docs >= 2:
        doc = writers["train"].pop_last_doc(tok.eot_id)
        writers["val"].add(doc, 1)
        nbytes["val"] += len(tok.decode(doc[1:].tolist()).encode("utf-8"))
        nbytes["train"] -= len(tok.decode(doc[1:].tolist()).encode("utf-8"))
    splits = {s: writers[s].close() for s in SPLITS}
    if splits["train"]["docs"] == 0:
        raise UserError(f"the corpus in {corpus} has no non-empty `text` ({skipped} empty rows); "
                        f"check it, or rebuild it with `dentro data`")
    for s in SPLITS:
        splits[s]["bytes"] = nbytes[s]
    meta = {**want, "vocab_size": tok.vocab_size, "eot_id": tok.eot_id, "dtype": dtype.name,
            "skipped_empty": skipped, "splits": splits}
    atomic_write_json(meta_path, meta)  # written last: its presence means the shards are complete
    return meta


class _SplitWriter:
    """Accumulates documents of one split and writes a shard whenever shard_tokens are full."""

    def __init__(self, out_dir: Path, split: str, dtype: np.dtype, shard_tokens: int):
        self.out_dir, self.split, self.dtype, self.shard_tokens = out_dir, split, dtype, shard_tokens
        self.parts: list[np.ndarray] = []
        self.part_docs = 0
        self.buffered = 0
        self.shards: list[str] = []
        self.n_tokens = 0
        self.n_docs = 0

    def add(self, tokens: np.ndarray, n_docs: int) -> None:
        # Flush before adding, so the buffer always holds the latest documents (see pop_last_doc).
        if self.buffered >= self.shard_tokens:
            self._flush()
        if n_docs:
            self.parts.append(tokens)
            self.part_docs += n_docs
            self.buffered += len(tokens)
            self.n_tokens += len(tokens)
            self.n_docs += n_docs

    def pop_last_doc(self, eot: int) -> np.ndarray:
        buf = np.concatenate(self.parts)
        start = int(np.flatnonzero(buf == eot)[-1])
        self.parts = [buf[:start]]
        self.part_docs -= 1
        self.buffered -= len(buf) - start
        self.n_tokens -= len(buf) - start
        self.n_docs -= 1
        return buf[start:]

    def _flush(self) -> None:
        if not self.parts:
            return
        name = f"{self.split}_{len(self.shards):06d}.bin"
        write_shard(self.out_dir / name, np.concatenate(self.parts).astype(self.dtype), self.part_docs)
        self.shards.append(name)
        self.parts, self.part_docs, self.buffered = [], 0, 0

    def close(self) -> dict:
        self._flush()
        return {"shards": self.shards, "tokens": self.n_tokens, "docs": self.n_docs}


# ---------------------------------------------------------------------------- reading

class DocumentIndex:
    """All documents of one split: doc i is tokens[shard[i]][start[i]:start[i]+length[i]],
    beginning with <|endoftext|>."""

    def __init__(self, tokens_dir: Path, split: str, eot_id: int | None = None):
        tokens_dir = Path(tokens_dir)
        meta_path = tokens_dir / "meta.json"
        if not meta_path.exists():
            raise UserError(f"no token shards in {tokens_dir} (meta.json missing); run `dentro pretrain` "
                            f"to tokenize the corpus")
        self.meta = json.loads(meta_path.read_text())
        self.eot_id = self.meta["eot_id"] if eot_id is None else eot_id
        self.shards = [read_shard(tokens_dir / name)[0] for name in self.meta["splits"][split]["shards"]]
        shard_of, starts, lengths = [], [], []
        for k, arr in enumerate(self.shards):
            s = np.flatnonzero(np.asarray(arr) == self.eot_id)
            if len(arr) and (len(s) == 0 or s[0] != 0):
                s = np.concatenate([[0], s])  # a shard that does not start with eot (not ours): still usable
            shard_of.append(np.full(len(s), k, np.int32))
            starts.append(s.astype(np.int64))
            lengths.append(np.diff(np.append(s, len(arr))).astype(np.int64))
        self.shard_of = np.concatenate(shard_of) if shard_of else np.zeros(0, np.int32)
        self.start = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        self.length = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        if len(self.length) == 0:
            raise UserError(f"the {split} split in {tokens_dir} has no documents; the corpus is too small "
                            f"or empty; rebuild it with `dentro data`")

    def __len__(self) -> int:
        return len(self.length)

    @property
    def num_tokens(self) -> int:
        return int(self.length.sum())

    def tokens(self, doc: int, lo: int, hi: int) -> np.ndarray:
        """Tokens [lo, hi) of document `doc`."""
        s = self.start[doc]
        return self.shards[self.shard_of[doc]][s + lo:s + hi]


class BatchLoader:
    """Rows of seq_len+1 tokens packed from whole documents, BOS-aligned where possible.

    Packing (greedy best fit, in the spirit of nanochat's BOS-aligned loader): every
    document is cut into pieces of at most a row (only a document's first piece starts with
    <|endoftext|>); pieces come in a seeded random order per epoch into a small buffer. Each
    row is filled with the largest buffered piece that still fits; when none fits, the
    shortest piece is cropped to the remaining space (its tail is dropped, the fewest tokens
    lost). Every row is full, so every target counts and microbatch means can be averaged
    exactly.

    Global row g of a step: every rank packs the same global stream (index arithmetic,
    cheap) and reads only its own rows, so `world_size` ranks with batch B see exactly
    the rows that one process with batch B and world_size x more accumulation steps sees.
    """

    def __init__(self, index: DocumentIndex, batch_size: int, seq_len: int, *, rank: int = 0,
                 world_size: int = 1, shuffle: bool = True, seed: int = 0, buffer_size: int = 32):
        self.index, self.B, self.T = index, batch_size, seq_len
        self.rank, self.world_size = rank, world_size
        self.shuffle, self.seed, self.buffer_size = shuffle, seed, buffer_size
        self.epoch, self.cursor = 0, 0
        self.buffer: list[tuple[int, int, int]] = []  # pieces (doc, lo, hi)
        self.rows_served = 0
        self._make_pieces()
        self._order = self._permutation(0)

    # -- position, for exact resume
    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor, "buffer": [list(p) for p in self.buffer],
                "rows_served": self.rows_served, "seed": self.seed, "num_docs": len(self.index),
                "num_pieces": len(self._piece_doc)}

    def load_state_dict(self, state: dict) -> None:
        if state["num_docs"] != len(self.index) or state.get("num_pieces", len(self._piece_doc)) != len(self._piece_doc):
            raise UserError(f"the checkpoint's data position is for {state['num_docs']} documents, the token "
                            f"shards hold {len(self.index)}; the corpus or tokenizer changed since; start a new "
                            f"run instead of --resume")
        self.seed, self.epoch, self.cursor = state["seed"], state["epoch"], state["cursor"]
        self.buffer = [tuple(p) for p in state["buffer"]]
        self.rows_served = state["rows_served"]
        self._order = self._permutation(self.epoch)

    def _permutation(self, epoch: int) -> np.ndarray:
        n = len(self._piece_doc)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def _make_pieces(self) -> None:
        """Cut every document into pieces of at most T+1 tokens: (doc, lo, hi) as three arrays.
        Pieces, not documents, are shuffled: a book-length document would otherwise fill many
        consecutive batches (measured: validation loss 8.0 vs 5.0 in training on Machado's
        novels), which random-window loaders like nanoGPT's never do."""
        row, length = self.T + 1, self.index.length
        counts = -(-length // row)  # ceil
        self._piece_doc = np.repeat(np.arange(len(length)), counts)
        k = np.arange(len(self._piece_doc)) - np.repeat(np.cumsum(counts) - counts, counts)
        self._piece_lo = k * row
        self._piece_hi = np.minimum(self._piece_lo + row, length[self._piece_doc])

    def _refill(self) -> None:
        while len(self.buffer) < self.buffer_size:
            if self.cursor == len(self._order):
                self.epoch, self.cursor = self.epoch + 1, 0
                self._order = self._permutation(self.epoch)
            i = int(self._order[self.cursor])
            self.cursor += 1
            self.buffer.append((int(self._piece_doc[i]), int(self._piece_lo[i]), int(self._piece_hi[i])))

    def next_row(self) -> list[tuple[int, int, int]]:
        """The pieces (doc, lo, hi) that make up the next global row of T+1 tokens."""
        space, row = self.T + 1, []
        while space > 0:
            self._refill()
            best = None
            for i, (_, lo, hi) in enumerate(self.buffer):
                if hi - lo <= space and (best is None or hi - lo > self.buffer[best][2] - self.buffer[best][1]):
                    best = i
            if best is None:  # nothing fits: crop the shortest piece to the space left
                best = min(range(len(self.buffer)), key=lambda i: self.buffer[i][2] - self.buffer[i][1])
                doc, lo, _ = self.buffer.pop(best)
                row.append((doc, lo, lo + space))
                space = 0
            else:
                doc, lo, hi = self.buffer.pop(best)
                row.append((doc, lo, hi))
                space -= hi - lo
        self.rows_served += 1
        return row

    def next_batch(self, device="cpu"):
        """(x, y): LongTensors (B, T) of this rank's rows; y is x shifted by one token."""
        import torch

        rows = [self.next_row() for _ in range(self.B * self.world_size)]
        mine = rows[self.rank * self.B:(self.rank + 1) * self.B]
        buf = np.empty((self.B, self.T + 1), dtype=np.int64)
        for r, pieces in enumerate(mine):
            buf[r] = np.concatenate([self.index.tokens(d, lo, hi) for d, lo, hi in pieces])
        t = torch.from_numpy(buf)
        if torch.device(device).type == "cuda":
            t = t.pin_memory().to(device, non_blocking=True)
        return t[:, :-1], t[:, 1:]


def token_byte_lengths(tokenizer, vocab_size: int) -> np.ndarray:
    """(vocab_size,) UTF-8 bytes per token id, 0 for special tokens (they are not text): the
    denominator of bits per byte. Ids beyond the tokenizer (a padded embedding table) get 0."""
    out = np.zeros(vocab_size, np.int64)
    lengths = np.asarray(tokenizer.token_byte_lengths(), np.int64)[:vocab_size]
    out[:len(lengths)] = lengths
    return out
