"""Tokens to think: the same model, the same held-out problems, answered step by step inside
<think> or at once (thinking switched off: the empty block prefilled, dentro/chat/template.py).

    measure(model, tok, groups)   {group: {"n", "think", "direct", "think_len", "opened_think"}}
    examples(result)              a few problems with both answers, for the report card

pass@1 is greedy; a reply is right when its final number (after </think>) is the answer
(dentro/eval/math.py).
"""

from __future__ import annotations

THINK_TOKENS = 192  # room for a 4-digit column sum and its result; the direct form needs a few tokens
DIRECT_TOKENS = 24
MIN_ROOM = 8  # a problem is measured only if its prompt leaves this many tokens for the answer


def measure(model, tokenizer, groups: dict[str, list[dict]], *, batch_size: int = 64) -> dict:
    """groups: {name: [{"question", "answer", ...}]} -> per group the pass@1 of both forms, the
    mean length of the thinking replies and the share of them that opened a <think> block."""
    from dentro.train.rl import evaluate, prompt_ids

    context = model.config.max_position_embeddings
    out = {}
    for name, problems in groups.items():
        # only problems whose prompt leaves room for an answer in both forms (a tiny test model's
        # context may hold none)
        problems = [p for p in problems if len(prompt_ids(tokenizer, p["question"], think=False)) + MIN_ROOM <= context]
        if not problems:
            continue
        think = evaluate(model, tokenizer, problems, max_tokens=THINK_TOKENS, batch_size=batch_size, think=True)
        direct = evaluate(model, tokenizer, problems, max_tokens=DIRECT_TOKENS, batch_size=batch_size, think=False)
        out[name] = {"n": len(problems), "think": think["pass1"], "direct": direct["pass1"],
                     "think_correct": sum(it["correct"] for it in think["items"]),
                     "direct_correct": sum(it["correct"] for it in direct["items"]),
                     "think_len": think["mean_len"], "direct_len": direct["mean_len"],
                     "opened_think": sum(it["reply"].lstrip().startswith("<think>") for it in think["items"])
                     / len(problems),
                     "items": [{"question": t["question"], "answer": t["answer"], "think": t["reply"],
                                "think_correct": t["correct"], "direct": d["reply"], "direct_correct": d["correct"]}
                               for t, d in zip(think["items"], direct["items"])]}
    return out


def by_operation(problems: list[dict]) -> dict[str, list[dict]]:
    """Held-out arithmetic split by operation."""
    names = {"add": "addition", "sub": "subtraction", "mul": "multiplication by one digit"}
    out: dict[str, list[dict]] = {}
    for p in problems:
        out.setdefault(names[p["op"]], []).append(p)
    return out
