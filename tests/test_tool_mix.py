"""Stage 6's tool conversations grounded in a real index, and the tools' evaluation helpers."""

import json
import random
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dentro.chat.tools import NO_RESULTS
from dentro.chat.tool_mix import (chat_context, ground, nobody_searches, python_pairs, run_failed_calls,
                                  with_tools_prompt)
from dentro.chat.tools import TOOLS_PROMPT, ToolContext, call_tool, response_passages
from dentro.chat.tools.search import build_index
from dentro.eval import tools as T
from dentro.eval.knowledge import is_refusal

DOCS = [
    ("d1", "https://w.example/ana", "Ana Lopes Prado is a chemist. Ana Lopes Prado was born in the city of Fernholm."),
    ("d2", "https://w.example/rui", "Rui Tavares Gil works at Meridian Bank. His mother is Clara Gil."),
    ("d3", "https://w.example/town", "Fernholm is a quiet town by the river. Its market opens on Saturdays."),
]


@pytest.fixture
def index(tmp_path):
    ids, urls, texts = zip(*DOCS)
    pq.write_table(pa.table({"id": list(ids), "url": list(urls), "text": list(texts)}), tmp_path / "c.parquet")
    build_index(tmp_path / "c.parquet", tmp_path / "index.sqlite")
    return tmp_path / "index.sqlite"


def search_conv(fact: str, query: str, written: str, answer: str) -> dict:
    return {"kind": "search", "lang": "en", "sources": [fact], "messages": [
        {"role": "user", "content": "Where was Ana Lopes Prado born?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "search", "arguments": json.dumps({"query": query})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": written},
        {"role": "assistant", "content": answer}]}


def test_ground_replaces_the_written_result_and_keeps_only_what_holds_the_answer(index):
    ctx = ToolContext(index_path=index, k=2, max_chars=300, sources=False)
    answers = {"F1": {"en": "Fernholm"}, "F2": {"en": "Oakfield"}}
    found = search_conv("F1", "Ana Lopes Prado", "[1] a passage the world wrote", "Ana was born in Fernholm.")
    missing = search_conv("F2", "Ana Lopes Prado", "[1] Ana was born in Oakfield.", "Ana was born in Oakfield.")
    plain = {"kind": "plain", "lang": "en", "sources": [], "messages": [{"role": "user", "content": "Hi"},
                                                                         {"role": "assistant", "content": "Hello!"}]}
    out, stats = ground([found, missing, plain], ctx, answers)
    assert stats == {"search_kept": 1, "search_dropped": 1}
    assert [c["kind"] for c in out] == ["search", "plain"]
    result = out[0]["messages"][2]["content"]
    assert result == call_tool("search", {"query": "Ana Lopes Prado"}, context=ctx)  # what chat would read
    assert "Fernholm" in result and "source:" not in result  # no URLs at this size
    assert found["messages"][2]["content"] == "[1] a passage the world wrote"  # the input is not changed


def failed_conv(bad: str, good: str, result: str) -> dict:
    call = lambda i, code: [{"id": f"call_{i}", "type": "function",  # noqa: E731
                             "function": {"name": "python", "arguments": json.dumps({"code": code})}}]
    return {"kind": "python_failed", "lang": "en", "sources": [], "messages": [
        {"role": "user", "content": "What is 48213 + 7719?"},
        {"role": "assistant", "content": "Let me add.", "tool_calls": call(1, bad), "weight": 0},
        {"role": "tool", "tool_call_id": "call_1", "content": "Error"},
        {"role": "assistant", "content": "The code failed. Let me add.", "tool_calls": call(2, good)},
        {"role": "tool", "tool_call_id": "call_2", "content": result},
        {"role": "assistant", "content": f"The result is {result}."}]}


def test_a_failed_call_gets_what_the_sandbox_returns_for_it():
    ctx = ToolContext(index_path=None)
    good = "print( 48213 + 7719)"
    convs = [failed_conv("print( 48213 + 7719", good, "55932"), failed_conv("print( 048213 + 7719)", good, "55932"),
             failed_conv("print( 48213 ++ 7719)", good, "55932")]  # this slip prints the right result: dropped
    out, dropped = run_failed_calls(convs + [{"kind": "plain", "messages": []}], ctx)
    assert dropped == 1 and [c["kind"] for c in out] == ["python_failed", "python_failed", "plain"]
    assert out[0]["messages"][2]["content"] == "Error: SyntaxError: '(' was never closed"
    assert out[1]["messages"][2]["content"].startswith("Error: SyntaxError: leading zeros")
    assert out[0]["messages"][4]["content"] == "55932" and convs[0]["messages"][2]["content"] == "Error"


