"""Checkpoints: one folder that is both a Hugging Face model and an exact resume point.

    <folder>/
        config.json            HF Qwen3Config keys (model_type "qwen3") + "dentro": {...} extras
        model.safetensors      the weights under HF Qwen3ForCausalLM names ("model.layers.0...")
        tokenizer.dentro.json  the tokenizer (dentro.tokenizer.TOKENIZER_FILE)
        tokenizer.json         the same tokenizer for HF (dentro/tokenizer/hf.py), and
        tokenizer_config.json  its special tokens and chat template: AutoTokenizer loads the folder
        generation_config.json when generate() stops: at <|im_end|> or <|endoftext|>
        train_state.pt         optional: the trainer's opaque dict (optimizer, step, data
                               position, RNG states) for an exact --resume

config.json + model.safetensors load as they are with transformers' Qwen3ForCausalLM
(tests/test_model_hf.py checks the logits), and AutoTokenizer encodes like dentro and renders
dentro's chat template (tests/test_chat_template.py). A new checkpoint is written into a temporary
sibling folder and swapped in with renames, so a crash leaves the previous one intact.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from dentro.errors import UserError
from dentro.model.gpt import GPT, ModelConfig, dentro_name, hf_config, hf_name
from dentro.tokenizer.hf import save_hf_tokenizer

CONFIG_FILE = "config.json"
GENERATION_CONFIG_FILE = "generation_config.json"
MODEL_FILE = "model.safetensors"
TRAIN_STATE_FILE = "train_state.pt"
FORMAT, VERSION = "dentro-checkpoint", 1


def unwrap(model) -> GPT:
    """The GPT inside torch.compile (._orig_mod) and DDP (.module) wrappers."""
    while not isinstance(model, GPT):
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif hasattr(model, "module"):
            model = model.module
        else:
            raise TypeError(f"expected a dentro GPT (possibly compiled or DDP-wrapped), got {type(model).__name__}")
    return model


def model_tensors(model) -> dict[str, torch.Tensor]:
    """State dict under HF names, on CPU, contiguous; a tied lm_head is stored once (as HF does).
    FSDP2 shards (DTensor) are gathered with full_tensor(): call this on every rank."""
    gpt = unwrap(model)
    out = {}
    for name, t in gpt.state_dict().items():
        if name == "lm_head.weight" and gpt.config.tie_word_embeddings:
            continue
        if hasattr(t, "full_tensor"):
            t = t.full_tensor()
        out[hf_name(name)] = t.detach().to("cpu").contiguous()
    return out


def save_checkpoint(folder, model, tokenizer, train_state: dict | None = None, *, extra: dict | None = None,
                    write: bool = True) -> Path:
    """Write the checkpoint folder atomically. extra: small JSON-able facts for config.json's
    "dentro" section (step, tokens seen, validation bits per byte, preset...). With FSDP2,
    call it on every rank (gathering the shards is collective) with write=(rank == 0)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    gpt = unwrap(model)
    tensors = model_tensors(model)
    if not write:
        return folder
    if tokenizer.vocab_size > gpt.config.vocab_size:
        raise ValueError(f"tokenizer has {tokenizer.vocab_size} tokens but the model only "
                         f"{gpt.config.vocab_size} embedding rows")
    dtype = str(next(iter(tensors.values())).dtype).removeprefix("torch.")
    config = hf_config(gpt.config, dtype)
    config["eos_token_id"] = tokenizer.eot_id
    # generate() reads its stop ids from generation_config.json: <|im_end|> ends an assistant turn
    # (chat models), <|endoftext|> a document (base models), so every checkpoint stops right
    # whichever it is (Qwen3's instruct models list the same two). config.json keeps the document
    # end as its single eos_token_id.
    stops = [tokenizer.special_tokens[s] for s in ("<|im_end|>", "<|endoftext|>") if s in tokenizer.special_tokens]
    generation = {"eos_token_id": stops, "pad_token_id": tokenizer.eot_id}
    config["dentro"] = {"format": FORMAT, "version": VERSION, "tokenizer_vocab_size": tokenizer.vocab_size,
                        "num_params": gpt.num_params(), "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                        **(extra or {})}
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))
    old = folder.parent / f".{folder.name}.old"
    try:
        save_file(tensors, str(tmp / MODEL_FILE), metadata={"format": "pt"})
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False, default=str) + "\n",
                                       encoding="utf-8")
        tokenizer.save(tmp)
        save_hf_tokenizer(tokenizer, tmp, model_max_length=gpt.config.max_position_embeddings)
        (tmp / GENERATION_CONFIG_FILE).write_text(json.dumps(generation, indent=2) + "\n", encoding="utf-8")
        if train_state is not None:
            torch.save(train_state, tmp / TRAIN_STATE_FILE)
        for p in tmp.iterdir():  # on disk before the swap, so the swap never exposes half files
            with open(p, "rb") as f:
                os.fsync(f.fileno())
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)  # the previous checkpoint stays until the new one is in place
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _resolve(folder) -> Path:
    folder = Path(folder).expanduser()
    old = folder.parent / f".{folder.name}.old"
    if not folder.exists() and old.is_dir():  # a crash between the two renames of save_checkpoint
        print(f"dentro: {folder} is missing; using the previous checkpoint {old}", file=sys.stderr)
        return old
    if not folder.is_dir():
        raise UserError(f"no checkpoint at {folder}; train one with `dentro pretrain` "
                        f"(or the whole pipeline with `dentro speedrun`), or pass --checkpoint DIR")
    return folder


