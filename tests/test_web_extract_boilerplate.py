"""The block classifier (dentro/web/boilerplate.py): features and decisions on small pages."""

from dentro.web import boilerplate as bp
from dentro.web.extract import extract_text

PROSE = {
    "en": ("The bridge was built in 1932 by the city and it carried the trams over the river for "
           "more than forty years, until the line was closed and the tracks were taken up. "),
    "de": ("Die Brücke wurde im Jahr 1932 von der Stadt gebaut und sie trug die Straßenbahn über den "
           "Fluss, bis die Linie nach mehr als vierzig Jahren stillgelegt und abgebaut wurde. "),
    "fr": ("Le pont a été construit en 1932 par la ville et il a porté le tramway sur la rivière "
           "pendant plus de quarante ans, jusqu'à la fermeture de la ligne et la dépose des rails. "),
}


def page(lang: str, furniture: str) -> str:
    paras = "".join(f"<p>{PROSE[lang] * 2}</p>" for _ in range(4))
    return (f"<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/about'>About</a></nav>"
            f"<article><h1>Title</h1>{paras[:len(paras) // 2]}{furniture}{paras[len(paras) // 2:]}"
            f"</article></body></html>")


def test_features_link_density_and_box():
    marked = bp.mark("<div class='share-bar'><a href='x'>Jetzt teilen</a></div><p>plain <a href='y'>link</a></p>")
    assert "\x03" in marked and marked.count("\x01") == 2 and marked.count("\x02") == 2
    blocks = bp.features("\x03\x01Jetzt teilen\x02\nplain words here \x01link\x02")
    assert blocks[0]["in_box"] and blocks[0]["link_density"] == 1.0 and blocks[0]["text"] == "Jetzt teilen"
    assert not blocks[1]["in_box"] and 0 < blocks[1]["link_density"] < 0.5


def test_block_counts_are_the_regexes_counts_in_any_script():
    """The per-character table (one numpy pass per page) counts what the regexes and str methods
    would, block by block: digits of other scripts, symbols and emoji beyond the BMP, a dotted
    capital I whose lower case is two characters, CJK, separators and sentence ends."""
    import re

    texts = ["İstanbul'da 1932 yılında, ٣ köprü | » haber. Ve sonra! Öyle mi? Evet",
             "日本語のテキスト、漢字とかな。 東京 2024年",
             "Emoji 😀 and 𝐁old maths 𝟙𝟚 · a\u00a0non-breaking\u2003space _under_score",
             "x²", "Ende.", "«Citação» — fim;", "한국어 문장 입니다 ... 끝!"]
    counts, ends = bp._block_counts(texts)
    for t, n, end in zip(texts, counts, ends):
        tokens = t.split()
        assert dict(zip(bp._COUNTS, n)) == {
            "cjk": len(bp._CJK.findall(t)), "digits": len(re.findall(r"\d", t)),
            "symbols": len(re.findall(r"[^\w\s]", t)), "tokens": len(tokens),
            "capitalised": sum(tok[0].isupper() for tok in tokens),
            "separators": len(re.findall("[|\u00bb\u203a\u2022\u00b7>/]", t)),
            "sentences": t.count(". ") + t.count("! ") + t.count("? ")}, t
        assert end == t.endswith(tuple(bp._ENDS)), t


def test_page_stop_words_are_the_pages_frequent_short_words():
    blocks = bp.features(PROSE["de"] * 3)
    stop = bp.page_stop_words(blocks)
    assert {"die", "und", "der"} <= stop and "brücke" not in stop
    assert bp.page_stop_words(bp.features("这是一个没有空格的很长的句子用来测试分词是否正确。" * 5)) is None


def test_smoothing_short_blocks_take_their_neighbours_class():
    assert bp.smooth([bp.GOOD, bp.SHORT, bp.GOOD]) == [bp.GOOD] * 3
    assert bp.smooth([bp.BAD, bp.SHORT, bp.BAD]) == [bp.BAD] * 3
    assert bp.smooth([bp.GOOD, bp.NEARGOOD, bp.BAD]) == [bp.GOOD, bp.GOOD, bp.BAD]


