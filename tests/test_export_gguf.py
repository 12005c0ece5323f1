"""`dentro export --format gguf` against llama.cpp itself (through llama-cpp-python): the same token
ids as dentro, logits close to PyTorch's, the same greedy tokens, the chat template.

Two layers:
- the file read back with gguf.GGUFReader (keys, tensor names and data, vocabulary, merges), and
  llama.cpp's BPE modelled with HF `tokenizers` on the file's own vocabulary and merges (no
  whole-piece shortcut, as llama.cpp's qwen2 pre-type): needs only the `gguf` package;
- llama.cpp proper: skipped when llama_cpp cannot be imported, a failure instead when
  DENTRO_REQUIRE_LLAMA=1 (`make interop` sets it, so CI cannot pass by skipping).
Everything is built here: a throwaway tokenizer, a tiny random model, its checkpoint and the files.
"""

import json
import os
import re

import numpy as np
import pytest
import torch

from dentro.chat.template import JINJA_TEMPLATE, render, render_text
from dentro.export.gguf import VISIBLE_SPECIAL, export_gguf, greedy_ids, tensor_name
from dentro.model.checkpoint import save_checkpoint
from dentro.model.engine import Sampling, generate_all
from dentro.model.gpt import GPT, ModelConfig
from dentro.tokenizer.bpe import SPLIT_PATTERN, train_tokenizer
from test_export_c import TEXT, odd_model, strings  # run.c's test strings and model

gguf = pytest.importorskip("gguf")
pytestmark = pytest.mark.usefixtures("one_thread")

# Max |logit diff| against PyTorch fp32, all positions, with llama.cpp's KV cache in f32 and no flash
# attention (both compute in f16 on CPU): the file's weight type is then the only difference.
# Measured on this test's model (random weights; logits std 0.83, range ~5 per position):
# f32 3.2e-6, f16 6.3e-3, q8_0 0.14 (docs/export.md); the bounds leave room for other CPUs.
TOL = {"f32": 1e-4, "f16": 0.02, "q8_0": 0.3}
# llama-cpp-python's defaults keep the KV cache in f16: 2.5e-3 on the f32 file.
TOL_DEFAULT_F32 = 0.01


@pytest.fixture(scope="module")
def llama_cpp():
    try:
        import llama_cpp
    except ImportError as e:
        if os.environ.get("DENTRO_REQUIRE_LLAMA") == "1":
            pytest.fail(f"DENTRO_REQUIRE_LLAMA=1 but llama_cpp cannot be imported ({e}); run `make interop`")
        pytest.skip(f"llama-cpp-python is not installed ({e}); `make interop` builds and installs it")
    return llama_cpp


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export_gguf")
    tok = train_tokenizer([TEXT] * 3 + strings(300, seed=1), vocab_size=700)
    model = odd_model(tok, max_len=128)
    save_checkpoint(tmp / "ckpt", model, tok)
    files = {dtype: export_gguf(tmp / "ckpt", tmp / "gguf", dtype=dtype) for dtype in TOL}
    return {"tok": tok, "model": model, "ckpt": tmp / "ckpt", "files": files}


def read(ex, dtype="f32"):
    return gguf.GGUFReader(ex["files"][dtype]["path"])


def value(reader, key):
    return reader.fields[key].contents()


# ---- the file, read back ------------------------------------------------------------------
def test_architecture_keys(exported):
    c, r = exported["model"].config, read(exported)
    want = {"general.architecture": "qwen3", "qwen3.context_length": c.max_position_embeddings,
            "qwen3.embedding_length": c.hidden_size, "qwen3.block_count": c.num_hidden_layers,
            "qwen3.feed_forward_length": c.intermediate_size, "qwen3.attention.head_count": c.num_attention_heads,
            "qwen3.attention.head_count_kv": c.num_key_value_heads, "qwen3.attention.key_length": c.head_dim,
            "qwen3.attention.value_length": c.head_dim, "qwen3.rope.dimension_count": c.head_dim,
            "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2"}
    assert {k: value(r, k) for k in want} == want
    assert value(r, "qwen3.rope.freq_base") == pytest.approx(c.rope_theta)
    assert value(r, "qwen3.attention.layer_norm_rms_epsilon") == pytest.approx(c.rms_norm_eps)


