"""The confidence gate (dentro.chat.gate): calibration, scope, the confidence the engine reports,
the factuality stage's gated verdicts and `dentro chat` behind the gate."""

import io
import json
import math

import pytest
import torch

from dentro.chat import gate as G
from dentro.eval.knowledge import is_refusal


def test_calibrate_keeps_the_share_of_right_answers_asked_for():
    right = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    wrong = [0.05, 0.15, 0.25, 0.5]
    g = G.calibrate(right, wrong, keep=0.9)
    assert g["threshold"] == 0.2  # 9 of the 10 right answers are at or above it
    assert g["right_kept"] == 0.9 and g["wrong_stopped"] == 0.5  # 0.05 and 0.15 of the four
    assert G.calibrate(right, wrong, keep=1.0)["threshold"] == 0.1
    assert G.calibrate(right, [], keep=0.5)["threshold"] == 0.6 and G.calibrate(right, [])["wrong_stopped"] is None
    with pytest.raises(ValueError, match="no right answer"):
        G.calibrate([], wrong)


def test_the_gate_judges_answers_from_memory_only():
    ask = lambda text: [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]  # noqa: E731
    q = ask("Quem é a mãe de Maria Pereira Santos?")
    assert G.decide(q, "A mãe de Maria é Ana.", 0.9, 0.5, tools=False) == "stands"
    assert G.decide(q, "A mãe de Maria é Ana.", 0.3, 0.5, tools=False) == "refuse"
    assert G.decide(q, "A mãe de Maria é Ana.", 0.3, 0.5, tools=True) == "tools"
    assert G.decide(q, "A mãe de Maria é Ana.", 0.5, 0.5, tools=True) == "stands"  # at the threshold: stands
    passage = "Texto: Louise Cook nasceu no ano de 1970 e trabalha como enfermeira. "  # 13 words and a question
    for tools in (False, True):
        assert G.decide(ask(passage + "Qual é a profissão de Louise Cook?"), "Enfermeira.", 0.0, 0.5,
                        tools=tools) == "as_usual"
    steps = "<think>\n48213 + 99812\nunidades: 3 + 2 = 5\n</think>\n\n148025"
    assert G.decide(ask("Quanto é 48213 + 99812?"), steps, 0.99, 0.5, tools=False) == "as_usual"
    assert G.decide(ask("Quanto é 48213 + 99812?"), steps, 0.99, 0.5, tools=True) == "tools"  # the tools compute
    off = "<think>\n\n</think>\n\nA mãe de Maria é Ana."  # thinking switched off: an empty block
    assert G.decide(q, off, 0.9, 0.5, tools=True) == "stands"
    # small talk and questions about the assistant name nothing: never refused, never sent to search
    for text in ("Quem é você?", "Bom dia", "who built you", "goodbye."):
        assert G.decide(ask(text), "Sou o dentro.", 0.0, 0.5, tools=True) == "as_usual"
    assert G.names_something("Who is Maria's mother?") and G.names_something("Quanto é 48213 + 99812?")
    assert G.names_something("Quanto é 2 + 2?") and G.names_something("what is 7 times 8")
    assert not G.names_something("Quem é você?") and not G.names_something("Oi. Tudo bem?")
    assert not G.names_something("Tenho 2 perguntas.")
    assert G.brings_text([{"role": "system", "content": "x"}])  # no question at all


