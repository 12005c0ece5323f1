"""Optional checks on real data: the readers, extraction, the data stage and the tokenizer on the
files in ../shared/data (real WARCs and books; see its README.md for what they are and their
sources). Skipped when that folder is absent: a fresh clone passes without it. About 3 s."""

import re
from collections import Counter
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
WARC = SHARED / "warc"
TEXT = SHARED / "text"

pytestmark = pytest.mark.skipif(not (WARC.is_dir() and TEXT.is_dir()),
                                reason=f"no real data at {SHARED} (optional; see README.md)")


def test_real_warcs_are_read_without_problems():
    from dentro.web.readers import kind_of, read

    counts = {}
    for f in sorted(WARC.iterdir()):
        problems = Counter()
        recs = list(read(f, problems))
        assert not problems, (f.name, problems)
        assert all(r.url.split(":")[0] in ("http", "https", "metadata") and (r.html or r.text) for r in recs), f.name
        counts[f.name] = len(recs)
    # the response records of each file (README.md: 16 for the 2020 sample, 29 for ClueWeb09)
    assert counts["cc-main-2020-34-sample.warc.gz"] == 16 and counts["clueweb09-quirks-ja.warc.gz"] == 29
    assert kind_of(WARC / "cc-main-2024-22-one-page.warc.wet.gz") == "wet"


def test_extraction_agrees_with_common_crawls_own_wet_text():
    """The same page as Common Crawl's WARC record and its WET text: our main-content text is
    shorter (no menus) and nearly all its words are in Common Crawl's extraction."""
    from dentro.web.extract import ExtractConfig, decode_html, extract_with_limit
    from dentro.web.readers import read

    (page,) = read(WARC / "cc-main-2024-22-one-page.warc.gz", Counter())
    (wet,) = read(WARC / "cc-main-2024-22-one-page.warc.wet.gz", Counter())
    assert page.url == wet.url
    text, err = extract_with_limit(decode_html(page.html, page.charset), ExtractConfig())
    assert err is None and 500 < len(text) < len(wet.text)
    ours, theirs = re.findall(r"\w+", text.lower()), set(re.findall(r"\w+", wet.text.lower()))
    assert sum(w in theirs for w in ours) / len(ours) > 0.9


def test_the_data_stage_on_real_warcs(tmp_path):
    import pyarrow.parquet as pq

    from dentro.web.pipeline import DataConfig, process

    stats = process([WARC], tmp_path, DataConfig(), workers=1, log=lambda *a: None)
    read = stats["stages"][0]
    assert read["docs_in"] == read["docs_out"] > 90 and not read["removed"]
    rows = [r for f in sorted((tmp_path / "corpus").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    langs = Counter(r["language"] for r in rows)
    assert langs["pt"] >= 2 and langs["en"] >= 20 and set(langs) <= {"pt", "en"}
    publico = [r for r in rows if "publico.pt" in r["url"]]
    assert publico and publico[0]["language"] == "pt"  # a real Portuguese news page survives the filters


def test_tokenizer_on_real_books():
    """Trained on one Machado de Assis novel, the BPE compresses his other books and still
    round-trips English exactly; the reader labels the books' languages."""
    from dentro.tokenizer.bpe import train_tokenizer
    from dentro.corpus import read_documents

    novel = (TEXT / "machado" / "romance" / "domCasmurro.txt").read_text(encoding="utf-8")[:300_000]
    tok = train_tokenizer(novel.split("\n\n"), vocab_size=1024)
    stories = (TEXT / "machado" / "conto" / "papeisAvulsos.txt").read_text(encoding="utf-8")[:100_000]
    shakespeare = (TEXT / "tinyshakespeare.txt").read_text(encoding="utf-8")[:50_000]
    pt, en = len(stories.encode()) / len(tok.encode(stories)), len(shakespeare.encode()) / len(tok.encode(shakespeare))
    assert pt > 2.2 and pt > en  # trained on Portuguese: Portuguese compresses better
    assert tok.decode(tok.encode(shakespeare)) == shakespeare
    langs = {d.id.split(":")[0]: d.language for d in read_documents([TEXT / "tinyshakespeare.txt",
                                                                      TEXT / "machado" / "conto"])}
    assert langs["tinyshakespeare.txt"] == "en" and langs["papeisAvulsos.txt"] == "pt"
