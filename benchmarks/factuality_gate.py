"""The confidence gate on a finished run, without fine-tuning anything (issue 10, docs/factuality.md).

    .venv/bin/python benchmarks/factuality_gate.py RUN [RUN ...] [--keep 0.9] [--scores]

For each run (a folder with world/, sft/ and, for the tools columns, factuality/tools.jsonl from
a speedrun): probe the run's SFT model on the stage's questions (facts outside the held-out
split, k = 4 samples and one greedy answer, as `dentro factuality` does), calibrate the gate on
the greedy answers, then ask the stage's held-out questions (frequent / medium / rare facts,
absent people, questions that need no world knowledge) and route the tools sample through the
run's own probed model where the gate says so. Prints one JSON line per run, and the pooled
shares.

--scores compares the candidate confidences (the least likely token, the whole answer's
probability, the geometric mean) on training-split data only: the probe's right greedy answers
against 200 questions about invented people (the stage's own name generator).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def greedy_token_logprobs(model, tok, questions: list[str]) -> list[list[float]]:
    """Each question's greedy reply, as the log-probabilities of its tokens (stop excluded)."""
    from dentro.chat.assistant import build_prompt, stop_ids, track_logprobs
    from dentro.model.engine import Sampling, collect, generate_batch

    stops, out = stop_ids(tok), []
    for q in questions:
        p = build_prompt(tok, [{"role": "user", "content": q}], model.config.max_position_embeddings, 48).ids
        logs = [[]]
        collect(track_logprobs(generate_batch(model, [p], max_tokens=48, sampling=Sampling(temperature=0.0),
                                              stop_ids=stops), logs, stops), 1)
        out.append(logs[0])
    return out


def auc(pos: list[float], neg: list[float]) -> float:
    return sum((x > y) + 0.5 * (x == y) for x in pos for y in neg) / (len(pos) * len(neg))


def scores(run: Path, model, tok, probe_items: list[dict]) -> dict:
    from dentro.chat import probing as P
    from dentro.world.conversations import read_world

    truth = run / "world" / "truth"
    nobody = P.nobody_conversations(read_world(truth), truth, 200, random.Random(7))
    right = [it for it in probe_items if it["greedy_verdict"] == "correct"]
    r_logs = greedy_token_logprobs(model, tok, [it["question"] for it in right])
    n_logs = greedy_token_logprobs(model, tok, [c["messages"][0]["content"] for c in nobody])
    kinds = {"least likely token": lambda lp: math.exp(min(lp)) if lp else 0.0,
             "whole answer": lambda lp: math.exp(sum(lp)) if lp else 0.0,
             "geometric mean": lambda lp: math.exp(sum(lp) / len(lp)) if lp else 0.0}
    out = {}
    for name, f in kinds.items():
        out[name] = {lang: round(auc([f(lp) for it, lp in zip(right, r_logs) if it["lang"] == lang],
                                     [f(lp) for c, lp in zip(nobody, n_logs) if c["lang"] == lang]), 3)
                     for lang in ("pt", "en")}
    return out


def measure(run: Path, keep: float, with_scores: bool) -> dict:
    from dentro.chat import gate as G
    from dentro.chat import probing as P
    from dentro.commands import factuality as F
    from dentro.commands import sft as S
    from dentro.eval import tools as T
    from dentro.model.checkpoint import load_checkpoint

    model, tok, _ = load_checkpoint(run / "sft" / "checkpoint", load_train_state=False)
    model.eval()
    split = json.loads((run / "sft" / "conversations" / "heldout.json").read_text(encoding="utf-8"))
    p = F.PRESETS["tiny"]
    items = P.world_items(run / "world" / "truth", split, per_bucket=p.facts_per_bucket, seed=1337)
    P.probe(model, tok, items, k=p.k, temperature=p.temperature, max_tokens=48, seed=1337)
    right = [it["greedy_confidence"] for it in items if it["greedy_verdict"] == "correct"]
    wrong = [it["greedy_confidence"] for it in items if it["greedy_verdict"] != "correct"]
    gate = G.calibrate(right, wrong, keep)
    ev = F.eval_items(run, S.EVAL_PER_GROUP.get("tiny", 80), [])
    nonfact = F.nonfact_items(run)
    F.ask(model, tok, ev + nonfact, "sft", confidence=True)
    F.gate_items(ev + nonfact, gate["threshold"])
    h = F.headline(ev, "gated")
    share = lambda rows, key, v: (sum(r[key]["verdict"] == v for r in rows), len(rows))  # noqa: E731
    absent = [it for it in ev if it["bucket"] == "absent"]
    rare = [it for it in ev if it["bucket"] == "rare"]
    was_right = [it for it in ev if it["sft"]["verdict"] == "correct"]
    out = {"run": str(run), "threshold": round(gate["threshold"], 4), "probe_right": len(right),
           "probe_wrong_stopped": gate["wrong_stopped"], "absent_refused": share(absent, "gated", "refused"),
           "sft_correct_kept": share(was_right, "gated", "correct"), "rare_wrong": share(rare, "gated", "wrong"),
           "nonfact_refused": share(nonfact, "gated", "refused"), "headline": h}
    for b in ("frequent", "medium"):
        g = [it for it in ev if it["bucket"] == b]
        out[f"{b}_correct"] = {"sft": share(g, "sft", "correct"), "gated": share(g, "gated", "correct")}
    tools = run / "factuality" / "tools.jsonl"
    if tools.is_file():  # the run's own probed model through the tool loop, as the stage measured it
        ti = [json.loads(line) for line in tools.read_text(encoding="utf-8").splitlines() if line.strip()]
        T.measure(model, tok, ti, "sft_plain", context=None)  # the direct answers again, with their confidence
        F.gate_tool_items(ti, gate["threshold"])
        tab = T.table(ti, "gated_tools")
        pool = lambda b, what: (sum(g[what] for (bb, _), g in tab.items() if bb == b),  # noqa: E731
                                sum(g["n"] for (bb, _), g in tab.items() if bb == b))
        out["tools"] = {"arithmetic_correct": pool("arithmetic", "correct"), "frequent_called": pool("frequent", "called"),
                        "rare_correct": pool("rare", "correct"), "absent_refused": pool("absent", "refused")}
    if with_scores:
        out["scores_auc_right_vs_invented"] = scores(run, model, tok, items)
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
            pooled.setdefault(k, [0, 0])
            pooled[k][0] += r[k][0]
            pooled[k][1] += r[k][1]
    print(json.dumps({"pooled": {k: f"{a}/{b} ({100 * a / b:.1f}%)" for k, (a, b) in pooled.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
