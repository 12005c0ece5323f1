"""RL with verifiable rewards: the math verifier, group advantages, the policy-gradient loss
on a toy case, batched rollouts, and `dentro rl` end to end with an exact resume."""

import itertools
import json
from math import comb

import pytest
import torch

from dentro import cli
from dentro.eval import math as V
from dentro.train import rl as R
from test_sft import killed_at_step_2_then_resumed

# ---- the verifier -------------------------------------------------------------------------------

ANSWERS = [
    ("Resposta: 39", 39), ("Answer: 42.", 42), ("Sobraram 39 lápis.", 39),
    ("5 vezes 15 dá 75.\n75 menos 36 dá 39.\nResposta: 39", 39),
    ("Resposta: 1.234", 1234), ("Answer: 1,234", 1234), ("Resposta: 1.234.567", 1234567),
    ("Answer: 1,234,567", 1234567), ("x = 1.234,5", 1234.5), ("x = 1,234.5", 1234.5),
    ("metade de 7 é 3,5", 3.5), ("half of 7 is 3.5", 3.5), ("a temperatura é -7", -7), ("menos: −12", -12),
    ("<think>10 mais 20 dá 30</think>Resposta: 31", 31),       # after </think>, not inside it
    ("<think>10 mais 20 dá 30</think>", None),                # nothing after the thinking
    ("<think>a</think>b</think> 8", 8),                       # the last </think>
    ("no number here", None), ("", None), ("item2 e 5", 5),   # digits inside a word are no number
    ("Resposta: 12\n", 12), ("1\u202f234", 1234), ("versão v3", None),
]


@pytest.mark.parametrize("reply,want", ANSWERS)
def test_extract_answer(reply, want):
    assert V.extract_answer(reply) == want


@pytest.mark.parametrize("reply,truth,want", [
    ("Resposta: 39", 39, 1.0), ("Resposta: 38", 39, 0.0), ("", 39, 0.0),
    ("<think>36 menos 9 dá 27... não, 39</think>Resposta: 39", 39, 1.1),   # right and well formed
    ("<think>contas</think>Resposta: 40", 39, 0.1),                        # well formed, wrong
    ("<think>contas</think>", 39, 0.0),                                    # no answer: no bonus
    ("<think>a</think><think>b</think>Resposta: 39", 39, 1.0),             # two thinks: no bonus
    ("Resposta: 39 <think>x</think>", 39, 0.0),   # the think is not at the start; nothing after it
    ("Answer: 1,669", 1669, 1.0), ("Resposta: 1.669", 1669, 1.0),
])
def test_reward(reply, truth, want):
    assert V.reward(reply, truth) == pytest.approx(want)


def test_pass_at_k_matches_counting_subsets():
    """The closed form equals the share of k-subsets of the n samples holding a correct one."""
    for n in range(1, 7):
        for c in range(n + 1):
            for k in range(1, n + 1):
                samples = [1] * c + [0] * (n - c)
                hit = sum(any(s) for s in itertools.combinations(samples, k)) / comb(n, k)
                assert V.pass_at_k(n, c, k) == pytest.approx(hit)
    with pytest.raises(ValueError):
        V.pass_at_k(2, 1, 3)


@pytest.mark.parametrize("reply,want", [
    ("75 menos 36 dá 39. Vamos conferir: 39 mais 36 dá 75.", True), ("Let me check: 3 x 4 = 12.", True),
    ("Testando, 4 para cada um dá 9 vezes 4, que é 36.", True), ("5 x 3 = 15, e 5 x 3 = 15 de novo", True),
    ("5 vezes 15 dá 75. Resposta: 75", False), ("Answer: 12", False),
])
def test_checks_own_work(reply, want):
    assert V.checks_own_work(reply) == want


# ---- advantages and the loss -------------------------------------------------------------------

def test_group_advantages_by_hand():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0,   0.0, 0.0, 0.0, 0.0,   1.1, 0.1, 0.1, 0.1])
    a = R.group_advantages(r, 4)
    # group 1: mean 0.5, population std 0.5 -> +-1; group 2: all equal -> 0, nothing to learn;
    # group 3: mean 0.35, std sqrt(0.1875)
    std3 = 0.1875 ** 0.5
    want = [1, -1, -1, 1, 0, 0, 0, 0, 0.75 / std3, -0.25 / std3, -0.25 / std3, -0.25 / std3]
    assert torch.allclose(a, torch.tensor(want), atol=1e-3)
    b = R.group_advantages(r, 4, std_normalize=False)  # REINFORCE's mean baseline
    assert torch.allclose(b, torch.tensor([0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0, 0.75, -0.25, -0.25, -0.25]))