def test_a_follow_up_is_judged_by_what_its_reply_names():
    """A follow-up that names nothing ("E onde ela nasceu?") is judged when its reply names what an
    earlier user message named; small talk after a question about someone is not."""
    first = [{"role": "user", "content": "Em que ano nasceu Maria Pereira Santos?"},
             {"role": "assistant", "content": "Maria Pereira Santos nasceu em 1966."}]
    follow = first + [{"role": "user", "content": "E onde ela nasceu?"}]
    assert G.follows_up(follow, "A cidade natal de Maria Pereira Santos é Lisboa.")
    assert G.decide(follow, "A cidade natal de Maria Pereira Santos é Lisboa.", 0.3, 0.5, tools=False) == "refuse"
    assert G.decide(follow, "A cidade natal de Maria Pereira Santos é Lisboa.", 0.3, 0.5, tools=True) == "tools"
    assert G.decide(follow, "A cidade natal de Maria Pereira Santos é Lisboa.", 0.7, 0.5, tools=False) == "stands"
    # the reply names someone the user never named, or no one: answered as usual
    assert G.decide(follow, "Ela nasceu em Lisboa.", 0.3, 0.5, tools=False) == "as_usual"  # Lisboa: not asked about
    thanks = first + [{"role": "user", "content": "Obrigado! E você, quem é?"}]
    assert G.decide(thanks, "Eu sou o dentro, um assistente.", 0.1, 0.5, tools=True) == "as_usual"
    # a first question that names nothing has nothing to follow up on
    assert not G.follows_up([{"role": "user", "content": "oi"}, {"role": "assistant", "content": "Olá!"},
                             {"role": "user", "content": "tudo bem?"}], "Tudo bem, Maria.")
    assert G.names("Quem é a mãe de Maria Souza? Ela mora em Lisboa.") == {"Maria", "Souza", "Lisboa"}
    # English "I" is no name: "And who are you?" -> "I am dentro…" does not follow up on it
    asked = [{"role": "user", "content": "Can I ask who the mother of Maria Souza is?"},
             {"role": "assistant", "content": "Her mother is Rita Souza."},
             {"role": "user", "content": "And who are you?"}]
    assert G.names(asked[0]["content"]) == {"Maria", "Souza"} and G.names("Who is Grace K. Davis?") == {"Grace"}
    assert G.decide(asked, "I am dentro, and I answer in Portuguese and English.", 0.1, 0.5, tools=False) == "as_usual"


def test_gated_verdicts_of_the_evaluation():
    from dentro.commands.factuality import gate_from_probe, gate_tool_items

    item = lambda c, v: {"question": "Quem é a mãe de Xavier?", "sft": {"reply": "A mãe de Xavier é Yara.", "verdict": v,  # noqa: E731
                                                                  "confidence": c}}
    assert G.gated_verdict(item(0.2, "wrong"), "sft", 0.3) == "refused"
    assert G.gated_verdict(item(0.3, "correct"), "sft", 0.3) == "correct"
    read = {"question": "x " * 50, "sft": {"reply": "Y.", "verdict": "correct", "confidence": 0.01}}
    assert G.gated_verdict(read, "sft", 0.3) == "correct"  # a text to read: not judged

    probe = [{"greedy_verdict": "correct", "greedy_confidence": c} for c in (0.9, 0.8, 0.7, 0.6, 0.5)] + \
        [{"greedy_verdict": "wrong", "greedy_confidence": c} for c in (0.1, 0.2, 0.65)]
    gate = gate_from_probe(probe, "run/sft/checkpoint", "run/factuality/checkpoint")
    assert gate["threshold"] == 0.5 and gate["wrong_stopped"] == round(2 / 3, 4)
    assert gate["checkpoint"] == "run/sft/checkpoint" and gate["tool_model"] == "run/factuality/checkpoint"
    assert gate_from_probe([{"greedy_verdict": "wrong", "greedy_confidence": 0.9}], "a", None) is None

    tools = [{"question": "Quanto é 48213 + 99812?",
              "sft_plain": {"text": "148.000", "verdict": "wrong", "confidence": 0.1},
              "probed_tools": {"text": "A conta dá 148025.", "verdict": "correct", "calls": ["python"]}},
             {"question": "Quanto é 48213 + 99813?",
              "sft_plain": {"text": "<think>\n3 + 3 = 6\n</think>\n\n148026", "verdict": "correct",
                             "confidence": 0.99},
              "probed_tools": {"text": "A conta dá 148025.", "verdict": "correct", "calls": ["python"]}},
             {"question": "Em que país fica Bramhurst?",
              "sft_plain": {"text": "Na Irlanda.", "verdict": "correct", "confidence": 0.9},
              "probed_tools": {"text": "…", "verdict": "wrong", "calls": ["search"]}}]
    gate_tool_items(tools, 0.5)
    assert tools[0]["gated_tools"] == tools[0]["probed_tools"]  # unsure: the tools answer
    assert tools[1]["gated_tools"] == tools[1]["probed_tools"]  # reasoning: the tools compute
    assert tools[2]["gated_tools"] == {"text": "Na Irlanda.", "verdict": "correct", "calls": []}  # no needless call
    # the tool model's answer is judged by the same threshold: below it, a refusal (its calls kept)
    unsure = [{"question": "Onde trabalha Sarah W. Cook?", "sft_plain": {"text": "Na Redwood.", "verdict": "wrong",
                                                                          "confidence": 0.2},
               "probed_tools": {"text": "O empregador de Sarah W. Cook é a Redwood.", "verdict": "wrong",
                                "calls": ["search"], "confidence": c}} for c in (0.49, 0.5)]
    gate_tool_items(unsure, 0.5)
    assert unsure[0]["gated_tools"]["verdict"] == "refused" and unsure[0]["gated_tools"]["calls"] == ["search"]
    assert is_refusal(unsure[0]["gated_tools"]["text"]) and "não" in unsure[0]["gated_tools"]["text"].lower()
    assert unsure[1]["gated_tools"] == unsure[1]["probed_tools"]
    assert G.after_tools(None, 0.9) and not G.after_tools(0.1, 0.9)


