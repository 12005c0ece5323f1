"""The web UI's JSON endpoints (dentro/serve/ui_api.py) without a browser: what they compute,
that the inspection forward agrees with the plain one, their 4xx, the API key, the whitelist of
run files, and concurrent arena votes in SQLite."""

import concurrent.futures as cf
import json
import sqlite3

import pytest
import torch
from starlette.testclient import TestClient

from dentro.chat.template import render
from dentro.serve.markdown import markdown_to_html, safe_image_path
from dentro.serve.ui_api import inside, param_shares

from ui_fixtures import make_app, make_run

pytestmark = pytest.mark.usefixtures("one_thread")
KEY = "ui-key"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    run, ckpts = make_run(tmp_path_factory.mktemp("ui"))
    app, served = make_app(run, ckpts, api_key=KEY)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {KEY}"
        yield client, served, run
    for m in served:
        m.scheduler.stop()


def test_page_and_static_files(setup):
    client, _, _ = setup
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"] and "app.js" in r.text
    for name in ("app.js", "app.css", "i18n.js", "charts.js"):
        assert client.get(f"/ui/static/{name}").status_code == 200
    for bad in ("index.html", "..%2Fui_api.py", "../app.py", "nope.js"):
        assert client.get(f"/ui/static/{bad}").status_code == 404


def test_tokenize_text_and_template(setup):
    client, served, _ = setup
    tok = served[0].tokenizer
    r = client.post("/ui/api/tokenize", json={"model": "dentro-base", "text": "O céu é azul.  "}).json()
    assert [t["id"] for t in r["tokens"]] == tok.encode("O céu é azul.  ")
    assert r["n_chars"] == 15 and r["n_tokens"] == len(r["tokens"]) and "·" in "".join(t["text"] for t in r["tokens"])
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Olá <|im_start|>"}]
    r = client.post("/ui/api/tokenize", json={"messages": msgs, "add_generation_prompt": True}).json()
    ids = render(tok, msgs, add_generation_prompt=True)[0]
    assert [t["id"] for t in r["tokens"]] == ids
    specials = [t["text"] for t in r["tokens"] if t["special"]]
    assert specials.count("<|im_start|>") == 3 and specials.count("<|im_end|>") == 2  # the typed one is text


def test_inside_agrees_with_the_plain_forward(setup):
    _, served, _ = setup
    m = served[0]
    ids = [m.tokenizer.eot_id] + m.tokenizer.encode("O céu é azul e a noite é longa.")
    with torch.no_grad():
        plain = m.model(torch.tensor([ids]))[0]  # (T, V)
        seen = m.model.inspect(torch.tensor([ids]))
    torch.testing.assert_close(seen["logits"][0, -1], plain[-1], atol=1e-4, rtol=1e-4)
    out = inside(m.model, m.tokenizer, ids)
    c = m.model.config
    assert len(out["attentions"]) == c.num_hidden_layers and len(out["attentions"][0]) == c.num_attention_heads
    for head in out["attentions"][0]:
        assert [len(row) for row in head] == list(range(1, len(ids) + 1))  # the causal triangle only
        assert all(abs(sum(row) - 1000) <= len(row) for row in head)  # each row sums to 1 (thousandths)
    assert len(out["lens"]) == c.num_hidden_layers + 1
    assert [i for i, _ in out["lens"][-1]] == plain.argmax(-1).tolist()  # the last layer's lens = the model
    assert out["lens"][-1][-1][0] == out["last_logits_top"]
    assert out["params"]["total"] == m.model.num_params()


def test_param_shares_with_tied_embeddings():
    from dentro.model.gpt import GPT, ModelConfig

    m = GPT(ModelConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        num_key_value_heads=1, head_dim=8, intermediate_size=32, tie_word_embeddings=True))
    ps = param_shares(m)
    assert ps["tied"] and ps["total"] == m.num_params() and abs(sum(p["share"] for p in ps["parts"]) - 1) < 1e-3


def test_next_token(setup):
    client, served, _ = setup
    r = client.post("/ui/api/next", json={"model": "dentro-base", "prompt": "Lisboa é", "k": 10}).json()
    m = served[0]
    ids = [m.tokenizer.eot_id] + m.tokenizer.encode("Lisboa é")
    with torch.no_grad():
        p = m.model(torch.tensor([ids]))[0, -1].softmax(-1)
    assert [t["id"] for t in r["top"]] == p.topk(10).indices.tolist()
    assert abs(sum(t["p"] for t in r["top"]) + r["tail_p"] - 1) < 1e-3
    assert all(set(t) >= {"id", "text", "raw", "logit", "p", "special"} for t in r["top"])


