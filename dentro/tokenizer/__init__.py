"""Stage 2, tokenization: bytes -> BPE tokens, and ways to see them.

    bpe.py        the fast byte-level BPE (rustbpe trains, tiktoken encodes), its one-file format
    reference.py  a slow, readable BPE that the tests check the fast one against
    view.py       the Tiktokenizer-style view and compression stats
    hf.py         export to a Hugging Face tokenizer.json
"""
