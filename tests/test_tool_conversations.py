"""Tool-use SFT conversations from the world (dentro/world/tool_conversations.py): they render with
the chat template, answers are copied from the passage or the printed result, no held-out name."""

import ast
import json
import random
import re

import pytest

from dentro.chat.template import render
from dentro.tokenizer.bpe import train_tokenizer
from dentro.world import config_for, generate
from dentro.world.conversations import _absent_names, make_conversations, read_world
from dentro.world.phrasing import context
from dentro.world.tool_conversations import (PYTHON_ANSWER, PYTHON_LEAD, SLIPS, broken_code, make_tool_conversations,
                                             python_code, search_lead)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world") / "w"
    generate(out, config_for("micro", seed=3))
    truth = out / "truth"
    heldout = make_conversations(truth, seed=0, n_fact=10, n_multiturn=0, n_reading=0, n_identity=0,
                                 n_math=0)["heldout"]
    convs = make_tool_conversations(truth, heldout, 0, n_search=80, n_python=40, n_plain=40)
    return truth, heldout, convs


def _mentions(name: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text) is not None


def test_every_kind_in_both_languages_and_renders(world):
    _, _, convs = world
    kinds = {(c["kind"], c["lang"]) for c in convs}
    assert {(k, lang) for k in ("search", "python", "plain") for lang in ("pt", "en")} <= kinds
    assert {k for k, _ in kinds} <= {"search", "python", "plain", "python_failed"}
    tok = train_tokenizer(["user assistant system tool search python " * 4], vocab_size=300)
    for c in convs:
        ids, mask = render(tok, c["messages"])
        assert len(ids) == len(mask) and sum(mask) > 0
        roles = [m["role"] for m in c["messages"] if m["role"] != "system"]
        if c["kind"] == "plain":
            assert roles == ["user", "assistant"] and "tool_calls" not in c["messages"][-1]
        else:
            assert roles == ["user", "assistant", "tool", "assistant"] + ["tool", "assistant"] * (c["kind"] == "python_failed")
            call, tool = c["messages"][-3]["tool_calls"][0], c["messages"][-2]
            assert call["function"]["name"] == c["kind"].removesuffix("_failed") and tool["tool_call_id"] == call["id"]
            assert isinstance(json.loads(call["function"]["arguments"]), dict)


def test_search_answers_are_copied_from_a_passage_about_the_entity(world):
    truth, _, convs = world
    w = read_world(truth)
    facts = {f.id: f for f in w.facts}
    for c in (c for c in convs if c["kind"] == "search"):
        f = facts[c["sources"][0]]
        name = w.name(f.subject)
        query = json.loads(c["messages"][-3]["tool_calls"][0]["function"]["arguments"])["query"]
        *passages, last = c["messages"][-2]["content"].split("\n")
        assert query.startswith(f'" {name}" ') and 1 <= len(passages) <= 3   # the name quoted, then a word
        assert last == f"Query: {query}"   # as the search tool writes it: the query again, last
        assert all(p.startswith(f"[{k}] ") for k, p in enumerate(passages, 1))
        answer = f.answer[c["lang"]]
        assert answer in c["messages"][-1]["content"]
        assert any(answer in p and name in p for p in passages)
        assert all(facts[s].subject != f.subject for s in c["sources"][1:])  # distractors: other entities
        # before the call, what it looks up: the asked relation and the name, in the question's language
        lead = c["messages"][-3]["content"]
        assert lead == search_lead(f.relation, c["lang"], context(w, f, c["lang"])) and name in lead
        assert lead.startswith({"pt": "Vou procurar ", "en": "Let me look up "}[c["lang"]])


