"""Reading a corpus: the one layer through which every stage reads documents.

    formats   Parquet shards with a `text` column (the stage-1 corpus, or a FineWeb shard;
              optional `id` and `language`), JSONL ({"text", optional "id", "language"}), and
              plain text files (documents end at a blank line). Folders are searched.
    ids       a document's id is the corpus's own, or a hash of its text (document_id).
    split     one held-out split for the whole pipeline: a document is held out when a hash of
              its id falls under a fraction (is_validation). One hash under a threshold: a
              document held out at a fraction is held out at every larger one, so the tokenizer
              (at least HELD_OUT_PERMILLE, and at least pretraining's val_fraction) never sees
              the documents pretraining validates on.
    bad rows  empty or missing text, bad JSON lines: counted and skipped, never a crash.

The tokenizer reads documents one by one (read_documents); pretraining tokenizes Parquet row
groups in parallel workers (read_row_group). Both go through the same row rules and ids.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dentro.errors import UserError

def corpus_files(corpus: Path) -> list[Path]:
    corpus = Path(corpus)
    files = [corpus] if corpus.is_file() else sorted(corpus.glob("*.parquet"))
    if not files:
        raise UserError(f"no Parquet files in {corpus}; run `dentro data` first "
                        f"(or `dentro speedrun`), or point --corpus at a folder of Parquet shards")
    return files


def is_validation(doc_id: str, val_fraction: float) -> bool:
    """Deterministic split by document id: the same document is in the same split on every run."""
    h = int.from_bytes(hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest(), "little")
    return h % 1_000_000 < val_fraction * 1_000_000


def document_id(doc_id, text: str) -> str:
    """The id the split hashes: the corpus's own, or (when a row has none) a hash of the text.
    The tokenizer's held-out split (dentro.corpus) uses the same ids."""
    return str(doc_id) if doc_id not in (None, "") else hashlib.blake2b(text.encode("utf-8")).hexdigest()


def is_validation(doc_id: str, val_fraction: float) -> bool:
    """Deterministic split by document id: the same document is in the same split on every run."""
    h = int.from_bytes(hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest(), "little")
    return h % 1_000_000 < val_fraction * 1_000_000


def document_id(doc_id, text: str) -> str:
    """The id the split hashes: the corpus's own, or (when a row has none) a hash of the text."""
    return str(doc_id) if doc_id not in (None, "") else hashlib.blake2b(text.encode("utf-8")).hexdigest()


def read_row_group(path, row_group: int, language: bool = False) -> tuple[list[tuple[str, str, str | None]], int]:
    """One Parquet row group -> ([(text, id, language or None)], rows skipped for empty text)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    if "text" not in names:
        raise UserError(f"{path} has no `text` column (columns: {sorted(names)}); is it a corpus shard?")
    cols = ["text"] + [c for c in ("id", "language") if c in names and (c == "id" or language)]
    table = pf.read_row_group(row_group, columns=cols)
    texts = table.column("text").to_pylist()
    ids = table.column("id").to_pylist() if "id" in cols else [None] * len(texts)
    langs = table.column("language").to_pylist() if "language" in cols else [None] * len(texts)
    rows, skipped = [], 0
    for t, i, lang in zip(texts, ids, langs):
        if not isinstance(t, str) or not t.strip():
            skipped += 1
            continue
        rows.append((t, document_id(i, t), lang))
    return rows, skipped


HELD_OUT_PERMILLE = 50  # 5% of the documents: enough text for stable stats, little lost to training
EXTENSIONS = (".parquet", ".jsonl", ".txt")


@dataclass
class Document:
    text: str
    id: str
    language: str  # "pt", "en", or whatever else the corpus says ("other" when unknown)


@dataclass
class ReadCounts:
    documents: int = 0
    skipped: dict = field(default_factory=dict)  # reason -> count

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def is_held_out(doc_id: str, fraction: float = HELD_OUT_PERMILLE / 1000) -> bool:
    """The tokenizer's held-out documents: is_validation at `fraction` (with fraction >=
    pretraining's val_fraction, dentro.commands.tokenizer.held_out_fraction chooses it)."""
    return is_validation(doc_id, fraction)


