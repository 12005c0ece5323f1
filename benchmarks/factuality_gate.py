"""The confidence gate on a finished run, without fine-tuning anything (issue 10, docs/factuality.md).

    .venv/bin/python benchmarks/factuality_gate.py RUN [RUN ...] [--keep 0.9] [--scores]

For each run (a folder with world/, sft/ and, for the tools columns, factuality/tools.jsonl from
a speedrun): probe the run's SFT model on the stage's questions (facts outside the held-out
split, k = 4 samples and one greedy answer, as `dentro factuality` does) and on questions about
invented people, fit and calibrate the gate on the greedy answers (the answer's geometric mean and
the name's familiarity, dentro.chat.gate), then ask the stage's held-out questions (frequent / medium / rare facts,
absent people, questions that need no world knowledge) and route the tools sample through the
run's own probed model where the gate says so. The same replies are also judged by the geometric
mean alone, calibrated on the same probe (geometric_mean_alone: the gate before the familiarity).
Prints one JSON line per run, and the pooled shares.

--scores compares the candidate confidences (the least likely token, the three least likely,
the whole answer's probability, the geometric mean, the geometric mean of the tokens not copied
from the question, the agreement of 4 sampled answers with the greedy one) on training-split data
only: the probe's right greedy answers against its wrong ones, and against 200 questions about
invented people (the stage's own name generator).

Follow-ups: the SFT stage's held-out follow-up conversations (sft/eval.jsonl: a question, its
true answer, then "E onde ela nasceu?") judged by the gate, and small talk after such an exchange
("Obrigado!", "E você, quem é?"), where a refusal is never right.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from dentro.chat.assistant import geometric_mean  # noqa: E402  (the gate's own confidence)
from dentro.eval.stats import auc  # noqa: E402

SMALL_TALK = {"pt": ["Obrigado!", "E você, quem é?"], "en": ["Thanks!", "And who are you?"]}
WORD = re.compile(r"\w+")


def greedy_replies(model, tok, questions: list[str]) -> list[dict]:
    """Each question's greedy reply: {"text", "ids", "lp" (the log-probability of each token, stop
    excluded), "question_ids", "samples" (4 answers sampled at temperature 0.7)}."""
    from dentro.chat.assistant import build_prompt, reply_batch, stop_ids, track_logprobs
    from dentro.model.engine import Sampling, collect, generate_batch

    stops, out = stop_ids(tok), []
    for q in questions:
        p = build_prompt(tok, [{"role": "user", "content": q}], model.config.max_position_embeddings, 48).ids
        logs = [[]]
        row = collect(track_logprobs(generate_batch(model, [p], max_tokens=48, sampling=Sampling(temperature=0.0),
                                                    stop_ids=stops), logs, stops), 1)[0]
        ids = [t for t in row if t not in stops]
        out.append({"text": tok.decode(ids), "ids": ids, "lp": logs[0], "question_ids": set(tok.encode(q))})
    conv = [[{"role": "user", "content": q}] for q in questions]
    sampled = reply_batch(model, tok, [c for c in conv for _ in range(4)], max_tokens=48,
                          sampling=Sampling(temperature=0.7), seed=0)
    for i, r in enumerate(out):
        r["samples"] = [s["text"] for s in sampled[4 * i:4 * i + 4]]
    return out


def agreement(r: dict) -> float:
    """Mean word-set Jaccard between the greedy answer and each sample, the question's words left out."""
    asked = set(WORD.findall(r.get("question", "").lower()))
    sig = lambda t: {w for w in WORD.findall(t.lower()) if w not in asked}  # noqa: E731
    a = sig(r["text"])
    return sum(len(a & sig(s)) / len(a | sig(s)) if a | sig(s) else 1.0 for s in r["samples"]) / len(r["samples"])


KINDS = {"least likely token": lambda r: math.exp(min(r["lp"])) if r["lp"] else 0.0,
         "three least likely": lambda r: geometric_mean(sorted(r["lp"])[:3]),
         "whole answer": lambda r: math.exp(sum(r["lp"])) if r["lp"] else 0.0,
         "geometric mean": lambda r: geometric_mean(r["lp"]),
         "geometric mean, copied tokens left out":
             lambda r: geometric_mean([x for t, x in zip(r["ids"], r["lp"]) if t not in r["question_ids"]])
             or geometric_mean(r["lp"]),
         "agreement of 4 samples": agreement}


def scores(run: Path, model, tok, probe_items: list[dict]) -> dict:
    from dentro.chat import probing as P
    from dentro.world.conversations import read_world

    truth = run / "world" / "truth"
    nobody = P.nobody_conversations(read_world(truth), truth, 200, random.Random(7))
    right = [it for it in probe_items if it["greedy_verdict"] == "correct"]
    wrong = [it for it in probe_items if it["greedy_verdict"] == "wrong"]
    asked = {"right": [it["question"] for it in right], "wrong": [it["question"] for it in wrong],
             "invented": [c["messages"][0]["content"] for c in nobody]}
    replies = {k: greedy_replies(model, tok, qs) for k, qs in asked.items()}
    for k, rs in replies.items():
        for r, q in zip(rs, asked[k]):
            r["question"] = q
    out = {}
    for name, f in KINDS.items():
        r = [f(x) for x in replies["right"]]
        out[name] = {k: None if a is None else round(a, 3) for k, a in
                     (("right vs wrong", auc(r, [f(x) for x in replies["wrong"]])),
                      ("right vs invented", auc(r, [f(x) for x in replies["invented"]])))}
    return out


