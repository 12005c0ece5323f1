"""The web UI's routes: the static pages at / and the small JSON endpoints they draw from.

    GET  /                          the UI (dentro/serve/ui/index.html)
    GET  /ui/static/{name}          its CSS and JavaScript (a fixed list of names, nothing else)
    POST /ui/api/tokenize           {model, text} or {model, messages} -> the tokens, coloured client-side
    POST /ui/api/next               {model, prompt, k} -> the top-k logits of the next token
    POST /ui/api/inside             {model, prompt} -> attentions, logit lens, parameter shares
    GET  /ui/api/report             the run's report.md as HTML (dentro/serve/markdown.py)
    GET  /ui/run/{path}             an image of the run folder that report.md shows (whitelisted)
    GET  /ui/api/arena              the arena's tallies
    POST /ui/api/arena/vote         {model_a, model_b, prompt, winner} -> the tallies after the vote

Every /ui/api route checks the API key as /v1 does (the page sends it as Bearer), validates
its input (400 / 404 / 413 in OpenAI's error JSON) and runs the model in a worker thread, one
inspection at a time: the inspection path (GPT.inspect) is slow and O(T^2) in memory.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import torch
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from dentro.chat.template import render
from dentro.serve import protocol as P
from dentro.serve.markdown import markdown_to_html, report_images
from dentro.tokenizer.view import visible

UI_DIR = Path(__file__).parent / "ui"
STATIC = {"app.css": "text/css", "app.js": "text/javascript", "i18n.js": "text/javascript",
          "charts.js": "text/javascript"}  # the only files /ui/static serves
MAX_TEXT = 20_000  # characters the tokenizer view takes
MAX_INSIDE_TOKENS = 64  # attention maps are T x T per head: 64 keeps the page readable and the answer small
MAX_NEXT_TOKENS = 512
MAX_TOP_K = 200
WINNERS = ("a", "b", "tie", "both_bad")
ROUND = 3  # decimals sent: the page draws colours and bars, 3 digits are more than it shows


def field(body: dict, name: str, kind, default=None, required: bool = False):
    v = body.get(name, default)
    if v is None and required:
        raise P.ApiError(400, f"'{name}' is required", name)
    if v is not None and (not isinstance(v, kind) or isinstance(v, bool) and kind is not bool):
        raise P.ApiError(400, f"'{name}' must be {kind.__name__}", name)
    return v


def token_row(tok, i: int) -> dict:
    return {"id": i, "text": visible(tok.token_bytes(i)), "special": tok.is_special(i)}


def tokenize(tok, body: dict) -> dict:
    """Plain text -> its tokens; a conversation -> the chat template's tokens, special ones marked."""
    if "messages" in body:
        messages = body["messages"]
        if not isinstance(messages, list) or not messages or len(messages) > 64:
            raise P.ApiError(400, "'messages' must be a list of 1 to 64 messages", "messages")
        try:
            ids, mask = render(tok, messages, add_generation_prompt=bool(body.get("add_generation_prompt")))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise P.ApiError(400, f"bad messages: {e}", "messages") from None
        text = tok.decode(ids)
    else:
        text = field(body, "text", str, required=True)
        if len(text) > MAX_TEXT:
            raise P.ApiError(413, f"'text' is longer than {MAX_TEXT} characters", "text")
        ids, mask = tok.encode(text), None
    rows = [token_row(tok, i) for i in ids]
    if mask is not None:
        for r, m in zip(rows, mask):
            r["trained"] = bool(m)
    return {"tokens": rows, "n_tokens": len(ids), "n_chars": len(text), "n_bytes": len(text.encode("utf-8"))}


def prompt_ids(tok, body: dict, limit: int) -> list[int]:
    """A base-model prompt: <|endoftext|> then the text, as every pretraining document starts."""
    prompt = field(body, "prompt", str, required=True)
    if len(prompt) > limit * 32:
        raise P.ApiError(413, f"the prompt is too long: at most {limit} tokens", "prompt", "context_length_exceeded")
    ids = [tok.eot_id] + tok.encode(prompt)
    if len(ids) > limit:
        raise P.ApiError(413, f"the prompt has {len(ids)} tokens (with <|endoftext|>); at most {limit} here",
                         "prompt", "context_length_exceeded")
    return ids


@torch.no_grad()
def next_token(model, tok, ids: list[int], k: int) -> dict:
    """The top-k logits of the token after ids (temperature 1): the page applies temperature,
    top-k and top-p itself, renormalising over these k (the tail's share is sent as tail_p)."""
    device = next(model.parameters()).device
    logits = model(torch.tensor([ids], device=device))[0, -1].float()  # (V,)
    probs = logits.softmax(-1)
    top = logits.topk(min(k, logits.numel()))
    return {"prompt_tokens": [token_row(tok, i) for i in ids],
            "top": [dict(token_row(tok, i), raw=tok.decode([i]), logit=round(v, ROUND), p=round(probs[i].item(), 5))
                    for v, i in zip(top.values.tolist(), top.indices.tolist())],
            "tail_p": round(max(0.0, 1.0 - probs[top.indices].sum().item()), 5)}