def test_clipping_and_token_normalisation():
    logp = torch.log(torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])).requires_grad_()
    old = torch.log(torch.tensor([[0.25, 0.5, 0.5], [0.5, 0.5, 0.5]]))  # token (0,0): ratio 2 > 1.2
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])             # 3 generated tokens
    adv = torch.tensor([1.0, -1.0])
    loss, info = R.policy_loss(logp, old, adv, mask, clip_eps=0.2)
    # -(1.2*1 + 1*1) for row 0 (token 0 clipped at 1.2), -(-1) for row 1, over 3 tokens
    assert loss.item() == pytest.approx((-(1.2 + 1.0) + 1.0) / 3)
    assert info["clip_frac"].item() == pytest.approx(1 / 3)
    loss.backward()
    assert logp.grad[0, 0] == 0          # clipped: no gradient pushes it further
    assert logp.grad[0, 2] == 0          # not generated (masked)
    assert logp.grad[0, 1] < 0 < logp.grad[1, 0]   # up for the rewarded, down for the other


def test_kl_k3_is_zero_for_the_same_policy_and_positive_otherwise():
    logp = torch.log(torch.tensor([[0.5, 0.2]]))
    mask = torch.ones(1, 2)
    _, same = R.policy_loss(logp, logp, torch.zeros(1), mask, ref_logp=logp)
    _, other = R.policy_loss(logp, logp, torch.zeros(1), mask, ref_logp=torch.log(torch.tensor([[0.3, 0.3]])))
    assert same["kl"].item() == pytest.approx(0.0) and other["kl"].item() > 0


# ---- a tiny random model and a throwaway tokenizer -----------------------------------------------

PROBLEMS = [{"id": f"M{i:05d}", "lang": "pt" if i % 2 else "en", "question": q, "answer": a, "steps": []}
            for i, (q, a) in enumerate([("2 mais 3?", 5), ("4 mais 4?", 8), ("9 menos 2?", 7), ("3 vezes 3?", 9),
                                        ("1 mais 1?", 2), ("6 menos 1?", 5), ("2 vezes 4?", 8), ("7 mais 2?", 9)])]


@pytest.fixture(scope="module")
def toy(tmp_path_factory, one_thread):
    """A run folder: world math problems, an SFT split, a random depth-1 'chat model' (context 64)."""
    from dentro.model.checkpoint import save_checkpoint
    from dentro.model.gpt import GPT, ModelConfig
    from dentro.tokenizer.bpe import train_tokenizer

    texts = [p["question"] + f" Resposta: {p['answer']}" for p in PROBLEMS] * 20 + ["user\nassistant\n"] * 20
    tok = train_tokenizer(texts, vocab_size=300)
    torch.manual_seed(0)
    model = GPT(ModelConfig.from_depth(1, vocab_size=tok.vocab_size, max_seq_len=64))
    run = tmp_path_factory.mktemp("run")
    save_checkpoint(run / "sft" / "checkpoint", model, tok, {"train_config": {
        "matrix_lr": 0.02, "embedding_lr": 0.01, "unembedding_lr": 0.004, "scalar_lr": 0.01, "adamw_lr": 1e-3,
        "optimizer": "muon"}})
    truth = run / "world" / "truth"
    truth.mkdir(parents=True)
    (truth / "math.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    conv = run / "sft" / "conversations"
    conv.mkdir(parents=True)
    (conv / "heldout.json").write_text(json.dumps({"math": ["M00006", "M00007"]}))
    return run, model, tok


def test_rollouts_are_batched_g_per_prompt(toy, monkeypatch):
    from dentro.model import engine

    _, model, tok = toy
    calls = []
    real = engine.generate_batch_all

    def counting(m, prompts, **kw):
        calls.append(len(prompts))
        return real(m, prompts, **kw)

    monkeypatch.setattr(engine, "generate_batch_all", counting)
    ro = R.rollout(model, tok, PROBLEMS[:3], 4, max_tokens=6, temperature=1.0, seed=0)
    assert calls == [12]                                   # one batch of 3 prompts x 4 samples
    assert len(ro.completions) == len(ro.texts) == ro.rewards.numel() == 12
    for p in range(3):
        assert len({tuple(ro.prompts[p * 4 + g]) for g in range(4)}) == 1   # rows p*G..p*G+G-1: problem p
        assert ro.prompts[p * 4] == R.prompt_ids(tok, PROBLEMS[p]["question"])
    assert len({tuple(c) for c in ro.completions}) > 1     # sampled: the answers differ
    again = R.rollout(model, tok, PROBLEMS[:3], 4, max_tokens=6, temperature=1.0, seed=0)
    assert again.completions == ro.completions             # the same seed, the same answers
    x, y, mask = R.pack(ro, tok.eot_id, "cpu")
    assert int(mask.sum()) == sum(len(c) for c in ro.completions)   # only generated tokens get loss
    assert y[0, len(ro.prompts[0]) - 1].item() == ro.completions[0][0]


def test_loss_gradient_raises_the_rewarded_answer(toy):
    """A group of two answers to one prompt, the first rewarded: one SGD step on the GRPO loss
    makes it more likely and the other less likely."""
    import copy

    _, model, tok = toy
    m = copy.deepcopy(model).train()
    prompt = R.prompt_ids(tok, PROBLEMS[0]["question"])
    ro = R.Rollouts(prompts=[prompt, prompt], completions=[tok.encode("Resposta: 5"), tok.encode("Resposta: 7")],
                    texts=["Resposta: 5", "Resposta: 7"], rewards=torch.tensor([1.0, 0.0]),
                    correct=torch.tensor([True, False]), well_formed=torch.tensor([False, False]),
                    closed=torch.tensor([False, False]), group_size=2)
    x, y, mask = R.pack(ro, tok.eot_id, "cpu")
    adv = R.group_advantages(ro.rewards, 2)

    def seq_logp():
        with torch.no_grad():
            return (R.token_logprobs(m, x, y) * mask).sum(1)

    before = seq_logp()
    for algo in ("grpo", "reinforce"):
        logp = R.token_logprobs(m, x, y)
        loss, _ = R.policy_loss(logp, logp.detach(), adv, mask, algo=algo)
        loss.backward()
        with torch.no_grad():
            for p in m.parameters():
                p -= 0.05 * p.grad
                p.grad = None
    after = seq_logp()
    assert after[0] > before[0] and after[1] < before[1]


# ---- `dentro rl` end to end ---------------------------------------------------------------------

def _steps(out):
    recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines() if l.strip()]
    return [(r["step"], r["loss"], r["reward_mean"], r["response_len"], r["kl"]) for r in recs if "loss" in r]