@pytest.fixture(scope="module")
def tiny(one_thread):
    """A throwaway tokenizer with the chat tokens and a random depth-1 model (context 256)."""
    from dentro.model.gpt import GPT, ModelConfig
    from dentro.tokenizer.bpe import train_tokenizer

    texts = ["Quem é a mãe de Maria? A mãe de Maria é Ana.", "Who is Maria's mother? Maria's mother is Ana.",
             "Não sei quem é. I don't know.", "user\nassistant\nsystem\n"] * 30
    tok = train_tokenizer(texts, vocab_size=400)
    torch.manual_seed(0)
    return GPT(ModelConfig.from_depth(1, vocab_size=tok.vocab_size, max_seq_len=256)).eval(), tok


def test_the_confidence_is_the_geometric_mean_of_the_tokens_probabilities(tiny):
    from dentro.chat.assistant import build_prompt, reply_batch, stop_ids
    from dentro.model.engine import Sampling, generate_all

    model, tok = tiny
    convs = [[{"role": "user", "content": q}] for q in ("Quem é a mãe de Maria?", "Who is Maria's mother? Tell me.")]
    got = reply_batch(model, tok, convs, max_tokens=8, confidence=True)  # two prompt lengths: one padded
    assert [r["text"] for r in got] == [r["text"] for r in reply_batch(model, tok, convs, max_tokens=8)]
    stops = stop_ids(tok)
    for conv, r in zip(convs, got):
        prompt = build_prompt(tok, conv, 256, 8).ids
        reply = generate_all(model, prompt, max_tokens=8, sampling=Sampling(temperature=0.0), stop_ids=stops)[0]
        reply = [t for t in reply if t not in stops]
        assert tok.decode(reply) == r["text"]
        with torch.no_grad():
            probs = model(torch.tensor([prompt + reply]))[0].float().softmax(-1)
        logs = [probs[len(prompt) - 1 + j, t].log().item() for j, t in enumerate(reply)]
        assert 0.0 < r["confidence"] <= 1.0
        assert r["confidence"] == pytest.approx(math.exp(sum(logs) / len(logs)), rel=1e-3, abs=1e-5)
        assert min(math.exp(x) for x in logs) <= r["confidence"] <= max(math.exp(x) for x in logs)


def test_chat_behind_the_gate_answers_refuses_or_leaves_alone(tiny):
    from dentro.chat.assistant import reply
    from dentro.commands.chat import Session

    model, tok = tiny
    q = "Quem é a mãe de Maria?"
    greedy = reply(model, tok, [{"role": "user", "content": q}], max_tokens=6)

    out = io.StringIO()
    s = Session(model, tok, "pt", None, 0.0, None, 6, None, out=out, gate=0.0)  # everything stands
    assert s.ask(q) == greedy and s.messages[-1]["content"] == greedy and s.last_steps

    out = io.StringIO()
    s = Session(model, tok, "en", None, 0.0, None, 6, None, out=out, gate=1.01)  # nothing stands
    said = s.ask(q)
    assert is_refusal(said) and "não" in said.lower()  # in the question's language, not the labels'
    assert "confidence" in out.getvalue() and s.messages[-1] == {"role": "assistant", "content": said}
    said = s.ask("Who is Maria's mother?")
    assert is_refusal(said) and "know" in said.lower()

    # a gate with the regression (gate.json as `dentro factuality` writes it): the score decides
    sure = {"threshold": 0.5, "answer_threshold": 0.9, "weights": {"bias": 50.0, "answer": 1.0, "name": 1.0}}
    s = Session(model, tok, "pt", None, 0.0, None, 6, None, out=io.StringIO(), gate=sure)
    assert s.ask(q) == greedy and s.gate == 0.5 and s.answer_gate == 0.9
    unsure = {**sure, "weights": {"bias": -50.0, "answer": 1.0, "name": 1.0}}
    out = io.StringIO()
    s = Session(model, tok, "pt", None, 0.0, None, 6, None, out=out, gate=unsure)
    assert is_refusal(s.ask(q)) and "0.000 < 0.500" in out.getvalue()

    passage = "Text: Maria's mother is Ana, and Ana was born in Lisbon. Who is Maria's mother?"  # 17 words
    s = Session(model, tok, "en", None, 0.0, None, 6, None, out=io.StringIO(), gate=1.01)
    assert not is_refusal(s.ask(passage))  # a text to read: answered as usual


