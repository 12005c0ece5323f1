"""`dentro tokenizer train|show|stats|export`, the corpus reader, the held-out split and run_stage."""

import json
import random
import re
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dentro import cli
from dentro.commands import tokenizer as command
from dentro.tokenizer.bpe import Tokenizer
from dentro.corpus import (ReadCounts, guess_language, is_held_out, normalize_language,
                                     read_documents)

PT = "O céu é azul e a noite é longa. Não há coração que aguente tanta saudade da população."
EN = "The sky is blue and the night is long. There is no heart that can take so much longing."


def write_corpus(run, n=300, seed=0):
    """A FineWeb-like shard; documents whose id is held out also carry a word found nowhere else."""
    rng = random.Random(seed)
    rows = {"text": [], "id": [], "language": [], "url": []}
    for k in range(n):
        lang = "pt" if k % 2 else "en"
        words = (PT if lang == "pt" else EN).split()
        rng.shuffle(words)
        doc_id = f"<urn:uuid:{k:08d}>"
        text = " ".join(words) + f" {rng.randint(0, 999)}."
        if is_held_out(doc_id):
            text += " zxqvw zxqvw zxqvw zxqvw zxqvw zxqvw"
        rows["text"].append(text)
        rows["id"].append(doc_id)
        rows["language"].append(lang)
        rows["url"].append(f"https://example.org/{k}")
    rows["text"][3] = None  # a bad record: counted and skipped
    d = run / "data" / "corpus"
    d.mkdir(parents=True)
    pq.write_table(pa.table(rows), d / "000_00000.parquet")
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    write_corpus(run)
    assert cli.main(["tokenizer", "train", "--run", str(run), "--vocab-size", "360"]) == 0  # the text has merges for ~380 ids
    return run


def test_train_writes_tokenizer_export_and_stats(trained):
    folder = trained / "tokenizer"
    tok = Tokenizer.load(folder)
    assert tok.vocab_size == 360 and (folder / "tokenizer.json").exists()
    stats = json.loads((folder / "stats.json").read_text())
    assert stats["skipped"] == {"empty or missing text": 1}
    assert stats["held_out_documents"] > 0
    for lang in ("pt", "en"):
        s = stats["held_out"][lang]
        assert 1.0 < s["bytes_per_token"] < 10 and 0.5 < s["tokens_per_word"] < 5
    assert stats["train_documents"] + stats["held_out_documents"] == 299


def test_held_out_text_is_never_trained_on(trained):
    tok = Tokenizer.load(trained / "tokenizer")
    learned = {tok.token_bytes(i) for i in range(256, tok.n_ranks)}
    assert b" saudade" in learned  # as frequent in training text as zxqvw is in held-out text
    assert not any(b"zxq" in t for t in learned)


def test_show_colours_tokens_with_ids(trained, capsys):
    assert cli.main(["tokenizer", "show", "--run", str(trained), "--color", "always", "O céu\té azul\n"]) == 0
    out = capsys.readouterr().out
    assert "\x1b[30;48;5;" in out and "·" in out and "→" in out and "↵" in out
    tok = Tokenizer.load(trained / "tokenizer")
    ids = tok.encode("O céu\té azul\n")
    assert f"{len(ids)} tokens" in out
    id_line = re.sub(r"\x1b\[[0-9;]*m", "", out).splitlines()[-2]  # the ids, colours removed
    assert id_line.split() == [str(i) for i in ids]


def test_show_ids_only(trained, capsys):
    assert cli.main(["tokenizer", "show", "--run", str(trained), "--ids", "O céu é azul"]) == 0
    out = capsys.readouterr().out.split()
    assert out == [str(i) for i in Tokenizer.load(trained / "tokenizer").encode("O céu é azul")]


def test_show_chat_text_special_tokens_only_with_chat_flag(trained, capsys):
    text = "<|im_start|>user\\nOi<|im_end|>"
    tok = Tokenizer.load(trained / "tokenizer")
    assert cli.main(["tokenizer", "show", "--run", str(trained), "--color", "never", text]) == 0
    plain = capsys.readouterr().out
    assert "[<|im_start|>]" not in plain and "special" not in plain
    assert cli.main(["tokenizer", "show", "--run", str(trained), "--color", "always", "--chat", text]) == 0
    chat = capsys.readouterr().out
    assert "2 special" in chat and str(tok.special_id("<|im_start|>")) in chat
    assert "\x1b[1;97;45m<|im_start|>" in chat  # special tokens have their own style


def test_stats_and_export(trained, capsys, tmp_path):
    assert cli.main(["tokenizer", "stats", "--run", str(trained)]) == 0
    out = capsys.readouterr().out
    assert "| pt |" in out and "| en |" in out and "held-out" in out
    assert cli.main(["tokenizer", "export", "--run", str(trained), "--out", str(tmp_path)]) == 0
    from tokenizers import Tokenizer as HF

    hf = HF.from_file(str(tmp_path / "tokenizer.json"))
    tok = Tokenizer.load(trained / "tokenizer")
    assert hf.encode(PT + EN, add_special_tokens=False).ids == tok.encode(PT + EN)


