"""Issue 18: the bytes under the tokens, nearest tokens in the embeddings, and the base model's
properties (in-context learning, compression, memorisation), on throwaway models."""

import json
import math
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from dentro import cli
from dentro.eval import base_model as bm
from dentro.model.checkpoint import save_checkpoint
from dentro.model.gpt import GPT, ModelConfig
from dentro.model.neighbours import neighbours, resolve
from dentro.tokenizer.bpe import Tokenizer, train_tokenizer
from dentro.tokenizer.view import byte_view, render_bytes
from dentro.train.data import ShardSpec, tokenize_corpus

pytestmark = pytest.mark.usefixtures("one_thread")

PT = "O céu é azul e a população de São Paulo cresceu. Não há coração que aguente tanta saudade."
EN = "The sky is blue and the population of the city grew in the year of the great river."


def make_docs(n=80, seed=0):
    rng = random.Random(seed)
    docs = []
    for k in range(n):
        words = (PT if k % 2 else EN).split()
        rng.shuffle(words)
        docs.append(" ".join(words * 3) + f" {1900 + k}.")
    return docs


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(make_docs(), 400)


def tiny_model(tok, ctx=64, seed=0):
    torch.manual_seed(seed)
    return GPT(ModelConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                           num_key_value_heads=1, head_dim=16, intermediate_size=64,
                           max_position_embeddings=ctx)).eval()


# ---- tokenizer show --bytes ------------------------------------------------------------------

def test_byte_view_accents_and_emoji(tok):
    text = "O céu é azul 😀"
    v = byte_view(tok, text)
    json.dumps(v)  # JSON-able, for the web UI
    assert (v["n_chars"], v["n_bytes"]) == (14, 19)
    e = v["chars"][3]
    assert e["char"] == "é" and e["codepoint"] == "U+00E9"
    assert e["hex"] == ["c3", "a9"] and e["bits"] == ["11000011", "10101001"]
    smile = v["chars"][-1]
    assert smile["hex"] == ["f0", "9f", "98", "80"] and smile["bits"][0].startswith("11110")
    assert all(b.startswith("10") for b in smile["bits"][1:])  # continuation bytes
    # the tokens spell the bytes exactly, each character points at the tokens holding its bytes
    assert b"".join(bytes.fromhex("".join(t["hex"])) for t in v["tokens"]) == text.encode()
    assert [t["id"] for t in v["tokens"]] == tok.encode(text)
    for c, ch in enumerate(v["chars"]):
        for k in ch["tokens"]:
            t = v["tokens"][k]
            assert c in t["chars"] and t["byte_start"] < ch["byte_start"] + len(ch["hex"]) and ch["byte_start"] < t["byte_end"]
    # a merged token says which two tokens BPE joined into it, and they spell it
    merged = [t for t in v["tokens"] if t["merged_from"]]
    assert merged
    for t in merged:
        assert b"".join(tok.token_bytes(i) for i in t["merged_from"]) == tok.token_bytes(t["id"])
        assert all(i < t["id"] for i in t["merged_from"])
    out = render_bytes(v)
    assert "c3 a9" in out and "11000011 10101001" in out and "f0 9f 98 80" in out and "19 bytes" in out


def test_tokenizer_show_bytes_cli(tok, tmp_path, capsys):
    path = tok.save(tmp_path)
    assert cli.main(["tokenizer", "show", "--tokenizer", str(path), "--bytes", "Não", "😀"]) == 0
    out = capsys.readouterr().out
    assert "U+00E3" in out and "c3 a3" in out and "U+1F600" in out


# ---- inspect neighbours ------------------------------------------------------------------------

def test_neighbours_structure_self_excluded_and_k(tok):
    model = tiny_model(tok)
    for space in ("embedding", "unembedding"):
        r = neighbours(model, tok, "#300", k=7, space=space)
        json.dumps(r)
        assert r["space"] == space and r["how"] == "one token" and r["pieces"][0]["id"] == 300
        ids = [n["id"] for n in r["neighbours"]]
        assert len(ids) == 7 and 300 not in ids and all(i < tok.n_ranks for i in ids)
        cos = [n["cosine"] for n in r["neighbours"]]
        assert cos == sorted(cos, reverse=True) and all(-1 <= c <= 1 for c in cos)
    # a word of several tokens: the mean of its pieces, and none of them among the answers
    r = neighbours(model, tok, "zxqwv", k=5)
    assert len(r["pieces"]) > 1 and r["how"] == f"mean of {len(r['pieces'])} tokens"
    assert not {p["id"] for p in r["pieces"]} & {n["id"] for n in r["neighbours"]}
    # the nearest token by cosine is the one a copy of the row would give
    w = model.embed_tokens.weight.detach().clone()
    with torch.no_grad():
        model.embed_tokens.weight[301] = w[300] * 3  # same direction, other length
    assert neighbours(model, tok, "#300", k=1)["neighbours"][0] == {"id": 301, "text": r2t(tok, 301), "cosine": 1.0}
    assert resolve(tok, " céu") == tok.encode(" céu")


