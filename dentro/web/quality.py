"""Quality filters, in FineWeb's order: Gopher repetition, Gopher quality, C4, FineWeb's own.

Sources of every threshold:
- Gopher: Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
  Gopher", Appendix A.1.1 and Table A1 (repetition), A.1.2 (quality rules).
- C4: Raffel et al. 2020, "Exploring the Limits of Transfer Learning ...", §2.2; FineWeb ran it
  without the terminal-punctuation line rule (Penedo et al. 2024, §3.3.3).
- FineWeb: Penedo et al. 2024, "The FineWeb Datasets", §3.3.3 (line punctuation <= 0.12,
  duplicated-line characters >= 0.1, short lines >= 0.67); the newline/word ratio is FineWeb-2's.
- Portuguese: FineWeb-2's por_Latn settings (huggingface/fineweb-2, configs/por_Latn.yml), so that
  English stop words and English n-gram statistics do not drop Portuguese pages.

Each filter returns (reason or None, text): C4 edits the text (drops lines), the others do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class QualityConfig:
    # Gopher repetition (Table A1): fraction of duplicated lines/paragraphs and of their characters;
    # share of characters in the most frequent n-gram; share of characters in duplicated n-grams.
    dup_line_frac: float = 0.30
    dup_para_frac: float = 0.30
    dup_line_char_frac: float = 0.20
    dup_para_char_frac: float = 0.20
    top_n_grams: tuple = ((2, 0.20), (3, 0.18), (4, 0.16))
    dup_n_grams: tuple = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
    # Gopher quality (A.1.2)
    min_doc_words: int = 50
    max_doc_words: int = 100_000
    min_avg_word_length: float = 3
    max_avg_word_length: float = 10
    max_symbol_word_ratio: float = 0.1       # '#' and '...' per word
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8       # share of words with at least one letter
    stop_words: frozenset = frozenset("the be to of and that have with".split())
    min_stop_words: int = 2
    # C4 (§2.2)
    c4_min_words_per_line: int = 3
    c4_max_word_length: int = 1000
    c4_min_sentences: int = 5
    c4_policy_phrases: tuple = ("terms of use", "privacy policy", "cookie policy", "uses cookies",
                                "use of cookies", "use cookies")
    # FineWeb (§3.3.3) and FineWeb-2
    line_punct_thr: float = 0.12
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_dup_lines_thr: float = 0.1
    new_line_ratio: float = 0.3


ENGLISH = QualityConfig()
PORTUGUESE = replace(
    ENGLISH,
    # huggingface/fineweb-2 configs/por_Latn.yml
    dup_line_frac=0.325,
    top_n_grams=((2, 0.093), (3, 0.117), (4, 0.139)),
    dup_n_grams=((5, 0.19), (6, 0.172), (7, 0.154), (8, 0.142), (9, 0.131), (10, 0.12)),
    max_avg_word_length=13,
    min_alpha_words_ratio=0.814,
    stop_words=frozenset("de a e o em do da que um no uma com para na é foi".split()),
    line_punct_thr=0.154,
    new_line_ratio=0.23,
    # C4's policy lines, in Portuguese (our translation of the English phrases)
    c4_policy_phrases=ENGLISH.c4_policy_phrases + (
        "termos de uso", "política de privacidade", "política de cookies", "utiliza cookies",
        "usa cookies", "uso de cookies", "utilizamos cookies", "usamos cookies"),
)
# Other languages get the English numbers without a stop-word rule (which is English-specific).
OTHER = replace(ENGLISH, stop_words=frozenset(), min_stop_words=0)
PER_LANGUAGE = {"en": ENGLISH, "pt": PORTUGUESE}


def config_for(lang: str) -> QualityConfig:
    return PER_LANGUAGE.get(lang, OTHER)


_PUNCT_STRIP = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»“”‘’…–—"
TERMINAL_PUNCT = (".", "!", "?", '"', "'", "…", "”", "’", ":", ";")  # FineWeb's line end marks
_P = re.escape(_PUNCT_STRIP)
_NGRAM_WORD = re.compile(rf"[^\s{_P}]+(?:[{_P}]+[^\s{_P}]+)*")
_BULLETS = ("•", "-", "*", "●", "▪", "◦", "‣", "–", "·")
_SENTENCE_END = re.compile(r"[.!?…]+(?:[\"'”’)\]]*)(?=\s|$)")
_PARA_SPLIT = re.compile(r"\n{2,}")


def _dup_stats(parts: list[str]) -> tuple[float, float]:
    """(fraction of parts that repeat an earlier one, fraction of characters in them)."""
    if not parts:
        return 0.0, 0.0
    seen: set[str] = set()
    dup_n = dup_chars = total = 0
    for p in parts:
        total += len(p)
        if p in seen:
            dup_n += 1
            dup_chars += len(p)
        else:
            seen.add(p)
    return dup_n / len(parts), (dup_chars / total if total else 0.0)


def _repeated_ngrams(ids: np.ndarray, cfg: QualityConfig):
    """Yield (n, positions, first, inverse, counts) for n = 2, 3, ... up to the longest n-gram the
    rules need, over the positions whose n-gram might occur more than once.

    An n-gram that occurs twice is made of two (n-1)-grams that each occur twice, so the positions
    to look at for n are those i where the (n-1)-grams at i and i+1 both repeat; every occurrence of
    every repeated n-gram is among them. On prose that set shrinks fast, so after the first sort
    each longer n costs little (computing every n-gram of every length sorted W hashes 9 times).
    positions (P,) ascending; first (U,) index into positions of each distinct hash's first
    occurrence; inverse (P,) distinct-hash index of each position; counts (U,)."""
    longest = max(n for n, _ in cfg.top_n_grams + cfg.dup_n_grams)
    w = len(ids)
    as_int = ids.astype(np.int64)
    repeats = np.flatnonzero(np.bincount(as_int)[as_int] > 1)   # positions of repeated words
    mul = np.uint64(0x9E3779B97F4A7C15)
    for n in range(2, longest + 1):
        marked = np.zeros(w + 1, dtype=bool)
        marked[repeats] = True
        pos = repeats[marked[repeats + 1]]             # both (n-1)-grams at i and i+1 repeat
        if len(pos) == 0:
            return
        h = np.zeros(len(pos), dtype=np.uint64)        # (P,) hash of the n-gram at each position
        for j in range(n):
            h = h * mul + ids[pos + j]
        _, first, inv, counts = np.unique(h, return_index=True, return_inverse=True, return_counts=True)
        yield n, pos, first, inv, counts
        repeats = pos[counts[inv] > 1]


def gopher_repetition(text: str, cfg: QualityConfig) -> str | None:
    lines = [l for l in text.split("\n") if l.strip()]
    paras = [p for p in _PARA_SPLIT.split(text) if p.strip()]
    frac, char_frac = _dup_stats(paras)
    if frac > cfg.dup_para_frac:
        return "dup_para_frac"
    if char_frac > cfg.dup_para_char_frac:
        return "dup_para_char_frac"
    frac, char_frac = _dup_stats(lines)
    if frac > cfg.dup_line_frac:
        return "dup_line_frac"
    if char_frac > cfg.dup_line_char_frac:
        return "dup_line_char_frac"

    # n-gram rules, measured as datatrove measures them (the code FineWeb and FineWeb-2 fit their
    # thresholds with): characters of the n-gram(s) over all characters of the text; for duplicated
    # n-grams only the repeats count (not the first occurrence), scanning left to right and jumping
    # over a repeat once counted. The top n-gram rules come first (n = 2, 3, 4), then the
    # duplicated n-gram rules (n = 5 ... 10), checked in order of n.
    words = _NGRAM_WORD.findall(text.lower())   # whitespace tokens without edge punctuation
    if len(words) < 2:
        return None
    total = float(len(text))
    top, dup = dict(cfg.top_n_grams), dict(cfg.dup_n_grams)
    # word ids in order of first appearance: exact (no hash collisions) and the same in every
    # process (Python's str hash is not, and tie-breaking between n-grams would depend on it)
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    with np.errstate(over="ignore"):
        ids = np.fromiter(map(vocab.__getitem__, words), dtype=np.uint64, count=len(words))  # (W,)
        lens = np.fromiter(map(len, words), dtype=np.int64, count=len(words))     # (W,) chars
        csum = np.concatenate([[0], np.cumsum(lens)])                             # (W+1,)
        for n, pos, first, inv, counts in _repeated_ngrams(ids, cfg):
            if n in top:
                k = counts.max()
                i = int(pos[first[counts == k].min()])   # ties: the one that appears first
                chars = (csum[i + n] - csum[i] + n - 1) * k   # "w1 w2" with its space, all copies
                if k > 1 and chars / total > top[n]:
                    return f"top_{n}_gram"
            if n in dup:
                seen_before = pos[first[inv] < np.arange(len(pos))]   # repeats of earlier n-grams
                chars, nxt = 0, 0
                for i in seen_before.tolist():
                    if i >= nxt:
                        chars += csum[i + n] - csum[i]
                        nxt = i + n
                if chars / total > dup[n]:
                    return f"dup_{n}_gram"
    return None


# a whitespace-delimited word without a letter (few on real pages, so listing them is cheap)
_LETTERLESS_WORD = re.compile(r"(?<!\S)(?:[^\w\s]|[\d_])+(?!\S)")
_PUNCT_CHAR = re.compile("[" + re.escape(_PUNCT_STRIP) + "]")
_LOWER_WORD = re.compile(r"[^\W\d_]+")


def gopher_quality(text: str, cfg: QualityConfig) -> str | None:
    words = text.split()
    n = len(words)
    if n < cfg.min_doc_words:
        return "too_few_words"
    if n > cfg.max_doc_words:
        return "too_many_words"
    # mean word length without punctuation (Gopher strips it from the word's ends; we drop all of
    # it, which differs only for inner marks such as "e-mail")
    avg = (sum(map(len, words)) - len(_PUNCT_CHAR.findall(text))) / n
    if avg < cfg.min_avg_word_length:
        return "short_words"
    if avg > cfg.max_avg_word_length:
        return "long_words"
    if (text.count("#") + text.count("...") + text.count("…")) / n > cfg.max_symbol_word_ratio:
        return "symbols"
    lines = [l.strip() for l in text.split("\n") if l.strip()]
    if lines:
        if sum(l.startswith(_BULLETS) for l in lines) / len(lines) > cfg.max_bullet_lines_ratio:
            return "bullet_lines"
        if sum(l.endswith(("...", "…")) for l in lines) / len(lines) > cfg.max_ellipsis_lines_ratio:
            return "ellipsis_lines"
    if (n - len(_LETTERLESS_WORD.findall(text))) / n < cfg.min_alpha_words_ratio:
        return "non_alpha_words"
    if cfg.min_stop_words:
        found = 0
        for m in _LOWER_WORD.finditer(text.lower()):   # stop at the second stop word
            found += m.group() in cfg.stop_words
            if found >= cfg.min_stop_words:
                break
        else:
            return "few_stop_words"
    return None


def c4(text: str, cfg: QualityConfig) -> tuple[str | None, str]:
    """C4's rules. Drops lines (short, 'javascript', policy boilerplate, giant words), then the page
    if it is lorem ipsum, has a curly bracket (code), or keeps fewer than 5 sentences."""
    low = text.lower()
    if "lorem ipsum" in low:
        return "lorem_ipsum", text
    if "{" in text:
        return "curly_bracket", text
    # the per-line phrase checks only matter if a phrase occurs somewhere in the page
    phrases = tuple(p for p in ("javascript",) + cfg.c4_policy_phrases if p in low)
    kept = []
    for line in text.split("\n"):
        s = line.strip()
        if not s:
            if kept and kept[-1] != "":
                kept.append("")   # keep paragraph breaks
            continue
        ws = s.split()
        if len(ws) < cfg.c4_min_words_per_line or max(map(len, ws)) > cfg.c4_max_word_length:
            continue
        if phrases and any(p in s.lower() for p in phrases):
            continue
        kept.append(s)
    out = "\n".join(kept).strip()
    if len(_SENTENCE_END.findall(out)) < cfg.c4_min_sentences:
        return "too_few_sentences", out
    return None, out


def fineweb(text: str, cfg: QualityConfig) -> str | None:
    lines = [l.strip() for l in text.split("\n") if l.strip()]
    if not lines:
        return "empty"
    if sum(l.endswith(TERMINAL_PUNCT) for l in lines) / len(lines) <= cfg.line_punct_thr:
        return "line_punct_ratio"
    if sum(len(l) <= cfg.short_line_length for l in lines) / len(lines) >= cfg.short_line_thr:
        return "short_line_ratio"
    if _dup_stats(lines)[1] >= cfg.char_dup_lines_thr:
        return "char_dup_ratio"
    if text.count("\n") / max(1, len(text.split())) > cfg.new_line_ratio:
        return "new_line_ratio"
    return None


QUALITY_STAGES = ("gopher_repetition", "gopher_quality", "c4", "fineweb")


def run_quality(text: str, lang: str) -> tuple[str | None, str | None, str]:
    """(stage, reason, text): the first quality stage that removes the page and why (None, None if
    it survives), and the text as C4 left it."""
    cfg = config_for(lang)
    r = gopher_repetition(text, cfg)
    if r:
        return "gopher_repetition", r, text
    r = gopher_quality(text, cfg)
    if r:
        return "gopher_quality", r, text
    r, text = c4(text, cfg)
    if r:
        return "c4", r, text
    r = fineweb(text, cfg)
    if r:
        return "fineweb", r, text
    return None, None, text
