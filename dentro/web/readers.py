"""Read crawl files into Records: WARC (.warc/.warc.gz, FastWARC), WET, HTML folders, JSONL, Parquet.

Bad input never stops a job: a truncated gzip, an unreadable record or a broken line is
counted in `problems` (reason -> count) and the reader moves on (or stops that file when
nothing after the damage can be trusted, as with a truncated gzip).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz")
WET_SUFFIXES = (".wet", ".wet.gz", ".warc.wet.gz")
HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)

# The first 4 KiB of an HTML page nearly always hold one of these tags, even when the HTTP
# headers are missing or mangled (ClueWeb09 has such records).
_HTML_SNIFF = re.compile(rb"<(!doctype|html|head|body|div|p|title|meta|table|span|a)[\s>]", re.I)


@dataclass(slots=True)
class Record:
    """One document as read. `html` is set for web pages, `text` for already-extracted text."""
    id: str
    url: str
    date: str
    source: str            # input file name (crawl order: file name, then `index`)
    index: int             # position in that file
    html: bytes | None = None
    text: str | None = None
    content_type: str | None = None   # from HTTP headers; None if absent
    charset: str | None = None

    @property
    def nbytes(self) -> int:
        if self.html is not None:
            return len(self.html)
        return len((self.text or "").encode("utf-8", "replace"))


def kind_of(path: Path) -> str | None:
    """'warc' | 'wet' | 'html' | 'jsonl' | 'parquet' from the file name, None if unknown."""
    n = path.name.lower()
    if n.endswith(WET_SUFFIXES):
        return "wet"
    for kind, suf in (("warc", WARC_SUFFIXES), ("html", HTML_SUFFIXES),
                      ("jsonl", JSONL_SUFFIXES), ("parquet", PARQUET_SUFFIXES)):
        if n.endswith(suf):
            return kind
    return None


def list_inputs(paths: list[Path]) -> list[Path]:
    """Files to read, in crawl order (sorted names). A folder of HTML files is one input."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and kind_of(f))
            html = [f for f in files if kind_of(f) == "html"]
            out += [f for f in files if kind_of(f) != "html"]
            if html:
                out.append(p)  # the folder itself: read as one task
        elif p.exists():
            out.append(p)
    return sorted(set(out), key=lambda f: (str(f.parent), f.name))


# What each problem count means, in words (for the error a run that read nothing ends with).
PROBLEMS = {
    "read_unknown_format": "not a format dentro reads (by the name's ending)",
    "read_truncated_gzip": "the gzip data is cut short",
    "read_truncated": "records cut short",
    "read_too_large": "records over the size limit",
    "read_http_status": "HTTP responses other than 200",
    "read_bad_json_line": "lines that are not a JSON object with a `text` string",
    "read_no_text_column": "no `text` column",
    "read_bad_row": "rows whose `text` is not a string",
    "read_error_": "cannot be read: damaged, or not what its name says",
    "read_bad_record_": "records that could not be parsed",
}
FORMATS = ".warc(.gz), .wet(.gz), .html(.gz), .jsonl(.gz) or .parquet, or a folder of them"


def why_unread(path: Path, problems: dict[str, int]) -> str:
    """Why an input gave no record at all, in words, from its problem counts."""
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        return "an empty file (0 bytes)"
    if path.is_file() and path.name.lower().endswith(".gz"):
        with open(path, "rb") as f:
            if f.read(2) != b"\x1f\x8b":
                return "named .gz, but not gzip data"
    if not problems:
        return "no record of a kind dentro reads (from a WARC: response, resource or conversion records)"
    words = []
    for reason, n in problems.items():
        key = next((k for k in PROBLEMS if reason == k or (k.endswith("_") and reason.startswith(k))), None)
        words.append(f"{PROBLEMS[key] if key else reason} ({reason}: {n})")
    return "; ".join(words)


def looks_like_html(payload: bytes) -> bool:
    return bool(_HTML_SNIFF.search(payload[:4096]))


def read(path: Path, problems: Counter, *, max_bytes: int = 10_000_000,
         part: int = 0, nparts: int = 1) -> Iterator[Record]:
    """Records from one input (file, or a folder of HTML files), skipping and counting bad ones.

    With nparts > 1 only records whose index i has i % nparts == part are returned, so that one
    big file can be shared by several tasks (each decompresses the file, only one parses a record).
    Bad records are counted by the part that would have owned them, or by part 0 when unknown."""
    path = Path(path)

    def mine(i: int) -> bool:
        return i % nparts == part

    # readers other than WARC see every record in every part: count their problems in part 0 only
    local = problems if part == 0 else Counter()

    def pick(records):
        return (r for r in records if mine(r.index))

    if path.is_dir():
        yield from pick(_read_html_folder(path, local))
        return
    kind = kind_of(path)
    try:
        if kind in ("warc", "wet"):
            yield from _read_warc(path, problems, max_bytes, mine)
        elif kind == "html":
            yield from pick(_read_html_files([path], path.parent, local))
        elif kind == "jsonl":
            yield from pick(_read_jsonl(path, local))
        elif kind == "parquet":
            yield from pick(_read_parquet(path, local))
        elif part == 0:
            problems["read_unknown_format"] += 1
    except Exception as e:  # damage we cannot read past (a broken gzip stream, a bad file)
        if part == 0:
            problems[f"read_error_{type(e).__name__}"] += 1


