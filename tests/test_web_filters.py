"""URL filter, extraction, language ID and quality filters: each tested by the reason it returns."""

import io
import tarfile
import time

import pytest

from dentro.web import extract as ex
from dentro.web.language import identify, other_language
from dentro.web.quality import ENGLISH, PORTUGUESE, c4, fineweb, gopher_quality, gopher_repetition, run_quality
from dentro.web.url_filter import check_url, load_blocklist
from web_fixtures import page, prose


def _ut1(root):
    (root / "adult").mkdir(parents=True)
    (root / "adult" / "domains").write_text("badsite.example\n# comment\nwww.other-bad.example\n")
    (root / "adult" / "urls").write_text("mixed.example/adult/\n")
    (root / "gambling").mkdir()
    (root / "gambling" / "domains").write_text("casino.example\n")
    return root


def test_blocklist_folder_subdomains_urls_and_categories(tmp_path):
    bl = load_blocklist(_ut1(tmp_path / "ut1"))
    assert check_url("https://badsite.example/page", bl) == "blocklist_adult"
    assert check_url("http://cdn.www.badsite.example/x", bl) == "blocklist_adult"    # subdomain
    assert check_url("https://other-bad.example/", bl) == "blocklist_adult"          # www. ignored
    assert check_url("https://mixed.example/adult/page1", bl) == "blocklist_adult"   # URL prefix
    assert check_url("https://mixed.example/news/page1", bl) is None
    assert check_url("https://notbadsite.example/", bl) is None                      # not a suffix match
    assert check_url("https://casino.example/", bl) == "blocklist_gambling"
    only_adult = load_blocklist(tmp_path / "ut1", ["adult"])
    assert check_url("https://casino.example/", only_adult) is None


def test_blocklist_from_tarball(tmp_path):
    root = _ut1(tmp_path / "blacklists")
    tgz = tmp_path / "ut1.tar.gz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(root, arcname="blacklists")
    bl = load_blocklist(tgz)
    assert check_url("https://badsite.example/", bl) == "blocklist_adult" and len(bl) == 4


@pytest.mark.parametrize("url,blocked", [
    ("https://free-porn-videos.example/", True), ("https://x.example/xxx/1", True),
    ("https://site.example/sexo-gratis", True), ("https://hot-sexy-girls.example/", True),
    ("https://www.sussex.ac.uk/essex", False), ("https://health.example/sex-education", False),
    ("https://news.example/2024/teen-science-fair", False), ("https://pt.wikipedia.org/wiki/Lisboa", False),
])
def test_banned_words(url, blocked):
    assert (check_url(url, load_blocklist(None)) == "banned_word") is blocked


def test_extraction_keeps_article_drops_boilerplate():
    text = prose("en", 7)
    for name in ex.EXTRACTORS:
        out = ex.extract_text(page(text, title="Bridges").decode(), name)
        assert "The" in out or "the" in out
        assert text.split("\n\n")[0][:60] in out, name
        assert "All rights reserved" not in out and "About us" not in out, name
        assert "var x" not in out and "color: black" not in out


def test_extraction_time_limit(monkeypatch):
    def slow(html, extractor, gate=None):
        t = time.time()
        while time.time() - t < 2:   # a pathological page: pure-Python work the alarm can stop
            pass
        return "never"
    monkeypatch.setattr(ex, "extract_text", slow)
    t0 = time.time()
    text, err = ex.extract_with_limit("<p>x</p>", ex.ExtractConfig(timeout_s=0.2))
    assert (text, err) == (None, "timeout") and time.time() - t0 < 1.5


def test_decode_broken_encoding():
    raw = "Não há café".encode("latin-1") + b"\xff\xfe\x80 fim"
    s = ex.decode_html(raw, "utf-8")          # wrong charset header: falls back, never raises
    assert "fim" in s