def test_furniture_dropped_in_any_language_article_kept():
    cases = {
        "en": "<form class='comment-form'><label>Leave a comment</label><textarea></textarea>"
              "<button>Post comment</button></form>",
        "de": "<div class='social'><span>Jetzt teilen</span> <a href='f'>Facebook</a> <a href='w'>WhatsApp</a></div>",
        "fr": "<div class='related'><p>À lire aussi</p><ul><li><a href='/a'>Le nouveau pont ouvrira en mai</a></li>"
              "<li><a href='/b'>Les tramways reviennent en ville</a></li></ul></div>",
    }
    for lang, furniture in cases.items():
        out = extract_text(page(lang, furniture), "blocks")
        assert PROSE[lang].strip()[:60] in out, lang
        for bad in ("Leave a comment", "Post comment", "Jetzt teilen", "WhatsApp", "À lire aussi",
                    "Le nouveau pont", "About"):
            assert bad not in out, (lang, bad)


def _smooth_reference(classes):
    """jusText's smoothing as written in Pomikálek's thesis: a fresh neighbour search per block."""
    def neighbour(cls, i, step, ignore_neargood):
        i += step
        while 0 <= i < len(cls):
            if cls[i] in (bp.GOOD, bp.BAD) or (cls[i] == bp.NEARGOOD and not ignore_neargood):
                return cls[i]
            i += step
        return bp.BAD
    out = list(classes)
    for i, c in enumerate(classes):
        if c != bp.SHORT:
            continue
        prev, nxt = neighbour(classes, i, -1, True), neighbour(classes, i, 1, True)
        if prev == nxt == bp.GOOD:
            out[i] = bp.GOOD
        elif prev == nxt == bp.BAD:
            out[i] = bp.BAD
        elif (prev == bp.BAD and neighbour(classes, i, -1, False) == bp.NEARGOOD) or \
             (nxt == bp.BAD and neighbour(classes, i, 1, False) == bp.NEARGOOD):
            out[i] = bp.GOOD
        else:
            out[i] = bp.BAD
    final = list(out)
    for i, c in enumerate(out):
        if c == bp.NEARGOOD:
            bad = neighbour(out, i, -1, True) == bp.BAD and neighbour(out, i, 1, True) == bp.BAD
            final[i] = bp.BAD if bad else bp.GOOD
    return final


def test_linear_smoothing_equals_the_neighbour_search():
    import random

    rng = random.Random(0)
    kinds = [bp.GOOD, bp.NEARGOOD, bp.SHORT, bp.BAD]
    for _ in range(3000):
        classes = [rng.choice(kinds) for _ in range(rng.randint(0, 14))]
        assert bp.smooth(classes) == _smooth_reference(classes), classes


def test_mark_upper_case_html_and_markers_already_in_the_page():
    marked = bp.mark("<DIV CLASS='related-posts'><A HREF='/x'>Other story</A></DIV>"
                     "<section id=\"image-caption\">Photo: AP</section><div class='article-body'>x</div>")
    assert marked.count("\x01") == 1 and marked.count("\x02") == 1 and marked.count("\x03") == 2
    # a stray \x01 in the source would open a link that never closes and turn every block into a link
    assert bp.mark("<p>a\x01b\x02c\x03</p>") == "<p>abc</p>"
    out = extract_text(page("en", "<p>odd \x01 byte</p>"), "blocks")
    assert PROSE["en"].strip()[:60] in out


def test_long_prose_may_hold_more_links_than_a_short_block():
    # a news digest: prose that links every name (resiliparse's marked output: \x01 link \x02)
    text = ("\x01The city council\x02 and \x01the tram company of the northern valley\x02 agreed on the new "
            "timetable for the bridge line, which runs every ten minutes in the morning and the evening.")
    long_block = bp.features(text)[0]
    assert bp.MAX_LINK_DENSITY < long_block["link_density"] <= bp.MAX_LINK_DENSITY_LONG
    assert long_block["length"] >= bp.LONG_BLOCK
    stop = set("the and on for of in a to".split())
    assert bp.classify([long_block], stop) == [bp.GOOD]
    short_links = bp.features("\x01Home\x02 and \x01News\x02 today")[0]
    assert bp.classify([short_links], stop) == [bp.BAD]


