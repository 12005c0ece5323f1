"""The scoreboard's claims: a verdict follows the measured contrast and its intervals."""

from dentro.eval.scoreboard import claims, fmt, rate, scoreboard_rows, separated


def by_claim(rows, word):
    return next(r for r in rows if word in r["claim"])


def test_separated_needs_margin_and_disjoint_intervals():
    assert separated(rate(90, 100), rate(10, 100), 0.3)
    assert not separated(rate(9, 10), rate(5, 10), 0.3)  # 40 points, but n=10: the intervals overlap
    assert not separated(rate(50, 100), rate(40, 100), 0.3)  # disjoint enough? no: under the margin
    assert rate(0, 0) is None and fmt(rate(0, 0)) == "–"
    assert not separated(None, rate(1, 2), 0.1) and not separated(rate(1, 2), rate(0, 0), 0.1)


def test_claims_follow_the_numbers():
    strong = {"base": {"world_frequent": rate(95, 100), "world_rare": rate(5, 100)},
              "sft": {"reverse_forward": rate(90, 100), "reverse_forward_only": rate(2, 100),
                      "reverse_both": rate(80, 100), "absent_answered": rate(100, 100),
                      "arith_think": rate(95, 100), "arith_direct": rate(20, 100),
                      "word_think": rate(30, 100)},
              "factuality": {"absent_answered": rate(10, 100)},
              "rl": {"word_think": rate(60, 100)}}
    rows = claims(strong, {"sft_correct_kept": 0.95})
    assert all(r["verdict"].startswith("reproduced") for r in rows if "Tools" not in r["claim"]), rows
    assert by_claim(rows, "reversal")["verdict"] == "reproduced (chat model, questions)"
    # the base model's cloze can carry the claim when the chat model's questions fail the control
    base_curse = {**strong, "base": {**strong["base"], "reverse_forward_only": rate(0, 40),
                                     "reverse_both": rate(30, 40)},
                  "sft": {**strong["sft"], "reverse_both": rate(1, 100)}}
    assert by_claim(claims(base_curse), "reversal")["verdict"] == "reproduced (base model, cloze)"
    no_contrast = {"sft": {"reverse_forward_only": rate(70, 100), "reverse_both": rate(75, 100)}}
    assert "as well for forward-only" in by_claim(claims(no_contrast), "reversal")["verdict"]
    assert by_claim(rows, "Tools")["verdict"].startswith("not measured")

    weak = {"base": {"world_frequent": rate(50, 100), "world_rare": rate(40, 100)},
            "sft": {"reverse_forward_only": rate(2, 100), "reverse_both": rate(5, 100),
                    "absent_answered": rate(100, 100), "arith_think": rate(3, 100), "arith_direct": rate(0, 100)},
            "factuality": {"absent_answered": rate(20, 100)}}
    rows = claims(weak, {"sft_correct_kept": 0.33})
    assert by_claim(rows, "repeats")["verdict"].startswith("not reproduced")
    assert "control fails" in by_claim(rows, "reversal")["verdict"]
    hallu = by_claim(rows, "Hallucinations")["verdict"]
    assert hallu.startswith("reproduced") and "33%" in hallu  # fixed, at a cost said aloud
    assert "gate" not in by_claim(rows, "Hallucinations")["measured"]  # a run without one
    gated = claims(weak, {"sft_correct_kept": 0.33, "gate": {"absent_refused": 0.8125, "sft_correct_kept": 0.9}})
    assert "confidence gate refused 81% of them and kept 90%" in by_claim(gated, "Hallucinations")["measured"]
    assert "single-digit" in by_claim(rows, "tokens to think")["verdict"]
    assert by_claim(rows, "Reinforcement")["verdict"].startswith("not measured")


def test_scoreboard_rows_only_columns_measured():
    head, rows = scoreboard_rows({"base": {"world_frequent": rate(3, 4)}, "sft": {"world_frequent": rate(1, 4),
                                                                                 "absent_answered": rate(4, 4)}})
    assert head == ["checkpoint", "held-out facts, frequent", "made-up answers about nobody ↓"]
    assert rows[0] == ["base", fmt(rate(3, 4)), "–"] and rows[1][0] == "sft"
    assert fmt(rate(3, 4)).startswith("75% (3/4; ")


