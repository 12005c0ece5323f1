"""`dentro serve`: the run's models behind an OpenAI-compatible HTTP API (see docs/serve.md)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from dentro.commands import add_run_argument, int_range, positive_float, positive_int
from dentro.errors import UserError

HELP = """Serve the run's checkpoints with the OpenAI API (chat and completions, streaming), with
continuous batching: concurrent requests decode together on one model.

examples:
  dentro serve                                   # every checkpoint of the run, on 127.0.0.1:8000
  dentro serve --checkpoint path/to/checkpoint   # any checkpoint folder (id: its folder name)
  dentro serve --host 0.0.0.0 --api-key "$(openssl rand -hex 16)"

Models: dentro-base (<run>/pretrain), dentro-sft, dentro-factuality, dentro-rl (when present).
Point any OpenAI client, or Open WebUI, at http://127.0.0.1:8000/v1."""

STAGES = {"pretrain": "dentro-base", "sft": "dentro-sft", "factuality": "dentro-factuality", "rl": "dentro-rl"}


def add_arguments(p):
    add_run_argument(p)
    p.add_argument("--checkpoint", metavar="[ID=]DIR", action="append", default=[],
                   help="also serve this checkpoint folder (repeatable); its id is ID or dentro-<folder name>")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int_range(0, 65535), default=8000, help="port (default: 8000)")
    p.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' (default: $DENTRO_API_KEY)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    g = p.add_argument_group("limits")
    g.add_argument("--max-batch", type=positive_int, default=16, help="sequences decoding together per model (16)")
    g.add_argument("--max-queue", type=int_range(0), default=64, help="sequences waiting per model; more get 429 (64)")
    g.add_argument("--max-tokens", type=positive_int, default=1024, help="new tokens per choice at most (1024)")
    g.add_argument("--max-prompt-tokens", type=positive_int, default=1 << 30,
                   help="prompt tokens at most (default: the model's context window)")
    g.add_argument("--request-timeout", type=positive_float, default=300.0, help="seconds per request (300)")
    g.add_argument("--max-body-bytes", type=positive_int, default=1 << 20, help="request body size (1 MiB)")


def checkpoint_folders(run: Path, extra: list[str]) -> list[tuple[str, Path]]:
    """(id, folder) of every checkpoint to serve: the run's stages, then --checkpoint folders."""
    out = [(mid, run / stage / "checkpoint") for stage, mid in STAGES.items()
           if (run / stage / "checkpoint" / "config.json").is_file()]
    for spec in extra:
        name, sep, folder = spec.partition("=")
        if not sep:
            folder = name
            path = Path(folder)
            name = "dentro-" + (path.parent.name if path.name == "checkpoint" else path.name)
        if not (Path(folder) / "config.json").is_file():
            raise UserError(f"--checkpoint {folder}: not a checkpoint folder (no config.json)")
        taken = {i for i, _ in out}
        base, k = name, 2
        while name in taken:
            name, k = f"{base}-{k}", k + 1
        out.append((name, Path(folder)))
    return out


def main(args):
    import logging
    import os

    import torch
    import uvicorn

    from dentro.chat.gate import gate_for
    from dentro.model.checkpoint import load_checkpoint
    from dentro.runs import run_dir
    from dentro.serve.app import Limits, ServedModel, create_app
    from dentro.serve.scheduler import Scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run = run_dir(args.run)
    folders = checkpoint_folders(run, args.checkpoint)
    if not folders:
        raise UserError(f"nothing to serve: the run {run_dir(args.run)} has no checkpoint yet; train one with "
                        f"`dentro speedrun`, or pass --checkpoint DIR")
    api_key = args.api_key or os.environ.get("DENTRO_API_KEY") or None
    if args.host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        print(f"warning: serving on {args.host} without an API key: anyone who can reach this machine can use "
              f"the models (pass --api-key)", file=sys.stderr)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    limits = Limits(max_prompt_tokens=args.max_prompt_tokens, max_tokens=args.max_tokens, max_batch=args.max_batch,
                    max_queue=args.max_queue, request_timeout=args.request_timeout,
                    max_body_bytes=args.max_body_bytes)
    served = []
    for mid, folder in folders:
        model, tok, _ = load_checkpoint(folder, device, load_train_state=False)
        model.eval()
        sched = Scheduler(model, max_batch=args.max_batch, max_queue=args.max_queue, name=mid).start()
        calibrated = gate_for(run, folder)  # `dentro factuality` calibrates one for the SFT model
        gate = float(calibrated["threshold"]) if calibrated else None
        served.append(ServedModel(mid, model, tok, sched, int(folder.stat().st_mtime), gate=gate,
                                  gate_weights=(calibrated or {}).get("weights")))
        print(f"serving {mid}: {folder} ({model.num_params():,} parameters, context "
              f"{model.config.max_position_embeddings}, {device})"
              + (f"; confidence gate at {gate:.3f} (requests with gate: true)" if gate is not None else ""),
              file=sys.stderr)
    app = create_app(served, limits, api_key, run)
    print(f"OpenAI API at http://{args.host}:{args.port}/v1" + (" (API key required)" if api_key else "")
          + f"; web UI at http://{args.host}:{args.port}/", file=sys.stderr)
    t0 = time.time()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    finally:
        for m in served:
            m.scheduler.stop()
        print(f"stopped after {time.time() - t0:.0f} s", file=sys.stderr)
    return 0
