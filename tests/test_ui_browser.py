"""The web UI in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright
against a live `dentro serve` app on 127.0.0.1 over two tiny random checkpoints. It types, sends,
watches the answer stream, stops it, moves sliders, clicks a token, hovers an attention cell,
votes and switches language; checks that every control is labelled and reachable by keyboard;
saves a screenshot of each page (into $DENTRO_UI_SHOTS, e.g. docs/ui, else a temporary folder); prints the Inside page's request-to-drawn p50."""

import json
import os
import statistics
import tempfile
from pathlib import Path

import httpx
import pytest

from test_serve import Live
from ui_fixtures import make_app, make_run

CHROMIUM = "/usr/bin/chromium"
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    sync_playwright = None
if sync_playwright is None or not os.path.exists(CHROMIUM):
    pytest.skip("browser tests need Chromium and Playwright: `apt-get install -y chromium` and "
                "`.venv/bin/python -m pip install playwright` (no `playwright install`: the tests use "
                f"{CHROMIUM})", allow_module_level=True)

pytestmark = pytest.mark.usefixtures("one_thread")
# Screenshots go to a temporary folder, so a test run never changes tracked files; to refresh
# the ones in the docs: DENTRO_UI_SHOTS=docs/ui .venv/bin/python -m pytest tests/test_ui_browser.py
SHOTS = Path(os.environ.get("DENTRO_UI_SHOTS") or tempfile.mkdtemp(prefix="dentro_ui_shots_")).resolve()
PAGES = ["chat", "tok", "next", "inside", "report", "arena"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    run, ckpts = make_run(tmp_path_factory.mktemp("ui_browser"))
    app, served = make_app(run, ckpts, slow={"dentro-sft"})
    server = Live(app)
    server.run, server.served = run, served
    yield server
    server.stop()
    for m in served:
        m.scheduler.stop()


@pytest.fixture(scope="module")
def page(live):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        ctx = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US",
                                  bypass_csp=True)  # the page's CSP forbids eval, which wait_for_function uses
        pg = ctx.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(live.url + "/")
        expect(pg.locator("#chat-model option")).to_have_count(2)
        yield pg
        assert not errors, errors
        browser.close()


def go(page, name):
    page.click(f"nav button[data-page={name}]")
    expect(page.locator(f"#page-{name}")).to_be_visible()
    expect(page.locator("main > section.page:visible")).to_have_count(1)


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_chat_edit_and_resend_an_earlier_message(page):
    go(page, "chat")
    page.click("#chat-new")
    page.select_option("#chat-model", "dentro-base")  # fast
    page.fill("#chat-max", "8")
    for text in ("primeira pergunta", "segunda pergunta"):
        page.fill("#chat-input", text)
        page.click("#chat-send")
        expect(page.locator("#chat-stop")).to_be_disabled(timeout=20_000)
    expect(page.locator(".msg")).to_have_count(4)
    page.locator(".msg.user .edit").first.click()  # edit the first question
    box = page.locator(".msg.user .edit-box")
    expect(box).to_have_value("primeira pergunta")
    expect(box).to_be_focused()
    box.fill("pergunta editada")
    page.click(".msg.user .edit-send")
    expect(page.locator("#chat-stop")).to_be_disabled(timeout=20_000)
    # the edited question replaced it and everything after it: one question, one new answer
    expect(page.locator(".msg")).to_have_count(2)
    assert page.locator(".msg.user .body").inner_text() == "pergunta editada"
    saved = json.loads(page.evaluate("localStorage.getItem('dentro.chats')"))
    assert [m["content"] for m in saved[0]["messages"] if m["role"] == "user"] == ["pergunta editada"]


