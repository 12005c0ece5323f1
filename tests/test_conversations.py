"""SFT conversations from the world (held-out split, answers true by construction) and the
reader of users' own OpenAI-format JSONL (bad lines counted by reason, never a crash)."""

import json
import random
import re
from collections import Counter

import pytest

from dentro.chat.conversations import read_conversations
from dentro.chat.template import THINK_OFF
from dentro.errors import UserError
from dentro.world import config_for, generate
from dentro.world.arithmetic import SYMBOL, answer, page_operations, steps
from dentro.world.conversations import (KINDS, MAX_PHRASINGS, _absent_names, _typo, make_conversations,
                                        read_world, write_conversations)


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    out = tmp_path_factory.mktemp("world") / "w"
    generate(out, config_for("micro", seed=3))
    truth = out / "truth"
    result = make_conversations(truth, seed=0)
    folder = tmp_path_factory.mktemp("sft") / "conversations"
    write_conversations(folder, result)
    return truth, result, folder


def _text(conv) -> str:
    return "\n".join(m.get("content") or "" for m in conv["messages"])


def _mentions(name: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text) is not None


def test_heldout_split_by_entity_and_bucket(micro):
    truth, result, folder = micro
    w = read_world(truth)
    held = json.loads((folder / "heldout.json").read_text(encoding="utf-8"))
    assert held == json.loads(json.dumps(result["heldout"]))
    ids = set(held["entities"])
    assert ids == set().union(*map(set, held["entities_by_kind"].values()))
    assert held["facts"] == sorted(f.id for f in w.facts if f.subject in ids)
    # About half of each kind, and every bucket of two or more entities keeps some held out.
    first = {}
    for f in w.facts:
        first.setdefault(f.subject, f.bucket)
    for kind, table in (("people", w.people), ("cities", w.cities), ("organisations", w.orgs)):
        assert set(held["entities_by_kind"][kind]) <= set(table)
        for bucket in ("frequent", "medium", "rare"):
            group = [e for e in table if first.get(e) == bucket]
            n_held = len(set(group) & ids)
            assert held["counts"]["entities"][kind][bucket] == n_held
            if len(group) >= 2:
                assert 1 <= n_held <= len(group) - 1, (kind, bucket)
                assert abs(n_held - len(group) / 2) <= 1
    tasks = [json.loads(x) for x in (truth / "math.jsonl").read_text(encoding="utf-8").splitlines()]
    assert set(held["math"]) <= {t["id"] for t in tasks} and abs(len(held["math"]) - len(tasks) / 2) <= 1


def test_no_heldout_fact_in_any_training_conversation(micro):
    truth, result, _ = micro
    w = read_world(truth)
    held = set(result["heldout"]["facts"])
    texts = [(c["lang"], _text(c)) for c in result["train"] + result["val"]]
    for f in w.facts:
        if f.id not in held:
            continue
        name = w.name(f.subject)
        for lang, text in texts:
            assert not (_mentions(name, text) and f.answer[lang] in text), (f.id, name, text)
    # Stricter, as designed: no held-out entity is named at all, nor any absent person.
    everything = "\n".join(t for _, t in texts)
    for eid in result["heldout"]["entities"]:
        assert not _mentions(w.name(eid), everything), w.name(eid)
    absent = _absent_names(truth)
    assert absent and not any(_mentions(n, everything) for n in absent)
    used = {s for c in result["train"] + result["val"] for s in c["sources"]}
    assert not used & held and not used & set(result["heldout"]["math"])


