"""The search tool on a corpus written here: BM25 ranking, accents, hostile queries, rebuilds."""

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dentro.chat.tools.search import build_index, fts_query, passages, required_phrases, search
from dentro.errors import UserError

DOCS = [
    ("pt-1", "https://a.example/sp", "São Paulo é a maior cidade do Brasil. A cidade fica no planalto paulista. "
                                      "O rio Tietê atravessa a cidade de leste a oeste."),
    ("pt-2", "https://a.example/rio", "O Rio de Janeiro é famoso pelo Pão de Açúcar. A baía de Guanabara banha a cidade."),
    ("en-1", "https://b.example/bread", "Sourdough bread rises with wild yeast. Bakers feed the starter with flour and water."),
    ("en-2", "https://b.example/tea", "Green tea is brewed below boiling. Black tea is oxidised before drying."),
    ("en-3", None, "The harbour of the old town is quiet in winter. " * 20),  # long: several passages
]


def write_corpus(path, docs=DOCS):
    ids, urls, texts = zip(*docs)
    pq.write_table(pa.table({"id": list(ids), "url": list(urls), "text": list(texts)}), path)


@pytest.fixture
def index(tmp_path):
    write_corpus(tmp_path / "corpus.parquet")
    stats = build_index(tmp_path / "corpus.parquet", tmp_path / "index.sqlite")
    assert stats["rebuilt"] and stats["documents"] == 5 and stats["passages"] > 5
    return tmp_path / "index.sqlite"


def test_bm25_ranks_the_right_passage_first(index):
    assert search(index, "wild yeast starter")[0]["url"] == "https://b.example/bread"
    top = search(index, "Tietê rio cidade", k=2)
    assert "Tietê" in top[0]["text"] and top[0]["score"] > top[1]["score"]
    assert search(index, "oxidised tea")[0]["url"] == "https://b.example/tea"


@pytest.mark.parametrize("query,expect", [("Sao Paulo", "São Paulo"), ("SÃO PAULO", "São Paulo"),
                                          ("pao de acucar", "Pão de Açúcar"), ("tiete", "Tietê")])
def test_diacritics_and_case_do_not_matter(index, query, expect):
    assert expect in search(index, query, k=1)[0]["text"]


@pytest.mark.parametrize("query", ['"', '"unbalanced', "tea AND", "NOT", "OR OR", "NEAR(tea", "tea*", "^bread",
                                   "url:bread", "text:tea", "(", ")", "-", "+", "{}", "a'b", "'; DROP TABLE passages; --",
                                   "", "   ", "\x00", "🍞🍞", "tea" * 2000])
def test_fts_syntax_in_queries_never_raises(index, query):
    results = search(index, query)
    assert isinstance(results, list)
    assert search(index, "tea")  # and the index survives


def test_quoted_phrases_are_required(index):
    index_path = index   # unquoted, the words are alternatives: passages about other things come back
    assert search(index_path, "Green bread")
    assert {r["url"] for r in search(index_path, '"green tea" bread', k=3)} == {"https://b.example/tea"}
    assert search(index_path, '"Sao Paulo" planalto', k=3)[0]["url"] == "https://a.example/sp"   # folded too
    assert search(index_path, '"Green bread"') == []          # the words, but not as a phrase: nothing
    assert search(index_path, '"Ana Souza" cidade') == []     # a name no passage holds: nothing
    assert search(index_path, '"Green, tea!"')[0]["url"] == "https://b.example/tea"   # punctuation inside is ignored
    assert search(index_path, '"" tea') and search(index_path, '"green tea" "black tea"')
    assert required_phrases('"Ana  Souza" born "x" "Ana Souza"') == '"Ana Souza" AND "x"'


def test_fts_query_quotes_every_word():
    assert fts_query('tea AND "coffee" NEAR(x') == '"tea" OR "AND" OR "coffee" OR "NEAR" OR "x"'


def test_results_are_trimmed_to_fit(index):
    results = search(index, "harbour winter town", k=3, max_chars=150)
    assert results and sum(len(r["text"]) for r in results) <= 150
    assert all(len(r["text"]) <= 50 and r["text"].endswith("…") for r in results)  # 400-char passages, cut


def test_passages_are_short_whole_sentences():
    text = "One short sentence. " * 50 + "x" * 900
    ps = passages(text, max_chars=100)
    assert all(len(p) <= 100 for p in ps)
    assert ps[0].startswith("One short sentence.") and ps[0].endswith(".")
    assert "".join(ps).replace(" ", "") == text.replace(" ", "")  # nothing lost


