// The dentro web UI: six pages over the server's /v1 API and /ui/api endpoints (see docs/ui.md).
// Text from the model or the user is always set with textContent, never parsed as HTML.
"use strict";
const $ = (id) => document.getElementById(id);
const timings = (window.dentroTimings = {inside: [], next: []});  // request-to-drawn ms, read by the browser test

function headers() {
  const h = {"Content-Type": "application/json"};
  const key = $("apikey").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function showError(msg) {
  const el = $("error");
  el.textContent = msg ? t("error") + ": " + msg : "";
  el.hidden = !msg;
}

async function api(path, body) {
  const r = await fetch(path, body === undefined ? {headers: headers()} : {method: "POST", headers: headers(), body: JSON.stringify(body)});
  const data = await r.json().catch(() => ({error: {message: r.statusText}}));
  if (!r.ok) throw new Error(`${r.status} ${(data.error && data.error.message) || r.statusText}`);
  showError("");
  return data;
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- pages and models ----
function showPage(name) {
  for (const s of document.querySelectorAll(".page")) s.hidden = s.id !== "page-" + name;
  for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-current", b.dataset.page === name ? "page" : "false");
  localStorage.setItem("dentro.page", name);
  if (name === "report") loadReport();
  if (name === "arena") loadTallies();
}

let MODELS = [], GATES = {};  // GATES: model id -> its confidence gate's threshold (dentro factuality)
async function loadModels() {
  try {
    const data = (await api("/v1/models")).data;
    MODELS = data.map((m) => m.id);
    GATES = Object.fromEntries(data.filter((m) => m.gate_threshold != null).map((m) => [m.id, m.gate_threshold]));
  } catch (e) { showError(e.message); return; }
  for (const sel of document.querySelectorAll(".model-select")) {
    const prev = sel.value;
    sel.replaceChildren(...MODELS.map((m) => el("option", {value: m}, m)));
    const base = MODELS.find((m) => m === "dentro-base");
    if (prev && MODELS.includes(prev)) sel.value = prev;
    else if (base && sel.id !== "chat-model") sel.value = base;
    else if (sel.id === "chat-model") sel.value = MODELS.find((m) => m !== "dentro-base") || MODELS[0];
  }
  showGate();
}
// the gate's switch shows for a model that has one; with it on, the temperature does not apply
function showGate() {
  const has = $("chat-model").value in GATES;
  $("chat-gate-label").hidden = !has;
  $("chat-temp").disabled = has && $("chat-gate").checked;
}

// ---- chat ----
let convs = JSON.parse(localStorage.getItem("dentro.chats") || "[]");
let current = null, controller = null;

function saveConvs() { localStorage.setItem("dentro.chats", JSON.stringify(convs.slice(0, 50))); }
function newConv() {
  current = {id: Date.now().toString(36), title: "", messages: []};
  convs.unshift(current);
  renderConvList(); renderChat();
}
function renderConvList() {
  $("chat-list").replaceChildren(...convs.map((c) => {
    const b = el("button", {type: "button", class: c === current ? "conv active" : "conv"}, c.title || "…");
    b.addEventListener("click", () => { current = c; renderConvList(); renderChat(); });
    const li = el("li"); li.appendChild(b); return li;
  }));
}

// Assistant text -> nodes: <think>...</think> as a collapsible block, the rest as plain text.
function assistantNodes(text) {
  const out = [];
  const re = /<think>([\s\S]*?)(<\/think>|$)/g;
  let last = 0, m;
  while ((m = re.exec(text)) !== null) {
    if (m.index > last) out.push(el("div", {class: "text"}, text.slice(last, m.index)));
    const d = el("details", {class: "think"});
    d.appendChild(el("summary", {}, t("thinking")));
    d.appendChild(el("div", {class: "text"}, m[1]));
    out.push(d);
    last = re.lastIndex;
    if (m[0].length === 0) break;
  }
  if (last < text.length) out.push(el("div", {class: "text"}, text.slice(last)));
  return out;
}

function messageNode(msg, k) {
  const div = el("div", {class: "msg " + msg.role});
  div.appendChild(el("div", {class: "who"}, msg.role === "user" ? t("you") : t("assistant")));
  const body = el("div", {class: "body"});
  if (msg.role === "assistant") body.append(...assistantNodes(msg.content || ""));
  else body.appendChild(el("div", {class: "text"}, msg.content));
  for (const call of msg.tool_calls || []) {
    const card = el("div", {class: "toolcard", role: "group", "aria-label": t("toolCall")});
    card.appendChild(el("div", {class: "who"}, t("toolCall") + ": " + call.function.name));
    card.appendChild(el("pre", {}, call.function.arguments));
    body.appendChild(card);
  }
  if (msg.gate) {
    const g = msg.gate, c = g.confidence.toFixed(3), th = g.threshold.toFixed(3);
    const line = g.verdict === "refused" ? t("gateRefused", {c, t: th, a: g.answer})
      : g.verdict === "stands" ? t("gateStands", {c, t: th}) : t("gateNotJudged", {c});
    body.appendChild(el("div", {class: "gate " + g.verdict}, line));
  }
  if (msg.error) body.appendChild(el("div", {class: "error", role: "alert"}, msg.error));
  div.appendChild(body);
  if (msg.role === "user") {
    // edit and resend: the message becomes a text box; sending drops it and everything after it
    const edit = el("button", {type: "button", class: "copy edit", "aria-label": t("edit") + " " + (k + 1)}, t("edit"));
    edit.addEventListener("click", () => {
      if (controller) return;  // not while an answer streams
      const box = el("textarea", {class: "edit-box", rows: "2", "aria-label": t("edit") + " " + (k + 1)});
      box.value = msg.content;
      const send = el("button", {type: "button", class: "edit-send"}, t("resend"));
      const cancel = el("button", {type: "button", class: "edit-cancel"}, t("cancel"));
      send.addEventListener("click", () => {
        const text = box.value.trim();
        if (!text) return;
        current.messages = current.messages.slice(0, k);
        current.messages.push({role: "user", content: text});
        renderChat(); streamChat();
      });
      cancel.addEventListener("click", renderChat);
      body.replaceChildren(box, send, cancel);
      box.focus();
    });
    div.appendChild(edit);
  }
  if (msg.role === "assistant") {
    const copy = el("button", {type: "button", class: "copy", "aria-label": t("copy") + " " + (k + 1)}, t("copy"));
    copy.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(msg.content || ""); } catch (e) { /* no clipboard permission */ }
      copy.textContent = t("copied");
    });
    div.appendChild(copy);
  }
  return div;
}

