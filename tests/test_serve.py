"""`dentro serve` (dentro/serve/): the OpenAI protocol through the official `openai` client against a
live server on 127.0.0.1, every error status, concurrent streams, the calls Open WebUI makes, and
bad input beside a good client."""

import concurrent.futures as cf
import json
import socket
import threading
import time

import httpx
import openai
import pytest
import torch
import uvicorn

from dentro.chat.assistant import reply
from dentro.model.engine import Sampling, generate_all
from dentro.model.gpt import GPT, ModelConfig
from dentro.serve.app import Limits, ServedModel, create_app
from dentro.serve.scheduler import Scheduler
from dentro.tokenizer.bpe import train_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["O céu é azul e a noite é longa.", "What is the capital of France? Paris.", "Não sei.",
         "user\nassistant\nsystem\n", "The weather in Lisboa is sunny.", '{"name": "get_weather", "arguments": {}}']
KEY = "s3cret-key"


class Scripted(Scheduler):
    """A scheduler whose model 'writes' a fixed token script (a random model never calls a tool)."""
    script: list[int] = []

    def _sample(self, s, logits, token=None):  # the script decides, not the batch's argmax
        logits = torch.full_like(logits, -30.0)
        logits[self.script[min(s.produced, len(self.script) - 1)]] = 30.0
        return super()._sample(s, logits)


class Slow(Scripted):
    """Writes one token over and over, 20 a second: a request that holds its slot."""

    def _sample(self, s, logits, token=None):
        time.sleep(0.05)
        return super()._sample(s, logits)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Live:
    """A uvicorn server in a thread on a free loopback port."""

    def __init__(self, app):
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            assert time.time() - t0 < 20, "server did not start"
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(TEXTS * 20, vocab_size=400)


@pytest.fixture(scope="module")
def model(tok):
    torch.manual_seed(0)
    m = GPT(ModelConfig(vocab_size=tok.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, head_dim=16, intermediate_size=96, max_position_embeddings=1024))
    with torch.no_grad():
        m.lm_head.weight.mul_(30)
    return m.eval()


def make_server(model, tok, limits=Limits(), api_key=None, scripted=None, slow=False):
    sched = Slow if slow else Scheduler
    models = [ServedModel("dentro-sft", model, tok, sched(model, max_batch=limits.max_batch,
                                                          max_queue=limits.max_queue).start(), 0)]
    if slow:
        models[0].scheduler.script = tok.encode("a")
    if scripted is not None:
        s = Scripted(model, max_batch=limits.max_batch, max_queue=limits.max_queue)
        s.script = scripted
        models.append(ServedModel("dentro-scripted", model, tok, s.start(), 0))
    live = Live(create_app(models, limits, api_key))
    live.models = models
    return live


@pytest.fixture(scope="module")
def tool_script(tok):
    text = 'Vou ver.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Lisboa"}}\n</tool_call><|im_end|>'
    return tok.encode_with_special(text, allowed={"<tool_call>", "</tool_call>", "<|im_end|>"})


@pytest.fixture(scope="module")
def server(model, tok, tool_script):
    live = make_server(model, tok, Limits(max_tokens=64, max_body_bytes=200_000, max_batch=8), KEY,
                       scripted=tool_script)
    yield live
    live.stop()
    for m in live.models:
        m.scheduler.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0, timeout=60)


def greedy_reply(model, tok, messages, n, **kw):
    return reply(model, tok, messages, max_tokens=n, sampling=Sampling(temperature=0), **kw)


MSGS = [{"role": "system", "content": "Você é um assistente."}, {"role": "user", "content": "O céu é azul?"}]


