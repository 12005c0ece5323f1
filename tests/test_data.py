"""Token shards and the batch loader (dentro/train/data.py): formats, splits, packing, resume, ranks."""

import json
import random
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dentro.train import data
from dentro.errors import UserError

NAMES = ["Ana Souza", "Bruno Lima", "Carla Dias", "Diego Rocha", "Eva Martins", "John Smith", "Mary Brown"]
CITIES = ["Lisboa", "Porto", "Recife", "Braga", "Natal", "Boston", "Leeds"]


def make_texts(n: int, seed: int = 0) -> list[str]:
    """Short and long documents in pt and en (some longer than a 64-token row)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        name, city = rng.choice(NAMES), rng.choice(CITIES)
        pt = f"{name} nasceu em {city} em {rng.randint(1900, 2000)}. "
        en = f"{name} was born in {city}. The city of {city} is old. "
        out.append("".join(rng.choice([pt, en]) for _ in range(rng.choice([1, 2, 3, 12]))).strip())
    return out


def make_corpus(folder, texts, *, files: int = 2, row_group_size: int = 50, with_id: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    per = (len(texts) + files - 1) // files
    for k in range(files):
        chunk = texts[k * per:(k + 1) * per]
        cols = {"text": chunk}
        if with_id:
            cols["id"] = [f"<urn:doc:{k}-{i}>" for i in range(len(chunk))]
        pq.write_table(pa.table(cols), folder / f"{k:05d}.parquet", row_group_size=row_group_size)
    return folder


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory):
    """A corpus (with empty and null rows), a throwaway tokenizer, and its shards."""
    from dentro.tokenizer.bpe import train_tokenizer

    root = tmp_path_factory.mktemp("tok")
    texts = make_texts(300)
    tok = train_tokenizer(texts, vocab_size=400)
    tok_path = tok.save(root / "tokenizer.dentro.json")
    make_corpus(root / "corpus", texts + ["", None, "   "], files=2)
    meta = data.tokenize_corpus(root / "corpus", tok_path, root / "tokens",
                                data.ShardSpec(val_fraction=0.1, shard_tokens=5000), progress=False)
    return {"root": root, "tok": tok, "tok_path": tok_path, "texts": texts, "meta": meta}


def test_shard_roundtrip_dtype_and_damage(tmp_path):
    assert data.token_dtype(4096) == np.uint16 and data.token_dtype(65536) == np.uint32
    for dtype in (np.uint16, np.uint32):
        toks = np.array([0, 5, 65535, 7], dtype=dtype)
        data.write_shard(tmp_path / "s.bin", toks, n_docs=2)
        back, n_docs = data.read_shard(tmp_path / "s.bin")
        assert back.dtype.itemsize == np.dtype(dtype).itemsize and back.tolist() == toks.tolist() and n_docs == 2
    raw = (tmp_path / "s.bin").read_bytes()
    (tmp_path / "trunc.bin").write_bytes(raw[:-3])
    with pytest.raises(UserError, match="truncated or corrupt"):
        data.read_shard(tmp_path / "trunc.bin")
    (tmp_path / "bad.bin").write_bytes(b"NOTDNTRO" + raw[8:])
    with pytest.raises(UserError, match="bad magic"):
        data.read_shard(tmp_path / "bad.bin")


def test_every_document_once_with_eot_and_a_hash_split(tokenized):
    tok, meta, root = tokenized["tok"], tokenized["meta"], tokenized["root"]
    assert meta["skipped_empty"] == 3 and meta["dtype"] == "uint16"
    assert len(meta["splits"]["train"]["shards"]) > 1  # shard_tokens=5000 forces several files
    seen = {}
    for split in data.SPLITS:
        idx = data.DocumentIndex(root / "tokens", split)
        assert len(idx) == meta["splits"][split]["docs"] and idx.num_tokens == meta["splits"][split]["tokens"]
        for i in range(len(idx)):
            doc = idx.tokens(i, 0, int(idx.length[i])).tolist()
            assert doc[0] == tok.eot_id and tok.eot_id not in doc[1:]
            seen.setdefault(tok.decode(doc[1:]), []).append(split)
    texts = tokenized["texts"]
    assert sum(len(v) for v in seen.values()) == len(texts)  # no document lost or doubled
    # the validation documents are exactly those whose id (as written in the corpus) hashes under val_fraction
    rows = [r for f in sorted((root / "corpus").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    expect_val = Counter(r["text"] for r in rows
                         if isinstance(r["text"], str) and r["text"].strip() and data.is_validation(r["id"], 0.1))
    got_val = Counter(text for text, splits in seen.items() for s in splits if s == "val")
    assert got_val == expect_val and meta["splits"]["val"]["docs"] == sum(expect_val.values()) > 0
    total_bytes = sum(len(t.encode()) for t in texts)
    assert meta["splits"]["train"]["bytes"] + meta["splits"]["val"]["bytes"] == total_bytes


def test_parallel_workers_write_the_same_shards_and_reruns_are_skipped(tokenized, tmp_path):
    root = tokenized["root"]
    spec = data.ShardSpec(val_fraction=0.1, shard_tokens=5000, num_workers=2, min_rows_for_workers=0)
    meta = data.tokenize_corpus(root / "corpus", tokenized["tok_path"], tmp_path / "par", spec, progress=False)
    assert meta["splits"] == tokenized["meta"]["splits"]
    for name in meta["splits"]["train"]["shards"] + meta["splits"]["val"]["shards"]:
        assert (tmp_path / "par" / name).read_bytes() == (root / "tokens" / name).read_bytes()
    stamp = (tmp_path / "par" / "meta.json").stat().st_mtime_ns
    data.tokenize_corpus(root / "corpus", tokenized["tok_path"], tmp_path / "par", spec, progress=False)
    assert (tmp_path / "par" / "meta.json").stat().st_mtime_ns == stamp


def test_bad_inputs_say_what_to_do(tokenized, tmp_path):
    with pytest.raises(UserError, match="dentro data"):
        data.tokenize_corpus(tmp_path / "nothing", tokenized["tok_path"], tmp_path / "t")
    with pytest.raises(UserError, match="dentro tokenizer train"):
        data.tokenize_corpus(tokenized["root"] / "corpus", tmp_path / "no_tok.json", tmp_path / "t")
    make_corpus(tmp_path / "empty", ["", "  ", None], files=1)
    with pytest.raises(UserError, match="no non-empty"):
        data.tokenize_corpus(tmp_path / "empty", tokenized["tok_path"], tmp_path / "t2", progress=False)
    with pytest.raises(UserError, match="meta.json missing"):
        data.DocumentIndex(tmp_path / "t3", "train")


def _rows(loader, n_batches):
    out = []
    for _ in range(n_batches):
        x, y = loader.next_batch()
        assert x.shape == y.shape == (loader.B, loader.T)
        assert (x[:, 1:] == y[:, :-1]).all()  # y is x shifted by one
        out.append(np.concatenate([x.numpy(), y.numpy()[:, -1:]], axis=1))
    return np.concatenate(out)


def test_rows_are_packed_from_whole_documents_bos_first(tokenized):
    idx = data.DocumentIndex(tokenized["root"] / "tokens", "train")
    eot = tokenized["tok"].eot_id
    loader = data.BatchLoader(idx, batch_size=4, seq_len=64, seed=3)
    rows = _rows(loader, 40)
    assert (rows[:, 0] == eot).mean() > 0.6  # long 12-sentence documents (1 in 4) need several rows
    # best fit starts a row at a document start unless the row continues a document longer
    # than a whole row (cut into row-sized pieces beforehand)
    probe = data.BatchLoader(idx, batch_size=4, seq_len=64, seed=3)
    recipes = [probe.next_row() for _ in range(160)]
    for pieces in recipes:
        doc, lo, hi = pieces[0]
        assert lo == 0 or (idx.length[doc] > 65 and lo % 65 == 0)
        assert sum(h - l for _, l, h in pieces) == 65
    short = [p[0] for p in recipes if idx.length[p[0][0]] <= 65]
    assert all(lo == 0 for _, lo, _ in short)
    # each row is the concatenation of its recipe's document pieces, and only pieces that
    # begin a document carry an <|endoftext|> (at their start)
    probe = data.BatchLoader(idx, batch_size=4, seq_len=64, seed=3)
    for row in rows[:40]:
        pieces = probe.next_row()
        assert row.tolist() == np.concatenate([idx.tokens(d, lo, hi) for d, lo, hi in pieces]).tolist()
        for d, lo, hi in pieces:
            toks = idx.tokens(d, lo, hi).tolist()
            assert hi <= idx.length[d] and (toks[0] == eot) == (lo == 0) and eot not in toks[1:]
    # few tokens dropped: over an epoch, rows hold most of the corpus' tokens
    loader2 = data.BatchLoader(idx, batch_size=8, seq_len=64, seed=3)
    n = 0
    while loader2.epoch == 0:
        loader2.next_row()
        n += 1
    assert n * 65 >= 0.8 * idx.num_tokens


def test_loader_position_restores_exactly(tokenized):
    idx = data.DocumentIndex(tokenized["root"] / "tokens", "train")
    a = data.BatchLoader(idx, batch_size=3, seq_len=48, seed=7)
    _rows(a, 30)  # past an epoch boundary too
    state = a.state_dict()
    expected = _rows(a, 25)
    b = data.BatchLoader(idx, batch_size=3, seq_len=48, seed=0)
    b.load_state_dict(state)
    assert np.array_equal(_rows(b, 25), expected)
    with pytest.raises(UserError, match="documents"):
        b.load_state_dict({**state, "num_docs": len(idx) + 1})


def test_ranks_split_the_global_stream_like_one_process_with_accumulation(tokenized):
    idx = data.DocumentIndex(tokenized["root"] / "tokens", "train")
    single = data.BatchLoader(idx, batch_size=2, seq_len=32, seed=1)
    ranks = [data.BatchLoader(idx, batch_size=2, seq_len=32, seed=1, rank=r, world_size=2) for r in range(2)]
    for _ in range(5):  # one step: rank r's micro-batch == the single process' micro-batch r
        mine = [r.next_batch()[0] for r in ranks]
        ref = [single.next_batch()[0] for _ in range(2)]
        assert all((m == e).all() for m, e in zip(mine, ref))


def test_validation_loader_is_the_same_every_time(tokenized):
    idx = data.DocumentIndex(tokenized["root"] / "tokens", "val")
    a = _rows(data.BatchLoader(idx, 2, 32, shuffle=False), 3)
    b = _rows(data.BatchLoader(idx, 2, 32, shuffle=False, seed=99), 3)
    assert np.array_equal(a, b)


def test_token_byte_lengths_count_the_text_bytes(tokenized):
    tok = tokenized["tok"]
    lengths = data.token_byte_lengths(tok, tok.vocab_size + 8)  # a padded embedding table
    assert lengths[tok.eot_id] == 0 and (lengths[tok.vocab_size:] == 0).all()
    text = "Ana Souza nasceu em Lisboa. São Paulo, ação!"
    ids = tok.encode(text)
    assert lengths[ids].sum() == len(text.encode("utf-8"))


def test_a_book_length_document_does_not_fill_consecutive_batches(tmp_path):
    """Pieces, not documents, are shuffled: the pieces of one 5,000-token document among 300
    short ones come scattered over the epoch, not one after the other in consecutive rows."""
    eot, rng = 9, np.random.default_rng(0)
    docs = [np.concatenate([[eot], rng.integers(0, 9, 4999)])] + [np.concatenate([[eot], rng.integers(0, 9, 40)])
                                                                  for _ in range(300)]
    data.write_shard(tmp_path / "train_000000.bin", np.concatenate(docs).astype(np.uint16), len(docs))
    (tmp_path / "meta.json").write_text(json.dumps({"eot_id": eot, "splits": {"train": {"shards": ["train_000000.bin"]}}}))
    idx = data.DocumentIndex(tmp_path, "train")
    assert len(idx) == 301 and idx.length[0] == 5000
    loader = data.BatchLoader(idx, batch_size=4, seq_len=64, seed=0)
    starts = [p[0] for p in (loader.next_row() for _ in range(150))]
    book = [lo for d, lo, _ in starts if d == 0]
    assert 10 < len(book) < 140  # the book is ~30% of the tokens: it shows up, it does not take over
    in_order = sum(b == a + 65 for a, b in zip(book, book[1:]))
    assert in_order < 0.2 * len(book), (in_order, len(book))  # reading the book page after page: ~all
