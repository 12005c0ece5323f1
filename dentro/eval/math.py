"""The verifier for math answers: a reward that a program computes, no judge model.

    answer    the final number of a reply: the text after the last </think> when there is one,
              else the whole reply; of that text, the last number. "Resposta: 1.234" (Portuguese
              thousands), "Answer: 1,234" (English thousands), "-7", "3,5" / "3.5" (decimals)
              all read as numbers; "39 lápis." reads 39.
    reward    1 when that number equals the truth, else 0; plus FORMAT_BONUS when the reply is
              well formed: at most one <think>...</think>, at its start, and an answer after it
              (DeepSeek-R1's "format reward", arXiv:2501.12948 section 2.2.2). A reply without
              <think> gets no bonus and no penalty: the SFT model does not think yet.
    pass@k    the chance that at least one of k samples is correct, estimated without bias from
              n >= k samples of which c are correct: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021,
              arXiv:2107.03374, eq. 1, computed as a stable product).
    checks    does the reply check its own work ("vamos conferir", "let me check", "testando",
              or the same operation computed twice)? Counted before and after RL (R1's "aha").
"""

from __future__ import annotations

import re

import numpy as np

FORMAT_BONUS = 0.1

# A number as people write it: optional sign, digits with optional thousands groups (1.234.567 or
# 1,234,567, or 1 234 with a narrow/no-break space), optional decimals.
_NUMBER = re.compile(r"(?<![\w.,])[-−]?\d{1,3}(?:(?:[.,]|[\u202f\xa0](?=\d{3}\b))\d{3})+(?:[.,]\d+)?(?![\d])"
                     r"|(?<![\w.,])[-−]?\d+(?:[.,]\d+)?(?![\d])")


def parse_number(s: str) -> float | None:
    """One number as written ("1.234", "1,234", "1 234", "3,5", "-7") -> its value, or None.
    A single separator followed by exactly three digits is a thousands separator (the world's
    answers are whole numbers: "1.669" is one thousand six hundred and sixty-nine, in
    Portuguese and in English alike); any other single separator is a decimal point."""
    s = s.strip().replace("−", "-").replace("\u202f", " ").replace("\xa0", " ")
    neg = s.startswith("-")
    s = s.lstrip("-").replace(" ", "")
    if not s or not s[0].isdigit():
        return None
    seps = [c for c in s if c in ".,"]
    if not seps:
        whole, frac = s, ""
    elif len(set(seps)) == 2:  # "1.234,5" (pt) or "1,234.5" (en): the last separator is the decimal one
        dec = s[max(s.rfind("."), s.rfind(","))]
        head, frac = s.rsplit(dec, 1)
        whole = head.replace("." if dec == "," else ",", "")
    elif len(seps) > 1:  # "1.234.567" or "1,234,567": thousands groups
        whole, frac = s.replace(seps[0], ""), ""
    else:
        head, tail = s.split(seps[0])
        whole, frac = (head + tail, "") if len(tail) == 3 else (head, tail)
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return None
    v = float(f"{whole}.{frac}" if frac else whole)
    return -v if neg else v


def numbers(text: str) -> list[float]:
    """Every number in the text, in order."""
    out = []
    for m in _NUMBER.finditer(text):
        v = parse_number(m.group())
        if v is not None:
            out.append(v)
    return out


def answer_text(reply: str) -> str:
    """The part of a reply that holds the answer: after the last </think>, else all of it."""
    return reply.rsplit("</think>", 1)[1] if "</think>" in reply else reply


def extract_answer(reply: str) -> float | None:
    """The final number of a reply (see the module docstring), or None when it has none."""
    found = numbers(answer_text(reply))
    return found[-1] if found else None


def well_formed(reply: str) -> bool:
    """<think>...</think> once, at the start, followed by an answer with a number."""
    s = reply.strip()
    if not s.startswith("<think>") or s.count("<think>") != 1 or s.count("</think>") != 1:
        return False
    after = s.split("</think>", 1)[1]
    return bool(after.strip()) and bool(numbers(after))


def is_correct(reply: str, truth: float) -> bool:
    a = extract_answer(reply)
    return a is not None and abs(a - float(truth)) < 1e-9


def reward(reply: str, truth: float, format_bonus: float = FORMAT_BONUS) -> float:
    """1 for the right final number, + format_bonus for a well-formed <think> reply."""
    return float(is_correct(reply, truth)) + (format_bonus if well_formed(reply) else 0.0)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k)/C(n, k) (Chen et al. 2021)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


_CHECK_WORDS = re.compile(r"vamos conferir|conferindo|confer(?:e|i)r|verificando|vamos verificar|testando|"
                          r"let me check|let's check|checking|to check|double[- ]check|verify", re.I)
_OPERATION = re.compile(r"(\d+)\s*(?:[+x×*−-]|mais|menos|vezes|plus|minus|times)\s*(\d+)", re.I)


def checks_own_work(reply: str) -> bool:
    """Words of checking ("vamos conferir", "let me check", "testando", ...), or the same
    operation on the same two numbers written twice (a re-computation)."""
    if _CHECK_WORDS.search(reply):
        return True
    ops = [tuple(sorted(m.groups())) for m in _OPERATION.finditer(reply)]
    return len(ops) != len(set(ops))
