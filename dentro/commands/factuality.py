"""`dentro factuality`: knowledge probing teaches the chat model to say "I don't know" (stage 6)."""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from dentro.commands import add_run_argument, float_range, non_negative_float, non_negative_int, positive_float, \
    positive_int
from dentro.commands import sft as S
from dentro.errors import UserError
from dentro.runs import atomic_write_jsonl, read_jsonl

TITLE = "Stage 6 · hallucinations: knowledge probing teaches \"I don't know\""

HELP = """Teach the chat model to say it does not know, from its own answers (stage 6).

The Llama 3 recipe (arXiv:2407.21783, section 4.3.6): ask the SFT model questions whose answers
we hold, several times each (sampled); score every answer against the truth (correct / wrong /
refused); a question is "known" when enough of its answers are correct. Then fine-tune with the
same loop as SFT on a mix: a true answer for what it knows, "Não sei" / "I don't know" with a
short reason (in the question's language) for what it does not, refusals for people who do not
exist, and a share of the SFT conversations replayed; on the world, also tool conversations
(searches run against the run's own index, python for big arithmetic, plain answers), which
teach the model to call a tool when its system message says it has them. Only facts outside
the evaluation split are probed; the evaluation asks the held-out ones, before and after, with
and without tools.
Writes <run>/factuality/checkpoint, probe.json (every question's k answers and the decision),
conversations/, metrics.jsonl, loss.png, eval.json (the tables) and result.json.

examples:
  dentro factuality                            # probe the run's SFT model on the world's facts
  dentro factuality -k 8 --min-correct 4       # more samples per question, same threshold share
  dentro factuality --data my_qa.jsonl         # your own question/answer pairs
  dentro factuality --resume                   # continue a killed fine-tuning exactly
  dentro factuality --no-tools                 # the probe's mix only: no search / python conversations

--data takes JSONL, one question per line (bad lines are skipped and counted):
  {"question": "Who wrote Dom Casmurro?", "answer": "Machado de Assis", "lang": "en"}
  ("answers": [...] for several right answers; "lang" is detected when missing). A seeded
  --heldout-frac of them is never probed nor trained on: the evaluation asks those.
Then talk to it: `dentro chat` picks the factuality model over the SFT one."""


@dataclass
class Preset:
    facts_per_bucket: int     # world facts probed per bucket (frequent/medium/rare), each in pt and en
    k: int                    # sampled answers per question
    temperature: float        # of the sampled answers
    min_correct: int          # known when at least this many of the k answers are correct
    max_tokens: int           # longest probed answer (tokens)
    nobody: int               # questions about people who do not exist, answered with a refusal
    replay_frac: float        # SFT conversations replayed, as a multiple of the probe's conversations
    train: S.Preset           # the fine-tuning: the SFT stage's sizes and schedule
    tools: dict | None = None  # sizes of the tool conversations in the mix (dentro.chat.tool_mix); None: none
    tools_per_group: int = 0  # held-out questions per (bucket, language) asked with tools (0: not measured)
    tools_arithmetic: int = 0  # held-out 4-5 digit problems asked with python and without
    tools_train: S.Preset | None = None  # the tools phase before the mix (None: none); see TOOL_KINDS
    tools_lr_frac: float = 1.0  # its learning rates, as a fraction of the SFT model's
    tools_replay: int = 300     # other conversations of the mix replayed in it


# tiny: ~3.1 minutes of a 2-core CPU in all: probing 249 facts x 2 languages x (k + 1 greedy)
# replies (~22 s), the tools phase (1.25 minutes), fine-tuning on the mix for half a minute, the
# held-out evaluation of both models (~15 s) and with tools (~27 s, every question through the batched tool
# loop; one question at a time it took 70 s).
# k=4 at T=0.7: at T=1.0 the tiny SFT model left 34 of its 71 greedy-correct frequent questions
# (of 300 probed) with 0 or 1 correct sample in 4, too noisy to look consistent; at 0.7, 20 of 80.
# min_correct=2 ("at least half"): of the thresholds 1-4 it is the one whose known/unknown agrees
# best with the greedy answer `dentro chat` gives (86.9% of 498 questions, against 79.5% for 1 and
# 82.5% for 3): known facts are 86% greedy-correct, and 71% of greedy-correct facts are known.
# See docs/factuality.md.
# The tools phase (tiny: 1.25 minutes at the SFT model's learning rates, before half a minute on
# the mix; 0.75 and 1 until 2026-12-02, when on a machine at 5-7k tokens/s the split 1.25 / 0.5
# computed 199 instead of 127 of 240 held-out 4-5 digit problems with python on four SFT models,
# 121 instead of 58 of mixed sizes, 121 instead of 77 small ones, in the same time;
# docs/factuality.md):
# copying from a search result and calling python right are skills the tiny model picks up only
# after ~2,000 searches seen (docs/factuality.md: 0 of 30 held-out results that held the answer
# were read with the tools in the mix alone; 1,200 searches in the mix at twice the rate, 0 again).
# tiny's tool mix: 1,500 searches and 1,800 python calls (not 2,400 and 900): held-out 4-5 digit
# arithmetic with python 324 -> 354 of 360 on three SFT models, at a cost to searches read (rare
# facts with search 21 -> 5 of 240), far from their goal either way (docs/factuality.md).
TOOL_KINDS = ("search", "search_nobody", "python", "python_failed")
PRESETS = {
    "micro": Preset(facts_per_bucket=4, k=2, temperature=0.7, min_correct=1, max_tokens=12, nobody=6,
                    replay_frac=1.0, train=S.PRESETS["micro"],
                    tools={"n_search": 12, "n_python": 6, "n_plain": 6, "n_nobody": 4}, tools_per_group=2,
                    tools_arithmetic=4, tools_train=replace(S.PRESETS["micro"], max_steps=3, pretrain_replay=0.0),
                    tools_replay=4),
    "tiny": Preset(facts_per_bucket=100, k=4, temperature=0.7, min_correct=2, max_tokens=48, nobody=200,
                   replay_frac=1.0, train=replace(S.PRESETS["tiny"], max_minutes=0.5),
                   tools={"n_search": 1500, "n_python": 1800, "n_plain": 300, "n_nobody": 150}, tools_per_group=16,
                   tools_arithmetic=40,   # benchmarks/python_calls.py asks 60
                   tools_train=replace(S.PRESETS["tiny"], max_minutes=1.25, pretrain_replay=0.0)),
    "small": Preset(facts_per_bucket=1000, k=8, temperature=0.7, min_correct=4, max_tokens=64, nobody=1000,
                    replay_frac=1.0, train=replace(S.PRESETS["small"], max_steps=300),
                    tools={"n_search": 4000, "n_python": 2000, "n_plain": 2000, "n_nobody": 1000}, tools_per_group=100,
                    tools_arithmetic=200, tools_train=replace(S.PRESETS["small"], max_steps=150, pretrain_replay=0.0),
                    tools_replay=1000),
}
GROUPS = ("frequent", "medium", "rare", "absent", "user")  # the tables' row order
VERDICTS = ("correct", "refused", "wrong")