def test_chat_streams_stops_and_regenerates(page):
    go(page, "chat")
    page.click("#chat-new")
    page.select_option("#chat-model", "dentro-sft")
    page.fill("#chat-max", "64")
    page.fill("#chat-system", "Be brief.")
    page.fill("#chat-input", "Qual é a capital de Portugal?")
    page.click("#chat-send")
    reply = page.locator(".msg.assistant .body").last
    expect(page.locator("#chat-stop")).to_be_enabled()
    page.wait_for_function("document.querySelectorAll('.msg.assistant .text').length > 0 && "
                           "[...document.querySelectorAll('.msg.assistant .text')].pop().textContent.length > 0")
    partial = reply.inner_text()
    page.click("#chat-stop")  # 64 tokens at 40 a second: the stream is still running
    expect(reply).to_contain_text("(stopped)")
    expect(page.locator("#chat-send")).to_be_enabled()
    assert len(reply.inner_text()) >= len(partial)
    assert page.locator(".msg.user .body").first.inner_text().endswith("Qual é a capital de Portugal?")
    page.select_option("#chat-model", "dentro-base")  # fast: regenerate runs to the end
    page.click("#chat-regen")
    expect(page.locator("#chat-stop")).to_be_disabled(timeout=20_000)
    assert page.locator(".msg.assistant").count() == 1 and "(stopped)" not in page.locator(".msg.assistant").inner_text()
    saved = json.loads(page.evaluate("localStorage.getItem('dentro.chats')"))
    assert saved[0]["messages"][0]["content"] == "Qual é a capital de Portugal?" and saved[0]["system"] == "Be brief."
    page.fill("#chat-max", "100000")  # above the server's --max-tokens: a 400, shown as text
    page.fill("#chat-input", "Olá")
    page.click("#chat-send")
    expect(page.locator(".msg.assistant .error").last).to_contain_text("400")
    page.fill("#chat-max", "64")
    shot(page, "chat")


def test_thinking_checkbox_sends_chat_template_kwargs(page):
    go(page, "chat")
    page.click("#chat-new")
    page.select_option("#chat-model", "dentro-base")  # fast
    page.fill("#chat-max", "4")
    sent = []
    for think in (False, True):
        page.set_checked("#chat-think", think)
        page.fill("#chat-input", "Quanto é 2 + 2?")
        with page.expect_request("**/v1/chat/completions") as req:
            page.click("#chat-send")
        expect(page.locator("#chat-stop")).to_be_disabled(timeout=20_000)
        sent.append(req.value.post_data_json)
    assert sent[0]["chat_template_kwargs"] == {"enable_thinking": False} and "chat_template_kwargs" not in sent[1]
    expect(page.locator(".msg.assistant .error")).to_have_count(0)  # the server took both


def test_confidence_gate_switch_and_verdict(page, live):
    """A model whose run calibrated a gate gets the switch (on by default; the temperature then does
    not apply); an unsure answer comes back as a refusal with the gate's line: its confidence, the
    threshold and what the model would have said."""
    go(page, "chat")
    page.select_option("#chat-model", "dentro-base")
    expect(page.locator("#chat-gate-label")).to_be_hidden()  # no gate: no switch
    base = next(m for m in live.served if m.id == "dentro-base")
    base.gate = 1.01  # nothing reaches it: every judged answer is refused
    try:
        page.evaluate("loadModels()")
        page.click("#chat-new")
        page.select_option("#chat-model", "dentro-base")
        expect(page.locator("#chat-gate-label")).to_be_visible()
        expect(page.locator("#chat-gate")).to_be_checked()
        expect(page.locator("#chat-temp")).to_be_disabled()
        page.fill("#chat-max", "6")
        page.fill("#chat-input", "Who is the mother of Maria Souza Lima?")
        with page.expect_request("**/v1/chat/completions") as req:
            page.click("#chat-send")
        expect(page.locator("#chat-stop")).to_be_disabled(timeout=20_000)
        assert req.value.post_data_json["gate"] is True
        reply = page.locator(".msg.assistant").last
        expect(reply.locator(".text")).to_contain_text("I don't know")
        expect(reply.locator(".gate.refused")).to_contain_text("< 1.010")
        expect(reply.locator(".gate.refused")).to_contain_text("It would have said:")
        page.set_checked("#chat-gate", False)  # off: sampled as usual, no gate in the request
        expect(page.locator("#chat-temp")).to_be_enabled()
        with page.expect_request("**/v1/chat/completions") as req:
            page.fill("#chat-input", "Who is the father of Maria Souza Lima?")
            page.click("#chat-send")
        expect(page.locator("#chat-stop")).to_be_disabled(timeout=20_000)
        assert "gate" not in req.value.post_data_json
        expect(page.locator(".msg.assistant").last.locator(".gate")).to_have_count(0)
    finally:
        base.gate = None
        page.evaluate("document.getElementById('chat-gate').checked = true; loadModels()")
        page.fill("#chat-max", "64")
    expect(page.locator("#chat-gate-label")).to_be_hidden()
    expect(page.locator("#chat-temp")).to_be_enabled()


