"""Copied, not recalled (dentro/chat/copying.py): inside a search query's quoted phrase the tool loop
lets the model write only what the conversation holds, and a number it starts copying (in a call,
or in the answer after a tool's result) it must finish as the number it copies; everything else
in a reply and in a call is the model's own."""

import pytest
import torch

from dentro.chat.copying import QuoteCopy, _Scan
from dentro.chat.template import render
from dentro.chat.toolloop import tool_loop, tool_loop_batch
from dentro.chat.tools import ToolContext
from dentro.tokenizer.bpe import train_tokenizer

from test_toolloop import ByContent  # the tool loop tests' scripted model (pytest puts tests/ on sys.path)

QUESTION = "Quem é a mãe de Abigail B. White?"
TEXTS = [QUESTION, "Abigail S. White", "Vou procurar a mãe de Abigail S. White.", "A mãe é Rita Lopes Sá.",
         '{"name": "search", "arguments": {"query": "\\" Abigail B. White\\" mãe"}}', "print( 1234 * 56)"]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer([t + " " + u for t in TEXTS for u in TEXTS], vocab_size=360)


def search_call(query: str) -> dict:
    import json
    return {"role": "assistant", "content": "Vou procurar a mãe de Abigail S. White.",
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "search", "arguments": json.dumps({"query": query})}}]}


class Leaning(ByContent):
    """A model torn between scripts: at each position every script whose tokens the row has written
    so far votes for its next token with its own weight (the strongest vote wins a greedy draw).
    Batched or not, with or without a KV cache, as the tool loop's drivers use it."""

    def __init__(self, scripts: list[tuple[list[int], float]], vocab_size: int, window: int = 256):
        super().__init__([s for s, _ in scripts], vocab_size, window)
        self.weighted = scripts

    def votes(self, seen: list[int]) -> dict[int, float]:
        out: dict[int, float] = {}
        for script, weight in self.weighted:
            if script[:len(seen)] == seen and len(seen) < len(script):
                out[script[len(seen)]] = max(out.get(script[len(seen)], weight), weight)
        return out


def conversation(query: str) -> list[dict]:
    return [{"role": "user", "content": QUESTION}, search_call(query),
            {"role": "tool", "content": "No results."}, {"role": "assistant", "content": "Não sei."}]


def queries(tok, context: ToolContext, batched: bool) -> list[str]:
    """The queries the tool received from a model that leans to the name it recalls ("S.") over the
    one the question holds ("B.")."""
    recalled, copied = conversation('" Abigail S. White" mãe'), conversation('" Abigail B. White" mãe')
    scripts = [(render(tok, recalled)[0], 10.0), (render(tok, copied)[0], 5.0)]
    model = Leaning(scripts, tok.vocab_size)
    prompt = render(tok, recalled[:1], add_generation_prompt=True)[0]
    got = []

    def tool(name, arguments, *, context):
        got.append(arguments["query"])
        return "No results."

    if batched:
        tool_loop_batch(model, tok, [prompt, prompt], context=context, run_tool=tool, max_calls=1, max_tokens=80)
    else:
        list(tool_loop(model, tok, prompt, context=context, run_tool=tool, max_calls=1, max_tokens=80))
    return got


@pytest.mark.parametrize("batched", [False, True])
def test_the_quoted_name_is_the_questions_not_the_one_the_model_recalls(tok, batched):
    assert set(queries(tok, ToolContext(), batched)) == {'" Abigail B. White" mãe'}
    assert set(queries(tok, ToolContext(copy_quotes=False), batched)) == {'" Abigail S. White" mãe'}


def states(text: str) -> list[_Scan]:
    out, s = [], _Scan()
    for b in text.encode():
        s = s._byte(b)
        out.append(s)
    return out


def test_the_scan_finds_the_phrase_inside_a_search_query_only():
    call = '\n{"name": "search", "arguments": {"query": "\\" Ana Souza\\" mãe"}}\n'
    s = states(call)
    phrases = {x.phrase for x in s if x.phrase}
    assert max(phrases, key=len) == b" Ana Souza" and s[-1].done and not s[-1].watching
    assert any(x.watching for x in s)
    assert not any(x.phrase or x.watching for x in states('{"name": "python", "arguments": {"code": "print(\\" Ana\\")"}}'))
    # an escaped quote in another string, or a key named "query" of another tool, is no phrase
    assert not any(x.phrase for x in states('{"name": "search", "arguments": {"note": "\\"x\\"", "query": "Ana"}}'))


