"""The search tool: a full-text index over a corpus (SQLite FTS5, BM25 ranking).

    build_index(corpus, index)   Parquet file or folder (FineWeb-style: a `text` column, `id` and
                                 `url` when present) -> one SQLite file of passages; rebuilt only
                                 when the corpus files' names, sizes or mtimes change
    search(index, query)         the k best passages, trimmed to fit a small context

Passages, not documents: a small model reads a few hundred characters per result, so documents
are cut into runs of whole sentences of at most PASSAGE_CHARS. The unicode61 tokenizer with
remove_diacritics 2 folds case and accents, so "Sao Paulo" finds "São Paulo".
Queries are never passed to FTS5 as syntax: every word is quoted, and words are OR-ed (BM25
ranks passages with more and rarer query words first).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pyarrow.parquet as pq

from dentro.errors import UserError
from dentro.progress import bar

PASSAGE_CHARS = 400  # ~100 tokens: three results and a question fit a 512-token context
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_WORD = re.compile(r"\w+")


def check_fts5() -> None:
    """Raise a UserError saying what to do when this Python's SQLite lacks FTS5."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    except sqlite3.OperationalError as e:
        raise UserError(f"this Python's SQLite {sqlite3.sqlite_version} has no FTS5 ({e}); the search tool "
                        "needs it: use a Python built against a SQLite compiled with FTS5 (python.org, "
                        "pyenv, Debian and conda builds have it)") from e


def passages(text: str, max_chars: int = PASSAGE_CHARS) -> list[str]:
    """Whole sentences packed greedily up to max_chars; a longer sentence is cut at spaces."""
    pieces = []
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        while len(sentence) > max_chars:  # a run-on sentence or a list: cut at the last space that fits
            cut = sentence.rfind(" ", 0, max_chars + 1)
            cut = cut if cut > 0 else max_chars
            pieces.append(sentence[:cut])
            sentence = sentence[cut:].lstrip()
        if sentence:
            pieces.append(sentence)
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + 1 + len(piece) <= max_chars:
            out[-1] += " " + piece
        else:
            out.append(piece)
    return out


def _corpus_files(corpus: Path) -> list[Path]:
    corpus = Path(corpus)
    if corpus.is_dir():
        files = sorted(corpus.rglob("*.parquet"))
    elif corpus.is_file():
        files = [corpus]
    else:
        raise UserError(f"no corpus at {corpus}: give a Parquet file or a folder of them")
    if not files:
        raise UserError(f"no .parquet files under {corpus}")
    return files


def _signature(files: list[Path]) -> str:
    """What decides whether an index is stale: each file's path, size and mtime."""
    return json.dumps([[str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns] for f in files])


def _stored(index_path: Path) -> dict | None:
    try:
        with closing(sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)) as db:
            return dict(db.execute("SELECT key, value FROM meta"))
    except sqlite3.Error:
        return None  # missing or not an index of ours: build it


def build_index(corpus: Path, index_path: Path) -> dict:
    """Index every passage of the corpus; return stats {"files", "documents", "passages",
    "skipped_rows", "seconds", "rebuilt"}. rebuilt is False when the index already matched."""
    check_fts5()
    files = _corpus_files(corpus)
    index_path = Path(index_path)
    signature = _signature(files)
    stored = _stored(index_path)
    if stored and stored.get("signature") == signature:
        return {**json.loads(stored["stats"]), "rebuilt": False}

    t0 = time.time()
    index_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = index_path.with_name(f"{index_path.name}.tmp-{os.getpid()}")  # renamed over the index when complete
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.execute("CREATE VIRTUAL TABLE passages USING fts5("
                   "text, url UNINDEXED, doc_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        n_docs = n_passages = skipped = 0
        total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        progress = bar(total=total, desc="search index", unit="doc")
        for f in files:
            pf = pq.ParquetFile(f)
            names = set(pf.schema_arrow.names)
            if "text" not in names:
                raise UserError(f"{f} has no `text` column (columns: {sorted(names)})")
            columns = [c for c in ("text", "id", "url") if c in names]
            for batch in pf.iter_batches(batch_size=1024, columns=columns):
                rows = batch.to_pydict()
                for i, text in enumerate(rows["text"]):
                    if not isinstance(text, str) or not text.strip():
                        skipped += 1  # a null or empty text: count it, keep going
                        continue
                    url = rows["url"][i] if "url" in rows else None
                    doc_id = rows["id"][i] if "id" in rows else f"{f.name}:{n_docs}"
                    chunks = passages(text)
                    db.executemany("INSERT INTO passages (text, url, doc_id) VALUES (?, ?, ?)",
                                   [(c, url, str(doc_id)) for c in chunks])
                    n_docs += 1
                    n_passages += len(chunks)
                progress.update(len(rows["text"]))
        progress.close()
        db.execute("INSERT INTO passages (passages) VALUES ('optimize')")  # merge FTS b-trees: faster queries
        stats = {"files": len(files), "documents": n_docs, "passages": n_passages, "skipped_rows": skipped,
                 "seconds": round(time.time() - t0, 2)}
        db.executemany("INSERT INTO meta VALUES (?, ?)",
                       [("signature", signature), ("stats", json.dumps(stats))])
        db.commit()
        db.close()
        os.replace(tmp, index_path)
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    return {**stats, "rebuilt": True}


def fts_query(query: str) -> str:
    """A user's text as a safe FTS5 query: each word quoted (so AND, NEAR, *, ", :, ( are plain
    text), OR-ed together. Empty when the query has no words."""
    return " OR ".join(f'"{w}"' for w in _WORD.findall(query))  # \w never matches '"', nothing to escape


def search(index_path: Path, query: str, k: int = 3, max_chars: int = 1200) -> list[dict]:
    """The k best passages for query, as [{"text", "url", "score"}] (score: BM25, higher is
    better), each text trimmed so that all of them together hold at most max_chars."""
    index_path = Path(index_path)
    if not index_path.is_file():
        raise UserError(f"no search index at {index_path}: build it with build_index")
    match = fts_query(query)
    if not match or k < 1:
        return []
    with closing(sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT text, url, bm25(passages) FROM passages WHERE passages MATCH ? "
                          "ORDER BY bm25(passages) LIMIT ?", (match, k)).fetchall()
    budget = max(1, max_chars // max(1, len(rows)))
    return [{"text": _trim(text, budget), "url": url, "score": round(-score, 3)} for text, url, score in rows]


def _trim(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars)
    return text[: cut if cut > max_chars // 2 else max_chars - 1].rstrip() + "…"
