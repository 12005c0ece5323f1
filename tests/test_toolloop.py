"""The tool loop (dentro/chat/toolloop.py) over a scripted model: it runs the call, forces exactly
the tokens the chat template renders for the tool message, continues, and stops at its limits.
A real tiny GPT checks that the KV cache after forced tokens gives the logits of a full forward."""

import json
import math

import pytest
import torch
from torch import nn

from dentro.chat.template import render
from dentro.chat.toolloop import Done, Token, ToolCall, ToolResult, parse_call, response_ids, tool_loop
from dentro.chat.tools import ToolContext
from dentro.model.gpt import GPT, ModelConfig
from dentro.tokenizer.bpe import train_tokenizer

TEXTS = ["Qual é o resultado de 12345 vezes 6789?", "O resultado é 83810205.", "Vou calcular.",
         "What is the capital of Portugal?", "The capital of Portugal is Lisbon.", "echo: hello there",
         '{"name": "python", "arguments": {"code": "print(12345 * 6789)"}}', "Let me look it up."]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer([t + " " + u for t in TEXTS for u in TEXTS], vocab_size=400)


def call(name, arguments):
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


class Scripted(nn.Module):
    """A model that writes `script`: at position p its logits put one high value on script[p + 1].
    It records every token it is fed, so a test sees the forced tokens too."""

    def __init__(self, script: list[int], vocab_size: int, window: int = 256):
        super().__init__()
        self.script, self.fed = script, []
        self.config = ModelConfig(vocab_size=vocab_size, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                                  num_key_value_heads=1, head_dim=2, max_position_embeddings=window)
        self.embed_tokens = nn.Embedding(1, 1)  # gives the loop and the engine a device and a dtype

    def forward(self, idx, kv_cache=None):
        start, T = kv_cache.pos, idx.size(1)
        self.fed += idx[0].tolist()
        kv_cache.pos += T
        logits = torch.full((1, T, self.config.vocab_size), -10.0)
        for i in range(T):
            if start + i + 1 < len(self.script):
                logits[0, i, self.script[start + i + 1]] = 10.0
        return logits


def echo(name, arguments, *, context):
    assert name == "echo" and isinstance(context, ToolContext)
    return "echo: " + arguments["text"]


def run(model, tok, prompt, **kw):
    events = list(tool_loop(model, tok, prompt, **kw))
    assert isinstance(events[-1], Done) and not any(isinstance(e, Done) for e in events[:-1])
    return events, events[-1]


def scripted(tok, conversation, user_turns=1, **kw):
    """The model that writes the assistant turns of `conversation`, and the prompt (the user turns)."""
    script, _ = render(tok, conversation)
    prompt, _ = render(tok, conversation[:user_turns], add_generation_prompt=True)
    assert script[:len(prompt)] == prompt
    return Scripted(script, tok.vocab_size, **kw), prompt, script


