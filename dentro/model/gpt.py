"""The Transformer: a decoder-only language model with the Qwen3 architecture.

Same maths and same tensor layout as Hugging Face's Qwen3ForCausalLM, so that a dentro
checkpoint loads in transformers (and from there llama.cpp, vLLM) with the same logits:
    token embedding -> N x [RMSNorm -> attention (GQA, QK-norm, RoPE) -> +residual,
                            RMSNorm -> SwiGLU MLP -> +residual] -> RMSNorm -> lm_head
No biases anywhere. Parameter names are HF's without the leading "model." (see hf_name),
so export is a renaming of keys; the mapping is listed in docs/model.md.

Sources: Qwen3 technical report (arXiv:2505.09388) and transformers' modeling_qwen3.py
for the architecture; RMSNorm (Zhang & Sennrich 2019, arXiv:1910.07467); RoPE (Su et al.
2021, arXiv:2104.09864); grouped-query attention (Ainslie et al. 2023, arXiv:2305.13245);
SwiGLU (Shazeer 2020, arXiv:2002.05202); QK-norm (Dehghani et al. 2023, arXiv:2302.05442).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelConfig:
    # Field names are the keys of HF's Qwen3Config, so config.json is a valid HF config.
    vocab_size: int = 8192
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 64
    intermediate_size: int = 704
    max_position_embeddings: int = 512
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    initializer_range: float = 0.02

    def __post_init__(self):
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                             f"num_key_value_heads ({self.num_key_value_heads})")
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for RoPE, got {self.head_dim}")

    @classmethod
    def from_depth(cls, depth: int, vocab_size: int, max_seq_len: int, **overrides) -> "ModelConfig":
        """One dial. Everything else follows from the number of layers (depth):
        - width = 64 * depth: nanochat's aspect ratio (model_dim = depth * 64, so width/depth
          stays 64, close to GPT-2 small's 768/12), rounded up to a multiple of the head size.
        - head_dim = 64 up to width 768 (GPT-2 small's heads), 128 beyond (Llama/Qwen3 heads);
          num_attention_heads = width / head_dim.
        - num_key_value_heads = heads / 2: Qwen3-0.6B's GQA ratio (16 query heads, 8 KV heads),
          halving the KV cache; a single head keeps 1.
        - intermediate_size = 8/3 * width, rounded up to a multiple of 64: SwiGLU has three
          matrices instead of two, and 2/3 of GPT's 4x keeps the MLP's parameters equal
          (Shazeer 2020, section 2; Llama does the same).
        """
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        head_dim = 64 if 64 * depth <= 768 else 128
        width = math.ceil(64 * depth / head_dim) * head_dim
        heads = width // head_dim
        kv_heads = heads // 2 if heads % 2 == 0 else heads
        intermediate = math.ceil(8 * width / 3 / 64) * 64
        cfg = dict(vocab_size=vocab_size, hidden_size=width, num_hidden_layers=depth,
                   num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim,
                   intermediate_size=intermediate, max_position_embeddings=max_seq_len)
        cfg.update(overrides)
        return cls(**cfg)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """From a dentro or HF Qwen3 config dict; keys that are not fields are ignored."""
        d = dict(d)
        if "rope_theta" not in d and isinstance(d.get("rope_parameters"), dict):
            d["rope_theta"] = d["rope_parameters"].get("rope_theta", cls.rope_theta)  # transformers >= 5
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class RMSNorm(nn.Module):
    """x / rms(x) * weight, computed in float32 (as HF Qwen3RMSNorm), returned in x's dtype
    (under bf16 autocast the fp32 gain would otherwise promote q and k to fp32). x: (..., dim)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.weight * xf.to(x.dtype)).to(x.dtype)


def rope_tables(head_dim: int, positions: torch.Tensor, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (*positions.shape, head_dim) for the given absolute positions:
    (T,) -> (T, head_dim), shared by all rows; (B, T) -> (B, T, head_dim), one set per row.
    Frequencies theta^(-2i/d) (Su et al. 2021, eq. 15), each used twice: the "rotate half"
    layout of HF/GPT-NeoX, which pairs dimension i with i + d/2 (not 2i with 2i+1)."""
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim)
    angles = positions.float()[..., None] * inv_freq  # (..., T, d/2)
    angles = torch.cat([angles, angles], dim=-1)  # (..., T, d)
    return angles.cos(), angles.sin()


def apply_rope(x, cos, sin):
    """x: (B, H, T, D); cos, sin: (T, D) or (B, T, D). Rotates each pair (x_i, x_{i+D/2}) by its angle,
    in x's dtype (two fewer casts per call under bf16 autocast than rotating in fp32)."""
    if cos.dim() == 3:
        cos, sin = cos[:, None], sin[:, None]  # (B, 1, T, D): the same angles for every head
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)  # in x's dtype, as HF's Qwen3 (fp32 tables, bf16 under autocast)
    return x * cos + rotated * sin


