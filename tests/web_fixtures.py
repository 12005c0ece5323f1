"""Fixtures for the data-stage tests, made on the fly: prose in pt/en, HTML pages, WARC files.

No test lives here; the other tests/test_web_*.py import these builders."""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

WORDS = {
    "en": {
        "subj": ["the old bridge", "my neighbour", "the city council", "a young teacher", "the river",
                 "our small team", "the morning train", "an experienced farmer", "the local library",
                 "the museum guide", "a curious student", "the harbour master", "the bakery owner"],
        "verb": ["opened", "described", "repaired", "visited", "painted", "measured", "remembered",
                 "explained", "organised", "followed", "studied", "protected", "celebrated"],
        "obj": ["the northern gate", "a long letter to the mayor", "the garden behind the school",
                "the history of the valley", "an unusual map of the coast", "the annual festival",
                "the price of fresh bread", "a quiet corner of the park", "the results of the survey",
                "the roof of the station", "a book about old ships", "the names of the streets"],
        "tail": ["before the rain started", "with great care", "during the long winter",
                 "after a short meeting", "for the first time in years", "because nobody else would",
                 "while the children watched", "in the early afternoon", "and everyone agreed with that",
                 "without saying a word", "as the sun went down", "on a cold Sunday"],
    },
    "pt": {
        "subj": ["a velha ponte", "o meu vizinho", "a câmara municipal", "uma jovem professora", "o rio",
                 "a nossa pequena equipa", "o comboio da manhã", "um agricultor experiente",
                 "a biblioteca do bairro", "o guia do museu", "uma estudante curiosa", "o dono da padaria"],
        "verb": ["abriu", "descreveu", "reparou", "visitou", "pintou", "mediu", "lembrou", "explicou",
                 "organizou", "seguiu", "estudou", "protegeu", "celebrou"],
        "obj": ["o portão do norte", "uma longa carta ao presidente", "o jardim atrás da escola",
                "a história do vale", "um mapa invulgar da costa", "a festa anual da vila",
                "o preço do pão fresco", "um canto tranquilo do parque", "os resultados do inquérito",
                "o telhado da estação", "um livro sobre navios antigos", "os nomes das ruas"],
        "tail": ["antes de a chuva começar", "com muito cuidado", "durante o longo inverno",
                 "depois de uma reunião curta", "pela primeira vez em anos", "porque mais ninguém o fez",
                 "enquanto as crianças olhavam", "no início da tarde", "e todos concordaram com isso",
                 "sem dizer uma palavra", "quando o sol se pôs", "num domingo frio"],
    },
}


def prose(lang: str, seed: int, sentences: int = 8) -> str:
    """Natural-looking paragraphs: distinct per seed, enough words and sentences for every filter.
    Parts are drawn without replacement, so no phrase repeats (the repetition filters stay quiet)."""
    rng = random.Random(f"{lang}-{seed}")
    w = WORDS[lang]
    parts = [rng.sample(w[k], sentences) for k in ("subj", "verb", "obj", "tail")]
    out = []
    for subj, verb, obj, tail in zip(*parts):
        s = f"{subj} {verb} {obj} {tail}"
        out.append(s[0].upper() + s[1:] + f", {rng.randint(2, 999)} " + ("vezes." if lang == "pt" else "times."))
    paras = [" ".join(out[i: i + 4]) for i in range(0, len(out), 4)]
    return "\n\n".join(paras)


def page(body_text: str, title: str = "A page", lang: str = "en") -> bytes:
    """An HTML page: navigation, the article, a footer (boilerplate an extractor should drop)."""
    paras = "".join(f"<p>{p}</p>\n" for p in body_text.split("\n\n"))
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<script>var x = {{a: 1}};</script><style>body {{ color: black }}</style></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li>
<li><a href="/contact">Contact</a></li></ul></nav>
<main><article><h1>{title}</h1>
{paras}</article></main>
<footer><p>Copyright 2024 Example Media. All rights reserved.</p><a href="/privacy">Privacy</a></footer>
</body></html>""".encode("utf-8")


def write_warc(path: Path, records: list[dict], *, gzip_: bool = True) -> Path:
    """records: {"url", "body" (bytes), optional "ctype", "status", "type" ('response'|'conversion')}."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=gzip_)
        for r in records:
            kind = r.get("type", "response")
            if kind == "response":
                headers = StatusAndHeaders(f"{r.get('status', 200)} OK",
                                           [("Content-Type", r.get("ctype", "text/html; charset=utf-8"))],
                                           protocol="HTTP/1.1")
                rec = w.create_warc_record(r["url"], "response", payload=io.BytesIO(r["body"]),
                                           http_headers=headers)
            else:
                rec = w.create_warc_record(r["url"], kind, payload=io.BytesIO(r["body"]),
                                           warc_content_type="text/plain")
            w.write_record(rec)
    return path


def truncate(path: Path, keep_fraction: float = 0.6) -> Path:
    """Cut the file inside a gzip member (never exactly between two, which would leave a valid
    shorter file: WARC gzip files are one member per record)."""
    data = path.read_bytes()
    cut = int(len(data) * keep_fraction)
    while data[cut: cut + 3] == b"\x1f\x8b\x08":   # the start of the next member
        cut += 7
    path.write_bytes(data[:cut])
    return path


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())