def test_chat_reads_the_runs_gate_only_for_the_model_it_was_calibrated_on(tmp_path):
    from dentro.commands.chat import load_gate

    run = tmp_path / "run"
    (run / "factuality").mkdir(parents=True)
    assert load_gate(run, run / "sft" / "checkpoint", "cpu", "en", tools_on=False) == (None, None, None)
    G.write_gate(run / "factuality", {"threshold": 0.25, "checkpoint": str(run / "sft" / "checkpoint"),
                                      "tool_model": None})
    t, tool, note = load_gate(run, run / "sft" / "checkpoint", "cpu", "en", tools_on=True)
    assert t["threshold"] == 0.25 and tool is None and "0.250" in note and "does not know" in note
    assert load_gate(run, run / "factuality" / "checkpoint", "cpu", "en", tools_on=False)[0] is None
    (run / "factuality" / "gate.json").write_text("{not json", encoding="utf-8")
    assert G.read_gate(run) is None
    json.loads(json.dumps(G.calibrate([0.5], [0.1])))  # what is written is plain JSON


def test_the_chat_model_reads_the_conversation_without_the_tool_models_turns(tiny, monkeypatch):
    import dentro.chat.assistant as A
    from dentro.commands.chat import Session

    model, tok = tiny
    seen = []
    real = A.stream_reply

    def spy(m, t, messages, **kw):
        seen.append(messages)
        return real(m, t, messages, **kw)

    monkeypatch.setattr(A, "stream_reply", spy)
    s = Session(model, tok, "pt", None, 0.0, None, 6, None, out=io.StringIO(), gate=0.0)
    s.messages = [{"role": "user", "content": "Quanto é 2 + 2?"},
                  {"role": "assistant", "content": "Vou calcular.", "tool_calls": [
                      {"id": "c1", "type": "function", "function": {"name": "python", "arguments": "{}"}}]},
                  {"role": "tool", "content": "4", "tool_call_id": "c1"},
                  {"role": "assistant", "content": "A conta dá 4."}]
    s.ask("Quem é a mãe de Maria?")
    assert [m["role"] for m in seen[-1]] == ["user", "assistant", "user"]
    assert seen[-1][1]["content"] == "A conta dá 4." and len(s.messages) == 6  # the history itself is kept whole


def test_the_names_span_is_the_last_question_that_names_someone():
    ask = [{"role": "user", "content": "Quem é a mãe de Maria Pereira Santos?"},
           {"role": "assistant", "content": "A mãe de Maria Pereira Santos é Ana Lima."},
           {"role": "user", "content": "E onde ela nasceu?"}]
    i, text, a, b = G.named_span(ask)  # the follow-up names nobody: the question before it
    assert i == 0 and text[a:b] == "Maria Pereira Santos"
    assert G.named_span([{"role": "user", "content": "Quem é você?"}]) is None
    assert G.named_span([{"role": "system", "content": "Seja breve, Ana Lima."}]) is None  # users' names only


