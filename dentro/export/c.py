"""model.bin: the whole model in one binary file that run.c (next to this file) runs.

    offset 0    header, 256 bytes, little-endian:
                  "dntr" (4 bytes), version (int32 = 1),
                  int32 dim, n_layers, n_heads, n_kv_heads, head_dim, hidden_dim, vocab_size, seq_len,
                  float32 rope_theta, rms_eps,
                  int32 quant (0 fp32, 1 int8), group_size, n_tokens, n_ranks; zeros to 256
    256         tokenizer: for each id < n_tokens: int32 length, the token's bytes. Ids < n_ranks are
                  the BPE ranks (rank = id, as tiktoken); the rest are the special tokens' spellings
                then three tables of Unicode code point ranges for the split pattern:
                  letters \\p{L}, numbers \\p{N}, whitespace \\s; each int32 count, count x (uint32 lo, hi)
    next x64    weights, in this order (norm gains always fp32; "matrix" below is fp32 row-major,
                or with quant 1: int8 row-major, then one fp32 scale per group of group_size weights
                along a row, w ~= q * scale, scale = max|w| / 127 over the group):
                  embed (vocab, dim) matrix
                  per layer: input_norm (dim), q (H*D, dim), k (KV*D, dim), v (KV*D, dim),
                             o (dim, H*D), q_norm (D), k_norm (D), post_norm (dim),
                             gate (hidden, dim), up (hidden, dim), down (dim, hidden)
                  norm (dim), lm_head (vocab, dim) matrix (a tied lm_head is written out again)
"""

from __future__ import annotations

import functools
import shutil
import struct
import unicodedata
from pathlib import Path

import numpy as np

MAGIC, VERSION, HEADER_BYTES = b"dntr", 1, 256
RUN_C = Path(__file__).with_name("run.c")
# Unicode's White_Space property (PropList.txt), which the regex engine's \s matches. Python's
# str.isspace() differs (it counts U+001C..U+001F), so the list is written out.
WHITE_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
               (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000)]


def _ranges(keep) -> list[tuple[int, int]]:
    out = []
    for cp in range(0x110000):
        if keep(cp):
            if out and out[-1][1] == cp - 1:
                out[-1] = (out[-1][0], cp)
            else:
                out.append((cp, cp))
    return out


@functools.lru_cache(maxsize=1)
def unicode_tables() -> tuple[list, list, list]:
    """(letters, numbers, whitespace) as sorted (lo, hi) code point ranges: general categories
    L* and N* from Python's unicodedata (Unicode 14.0 on Python 3.11; tiktoken's regex engine
    may know newer code points, which then split differently: docs/export.md)."""
    cats = [unicodedata.category(chr(cp))[0] for cp in range(0x110000)]
    return _ranges(lambda cp: cats[cp] == "L"), _ranges(lambda cp: cats[cp] == "N"), list(WHITE_SPACE)


def group_size_for(config, want: int = 64) -> int:
    """The largest group size <= want (a power of two, >= 4 so the scales stay 4-byte aligned) that
    divides every matrix's row length (dim, H*D, hidden)."""
    dims = [config.hidden_size, config.num_attention_heads * config.head_dim, config.intermediate_size]
    gs = want
    while gs >= 4:
        if all(d % gs == 0 for d in dims):
            return gs
        gs //= 2
    raise ValueError(f"int8 needs row lengths {dims} divisible by 4 at least")


