"""Intervals, centred accuracy, and the arena's Bradley-Terry ratings on simulated battles and on
votes read from the web UI's SQLite file."""

import math
import random

import numpy as np
import pytest

from dentro.eval import arena as A
from dentro.eval.stats import bootstrap_mean, centred, wilson


def test_wilson_known_values():
    lo, hi = wilson(8, 10)  # the textbook example: 0.8 with n = 10 -> (0.490, 0.943)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 10)[0] == 0 and wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)  # not zero-width
    assert wilson(0, 0) == (0.0, 0.0)


def test_bootstrap_mean_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small, big = rng.normal(5, 1, 30), rng.normal(5, 1, 3000)
    lo, hi = bootstrap_mean(small)
    assert lo < small.mean() < hi
    blo, bhi = bootstrap_mean(big)
    assert blo < 5 < bhi and (bhi - blo) < (hi - lo) / 5
    assert (bhi - blo) == pytest.approx(2 * 1.96 / math.sqrt(3000), rel=0.15)  # the normal theory width
    assert bootstrap_mean([3.0, 3.0]) == (3.0, 3.0)
    assert all(math.isnan(v) for v in bootstrap_mean([]))


def test_centred_accuracy():
    assert centred(0.25, 0.25) == 0
    assert centred(1.0, 0.25) == 1
    assert centred(0.625, 0.25) == pytest.approx(0.5)
    assert centred(0.0, 0.5) == -1
    assert centred(0.3, 0.0) == 0.3
    with pytest.raises(ValueError):
        centred(0.5, 1.0)