function renderChat() {
  const log = $("chat-log");
  log.replaceChildren(...current.messages.map(messageNode));
  $("chat-system").value = current.system || "";
  log.scrollTop = log.scrollHeight;
}

async function streamChat() {
  const msgs = [];
  const system = $("chat-system").value.trim();
  current.system = system;
  if (system) msgs.push({role: "system", content: system});
  for (const m of current.messages) if (!m.error || m.content) msgs.push({role: m.role, content: m.content || ""});
  const useGate = $("chat-model").value in GATES && $("chat-gate").checked;
  const reply = {role: "assistant", content: ""};
  current.messages.push(reply);
  const log = $("chat-log");
  const node = messageNode(reply, current.messages.length - 1);
  log.appendChild(node);
  controller = new AbortController();
  $("chat-stop").disabled = false; $("chat-send").disabled = true;
  let live = node;
  const draw = () => { const n = messageNode(reply, current.messages.length - 1); live.replaceWith(n); live = n; log.scrollTop = log.scrollHeight; };
  try {
    const r = await fetch("/v1/chat/completions", {method: "POST", headers: headers(), signal: controller.signal,
      body: JSON.stringify({model: $("chat-model").value, messages: msgs, stream: true,
        temperature: +$("chat-temp").value, top_p: +$("chat-topp").value, max_tokens: +$("chat-max").value,
        // thinking off: vLLM's switch, the prompt ends with an empty <think> block (Qwen3's enable_thinking)
        ...($("chat-think").checked ? {} : {chat_template_kwargs: {enable_thinking: false}}),
        // the run's confidence gate (dentro/chat/gate.py): greedy, judged whole, sent in one piece
        ...(useGate ? {gate: true} : {})})});
    if (!r.ok) {
      const data = await r.json().catch(() => ({}));
      throw new Error(`${r.status} ${(data.error && data.error.message) || r.statusText}`);
    }
    const reader = r.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      buf += dec.decode(value, {stream: true});
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const line = buf.slice(0, cut).trim(); buf = buf.slice(cut + 2);
        if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
        const ev = JSON.parse(line.slice(6));
        if (ev.error) throw new Error(ev.error.message);
        const d = ev.choices && ev.choices[0] && ev.choices[0].delta;
        if (!d) continue;
        if (d.content) reply.content += d.content;
        if (d.tool_calls) reply.tool_calls = (reply.tool_calls || []).concat(d.tool_calls);
        if (ev.choices[0].gate) reply.gate = ev.choices[0].gate;
        draw();
      }
    }
  } catch (e) {
    if (e.name === "AbortError") reply.content += " " + t("stopped");
    else reply.error = e.message;
    draw();
  } finally {
    controller = null;
    $("chat-stop").disabled = true; $("chat-send").disabled = false;
    if (!current.title) current.title = (current.messages[0].content || "").slice(0, 40);
    saveConvs(); renderConvList();
  }
}