def test_a_call_is_run_its_response_forced_as_the_template_renders_it_and_the_answer_follows(tok):
    conversation = [
        {"role": "user", "content": "What is the capital of Portugal?"},
        {"role": "assistant", "content": "Let me look it up.", "tool_calls": [{
            "id": "call_1", "type": "function", "function": {"name": "echo", "arguments": '{"text": "hello there"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "echo: hello there"},
        {"role": "assistant", "content": "The capital of Portugal is Lisbon."}]
    model, prompt, script = scripted(tok, conversation)
    events, done = run(model, tok, prompt, run_tool=echo)
    assert done.reason == "stop" and done.messages == conversation[1:]
    # What the model read: the prompt, its own tokens and the forced ones, exactly the rendered
    # conversation up to its final <|im_end|> (sampled, never fed).
    end = len(script) - 2
    assert script[end] == tok.special_id("<|im_end|>") and model.fed == script[:end]
    kinds = [type(e).__name__ for e in events]
    first_call = kinds.index("ToolCall")
    assert kinds[first_call:first_call + 2] == ["ToolCall", "ToolResult"] and kinds.count("ToolCall") == 1
    c, r = events[first_call], events[first_call + 1]
    assert (c.name, c.arguments) == ("echo", {"text": "hello there"}) and r.text == "echo: hello there"
    shown = "".join(e.text for e in events if isinstance(e, Token))
    assert shown == "Let me look it up.\nThe capital of Portugal is Lisbon."
    assert all(e.text == "" for e in events if isinstance(e, Token) and e.in_call)
    assert render(tok, [conversation[0]] + done.messages)[0] == script  # the messages render as what was seen


def test_thinking_off_opens_every_assistant_turn_with_the_empty_block(tok):
    """think=False (`dentro chat --no-think`): the turn after a tool's answer opens with the empty
    <think> block too, as a request with enable_thinking=False renders it; it is kept in the
    messages (they render as what the model read) and never shown."""
    from dentro.chat.template import THINK_OFF

    conversation = [
        {"role": "user", "content": "What is the capital of Portugal?"},
        {"role": "assistant", "content": THINK_OFF + "Let me look it up.", "tool_calls": [{
            "id": "call_1", "type": "function", "function": {"name": "echo", "arguments": '{"text": "hello there"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "echo: hello there"},
        {"role": "assistant", "content": THINK_OFF + "The capital of Portugal is Lisbon."}]
    script, _ = render(tok, conversation)
    prompt, _ = render(tok, conversation[:1], add_generation_prompt=True, think=False)
    assert script[:len(prompt)] == prompt
    off = tok.encode_with_special(THINK_OFF, allowed={"<think>", "</think>"})
    assert response_ids(tok, "x", think=False) == response_ids(tok, "x") + off
    model = Scripted(script, tok.vocab_size)
    events, done = run(model, tok, prompt, run_tool=echo, think=False)
    assert done.reason == "stop" and done.messages == conversation[1:]
    assert model.fed == script[:len(script) - 2]  # the forced tokens included the empty block
    shown = "".join(e.text for e in events if isinstance(e, Token))
    assert shown == "Let me look it up.\nThe capital of Portugal is Lisbon."


def test_python_through_call_tool(tok):
    conversation = [
        {"role": "user", "content": "Qual é o resultado de 12345 vezes 6789?"},
        {"role": "assistant", "content": "", "tool_calls": [call("python", {"code": "print(12345 * 6789)"})]},
        {"role": "tool", "content": "83810205"},
        {"role": "assistant", "content": "O resultado é 83810205."}]
    model, prompt, script = scripted(tok, conversation)
    _, done = run(model, tok, prompt, context=ToolContext(timeout_s=5, memory_mb=256))
    assert done.reason == "stop" and model.fed == script[:-2]
    assert done.messages[1]["content"] == "83810205" and done.messages[2]["content"] == "O resultado é 83810205."
    assert json.loads(done.messages[0]["tool_calls"][0]["function"]["arguments"]) == {"code": "print(12345 * 6789)"}


def test_the_limit_on_calls_ends_the_reply(tok):
    turn = {"role": "assistant", "content": "", "tool_calls": [call("echo", {"text": "hello there"})]}
    conversation = [{"role": "user", "content": "What is the capital of Portugal?"},
                    turn, {"role": "tool", "content": "echo: hello there"},
                    turn, {"role": "tool", "content": "echo: hello there"},
                    {"role": "assistant", "content": "The capital of Portugal is Lisbon."}]
    model, prompt, _ = scripted(tok, conversation)
    events, done = run(model, tok, prompt, run_tool=echo, max_calls=1)
    assert done.reason == "tool_limit" and sum(isinstance(e, ToolCall) for e in events) == 1
    assert [m["role"] for m in done.messages] == ["assistant", "tool"]
    _, done = run(Scripted(model.script, tok.vocab_size), tok, prompt, run_tool=echo, max_calls=2)
    assert done.reason == "stop" and [m["role"] for m in done.messages] == ["assistant", "tool"] * 2 + ["assistant"]


def test_malformed_json_is_answered_with_an_error_and_the_loop_goes_on(tok):
    bad = '\n{"name": "echo", "arguments": {text: hello}}\n'
    error = parse_call(bad.strip())
    assert isinstance(error, str) and error.startswith("Error: the tool call is not valid JSON")
    conversation = [
        {"role": "user", "content": "What is the capital of Portugal?"},
        {"role": "assistant", "content": "<tool_call>" + bad + "</tool_call>"},  # special ids in assistant text
        {"role": "tool", "content": error},
        {"role": "assistant", "content": "The capital of Portugal is Lisbon."}]
    model, prompt, script = scripted(tok, conversation)
    ran = []
    events, done = run(model, tok, prompt, run_tool=lambda *a, **k: ran.append(a) or "")
    assert not ran and done.reason == "stop" and done.messages == conversation[1:]
    assert model.fed == script[:-2]
    results = [e.text for e in events if isinstance(e, ToolResult)]
    assert results == [error] and any(isinstance(e, ToolCall) and e.name is None for e in events)


@pytest.mark.parametrize("text,expected", [
    ('{"name": "search", "arguments": {"query": "Lisboa"}}', ("search", {"query": "Lisboa"})),
    ('{"name": "search", "arguments": "{\\"query\\": \\"x\\"}"}', ("search", {"query": "x"})),
    ('{"name": "search"}', ("search", {})),
    ('["search"]', "Error: a tool call is a JSON object"),
    ('{"name": "search", "arguments": [1]}', "Error: the arguments of a tool call are a JSON object"),
    ('', "Error: the tool call is not valid JSON"),
])
def test_parse_call(text, expected):
    got = parse_call(text)
    assert got == expected if isinstance(expected, tuple) else got.startswith(expected)


def test_a_malformed_call_is_shown_how_its_own_tool_is_called():
    broken_python = parse_call('{"name": "python", "arguments": {"code": "print( round( 4821 / 7/2, the\'arch": 4821)"}}')
    assert broken_python.startswith("Error: the tool call is not valid JSON") and '"code": "print(...)"' in broken_python
    assert '"query"' not in broken_python
    assert '"query": "..."' in parse_call('{"name": "search", "arguments": [1]}')
    assert '"query": "..."' in parse_call("{oops")  # no name to read: search's form


def test_max_tokens_and_the_context_window(tok):
    conversation = [{"role": "user", "content": "What is the capital of Portugal?"},
                    {"role": "assistant", "content": "The capital of Portugal is Lisbon."}]
    model, prompt, _ = scripted(tok, conversation)
    _, done = run(model, tok, prompt, max_tokens=3)
    assert done.reason == "max_tokens" and done.messages == [{"role": "assistant", "content": tok.decode(
        model.script[len(prompt):len(prompt) + 3])}]
    model, prompt, _ = scripted(tok, conversation, window=len(prompt) + 2)
    _, done = run(model, tok, prompt)
    assert done.reason == "context"


def test_kv_cache_after_forced_tokens_matches_a_full_forward(tok, one_thread):
    """A real tiny GPT, steered along a script by a bias: every sampled step's logits (after the
    prefill, single tokens and a block of forced tokens in the cache) equal a forward of the whole
    sequence without a cache."""
    torch.manual_seed(0)
    gpt = GPT(ModelConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          num_key_value_heads=1, head_dim=16, intermediate_size=64, max_position_embeddings=256))
    gpt.eval()
    conversation = [
        {"role": "user", "content": "What is the capital of Portugal?"},
        {"role": "assistant", "content": "", "tool_calls": [call("echo", {"text": "hello there"})]},
        {"role": "tool", "content": "echo: hello there"},
        {"role": "assistant", "content": "Lisbon."}]
    script, prompt, _ = scripted(tok, conversation)

    class Steered(nn.Module):
        def __init__(self):
            super().__init__()
            self.gpt, self.config = gpt, gpt.config

        def forward(self, idx, kv_cache=None):
            start = kv_cache.pos if kv_cache is not None else 0
            logits = self.gpt(idx, kv_cache=kv_cache)
            bias = torch.zeros_like(logits)
            for i in range(idx.size(1)):
                if start + i + 1 < len(script.script):
                    bias[0, i, script.script[start + i + 1]] = 100.0
            return logits + bias

    model = Steered()
    events, done = run(model, tok, prompt, run_tool=echo)
    assert done.reason == "stop" and done.messages[-1]["content"] == "Lisbon."
    seq, tokens = script.script, [e for e in events if isinstance(e, Token)]
    sampled_at, i = [], len(prompt)  # where each sampled token sits in the whole sequence
    for e in events:
        if isinstance(e, Token):
            sampled_at.append(i)
            i += 1
        elif isinstance(e, ToolResult):  # the forced block follows </tool_call>
            i += len(response_ids(tok, e.text))
    assert [seq[j] for j in sampled_at] == [e.id for e in tokens]
    with torch.no_grad():
        full = model(torch.tensor([seq[:-2]]))[0]  # (T, V) without a cache
    for j, e in zip(sampled_at, tokens):
        torch.testing.assert_close(e.step.logits[0], full[j - 1], atol=1e-4, rtol=1e-4)


def test_dentro_chat_shows_calls_and_results_and_no_tools_keeps_them_as_text(tok):
    import io

    from dentro.commands.chat import Session

    conversation = [
        {"role": "user", "content": "Qual é o resultado de 12345 vezes 6789?"},
        {"role": "assistant", "content": "Vou calcular.", "tool_calls": [call("python", {"code": "print(12345 * 6789)"})]},
        {"role": "tool", "content": "83810205"},
        {"role": "assistant", "content": "O resultado é 83810205."}]
    from dentro.chat.tool_mix import with_tools_prompt

    # with tools on, the session's system message says so (the line the model was trained with)
    model, _, _ = scripted(tok, with_tools_prompt(conversation), user_turns=2)
    out = io.StringIO()
    s = Session(model, tok, "en", None, 0.0, None, 64, None, out=out, tools=ToolContext())
    assert s.ask(conversation[0]["content"]) == "O resultado é 83810205."
    assert out.getvalue() == ("Vou calcular.\n🔧 python(code='print(12345 * 6789)')\n→ 83810205\n"
                              "O resultado é 83810205.\n")
    assert [m["role"] for m in s.messages] == ["user", "assistant", "tool", "assistant"]
    out = io.StringIO()
    s = Session(scripted(tok, conversation)[0], tok, "en", None, 0.0, None, 64, None, out=out)
    answer = s.ask(conversation[0]["content"])
    assert answer.startswith("Vou calcular.\n<tool_call>\n{") and answer.endswith("</tool_call>")


class ByContent(nn.Module):
    """A model that continues whichever of `scripts` the row's tokens so far begin, batched or not,
    with or without a KV cache (a batch's left padding, cache.pad, skipped): what tool_loop_batch
    and tool_loop must agree on. Records each forward's batch size."""

    def __init__(self, scripts: list[list[int]], vocab_size: int, window: int = 256):
        super().__init__()
        self.scripts, self.seen, self.batches = scripts, {}, []
        self.config = ModelConfig(vocab_size=vocab_size, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                                  num_key_value_heads=1, head_dim=2, max_position_embeddings=window)
        self.embed_tokens = nn.Embedding(1, 1)

    def forward(self, idx, kv_cache=None):
        B, T = idx.shape
        self.batches.append(B)
        start = kv_cache.pos if kv_cache is not None else 0
        logits = torch.zeros((B, T, self.config.vocab_size))
        for b in range(B):
            pad = int(kv_cache.pad[b]) if start == 0 and kv_cache is not None and kv_cache.pad is not None else 0
            if start == 0:
                self.seen[(id(kv_cache), b)] = []
            seen = self.seen[(id(kv_cache), b)]
            for i in range(pad, T):
                seen.append(int(idx[b, i]))
                for t, logit in self.votes(seen).items():
                    logits[b, i, t] = logit
        if kv_cache is not None:
            kv_cache.pos += T
        return logits

    def votes(self, seen: list[int]) -> dict[int, float]:
        """The next token's logits that are not 0, after the row's tokens `seen`."""
        script = next((s for s in self.scripts if s[:len(seen)] == seen), None)
        if script is not None and len(seen) < len(script):  # sure, then less sure: a confidence to measure
            return {script[len(seen)]: 10.0 if len(seen) % 2 else 3.0}
        return {}


def agree(tok, conversations, model_class=None, **kw):
    """tool_loop_batch's replies to the conversations' first user turns == tool_loop's, one by one."""
    from dentro.chat.toolloop import tool_loop_batch

    scripts = [render(tok, c)[0] for c in conversations]
    prompts = [render(tok, c[:1], add_generation_prompt=True)[0] for c in conversations]
    model_class = model_class or ByContent
    model = model_class(scripts, tok.vocab_size, window=kw.pop("window", 256))
    batched = tool_loop_batch(model, tok, prompts, run_tool=echo, batch_size=kw.pop("batch_size", 64), **kw)
    assert max(model.batches) > 1  # the replies went through the model together
    for prompt, got in zip(prompts, batched):
        _, done = run(model_class(scripts, tok.vocab_size, window=model.config.max_position_embeddings), tok, prompt,
                      run_tool=echo, **kw)
        assert (got.reason, got.messages) == (done.reason, done.messages)
        assert (got.confidence is None) == (done.confidence is None)
        assert done.confidence is None or got.confidence == pytest.approx(done.confidence, rel=1e-5, abs=1e-6)
        assert [(c.name, c.arguments, c.raw) for c in got.calls] == [(c.name, c.arguments, c.raw) for c in done.calls]
    return batched


def cases():
    echo_call = {"role": "assistant", "content": "Let me look it up.", "tool_calls": [call("echo", {"text": "hello there"})]}
    bad = '\n{"name": "echo", "arguments": {text: hello}}\n'
    return [
        [{"role": "user", "content": TEXTS[3]}, {"role": "assistant", "content": TEXTS[4]}],
        [{"role": "user", "content": TEXTS[0]}, echo_call, {"role": "tool", "content": "echo: hello there"},
         {"role": "assistant", "content": TEXTS[1]}],
        [{"role": "user", "content": "Onde fica Lisboa?"}, {"role": "assistant", "content": "<tool_call>" + bad + "</tool_call>"},
         {"role": "tool", "content": parse_call(bad.strip())}, {"role": "assistant", "content": TEXTS[4]}],
        [{"role": "user", "content": "Two calls?"}, echo_call, {"role": "tool", "content": "echo: hello there"},
         echo_call, {"role": "tool", "content": "echo: hello there"}, {"role": "assistant", "content": TEXTS[4]}],
        [{"role": "user", "content": "A long one?"}, {"role": "assistant", "content": " ".join(TEXTS * 3)}],
    ]


def test_the_batched_loop_gives_each_reply_what_the_loop_gives_it(tok):
    """Plain answers, a call and its answer, a malformed call, the limit on calls, max_tokens: the
    same replies, messages and calls, in input order, with batches of 2 and of all."""
    done = agree(tok, cases(), max_calls=1, max_tokens=80)
    assert [d.reason for d in done] == ["stop", "stop", "stop", "tool_limit", "max_tokens"]
    assert [[c.name for c in d.calls] for d in done] == [[], ["echo"], [None], ["echo"], []]
    assert [d.reason for d in agree(tok, cases(), max_calls=2, max_tokens=80, batch_size=2)][3] == "stop"


@pytest.mark.parametrize("spare", [1, 2, 5, 12, 30, 45, 60, 80, 100])
def test_the_batched_loop_at_the_context_window(tok, spare):
    """Windows that end inside answers, calls and the forced tool responses: the same reasons and
    messages as the loop's, the token at a full window included."""
    prompts = [render(tok, c[:1], add_generation_prompt=True)[0] for c in cases()]
    agree(tok, cases(), max_calls=2, window=max(len(p) for p in prompts) + spare)


def test_a_prompt_that_fills_the_window_is_an_error(tok):
    from dentro.chat.toolloop import tool_loop_batch

    with pytest.raises(ValueError, match="context window"):
        tool_loop_batch(ByContent([], tok.vocab_size, window=8), tok, [[1] * 8])
    assert tool_loop_batch(ByContent([], tok.vocab_size), tok, []) == []


def test_the_batched_loop_on_a_real_gpt_steered_through_calls(tok, one_thread):
    """A real tiny GPT (its KV cache, left padding, prefills of forced blocks) steered along the
    scripts: the batched loop's replies are the loop's, calls included."""
    torch.manual_seed(0)
    gpt = GPT(ModelConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                          num_key_value_heads=1, head_dim=16, intermediate_size=64, max_position_embeddings=256)).eval()

    class Steered(ByContent):
        def __init__(self, scripts, vocab_size, window=256):
            super().__init__(scripts, vocab_size, window)
            self.gpt, self.config = gpt, gpt.config  # the cache's shapes are the GPT's

        def forward(self, idx, kv_cache=None):
            start = kv_cache.pos if kv_cache is not None else 0
            logits = self.gpt(idx, kv_cache=kv_cache)
            if kv_cache is not None:
                kv_cache.pos = start  # ByContent moves it on
            return logits + super().forward(idx, kv_cache)

    done = agree(tok, cases(), Steered, max_calls=2, max_tokens=80, batch_size=3)
    assert [len(d.calls) for d in done] == [0, 1, 1, 2, 0]


def test_the_final_answers_confidence_is_the_gates_measure(tok):
    """Done.confidence: the geometric mean of the probabilities (softmax of the logits they were
    sampled from) of the final turn's text tokens: not the words before a call, not the call, not
    the stop token."""
    conversation = cases()[1]
    model = ByContent([render(tok, conversation)[0]], tok.vocab_size)
    prompt = render(tok, conversation[:1], add_generation_prompt=True)[0]
    events, done = run(model, tok, prompt, run_tool=echo)
    last = max(i for i, e in enumerate(events) if isinstance(e, ToolResult))
    final = [e for e in events[last:] if isinstance(e, Token) and e.id not in (tok.special_id("<|im_end|>"), tok.eot_id)]
    logs = [e.step.logits[0].log_softmax(-1)[e.id].item() for e in final]
    assert len(final) > 3 and done.confidence == pytest.approx(math.exp(sum(logs) / len(logs)))
    assert 0.2 < done.confidence < 0.9  # ByContent's alternating 10 / 3: neither sure nor lost
    *_, cut = run(model, tok, prompt, run_tool=echo, max_calls=0)  # tool_limit: no final turn of its own
    assert cut.reason == "tool_limit" and cut.confidence is not None  # the words before the call are the reply


class Soft(Scripted):
    """Scripted, sure of its script (logit 10 over 0) until position `soft_from`, then barely (`lo`)."""

    def __init__(self, script, vocab_size, soft_from: int, lo: float = 3.0):
        super().__init__(script, vocab_size)
        self.soft_from, self.lo = soft_from, lo

    def forward(self, idx, kv_cache=None):
        start, T = kv_cache.pos, idx.size(1)
        self.fed += idx[0].tolist()
        kv_cache.pos += T
        logits = torch.zeros((1, T, self.config.vocab_size))
        for i in range(T):
            if start + i + 1 < len(self.script):
                logits[0, i, self.script[start + i + 1]] = self.lo if start + i + 1 >= self.soft_from else 10.0
        return logits


@pytest.mark.parametrize("sure, final, stands, why, code", [
    (True, "O resultado é 83810205.", True, None, "print(12345 * 6789)"),
    (False, "O resultado é 83810205.", True, None, "print(12345 * 6789)"),  # unsure, but it says what the tool said
    (False, "O resultado está na tela.", False, "depois das ferramentas também não é segura",
     "print(12345 * 6789)"),  # nothing to check
    (True, "O resultado é 83810206.", False, "diz 83810206, que os resultados das ferramentas não dizem",
     "print(12345 * 6789)"),
    (True, "O resultado é 83810205.", False, "o programa deixou de fora 6789 da pergunta",
     "print(12345 * 12345)"),  # the program answered another problem
])
def test_dentro_chat_behind_the_gate_judges_the_answer_after_the_tools_too(tok, sure, final, stands, why, code):
    """The chat model is unsure (uniform logits): the question goes to the tool model, which calls
    python. Its final answer is held back until judged (gate.after_tools): one whose numbers the
    tool's result holds is shown, however sure; one that states a number no result holds is
    replaced by "I don't know" in the question's language, however sure; one with nothing to check
    stands on its confidence. The dim line says why."""
    import io

    from dentro.chat.tool_mix import with_tools_prompt
    from dentro.commands.chat import Session
    from dentro.eval.knowledge import is_refusal

    conversation = with_tools_prompt([
        {"role": "user", "content": "Qual é o resultado de 12345 vezes 6789?"},
        {"role": "assistant", "content": "Vou calcular.", "tool_calls": [call("python", {"code": code})]},
        {"role": "tool", "content": "83810205"},
        {"role": "assistant", "content": final}])
    script, _ = render(tok, conversation)
    start = len(render(tok, conversation[:-1], add_generation_prompt=True)[0])
    tool_model = Soft(script, tok.vocab_size, soft_from=len(script) if sure else start)
    out = io.StringIO()
    # numbers free: the copy constraint would finish 8381020 as the result's 83810205
    s = Session(Scripted([], tok.vocab_size), tok, "pt", None, 0.0, None, 64, None, out=out,
                tools=ToolContext(copy_numbers=False), gate=0.5, tool_model=(tool_model, tok))
    answer = s.ask(conversation[1]["content"])
    shown = out.getvalue()
    assert f"🔧 python(code='{code}')" in shown and "Vou calcular." in shown
    if stands:
        assert answer == final and shown.rstrip().endswith(answer)
        assert "ferramentas também" not in shown and "não dizem" not in shown
    else:
        assert is_refusal(answer) and "não" in answer.lower() and final not in shown
        assert why in shown and shown.rstrip().endswith(answer)
    assert s.messages[-1] == {"role": "assistant", "content": answer}


def test_a_refusal_that_replaces_a_cut_reply_is_not_called_cut(tok):
    """The tool model's reply runs past max_tokens after an answer the gate refuses (a number no
    result holds): `dentro chat` shows the refusal, and no "(resposta cortada…)" line after it, for
    the reply the refusal replaced. A reply cut and not refused still says so."""
    import io

    from dentro.chat.tool_mix import with_tools_prompt
    from dentro.commands.chat import Session, say

    def shown_for(final: str, cut_after: str) -> tuple[str, str]:
        conversation = with_tools_prompt([
            {"role": "user", "content": "Qual é o resultado de 12345 vezes 6789?"},
            {"role": "assistant", "content": "Vou calcular.", "tool_calls": [call("python", {"code": "print(12345 * 6789)"})]},
            {"role": "tool", "content": "83810205"},
            {"role": "assistant", "content": final}])
        script, _ = render(tok, conversation)
        asked = len(render(tok, conversation[:2], add_generation_prompt=True)[0])
        end_call = script.index(tok.special_id("</tool_call>"), asked)
        start = len(render(tok, conversation[:-1], add_generation_prompt=True)[0])
        upto = len(render(tok, conversation[:-1] + [{"role": "assistant", "content": cut_after}])[0]) - 2  # before <|im_end|>\n
        budget = (end_call - asked + 1) + (upto - start) + 2  # sampled tokens: the call's turn, the answer, 2 more
        out = io.StringIO()
        s = Session(Scripted([], tok.vocab_size), tok, "pt", None, 0.0, None, budget, None, out=out,
                    tools=ToolContext(copy_numbers=False), gate=0.5, tool_model=(Soft(script, tok.vocab_size, len(script)), tok))
        return s.ask(conversation[1]["content"]), out.getvalue()

    cut = say("cut", "pt", n=0).split("{")[0][:20]  # "(resposta cortada no"
    answer, shown = shown_for("O resultado é 83810206. E depois disso vem ainda muito mais texto.", "O resultado é 83810206.")
    assert "não dizem" in shown and shown.rstrip().endswith(answer) and cut not in shown
    answer, shown = shown_for("O resultado é 83810205. E depois disso vem ainda muito mais texto.", "O resultado é 83810205.")
    assert answer.startswith("O resultado é 83810205.") and cut in shown  # it stands, cut: said so
