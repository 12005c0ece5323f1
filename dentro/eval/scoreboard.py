"""The report card's scoreboard (checkpoints x evaluations) and the course's claims, each with the
measured numbers that support or contradict it and a verdict a reader can check.

    scoreboard_rows(results)   results: {checkpoint: {evaluation: {"rate", "n", "ci"}}} -> table rows
    claims(results, extra)     [{"claim", "measured", "verdict"}]: verdict "reproduced",
                               "not reproduced: <why>" or "not measured: <why>"

A verdict needs a contrast larger than its intervals: a claim is reproduced only when the two
rates that make it differ by the claim's margin AND their 95% intervals do not overlap.
"""

from __future__ import annotations

# (evaluation key, column title) in the scoreboard's order
COLUMNS = [
    ("world_frequent", "held-out facts, frequent"),
    ("world_rare", "held-out facts, rare"),
    ("absent_answered", "made-up answers about nobody ↓"),
    ("reverse_forward_only", "reverse, forward-only facts"),
    ("reverse_both", "reverse, both-ways facts"),
    ("arith_think", "arithmetic, step by step"),
    ("arith_direct", "arithmetic, direct"),
    ("word_think", "word problems, step by step"),
    ("word_direct", "word problems, direct"),
]


def rate(k: int, n: int) -> dict | None:
    """{"rate", "n", "k", "ci"} (95% Wilson); None when nothing was measured (n = 0)."""
    from dentro.eval.stats import wilson

    return {"rate": k / n, "n": n, "k": k, "ci": list(wilson(k, n))} if n else None


def fmt(r: dict | None) -> str:
    if not r or not r.get("n"):
        return "–"
    lo, hi = r["ci"]
    return f"{100 * r['rate']:.0f}% ({r['k']}/{r['n']}; {100 * lo:.0f}–{100 * hi:.0f})"


def scoreboard_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    cols = [(k, t) for k, t in COLUMNS if any(k in r for r in results.values())]
    return ["checkpoint"] + [t for _, t in cols], [[name] + [fmt(r.get(k)) for k, _ in cols]
                                                   for name, r in results.items()]


def separated(hi: dict | None, lo: dict | None, margin: float) -> bool:
    """hi's rate exceeds lo's by at least margin and their 95% intervals do not overlap."""
    if not hi or not lo or not hi.get("n") or not lo.get("n"):
        return False
    return hi["rate"] - lo["rate"] >= margin and hi["ci"][0] > lo["ci"][1]


def tools_claim(tables: dict | None) -> dict:
    """The tools claim from the factuality stage's tool tables (eval.json "tools": {"probed/tools",
    "probed/plain"}: {"bucket/lang": counts}): rare facts with search and 4-5 digit arithmetic
    with python, each against the same questions without tools (30 points beyond the intervals)."""
    claim = "Tools: search and python fix what the model cannot recall or compute"
    if not tables or "probed/tools" not in tables:
        return {"claim": claim, "measured": "–", "verdict": "not measured: no tool use was trained in this run"}

    from dentro.eval.tools import pooled as counts

    def pooled(key: str, bucket: str, what: str = "correct") -> dict | None:
        return rate(*counts(tables, key, bucket, what))

    rare_t, rare_p = pooled("probed/tools", "rare"), pooled("probed/plain", "rare")
    ar_t, ar_p = pooled("probed/tools", "arithmetic"), pooled("probed/plain", "arithmetic")
    searched, needless = pooled("probed/tools", "rare", "search"), pooled("probed/tools", "frequent", "called")
    fixed = [name for name, hi, lo in (("search", rare_t, rare_p), ("python", ar_t, ar_p)) if separated(hi, lo, 0.3)]
    return {"claim": claim,
            "measured": f"after probing: rare facts correct {fmt(rare_t)} with tools (search called {fmt(searched)}) vs "
                        f"{fmt(rare_p)} without; 4-5 digit arithmetic {fmt(ar_t)} with python vs {fmt(ar_p)} "
                        f"without; a tool called for a frequent fact {fmt(needless)}",
            "verdict": "reproduced" if len(fixed) == 2 else f"partly reproduced: {fixed[0]} only" if fixed else
                       "not reproduced: with the tools the answers are not 30 points more often right"}


def gate_text(gate: dict | None) -> str:
    """"; the SFT model behind the confidence gate: ..." from the factuality stage's gate figures."""
    if not gate or gate.get("absent_refused") is None:
        return ""
    return (f"; the SFT model behind the confidence gate refused {100 * gate['absent_refused']:.0f}% of them and "
            f"kept {100 * (gate.get('sft_correct_kept') or 0):.0f}% of its right answers")


