import math

import pytest
import torch

from dentro.model.gpt import GPT, KVCache, ModelConfig


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(**kw):
    cfg = dict(vocab_size=101, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, head_dim=16, intermediate_size=96, max_position_embeddings=64)
    cfg.update(kw)
    torch.manual_seed(0)
    return GPT(ModelConfig(**cfg)).eval()


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6, 12, 16, 20, 24])
def test_from_depth_derives_a_consistent_shape(depth):
    c = ModelConfig.from_depth(depth, vocab_size=1000, max_seq_len=256)
    assert c.num_hidden_layers == depth and c.max_position_embeddings == 256
    assert c.num_attention_heads * c.head_dim == c.hidden_size
    assert c.num_attention_heads % c.num_key_value_heads == 0
    assert c.head_dim in (64, 128)
    assert 64 * depth <= c.hidden_size < 64 * depth + c.head_dim  # width/depth = 64, rounded up to a head
    assert c.intermediate_size % 64 == 0 and 8 / 3 <= c.intermediate_size / c.hidden_size < 8 / 3 + 64 / c.hidden_size


def test_from_depth_12_is_gpt2_small_sized():
    c = ModelConfig.from_depth(12, vocab_size=50304, max_seq_len=1024)
    assert (c.hidden_size, c.num_attention_heads, c.head_dim, c.num_key_value_heads) == (768, 12, 64, 6)


def test_config_rejects_bad_heads():
    with pytest.raises(ValueError, match="multiple"):
        ModelConfig(num_attention_heads=4, num_key_value_heads=3)


def test_num_params_and_flops_follow_the_shapes():
    m = tiny()
    c = m.config
    V, C, L, H, K, D, I = (c.vocab_size, c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
                           c.num_key_value_heads, c.head_dim, c.intermediate_size)
    per_layer = C * H * D + 2 * C * K * D + H * D * C + 3 * C * I + 2 * C + 2 * D
    assert m.num_params() == 2 * V * C + L * per_layer + C
    assert m.flops_per_token(seq_len=32) == 6 * (m.num_params() - V * C) + 12 * L * H * D * 32
    t = tiny(tie_word_embeddings=True)
    assert t.lm_head.weight is t.embed_tokens.weight
    assert t.num_params() == m.num_params() - V * C
    assert t.flops_per_token(32) == m.flops_per_token(32)  # the tied matrix still multiplies


def test_loss_at_init_is_near_uniform_and_ignores_minus_one():
    m = tiny()
    idx = torch.randint(0, 101, (3, 20))
    targets = torch.randint(0, 101, (3, 20))
    targets[:, :5] = -1
    loss, logits = m(idx, targets, return_logits=True)
    assert logits.shape == (3, 20, 101) and logits.dtype == torch.float32
    manual = torch.nn.functional.cross_entropy(logits[:, 5:].reshape(-1, 101), targets[:, 5:].reshape(-1))
    assert torch.allclose(loss, manual, atol=1e-6)
    assert abs(loss.item() - math.log(101)) < 0.1  # small init: near-uniform predictions


@pytest.mark.parametrize("trained", ["some", "none"])
def test_loss_over_trained_positions_only_matches_the_head_everywhere(trained):
    """Fine-tuning's loss: without return_logits the head runs only where a target is (not -1);
    the loss and every gradient are the ones of the head over every position."""
    m = tiny().train()
    idx = torch.randint(0, 101, (4, 24))
    targets = torch.randint(0, 101, (4, 24))
    targets[torch.rand(4, 24) < (0.6 if trained == "some" else 2.0)] = -1
    grads = []
    for everywhere in (True, False):
        m.zero_grad(set_to_none=True)
        loss = m(idx, targets, return_logits=True)[0] if everywhere else m(idx, targets)
        if trained == "none":  # nothing to train: no number, either way
            assert torch.isnan(loss)
            continue
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in m.parameters()]))
    if trained == "none":
        return
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-6)
    for a, b in zip(grads[0][1], grads[1][1]):
        assert torch.allclose(a, b, atol=1e-6)


def test_init_weights_scales_residual_projections():
    m = GPT(ModelConfig(vocab_size=512, hidden_size=256, num_hidden_layers=8, num_attention_heads=4,
                        num_key_value_heads=2, head_dim=64, intermediate_size=704))
    q = m.layers[0].self_attn.q_proj.weight.std().item()
    o = m.layers[0].self_attn.o_proj.weight.std().item()
    assert abs(q - 0.02) < 0.002 and abs(o - 0.02 / 4) < 0.001  # 1/sqrt(2*8) = 1/4
    assert torch.all(m.layers[3].self_attn.q_norm.weight == 1)


