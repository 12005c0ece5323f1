"""Documents for the tokenizer: read a corpus, split it into training and held-out text.

Inputs: Parquet shards with a `text` column (the stage-1 corpus, or a FineWeb shard),
JSONL files ({"text": ..., optional "id", "language"}), or plain text files (one
document per blank-line-separated paragraph). Folders are searched for those files.

Held-out split: a document is held out when a hash of its id falls under a fraction, at
least HELD_OUT_PERMILLE / 1000 (dentro.train.data.is_validation, the split pretraining uses
for its validation documents). The split depends on the id only, so it is the same on every
machine and every run, and held-out text is never seen in training; the stats (bytes per
token, tokens per word) are measured on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dentro.train.data import document_id, is_validation
from dentro.errors import UserError

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
    """The pipeline's one held-out split (dentro.train.data.is_validation). One hash under a
    threshold: a document held out at a fraction is held out at every larger one, so with
    fraction >= pretraining's val_fraction the documents pretraining validates on are never
    seen by the tokenizer either (dentro.commands.tokenizer.held_out_fraction chooses it)."""
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

    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    if "text" not in names:
        raise UserError(f"{path} has no `text` column (columns: {sorted(names)}); is it a corpus shard?")
    cols = ["text"] + [c for c in ("id", "language") if c in names]
    for batch in pf.iter_batches(columns=cols, batch_size=1024):
        data = batch.to_pydict()
        for i, text in enumerate(data["text"]):
            if not isinstance(text, str) or not text:
                counts.skip("empty or missing text")
                continue
            doc_id = document_id(data["id"][i] if "id" in data else None, text)  # pretraining's ids
            lang = normalize_language(data["language"][i]) if "language" in data else guess_language(text)
            yield Document(text, doc_id, lang)


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
