"""Tools measured: held-out questions answered with and without `search` and `python` (stage 6).

    facts        held-out facts per bucket (frequent / medium / rare) and people who do not
                 exist, pt and en (dentro.eval.knowledge's items): with tools, the question goes
                 through the tool loop as `dentro chat` runs it (TOOLS_PROMPT as the system
                 message, greedy, the run's search index); without, the same question alone.
                 Verdicts: correct (the answer string in the final reply) / refused / wrong, and
                 which tools the reply called.
    arithmetic   sums, differences and products of 4- and 5-digit numbers, pt and en, drawn with
                 their own seed and never a pair of the training conversations: correct when the
                 exact result is in the reply, with python and without.
    arithmetic_mixed  the same with operands of 1-6 digits drawn apart, one of them 3 or more
                 ("48213 × 771", "1234 + 98"): what users type as well.
    arithmetic_small  two operands of 1-2 digits ("7 + 5", "34 × 12"), which the tiny model
                 gets wrong in its head too.
    needless     a tool called for a frequent fact (which the model knows) or for a question that
                 needs none: reported per bucket as the share of replies that called any tool.
"""

from __future__ import annotations

import random
import re

from dentro.chat.tools import TOOLS_PROMPT, ToolContext
from dentro.eval.knowledge import verdict

VERDICTS = ("correct", "refused", "wrong")


BUCKET = {"4-5 digits": "arithmetic", "mixed sizes": "arithmetic_mixed", "small": "arithmetic_small",
          "division": "arithmetic_division"}


def arithmetic_items(n: int, seed: int = 0, avoid: set[tuple[int, int]] = frozenset(), kind: str = "4-5 digits",
                     separators: bool = False) -> list[dict]:
    """n held-out problems (alternating pt / en) of one kind (dentro.world.tool_conversations.KINDS:
    4-5 digit operands, operands of 1-6 digits, two of 1-2 digits, divisions), their numbers written
    with thousands separators if asked: {"question", "answers", "lang", "bucket" ("arithmetic",
    "arithmetic_mixed", "arithmetic_small", "arithmetic_division"; "_separators" added), "op", "a",
    "b"}. A division's answers: the result rounded to two decimals, as the python conversations
    print it, and the float "/" prints."""
    from dentro.world.tool_conversations import asked, python_problem

    tag = BUCKET[kind].removeprefix("arithmetic").replace("_", "-") + ("-sep" if separators else "")
    rng = random.Random(f"tools-heldout-arithmetic{tag}-{seed}")
    items = []
    while len(items) < n:
        lang = ("pt", "en")[len(items) % 2]
        p = python_problem(rng, lang, kind)
        if (p["a"], p["b"]) in avoid:
            continue
        answers = list(dict.fromkeys([str(p["r"]), str(p["a"] / p["b"])])) if p["code"] == "/" else [str(p["r"])]
        items.append({"question": asked(p, lang, rng, separators), "answers": answers, "lang": lang,
                      "bucket": BUCKET[kind] + ("_separators" if separators else ""), "op": p["code"],
                      "a": p["a"], "b": p["b"]})
    return items


def number_in(text: str, number: str) -> bool:
    """number in text as a whole number: not inside a longer one ("944" is not in "9443" nor in
    "944.5"), a final period allowed ("O resultado é 944.")."""
    return re.search(rf"(?<![\d.,]){re.escape(number)}(?!\d|[.,]\d)", text) is not None


def item_verdict(text: str, it: dict) -> str:
    """verdict() for a fact; for arithmetic (any "arithmetic*" bucket), the exact result as a
    whole number."""
    if it.get("bucket", "").startswith("arithmetic"):
        return verdict(text, it.get("answers") or [], lambda t, answers: any(number_in(t, a) for a in answers))
    return verdict(text, it.get("answers") or [])