def _strip_uri(u: str | None) -> str:
    # WARC/1.0 examples wrap the URI in <...>; some writers copied that
    return (u or "").strip().strip("<>")


def _read_warc(path: Path, problems: Counter, max_bytes: int, mine) -> Iterator[Record]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    types = WarcRecordType.response | WarcRecordType.resource | WarcRecordType.conversion
    last_pos = 0
    with open(path, "rb") as f:
        for i, r in enumerate(ArchiveIterator(f, record_types=types, parse_http=True)):
            last_pos = r.stream_pos
            if not mine(i):
                continue
            try:
                url = _strip_uri(r.headers.get("WARC-Target-URI"))
                date = r.headers.get("WARC-Date") or ""
                rid = _strip_uri(r.record_id) or f"{path.name}:{i}"
                if r.content_length > max_bytes:
                    # a huge page: do not even read it into memory
                    problems["read_too_large"] += 1
                    continue
                body = r.reader.read()
                if len(body) < r.content_length:
                    problems["read_truncated"] += 1   # a truncated gzip ends in a short record
                    continue
                if r.record_type == WarcRecordType.conversion:   # WET: text already extracted
                    yield Record(rid, url, date, path.name, i,
                                 text=body.decode("utf-8", "replace"))
                    continue
                ctype = (r.http_content_type or None) if r.http_headers is not None else None
                if r.record_type == WarcRecordType.resource:
                    ctype = r.headers.get("Content-Type")
                if r.http_headers is not None and r.http_headers.status_code not in (200, None):
                    problems["read_http_status"] += 1
                    continue
                yield Record(rid, url, date, path.name, i, html=body, content_type=ctype,
                             charset=r.http_charset if r.http_headers is not None else None)
            except Exception as e:  # one broken record must not stop the file
                problems[f"read_bad_record_{type(e).__name__}"] += 1
    # FastWARC stops quietly at a truncated gzip member; check the tail ourselves
    if path.name.lower().endswith(".gz") and not _gzip_tail_complete(path, last_pos) and mine(0):
        problems["read_truncated_gzip"] += 1


def _gzip_tail_complete(path: Path, offset: int) -> bool:
    """True if every gzip member from `offset` (where the last record we saw starts) to the end
    of the file is complete. Cheap with per-record gzip members, the WARC norm."""
    import zlib

    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    try:
        while data.strip(b"\0"):
            d = zlib.decompressobj(wbits=31)     # one gzip member
            d.decompress(data, 1 << 20)          # output is thrown away: we only want to reach its end
            while d.unconsumed_tail and not d.eof:
                d.decompress(d.unconsumed_tail, 1 << 20)
            if not d.eof:
                return False
            data = d.unused_data
    except zlib.error:
        return False
    return True


def _file_id(source: str, key: str) -> str:
    return "sha1:" + hashlib.sha1(f"{source}\0{key}".encode()).hexdigest()[:24]


def _read_html_folder(folder: Path, problems: Counter) -> Iterator[Record]:
    files = sorted(f for f in folder.rglob("*") if f.is_file() and kind_of(f) == "html")
    yield from _read_html_files(files, folder, problems)


def _read_html_files(files: list[Path], root: Path, problems: Counter) -> Iterator[Record]:
    for i, f in enumerate(files):
        try:
            data = f.read_bytes()
            if f.name.lower().endswith(".gz"):
                data = gzip.decompress(data)
        except (OSError, EOFError, ValueError) as e:
            problems[f"read_error_{type(e).__name__}"] += 1
            continue
        rel = f.relative_to(root).as_posix()
        yield Record(_file_id(root.name, rel), "file:///" + rel, "", root.name, i, html=data,
                     content_type="text/html")


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _read_jsonl(path: Path, problems: Counter) -> Iterator[Record]:
    """One JSON object per line with `text` (and optionally `id`, `url`, `date`)."""
    with _open_text(path) as f:
        i = -1
        while True:
            try:
                line = f.readline()
            except (OSError, EOFError):   # truncated .gz
                problems["read_truncated"] += 1
                return
            if not line:
                return
            i += 1
            try:
                obj = json.loads(line)
                text = obj["text"]
                if not isinstance(text, str):
                    raise TypeError("text is not a string")
            except (ValueError, KeyError, TypeError):
                problems["read_bad_json_line"] += 1
                continue
            yield Record(str(obj.get("id") or _file_id(path.name, str(i))), str(obj.get("url") or ""),
                         str(obj.get("date") or ""), path.name, i, text=text)


def _read_parquet(path: Path, problems: Counter) -> Iterator[Record]:
    """A Parquet file with a `text` column (a FineWeb shard is one)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = set(pf.schema_arrow.names)
    if "text" not in names:
        problems["read_no_text_column"] += 1
        return
    cols = [c for c in ("text", "id", "url", "date") if c in names]
    i = 0
    for batch in pf.iter_batches(columns=cols, batch_size=1024):
        d = batch.to_pydict()
        for j, text in enumerate(d["text"]):
            if not isinstance(text, str):
                problems["read_bad_row"] += 1
            else:
                rid = d["id"][j] if "id" in d and d["id"][j] else _file_id(path.name, str(i))
                yield Record(str(rid), str(d["url"][j] or "") if "url" in d else "",
                             str(d["date"][j] or "") if "date" in d else "", path.name, i, text=text)
            i += 1