def test_a_page_without_good_blocks_keeps_its_text_not_its_links():
    rows = "".join(f"<p>Stage {i}: {d} March in Interlagos</p>" for i, d in enumerate(range(3, 30, 3)))
    html = (f"<html><body><nav><a href='/'>Home</a> <a href='/b'>Blog</a></nav><article><h1>Calendar 2018</h1>"
            f"{rows}<p><a href='/x'>See the full calendar</a></p></article></body></html>")
    marked = bp.mark(html)
    from dentro.web.extract import extract_resiliparse

    blocks = bp.features(extract_resiliparse(html, marked=True))
    assert bp.GOOD not in bp.smooth(bp.classify(blocks, bp.page_stop_words(blocks)))   # all short
    out = extract_text(html, "blocks")
    assert "Stage 1: 6 March in Interlagos" in out and "See the full calendar" not in out
    # the learned decision keeps such a page's rows itself (page_no_good), never its link line
    alone = bp.clean_text(extract_resiliparse(html, marked=True), fallback=False)
    assert "See the full calendar" not in alone
    assert "\x01" in marked


def test_whole_page_read_when_main_content_loses_the_article():
    # resiliparse's main-content mode drops a container named like a sidebar, here the whole article
    html = ("<html><body><div class='sidebar'>" + "".join(f"<p>{PROSE['fr'] * 2}</p>" for _ in range(4))
            + "</div><p>Short notice here.</p></body></html>")
    assert len(extract_text(html, "resiliparse")) < 30
    out = extract_text(html, "blocks")
    assert PROSE["fr"].strip()[:60] in out and len(out) > 1000
    # a page with no article: the whole page's text (a cookie notice) is not taken instead
    notice = ("Este site utiliza cookies próprios e de terceiros para fins estatísticos e publicitários. Ao "
              "continuar a navegar, você concorda com a nossa política de cookies e de privacidade.")
    cookie = f"<html><body><nav><a href='/'>Home</a></nav><div class='sidebar'><p>{notice}</p></div></body></html>"
    assert bp.clean_text(bp.mark(notice), fallback=False) == notice   # good text, but no article
    assert extract_text(cookie, "blocks") == ""


def test_cjk_characters_count_as_more_than_one_letter():
    ja = "東京の古い橋は一九三二年に市が建設し、四十年以上にわたって川の上を路面電車が走っていた。"
    b = bp.features(ja)[0]
    assert b["cjk"] > 30 and b["length"] == b["chars"] + (bp.CJK_WEIGHT - 1) * b["cjk"]
    mixed = bp.features("\n".join([ja + " Kindle for PC の設定 and the app"] * 4))
    assert bp.page_stop_words(mixed) is None   # the short "words" would be the Latin ones
    # 45 characters of Japanese are a paragraph, not a short line; the sponsor label stays out
    links = "<p>" + " ".join(f"<a href='/{i}'>関連記事その{i}</a>" for i in range(6)) + "</p>"
    html = f"<html><body><article>{links}<p>{ja}</p>{links}<p>スポンサードリンク</p></article></body></html>"
    out = extract_text(html, "blocks")
    assert ja in out and "スポンサードリンク" not in out and "関連記事" not in out


def test_prose_that_links_its_names_is_not_a_link_list():
    # an encyclopedia sentence: most characters are links, the words between them are stop words
    wiki = ("\x01Escopete\x02 ye un \x01municipio\x02 d'a \x01provincia de Guadalachara\x02, en a "
            "\x01comunidat autonoma\x02 de \x01Castiella-La Mancha\x02, \x01Espanya\x02.")
    menu = "\x01Municipio de Castiella\x02 | \x01Provincia\x02 | \x01Comarca de La Alcarria\x02 | \x01Espanya\x02"
    stop = {"ye", "un", "d", "a", "de", "en", "la", "o", "y"}
    w, m = bp.features(wiki)[0], bp.features(menu)[0]
    assert w["link_density"] > 0.6 and m["link_density"] > 0.6
    assert w["plain_words"] == ["ye", "un", "d", "a", "en", "a", "de"] and m["plain_words"] == []
    assert bp.classify([w], stop) != [bp.BAD] and bp.classify([m], stop) == [bp.BAD]
    assert bp.classify([w], None) == [bp.BAD]   # no stop words to tell the glue by