def test_memory_curve_bins_facts_by_pages_and_relation(monkeypatch):
    import dentro.eval.knowledge as K
    from dentro.commands.eval import memory_curve

    items = [{"kept_pages": p, "relation": rel, "answers": [f"A{i}"]}
             for i, (p, rel) in enumerate([(1, "mother"), (1, "hq"), (2, "mother"), (20, "hq"), (20, "hq"),
                                           (40, "mother"), (0, "hq")])]
    monkeypatch.setattr(K, "load_items", lambda truth, held, per_group, buckets: items)
    monkeypatch.setattr(K, "cloze_prompts", lambda truth, its: ["p"] * len(its))
    # the scripted model completes a fact when 16+ pages state it
    monkeypatch.setattr(K, "run_cloze", lambda model, tok, prompts: [
        f" {it['answers'][0]}." if it["kept_pages"] >= 16 else " ?" for it in items])
    m = memory_curve(None, None, None, set(), 10)
    assert [(b["pages"], b["k"], b["n"]) for b in m["bins"]] == [("1", 0, 2), ("2–3", 0, 1), ("16–31", 2, 2),
                                                                  ("32+", 1, 1)]
    assert (m["relations"]["hq"]["k"], m["relations"]["hq"]["n"]) == (2, 4)
    assert m["filtered_out"]["n"] == 1 and m["filtered_out"]["k"] == 0


def test_tools_claim_compares_each_tool_with_the_same_questions_without_it():
    from dentro.eval.scoreboard import tools_claim

    def g(n, correct, called=0, search=0):
        return {"n": n, "correct": correct, "refused": 0, "wrong": n - correct, "called": called, "search": search,
                "python": 0}

    both = {"probed/tools": {"rare/pt": g(40, 36, 40, 40), "rare/en": g(40, 34, 40, 40),
                             "arithmetic/pt": g(50, 49, 50), "frequent/pt": g(40, 30, 2)},
            "probed/plain": {"rare/pt": g(40, 2), "rare/en": g(40, 1), "arithmetic/pt": g(50, 0),
                             "frequent/pt": g(40, 31)}}
    c = tools_claim(both)
    assert c["verdict"] == "reproduced" and "88% (70/80" in c["measured"] and "5% (2/40" in c["measured"]
    python_only = {**both, "probed/tools": {**both["probed/tools"], "rare/pt": g(40, 3, 40, 40),
                                            "rare/en": g(40, 2, 40, 40)}}
    assert tools_claim(python_only)["verdict"] == "partly reproduced: python only"
    calls_but_no_help = {"probed/tools": {k: g(v["n"], v["correct"], v["n"]) for k, v in both["probed/plain"].items()},
                         "probed/plain": both["probed/plain"]}
    assert tools_claim(calls_but_no_help)["verdict"].startswith("not reproduced")
    assert tools_claim(None)["verdict"].startswith("not measured") and tools_claim({})["measured"] == "–"


def test_load_items_limits_each_bucket_on_its_own(tmp_path):
    """The eval stage asks every held-out frequent fact and a sample of the other buckets: a dict
    per_group limits each bucket it names, in both languages alike, and leaves the others whole."""
    import json

    from dentro.eval import knowledge as K

    q = tmp_path / "questions"
    q.mkdir()
    for lang in ("pt", "en"):
        for bucket, n in (("frequent", 6), ("rare", 6), ("absent", 5)):
            (q / f"{lang}_forward_{bucket}.jsonl").write_text("".join(
                json.dumps({"fact": None if bucket == "absent" else f"{bucket}{i}", "question": f"{lang} {bucket} {i}?",
                            "answers": [], "lang": lang, "bucket": bucket}) + "\n" for i in range(n)))
    held = {f"{b}{i}" for b in ("frequent", "rare") for i in range(5)}   # the sixth of each is trained on
    items = K.load_items(tmp_path, held, per_group={"frequent": 10, "rare": 2}, buckets=("frequent", "rare", "absent"))
    by = {}
    for it in items:
        by.setdefault((it["bucket"], it["lang"]), []).append(it["fact"])
    assert len(by["frequent", "pt"]) == 5 and "frequent5" not in by["frequent", "pt"]   # all held-out ones
    assert len(by["rare", "pt"]) == 2 and sorted(by["rare", "pt"]) == sorted(by["rare", "en"])
    assert len(by["absent", "pt"]) == len(by["absent", "en"]) == 5   # not named: no limit
    assert len(K.load_items(tmp_path, held, per_group=3, buckets=("frequent",))) == 6   # an int: every bucket