def r2t(tok, i):
    from dentro.tokenizer.view import visible
    return visible(tok.token_bytes(i))


def test_inspect_cli(tok, tmp_path, capsys):
    model = tiny_model(tok)
    save_checkpoint(tmp_path / "run" / "pretrain" / "checkpoint", model, tok)
    assert cli.main(["inspect", "neighbours", "céu", "--run", str(tmp_path / "run"), "--k", "3"]) == 0
    out = capsys.readouterr().out
    assert "embedding" in out and "unembedding" in out and len(out.strip().splitlines()) >= 5
    assert cli.main(["inspect", "neighbours", "céu", "--run", str(tmp_path / "nowhere")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    assert cli.main(["inspect", "neighbours", "#99999", "--run", str(tmp_path / "run")]) == 2
    assert "outside the vocabulary" in capsys.readouterr().err


# ---- in-context learning ----------------------------------------------------------------------

def copying_completer(tok):
    """A fake model that looks the asked key up among the prompt's earlier lines and copies its value."""
    def complete(prompts, max_tokens):
        out = []
        for ids in prompts:
            lines = tok.decode([i for i in ids if i != tok.eot_id]).split("\n")
            ask, answer = lines[-1], "???"
            for line in lines[:-1]:
                if line.startswith(ask + " "):
                    answer = line[len(ask):].strip()
            out.append(tok.encode(" " + answer + "\n")[:max_tokens])
        return out
    return complete


def test_icl_scoring_counts_with_a_copying_model(tok):
    shots = (0, 1, 2, 4, 8)
    items = bm.icl_items("codes", shots, 5) + bm.icl_items("lexicon", shots, 5)
    assert items == bm.icl_items("codes", shots, 5) + bm.icl_items("lexicon", shots, 5)  # deterministic
    for it in items:  # the answer is in the prompt exactly when there are examples
        if it["shots"]:
            assert f" {it['answer']}\n" in it["prompt"]
        assert it["prompt"].count("\n") == it["shots"]
    bm.score_items(items, tok, copying_completer(tok), context=256)
    table = bm.accuracy_table(items)
    for task in ("codes", "lexicon"):
        assert table[task][0] == {"n": 5, "right": 0, "too_long": 0, "accuracy": 0.0, "ci95": [0.0, 0.4345]}
        for k in shots[1:]:
            assert table[task][k]["right"] == table[task][k]["n"] == 5 and table[task][k]["accuracy"] == 1.0
    # a context too short for the longest prompts: those are counted apart, never as wrong
    items = bm.score_items(bm.icl_items("codes", shots, 3), tok, copying_completer(tok), context=40)
    t = bm.accuracy_table(items)["codes"]
    assert t[8]["too_long"] == 3 and t[8]["n"] == 0 and t[8]["accuracy"] is None and t[1]["n"] == 3


@pytest.mark.parametrize("cont,ok", [(" GX-39\n", True), ("GX-39", True), (" GX-39.", True), (" GX-391", False),
                                     (" gx-39", False), ("\nGX-39", False), ("", False)])
def test_is_right(cont, ok):
    assert bm.is_right(cont, "GX-39") is ok


# ---- compression --------------------------------------------------------------------------------

def test_compressor_baselines_on_known_text():
    rng = random.Random(0)
    noise = bytes(rng.getrandbits(8) for _ in range(20000))
    repeated = b"O ceu e azul. " * 2000
    r = bm.compressor_bpb(repeated)
    assert set(r) == {"gzip", "bzip2", "xz"} and all(v < 0.1 for v in r.values())
    assert all(7.9 < v < 8.5 for v in bm.compressor_bpb(noise).values())  # random bytes do not compress
    assert bm.compressor_bpb(repeated) == r  # deterministic (gzip without a timestamp)


def test_model_bpb_of_a_uniform_model(tok):
    """A model whose logits are all zero spends log2(V) bits on every token."""
    model = tiny_model(tok, ctx=16)
    with torch.no_grad():
        model.lm_head.weight.zero_()
    docs = [[tok.eot_id] + tok.encode(t) for t in make_docs(6)]
    r = bm.model_bpb(model, tok, docs, batch=3)
    text_tokens = sum(len(d) - 1 for d in docs)
    nbytes = sum(len(tok.decode_bytes(d[1:])) for d in docs)
    assert r["bytes"] == nbytes and r["tokens"] == sum(map(len, docs))
    assert r["bpb"] == pytest.approx(text_tokens * math.log2(tok.vocab_size) / nbytes, abs=1e-3)


# ---- memorisation -------------------------------------------------------------------------------

def test_memorisation_exact_and_matching_prefix():
    docs = [{"split": "train", "bucket": "frequent", "ids": list(range(10, 30))},
            {"split": "val", "bucket": "none", "ids": list(range(50, 70))}]

    def half_right(prompts, n):  # reproduces train documents, gets 3 tokens of the others
        return [list(range(p[-1] + 1, p[-1] + 1 + n)) if p[1] == 10 else list(range(p[-1] + 1, p[-1] + 4)) + [0] * (n - 3)
                for p in prompts]
    bm.memorisation(docs, half_right, prefix=8, eot_id=1)
    assert (docs[0]["exact"], docs[0]["match"]) == (True, 8)
    assert (docs[1]["exact"], docs[1]["match"]) == (False, 3)
    rows = {(r["split"], r["bucket"]): r for r in bm.memo_table(docs)}
    assert rows["train", "all"]["rate"] == 1.0 and rows["val", "all"]["mean_match"] == 3
    assert rows["val", "none"]["ci95"] == [0.0, 0.7935]


# ---- the whole measurement on a throwaway run ---------------------------------------------------

@pytest.fixture(scope="module")
def run(tmp_path_factory, tok):
    run = tmp_path_factory.mktemp("run")
    texts = make_docs(120, seed=1)
    urls = [f"https://example.org/{k}" for k in range(len(texts))]
    corpus = run / "data" / "corpus"
    corpus.mkdir(parents=True)
    pq.write_table(pa.table({"text": texts, "id": [f"doc-{k}" for k in range(len(texts))], "url": urls}),
                   corpus / "00000.parquet")
    truth = run / "world" / "truth"
    (truth / "questions").mkdir(parents=True)
    buckets = ["frequent", "medium", "rare"]
    (truth / "facts.jsonl").write_text("".join(json.dumps({"id": f"F{k}", "bucket": buckets[k % 3]}) + "\n"
                                               for k in range(30)))
    (truth / "pages.jsonl").write_text("".join(json.dumps({"url": u, "facts": [f"F{k % 40}"] if k % 40 < 30 else []})
                                               + "\n" for k, u in enumerate(urls)))
    for lang, q in (("pt", "Em que ano nasceu {}?"), ("en", "In what year was {} born?")):
        (truth / "questions" / f"{lang}_forward_frequent.jsonl").write_text(
            "".join(json.dumps({"fact": f"F{k}", "question": q.format(f"Ana {k}"), "answer": str(1900 + k)}) + "\n"
                    for k in range(12)))
    ck = run / "pretrain" / "checkpoint"
    save_checkpoint(ck, tiny_model(tok, ctx=64), tok, extra={"tokens": 5000})
    tokenize_corpus(corpus, ck / "tokenizer.dentro.json", run / "pretrain" / "tokens", ShardSpec(val_fraction=0.2),
                    progress=False)
    return run


def test_base_model_properties_structure_and_determinism(run):
    figures, md = bm.base_model_properties(run, "micro")
    props = json.loads((run / "sample" / "properties.json").read_text())
    assert (run / "sample" / "icl.png").stat().st_size > 1000
    assert set(props["icl"]) == {"codes", "lexicon", "world"}
    for task in props["icl"].values():
        assert set(task) == {"0", "1", "2"}
        assert all(0 <= c["right"] <= c["n"] for c in task.values())
    c = props["compression"]
    assert c["train_text_bytes"] > 0 and c["params"] > 0 and c["param_bytes"] == 4 * c["params"]
    assert 0 < c["model_bpb"] and all(c[f"{k}_bpb"] > 0 for k in ("gzip", "bzip2", "xz"))
    splits = {(r["split"], r["bucket"]) for r in props["memorisation"]}
    assert ("train", "all") in splits and ("val", "all") in splits
    assert {"model_bpb", "gzip_bpb", "memorised_train", "icl_codes_0shot", "icl_codes_2shot", "seconds"} <= set(figures)
    assert "the base model's properties / as propriedades do modelo base" in md.casefold()
    assert "![ICL](sample/icl.png)" in md
    again, _ = bm.base_model_properties(run, "micro")
    figures.pop("seconds"), again.pop("seconds")
    assert again == figures
