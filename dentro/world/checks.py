"""The generator's own check that a page it means to be kept passes the published quality rules,
and that a page it means to be removed for quality fails them. Pages that miss are redrawn.

This is a compact, independent reading of the rules (the pipeline's filters live in dentro/web
and are not imported here, so each side checks the other):
  Gopher repetition and quality: Rae et al. 2021, https://arxiv.org/abs/2112.11446, Table A1 and A.1.2
  C4: Raffel et al. 2020, §2.2 (>= 5 sentences, lines of >= 3 words)
  FineWeb: Penedo et al. 2024, https://arxiv.org/abs/2406.17557, §3.3.3 (line punctuation,
  short lines, duplicated-line characters)
  Portuguese thresholds: FineWeb-2's por_Latn config (huggingface/fineweb-2, configs/por_Latn.yml)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Rules:
    top_ngram: tuple = ((2, 0.20), (3, 0.18), (4, 0.16))
    dup_ngram: tuple = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
    dup_line_frac: float = 0.30
    min_words: int = 50
    min_alpha: float = 0.80
    stop_words: frozenset = frozenset("the be to of and that have with".split())
    line_punct: float = 0.12
    new_line_ratio: float = 0.3


EN = Rules()
PT = Rules(top_ngram=((2, 0.093), (3, 0.117), (4, 0.139)),
           dup_ngram=((5, 0.19), (6, 0.172), (7, 0.154), (8, 0.142), (9, 0.131), (10, 0.12)),
           dup_line_frac=0.325, min_alpha=0.814,
           stop_words=frozenset("de a e o em do da que um no uma com para na é foi".split()),
           line_punct=0.154, new_line_ratio=0.23)
MARGIN = 0.8  # generated keep-pages must stay under 80% of each threshold: implementations differ
# (e.g. dividing by the characters of words rather than of the text makes shares ~20% larger)
_STRIP = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»“”‘’…–—"
_HAS_LETTER = re.compile(r"\S*[^\W\d_]\S*")  # a whitespace-separated word holding a letter
_SENT = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)")


def _grams(ids: list[int], n: int) -> list[tuple]:
    return list(zip(*(ids[k:] for k in range(n))))


def _top_share(ids: list[int], lens: list[int], n: int, total: int) -> float:
    """Characters of the most frequent n-gram (times its count) over all characters."""
    grams = Counter(_grams(ids, n))
    if not grams:
        return 0.0
    g, c = grams.most_common(1)[0]
    return (sum(lens[w] for w in g) + n - 1) * c / total if c > 1 else 0.0


def _dup_share(ids: list[int], lens: list[int], n: int, total: int) -> float:
    """Characters in n-grams that repeat an earlier one (non-overlapping, as in Gopher) over all."""
    grams = _grams(ids, n)
    if len(set(grams)) == len(grams):
        return 0.0
    seen, chars, i = set(), 0, 0
    while i < len(grams):
        g = grams[i]
        if g in seen:
            chars += sum(lens[w] for w in g) + n - 1
            i += n
        else:
            seen.add(g)
            i += 1
    return chars / total


def failures(text: str, lang: str, margin: float = 1.0) -> list[str]:
    """The rules `text` breaks; thresholds scaled by `margin` (< 1 is stricter)."""
    r = PT if lang == "pt" else EN
    out = []
    raw = text.split()
    words = [w for w in (t.strip(_STRIP) for t in text.lower().split()) if w]
    vocab: dict[str, int] = {}
    ids = [vocab.setdefault(w, len(vocab)) for w in words]  # n-grams of ints are cheap to hash
    lens = [0] * len(vocab)
    for w, i in vocab.items():
        lens[i] = len(w)
    total = max(1, len(text))
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    if len(words) < r.min_words:
        out.append("too_few_words")
    for n, thr in r.top_ngram:
        if _top_share(ids, lens, n, total) > thr * margin:
            out.append(f"top_{n}_gram")
    for n, thr in r.dup_ngram:
        share = _dup_share(ids, lens, n, total)
        if share > thr * margin:
            out.append(f"dup_{n}_gram")
            break
        if share == 0.0:  # no repeated n-gram: no repeated longer one either
            break
    if lines and sum(c - 1 for c in Counter(lines).values()) / len(lines) > r.dup_line_frac * margin:
        out.append("dup_lines")
    if raw and len(_HAS_LETTER.findall(text)) / len(raw) < 1 - (1 - r.min_alpha) * margin:
        out.append("non_alpha")
    if sum(w in r.stop_words for w in words) < 2:
        out.append("few_stop_words")
    if len(_SENT.findall(text)) < 5:
        out.append("few_sentences")
    if lines and sum(x.endswith((".", "!", "?", '"', "'", "…", "”", "’", ":", ";")) for x in lines) / len(lines) <= r.line_punct / margin:
        out.append("line_punct")
    if text.count("\n") / max(1, len(raw)) > r.new_line_ratio * margin:
        out.append("new_lines")
    return out


def keepable(text: str, lang: str) -> bool:
    """A content page passes every rule with a margin."""
    return not failures(text, lang, MARGIN)