def test_python_results_are_computed_and_stated(world):
    _, _, convs = world
    sizes, separated, divisions, small = [], 0, 0, 0
    for c in (c for c in convs if c["kind"] in ("python", "python_failed")):
        code = json.loads(c["messages"][-3]["tool_calls"][0]["function"]["arguments"])["code"]
        number = r"(\d[\d_]*)"
        expr = (re.fullmatch(rf"print\( {number} ([-+*]) {number}\)", code)
                or re.fullmatch(rf"print\( round\( {number} (/) {number}, 2\)\)", code))
        assert expr, code
        user = next(m["content"] for m in c["messages"] if m["role"] == "user")
        written = re.findall(r"\d[\d.,]*\d|\d", user)  # the numbers as the question writes them
        sep = "." if c["lang"] == "pt" else ","
        # the program writes them as the question does, its thousands separator as Python's "_"
        assert [w.replace(sep, "_") for w in written] == [expr.group(1), expr.group(3)], (user, code)
        separated += "_" in code
        a, b = expr.group(1).replace("_", ""), expr.group(3).replace("_", "")
        if max(len(a), len(b)) <= 2:  # two small numbers go to python too, both of 2 digits ("34 × 12")
            assert len(a) == len(b) == 2, code
            small += 1
        sizes.append(4 <= len(a) <= 5 and 4 <= len(b) <= 5)
        divisions += expr.group(2) == "/"
        value = eval(compile(ast.parse(code.removeprefix("print(")[:-1].strip(), mode="eval"), "", "eval"))  # what it prints
        assert c["messages"][-2]["content"] == str(value)
        assert str(value) in c["messages"][-1]["content"]
        # a lead in the question's language before every call, naming the operation the program
        # does: the reply after the number takes its language from it, the program its operator
        assert c["messages"][-3]["content"] == PYTHON_LEAD[expr.group(2)][c["lang"]]
        assert c["messages"][-1]["content"].split()[0] in {a.split()[0] for a in PYTHON_ANSWER[c["lang"]]}
    # many are 4-5 digits each, as the stage's evaluation asks; some mix sizes ("48213 × 771")
    assert 0.1 * len(sizes) <= sizes.count(False) <= 0.6 * len(sizes), sizes
    assert 0 < divisions < 0.4 * len(sizes) and 0 < separated < 0.4 * len(sizes)  # some of each
    assert 0 < small < 0.3 * len(sizes)
    # the answers without a tool are about frequent facts: no arithmetic is done in the head
    plain = [c for c in convs if c["kind"] == "plain"]
    assert plain and all(c["sources"] for c in plain)


def test_no_heldout_entity_or_absent_person_is_named(world):
    truth, heldout, convs = world
    w = read_world(truth)
    everything = "\n".join(json.dumps(c["messages"], ensure_ascii=False) for c in convs)
    assert heldout["entities"]
    for eid in heldout["entities"]:
        assert not _mentions(w.name(eid), everything), w.name(eid)
    assert not any(_mentions(n, everything) for n in _absent_names(truth))
    assert not set(heldout["facts"]) & {s for c in convs for s in c["sources"]}


def test_deterministic_for_a_seed(world):
    truth, heldout, convs = world
    assert make_tool_conversations(truth, heldout, 0, n_search=80, n_python=40, n_plain=40) == convs
    assert make_tool_conversations(truth, heldout, 1, n_search=80, n_python=40, n_plain=40) != convs


def test_each_number_in_the_code_follows_the_token_it_follows_in_the_question(world):
    """The model copies a number into its code by matching the token before it: "print( 80448 +
    66405)" puts " " before both numbers, as "Calcule 80448 + 66405." does (with "print(80448" the
    first number followed "(", which no question holds, and one run's model miscopied it 109 times
    in 120)."""
    _, _, convs = world
    tok = train_tokenizer(["user assistant system tool search python print 12 + 30 " * 4], vocab_size=300)

    def before_each_number(text: str) -> list[str]:  # a separator inside a number ("48.213", "48_213") does not start one
        pieces = [tok.decode([i]) for i in tok.encode(text)]
        return [pieces[k - 1] for k in range(1, len(pieces))
                if pieces[k].isdigit() and not pieces[k - 1].isdigit()
                and not (pieces[k - 1] in {".", "_", ","} and k > 1 and pieces[k - 2].isdigit())]

    checked = 0
    for c in (c for c in convs if c["kind"] in ("python", "python_failed")):
        user = next(m["content"] for m in c["messages"] if m["role"] == "user")
        code = json.loads(c["messages"][-3]["tool_calls"][0]["function"]["arguments"])["code"]
        in_code, in_question = before_each_number(code)[:2], before_each_number(user)  # (a division's ", 2" after them)
        assert in_code == [" ", " "], (code, in_code)
        if len(in_question) == 2:  # both numbers after a space (not "80448 + 66405 = ?")
            assert in_question == in_code, (user, in_question)
            checked += 1
    assert checked >= 10