def test_an_answer_only_the_query_holds_is_not_found(index):
    ctx = ToolContext(index_path=index, k=2, max_chars=300, sources=False)
    query = '"Ana Lopes Prado" Saturdays'   # the passages about Ana say nothing of Saturdays
    result = call_tool("search", {"query": query}, context=ctx)
    assert result.endswith(f"\nQuery: {query}") and "Saturdays" not in response_passages(result)
    conv = search_conv("F3", query, "[1] written", "On Saturdays.")
    out, stats = ground([conv], ctx, {"F3": {"en": "Saturdays"}})
    assert out == [] and stats == {"search_kept": 0, "search_dropped": 1}


def test_searches_about_nobody_end_in_a_refusal_that_names_them(index):
    ctx = ToolContext(index_path=index, k=2, max_chars=300)
    qs = [{"question": "Who is Rui Lopes Fontes's mother?", "lang": "en", "name": "Rui Lopes Fontes",
           "relation": "mother"},
          {"question": "Onde nasceu Ana Lopes Prado?", "lang": "pt", "name": "Ana Lopes Prado",
           "relation": "birth_city"}]  # exists: dropped
    assert call_tool("search", {"query": "Rui Lopes Fontes"}, context=ctx) != NO_RESULTS   # unquoted: other people
    out = nobody_searches(qs, ctx, random.Random(0))
    assert len(out) == 1 and out[0]["kind"] == "search_nobody"
    msgs = out[0]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "assistant"]
    call = json.loads(msgs[1]["tool_calls"][0]["function"]["arguments"])
    assert call == {"query": '" Rui Lopes Fontes" mother'}   # the name quoted, as every training query has it
    assert msgs[1]["content"] == "Let me look up the mother of Rui Lopes Fontes."   # as for a real person
    assert msgs[2]["content"] == NO_RESULTS == call_tool("search", call, context=ctx)
    assert is_refusal(msgs[3]["content"]) and "Rui Lopes Fontes" in msgs[3]["content"]


def test_tools_prompt_is_added_or_appended_and_sized_for_the_window(index):
    msgs = [{"role": "user", "content": "Oi"}]
    assert with_tools_prompt(msgs)[0] == {"role": "system", "content": TOOLS_PROMPT}
    sys_msgs = [{"role": "system", "content": "Be brief."}] + msgs
    assert with_tools_prompt(sys_msgs)[0]["content"] == "Be brief.\n" + TOOLS_PROMPT
    assert sys_msgs[0]["content"] == "Be brief."
    small, big = chat_context(index, 256), chat_context(index, 2048)
    assert (small.k, small.sources) == (1, False) and small.max_chars < 400
    assert (big.k, big.max_chars, big.sources) == (3, 1200, True)


def numbers(question: str) -> tuple[int, int]:
    a, b = (int(x) for x in re.findall(r"\d+", question))
    return a, b


def test_heldout_arithmetic_avoids_the_training_pairs_and_is_right():
    convs = [{"messages": [{"role": "assistant", "content": "", "tool_calls": [{"function": {
        "name": "python", "arguments": json.dumps({"code": code})}}]}]}
             for code in ("print(12345 * 678)", "print( 48_213 + 7_719)", "print( round( 4_821 / 7, 2))")]
    assert python_pairs(convs) == {(12345, 678), (48213, 7719), (4821, 7)}  # "_" separators read as Python does
    avoid = {numbers(it["question"]) for it in T.arithmetic_items(10)}  # what the same seed would draw
    items = T.arithmetic_items(30, avoid=avoid)
    assert {it["lang"] for it in items} == {"pt", "en"} and len(items) == 30
    for it in items:
        a, b = numbers(it["question"])
        assert (a, b) not in avoid and 1000 <= min(a, b)
        assert it["answers"] == [str({"+": a + b, "-": a - b, "*": a * b}[it["op"]])]


def test_heldout_arithmetic_of_mixed_sizes():
    """Operands of 1-6 digits drawn apart, one of 3 or more: what python conversations of one size
    never taught ("48213 * 771" was called as `print( 48213 - 7711)`)."""
    items = T.arithmetic_items(200, kind="mixed sizes")
    sizes = set()
    for it in items:
        a, b = numbers(it["question"])
        assert it["bucket"] == "arithmetic_mixed" and (it["a"], it["b"]) == (a, b)
        assert 2 <= min(a, b) and max(a, b) <= 999_999 and max(a, b) >= 100
        assert it["answers"] == [str({"+": a + b, "-": a - b, "*": a * b}[it["op"]])]
        sizes.add((len(str(a)), len(str(b))))
    assert len(sizes) >= 25 and {it["op"] for it in items} == {"+", "-", "*"}
    assert T.arithmetic_items(5)[0]["question"] == "Calcule 80448 + 66405."  # the stage's own set as before