def test_tensors_have_llama_cpps_qwen3_names_and_the_weights(exported):
    model = exported["model"]
    qwen3 = {gguf.TENSOR_NAMES[t] for t in gguf.MODEL_TENSORS[gguf.MODEL_ARCH.QWEN3]}
    sd = model.state_dict()
    for dtype in TOL:
        tensors = {t.name: t for t in read(exported, dtype).tensors}
        assert set(tensors) == {tensor_name(k) for k in sd}
        for name in tensors:  # "blk.3.attn_q.weight" -> "blk.{bid}.attn_q", as the gguf package lists them
            assert re.sub(r"^blk\.\d+\.", "blk.{bid}.", name.removesuffix(".weight")) in qwen3, name
        for k, w in sd.items():
            t = tensors[tensor_name(k)]
            assert list(t.shape) == list(reversed(w.shape))  # GGUF lists the innermost dim first
            kind = "F32" if w.dim() == 1 or dtype == "f32" else {"f16": "F16", "q8_0": "Q8_0"}[dtype]
            assert t.tensor_type.name == kind, (k, dtype)
            if dtype == "f32":  # no permutation of q and k: qwen3 rotates halves, as dentro does
                assert np.array_equal(np.asarray(t.data).reshape(w.shape), w.numpy()), k


def test_vocabulary_merges_and_special_tokens(exported):
    from dentro.tokenizer.hf import byte_level_vocab, byte_to_unicode

    tok, r = exported["tok"], read(exported)
    tokens, types = value(r, "tokenizer.ggml.tokens"), value(r, "tokenizer.ggml.token_type")
    n_vocab = exported["model"].config.vocab_size
    assert len(tokens) == len(types) == n_vocab
    u2b = {u: b for b, u in byte_to_unicode().items()}
    for i in range(tok.n_ranks):  # byte-level strings that spell each token's bytes
        assert bytes(u2b[ch] for ch in tokens[i]) == tok.token_bytes(i)
        assert types[i] == gguf.TokenType.NORMAL
    for s, i in tok.special_tokens.items():
        assert tokens[i] == s
        assert types[i] == (gguf.TokenType.USER_DEFINED if s in VISIBLE_SPECIAL else gguf.TokenType.CONTROL)
    assert tokens[tok.vocab_size:] == [f"[PAD{i}]" for i in range(tok.vocab_size, n_vocab)]
    assert set(types[tok.vocab_size:]) == {gguf.TokenType.UNUSED}
    assert value(r, "tokenizer.ggml.merges") == [f"{a} {b}" for a, b in byte_level_vocab(tok)[1]]
    assert value(r, "tokenizer.ggml.bos_token_id") == value(r, "tokenizer.ggml.padding_token_id") == tok.eot_id
    assert value(r, "tokenizer.ggml.eos_token_id") == value(r, "tokenizer.ggml.eot_token_id") \
        == tok.special_id("<|im_end|>")
    assert value(r, "tokenizer.ggml.add_bos_token") is True
    assert value(r, "tokenizer.chat_template") == JINJA_TEMPLATE


