"""The search tool: a full-text index over a corpus (SQLite FTS5, BM25 ranking).

    build_index(corpus, index)   Parquet file or folder (FineWeb-style: a `text` column, `id` and
                                 `url` when present) -> one SQLite file of passages; rebuilt only
                                 when the corpus files' names, sizes or mtimes change
    search(index, query)         the k best passages, each cut to the window around the query's
                                 words that fits its share of a small context

Passages, not documents: a small model reads a few hundred characters per result, so documents
are cut into runs of whole sentences of at most PASSAGE_CHARS. The unicode61 tokenizer with
remove_diacritics 2 folds case and accents, so "Sao Paulo" finds "São Paulo".
Queries are never passed to FTS5 as syntax: every word is quoted, and words, and pairs of
neighbouring words as phrases, are OR-ed (BM25 ranks passages with more and rarer query words,
and a full name written out, first); passages holding every word and a pair come first. Text in
double quotes is a phrase every result must hold, as in a web search engine ('"Ana Souza"
nascimento'): a name that no passage holds gives no result at all, rather than passages about
other people with one of its words.
Windows rather than prefixes: the tiny chat model reads about 300 characters of results, and
the sentence that answers is often far from the start of a passage (benchmarks/search_recall.py).
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import time
import unicodedata
from contextlib import closing
from pathlib import Path

import pyarrow.parquet as pq

from dentro.errors import UserError
from dentro.progress import bar

PASSAGE_CHARS = 400  # ~100 tokens: three results and a question fit a 512-token context
MAX_PAIR_WORDS = 32  # word pairs of a query are phrases among its first 32 words only
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r'"([^"]*)"')


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


def fts_query(query: str, pairs: bool = False) -> str:
    """A user's text as a safe FTS5 query: each word quoted (so AND, NEAR, *, ", :, ( are plain
    text), OR-ed together. Empty when the query has no words. pairs: also OR in each pair of
    neighbouring words as a phrase ("Emily Rogers" for "Emily Rogers born"), so that BM25,
    which sums over the query's phrases, ranks a passage holding a full name above one holding
    its words apart."""
    words = _WORD.findall(query)  # \w never matches '"', nothing to escape
    return " OR ".join([f'"{w}"' for w in words] + (_pairs(words) if pairs else []))


def _pairs(words: list[str]) -> list[str]:
    """Neighbouring words as FTS5 phrases, among the first MAX_PAIR_WORDS words."""
    head = words[:MAX_PAIR_WORDS]
    return list(dict.fromkeys(f'"{a} {b}"' for a, b in zip(head, head[1:])))


def required_phrases(query: str) -> str:
    """The FTS5 condition for the query's quoted phrases ('"Ana Souza" born' -> '"Ana Souza"'),
    AND-ed; empty when it has none. A phrase is its words (punctuation inside it is ignored, as
    the index ignores it)."""
    phrases = (" ".join(_WORD.findall(q)) for q in _QUOTED.findall(query))
    return " AND ".join(dict.fromkeys(f'"{p}"' for p in phrases if p))


def search(index_path: Path, query: str, k: int = 3, max_chars: int = 1200) -> list[dict]:
    """The k best passages for query, as [{"text", "url", "score"}]; only passages that hold its
    quoted phrases, if it has any (required_phrases: none may be the answer). Passages that hold every
    word of the query and two of them side by side (a full name and the word asked about) come
    first, then the rest; each group by BM25 over the query's words and neighbouring pairs
    (fts_query with pairs); score is that BM25, negated (higher is better). All texts together
    hold at most max_chars: a passage that does not fit its share is cut to the window around
    the query's words that holds the most of them (_window), with "…" where text was cut; a
    short passage leaves its unused share to the others."""
    index_path = Path(index_path)
    if not index_path.is_file():
        raise UserError(f"no search index at {index_path}: build it with build_index")
    match = fts_query(query, pairs=True)
    if not match or k < 1:
        return []
    words = _WORD.findall(query)
    need = required_phrases(query)
    sql = "SELECT rowid, text, url, bm25(passages) FROM passages WHERE passages MATCH ? "
    with closing(sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)) as db:
        rows = []
        if 1 < len(words) <= MAX_PAIR_WORDS:
            every = " AND ".join(f'"{w}"' for w in dict.fromkeys(words)) + (f" AND {need}" if need else "")
            rows = db.execute(sql + "ORDER BY bm25(passages) LIMIT ?",
                              (f"{every} AND ({' OR '.join(_pairs(words))})", k)).fetchall()
            if rows:  # their score under the whole query, as for the others
                ids = [r[0] for r in rows]
                bm25 = dict(db.execute("SELECT rowid, bm25(passages) FROM passages WHERE passages MATCH ? AND rowid IN "
                                       f"({','.join('?' * len(ids))})", (match, *ids)).fetchall())
                rows = [(i, text, url, bm25[i]) for i, text, url, _ in rows]
        if len(rows) < k:
            seen = {r[0] for r in rows}
            more = db.execute(sql + "ORDER BY bm25(passages) LIMIT ?",
                              (f"{need} AND ({match})" if need else match, k + len(rows))).fetchall()
            rows += [r for r in more if r[0] not in seen][: k - len(rows)]
        weights = _weights(db, query) if sum(len(r[1]) for r in rows) > max_chars else {}
    budgets = _budgets([len(r[1]) for r in rows], max_chars)
    return [{"text": _window(text, budget, weights, query), "url": url, "score": round(-score, 3)}
            for (_, text, url, score), budget in zip(rows, budgets)]


MAX_WINDOW_TERMS = 64  # a longer query windows on its first 64 distinct words
_TOKEN = re.compile(r"[^\W_]+")  # a word as the unicode61 tokenizer sees it: letters and digits


def _fold(word: str) -> str:
    """A word as the index stores it: lower case, accents removed (remove_diacritics 2)."""
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))


def _weights(db: sqlite3.Connection, query: str) -> dict[str, float]:
    """The query's distinct words (folded) -> idf, log(1 + passages / passages holding it), read
    from an fts5vocab table; 1.0 each when that fails."""
    terms = list(dict.fromkeys(_fold(w) for w in _TOKEN.findall(query)))[:MAX_WINDOW_TERMS]
    try:
        stats = dict(db.execute("SELECT key, value FROM meta"))
        n = json.loads(stats["stats"])["passages"]
        db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, passages, row)")
        df = {t: (db.execute("SELECT doc FROM temp.vocab WHERE term = ?", (t,)).fetchone() or (0,))[0] for t in terms}
        return {t: math.log(1 + n / max(1, df[t])) for t in terms}
    except (sqlite3.Error, KeyError, ValueError, TypeError):
        return {t: 1.0 for t in terms}


def _budgets(lengths: list[int], max_chars: int) -> list[int]:
    """Each text's share of max_chars: equal shares, but a text shorter than its share gives the
    rest to the longer ones (at least 1 each, as before)."""
    budgets = [0] * len(lengths)
    left = max_chars
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    for j, i in enumerate(order):
        budgets[i] = max(1, min(lengths[i], left // (len(lengths) - j)))
        left -= budgets[i]
    return budgets


def _window(text: str, max_chars: int, weights: dict[str, float], query: str) -> str:
    """text itself when it fits, else a window of at most max_chars ("…" marks included) at a word
    boundary. Windows start at the passage's start, or near each query word: at the start of its
    sentence when that is at most a quarter of the window before it, else a few words before it
    (the answer is most often in the sentence that names the entity, and after the name). The
    window wins that holds the most idf weight of distinct query words, plus the weight of query
    word pairs found side by side (a full name); on ties, the one in which all of its query words
    have appeared soonest after its start (the words asked about close together, room after
    them), then the earliest."""
    if len(text) <= max_chars:
        return text
    if max_chars < 3:  # no room for a window between two marks
        return text[: max_chars - 1] + "…"
    tokens = [(m.start(), m.end(), _fold(m.group())) for m in _TOKEN.finditer(text)]
    words = [_fold(w) for w in _TOKEN.findall(query)]
    pairs = {(a, b) for a, b in zip(words, words[1:]) if a in weights and b in weights}
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text)]
    lead = max_chars // 4
    best = None
    for hit in [0] + [t[0] for t in tokens if t[2] in weights]:
        sentence = max(x for x in starts if x <= hit)
        s = sentence if hit - sentence <= lead else next(t[0] for t in tokens if t[0] >= hit - lead)
        s, e = _span(text, s, max_chars, starts, tokens)
        inside = [t for t in tokens if s <= t[0] and t[1] <= e]
        words_in = [t[2] for t in inside]
        score = sum(weights.get(w, 0.0) for w in set(words_in))
        score += sum(weights[a] + weights[b] for a, b in {p for p in zip(words_in, words_in[1:]) if p in pairs})
        first = {}  # each query word's first end in the window
        for start, end, w in inside:
            if w in weights:
                first.setdefault(w, end)
        key = (round(score, 6), -(max(first.values(), default=s) - s))  # rounded: ties are ties
        if best is None or key > best[0]:
            best = (key, s, e)
    _, s, e = best
    return ("…" if s > 0 else "") + text[s:e].strip() + ("…" if e < len(text) else "")


def _span(text: str, s: int, max_chars: int, starts: list[int], tokens: list) -> tuple[int, int]:
    """[s, e) of a window starting at s, with room for its "…" marks. Cut at the last space that
    fits (mid-word only when that is in the first half); a window that reaches the end of text
    starts earlier to fill max_chars (at a sentence start when one fits, else at a word)."""
    room = max_chars - (s > 0)
    if len(text) - s <= room:  # reaches the end: move the start back while it fits
        earliest = len(text) - (max_chars - 1)
        s = min([x for x in starts if earliest <= x <= s] or [t[0] for t in tokens if earliest <= t[0] <= s] or [s])
        return s, len(text)
    room -= 1  # the closing "…"
    cut = text.rfind(" ", s, s + room + 1)
    return s, cut if cut - s > room // 2 else s + room
