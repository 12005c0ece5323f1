"""`dentro sft`: fine-tune the base model on conversations into an assistant (stage 5)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path

from dentro.commands import add_run_argument, float_range, non_negative_int, positive_float, positive_int
from dentro.errors import UserError
from dentro.runs import read_jsonl

TITLE = "Stage 5 · supervised fine-tuning: from an internet simulator to an assistant"

HELP = """Fine-tune the base model on conversations into an assistant (stage 5).

The same next-token objective as pretraining, on a much smaller set of conversations
rendered with the ChatML template; the loss counts only the assistant's tokens
(InstructGPT, Ouyang et al. 2022). Writes <run>/sft/checkpoint (the chat model), with
metrics.jsonl, loss.png and the conversations it used beside it.

examples:
  dentro sft                                   # conversations generated from the tiny world
  dentro sft --data my_chats.jsonl             # your own OpenAI-format conversations
  dentro sft --max-minutes 1 --lr-frac 0.3     # shorter, gentler
  dentro sft --resume                          # continue a killed run exactly

--data takes JSONL, one conversation per line, in the OpenAI chat format:
  {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."},
                {"role": "assistant", "content": "..."}]}
Bad lines (not JSON, unknown roles, no assistant turn, empty content, longer than the
context) are skipped and counted with their line numbers. Then talk to it: `dentro chat`."""


@dataclass
class Preset:
    device_batch_size: int      # rows per forward/backward
    total_batch_tokens: int     # tokens per optimiser step
    max_steps: int
    max_minutes: float | None   # time budget; the learning rate decays to 0 within it
    lr_frac: float              # the pretraining learning rates (Muon and AdamW groups) times this
    eval_every: int
    eval_tokens: int
    warmup_steps: int = 5
    pretrain_replay: float = 0.0  # share of the rows that are pretraining text (dentro.train.sft.replay_rows)
    interpolate: float = 1.0    # saved weights: this x fine-tuned + the rest x base (WiSE-FT); 1 keeps them as trained


# tiny: 1.75 minutes of a 2-core CPU, steps of 8 rows (better than 16 at equal tokens: docs/LOG.md);
# 2 until 2026-12-02, when the fine-tuning step got 1.29x faster (docs/sft.md, "Training"): 1.75
# minutes then train as many steps as 2 did before, and the quarter minute went to the budget.
# The rates start at lr_frac of pretraining's and decay linearly to 0 over the run (warmdown
# over the whole run, as nanochat's SFT does). pretrain_replay: 30% of the rows are the base
# model's own pretraining text; without it the tiny chat model forgot about 45% of the frequent
# facts the base model completed (cloze 77/150 after SFT against 138/150 before; 121/150 with
# replay), docs/sft.md.
PRESETS = {
    "micro": Preset(device_batch_size=4, total_batch_tokens=128, max_steps=6, max_minutes=None, lr_frac=0.5,
                    eval_every=3, eval_tokens=256, warmup_steps=1, pretrain_replay=0.25, interpolate=0.9),
    "tiny": Preset(device_batch_size=8, total_batch_tokens=2048, max_steps=2000, max_minutes=1.75, lr_frac=0.5,
                   eval_every=25, eval_tokens=8 * 256, pretrain_replay=0.3, interpolate=0.9),
    "small": Preset(device_batch_size=32, total_batch_tokens=65_536, max_steps=1000, max_minutes=None,
                    lr_frac=0.3, eval_every=100, eval_tokens=32 * 1024 * 4, warmup_steps=20, pretrain_replay=0.3),
}

SAMPLE_QUESTIONS = ["Quem é você?", "Who are you?"]
SAFE_ON_RESUME = {"max_steps", "max_minutes", "eval_every", "save_every"}


def add_arguments(p):
    add_run_argument(p)
    p.add_argument("--preset", default="tiny", choices=list(PRESETS), help="sizes and budget (default: tiny)")
    p.add_argument("--data", nargs="+", metavar="JSONL", help="your own conversations (OpenAI chat format); "
                   "default: conversations generated from the run's world")
    p.add_argument("--val-data", metavar="JSONL", help="held-out conversations for the validation loss "
                   "(default: 5%% of --data)")
    p.add_argument("--base", metavar="DIR", help="checkpoint to fine-tune (default: <run>/pretrain/checkpoint)")
    p.add_argument("--out", help="output folder (default: <run>/sft)")
    p.add_argument("--steps", type=positive_int, help="optimiser steps at most")
    p.add_argument("--max-minutes", type=positive_float, help="time budget")
    p.add_argument("--lr-frac", type=positive_float, help="learning rates as a fraction of pretraining's")
    p.add_argument("--pretrain-replay", type=float_range(0.0, 0.9), metavar="FRAC",
                   help="share of the training rows that are the base model's pretraining text, so that it "
                        "keeps what it knew (default: the preset's, 0.3 for tiny; 0 turns it off)")
    p.add_argument("--interpolate", type=float_range(0.0, 1.0, above=True), metavar="ALPHA",
                   help="save ALPHA x the fine-tuned weights + (1 - ALPHA) x the base model's (WiSE-FT), "
                        "which keeps more of what the base model knew (default: the preset's, 0.9 for tiny; "
                        "1 keeps the fine-tuned weights as they are)")
    p.add_argument("--batch-size", type=positive_int, help="rows per forward/backward")
    p.add_argument("--eval-every", type=positive_int, help="steps between validation passes")
    p.add_argument("--save-every", type=positive_int, help="steps between checkpoints (default: at the end only)")
    p.add_argument("--seed", type=non_negative_int, default=1337, help="random seed (data order)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint exactly where it stopped")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")


def main(args):
    from dentro.runs import run_dir

    overrides = {k: v for k, v in {"max_steps": args.steps, "max_minutes": args.max_minutes,
                                   "device_batch_size": args.batch_size, "eval_every": args.eval_every,
                                   "save_every": args.save_every}.items()
                 if v is not None}
    r = sft(run_dir(args.run), args.preset, data=args.data, val_data=args.val_data, base=args.base, out=args.out,
            overrides=overrides, lr_frac=args.lr_frac, seed=args.seed, resume=args.resume, device=args.device,
            pretrain_replay=args.pretrain_replay, interpolate=args.interpolate)
    print(json.dumps(r["figures"], indent=2))
    # --checkpoint, not --run: the run's chat default is its most post-trained model that earned its
    # place (dentro.runs.post_trained_checkpoint), which is not this one after --out or a later stage
    print(f"the chat model is in {r['checkpoint']}; talk to it with `dentro chat --checkpoint {r['checkpoint']}`")


def _read_user_data(paths: list[str], log) -> tuple[list[dict], dict]:
    from dentro.chat.conversations import read_conversations

    convs, stats = [], {"files": {}}
    for path in paths:
        c, s = read_conversations(Path(path))
        for conv in c:
            conv.setdefault("source", str(path))
        convs += c
        stats["files"][str(path)] = s
        bad = sum(s["skipped"].values())
        log(f"[sft] {path}: {s['kept']} conversations" + (f", {bad} bad lines skipped: " + "; ".join(
            f"{reason} {n} (lines {', '.join(map(str, s['skipped_lines'][reason][:8]))}"
            f"{'…' if n > 8 else ''})" for reason, n in s["skipped"].items()) if bad else ""))
    return convs, stats


def world_conversations(run: Path, out: Path, seed: int = 0) -> dict:
    """The embedded default: conversations generated from the run's world truth, written once
    into <out>/conversations (train.jsonl, val.jsonl, heldout.json)."""
    from dentro.world.conversations import make_conversations, write_conversations

    truth = run / "world" / "truth"
    if not (truth / "facts.jsonl").is_file():
        raise UserError(f"no world truth at {truth} to make conversations from; run `dentro world` first "
                        f"(or `dentro speedrun`), or pass your own conversations with --data FILE.jsonl")
    folder = out / "conversations"
    if not (folder / "heldout.json").is_file():
        write_conversations(folder, make_conversations(truth, seed))
    return {"train": read_jsonl(folder / "train.jsonl"), "val": read_jsonl(folder / "val.jsonl"),
            "heldout": json.loads((folder / "heldout.json").read_text(encoding="utf-8"))}


def sft(run: Path, preset: str = "tiny", *, data=None, val_data=None, base=None, out=None, overrides=None,
        lr_frac=None, seed: int = 1337, resume: bool = False, device=None, log=print,
        pretrain_replay: float | None = None, interpolate: float | None = None) -> dict:
    """Fine-tune, save, return {"figures", "result", "checkpoint", "data_stats", "finetuned"}.
    pretrain_replay: the share of rows that are <run>/pretrain/tokens text; interpolate: the saved
    weights are this x the fine-tuned ones + the rest x the base's (None: the preset's, for both).
    "finetuned": the weights as trained (a state dict) when they were interpolated, else None."""
    import random

    from dentro.model.checkpoint import load_checkpoint, read_config, save_checkpoint
    from dentro.train.loop import setup_distributed

    p = PRESETS[preset]
    alpha = p.interpolate if interpolate is None else interpolate
    if not 0 < alpha <= 1:
        raise UserError(f"interpolate must be in (0, 1] (1 keeps the fine-tuned weights); got {alpha}")
    out = Path(out) if out else run / "sft"
    given_base = base
    base = Path(base) if base else run / "pretrain" / "checkpoint"
    ckpt = out / "checkpoint"
    if not base.exists():
        raise UserError(f"no base model at {base}; run `dentro pretrain` first (or `dentro speedrun`), "
                        f"or pass --base CHECKPOINT_DIR")
    d = setup_distributed(device)
    if d.world_size > 1:
        raise UserError("dentro sft runs in one process; start it without torchrun")
    t0 = time.time()

    # 1. conversations
    data_stats: dict = {}
    if data:
        train_convs, data_stats = _read_user_data(data, log)
        if val_data:
            val_convs, s = _read_user_data([val_data], log)
            data_stats["files"].update(s["files"])
        else:  # 5% of the user's conversations, chosen by a seeded shuffle
            order = list(range(len(train_convs)))
            random.Random(seed).shuffle(order)
            k = max(1, len(order) // 20) if len(order) >= 2 else 0
            held = set(order[:k])
            val_convs = [c for i, c in enumerate(train_convs) if i in held] or train_convs[:1]
            train_convs = [c for i, c in enumerate(train_convs) if i not in held] or train_convs
        data_stats["source"] = "user"
    else:
        w = world_conversations(run, out)
        train_convs, val_convs = w["train"], w["val"]
        data_stats = {"source": "world", "heldout_entities": len(w["heldout"].get("entities", [])),
                      "heldout_facts": len(w["heldout"].get("facts", []))}

    # 2. the model: the base, or the SFT checkpoint to resume
    state = None
    if resume:
        model, tok, state = load_checkpoint(ckpt, d.device)
        if state is None:
            raise UserError(f"{ckpt} has no training state to resume from; run without --resume")
        recorded = read_config(ckpt)[1]
        if recorded.get("interpolated"):
            raise UserError(f"{ckpt} is a finished fine-tuning (its weights were interpolated with the base "
                            f"model): nothing to resume; run without --resume to fine-tune again")
        recorded = recorded.get("base")
        if given_base is None and recorded and Path(recorded).exists():
            base = Path(recorded)  # the model this run started from, for the interpolation at the end
        cfg = resume_config(state, overrides)
    else:
        model, tok, base_state = load_checkpoint(base, d.device)
        cfg = finetune_config(base_state, p, model.config.max_position_embeddings, lr_frac or p.lr_frac, seed,
                              overrides)
        del base_state
    log(f"[sft] {model.num_params() / 1e6:.2f}M parameters from {base if state is None else ckpt}; "
        f"learning rates x{lr_frac or p.lr_frac} of pretraining's, decaying to 0; {d.device}")

    # 3. rows, loaders and the training loop
    last: dict = {}

    def save_fn(m, train_state, **more):
        extra = {"step": train_state["step"], "tokens": train_state["tokens"], "preset": preset, "stage": "sft",
                 "base": str(base), **more}
        save_checkpoint(ckpt, m, tok, train_state, extra=extra)
        last["state"] = train_state

    frac = p.pretrain_replay if pretrain_replay is None else pretrain_replay
    result, s_train, s_val = finetune(model, tok, train_convs, val_convs, cfg, d=d, out=out, save_fn=save_fn,
                                      state=state, log=log, tag="sft",
                                      replay_dir=replay_source(run, tok, log) if frac else None, replay_frac=frac)
    data_stats.update(train=s_train, val=s_val)
    finetuned = None
    if alpha < 1:
        finetuned = interpolate_with_base(model, base, alpha)
        # the training state stays (later stages read their learning rates from its config), marked
        # finished so that nothing resumes from the mixed weights
        save_fn(model, last["state"], interpolated={"alpha": alpha, "base": str(base)})
        log(f"[sft] saved {alpha:g} x the fine-tuned weights + {1 - alpha:.2g} x the base model's (WiSE-FT)")

    from dentro.runs import atomic_write_json

    figures = {"conversations": s_train["kept"], "skipped_too_long": s_train["too_long"], "steps": result.steps,
               "tokens": result.tokens, "tokens_per_s": round(result.tokens_per_second),
               "final_train_loss": round(result.final_loss, 4), "val_loss": round(result.evals[-1]["val_loss"], 4),
               "minutes": round((time.time() - t0) / 60, 2), "interpolate": alpha}
    atomic_write_json(out / "result.json", {"figures": figures, "evals": result.evals, "samples": result.samples,
                                            "data": data_stats})
    return {"figures": figures, "result": result, "checkpoint": ckpt, "data_stats": data_stats,
            "finetuned": finetuned}


def interpolate_with_base(model, base_dir: Path, alpha: float) -> dict:
    """Set model's weights to alpha x its own + (1 - alpha) x those of the checkpoint at base_dir
    (the model it was fine-tuned from; same architecture), in place: WiSE-FT (Wortsman et al. 2022,
    https://arxiv.org/abs/2109.01903). Returns the weights as they were, on CPU."""
    import torch

    from dentro.model.checkpoint import load_checkpoint, unwrap

    gpt = unwrap(model)
    base, _, _ = load_checkpoint(base_dir, "cpu", load_train_state=False)
    own, theirs = gpt.state_dict(), base.state_dict()
    if own.keys() != theirs.keys() or any(own[k].shape != theirs[k].shape for k in own):
        raise UserError(f"the base model at {base_dir} is not the model that was fine-tuned (other shapes); "
                        f"pass the checkpoint it started from with --base, or --interpolate 1")
    before = {k: v.detach().to("cpu").clone() for k, v in own.items()}
    with torch.no_grad():
        for k, v in own.items():
            if v.is_floating_point():
                v.copy_(alpha * v + (1 - alpha) * theirs[k].to(v.device, v.dtype))
    return before


# ---- fine-tuning on conversations, shared with later stages (dentro factuality) -------------

def replay_source(run: Path, tok, log=print, tag: str = "sft") -> Path | None:
    """The run's pretraining token folder, when it was made with this tokenizer: the text replayed
    among the conversations. None (and a line in the log) when there is none to replay."""
    from dentro.runs import read_json

    folder = run / "pretrain" / "tokens"
    meta = folder / "meta.json"
    if not meta.is_file():
        log(f"[{tag}] no pretraining tokens at {folder} to mix in: fine-tuning on the conversations alone")
        return None
    m = read_json(meta)
    if m.get("vocab_size") != tok.vocab_size or m.get("eot_id") != tok.eot_id:
        log(f"[{tag}] the pretraining tokens at {folder} were made with another tokenizer (vocabulary "
            f"{m.get('vocab_size')}, this model's {tok.vocab_size}): fine-tuning on the conversations alone")
        return None
    return folder


def finetune_config(start_state: dict | None, p: Preset, seq_len: int, lr_frac: float, seed: int,
                    overrides: dict | None = None):
    """The TrainConfig of a fine-tuning run: the preset's sizes and budget; learning rates at
    lr_frac of those the starting checkpoint was trained with (its train_state's train_config;
    the loop's defaults when it has none), warmed up briefly and decayed linearly to 0 over the
    whole run (warmdown_frac 1, as nanochat's SFT does)."""
    from dentro.train.loop import TrainConfig

    lrs = ("matrix_lr", "embedding_lr", "unembedding_lr", "scalar_lr", "adamw_lr")
    start = (start_state or {}).get("train_config") or {}
    cfg = TrainConfig(seq_len=seq_len, device_batch_size=p.device_batch_size, total_batch_tokens=p.total_batch_tokens,
                      max_steps=p.max_steps, max_minutes=p.max_minutes,
                      optimizer=start.get("optimizer", TrainConfig.optimizer),
                      **{k: start.get(k, getattr(TrainConfig, k)) * lr_frac for k in lrs},
                      warmup_steps=p.warmup_steps, warmdown_frac=1.0, eval_every=p.eval_every,
                      eval_tokens=p.eval_tokens, sample_every=0, sample_tokens=32, save_every=0, seed=seed)
    per_row = cfg.device_batch_size * cfg.seq_len
    cfg = replace(cfg, **overrides or {})
    if cfg.total_batch_tokens % (cfg.device_batch_size * cfg.seq_len):  # a new --batch-size
        cfg = replace(cfg, total_batch_tokens=max(1, cfg.total_batch_tokens // per_row) * cfg.device_batch_size
                      * cfg.seq_len)
    return cfg


def resume_config(state: dict, overrides: dict | None = None):
    """The TrainConfig saved in a checkpoint's train_state, with only the overrides that are safe
    to change on resume (the budget, how often to evaluate and save)."""
    from dentro.train.loop import TrainConfig

    cfg = TrainConfig(**{k: (tuple(v) if k == "adam_betas" else v) for k, v in state["train_config"].items()})
    return replace(cfg, **{k: v for k, v in (overrides or {}).items() if k in SAFE_ON_RESUME})


def finetune(model, tok, train_convs: list[dict], val_convs: list[dict], cfg, *, d, out: Path, save_fn,
             state: dict | None = None, log=print, tag: str = "sft", prompts=SAMPLE_QUESTIONS,
             replay_dir: Path | None = None, replay_frac: float = 0.0):
    """Train `model` in place on conversations with the one training loop (loss on the
    assistant's tokens only); writes out/metrics.jsonl and out/loss.png; save_fn(model,
    train_state) writes the checkpoint. Returns (TrainResult, train stats, val stats) where the
    stats are tokenize_conversations'. With replay_dir (a pretraining token folder) and
    replay_frac > 0, that share of the training rows are windows of pretraining text, every
    token trained (dentro.train.sft.replay_rows)."""
    from dentro.chat.assistant import chat_complete
    from dentro.commands.pretrain import plot_loss
    from dentro.train.loop import train
    from dentro.train.sft import ConversationLoader, replay_rows, tokenize_conversations

    model.train()
    train_rows, s_train = tokenize_conversations(tok, train_convs, cfg.seq_len)
    val_rows, s_val = tokenize_conversations(tok, val_convs, cfg.seq_len)
    if s_train["too_long"]:
        log(f"[{tag}] {s_train['too_long']} conversations are longer than the context ({cfg.seq_len + 1} tokens) "
            f"and were skipped (first: {s_train['too_long_examples'][:8]})")
    if not train_rows:
        raise UserError(f"none of the {len(train_convs)} conversations fits the model's context of "
                        f"{cfg.seq_len} tokens; shorten them")
    if not val_rows:
        val_rows = train_rows[:1]
    s_train["replay_rows"] = 0
    if replay_dir is not None and replay_frac > 0:
        conv_rows = s_train["tokens"] / (cfg.seq_len + 1)  # about: conversations pack several to a row
        extra = replay_rows(replay_dir, round(conv_rows * replay_frac / (1 - replay_frac)), cfg.seq_len, cfg.seed)
        train_rows, s_train["replay_rows"] = train_rows + extra, len(extra)
        log(f"[{tag}] {len(extra):,} rows of pretraining text mixed in (about {replay_frac:.0%} of the rows), "
            f"so that fine-tuning keeps what pretraining stored")
    pad = tok.eot_id
    loader = ConversationLoader(train_rows, cfg.device_batch_size, cfg.seq_len, pad, seed=cfg.seed)

    def make_val_loader():
        return ConversationLoader(val_rows, cfg.device_batch_size, cfg.seq_len, pad, shuffle=False)

    log(f"[{tag}] {s_train['kept']:,} training conversations ({s_train['tokens']:,} tokens, "
        f"{s_train['trained_tokens']:,} of them the assistant's), {s_val['kept']} for validation")
    result = train(model, tok, loader, make_val_loader, cfg, d=d, train_state=state, save_fn=save_fn, out_dir=out,
                   prompts=prompts, complete=chat_complete, desc=tag)
    plot_loss(out / "metrics.jsonl", out / "loss.png", title="fine-tuning loss on the assistant's tokens (nats)")
    return result, s_train, s_val


# ---- the speedrun stage: fine-tune, then measure on held-out facts ---------------------------

EVAL_PER_GROUP = {"micro": 4, "tiny": 80, "small": 200}  # facts per (bucket, language) at most


def evaluate(run: Path, base_dir: Path, chat_dir: Path, heldout_facts: set[str] | None, per_group: int,
             device: str = "cpu", heldout_entities: set[str] = frozenset()) -> dict:
    """The held-out questions put to the base model (cloze) and the chat model (question):
    {"items": [...], "tables": {...}, "form": {...}}. Each item gains base_completion,
    base_correct, reply, correct, refused, closed, reply_lang."""
    from dentro.chat.assistant import reply_batch
    from dentro.eval import knowledge as K
    from dentro.model.checkpoint import load_checkpoint
    from dentro.web.language import identify

    truth = run / "world" / "truth"
    items = K.load_items(truth, heldout_facts, per_group=per_group)
    base, btok, _ = load_checkpoint(base_dir, device, load_train_state=False)
    for it, prompt, completion in zip(items, K.cloze_prompts(truth, items),
                                      K.run_cloze(base, btok, K.cloze_prompts(truth, items))):
        it["cloze_prompt"], it["base_completion"] = prompt, completion
        it["base_correct"] = bool(prompt) and K.contains_answer(completion, it["answers"])
    chat, tok, _ = load_checkpoint(chat_dir, device, load_train_state=False)
    replies = reply_batch(chat, tok, [[{"role": "user", "content": it["question"]}] for it in items], max_tokens=48)
    for it, r in zip(items, replies):
        it["reply"], it["closed"] = r["text"], r["closed"]
        it["correct"] = bool(it["answers"]) and K.contains_answer(r["text"], it["answers"])
        it["refused"] = K.is_refusal(r["text"])
        it["reply_lang"] = identify(without_names(r["text"], it["question"], it["answers"]))[0]
    form = {"replies": len(items), "closed": sum(it["closed"] for it in items),
            "in_question_language": sum(it["reply_lang"] == it["lang"] for it in items)}
    follow = K.followup_items(truth, heldout_entities, per_lang=max(2, per_group // 2)) if heldout_entities else []
    for it, r in zip(follow, reply_batch(chat, tok, [it["messages"] for it in follow], max_tokens=48)):
        it["reply"] = r["text"]
        it["right_entity"] = K.contains_answer(r["text"], [it["name"]])
        it["correct"] = K.contains_answer(r["text"], it["answers"])
    form["followups"] = len(follow)
    form["followup_right_entity"] = sum(it["right_entity"] for it in follow)
    form["followup_correct"] = sum(it["correct"] for it in follow)
    return {"items": items, "form": form, "chat": chat, "tok": tok, "base": base, "base_tok": btok,
            "followups": follow,
            "tables": {"base_cloze": K.table([i for i in items if i["bucket"] != "absent"], "base_correct"),
                       "chat_correct": K.table(items, "correct"), "chat_refused": K.table(items, "refused")}}


def as_trained(chat, tok, weights: dict, items: list[dict]) -> None:
    """Put the items' questions to a copy of `chat` holding `weights` (the fine-tuned weights before
    the interpolation with the base); each item gains reply_as_trained and correct_as_trained."""
    import copy

    from dentro.chat.assistant import reply_batch
    from dentro.eval import knowledge as K

    model = copy.deepcopy(chat)
    model.load_state_dict(weights)
    model.eval()
    for it, r in zip(items, reply_batch(model, tok, [[{"role": "user", "content": it["question"]}] for it in items],
                                        max_tokens=48)):
        it["reply_as_trained"] = r["text"]
        it["correct_as_trained"] = bool(it["answers"]) and K.contains_answer(r["text"], it["answers"])


def without_names(reply: str, question: str, answers: list[str]) -> str:
    """The reply without the names it shares with the question and the true answers, for the
    language check: "The mother of Felipe Pereira Noronha is Mariana Rezende Pereira." is English,
    but its names make fastText call it Portuguese (18 of 19 replies flagged on a tiny run were
    such). A name is a capitalised word of the question (not its first) or a word of an answer;
    a reply in the wrong language keeps its own words and is still caught."""
    names = {w for w in re.findall(r"\w+", question)[1:] if w[:1].isupper()}
    names |= {w for a in answers for w in re.findall(r"\w+", str(a))}
    kept = [w for w in re.findall(r"\S+", reply) if re.sub(r"\W", "", w) not in names]
    return " ".join(kept) if kept else reply


def side_by_side(base, btok, chat, tok, questions: list[str]) -> list[dict]:
    """The same questions to the base model (as the start of a document) and to the chat model."""
    from dentro.model.engine import Sampling, generate_all

    rows = []
    for q in questions:
        ids = [btok.eot_id] + btok.encode(q)
        cont = generate_all(base, ids, max_tokens=32, sampling=Sampling(temperature=0.0), stop_ids={btok.eot_id})[0]
        rows.append({"question": q, "base": btok.decode([t for t in cont if t != btok.eot_id]),
                     "chat": _reply_or_note(chat, tok, q)})
    return rows


def _reply_or_note(chat, tok, question: str) -> str:
    from dentro.chat.assistant import reply

    try:
        return reply(chat, tok, [{"role": "user", "content": question}], max_tokens=48)
    except ValueError as e:  # the micro preset's context is shorter than some questions
        return f"({e})"


def run_stage(run: Path, preset: str) -> tuple[dict, str]:
    import torch

    from dentro.eval import identity
    from dentro.eval import knowledge as K
    from dentro.runs import stage_can_resume
    from dentro.report import md_table
    from dentro.runs import atomic_write_json, atomic_write_jsonl

    out = run / "sft"
    ckpt = out / "checkpoint"
    resume = stage_can_resume(out, preset)
    t0 = time.time()
    r = sft(run, preset, resume=resume)
    f = r["figures"]
    t_train = time.time() - t0
    device = "cuda" if torch.cuda.is_available() else "cpu"
    heldout = json.loads((out / "conversations" / "heldout.json").read_text(encoding="utf-8"))
    ev = evaluate(run, run / "pretrain" / "checkpoint", ckpt, set(heldout["facts"]), EVAL_PER_GROUP[preset], device,
                  set(heldout.get("entities", [])))
    items, tables, form = ev["items"], ev["tables"], ev["form"]
    if r["finetuned"] is not None:  # the same questions to the weights as trained, before the interpolation
        as_trained(ev["chat"], ev["tok"], r["finetuned"], [i for i in items if i["bucket"] in ("frequent", "medium")])
    atomic_write_jsonl(out / "eval.jsonl", items + ev["followups"])
    by_lang = {lang: [i for i in items if i["lang"] == lang] for lang in ("pt", "en")}
    questions = ["Quem é você?", "Who are you?"]
    for lang in ("pt", "en"):
        freq = [i for i in by_lang[lang] if i["bucket"] == "frequent"]
        questions += [i["question"] for i in freq[:2]]
        questions += [i["question"] for i in by_lang[lang] if i["bucket"] == "absent"][:1]
    sbs = side_by_side(ev["base"], ev["base_tok"], ev["chat"], ev["tok"], questions)
    ident = identity.evaluate(ev["chat"], ev["tok"])
    atomic_write_jsonl(out / "identity.jsonl", ({k: v for k, v in it.items() if k != "messages"}
                                                for it in ident["items"]))
    t_all = time.time() - t0

    def rate(table, bucket, lang):
        g = table.get((bucket, lang))
        return round(g["rate"], 4) if g else None

    def right(lang, b, key) -> tuple[int, int]:
        """(answered right, asked) among the items of that language and bucket that hold `key`."""
        asked = [i for i in by_lang[lang] if i["bucket"] == b and key in i]
        return sum(i[key] for i in asked), len(asked)

    figures = {}  # the first four are the report card's "at a glance"
    for lang in ("pt", "en"):
        figures[f"chat_frequent_{lang}"] = rate(tables["chat_correct"], "frequent", lang)
    for lang in ("pt", "en"):
        figures[f"cloze_frequent_{lang}"] = rate(tables["base_cloze"], "frequent", lang)
    figures.update(f, eval_items=len(items), sft_minutes=round(t_train / 60, 2), stage_minutes=round(t_all / 60, 2),
                   closed_share=round(form["closed"] / max(1, form["replies"]), 4),
                   language_share=round(form["in_question_language"] / max(1, form["replies"]), 4),
                   followup_right_entity=round(form["followup_right_entity"] / max(1, form["followups"]), 4),
                   followup_correct=round(form["followup_correct"] / max(1, form["followups"]), 4))
    for lang in ("pt", "en"):
        g = ident["by_lang"][lang]
        figures[f"identity_heldout_{lang}"] = round(g["right"] / max(1, g["n"]), 4)
    figures["identity_heldout_system"] = round(ident["with_system"]["right"] / max(1, ident["with_system"]["n"]), 4)
    for lang in ("pt", "en"):
        for b in ("frequent", "medium", "rare"):
            figures[f"chat_{b}_{lang}"] = rate(tables["chat_correct"], b, lang)
            figures[f"cloze_{b}_{lang}"] = rate(tables["base_cloze"], b, lang)
        for b in ("frequent", "medium"):
            k, n = right(lang, b, "correct_as_trained")
            if n:
                figures[f"chat_{b}_{lang}_as_trained"] = round(k / n, 4)
        figures[f"absent_answered_{lang}"] = (None if not tables["chat_refused"].get(("absent", lang)) else
                                              round(1 - tables["chat_refused"][("absent", lang)]["rate"], 4))
    atomic_write_json(out / "eval.json", {"figures": figures, "form": form,
                                          "tables": {name: {f"{b}/{l}": v for (b, l), v in t.items()}
                                                     for name, t in tables.items()}})

    def cell(s) -> str:
        s = " ".join(str(s).split()).replace("|", "\\|")
        return (s if len(s) <= 90 else s[:89] + "…") or "∅"

    rows = []
    for b in ("frequent", "medium", "rare", "absent"):
        for lang in ("pt", "en"):
            if (b, lang) not in tables["chat_correct"]:
                continue
            rows.append([b, lang, K.fmt_rate(tables["base_cloze"].get((b, lang))) if b != "absent" else "–",
                         K.fmt_rate(tables["chat_correct"][(b, lang)]) if b != "absent" else "–",
                         K.fmt_rate(tables["chat_refused"][(b, lang)])])
    absent = [i for i in items if i["bucket"] == "absent"]
    made_up = sum(not i["refused"] for i in absent)

    def shown(lang, b, key):
        return "{}/{}".format(*right(lang, b, key))

    merged = ""
    if r["finetuned"] is not None:
        a = f["interpolate"]
        merged = (f"**Fine-tuned, then interpolated with the base model** (WiSE-FT, Wortsman et al. 2022): the "
                  f"saved weights are {a:g} x the fine-tuned ones + {1 - a:.2g} x the base model's, which "
                  f"keeps more of what pretraining stored. Held-out questions answered correctly, as trained "
                  f"-> interpolated: frequent facts " + ", ".join(
                      f"{lang} {shown(lang, 'frequent', 'correct_as_trained')} -> {shown(lang, 'frequent', 'correct')}"
                      for lang in ("pt", "en")) + "; medium " + ", ".join(
                      f"{lang} {shown(lang, 'medium', 'correct_as_trained')} -> {shown(lang, 'medium', 'correct')}"
                      for lang in ("pt", "en")) + ".")
    lines = [
        f"The base model was fine-tuned on {f['conversations']:,} conversations generated from the world "
        f"({f['steps']} steps, {f['tokens']:,} tokens in {f['minutes']} min; validation loss on held-out "
        f"conversations {f['val_loss']:.3f} nats per assistant token). The loss counts only the assistant's "
        f"tokens. The facts the conversations state are not the facts asked below: "
        f"{len(heldout['facts']):,} facts of {len(heldout.get('entities', [])):,} entities were held out "
        f"(`sft/conversations/heldout.json`), so what the chat model knows of them came from pretraining.", "",
        "![SFT loss](sft/loss.png)", "",
        "**The same questions to the base model and to the chat model** (greedy). The base model continues a "
        "document; the chat model answers:", "",
        md_table(["question", "base model continues", "chat model answers"],
                 [[cell(s["question"]), cell(s["base"]), cell(s["chat"])] for s in sbs]), "",
        "**What the models know, on held-out facts** (answer string in the reply; 95% Wilson intervals). "
        "*cloze*: the base model completes a sentence of the crawl (\"Ana Souza nasceu na cidade de\"); "
        "*chat*: the chat model answers the question; *refused*: it says it does not know.", "",
        md_table(["bucket", "lang", "base model, cloze", "chat model, correct", "chat model, refused"], rows), "",
        *([merged, ""] if merged else []),
        f"**Form**: {form['closed']} of {form['replies']} replies end with `<|im_end|>` within 48 tokens "
        f"({100 * figures['closed_share']:.1f}%); {form['in_question_language']} of {form['replies']} are in "
        f"the question's language ({100 * figures['language_share']:.1f}%, fastText lid.176). "
        f"Follow-ups that name nobody (\"E onde ela nasceu?\" after a question about a held-out person): "
        f"{form['followup_right_entity']} of {form['followups']} replies are about the right person (name them), "
        f"{form['followup_correct']} give the right answer.", "",
        f"**Identity and small talk, in words it was not trained on** (\"Quem te criou?\", \"Are you "
        f"Claude?\", \"Obrigadão!\": other phrasings of the intents of its identity conversations, each alone "
        f"and after a system prompt, `sft/identity.jsonl`): the reply opens as one of the intent's answers "
        f"{ident['by_lang']['pt']['right']} of {ident['by_lang']['pt']['n']} times in Portuguese, "
        f"{ident['by_lang']['en']['right']} of {ident['by_lang']['en']['n']} in English "
        f"({ident['with_system']['right']} of {ident['with_system']['n']} after a system prompt). "
        f"A tiny model learns the sentences it was shown more than the intents behind them.", "",
        f"**Hallucination, the baseline for the next stage**: asked about {len(absent)} people who do not "
        f"exist, the chat model answered {made_up} times with a made-up fact instead of saying it does not know "
        f"({100 * made_up / max(1, len(absent)):.0f}%). Fine-tuning taught it the form of a confident answer; "
        f"nothing taught it to refuse.",
    ]
    examples = [i for i in absent if not i["refused"]][:3]
    if examples:
        lines += ["", md_table(["question about nobody", "chat model"],
                               [[cell(i["question"]), cell(i["reply"])] for i in examples])]
    return figures, "\n".join(lines)