def simulate(strengths: dict[str, float], n: int, tie_rate: float = 0.0, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    names = sorted(strengths)
    out = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        p = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
        if rng.random() < tie_rate:
            w = "tie"
        else:
            w = "a" if rng.random() < p else "b"
        out.append({"model_a": a, "model_b": b, "winner": w})
    return out


def test_bradley_terry_recovers_known_strengths():
    truth = {"w": 800, "x": 1000, "y": 1100, "z": 1300}
    battles = simulate(truth, 6000)
    r = A.ratings(battles)
    assert sorted(r, key=r.get) == ["w", "x", "y", "z"]
    mean = sum(truth.values()) / 4
    for m, v in truth.items():  # centred at 1000: the true gaps, within sampling error
        assert r[m] == pytest.approx(v - mean + 1000, abs=40)
    assert sum(r.values()) / 4 == pytest.approx(1000)
    pinned = A.ratings(battles, anchor="x")
    assert pinned["x"] == pytest.approx(1000) and pinned["z"] - pinned["x"] == pytest.approx(r["z"] - r["x"])


def test_bradley_terry_ties_count_half():
    even = [{"model_a": "p", "model_b": "q", "winner": "tie"}] * 50
    r = A.ratings(even)
    assert r["p"] == pytest.approx(r["q"])
    # 30 wins, 10 losses, 20 ties = 40 of 60 points: odds 2 -> 400 log10(2) = 120 points apart
    mixed = ([{"model_a": "p", "model_b": "q", "winner": "a"}] * 30 + [{"model_a": "q", "model_b": "p", "winner": "a"}] * 10
             + [{"model_a": "q", "model_b": "p", "winner": "tie"}] * 20)
    r = A.ratings(mixed, l2=0)
    assert r["p"] - r["q"] == pytest.approx(400 * math.log10(2), abs=0.01)
    # with ties among noisy battles the order is still recovered
    r = A.ratings(simulate({"a1": 900, "b1": 1000, "c1": 1150}, 3000, tie_rate=0.3, seed=2))
    assert sorted(r, key=r.get) == ["a1", "b1", "c1"]


def test_a_model_that_never_lost_stays_finite():
    battles = [{"model_a": "top", "model_b": "low", "winner": "a"}] * 30
    r = A.ratings(battles)
    assert all(math.isfinite(v) for v in r.values()) and r["top"] > r["low"] + 400


def test_leaderboard_intervals_and_counts():
    battles = simulate({"m1": 900, "m2": 1000, "m3": 1200}, 900, tie_rate=0.2, seed=3)
    rows = A.leaderboard(battles, samples=100)
    assert [r["model"] for r in rows] == ["m3", "m2", "m1"]
    for r in rows:
        assert r["ci"][0] <= r["rating"] <= r["ci"][1] and r["ci"][1] - r["ci"][0] < 200
        assert r["wins"] + r["ties"] + r["losses"] == r["battles"]
    assert sum(r["battles"] for r in rows) == 2 * len(battles)


def test_judge_grades_answers_from_the_truth():
    item = {"question": "Onde Ana nasceu?", "answers": ["Campinas"]}
    right, wrong, no = "Ana nasceu em Campinas.", "Ana nasceu em Lisboa.", "Não sei onde Ana nasceu."
    assert A.judge(item, right, wrong) == "a" and A.judge(item, wrong, right) == "b"
    assert A.judge(item, no, wrong) == "a"  # refusal beats wrong
    assert A.judge(item, right, no) == "tie" and A.judge(item, wrong, wrong) == "tie"
    absent = {"question": "Onde nasceu Zé Ninguém?", "answers": []}
    assert A.judge(absent, "Zé nasceu em Campinas.", "I don't know who that is.") == "b"
    battles = A.auto_battles([item, absent], {"s": [right, no], "r": [wrong, "Em Paris."], "t": [no, no]}, seed=1)
    assert len(battles) == 2 * 3
    for x in battles:  # whatever side a model landed on, the verdict follows the answers
        wins = {"a": x["model_a"], "b": x["model_b"]}.get(x["winner"])
        assert wins != "r"


def test_votes_read_from_the_ui_sqlite(tmp_path):
    from dentro.serve.ui_api import Votes

    path = tmp_path / "arena" / "votes.sqlite"
    assert A.read_votes(path) == []
    v = Votes(path)
    for a, b, w in [("dentro-sft", "dentro-base", "a")] * 6 + [("dentro-base", "dentro-sft", "b")] * 3 + \
            [("dentro-sft", "dentro-base", "tie"), ("dentro-sft", "dentro-base", "both_bad")]:
        v.add(a, b, "Onde Ana nasceu?", w)
    votes = A.read_votes(path)
    assert len(votes) == 11 and all(x["source"] == "vote" for x in votes)
    assert sum(x["winner"] == "tie" for x in votes) == 2  # both_bad counts as a tie
    rows = A.leaderboard(votes, samples=20)
    assert rows[0]["model"] == "dentro-sft" and rows[0]["wins"] == 9 and rows[0]["ties"] == 2


def test_plot(tmp_path):
    rows = A.leaderboard(simulate({"a": 900, "b": 1100}, 200), samples=20)
    assert A.plot_leaderboard(tmp_path / "lb.png", rows, title="t").stat().st_size > 1000


def test_dentro_arena_end_to_end(tmp_path, one_thread, capsys):
    """Two throwaway checkpoints answer a hand-written world's held-out questions; with a few
    votes the leaderboard rates both, and the files are written."""
    import json

    import torch

    from dentro import cli
    from dentro.model.checkpoint import save_checkpoint
    from dentro.model.gpt import GPT, ModelConfig
    from dentro.serve.ui_api import Votes
    from dentro.tokenizer.bpe import train_tokenizer

    run = tmp_path / "run"
    q = run / "world" / "truth" / "questions"
    q.mkdir(parents=True)
    rows = {"frequent": [{"fact": "F1", "question": "Where was Ana born?", "answers": ["Campinas"]},
                         {"fact": "F2", "question": "Where was Rui born?", "answers": ["Lisbon"]}],
            "absent": [{"fact": None, "question": "Where was Zeca Nobody born?", "answers": []}]}
    for bucket, rs in rows.items():
        (q / f"en_forward_{bucket}.jsonl").write_text("".join(
            json.dumps({**r, "lang": "en", "bucket": bucket}) + "\n" for r in rs), encoding="utf-8")
    (run / "sft" / "conversations").mkdir(parents=True)
    (run / "sft" / "conversations" / "heldout.json").write_text(json.dumps({"facts": ["F1", "F2"]}))
    tok = train_tokenizer(["Where was Ana born? Campinas. I don't know."] * 20, vocab_size=300)
    for seed, stage in ((0, "pretrain"), (1, "sft")):
        torch.manual_seed(seed)
        save_checkpoint(run / stage / "checkpoint", GPT(ModelConfig.from_depth(1, vocab_size=tok.vocab_size,
                                                                                max_seq_len=64)), tok)
    v = Votes(run / "arena" / "votes.sqlite")
    for _ in range(3):
        v.add("dentro-sft", "dentro-base", "hi", "a")
    assert cli.main(["arena", "--run", str(run), "--samples", "20"]) == 0
    lb = json.loads((run / "arena" / "leaderboard.json").read_text())
    assert lb["auto_battles"] == 3 and lb["votes"] == 3
    assert {r["model"] for r in lb["leaderboard"]} == {"dentro-base", "dentro-sft"}
    battles = [json.loads(l) for l in (run / "arena" / "battles.jsonl").read_text().splitlines()]
    assert {b["prompt"] for b in battles} == {r["question"] for rs in rows.values() for r in rs}
    assert (run / "arena" / "leaderboard.png").is_file() and "dentro-sft" in capsys.readouterr().out


def test_auc_counts_pairs_and_ties():
    from dentro.eval.stats import auc

    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5, 0.9], [0.5, 0.1]) == (0.5 + 1 + 1 + 1) / 4  # the tie at 0.5 counts half
    assert auc([], [0.3]) is None and auc([0.3], []) is None