def add_arguments(p):
    add_run_argument(p)
    p.add_argument("--preset", default="tiny", choices=list(PRESETS), help="sizes and budget (default: tiny)")
    p.add_argument("--data", nargs="+", metavar="JSONL", help="your own question/answer pairs "
                   "(default: the facts of the run's world)")
    p.add_argument("--heldout-frac", type=float_range(0, 0.9), default=0.2,
                   help="with --data: the share of pairs kept for the evaluation only (default 0.2)")
    p.add_argument("--checkpoint", metavar="DIR", help="the chat model to probe and fine-tune "
                   "(default: <run>/sft/checkpoint)")
    p.add_argument("--out", help="output folder (default: <run>/factuality)")
    p.add_argument("-k", "--samples", type=positive_int, help="sampled answers per question")
    p.add_argument("--temperature", type=positive_float, help="temperature of the sampled answers")
    p.add_argument("--min-correct", type=positive_int, help="known when at least this many of the k answers "
                   "are correct (default: half of k)")
    p.add_argument("--facts", type=positive_int, help="world facts probed per bucket")
    p.add_argument("--nobody", type=non_negative_int, help="questions about people who do not exist")
    p.add_argument("--replay-frac", type=non_negative_float, help="SFT conversations replayed, as a multiple "
                   "of the probe's conversations")
    p.add_argument("--no-tools", action="store_true", help="no tool conversations in the mix and no tools "
                   "measured (default: with the world, searches grounded in the run's corpus and python)")
    p.add_argument("--steps", type=positive_int, help="optimiser steps at most (the mix's fine-tuning)")
    p.add_argument("--max-minutes", type=positive_float,
                   help="time budget of the fine-tuning on the mix (tiny: 0.5)")
    p.add_argument("--tools-minutes", type=non_negative_float, help="time budget of the tools phase before it "
                   "(tiny: 1.25; 0 leaves it out)")
    p.add_argument("--lr-frac", type=positive_float, help="learning rates as a fraction of the SFT model's")
    p.add_argument("--save-every", type=positive_int, help="steps between checkpoints (default: at the end only)")
    p.add_argument("--seed", type=non_negative_int, default=1337, help="random seed (samples, mix, data order)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint exactly where it stopped "
                   "(the probe and the mix are read back, not redone)")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")


def main(args):
    from dentro.runs import run_dir

    preset = PRESETS[args.preset]
    probe_kw = {k: v for k, v in {"k": args.samples, "temperature": args.temperature,
                                  "min_correct": args.min_correct, "facts_per_bucket": args.facts,
                                  "nobody": args.nobody, "replay_frac": args.replay_frac}.items() if v is not None}
    if args.no_tools:
        probe_kw.update(tools=None, tools_per_group=0, tools_train=None)
    elif args.tools_minutes is not None:
        probe_kw["tools_train"] = replace(preset.tools_train or replace(preset.train, pretrain_replay=0.0),
                                          max_minutes=args.tools_minutes) if args.tools_minutes > 0 else None
    if "k" in probe_kw and "min_correct" not in probe_kw:  # keep the preset's share of k
        probe_kw["min_correct"] = max(1, round(probe_kw["k"] * preset.min_correct / preset.k))
    if probe_kw.get("min_correct", 1) > probe_kw.get("k", preset.k):
        raise UserError(f"--min-correct {probe_kw['min_correct']} is more than the {probe_kw.get('k', preset.k)} "
                        f"answers per question (-k): nothing could be known")
    overrides = {k: v for k, v in {"max_steps": args.steps, "max_minutes": args.max_minutes,
                                   "save_every": args.save_every}.items() if v is not None}
    r = factuality(run_dir(args.run), args.preset, data=args.data, heldout_frac=args.heldout_frac,
                   checkpoint=args.checkpoint, out=args.out, probe_overrides=probe_kw, overrides=overrides,
                   lr_frac=args.lr_frac, seed=args.seed, resume=args.resume, device=args.device)
    print(json.dumps(r["figures"], indent=2))
    print(markdown_table(r["tables"]))
    print(f"the probed model is in {r['checkpoint']}; talk to it with `dentro chat --checkpoint {r['checkpoint']}`; "
          f"`dentro chat --run {args.run}` answers with the run's chat model behind the confidence gate")


# ---- the stage: probe, build the mix, fine-tune, evaluate ------------------------------------

def _user_items(paths: list[str], heldout_frac: float, seed: int, log) -> tuple[list, list, dict]:
    """(pairs to probe, pairs held out for the evaluation, stats) from the user's files."""
    from dentro.chat.probing import read_qa_pairs

    items, stats = [], {}
    for path in paths:
        if not Path(path).is_file():
            raise UserError(f"--data {path}: no such file")
        got, s = read_qa_pairs(Path(path))
        items += got
        stats[str(path)] = s
        bad = sum(s["skipped"].values())
        log(f"[factuality] {path}: {s['kept']} questions" + (f", {bad} bad lines skipped: " + "; ".join(
            f"{reason} {n} (lines {', '.join(map(str, s['skipped_lines'][reason][:8]))}"
            f"{'…' if n > 8 else ''})" for reason, n in s["skipped"].items()) if bad else ""))
    if not items:
        raise UserError(f"no usable line in {', '.join(paths)}; each line must be JSON like "
                        '{"question": "...", "answer": "...", "lang": "pt"} (or "answers": [...])')
    order = list(range(len(items)))
    random.Random(f"factuality-heldout-{seed}").shuffle(order)
    n_held = round(len(items) * heldout_frac)
    held = set(order[:n_held])
    return [it for i, it in enumerate(items) if i not in held], [it for i, it in enumerate(items) if i in held], stats


def eval_items(run: Path, per_group: int, user_heldout: list[dict]) -> list[dict]:
    """The evaluation's questions: the world's held-out facts and absent people (the same seeded
    sample as the SFT stage's evaluation), and the user's held-out pairs."""
    from dentro.eval import knowledge as K

    truth = run / "world" / "truth"
    split = run / "sft" / "conversations" / "heldout.json"
    items = []
    if (truth / "questions").is_dir() and split.is_file():
        held = json.loads(split.read_text(encoding="utf-8"))
        items = K.load_items(truth, set(held["facts"]), per_group=per_group)
    return items + [dict(it) for it in user_heldout]


NONFACT_KINDS = ("identity", "reading", "math")  # SFT conversations that ask nothing the model must know


def followup_items(run: Path) -> list[dict]:
    """The SFT stage's held-out follow-up conversations (sft/eval.jsonl: a question about a
    held-out person, its true answer, then "E onde ela nasceu?"), as evaluation items: {"messages",
    "answers", "lang", "bucket": "followup", "relation"}."""
    path = run / "sft" / "eval.jsonl"
    rows = read_jsonl(path) if path.is_file() else []
    return [{"messages": r["messages"], "answers": r["answers"], "lang": r.get("lang"), "bucket": "followup",
             "relation": r.get("relation")} for r in rows if len(r.get("messages") or []) >= 3 and r.get("answers")]


def followup_figures(follow: list[dict]) -> dict:
    """The gate on follow-ups: of the SFT model's right answers, the share the gate lets stand; of
    its wrong ones, the share it refuses."""
    right = [it for it in follow if it["sft"]["verdict"] == "correct"]
    wrong = [it for it in follow if it["sft"]["verdict"] == "wrong"]
    kept = sum(it["gated"]["verdict"] == "correct" for it in right)
    refused = sum(it["gated"]["verdict"] == "refused" for it in wrong)
    return {"followup_n": len(follow), "followup_right_n": len(right), "followup_wrong_n": len(wrong),
            "followup_right_kept": kept, "followup_wrong_refused": refused,
            "followup_right_kept_gate": round(kept / len(right), 4) if right else None,
            "followup_wrong_refused_gate": round(refused / len(wrong), 4) if wrong else None}


