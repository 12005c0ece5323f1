"""A jusText-style boilerplate classifier over the blocks resiliparse's main-content mode yields.

resiliparse keeps site furniture that sits inside the article element in any language: share bars,
"read also" link lists, subscription pitches, comment forms, ad labels, image credits. Following
jusText (Pomikálek 2011, ch. 4; features from Kohlschütter et al. 2010, "Boilerplate detection using
shallow text features"), each block (a line of resiliparse's output) is classified by shallow
features that need no list of words per language:

- link density: characters inside <a> over the block's characters (anchors are marked in the HTML
  with \\x01 ... \\x02 before extraction; resiliparse keeps these control characters). Long blocks
  may hold more links than short ones, and a block whose text between the links is mostly stop
  words is prose that links its names (an encyclopedia article), not a link list;
- tag path: whether the block opens a container whose tag is form/button/nav/aside/footer or whose
  class or id names furniture (share, comment, related, newsletter, caption, ...; marked \\x03
  after the opening tag);
- headings: a block that opens an <h1>-<h6> (marked \\x04 after the tag) is kept when the text
  under it is;
- length in characters, where a CJK or Thai character counts as CJK_WEIGHT (one such character
  carries about as much as a short word);
- stop-word density in the page's own language: the page's most frequent short words stand for its
  stop words (scripts written without spaces skip this feature and are judged by length);

then short and borderline blocks take the class of their neighbours (jusText's context smoothing).
Those classes are not the last word: a logistic regression fitted on labelled real pages
(benchmarks/boilerplate_fit.py) reads them with the features above, the neighbours' and the
page's, and decides (LEARNED_* below); a link list is never kept, and a page of one block and a
short closing line go by the rules.

Two fallbacks keep pages whose article the classifier or resiliparse would lose: a page where no
block is good keeps resiliparse's blocks that are not link lists (`clean_text`), and
dentro/web/extract.py classifies the whole page's text when the main-content text gives almost
nothing (resiliparse's main-content mode empties some real articles).

Thresholds were chosen on the "tune" half of trafilatura-dev only and checked on the held-out half
and on ScrapingHub (benchmarks/data_extraction.py, docs/data.md); the model is fitted on the tune
half, ScrapingHub and a tiny world of another seed, its settings chosen by cross-validation on the
tune half.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections import Counter
from operator import itemgetter

A_OPEN, A_CLOSE, BOX_OPEN, HEADING = "\x01", "\x02", "\x03", "\x04"
_MARKS = re.compile("[\x01-\x04]")
_SPLIT = re.compile("([\x01-\x04])")

# Furniture containers: tags, and class/id substrings. Marked in the HTML string by regex (C speed;
# iterating or editing a resiliparse node collection from Python costs 0.5-0.7 ms per node): \x03
# goes right after the opening tag, so the container's first block (its label: "Jetzt teilen", "À
# lire aussi", "Leave a comment", a photo credit) is known to open furniture; the blocks after it are
# judged by their features and their neighbours. Links get \x01 after <a ...> and \x02 before </a>;
# headings \x04 after <h1>-<h6>.
# The patterns are case-sensitive (tags and attribute names in lower or upper case, class words in
# lower case): with re.IGNORECASE the scan of an average 150 KB page took 2.9 ms, without it 0.6 ms.
# Matching capitalised class words too ("postShare") cost 0.4 ms more and changed nothing on the
# tune half.
BOX_WORDS = ("share", "sharing", "social", "comment", "related", "newsletter", "subscri", "sidebar",
             "widget", "breadcrumb", "cookie", "promo", "advert", "sponsor", "popup", "signup", "login",
             "author", "byline", "tags", "navigation", "pagination", "recommend", "teaser", "caption")
BOX_TAGS = ("form", "button", "select", "label", "nav", "aside", "footer")
CLASS_TAGS = ("div", "section", "ul", "ol", "p", "span", "li", "header")


def _either_case(names) -> str:
    return "|".join(sorted({n for name in names for n in (name, name.upper())}, key=len, reverse=True))


def _words_pattern(words) -> str:
    """An alternation grouped by first letter, each branch starting with a literal character (the
    regex engine then rejects most branches at a glance: 5x faster than a flat alternation)."""
    by_first: dict[str, list[str]] = {}
    for w in words:
        by_first.setdefault(w[0], []).append(re.escape(w[1:]))
    return "|".join(f"{c}(?:{'|'.join(sorted(rest, key=len, reverse=True))})"
                    for c, rest in sorted(by_first.items()))


# One pass over the page finds every tag that takes a marker (one scan of the page's "<" instead of
# three: 0.8 instead of 1.15 ms on an average 150 KB page): </a> (group 1, \x02 goes before it), <a ...>
# (group 2, \x01 after it), <h1>-<h6> (group 3, \x04 after it), then furniture tags and class/id
# names (\x03 after the tag). Matches do not overlap: a malformed tag that holds another ('<div
# class="share"<a href=...>') gets one marker, not two (the three passes before gave the same text
# on all 672 benchmark pages).
_TAGS = re.compile(r"<(?:(/[aA]\s*>)|([aA]\b[^>]*>)|([hH][1-6]\b[^>]*>)|(?:" + _either_case(BOX_TAGS) + r")\b[^>]*>|(?:"
                   + _either_case(CLASS_TAGS) + r")\s[^>]*?(?:class|id|CLASS|ID)\s*=\s*[\"']?[^\"'>]*?(?:"
                   + _words_pattern(BOX_WORDS) + r")[^>]*>)")
_MARK_OF = {1: A_CLOSE, 2: A_OPEN, 3: HEADING, None: BOX_OPEN}


def _marked(m: re.Match) -> str:
    kind = m.lastindex
    return A_CLOSE + m.group() if kind == 1 else m.group() + _MARK_OF[kind]


def mark(html: str) -> str:
    """Put link and furniture-container markers into the page's HTML (a function as replacement
    runs faster than a "\\g<0>" template here). Marker characters already in the page (control
    characters no page needs) are removed first, so they cannot open a link that never closes."""
    if A_OPEN in html or A_CLOSE in html or BOX_OPEN in html or HEADING in html:
        html = _MARKS.sub("", html)
    return _TAGS.sub(_marked, html)


# jusText's defaults (Pomikálek 2011, table 4.1) are 70 / 200 / 0.30 / 0.32 / 0.2 for real stop
# lists; the page's own frequent words cover less of its prose, so the stop-word and length bars
# were lowered on the tune half of trafilatura-dev only (two rounds of coordinate search over the
# first seven below, then LONG_BLOCK / MAX_LINK_DENSITY_LONG on a small grid; docs/data.md).
LENGTH_LOW = 70           # shorter blocks are "short" and take their neighbours' class
LENGTH_HIGH = 70          # a good block is longer than this
STOP_LOW = 0.03           # stop-word density of a near-good block
STOP_HIGH = 0.22          # stop-word density of a good block
MAX_LINK_DENSITY = 0.3    # link characters over characters ...
LONG_BLOCK = 150          # ... and, for blocks at least this long,
MAX_LINK_DENSITY_LONG = 0.5
N_STOP = 30               # the page's most frequent short words stand for its stop words
STOP_MAX_LEN = 5          # characters: "short word"
LINKED_PROSE_WORDS = 5    # a block whose words outside its links are at least this many ...
LINKED_PROSE_STOP = 0.6   # ... and mostly stop words is prose that links its names (Wikipedia)
CJK_WEIGHT = 3            # length units per CJK/kana/hangul/Thai character
CJK_PAGE = 0.3            # pages with more of these characters than this skip stop words

_WORD = re.compile(r"\w+")
_CJK = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
GOOD, NEARGOOD, SHORT, BAD = "good", "neargood", "short", "bad"


# Per-character classes for the counts below, one byte per code point of the Basic Multilingual
# Plane (built once, ~40 ms; a code point beyond it is classed when a page has one): a page's blocks
# are counted in one numpy pass over their code points instead of a regex or a Python loop per
# block (the features went from ~0.5 to ~0.1 ms per page; the counts are the regexes' own).
_IS_DIGIT, _IS_WORD, _IS_SPACE, _IS_UPPER, _IS_CJK, _IS_SEPARATOR, _IS_STOP, _IS_END = (1 << k for k in range(8))
_SEPARATOR_CHARS = "|\u00bb\u203a\u2022\u00b7>/"
_ENDS = '.!?:;"\u201d\u00bb)'   # a block ending in one of these ends like a sentence
_BMP = 0x10000


def _char_class(c: str) -> int:
    """The class bits of one character, as Python's regexes and str methods see it."""
    return ((_IS_DIGIT if c.isdecimal() else 0)                        # re's \d
            | (_IS_WORD if c.isalnum() or c == "_" else 0)             # re's \w
            | (_IS_SPACE if c.isspace() else 0)                        # re's \s, str.split()
            | (_IS_UPPER if c.isupper() else 0)
            | (_IS_CJK if _CJK.match(c) else 0)
            | (_IS_SEPARATOR if c in _SEPARATOR_CHARS else 0)
            | (_IS_STOP if c in ".!?" else 0)
            | (_IS_END if c in _ENDS else 0))