def read_config(folder) -> tuple[ModelConfig, dict]:
    """(model config, the "dentro" section) of a checkpoint folder, with clear errors."""
    folder = _resolve(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{folder} is not a complete checkpoint: {CONFIG_FILE} is missing; "
                        f"train again with `dentro pretrain`")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not valid JSON ({e}); the checkpoint is damaged, train again") from None
    if d.get("model_type") != "qwen3":
        raise UserError(f"{path}: model_type is {d.get('model_type')!r}, dentro reads 'qwen3' checkpoints only")
    try:
        config = ModelConfig.from_dict(d)
    except (TypeError, ValueError) as e:
        raise UserError(f"{path}: invalid model config ({e})") from None
    return config, d.get("dentro") or {}


def load_checkpoint(folder, device="cpu", *, load_train_state: bool = True, dtype=torch.float32):
    """-> (model in eval mode on device, tokenizer, train_state dict or None). Validates
    the folder and raises UserError saying what is wrong and what to do."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from dentro.tokenizer.bpe import TOKENIZER_FILE, Tokenizer

    folder = _resolve(folder)
    config, info = read_config(folder)
    missing = [f for f in (MODEL_FILE, TOKENIZER_FILE) if not (folder / f).is_file()]
    if missing:
        raise UserError(f"{folder} is not a complete checkpoint: {', '.join(missing)} missing; "
                        f"train again with `dentro pretrain`")
    try:
        stored = {dentro_name(k): v for k, v in load_file(str(folder / MODEL_FILE)).items()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise UserError(f"{folder / MODEL_FILE} is corrupt or truncated ({e}); train again "
                        f"with `dentro pretrain` or restore the file") from None

    with torch.device("meta"):
        model = GPT(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if config.tie_word_embeddings:
        expected.pop("lm_head.weight")
    problems = [f"missing {k}" for k in expected if k not in stored]
    problems += [f"unexpected {k}" for k in stored if k not in expected]
    problems += [f"{k}: stored {tuple(stored[k].shape)}, config says {s}"
                 for k, s in expected.items() if k in stored and tuple(stored[k].shape) != s]
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise UserError(f"{folder}: the weights do not match {CONFIG_FILE}: " + "; ".join(problems[:5]) + more
                        + ". Was config.json edited or copied from another checkpoint?")

    try:
        tokenizer = Tokenizer.load(folder / TOKENIZER_FILE)
    except (ValueError, KeyError, OSError) as e:
        raise UserError(f"{folder / TOKENIZER_FILE} cannot be read ({e}); copy the tokenizer the model "
                        f"was trained with into the checkpoint folder") from None
    want = info.get("tokenizer_vocab_size")
    if tokenizer.vocab_size > config.vocab_size or (want is not None and tokenizer.vocab_size != want):
        raise UserError(f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but the model was trained "
                        f"with {want if want is not None else 'at most ' + str(config.vocab_size)}: "
                        f"this tokenizer does not belong to this model; use the one saved with it")

    model = model.to_empty(device=device)
    if config.tie_word_embeddings:
        model.lm_head.weight = model.embed_tokens.weight  # to_empty makes two tensors of one
        stored["lm_head.weight"] = stored["embed_tokens.weight"]
    model.load_state_dict(stored, strict=True)
    model = model.to(dtype=dtype).eval()

    train_state = None
    ts = folder / TRAIN_STATE_FILE
    if load_train_state and ts.is_file():
        try:
            # weights_only=False: the state holds numpy/python RNG states. dentro wrote this
            # file itself; do not load train_state.pt files from sources you do not trust.
            train_state = torch.load(ts, map_location="cpu", weights_only=False)
        except Exception as e:  # torch raises many kinds for a damaged pickle/zip
            raise UserError(f"{ts} is corrupt ({type(e).__name__}: {e}); delete it to use the weights "
                            f"without resuming, or train again") from None
    return model, tokenizer, train_state