def test_rl_runs_and_resumes_exactly(toy, tmp_path, monkeypatch):
    """4 steps at once == a run killed right after its step-2 checkpoint, then --resume."""

    # a random model is never right: score answers by their length instead, so that groups
    # differ, advantages are not 0 and every step updates the weights
    monkeypatch.setattr(V, "reward", lambda reply, truth, bonus=0.1: len(reply) % 3 / 2)
    run = toy[0]
    common = ["rl", "--run", str(run), "--preset", "micro", "--steps", "4", "--save-every", "2",
              "--eval-every", "2"]
    assert cli.main(common + ["--out", str(tmp_path / "a")]) == 0
    result = json.loads((tmp_path / "a" / "result.json").read_text())
    assert result["figures"]["steps"] == 4 and (tmp_path / "a" / "reward.png").is_file()
    assert {it["id"] for it in result["before"]["items"]} <= {"M00006", "M00007"}   # held out only
    assert (tmp_path / "a" / "checkpoint" / "model.safetensors").is_file()
    killed_at_step_2_then_resumed(monkeypatch, common + ["--out", str(tmp_path / "b")])
    a, b = _steps(tmp_path / "a"), _steps(tmp_path / "b")
    assert len(a) == 4 and a == b
    recs = [json.loads(l) for l in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines() if l.strip()]
    assert not any(r.get("skipped") for r in recs)  # real updates (the loss itself may be 0: equal lengths)
    assert cli.main(common + ["--out", str(tmp_path / "c"), "--algo", "reinforce"]) == 0


def test_rl_without_sft_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["rl", "--run", str(tmp_path), "--preset", "micro"]) == 2
    assert "dentro sft" in capsys.readouterr().err


def test_report_card_section(toy):
    from dentro.commands.rl import run_stage

    figures, md = run_stage(toy[0], "micro")
    assert figures["steps"] == 4 and "pass1_before" in figures and "pass2_after" in figures
    assert "pass@1" in md and "rl/reward.png" in md and (toy[0] / "rl" / "reward.png").is_file()
    assert "What this run shows" in md and f"of {figures['groups']} groups" in md


def test_verdict_says_whether_pass1_moved_beyond_the_intervals():
    from dentro.commands.rl import _verdict

    f = {"heldout_problems": 100, "pass1_before": 0.05, "pass1_after": 0.40, "correct_rollouts": 0.2,
         "zero_adv_groups": 3, "groups": 40, "closed_before": 0.8, "closed_after": 0.9, "len_before": 60,
         "len_after": 70, "checks_before": 1, "checks_after": 5}
    assert "rose" in _verdict(f, {}, {}, 4) and "aha" not in _verdict(f, {}, {}, 4)
    assert "did not move" in _verdict({**f, "pass1_after": 0.08}, {}, {}, 4)
    assert "fell" in _verdict({**f, "pass1_before": 0.40, "pass1_after": 0.05}, {}, {}, 4)
    assert "aha" in _verdict({**f, "correct_rollouts": 0.02}, {}, {}, 4)
