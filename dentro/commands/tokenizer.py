"""`dentro tokenizer train|show|stats|export`: stage 2, and its part of the speedrun."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dentro.commands import add_run_argument, int_range, positive_float, positive_int
from dentro.errors import UserError
from dentro.tokenizer.bpe import SPECIAL_TOKENS

TITLE = "Stage 2 · tokenization: bytes → BPE tokens"
HELP = """Stage 2: a byte-level BPE tokenizer, trained on the corpus, and a view of its tokens.

  dentro tokenizer train                 train on the run's corpus (run/data/corpus/*.parquet)
  dentro tokenizer train --input DIR     ... or on Parquet / JSONL / text files or folders
  dentro tokenizer show "O céu é azul"   each token coloured, with its id (Tiktokenizer-style)
  dentro tokenizer show --bytes "O céu é azul 😀"   each character's UTF-8 bytes (hex, bits) and its tokens
  dentro tokenizer show --chat "<|im_start|>user\\nOi<|im_end|>"   special tokens as special ids
  dentro tokenizer stats                 bytes per token and tokens per word, pt and en, on held-out text
  dentro tokenizer export --out DIR      a Hugging Face tokenizer.json

The tokenizer lives in run/tokenizer/ (tokenizer.dentro.json, tokenizer.json, stats.json)."""


@dataclass
class StageConfig:
    vocab_size: int  # all ids: 256 bytes + merges + 9 special tokens
    max_train_chars: int | None  # cap on training text (None: the whole corpus)


# micro: a smoke test. tiny: the tiny model has a few million parameters; its input embedding
# (and its output layer, unless tied) costs vocab x width parameters: 4096 x 256 = 1.0M, while
# 32K would cost 8.4M, most of the model; and the tiny world's few MB of text would see many of
# 32K tokens only a handful of times. small: 32K, the size of Llama 2's and Mistral 7B's
# vocabularies (32,000); docs/tokenizer.md measures 4K vs 32K on pt and en.
PRESETS = {
    "micro": StageConfig(vocab_size=512, max_train_chars=2_000_000),
    "tiny": StageConfig(vocab_size=4096, max_train_chars=None),
    "small": StageConfig(vocab_size=32768, max_train_chars=2_000_000_000),
}

MIN_VOCAB = 256 + len(SPECIAL_TOKENS)  # every byte, then the special tokens; no merge at all

SAMPLES = {"pt": "O céu é azul, e a população de São Paulo cresceu 12% em 2023.",
           "en": "The sky is blue, and the population of London grew 12% in 2023."}


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="<action>", title="actions")

    t = sub.add_parser("train", help="train the BPE tokenizer")
    add_run_argument(t)
    t.add_argument("--input", nargs="+", type=Path, metavar="PATH",
                   help="Parquet (text column), JSONL or .txt files or folders (default: the run's corpus)")
    t.add_argument("--vocab-size", type=int_range(MIN_VOCAB), default=PRESETS["tiny"].vocab_size,
                   help="all ids, special tokens included (default: %(default)s)")
    t.add_argument("--max-chars", type=positive_int, default=None, help="train on at most this many characters")
    t.add_argument("--out", type=Path, help="output folder (default: the run's tokenizer/ folder)")

    s = sub.add_parser("show", help="see how a text is cut into tokens")
    s.add_argument("text", nargs="*", help="the text (none or '-': read standard input)")
    _add_tokenizer_arguments(s)
    s.add_argument("--ids", action="store_true", help="print only the token ids")
    s.add_argument("--bytes", action="store_true",
                   help="each character's UTF-8 bytes (hex and bits) and the tokens BPE merged them into")
    s.add_argument("--chat", action="store_true",
                   help="trusted chat-formatted text: spellings like <|im_start|> become special tokens "
                        "(by default they are plain text, as all user text is)")
    s.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                   help="colour the tokens (auto: when writing to a terminal)")

    st = sub.add_parser("stats", help="bytes per token and tokens per word, per language")
    _add_tokenizer_arguments(st)
    st.add_argument("--input", nargs="+", type=Path, metavar="PATH",
                    help="measure on these files (default: the held-out part of the run's corpus)")
    st.add_argument("--split", choices=["held-out", "all"], default=None,
                    help="which documents (default: held-out for the run's corpus, all for --input)")
    st.add_argument("--max-mb", type=positive_float, default=5.0, help="text measured per language, MB (default 5)")

    e = sub.add_parser("export", help="write a Hugging Face tokenizer.json")
    _add_tokenizer_arguments(e)
    e.add_argument("--out", type=Path, required=True, help="output file or folder")
    p.set_defaults(_parser=p)


def _add_tokenizer_arguments(p):
    add_run_argument(p)
    p.add_argument("--tokenizer", type=Path, metavar="PATH",
                   help="a tokenizer.dentro.json file or a folder holding one (default: the run's)")


def main(args):
    actions = {"train": cmd_train, "show": cmd_show, "stats": cmd_stats, "export": cmd_export}
    if not getattr(args, "action", None):
        args._parser.print_help()
        return 0
    return actions[args.action](args)


# ---- helpers ------------------------------------------------------------------------------
def corpus_dir(run: Path) -> Path:
    return run / "data" / "corpus"


def load_tokenizer(args):
    import json

    from dentro.runs import run_dir
    from dentro.tokenizer.bpe import HF_TOKENIZER_FILE, TOKENIZER_FILE, Tokenizer

    path = args.tokenizer or run_dir(args.run) / "tokenizer" / TOKENIZER_FILE
    try:
        return Tokenizer.load(path)
    except FileNotFoundError:
        raise UserError(f"no tokenizer at {path}; train one with `dentro tokenizer train` "
                        f"(or run `dentro speedrun`), or pass --tokenizer PATH") from None
    except (ValueError, KeyError, OSError) as e:  # not JSON, not ours, damaged, unreadable
        why = "not JSON" if isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)) else str(e)
        if Path(path).name == HF_TOKENIZER_FILE:
            why += f"; {HF_TOKENIZER_FILE} is the Hugging Face export, dentro reads the {TOKENIZER_FILE} beside it"
        raise UserError(f"{path} is not a dentro tokenizer ({why}). A tokenizer is the {TOKENIZER_FILE} file "
                        f"that `dentro tokenizer train` writes (into <run>/tokenizer/); --tokenizer takes that "
                        f"file or a folder holding one, such as a checkpoint folder. Make one with "
                        f"`dentro tokenizer train` (or `dentro speedrun`).") from None


def held_out_fraction(preset: str | None = None) -> float:
    """The share of documents the tokenizer holds out: at least HELD_OUT_PERMILLE, and at least
    the val_fraction pretraining validates on, so that the model is never validated on text
    its tokenizer was trained on. A speedrun knows the preset; `dentro tokenizer train` does
    not know which pretraining follows, so it covers all of them."""
    from dentro.commands.pretrain import PRESETS as PRETRAIN
    from dentro.corpus import HELD_OUT_PERMILLE

    presets = [PRETRAIN[preset]] if preset else PRETRAIN.values()
    return max([HELD_OUT_PERMILLE / 1000] + [p.val_fraction for p in presets])


def run_corpus_inputs(run: Path) -> list[Path]:
    d = corpus_dir(run)
    if not d.is_dir() or not any(d.glob("*.parquet")):
        raise UserError(f"no corpus in {d}; make it with `dentro data` (or `dentro speedrun`), "
                        f"or pass --input with Parquet, JSONL or text files")
    return [d]


def train_and_write(inputs: list[Path], out: Path, vocab_size: int, max_chars: int | None,
                    held_fraction: float, max_stats_bytes: int = 5_000_000) -> dict:
    """Train on the documents of inputs not held out (is_held_out(id, held_fraction)); write the
    tokenizer, its HF export and stats.json (measured on the held-out documents) into out.
    Returns the stats dict."""
    from dentro.runs import atomic_write_json
    from dentro.progress import bar
    from dentro.tokenizer.bpe import train_tokenizer
    from dentro.corpus import ReadCounts, is_held_out, read_documents
    from dentro.tokenizer.view import compression_stats

    counts = ReadCounts()
    held_out, held_bytes = [], {}
    seen = {"documents": 0, "chars": 0}

    def training_texts():
        for d in bar(read_documents(inputs, counts), desc="tokenizer: reading", unit=" docs"):
            if is_held_out(d.id, held_fraction):
                if held_bytes.get(d.language, 0) < max_stats_bytes:  # keep what the stats will use
                    held_out.append(d)
                    held_bytes[d.language] = held_bytes.get(d.language, 0) + len(d.text)
                continue
            if max_chars is not None and seen["chars"] >= max_chars:
                continue  # keep reading: held-out documents further on still count
            seen["documents"] += 1
            seen["chars"] += len(d.text)
            yield d.text

    if vocab_size < MIN_VOCAB:
        raise UserError(f"--vocab-size {vocab_size} is too small: 256 bytes + {len(SPECIAL_TOKENS)} special "
                        f"tokens need {MIN_VOCAB}")
    t0 = time.perf_counter()
    tok = train_tokenizer(training_texts(), vocab_size,
                          metadata={"inputs": [str(p) for p in inputs],
                                    "held_out_permille": round(held_fraction * 1000)})
    seconds = time.perf_counter() - t0
    if seen["documents"] == 0:
        raise UserError(f"no text to train on in {', '.join(map(str, inputs))}")
    tok.save(out)
    tok.export_hf(out)
    per_lang = compression_stats(tok, held_out, max_bytes_per_language=max_stats_bytes)
    stats = {"vocab_size": tok.vocab_size, "merges": tok.n_ranks - 256, "train_seconds": round(seconds, 3),
             "train_documents": seen["documents"], "train_chars": seen["chars"],
             "held_out_documents": len(held_out), "skipped": counts.skipped,
             "unreachable_twins": tok.n_unreachable, "held_out": per_lang}
    atomic_write_json(out / "stats.json", stats)
    return stats


def stats_table(per_lang: dict) -> str:
    from dentro.report import md_table

    order = [k for k in ("pt", "en") if k in per_lang] + sorted(k for k in per_lang if k not in ("pt", "en", "all"))
    order += ["all"] if "all" in per_lang else []
    rows = [[k, per_lang[k]["documents"], per_lang[k]["bytes"], per_lang[k]["tokens"],
             per_lang[k]["bytes_per_token"], per_lang[k]["tokens_per_word"]] for k in order]
    return md_table(["language", "documents", "bytes", "tokens", "bytes/token", "tokens/word"], rows)


# ---- actions ------------------------------------------------------------------------------
def cmd_train(args):
    from dentro.runs import run_dir

    run = run_dir(args.run)
    inputs = args.input or run_corpus_inputs(run)
    out = args.out or run / "tokenizer"
    stats = train_and_write(inputs, out, args.vocab_size, args.max_chars, held_out_fraction())
    print(f"trained a {stats['vocab_size']}-id tokenizer ({stats['merges']} merges + 9 special tokens) "
          f"in {stats['train_seconds']:.1f} s on {stats['train_documents']:,} documents "
          f"({stats['train_chars'] / 1e6:.1f} M characters); wrote {out}/")
    if stats["skipped"]:
        print(f"skipped records: {stats['skipped']}")
    if stats["held_out"]:
        print(f"\nheld-out text ({stats['held_out_documents']:,} documents, never trained on):\n")
        print(stats_table(stats["held_out"]))
    return 0


def cmd_show(args):
    from dentro.tokenizer.view import render_terminal, summary_line

    tok = load_tokenizer(args)
    if args.text and args.text != ["-"]:
        text = " ".join(args.text)
    elif sys.stdin.isatty():
        raise UserError('give a text to show, e.g. dentro tokenizer show "O céu é azul", or pipe one in')
    else:
        text = sys.stdin.read()
    if args.chat:
        text = text.replace("\\n", "\n")  # shells make typing newlines awkward; accept \n in --chat
    ids = tok.encode_with_special(text) if args.chat else tok.encode(text)
    if args.ids:
        print(render_terminal(tok, ids, ids_only=True))
        return 0
    if args.bytes:
        from dentro.tokenizer.view import byte_view, render_bytes

        if args.chat:
            raise UserError("--bytes shows plain text; drop --chat")
        print(render_bytes(byte_view(tok, text)))
        return 0
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    print(render_terminal(tok, ids, color=color))
    print(summary_line(tok, text, ids))
    return 0


def cmd_stats(args):
    from dentro.runs import run_dir
    from dentro.corpus import is_held_out, read_documents
    from dentro.tokenizer.view import compression_stats

    tok = load_tokenizer(args)
    inputs = args.input or run_corpus_inputs(run_dir(args.run))
    split = args.split or ("all" if args.input else "held-out")
    docs = read_documents(inputs)
    if split == "held-out":
        docs = (d for d in docs if is_held_out(d.id))
    per_lang = compression_stats(tok, docs, max_bytes_per_language=int(args.max_mb * 1e6))
    if not per_lang:
        raise UserError(f"no {split} documents in {', '.join(map(str, inputs))}")
    print(f"tokenizer: {tok.vocab_size} ids; text: {split} documents of {', '.join(map(str, inputs))}\n")
    print(stats_table(per_lang))
    return 0


def cmd_export(args):
    tok = load_tokenizer(args)
    path = tok.export_hf(args.out)
    print(f"wrote {path}")
    return 0


# ---- speedrun -----------------------------------------------------------------------------
def run_stage(run: Path, preset: str) -> tuple[dict, str]:
    from dentro.report import fmt
    from dentro.tokenizer.bpe import Tokenizer
    from dentro.tokenizer.view import render_markdown

    cfg = PRESETS[preset]
    out = run / "tokenizer"
    stats = train_and_write(run_corpus_inputs(run), out, cfg.vocab_size, cfg.max_train_chars,
                            held_out_fraction(preset))
    tok = Tokenizer.load(out)
    held = stats["held_out"]
    figures = {"vocab_size": stats["vocab_size"]}
    for lang in ("pt", "en"):
        if lang in held:
            figures[f"bytes_per_token_{lang}"] = held[lang]["bytes_per_token"]
    figures["train_seconds"] = stats["train_seconds"]
    for lang in ("pt", "en"):
        if lang in held:
            figures[f"tokens_per_word_{lang}"] = held[lang]["tokens_per_word"]
    figures["train_chars"] = stats["train_chars"]

    longest = sorted(range(256, tok.n_ranks), key=lambda i: (-len(tok.token_bytes(i)), i))[:8]
    from dentro.tokenizer.view import visible
    lines = [
        f"A byte-level BPE with **{fmt(stats['vocab_size'])} ids**: 256 bytes, {fmt(stats['merges'])} merges "
        f"and 9 special tokens (ids {tok.eot_id}–{tok.vocab_size - 1}, `<|endoftext|>` first). "
        f"Trained in {stats['train_seconds']:.1f} s on {fmt(stats['train_documents'])} documents "
        f"({stats['train_chars'] / 1e6:.2f} M characters) of the corpus; "
        f"{fmt(stats['held_out_documents'])} documents were held out for the figures below.",
        "",
        stats_table(held) if held else "No held-out documents (corpus too small).",
        "",
        "Bytes per token: higher is better compression; tokens per word: how many pieces a word costs.",
        "",
    ]
    for lang, sentence in SAMPLES.items():
        ids = tok.encode(sentence)
        lines += [f"**{lang}**: {len(ids)} tokens for {len(sentence.encode())} bytes "
                  f"(`·` is a space)", "", render_markdown(tok, sentence), ""]
    lines += ["Longest tokens learned: " + ", ".join(f"`{visible(tok.token_bytes(i))}`" for i in longest), "",
              "See them yourself: `dentro tokenizer show \"O céu é azul\"`."]
    return figures, "\n".join(lines)