def normalize_language(code) -> str:
    """FineWeb writes 'en', FineWeb-2 'por_Latn', others 'pt-BR': map them to 'pt' / 'en'."""
    if not code:
        return "other"
    c = str(code).lower().replace("-", "_")
    if c in ("pt", "por") or c.startswith(("pt_", "por_")):
        return "pt"
    if c in ("en", "eng") or c.startswith(("en_", "eng_")):
        return "en"
    return c


# Function words, frequent in running text of one language and rare in the other:
# enough to tell pt from en in files that carry no language label.
_PT_WORDS = set("que não de da do em um uma os as para com por mas se ao lhe já era foi ele ela".split())
_EN_WORDS = set("the and of to that is was he she it with for but not his her you have be".split())


def guess_language(text: str) -> str:
    words = re.findall(r"\w+", text.lower())[:2000]
    pt = sum(w in _PT_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    if pt + en < 3:
        return "other"
    return "pt" if pt > en else "en"


def find_files(inputs: list[Path]) -> list[Path]:
    files = []
    for p in map(Path, inputs):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(EXTENSIONS))
        elif p.is_file():
            files.append(p)
        else:
            raise UserError(f"input {p} does not exist; give Parquet, JSONL or text files or folders")
    if not files:
        raise UserError(f"no .parquet, .jsonl or .txt files in {', '.join(map(str, inputs))}")
    return files


def read_documents(inputs: list[Path], counts: ReadCounts | None = None) -> Iterator[Document]:
    """Every document of every input file, in file order. Bad records are counted and skipped."""
    counts = counts if counts is not None else ReadCounts()
    for f in find_files(inputs):
        if f.name.endswith(".parquet"):
            docs = _read_parquet(f, counts)
        elif f.name.endswith(".jsonl"):
            docs = _read_jsonl(f, counts)
        else:
            docs = _read_text(f, counts)
        for d in docs:
            counts.documents += 1
            yield d


def _read_parquet(path: Path, counts: ReadCounts) -> Iterator[Document]:
    import pyarrow.parquet as pq

    for g in range(pq.ParquetFile(path).num_row_groups):
        rows, skipped = read_row_group(path, g, language=True)
        for _ in range(skipped):
            counts.skip("empty or missing text")
        for text, doc_id, lang in rows:
            yield Document(text, doc_id, normalize_language(lang) if lang else guess_language(text))


def _read_jsonl(path: Path, counts: ReadCounts) -> Iterator[Document]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                text = rec["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                counts.skip("bad JSON line or no text field")
                continue
            if not isinstance(text, str) or not text:
                counts.skip("empty or missing text")
                continue
            lang = rec.get("language") or rec.get("lang")
            lang = normalize_language(lang) if lang else guess_language(text)
            yield Document(text, str(rec.get("id") or f"{path.name}:{n}"), lang)


TEXT_DOC_CHARS = 2000  # a text file is cut into documents of about this size


def _read_text(path: Path, counts: ReadCounts) -> Iterator[Document]:
    """Documents end at a blank line, or at the first line end past TEXT_DOC_CHARS (books
    with one line per paragraph). Their concatenation is the file, newlines included."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lang = guess_language(text[:100_000])  # one language per file, from its beginning
    buf, size, n = [], 0, 0
    for line in text.splitlines(keepends=True):
        buf.append(line)
        size += len(line)
        if (not line.strip() and size > len(line)) or size >= TEXT_DOC_CHARS:
            yield Document("".join(buf), f"{path.name}:{n}", lang)
            buf, size, n = [], 0, n + 1
    if "".join(buf).strip():
        yield Document("".join(buf), f"{path.name}:{n}", lang)