// ---- tokenizer ----
let tokTimer = null;
async function tokenize() {
  const model = $("tok-model").value;
  const text = $("tok-text").value;
  let body = {model, text};
  if ($("tok-chat").checked) {
    const messages = [];
    if ($("tok-system").value.trim()) messages.push({role: "system", content: $("tok-system").value});
    messages.push({role: "user", content: text});
    body = {model, messages, add_generation_prompt: true};
  }
  let data;
  try { data = await api("/ui/api/tokenize", body); } catch (e) { showError(e.message); return; }
  const nSpecial = data.tokens.filter((x) => x.special).length;
  $("tok-counts").textContent = `${data.n_tokens} ${t("tokens")} · ${data.n_chars} ${t("characters")} · ${data.n_bytes} ${t("bytes")}` +
    (nSpecial ? ` · ${nSpecial} ${t("special")}` : "");
  const showIds = $("tok-ids").checked;
  $("tok-out").replaceChildren(...data.tokens.map((x, k) => {
    const s = el("span", {class: "tok c" + (k % 8) + (x.special ? " special" : ""), title: "#" + x.id});
    s.appendChild(el("span", {class: "piece"}, x.text));
    if (showIds) s.appendChild(el("span", {class: "id"}, String(x.id)));
    return s;
  }));
}
function tokenizeSoon() { clearTimeout(tokTimer); tokTimer = setTimeout(tokenize, 150); }

// ---- next token: the server sends top-k logits once; the sliders reshape them here ----
let nextData = null;
async function predict() {
  const t0 = performance.now();
  try {
    nextData = await api("/ui/api/next", {model: $("next-model").value, prompt: $("next-prompt").value, k: 50});
  } catch (e) { showError(e.message); return; }
  drawNext();
  timings.next.push(performance.now() - t0);
}

// softmax(logit / T) over the k sent, then top-k and top-p (nucleus: the smallest set whose mass >= p).
function reshape(top, temp, k, p) {
  let probs;
  if (temp <= 0) probs = top.map((_, i) => (i === 0 ? 1 : 0));  // greedy: the argmax only
  else {
    const mx = Math.max(...top.map((x) => x.logit / temp));
    const e = top.map((x) => Math.exp(x.logit / temp - mx));
    const z = e.reduce((a, b) => a + b, 0);
    probs = e.map((v) => v / z);
  }
  const keep = probs.map((_, i) => i < k);
  let mass = 0;
  for (let i = 0; i < probs.length; i++) {
    if (!keep[i]) continue;
    if (mass >= p) keep[i] = false;
    mass += probs[i];
  }
  const z = probs.reduce((a, v, i) => a + (keep[i] ? v : 0), 0) || 1;
  return top.map((x, i) => ({...x, prob: probs[i], final: keep[i] ? probs[i] / z : 0, keep: keep[i]}));
}

function sliders() {
  const temp = +$("next-temp").value, k = +$("next-topk").value, p = +$("next-topp").value;
  $("next-temp-v").textContent = temp; $("next-topk-v").textContent = k; $("next-topp-v").textContent = p;
  return [temp, k, p];
}

function drawNext() {
  const [temp, k, p] = sliders();
  if (!nextData) return;
  const rows = reshape(nextData.top, temp, k, p);
  const kept = rows.filter((r) => r.keep).length;
  $("next-survive").textContent = `${kept} / ${rows.length} ${t("survive")}`;
  const max = Math.max(...rows.map((r) => r.final), 1e-9);
  $("next-bars").replaceChildren(...rows.map((r) => {
    const b = el("button", {type: "button", class: "tokbar" + (r.keep ? "" : " cut") + (r.special ? " special" : ""), "data-id": r.id,
                            "aria-label": `${r.text} ${(r.final * 100).toFixed(1)}%`});
    b.appendChild(el("span", {class: "piece"}, r.text));
    const bar = el("span", {class: "bar"}); bar.style.width = (r.final / max * 60).toFixed(2) + "%";
    b.appendChild(bar);
    b.appendChild(el("span", {class: "pct"}, (r.final * 100).toFixed(1) + "%"));
    b.addEventListener("click", () => appendToken(r));
    return b;
  }));
}

function appendToken(r) {
  if (r.special) return;
  $("next-prompt").value += r.raw;
  predict();
}

