"""The reversal curse (Berglund et al. 2023, arXiv:2309.12288): a model trained on "A's mother
is B" answers "Who is A's mother?" but not "Who is B's son?".

The tiny world writes each directional fact (mother, father, founder) either forward only
("forward_only": the crawl never names the object first) or both ways ("both"), and its truth
holds a forward and a reverse question per fact and language (dentro/world/questions.py).
For each fact the chat model answers three questions, greedily, each in a reply of its own:

    forward     "Who is A's mother?"                          -> B
    reverse     "Who is B's son?"                             -> A (any of B's sons)
    in context  "A is the son of B.\\n\\nWho is B's son?"      -> A: the fact stated forward in
                the same user turn (the layout of SFT's reading conversations), the paper's
                workaround: what the weights cannot retrieve backwards, attention can.

Scored like dentro.eval.knowledge (a true answer string, case-folded, in the reply), per
(stated, bucket, language) with 95% Wilson intervals. The curse shows as forward >> reverse on
forward_only facts while in-context reverse stays high; "both" facts are the control.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from dentro.eval.knowledge import contains_answer, fmt_rate, table
from dentro.runs import read_jsonl

STATED = ("forward_only", "both")
BUCKETS = ("frequent", "medium", "rare")
LANGS = ("pt", "en")
KEYS = ("forward", "reverse", "in_context")  # the three questions asked per item
STATED_LABEL = {"forward_only": "forward-only", "both": "both ways"}
IN_CONTEXT = "{p}\n\n{q}"  # passage, blank line, question: the first layout of SFT's reading turns


def _rows(path: Path) -> list[dict]:
    return read_jsonl(path) if path.is_file() else []


def reversal_items(truth: Path, heldout_facts: set[str] | None = None, per_group: int | None = None,
                   seed: int = 0, *, langs=LANGS) -> list[dict]:
    """One item per (directional fact, language): {"fact", "lang", "bucket", "stated", "relation",
    "forward" (its forward question row), "reverse" (its reverse question row), "context" (a sentence
    stating the fact forward, in the crawl's own phrasing)}. Only facts with both questions in every
    language that has reverse questions for the bucket; only held-out facts when heldout_facts is
    given; at most per_group facts per (stated, bucket) group, a seeded sample, the same facts in
    every language. Ordered by bucket, stated, fact, language."""
    from dentro.world.conversations import read_world
    from dentro.world.phrasing import fact_sentence

    truth = Path(truth)
    qdir = truth / "questions"
    rng = random.Random(seed)
    world = None  # read only when some item needs a sentence
    items = []
    for bucket in BUCKETS:
        rev = {}  # (fact, lang) -> reverse row
        present = []
        for lang in langs:
            rows = _rows(qdir / f"{lang}_reverse_{bucket}.jsonl")
            if rows:
                present.append(lang)
            for r in rows:
                if heldout_facts is None or r["fact"] in heldout_facts:
                    rev[(r["fact"], lang)] = r
        if not rev:
            continue
        fwd = {}  # (fact, lang) -> forward row, for the facts asked in reverse only
        for lang in present:
            for r in _rows(qdir / f"{lang}_forward_{bucket}.jsonl"):
                if (r["fact"], lang) in rev:
                    fwd[(r["fact"], lang)] = r
        facts = sorted({f for f, _ in rev if all((f, lang) in rev and (f, lang) in fwd for lang in present)})
        for stated in STATED:
            keys = [f for f in facts if rev[(f, present[0])]["stated"] == stated]
            if per_group is not None and len(keys) > per_group:
                keys = sorted(rng.sample(keys, per_group))
            if keys and world is None:
                world = read_world(truth)
                by_id = {f.id: f for f in world.facts}
            for f in keys:
                for lang in present:
                    r = rev[(f, lang)]
                    sentence = fact_sentence(world, by_id[f], lang, random.Random(f"reversal-{seed}-{f}-{lang}"))
                    items.append({"fact": f, "lang": lang, "bucket": bucket, "stated": stated,
                                  "relation": r["relation"], "forward": fwd[(f, lang)], "reverse": r,
                                  "context": sentence})
    return items


def in_context_prompt(item: dict) -> str:
    """The reverse question after the sentence that states the fact forward."""
    return IN_CONTEXT.format(p=item["context"], q=item["reverse"]["question"])


def _question(item: dict, key: str) -> str:
    return in_context_prompt(item) if key == "in_context" else item[key]["question"]


def measure(model, tokenizer, items: list[dict], *, max_tokens: int = 48, batch_size: int = 64) -> dict:
    """Ask every item's three questions (one batched, greedy reply_batch call) and count the right
    answers: {"rows": [{"stated", "bucket", "lang", "n", "forward", "reverse", "in_context"}, each
    {"n", "k", "rate", "ci"}], "items": the items with "<key>_reply" and "<key>_correct" added}."""
    from dentro.chat.assistant import reply_batch
    from dentro.model.engine import Sampling

    convs = [[{"role": "user", "content": _question(it, key)}] for it in items for key in KEYS]
    replies = reply_batch(model, tokenizer, convs, max_tokens=max_tokens, sampling=Sampling(temperature=0.0),
                          batch_size=batch_size)
    return _scored(items, [r["text"] for r in replies])


# The reverse sentence's start, the object first: the base model completes it with the subject.
REVERSE_CLOZE = {"mother": {"pt": "{o} é a mãe de", "en": "{o} is the mother of"},
                 "father": {"pt": "{o} é o pai de", "en": "{o} is the father of"},
                 "founder": {"pt": "{o} fundou", "en": "{o} founded"}}


def cloze_prompts(truth: Path, items: list[dict]) -> list[str | None]:
    """Per item, the three prompts of the base model, in KEYS order: the forward cloze sentence
    (dentro.eval.knowledge's), the reverse one (REVERSE_CLOZE, the object named first), and the
    reverse one after the sentence that states the fact forward."""
    from dentro.eval.knowledge import cloze_prompts as forward_cloze

    forward = forward_cloze(Path(truth), [it["forward"] for it in items])
    out = []
    for it, fwd in zip(items, forward):
        rev = REVERSE_CLOZE[it["relation"]][it["lang"]].format(o=it["forward"]["answer"])
        out += [fwd, rev, f"{it['context']} {rev}"]
    return out


def cloze(model, tokenizer, truth: Path, items: list[dict], *, max_tokens: int = 10) -> dict:
    """The base model's side of measure(): it completes the three sentences of cloze_prompts
    (greedy, max_tokens); scored and laid out as measure() does."""
    from dentro.eval.knowledge import run_cloze

    context = model.config.max_position_embeddings  # a prompt with no room to answer is not asked
    prompts = [p if p and len(tokenizer.encode(p)) + 1 + max_tokens <= context else None
               for p in cloze_prompts(truth, items)]
    return _scored(items, run_cloze(model, tokenizer, prompts, max_tokens=max_tokens))


def _scored(items: list[dict], texts: list[str]) -> dict:
    """texts: len(KEYS) replies per item, in KEYS order -> {"rows", "items"} (see measure)."""
    scored = []
    for i, it in enumerate(items):
        rec = dict(it)
        for j, key in enumerate(KEYS):
            text = texts[i * len(KEYS) + j]
            answers = it["forward" if key == "forward" else "reverse"]["answers"]
            rec[f"{key}_reply"] = text
            rec[f"{key}_correct"] = bool(answers) and contains_answer(text, answers)
        scored.append(rec)
    rows = []
    for stated in STATED:
        part = [r for r in scored if r["stated"] == stated]
        tables = {key: table(part, f"{key}_correct") for key in KEYS}
        for bucket in BUCKETS:
            for lang in LANGS:
                g = tables["forward"].get((bucket, lang))
                if g:
                    rows.append({"stated": stated, "bucket": bucket, "lang": lang, "n": g["n"],
                                 **{key: tables[key][(bucket, lang)] for key in KEYS}})
    return {"rows": rows, "items": scored}


def markdown_table(result: dict) -> str:
    """The paper's table: rows stated (forward-only / both ways) x bucket x language; columns the
    forward question, the reverse one, the reverse one with the fact in context: rate (k/n; 95% CI)."""
    from dentro.report import md_table

    return md_table(["stated", "bucket", "lang", "n", "forward", "reverse", "reverse, fact in context"],
                    [[STATED_LABEL.get(r["stated"], r["stated"]), r["bucket"], r["lang"], r["n"],
                      fmt_rate(r["forward"]), fmt_rate(r["reverse"]), fmt_rate(r["in_context"])]
                     for r in result["rows"]])


def evaluate_run(run: Path, *, per_group: int | None = 20, seed: int = 0, max_tokens: int = 48) -> dict:
    """measure() on a run folder: its SFT chat model (sft/checkpoint), its world's truth, only the
    facts held out of SFT (sft/conversations/heldout.json). Adds "seconds" (loading included)."""
    from dentro.model.checkpoint import load_checkpoint

    t0 = time.perf_counter()
    run = Path(run)
    heldout = json.loads((run / "sft" / "conversations" / "heldout.json").read_text(encoding="utf-8"))
    items = reversal_items(run / "world" / "truth", set(heldout["facts"]), per_group=per_group, seed=seed)
    model, tok, _ = load_checkpoint(run / "sft" / "checkpoint", "cpu", load_train_state=False)
    result = measure(model, tok, items, max_tokens=max_tokens)
    result["seconds"] = time.perf_counter() - t0
    return result
