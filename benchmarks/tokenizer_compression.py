"""How well the tokenizer compresses Portuguese and English, and how the digit grouping matters.

    .venv/bin/python benchmarks/tokenizer_compression.py [--data ../shared/data]

Data: ../shared/data/text (pt: Machado de Assis, en: Shakespeare) and, for numbers,
../shared/data/tasks/gsm8k_train.jsonl (math word problems, full of numbers). Every
figure is measured on held-out documents (dentro.corpus.is_held_out), never
trained on.

A. Training mix: pt+en vs English only (and Portuguese only, and a pt+en mix with as
   much pt as en), at vocabulary 4096 (tiny) and 32768 (small).
B. Digit grouping in the split pattern, trained on pt+en+GSM8K: dentro's pattern before issue 13
   (\\p{N}{1,2}, as nanochat; GPT-4's pattern otherwise) vs groups of 1-3 digits (Llama 3's
   grouping) vs single digits (Qwen2's pattern, dentro's SPLIT_PATTERN since issue 13).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dentro.tokenizer.bpe import SPLIT_PATTERN, train_tokenizer
from dentro.corpus import Document, is_held_out, read_documents
from dentro.tokenizer.view import compression_stats

# dentro's SPLIT_PATTERN until issue 13, kept here to measure the change against.
OLD_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
               r"""|\s*[\r\n]|\s+(?!\S)|\s+""")
DIGITS = {"{1,2} (before)": OLD_PATTERN,
          "{1,3}": SPLIT_PATTERN.replace(r"\p{L}+|\p{N}|", r"\p{L}+|\p{N}{1,3}|"),
          "{1} (qwen2, now)": SPLIT_PATTERN}
assert len(set(DIGITS.values())) == 3


def gsm8k(path: Path) -> list[Document]:
    docs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            rec = json.loads(line)
            docs.append(Document(rec["question"] + "\n" + rec["answer"] + "\n", f"gsm8k:{n}", "math"))
    return docs


def take_bytes(docs, limit):
    out, size = [], 0
    for d in docs:
        if size >= limit:
            break
        out.append(d)
        size += len(d.text.encode())
    return out


def row(name, tok, held, langs):
    s = compression_stats(tok, held, max_bytes_per_language=10**9)
    cells = [f"{s[lang]['bytes_per_token']:.3f} / {s[lang]['tokens_per_word']:.3f}" for lang in langs]
    return s, f"| {name} | {tok.vocab_size} | " + " | ".join(cells) + " |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data")
    ap.add_argument("--vocab-sizes", type=int, nargs="+", default=[4096, 32768])
    args = ap.parse_args()
    docs = list(read_documents([args.data / "text"]))
    train = {lang: [d for d in docs if d.language == lang and not is_held_out(d.id)] for lang in ("pt", "en")}
    held = [d for d in docs if is_held_out(d.id)]
    mb = {k: sum(len(d.text.encode()) for d in v) / 1e6 for k, v in train.items()}
    print(f"training text: pt {mb['pt']:.2f} MB, en {mb['en']:.2f} MB; held out: "
          f"{sum(d.language == 'pt' for d in held)} pt and {sum(d.language == 'en' for d in held)} en documents\n")

    print("A. bytes/token / tokens/word on held-out text (higher bytes/token, lower tokens/word: better)\n")
    print("| trained on | vocab | pt | en |\n|---|---|---|---|")
    en_bytes = int(mb["en"] * 1e6)
    mixes = {
        f"en only ({mb['en']:.1f} MB)": train["en"],
        f"pt only ({mb['en']:.1f} MB)": take_bytes(train["pt"], en_bytes),
        f"pt+en balanced ({2 * mb['en']:.1f} MB)": train["en"] + take_bytes(train["pt"], en_bytes),
        f"pt+en all ({mb['en'] + mb['pt']:.1f} MB)": train["en"] + train["pt"],
    }
    for v in args.vocab_sizes:
        for name, mix in mixes.items():
            tok = train_tokenizer([d.text for d in mix], v)
            print(row(name, tok, held, ["pt", "en"])[1], flush=True)

    math = gsm8k(args.data / "tasks" / "gsm8k_train.jsonl")
    math_train = [d for d in math if not is_held_out(d.id)]
    held_all = held + [d for d in math if is_held_out(d.id)]
    texts = [d.text for d in train["pt"] + train["en"] + math_train]
    print(f"\nB. digit grouping; trained on pt+en+GSM8K ({sum(len(t.encode()) for t in texts) / 1e6:.1f} MB); "
          "cells: bytes/token / tokens/word; 'NN' and 'NNN': share of all 2- and 3-digit groups in the vocabulary\n")
    print("| digits | vocab | pt | en | GSM8K | digit-only tokens | NN | NNN | train s |\n|---|---|---|---|---|---|---|---|---|")
    for v in args.vocab_sizes:
        for name, pattern in DIGITS.items():
            t0 = time.perf_counter()
            tok = train_tokenizer(texts, v, pattern=pattern)
            secs = time.perf_counter() - t0
            vocab = {tok.token_bytes(i) for i in range(tok.n_ranks)}
            digit_only = sum(t.isdigit() for t in vocab)
            nn = sum(f"{k:02d}".encode() in vocab for k in range(100)) / 100
            nnn = sum(f"{k:03d}".encode() in vocab for k in range(1000)) / 1000
            line = row(name, tok, held_all, ["pt", "en", "math"])[1]
            print(f"{line} {digit_only} | {nn:.0%} | {nnn:.0%} | {secs:.1f} |", flush=True)


if __name__ == "__main__":
    main()