@torch.no_grad()
def inside(model, tok, ids: list[int]) -> dict:
    """Everything the Inside page draws, compact:
    attentions[l][h][i] = the weights of query i over keys 0..i (the causal lower triangle only),
      in thousandths (integers 0..1000);
    lens[l][i] = [id, p] the token that the final norm + lm_head would predict from the residual
      stream after layer l (l = 0: the embeddings) at position i, with its probability
      (the logit lens, nostalgebraist 2020); the last row is the model's own prediction;
    params: where the parameters are."""
    device = next(model.parameters()).device
    out = model.inspect(torch.tensor([ids], device=device))
    T = len(ids)
    attn = []
    for w in out["attentions"]:  # (1, H, T, T)
        q = (w[0].float() * 1000).round().int().tolist()  # (H, T, T)
        attn.append([[row[:i + 1] for i, row in enumerate(head)] for head in q])
    lens = []
    for h in out["hidden_states"]:  # (1, T, C)
        p = model.lm_head(model.norm(h)).float().softmax(-1)[0]  # (T, V)
        best = p.max(-1)
        lens.append([[i, round(v, ROUND)] for v, i in zip(best.values.tolist(), best.indices.tolist())])
    used = sorted({i for row in lens for i, _ in row} | set(ids))
    c = model.config
    return {"tokens": [token_row(tok, i) for i in ids], "layers": c.num_hidden_layers, "heads": c.num_attention_heads,
            "attentions": attn, "attn_scale": 1000, "lens": lens,
            "vocab": {str(i): visible(tok.token_bytes(i)) for i in used},
            "last_logits_top": int(out["logits"][0, -1].argmax()), "params": param_shares(model), "T": T}


def param_shares(model) -> dict:
    """Parameter counts: the embedding, each block's attention (with its input norm) and MLP
    (with its norm), the output layer (final norm + lm_head, 0 new ones when tied)."""
    seen: set[int] = set()

    def count(module) -> int:
        n = 0
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                n += p.numel()
        return n

    parts = [{"name": "embedding", "n": count(model.embed_tokens)}]
    for l, b in enumerate(model.layers):
        parts.append({"name": f"block {l} attention", "n": count(b.self_attn) + count(b.input_layernorm)})
        parts.append({"name": f"block {l} MLP", "n": count(b.mlp) + count(b.post_attention_layernorm)})
    parts.append({"name": "output (norm + lm_head)", "n": count(model.norm) + count(model.lm_head)})
    total = sum(p["n"] for p in parts)
    for p in parts:
        p["share"] = round(p["n"] / total, 4)
    return {"total": total, "parts": parts, "tied": bool(model.config.tie_word_embeddings)}


# ---- the arena: votes in <run>/arena/votes.sqlite ------------------------------------------

class Votes:
    """One connection per call (sqlite3 connections are not shared across threads), WAL so readers
    never block the writer, one transaction per vote; busy_timeout lets concurrent voters queue."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()  # creating the table once
        self.ready = False

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        con.execute("PRAGMA busy_timeout = 10000")
        if not self.ready:
            with self.lock:
                con.execute("PRAGMA journal_mode = WAL")
                con.execute("CREATE TABLE IF NOT EXISTS votes (id INTEGER PRIMARY KEY, time REAL NOT NULL, "
                            "model_a TEXT NOT NULL, model_b TEXT NOT NULL, prompt TEXT NOT NULL, winner TEXT NOT NULL)")
                self.ready = True
        return con

    def add(self, model_a: str, model_b: str, prompt: str, winner: str) -> None:
        con = self.connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO votes (time, model_a, model_b, prompt, winner) VALUES (?, ?, ?, ?, ?)",
                        (time.time(), model_a, model_b, prompt, winner))
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def tallies(self) -> dict:
        """{"votes": n, "models": {id: {wins, losses, ties, both_bad}}}, from each model's side."""
        if not self.path.exists():
            return {"votes": 0, "models": {}}
        con = self.connect()
        try:
            rows = con.execute("SELECT model_a, model_b, winner, count(*) FROM votes GROUP BY 1, 2, 3").fetchall()
        finally:
            con.close()
        models: dict[str, dict] = {}
        for a, b, w, n in rows:
            for me, side in ((a, "a"), (b, "b")):
                t = models.setdefault(me, {"wins": 0, "losses": 0, "ties": 0, "both_bad": 0})
                key = {"tie": "ties", "both_bad": "both_bad"}.get(w) or ("wins" if w == side else "losses")
                t[key] += n
        # The leaderboard of the votes: a Bradley-Terry fit on the Elo scale with bootstrap 95%
        # intervals, as `dentro arena` computes it (which also adds the automatic battles).
        from dentro.eval.arena import leaderboard, read_votes

        board = leaderboard(read_votes(self.path), samples=100) if rows else []
        return {"votes": sum(r[3] for r in rows), "models": models,
                "leaderboard": [{"model": r["model"], "rating": round(r["rating"]),
                                 "ci": [round(x) for x in r["ci"]], "battles": r["battles"]} for r in board]}