def test_llama_cpps_bpe_on_the_files_vocabulary_encodes_like_dentro(exported):
    """llama.cpp's BPE for the qwen2 pre-type merges by rank with no whole-piece shortcut (HF's
    ignore_merges, tiktoken's "a piece that is a token is one token"). HF `tokenizers` with
    ignore_merges=False on the file's own tokens and merges is that algorithm: equal ids here say
    that the shortcut changes nothing on this vocabulary, and that the merges are right."""
    from tokenizers import Tokenizer as HF

    tok, r = exported["tok"], read(exported)
    tokens, types = value(r, "tokenizer.ggml.tokens"), value(r, "tokenizer.ggml.token_type")
    vocab = {s: i for i, (s, t) in enumerate(zip(tokens, types)) if t == gguf.TokenType.NORMAL}
    merges = [m.split(" ") for m in value(r, "tokenizer.ggml.merges")]
    hf = HF.from_str(json.dumps({
        "version": "1.0", "added_tokens": [], "normalizer": None, "post_processor": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": merges}}))
    texts = strings(2000, seed=2)
    bad = [t for t in texts if hf.encode(t, add_special_tokens=False).ids != tok.encode(t)]
    assert not bad, f"{len(bad)} of {len(texts)} strings differ; first: {bad[0]!r}"
    # every mergeable token is reachable by merges from its own bytes
    for i in range(256, tok.n_ranks):
        b = tok.token_bytes(i)
        if b.decode("utf-8", errors="replace").encode() == b:
            assert hf.encode(b.decode(), add_special_tokens=False).ids == [i], b


def test_tied_embeddings_write_no_output_tensor(tmp_path):
    from dentro.export.gguf import write_gguf

    tok = train_tokenizer([TEXT], vocab_size=400)
    c = ModelConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    num_key_value_heads=1, head_dim=16, intermediate_size=64, tie_word_embeddings=True)
    facts = write_gguf(tmp_path / "tied.gguf", GPT(c), tok)
    names = {t.name for t in gguf.GGUFReader(facts["path"]).tensors}
    assert "token_embd.weight" in names and "output.weight" not in names  # llama.cpp reuses token_embd


def test_cli_prints_what_it_wrote_and_how_to_run_it(exported, tmp_path, capsys):
    from dentro.cli import main

    assert main(["export", "--format", "gguf", "--dtype", "f16", "--checkpoint", str(exported["ckpt"]),
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert (tmp_path / "model-f16.gguf").is_file()
    assert "model-f16.gguf" in out.out and "llama-completion" in out.out and "llama_cpp.Llama" in out.out
    assert "warning" not in out.err


def test_an_older_split_pattern_is_flagged(exported, tmp_path, capsys):
    from dentro.cli import main
    from dentro.tokenizer.bpe import Tokenizer

    tok = exported["tok"]
    old = Tokenizer([tok.token_bytes(i) for i in range(tok.n_ranks)], SPLIT_PATTERN.replace(r"\p{N}", r"\p{N}{1,2}"))
    save_checkpoint(tmp_path / "ckpt", exported["model"], old)
    assert main(["export", "--format", "gguf", "--checkpoint", str(tmp_path / "ckpt"), "--out", str(tmp_path)]) == 0
    assert "older split pattern" in capsys.readouterr().err


# ---- llama.cpp ----------------------------------------------------------------------------
def load(llama_cpp, path, exact=True):
    """A llama.cpp context that returns the logits of every position (logits_all). exact: the KV
    cache in f32 (llama.cpp's default is f16) and no flash attention (f16 inside on CPU)."""
    kw = dict(type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32, flash_attn=False) if exact else {}
    return llama_cpp.Llama(model_path=path, n_ctx=128, n_threads=1, n_batch=128, logits_all=True, verbose=False, **kw)


@pytest.fixture(scope="module")
def llamas(exported, llama_cpp):
    llms = {dtype: load(llama_cpp, f["path"]) for dtype, f in exported["files"].items()}
    yield llms
    for llm in llms.values():  # now, not in __del__ at interpreter exit (which then prints errors)
        llm.close()


SPECIAL_FREE = [TEXT, "O céu é azul", "São Paulo tem 12 milhões; 45,6% usavam ônibus às 7h30.", "1234567890",
                "R$ 1.000.000,00", "x²+y² = z²; ½ ⅓ Ⅻ ٣٤ १२३", "The sky's blue, isn't it? We'LL see; I'M here.",
                "it'sſ 'ſT", "tabs\tand\nnew\r\nlines\n\n\n", "  leading and trailing  ", "😀👍🏽❤️ 👨‍👩‍👧 🇧🇷",
                "日本語 中文 한국어 ไทย עברית العربية", "a\u00a0\u00a0b\u3000c\u2028d\x85e", "", " ", "\n"]


def test_llama_cpp_tokenizes_like_dentro(exported, llamas):
    tok, llm = exported["tok"], llamas["f32"]
    texts = SPECIAL_FREE + strings(3000, seed=5)
    bad = [(t, ids) for t in texts
           if (ids := llm.tokenize(t.encode(), add_bos=False, special=False)) != tok.encode(t)]
    assert not bad, f"{len(bad)} of {len(texts)} strings differ; first: {bad[0][0]!r}: {bad[0][1]} vs " \
                    f"{tok.encode(bad[0][0])}"
    # a plain prompt gets <|endoftext|> first, as every dentro sequence
    assert llm.tokenize("O céu é".encode(), add_bos=True) == [tok.eot_id] + tok.encode("O céu é")


def test_llama_cpp_reads_the_chat_template_and_special_tokens(exported, llamas):
    tok, llm = exported["tok"], llamas["f32"]
    convs = [[{"role": "user", "content": "Olá, tudo bem? São 12h."}],
             [{"role": "system", "content": "Seja breve."}, {"role": "user", "content": "2+2?"},
              {"role": "assistant", "content": "<think>2 e 2</think>4"}, {"role": "user", "content": "E 3+3?"}],
             [{"role": "user", "content": "Busque x"},
              {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
                                                                   "function": {"name": "search", "arguments": {"q": "x"}}}]},
              {"role": "tool", "content": "{\"r\": 1}"}]]
    for messages in convs:
        ids, _ = render(tok, messages, add_generation_prompt=True)
        assert llm.tokenize(render_text(messages, add_generation_prompt=True).encode(), add_bos=False,
                            special=True) == ids
    think, im_end = tok.special_id("<think>"), tok.special_id("<|im_end|>")
    # <think> and the tool tags stay visible in output; ChatML structure does not (unless asked)
    assert llm.detokenize([think] + tok.encode("ok") + [im_end]) == b"<think>ok"
    assert llm.detokenize([think, im_end], special=True) == b"<think><|im_end|>"
    # USER_DEFINED tokens are matched even in plain text (as in the HF export and Qwen3's files):
    # dentro's encode() never does this, so user text that spells <think> differs in llama.cpp.
    assert think in llm.tokenize(b"a <think> b", add_bos=False, special=False)
    assert im_end not in llm.tokenize(b"a <|im_end|> b", add_bos=False, special=False)


def logits_torch(ex, ids):
    with torch.no_grad():
        return ex["model"](torch.tensor([ids]))[0].numpy()  # (T, vocab)


def logits_llama(llm, ids):
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[:len(ids)])  # (T, vocab), every position: logits_all=True


PROMPTS = ["O céu é", "The sky is", "São Paulo tem 12", "it's 3.14", "😀 emoji", "Você já comeu pão",
           " ".join(TEXT.split())[:300]]  # the last, ~100 tokens: positions far from 0 check RoPE


def max_logit_diff(ex, llm) -> float:
    tok = ex["tok"]
    diffs = []
    for prompt in PROMPTS:
        ids = [tok.eot_id] + tok.encode(prompt)
        diffs.append(float(np.abs(logits_llama(llm, ids) - logits_torch(ex, ids)).max()))
    return max(diffs)


def test_logits_close_to_pytorch(exported, llamas, llama_cpp):
    report = {dtype: max_logit_diff(exported, llm) for dtype, llm in llamas.items()}
    default = load(llama_cpp, exported["files"]["f32"]["path"], exact=False)
    report["f32, default KV cache"] = max_logit_diff(exported, default)
    default.close()
    print("\nmax |logit diff| llama.cpp vs PyTorch fp32, all positions: "
          + ", ".join(f"{k} {v:.2e}" for k, v in report.items()))
    for dtype, bound in TOL.items():
        assert report[dtype] < bound, (dtype, report[dtype])
    assert report["f32, default KV cache"] < TOL_DEFAULT_F32


def test_greedy_tokens_equal_to_the_pytorch_engine(exported, llamas):
    tok = exported["tok"]
    same = {}
    for dtype, llm in llamas.items():
        agree = total = 0
        for prompt in PROMPTS[:-1]:
            ids = [tok.eot_id] + tok.encode(prompt)
            ours = generate_all(exported["model"], ids, max_tokens=24, sampling=Sampling(0), stop_ids={tok.eot_id})[0]
            theirs = greedy_ids(llm, ids, 24, {tok.eot_id})
            if dtype == "f32":
                assert theirs == ours, prompt
            agree += sum(a == b for a, b in zip(theirs, ours))
            total += len(ours)
        same[dtype] = f"{agree}/{total}"
    print("\ngreedy tokens equal to PyTorch's (positions): " + ", ".join(f"{k} {v}" for k, v in same.items()))


def test_chat_completion_in_llama_cpp_python_answers_like_dentro(exported, llamas):
    from dentro.chat.assistant import reply

    tok, llm = exported["tok"], llamas["f32"]
    messages = [{"role": "user", "content": "Quem é você?"}]
    ours = reply(exported["model"], tok, messages, max_tokens=16)
    out = llm.create_chat_completion(messages=messages, max_tokens=16, temperature=0.0, top_k=1, top_p=1.0,
                                     min_p=0.0, repeat_penalty=1.0, seed=0)
    # a random model emits pieces of multi-byte characters: dentro shows each as U+FFFD,
    # llama-cpp-python drops them (it decodes with errors="ignore")
    assert out["choices"][0]["message"]["content"] == ours.replace("\ufffd", "")
    assert out["choices"][0]["finish_reason"] in ("stop", "length")