class KVCache:
    """Keys and values of the tokens seen so far, per layer, for fast generation.
    k, v: (layers, B, kv_heads, max_len, head_dim); `pos` = number of positions filled.
    `pad` (B,) long, optional, for prompts of different lengths in one batch: the number of
    left-padding positions of each row. Row b's real tokens, from index pad[b] on, then get
    the positions 0, 1, 2, ... as if unpadded, and its keys j < pad[b] are masked out."""

    def __init__(self, config: ModelConfig, batch_size: int, max_len: int, device=None, dtype=torch.float32,
                 pad=None):
        shape = (config.num_hidden_layers, batch_size, config.num_key_value_heads, max_len, config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.pos = 0
        self.max_len = max_len
        self.pad = None if pad is None else torch.as_tensor(pad, dtype=torch.long, device=device)  # (B,)
        if self.pad is not None and self.pad.shape != (batch_size,):
            raise ValueError(f"pad needs one count per row, shape ({batch_size},); got {tuple(self.pad.shape)}")

    def update(self, layer: int, k, v):
        """Store k, v (B, kv_heads, T, D) at the next T positions; return all keys/values so far."""
        t0, t1 = self.pos, self.pos + k.size(2)
        if t1 > self.max_len:
            raise ValueError(f"KV cache full: {t1} positions > max_len {self.max_len}")
        self.k[layer, :, :, t0:t1] = k
        self.v[layer, :, :, t0:t1] = v
        return self.k[layer, :, :, :t1], self.v[layer, :, :, :t1]


class Attention(nn.Module):
    def __init__(self, c: ModelConfig, layer: int):
        super().__init__()
        self.layer, self.n_head, self.n_kv, self.head_dim = layer, c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.num_attention_heads * c.head_dim, c.hidden_size, bias=False)
        # QK-norm: RMSNorm over each head's vector, before RoPE (Qwen3; keeps logits bounded).
        self.q_norm = RMSNorm(c.head_dim, c.rms_norm_eps)
        self.k_norm = RMSNorm(c.head_dim, c.rms_norm_eps)

    def forward(self, x, cos, sin, kv_cache: KVCache | None = None, mask: torch.Tensor | None = None,
                explicit: bool = False):
        """x: (B, T, C) -> (B, T, C). mask: attention_mask() built once by GPT.forward for every layer;
        None when the causal order alone decides (no padding; an empty cache or one new token).
        With explicit=True also returns the attention weights (B, H, T, T_keys), computed as
        softmax(QK^T / sqrt(d)) by hand (slow, for inspection)."""
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(B, T, self.n_head, self.head_dim)).transpose(1, 2)  # (B, H, T, D)
        k = self.k_norm(self.k_proj(x).view(B, T, self.n_kv, self.head_dim)).transpose(1, 2)  # (B, Hkv, T, D)
        v = self.v_proj(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)  # (B, Hkv, T, D)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        past, pad = 0, None
        if kv_cache is not None:
            past, pad = kv_cache.pos, kv_cache.pad
            k, v = kv_cache.update(self.layer, k, v)  # (B, Hkv, past + T, D)
            k, v = k.to(q.dtype), v.to(q.dtype)  # the cache may be kept in another dtype
        Tk = k.size(2)
        weights = None
        if explicit:  # in float32, keeping the weights (B, H, T, Tk)
            y, weights = matmul_attention(q.float(), k.float(), v.float(), attention_mask(T, Tk, past, pad, x.device))
            y = y.to(q.dtype)
        elif mask is not None:  # new tokens after a filled cache (query i sits at index past + i), or left padding
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
        elif past == 0 and use_matmul_attention(q):  # training on CPU, eager
            y, _ = matmul_attention(q, k, v, attention_mask(T, Tk, 0, None, x.device))
        elif past == 0:  # training or prefill from an empty cache
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        else:  # one new token attends to everything before it: no mask needed
            assert T == 1, "new tokens after a filled cache need GPT.forward's mask"
            y = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
        y = self.o_proj(y.transpose(1, 2).reshape(B, T, self.n_head * self.head_dim))
        return y, weights