def nonfact_items(run: Path) -> list[dict]:
    """Questions that need no knowledge of the world, where a refusal is always wrong: the SFT
    validation conversations of NONFACT_KINDS, up to their last user turn."""
    path = run / "sft" / "conversations" / "val.jsonl"
    items = []
    for c in (read_jsonl(path) if path.is_file() else []):
        if c.get("kind") in NONFACT_KINDS:
            last = max(i for i, m in enumerate(c["messages"]) if m["role"] == "user")
            items.append({"bucket": "nonfact", "kind": c["kind"], "lang": c.get("lang"),
                          "question": c["messages"][last]["content"], "messages": c["messages"][:last + 1],
                          "answers": []})
    return items


def ask(model, tok, items: list[dict], key: str, max_tokens: int = 48, confidence: bool = False,
        gate: dict | None = None, familiar: bool = False) -> None:
    """Greedy replies to every item (its "messages", else its "question"), scored in place:
    item[key] = {"reply", "verdict"} (and "confidence", dentro.chat.gate, when asked for). With a
    gate that has weights (or familiar=True), the name's "familiarity" is measured too and the
    answer's geometric mean kept as "answer_confidence"; with weights, "confidence" is the gate's
    score of both."""
    from dentro.chat import gate as G
    from dentro.chat.assistant import reply_batch
    from dentro.eval.knowledge import verdict

    model.eval()
    convs = _conversations(items)
    weights = (gate or {}).get("weights")
    replies = reply_batch(model, tok, convs, max_tokens=max_tokens, confidence=confidence)
    names = G.familiarity(model, tok, convs, [r["text"] for r in replies], max_tokens=max_tokens) \
        if confidence and (weights or familiar) else None
    for i, (it, r) in enumerate(zip(items, replies)):
        it[key] = {"reply": r["text"], "verdict": verdict(r["text"], it.get("answers") or [])}
        if confidence:
            it[key]["confidence"] = r["confidence"]
            if names is not None:
                it[key].update(answer_confidence=r["confidence"], familiarity=round(names[i], 6),
                               confidence=round(G.score(weights, r["confidence"], names[i]), 6))


def _conversations(items: list[dict]) -> list[list[dict]]:
    """What each item asks: its "messages", else its "question" as one user turn."""
    return [it.get("messages") or [{"role": "user", "content": it["question"]}] for it in items]


def question_familiarity(model, tok, items: list[dict], reply, max_tokens: int = 48) -> list[float]:
    """The name's familiarity (dentro.chat.gate.familiarity) for items asked as one question each
    (_conversations), reply(item) being the reply the gate judges."""
    from dentro.chat.gate import familiarity

    return familiarity(model, tok, _conversations(items), [reply(it) for it in items], max_tokens=max_tokens)


def probe_invented(model, tok, nobody: list[dict], max_tokens: int = 48) -> list[dict]:
    """The chat model's greedy answers to the questions about invented people (the mix's nobody
    conversations): [{"question", "confidence", "familiarity"}], what the gate's regression is
    fitted against besides the probe's wrong answers."""
    items = [{"question": next(m["content"] for m in c["messages"] if m["role"] == "user"), "answers": []}
             for c in nobody]
    ask(model, tok, items, "sft", max_tokens=max_tokens, confidence=True, familiar=True)
    return [{"question": it["question"], "confidence": it["sft"]["answer_confidence"],
             "familiarity": it["sft"]["familiarity"]} for it in items]


def gate_from_probe(probe_items: list[dict], chat_dir: Path, tool_model: Path | None,
                    invented: list[dict] | None = None, keep: float | None = None) -> dict | None:
    """The confidence gate calibrated on the probe's greedy answers (dentro.chat.gate): None when
    the probe holds no right answer (or was written before the gate existed). When the probe measured
    the names' familiarity and invented people were asked, the gate's regression is fitted on the
    right answers against the wrong ones and those about invented people, and its threshold keeps
    KEEP of the right answers by that score; answer_threshold is what the geometric mean alone gets
    (for the tool model's answers, after_tools). Otherwise the threshold is on the geometric mean."""
    from dentro.chat import gate as G

    scored = [it for it in probe_items if "greedy_confidence" in it]
    right = [it["greedy_confidence"] for it in scored if it["greedy_verdict"] == "correct"]
    if not right:
        return None
    wrong = [it["greedy_confidence"] for it in scored if it["greedy_verdict"] != "correct"]
    keep = G.KEEP if keep is None else keep
    plain = G.calibrate(right, wrong, keep)
    gate = {**plain, "answer_threshold": plain["threshold"], "checkpoint": str(chat_dir),
            "tool_model": str(tool_model) if tool_model else None}
    pairs = lambda rows: [(it["greedy_confidence"], it["greedy_familiarity"]) for it in rows]  # noqa: E731
    if invented and all("greedy_familiarity" in it for it in scored):
        r = pairs([it for it in scored if it["greedy_verdict"] == "correct"])
        w = pairs([it for it in scored if it["greedy_verdict"] == "wrong"])
        others = w + [(it["confidence"], it["familiarity"]) for it in invented]
        weights = G.fit_weights(r, others)
        combined = G.calibrate([G.score(weights, *p) for p in r], [G.score(weights, *p) for p in others], keep)
        gate.update({k: combined[k] for k in ("threshold", "right_kept", "wrong", "wrong_stopped")},
                    weights=weights, invented=len(invented))
    return gate


def gate_items(items: list[dict], threshold: float, answer_threshold: float | None = None) -> None:
    """item["gated"] = the SFT reply as the gate leaves it (refused below the threshold). With
    answer_threshold (a gate with weights), item["gated_mean"] too: the same reply judged on its
    geometric mean alone ("answer_confidence") against that threshold, the gate before the name's
    familiarity, for the report card's comparison."""
    from dentro.chat.gate import gated_verdict

    for it in items:
        it["gated"] = {"reply": it["sft"]["reply"], "verdict": gated_verdict(it, "sft", threshold)}
        if answer_threshold is not None and "answer_confidence" in it["sft"]:
            mean = {**it, "sft": {**it["sft"], "confidence": it["sft"]["answer_confidence"]}}
            it["gated_mean"] = {"verdict": gated_verdict(mean, "sft", answer_threshold)}


def gate_tool_items(items: list[dict], threshold: float, answer_threshold: float | None = None,
                    weights: dict | None = None) -> None:
    """item["gated_tools"]: the SFT model's direct answer (item["sft_plain"], with its confidence
    and, for a gate with weights, its name's "familiarity") where the gate lets it stand, else
    (unsure, or reasoning) the tool-trained model's answer through the tool loop
    (item["probed_tools"]), which the gate judges in turn (dentro.chat.gate.after_tools), as
    `dentro chat` says it: a refusal when it adds names or numbers that no tool result holds, or
    when it adds none and is below answer_threshold (the geometric mean's; default: threshold)."""
    import random

    from dentro.chat.gate import after_tools, decide, refusal_for, score

    rng = random.Random(0)
    for it in items:
        d = it["sft_plain"]
        confidence = score(weights, d["confidence"], d.get("familiarity"))
        route = decide([{"role": "user", "content": it["question"]}], d["text"], confidence, threshold, tools=True)
        if route != "tools":
            it["gated_tools"] = {"text": d["text"], "verdict": d["verdict"], "calls": []}
            continue
        r = it["probed_tools"]
        after = threshold if answer_threshold is None else answer_threshold
        it["gated_tools"] = dict(r) if after_tools(r.get("confidence"), after, r.get("missing")) else \
            {"text": refusal_for(it["question"], r["text"], rng, "en"), "verdict": "refused", "calls": r["calls"]}