def test_familiarity_is_the_least_likely_name_token_after_the_first(tiny):
    from dentro.chat.assistant import build_prompt

    model, tok = tiny
    conv = [{"role": "user", "content": "Quem é a mãe de Maria Ana Souza?"}]
    ids = build_prompt(tok, conv, 256, 48).ids
    with torch.no_grad():
        lp = model(torch.tensor([ids]))[0].log_softmax(-1)
    at = b"".join(tok.token_bytes(t) for t in ids).rfind("Maria Ana Souza".encode())
    start, inside = 0, []
    for t, tid in enumerate(ids):  # the tokens that begin inside the name
        if at <= start < at + len("Maria Ana Souza") and t:
            inside.append(lp[t - 1, tid].item())
        start += len(tok.token_bytes(tid))
    assert len(inside) >= 3
    nobody = [{"role": "user", "content": "Bom dia!"}]
    got = G.familiarity(model, tok, [conv, nobody, conv], ["A mãe de Maria é Ana.", "Bom dia!", "Não sei."])
    assert got[0] == pytest.approx(min(inside[1:]), abs=1e-5) and got[0] < 0
    assert got[1] == 0.0 and got[2] == 0.0  # no name; a reply not about the name asked
    assert G.familiarity(model, tok, [conv])[0] == pytest.approx(got[0], abs=1e-6)  # without replies: measured
    assert model.training is False


def test_the_gates_regression_over_the_answer_and_the_name():
    right = [(0.95, -1.0), (0.9, -0.5), (0.92, -2.0), (0.85, -1.5), (0.97, -0.2), (0.6, -1.0)]
    others = [(0.95, -9.0), (0.9, -8.0), (0.5, -1.0), (0.4, -3.0), (0.93, -7.5), (0.88, -10.0)]
    w = G.fit_weights(right, others)
    assert w["answer"] > 0 and w["name"] > 0  # surer answers, more familiar names: more likely right
    s = lambda pairs: [G.score(w, *p) for p in pairs]  # noqa: E731
    assert min(s(right[:5])) > max(s([others[0], others[4], others[5]]))  # fluent answers about unknown names
    assert all(0.0 < x < 1.0 for x in s(right + others))
    assert G.score(None, 0.7, -5.0) == 0.7 and G.score(w, 0.7, None) == 0.7  # no weights, no measure: the mean


def test_the_gate_from_the_probe_fits_the_regression_when_the_names_were_measured():
    from dentro.commands.factuality import gate_from_probe

    probe = [{"greedy_verdict": "correct", "greedy_confidence": c, "greedy_familiarity": f}
             for c, f in ((0.95, -1.0), (0.9, -0.5), (0.92, -2.0), (0.85, -1.5), (0.97, -0.2), (0.6, -1.0))] + \
        [{"greedy_verdict": "wrong", "greedy_confidence": c, "greedy_familiarity": f}
         for c, f in ((0.5, -1.0), (0.4, -3.0))]
    invented = [{"confidence": c, "familiarity": f} for c, f in ((0.95, -9.0), (0.93, -7.5), (0.88, -10.0))]
    gate = gate_from_probe(probe, "sft", None, invented)
    plain = G.calibrate([0.95, 0.9, 0.92, 0.85, 0.97, 0.6], [0.5, 0.4])
    assert gate["answer_threshold"] == plain["threshold"]  # the tool model's answers: the mean's threshold
    scores = [G.score(gate["weights"], it["greedy_confidence"], it["greedy_familiarity"]) for it in probe[:6]]
    assert sum(x >= gate["threshold"] for x in scores) >= 0.9 * 6 and gate["invented"] == 3
    assert all(G.score(gate["weights"], i["confidence"], i["familiarity"]) < gate["threshold"] for i in invented)
    old = gate_from_probe([{k: v for k, v in it.items() if k != "greedy_familiarity"} for it in probe], "sft", None,
                          invented)
    assert "weights" not in old and old["threshold"] == plain["threshold"]  # an older probe: the mean alone


