"""A Hugging Face model folder: what transformers, vLLM and the hub load, offline.

A dentro checkpoint is already one (dentro/model/checkpoint.py), so the export copies it without
the training state, writes the tokenizer files afresh from tokenizer.dentro.json (so a checkpoint
saved by an older dentro gets the current chat template) and adds a generation_config.json if
the checkpoint predates it:

    config.json  model.safetensors  tokenizer.json  tokenizer_config.json  generation_config.json
    tokenizer.dentro.json (dentro's own tokenizer file, for `dentro` commands)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from dentro.errors import UserError

COPIED = ("config.json", "model.safetensors", "generation_config.json", "tokenizer.dentro.json")


def export_hf(checkpoint, out) -> dict:
    """Checkpoint folder -> out/ (a Hugging Face model folder). Returns {file name: bytes}."""
    from dentro.model.checkpoint import GENERATION_CONFIG_FILE, read_config
    from dentro.tokenizer.bpe import Tokenizer
    from dentro.tokenizer.hf import save_hf_tokenizer

    checkpoint, out = Path(checkpoint), Path(out)
    config, _ = read_config(checkpoint)  # validates config.json with a clear error
    for name in ("model.safetensors", "tokenizer.dentro.json"):
        if not (checkpoint / name).is_file():
            raise UserError(f"{checkpoint} is not a complete checkpoint: {name} is missing")
    if out.resolve() == checkpoint.resolve():
        raise UserError("--out must be another folder than the checkpoint")
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (checkpoint / name).is_file():
            shutil.copyfile(checkpoint / name, out / name)
    tok = Tokenizer.load(checkpoint)
    save_hf_tokenizer(tok, out, model_max_length=config.max_position_embeddings)
    if not (out / GENERATION_CONFIG_FILE).is_file():
        stops = [tok.special_tokens[s] for s in ("<|im_end|>", "<|endoftext|>") if s in tok.special_tokens]
        (out / GENERATION_CONFIG_FILE).write_text(json.dumps({"eos_token_id": stops, "pad_token_id": tok.eot_id},
                                                             indent=2) + "\n", encoding="utf-8")
    return {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()}
