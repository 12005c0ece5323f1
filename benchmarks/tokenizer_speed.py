"""dentro's tokenizer against the raw libraries it wraps, side by side in one run.

    .venv/bin/python benchmarks/tokenizer_speed.py [--data ../shared/data/text] [--repeats 5]

Training: dentro.tokenizer.train_tokenizer vs rustbpe called directly (train, read the
ranks, build the tiktoken Encoding: what any user of the raw libraries must do too).
Encoding: Tokenizer.encode in a loop vs tiktoken's encode_ordinary (one thread), and
Tokenizer.encode_batch vs tiktoken's encode_ordinary_batch on all cores.
Runs alternate (dentro raw, raw dentro, dentro raw, ...) so machine noise hits both alike; we
report medians of wall time and the ratio dentro / raw (target: <= 1.10), also in CPU
time (less sensitive to other programs on a shared machine), and an A/A row (raw vs
an identical raw encoder) that shows how much of a ratio is noise.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import rustbpe
import tiktoken

from dentro.tokenizer.bpe import SPECIAL_TOKENS, SPLIT_PATTERN, train_tokenizer
from dentro.corpus import read_documents


def raw_train(texts, vocab_size):
    rb = rustbpe.Tokenizer()
    rb.train_from_iterator(texts, vocab_size=vocab_size - len(SPECIAL_TOKENS), pattern=SPLIT_PATTERN)
    ranks = {bytes(b): i for b, i in rb.get_mergeable_ranks()}
    n = len(ranks)
    return tiktoken.Encoding("raw", pat_str=SPLIT_PATTERN, mergeable_ranks=ranks,
                             special_tokens={s: n + k for k, s in enumerate(SPECIAL_TOKENS)})


def timed(fn):
    """(wall seconds, CPU seconds of this process, all threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def side_by_side(name, mine, raw, repeats, mb=None):
    mine(), raw()  # warm up (page cache, thread pools, allocator)
    a, b = [], []
    for k in range(repeats):  # alternate who goes first: A B, B A, A B, ...
        if k % 2:
            b.append(timed(raw))
            a.append(timed(mine))
        else:
            a.append(timed(mine))
            b.append(timed(raw))
    ma, mb_ = statistics.median(w for w, _ in a), statistics.median(w for w, _ in b)
    ca, cb = statistics.median(c for _, c in a), statistics.median(c for _, c in b)
    if mb:
        row = f"| {name} | {mb / ma:.2f} MB/s | {mb / mb_:.2f} MB/s | {ma / mb_:.3f} | {ca / cb:.3f} |"
    else:
        row = f"| {name} | {ma:.3f} s | {mb_:.3f} s | {ma / mb_:.3f} | {ca / cb:.3f} |"
    print(row, flush=True)
    return ma / mb_


def reference_vs_fast(texts, n_merges=200, kb=200):
    """The plain-Python reference BPE against the fast path, once, on a small slice."""
    from dentro.tokenizer import reference as ref

    small, size = [], 0
    for t in texts:
        if size >= kb * 1000:
            break
        small.append(t)
        size += len(t.encode())
    t0 = time.perf_counter()
    merges, vocab = ref.train(small, n_merges, SPLIT_PATTERN)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    tok = train_tokenizer(small, 256 + n_merges + len(SPECIAL_TOKENS))
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids_ref = [ref.encode(t, vocab, SPLIT_PATTERN) for t in small]
    e_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids = [tok.encode(t) for t in small]
    e_fast = time.perf_counter() - t0
    assert ids == ids_ref and [tok.token_bytes(i) for i in range(tok.n_ranks)] == vocab
    print(f"| reference BPE: train {n_merges} merges on {size / 1e3:.0f} KB | {t_fast:.3f} s | "
          f"{t_ref:.2f} s (plain Python) | {t_fast / t_ref:.4f} | |")
    print(f"| reference BPE: encode {size / 1e3:.0f} KB | {size / 1e6 / e_fast:.2f} MB/s | "
          f"{size / 1e6 / e_ref:.3f} MB/s (plain Python) | {e_fast / e_ref:.4f} | |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/text")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--vocab-sizes", type=int, nargs="+", default=[4096, 32768])
    ap.add_argument("--reference", action="store_true", help="only the reference-vs-fast rows (one run each)")
    args = ap.parse_args()

    docs = list(read_documents([args.data]))
    texts = [d.text for d in docs]
    by_lang = {lang: [d.text for d in docs if d.language == lang] for lang in ("pt", "en")}
    size = {k: sum(len(t.encode()) for t in v) / 1e6 for k, v in by_lang.items()}
    print(f"data: {args.data} — {len(texts)} documents; pt {size['pt']:.2f} MB, en {size['en']:.2f} MB")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"rustbpe, tiktoken {tiktoken.__version__}; median of {args.repeats}\n")
    print("| what | dentro | raw library | dentro / raw, wall | dentro / raw, CPU |\n|---|---|---|---|---|")
    if args.reference:
        reference_vs_fast(by_lang["pt"])
        return
    for v in args.vocab_sizes:
        side_by_side(f"train, vocab {v}, pt+en {sum(size.values()):.1f} MB",
                     lambda: train_tokenizer(texts, v), lambda: raw_train(texts, v), args.repeats)
    tok = train_tokenizer(texts, args.vocab_sizes[0])
    enc = raw_train(texts, args.vocab_sizes[0])
    assert all(tok.encode(t) == enc.encode_ordinary(t) for t in texts[:200])
    enc2 = raw_train(texts, args.vocab_sizes[0])  # raw vs raw: the noise floor of this machine
    side_by_side("A/A check: raw vs raw, encode pt, 1 thread", lambda: [enc2.encode_ordinary(t) for t in by_lang["pt"]],
                 lambda: [enc.encode_ordinary(t) for t in by_lang["pt"]], args.repeats, size["pt"])
    for lang, ts in by_lang.items():
        side_by_side(f"encode {lang}, 1 thread", lambda: [tok.encode(t) for t in ts],
                     lambda: [enc.encode_ordinary(t) for t in ts], args.repeats, size[lang])
        n = os.cpu_count()
        side_by_side(f"encode {lang}, batch, {n} threads", lambda: tok.encode_batch(ts),
                     lambda: enc.encode_ordinary_batch(ts, num_threads=n), args.repeats, size[lang])


if __name__ == "__main__":
    main()