def claims(results: dict, extra: dict | None = None) -> list[dict]:
    """The course's claims against the measured results (see the module docstring)."""
    extra = extra or {}
    base, sft = results.get("base", {}), results.get("sft", {})
    fact = results.get("factuality", {})
    out = []

    f, r = base.get("world_frequent"), base.get("world_rare")
    out.append({"claim": "The base model stores what the internet repeats (frequent facts, not rare ones)",
                "measured": f"base model, cloze: frequent {fmt(f)}, rare {fmt(r)}",
                "verdict": "reproduced" if separated(f, r, 0.3) else
                "not reproduced: frequent and rare facts are not 30 points apart beyond their intervals"
                if f and r else "not measured: no base model"})

    measured, verdicts = [], {}
    for name, label in (("base", "base model, cloze"), ("sft", "chat model, questions")):
        r = results.get(name, {})
        fo, both = r.get("reverse_forward_only"), r.get("reverse_both")
        if not (fo and both):
            continue
        measured.append(f"{label}: forward {fmt(r.get('reverse_forward'))}; of the facts known forward, reverse on "
                        f"forward-only facts {fmt(fo)}, on both-ways facts {fmt(both)}; reverse with the fact in "
                        f"context {fmt(r.get('reverse_in_context'))}")
        verdicts[label] = ("reproduced" if separated(both, fo, 0.2) else
                           "control" if both["rate"] < 0.5 else "no contrast")
    if not verdicts:
        v = "not measured: no model answered reverse questions about facts it knows forward"
    elif "reproduced" in verdicts.values():
        v = "reproduced (" + ", ".join(k for k, x in verdicts.items() if x == "reproduced") + ")"
    elif all(x == "control" for x in verdicts.values()):
        v = ("not reproduced: the control fails — the models rarely answer in reverse even facts the crawl wrote "
             "both ways, so the curse cannot be told from a weak model")
    else:
        v = "not reproduced: reverse questions are answered as well for forward-only facts"
    out.append({"claim": "The reversal curse: a fact read only as \"A's mother is B\" does not answer "
                         "\"who is B's son?\"",
                "measured": "; ".join(measured) or "–", "verdict": v})

    a0, a1 = sft.get("absent_answered"), fact.get("absent_answered")
    kept = extra.get("sft_correct_kept")
    if a0 and a1:
        v = "reproduced" if separated(a0, a1, 0.3) else "not reproduced: the made-up answers did not drop by 30 points"
        if v == "reproduced" and kept is not None and kept < 0.9:
            v += f" (at a cost: only {100 * kept:.0f}% of the SFT model's right answers were kept)"
        out.append({"claim": "Hallucinations: a chat model makes up answers; knowledge probing teaches it to say "
                             "\"I don't know\"",
                    "measured": f"questions about people who do not exist, answered with a made-up fact: SFT "
                                f"{fmt(a0)}, after probing {fmt(a1)}" + gate_text(extra.get("gate")),
                    "verdict": v})
    else:
        out.append({"claim": "Hallucinations and their fix", "measured": fmt(a0),
                    "verdict": "not measured: no factuality checkpoint"})

    out.append(tools_claim(extra.get("tools")))

    t, d = sft.get("arith_think"), sft.get("arith_direct")
    if t and d:
        v = "reproduced" if separated(t, d, 0.3) else (
            "not reproduced: the model gets the single-digit steps wrong, so neither form works"
            if t["rate"] < 0.2 else "not reproduced: step by step is not 30 points better")
        out.append({"claim": "Models need tokens to think: worked steps beat an answer at once",
                    "measured": f"held-out multi-digit arithmetic, step by step {fmt(t)} vs direct {fmt(d)}; "
                                f"word problems {fmt(sft.get('word_think'))} vs {fmt(sft.get('word_direct'))}",
                    "verdict": v})
    else:
        out.append({"claim": "Models need tokens to think", "measured": "–", "verdict": "not measured"})

    rl, before = results.get("rl", {}).get("word_think"), sft.get("word_think")
    out.append({"claim": "Reinforcement learning on checkable problems improves the model beyond imitation",
                "measured": f"held-out word problems, step by step: SFT {fmt(before)}, RL {fmt(rl)}" if rl else "–",
                "verdict": ("reproduced" if separated(rl, before, 0.15) else
                            "not reproduced: pass@1 did not rise 15 points beyond the intervals") if rl and before
                else "not measured: no RL checkpoint in this run (`dentro rl`)"})
    return out
