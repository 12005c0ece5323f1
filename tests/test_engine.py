import pytest
import torch

from dentro.model.engine import (Sampling, filter_logits, generate, generate_all, generate_batch, generate_batch_all,
                                 generate_naive, sample_next)
from dentro.model.gpt import GPT, KVCache, ModelConfig, attention_mask


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = GPT(ModelConfig(vocab_size=97, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, head_dim=16, intermediate_size=96, max_position_embeddings=48))
    with torch.no_grad():  # sharper than the init's near-uniform logits, so greedy choices are clear
        m.lm_head.weight.mul_(30)
    return m.eval()


def test_kv_cache_generation_equals_naive_generation(model):
    prompt = [5, 17, 3, 88, 42]
    naive_tokens, naive_logits = generate_naive(model, prompt, max_tokens=30)
    steps = list(generate(model, prompt, max_tokens=30, sampling=Sampling(temperature=0)))
    assert [s.tokens[0] for s in steps] == naive_tokens  # token for token
    assert len(set(naive_tokens)) > 3  # a non-trivial sequence, not one token repeated
    for s, ref in zip(steps, naive_logits):
        assert torch.allclose(s.logits[0], ref, atol=1e-4)


def test_context_window_limits_the_length(model):
    out = generate_all(model, list(range(40)), max_tokens=100, sampling=Sampling(temperature=0))
    assert len(out[0]) == 48 - 40
    with pytest.raises(ValueError, match="context window"):
        generate_all(model, list(range(48)), max_tokens=1)
    with pytest.raises(ValueError, match="at least one token"):
        generate_all(model, [], max_tokens=1)


def test_seeded_sampling_is_reproducible_and_samples_differ(model):
    kw = dict(max_tokens=20, sampling=Sampling(temperature=1.0), num_samples=4)
    a = generate_all(model, [1, 2, 3], seed=123, **kw)
    b = generate_all(model, [1, 2, 3], seed=123, **kw)
    c = generate_all(model, [1, 2, 3], seed=124, **kw)
    assert a == b and a != c
    assert len({tuple(x) for x in a}) > 1  # the batch rows are independent samples


def test_stop_tokens_end_each_sample_on_its_own(model):
    greedy = generate_all(model, [7, 8], max_tokens=20, sampling=Sampling(temperature=0))[0]
    stop = greedy[4]
    first = greedy.index(stop)
    steps = list(generate(model, [7, 8], max_tokens=20, sampling=Sampling(temperature=0), stop_ids={stop}))
    assert [s.tokens[0] for s in steps] == greedy[: first + 1]  # stop token yielded, then the end
    assert steps[-1].finished == [True]
    # in a batch, a finished sample yields None while the others go on
    steps = list(generate(model, [7, 8], max_tokens=30, sampling=Sampling(temperature=2.0), num_samples=8,
                          seed=0, stop_ids={stop, greedy[0]}))
    ended_early = 0
    for b in range(8):
        toks = [s.tokens[b] for s in steps]
        k = toks.index(None) if None in toks else len(toks)  # the row's last token is toks[k - 1]
        assert all(t is None for t in toks[k:]) and not {stop, greedy[0]} & set(toks[:k - 1])
        if k < len(toks):
            assert toks[k - 1] in {stop, greedy[0]}
            ended_early += 1
    assert ended_early > 0  # some sample stopped while others went on


PROMPTS = [[5, 17, 3, 88, 42], [9], [60, 61, 2, 70, 33, 12, 8, 95, 4, 44, 21, 7], [30, 31, 32]]  # lengths 5, 1, 12, 3


