"""A GGUF file: the model as llama.cpp runs it (and llama-cpp-python, ollama, LM Studio on top).

GGUF is one file: key-value metadata, then tensors, each with a name, shape and type. llama.cpp
has no config of its own: it reads everything from the keys. We write them with the `gguf` package
(ggml's reader/writer, plumbing); which keys and names a Qwen3 model needs is the subject here:

    general.architecture         "qwen3": llama.cpp's Qwen3 graph (src/models/qwen3.cpp), the same
                                 maths as dentro/model/gpt.py: RMSNorm, QK-norm, NeoX RoPE, GQA, SwiGLU
    qwen3.context_length         max_position_embeddings
    qwen3.embedding_length       hidden_size
    qwen3.block_count            num_hidden_layers
    qwen3.feed_forward_length    intermediate_size
    qwen3.attention.head_count, .head_count_kv, .key_length, .value_length (= head_dim)
    qwen3.rope.freq_base, qwen3.rope.dimension_count (= head_dim: every dimension rotates)
    qwen3.attention.layer_norm_rms_epsilon
    tokenizer.ggml.model         "gpt2": byte-level BPE, tokens as GPT-2's byte->character strings
    tokenizer.ggml.pre           "qwen2": the split pattern, which llama.cpp implements by name
                                 (dentro's SPLIT_PATTERN is exactly that pattern, dentro/tokenizer/bpe.py)
    tokenizer.ggml.tokens, .token_type, .merges, .bos/.eos/.eot/.padding_token_id, .add_bos_token
    tokenizer.chat_template      dentro's Jinja template (dentro/chat/template.py)

Tensors, PyTorch (rows, cols) stored as they are (GGUF lists dims innermost first, so llama.cpp
sees {cols, rows}, which is what it expects for y = W x):

    embed_tokens            -> token_embd            layers.N.self_attn.q_norm -> blk.N.attn_q_norm
    layers.N.input_layernorm -> blk.N.attn_norm      layers.N.self_attn.k_norm -> blk.N.attn_k_norm
    layers.N.self_attn.q_proj/k_proj/v_proj/o_proj  -> blk.N.attn_q/attn_k/attn_v/attn_output
    layers.N.post_attention_layernorm -> blk.N.ffn_norm
    layers.N.mlp.gate_proj/up_proj/down_proj        -> blk.N.ffn_gate/ffn_up/ffn_down
    norm -> output_norm      lm_head -> output (left out when tied: llama.cpp then reuses token_embd)

No permutation of q and k: llama.cpp's "llama" architecture rotates pairs (2i, 2i+1), so Llama
conversions reorder the rows of q and k; "qwen2"/"qwen3" use the NeoX rotation (i, i + d/2), the
"rotate half" of HF and dentro, and take the weights unchanged (as llama.cpp's own converter does).

Types: f32 (exact), f16 (matrices halved, norms kept f32, as llama.cpp's converter does), q8_0
(matrices in blocks of 32 int8 with one f16 scale; a matrix whose rows do not divide by 32 is f16).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

GGUF_TYPES = ("f32", "f16", "q8_0")
# Special tokens that stay visible in llama.cpp's output (type USER_DEFINED, as llama.cpp's converter
# types Qwen3's, which its tokenizer.json does not mark special): reasoning and tool calls are part
# of the answer that parsers read. The others are CONTROL:
# structure that llama.cpp prints only when asked (special=True) and matches in text only when
# asked (parse_special=True). USER_DEFINED tokens are matched in any text, as in the HF export.
VISIBLE_SPECIAL = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")


def tensor_name(name: str) -> str:
    """dentro's parameter name (GPT.state_dict()) -> llama.cpp's tensor name."""
    simple = {"embed_tokens.weight": "token_embd.weight", "norm.weight": "output_norm.weight",
              "lm_head.weight": "output.weight"}
    if name in simple:
        return simple[name]
    _, n, *rest = name.split(".")  # "layers", "3", "self_attn", "q_proj", "weight"
    inner = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
             "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    return f"blk.{n}.{inner['.'.join(rest[:-1])]}.weight"


def gguf_vocab(tok, n_vocab: int) -> tuple[list[str], list[int], list[str], int]:
    """-> (token strings, token types, merges "left right", twins) for n_vocab embedding rows.
    Ids keep their meaning: mergeable tokens as byte-level strings (dentro/tokenizer/hf.py), then
    the special tokens by spelling, then "[PAD<id>]" for embedding rows beyond the tokenizer. A twin
    (rustbpe learned the same bytes twice, docs/tokenizer.md) gets a placeholder: llama.cpp needs one
    id per string, and tiktoken never emits the twin either."""
    from gguf import TokenType

    from dentro.tokenizer.hf import byte_level_vocab

    vocab, merges = byte_level_vocab(tok)
    tokens = [f"[UNUSED_TWIN{i}]" for i in range(tok.n_ranks)]
    types = [int(TokenType.UNUSED)] * tok.n_ranks
    for s, i in vocab.items():
        tokens[i], types[i] = s, int(TokenType.NORMAL)
    for s, i in sorted(tok.special_tokens.items(), key=lambda kv: kv[1]):
        assert i == len(tokens), "special ids follow the mergeable tokens (Tokenizer.load checks it)"
        tokens.append(s)
        types.append(int(TokenType.USER_DEFINED if s in VISIBLE_SPECIAL else TokenType.CONTROL))
    if n_vocab < len(tokens):
        raise ValueError(f"the model has {n_vocab} embedding rows but the tokenizer {len(tokens)} tokens")
    for i in range(len(tokens), n_vocab):
        tokens.append(f"[PAD{i}]")
        types.append(int(TokenType.UNUSED))
    twice = [s for s, n in Counter(tokens).items() if n > 1]  # e.g. BPE learned the bytes "<think>"
    if twice:
        raise ValueError(f"the token strings {twice[:5]} appear twice; llama.cpp needs one id per string")
    return tokens, types, [f"{a} {b}" for a, b in merges], tok.n_ranks - len(vocab)


def write_gguf(path, model, tok, *, dtype: str = "f32", name: str = "dentro") -> dict:
    """Write the model and tokenizer as one GGUF file (layout in the module docstring).
    Returns facts: path, bytes, dtype, tensors, twins, padding rows."""
    import gguf

    from dentro.chat.template import JINJA_TEMPLATE
    from dentro.tokenizer.bpe import LLAMA_CPP_PRE, SPLIT_PATTERN

    if dtype not in GGUF_TYPES:
        raise ValueError(f"dtype must be one of {GGUF_TYPES}, got {dtype!r}")
    c = model.config
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    w = gguf.GGUFWriter(str(tmp), arch="qwen3")
    w.add_name(name)
    w.add_file_type({"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                     "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[dtype])
    if dtype == "q8_0":
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    # the architecture: what llama.cpp's qwen3 loader reads (src/models/qwen3.cpp, llama-model.cpp)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_key_length(c.head_dim)  # head_dim need not be hidden_size / heads: say it
    w.add_value_length(c.head_dim)
    w.add_rope_dimension_count(c.head_dim)
    w.add_rope_freq_base(float(c.rope_theta))
    w.add_layer_norm_rms_eps(float(c.rms_norm_eps))
    # the tokenizer
    tokens, types, merges, twins = gguf_vocab(tok, c.vocab_size)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(LLAMA_CPP_PRE)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    chat = all(s in tok.special_tokens for s in ("<|im_start|>", "<|im_end|>"))
    # Every dentro sequence starts with <|endoftext|> (pretraining documents, `dentro sample`, the
    # chat template): it is the BOS that llama.cpp adds to a plain prompt. Its chat code drops
    # the template's own leading BOS when it adds one, so a chat gets it once.
    w.add_bos_token_id(tok.eot_id)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_eos_token_id(tok.special_id("<|im_end|>") if chat else tok.eot_id)  # as tokenizer_config.json
    if chat:
        w.add_eot_token_id(tok.special_id("<|im_end|>"))
        w.add_chat_template(JINJA_TEMPLATE)
    w.add_pad_token_id(tok.eot_id)
    # the weights
    n_tensors = 0
    for pname, t in model.state_dict().items():
        if pname == "lm_head.weight" and c.tie_word_embeddings:
            continue
        data = t.detach().float().cpu().numpy()
        if data.ndim == 1 or dtype == "f32":
            w.add_tensor(tensor_name(pname), data.astype(np.float32))
        elif dtype == "q8_0" and data.shape[-1] % 32 == 0:
            q = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(tensor_name(pname), q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(tensor_name(pname), data.astype(np.float16))
        n_tensors += 1
    try:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
    finally:
        w.close()
    tmp.replace(path)
    return {"path": str(path), "bytes": path.stat().st_size, "dtype": dtype, "tensors": n_tensors,
            "twins": twins, "padding_rows": c.vocab_size - tok.vocab_size, "pre_tokenizer": LLAMA_CPP_PRE,
            # a tokenizer trained before issue 13 (digits in pairs) splits numbers differently from
            # llama.cpp's qwen2: the file still runs, but numbers are not tokenized as in training
            "pattern_matches_pre_tokenizer": tok.pattern == SPLIT_PATTERN}


def export_gguf(checkpoint, out, *, dtype: str = "f32") -> dict:
    """Checkpoint folder -> out/model-<dtype>.gguf. Returns write_gguf's facts."""
    from dentro.errors import UserError
    from dentro.model.checkpoint import load_checkpoint

    try:
        import gguf  # noqa: F401
    except ImportError:
        raise UserError("--format gguf needs the `gguf` package (a dentro dependency): pip install gguf") from None

    model, tok, _ = load_checkpoint(checkpoint, "cpu", load_train_state=False)
    ckpt = Path(checkpoint).resolve()
    name = f"dentro {ckpt.parent.parent.name} {ckpt.parent.name}"  # e.g. "dentro tiny sft"
    return write_gguf(Path(out) / f"model-{dtype}.gguf", model, tok, dtype=dtype, name=name)


def llama_cpp_greedy(path, ids: list[int], max_tokens: int, stop: set[int]) -> list[int] | None:
    """Greedy continuation of the token ids by llama.cpp itself (llama-cpp-python), with an f32
    KV cache; None when llama_cpp is not installed (`make interop` installs it)."""
    try:
        import llama_cpp
    except ImportError:
        return None
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=len(ids) + max_tokens + 1, n_threads=1, n_batch=len(ids) + 1,
                          logits_all=True, verbose=False, type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32,
                          flash_attn=False)
    out = greedy_ids(llm, ids, max_tokens, stop)
    llm.close()
    return out


def greedy_ids(llm, ids: list[int], max_tokens: int, stop: set[int]) -> list[int]:
    """Greedy continuation in a llama_cpp.Llama context made with logits_all=True (its logits of
    every position in llm.scores), up to max_tokens or a stop id (included)."""
    import numpy as np

    llm.reset()
    llm.eval(ids)
    out = []
    for _ in range(max_tokens):
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append(nxt)
        if nxt in stop:
            break
        llm.eval([nxt])
    return out