def allowed(out, vocab_size) -> set[int]:
    return set(range(vocab_size)) if out is None else {i for i in range(vocab_size) if out[0, i] > float("-inf")}


def test_constrain_allows_exactly_the_copies_of_the_source_and_closing(tok):
    copy = QuoteCopy(tok, QUESTION.encode())
    logits = torch.zeros(1, tok.vocab_size)
    head = '{"name": "search", "arguments": {"query": "\\" Abigail'
    ok = allowed(copy.constrain(tok.encode(head), logits), tok.vocab_size)
    assert ok and len(ok) < tok.vocab_size
    for i in range(tok.vocab_size):  # a piece of the question (any case), or the phrase closed, or \\ before it
        piece, source = tok.token_bytes(i), QUESTION.encode().lower()
        if piece == b"\\" or (piece.startswith(b'\\"') and not any(c in piece[2:] for c in b'\\"')):
            assert i in ok, piece
        elif any(c in piece for c in b'\\"'):  # a quote would end the query inside the phrase
            assert i not in ok or piece.startswith(b'\\"'), piece
        else:
            assert (i in ok) == (not tok.is_special(i) and (b" abigail" + piece.lower()) in source), piece
    # the phrase closes where a word of the source ends, not inside one ('" Michael Wal"' for Michael Walsh)
    closing = {i for i in range(tok.vocab_size) if tok.token_bytes(i).startswith(b'\\')}  # \" or \ then "
    assert closing
    for written, closes in ((" Abigail B. Whi", False), (" Abigail B. White", True), (" Abigail B", True),
                            (" Abig", False)):
        head = tok.encode('{"name": "search", "arguments": {"query": "\\"' + written)
        assert bool(closing & allowed(copy.constrain(head, logits), tok.vocab_size)) == closes, written
    # a letter beyond ASCII goes on the word, a curly apostrophe ends it ("Walsh’s")
    other = QuoteCopy(tok, "Quem é Ana Sá? E Walsh’s".encode())
    assert other._ends_a_word(b" ana s\xc3\xa1") and not other._ends_a_word(b" ana s")
    assert not other._ends_a_word(b" ana s\xc3") and other._ends_a_word(b" walsh")
    # what a tool's result names may be quoted next
    head = tok.encode('{"name": "search", "arguments": {"query": "\\" Rita')
    before = allowed(copy.constrain(head, logits), tok.vocab_size)
    copy.add("A mãe é Rita Lopes Sá.")
    after = allowed(copy.constrain(list(head), logits), tok.vocab_size)
    assert before < after and tok.encode(" Lopes")[0] in after - before
    # between phrases any token but one that opens a phrase the source lacks; other tools: nothing masked
    between = allowed(copy.constrain(tok.encode('{"name": "search", "arguments": {"query": "\\" Rita\\" m'), logits),
                      tok.vocab_size)
    assert all(i in between for i in range(tok.vocab_size) if b'"' not in tok.token_bytes(i))
    assert copy.constrain(tok.encode('{"name": "python", "arguments": {"code": "print( 99'), logits) is None


def number_copy(tok, source: str, written: str):
    from dentro.chat.copying import NumberCopy
    copy = NumberCopy(tok, source.encode())
    for t in tok.encode(written):
        copy.push(t)
    return copy


def digits_allowed(tok, copy) -> dict[str, bool]:
    ok = allowed(copy.constrain(torch.zeros(1, tok.vocab_size)), tok.vocab_size)
    return {c: tok.encode(c)[0] in ok for c in "0123456789 )."}