def test_backward_reaches_every_parameter():
    m = tiny().train()
    idx = torch.randint(0, 101, (2, 16))
    m(idx, idx).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_causal_future_tokens_do_not_change_the_past():
    m = tiny()
    a = torch.randint(0, 101, (1, 12))
    b = a.clone()
    b[0, 8:] = (b[0, 8:] + 1) % 101
    la, lb = m(a), m(b)
    assert torch.allclose(la[:, :8], lb[:, :8], atol=1e-5)
    assert not torch.allclose(la[:, 8:], lb[:, 8:], atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_training_attention_on_cpu_matches_sdpa(dtype):
    """Eager training on CPU takes matmul_attention with the causal mask (GQA heads shared as enable_gqa shares
    them); its outputs and gradients are SDPA's."""
    from dentro.model.gpt import attention_mask, matmul_attention, use_matmul_attention

    def causal_attention_matmul(q, k, v):
        return matmul_attention(q, k, v, attention_mask(q.size(2), k.size(2), 0, None, q.device))[0]

    torch.manual_seed(0)
    q = torch.randn(2, 4, 10, 16, dtype=dtype, requires_grad=True)
    k = torch.randn(2, 2, 10, 16, dtype=dtype, requires_grad=True)
    v = torch.randn(2, 2, 10, 16, dtype=dtype, requires_grad=True)
    assert use_matmul_attention(q)
    with torch.no_grad():
        assert not use_matmul_attention(q)  # inference keeps SDPA
    out, grads = [], []
    for f in (causal_attention_matmul,
              lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                               enable_gqa=True)):
        y = f(q, k, v)
        y.float().square().sum().backward()
        out.append(y.detach().float())
        grads.append([t.grad.float().clone() for t in (q, k, v)])
        for t in (q, k, v):
            t.grad = None
    tol = 1e-5 if dtype == torch.float32 else 3e-2
    assert torch.allclose(out[0], out[1], atol=tol)
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=tol * 4)
    k2, v2 = k.detach().clone(), v.detach().clone()
    k2[:, :, 6:] += 1.0  # later keys and values do not change earlier outputs
    v2[:, :, 6:] += 1.0
    first = causal_attention_matmul(q, k2, v2)
    assert torch.equal(first[:, :, :6], causal_attention_matmul(q, k, v)[:, :, :6])
    assert not torch.allclose(first[:, :, 6:].float(), causal_attention_matmul(q, k, v)[:, :, 6:].float())


def test_explicit_attention_path_matches_sdpa_and_is_causal():
    m = tiny()
    idx = torch.randint(0, 101, (2, 10))
    out = m.inspect(idx)
    assert torch.allclose(out["logits"], m(idx), atol=1e-5)
    assert len(out["hidden_states"]) == 3 and out["hidden_states"][0].shape == (2, 10, 64)
    w = out["attentions"][1]
    assert w.shape == (2, 4, 10, 10)
    assert torch.allclose(w.sum(-1), torch.ones(2, 4, 10), atol=1e-5)
    assert torch.all(w.triu(diagonal=1) == 0)


def test_kv_cache_prefill_chunks_and_decode_match_full_forward():
    m = tiny()
    idx = torch.randint(0, 101, (2, 20))
    full = m(idx)
    cache = KVCache(m.config, batch_size=2, max_len=20)
    parts = [m(idx[:, :7], kv_cache=cache), m(idx[:, 7:12], kv_cache=cache)]  # prefill, then a chunk after it
    parts += [m(idx[:, t:t + 1], kv_cache=cache) for t in range(12, 20)]  # one token at a time
    assert cache.pos == 20
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)
    with pytest.raises(ValueError, match="KV cache full"):
        m(idx[:, :1], kv_cache=cache)


def test_too_long_input_is_refused():
    m = tiny(max_position_embeddings=8)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        m(torch.zeros(1, 9, dtype=torch.long))


def test_bf16_autocast_keeps_attention_inputs_in_one_dtype():
    m = tiny()
    idx = torch.randint(0, 101, (2, 10))
    seen = []
    hook = m.layers[0].self_attn.q_norm.register_forward_hook(lambda mod, i, o: seen.append(o.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = m(idx, idx)
        cache = KVCache(m.config, 2, 11)  # fp32 cache under bf16 compute
        full = m(idx, kv_cache=cache)
        step = m(idx[:, :1], kv_cache=cache)
    hook.remove()
    assert seen[0] == torch.bfloat16  # q after QK-norm: bf16 like k and v, not promoted to fp32
    assert torch.isfinite(loss) and full.dtype == step.dtype == torch.float32
    assert abs(loss.item() - m(idx, idx).item()) < 0.05  # bf16 close to fp32
