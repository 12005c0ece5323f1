"""The stages wired together: per-input tasks (in parallel), then one global step.

    plan      inputs -> tasks (an input file, or one part of a big file); saved in tasks/plan.json
    task      read -> url -> extraction -> language -> quality -> PII, for one task's records;
              writes tasks/<name>.kept.arrow, <name>.removed.arrow, then <name>.json (counts,
              samples): that last file, written atomically, is the task's "done" marker
    finalize  dedup over ALL kept documents (exact, then MinHash), then the corpus shards in
              crawl order, stats.json, removed/<stage>.<reason>.jsonl samples, removed.parquet

Resume: a killed run keeps its finished tasks (their marker exists) and redoes the others;
finalize always starts from the task files, so nothing is lost or counted twice.
PII is replaced inside the tasks (it is per document, so it runs in parallel) but counted in
the "pii" stage only for the documents that survive dedup, FineWeb's order.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing as mp
import os
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from dentro.errors import UserError
from dentro.progress import bar
from dentro.runs import atomic_write_json, atomic_write_text
from dentro.web import dedup as dd
from dentro.web.extract import ExtractConfig, Stopped, decode_html, extract_with_limit
from dentro.web.language import (DEFAULT_THRESHOLD, HTML_MIN_PAGE, identify, load_model, other_language,
                                 other_language_html, without_control)
from dentro.web.pii import anonymise
from dentro.web.quality import QUALITY_STAGES, run_quality
from dentro.web.readers import FORMATS, list_inputs, looks_like_html, read, why_unread
from dentro.web.stats import UNKNOWN, Stats
from dentro.web.url_filter import Blocklist, check_url, load_blocklist


_MAIN_PID = os.getpid()   # the process that imported us first (forked workers inherit the value)


@dataclass(frozen=True)
class DataConfig:
    languages: tuple = ("pt", "en")
    language_threshold: float = DEFAULT_THRESHOLD
    extractor: str = "blocks"
    timeout_s: float = 2.0
    max_html_bytes: int = 5_000_000
    min_words: int = 1               # fewer words after extraction: "nothing meaningful left"
    blocklist: str | None = None     # UT1 folder or tarball
    blocklist_categories: tuple | None = None
    pii: bool = True
    minhash: dd.MinHashConfig = field(default_factory=dd.MinHashConfig)
    docs_per_shard: int = 50_000
    samples_per_reason: int = 20
    task_bytes: int = 64 << 20       # split inputs bigger than this into parts
    small_file_bytes: int = 1 << 20  # inputs up to this size share tasks (0: one task per input)

    def fingerprint(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Task:
    name: str        # unique, sortable: "<input#>-<part>of<nparts>"
    input_idx: int
    path: str
    part: int
    nparts: int
    files: tuple = ()  # a task of several small inputs: ((input_idx, path), ...), the first being the above


def task_files(task: Task) -> list[tuple[int, str]]:
    """The (input index, path) pairs a task reads, in order."""
    return [tuple(f) for f in task.files] or [(task.input_idx, task.path)]


# ---------------------------------------------------------------- plan

def plan_tasks(inputs: list[Path], cfg: DataConfig, workers: int) -> list[Task]:
    """One task per input, big inputs split in parts; with fewer inputs than workers, inputs are
    split so that every worker has work. Small inputs (up to cfg.small_file_bytes: a wget crawl's
    files, a folder of pages) share tasks, in runs of consecutive inputs, as many runs as workers
    (or more, to keep each under cfg.task_bytes): a task's fixed cost (its plan entry, its own
    tables and summary, their fsync) is paid per task, not per file. Neither the split nor the
    grouping changes the output, only the speed."""
    sizes = [_size(p) for p in inputs]
    tasks = []
    spread = math.ceil(workers / max(1, len(inputs))) if workers > 1 else 1
    small = [i for i, size in enumerate(sizes) if size <= cfg.small_file_bytes and Path(inputs[i]).is_file()]
    groups = _runs(small, sizes, max(min(len(small), workers), math.ceil(sum(sizes[i] for i in small)
                                                                     / cfg.task_bytes))) if len(small) > 1 else []
    grouped = {g[0]: g for g in groups if len(g) > 1}
    in_group = {i for g in grouped.values() for i in g}
    for i, (p, size) in enumerate(zip(inputs, sizes)):
        if i in grouped:
            g = grouped[i]
            tasks.append(Task(f"{i:05d}-{len(g):03d}files", i, str(p), 0, 1, tuple((j, str(inputs[j])) for j in g)))
            continue
        if i in in_group:
            continue
        n = max(1, math.ceil(size / cfg.task_bytes))
        if size > (1 << 20):   # small files are not worth splitting for the workers' sake
            n = max(n, spread)
        for k in range(n):
            tasks.append(Task(f"{i:05d}-{k:03d}of{n:03d}", i, str(p), k, n))
    return tasks


def _runs(ids: list[int], sizes: list[int], n: int) -> list[list[int]]:
    """ids (in order) cut into runs of consecutive ids (an id missing from ids, a bigger input,
    ends a run: a run's rows are written together, in crawl order) with about equal total size,
    cut at most n - 1 times besides those gaps."""
    total = sum(sizes[i] for i in ids) or 1
    runs: list[list[int]] = [[]]
    done, cuts = 0, 0
    for i in ids:
        if runs[-1] and runs[-1][-1] != i - 1:
            runs.append([])
        elif runs[-1] and cuts < n - 1 and done >= total * (cuts + 1) / n:
            runs.append([])
            cuts += 1
        runs[-1].append(i)
        done += sizes[i]
    return runs


def _size(p: Path) -> int:
    p = Path(p)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size


def _inputs_key(inputs: list[Path]) -> list:
    def mtime(p: Path) -> int:   # a folder: its newest file
        p = Path(p)
        if p.is_dir():
            return max((int(f.stat().st_mtime) for f in p.rglob("*") if f.is_file()), default=0)
        return int(p.stat().st_mtime)
    return [[str(p), _size(p), mtime(p)] for p in inputs]


def prepare(inputs: list[Path], out: Path, cfg: DataConfig, workers: int, log=print) -> list[Task]:
    """Load or write tasks/plan.json. A plan for the same inputs and config is kept (resume);
    anything else starts the tasks over."""
    tdir = out / "tasks"
    # a changed blocklist changes the URL filter's decisions: it is part of the inputs
    bl = [Path(cfg.blocklist)] if cfg.blocklist and Path(cfg.blocklist).exists() else []
    key = {"inputs": _inputs_key(inputs + bl), "config": cfg.fingerprint(), "task_files": TASK_FILES}
    plan_path = tdir / "plan.json"
    if plan_path.exists():
        plan = json.loads(plan_path.read_text())
        if {k: plan.get(k) for k in key} == key:   # a plan of an older version of the task files: redo
            tasks = [Task(**{**t, "files": tuple(tuple(f) for f in t.get("files", ()))}) for t in plan["tasks"]]
            done = sum((tdir / f"{t.name}.json").exists() for t in tasks)
            if done:
                log(f"[data] resuming: {done}/{len(tasks)} tasks already done")
            return tasks
        log("[data] inputs or settings changed since the last run: starting the tasks over")
    shutil.rmtree(tdir, ignore_errors=True)
    tasks = plan_tasks(inputs, cfg, workers)
    atomic_write_json(plan_path, {**key, "tasks": [asdict(t) for t in tasks]})
    return tasks


# ---------------------------------------------------------------- one task

@lru_cache(maxsize=4)
def _blocklist(path: str | None, categories: tuple | None) -> Blocklist:
    return load_blocklist(Path(path) if path else None, list(categories) if categories else None)


KEPT_SCHEMA = pa.schema([
    ("text", pa.string()), ("id", pa.string()), ("url", pa.string()), ("date", pa.string()),
    ("file_path", pa.string()), ("language", pa.string()), ("language_score", pa.float64()),
    ("input_idx", pa.int32()), ("index", pa.int64()), ("exact", pa.int64()),
    ("bands", pa.list_(pa.int64())), ("mins", pa.list_(pa.uint32())), ("pii", pa.string()),
    ("bytes_before_pii", pa.int64()),
])
REMOVED_SCHEMA = pa.schema([
    ("input_idx", pa.int32()), ("index", pa.int64()), ("url", pa.string()), ("file_path", pa.string()),
    ("stage", pa.string()), ("reason", pa.string()), ("language", pa.string()),
])


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def run_task(task: Task, cfg: DataConfig, out: Path) -> dict:
    """Process one task's records through every per-document stage. Returns a small summary."""
    t0 = time.time()
    tdir = Path(out) / "tasks"
    bl = _blocklist(cfg.blocklist, cfg.blocklist_categories)
    ecfg = ExtractConfig(cfg.extractor, cfg.timeout_s, cfg.max_html_bytes)
    st = Stats()
    problems: Counter = Counter()
    kept: dict[str, list] = {f.name: [] for f in KEPT_SCHEMA}
    removed: dict[str, list] = {f.name: [] for f in REMOVED_SCHEMA}
    samples: dict[str, list] = {}

    def drop(rec, stage, reason, lang, nbytes, snippet):   # input_idx: the record's, from the loop below
        st.remove(stage, reason, lang, nbytes)
        for k, v in (("input_idx", input_idx), ("index", rec.index), ("url", rec.url),
                     ("file_path", rec.source), ("stage", stage), ("reason", reason), ("language", lang)):
            removed[k].append(v)
        key = f"{stage}.{reason}"
        lst = samples.setdefault(key, [])
        if len(lst) < cfg.samples_per_reason:
            lst.append({"url": rec.url, "file_path": rec.source, "index": rec.index, "stage": stage,
                        "reason": reason, "language": lang, "text": (snippet or "")[:2000]})

    def gate(marked: str) -> None:
        """Before the classifier: a page whose main-content text is confidently in a language the
        run does not keep is dropped at the language stage without being classified (53% of the
        real WARCs' pages are in other languages; the classifier is a third of `blocks`' time)."""
        found = other_language(marked, cfg.languages)
        if found:
            raise Stopped(*found, without_control(marked[:2000]))

    def records():  # (input index, record) of each input of the task in turn, bad records counted per input
        for idx, path in task_files(task):
            found = problems_by_file.setdefault(path, Counter())
            for rec in read(Path(path), found, max_bytes=cfg.max_html_bytes * 2, part=task.part, nparts=task.nparts):
                yield idx, rec
            problems.update(found)

    problems_by_file: dict[str, Counter] = {}
    # a per-document bar when the task runs in this process (one worker); pools show per-task bars
    in_main = mp.current_process().name == "MainProcess" and os.getpid() == _MAIN_PID
    label = Path(task.path).name + (f" and {len(task.files) - 1} more" if len(task.files) > 1 else "")
    for input_idx, rec in bar(records(), desc=f"data: {label}", unit="doc", leave=False, disable=not in_main):
        n = rec.nbytes
        st.enter("read", UNKNOWN, n)
        st.leave("read", UNKNOWN, n)
        # 2. URL filter
        st.enter("url", UNKNOWN, n)
        why = check_url(rec.url, bl)
        if why:
            drop(rec, "url", why, UNKNOWN, n, "")
            continue
        st.leave("url", UNKNOWN, n)
        # 3. extraction
        st.enter("extraction", UNKNOWN, n)
        if rec.html is not None:
            ctype = (rec.content_type or "").lower()
            if (ctype and "html" not in ctype) or not looks_like_html(rec.html):
                drop(rec, "extraction", "not_html", UNKNOWN, n, rec.html[:300].decode("utf-8", "replace"))
                continue
            if n > cfg.max_html_bytes:
                drop(rec, "extraction", "too_large", UNKNOWN, n, "")
                continue
            doc = decode_html(rec.html, rec.charset)
            try:   # confidently another language by the top of the page, before any parsing ...
                found = other_language_html(doc, cfg.languages) if len(doc) >= HTML_MIN_PAGE else None
                if found:
                    raise Stopped(*found)
                text, err = extract_with_limit(doc, ecfg, gate)  # ... or before the classifier (blocks)
            except Stopped as stop:
                lang, score, head = stop.args
                nb = _nbytes(head)
                st.leave("extraction", UNKNOWN, nb)
                st.enter("language", lang, nb)
                drop(rec, "language", "other_language", lang, nb, head)
                continue
            if err:
                drop(rec, "extraction", err, UNKNOWN, n, "")
                continue
        else:
            text = rec.text or ""
        if len(text.split()) < cfg.min_words:
            drop(rec, "extraction", "empty", UNKNOWN, n, text)
            continue
        nb = _nbytes(text)
        st.leave("extraction", UNKNOWN, nb)
        # 4. language
        lang, score = identify(text)
        st.enter("language", lang, nb)
        if lang not in cfg.languages:
            drop(rec, "language", "other_language", lang, nb, text)
            continue
        if score < cfg.language_threshold:
            drop(rec, "language", "low_score", lang, nb, text)
            continue
        st.leave("language", lang, nb)
        # 5. quality, stage by stage (C4 may shorten the text)
        failed, reason, new_text = run_quality(text, lang)
        for stage in QUALITY_STAGES:
            st.enter(stage, lang, nb)
            if stage == failed:
                drop(rec, stage, reason, lang, nb, text)
                break
            if stage == "c4":
                text, nb = new_text, _nbytes(new_text)
            st.leave(stage, lang, nb)
        if failed:
            continue
        # 6. dedup signatures (on the text before PII placeholders), 7. PII
        clean, pii_counts = anonymise(text) if cfg.pii else (text, Counter())
        norm = dd.normalise(text)
        bands, mins = dd.sketch(text, cfg.minhash, norm)
        row = {"text": clean, "id": rec.id, "url": rec.url, "date": rec.date, "file_path": rec.source,
               "language": lang, "language_score": round(score, 4), "input_idx": input_idx,
               "index": rec.index, "exact": dd.exact_hash(text, norm), "bands": bands, "mins": mins,
               "pii": json.dumps(dict(pii_counts), sort_keys=True), "bytes_before_pii": nb}
        for k, v in row.items():
            kept[k].append(v)

    for reason, k in problems.items():   # bad input: counted at the read stage
        st.add(("read", "docs_in"), k)
        st.add(("read", "lang", UNKNOWN, "docs_in"), k)
        st.add(("read", "removed", reason, "docs"), k)
        st.add(("read", "removed", reason, "lang", UNKNOWN), k)
        st.add(("read", "lang", UNKNOWN, "removed"), k)

    _write_task_table(tdir / f"{task.name}.kept.arrow", pa.table(kept, schema=KEPT_SCHEMA))
    _write_task_table(tdir / f"{task.name}.removed.arrow", pa.table(removed, schema=REMOVED_SCHEMA))
    summary = {"task": task.name, "seconds": round(time.time() - t0, 3),
               "docs_in": st.c[("read", "docs_in")], "docs_kept": len(kept["text"])}
    # one line, not indented: json's C encoder (an indented dump runs the pure-Python one, ~5 ms here)
    atomic_write_text(tdir / f"{task.name}.json", json.dumps({**summary, "stats": st.to_rows(),
                                                              "samples": samples,
                                                              "read_problems": {p: dict(c) for p, c in
                                                                                problems_by_file.items()}},
                                                             ensure_ascii=False))
    return summary


# A task's own tables (read back once by finalize) are Arrow IPC files (Feather v2, LZ4 buffers):
# against Parquet with zstd, 0.29 vs 0.70 ms CPU to write a small table and 0.10 vs 0.25 ms to read
# two of its columns (a column is read without decompressing the others), at the same size; on ten
# small real WARC files (one task each) that is ~15 of the ~55 ms the ten tasks cost beyond one.
# The stage's outputs (corpus shards, removed.parquet) stay Parquet.
TASK_FILES = "arrow-lz4-mins-files"   # in plan.json: a plan from before (Parquet task files, no MinHash values, no
#                                       per-input read problems) is not resumed


def _rows(column: pa.ChunkedArray, n: int, width: int, dtype) -> np.ndarray:
    """A column of fixed-length lists (band hashes, MinHash values) as an (n, width) array."""
    if not n:
        return np.zeros((0, width), dtype)
    return np.array(column.combine_chunks().values.to_numpy()).reshape(n, width)


def _write_task_table(path: Path, table: pa.Table) -> None:
    _write_atomic(path, lambda tmp: feather.write_feather(table, tmp, compression="lz4"))


def _read_task_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    return feather.read_table(path, columns=columns, memory_map=False)


def _write_parquet(path: Path, table: pa.Table) -> None:
    _write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def _write_atomic(path: Path, write) -> None:
    """write(temporary path) beside `path`, then rename it there; the temporary file is removed if
    the write fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- the global step

CORPUS_COLUMNS = ["text", "id", "dump", "url", "date", "file_path", "language", "language_score",
                  "minhash_cluster_size"]


def finalize(tasks: list[Task], out: Path, cfg: DataConfig, log=print) -> dict:
    """Dedup across everything, write corpus shards in crawl order, stats.json, removed samples."""
    tdir = out / "tasks"
    st = Stats()
    samples: dict[str, list] = {}
    read_problems: dict[str, Counter] = {}   # input -> read problem -> documents
    for t in tasks:
        d = json.loads((tdir / f"{t.name}.json").read_text())
        task_stats = Stats.from_rows(d["stats"])
        st += task_stats
        for path, found in d.get("read_problems", {}).items():
            read_problems.setdefault(path, Counter()).update(found)
        for k, lst in d["samples"].items():
            samples.setdefault(k, []).extend(lst)
    if st.c[("read", "docs_out")] == 0:   # bad records are skipped, but inputs with no good one are a mistake
        raise UserError("no document could be read from the input(s):\n"
                        + "".join(f"  {p}: {why_unread(Path(p), c)}\n" for p, c in read_problems.items())
                        + f"dentro data reads {FORMATS}")

    # all kept documents in crawl order: (input file, record index)
    cols = ["input_idx", "index", "exact", "bands", "mins", "language", "url", "file_path", "bytes_before_pii"]
    parts = [_read_task_table(tdir / f"{t.name}.kept.arrow", columns=cols) for t in tasks]
    meta = pa.concat_tables(parts) if parts else pa.table({c: [] for c in cols})
    order = np.lexsort((meta["index"].to_numpy(), meta["input_idx"].to_numpy()))
    meta = meta.take(order)
    n = meta.num_rows
    bands = _rows(meta["bands"], n, cfg.minhash.bands, np.int64)
    mins = _rows(meta["mins"], n, cfg.minhash.bands * cfg.minhash.rows, np.uint32)
    meta = meta.drop_columns(["bands", "mins"])
    reason, root, sizes = dd.find_duplicates(meta["exact"].to_numpy(), bands, mins, cfg.minhash.verify)
    del bands, mins

    langs = meta["language"].to_pylist()
    nbs = meta["bytes_before_pii"].to_numpy()
    urls = meta["url"].to_pylist()
    dedup_removed = {f.name: [] for f in REMOVED_SCHEMA}
    names = {1: "exact", 2: "minhash"}
    for i in range(n):
        st.enter("dedup", langs[i], int(nbs[i]))
        if reason[i]:
            why = names[int(reason[i])]
            st.remove("dedup", why, langs[i], int(nbs[i]))
            row = {"input_idx": meta["input_idx"][i].as_py(), "index": meta["index"][i].as_py(),
                   "url": urls[i], "file_path": meta["file_path"][i].as_py(), "stage": "dedup",
                   "reason": why, "language": langs[i]}
            for k, v in row.items():
                dedup_removed[k].append(v)
            lst = samples.setdefault(f"dedup.{why}", [])
            if len(lst) < cfg.samples_per_reason:
                lst.append({**row, "duplicate_of": urls[int(root[i])], "text": ""})
        else:
            st.leave("dedup", langs[i], int(nbs[i]))
    keep_key = {(int(a), int(b)): int(s) for a, b, r, s in zip(meta["input_idx"].to_numpy(),
                                                               meta["index"].to_numpy(), reason, sizes) if r == 0}

    # shards: read each input's kept rows (all its parts; a task of small inputs under its first), keep
    # dedup survivors, crawl order
    cdir = out / "corpus"
    cdir.mkdir(parents=True, exist_ok=True)
    writer = _ShardWriter(cdir, cfg.docs_per_shard)
    pii_total: Counter = Counter()
    by_input: dict[int, list[Task]] = {}
    for t in tasks:
        by_input.setdefault(t.input_idx, []).append(t)
    dedup_text = {}
    for i in sorted(by_input):
        tab = pa.concat_tables([_read_task_table(tdir / f"{t.name}.kept.arrow") for t in by_input[i]])
        tab = tab.take(np.lexsort((tab["index"].to_numpy(), tab["input_idx"].to_numpy())))  # a task may hold several
        for r in tab.to_pylist():
            k = (r["input_idx"], r["index"])
            if k not in keep_key:
                dedup_text[k] = r["text"]
                continue
            nb_out = _nbytes(r["text"])
            st.enter("pii", r["language"], r["bytes_before_pii"])
            st.leave("pii", r["language"], nb_out)
            counts = json.loads(r["pii"])
            for kind, c in counts.items():
                st.add(("pii", "replaced", kind, "count"), c)
                pii_total[kind] += c
            if counts:
                st.add(("pii", "docs_with_pii"), 1)
            writer.add({"text": r["text"], "id": r["id"], "dump": "dentro", "url": r["url"],
                        "date": r["date"], "file_path": r["file_path"], "language": r["language"],
                        "language_score": r["language_score"], "minhash_cluster_size": keep_key[k]})
    shards = writer.close()
    for lst in samples.values():   # the dedup samples get their (anonymised) text
        for s in lst:
            if s["stage"] == "dedup":
                s["text"] = dedup_text.get((s["input_idx"], s["index"]), "")[:2000]

    # removed samples, one file per reason; fates: every removed document
    rdir = out / "removed"
    shutil.rmtree(rdir, ignore_errors=True)
    rdir.mkdir(parents=True)
    for key, lst in sorted(samples.items()):
        lst.sort(key=lambda s: (s.get("file_path", ""), s.get("index", 0)))
        atomic_write_text(rdir / f"{key}.jsonl", "".join(json.dumps(s, ensure_ascii=False) + "\n"
                                                         for s in lst[: cfg.samples_per_reason]))
    rem = [_read_task_table(tdir / f"{t.name}.removed.arrow") for t in tasks]
    rem.append(pa.table(dedup_removed, schema=REMOVED_SCHEMA))
    fates = pa.concat_tables(rem)
    fates = fates.take(np.lexsort((fates["index"].to_numpy(), fates["input_idx"].to_numpy())))
    _write_parquet(out / "removed.parquet", fates)

    nested = st.nested()
    pii = next(s for s in nested["stages"] if s["stage"] == "pii")
    pii["replaced"] = dict(sorted(pii_total.items()))
    pii["docs_with_pii"] = st.c[("pii", "docs_with_pii")]
    stats = {**nested, "documents_out": writer.total, "shards": shards,
             "inputs": sorted({path for t in tasks for _, path in task_files(t)}),
             "config": json.loads(json.dumps(asdict(cfg), default=str))}
    atomic_write_json(out / "stats.json", stats)
    return stats


class _ShardWriter:
    """Parquet shards of up to `per_shard` documents, named 00000.parquet, 00001.parquet, ..."""

    def __init__(self, folder: Path, per_shard: int):
        self.folder, self.per_shard = folder, per_shard
        self.rows: list[dict] = []
        self.names: list[str] = []
        self.total = 0

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.per_shard:
            self._flush()

    def _flush(self) -> None:
        name = f"{len(self.names):05d}.parquet"
        table = pa.Table.from_pylist(self.rows) if self.rows else pa.table({c: pa.array([], pa.string()) for c in CORPUS_COLUMNS})
        _write_parquet(self.folder / name, table)
        self.names.append(name)
        self.total += len(self.rows)
        self.rows = []

    def close(self) -> list[str]:
        if self.rows or not self.names:
            self._flush()
        for f in self.folder.glob("*.parquet"):   # shards of an earlier, bigger run
            if f.name not in self.names:
                f.unlink()
        return self.names


# ---------------------------------------------------------------- everything

def process(inputs: list[Path], out: Path, cfg: DataConfig, *, executor: str = "local",
            workers: int | None = None, ray_address: str | None = None, log=print) -> dict:
    """Run the whole stage: plan, tasks (skipping those done), finalize. Returns stats."""
    from dentro.web.executors import run_tasks

    files = list_inputs(inputs)
    if not files:
        raise FileNotFoundError(f"no readable input in {', '.join(map(str, inputs))}")
    workers = workers or os.cpu_count() or 1
    out.mkdir(parents=True, exist_ok=True)
    tasks = prepare(files, out, cfg, workers, log=log)
    todo = [t for t in tasks if not (out / "tasks" / f"{t.name}.json").exists()]
    t0 = time.time()
    if todo and executor == "local" and workers > 1:
        load_model()   # before the workers fork
    for _ in run_tasks(run_task, [(t, cfg, out) for t in todo], executor=executor, workers=workers,
                       ray_address=ray_address, desc="data: files"):
        pass
    task_seconds = time.time() - t0
    stats = finalize(tasks, out, cfg, log=log)
    stats["task_seconds"] = round(task_seconds, 3)
    stats["workers"] = workers
    stats["executor"] = executor
    atomic_write_json(out / "stats.json", stats)
    return stats