def test_models_and_chat_equal_the_engine(client, model, tok):
    assert [m.id for m in client.models.list().data] == ["dentro-sft", "dentro-scripted"]
    r = client.chat.completions.create(model="dentro-sft", messages=MSGS, max_tokens=20, temperature=0)
    assert r.choices[0].message.content == greedy_reply(model, tok, MSGS, 20)
    assert r.choices[0].finish_reason in ("stop", "length") and r.object == "chat.completion"
    assert r.usage.completion_tokens <= 20 and r.usage.prompt_tokens > 5
    s = client.chat.completions.create(model="dentro-sft", messages=MSGS, max_tokens=20, temperature=0, stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(s)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == r.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == r.usage.total_tokens
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == r.choices[0].finish_reason


def test_raw_sse_ends_with_done(server):
    with httpx.stream("POST", server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                      json={"model": "dentro-sft", "messages": MSGS, "max_tokens": 5, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [ln for ln in r.iter_lines() if ln]
    assert all(ln.startswith("data: ") for ln in lines) and lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["object"] == "chat.completion.chunk"


def test_logprobs_chat_and_completions(client, model, tok):
    r = client.chat.completions.create(model="dentro-sft", messages=MSGS, max_tokens=8, temperature=0, logprobs=True,
                                       top_logprobs=3)
    lps = r.choices[0].logprobs.content
    assert 1 <= len(lps) <= 8 and "".join(x.token for x in lps) == r.choices[0].message.content
    for x in lps:
        assert len(x.top_logprobs) == 3 and x.logprob <= 0
        assert x.top_logprobs[0].token == x.token and abs(x.top_logprobs[0].logprob - x.logprob) < 1e-5  # greedy
        assert bytes(x.bytes).decode("utf-8", "replace") == x.token
    c = client.completions.create(model="dentro-sft", prompt="O céu", max_tokens=6, temperature=0, logprobs=2)
    ids = [tok.eot_id] + tok.encode("O céu")
    assert c.choices[0].text == tok.decode([t for t in generate_all(model, ids, max_tokens=6,
                                                                    sampling=Sampling(temperature=0))[0]
                                            if t != tok.eot_id])
    lp = c.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset)
    assert all(1 <= len(t) <= 2 for t in lp.top_logprobs) and lp.text_offset[0] == 0  # a dict: same texts merge
    s = list(client.completions.create(model="dentro-sft", prompt="O céu", max_tokens=6, temperature=0, stream=True))
    assert "".join(x.choices[0].text for x in s) == c.choices[0].text


def test_tool_calls(client):
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                               "parameters": {"type": "object",
                                                              "properties": {"city": {"type": "string"}}}}}]
    msgs = [{"role": "user", "content": "Como está o tempo em Lisboa?"}]
    r = client.chat.completions.create(model="dentro-scripted", messages=msgs, tools=tools, max_tokens=60)
    ch = r.choices[0]
    assert ch.finish_reason == "tool_calls" and ch.message.content == "Vou ver."
    call = ch.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    assert json.loads(call.function.arguments) == {"city": "Lisboa"}
    chunks = list(client.chat.completions.create(model="dentro-scripted", messages=msgs, tools=tools, max_tokens=60,
                                                 stream=True))
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    calls = [tc for c in chunks for tc in c.choices[0].delta.tool_calls or []]
    assert content == "Vou ver." and calls[0].function.name == "get_weather"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    # the conversation goes on with the tool's answer (tool_calls and role tool render)
    msgs2 = msgs + [ch.message.model_dump(exclude_none=True),
                    {"role": "tool", "tool_call_id": call.id, "content": "21 °C"}]
    r2 = client.chat.completions.create(model="dentro-sft", messages=msgs2, max_tokens=5)
    assert r2.choices[0].message.role == "assistant"
    # without tools the same text is plain content, <tool_call> spelled out
    r3 = client.chat.completions.create(model="dentro-scripted", messages=msgs, max_tokens=60)
    assert r3.choices[0].finish_reason == "stop" and "<tool_call>" in r3.choices[0].message.content


def test_stop_strings_n_seed_and_think(client, tool_script):
    r = client.chat.completions.create(model="dentro-scripted", messages=MSGS, stop=["ver"], max_tokens=60)
    assert r.choices[0].message.content == "Vou " and r.choices[0].finish_reason == "stop"
    s = client.chat.completions.create(model="dentro-scripted", messages=MSGS, stop=["ver"], max_tokens=60, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in s) == "Vou "
    kw = dict(model="dentro-sft", messages=MSGS, max_tokens=10, temperature=1.0, n=3, seed=7)
    a, b = client.chat.completions.create(**kw), client.chat.completions.create(**kw)
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert [c.index for c in a.choices] == [0, 1, 2]