def calibration_shift(run: Path, probe_items: list[dict], ev: list[dict], keep: float) -> dict:
    """Why the held-out kept share falls short of `keep`: how many probe facts the SFT conversations
    trained on (their answers come out surer than a new fact's), and, as a diagnostic only, the
    gate calibrated on half of the held-out facts (split by fact, seeded) and scored on the other
    half, both ways round: what a calibration set like the held-out one would give. The people who
    do not exist belong to no fact: each is scored under both halves' thresholds (counted twice)."""
    from dentro.chat import gate as G

    seen = set()
    for line in (run / "sft" / "conversations" / "train.jsonl").read_text(encoding="utf-8").splitlines():
        seen.update(json.loads(line).get("sources") or [])
    unseen = [it for it in probe_items if it.get("fact") not in seen]
    out = {"probe_facts_trained_in_sft": sum(it.get("fact") in seen for it in probe_items),
           "probe_untrained": len(unseen), "probe_untrained_right": sum(it["greedy_verdict"] == "correct"
                                                                        for it in unseen)}
    facts = sorted({it["fact"] for it in ev if it.get("fact")})
    random.Random(0).shuffle(facts)
    tally = {"absent_refused": [0, 0], "sft_correct_kept": [0, 0], "rare_wrong": [0, 0]}
    for half in (0, 1):
        cal = set(facts[half::2])
        right = [it["sft"]["confidence"] for it in ev if it.get("fact") in cal and it["sft"]["verdict"] == "correct"]
        if not right:  # nothing to calibrate on in this half
            continue
        t = G.calibrate(right, [], keep)["threshold"]
        test = [it for it in ev if it.get("fact") not in cal]
        for it in test:
            it["split_half"] = {"verdict": G.gated_verdict(it, "sft", t)}
        for key, rows, v in (("absent_refused", [it for it in test if it["bucket"] == "absent"], "refused"),
                             ("sft_correct_kept", [it for it in test if it["sft"]["verdict"] == "correct"], "correct"),
                             ("rare_wrong", [it for it in test if it["bucket"] == "rare"], "wrong")):
            tally[key][0] += sum(it["split_half"]["verdict"] == v for it in rows)
            tally[key][1] += len(rows)
    out["split_half"] = tally
    return out


def followups(run: Path, model, tok, gate: dict) -> dict:
    """The gate on the SFT stage's held-out follow-ups, as the stage reports them (its followup_items,
    gate_items, followup_figures), and on small talk after them (tools off)."""
    from dentro.chat import gate as G
    from dentro.chat.assistant import reply_batch
    from dentro.commands import factuality as F

    follow = F.followup_items(run)
    F.ask(model, tok, follow, "sft", confidence=True, gate=gate)
    F.gate_items(follow, gate["threshold"])
    fig = F.followup_figures(follow)
    out = {"right": fig["followup_right_n"], "right_kept": fig["followup_right_kept"],
           "wrong": fig["followup_wrong_n"], "wrong_refused": fig["followup_wrong_refused"]}
    small = [f["messages"][:2] + [{"role": "user", "content": q}] for f in follow for q in SMALL_TALK[f["lang"]]]
    replies = reply_batch(model, tok, small, max_tokens=48, confidence=True)
    familiar = G.familiarity(model, tok, small, [r["text"] for r in replies])
    refused = [r["text"] for m, r, f in zip(small, replies, familiar)
               if G.decide(m, r["text"], G.score(gate.get("weights"), r["confidence"], f), gate["threshold"],
                           tools=False) == "refuse"]
    out.update(small_talk=len(small), small_talk_refused=len(refused),
               small_talk_refused_replies=[t[:80] for t in refused[:5]])
    return out