def test_a_number_that_starts_as_a_copy_ends_as_one(tok):
    q = "How much is 88014 plus 5669?"
    got = digits_allowed(tok, number_copy(tok, q, "print( 8801"))
    assert got == {**{c: c == "4" for c in "0123456789"}, " ": False, ")": False, ".": False}  # no end before it is whole
    got = digits_allowed(tok, number_copy(tok, q, "print( 88014 + 5669"))
    assert not any(got[c] for c in "0123456789") and got[" "] and got[")"]  # whole: no digit more
    assert number_copy(tok, q, "print( 12").constrain(torch.zeros(1, tok.vocab_size)) is None  # its own number
    # with a tool's result, the answer copies the printed number whole
    copy = number_copy(tok, q, "")
    copy.add("57823688")
    for t in tok.encode("A conta dá 5782368"):
        copy.push(t)
    got = digits_allowed(tok, copy)
    assert got["8"] and not got["."] and not got["0"]
    # "48.213" is a number as people write it, "48_213" as Python does
    assert digits_allowed(tok, number_copy(tok, "Quanto é 48.213 + 7.719?", "print( 48_21"))["3"]
    assert not digits_allowed(tok, number_copy(tok, "Quanto é 48.213 + 7.719?", "print( 48_21"))[")"]


def test_the_answer_after_a_result_copies_its_number_and_thinking_is_free(tok):
    question = "Quanto é 6422 vezes 9004?"

    def convo(answer, think=""):
        return [{"role": "user", "content": question},
                {"role": "assistant", "content": "Vou multiplicar.", "tool_calls": [{
                    "id": "call_1", "type": "function",
                    "function": {"name": "python", "arguments": '{"code": "print( 6422 * 9004)"}'}}]},
                {"role": "tool", "content": "57823688"}, {"role": "assistant", "content": think + answer}]

    def answer(context, think=""):
        scripts = [(render(tok, convo("A conta dá 5782368.", think))[0], 10.0),
                   (render(tok, convo("A conta dá 57823688.", think))[0], 5.0)]
        prompt = render(tok, convo("")[:1], add_generation_prompt=True)[0]
        *_, done = tool_loop(Leaning(scripts, tok.vocab_size), tok, prompt, context=context,
                             run_tool=lambda name, arguments, *, context: "57823688", max_tokens=80)
        return done.messages[-1]["content"]

    assert answer(ToolContext()) == "A conta dá 57823688."
    # a reply without a call writes its own numbers: "48213 + 5" is 48218, not a copy of 48213
    own = [{"role": "user", "content": "Quanto é 48213 + 5?"}, {"role": "assistant", "content": "É 48218."}]
    copied = [own[0], {"role": "assistant", "content": "É 48213."}]
    model = Leaning([(render(tok, own)[0], 10.0), (render(tok, copied)[0], 5.0)], tok.vocab_size)
    *_, done = tool_loop(model, tok, render(tok, own[:1], add_generation_prompt=True)[0], context=ToolContext())
    assert done.messages[-1]["content"] == "É 48218."
    assert answer(ToolContext(copy_numbers=False)) == "A conta dá 5782368."
    # inside the model's own <think> block its numbers are its own
    assert "<think>5782368</think>" in answer(ToolContext(), think="<think>5782368</think>")