@functools.cache
def _char_classes():
    import numpy as np

    return np.array([_char_class(chr(i)) for i in range(_BMP)], dtype=np.uint8)


_COUNTS = ("cjk", "digits", "symbols", "tokens", "capitalised", "separators", "sentences")


def _block_counts(texts: list[str]) -> tuple[list[list[int]], list[bool]]:
    r"""Per block (texts without "\n"), the _COUNTS: CJK characters, digits, symbols ([^\w\s]),
    whitespace-split tokens and those starting with a capital, separator characters (| » › • · > /)
    and sentence ends (". ", "! ", "? "); and whether its last character ends a sentence."""
    import numpy as np

    joined = "\n".join(texts)
    code = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    table = _char_classes()
    cls = table[np.minimum(code, _BMP - 1)]
    beyond = code >= _BMP
    if beyond.any():   # emoji, historic scripts, rare CJK: each distinct one classed here
        for point in np.unique(code[beyond]).tolist():
            cls[code == point] = _char_class(chr(point))
    starts = np.concatenate(([0], np.flatnonzero(code == 10) + 1))   # each block's first character
    space = (cls & _IS_SPACE) != 0
    masks = np.empty((len(code), 7), dtype=np.int32)
    head = ~space
    head[1:] &= space[:-1]   # a token's first character follows whitespace or starts the page
    masks[:, 0] = (cls & _IS_CJK) != 0
    masks[:, 1] = cls & _IS_DIGIT
    masks[:, 2] = (cls & (_IS_WORD | _IS_SPACE)) == 0
    masks[:, 3] = head
    masks[:, 4] = head & ((cls & _IS_UPPER) != 0)
    masks[:, 5] = (cls & _IS_SEPARATOR) != 0
    masks[:-1, 6] = ((cls[:-1] & _IS_STOP) != 0) & (code[1:] == 32)
    masks[-1, 6] = 0
    last = np.append(starts[1:] - 2, len(code) - 1)   # each block's last character
    return np.add.reduceat(masks, starts, axis=0).tolist(), ((cls[last] & _IS_END) != 0).tolist()


