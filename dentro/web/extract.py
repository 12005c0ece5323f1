"""Main-content text from HTML: `blocks` (default), resiliparse (fastest), `precise` (the most
accurate) or trafilatura.

All are judged on two real-page benchmarks, trafilatura-dev and ScrapingHub
(benchmarks/data_extraction.py, docs/data.md). `blocks` is resiliparse's main-content text run
through a jusText-style block classifier (dentro/web/boilerplate.py) that drops the site furniture
resiliparse keeps, in any language. `resiliparse` is that text without the classifier: its
main-content mode with its defaults scored 0.898 on ScrapingHub; leaving out image alt texts, link
targets, list bullets, form fields, <noscript> and comments (none of them are article text) raised
it to 0.930 at the same speed. trafilatura runs with the settings FineWeb used through datatrove
(favor_precision, no comments) but without deduplicate, which emptied whole pages. `precise` is
trafilatura's text checked and completed by `blocks`' classifier (merge_precise).
"""

from __future__ import annotations

import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from dentro.web import boilerplate

# blocks: resiliparse + boilerplate.py (default); precise: trafilatura's text weighed by the same classifier
EXTRACTORS = ("blocks", "resiliparse", "trafilatura", "precise")


class ExtractionTimeout(Exception):
    pass


class Stopped(Exception):
    """Raised by an extract_blocks gate to stop a page before the classifier; extract_with_limit
    lets it through to the caller, with whatever the gate put in it."""


@dataclass(frozen=True)
class ExtractConfig:
    extractor: str = "blocks"
    timeout_s: float = 2.0          # per document; a page that takes longer is dropped and counted
    max_html_bytes: int = 5_000_000  # bigger payloads are skipped as "too_large" before parsing


@contextmanager
def time_limit(seconds: float):
    """Raise ExtractionTimeout in this thread after `seconds` (SIGALRM; main thread only).

    A C extension that never returns to Python cannot be interrupted this way, so callers also
    check the elapsed time afterwards. Outside the main thread (no signals) only that check runs."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise ExtractionTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_-]{2,30})""", re.I)
# declared charsets whose superset decodes more real pages (WHATWG Encoding Standard's mapping)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "iso-8859-1": "cp1252", "latin1": "cp1252",
              "us-ascii": "cp1252", "ascii": "cp1252", "shift_jis": "cp932", "sjis": "cp932",
              "euc-kr": "cp949", "tis-620": "cp874"}


# uchardet reads this many bytes (half from each end of the page) when we must guess the charset.
# On the 29 real EUC-JP pages that reach detection (ClueWeb09) every sample size from 2 KB up gave
# the same charset as the whole page; on 530 real and world pages re-encoded as cp1252/latin-1 with
# their <meta> removed, 8 KB lost one page (and 4 KB four) against the default 128 KB, at ~1/3 of
# the cost (0.66 vs 1.8 ms per 21 KB page).
DETECT_BYTES = 8192


def decode_html(html: bytes, charset: str | None = None) -> str:
    """Bytes -> str: the HTTP charset when it decodes cleanly, else UTF-8 when at most 0.1% of the
    characters are invalid, else the page's <meta charset> when it decodes cleanly, else
    resiliparse's detection on a sample (tolerant of broken encodings: bad bytes become U+FFFD).
    Trying UTF-8 before detection raised trafilatura's ScrapingHub F1 from 0.953 to 0.96."""
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    if charset:
        try:
            return html.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    # most of the web is UTF-8: a decode with (almost) no invalid bytes is strong evidence for it
    try:
        return html.decode("utf-8")       # the common case, without counting bad characters
    except UnicodeDecodeError:
        pass
    text = html.decode("utf-8", "replace")
    if text.count("\ufffd") <= len(text) // 1000:
        return text
    m = _META_CHARSET.search(html[:4096])   # not UTF-8: the page's own declaration, if it decodes
    if m:
        name = m.group(1).decode("ascii", "ignore").lower()
        try:
            return html.decode(_SUPERSETS.get(name, name))
        except (LookupError, UnicodeDecodeError):
            pass
    return bytes_to_str(html, detect_encoding(html, max_len=DETECT_BYTES))   # the last resort


_MANY_NEWLINES = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+\n")