def test_a_short_copy_is_broken_only_by_a_token_the_model_is_sure_of(tok):
    """"2 mais 3" -> `print( 22` is the tiny model's slip (the second 2 at 0.49); a model that means
    the constant 60 after copying the question's 6 is sure of its 0 (NumberCopy.SURE)."""
    from dentro.chat.copying import NumberCopy

    copy = number_copy(tok, "Quanto é 2 mais 3?", "print( 2")
    two, space = tok.encode("2")[0], tok.encode(" ")[0]
    unsure = torch.zeros(1, tok.vocab_size)
    unsure[0, two], unsure[0, space] = 5.0, 4.9
    out = copy.constrain(unsure)
    assert out[0, two] == float("-inf") and out[0, space] == 4.9  # the copy of 2 ends whole
    sure = torch.full((1, tok.vocab_size), -20.0)
    sure[0, two] = 10.0  # p ~ 1
    assert copy.constrain(sure)[0, two] == 10.0  # "22" stands: the model is sure of it
    # a copy of 2 digits or more (MIN) is never broken, however sure (the 4-5 digit slips)
    long = number_copy(tok, "How much is 88014 plus 5669?", "print( 88014 + 5669")
    sure = torch.full((1, tok.vocab_size), -20.0)
    sure[0, tok.encode("5")[0]] = 10.0
    assert long.constrain(sure)[0, tok.encode("5")[0]] == float("-inf")
    two_digits = number_copy(tok, "What is 4057 × 3347?", "print( 4057 * 33")
    sure = torch.full((1, tok.vocab_size), -20.0)
    sure[0, tok.encode(")")[0]] = 10.0
    assert two_digits.constrain(sure)[0, tok.encode(")")[0]] == float("-inf")  # `print( 4057 * 33)`
    # in the answer, a number a program printed is copied whole from its first digit: `print( 2 + 3)`
    # -> 5, and "A conta dá 55." at 0.97 was the tiny model's slip; in a call, or a number only
    # the question holds, the short copy stays the model's to break when it is sure
    five = tok.encode("5")[0]
    sure = torch.full((1, tok.vocab_size), -20.0)
    sure[0, five] = 10.0
    printed = number_copy(tok, "Quanto é 2 mais 3?", "")
    printed.add("5", printed=True)
    for t in tok.encode("A conta dá 5"):
        printed.push(t)
    assert printed.constrain(sure, answer=True)[0, five] == float("-inf")
    assert printed.constrain(sure)[0, five] == 10.0  # in a call
    said = number_copy(tok, "Quanto é 2 mais 3?", "")
    said.add("5")  # a search's result: not printed
    for t in tok.encode("A conta dá 5"):
        said.push(t)
    assert said.constrain(sure, answer=True)[0, five] == 10.0
    # "49.231" is one number: its "49" ends only where the separator follows
    sep = number_copy(tok, "99.280 menos 49.231 = ?", "print( 99_280 - 49")
    got = digits_allowed(tok, sep)
    assert not got[")"] and not got[" "] and got["."] and got["2"]
    # a float a program printed is copied whole in the answer: "5214." does not end "5214.43"
    flt = number_copy(tok, "Quanto é 584016 dividido por 112?", "")
    flt.add("5214.43", printed=True)
    for t in tok.encode("O resultado é 5214"):
        flt.push(t)
    assert digits_allowed(tok, flt)["."] and flt.constrain(torch.zeros(1, tok.vocab_size), answer=True) is not None
    got = {c: tok.encode(c)[0] in allowed(flt.constrain(torch.zeros(1, tok.vocab_size), answer=True), tok.vocab_size)
           for c in "0123456789."}
    assert got == {c: c == "." for c in "0123456789."}  # not "52144": the point is part of the copy
    flt.push(tok.encode(".")[0])
    got = {c: tok.encode(c)[0] in allowed(flt.constrain(torch.zeros(1, tok.vocab_size), answer=True), tok.vocab_size)
           for c in "0123456789"}
    assert got == {c: c == "4" for c in "0123456789"}
    for t in tok.encode("43"):
        flt.push(t)
    got = {c: tok.encode(c)[0] in allowed(flt.constrain(torch.zeros(1, tok.vocab_size), answer=True), tok.vocab_size)
           for c in "0123456789. "}
    assert got == {c: c in ". " for c in "0123456789. "}  # whole: it ends, with the sentence's full stop or not
    # without SURE (the rule before it), a short copy is the model's to break
    NumberCopy.SURE, saved = None, NumberCopy.SURE
    try:
        assert number_copy(tok, "Quanto é 2 mais 3?", "print( 2").constrain(unsure) is None
    finally:
        NumberCopy.SURE = saved


def python_call(code: str) -> dict:
    import json
    return {"role": "assistant", "content": "Vou somar.", "tool_calls": [{
        "id": "call_1", "type": "function", "function": {"name": "python", "arguments": json.dumps({"code": code})}}]}