def test_chat_template_kwargs_enable_thinking_false(server, client, model, tok):
    """vLLM's switch: the prompt ends with the empty <think> block (counted in prompt_tokens) and
    the reply is the engine's greedy continuation of that prompt; a bad value is a 400."""
    from dentro.chat.template import THINK_OFF

    off_ids = len(tok.encode_with_special(THINK_OFF, allowed={"<think>", "</think>"}))
    kw = dict(model="dentro-sft", messages=MSGS, max_tokens=12, temperature=0)
    on = client.chat.completions.create(**kw)
    same = client.chat.completions.create(**kw, extra_body={"chat_template_kwargs": {"enable_thinking": True}})
    off = client.chat.completions.create(**kw, extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    assert on.usage.prompt_tokens == same.usage.prompt_tokens and on.choices[0].message.content == \
        same.choices[0].message.content
    assert off.usage.prompt_tokens == on.usage.prompt_tokens + off_ids
    assert off.choices[0].message.content == greedy_reply(model, tok, MSGS, 12, think=False)
    s = client.chat.completions.create(**kw, stream=True, extra_body={"chat_template_kwargs": {"enable_thinking": False}})
    assert "".join(c.choices[0].delta.content or "" for c in s if c.choices) == off.choices[0].message.content
    body = {"model": "dentro-sft", "messages": MSGS, "max_tokens": 2}
    assert post(server, "/v1/chat/completions", {**body, "chat_template_kwargs": {"other": 1}}).status_code == 200
    for bad in ("off", [], {"enable_thinking": "false"}, {"enable_thinking": 0}):
        r = post(server, "/v1/chat/completions", {**body, "chat_template_kwargs": bad})
        assert r.status_code == 400, (bad, r.text)
        err = r.json()["error"]
        assert err["param"] == "chat_template_kwargs" and err["type"] == "invalid_request_error", err


def test_concurrent_streams_each_equal_its_greedy_output(client, model, tok):
    questions = [[{"role": "user", "content": q}] for q in
                 ["O céu?", "What is the capital of France?", "Não sei.", "Lisboa", "a", "The weather in Lisboa"]]
    alone = [greedy_reply(model, tok, m, 30) for m in questions]

    def ask(m):
        s = client.chat.completions.create(model="dentro-sft", messages=m, max_tokens=30, temperature=0, stream=True)
        return "".join(c.choices[0].delta.content or "" for c in s if c.choices)

    with cf.ThreadPoolExecutor(6) as ex:
        got = list(ex.map(ask, questions * 2))
    assert got == alone * 2


def post(server, path, body=None, raw=None, key=KEY, headers=None):
    h = {"Authorization": f"Bearer {key}"} if key else {}
    h.update(headers or {})
    if raw is None:
        raw = json.dumps(body).encode()
    return httpx.post(server.url + path, content=raw, headers={"Content-Type": "application/json", **h}, timeout=60)


BAD = [  # (body bytes, status)
    (b"{not json", 400), (b"\xff\xfe{}", 400), (b'"a string"', 400), (b"[1, 2]", 400),
    (b'{"model": "dentro-sft", "messages": [{"role": "user", "content": "\\ud800"}]}', 400),
    (b'{"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}', 400),
    (b"[" * 50_000 + b"]" * 50_000, 400), (b'{"model": "' + b"x" * 300_000 + b'"}', 413),
    (b'{"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "max_tokens": ' + b"9" * 5000 + b"}",
     400),
]
BAD_BODIES = [
    ({"messages": [{"role": "user", "content": "x"}]}, 400),
    ({"model": 3, "messages": [{"role": "user", "content": "x"}]}, 400),
    ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404),
    ({"model": "dentro-sft", "messages": []}, 400),
    ({"model": "dentro-sft", "messages": "hello"}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "wizard", "content": "x"}]}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": 5}]}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user"}]}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**12}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "temperature": -1}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "top_p": True}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "n": 1000}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "stop": [1]}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 3}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x"}],
      "stream_options": {"include_usage": True}}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "assistant", "content": None,
                                           "tool_calls": [{"function": {"name": "f", "arguments": "{bad"}}]}]}, 400),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "é" * 90_000}]}, 413),
    ({"model": "dentro-sft", "messages": [{"role": "user", "content": "x " * 3000}]}, 413),
]


@pytest.mark.parametrize("raw,status", BAD)
def test_malformed_bodies(server, raw, status):
    r = post(server, "/v1/chat/completions", raw=raw)
    assert r.status_code == status, r.text
    assert set(r.json()["error"]) >= {"message", "type", "param", "code"}


@pytest.mark.parametrize("body,status", BAD_BODIES)
def test_invalid_requests(server, body, status):
    r = post(server, "/v1/chat/completions", body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]