def test_the_name_in_a_search_call_is_the_tokens_it_is_in_the_question(world):
    """dentro's tokenizer writes " Thomas" (after a space) and "Thomas" (after a quote) as different
    tokens: the query opens its quotes with a space ('" Thomas Reed" born'), so the model copies the
    name's tokens from the question as they are."""
    truth, _, convs = world
    w = read_world(truth)
    facts = {f.id: f for f in w.facts}
    searches = [c for c in convs if c["kind"] == "search"]
    tok = train_tokenizer(["\n".join(json.dumps(c["messages"], ensure_ascii=False) for c in searches)], vocab_size=400)
    for c in searches:
        name = w.name(facts[c["sources"][0]].subject)
        call = c["messages"][-3]["tool_calls"][0]["function"]["arguments"]   # as the template renders it
        ids, want = tok.encode(call), tok.encode(" " + name)
        assert any(ids[k:k + len(want)] == want for k in range(len(ids))), (call, name)


def test_a_failed_call_is_shown_not_trained_and_the_call_again_is_trained(world):
    """python_failed: the first call is a slip with "weight": 0 (rendered, never trained), the turn
    after the error says so and calls again with the right program, and both are trained."""
    _, _, convs = world
    failed = [c for c in convs if c["kind"] == "python_failed"]
    assert failed and len(failed) < 0.3 * sum(c["kind"].startswith("python") for c in convs)
    tok = train_tokenizer(["user assistant system tool search python print round " * 4], vocab_size=300)
    for c in failed:
        msgs = [m for m in c["messages"] if m["role"] != "system"]
        first, again = msgs[1], msgs[3]
        assert first["weight"] == 0 and "weight" not in again
        bad = json.loads(first["tool_calls"][0]["function"]["arguments"])["code"]
        good = json.loads(again["tool_calls"][0]["function"]["arguments"])["code"]
        assert bad != good and bad in {broken_code(good, s) for s in SLIPS}
        assert first["content"] == again["content"]  # the operation named again
        ids, mask = render(tok, c["messages"])
        trained = tok.decode([i for i, m in zip(ids, mask) if m])
        assert good in trained and again["content"] in trained
        assert bad not in trained.replace(good, "") and first["content"] not in trained.replace(again["content"], "")


@pytest.mark.parametrize("slip", SLIPS + ("no operator",))
def test_every_slip_is_an_error_in_python(slip):
    from dentro.chat.tools import ToolContext, call_tool

    for code in (python_code(48213, "+", 7719), python_code(48213, "*", 7719, grouped=True), python_code(4821, "/", 7)):
        bad = broken_code(code, slip)
        out = call_tool("python", {"code": bad}, context=ToolContext(index_path=None))
        assert out.startswith("Error: SyntaxError") or out.startswith("(no output"), (bad, out)
    with pytest.raises(ValueError, match="not a program"):
        broken_code("print(1)", slip)


def test_small_problems_trained_with_two_digits_measured_as_users_type_them():
    from dentro.eval.tools import arithmetic_items
    from dentro.world.tool_conversations import python_kind, python_problem

    rng = random.Random(3)
    drawn = [python_problem(rng, "pt", python_kind(rng)) for _ in range(400)]
    small = [p for p in drawn if max(p["a"], p["b"]) < 100]
    assert small and all(10 <= p["a"] <= 99 and 10 <= p["b"] <= 99 for p in small)  # training: 2 digits
    held = arithmetic_items(40, seed=0, kind="small")
    assert {it["bucket"] for it in held} == {"arithmetic_small"}
    assert all(max(it["a"], it["b"]) <= 99 for it in held) and any(min(it["a"], it["b"]) <= 9 for it in held)