# Share bars ("Share: Facebook X WhatsApp LinkedIn") survive main-content detection because they sit
# inside the article element; a line made only of these words is dropped.
_SOCIAL = frozenset("""share shares sharing compartilhe compartilhar partilhar partilhe follow us siga-nos
siga nos facebook x twitter whatsapp linkedin instagram telegram pinterest reddit youtube tiktok
threads bluesky mastodon e-mail email print imprimir tweet""".split())
_WORD = re.compile(r"[\w-]+")


def _is_share_bar(line: str) -> bool:
    words = _WORD.findall(line.lower())
    return bool(words) and all(w in _SOCIAL for w in words)


# Page furniture that main-content detection keeps when a page has no real content: copyright
# lines, and lines that are only a date, an e-mail address or a URL.
_FURNITURE = re.compile(
    r"^\s*(?:(?:©|\(c\)|copyright\b).*|.*\b(?:all rights reserved|todos os direitos reservados)\b.*"
    r"|\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://\S+)\s*$", re.I)


# searched in the lower-cased line: case-sensitive alternatives run ~6x faster than re.IGNORECASE
_TRIGGERS = re.compile(r"©|\(c\)|copyright|reserv|@|http|facebook|twitter|whatsapp|linkedin|instagram"
                       r"|share|partilh|siga|follow|print|imprimir")


def _is_furniture(line: str) -> bool:
    if len(line) > 160:   # furniture lines are short: prose skips every check below
        return False
    low = line.lower()
    if _TRIGGERS.search(low):
        return _is_share_bar(low) or bool(_FURNITURE.match(low))
    return len(line) <= 12 and bool(_FURNITURE.match(line))   # a lone date


def _tidy(text: str) -> str:
    text = _TRAILING_SPACE.sub("\n", text)
    text = "\n".join(l for l in text.split("\n") if not _is_furniture(l))
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def _plain_text(tree, main_content: bool = True) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(tree, main_content=main_content, alt_texts=False, links=False,
                              list_bullets=False, form_fields=False, noscript=False, comments=False)


def extract_resiliparse(html: str, marked: bool = False, main_content: bool = True) -> str:
    """resiliparse's main-content text (the whole page's text without `main_content`); with
    `marked`, links and furniture containers carry the markers dentro/web/boilerplate.py classifies
    blocks by."""
    from resiliparse.parse.html import HTMLTree

    return _plain_text(HTMLTree.parse(boilerplate.mark(html) if marked else html), main_content)


# resiliparse's main-content mode leaves some real articles with nothing or a line (its heuristics
# drop the article's container): when the classified main-content text is shorter than
# FULL_PAGE_BELOW, the classifier also reads the whole page's text and keeps what it finds there if
# that is FULL_PAGE_GAIN times longer and at least FULL_PAGE_MIN long, an article rather than a
# cookie notice on a page that has no article (the tiny world's boilerplate-only pages). Tune half
# of trafilatura-dev: 12 more of the 770 expected snippets found, 1 unwanted one.
FULL_PAGE_BELOW = 100   # characters
FULL_PAGE_GAIN = 3
FULL_PAGE_MIN = 500     # characters


def extract_blocks(html: str, gate=None) -> str:
    """resiliparse's main-content blocks that dentro/web/boilerplate.py classifies as content.

    `gate`, when given, is called with the marked main-content text before the classifier runs and
    may raise to stop there (the pipeline's early language check: a page in a language the run
    does not keep is not worth classifying)."""
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(boilerplate.mark(html))
    marked = _plain_text(tree)
    if gate is not None:
        gate(marked)
    text = boilerplate.clean_text(marked)
    if len(text) < FULL_PAGE_BELOW:   # the same tree: reading it does not change it
        whole = boilerplate.clean_text(_plain_text(tree, main_content=False), fallback=False)
        if len(whole) >= FULL_PAGE_MIN and len(whole) > FULL_PAGE_GAIN * len(text):
            text = whole
    return text


def extract_trafilatura(html: str) -> str:
    import trafilatura

    # FineWeb's settings without deduplicate=True: that counts text segments in a process-wide cache
    # and, even emptied per page, left pages empty (benchmarks/data_extraction.py, docs/data.md).
    return trafilatura.extract(html, favor_precision=True, include_comments=False) or ""