def ui_routes(by_id: dict, check_key, read_json, run: Path | None) -> list[Route]:
    """The UI's routes, sharing the API's key check, body limit and models."""
    busy = asyncio.Semaphore(1)
    votes = Votes(run / "arena" / "votes.sqlite") if run is not None else None

    def served(body: dict):
        name = field(body, "model", str)
        if name is None:
            return next(iter(by_id.values()))
        if name not in by_id:
            raise P.ApiError(404, f"the model {name!r} does not exist; this server has: {', '.join(by_id)}",
                             "model", "model_not_found")
        return by_id[name]

    async def page(request):
        return FileResponse(UI_DIR / "index.html", media_type="text/html",
                            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    async def static(request):
        name = request.path_params["name"]
        if name not in STATIC:  # a fixed list: no path from the request reaches the file system
            raise P.ApiError(404, "no such file")
        return FileResponse(UI_DIR / name, media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    async def tokenize_route(request):
        body = await read_json(request)
        m = served(body)
        return JSONResponse(await asyncio.to_thread(tokenize, m.tokenizer, body))

    async def next_route(request):
        body = await read_json(request)
        m = served(body)
        k = field(body, "k", int, 50)
        if not 1 <= k <= MAX_TOP_K:
            raise P.ApiError(400, f"'k' must be between 1 and {MAX_TOP_K}", "k")
        ids = prompt_ids(m.tokenizer, body, min(MAX_NEXT_TOKENS, m.context))
        async with busy:
            return JSONResponse(await asyncio.to_thread(next_token, m.model, m.tokenizer, ids, k))

    async def inside_route(request):
        body = await read_json(request)
        m = served(body)
        ids = prompt_ids(m.tokenizer, body, min(MAX_INSIDE_TOKENS, m.context))
        async with busy:
            return JSONResponse(await asyncio.to_thread(inside, m.model, m.tokenizer, ids),
                                headers={"Cache-Control": "no-store"})

    def need_run():
        if run is None:
            raise P.ApiError(404, "this server has no run folder (start it with --run)")

    async def report_route(request):
        check_key(request)
        need_run()
        path = run / "report.md"
        if not path.is_file():
            return JSONResponse({"html": "", "exists": False})
        text = await asyncio.to_thread(path.read_text, encoding="utf-8", errors="replace")
        return JSONResponse({"html": markdown_to_html(text), "exists": True})

    async def run_file(request):
        check_key(request)
        need_run()
        rel = request.path_params["path"]
        allowed = report_images(run)  # {relative path as report.md writes it: resolved file}
        if rel not in allowed:
            raise P.ApiError(404, "not an image of this run's report")
        return FileResponse(allowed[rel], headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    async def arena_route(request):
        check_key(request)
        need_run()
        return JSONResponse(await asyncio.to_thread(votes.tallies))

    async def vote_route(request):
        body = await read_json(request)
        need_run()
        a, b = field(body, "model_a", str, required=True), field(body, "model_b", str, required=True)
        prompt = field(body, "prompt", str, "")
        winner = field(body, "winner", str, required=True)
        for name, v in (("model_a", a), ("model_b", b)):
            if v not in by_id:
                raise P.ApiError(404, f"the model {v!r} does not exist", name, "model_not_found")
        if winner not in WINNERS:
            raise P.ApiError(400, f"'winner' must be one of {', '.join(WINNERS)}", "winner")
        if len(prompt) > MAX_TEXT:
            raise P.ApiError(413, f"'prompt' is longer than {MAX_TEXT} characters", "prompt")
        await asyncio.to_thread(votes.add, a, b, prompt, winner)
        return JSONResponse(await asyncio.to_thread(votes.tallies))

    return [Route("/", page, methods=["GET"]), Route("/ui/static/{name}", static, methods=["GET"]),
            Route("/ui/api/tokenize", tokenize_route, methods=["POST"]),
            Route("/ui/api/next", next_route, methods=["POST"]),
            Route("/ui/api/inside", inside_route, methods=["POST"]),
            Route("/ui/api/report", report_route, methods=["GET"]),
            Route("/ui/run/{path:path}", run_file, methods=["GET"]),
            Route("/ui/api/arena", arena_route, methods=["GET"]),
            Route("/ui/api/arena/vote", vote_route, methods=["POST"])]