def test_language_pt_en_other():
    assert identify(prose("pt", 1))[0] == "pt" and identify(prose("pt", 1))[1] > 0.9
    assert identify(prose("en", 1))[0] == "en"
    assert identify("El ayuntamiento abrió la puerta norte antes de que empezara la lluvia.")[0] == "es"
    assert identify("") == ("unknown", 0.0)


def test_other_language_before_the_classifier():
    spanish = "El ayuntamiento abrió la puerta norte antes de que empezara la lluvia. " * 3
    found = other_language("\x01" + spanish.replace(" ", " \x03", 5), ("pt", "en"))   # markers are ignored
    assert found and found[0] == "es" and found[1] >= 0.8
    assert other_language(spanish, ("es", "en")) is None                  # a language the run keeps
    assert other_language(prose("pt", 1), ("pt", "en")) is None
    assert other_language("", ("pt", "en")) is None and other_language("\x01\x02", ("pt", "en")) is None


def test_quality_keeps_good_prose_in_both_languages():
    for lang in ("pt", "en"):
        for seed in range(5):
            assert run_quality(prose(lang, seed), lang)[:2] == (None, None)


def test_portuguese_is_not_judged_by_english_stop_words():
    t = prose("pt", 3)
    assert gopher_quality(t, ENGLISH) == "few_stop_words"   # the failure the per-language settings avoid
    assert gopher_quality(t, PORTUGUESE) is None


def test_each_quality_reason_fires():
    good = prose("en", 1)
    assert gopher_repetition(good + "\n\n" + good, ENGLISH) in ("dup_para_frac", "dup_para_char_frac")
    spam = "\n".join(["buy cheap watches now"] * 3 + [good])
    assert gopher_repetition(spam, ENGLISH) == "dup_line_frac"
    ngram_spam = good + " " + " ".join(["best price best price"] * 40)
    assert gopher_repetition(ngram_spam, ENGLISH) == "top_2_gram"
    assert gopher_quality("too short to be a page.", ENGLISH) == "too_few_words"
    assert gopher_quality(" ".join(["#tag"] * 60), ENGLISH) == "symbols"
    assert gopher_quality(" ".join(["a b c d"] * 30), ENGLISH) == "short_words"
    assert gopher_quality(" ".join(["1234 5678 91011 2024.5 - these with"] * 20), ENGLISH) == "non_alpha_words"
    assert c4(good + "\nlorem ipsum dolor sit amet", ENGLISH)[0] == "lorem_ipsum"
    assert c4(good + "\nfunction f() { return 1; }", ENGLISH)[0] == "curly_bracket"
    reason, out = c4(good + "\nPlease enable JavaScript to view this page.\nHome\nRead our privacy policy here.", ENGLISH)
    assert reason is None and "JavaScript" not in out and "privacy" not in out and "\nHome" not in out
    assert c4("One short page. With two sentences only.", ENGLISH)[0] == "too_few_sentences"
    no_punct = "\n".join(f"{w} line without any final mark here number {i}" for i, w in enumerate(good.split()[:20]))
    assert fineweb(no_punct, ENGLISH) == "line_punct_ratio"
    short = "\n".join(f"Item {i}." for i in range(30)) + "\n" + good
    assert fineweb(short, ENGLISH) == "short_line_ratio"
    dup = good + "\n" + "\n".join([good.split("\n\n")[0]] * 2)
    assert fineweb(dup, ENGLISH) == "char_dup_ratio"