function sampleToken() {
  if (!nextData) return;
  const rows = reshape(nextData.top, ...sliders());
  let u = Math.random();
  for (const r of rows) { u -= r.final; if (u <= 0 && r.keep) return appendToken(r); }
  appendToken(rows.find((r) => r.keep));
}

// ---- inside ----
let inData = null;
async function inspect() {
  const t0 = performance.now();
  try {
    inData = await api("/ui/api/inside", {model: $("in-model").value, prompt: $("in-prompt").value});
  } catch (e) { showError(e.message); return; }
  $("in-layer").replaceChildren(...inData.attentions.map((_, l) => el("option", {value: l}, String(l))));
  $("in-head").replaceChildren(...inData.attentions[0].map((_, h) => el("option", {value: h}, String(h))));
  drawAttention(); drawLens(); drawParams();
  await new Promise(requestAnimationFrame);
  const ms = performance.now() - t0;
  timings.inside.push(ms);
  $("in-time").textContent = `${inData.T} ${t("tokens")} · ${t("drawnIn")} ${ms.toFixed(0)} ms`;
}

function drawAttention() {
  if (!inData) return;
  const l = +$("in-layer").value, h = +$("in-head").value;
  const labels = inData.tokens.map((x) => x.text);
  heatmap($("in-attn"), inData.attentions[l][h], labels, (i, j, w) => {
    $("in-hover").textContent = `${t("layer")} ${l}, ${t("head")} ${h}: «${labels[i]}» (#${i}) → «${labels[j]}» (#${j}) = ${w.toFixed(3)}`;
  }, `${t("attention")} ${t("layer")} ${l} ${t("head")} ${h}`);
}

function drawLens() {
  const table = el("table", {class: "lens"});
  const head = el("tr"); head.appendChild(el("th", {scope: "col"}, t("layer")));
  for (const x of inData.tokens) head.appendChild(el("th", {scope: "col"}, x.text));
  table.appendChild(head);
  inData.lens.forEach((row, l) => {
    const tr = el("tr");
    tr.appendChild(el("th", {scope: "row"}, l === 0 ? t("embeddings") : String(l)));
    for (const [id, p] of row) {
      const td = el("td", {title: `#${id} p=${p}`}, inData.vocab[id]);
      td.style.background = `rgba(22, 163, 74, ${(0.08 + 0.8 * p).toFixed(3)})`;
      tr.appendChild(td);
    }
    table.appendChild(tr);
  });
  $("in-lens").replaceChildren(table);
}

function drawParams() {
  const ps = inData.params, max = Math.max(...ps.parts.map((p) => p.share));
  hbars($("in-params"), ps.parts.map((p) => ({label: p.name, value: p.share / max,
    text: `${p.n.toLocaleString()} (${(p.share * 100).toFixed(1)}%)`})), t("params"));
  $("in-params").appendChild(el("p", {class: "counts"}, `${t("total")}: ${ps.total.toLocaleString()}`));
}

// ---- report ----
async function loadReport() {
  let data;
  try { data = await api("/ui/api/report"); } catch (e) { showError(e.message); return; }
  const art = $("report");
  if (!data.exists) { art.replaceChildren(el("p", {}, t("reportNone"))); return; }
  art.innerHTML = data.html;  // built by the server from escaped Markdown (dentro/serve/markdown.py)
  for (const img of art.querySelectorAll("img[data-src]")) {
    fetch("/ui/run/" + img.dataset.src.split("/").map(encodeURIComponent).join("/"), {headers: headers()})
      .then((r) => (r.ok ? r.blob() : null)).then((b) => { if (b) img.src = URL.createObjectURL(b); });
  }
}