def tables(items: list[dict], key: str) -> dict:
    """{"bucket/lang": {"correct": {n, k, rate, ci}, "refused": ..., "wrong": ...}} of item[key]."""
    from dentro.eval.knowledge import table

    rows = [dict(bucket=it["bucket"], lang=it["lang"], **{v: it[key]["verdict"] == v for v in VERDICTS})
            for it in items]
    out = {}
    for v in VERDICTS:
        for (bucket, lang), g in table(rows, v).items():
            out.setdefault(f"{bucket}/{lang}", {})[v] = g
    return out


def headline(items: list[dict], after: str = "probed") -> dict:
    """The issue's goals, measured on held-out questions: absent people refused after probing
    (and by SFT), SFT-correct answers kept, wrong answers on rare facts (SFT and after). after:
    the replies that count as "after" ("probed", or "gated": the SFT model behind the gate)."""
    def share(rows, key, v):
        return (sum(r[key]["verdict"] == v for r in rows) / len(rows)) if rows else None

    absent = [it for it in items if it["bucket"] == "absent"]
    rare = [it for it in items if it["bucket"] == "rare"]
    was_right = [it for it in items if it["sft"]["verdict"] == "correct"]
    r4 = lambda x: None if x is None else round(x, 4)  # noqa: E731
    return {"absent_refused": r4(share(absent, after, "refused")),
            "sft_correct_kept": r4(share(was_right, after, "correct")),
            "rare_wrong": r4(share(rare, after, "wrong")),
            "absent_refused_sft": r4(share(absent, "sft", "refused")),
            "rare_wrong_sft": r4(share(rare, "sft", "wrong")),
            "sft_correct_n": len(was_right)}


def tools_finetune(model, tok, mix: list[dict], val: list[dict], p: Preset, cfg, run: Path, chat_dir: Path,
                   out: Path, seed: int, d, log=print) -> dict:
    """The tools phase, before the fine-tuning on the whole mix: the mix's tool conversations
    (TOOL_KINDS: searches, searches about nobody, python calls) and a seeded sample of
    p.tools_replay of its other conversations, with cfg (p.tools_train's budget at p.tools_lr_frac
    of the SFT model's learning rates, from finetune_config). Trains `model` in place; writes out/metrics.jsonl,
    loss.png and checkpoint/ (the model after this phase). -> {"conversations",
    "tool_conversations", "steps", "tokens", "minutes", "lr_frac", "val_loss"}; None (nothing
    trained) when no tool conversation fits the model's context."""
    from dentro.chat.template import render
    from dentro.model.checkpoint import save_checkpoint

    tools = [c for c in mix if c.get("kind") in TOOL_KINDS]
    others = [c for c in mix if c.get("kind") not in TOOL_KINDS]
    if not any(len(render(tok, c["messages"])[0]) <= cfg.seq_len + 1 for c in tools):  # stops at the first
        log(f"[factuality] no tool conversation fits the model's context of {cfg.seq_len} tokens: no tools phase")
        return None
    rng = random.Random(f"factuality-tools-{seed}")
    convs = tools + rng.sample(others, min(p.tools_replay, len(others)))
    rng.shuffle(convs)
    log(f"[factuality] tools phase: {len(tools)} tool conversations and {len(convs) - len(tools)} others, "
        f"learning rates x{p.tools_lr_frac} of the chat model's")

    def save_fn(m, train_state):
        save_checkpoint(out / "checkpoint", m, tok, train_state,
                        extra={"step": train_state["step"], "stage": "factuality-tools", "base": str(chat_dir)})

    t = time.time()
    frac = p.tools_train.pretrain_replay
    result, _, _ = S.finetune(model, tok, convs, val, cfg, d=d, out=out, save_fn=save_fn, log=log, tag="tools",
                              replay_frac=frac, replay_dir=S.replay_source(run, tok, log, "tools") if frac else None)
    return {"conversations": len(convs), "tool_conversations": len(tools), "steps": result.steps,
            "tokens": result.tokens, "minutes": round((time.time() - t) / 60, 2), "lr_frac": p.tools_lr_frac,
            "val_loss": round(result.evals[-1]["val_loss"], 4) if result.evals else None}


def tools_eval(run: Path, p: Preset, models: list, mix: list[dict], log=print) -> list[dict]:
    """Held-out questions with and without tools for each (model, tokenizer, key) in models:
    facts per bucket and language, people who do not exist, 4-5 digit arithmetic and arithmetic
    of mixed sizes (operands of 1-6 digits) and of two small operands (1-2 digits). Each item
    gains "<key>_tools" and "<key>_plain" ({"text", "verdict", "calls"}). [] when the preset
    measures none, or the run has no search index or no tool conversations (nothing to measure):
    neither SFT's conversations nor the fine-tuning mix (`mix`) taught tool use."""
    from dentro.chat.tool_mix import chat_context, python_pairs
    from dentro.eval import knowledge as K
    from dentro.eval import tools as T

    split, index = run / "sft" / "conversations" / "heldout.json", run / "tools" / "search.sqlite"
    if not p.tools_per_group or not (split.is_file() and index.is_file()):
        return []
    sft_convs = run / "sft" / "conversations" / "train.jsonl"
    train = (read_jsonl(sft_convs) if sft_convs.is_file() else []) + mix
    if not any(c.get("kind") in TOOL_KINDS and c["kind"] != "search_nobody" for c in train):
        log("[factuality] no conversation taught tool use: tools not measured")
        return []
    held = json.loads(split.read_text(encoding="utf-8"))
    items = K.load_items(run / "world" / "truth", set(held["facts"]), per_group=p.tools_per_group, seed=1,
                         buckets=("frequent", "medium", "rare", "absent"))
    pairs = python_pairs(train)
    items += T.arithmetic_items(p.tools_arithmetic, avoid=pairs)
    items += T.arithmetic_items(p.tools_arithmetic, avoid=pairs, kind="mixed sizes")
    items += T.arithmetic_items(p.tools_arithmetic, avoid=pairs, kind="small")
    for m, tk, key in models:
        context = chat_context(index, m.config.max_position_embeddings)
        T.measure(m, tk, items, f"{key}_tools", context=context, progress=f"tools ({key})")
        T.measure(m, tk, items, f"{key}_plain", context=None)
    return items


GLANCE = ("absent_refused_gate", "sft_correct_kept_gate", "rare_wrong_gate", "tools_rare_correct_gate")


def glance_first(figures: dict) -> dict:
    """The figures with the gated ones first, when the run has a gate: the report card's glance row
    shows a stage's first four figures, and behind the gate is what `dentro chat` answers with."""
    first = [k for k in GLANCE if figures.get(k) is not None]
    return {**{k: figures[k] for k in first}, **{k: v for k, v in figures.items() if k not in first}}


def tools_headline(tool_tabs: dict) -> dict:
    """The tools' goals from the tools tables ({"<model>/<tools|plain>": {"bucket/lang": counts}}):
    rare facts correct with search, arithmetic with python (and without; 4-5 digits, mixed sizes
    with python, and two small operands with python and without), people who do not exist
    refused with tools, tool calls where none was needed (frequent facts)."""
    from dentro.eval.tools import pooled

    def share(key, bucket, what):
        k, n = pooled(tool_tabs, key, bucket, what)
        return round(k / n, 4) if n else None

    out = {}
    for m in ("sft", "probed", "gated"):
        if not any(k.startswith(f"{m}/") for k in tool_tabs):
            continue
        sfx = {"probed": "", "sft": "_sft", "gated": "_gate"}[m]
        for name, key, bucket, what in (("rare_correct", "tools", "rare", "correct"),
                                        ("rare_wrong", "tools", "rare", "wrong"),
                                        ("rare_searched", "tools", "rare", "search"),
                                        ("absent_refused", "tools", "absent", "refused"),
                                        ("arith_python", "tools", "arithmetic", "correct"),
                                        ("arith_plain", "plain", "arithmetic", "correct"),
                                        ("arith_mixed_python", "tools", "arithmetic_mixed", "correct"),
                                        ("arith_small_python", "tools", "arithmetic_small", "correct"),
                                        ("arith_small_plain", "plain", "arithmetic_small", "correct"),
                                        ("needless", "tools", "frequent", "called")):
            if m != "gated" or key == "tools":  # the gate routes questions with tools on
                out[f"tools_{name}{sfx}"] = share(f"{m}/{key}", bucket, what)
    return out