def features(text: str) -> list[dict]:
    """Marked text -> one dict per non-empty line: text, chars, length (CJK-weighted), link_density,
    in_box, heading, words (lower-cased), word_chars (their characters), plain_words (the words
    outside links), ends_punct and the _COUNTS of _block_counts."""
    lines, in_link = [], False
    for line in text.split("\n"):
        if not line:   # the blank line between two blocks: no block, no marker
            continue
        in_box = False
        heading = False
        if A_OPEN not in line and A_CLOSE not in line and BOX_OPEN not in line and HEADING not in line:
            clean = line.strip()   # most lines: no marker, the link state carries over
            chars = len(line) - line.count(" ")
            link_chars = chars if in_link else 0
            plain = None if in_link else clean
        else:
            link_chars = chars = 0
            outside = []
            for i, part in enumerate(_SPLIT.split(line)):   # text, mark, text, mark, ...
                if i % 2:
                    if part == A_OPEN:
                        in_link = True
                    elif part == A_CLOSE:
                        in_link = False
                    elif part == BOX_OPEN:
                        in_box = True
                    elif part == HEADING:
                        heading = True
                else:
                    n = len(part) - part.count(" ")
                    chars += n
                    if in_link:
                        link_chars += n
                    else:
                        outside.append(part)
            clean = _MARKS.sub("", line).strip()
            plain = " ".join(outside)
        if clean:
            lines.append((clean, link_chars / max(chars, 1), in_box, heading, plain))
    if not lines:
        return []
    counts, ends = _block_counts([line[0] for line in lines])
    blocks = []
    for (clean, link_density, in_box, heading, plain), n, end in zip(lines, counts, ends):
        words = _WORD.findall(clean.lower())
        if plain != clean:
            plain_words = _WORD.findall(plain.lower()) if plain else []
        else:
            plain_words = words
        block = dict(zip(_COUNTS, n))
        block.update(text=clean, chars=len(clean), length=len(clean) + (CJK_WEIGHT - 1) * n[0],
                     link_density=link_density, in_box=in_box, words=words, plain_words=plain_words,
                     word_chars=sum(map(len, words)), ends_punct=end, heading=heading)
        blocks.append(block)
    return blocks


