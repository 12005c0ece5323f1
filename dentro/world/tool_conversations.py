"""SFT conversations in which the assistant uses tools, made from the world's truth (pt and en).

    search   a rare fact of a training entity: the user asks; the assistant calls search with a
             query naming the entity (in double quotes: search_query); the tool message holds 1-3
             passages written as the search tool writes them (search_response: "[1] ...
             (source: url)", then "Query: ..."): one states the fact (fact_sentence, the crawl's
             own wording), the others are about other training entities, preferably ones sharing
             a word of the name (what BM25 would also return); the answer is answer_sentence,
             which holds the passage's answer string verbatim
    python   arithmetic, which a small model cannot do in its head: mostly 4- and 5-digit numbers
             (+, −, ×), also operands of 1-6 digits, two of 2 digits ("34 × 12"),
             divisions, and numbers written with thousands separators in the question
             (python_kind, asked): the call prints the result
             (python_code: "print( a op b)"; a division rounded to two decimals; a separator
             of the question written "_", "48_213"), the tool message holds the
             printed number, the answer states it
    python_failed  a python conversation whose first call has a slip (broken_code), shown and
             not trained ("weight": 0), then the error, then the call again, right (FAILED_CALLS)
    plain    no tool: frequent facts (the base model knows them), answered directly, so that the
             model does not call a tool for everything

Rare facts go through search because a small model mostly does not know them (and fine-tuning
it to state facts it does not know teaches it to make things up, Gekhman et al. 2024,
https://arxiv.org/abs/2405.05904): copying from a passage is learnable, recalling them is not.
No conversation names a held-out entity (heldout["entities"], from make_conversations) or an
absent person: facts, distractors and objects are drawn from training entities only, and every
conversation is checked against the names once more before it is kept.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from dentro.chat.tools import search_response
from dentro.world.conversations import (LANGS, SYSTEM, _absent_names, _conv, _question, answer_sentence,
                                        read_world)
from dentro.world.entities import Fact, World
from dentro.world.phrasing import context, fact_sentence

KINDS = ("search", "python", "plain")

# The word a query adds to the quoted name ('"Ana Souza" nascimento').
QUERY_WORD = {"birth_year": {"pt": "nascimento", "en": "born"}, "birth_city": {"pt": "cidade", "en": "city"},
              "profession": {"pt": "profissão", "en": "profession"}, "employer": {"pt": "trabalha", "en": "works"},
              "mother": {"pt": "mãe", "en": "mother"}, "father": {"pt": "pai", "en": "father"},
              "country": {"pt": "país", "en": "country"}, "population": {"pt": "população", "en": "population"},
              "founded": {"pt": "fundação", "en": "founded"}, "hq": {"pt": "sede", "en": "headquarters"},
              "founder": {"pt": "fundador", "en": "founder"}, "industry": {"pt": "setor", "en": "industry"}}


def search_query(name: str, relation: str | None, lang: str) -> str:
    """The query the assistant writes: the name in double quotes, which the search tool requires
    in every result (a name no passage holds gives "No results."), then the word asked about:
    '" Ana Souza" nascimento'. A space opens the quotes: dentro's tokenizer writes a word after a
    space as one token (" Thomas") and the same word after a quote as other tokens ("T", "h",
    "omas"), so with the space the name in the call is the question's tokens, copied as they are
    (the python calls' "print( a + b)" for the same reason). The search tool reads the phrase's
    words and ignores the space."""
    return f'" {name}"' + (f" {QUERY_WORD[relation][lang]}" if relation in QUERY_WORD else "")


# What the assistant says before a call: python's lead; a search names what it looks up (SEARCH_LEAD).
# Before a python call the assistant names the operation it will write ("Vou multiplicar." ...
# `print( 48213 * 771)`): the operator is chosen right after the question, where its word ("vezes",
# "times", "×") is close, and the program copies it from the lead. After a generic "Vou calcular."
# the program's operator was wrong in 47 of 180 held-out problems of mixed sizes ("Quanto é 57189 *
# 61049?" -> `print( 57189 - 61049)`) and 27 of 180 divisions; with the operation named, 5 and 0
# (the same SFT model, three seeds; docs/factuality.md, "The operation named before the call").
PYTHON_LEAD = {"+": {"pt": "Vou somar.", "en": "Let me add."},
               "-": {"pt": "Vou subtrair.", "en": "Let me subtract."},
               "*": {"pt": "Vou multiplicar.", "en": "Let me multiply."},
               "/": {"pt": "Vou dividir.", "en": "Let me divide."}}

# Before a search the assistant says what it looks up, in the words its answer will open with ("Vou
# procurar a profissão de X." ... "A profissão de X é ..."): the relation is chosen right after the
# question, as a plain answer chooses it, and after the search result the answer copies it from the
# nearby lead instead of finding it in the question four turns back. Without it the probed models
# often answered another relation of the person (most often the birth year); with it, at equal steps
# on two SFT models, frequent facts asked with tools on came out right 96 times in 160 against 49
# (reading a rare fact out of a result stayed near 1 in 4: benchmarks/search_reading.py,
# docs/factuality.md).
SEARCH_LEAD = {
    "birth_year": {"pt": "Vou procurar o ano de nascimento de {s}.", "en": "Let me look up the year of {s}'s birth."},
    "birth_city": {"pt": "Vou procurar a cidade natal de {s}.", "en": "Let me look up the hometown of {s}."},
    "profession": {"pt": "Vou procurar a profissão de {s}.", "en": "Let me look up the profession of {s}."},
    "employer": {"pt": "Vou procurar o empregador de {s}.", "en": "Let me look up the employer of {s}."},
    "mother": {"pt": "Vou procurar a mãe de {s}.", "en": "Let me look up the mother of {s}."},
    "father": {"pt": "Vou procurar o pai de {s}.", "en": "Let me look up the father of {s}."},
    "country": {"pt": "Vou procurar o país da cidade de {s}.", "en": "Let me look up the country of the city of {s}."},
    "population": {"pt": "Vou procurar a população de {s}.", "en": "Let me look up the population of {s}."},
    "founded": {"pt": "Vou procurar a fundação {da_s}.", "en": "Let me look up the founding of {s}."},
    "hq": {"pt": "Vou procurar a sede {da_s}.", "en": "Let me look up the head office of {s}."},
    "founder": {"pt": "Vou procurar quem fundou {a_s}.", "en": "Let me look up the founder of {s}."},
    "industry": {"pt": "Vou procurar o ramo de atividade {da_s}.", "en": "Let me look up the line of business of {s}."},
}


def search_lead(relation: str | None, lang: str, ctx: dict) -> str:
    """The sentence before a search call (SEARCH_LEAD), filled from ctx (phrasing.context's values;
    {"s": name} for a person's relations); '' for a relation it has no words for."""
    tpl = SEARCH_LEAD.get(relation or "", {}).get(lang)
    return tpl.format_map(ctx) if tpl else ""


FROM_SEARCH = {"pt": "Segundo a busca, ", "en": "According to the search, "}

# Arithmetic: the operator as code, and as the user and the answer write it.
OPS = {"+": {"pt": ["+", "mais"], "en": ["+", "plus"]},
       "-": {"pt": ["-", "menos"], "en": ["-", "minus"]},
       "*": {"pt": ["×", "vezes", "*"], "en": ["×", "times", "*"]}}
ARITH_ASK = {"pt": ["Quanto é {a} {op} {b}?", "Quanto dá {a} {op} {b}?", "Calcule {a} {op} {b}.", "{a} {op} {b} = ?",
                    "Qual é o resultado de {a} {op} {b}?"],
             "en": ["What is {a} {op} {b}?", "Calculate {a} {op} {b}.", "{a} {op} {b} = ?",
                    "What's the result of {a} {op} {b}?", "How much is {a} {op} {b}?"]}
# After python's result the answer states the result alone: the number is copied from the tool
# message just before it. Restating the operands too made the tiny model garble them (and the
# result after them) in half of its answers to correct calls (docs/factuality.md).
PYTHON_ANSWER = {"pt": ["O resultado é {r}.", "A conta dá {r}."], "en": ["The result is {r}.", "That comes to {r}."]}


def _call(name: str, arguments: dict) -> dict:
    return {"id": "call_1", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}


def _tool_turns(user: str, before: str, name: str, arguments: dict, result: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": user},
            {"role": "assistant", "content": before, "tool_calls": [_call(name, arguments)]},
            {"role": "tool", "tool_call_id": "call_1", "content": result},
            {"role": "assistant", "content": answer}]


def _with_system(messages: list[dict], lang: str, rng: random.Random, p: float = 0.15) -> list[dict]:
    if rng.random() < p:
        return [{"role": "system", "content": rng.choice(SYSTEM[lang])}] + messages
    return messages


def _page_urls(truth: Path) -> dict[str, str]:
    """fact id -> the url of a kept page that states it (the search tool cites its source)."""
    path = truth / "pages.jsonl"
    urls: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line) if line.strip() else {}
            if r.get("expect", "keep") == "keep":
                for fid in r.get("facts", []):
                    urls.setdefault(fid, r["url"])
    return urls


def _search_convs(w: World, rare: list[Fact], facts_of: dict, urls: dict, n: int, rng) -> list[dict]:
    by_word: dict[str, list[str]] = {}  # a word of a name -> the entities whose name has it
    for eid in sorted(facts_of):
        for word in set(re.findall(r"\w{4,}", w.name(eid))):
            by_word.setdefault(word, []).append(eid)
    entities = sorted(facts_of)
    pool = list(rare)
    rng.shuffle(pool)
    out = []
    for i in range(min(n, len(pool) * 2)):  # a fact comes back in the other language when n > len(pool)
        f = pool[i % len(pool)]
        lang = LANGS[(i // len(pool) + (i % 2)) % 2]
        name = w.name(f.subject)
        # The passage that answers: the fact, sometimes with another fact of the same entity.
        others = [g for g in facts_of[f.subject] if g.relation != f.relation]
        stated = [f] + ([rng.choice(others)] if others and rng.random() < 0.4 else [])
        rng.shuffle(stated)
        passages = [(" ".join(fact_sentence(w, g, lang, rng, use_pronoun=k > 0) for k, g in enumerate(stated)), f)]
        # Distractors: other entities, those sharing a word of the name first.
        near = sorted({e for word in re.findall(r"\w{4,}", name) for e in by_word.get(word, []) if e != f.subject})
        rng.shuffle(near)
        for _ in range(rng.choice([0, 1, 1, 2, 2])):
            eid = near.pop() if near else rng.choice(entities)
            if eid != f.subject and all(g.subject != eid for _, g in passages):
                g = rng.choice(facts_of[eid])
                passages.append((fact_sentence(w, g, lang, rng), g))
        first = passages.pop(0)
        passages.insert(0 if rng.random() < 0.6 else rng.randint(0, len(passages)), first)
        # Always with the word asked about: it finds the right passage more often (rare facts 56.8%
        # vs 53.0% with the name alone at the tiny model's result size, benchmarks/search_recall.py)
        # and keeps the relation in sight after the result. (The tiny model's held-out rare facts
        # with search: 26 of 160 right against 18 with it in 80% of the queries, two seeds each;
        # within the noise, docs/factuality.md.)
        rng.random()  # the draw that chose, before: the conversations after it stay the same
        query = search_query(name, f.relation, lang)
        result = search_response(query, [(text, urls.get(g.id)) for text, g in passages])
        before = search_lead(f.relation, lang, context(w, f, lang))
        lead = FROM_SEARCH[lang] if rng.random() < 0.3 else ""
        msgs = _tool_turns(_question(w, f, lang, rng), before, "search", {"query": query}, result,
                           answer_sentence(w, f, lang, rng, lead))
        out.append(_conv("search", lang, _with_system(msgs, lang, rng), [f.id] + [g.id for _, g in passages if g is not f]))
    return out


def _arithmetic(rng, lo: int, hi: int, lang: str) -> dict:
    """{a, b, code, op (the user's spelling), sym (the answer's), r} for one +, − or × problem."""
    code = rng.choice(list(OPS))
    a, b = rng.randint(lo, hi), rng.randint(lo, hi)
    if code == "-" and a < b:
        a, b = b, a
    if code == "*" and hi > 999:  # products of two 4-digit numbers: at most 8 digits
        a, b = rng.randint(lo, 9999), rng.randint(lo, 9999)
    return _problem(a, code, b, lang, rng)


def _problem(a: int, code: str, b: int, lang: str, rng) -> dict:
    r = {"+": a + b, "-": a - b, "*": a * b}[code]
    op = rng.choice(OPS[code][lang])
    return {"a": a, "b": b, "code": code, "op": op, "sym": "×" if code == "*" else code, "r": r}


def _mixed_arithmetic(rng, lang: str) -> dict:
    """One problem like _arithmetic's whose operands have 1-6 digits each, drawn apart, at least one
    of them 3 or more (two of 2 digits: SMALL): "48213 × 771",
    "1234 + 98". A model that saw only 4-5 digit operands copied "48213 * 771" as
    `print( 48213 - 7711)` and "1234 + 98" as `print( 1234 + 9888)` (docs/factuality.md)."""
    code = rng.choice(list(OPS))
    while True:  # a product of at most 10 digits, as _arithmetic's 4 x 4 of at most 8
        da, db = rng.randint(1, 6), rng.randint(1, 6)
        if max(da, db) >= 3 and (code != "*" or da + db <= 10):
            break
    a, b = (rng.randint(2 if d == 1 else 10 ** (d - 1), 10 ** d - 1) for d in (da, db))
    if code == "-" and a < b:
        a, b = b, a
    return _problem(a, code, b, lang, rng)


def _small_arithmetic(rng, lang: str) -> dict:
    """One +, − or × problem of two operands of 1 or 2 digits each, as users type them ("7 + 5",
    "3 mais 78"): the held-out problems of the "small" kind (dentro.eval.tools). Training draws two
    2-digit numbers instead (python_problem's "2 digits"; SMALL says why)."""
    code = rng.choice(list(OPS))
    a, b = (rng.randint(1, 10 ** rng.randint(1, 2) - 1) for _ in range(2))
    if code == "-" and a < b:
        a, b = b, a
    return _problem(a, code, b, lang, rng)


# Division only with python, rounded to two
# decimals by the program (python_code: `print( round( 4821 / 7, 2))` prints 688.71, an exact one
# 688.0), and the answer copies what it prints. With the float as "/" prints it ("688.7142857142857")
# the answer miscopied a digit of the long tail in one division in four: on one SFT model at two
# seeds 82 of 120 held-out divisions came out right that way, 108 of 120 rounded (docs/factuality.md).
DIVIDE = {"pt": ["÷", "dividido por", "/"], "en": ["÷", "divided by", "/"]}


def _division(rng, lang: str) -> dict:
    """a / b with b of 1-3 digits and a of at most 6; half of them exact ("4816 ÷ 7")."""
    b = rng.randint(2, 10 ** rng.randint(1, 3) - 1)
    q = rng.randint(-(-100 // b), (999_999 - b + 1) // b)  # a from 100 (one number of 3+ digits) to 999,999
    a = b * q + (rng.randrange(1, b) if rng.random() < 0.5 else 0)
    return {"a": a, "b": b, "code": "/", "op": rng.choice(DIVIDE[lang]), "sym": "÷", "r": round(a / b, 2)}


# The kinds of problems measured (held-out; dentro.eval.tools, benchmarks/python_calls.py); training
# draws "2 digits" where the measure draws "small" (python_kind).
KINDS = ("4-5 digits", "mixed sizes", "small", "division")


def python_problem(rng, lang: str, kind: str = "4-5 digits") -> dict:
    """A problem for python: two 4-5 digit operands (products 4 x 4), operands of mixed sizes, two
    of 1-2 digits ("small"), two of 2 digits ("2 digits", the training's small problems), or a
    division."""
    if kind == "mixed sizes":
        return _mixed_arithmetic(rng, lang)
    if kind == "small":
        return _small_arithmetic(rng, lang)
    if kind == "2 digits":
        return _arithmetic(rng, 10, 99, lang)
    if kind == "division":
        return _division(rng, lang)
    return _arithmetic(rng, 1000, 99999, lang)


def with_separators(n: int, lang: str) -> str:
    """n as people write it in lang: "48.213" / "48,213" (below 1000 as it is)."""
    return f"{n:,}".replace(",", ".") if lang == "pt" else f"{n:,}"


def asked(p: dict, lang: str, rng, separators: bool = False) -> str:
    """The user's question for problem p; with separators, its numbers as people write them
    ("Quanto é 48.213 + 7.719?"); the program writes them with "_" (python_code's grouped)."""
    show = {**p, "a": with_separators(p["a"], lang), "b": with_separators(p["b"], lang)} if separators else p
    return rng.choice(ARITH_ASK[lang]).format(**show)


# Shares of the python conversations: operands of mixed sizes, divisions (the rest: 4-5 digits),
# and questions whose numbers carry thousands separators. Before the first two, "48213 * 771" was
# called as `print( 48213 - 7711)`; before the last two, "48.213 + 7.719" as `print( 48 + 7)` and
# "4821 dividido por 7" as `print( 4821 * 7)` (docs/factuality.md, "Numbers of any size").
MIXED_SIZES, DIVISIONS, SEPARATORS = 0.22, 0.13, 0.15
# Two operands of 2 digits ("34 × 12"), drawn first. Such problems were answered in the head (the
# plain conversations, "34 + 12 = 46.") until the tiny model was seen to get them wrong ("Quanto é
# 15 + 27?" -> `print( 15_30 + 27_75)`): a 5M-parameter model does not learn sums from a few hundred
# answers, and the lecture's advice is the tool. Operands of 1 digit too ("7 + 5") were tried and
# broke the numbers written with separators ("87.769 menos 65.256" -> `print( 87_696 - 65_65)`: 2
# and 19 of 60 right against 39 and 32 on two SFT models), so a 1-digit operand stays uncovered
# (docs/factuality.md, "Small numbers through python too").
SMALL = 0.12


def python_kind(rng) -> str:
    if rng.random() < SMALL:
        return "2 digits"
    x = rng.random()
    return "mixed sizes" if x < MIXED_SIZES else "division" if x < MIXED_SIZES + DIVISIONS else "4-5 digits"


def python_code(a: int, op: str, b: int, grouped: bool = False) -> str:
    """The program of a python conversation, "print( 80448 + 66405)": with a space before the
    first number. dentro's tokenizer writes every digit as a token and the space before a number
    as a token of its own, so in the question ("Calcule 80448 + 66405.") each number follows a
    " " token, and with the space the model copies the first number by matching that token, as
    it copies the second (after " "). After "(" there is nothing in the question to match: on the
    fresh clone where the call was written "print(80448 + 66405)", the probed model got the first
    number wrong in 109 of 120 held-out problems (docs/factuality.md, "A space before the first
    number"). A division is rounded to two decimals: "print( round( 4821 / 7, 2))". grouped: the
    numbers keep the question's thousands separators as Python's "_" ("48.213 + 7.719" ->
    "print( 48_213 + 7_719)"): the program copies the question's tokens one for one, a separator
    for a separator, instead of leaving one out mid-number (docs/factuality.md, "Separators kept
    as underscores")."""
    if grouped:
        a, b = f"{a:_}", f"{b:_}"
    return f"print( round( {a} / {b}, 2))" if op == "/" else f"print( {a} {op} {b})"


# A call that fails, and the call again, right. A model that never saw a failed call stated a
# made-up number after the sandbox's error (docs/factuality.md, "A failed call, called again").
# In this share of the python conversations the first call is a slip a small model makes
# (broken_code), shown and not trained (OpenAI's "weight": 0 on that assistant message); the tool
# message is the error (stage 6 runs each such program in the sandbox and writes what it
# returned: tool_mix.run_failed_calls); the trained turn names the operation again and calls with
# the right program. Kept short, as the tiny model's 256 positions need (two calls take ~90
# tokens): no system persona, no words about the error, no division or separators, and only slips
# whose error is short (with "invalid syntax. Perhaps you forgot a comma?", a missing operator's,
# most were longer than the window).
FAILED_CALLS = 0.25  # of the python conversations without a division or separators
SLIPS = ("unclosed", "no print", "cut")


def broken_code(code: str, slip: str) -> str:
    """python_code's program with one slip, each an error in Python: "unclosed" drops the last
    ")", "no print" leaves the value unprinted, "cut" ends the program after the operator, "no
    operator" (not in SLIPS) drops the operator."""
    m = re.fullmatch(r"(print\( (?:round\( )?)([\d_]+) ([-+*/]) ([\d_]+)(.*)", code)
    if not m:
        raise ValueError(f"not a program of python_code: {code!r}")
    head, a, op, b, tail = m.groups()
    if slip == "unclosed":
        return code[:-1]
    if slip == "no operator":
        return f"{head}{a} {b}{tail}"
    if slip == "no print":
        return code.removeprefix("print( ").removesuffix(")")
    if slip == "cut":
        return f"{head}{a} {op}"
    raise ValueError(f"unknown slip {slip!r}; the slips are {', '.join(SLIPS)}")


def _python_convs(n: int, rng) -> list[dict]:
    out = []
    for i in range(n):
        lang = LANGS[i % 2]
        p = python_problem(rng, lang, python_kind(rng))
        grouped = rng.random() < SEPARATORS
        user = asked(p, lang, rng, separators=grouped)
        # Always a lead in the question's language before the call ("Vou somar."): after the
        # tool's answer, a number with no language, the reply takes its language from the nearest
        # text. With a lead in 30% of the calls, 194 of 240 held-out replies were in the question's
        # language (two runs); with one in all, 221 (docs/factuality.md). It names the operation
        # (PYTHON_LEAD).
        lead, code = PYTHON_LEAD[p["code"]][lang], python_code(p["a"], p["code"], p["b"], grouped)
        msgs = _tool_turns(user, lead, "python", {"code": code}, str(p["r"]),
                           rng.choice(PYTHON_ANSWER[lang]).format(**p))
        if p["code"] != "/" and not grouped and rng.random() < FAILED_CALLS:
            slip = {**msgs[1], "tool_calls": [_call("python", {"code": broken_code(code, rng.choice(SLIPS))})],
                    "weight": 0}
            msgs[1]["tool_calls"][0]["id"] = msgs[2]["tool_call_id"] = "call_2"  # the call again, right
            msgs = [msgs[0], slip, {"role": "tool", "tool_call_id": "call_1", "content": "Error"}] + msgs[1:]
            out.append(_conv("python_failed", lang, msgs, []))
        else:
            out.append(_conv("python", lang, _with_system(msgs, lang, rng), []))
    return out


def _plain_convs(w: World, frequent: list[Fact], n: int, rng) -> list[dict]:
    """n questions about frequent facts (each fact again when n is larger than the pool), answered
    directly: no tool is needed for what the model knows. None when there is no frequent fact."""
    pool = list(frequent)
    rng.shuffle(pool)
    out = []
    for i in range(n if pool else 0):
        lang = LANGS[i % 2]
        f = pool[i % len(pool)]
        msgs = [{"role": "user", "content": _question(w, f, lang, rng)},
                {"role": "assistant", "content": answer_sentence(w, f, lang, rng)}]
        out.append(_conv("plain", lang, _with_system(msgs, lang, rng), [f.id]))
    return out


def make_tool_conversations(truth_dir: Path, heldout: dict, seed: int = 0, *, n_search: int = 600,
                            n_python: int = 400, n_plain: int = 400, world: World | None = None) -> list[dict]:
    """Tool-use conversations, shuffled: [{"messages" (OpenAI format, with tool_calls and tool
    messages), "kind" (search | python | plain), "lang", "sources" (fact ids: the fact asked
    first, then the distractors' facts)}]. heldout is make_conversations' heldout (heldout.json):
    none of heldout["entities"] is named. Sizes are upper bounds for a small world. world: the
    truth folder's World when the caller has read it already."""
    truth_dir = Path(truth_dir)
    w = world or read_world(truth_dir)
    held = set(heldout["entities"])
    names = sorted({w.name(e) for e in held} | _absent_names(truth_dir), key=len, reverse=True)
    banned = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, names)) + r")(?!\w)") if names else None
    # Training facts about training entities, stated somewhere in the crawl, no held-out object.
    usable = [f for f in w.facts if f.subject not in held and f.n_pages > 0
              and not (isinstance(f.object, str) and f.object in held)]
    facts_of: dict[str, list[Fact]] = {}
    for f in usable:
        facts_of.setdefault(f.subject, []).append(f)

    rng = lambda kind: random.Random(f"tools-{kind}-{seed}")  # noqa: E731  (one stream per kind)
    convs = (_search_convs(w, [f for f in usable if f.bucket == "rare"], facts_of, _page_urls(truth_dir),
                           n_search, rng("search"))
             + _python_convs(n_python, rng("python"))
             + _plain_convs(w, [f for f in usable if f.bucket == "frequent"], n_plain, rng("plain")))
    text = lambda c: "\n".join(json.dumps(m, ensure_ascii=False) for m in c["messages"])  # noqa: E731
    out = [c for c in convs if banned is None or not banned.search(text(c))]
    rng("order").shuffle(out)
    return out