def factuality(run: Path, preset: str = "tiny", *, data=None, heldout_frac: float = 0.2, checkpoint=None, out=None,
               probe_overrides=None, overrides=None, lr_frac=None, seed: int = 1337, resume: bool = False,
               device=None, log=print) -> dict:
    """Probe, fine-tune, evaluate; returns {"figures", "tables", "items", "probe", "checkpoint"}."""
    from dentro.chat import probing as P
    from dentro.model.checkpoint import load_checkpoint, save_checkpoint
    from dentro.runs import atomic_write_json
    from dentro.train.loop import setup_distributed

    p = replace(PRESETS[preset], **(probe_overrides or {}))
    out = Path(out) if out else run / "factuality"
    chat_dir = Path(checkpoint) if checkpoint else run / "sft" / "checkpoint"
    ckpt = out / "checkpoint"
    truth = run / "world" / "truth"
    split_path = run / "sft" / "conversations" / "heldout.json"
    if not (chat_dir / "config.json").is_file():
        raise UserError(f"no chat model at {chat_dir}; run `dentro sft` first (or `dentro speedrun`), "
                        f"or pass --checkpoint CHECKPOINT_DIR")
    if not data and not (truth / "facts.jsonl").is_file():
        raise UserError(f"no world truth at {truth} to probe; run `dentro world` first (or `dentro speedrun`), "
                        f"or pass your own question/answer pairs with --data FILE.jsonl")
    if not data and not split_path.is_file():
        raise UserError(f"no held-out split at {split_path}; run `dentro sft` on the world first, so that the "
                        f"facts the evaluation asks are never probed nor trained on")
    d = setup_distributed(device)
    if d.world_size > 1:
        raise UserError("dentro factuality runs in one process; start it without torchrun")
    conv_dir = out / "conversations"
    if resume and not ((out / "probe.json").is_file() and (conv_dir / "train.jsonl").is_file()
                       and (ckpt / "train_state.pt").is_file()):
        raise UserError(f"nothing to resume in {out} (a probe.json, conversations/ and a checkpoint with its "
                        f"training state are needed); run without --resume")
    t0 = time.time()
    rng = random.Random(f"factuality-{seed}")
    user_items, user_held, data_stats = _user_items(data, heldout_frac, seed, log) if data else ([], [], {})

    # 1-5. probe the chat model, decide, build the mix (read back on --resume)
    if resume:
        probe_report = json.loads((out / "probe.json").read_text(encoding="utf-8"))
        train_convs, val_convs = read_jsonl(conv_dir / "train.jsonl"), read_jsonl(conv_dir / "val.jsonl")
        mix_stats, t_probe = probe_report["mix"], probe_report["seconds"]
        log(f"[factuality] resuming: the probe ({len(probe_report['items'])} questions) and the mix "
            f"({len(train_convs)} conversations) are read back from {out}")
    else:
        from dentro.world.conversations import read_world

        model, tok, _ = load_checkpoint(chat_dir, d.device, load_train_state=False)
        world = read_world(truth) if (truth / "facts.jsonl").is_file() else None  # absent people need one
        split = None if data else json.loads(split_path.read_text(encoding="utf-8"))
        if data:
            items = user_items
        else:
            items = P.world_items(truth, split, per_bucket=p.facts_per_bucket, seed=seed)
        ctx = model.config.max_position_embeddings
        log(f"[factuality] probing {chat_dir}: {len(items)} questions x {p.k} samples at T={p.temperature} "
            f"(+ 1 greedy), known when >= {p.min_correct} of {p.k} are correct; {d.device}")
        t = time.time()
        P.probe(model, tok, items, k=p.k, temperature=p.temperature, max_tokens=min(p.max_tokens, ctx // 2),
                seed=seed)
        t_probe = time.time() - t
        P.decide(items, p.min_correct)
        known = sum(it["decision"] == "known" for it in items)
        log(f"[factuality] probed in {t_probe:.1f} s: {known} known, {len(items) - known} unknown")
        replay_path = run / "sft" / "conversations" / "train.jsonl"
        replay = read_jsonl(replay_path) if replay_path.is_file() else []
        if not replay:
            log(f"[factuality] no SFT conversations at {replay_path} to replay: the mix is the probe's only")
        probed = P.probe_conversations(items, rng, world=None if data else world)
        avoid = "\n".join(m.get("content") or "" for c in replay for m in c["messages"])
        nobody = P.nobody_conversations(world, truth, p.nobody, rng, avoid) if p.nobody and world else []
        t = time.time()  # the gate's second signal: the names' familiarity, on the probe and on invented people
        familiar = question_familiarity(model, tok, items, lambda it: it["greedy"], min(p.max_tokens, ctx // 2))
        for it, f in zip(items, familiar):
            it["greedy_familiarity"] = round(f, 6)
        invented = probe_invented(model, tok, nobody, max_tokens=min(p.max_tokens, ctx // 2))
        log(f"[factuality] the gate's signals: names' familiarity and {len(invented)} answers about invented "
            f"people in {time.time() - t:.1f} s")
        unknown = {it["fact"] for it in items if it["decision"] == "unknown" and it["fact"]}
        tool_convs, tool_stats = [], {}
        if p.tools and world and not data:
            from dentro.chat.tool_mix import world_tool_conversations

            tool_convs, tool_stats = world_tool_conversations(run, split, ctx, world=world, seed=seed, log=log,
                                                              **p.tools)
            log(f"[factuality] {len(tool_convs)} tool conversations, searches grounded in the run's index: "
                f"{tool_stats}")
        train_convs, val_convs, mix_stats = P.build_mix(probed, nobody, replay, replay_frac=p.replay_frac,
                                                        unknown=unknown, rng=rng, tools=tool_convs)
        mix_stats["tools"] = tool_stats
        atomic_write_jsonl(conv_dir / "train.jsonl", train_convs)
        atomic_write_jsonl(conv_dir / "val.jsonl", val_convs)
        probe_report = {"config": {k: v for k, v in asdict(p).items() if k != "train"}, "checkpoint": str(chat_dir),
                        "seconds": round(t_probe, 2), "summary": P.summary(items), "mix": mix_stats,
                        "items": items, "invented": invented}
        atomic_write_json(out / "probe.json", probe_report)
        del model
    gate = gate_from_probe(probe_report["items"], chat_dir, ckpt, probe_report.get("invented"))
    if gate is not None:
        from dentro.chat.gate import write_gate

        write_gate(out, gate)
        log(f"[factuality] confidence gate: threshold {gate['threshold']:.3f} keeps {gate['right_kept']:.0%} of "
            f"the probe's {gate['right']} right answers and stops {gate['wrong_stopped'] or 0:.0%} of its "
            f"{gate['wrong']} others" + (f", answers about {gate['invented']} invented people among them; the "
                                         f"confidence weighs the answer's geometric mean and the name's "
                                         f"familiarity" if gate.get("weights") else "") + f" ({out / 'gate.json'})")

    # 6. fine-tune the chat model on the mix, with the SFT stage's loop
    if resume:
        model, tok, state = load_checkpoint(ckpt, d.device)
        cfg, tools_cfg = S.resume_config(state, overrides), None  # the checkpoint holds the tools phase
    else:
        model, tok, chat_state = load_checkpoint(chat_dir, d.device)
        cfg = S.finetune_config(chat_state, p.train, model.config.max_position_embeddings,
                                lr_frac or p.train.lr_frac, seed, overrides)
        tools_cfg = S.finetune_config(chat_state, p.tools_train, model.config.max_position_embeddings,
                                      p.tools_lr_frac, seed) if p.tools_train is not None else None
        state, chat_state = None, None
    log(f"[factuality] fine-tuning on {mix_stats}; learning rates x{lr_frac or p.train.lr_frac} of the chat "
        f"model's, decaying to 0")

    def save_fn(m, train_state):
        extra = {"step": train_state["step"], "tokens": train_state["tokens"], "preset": preset,
                 "stage": "factuality", "base": str(chat_dir)}
        save_checkpoint(ckpt, m, tok, train_state, extra=extra)

    tools_phase = None  # 6c. first, the tools phase (not redone on --resume: the checkpoint holds it)
    if tools_cfg is not None and any(c.get("kind") in TOOL_KINDS for c in train_convs):
        tools_phase = tools_finetune(model, tok, train_convs, val_convs, p, tools_cfg, run, chat_dir, out / "tools",
                                     seed, d, log)
    t = time.time()
    frac = p.train.pretrain_replay
    result, s_train, s_val = S.finetune(model, tok, train_convs, val_convs, cfg, d=d, out=out, save_fn=save_fn,
                                        state=state, log=log, tag="factuality", replay_frac=frac,
                                        replay_dir=S.replay_source(run, tok, log, "factuality") if frac else None)
    t_train = time.time() - t

    # 7. evaluate both models on held-out questions only
    t = time.time()
    items = eval_items(run, S.EVAL_PER_GROUP.get(preset, 80), user_held)
    nonfact = nonfact_items(run)
    follow = followup_items(run) if gate is not None and not user_held and (items or nonfact) else []
    if items or nonfact:
        sft_model, sft_tok, _ = load_checkpoint(chat_dir, d.device, load_train_state=False)
        for m, tk, key in ((sft_model, sft_tok, "sft"), (model, tok, "probed")):
            ask(m, tk, items, key, confidence=key == "sft", gate=gate)
            ask(m, tk, nonfact, key, confidence=key == "sft", gate=gate)
        if gate is not None:
            ask(sft_model, sft_tok, follow, "sft", confidence=True, gate=gate)
            gate_items(items + nonfact + follow, gate["threshold"], gate["answer_threshold"] if gate.get("weights") else None)
    t_eval = time.time() - t
    t = time.time()
    tool_items = [] if data or not (items or nonfact) else tools_eval(run, p, [(sft_model, sft_tok, "sft"), (model, tok, "probed")], train_convs, log)
    t_tools = time.time() - t
    gated = gate is not None and bool(items or nonfact)
    tabs = {"sft": tables(items, "sft"), "probed": tables(items, "probed")}
    if gated:
        tabs["gated"] = tables(items, "gated")
    head = headline(items) if items else {}
    if gated and items:
        head.update({f"{k}_gate": v for k, v in headline(items, "gated").items()
                     if k in ("absent_refused", "sft_correct_kept", "rare_wrong")})
        head["gate_threshold"] = round(gate["threshold"], 4)
        if gate.get("weights") and all("gated_mean" in it for it in items):  # the geometric mean alone, same replies
            head.update({f"{k}_gate_mean": v for k, v in headline(items, "gated_mean").items()
                         if k in ("absent_refused", "sft_correct_kept", "rare_wrong")})
            head["gate_mean_threshold"] = round(gate["answer_threshold"], 4)
    verdict_keys = (("probed", ""), ("sft", "_sft")) + ((("gated", "_gate"),) if gated else ())
    for key, sfx in verdict_keys:  # refusing what needs no knowledge is never right
        head["nonfact_refused" + sfx] = \
            round(sum(it[key]["verdict"] == "refused" for it in nonfact) / len(nonfact), 4) if nonfact else None
    head["nonfact_n"] = len(nonfact)
    if gated and follow:
        head.update(followup_figures(follow))
    known = [it for it in probe_report["items"] if it["decision"] == "known"]
    figures = {**head, "probed_questions": len(probe_report["items"]), "known": len(known),
               "unknown": len(probe_report["items"]) - len(known), "k": p.k, "temperature": p.temperature,
               "min_correct": p.min_correct, "conversations": s_train["kept"], "steps": result.steps,
               "tokens": result.tokens, "val_loss": round(result.evals[-1]["val_loss"], 4),
               "eval_items": len(items), "probe_seconds": round(t_probe, 1), "train_minutes": round(t_train / 60, 2),
               "eval_seconds": round(t_eval, 1), "minutes": round((time.time() - t0) / 60, 2)}
    if tools_phase:
        figures.update({f"tools_phase_{k}": v for k, v in tools_phase.items()})
    tool_tabs = {}
    if tool_items:
        from dentro.eval import tools as T

        if gate is not None:
            if gate.get("weights"):  # the direct answers' names, as the gate reads them
                familiar = question_familiarity(sft_model, sft_tok, tool_items, lambda it: it["sft_plain"]["text"])
                for it, f in zip(tool_items, familiar):
                    it["sft_plain"]["familiarity"] = round(f, 6)
            gate_tool_items(tool_items, gate["threshold"], gate.get("answer_threshold"), gate.get("weights"))
        tool_tabs = {f"{m}/{k}": {f"{b}/{l}": v for (b, l), v in T.table(tool_items, f"{m}_{k}").items()}
                     for m in ("sft", "probed", "gated") for k in ("tools", "plain")
                     if m != "gated" or (k == "tools" and gate is not None)}
        figures.update(tools_headline(tool_tabs), tools_seconds=round(t_tools, 1))
    figures = glance_first(figures)
    atomic_write_json(out / "eval.json", {"figures": figures, "tables": tabs, "tools": tool_tabs})
    atomic_write_jsonl(out / "eval.jsonl", items + nonfact + follow)
    if tool_items:
        atomic_write_jsonl(out / "tools.jsonl", tool_items)
    atomic_write_json(out / "result.json", {"figures": figures, "evals": result.evals, "samples": result.samples,
                                            "data": {"user": data_stats, "mix": mix_stats, "train": s_train,
                                                     "val": s_val}})
    return {"figures": figures, "tables": tabs, "items": items, "probe": probe_report, "checkpoint": ckpt,
            "tools": tool_tabs}


# ---- the report ------------------------------------------------------------------------------

def _order(key: str) -> tuple:
    """"bucket/lang" keys in the tables' order: frequent, medium, rare, absent, user, others."""
    bucket, lang = key.split("/")
    return (GROUPS.index(bucket) if bucket in GROUPS else len(GROUPS), bucket, lang != "pt", lang)


def _pct(g: dict | None) -> str:
    return "–" if not g or not g["n"] else f"{100 * g['rate']:.0f}% ({g['k']}/{g['n']})"


def markdown_table(tabs: dict) -> str:
    """Held-out questions per bucket and language: correct / refused / wrong, SFT and after probing."""
    from dentro.report import md_table

    rows = []
    for key in sorted(tabs["sft"], key=_order):
        bucket, lang = key.split("/")
        s, a = tabs["sft"][key], tabs["probed"][key]
        absent = bucket == "absent"  # nothing is correct about nobody: the answer is wrong or refused
        rows.append([bucket, lang] + [("–" if absent and v == "correct" else _pct(s[v])) for v in VERDICTS]
                    + [("–" if absent and v == "correct" else _pct(a[v])) for v in VERDICTS])
    return md_table(["bucket", "lang", "SFT correct", "SFT refused", "SFT wrong", "probed correct", "probed refused",
                     "probed wrong"], rows)


def tools_mix_text(mix: dict) -> str:
    """", and N tool conversations (...)" for the mix sentence; "" when there were none."""
    from dentro.chat.tools import TOOLS_PROMPT

    t = mix.get("tools") or {}
    if not any(k.startswith("tools_") for k in mix):
        return ""
    return (f", and tool conversations: {mix.get('tools_search', 0)} searches grounded in the run's own index "
            f"(of {t.get('search_kept', 0) + t.get('search_dropped', 0)} written: the others' real results did not "
            f"hold the answer), {mix.get('tools_search_nobody', 0)} searches about invented people, "
            f"{mix.get('tools_python', 0)} python calls, {mix.get('tools_python_failed', 0)} more whose first call "
            f"fails (shown, not trained) and is made again, and {mix.get('tools_plain', 0)} answers without a tool, "
            f"each with the system line `{TOOLS_PROMPT}`")


def tools_section(tool_tabs: dict, f: dict, pct, goal) -> str:
    """The report card's tools table: per bucket and language, each model with tools (verdicts,
    share of replies that called a tool) and without."""
    from dentro.report import md_table

    def cell(g) -> str:
        return "–" if not g else " / ".join(f"{100 * g[v] / g['n']:.0f}" for v in ("correct", "refused", "wrong"))

    def called(g) -> str:
        return "–" if not g else f"{100 * g['called'] / g['n']:.0f}%"

    keys = sorted({k for t in tool_tabs.values() for k in t}, key=_order)
    gated = "gated/tools" in tool_tabs
    rows = [[k.split("/")[0], k.split("/")[1], tool_tabs["sft/plain"].get(k, {}).get("n", 0),
             cell(tool_tabs["sft/plain"].get(k)), cell(tool_tabs["sft/tools"].get(k)), called(tool_tabs["sft/tools"].get(k)),
             cell(tool_tabs["probed/plain"].get(k)), cell(tool_tabs["probed/tools"].get(k)),
             called(tool_tabs["probed/tools"].get(k))]
            + ([cell(tool_tabs["gated/tools"].get(k)), called(tool_tabs["gated/tools"].get(k))] if gated else [])
            for k in keys]
    gate_col = lambda key: [pct(f.get(key))] if gated else []  # noqa: E731
    return "\n".join([
        "**With tools** (`search` over the run's corpus, `python` in the sandbox): the same kind of held-out "
        "questions, greedy, through the tool loop as `dentro chat` runs it (the system message says the tools are "
        "there; the names a search quotes and the numbers a call or an answer copies are copied exactly, "
        "docs/tools.md), and without tools; *arithmetic*: held-out sums, differences and products of 4- and 5-digit "
        "numbers; *arithmetic_mixed*: the same with operands of 1 to 6 digits, one of them 3 or more (\"48213 × "
        "771\", \"1234 + 98\"); *arithmetic_small*: two operands of 1 or 2 digits (\"7 + 5\", \"34 × 12\"). "
        "Cells: correct / refused / wrong (%); *called*: replies that called a tool" + (
            "; *gate, then tools*: the SFT model's direct answer where the confidence gate lets it stand, else the "
            "model after probing through the tool loop, whose final answer the gate judges in turn (\"I don't "
            "know\" when it names or numbers what no tool result holds, or, naming nothing to check, when it is below "
            "the threshold; what `dentro chat` does)" if gated else "") + ".", "",
        md_table(["bucket", "lang", "n", "SFT, no tools", "SFT, tools", "called", "after probing, no tools",
                  "after probing, tools", "called"] + (["gate, then tools", "called"] if gated else []), rows), "",
        md_table(["goal (issue 10)", "SFT", "after probing", ""] + (["confidence gate, then tools"] if gated else []), [
            ["rare facts with search: correct ≥ 80%", pct(f.get("tools_rare_correct_sft")),
             pct(f.get("tools_rare_correct")), goal(f.get("tools_rare_correct"), lambda x: x >= 0.8)]
            + gate_col("tools_rare_correct_gate"),
            ["arithmetic of 4+ digits with python: correct ≥ 95%", pct(f.get("tools_arith_python_sft")),
             pct(f.get("tools_arith_python")), goal(f.get("tools_arith_python"), lambda x: x >= 0.95)]
            + gate_col("tools_arith_python_gate"),
            ["the same arithmetic without tools (reported)", pct(f.get("tools_arith_plain_sft")),
             pct(f.get("tools_arith_plain")), ""] + ([""] if gated else []),
            ["arithmetic of mixed sizes (1-6 digits) with python (reported)", pct(f.get("tools_arith_mixed_python_sft")),
             pct(f.get("tools_arith_mixed_python")), ""] + gate_col("tools_arith_mixed_python_gate"),
            ["arithmetic of two small numbers (1-2 digits) with python (reported)",
             pct(f.get("tools_arith_small_python_sft")), pct(f.get("tools_arith_small_python")), ""]
            + gate_col("tools_arith_small_python_gate"),
            ["the same small arithmetic without tools (reported)", pct(f.get("tools_arith_small_plain_sft")),
             pct(f.get("tools_arith_small_plain")), ""] + ([""] if gated else []),
            ["people who do not exist, with tools: refused", pct(f.get("tools_absent_refused_sft")),
             pct(f.get("tools_absent_refused")), ""] + gate_col("tools_absent_refused_gate"),
            ["a tool called for a frequent fact (not needed; should be rare)", pct(f.get("tools_needless_sft")),
             pct(f.get("tools_needless")), ""] + gate_col("tools_needless_gate")]),
        "", f"The tools' evaluation took {f.get('tools_seconds')} s (every question through the tool loop, in "
            f"batches; every call really runs)."])


def run_stage(run: Path, preset: str) -> tuple[dict, str]:
    from dentro.runs import stage_can_resume
    from dentro.report import md_table

    out = run / "factuality"
    ckpt = out / "checkpoint"
    resume = stage_can_resume(out, preset, "probe.json")
    r = factuality(run, preset, resume=resume)
    f, tabs, items, probe_report = r["figures"], r["tables"], r["items"], r["probe"]

    def pct(x) -> str:
        return "–" if x is None else f"{100 * x:.0f}%"

    def goal(x, ok) -> str:
        return "–" if x is None else ("met" if ok(x) else "**not met**")

    def cell(s) -> str:
        s = " ".join(str(s).split()).replace("|", "\\|")
        return (s if len(s) <= 80 else s[:79] + "…") or "∅"

    mix = probe_report["mix"]
    summ = probe_report["summary"]
    probe_rows = [[key.split("/")[0], key.split("/")[1], g["n"], g["known"], g["unknown"], g["mean_correct"],
                   f"{g['known_greedy_correct']} / {g['known']}", f"{g['unknown_greedy_correct']} / {g['unknown']}"]
                  for key, g in sorted(summ.items(), key=lambda kv: _order(kv[0]))]
    changed = [it for it in items if it["sft"]["verdict"] != it["probed"]["verdict"]]
    shown = [it for it in changed if it["bucket"] == "absent"][:2] + \
        [it for it in changed if it["bucket"] != "absent"][:4]
    lines = [
        f"The Llama 3 recipe (arXiv:2407.21783, §4.3.6): the SFT model was asked {f['probed_questions']} questions "
        f"about world facts outside the held-out split, {f['k']} times each (sampled at T={f['temperature']}), "
        f"in {f['probe_seconds']} s (batched, KV cache). Each answer was scored against the truth; a question "
        f"counts as *known* when at least {f['min_correct']} of its {f['k']} answers are correct: "
        f"{f['known']} known, {f['unknown']} unknown (`factuality/probe.json` holds every answer).", "",
        md_table(["bucket", "lang", "questions", "known", "unknown", f"mean correct of {f['k']}",
                  "greedy correct / known", "greedy correct / unknown"], probe_rows), "",
        f"The fine-tuning mix: {mix.get('probe_known', 0)} true answers for known questions, "
        f"{mix.get('probe_unknown', 0)} refusals (\"Não sei\" / \"I don't know\" with a reason, in the question's "
        f"language) for unknown ones, {mix.get('probe_nobody', 0)} refusals about invented people, "
        f"{mix.get('replay', 0)} SFT conversations replayed ({mix.get('replay_dropped_unknown', 0)} that stated an "
        f"unknown fact left out)" + tools_mix_text(mix) + f". {f['steps']} steps with the SFT loop "
        f"({f['tokens']:,} tokens, "
        f"{f['train_minutes']} min; validation loss {f['val_loss']:.3f})" + (
            f"; before it, the tools phase: {f['tools_phase_tool_conversations']:,} tool conversations (searches, "
            f"python calls) and {f['tools_phase_conversations'] - f['tools_phase_tool_conversations']} others, "
            f"{f['tools_phase_steps']} steps in {f['tools_phase_minutes']} min at {f['tools_phase_lr_frac']}x the SFT "
            f"model's learning rates "
            f"(`factuality/tools/`)" if f.get("tools_phase_steps") else "") + ".", "",
        "![factuality loss](factuality/loss.png)", "",
        "**Held-out questions, before (SFT) and after probing** (greedy; a reply that says it does not know is "
        "*refused*, else *correct* when it holds the true answer, else *wrong*; the SFT stage's sample of "
        "questions; none of these facts or people was probed or trained on):", "",
        markdown_table(tabs), "",
        md_table(["goal (issue 10)", "SFT", "after probing", "", "SFT + confidence gate", ""], [
            ["people who do not exist: refused ≥ 80%", pct(f.get("absent_refused_sft")),
             pct(f.get("absent_refused")), goal(f.get("absent_refused"), lambda x: x >= 0.8),
             pct(f.get("absent_refused_gate")), goal(f.get("absent_refused_gate"), lambda x: x >= 0.8)],
            [f"facts SFT answered correctly ({f.get('sft_correct_n', 0)}): still correct ≥ 90%", "100%",
             pct(f.get("sft_correct_kept")), goal(f.get("sft_correct_kept"), lambda x: x >= 0.9),
             pct(f.get("sft_correct_kept_gate")), goal(f.get("sft_correct_kept_gate"), lambda x: x >= 0.9)],
            ["rare facts, no tools: wrong ≤ 20%", pct(f.get("rare_wrong_sft")), pct(f.get("rare_wrong")),
             goal(f.get("rare_wrong"), lambda x: x <= 0.2), pct(f.get("rare_wrong_gate")),
             goal(f.get("rare_wrong_gate"), lambda x: x <= 0.2)],
            [f"questions that need no world knowledge (identity, reading, math; {f.get('nonfact_n', 0)} SFT "
             f"validation conversations): refused", pct(f.get("nonfact_refused_sft")), pct(f.get("nonfact_refused")),
             "should stay 0%", pct(f.get("nonfact_refused_gate")), ""]]),
    ]
    if f.get("gate_threshold") is not None:
        how = (f"memory stands only when the gate's confidence, a regression over the geometric mean probability "
               f"of its tokens and the familiarity of the name asked about (how well the model predicts the "
               f"name's tokens after the first), is ≥ {f['gate_threshold']:.3f}"
               if f.get("gate_mean_threshold") is not None else
               f"memory stands only when the geometric mean probability of its tokens is ≥ {f['gate_threshold']:.3f}")
        mean = (f" The geometric mean alone, calibrated on the same probe (≥ {f['gate_mean_threshold']:.3f}), would "
                f"refuse {pct(f.get('absent_refused_gate_mean'))} of the people who do not exist, keep "
                f"{pct(f.get('sft_correct_kept_gate_mean'))} of the right answers and leave "
                f"{pct(f.get('rare_wrong_gate_mean'))} of the rare facts wrong (the gate: "
                f"{pct(f.get('absent_refused_gate'))}, {pct(f.get('sft_correct_kept_gate'))}, "
                f"{pct(f.get('rare_wrong_gate'))})." if f.get("gate_mean_threshold") is not None else "")
        lines += ["", f"**The confidence gate** (`dentro/chat/gate.py`): the SFT model answers, and its answer from "
                      f"{how}; below, it says it does not know (with tools on, the question goes to the tool-trained "
                      f"model). The threshold is the highest that keeps 90% of the right answers among the probe's "
                      f"greedy ones (`factuality/gate.json`), so no held-out question chose it. A question that "
                      f"brings a text to read is not judged, nor, without tools, a reply that reasons in "
                      f"`<think>` (with tools it goes to them)." + (
                          f" Follow-ups that name nobody (\"E onde ela nasceu?\", the SFT stage's "
                          f"{f['followup_n']} held-out ones) are judged when the reply names whom the "
                          f"conversation named: of the SFT model's {f['followup_right_n']} right answers "
                          f"{pct(f.get('followup_right_kept_gate'))} stand, of its {f['followup_wrong_n']} "
                          f"wrong ones {pct(f.get('followup_wrong_refused_gate'))} are refused."
                          if f.get("followup_n") else "") + mean]
    if r.get("tools"):
        lines += ["", tools_section(r["tools"], f, pct, goal)]
    frequent = [it for it in items if it["bucket"] == "frequent"]
    if frequent and f.get("absent_refused") is not None:
        refused = sum(it["probed"]["verdict"] == "refused" for it in frequent) / len(frequent)
        lines += ["", f"**Does it know what it knows?** After probing it refuses {pct(refused)} of the held-out "
                      f"questions about frequent facts and {pct(f['absent_refused'])} of those about people who do "
                      f"not exist: a model that knows what it knows refuses the second and answers the first."]
    from dentro.runs import FACTUALITY_KEEP_GOAL

    kept = f.get("sft_correct_kept")
    if kept is not None and kept < FACTUALITY_KEEP_GOAL:
        lines += ["", f"**Not the run's chat model.** It kept {pct(kept)} of what the SFT model answered correctly "
                      f"(< {pct(FACTUALITY_KEEP_GOAL)}): refusing what it knows is no fix, so `dentro chat`, `serve` "
                      f"and `export` keep using the SFT model (this one: `--checkpoint {ckpt}`)" + (
                          "; `dentro chat` puts the SFT model behind the confidence gate above, which hands "
                          "what it is unsure of to this model's tools (`dentro serve` and its web UI gate it "
                          "too, with tools off: `\"gate\": true`)" if f.get("gate_threshold") is not None
                          else "") + "."]
    if shown:
        lines += ["", "**Answers that changed**:", "",
                  md_table(["question", "truth", "SFT", "after probing"],
                           [[cell(it["question"]), cell(", ".join(it["answers"]) or "(nobody)"),
                             cell(it["sft"]["reply"]), cell(it["probed"]["reply"])] for it in shown])]
    return f, "\n".join(lines)