def test_answers_are_true_by_construction(micro):
    truth, result, _ = micro
    w = read_world(truth)
    facts = {f.id: f for f in w.facts}
    convs = result["train"] + result["val"]
    for c in convs:
        assert c["lang"] in ("pt", "en") and c["kind"] in KINDS
        roles = [m["role"] for m in c["messages"]]
        assert roles[-1] == "assistant" and set(roles) <= {"system", "user", "assistant"}
        assert "system" not in roles[1:]
        if c["kind"] == "fact":
            f = facts[c["sources"][0]]
            assert f.answer[c["lang"]] in c["messages"][-1]["content"], c
        if c["kind"] == "multiturn":  # every answer holds the truth; a person's names the person
            answers = [m["content"] for m in c["messages"] if m["role"] == "assistant"]
            assert len(answers) >= 2
            for fid, a in zip(c["sources"], answers):
                f = facts[fid]
                assert f.answer[c["lang"]] in a, (a, f)
                assert w.name(f.subject) in a, (a, f)  # the answer names whom it is about
        if c["kind"] == "reading":  # the answer is in the passage and in the reply
            passage, reply = c["messages"][-2]["content"], c["messages"][-1]["content"]
            for fid in c["sources"]:
                if fid in facts:
                    assert facts[fid].answer[c["lang"]] in passage
            if c["sources"][0] in facts:
                assert facts[c["sources"][0]].answer[c["lang"]] in reply
            else:  # an invented person: the reply's names and numbers all come from the passage
                words = re.findall(r"\d[\d.,]*\d|\d|(?<!^)(?<![.!?] )\b[A-Z]\w+", reply)
                assert all(x in passage for x in words if x not in ("According", "Segundo")), (passage, reply)
    readings = [c for c in convs if c["kind"] == "reading"]
    assert any(s.startswith("X") for c in readings for s in c["sources"])  # invented people too
    assert any(not s.startswith("X") for c in readings for s in c["sources"])


def test_every_kind_in_both_languages_and_sizes(micro):
    _, result, _ = micro
    by_kind = result["stats"]["by_kind"]
    for kind in KINDS:
        assert by_kind[kind]["pt"] > 0 and by_kind[kind]["en"] > 0, kind
    n = result["stats"]["train"] + result["stats"]["val"]
    assert n == len(result["train"]) + len(result["val"]) == sum(sum(v.values()) for v in by_kind.values())
    assert 0.02 <= len(result["val"]) / n <= 0.08
    assert 0 < result["stats"]["with_system_prompt"] < n
    # Several phrasings of one fact, with typos, lower case and indirect forms among them.
    questions = [c["messages"][-2]["content"] for c in result["train"] + result["val"] if c["kind"] == "fact"]
    assert any(q == q.lower() for q in questions)
    assert any(q.startswith(("Você sabe", "Me diga", "Can you tell me", "Do you know")) for q in questions)
    assert any(not q.endswith(("?", ".")) for q in questions)


def test_deterministic_for_a_seed(micro):
    truth, result, _ = micro
    again = make_conversations(truth, seed=0)
    assert json.dumps(again, sort_keys=True) == json.dumps(result, sort_keys=True)
    other = make_conversations(truth, seed=1)
    assert other["heldout"]["entities"] != result["heldout"]["entities"]


def test_math_thinks_in_steps_or_answers_at_once(micro):
    truth, result, _ = micro
    tasks = {t["id"]: t for t in map(json.loads, (truth / "math.jsonl").read_text(encoding="utf-8").splitlines())}
    maths = [c for c in result["train"] + result["val"] if c["kind"] == "math"]
    assert maths
    forms = set()
    for c in maths:
        t = tasks[c["sources"][0]]
        reply = c["messages"][-1]["content"]
        assert t["question"] in c["messages"][-2]["content"]
        assert re.search(r"(?<!\d)" + str(t["answer"]) + r"(?!\d)", reply.splitlines()[-1])
        if reply.startswith(THINK_OFF):  # direct: only the answer after the empty block
            forms.add("direct")
            assert "\n" not in reply[len(THINK_OFF):]
        else:  # the worked steps inside <think>, the answer after it
            forms.add("think")
            thinking, _, answer = reply.partition("</think>")
            assert thinking.startswith("<think>\n") and t["steps"][0] in thinking and t["steps"][0] not in answer
        assert c["lang"] == t["lang"]
    assert forms == {"think", "direct"}