def answer_with_tools(model, tok, questions: list[str], context: ToolContext, max_tokens: int = 96,
                      progress: str | None = None) -> list[dict]:
    """Questions through the tool loop as `dentro chat` answers them (TOOLS_PROMPT as the system
    message, greedy, up to two calls), in batches (toolloop.tool_loop_batch): per question
    {"text" (the final answer), "calls" (tool names, in order; "?" for a call that could not be
    parsed), "arguments" (each call's arguments, {} when unparsed), "reason" (how the loop ended:
    "context" too when the question alone outgrows the window), "confidence" (the final answer's,
    as the gate measures it; None without one), "missing" (the names and numbers the answer adds
    that no tool result holds, dentro.chat.gate.unsupported; None: nothing to check)}."""
    from dentro.chat.assistant import build_prompt
    from dentro.chat.gate import unsupported
    from dentro.chat.toolloop import tool_loop_batch
    from dentro.model.engine import Sampling
    from dentro.progress import bar

    out: list[dict | None] = [None] * len(questions)
    prompts, where = [], []
    for i, q in enumerate(questions):
        messages = [{"role": "system", "content": TOOLS_PROMPT}, {"role": "user", "content": q}]
        try:
            prompts.append(build_prompt(tok, messages, model.config.max_position_embeddings, max_tokens).ids)
            where.append(i)
        except ValueError:  # the question alone outgrows the window (a micro model's 32 positions)
            out[i] = {"text": "", "calls": [], "arguments": [], "reason": "context", "confidence": None, "missing": None}
    with bar(total=len(prompts), desc=progress or "tools", unit="q", disable=progress is None) as b:
        dones = tool_loop_batch(model, tok, prompts, context=context, max_tokens=max_tokens, max_calls=2,
                                sampling=Sampling(temperature=0.0), progress=b)
    for i, done in zip(where, dones):
        last = done.messages[-1] if done.messages else {}
        out[i] = {"text": (last.get("content") or "") if last.get("role") == "assistant" else "",
                  "calls": [c.name or "?" for c in done.calls], "arguments": [c.arguments or {} for c in done.calls],
                  "reason": done.reason, "confidence": done.confidence,
                  "missing": unsupported([questions[i]], done.messages)}
    return out


def measure(model, tok, items: list[dict], key: str, *, context: ToolContext | None, max_tokens: int = 96,
            progress: str | None = None) -> None:
    """it[key] = {"text", "verdict", "calls", "confidence"} for every item: with context, as the
    tool loop answers it (all questions in batches; the final answer's confidence, and "missing":
    what it adds that no tool result holds, dentro.chat.gate.unsupported); else a plain
    batched reply (no tool can run), with its "confidence" (dentro.chat.gate)."""
    from dentro.chat.assistant import reply_batch

    if context is None:
        replies = reply_batch(model, tok, [[{"role": "user", "content": it["question"]}] for it in items],
                              max_tokens=max_tokens, confidence=True)
        for it, r in zip(items, replies):
            it[key] = {"text": r["text"], "verdict": item_verdict(r["text"], it), "calls": [],
                       "confidence": r["confidence"]}
        return
    for it, r in zip(items, answer_with_tools(model, tok, [it["question"] for it in items], context, max_tokens,
                                              progress=progress)):
        it[key] = {"text": r["text"], "verdict": item_verdict(r["text"], it), "calls": r["calls"],
                   "confidence": r["confidence"], "missing": r["missing"]}


def table(items: list[dict], key: str) -> dict:
    """{(bucket, lang): {"n", "correct", "refused", "wrong", "called", "search", "python"}}: counts."""
    out: dict = {}
    for it in items:
        if key not in it:
            continue
        g = out.setdefault((it["bucket"], it["lang"]), {"n": 0, **{v: 0 for v in VERDICTS},
                                                         "called": 0, "search": 0, "python": 0})
        g["n"] += 1
        g[it[key]["verdict"]] += 1
        calls = it[key]["calls"]
        g["called"] += bool(calls)
        g["search"] += "search" in calls
        g["python"] += "python" in calls
    return out


def pooled(tables: dict, key: str, bucket: str, what: str = "correct") -> tuple[int, int]:
    """(count of `what`, questions) of one bucket over its languages, from tables in their JSON
    form ({key: {"bucket/lang": table() counts}}, as the factuality stage's eval.json holds them)."""
    gs = [g for k, g in tables.get(key, {}).items() if k.split("/")[0] == bucket]
    return sum(g[what] for g in gs), sum(g["n"] for g in gs)