def test_think_and_tool_calls_render(page):
    page.evaluate("""() => { current.messages = [{role: 'user', content: 'x'}, {role: 'assistant',
        content: '<think>plan it</think>Done.', tool_calls: [{id: 'c', type: 'function',
        function: {name: 'search', arguments: '{"q": "Lisboa"}'}}]}]; renderChat(); }""")
    think = page.locator(".msg.assistant details.think")
    expect(think).to_have_count(1)
    assert not think.evaluate("d => d.open")
    think.locator("summary").click()
    assert think.evaluate("d => d.open")
    expect(page.locator(".toolcard")).to_contain_text("search")
    page.click("#chat-new")
    expect(page.locator(".msg")).to_have_count(0)


def test_tokenizer(page, live):
    go(page, "tok")
    page.fill("#tok-text", "O céu  é azul")
    tok = live.served[0].tokenizer
    n = len(tok.encode("O céu  é azul"))
    expect(page.locator("#tok-counts")).to_contain_text(f"{n} tokens · 13 characters")
    expect(page.locator("#tok-out .tok")).to_have_count(n)
    assert "·" in page.locator("#tok-out").inner_text()  # whitespace made visible
    expect(page.locator("#tok-out .tok .id")).to_have_count(n)
    page.uncheck("#tok-ids")
    expect(page.locator("#tok-out .tok .id")).to_have_count(0)
    page.check("#tok-ids")
    page.check("#tok-chat")
    specials = page.locator("#tok-out .tok.special")
    expect(specials).to_have_count(4)  # <|endoftext|>, the user turn's im_start / im_end, the open assistant turn
    expect(specials.filter(has_text="<|im_start|>")).to_have_count(2)
    shot(page, "tokenizer")
    page.uncheck("#tok-chat")


def test_next_token_sliders_and_click(page):
    go(page, "next")
    page.fill("#next-prompt", "Lisboa é")
    page.click("#next-go")
    expect(page.locator("#next-bars .tokbar")).to_have_count(50)
    expect(page.locator("#next-survive")).to_contain_text("50 / 50")
    page.locator("#next-topk").fill("5")  # sets the range value and fires input
    expect(page.locator("#next-survive")).to_contain_text("5 / 50")
    expect(page.locator("#next-bars .tokbar.cut")).to_have_count(45)
    page.locator("#next-temp").fill("0")
    expect(page.locator("#next-survive")).to_contain_text("1 / 50")
    first = page.locator("#next-bars .tokbar").first
    assert first.get_attribute("aria-label").endswith("100.0%")
    page.locator("#next-temp").fill("1")
    page.locator("#next-topk").fill("50")
    page.locator("#next-topp").fill("0.5")
    survive = int(page.locator("#next-survive").inner_text().split("/")[0])
    assert 1 <= survive < 50
    before = page.input_value("#next-prompt")
    page.locator("#next-topp").fill("1")
    bar = page.locator("#next-bars .tokbar:not(.special)").first
    raw = page.evaluate("id => nextData.top.find(x => x.id === id).raw", int(bar.get_attribute("data-id")))
    bar.click()
    expect(page.locator("#next-prompt")).to_have_value(before + raw)
    page.click("#next-sample")
    shot(page, "next")