def test_completion_errors_and_thousands_of_messages(server):
    ok = {"model": "dentro-sft", "prompt": "O céu"}
    for extra, status in [({"prompt": 5}, 400), ({"prompt": [10**9]}, 400), ({"echo": True}, 400),
                          ({"logprobs": 99}, 400), ({"prompt": "x " * 3000}, 413), ({"model": "x"}, 404)]:
        assert post(server, "/v1/completions", {**ok, **extra}).status_code == status, extra
    many = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m {i}"} for i in range(3001)]
    r = post(server, "/v1/chat/completions", {"model": "dentro-sft", "messages": many, "max_tokens": 3})
    assert r.status_code == 200  # the oldest turns are dropped to fit the window, as `dentro chat` does
    assert r.json()["usage"]["prompt_tokens"] <= 1024


def test_auth_routes_and_methods(server):
    for key in (None, "wrong", KEY + "x"):
        r = post(server, "/v1/chat/completions", {"model": "dentro-sft", "messages": MSGS}, key=key)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(server.url + "/v1/models").status_code == 401
    assert httpx.get(server.url + "/health").status_code == 200
    assert httpx.get(server.url + "/v1/nothing").status_code == 404
    assert httpx.get(server.url + "/v1/chat/completions").status_code == 405
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url + "/v1", api_key="bad", max_retries=0).models.list()


def test_busy_server_answers_429_and_a_disconnect_frees_the_slot(model, tok):
    live = make_server(model, tok, Limits(max_batch=1, max_queue=0, max_tokens=100), slow=True)
    sched = live.models[0].scheduler
    try:
        body = {"model": "dentro-sft", "messages": MSGS, "max_tokens": 100, "stream": True}
        with httpx.Client(timeout=30) as c:
            with c.stream("POST", live.url + "/v1/chat/completions", json=body) as r:
                lines = r.iter_lines()  # kept: a dropped iterator closes the response (a disconnect)
                next(lines)
                assert sched.load() == 1
                busy = httpx.post(live.url + "/v1/chat/completions", json=body)
                assert busy.status_code == 429 and busy.headers["retry-after"] == "1", (busy.text, sched.load())
                assert busy.json()["error"]["type"] == "rate_limit_error"
        t0 = time.time()
        while sched.load() and time.time() - t0 < 5:
            time.sleep(0.01)
        assert sched.load() == 0  # the client left: its row was freed
        with pytest.raises(httpx.ReadTimeout):  # a non-streaming client that gives up also frees its slot
            httpx.post(live.url + "/v1/chat/completions", json={**body, "stream": False}, timeout=0.5)
        t0 = time.time()
        while sched.load() and time.time() - t0 < 3:  # the 100 tokens would take 5 s
            time.sleep(0.01)
        assert sched.load() == 0
        r = httpx.post(live.url + "/v1/chat/completions", json={**body, "stream": False, "max_tokens": 3})
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "aaa"
    finally:
        live.stop()
        sched.stop()


def test_open_webui_contract(server):
    """The calls Open WebUI makes against an OpenAI connection (OPENAI_API_BASE_URL + key)."""
    h = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    models = httpx.get(server.url + "/v1/models", headers=h).json()
    assert models["object"] == "list" and models["data"][0]["id"] == "dentro-sft"
    body = {"model": "dentro-sft", "messages": [{"role": "user", "content": "O céu é azul?"}], "stream": True,
            "stream_options": {"include_usage": True}, "metadata": {"chat_id": "x"}, "user": "u",
            "frequency_penalty": 0, "max_tokens": 10}
    with httpx.stream("POST", server.url + "/v1/chat/completions", headers=h, json=body) as r:
        events = [json.loads(ln[6:]) for ln in r.iter_lines() if ln.startswith("data: {")]
    assert events[-1]["usage"]["total_tokens"] > 0 and events[-1]["choices"] == []
    assert all(e["usage"] is None for e in events[:-1])
    title = {"model": "dentro-sft", "stream": False, "max_tokens": 50,
             "messages": [{"role": "user", "content": "Create a concise, 3-5 word title for the chat: O céu"}]}
    r = httpx.post(server.url + "/v1/chat/completions", headers=h, json=title).json()
    assert isinstance(r["choices"][0]["message"]["content"], str) and r["usage"]["total_tokens"] > 0