def test_repetition_reasons_do_not_depend_on_the_process():
    """Ties between equally frequent n-grams must break the same way in every worker (a Ray or
    multiprocessing run must give the local run's corpus): no per-process string hashing."""
    import os
    import subprocess
    import sys

    code = ("from dentro.web.quality import gopher_repetition, PORTUGUESE as P\n"
            "t = ' '.join(['Ana Maria Souza disse que Ana Maria Souza foi ao rio Tejo com Rio Tejo'] * 3)\n"
            "print(gopher_repetition(t, P))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3)}
    assert len(outs) == 1 and outs.pop().strip().startswith(("top_", "dup_"))


def _ngram_rules_by_brute_force(text, cfg):
    """The Gopher n-gram rules written out plainly (tuples, Counter, a left-to-right scan): the
    reference for gopher_repetition's sorted-hash version, which only looks where repeats can be."""
    from collections import Counter

    from dentro.web.quality import _NGRAM_WORD

    words, total = _NGRAM_WORD.findall(text.lower()), len(text)
    for n, thr in cfg.top_n_grams:
        grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
        counts = Counter(grams)
        top = max(counts.values(), default=1)
        if top == 1:
            break
        first = next(g for g in grams if counts[g] == top)   # ties: the earliest in the text
        if (sum(map(len, first)) + n - 1) * top / total > thr:
            return f"top_{n}_gram"
    for n, thr in cfg.dup_n_grams:
        grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
        seen, chars, nxt, repeated = set(), 0, 0, False
        for i, g in enumerate(grams):
            if g in seen:
                repeated = True
                if i >= nxt:
                    chars, nxt = chars + sum(map(len, g)), i + n
            seen.add(g)
        if not repeated:
            break
        if chars / total > thr:
            return f"dup_{n}_gram"
    return None


def test_ngram_rules_match_a_brute_force_reference():
    import random

    rng = random.Random(7)
    reasons = set()
    for _ in range(400):
        vocab = [f"w{rng.randint(0, 10 ** rng.randint(0, 3))}" + rng.choice(["", ",", "."])
                 for _ in range(rng.randint(1, 30))]
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 300))]
        if words and rng.random() < 0.5:   # a copied passage: long repeated n-grams
            i = rng.randrange(len(words))
            words += words[i:i + rng.randint(5, 60)] * rng.randint(1, 3)
        text = " ".join(words)   # one line: the line and paragraph rules never fire first
        for cfg in (ENGLISH, PORTUGUESE):
            want = _ngram_rules_by_brute_force(text, cfg) if words else None
            assert gopher_repetition(text, cfg) == want, text
            reasons.add(want)
    assert {"top_2_gram", "dup_5_gram", None} <= reasons and len(reasons) >= 6   # many rules exercised


GERMAN = ("Der Gemeinderat hat am Dienstag beschlossen, die alte Brücke über den Fluss bis zum Herbst zu "
          "erneuern. Die Bauarbeiten beginnen im Mai, und der Verkehr wird über die Umgehungsstraße geleitet. ")


def test_other_language_from_the_top_of_the_body():
    from dentro.web.language import html_head_text, other_language_html

    doc = ("<html><head><title>Home</title><script>var english = 'the city council said';</script></head>"
           "<body class=\"post\"><script>window.dataLayer = window.dataLayer || [];</script>"
           "<style>.nav { color: red }</style><nav>Startseite &amp; Nachrichten</nav>"
           f"<p>{GERMAN}</p><p>{GERMAN}</p></body></html>")
    head = html_head_text(doc)
    assert head.startswith("Startseite & Nachrichten Der Gemeinderat")   # entities decoded
    assert "dataLayer" not in head and "color" not in head and "english" not in head
    found = other_language_html(doc, ("pt", "en"))
    assert found and found[0] == "de" and found[1] >= 0.98 and found[2] == head
    assert other_language_html(doc, ("de", "en")) is None                 # a language the run keeps
    assert other_language_html(page(prose("pt", 1)).decode(), ("pt", "en")) is None
    assert other_language_html(page(prose("en", 2)).decode(), ("pt", "en")) is None
    assert other_language_html(f"<body><p>{GERMAN[:90]}</p></body>", ("pt", "en")) is None   # too short to judge
    assert other_language_html(f"<div>{GERMAN}</div><p>{GERMAN}</p>", ("pt", "en"))[0] == "de"  # no body tag
    assert other_language_html("", ("pt", "en")) is None