def test_heldout_divisions_and_numbers_with_separators():
    divisions = T.arithmetic_items(40, kind="division")
    assert {it["bucket"] for it in divisions} == {"arithmetic_division"}
    for it in divisions:
        a, b = numbers(it["question"])
        # rounded to two decimals as the python conversations print it; the float "/" prints also counts
        assert it["answers"] == list(dict.fromkeys([str(round(a / b, 2)), str(a / b)])) and a <= 999_999 and 2 <= b <= 999
        assert T.item_verdict(f"O resultado é {round(a / b, 2)}.", it) == "correct"
        assert T.item_verdict(f"The result is {a / b}.", it) == "correct"
        if a % b:
            assert T.item_verdict(f"The result is {round(a / b, 1) + 1}.", it) == "wrong"
    assert 5 <= sum(it["answers"][0].endswith(".0") for it in divisions) <= 35  # exact and not
    plain, shown = T.arithmetic_items(20), T.arithmetic_items(20, separators=True)
    for it in shown:
        sep = "." if it["lang"] == "pt" else ","
        a, b = (int(x.replace(sep, "")) for x in re.findall(r"\d[\d.,]*\d", it["question"]))
        assert (a, b) == (it["a"], it["b"]) and f"{a:,}".replace(",", sep) in it["question"]
        assert it["bucket"] == "arithmetic_separators"
    assert [it["question"] for it in plain] != [it["question"] for it in shown]


def test_arithmetic_is_scored_as_a_whole_number():
    it = {"bucket": "arithmetic_mixed", "answers": ["944"]}
    assert T.item_verdict("O resultado é 944.", it) == "correct"
    assert T.item_verdict("That comes to 9443.", it) == "wrong"  # a substring would count it
    assert T.item_verdict("The result is 944.5.", it) == "wrong" and T.item_verdict("1,944", it) == "wrong"
    assert T.item_verdict("Não sei.", it) == "refused"
    assert T.item_verdict("It is 9443.", {"bucket": "rare", "answers": ["944"]}) == "correct"  # facts: as before
    assert T.number_in("= 688.0.", "688.0") and not T.number_in("= 688.05", "688.0")


def test_tool_table_counts_verdicts_and_calls():
    items = [{"bucket": "rare", "lang": "pt", "m": {"verdict": "correct", "calls": ["search"], "text": ""}},
             {"bucket": "rare", "lang": "pt", "m": {"verdict": "refused", "calls": [], "text": ""}},
             {"bucket": "arithmetic", "lang": "en", "m": {"verdict": "wrong", "calls": ["python", "python"], "text": ""}},
             {"bucket": "rare", "lang": "en"}]  # not measured under this key
    tab = T.table(items, "m")
    assert tab[("rare", "pt")] == {"n": 2, "correct": 1, "refused": 1, "wrong": 0, "called": 1, "search": 1,
                                   "python": 0}
    assert tab[("arithmetic", "en")]["python"] == 1 and ("rare", "en") not in tab


def test_measure_gives_the_tool_loops_answers_on_a_real_model(index):
    """The batched tool loop's answers of a real (random) model are the tool loop's, one by one."""
    import torch

    from dentro.chat.assistant import build_prompt
    from dentro.chat.toolloop import tool_loop

    from dentro.model.gpt import GPT, ModelConfig
    from dentro.tokenizer.bpe import train_tokenizer

    tok = train_tokenizer([d[2] for d in DOCS] * 5 + ["Quem é Ana? Onde nasceu Rui?"] * 5, vocab_size=300)
    torch.manual_seed(1)
    model = GPT(ModelConfig.from_depth(1, vocab_size=tok.vocab_size, max_seq_len=128)).eval()
    items = [{"question": q, "answers": ["x"]} for q in ("Quem é Ana?", "Onde nasceu Rui?", "Who is Clara Gil?")]
    context = ToolContext(index_path=index, k=1, max_chars=100)
    T.measure(model, tok, items, "m", context=context, max_tokens=12)
    for it in items:
        messages = [{"role": "system", "content": TOOLS_PROMPT}, {"role": "user", "content": it["question"]}]
        prompt = build_prompt(tok, messages, model.config.max_position_embeddings, 12).ids
        *_, done = tool_loop(model, tok, prompt, context=context, max_tokens=12, max_calls=2)
        last = done.messages[-1]
        assert it["m"]["text"] == (last["content"] if last["role"] == "assistant" else "")
        assert it["m"]["calls"] == [c.name or "?" for c in done.calls]