# Eager training on CPU at short contexts: causal attention as two matmuls and a softmax instead of
# SDPA's CPU flash kernel, 1.1-1.2x faster per forward+backward step of the tiny model (8 x 256,
# bf16; docs/sft.md, "Training"). The (B, H, T, T) scores are materialised, hence the bound on T.
# Compiled graphs (inductor lowers SDPA itself: no difference measured), GPUs and inference keep SDPA.
MATMUL_ATTENTION_MAX_T = 512


def use_matmul_attention(q: torch.Tensor) -> bool:
    return (q.device.type == "cpu" and q.size(2) <= MATMUL_ATTENTION_MAX_T and torch.is_grad_enabled()
            and not torch.compiler.is_compiling())


def matmul_attention(q, k, v, allowed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention written out: softmax(QK^T / sqrt(d), -inf where not allowed) V, for q (B, H, T, D),
    k and v (B, Hkv, Tk, D), the key and value heads shared by H / Hkv query heads each (GQA, as
    SDPA's enable_gqa); allowed: attention_mask()'s (T, Tk) or (B, 1, T, Tk). -> (y (B, H, T, D),
    the weights (B, H, T, Tk))."""
    rep = q.size(1) // k.size(1)
    if rep > 1:
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
    return weights @ v, weights


def attention_mask(T: int, Tk: int, past: int, pad: torch.Tensor | None, device) -> torch.Tensor:
    """True where query i (at index past + i) may attend key j: j <= past + i (causal), and with
    left padding pad (B,) also j >= pad[b]. (T, Tk) bool, or (B, 1, T, Tk) with pad.
    A padding query keeps its own key: a softmax row with every key at -inf gives NaN, which
    the next layer's values would carry into the real rows (0 * NaN = NaN)."""
    i = past + torch.arange(T, device=device)[:, None]  # (T, 1) the queries' indices
    j = torch.arange(Tk, device=device)[None, :]  # (1, Tk) the keys' indices
    causal = j <= i  # (T, Tk)
    if pad is None:
        return causal
    return ((causal & (j >= pad[:, None, None])) | (j == i))[:, None]  # (B, 1, T, Tk)


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c: ModelConfig, layer: int):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c, layer)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, kv_cache=None, mask=None, explicit=False):
        a, weights = self.self_attn(self.input_layernorm(x), cos, sin, kv_cache, mask, explicit)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, weights