def test_inside_attention_lens_params_and_timing(page, live):
    go(page, "inside")
    tok = live.served[0].tokenizer
    words, text = ("Lisboa é a capital de Portugal e o céu é azul " * 20).split(), ""
    for w in words:  # the longest prompt of whole words that fits 64 tokens with <|endoftext|>
        if len(tok.encode((text + " " + w).strip())) + 1 > 64:
            break
        text = (text + " " + w).strip()
    page.fill("#in-prompt", text)
    for _ in range(7):
        page.click("#in-go")
        page.wait_for_function("window.dentroTimings.inside.length > 0 && document.querySelector('#in-time').textContent")
        n = page.evaluate("window.dentroTimings.inside.length")
        page.evaluate("document.querySelector('#in-time').textContent = ''")
        assert n >= 1
    page.wait_for_function("window.dentroTimings.inside.length >= 7")
    T = len(tok.encode(text)) + 1
    expect(page.locator("#in-attn svg rect[data-i]")).to_have_count(T * (T + 1) // 2)
    page.select_option("#in-layer", "1")
    page.select_option("#in-head", "2")
    page.locator(f"#in-attn rect[data-i='{T - 1}'][data-j='0']").hover()
    expect(page.locator("#in-hover")).to_contain_text(f"Layer 1, Head 2:")
    expect(page.locator("#in-hover")).to_contain_text(f"(#{T - 1}) →")
    page.focus("#in-attn svg")
    page.keyboard.press("ArrowUp")
    expect(page.locator("#in-hover")).to_contain_text(f"(#{T - 2})")
    expect(page.locator("#in-lens tr")).to_have_count(1 + 3)  # header + embeddings + 2 layers
    expect(page.locator("#in-params .hbars text")).not_to_have_count(0)
    expect(page.locator("#in-params")).to_contain_text("block 1 MLP")
    times = page.evaluate("window.dentroTimings.inside")
    size = len(httpx.post(live.url + "/ui/api/inside", json={"prompt": text}).content)
    figures = {"tokens": T, "layers": 2, "heads": 4, "response_bytes": size,
               "drawn_ms_p50": round(statistics.median(times[1:]), 1), "runs": len(times) - 1}
    print("\ninside view:", json.dumps(figures))
    (SHOTS / "inside_measure.json").write_text(json.dumps(figures) + "\n")
    shot(page, "inside")


def test_report_with_image(page):
    go(page, "report")
    expect(page.locator("#report h1")).to_contain_text("Report card")
    expect(page.locator("#report table td").first).to_have_text("pretrain")
    page.wait_for_function("document.querySelector('#report img').src.startsWith('blob:')")
    assert page.locator("#report img").evaluate("i => i.complete && i.naturalWidth") == 1
    assert page.locator("#report script").count() == 0
    shot(page, "report")


def test_arena_vote(page, live):
    go(page, "arena")
    page.fill("#arena-prompt", "Olá")
    page.click("#arena-go")
    expect(page.locator("#arena-votes button").first).to_be_enabled(timeout=20_000)
    assert page.locator("#arena-a").inner_text() not in ("", "…")
    page.click("#arena-votes button[data-vote=tie]")
    expect(page.locator("#arena-msg")).to_contain_text("Vote saved")
    expect(page.locator("#arena-tallies")).to_contain_text("1 votes")
    expect(page.locator("#arena-tallies table.tallies:not(.leaderboard) tr")).to_have_count(3)
    # and the leaderboard of the votes: a Bradley-Terry fit, both models rated (a tie: equal)
    expect(page.locator("#arena-tallies table.leaderboard tr")).to_have_count(3)
    assert (live.run / "arena" / "votes.sqlite").is_file()
    shot(page, "arena")


def test_language_switch(page):
    page.select_option("#lang", "pt")
    expect(page.locator("nav button[data-page=tok]")).to_have_text("Tokenizador")
    assert page.evaluate("document.documentElement.lang") == "pt-BR"
    go(page, "arena")
    expect(page.locator("#arena-go")).to_have_text("Perguntar aos dois")
    page.reload()
    expect(page.locator("nav button[data-page=chat]")).to_have_text("Chat")
    expect(page.locator("#arena-go")).to_have_text("Perguntar aos dois")  # kept in localStorage
    page.select_option("#lang", "en")
    expect(page.locator("#arena-go")).to_have_text("Ask both")


CONTROLS = ("button:not([disabled]), input, select, textarea, summary, [tabindex='0']")


@pytest.mark.parametrize("name", PAGES)
def test_every_control_labelled_and_reachable_by_keyboard(page, name):
    go(page, name)
    page.wait_for_timeout(100)
    unlabelled = page.evaluate("""(sel) => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null
        || e.closest('svg')).filter(e => {
          const name = e.getAttribute('aria-label') || (e.labels && e.labels.length && e.labels[0].textContent.trim())
            || (['BUTTON', 'SUMMARY'].includes(e.tagName) && e.textContent.trim());
          return !name; }).map(e => e.outerHTML.slice(0, 80))""", CONTROLS)
    assert not unlabelled, unlabelled
    n = page.evaluate("""(sel) => { let k = 0; for (const e of document.querySelectorAll(sel))
        if (e.offsetParent !== null || e.closest('svg')) e.dataset.kbd = k++; return k; }""", CONTROLS)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    reached = set()
    for _ in range(n + 15):
        page.keyboard.press("Tab")
        k = page.evaluate("document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.kbd : null")
        if k is not None:
            reached.add(int(k))
    missing = page.evaluate("""(ids) => [...document.querySelectorAll('[data-kbd]')].filter(e =>
        !ids.includes(+e.dataset.kbd)).map(e => e.outerHTML.slice(0, 80))""", sorted(reached))
    assert not missing, missing
    page.evaluate("for (const e of document.querySelectorAll('[data-kbd]')) delete e.dataset.kbd")
