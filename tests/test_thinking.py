"""The step-by-step vs direct measurement: both forms asked of the same problems, counted apart."""

import types

import dentro.train.rl as rl
from dentro.eval import thinking


def test_measure_asks_both_forms_and_counts_them(monkeypatch):
    calls = []

    def fake_evaluate(model, tok, problems, *, max_tokens, batch_size, think):
        calls.append((think, max_tokens, [p["question"] for p in problems]))
        # the thinking form gets the even problems right, the direct form none
        items = [{"question": p["question"], "answer": p["answer"], "correct": think and i % 2 == 0,
                  "reply": ("<think>\nx\n</think>\n\n1" if think else "1")} for i, p in enumerate(problems)]
        return {"pass1": sum(it["correct"] for it in items) / len(items), "mean_len": 9.0 if think else 2.0,
                "items": items}

    monkeypatch.setattr(rl, "evaluate", fake_evaluate)
    monkeypatch.setattr(rl, "prompt_ids", lambda tok, q, think=True: [0] * (len(q) + (4 if not think else 0)))
    model = types.SimpleNamespace(config=types.SimpleNamespace(max_position_embeddings=40))
    short = [{"question": f"q{i}", "answer": i} for i in range(4)]
    too_long = {"question": "x" * 30, "answer": 0}  # 30 + 4 (THINK_OFF) + 8 of room > 40: not measured
    out = thinking.measure(model, None, {"arith": short + [too_long], "empty": []})
    assert set(out) == {"arith"}  # an empty group is left out
    r = out["arith"]
    assert r["n"] == 4 and r["think_correct"] == 2 and r["direct_correct"] == 0
    assert r["think"] == 0.5 and r["direct"] == 0.0 and r["opened_think"] == 1.0
    assert [(c[0], c[1]) for c in calls] == [(True, thinking.THINK_TOKENS), (False, thinking.DIRECT_TOKENS)]
    assert calls[0][2] == calls[1][2] == ["q0", "q1", "q2", "q3"]  # the same problems in both forms
    assert r["items"][0]["think_correct"] and not r["items"][0]["direct_correct"]


def test_by_operation_groups_held_out_arithmetic():
    from dentro.world.arithmetic import split

    _, held = split(30, 30, seed=1)
    groups = thinking.by_operation(held)
    assert set(groups) == {"addition", "subtraction", "multiplication by one digit"}
    assert sum(map(len, groups.values())) == 30