class GPT(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(Block(config, i) for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.init_weights()

    @torch.no_grad()
    def init_weights(self):
        """All initialisation in one place. GPT-2's scheme (Radford et al. 2019, section 2.3):
        normal(0, 0.02) everywhere; the two projections that write into the residual stream
        (o_proj, down_proj) scaled by 1/sqrt(2 * layers) so the residual's variance does not
        grow with depth; RMSNorm gains at 1."""
        std = self.config.initializer_range
        for name, p in self.named_parameters():
            if p.dim() == 1:  # RMSNorm gains
                nn.init.ones_(p)
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.config.num_hidden_layers))
            else:  # embeddings, q/k/v, gate/up, lm_head
                nn.init.normal_(p, 0.0, std)

    def num_params(self, exclude_embeddings: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())  # a tied lm_head is counted once
        if exclude_embeddings:
            n -= self.embed_tokens.weight.numel()
        return n

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward): 6N + 12 * L * H * D * T.
        6N: 2 FLOPs per parameter per token for a multiply-add, forward (x1) and backward (x2),
        with N the non-embedding parameters plus lm_head (the embedding lookup is no matmul);
        12 L H D T: the attention scores QK^T and the weighted sum AV, 2 matmuls of T x D per
        head and token, times 2 FLOPs, times 3 for forward+backward (PaLM, Chowdhery et al.
        2022, appendix B; Chinchilla, Hoffmann et al. 2022, appendix F, counts the same terms).
        T is the full sequence length; causal masking is not subtracted (as PaLM)."""
        c = self.config
        T = seq_len or c.max_position_embeddings
        n = self.num_params(exclude_embeddings=True)
        if c.tie_word_embeddings:
            n += self.lm_head.weight.numel()  # the tied matrix is still a matmul at the output
        return 6 * n + 12 * c.num_hidden_layers * c.num_attention_heads * c.head_dim * T

    def _rope(self, T: int, start: int, device, pad: torch.Tensor | None = None):
        positions = torch.arange(start, start + T, device=device)  # (T,)
        if pad is not None:  # left padding: row b's first real token, at index pad[b], is position 0
            positions = (positions[None, :] - pad[:, None]).clamp(min=0)  # (B, T)
        return rope_tables(self.config.head_dim, positions, self.config.rope_theta)

    def forward(self, idx, targets=None, *, kv_cache: KVCache | None = None, return_logits: bool = False):
        """idx: (B, T) token ids. Without targets: logits (B, T, vocab_size), float32.
        With targets (B, T), -1 = ignore: the mean cross-entropy (scalar), or (loss, logits)
        with return_logits=True. With kv_cache: idx continues the cached sequence (left-padded
        when the cache has a pad)."""
        B, T = idx.shape
        start, pad = (kv_cache.pos, kv_cache.pad) if kv_cache is not None else (0, None)
        if start + T > self.config.max_position_embeddings:
            raise ValueError(f"sequence of {start + T} tokens exceeds max_position_embeddings "
                             f"{self.config.max_position_embeddings}")
        cos, sin = self._rope(T, start, idx.device, pad)  # (T, D), or (B, T, D) with padding
        mask = None  # one for all layers (a decode step would otherwise build it once per layer)
        if pad is not None or (start > 0 and T > 1):
            mask = attention_mask(T, start + T, start, pad, idx.device)  # (T, Tk) or (B, 1, T, Tk)
        x = self.embed_tokens(idx)  # (B, T, C)
        for block in self.layers:
            x, _ = block(x, cos, sin, kv_cache, mask)
        if kv_cache is not None:
            kv_cache.pos += T
        if targets is not None and not return_logits and not torch.compiler.is_compiling():
            # Fine-tuning trains part of the positions (the assistant's tokens): the head and
            # the softmax only where a target is, the same mean loss (docs/sft.md, "Training").
            t = targets.reshape(-1)
            keep = t != -1
            if not bool(keep.all()):
                h = self.norm(x).reshape(-1, x.size(-1))[keep]
                return F.cross_entropy(self.lm_head(h).float(), t[keep])
        logits = self.lm_head(self.norm(x)).float()  # (B, T, V)
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return (loss, logits) if return_logits else loss

    @torch.no_grad()
    def inspect(self, idx) -> dict:
        """The slow, explicit path for looking inside (small inputs only). idx: (B, T).
        Returns {"logits": (B, T, V), "hidden_states": [L + 1 x (B, T, C)] (the embeddings,
        then the residual stream after each block; the last one before the final norm),
        "attentions": [L x (B, H, T, T)] softmax(QK^T/sqrt(d)) with the causal mask}."""
        T = idx.size(1)
        cos, sin = self._rope(T, 0, idx.device)
        x = self.embed_tokens(idx)
        hidden, attns = [x], []
        for block in self.layers:
            x, w = block(x, cos, sin, None, explicit=True)
            hidden.append(x)
            attns.append(w)
        logits = self.lm_head(self.norm(x)).float()
        return {"logits": logits, "hidden_states": hidden, "attentions": attns}


# --- names on the Hugging Face side ---------------------------------------------------------

def hf_name(name: str) -> str:
    """dentro parameter name -> HF Qwen3ForCausalLM name: "layers.0.mlp.up_proj.weight" ->
    "model.layers.0.mlp.up_proj.weight"; lm_head stays as it is."""
    return name if name.startswith("lm_head.") else "model." + name


def dentro_name(name: str) -> str:
    """HF Qwen3ForCausalLM name -> dentro parameter name (inverse of hf_name)."""
    return name[len("model."):] if name.startswith("model.") else name


def hf_config(config: ModelConfig, dtype: str = "float32") -> dict:
    """config.json content for HF: Qwen3Config's keys (rope_theta both at the top, as
    transformers 4.x and the published Qwen3 configs write it, and in rope_parameters, as 5.x)."""
    d = config.to_dict()
    d.update(architectures=["Qwen3ForCausalLM"], model_type="qwen3", hidden_act="silu",
             attention_bias=False, attention_dropout=0.0, use_sliding_window=False,
             sliding_window=None, max_window_layers=config.num_hidden_layers, use_cache=True,
             torch_dtype=dtype, dtype=dtype,
             rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta},
             rope_scaling=None, bos_token_id=None, eos_token_id=None)
    return d
