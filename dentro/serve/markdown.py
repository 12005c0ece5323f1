"""A tiny Markdown -> HTML for the report card (the subset dentro/report.py writes): headings,
paragraphs, pipe tables, fenced code, bullet lists, images, links, `code`, **bold**, *italic*.

Everything is HTML-escaped first; an image becomes <img data-src="run/PATH"> only when PATH is a
relative path inside the run folder (the page then fetches /ui/run/PATH with the API key), and a
link only when it is http(s) or a fragment: report text never injects markup or reaches files.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
IMAGE_SUFFIXES = {".png", ".svg", ".jpg", ".jpeg", ".gif", ".webp"}


def safe_image_path(src: str) -> str | None:
    """A report image path as the run folder holds it ("pretrain/loss.png"), or None."""
    if (not src or src.startswith(("/", "\\")) or ":" in src or "\\" in src
            or any(part in ("", ".", "..") for part in src.split("/"))):
        return None
    return src if Path(src).suffix.lower() in IMAGE_SUFFIXES else None


def report_images(run: Path) -> dict[str, Path]:
    """{path as report.md writes it: the file} for every image report.md shows that exists inside run."""
    path = run / "report.md"
    if not path.is_file():
        return {}
    root = run.resolve()
    out = {}
    for _, src in IMAGE.findall(path.read_text(encoding="utf-8", errors="replace")):
        rel = safe_image_path(src)
        if rel is None:
            continue
        f = (root / rel).resolve()
        if f.is_relative_to(root) and f.is_file():  # a symlink out of the run folder stays out
            out[rel] = f
    return out


def inline(text: str) -> str:
    s = html.escape(text, quote=True)
    codes: list[str] = []

    def keep(m):  # code spans first, so nothing inside them is formatted
        codes.append(f"<code>{m.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    s = re.sub(r"`([^`]+)`", keep, s)

    def image(m):
        rel = safe_image_path(html.unescape(m.group(2)))
        if rel is None:
            return m.group(0)
        return f'<img alt="{m.group(1)}" data-src="{html.escape(rel, quote=True)}">'

    def link(m):
        href = html.unescape(m.group(2))
        if not href.startswith(("http://", "https://", "#")):
            return m.group(1)
        return f'<a href="{html.escape(href, quote=True)}" rel="noopener noreferrer">{m.group(1)}</a>'

    s = IMAGE.sub(image, s)
    s = LINK.sub(link, s)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", s)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], s)


def table_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [inline(c.strip().replace("\\|", "|")) for c in cells]


def markdown_to_html(md: str) -> str:
    lines = md.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append("<pre><code>" + html.escape("\n".join(lines[i + 1:j])) + "</code></pre>")
            i = j + 1
        elif m := re.match(r"(#{1,6})\s+(.*)", line):
            n = len(m.group(1))
            out.append(f"<h{n}>{inline(m.group(2).strip())}</h{n}>")
            i += 1
        elif line.lstrip().startswith("|") and i + 1 < len(lines) and re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*",
                                                                                  lines[i + 1]):
            head = table_row(line)
            rows, i = [], i + 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(table_row(lines[i]))
                i += 1
            out.append("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr></thead><tbody>"
                       + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
                       + "</tbody></table>")
        elif re.match(r"\s*[-*]\s+", line):
            items = []
            while i < len(lines) and re.match(r"\s*[-*]\s+", lines[i]):
                items.append(inline(re.sub(r"\s*[-*]\s+", "", lines[i], count=1)))
                i += 1
            out.append("<ul>" + "".join(f"<li>{x}</li>" for x in items) + "</ul>")
        elif not line.strip():
            i += 1
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"(#{1,6}\s|```|\s*\||\s*[-*]\s)", lines[i]):
                para.append(lines[i].strip())
                i += 1
            if not para:  # a line that only looked like a block start
                para, i = [line.strip()], i + 1
            out.append("<p>" + inline(" ".join(para)) + "</p>")
    return "\n".join(out)