# The `precise` extractor: trafilatura's text, less the lines that sit in a block the fitted classifier
# is sure is furniture (probability of content under PRECISE_DROP_BELOW; a heading never), plus the
# blocks it is sure are content (at least PRECISE_ADD_FROM) that trafilatura left out, in page order.
# The two thresholds were chosen by 5-fold cross-validation on the tune half of trafilatura-dev and on
# ScrapingHub (`benchmarks/boilerplate_fit.py --precise`, docs/data.md).
PRECISE_DROP_BELOW = 0.1
PRECISE_ADD_FROM = 0.9
_SPACES = re.compile(r"\s+")


def merge_precise(tf_text: str, blocks: list[dict], probs: list[float],
                  drop_below: float = PRECISE_DROP_BELOW, add_from: float = PRECISE_ADD_FROM) -> str:
    """trafilatura's lines and the classified blocks of the same page -> the `precise` text.

    A line belongs to the first block whose text holds it (whitespace collapsed); a block that owns a
    line, or whose text is in trafilatura's, is already there. Added blocks go before the first kept
    line of a later block, so the page's order holds."""
    norms = [_SPACES.sub(" ", b["text"]).strip() for b in blocks]
    lines = [line.strip() for line in tf_text.split("\n") if line.strip()]
    owners, covered = [], set()
    for line in lines:
        n = _SPACES.sub(" ", line)
        owner = next((j for j, t in enumerate(norms) if n in t), -1)
        owners.append(owner)
        covered.add(owner)
    whole = _SPACES.sub(" ", tf_text)
    pending = [j for j, (b, p) in enumerate(zip(blocks, probs))
               if p >= add_from and not b["link_list"] and j not in covered and norms[j] not in whole]
    out, at, where = [], 0, -1
    for line, owner in zip(lines, owners):
        if owner >= 0:
            where = owner
            if probs[owner] < drop_below and not blocks[owner]["heading"]:
                continue
        while at < len(pending) and pending[at] < where:
            out.append(blocks[pending[at]]["text"])
            at += 1
        out.append(line)
    out.extend(blocks[j]["text"] for j in pending[at:])
    return "\n\n".join(out)


def extract_precise(html: str) -> str:
    """trafilatura checked by the block classifier (see merge_precise); when trafilatura finds
    nothing, `blocks`' text."""
    tf_text = extract_trafilatura(html)
    if not tf_text.strip():
        return _tidy(extract_blocks(html))
    blocks, probs = boilerplate.block_probabilities(extract_resiliparse(html, marked=True))
    return _MANY_NEWLINES.sub("\n\n", merge_precise(tf_text, blocks, probs)).strip()


def extract_text(html: str, extractor: str = "blocks", gate=None) -> str:
    """Main-content text of one page ('' when nothing is left); `gate`: see extract_blocks (the
    other extractors have no classifier to spare and ignore it)."""
    if extractor == "resiliparse":
        return _tidy(extract_resiliparse(html))
    if extractor == "blocks":   # see docs/data.md, "Extraction on real pages"
        return _tidy(extract_blocks(html, gate))
    if extractor == "trafilatura":   # trafilatura drops the furniture itself
        return _MANY_NEWLINES.sub("\n\n", extract_trafilatura(html)).strip()
    if extractor == "precise":   # trafilatura weighed by the block classifier: the slow, most accurate
        return extract_precise(html)
    raise ValueError(f"unknown extractor {extractor!r}; choose one of {EXTRACTORS}")


def extract_with_limit(html: str, cfg: ExtractConfig, gate=None) -> tuple[str | None, str | None]:
    """(text, None) on success, (None, reason) on timeout or extractor error; a gate's Stopped
    goes through."""
    t0 = time.perf_counter()
    try:
        with time_limit(cfg.timeout_s):
            text = extract_text(html, cfg.extractor, gate)
    except ExtractionTimeout:
        return None, "timeout"
    except Stopped:
        raise
    except Exception:  # lxml/resiliparse on malformed input: skip the page, count it
        return None, "error"
    if cfg.timeout_s > 0 and time.perf_counter() - t0 > cfg.timeout_s:
        return None, "timeout"
    return text, None