def test_clear_errors(tmp_path, capsys):
    assert cli.main(["tokenizer", "show", "--run", str(tmp_path / "none"), "x"]) == 2
    assert "dentro tokenizer train" in capsys.readouterr().err
    assert cli.main(["tokenizer", "train", "--run", str(tmp_path / "none")]) == 2
    assert "dentro data" in capsys.readouterr().err
    assert cli.main(["tokenizer", "train", "--input", str(tmp_path / "missing.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # not a tokenizer: say what one is and how to make one (not just the JSON parser's complaint)
    (tmp_path / "bad.json").write_text("{}")
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "tokenizer.json").write_text('{"model": {"type": "BPE"}}')
    for name in ("bad.json", "passwd", "list.json", "tokenizer.json"):
        assert cli.main(["tokenizer", "show", "--tokenizer", str(tmp_path / name), "x"]) == 2, name
        err = capsys.readouterr().err
        assert "is not a dentro tokenizer" in err and "tokenizer.dentro.json file" in err, err
        assert "make one with `dentro tokenizer train`" in err.lower(), err
    assert cli.main(["tokenizer", "show", "--tokenizer", str(tmp_path / "passwd"), "x"]) == 2
    assert "(not JSON)" in capsys.readouterr().err
    assert cli.main(["tokenizer", "show", "--tokenizer", str(tmp_path / "tokenizer.json"), "x"]) == 2
    assert "Hugging Face export" in capsys.readouterr().err


def test_reader_formats_and_bad_records(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "Olá mundo", "language": "por_Latn"}\nnot json\n{"id": 1}\n'
                                      '{"text": "Hello there", "lang": "en"}\n')
    book = "".join(f"Linha {k} de um livro que não tem linhas em branco, e que era longo.\n" for k in range(100))
    (tmp_path / "b.txt").write_text(book)
    counts = ReadCounts()
    docs = list(read_documents([tmp_path], counts))
    assert [d.language for d in docs[:2]] == ["pt", "en"]
    assert counts.skipped == {"bad JSON line or no text field": 2}
    assert "".join(d.text for d in docs[2:]) == book and len(docs) > 3  # cut, nothing lost
    assert all(d.language == "pt" for d in docs[2:])


@pytest.mark.parametrize("code,lang", [("pt", "pt"), ("por_Latn", "pt"), ("pt-BR", "pt"), ("en", "en"),
                                       ("eng_Latn", "en"), ("de", "de"), (None, "other")])
def test_normalize_language(code, lang):
    assert normalize_language(code) == lang


def test_guess_language():
    assert guess_language(PT) == "pt" and guess_language(EN) == "en" and guess_language("1 2 3") == "other"


def test_held_out_split_is_deterministic_and_about_five_percent():
    ids = [f"doc-{k}" for k in range(20000)]
    share = sum(map(is_held_out, ids)) / len(ids)
    assert 0.04 < share < 0.06
    assert [is_held_out(i) for i in ids[:100]] == [is_held_out(i) for i in ids[:100]]


def test_run_stage_micro(tmp_path):
    from dentro.commands.pretrain import PRESETS as PRETRAIN
    from dentro.corpus import is_validation

    rows = write_corpus(tmp_path, n=400)
    t0 = time.time()
    figures, section = command.run_stage(tmp_path, "micro")
    assert time.time() - t0 < 60
    # held out: exactly the documents micro pretraining validates on (10%, more than the usual 5%)
    val = sum(1 for i, t in zip(rows["id"], rows["text"]) if t and is_validation(i, PRETRAIN["micro"].val_fraction))
    stats = json.loads((tmp_path / "tokenizer" / "stats.json").read_text())
    assert stats["held_out_documents"] == val and stats["train_documents"] == 399 - val
    assert 300 < figures["vocab_size"] <= command.PRESETS["micro"].vocab_size  # tiny text: may stop early
    assert figures["bytes_per_token_pt"] > 1 and figures["tokens_per_word_en"] > 0.5
    assert "| pt |" in section and "`O`" in section and "tokens/word" in section
    assert (tmp_path / "tokenizer" / "tokenizer.dentro.json").exists()
    assert (tmp_path / "tokenizer" / "tokenizer.json").exists()


def test_show_reads_standard_input(trained, capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Olá\nmundo\n"))
    assert cli.main(["tokenizer", "show", "--run", str(trained), "--color", "never", "-"]) == 0
    out = capsys.readouterr().out
    assert "↵]\n[" in out  # a newline token ends its line in the view
    assert "10 characters · 11 bytes" in out and "[\\xc3][\\xa1]" in out  # á: a byte pair not learned


def test_tokenizer_held_out_contains_pretraining_validation():
    """One split for the pipeline: every document pretraining validates on is held out from the
    tokenizer, for every preset's val_fraction (tiny and small 0.05, micro 0.1), in a speedrun
    (which knows the preset) and from `dentro tokenizer train` (which does not)."""
    from dentro.commands.pretrain import PRESETS as PRETRAIN
    from dentro.corpus import is_validation

    ids = [f"doc-{i}" for i in range(4000)]
    assert {p.val_fraction for p in PRETRAIN.values()} == {0.05, 0.1}
    for preset, p in PRETRAIN.items():
        val = {i for i in ids if is_validation(i, p.val_fraction)}
        assert len(val) > 0.8 * p.val_fraction * len(ids)
        for fraction in (command.held_out_fraction(preset), command.held_out_fraction()):
            assert val <= {i for i in ids if is_held_out(i, fraction)}, (preset, fraction)
    assert command.held_out_fraction("tiny") == 0.05  # no more held out than needed


def test_a_corpus_without_ids_splits_as_pretraining_does(tmp_path):
    from dentro.corpus import document_id

    texts = [f"document {k}: {PT}" for k in range(50)]
    pq.write_table(pa.table({"text": texts, "id": [None] * 25 + [""] * 25}), tmp_path / "c.parquet")
    assert [d.id for d in read_documents([tmp_path / "c.parquet"])] == [document_id(None, t) for t in texts]
