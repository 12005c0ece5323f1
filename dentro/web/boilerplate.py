"""A jusText-style boilerplate classifier over the blocks resiliparse's main-content mode yields.

resiliparse keeps site furniture that sits inside the article element in any language: share bars,
"read also" link lists, subscription pitches, comment forms, ad labels. Following jusText
(Pomikálek 2011, ch. 4; features from Kohlschütter et al. 2010, "Boilerplate detection using shallow
text features"), each block (a line of resiliparse's output) is classified by shallow features:

- link density: characters inside <a> over the block's characters (anchors are marked in the tree
  with \\x01 ... \\x02 before extraction; resiliparse keeps these control characters);
- tag path: whether the block sits inside a container whose tag is form/button/nav/aside/footer or
  whose class or id names furniture (share, comment, related, newsletter, ...; marked \\x03 after the opening tag);
- length in characters (in words for the stop-word rule);
- stop-word density in the page's own language: the page's most frequent short words stand for its
  stop words, so no per-language list is needed (scripts without spaces skip this feature);

then short and borderline blocks take the class of their neighbours (jusText's context smoothing).
Thresholds were chosen on the "tune" half of trafilatura-dev and checked on the held-out half and on
ScrapingHub (benchmarks/data_extraction.py, docs/data.md).
"""

from __future__ import annotations

import re
from collections import Counter

A_OPEN, A_CLOSE, BOX_OPEN = "\x01", "\x02", "\x03"
_MARKS = re.compile("[\x01-\x03]")
_SPLIT = re.compile("([\x01-\x03])")

# Furniture containers: tags, and class/id substrings. Marked in the HTML string by regex (C speed;
# iterating a resiliparse node collection from Python costs ~0.5 ms per node): \x03 goes right after
# the opening tag, so the container's first block (its label: "Jetzt teilen", "À lire aussi",
# "Leave a comment") is known to open furniture; the blocks after it are judged by their features
# and their neighbours. Links get \x01 after <a ...> and \x02 before </a>.
_BOX_WORDS = ("share", "sharing", "social", "comment", "related", "newsletter", "subscri", "sidebar",
              "widget", "breadcrumb", "cookie", "promo", "advert", "sponsor", "popup", "signup", "login",
              "author", "byline", "tags", "navigation", "pagination", "recommend", "teaser")
_BOX = re.compile(r"(<(?:form|button|select|label|nav|aside|footer)\b[^>]*>|<(?:div|section|ul|ol|p|span|li|header)"
                  r"\b[^>]*?\b(?:class|id)\s*=\s*[\"']?[^\"'>]*(?:" + "|".join(_BOX_WORDS) + r")[^>]*>)", re.I)
_A_OPEN = re.compile(r"(<a\b[^>]*>)", re.I)
_A_CLOSE = re.compile(r"</a\s*>", re.I)


def mark(html: str) -> str:
    """Put link and furniture-container markers into the page's HTML."""
    html = _A_CLOSE.sub(A_CLOSE + "</a>", _A_OPEN.sub(r"\1" + A_OPEN, html))
    return _BOX.sub(r"\1" + BOX_OPEN, html)


# jusText's defaults (Pomikálek 2011, table 4.1) are 70 / 200 / 0.30 / 0.32 / 0.2 for real stop
# lists; the page's own frequent words cover less of its prose, so the stop-word and length bars were
# lowered on the tune half of trafilatura-dev (grid over these five; F1 0.866 -> 0.904 there).
LENGTH_LOW = 70          # characters: shorter blocks are "short" and take their neighbours' class
LENGTH_HIGH = 100        # characters: a good block is longer than this
STOP_LOW = 0.05          # stop-word density of a near-good block
STOP_HIGH = 0.15         # stop-word density of a good block
MAX_LINK_DENSITY = 0.4   # link characters over characters
N_STOP = 60              # the page's most frequent short words stand for its stop words
STOP_MAX_LEN = 4         # characters: "short word"

_WORD = re.compile(r"\w+")
GOOD, NEARGOOD, SHORT, BAD = "good", "neargood", "short", "bad"