def test_padded_forward_matches_unpadded_at_real_positions(model):
    short, long = PROMPTS[0], PROMPTS[2]
    pad = len(long) - len(short)
    cache = KVCache(model.config, 2, len(long) + 3, pad=[pad, 0])
    idx = torch.tensor([[0] * pad + short, long])  # (2, 12) left-padded
    padded = model(idx, kv_cache=cache)  # (2, 12, V)
    assert torch.isfinite(padded).all()  # padding queries see their own key: no NaN leaks
    assert torch.allclose(padded[0, pad:], model(torch.tensor([short]))[0], atol=1e-4)
    assert torch.allclose(padded[1], model(torch.tensor([long]))[0], atol=1e-4)
    # RoPE is relative, so the logits cannot tell; the cached keys (stored after RoPE) can:
    # row 0's real tokens are at positions 0, 1, ... exactly as unpadded
    alone = KVCache(model.config, 1, len(short))
    model(torch.tensor([short]), kv_cache=alone)
    assert torch.allclose(cache.k[:, 0, :, pad:len(long)], alone.k[:, 0], atol=1e-5)
    mask = attention_mask(len(long), len(long), 0, cache.pad, "cpu")  # (2, 1, 12, 12)
    assert mask.any(-1).all()  # no query without a key: an all -inf softmax row is NaN
    # then a chunk of two tokens (masked path) and one token (decode path) after the cache
    more = [[11, 12], [13, 14]]
    chunk = model(torch.tensor(more), kv_cache=cache)
    step = model(torch.tensor([[15], [16]]), kv_cache=cache)
    for b, (seq, new) in enumerate([(short + [11, 12, 15], chunk[0]), (long + [13, 14, 16], chunk[1])]):
        full = model(torch.tensor([seq]))[0]
        assert torch.allclose(new, full[-3:-1], atol=1e-4)
        assert torch.allclose(step[b, 0], full[-1], atol=1e-4)


def test_batch_of_prompts_equals_each_prompt_alone(model):
    greedy = Sampling(temperature=0)
    steps = list(generate_batch(model, PROMPTS, max_tokens=20, sampling=greedy))
    assert len(steps) == 20
    for b, prompt in enumerate(PROMPTS):
        alone = list(generate(model, prompt, max_tokens=20, sampling=greedy))
        assert [s.tokens[b] for s in steps] == [s.tokens[0] for s in alone]  # token for token
        for s, ref in zip(steps, alone):
            assert torch.allclose(s.logits[b], ref.logits[0], atol=1e-4)
    assert len({tuple(s.tokens[b] for s in steps) for b in range(len(PROMPTS))}) == len(PROMPTS)


def test_each_row_stops_at_its_own_stop_token(model):
    greedy = Sampling(temperature=0)
    alone = [generate_all(model, p, max_tokens=15, sampling=greedy)[0] for p in PROMPTS[:2]]
    stop = next(t for t in alone[0][:10] if t not in alone[1])  # ends row 0, never appears in row 1
    first = alone[0].index(stop)
    steps = list(generate_batch(model, PROMPTS[:2], max_tokens=15, sampling=greedy, stop_ids={stop}))
    assert len(steps) == 15  # row 1 goes on to max_tokens
    assert [s.tokens[0] for s in steps] == alone[0][:first + 1] + [None] * (14 - first)  # stop yielded, then None
    assert [s.tokens[1] for s in steps] == alone[1]
    assert [s.finished for s in steps][first] == [True, False] and steps[-1].finished == [True, False]
    assert generate_batch_all(model, PROMPTS[:2], max_tokens=15, sampling=greedy, stop_ids={stop}) == \
        [alone[0][:first + 1], alone[1]]