def test_a_program_that_holds_every_number_of_the_question_stops_unless_sure(tok):
    """"2 mais 3" -> `print( 2 + 3 + 3)` is the tiny model going on past its problem: once the
    program holds each of the question's numbers, another operator needs SURE (CallOperands)."""
    from dentro.chat.copying import CallOperands

    source = render(tok, [{"role": "system", "content": "Tools: search, python. 7"},
                          {"role": "user", "content": "Quanto é 2 mais 3?"}], add_generation_prompt=True)[0]
    ops = CallOperands(tok, tok.decode_bytes(source))
    call = lambda code: tok.encode('{"name": "python", "arguments": {"code": "' + code)  # noqa: E731
    plus, close = tok.encode("+")[0], tok.encode(")")[0]
    unsure = torch.zeros(1, tok.vocab_size)
    unsure[0, plus], unsure[0, close] = 5.0, 4.9
    out = ops.constrain(call("print( 2 + 3"), unsure)
    assert out[0, plus] == float("-inf") and out[0, close] == 4.9
    sure = torch.full((1, tok.vocab_size), -20.0)
    sure[0, plus] = 10.0
    assert ops.constrain(call("print( 2 + 3"), sure)[0, plus] == 10.0  # a model sure of one more operation writes it
    assert ops.constrain(call("print( 2"), unsure) is None  # the 3 is not written yet
    assert ops.constrain(call("print( 2 + 3)"), unsure) is None  # no longer right after a number
    assert ops.constrain(call("print( 2 + 3 + 7"), unsure)[0, plus] == float("-inf")
    # "3 vezes 3": the question's 3 twice; a search call, or a question of one number, is never touched
    twice = CallOperands(tok, "Quanto é 3 vezes 3?".encode())
    assert twice.constrain(call("print( 3 * 3"), unsure) is not None and twice.constrain(call("print( 3"), unsure) is None
    assert ops.constrain(tok.encode('{"name": "search", "arguments": {"query": "2 3'), unsure) is None
    assert CallOperands(tok, "Quanto é 2?".encode()).constrain(call("print( 2"), unsure) is None


def test_the_programs_operation_is_the_one_the_question_names(tok):
    """"96249 vezes 176" -> `print( 96249 + 176)` was the tiny model's most common slip on a fresh
    clone: when the question names one kind of operation, another operator right after a number of
    the program is not allowed (CallOperator); two kinds, or none, leave the program alone."""
    from dentro.chat.copying import CallOperator, operations
    from dentro.world.tool_conversations import DIVIDE, OPS

    # every way the world's conversations name an operation is read as that operation
    for sym, words in [*((s, w) for s, by in OPS.items() for w in by["pt"] + by["en"]), *(("/", w) for by in
                                                                                        DIVIDE.values() for w in by)]:
        assert operations(f"Quanto é 12 {words} 7?") == {sym}, words
    assert operations("7-5 = ?") == {"-"} and operations("Bem-vindo! Quem é você?") == set()
    assert operations("Quanto é 2 vezes 3 mais 1?") == {"*", "+"}

    def program(question: str, code: str, logits) -> torch.Tensor | None:
        source = render(tok, [{"role": "system", "content": "Tools: search, python. 2 + 2"},
                              {"role": "user", "content": question}], add_generation_prompt=True)[0]
        op = CallOperator(tok, tok.decode_bytes(source))
        return op.constrain(tok.encode('{"name": "python", "arguments": {"code": "' + code), logits)

    plus, times = tok.encode("+")[0], tok.encode("*")[0]
    sure = torch.full((1, tok.vocab_size), -20.0)
    sure[0, plus] = 10.0
    out = program("Qual é o resultado de 96249 vezes 176?", "print( 96249 ", sure)
    assert out[0, plus] == float("-inf") and out[0, times] == -20.0  # however sure of "+"
    assert program("Qual é o resultado de 96249 vezes 176?", "print( 96249", sure)[0, plus] == float("-inf")
    out = program("Qual é o resultado de 96249 mais 176?", "print( 96249 ", sure)
    assert out[0, plus] == 10.0 and out[0, times] == float("-inf")  # its operation, and no other
    assert program("Quanto é 2 vezes 3 mais 1?", "print( 2 ", sure) is None  # two kinds: the model's
    assert program("Quanto é 7 dividido por 2?", "print( round( 7 / 2", sure)[0, plus] == float("-inf")
    assert program("Quanto é 7 dividido por 2?", "print( round( 7 / 2, ", sure) is None  # not after a number


