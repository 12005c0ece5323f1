"""Multi-digit arithmetic with two answer forms, for the chain-of-thought stage.

A transformer spends the same computation on every token it writes. "347 + 285 = 632" asks for
the 6 of the hundreds in one forward pass that has to find, add and carry three columns at
once; written column by column, each token needs one single-digit sum and a carry that the
model has just written itself. The two forms, on the same problems and the same model:

    think       <think>
                347 + 285
                unidades: 7 + 5 = 12, escrevo 2, vai 1
                dezenas: 4 + 8 + 1 = 13, escrevo 3, vai 1
                centenas: 3 + 2 + 1 = 6, escrevo 6
                resultado: 632
                </think>

                632
    direct      <think>

                </think>

                632

The direct form is Qwen3's answer with thinking switched off (its chat template writes the
empty <think> block itself); `dentro chat --no-think` and the evaluation prefill it, so the
form is chosen by the request, not guessed by the model.

Problems: addition and subtraction of 2- to 4-digit numbers and multiplication of a 2- to
3-digit number by one digit. `problems(n, seed)` draws a stream; the held-out set of a run is
drawn with its own seed and shares no pair of numbers with the training problems nor with any
exercise or worked solution of the world's homework pages, in whatever words they are written
(`split`, `page_operations`), so what is measured was in no training data of the run.
"""

from __future__ import annotations

import random
import re

from dentro.chat.template import THINK_OFF

OPS = ("add", "sub", "mul")
SYMBOL = {"add": "+", "sub": "-", "mul": "×"}
PLACES = {"pt": ["unidades", "dezenas", "centenas", "milhares", "dezenas de milhar"],
          "en": ["units", "tens", "hundreds", "thousands", "ten thousands"]}
W = {"pt": {"write": "escrevo", "carry": "vai", "borrow": "empresto 1", "result": "resultado"},
     "en": {"write": "write", "carry": "carry", "borrow": "borrow 1", "result": "result"}}
ASK = {"pt": ["Quanto é {a} {s} {b}?", "Calcule {a} {s} {b}.", "{a} {s} {b} = ?", "Qual é o resultado de {a} {s} {b}?"],
       "en": ["What is {a} {s} {b}?", "Work out {a} {s} {b}.", "{a} {s} {b} = ?", "What is the result of {a} {s} {b}?"]}


def operands(op: str, rng: random.Random) -> tuple[int, int]:
    if op == "mul":
        return rng.randint(12, 999), rng.randint(2, 9)
    da, db = rng.randint(2, 4), rng.randint(2, 4)
    a, b = rng.randint(10 ** (da - 1), 10 ** da - 1), rng.randint(10 ** (db - 1), 10 ** db - 1)
    if op == "sub" and a < b:
        a, b = b, a
    return a, b


def answer(op: str, a: int, b: int) -> int:
    return {"add": a + b, "sub": a - b, "mul": a * b}[op]


def steps(op: str, a: int, b: int, lang: str) -> list[str]:
    """The worked columns, one line each, the units first, then the result read off them."""
    w, places = W[lang], PLACES[lang]
    lines, digits, carry, col = [f"{a} {SYMBOL[op]} {b}"], [], 0, 0
    x, y = a, b
    while x or (op != "mul" and y) or carry or col == 0:
        da = x % 10
        if op == "add":
            db = y % 10
            s = da + db + carry
            expr = f"{da} + {db}" + (f" + {carry}" if carry else "")
            d, carry = s % 10, s // 10
        elif op == "sub":
            db = y % 10 + carry  # the borrowed 1 is paid back by the next column's subtrahend
            if da < db:
                s = da + 10 - db
                expr = f"{da} - {y % 10}" + (f" - {carry}" if carry else "") + f", {w['borrow']}: 1{da} - {db}"
                d, carry = s, 1
            else:
                s = da - db
                expr = f"{da} - {y % 10}" + (f" - {carry}" if carry else "")
                d, carry = s, 0
        else:
            s = da * b + carry
            expr = f"{da} × {b}" + (f" + {carry}" if carry else "")
            d, carry = s % 10, s // 10
        tail = f", {w['write']} {d}" + (f", {w['carry']} {carry}" if carry and op != "sub" else "")
        lines.append(f"{places[min(col, len(places) - 1)]}: {expr} = {s}{tail}")
        digits.append(d)
        x, y, col = x // 10, (y // 10 if op != "mul" else y), col + 1
    result = int("".join(map(str, reversed(digits))))  # leading zeros of a subtraction drop here
    assert result == answer(op, a, b), (op, a, b)
    lines.append(f"{w['result']}: {result}")
    return lines


def problem(op: str, a: int, b: int, lang: str, rng: random.Random) -> dict:
    return {"id": f"{op}-{a}-{b}-{lang}", "op": op, "a": a, "b": b, "lang": lang,
            "question": rng.choice(ASK[lang]).format(a=a, b=b, s=SYMBOL[op]), "answer": answer(op, a, b)}


def reply(p: dict, think: bool) -> str:
    """The assistant's content in the think or the direct form."""
    if not think:
        return f"{THINK_OFF}{p['answer']}"
    return "<think>\n" + "\n".join(steps(p["op"], p["a"], p["b"], p["lang"])) + f"\n</think>\n\n{p['answer']}"


def problems(n: int, seed: str, exclude: set[tuple] = frozenset()) -> list[dict]:
    """n distinct problems (op, a, b) not in exclude, languages and operations alternating."""
    rng = random.Random(f"arithmetic-{seed}")
    out, seen = [], set(exclude)
    while len(out) < n:
        op, lang = OPS[len(out) % len(OPS)], ("pt", "en")[(len(out) // len(OPS)) % 2]
        a, b = operands(op, rng)
        if (op, a, b) in seen:
            continue
        seen.add((op, a, b))
        out.append(problem(op, a, b, lang, rng))
    return out


_NUMBER = re.compile(r"\d+")


def page_operations(texts) -> set[tuple]:
    """Every (op, a, b) whose two numbers are written in one of the texts (the world's math
    problems with their worked solutions, as the homework pages of the crawl show them), in
    either order and for every operation: "Some 47 com 6", "Multiply 47 by 6" and "47 + 6" alike.
    Generous on purpose: held-out problems avoid all of them."""
    out = set()
    for t in texts:
        nums = {int(x) for x in _NUMBER.findall(t)}
        out |= {(op, a, b) for a in nums for b in nums for op in OPS}
    return out


def split(n_train: int, n_heldout: int, seed: int = 0, exclude: set[tuple] = frozenset()) -> tuple[list, list]:
    """(training, held-out) problems: disjoint, and both avoid `exclude` (the crawl's homework,
    whose held-out word problems RL and the evaluation ask)."""
    held = problems(n_heldout, f"heldout-{seed}", exclude)
    train = problems(n_train, f"train-{seed}", set(exclude) | {(p["op"], p["a"], p["b"]) for p in held})
    return train, held