def page_stop_words(blocks: list[dict]) -> set[str] | None:
    """The page's N_STOP most frequent short words; None for scripts written without spaces."""
    n_words = sum(len(b["words"]) for b in blocks)
    if not n_words or sum(b["word_chars"] for b in blocks) / n_words > 12:   # CJK, Thai: a "word" per phrase
        return None
    if sum(b["cjk"] for b in blocks) > CJK_PAGE * sum(b["chars"] for b in blocks):
        return None   # mostly CJK with Latin words mixed in: the short words are the Latin ones
    # count every word at C speed, then keep the short ones: the same ranking (ties in order of first
    # appearance) as counting the short words alone, in a fifth of the time
    counts = Counter()
    for b in blocks:
        counts.update(b["words"])
    short = [(w, n) for w, n in counts.items() if n >= 2 and len(w) <= STOP_MAX_LEN and not w.isdigit()]
    return {w for w, _ in heapq.nlargest(N_STOP, short, key=itemgetter(1))}


def _linked_prose(block: dict, stop: set[str] | None) -> bool:
    """Prose whose names are links (an encyclopedia's sentence): the text between the links is the
    sentence's glue, mostly stop words; a link list's text between links is bullets and pipes."""
    plain = block["plain_words"]
    if stop is None or block["in_box"] or len(plain) < LINKED_PROSE_WORDS:
        return False
    # a block without links: its plain words are its words, whose stop words classify() counted
    count = block["stop_count"] if plain is block["words"] else sum(map(stop.__contains__, plain))
    return count >= LINKED_PROSE_STOP * len(plain)


def _link_list(b: dict, stop: set[str] | None) -> bool:
    limit = MAX_LINK_DENSITY_LONG if b["length"] >= LONG_BLOCK else MAX_LINK_DENSITY
    return b["link_density"] > limit and not b["linked_prose"]


def classify(blocks: list[dict], stop: set[str] | None) -> list[str]:
    """Context-free class of each block (jusText's classify_paragraphs)."""
    out = []
    for b in blocks:
        n, length = len(b["words"]), b["length"]
        b["stop_count"] = count = sum(map(stop.__contains__, b["words"])) if stop is not None else 0
        density = count / n if stop is not None and n else None
        b["stop_density"] = density or 0.0   # inputs of the learned decision, as the next two
        b["linked_prose"] = _linked_prose(b, stop)
        b["link_list"] = _link_list(b, stop)
        if b["link_list"]:
            c = BAD
        elif b["in_box"]:
            c = BAD if density is None or density < STOP_HIGH or length < LENGTH_HIGH else NEARGOOD
        elif length < LENGTH_LOW:
            c = BAD if b["link_density"] > 0 else SHORT
        elif density is None:   # no stop words to count: decide by length alone
            c = GOOD if length > LENGTH_HIGH // 2 else NEARGOOD
        elif density >= STOP_HIGH:
            c = GOOD if length > LENGTH_HIGH else NEARGOOD
        elif density >= STOP_LOW:
            c = NEARGOOD
        else:
            c = BAD
        out.append(c)
    return out