def test_arithmetic_in_both_forms_and_heldout_apart(micro):
    truth, result, _ = micro
    convs = [c for c in result["train"] + result["val"] if c["kind"] == "arithmetic"]
    held = result["heldout"]["arithmetic"]
    assert convs and held
    tasks = [json.loads(line) for line in (truth / "math.jsonl").read_text().splitlines()]
    # no held-out problem's two numbers stand together in a homework exercise of the crawl, in
    # whatever words ("Some 47 com 6", "Multiply 47 by 6") or in its worked solution
    on_page = [{int(x) for x in re.findall(r"\d+", " ".join([t["question"], *t["steps"]]))} for t in tasks]
    assert not [p for p in held if any(p["a"] in nums and p["b"] in nums for nums in on_page)]
    assert {("mul", 47, 6), ("add", 6, 47)} <= page_operations(["Multiply 47 by 6.", "x"])  # word forms too
    trained = {c["sources"][0] for c in convs}
    assert not trained & {p["id"] for p in held}
    think = [c for c in convs if not c["messages"][-1]["content"].startswith(THINK_OFF)]
    assert 0 < len(think) < len(convs)
    for c in think:
        reply = c["messages"][-1]["content"]
        assert reply.startswith("<think>\n") and "</think>\n\n" in reply
        final = reply.rsplit("\n", 1)[-1]
        assert f"{final}\n</think>" in reply  # the answer is the result the columns gave


@pytest.mark.parametrize("op,a,b", [("add", 347, 285), ("add", 9999, 1), ("sub", 1000, 999), ("sub", 652, 92),
                                    ("sub", 50, 50), ("mul", 487, 6), ("mul", 12, 9)])
def test_arithmetic_steps_compute_the_answer(op, a, b):
    lines = steps(op, a, b, "en")
    assert lines[0] == f"{a} {SYMBOL[op]} {b}" and lines[-1] == f"result: {answer(op, a, b)}"
    assert len(lines) - 2 == max(len(str(a)), len(str(b)), len(str(answer(op, a, b))))  # one line per column


def test_written_files_read_back_as_user_conversations(micro):
    _, result, folder = micro
    convs, stats = read_conversations(folder / "train.jsonl")
    assert stats["kept"] == stats["lines"] == len(result["train"]) and not stats["skipped"]
    assert [c["messages"] for c in convs] == [c["messages"] for c in result["train"]]


@pytest.mark.parametrize("text, keep", [("Em que ano nasceu Ana Souza Lima?", {"Ana", "Souza", "Lima"}),
                                        ("Where does Jack O'Brien work?", {"Jack", "O", "Brien"}),
                                        ("Onde fica a sede da Construtora Horizonte?", {"Construtora", "Horizonte"})])
def test_typos_never_touch_names(text, keep):
    for seed in range(30):
        out = _typo(text, keep, random.Random(seed))
        assert out != text and all(k in out for k in keep)
        assert abs(len(out) - len(text)) <= 1


# -- users' own JSONL -------------------------------------------------------------------------