@pytest.mark.parametrize("path,body,status", [
    ("/ui/api/tokenize", {"text": 3}, 400),
    ("/ui/api/tokenize", {}, 400),
    ("/ui/api/tokenize", {"text": "x" * 20_001}, 413),
    ("/ui/api/tokenize", {"messages": "hi"}, 400),
    ("/ui/api/tokenize", {"messages": [{"role": "wizard", "content": "x"}]}, 400),
    ("/ui/api/tokenize", {"model": "gpt-5", "text": "x"}, 404),
    ("/ui/api/next", {"prompt": "x", "k": 0}, 400),
    ("/ui/api/next", {"prompt": "x", "k": True}, 400),
    ("/ui/api/next", {"prompt": None}, 400),
    ("/ui/api/inside", {"prompt": "Lisboa " * 80}, 413),
    ("/ui/api/inside", {"prompt": ["x"]}, 400),
    ("/ui/api/arena/vote", {"model_a": "dentro-base", "model_b": "dentro-sft", "winner": "c"}, 400),
    ("/ui/api/arena/vote", {"model_a": "dentro-base", "model_b": "nope", "winner": "a"}, 404),
    ("/ui/api/arena/vote", {"model_a": "dentro-base", "winner": "a"}, 400),
])
def test_bad_input_is_a_4xx(setup, path, body, status):
    client, _, _ = setup
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert "message" in r.json()["error"]


def test_bad_json_and_key(setup):
    client, _, _ = setup
    assert client.post("/ui/api/tokenize", content=b"{not json").status_code == 400
    for path in ("/ui/api/report", "/ui/api/arena", "/ui/run/pretrain/loss.png"):
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/ui/api/inside", json={"prompt": "x"}, headers={"Authorization": ""}).status_code == 401
    assert client.get("/").status_code == 200  # the page itself holds no data


def test_report_and_run_files(setup):
    client, _, _ = setup
    r = client.get("/ui/api/report").json()
    assert r["exists"] and "<table>" in r["html"] and 'data-src="pretrain/loss.png"' in r["html"]
    assert "<script>" not in r["html"] and "&lt;script&gt;" in r["html"]
    assert client.get("/ui/run/pretrain/loss.png").content.startswith(b"\x89PNG")
    for bad in ("../secret.txt", "report.md", "pretrain/checkpoint/config.json", "%2e%2e/secret.txt",
                "pretrain/../../secret.txt", "/etc/passwd"):
        assert client.get(f"/ui/run/{bad}").status_code == 404, bad


def test_markdown_escapes_and_paths():
    html = markdown_to_html("# T <b>\n\n![x](../../etc/passwd.png) ![y](/abs.png) ![z](ok/a.png)\n\n"
                            "[a](javascript:alert(1)) [b](https://example.org)")
    assert "<h1>T &lt;b&gt;</h1>" in html and 'data-src="ok/a.png"' in html
    assert "passwd" not in html.replace("![x](../../etc/passwd.png)", "") and "abs.png\"" not in html
    assert "javascript:" not in html.replace("[a](javascript:alert(1))", "") and 'href="https://example.org"' in html
    assert [safe_image_path(p) for p in ("a/b.png", "a/../b.png", "C:/x.png", "a\\b.png", "a/b.md")] == \
        ["a/b.png", None, None, None, None]


def test_concurrent_votes_are_all_counted(setup):
    client, _, run = setup
    before = client.get("/ui/api/arena").json()["votes"]
    winners = ["a", "b", "tie", "both_bad"] * 6

    def vote(w):
        return client.post("/ui/api/arena/vote", json={"model_a": "dentro-base", "model_b": "dentro-sft",
                                                       "prompt": "Olá", "winner": w}).status_code

    with cf.ThreadPoolExecutor(8) as ex:
        assert set(ex.map(vote, winners)) == {200}
    t = client.get("/ui/api/arena").json()
    assert t["votes"] == before + 24
    base, sft = t["models"]["dentro-base"], t["models"]["dentro-sft"]
    assert base["wins"] == sft["losses"] and base["ties"] == sft["ties"] >= 6
    # the page's leaderboard: Bradley-Terry on the votes; equal wins and losses, so equal ratings
    board = {r["model"]: r for r in t["leaderboard"]}
    assert set(board) == {"dentro-base", "dentro-sft"} and board["dentro-base"]["battles"] == t["votes"]
    if before == 0:  # only these votes: as many wins as losses
        assert abs(board["dentro-base"]["rating"] - board["dentro-sft"]["rating"]) <= 1
    lo, hi = board["dentro-sft"]["ci"]
    assert lo <= board["dentro-sft"]["rating"] <= hi
    con = sqlite3.connect(run / "arena" / "votes.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT count(*) FROM votes").fetchone()[0] == before + 24
    con.close()
    json.dumps(t)
