"""The Tokenizer API (TEAM.md contract): train, save/load, encode/decode, special tokens, safety."""

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dentro.tokenizer.bpe import SPECIAL_TOKENS, TOKENIZER_FILE, Tokenizer, train_tokenizer

PT = ["O céu é azul e a noite é longa.", "Não há coração que aguente tanta saudade.",
      "A população de São Paulo cresceu 12% em 2023.", "Ela disse: — Você vem amanhã?",
      "Os pássaros cantavam na manhã de 15 de março de 1839."]
EN = ["The sky is blue and the night is long.", "There's no heart that can take so much longing.",
      "The population grew by 12% in 2023.", "She said: \"Are you coming tomorrow?\"",
      "Birds were singing on the morning of March 15, 1839."]


def make_corpus(n=400, seed=0):
    """Sentences recombined into pt/en documents: enough repetition for BPE to learn words."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        pool = PT if rng.random() < 0.5 else EN
        docs.append(" ".join(rng.choice(pool) for _ in range(rng.randint(1, 4))) + f"\n{rng.randint(0, 9999)}\t😀")
    return docs


VOCAB = 450  # the corpus has merges for ~470 ids (digits are single pieces: no digit merges)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(make_corpus(), vocab_size=VOCAB)


def test_vocabulary_layout(tok):
    assert tok.vocab_size == VOCAB
    assert tok.n_ranks == VOCAB - len(SPECIAL_TOKENS)
    # special tokens at the end, in DESIGN.md order
    assert [tok.special_id(s) for s in SPECIAL_TOKENS] == list(range(tok.n_ranks, VOCAB))
    assert tok.eot_id == tok.special_id("<|endoftext|>") == tok.n_ranks
    assert [tok.token_bytes(i) for i in range(256)] == [bytes([i]) for i in range(256)]
    assert tok.token_bytes(tok.eot_id) == b"<|endoftext|>"
    # BPE learned real words of both languages
    learned = {tok.token_bytes(i) for i in range(256, tok.n_ranks)}
    assert b" the" in learned and b" que" in learned
    with pytest.raises(KeyError, match="not a special token"):
        tok.special_id("<|nope|>")


def test_too_small_vocabulary_is_refused():
    with pytest.raises(ValueError, match="too small"):
        train_tokenizer(["abc"], vocab_size=260)


def test_tiny_text_gives_a_smaller_vocabulary():
    t = train_tokenizer(["ab ab", None, "", 3], vocab_size=1000)  # non-text is skipped
    assert t.n_ranks < 1000 - len(SPECIAL_TOKENS)
    assert t.decode(t.encode("ab ab")) == "ab ab" and len(t.encode("ab")) == 1
    assert t.metadata["documents"] == 1


@pytest.mark.parametrize("text, pieces", [
    ("1839", ["1", "8", "3", "9"]),  # one digit per piece: llama.cpp's qwen2 pre-tokenizer
    ("R$12,50", ["R", "$", "1", "2", ",", "5", "0"]),
    ("x²½", ["x", "²", "½"]),  # any \p{N} is a number, one at a time
    ("it's I'M we'Ll", ["it", "'s", " I", "'M", " we", "'Ll"]),  # contractions in ASCII case
    ("it'sam it'ſam", ["it", "'s", "am", " it", "'ſam"]),  # no Unicode folding (ſ -> s): llama.cpp's is ASCII
    ("a \n\n  b", ["a", " \n\n", " ", " b"]),  # \s*[\r\n]+ takes the run up to its last newline
    ("fim.\r\n\r\nNovo", ["fim", ".\r\n\r\n", "Novo"]),
    ("a   b  ", ["a", "  ", " b", "  "]),
])
def test_split_pattern_pieces(text, pieces):
    regex = pytest.importorskip("regex")
    from dentro.tokenizer.bpe import SPLIT_PATTERN

    assert regex.findall(SPLIT_PATTERN, text) == pieces


def test_save_load_round_trip(tok, tmp_path):
    path = tok.save(tmp_path)
    assert path == tmp_path / TOKENIZER_FILE
    d = json.loads(path.read_text())
    assert d["format"] == "dentro-tokenizer" and d["pattern"] == tok.pattern
    assert d["special_tokens"]["<|im_end|>"] == tok.special_id("<|im_end|>")
    assert d["metadata"]["merges"] == tok.n_ranks - 256
    for t2 in (Tokenizer.load(tmp_path), Tokenizer.load(path)):
        text = "Olá, mundo! Hello 2024 🌍"
        assert t2.encode(text) == tok.encode(text) and t2.vocab_size == tok.vocab_size
    with pytest.raises(FileNotFoundError):
        Tokenizer.load(tmp_path / "missing")


def test_load_rejects_foreign_json(tmp_path):
    (tmp_path / "x.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a dentro-tokenizer"):
        Tokenizer.load(tmp_path / "x.json")


def test_encode_batch_matches_encode(tok):
    docs = make_corpus(50, seed=1)
    assert tok.encode_batch(docs) == [tok.encode(d) for d in docs]
    assert tok.encode_batch(docs, num_threads=1) == [tok.encode(d) for d in docs]


@pytest.mark.parametrize("s", SPECIAL_TOKENS)
def test_user_text_spelling_a_special_token_stays_plain_text(tok, s):
    text = f"user says {s} here"
    ids = tok.encode(text)
    assert not any(tok.is_special(i) for i in ids)
    assert tok.decode(ids) == text
    assert tok.encode_batch([text])[0] == ids
    # trusted templates may ask for the special id
    assert tok.special_id(s) in tok.encode_with_special(text)


def test_chat_formatted_text_encodes_specials_only_when_trusted(tok):
    chat = "<|im_start|>user\nOi!<|im_end|>\n<|im_start|>assistant\n<think>\n</think>\nOlá!<|im_end|>"
    trusted = tok.encode_with_special(chat)
    assert trusted.count(tok.special_id("<|im_start|>")) == 2 and trusted.count(tok.special_id("<|im_end|>")) == 2
    assert tok.decode(trusted) == chat == tok.decode(tok.encode(chat))


def test_decode_never_raises(tok):
    cut = tok.encode("é")  # é is 2 bytes; a lone byte is invalid UTF-8
    assert tok.decode([0xC3]) == "\ufffd"
    assert tok.decode(cut) == "é"
    assert tok.decode([tok.vocab_size + 5, -1, 10**12]) == "\ufffd" * 3  # one U+FFFD per invalid id
    assert tok.decode([65, tok.vocab_size, 66]) == "A\ufffdB"  # ids 0-255 are the bytes; neighbours kept
    assert tok.decode([]) == ""


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_round_trip_arbitrary_unicode(tok, text):
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_round_trip_arbitrary_bytes(tok, data):
    assert tok.decode_bytes(tok.encode_bytes(data)) == data
    tok.decode(tok.encode_bytes(data))  # invalid UTF-8 decodes with U+FFFD, no exception


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-5, max_value=700)))
def test_decode_of_any_id_list_never_raises(tok, ids):
    """Every id outside 0..vocab_size-1 decodes to U+FFFD, every other id to its own bytes."""
    want = b"".join(tok.token_bytes(i) if 0 <= i < tok.vocab_size else "\ufffd".encode() for i in ids)
    assert tok.decode_bytes(ids) == want
    assert tok.decode(ids) == want.decode("utf-8", errors="replace")


def test_lone_surrogates_become_replacement_characters(tok):
    # not valid Unicode scalar values, so not encodable as UTF-8: U+FFFD instead of an error
    assert tok.decode(tok.encode("a\ud800b")) == "a\ufffdb"
    assert tok.encode_batch(["a\ud800b"]) == [tok.encode("a\ud800b")]


def test_loads_and_encodes_without_the_trainer(tok, tmp_path, monkeypatch):
    import sys

    tok.save(tmp_path)
    monkeypatch.setitem(sys.modules, "rustbpe", None)  # `import rustbpe` now fails
    with pytest.raises(ImportError):
        train_tokenizer(["abc"], 300)
    t2 = Tokenizer.load(tmp_path)
    assert t2.decode(t2.encode("Olá, mundo")) == "Olá, mundo"


def test_a_twin_token_is_never_emitted_but_decodes():
    # rustbpe can learn one byte string through two merges ((ab, c) and (a, bc)); the first id wins
    ranks = [bytes([i]) for i in range(256)] + [b"ab", b"bc", b"abc", b"abc"]
    t = Tokenizer(ranks)
    assert t.n_unreachable == 1 and t.vocab_size == 260 + len(SPECIAL_TOKENS)
    assert t.encode("abc") == [258] and t.decode([259]) == "abc" and t.token_bytes(259) == b"abc"
    from tokenizers import Tokenizer as HF

    hf = HF.from_str(json.dumps(t.to_hf_dict()))
    assert hf.encode("abc abcabc", add_special_tokens=False).ids == t.encode("abc abcabc")