def test_rebuild_is_skipped_when_unchanged_and_redone_when_changed(tmp_path):
    corpus, index = tmp_path / "c", tmp_path / "index.sqlite"
    corpus.mkdir()
    write_corpus(corpus / "part-0.parquet")
    assert build_index(corpus, index)["rebuilt"]
    mtime = index.stat().st_mtime_ns
    assert not build_index(corpus, index)["rebuilt"] and index.stat().st_mtime_ns == mtime
    assert not search(index, "zeppelin")
    write_corpus(corpus / "part-1.parquet", [("new", "https://c.example/z", "A zeppelin floats over the bay.")])
    stats = build_index(corpus, index)
    assert stats["rebuilt"] and stats["documents"] == 6 and stats["files"] == 2
    assert search(index, "zeppelin")[0]["url"] == "https://c.example/z"
    write_corpus(corpus / "part-1.parquet", [("new", "https://c.example/k", "A kite floats over the bay.")])
    os.utime(corpus / "part-1.parquet", ns=(1, 1))  # same name, new content and mtime
    assert build_index(corpus, index)["rebuilt"] and search(index, "kite")[0]["url"] == "https://c.example/k"
    assert not list(tmp_path.glob("*.tmp-*"))  # the temp file was renamed over the index


def test_text_only_corpus_and_bad_rows_are_counted(tmp_path):
    pq.write_table(pa.table({"text": ["Only text here about comets.", None, "  "]}), tmp_path / "t.parquet")
    stats = build_index(tmp_path / "t.parquet", tmp_path / "i.sqlite")
    assert stats["documents"] == 1 and stats["skipped_rows"] == 2
    assert search(tmp_path / "i.sqlite", "comets") == [{"text": "Only text here about comets.", "url": None,
                                                         "score": search(tmp_path / "i.sqlite", "comets")[0]["score"]}]


def test_clear_errors_for_missing_inputs(tmp_path):
    with pytest.raises(UserError, match="no corpus"):
        build_index(tmp_path / "nope", tmp_path / "i.sqlite")
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "b.parquet")
    with pytest.raises(UserError, match="no `text` column"):
        build_index(tmp_path / "b.parquet", tmp_path / "i.sqlite")
    assert not (tmp_path / "i.sqlite").exists()
    with pytest.raises(UserError, match="no search index"):
        search(tmp_path / "i.sqlite", "x")


FILLER = ("The weather was mild that spring. Markets opened early on most days. Visitors walked along the river "
          "banks. Some shops sold bread and cheese. Children played near the old bridge. ")
LONG = [  # one passage each (under 400 characters), the match far from its start
    ("bio", "https://d.example/list", FILLER + "Emily Rogers was born in Fernholm and works as a teacher."),
    ("city", "https://d.example/city", FILLER + "A cidade de Ribeirão Preto tem um porto movimentado."),
    ("other", "https://d.example/walsh", "Emily Walsh was born in Kingsport. Emily Walsh met Anne Rogers. "
                                         "Emily Walsh was born a baker. Emily Walsh still bakes."),
]


@pytest.fixture
def long_index(tmp_path):
    write_corpus(tmp_path / "long.parquet", LONG + DOCS)
    build_index(tmp_path / "long.parquet", tmp_path / "long.sqlite")
    return tmp_path / "long.sqlite"


def test_a_long_passage_comes_back_as_the_window_around_its_match(long_index):
    assert all(len(text) <= 400 for _, _, text in LONG) and LONG[0][2].index("Emily Rogers") > 150
    [hit] = search(long_index, "Emily Rogers", k=1, max_chars=120)
    assert hit["url"] == "https://d.example/list"
    assert len(hit["text"]) <= 120 and hit["text"].startswith("…")  # cut before the match...
    assert "Emily Rogers was born in Fernholm" in hit["text"]  # ...and the match kept with what follows it
    assert hit["text"].endswith("teacher.")  # it reaches the end of the passage: no closing mark


@pytest.mark.parametrize("query", ["ribeirao preto", "RIBEIRÃO PRETO", "Ribeirão Preto porto"])
def test_the_window_folds_case_and_accents_as_the_index_does(long_index, query):
    [hit] = search(long_index, query, k=1, max_chars=60)
    assert hit["url"] == "https://d.example/city" and len(hit["text"]) <= 60
    assert "Ribeirão Preto" in hit["text"] and hit["text"].startswith("…")


def test_windows_of_several_results_fit_max_chars_together(long_index):
    corpus = " ".join(text for _, _, text in LONG + DOCS)
    for max_chars in (3, 10, 31, 60, 120, 150, 299, 300, 500):
        results = search(long_index, "Emily Rogers bread", k=3, max_chars=max_chars)
        assert len(results) == 3 and sum(len(r["text"]) for r in results) <= max_chars
        for r in results:  # a window: pieces of one passage between "…" marks
            assert all(piece.strip() in corpus for piece in r["text"].split("…"))


def test_a_full_name_outranks_its_words_apart(long_index):
    # "other" holds Emily (4 times), Rogers and born but never "Emily Rogers"; "bio" holds the words and the pair
    results = search(long_index, "Emily Rogers born", k=2)
    assert [r["url"] for r in results] == ["https://d.example/list", "https://d.example/walsh"]
    assert fts_query("Emily Rogers born", pairs=True) == ('"Emily" OR "Rogers" OR "born" OR "Emily Rogers" '
                                                          'OR "Rogers born"')


def test_a_short_passage_leaves_its_share_to_the_others(index):
    results = search(index, "Guanabara harbour", k=2, max_chars=300)  # the Rio passage is under 150 characters
    assert [len(r["text"]) for r in results][0] < 150 and sum(len(r["text"]) for r in results) > 250
    assert sum(len(r["text"]) for r in results) <= 300
