"""Load on `dentro serve`: 1, 4, 8, 16 concurrent streaming clients, continuous batching against
one request at a time (--max-batch 1), side by side in one run.

    .venv/bin/python benchmarks/serve_load.py [--checkpoint DIR] [--seconds 20] [--new 64]

Each setting starts a real `dentro serve` process on 127.0.0.1 (a random depth-4 model and a
throwaway tokenizer unless --checkpoint) and runs C clients for --seconds: every client streams
one completion after another (a fixed random token prompt, max_tokens --new). A request that
ends in an error or times out counts as lost. Reported per setting:
    done / lost     requests completed / failed
    TTFT p50, p95   time to the first token, seconds (includes queueing)
    TPOT p50, p95   time per output token after the first, milliseconds
    tok/s           output tokens of completed requests / wall time, all clients together
The same clients against --max-batch 1 (the server decodes one request at a time, the rest
queue) are the baseline. Warm-up: one request per server before timing. Stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_checkpoint(folder: Path, depth: int, context: int) -> Path:
    import torch

    from dentro.model.checkpoint import save_checkpoint
    from dentro.model.gpt import GPT, ModelConfig
    from dentro.tokenizer.bpe import train_tokenizer

    tok = train_tokenizer(["O céu é azul e a noite é longa. The sky is blue and the night is long."] * 50,
                          vocab_size=512)
    torch.manual_seed(0)
    model = GPT(ModelConfig.from_depth(depth, vocab_size=tok.vocab_size, max_seq_len=context))
    return save_checkpoint(folder / "checkpoint", model, tok)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(checkpoint: Path, max_batch: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cmd = [sys.executable, "-m", "dentro", "serve", "--checkpoint", f"bench={checkpoint}", "--port", str(port),
           "--max-batch", str(max_batch), "--max-queue", "64", "--device", "cpu"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    t0 = time.time()
    while time.time() - t0 < 60:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start within 60 s")


async def one_request(client: httpx.AsyncClient, url: str, prompt: list[int], new: int) -> dict:
    body = {"model": "bench", "prompt": prompt, "max_tokens": new, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    t0 = time.perf_counter()
    first = last = None
    tokens = 0
    async with client.stream("POST", url + "/v1/completions", json=body) as r:
        if r.status_code != 200:
            raise RuntimeError(f"status {r.status_code}")
        async for line in r.aiter_lines():
            if not line.startswith("data: {"):
                continue
            d = json.loads(line[6:])
            if "error" in d:
                raise RuntimeError(d["error"]["message"])
            now = time.perf_counter()
            if d["choices"] and d["choices"][0]["text"]:
                first = first or now
                last = now
            if d.get("usage"):
                tokens = d["usage"]["completion_tokens"]
    first = first or time.perf_counter()
    return {"ttft": first - t0, "tpot": (last - first) / (tokens - 1) if last and tokens > 1 else None,
            "tokens": tokens}


async def load(url: str, clients: int, seconds: float, prompt: list[int], new: int) -> dict:
    done, lost = [], 0
    stop_at = time.perf_counter() + seconds

    async def client_loop(client):
        nonlocal lost
        while time.perf_counter() < stop_at:
            try:
                done.append(await one_request(client, url, prompt, new))
            except (httpx.HTTPError, RuntimeError):
                lost += 1

    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=seconds + 60) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    wall = time.perf_counter() - t0

    def pct(xs, q):
        xs = sorted(x for x in xs if x is not None)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    ttft = [d["ttft"] for d in done]
    tpot = [d["tpot"] for d in done]
    return {"clients": clients, "done": len(done), "lost": lost, "ttft_p50": pct(ttft, 0.5), "ttft_p95": pct(ttft, 0.95),
            "tpot_p50_ms": 1000 * pct(tpot, 0.5), "tpot_p95_ms": 1000 * pct(tpot, 0.95),
            "tok_s": sum(d["tokens"] for d in done) / wall}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=None, help="serve this checkpoint (default: a random model)")
    p.add_argument("--depth", type=int, default=4, help="random model depth (default 4)")
    p.add_argument("--clients", default="1,4,8,16", help="concurrency levels (default 1,4,8,16)")
    p.add_argument("--seconds", type=float, default=20, help="seconds per level (default 20)")
    p.add_argument("--prompt", type=int, default=32, help="prompt tokens (default 32)")
    p.add_argument("--new", type=int, default=64, help="max new tokens per request (default 64)")
    p.add_argument("--threads", type=int, default=1, help="torch threads in the server (default 1)")
    args = p.parse_args(argv)
    levels = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or make_checkpoint(Path(tmp), args.depth, args.prompt + args.new + 64)
        prompt = [(7 * i + 3) % 256 for i in range(args.prompt)]  # byte tokens: valid in any vocabulary
        print(f"checkpoint {ckpt}; prompt {args.prompt} tokens, up to {args.new} new; {args.seconds:g} s per level")
        print(f"{'server':<14}{'clients':>8}{'done':>6}{'lost':>6}{'TTFT p50':>10}{'p95':>8}{'TPOT p50 ms':>13}"
              f"{'p95':>8}{'tok/s':>9}")
        results = {}
        for name, max_batch in (("batched (16)", 16), ("max-batch 1", 1)):
            proc, url = start_server(ckpt, max_batch, args.threads)
            try:
                asyncio.run(load(url, 1, 0.01, prompt, args.new))  # warm-up: one request
                for c in levels:
                    r = asyncio.run(load(url, c, args.seconds, prompt, args.new))
                    results[(name, c)] = r
                    print(f"{name:<14}{c:>8}{r['done']:>6}{r['lost']:>6}{r['ttft_p50']:>10.3f}{r['ttft_p95']:>8.3f}"
                          f"{r['tpot_p50_ms']:>13.1f}{r['tpot_p95_ms']:>8.1f}{r['tok_s']:>9.1f}")
            finally:
                proc.terminate()
                proc.wait(10)
        for c in levels:
            a, b = results[("batched (16)", c)], results[("max-batch 1", c)]
            if b["tok_s"]:
                print(f"{c:>2} clients: continuous batching gives {a['tok_s'] / b['tok_s']:.2f}x the tokens/s of "
                      f"one request at a time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