def _nearest(classes: list[str], wanted: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """For each block, the class of the nearest block before it and after it whose class is in
    `wanted` (the page's edges count as bad): jusText's neighbour search, in two linear passes."""
    before, after = [BAD] * len(classes), [BAD] * len(classes)
    last = BAD
    for i, c in enumerate(classes):
        before[i] = last
        if c in wanted:
            last = c
    last = BAD
    for i in range(len(classes) - 1, -1, -1):
        after[i] = last
        if classes[i] in wanted:
            last = classes[i]
    return before, after


def smooth(classes: list[str]) -> list[str]:
    """jusText's context-sensitive pass: short blocks, then near-good ones, take their neighbours'
    class (Pomikálek 2011, section 4.3.2)."""
    out = list(classes)
    prev, nxt = _nearest(classes, (GOOD, BAD))                  # short and near-good blocks skipped
    prev_ng, nxt_ng = _nearest(classes, (GOOD, BAD, NEARGOOD))  # short blocks skipped
    for i, c in enumerate(classes):   # short blocks, against the context-free classes
        if c != SHORT:
            continue
        if prev[i] == nxt[i] == GOOD:
            out[i] = GOOD
        elif prev[i] == nxt[i] == BAD:
            out[i] = BAD
        elif (prev[i] == BAD and prev_ng[i] == NEARGOOD) or (nxt[i] == BAD and nxt_ng[i] == NEARGOOD):
            out[i] = GOOD
        else:
            out[i] = BAD
    final = list(out)
    prev, nxt = _nearest(out, (GOOD, BAD))
    for i, c in enumerate(out):   # near-good blocks: bad only between two bad blocks
        if c == NEARGOOD:
            final[i] = BAD if prev[i] == nxt[i] == BAD else GOOD
    return final


# The final decision is learned (benchmarks/boilerplate_fit.py): a logistic regression over each
# block's features, its two neighbours' and the page's, jusText's classes among them (the rules
# above are its strongest inputs, not its replacement). Fitted on blocks labelled from two sets:
# ScrapingHub's 181 pages (a block is content when half of its word 3-grams are in the page's
# article) and the tune half of trafilatura-dev (a block holding an expected snippet is content,
# one holding an unwanted snippet is not; a tune-half block weighs as 50 ScrapingHub blocks, chosen
# by 5-fold cross-validation on the tune half with the threshold), plus 600 pages of a tiny world
# made for it (seed 1; content = the page's main_text; weight 0.5, by a rule on the same CV).
# Stop-word and link features are the page's own, so nothing here is a word list of one language.
LEARNED_FEATURES = (
    "link_density", "in_box", "log_length", "stop_density", "no_stop_words", "log_words", "ends_punct",
    "digit_share", "linked_prose", "jt_good", "jt_neargood", "jt_short", "jt_bad", "capitalised_share",
    "symbol_share", "word_length", "separator", "log_sentences",
    "prev_link_density", "prev_in_box", "prev_log_length", "prev_stop_density", "prev_jt_good",
    "next_link_density", "next_in_box", "next_log_length", "next_stop_density", "next_jt_good",
    "first", "last", "position", "smoothed_good", "page_no_good", "good_distance", "prev_smoothed_good",
    "next_smoothed_good")
_COLUMN = {name: i for i, name in enumerate(LEARNED_FEATURES)}
_NEIGHBOUR = ("link_density", "in_box", "log_length", "stop_density", "jt_good")   # what a neighbour adds


def learned_features(blocks: list[dict], stop: set[str] | None, context_free: list[str],
                     smoothed: list[str]):
    """The LEARNED_FEATURES of each block, one row per block (a float64 array; LEARNED_WEIGHTS are
    for these raw values). The blocks have been through classify(), which sets their stop-word
    density and linked prose."""
    import numpy as np

    count = len(blocks)
    cols = np.empty((count, len(LEARNED_FEATURES)), dtype=np.float64)
    if not count:
        return cols

    def column(key):
        return np.array([b[key] for b in blocks], dtype=np.float64)

    def put(name, values):
        cols[:, _COLUMN[name]] = values

    chars, nw = column("chars"), np.array([len(b["words"]) for b in blocks], dtype=np.float64)
    for name in ("link_density", "in_box", "stop_density", "linked_prose"):
        put(name, column(name))
    put("log_length", np.log1p(column("length")))
    put("no_stop_words", stop is None)
    put("log_words", np.log1p(nw))
    put("ends_punct", column("ends_punct"))
    put("digit_share", column("digits") / chars)
    for c in (GOOD, NEARGOOD, SHORT, BAD):
        put(f"jt_{c}", [x == c for x in context_free])
    put("capitalised_share", column("capitalised") / np.maximum(column("tokens"), 1))
    put("symbol_share", column("symbols") / chars)
    put("word_length", column("word_chars") / np.maximum(nw, 1) / 10)
    put("separator", column("separators") > 0)
    put("log_sentences", np.log1p(column("sentences")))
    own = cols[:, [_COLUMN[name] for name in _NEIGHBOUR]]   # the neighbours' columns: none at the edges
    prev, nxt = [_COLUMN[f"prev_{name}"] for name in _NEIGHBOUR], [_COLUMN[f"next_{name}"] for name in _NEIGHBOUR]
    cols[0, prev] = 0.0
    cols[1:, prev] = own[:-1]
    cols[-1, nxt] = 0.0
    cols[:-1, nxt] = own[1:]
    index = np.arange(count)
    good = np.array([c == GOOD for c in smoothed])
    put("first", index == 0)
    put("last", index == count - 1)
    put("position", index / max(count - 1, 1))
    put("smoothed_good", good)
    put("page_no_good", not good.any())
    # the distance to the nearest block jusText's smoothing calls good, at most 5
    where = np.flatnonzero(good)
    if len(where):
        at = np.searchsorted(where, index)   # the first good block at or after each block
        after = where[np.minimum(at, len(where) - 1)] - index
        before = index - where[np.maximum(at - 1, 0)]
        distance = np.minimum(np.where(after >= 0, after, 5), np.where(before >= 0, before, 5))
        put("good_distance", np.minimum(distance, 5) / 5)
    else:
        put("good_distance", 1.0)
    put("prev_smoothed_good", np.concatenate(([False], good[:-1])))
    put("next_smoothed_good", np.concatenate((good[1:], [False])))
    return cols


def learned_scores(rows):
    """The fitted model's log-odds that each block is content (a float64 array, one per row)."""
    import numpy as np

    return np.asarray(rows, dtype=np.float64) @ np.asarray(LEARNED_WEIGHTS) + LEARNED_BIAS


def learned_keep(rows) -> list[bool]:
    """The fitted decision: content when the model's probability is at least LEARNED_THRESHOLD."""
    if len(rows) == 0:
        return []
    return (learned_scores(rows) >= math.log(LEARNED_THRESHOLD / (1 - LEARNED_THRESHOLD))).tolist()


# Written by `benchmarks/boilerplate_fit.py --write` (raw feature scale; do not edit by hand).
# BEGIN LEARNED
LEARNED_THRESHOLD = 0.6
LEARNED_BIAS = -6.2458
LEARNED_WEIGHTS = (
    0.825017, -1.53678, 2.664, 1.07537, 0.514569, -2.0063,
    0.759114, -3.41684, -0.714388, -0.344988, 0.075431, 0.862317,
    -1.61616, -0.0324556, 4.64778, -4.00949, -1.35558, 0.149394,
    -0.543347, -0.475268, 0.159089, 0.813785, -0.123796, -1.97047,
    -0.759744, 0.105169, 1.00616, -0.7227, -0.912095, -0.692633,
    -1.10464, 2.23934, 3.08476, 1.67092, 0.295368, 0.268209)
# END LEARNED


def _classified(marked: str) -> tuple[list[dict], set[str] | None, list[str], list[str]]:
    """resiliparse's marked text -> its blocks, the page's stop words, the rules' context-free classes
    and the smoothed ones (what clean_text and block_probabilities both start from)."""
    blocks = features(marked)
    stop = page_stop_words(blocks)
    context_free = classify(blocks, stop)
    return blocks, stop, context_free, justext_classes(context_free)


def block_probabilities(marked: str) -> tuple[list[dict], list[float]]:
    """The blocks of resiliparse's marked text and, for each, the learned decision's probability that
    it is content (the rules' verdict, 1.0 or 0.0, on a page of one block, as clean_text decides it).
    The `precise` extractor (dentro/web/extract.py) weighs trafilatura's lines with these."""
    import numpy as np

    blocks, stop, context_free, classes = _classified(marked)
    if len(blocks) <= 1:
        return blocks, [float(c == GOOD) for c in classes]
    scores = learned_scores(learned_features(blocks, stop, context_free, classes))
    return blocks, (1.0 / (1.0 + np.exp(-scores))).tolist()


def justext_classes(context_free: list[str]) -> list[str]:
    """jusText's smoothing, and the first block, short and followed by good text, kept as the title
    of the main content (or of the whole page, when dentro/web/extract.py falls back to it):
    jusText's page edge would make it bad (the tiny world's extraction F1 0.972 -> 0.977 with the
    rules alone, docs/data.md)."""
    classes = smooth(context_free)
    if len(context_free) > 1 and context_free[0] == SHORT and classes[1] == GOOD:
        classes[0] = GOOD
    return classes


def clean_text(marked: str, fallback: bool = True) -> str:
    """resiliparse's marked output -> the text of the blocks the learned decision keeps, one per
    paragraph (the rules' good blocks when it keeps none).

    With `fallback`, a page where no block is good (a list, a table, a short notice: text with
    few long, stop-word-rich paragraphs) keeps every block that is not a link list instead of
    coming out empty: an empty page loses all of its text, a kept notice costs little."""
    blocks, stop, context_free, classes = _classified(marked)
    if len(blocks) <= 1:   # nothing to learn a page's layout from: the rules decide
        keep = [c == GOOD for c in classes]
    else:
        keep = learned_keep(learned_features(blocks, stop, context_free, classes))
        # never a link list, whatever the model says (pages unlike its training pages, e.g. a CJK page
        # whose related-articles line sits next to the article, got a link list through)
        keep = [k and not b["link_list"] for k, b in zip(keep, blocks)]
    if len(blocks) > 1 and context_free[-1] == SHORT and classes[-1] != GOOD:
        # a short closing line ("Share this story", a sponsor label) stays out, as the rules have it
        # (when added: tune half, 5-fold CV 0.930 -> 0.931, ScrapingHub 0.946 -> 0.949; the rules'
        # short title kept before the text lowered both, 0.928 and 0.943, and is left to the model)
        keep[-1] = False
    # a heading (<h1>-<h6>) over kept text is kept, a byline or date between them allowed, headings
    # over headings too: the page's title and section titles are its text for a language model, as
    # trafilatura keeps them. The benchmarks' labels mostly leave headings out (ScrapingHub's article
    # bodies hold 4 of 272 <h1> texts), so this costs there: tune-half CV 0.933 -> 0.931, ScrapingHub
    # CV 0.944 -> 0.942; the tiny world's token F1 0.972 -> 0.981 (its titles: forum, news, profile)
    for i in range(len(blocks) - 2, -1, -1):
        if blocks[i]["heading"] and not blocks[i]["link_list"] and (
                keep[i + 1] or (i + 2 < len(blocks) and keep[i + 2] and blocks[i + 1]["length"] < LENGTH_LOW
                                and not blocks[i + 1]["link_list"])):
            keep[i] = True
    text = "\n\n".join(b["text"] for b, k in zip(blocks, keep) if k)
    if not text:   # the model keeps nothing: the rules' good blocks (a short page, a CJK paragraph)
        text = "\n\n".join(b["text"] for b, c in zip(blocks, classes) if c == GOOD)
    if not text and fallback:
        text = "\n\n".join(b["text"] for b in blocks if b["link_density"] <= MAX_LINK_DENSITY)
    return text
