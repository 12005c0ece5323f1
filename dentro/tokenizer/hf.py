"""Export a dentro Tokenizer to a Hugging Face `tokenizer.json` (the `tokenizers` library's format).

Three things make the export encode exactly like tiktoken does:
1. Byte-level alphabet: HF's BPE works on strings, so each byte is shown as one printable
   character (GPT-2's byte->unicode table: printable Latin-1 bytes stand for themselves,
   the others are shifted to U+0100 and up; the space 0x20 becomes 'Ġ').
2. Merges: tiktoken has no merge list; it repeatedly joins the adjacent pair whose
   concatenation has the lowest rank. So every way of splitting a token into two tokens
   becomes a merge, ordered by the rank of the result: HF then picks the same pair.
3. `ignore_merges`: like tiktoken, a pre-token that is itself in the vocabulary is one token.
The split pattern goes in a Split pre-tokenizer; special tokens are added tokens.

save_hf_tokenizer writes the files that make a folder an `AutoTokenizer`: tokenizer.json (above)
and tokenizer_config.json (which tokens are special, eos/pad, the chat template).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

HF_CONFIG_FILE = "tokenizer_config.json"
# Special tokens that a chat model's decode(skip_special_tokens=True) keeps: reasoning and tool
# calls are part of the answer that reasoning and tool-call parsers read (Qwen3 marks them so too).
# transformers takes the flag from tokenizer.json's added tokens, so both files carry it.
KEPT_IN_DECODE = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 bytes to 256 printable characters."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, shift = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + shift)
            shift += 1
    return table


def byte_level_vocab(tok) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The mergeable tokens as byte-level strings -> id, and the merges that reproduce tiktoken's
    encoding (points 1 and 2 above), lowest rank first. Shared by the HF and GGUF exports
    (dentro/export/gguf.py), whose BPE works the same way."""
    b2u = byte_to_unicode()

    def show(b: bytes) -> str:
        return "".join(b2u[x] for x in b)

    rank = {}  # bytes -> id, the first id of a (rare) twin, as in Tokenizer
    for i in range(tok.n_ranks):
        rank.setdefault(tok.token_bytes(i), i)
    vocab = {show(b): i for b, i in rank.items()}
    merges = []  # (rank of result, rank of left part, left, right)
    for b, r in rank.items():
        for k in range(1, len(b)):
            left, right = b[:k], b[k:]
            if left in rank and right in rank:
                merges.append((r, rank[left], show(left), show(right)))
    merges.sort()
    return vocab, [(a, b) for _, _, a, b in merges]


def hf_tokenizer_dict(tok, kept_in_decode=()) -> dict:
    """tokenizer.json for tok. Every special token is an added token marked special, except those
    in kept_in_decode: decode(skip_special_tokens=True) keeps them. The marking has a second effect
    in `tokenizers`: encode_special_tokens=True (its way to encode untrusted text) turns only the
    special ones into plain text; the others are matched in any text (as in Qwen3's tokenizer.json)."""
    vocab, merges = byte_level_vocab(tok)
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": s not in kept_in_decode} for s, i in tok.special_tokens.items()]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": tok.pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": True, "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }


def hf_tokenizer_config(tok, model_max_length: int | None = None) -> dict:
    """tokenizer_config.json for tok: the class to load, eos/pad, special flags, chat template."""
    from dentro.chat.template import JINJA_TEMPLATE

    chat = all(s in tok.special_tokens for s in ("<|endoftext|>", "<|im_start|>", "<|im_end|>"))
    decoder = {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                        "single_word": False, "special": s not in KEPT_IN_DECODE}
               for s, i in tok.special_tokens.items()}
    config = {
        # The generic class: tokenizer.json loads as it is, whatever model_type config.json names.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": decoder,
        # No BOS: the chat template writes <|endoftext|> itself, and plain tokenizer(text) adds
        # nothing, as dentro's encode() (a bos_token would invite tools to prepend a second one).
        "bos_token": None,
        # eos is <|im_end|>, the end of an assistant turn: what a chat model stops on (as Qwen3's
        # instruct models). The checkpoint's generation_config.json lists <|endoftext|> too, for
        # a base model that ends documents. pad is <|endoftext|>, not eos: collators that drop
        # pad positions from the loss must not drop the <|im_end|> the model has to learn.
        "eos_token": "<|im_end|>" if chat else "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,  # decode gives back the bytes, spaces untouched
        "split_special_tokens": False,  # the chat template's own <|im_start|> must stay one token
    }
    if model_max_length:  # the model's context length (positions); HF's default is "unlimited"
        config["model_max_length"] = model_max_length
    if chat:
        config["chat_template"] = JINJA_TEMPLATE
    return config


def save_hf_tokenizer(tok, folder: str | os.PathLike, model_max_length: int | None = None) -> list[Path]:
    """Write tokenizer.json + tokenizer_config.json into folder, so that
    transformers.AutoTokenizer.from_pretrained(folder) encodes like tok and knows the chat template.
    Returns the paths written."""
    from dentro.runs import atomic_write_json, atomic_write_text
    from dentro.tokenizer.bpe import HF_TOKENIZER_FILE

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tj, tc = folder / HF_TOKENIZER_FILE, folder / HF_CONFIG_FILE
    atomic_write_text(tj, json.dumps(hf_tokenizer_dict(tok, KEPT_IN_DECODE), ensure_ascii=False))
    atomic_write_json(tc, hf_tokenizer_config(tok, model_max_length))
    return [tj, tc]