// ---- arena: two anonymous models, one prompt ----
let duel = null;
async function ask(model, prompt) {
  const r = await api("/v1/chat/completions", {model, messages: [{role: "user", content: prompt}],
    max_tokens: +$("chat-max").value, temperature: +$("chat-temp").value});  // the chat page's settings
  return r.choices[0].message.content || "";
}
async function arenaGo() {
  if (MODELS.length < 2) { $("arena-msg").textContent = t("needTwo"); return; }
  const pool = [...MODELS].sort(() => Math.random() - 0.5);
  const prompt = $("arena-prompt").value;
  duel = {a: pool[0], b: pool[1], prompt};
  $("arena-msg").textContent = "";
  $("arena-a").textContent = "…"; $("arena-b").textContent = "…";
  try {
    const [a, b] = await Promise.all([ask(duel.a, prompt), ask(duel.b, prompt)]);
    $("arena-a").textContent = a; $("arena-b").textContent = b;
    for (const b of document.querySelectorAll("#arena-votes button")) b.disabled = false;
  } catch (e) { showError(e.message); }
}
async function vote(winner) {
  if (!duel) return;
  try {
    const tallies = await api("/ui/api/arena/vote", {model_a: duel.a, model_b: duel.b, prompt: duel.prompt, winner});
    $("arena-msg").textContent = t("thanks") + " " + t("revealed", {a: duel.a, b: duel.b});
    drawTallies(tallies);
  } catch (e) { showError(e.message); }
  duel = null;
  for (const b of document.querySelectorAll("#arena-votes button")) b.disabled = true;
}
async function loadTallies() {
  try { drawTallies(await api("/ui/api/arena")); } catch (e) { showError(e.message); }
}
function drawTallies(data) {
  const table = el("table", {class: "tallies"});
  const head = el("tr");
  for (const k of ["model", "wins", "losses", "ties", "bothBad"]) head.appendChild(el("th", {scope: "col"}, t(k)));
  table.appendChild(head);
  for (const [m, s] of Object.entries(data.models)) {
    const tr = el("tr");
    for (const v of [m, s.wins, s.losses, s.ties, s.both_bad]) tr.appendChild(el("td", {}, String(v)));
    table.appendChild(tr);
  }
  const board = el("table", {class: "tallies leaderboard"});
  const bhead = el("tr");
  for (const k of ["model", "rating", "interval", "battles"]) bhead.appendChild(el("th", {scope: "col"}, t(k)));
  board.appendChild(bhead);
  for (const r of data.leaderboard || []) {
    const tr = el("tr");
    for (const v of [r.model, r.rating, `${r.ci[0]} – ${r.ci[1]}`, r.battles]) tr.appendChild(el("td", {}, String(v)));
    board.appendChild(tr);
  }
  $("arena-tallies").replaceChildren(el("p", {}, `${data.votes} ${t("votes")}`), table,
    el("h3", {}, t("leaderboard")), board);
}

// ---- wiring ----
function init() {
  $("lang").value = LANG;
  applyLang();
  $("lang").addEventListener("change", () => { applyLang($("lang").value); if (current) renderChat(); if (nextData) drawNext(); });
  $("apikey").value = sessionStorage.getItem("dentro.key") || "";
  $("apikey").addEventListener("change", () => { sessionStorage.setItem("dentro.key", $("apikey").value); loadModels(); });
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => showPage(b.dataset.page));
  $("chat-new").addEventListener("click", newConv);
  $("chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text || controller) return;
    current.messages.push({role: "user", content: text});
    $("chat-input").value = "";
    renderChat(); streamChat();
  });
  $("chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("chat-form").requestSubmit(); }
  });
  $("chat-system").addEventListener("input", () => { current.system = $("chat-system").value; saveConvs(); });
  $("chat-stop").addEventListener("click", () => controller && controller.abort());
  $("chat-regen").addEventListener("click", () => {
    if (controller) return;
    while (current.messages.length && current.messages[current.messages.length - 1].role === "assistant") current.messages.pop();
    if (current.messages.length) { renderChat(); streamChat(); }
  });
  $("tok-text").addEventListener("input", tokenizeSoon);
  $("tok-system").addEventListener("input", tokenizeSoon);
  $("tok-ids").addEventListener("change", tokenize);
  $("tok-chat").addEventListener("change", () => { $("tok-system-label").hidden = !$("tok-chat").checked; tokenize(); });
  $("tok-model").addEventListener("change", tokenize);
  $("chat-model").addEventListener("change", showGate);
  $("chat-gate").addEventListener("change", showGate);
  $("next-go").addEventListener("click", predict);
  $("next-prompt").addEventListener("keydown", (e) => { if (e.key === "Enter") predict(); });
  $("next-sample").addEventListener("click", sampleToken);
  for (const id of ["next-temp", "next-topk", "next-topp"]) $(id).addEventListener("input", drawNext);
  $("in-go").addEventListener("click", inspect);
  $("in-prompt").addEventListener("keydown", (e) => { if (e.key === "Enter") inspect(); });
  $("in-layer").addEventListener("change", drawAttention);
  $("in-head").addEventListener("change", drawAttention);
  $("report-load").addEventListener("click", loadReport);
  $("arena-form").addEventListener("submit", (e) => { e.preventDefault(); arenaGo(); });
  for (const b of document.querySelectorAll("#arena-votes button")) b.addEventListener("click", () => vote(b.dataset.vote));
  current = convs[0] || null;
  if (!current) newConv(); else { renderConvList(); renderChat(); }
  loadModels().then(() => tokenize());
  showPage(localStorage.getItem("dentro.page") || "chat");
}
init();
