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