def features(text: str) -> list[dict]:
    """Marked text -> one dict per non-empty line: text, chars, link_density, in_box, words."""
    blocks, in_link = [], False
    for line in text.split("\n"):
        in_box = False
        link_chars = chars = 0
        for i, part in enumerate(_SPLIT.split(line)):   # text, mark, text, mark, ...
            if i % 2:
                if part == A_OPEN:
                    in_link = True
                elif part == A_CLOSE:
                    in_link = False
                elif part == BOX_OPEN:
                    in_box = True
            else:
                n = len(part) - part.count(" ")
                chars += n
                link_chars += n if in_link else 0
        clean = _MARKS.sub("", line).strip()
        if not clean:
            continue
        blocks.append({"text": clean, "chars": len(clean), "link_density": link_chars / max(chars, 1),
                       "in_box": in_box, "words": [w.lower() for w in _WORD.findall(clean)]})
    return blocks


def page_stop_words(blocks: list[dict]) -> set[str] | None:
    """The page's N_STOP most frequent short words; None for scripts written without spaces."""
    words = [w for b in blocks for w in b["words"]]
    if not words or sum(map(len, words)) / len(words) > 12:   # CJK, Thai: one "word" per phrase
        return None
    counts = Counter(w for w in words if len(w) <= STOP_MAX_LEN and not w.isdigit())
    return {w for w, n in counts.most_common(N_STOP) if n >= 2}


def classify(blocks: list[dict], stop: set[str] | None) -> list[str]:
    """Context-free class of each block (jusText's classify_paragraphs)."""
    out = []
    for b in blocks:
        n = len(b["words"])
        density = sum(w in stop for w in b["words"]) / n if stop is not None and n else None
        if b["link_density"] > MAX_LINK_DENSITY:
            c = BAD
        elif b["in_box"]:
            c = BAD if density is None or density < STOP_HIGH or b["chars"] < LENGTH_HIGH else NEARGOOD
        elif b["chars"] < LENGTH_LOW:
            c = BAD if b["link_density"] > 0 else SHORT
        elif density is None:   # no stop words to count: decide by length alone
            c = GOOD if b["chars"] > LENGTH_HIGH // 2 else NEARGOOD
        elif density >= STOP_HIGH:
            c = GOOD if b["chars"] > LENGTH_HIGH else NEARGOOD
        elif density >= STOP_LOW:
            c = NEARGOOD
        else:
            c = BAD
        out.append(c)
    return out


def _neighbour(classes: list[str], i: int, step: int, ignore_neargood: bool) -> str:
    """Class of the nearest block in direction `step` that is not short (nor near-good when
    ignore_neargood); the page's edges count as bad."""
    i += step
    while 0 <= i < len(classes):
        c = classes[i]
        if c in (GOOD, BAD) or (c == NEARGOOD and not ignore_neargood):
            return c
        i += step
    return BAD


def smooth(classes: list[str]) -> list[str]:
    """jusText's context-sensitive pass: short blocks, then near-good ones, take their neighbours'
    class (Pomikálek 2011, section 4.3.2)."""
    out = list(classes)
    for i, c in enumerate(classes):   # short blocks, against the context-free classes
        if c != SHORT:
            continue
        prev, nxt = _neighbour(classes, i, -1, True), _neighbour(classes, i, 1, True)
        if prev == nxt == GOOD:
            out[i] = GOOD
        elif prev == nxt == BAD:
            out[i] = BAD
        elif (prev == BAD and _neighbour(classes, i, -1, False) == NEARGOOD) or \
             (nxt == BAD and _neighbour(classes, i, 1, False) == NEARGOOD):
            out[i] = GOOD
        else:
            out[i] = BAD
    final = list(out)
    for i, c in enumerate(out):   # near-good blocks: bad only between two bad blocks
        if c == NEARGOOD:
            bad = _neighbour(out, i, -1, True) == BAD and _neighbour(out, i, 1, True) == BAD
            final[i] = BAD if bad else GOOD
    return final


def clean_text(marked: str) -> str:
    """resiliparse's marked output -> the text of the blocks classified good, one per paragraph."""
    blocks = features(marked)
    classes = smooth(classify(blocks, page_stop_words(blocks)))
    return "\n\n".join(b["text"] for b, c in zip(blocks, classes) if c == GOOD)