def test_batch_limits_and_seeded_sampling(model):
    out = generate_batch_all(model, [[1], list(range(40))], max_tokens=100, sampling=Sampling(temperature=0))
    assert [len(o) for o in out] == [48 - 40] * 2  # clamped to the room after the longest prompt
    with pytest.raises(ValueError, match="context window"):
        generate_batch_all(model, [[1], list(range(48))], max_tokens=1)
    with pytest.raises(ValueError, match="at least one token"):
        generate_batch_all(model, [[1], []], max_tokens=1)
    with pytest.raises(ValueError, match="no prompts"):
        generate_batch_all(model, [], max_tokens=1)
    kw = dict(max_tokens=15, sampling=Sampling(temperature=1.0))
    a, b = generate_batch_all(model, PROMPTS, seed=5, **kw), generate_batch_all(model, PROMPTS, seed=5, **kw)
    assert a == b and a != generate_batch_all(model, PROMPTS, seed=6, **kw)
    # one prompt: the same stream as generate, sampled draws included
    assert generate_batch_all(model, [PROMPTS[0]], seed=5, **kw) == generate_all(model, PROMPTS[0], seed=5, **kw)


def test_top_k_and_top_p_filters():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    keep = lambda s: torch.isfinite(filter_logits(logits, s))[0].tolist()
    assert keep(Sampling(top_k=2)) == [True, True, False, False]
    assert keep(Sampling(top_p=0.5)) == [True, False, False, False]
    assert keep(Sampling(top_p=0.8)) == [True, True, False, False]
    assert keep(Sampling(top_p=0.81)) == [True, True, True, False]
    assert keep(Sampling(top_p=1.0)) == [True] * 4
    g = torch.Generator().manual_seed(0)
    draws = [sample_next(logits, Sampling(top_k=2), g).item() for _ in range(300)]
    assert set(draws) == {0, 1} and 0.5 < draws.count(0) / 300 < 0.75  # 0.5/0.8 = 0.625
    hot = filter_logits(logits, Sampling(temperature=0.5)).softmax(-1)[0]
    assert torch.allclose(hot, torch.tensor([0.25, 0.09, 0.0225, 0.0025]) / 0.365, atol=1e-5)  # p^2 renormalised


def test_sampling_draws_the_distribution_and_never_a_filtered_token():
    """sample_next's inverse-CDF draw: frequencies follow the probabilities, a token at
    probability 0 (filtered out) never comes, the same seed gives the same draws."""
    probs = torch.tensor([0.4, 0.0, 0.25, 0.2, 0.1, 0.05, 0.0])
    logits = torch.log(probs)[None].expand(20_000, 7)  # log 0 = -inf: never drawn
    draws = sample_next(logits, Sampling(temperature=1.0), torch.Generator().manual_seed(3))
    freq = torch.bincount(draws, minlength=7).double() / len(draws)
    assert freq[1] == 0 and freq[6] == 0
    assert 0.5 * (freq - probs.double()).abs().sum() < 0.02  # total variation: sampling noise only
    again = sample_next(logits, Sampling(temperature=1.0), torch.Generator().manual_seed(3))
    assert torch.equal(draws, again)
    half = sample_next(logits.bfloat16(), Sampling(temperature=1.0), torch.Generator().manual_seed(3))
    hf = torch.bincount(half, minlength=7).double() / len(half)  # bf16 logits: drawn in float32
    assert hf[1] == 0 and hf[6] == 0 and 0.5 * (hf - probs.double()).abs().sum() < 0.02
    edge = torch.tensor([[0.0, 0.0, float("-inf")], [float("-inf"), float("-inf"), 5.0]])
    for _ in range(50):  # the last token, and a row whose whole mass is on its last token
        d = sample_next(edge, Sampling(temperature=0.7)).tolist()
        assert d[0] in (0, 1) and d[1] == 2


def test_show_top_gives_the_models_distribution(model):
    step = next(generate(model, [1, 2], max_tokens=1, show_top=5, sampling=Sampling(temperature=0)))
    top = step.top[0]
    assert len(top) == 5 and top[0][0] == step.tokens[0]  # greedy picks the most likely
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert abs(top[0][1] - step.logits[0].softmax(-1).max().item()) < 1e-6


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_k=0), dict(top_p=0), dict(top_p=1.5)])
def test_bad_sampling_settings(bad):
    with pytest.raises(ValueError):
        Sampling(**bad)
