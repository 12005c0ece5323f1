"""URL filter: UT1-style blocklists (domains and URLs per category) plus banned words in URLs.

UT1 (Université Toulouse 1 Capitole, https://dsi.ut-capitole.fr/blacklists/) ships one folder per
category with two files: `domains` (one host per line; its subdomains are blocked too) and
`urls` (host + path prefixes). FineWeb blocks UT1's `adult` category and adds banned words
(Penedo et al. 2024, §3.3.1); datatrove's URLFilter does the same. We read any categories the
user supplies (folder or .tar.gz), all of them unless `categories` is given: with the real UT1
list, pass categories=["adult"] to do what FineWeb did.
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Words that, as a whole token of the URL (split on non-letters), mark an adult page. Our own short
# list, English and Portuguese; tokens, not substrings, so "sussex" or "essex" are not hit.
BANNED_WORDS = frozenset("""
porn porno pornhub xxx xvideos xnxx hentai nsfw camgirl camgirls milf bdsm fetish
sexcam sexo putaria putas safada safadas novinhas pelada peladas xoxota buceta
""".split())
# Strings that mark an adult page even inside a longer token ("freepornvideos").
BANNED_SUBWORDS = ("porn", "xvideo", "xnxx", "putaria")
# Ambiguous alone ("sex" in a health page), damning together: two or more of them block.
SOFT_BANNED_WORDS = frozenset("sex sexy nude nudes naked adult adulto gay teen teens hot girls escort".split())
SOFT_THRESHOLD = 2

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass
class Blocklist:
    domains: dict[str, str] = field(default_factory=dict)     # host -> category
    urls: dict[str, str] = field(default_factory=dict)        # "host/path" prefix -> category

    def __len__(self) -> int:
        return len(self.domains) + len(self.urls)


def _norm_host(h: str) -> str:
    h = h.strip().lower().rstrip(".")
    return h[4:] if h.startswith("www.") else h


def _add_lines(bl: Blocklist, kind: str, category: str, text: str) -> None:
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if kind == "domains":
            bl.domains.setdefault(_norm_host(line), category)
        else:
            host, _, path = line.partition("/")
            bl.urls.setdefault(_norm_host(host) + "/" + path, category)


def load_blocklist(source: Path | None, categories: list[str] | None = None) -> Blocklist:
    """Read a UT1-layout folder (`<category>/domains`, `<category>/urls`) or a tarball of one."""
    bl = Blocklist()
    if source is None:
        return bl
    source = Path(source)
    want = set(categories) if categories else None
    if source.is_dir():
        for f in sorted(source.rglob("*")):
            if f.is_file() and f.name in ("domains", "urls"):
                cat = f.parent.name
                if want is None or cat in want:
                    _add_lines(bl, f.name, cat, f.read_text(encoding="utf-8", errors="replace"))
    elif source.is_file():
        with tarfile.open(source, "r:*") as tar:
            for m in tar:
                parts = m.name.split("/")
                if not m.isfile() or len(parts) < 2 or parts[-1] not in ("domains", "urls"):
                    continue
                cat = parts[-2]
                if want is None or cat in want:
                    data = tar.extractfile(m).read()
                    _add_lines(bl, parts[-1], cat, io.TextIOWrapper(io.BytesIO(data), "utf-8", "replace").read())
    else:
        raise FileNotFoundError(source)
    return bl


def check_url(url: str, bl: Blocklist) -> str | None:
    """None if the URL passes, else the reason: 'blocklist_<category>' or 'banned_word'."""
    if not url or url.startswith("file:"):
        return None
    try:
        parts = urlsplit(url if "//" in url else "http://" + url)
        host = _norm_host(parts.hostname or "")
    except ValueError:
        return "bad_url"
    # the host and every parent domain: a.b.example.com, b.example.com, example.com, com
    labels = host.split(".")
    for k in range(len(labels)):
        cat = bl.domains.get(".".join(labels[k:]))
        if cat:
            return f"blocklist_{cat}"
    if bl.urls:
        key = host + parts.path + (("?" + parts.query) if parts.query else "")
        # prefixes ending at a '/' boundary, longest first is not needed: any hit blocks
        for i in range(len(key), len(host) - 1, -1):
            if i == len(key) or key[i] in "/?":
                cat = bl.urls.get(key[:i]) or bl.urls.get(key[:i] + "/")
                if cat:
                    return f"blocklist_{cat}"
    low = url.lower()
    tokens = _TOKEN.findall(low)
    if any(t in BANNED_WORDS for t in tokens) or any(s in low for s in BANNED_SUBWORDS):
        return "banned_word"
    if sum(t in SOFT_BANNED_WORDS for t in tokens) >= SOFT_THRESHOLD:
        return "banned_word"
    return None