def quantize(w: np.ndarray, gs: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Symmetric int8 per group along rows: w (rows, cols) -> (q int8 (rows, cols),
    scales float32 (rows, cols/gs), max |w - q*scale|)."""
    g = w.reshape(-1, gs)
    scale = np.abs(g).max(axis=1) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    q = np.clip(np.round(g / scale[:, None]), -127, 127).astype(np.int8)
    err = float(np.abs(q * scale[:, None] - g).max())
    return q.reshape(w.shape), scale.reshape(w.shape[0], -1), err


def write_model_bin(path, model, tokenizer, *, int8: bool = False, group_size: int = 64) -> dict:
    """Write model.bin (layout in the module docstring). Returns facts: bytes, quant, group size,
    the largest int8 rounding error."""
    c = model.config
    gs = group_size_for(c, group_size) if int8 else 0
    sd = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    if c.tie_word_embeddings or "lm_head.weight" not in sd:
        sd["lm_head.weight"] = sd["embed_tokens.weight"]
    n_tokens = tokenizer.vocab_size
    header = MAGIC + struct.pack("<i8i2f4i", VERSION, c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
                                 c.num_key_value_heads, c.head_dim, c.intermediate_size, c.vocab_size,
                                 c.max_position_embeddings, c.rope_theta, c.rms_norm_eps, int(int8), gs,
                                 n_tokens, tokenizer.n_ranks)
    parts = [header.ljust(HEADER_BYTES, b"\0")]
    for i in range(n_tokens):
        b = tokenizer.token_bytes(i)
        parts += [struct.pack("<i", len(b)), b]
    for table in unicode_tables():
        parts.append(struct.pack("<i", len(table)) + np.asarray(table, dtype="<u4").tobytes())
    size = sum(len(p) for p in parts)
    parts.append(b"\0" * (-size % 64))
    max_err = 0.0

    def matrix(name):
        nonlocal max_err
        w = np.ascontiguousarray(sd[name], dtype="<f4")
        if not int8:
            return [w.tobytes()]
        q, s, err = quantize(w, gs)
        max_err = max(max_err, err)
        return [q.tobytes(), s.astype("<f4").tobytes()]

    def vector(name):
        return [np.ascontiguousarray(sd[name], dtype="<f4").tobytes()]

    parts += matrix("embed_tokens.weight")
    for i in range(c.num_hidden_layers):
        p = f"layers.{i}."
        parts += vector(p + "input_layernorm.weight")
        for m in ("q_proj", "k_proj", "v_proj", "o_proj"):
            parts += matrix(p + f"self_attn.{m}.weight")
        parts += vector(p + "self_attn.q_norm.weight") + vector(p + "self_attn.k_norm.weight")
        parts += vector(p + "post_attention_layernorm.weight")
        for m in ("gate_proj", "up_proj", "down_proj"):
            parts += matrix(p + f"mlp.{m}.weight")
    parts += vector("norm.weight") + matrix("lm_head.weight")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        for p in parts:
            f.write(p)
    tmp.replace(path)
    return {"path": str(path), "bytes": path.stat().st_size, "quant": "int8" if int8 else "fp32",
            "group_size": gs, "int8_max_abs_error": round(max_err, 6) if int8 else None}


def export_c(checkpoint, out, *, int8: bool = False, group_size: int = 64) -> dict:
    """Checkpoint folder -> out/model.bin + out/run.c. Returns {"model.bin": facts, "run.c": facts}."""
    from dentro.model.checkpoint import load_checkpoint

    model, tok, _ = load_checkpoint(checkpoint, "cpu", load_train_state=False)
    out = Path(out)
    facts = write_model_bin(out / "model.bin", model, tok, int8=int8, group_size=group_size)
    shutil.copyfile(RUN_C, out / "run.c")
    return {"model.bin": facts, "run.c": {"path": str(out / "run.c"), "bytes": (out / "run.c").stat().st_size,
                                          "lines": RUN_C.read_text().count("\n")}}


def build_command(folder) -> str:
    return f"cc -O2 -o {Path(folder) / 'run'} {Path(folder) / 'run.c'} -lm"


def compiler() -> str | None:
    """A C compiler on PATH (cc, gcc or clang), or None."""
    for name in ("cc", "gcc", "clang"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def build(folder, flags=("-O2",)) -> Path:
    """Compile folder/run.c into folder/run; raises RuntimeError with the compiler's message."""
    import subprocess

    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler (cc, gcc or clang) on PATH")
    folder = Path(folder)
    exe = folder / "run"
    r = subprocess.run([cc, *flags, "-o", str(exe), str(folder / "run.c"), "-lm"], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{cc} failed on {folder / 'run.c'}:\n{r.stderr}")
    return exe
