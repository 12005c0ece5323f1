"""Look inside a generated world: a few pages with their ground truth, next to what naive tag
stripping of the same HTML would keep (`dentro world --show N`)."""

from __future__ import annotations

import json
import random
from html.parser import HTMLParser
from pathlib import Path


class _Text(HTMLParser):
    """Naive tag stripping: every text node outside <script>/<style>/<head>."""

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style", "head")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style", "head")

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def naive_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return "\n".join(p.parts)


def _payload(world: Path, warc_file: str, record: int) -> bytes:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with open(world / "crawl" / warc_file, "rb") as f:
        for i, rec in enumerate(ArchiveIterator(f, record_types=WarcRecordType.response)):
            if i == record:
                return rec.reader.read()
    raise KeyError(f"{warc_file} has no record {record}")


def show_pages(world: Path, n: int = 3, kind: str | None = None, seed: int = 0, max_lines: int = 12) -> str:
    """A text report on n pages (of one kind if given) picked with `seed`."""
    pages = [json.loads(x) for x in (world / "truth" / "pages.jsonl").read_text(encoding="utf-8").splitlines()]
    facts = {f["id"]: f for f in map(json.loads, (world / "truth" / "facts.jsonl").read_text(encoding="utf-8").splitlines())}
    pool = [p for p in pages if kind is None or p["kind"] == kind]
    if not pool:
        kinds = sorted({p["kind"] for p in pages})
        raise ValueError(f"no page of kind {kind!r}; kinds in this world: {', '.join(kinds)}")
    out = []
    for p in random.Random(seed).sample(pool, min(n, len(pool))):
        out.append(f"== {p['url']}")
        out.append(f"   kind {p['kind']}, lang {p['lang']}, expect {p['expect']}"
                   + (f", dup_group {p['dup_group']}" if p["dup_group"] else "")
                   + f"  ({p['warc_file']} record {p['record']})")
        for fid in p["facts"]:
            f = facts[fid]
            tag = f" [{f['stated']}]" if f["stated"] else ""
            out.append(f"   fact {fid} ({f['bucket']}{tag}): {f['subject_name']} · {f['relation']} = {f['answer'][p['lang']] if p['lang'] in f['answer'] else f['answer']['en']}")
        for x in p["pii"]:
            out.append(f"   pii {x['type']}: {x['value']}")
        if p["pii_decoys"]:
            out.append(f"   decoys (not PII): {', '.join(p['pii_decoys'])}")
        body = _payload(world, p["warc_file"], p["record"])
        charset = p.get("charset") or "utf-8"
        naive = naive_text(body.decode(charset, errors="replace")) if p["kind"] != "binary" else ""
        main = p["main_text"]
        out.append(f"   words: naive tag stripping {len(naive.split()):,}, main text {len(main.split()):,}")
        lines = main.splitlines()
        for line in lines[:max_lines]:
            out.append("   | " + (line if len(line) <= 160 else line[:157] + "..."))
        if len(lines) > max_lines:
            out.append(f"   | ... ({len(lines) - max_lines} more lines)")
        out.append("")
    return "\n".join(out)