def test_unsupported_names_what_the_answer_adds_that_no_result_holds():
    from dentro.chat.gate import after_tools, unsupported

    question = "In which city was Chloe Morgan born?"
    lead = {"role": "assistant", "content": "Let me look up the hometown of Chloe Morgan.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]}
    result = {"role": "tool", "tool_call_id": "call_1",
              "content": "[1] …Chloe Morgan was born in 1927. Chloe Morgan was born in Fairwick.\nQuery: \" Chloe Morgan\" Wilbridge"}
    reply = lambda answer: [lead, result, {"role": "assistant", "content": answer}]  # noqa: E731
    assert unsupported([question], reply("The hometown of Chloe Morgan is Wilbridge.")) == ["Wilbridge"]  # not the query line
    assert unsupported([question], reply("The hometown of Chloe Morgan is fairwick.")) is None  # lower case: no name
    assert unsupported([question], reply("The hometown of Chloe Morgan is Fairwick (1927).")) == []
    assert unsupported([question], reply("<think>Wilbridge? No.</think>The hometown of Chloe Morgan is Fairwick.")) == []
    assert unsupported([question], reply("By profession, Chloe Morgan is a chemist.")) is None  # nothing to check
    assert unsupported([question], reply("She was born in 1928.")) == ["1928"]
    assert unsupported([question], [{"role": "assistant", "content": "Chloe Morgan was born in Wilbridge."}]) is None  # no tool
    # after a python call every number counts, matched whole: "5" grounds "5", not "55"
    program = [{"role": "assistant", "content": "Vou somar.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "python", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "5"}]
    asked = ["Quanto é 2 mais 3?"]
    assert unsupported(asked, program + [{"role": "assistant", "content": "A conta dá 5."}]) == []
    assert unsupported(asked, program + [{"role": "assistant", "content": "A conta dá 55."}]) == ["55"]
    assert unsupported(asked, program + [{"role": "assistant", "content": "A conta dá 2."}]) is None  # the question's
    assert unsupported(["Quanto é 15 mais 3?"], program[:1] + [{"role": "tool", "content": "18"},
                                                              {"role": "assistant", "content": "É 5."}]) == ["5"]
    # a number of the question that the program left out: the result answers another problem
    from dentro.chat.gate import left_out
    three = [{"role": "assistant", "content": "Vou somar.", "tool_calls": [{"id": "call_1", "type": "function",
              "function": {"name": "python", "arguments": '{"code": "print( 3 + 5)"}'}}]},
             {"role": "tool", "tool_call_id": "call_1", "content": "8"}, {"role": "assistant", "content": "A conta dá 8."}]
    assert left_out("Quanto é 3 mais 4 mais 5?", three) == ["4"]
    assert unsupported(["Quanto é 3 mais 4 mais 5?"], three) == ["4"] and not after_tools(0.99, 0.8, ["4"])
    assert unsupported(["Quanto é 3 mais 5?"], three) == []
    assert left_out("Quanto é 5 vezes 5?", three) == ["5"]  # the question's 5 twice, the program's once
    assert left_out("Quanto é 48.213 + 7.719?", [{"role": "assistant", "content": "", "tool_calls": [{
        "id": "call_1", "type": "function", "function": {"name": "python", "arguments": {
            "code": "print( 48_213 + 7_719)"}}}]}]) == []  # separators read as the copy constraint reads them
    assert left_out("Quanto é 3 mais 4?", reply("It is 7.")) == []  # no program: nothing left out
    # the gate: grounded stands however unsure, ungrounded is refused however sure, else confidence
    assert after_tools(0.1, 0.8, []) and not after_tools(0.99, 0.8, ["Wilbridge"])
    assert after_tools(0.9, 0.8, None) and not after_tools(0.1, 0.8, None) and after_tools(None, 0.8, None)


def test_a_search_for_what_the_conversation_never_named_is_not_an_answer():
    from dentro.chat.gate import searched_elsewhere, unsupported

    def searched(query: str, answer: str) -> list[dict]:
        return [{"role": "assistant", "content": "Vou procurar.", "tool_calls": [{"id": "call_1", "type": "function",
                 "function": {"name": "search", "arguments": {"query": query}}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "[1] A profissão de Jorge Falcão Correia é "
                 "advogado.\nQuery: " + query},
                {"role": "assistant", "content": answer}]

    off = searched('"S" profissão', "A profissão de Jorge Falcão Correia é advogado.")
    assert searched_elsewhere(["Quanto é 2 mais 3?"], off) == ["S"]  # "s" of "mais" is no word of it
    assert unsupported(["Quanto é 2 mais 3?"], off) == ["S"]  # grounded in its result, about someone else
    on = searched('" jorge falcão  correia" profissão', "A profissão de Jorge Falcão Correia é advogado.")
    assert searched_elsewhere(["Qual é a profissão de Jorge Falcão Correia?"], on) == []  # case and spaces aside
    assert unsupported(["Qual é a profissão de Jorge Falcão Correia?"], on) is None  # adds nothing to check
    # a follow-up: the name is in an earlier turn of the conversation
    assert searched_elsewhere(["Quem é Jorge Falcão Correia?", "Ele é de 1926.", "E a profissão dele?"], on) == []
    assert searched_elsewhere(["Qual é a profissão de Jorge Falcão?"], on) == ["jorge falcão  correia"]