GOOD = [
    {"messages": [{"role": "user", "content": "Oi!"}, {"role": "assistant", "content": "Olá!"}]},
    {"messages": [{"role": "developer", "content": "Be brief."},
                  {"role": "user", "content": [{"type": "text", "text": "2+2?"}]},
                  {"role": "assistant", "content": None, "tool_calls": [
                      {"id": "call_1", "type": "function",
                       "function": {"name": "python", "arguments": "{\"code\": \"2+2\"}"}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "4"},
                  {"role": "assistant", "content": "4.", "tool_calls": []}], "tools": [{"type": "function"}]},
]
BAD = {  # reason -> a line that has it
    "not_json": '{"messages": [',
    "not_object": '[{"role": "user", "content": "x"}]',
    "no_messages": '{"messages": []}',
    "bad_message": '{"messages": ["hello", {"role": "assistant", "content": "x"}]}',
    "unknown_role": '{"messages": [{"role": "narrator", "content": "x"}, {"role": "assistant", "content": "y"}]}',
    "bad_content": '{"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "y"}]}',
    "no_assistant": '{"messages": [{"role": "user", "content": "x"}]}',
    "bad_tool_calls": '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, '
                      '"tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}',
    "bad_unicode": '{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "y"}]}',
}
MORE_BAD = [  # (reason, line): other ways to have the same reasons
    ("no_messages", '{"conversation": []}'),
    ("bad_content", '{"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "y"}]}'),
    ("bad_content", '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null}]}'),
    ("bad_tool_calls", '{"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "4"}, '
                       '{"role": "assistant", "content": "y"}]}'),
    ("bad_tool_calls", '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "", '
                       '"tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]}'),
    ("not_json", "[" * 100000),
    ("no_assistant", '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "weight": 0}]}'),
]


def test_read_conversations_keeps_good_lines_and_counts_bad_ones(tmp_path):
    lines, expect = [], {}
    rows = [(None, json.dumps(GOOD[0]))] + [(r, x) for r, x in BAD.items()] + [(None, "")] + MORE_BAD + \
        [(None, json.dumps(GOOD[1], ensure_ascii=False)), (None, "   ")]
    for reason, line in rows:
        lines.append(line)
        if reason:
            expect.setdefault(reason, []).append(len(lines))
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    convs, stats = read_conversations(path)
    assert stats["kept"] == 2 and [c["line"] for c in convs] == [1, len(lines) - 1]
    assert stats["lines"] == len(lines) - 2  # blank lines are not counted
    assert stats["skipped"] == {r: len(v) for r, v in expect.items()}
    assert stats["skipped_lines"] == expect
    assert convs[0]["messages"] == GOOD[0]["messages"]
    m = convs[1]["messages"]
    assert [x["role"] for x in m] == ["system", "user", "assistant", "tool", "assistant"]
    assert m[1]["content"] == "2+2?" and m[2]["content"] == ""
    assert m[2]["tool_calls"] == [{"id": "call_1", "type": "function",
                                   "function": {"name": "python", "arguments": {"code": "2+2"}}}]
    assert m[3]["tool_call_id"] == "call_1" and "tool_calls" not in m[4]
    assert convs[1]["tools"] == [{"type": "function"}]


def test_read_conversations_refuses_a_file_with_nothing_usable(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([BAD["not_json"], BAD["no_assistant"], BAD["not_json"]]) + "\n", encoding="utf-8")
    with pytest.raises(UserError) as e:
        read_conversations(path)
    msg = str(e.value)
    assert str(path) in msg and "not_json: 2 (lines 1, 3)" in msg and "no_assistant: 1 (lines 2)" in msg
    assert '"messages"' in msg and "assistant" in msg
    with pytest.raises(UserError, match="no such file"):
        read_conversations(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(UserError, match="no usable conversation in 0"):
        read_conversations(tmp_path / "empty.jsonl")


def test_reverse_questions_only_about_training_facts_stated_both_ways(micro):
    truth, result, _ = micro
    facts = {f["id"]: f for f in map(json.loads, (truth / "facts.jsonl").read_text(encoding="utf-8").splitlines())}
    held = set(result["heldout"]["facts"])
    rev = [c for c in result["train"] + result["val"] if c["kind"] == "reverse"]
    assert rev and {c["lang"] for c in rev} == {"pt", "en"}
    for c in rev:
        f = facts[c["sources"][0]]
        assert f["stated"] == "both" and f["id"] not in held  # never a forward-only or a held-out fact
        q, a = c["messages"][-2]["content"], c["messages"][-1]["content"]
        subject = f["subject_name"]
        assert subject not in q and subject in a  # the question gives the object, the answer names the subject
        assert a.index(subject) > 0  # written object-first


def test_relations_with_few_facts_get_more_phrasings(micro):
    """A city's country or a company's head office has a handful of training facts: each is asked
    in more phrasings (never more than MAX_PHRASINGS) so that SFT sees the relation's question."""
    truth, result, _ = micro
    relation = {f.id: f.relation for f in read_world(truth).facts}

    def asked(res):
        return [c["sources"][0] for c in res["train"] + res["val"] if c["kind"] == "fact"]

    def per_relation(res):
        return Counter(relation[i] for i in asked(res))

    plain, floored = per_relation(make_conversations(truth, seed=0, relation_floor=0)), per_relation(result)
    fewest = min(plain, key=plain.get)
    assert plain[fewest] < 120 and floored[fewest] > plain[fewest]
    assert max(Counter(asked(result)).values()) <= MAX_PHRASINGS