@pytest.mark.parametrize("batched", [False, True])
def test_the_program_ends_with_the_questions_numbers(tok, batched):
    question = {"role": "user", "content": "Quanto é 2 mais 3?"}

    def convo(code, result):
        return [question, python_call(code), {"role": "tool", "content": result},
                {"role": "assistant", "content": f"A conta dá {result}."}]

    def program(context):
        scripts = [(render(tok, convo("print( 2 + 3 + 3)", "8"))[0], 5.0),
                   (render(tok, convo("print( 2 + 3)", "5"))[0], 4.9)]
        model = Leaning(scripts, tok.vocab_size)
        prompt = render(tok, [question], add_generation_prompt=True)[0]
        got = []

        def tool(name, arguments, *, context):
            got.append(arguments["code"])
            return "5" if arguments["code"] == "print( 2 + 3)" else "8"

        if batched:
            tool_loop_batch(model, tok, [prompt], context=context, run_tool=tool, max_calls=1, max_tokens=80)
        else:
            list(tool_loop(model, tok, prompt, context=context, run_tool=tool, max_calls=1, max_tokens=80))
        return got

    assert program(ToolContext()) == ["print( 2 + 3)"]
    assert program(ToolContext(copy_numbers=False)) == ["print( 2 + 3 + 3)"]


def test_after_a_search_that_found_nothing_the_answer_names_the_question(tok):
    """NameCopy: the refusal after "No results." names the person asked about, not the one the
    model recalls; with a result to read, or with copy_quotes off, the model's own names stand."""
    call = search_call('" Abigail B. White" mãe')

    def convo(answer, result):
        return [{"role": "user", "content": QUESTION}, call, {"role": "tool", "content": result},
                {"role": "assistant", "content": answer}]

    def answer(context, result="No results."):
        scripts = [(render(tok, convo("Não sei: a busca não encontrou nada sobre Abigail S. White.", result))[0], 10.0),
                   (render(tok, convo("Não sei: a busca não encontrou nada sobre Abigail B. White.", result))[0], 5.0)]
        prompt = render(tok, convo("", result)[:1], add_generation_prompt=True)[0]
        *_, done = tool_loop(Leaning(scripts, tok.vocab_size), tok, prompt, context=context, max_calls=1,
                             run_tool=lambda name, arguments, *, context: result, max_tokens=200)
        return done.messages[-1]["content"]

    assert answer(ToolContext()) == "Não sei: a busca não encontrou nada sobre Abigail B. White."
    assert answer(ToolContext(copy_quotes=False)) == "Não sei: a busca não encontrou nada sobre Abigail S. White."
    # a result to read: the answer's names are not forced (docs/LOG.md, "Reading a search result")
    assert answer(ToolContext(), result="[1] Abigail S. White nasceu em 1950.").endswith("Abigail S. White.")


def test_name_copy_reads_names_as_words(tok):
    from dentro.chat.copying import NameCopy

    source = b"<|im_start|>system\nTools: search, python.<|im_end|>\n<|im_start|>user\nWho is Callum Williams's mother?" \
        b"<|im_end|>\n<|im_start|>assistant\n"
    names = NameCopy(tok, source)
    said = "I don't know. The search results say nothing about "
    ok = lambda text: names._ok(text, len(said))  # noqa: E731
    assert ok(said + "Callum") and ok(said + "Callum Will") and ok(said + "Callum Williams.")  # a period ends it
    assert ok(said + "Callum Williams's mother.")
    assert not ok(said + "Callum Coleman") and not ok(said + "Callum Wil.") and not ok(said + "Call ")
    assert not ok(said + "Tools")  # the system message's words are not the user's
    assert ok("Callum Coleman is not in the results.")  # a sentence's first word is not checked
    assert ok(said.replace("about ", "about him. ") + "Coleman says")
    assert not ok(said + "Callum“Foi")  # a name glued to what follows it still ends there
    # a character cut by a token boundary ends a name: inside one, only whole characters
    assert NameCopy._read("Ara".encode() + "ú".encode()[:1]) == "Ara…"
    assert ok("I don't know what I learned about Callum Williams.")  # "I" is no name
    accented = NameCopy(tok, "<|im_start|>user\nQual é a profissão de Lúcia Araújo?<|im_end|>\n".encode())
    said = "Não sei nada sobre "
    assert accented._ok(said + "Lú", len(said)) and accented._ok(said + "Lúcia Araú", len(said))
    assert not accented._ok(said + "Lu", len(said)) and not accented._ok(said + "Lúcia Ara…", len(said))
    assert accented._ok(said + "Lúcia Araújo.", len(said))
    assert NameCopy._read(b"George A" + "“".encode()[:2]) == "George A…"
    assert NameCopy._read(b"George A\x80") == "George A\ufffd"