def test_the_rules_keep_a_short_title_the_page_drops_a_short_closing_line():
    article = "\n".join([PROSE["en"] * 2] * 3)
    marked = "The bridge over the river\n" + article + "\nShare this story"
    blocks = bp.features(marked)
    cf = bp.classify(blocks, bp.page_stop_words(blocks))
    assert bp.justext_classes(cf)[0] == bp.GOOD   # the rules' title, one of the model's features
    kept = bp.clean_text(marked)
    assert PROSE["en"].strip() in kept and "Share this story" not in kept
    # a short first line before furniture (not good text) stays out
    assert "Menu" not in bp.clean_text("Menu\n\x01Home\x02 \x01News\x02 \x01About\x02\n" + article)


def test_the_learned_decision_has_a_weight_per_feature_and_never_keeps_a_link_list(monkeypatch):
    article = "\n".join([PROSE["en"] * 2] * 3)
    marked = "\x01Home\x02 | \x01News\x02 | \x01Sport\x02 | \x01About us\x02\n" + article
    blocks = bp.features(marked)
    stop = bp.page_stop_words(blocks)
    cf = bp.classify(blocks, stop)
    rows = bp.learned_features(blocks, stop, cf, bp.justext_classes(cf))
    assert len(bp.LEARNED_WEIGHTS) == len(bp.LEARNED_FEATURES) == len(rows[0])
    assert 0 < bp.LEARNED_THRESHOLD < 1
    assert "About us" not in bp.clean_text(marked) and PROSE["en"].strip() in bp.clean_text(marked)
    # a model that keeps everything still does not keep the menu
    monkeypatch.setattr(bp, "LEARNED_BIAS", 100.0)
    kept = bp.clean_text(marked)
    assert "About us" not in kept and PROSE["en"].strip() in kept
    # and a model that keeps nothing leaves the rules' good blocks, not an empty page
    monkeypatch.setattr(bp, "LEARNED_BIAS", -100.0)
    assert PROSE["en"].strip() in bp.clean_text(marked)


def test_a_heading_over_kept_text_is_kept_a_heading_over_furniture_is_not():
    article = "".join(f"<p>{PROSE['en'] * 2}</p>" for _ in range(3))
    html = ("<html><body><article><h1>The bridge over the river</h1><p class='byline'>By Ana, 2 May</p>"
            f"{article}<h2>History</h2>{article}</article>"
            "<footer><h3>Follow us</h3><a href='/a'>Facebook</a> <a href='/b'>Instagram</a> "
            "<a href='/c'>Newsletter</a></footer></body></html>")
    marked = bp.mark(html)
    assert marked.count(bp.HEADING) == 3
    text = extract_text(html, "blocks")
    assert "The bridge over the river" in text and "History" in text   # the title over a byline too
    assert "Follow us" not in text and PROSE["en"].strip() in text


def _block(text: str, heading: bool = False, link_list: bool = False) -> dict:
    return {"text": text, "heading": heading, "link_list": link_list}


def test_precise_drops_the_furniture_trafilatura_kept_and_adds_the_text_it_left_out_in_order():
    from dentro.web.extract import merge_precise

    blocks = [_block("Home News About", link_list=True), _block("The bridge", heading=True),
              _block("First paragraph of   the article."), _block("Second paragraph, missed."),
              _block("Third paragraph."), _block("Jetzt teilen!"), _block("Related: more links", link_list=True)]
    probs = [0.99, 0.02, 0.97, 0.95, 0.93, 0.03, 0.99]
    tf = "The bridge\nFirst paragraph of the article.\nThird paragraph.\nJetzt teilen!\nA line only trafilatura saw."
    out = merge_precise(tf, blocks, probs, drop_below=0.1, add_from=0.9).split("\n\n")
    # the heading stays although the model doubts it; the share line goes; the missed paragraph comes
    # back between its neighbours; a link list is never added; a line in no block is trafilatura's call
    assert out == ["The bridge", "First paragraph of the article.", "Second paragraph, missed.", "Third paragraph.",
                   "A line only trafilatura saw."]
    # thresholds that neither drop nor add give trafilatura's text back
    assert merge_precise(tf, blocks, probs, drop_below=0.0, add_from=1.01).split("\n\n") == tf.split("\n")


def test_precise_extractor_on_a_page():
    html = page("de", "<div class='social'><span>Jetzt teilen</span> <a href='f'>Facebook</a></div>")
    out = extract_text(html, "precise")
    assert PROSE["de"].strip()[:60] in out and "Jetzt teilen" not in out and "Facebook" not in out
    assert extract_text("<html><body></body></html>", "precise") == ""
