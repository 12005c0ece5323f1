"""Stage 0 building blocks: PII generators, templates, the WARC writer, the quality self-check."""

import io
import random
import re

import pytest

from dentro.world import checks, junk, phrasing
from dentro.world.config import PRESETS, config_for
from dentro.world.warc import WarcWriter


def cpf_ok(s: str) -> bool:
    d = [int(c) for c in re.sub(r"\D", "", s)]
    for n in (9, 10):
        t = sum(x * w for x, w in zip(d[:n], range(n + 1, 1, -1)))
        if (0 if t % 11 < 2 else 11 - t % 11) != d[n]:
            return False
    return True


def luhn_ok(s: str) -> bool:
    d = [int(c) for c in s if c.isdigit()][::-1]
    return sum(x if i % 2 == 0 else (2 * x - 9 if 2 * x > 9 else 2 * x) for i, x in enumerate(d)) % 10 == 0


def test_pii_generators_and_decoys():
    rng = random.Random(0)
    for _ in range(200):
        assert cpf_ok(junk.cpf(rng))
        assert not cpf_ok(junk.cpf(rng, valid=False))  # decoys look like a CPF but fail the check
        assert luhn_ok(junk.card(rng)) and len(junk.card(rng).replace(" ", "")) == 16
        assert re.fullmatch(r"\d{2}\.\d{3}\.\d{3}/0001-\d{2}", junk.cnpj(rng))
        a, b, c, d = map(int, junk.ip(rng).split("."))
        assert 0 < a < 224 and 0 <= b < 256 and 0 <= c < 256 and 0 < d < 255


def test_pii_pages_hold_their_pii_and_decoys_verbatim():
    from dentro.world.content import main_text

    rng = random.Random(1)
    for lang in ("pt", "en"):
        for _ in range(30):
            title, blocks, pii, decoys = junk.pii_blocks(lang, rng, "Ana", "Souza")
            text = main_text(blocks)
            assert pii and all(p["value"] in text for p in pii)
            assert all(d in text for d in decoys)
            assert not any(d == p["value"] for d in decoys for p in pii)


@pytest.mark.parametrize("lang", ["pt", "en"])
def test_templates_name_subject_and_object_in_the_right_order(lang):
    subj = re.compile(r"\{(s|A_s|a_s|da_s|na_s|a_s_crase)\}")
    for rel, forms in phrasing.T.items():
        for direction, templates in forms[lang].items():
            assert len(templates) >= 4 or direction == "rev", (rel, direction)
            for t in templates:
                o = min(t.find(k) for k in ("{o}", "{no_o}", "{do_o}", "{na_o}", "{da_o}", "{a_o}") if k in t)
                assert o >= 0, (rel, t)  # every template writes the answer
                s = subj.search(t)
                assert s, (rel, t)
                if rel in ("mother", "father", "founder"):  # reversal curse: direction is word order
                    assert (s.start() < o) == (direction == "fwd"), (rel, direction, t)


def test_warc_writer_is_deterministic_and_digests_verify():
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    def write():
        buf = io.BytesIO()
        w = WarcWriter(buf, "x.warc.gz", "0", "2024-03-01T00:00:00Z")
        w.response("https://a.example/p", "2024-03-01T00:00:09Z", "Fri, 01 Mar 2024 00:00:09 GMT",
                   "<!DOCTYPE html><p>olá</p>".encode(), "text/html; charset=utf-8")
        return buf.getvalue()

    raw = write()
    assert raw == write()
    recs = list(ArchiveIterator(io.BytesIO(raw), record_types=WarcRecordType.any_type))
    assert [r.record_type for r in recs] == [WarcRecordType.warcinfo, WarcRecordType.response]
    for resp in ArchiveIterator(io.BytesIO(raw), record_types=WarcRecordType.response, parse_http=False):
        assert resp.verify_block_digest(consume=False)  # sha1 of the HTTP headers + payload
    for resp in ArchiveIterator(io.BytesIO(raw), record_types=WarcRecordType.response, parse_http=True):
        assert resp.verify_payload_digest(consume=False)  # sha1 of the payload alone


def test_quality_self_check_tells_prose_from_junk():
    rng = random.Random(3)
    prose = ("Maria nasceu em uma cidade pequena do interior. Desde cedo gostava de livros e de longas "
             "conversas com os avós. Mais tarde estudou engenharia e trabalhou em várias empresas da região. "
             "Colegas lembram que ela era paciente e que gostava de ensinar os mais novos. Hoje vive perto do "
             "mar e escreve sobre a história da família, que guarda muitas fotografias antigas. Nos fins de "
             "semana recebe os amigos para almoçar e conversar sobre tudo o que aconteceu durante a semana.")
    assert checks.failures(prose, "pt") == []
    for _ in range(20):
        _, blocks = junk.spam_blocks("pt", rng)
        from dentro.world.content import main_text
        assert checks.failures(main_text(blocks), "pt")
    assert "too_few_words" in checks.failures("Em breve mais informações.", "pt")


def test_config_presets_scale():
    assert set(PRESETS) == {"micro", "tiny", "small"}
    c = [PRESETS[p].counts() for p in ("micro", "tiny", "small")]
    assert all(c[0][k] <= c[1][k] <= c[2][k] for k in c[0])
    assert config_for("tiny", seed=5).seed == 5 and config_for("tiny", pages=900).pages == 900
    with pytest.raises(ValueError, match="unknown world size"):
        config_for("huge")


def test_regenerating_into_a_folder_leaves_no_stale_shards(tmp_path):
    from dataclasses import replace

    from dentro.world import generate

    generate(tmp_path, replace(config_for("micro"), shards=3, pages=60))
    assert len(list((tmp_path / "crawl").glob("*.warc.gz"))) == 3
    generate(tmp_path, replace(config_for("micro"), pages=60))
    assert len(list((tmp_path / "crawl").glob("*.warc.gz"))) == 2