def test_bad_clients_beside_a_good_one(server, client, model, tok):
    want = greedy_reply(model, tok, MSGS, 10)
    stop = threading.Event()
    statuses = []

    def hammer():
        bodies = [raw for raw, _ in BAD] + [json.dumps(b).encode() for b, _ in BAD_BODIES]
        while not stop.is_set():
            for raw in bodies:
                statuses.append(post(server, "/v1/chat/completions", raw=raw).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(5):
            r = client.chat.completions.create(model="dentro-sft", messages=MSGS, max_tokens=10, temperature=0)
            assert r.choices[0].message.content == want
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert statuses and all(400 <= s < 500 for s in statuses)


def test_confidence_gate(model, tok):
    """gate: true (dentro's extension): the reply is greedy and judged by the run's gate (dentro.chat.gate
    with tools off): below the threshold it becomes a refusal in the question's language, the model's own
    answer and confidence kept beside it; a question that names nothing is not judged; a stream gets the
    same choice in one piece; a model without a gate, n > 1 and tools are 400s."""
    from dentro.chat.assistant import reply_batch

    sched = [Scheduler(model, max_batch=4, max_queue=8).start() for _ in range(4)]
    weights = {"bias": 1.0, "answer": 2.0, "name": 0.5}  # a gate with the regression (dentro.chat.gate.score)
    models = [ServedModel("strict", model, tok, sched[0], 0, gate=1.01),  # nothing reaches it
              ServedModel("lax", model, tok, sched[1], 0, gate=0.0),
              ServedModel("plain", model, tok, sched[2], 0),
              ServedModel("fitted", model, tok, sched[3], 0, gate=1.01, gate_weights=weights)]
    live = Live(create_app(models, Limits(max_tokens=16)))
    try:
        listed = {m["id"]: m for m in httpx.get(live.url + "/v1/models").json()["data"]}
        assert listed["strict"]["gate_threshold"] == 1.01 and "gate_threshold" not in listed["plain"]
        asked = [{"role": "user", "content": "Quem é a mãe de Maria Souza Lima?"}]
        own = reply_batch(model, tok, [asked], max_tokens=16, think=True, confidence=True)[0]

        def chat(model_id, messages=asked, **kw):
            return httpx.post(live.url + "/v1/chat/completions", json={"model": model_id, "messages": messages,
                                                                        "max_tokens": 16, "gate": True, **kw},
                              timeout=60)

        refused = chat("strict", temperature=1.5, seed=3).json()["choices"][0]  # the gate answers greedily
        gate = refused["gate"]
        assert gate["verdict"] == "refused" and gate["answer"] == own["text"]
        assert gate["confidence"] == pytest.approx(own["confidence"], abs=2e-4) and gate["threshold"] == 1.01
        assert refused["message"]["content"].startswith("Não sei") and refused["finish_reason"] == "stop"
        english = chat("strict", [{"role": "user", "content": "Who is the mother of Maria Souza Lima?"}])
        assert english.json()["choices"][0]["message"]["content"].startswith("I don't know")
        stands = chat("lax").json()["choices"][0]
        assert stands["gate"]["verdict"] == "stands" and stands["message"]["content"] == own["text"]
        from dentro.chat.gate import familiarity, score

        fitted = chat("fitted").json()["choices"][0]["gate"]
        named = familiarity(model, tok, [asked], [own["text"]])[0]
        assert fitted["familiarity"] == pytest.approx(named, abs=2e-4)
        assert fitted["confidence"] == pytest.approx(score(weights, own["confidence"], named), abs=2e-4)
        small_talk = chat("strict", [{"role": "user", "content": "Bom dia, tudo bem?"}]).json()["choices"][0]
        assert small_talk["gate"]["verdict"] == "not_judged" and not small_talk["message"]["content"].startswith("Não sei")

        with httpx.stream("POST", live.url + "/v1/chat/completions", timeout=60,
                          json={"model": "strict", "messages": asked, "max_tokens": 16, "gate": True,
                                "stream": True, "seed": 3}) as r:
            events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
        text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
        assert text == refused["message"]["content"]
        assert [e["choices"][0]["gate"]["verdict"] for e in events if "gate" in e["choices"][0]] == ["refused"]
        assert events[-1]["choices"][0]["finish_reason"] == "stop"

        for model_id, extra, where in [("plain", {}, "gate"), ("strict", {"n": 2}, "n"),
                                       ("strict", {"tools": [{"type": "function", "function": {"name": "search"}}]},
                                        "gate"), ("strict", {"gate": "yes"}, "gate")]:
            r = chat(model_id, **extra)
            assert r.status_code == 400 and r.json()["error"]["param"] == where, (model_id, extra, r.text)
        plain = httpx.post(live.url + "/v1/chat/completions", timeout=60,
                           json={"model": "plain", "messages": asked, "max_tokens": 16, "temperature": 0}).json()
        assert "gate" not in plain["choices"][0] and plain["choices"][0]["message"]["content"] == own["text"]
    finally:
        live.stop()
        for s in sched:
            s.stop()