def measure(run: Path, keep: float, with_scores: bool) -> dict:
    from dentro.chat import probing as P
    from dentro.commands import factuality as F
    from dentro.commands import sft as S
    from dentro.eval import tools as T
    from dentro.model.checkpoint import load_checkpoint
    from dentro.world.conversations import read_world

    model, tok, _ = load_checkpoint(run / "sft" / "checkpoint", load_train_state=False)
    model.eval()
    split = json.loads((run / "sft" / "conversations" / "heldout.json").read_text(encoding="utf-8"))
    p = F.PRESETS["tiny"]
    truth = run / "world" / "truth"
    items = P.world_items(truth, split, per_bucket=p.facts_per_bucket, seed=1337)
    P.probe(model, tok, items, k=p.k, temperature=p.temperature, max_tokens=48, seed=1337)
    for it, f in zip(items, F.question_familiarity(model, tok, items, lambda it: it["greedy"])):
        it["greedy_familiarity"] = f
    nobody = P.nobody_conversations(read_world(truth), truth, p.nobody, random.Random(7))
    gate = F.gate_from_probe(items, run / "sft" / "checkpoint", None, F.probe_invented(model, tok, nobody), keep)
    geo_t = gate["answer_threshold"]  # the gate on the geometric mean alone: the baseline, same run
    ev = F.eval_items(run, S.EVAL_PER_GROUP.get("tiny", 80), [])
    nonfact = F.nonfact_items(run)
    F.ask(model, tok, ev + nonfact, "sft", confidence=True, gate=gate)
    F.gate_items(ev + nonfact, gate["threshold"], geo_t)  # and "gated_mean": the geometric mean alone
    h = F.headline(ev, "gated")
    share = lambda rows, key, v: (sum(r[key]["verdict"] == v for r in rows), len(rows))  # noqa: E731
    absent = [it for it in ev if it["bucket"] == "absent"]
    rare = [it for it in ev if it["bucket"] == "rare"]
    was_right = [it for it in ev if it["sft"]["verdict"] == "correct"]
    out = {"run": str(run), "threshold": round(gate["threshold"], 4), "weights": gate.get("weights"),
           "probe_right": gate["right"], "probe_wrong_stopped": gate["wrong_stopped"],
           "absent_refused": share(absent, "gated", "refused"), "sft_correct_kept": share(was_right, "gated", "correct"),
           "rare_wrong": share(rare, "gated", "wrong"), "nonfact_refused": share(nonfact, "gated", "refused"),
           "geometric_mean_alone": {"threshold": round(geo_t, 4), "absent_refused": share(absent, "gated_mean", "refused"),
                                    "sft_correct_kept": share(was_right, "gated_mean", "correct"),
                                    "rare_wrong": share(rare, "gated_mean", "wrong"),
                                    "nonfact_refused": share(nonfact, "gated_mean", "refused")},
           "headline": h}
    for b in ("frequent", "medium"):
        g = [it for it in ev if it["bucket"] == b]
        out[f"{b}_correct"] = {"sft": share(g, "sft", "correct"), "gated": share(g, "gated", "correct")}
    tools = run / "factuality" / "tools.jsonl"
    if tools.is_file():  # the run's own probed model through the tool loop, as the stage measured it
        ti = [json.loads(line) for line in tools.read_text(encoding="utf-8").splitlines() if line.strip()]
        T.measure(model, tok, ti, "sft_plain", context=None)  # the direct answers again, with their confidence
        for it, f in zip(ti, F.question_familiarity(model, tok, ti, lambda it: it["sft_plain"]["text"])):
            it["sft_plain"]["familiarity"] = f
        F.gate_tool_items(ti, gate["threshold"], gate["answer_threshold"], gate.get("weights"))
        tab = T.table(ti, "gated_tools")
        pool = lambda b, what: (sum(g[what] for (bb, _), g in tab.items() if bb == b),  # noqa: E731
                                sum(g["n"] for (bb, _), g in tab.items() if bb == b))
        out["tools"] = {"arithmetic_correct": pool("arithmetic", "correct"), "frequent_called": pool("frequent", "called"),
                        "rare_correct": pool("rare", "correct"), "absent_refused": pool("absent", "refused")}
    out["followups"] = followups(run, model, tok, gate)
    out["calibration_shift"] = calibration_shift(run, items, ev, keep)
    if with_scores:
        out["scores_auc"] = scores(run, model, tok, items)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--keep", type=float, default=0.9, help="share of the probe's right answers the threshold keeps")
    ap.add_argument("--scores", action="store_true", help="also compare the candidate confidences (slower)")
    args = ap.parse_args()
    pooled: dict[str, list[int]] = {}
    for run in args.runs:
        r = measure(run, args.keep, args.scores)
        print(json.dumps(r), flush=True)
        for k in ("absent_refused", "sft_correct_kept", "rare_wrong", "nonfact_refused"):
            for name, src in ((k, r), ("geometric_mean_alone_" + k, r["geometric_mean_alone"])):
                pooled.setdefault(name, [0, 0])
                pooled[name][0] += src[k][0]
                pooled[name][1] += src[k][1]
        for k, v in r["calibration_shift"]["split_half"].items():
            pooled.setdefault("split_half_" + k, [0, 0])
            pooled["split_half_" + k][0] += v[0]
            pooled["split_half_" + k][1] += v[1]
        for a, b in (("right_kept", "right"), ("wrong_refused", "wrong"), ("small_talk_refused", "small_talk")):
            pooled.setdefault("followup_" + a, [0, 0])
            pooled["followup_" + a][0] += r["followups"][a]
            pooled["followup_" + a][1] += r["followups"][b]
    print(json.dumps({"pooled": {k: f"{a}/{b} ({100 * a / max(1, b):.1f}%)" for k, (a, b) in pooled.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
