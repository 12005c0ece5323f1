import pytest
import torch

from dentro.model.engine import Sampling, filter_logits, generate, generate_all, generate_naive, sample_next
from dentro.model.gpt import GPT, ModelConfig


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
    for b in range(8):
        toks = [s.tokens[b] for s in steps]
        if None in toks:
            k = toks.index(None)
            assert toks[k - 1] in {stop, greedy[0]} and all(t is None for t in toks[k:])


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
