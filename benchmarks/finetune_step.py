"""A fine-tuning step on CPU, side by side: before and after its two speed-ups, and each alone.

    .venv/bin/python benchmarks/finetune_step.py RUN [--batches 12] [--rounds 3]

RUN is a run folder after `dentro factuality` (its sft/ and factuality/ conversations, its
pretraining tokens and its SFT checkpoint). The two speed-ups of dentro.model.gpt:
  head where trained   fine-tuning trains the assistant's tokens only (the other targets are -1):
                       only those positions go through the lm_head (width x vocabulary) and its
                       softmax; off, the head runs over every position (`return_logits=True`)
  matmul attention     eager training on CPU computes causal attention as two matmuls and a
                       softmax (matmul_attention); off (MATMUL_ATTENTION_MAX_T = 0), SDPA's
                       CPU flash kernel
Variants: "before" (neither), "head only", "after" (both). All get the same batches, in
alternation, forward and backward under bf16 autocast as the training loop runs on CPU (the
optimiser step, the same for all, is left out). Two sets of rows, built as the stages build them
(dentro.train.sft's loader, 8 rows of 256 tokens, 30% of the rows pretraining text with every
token trained):

  sft          the SFT stage's training conversations (sft/conversations/train.jsonl)
  tools phase  stage 6's tool conversations (TOOL_KINDS) and 300 of its other ones

Prints per set: the share of positions trained, the median milliseconds per step of each variant,
the ratios to "before", and the largest difference in loss and gradient between "before" and
"after" on the first batch (the same maths: bf16 rounding only).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rows_for(run: Path, tok, name: str, seq_len: int):
    from dentro.commands.factuality import TOOL_KINDS
    from dentro.runs import read_jsonl
    from dentro.train.sft import ConversationLoader, replay_rows, tokenize_conversations

    if name == "sft":
        convs = read_jsonl(run / "sft" / "conversations" / "train.jsonl")
    else:
        mix = read_jsonl(run / "factuality" / "conversations" / "train.jsonl")
        tools = [c for c in mix if c.get("kind") in TOOL_KINDS]
        others = [c for c in mix if c.get("kind") not in TOOL_KINDS]
        convs = tools + random.Random(0).sample(others, min(300, len(others)))
    rows, stats = tokenize_conversations(tok, convs, seq_len)
    n_replay = round(stats["tokens"] / (seq_len + 1) * 0.3 / 0.7)
    rows += replay_rows(run / "pretrain" / "tokens", n_replay, seq_len)
    return ConversationLoader(rows, 8, seq_len, tok.eot_id, seed=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--batches", type=int, default=12, help="batches per round (each timed with every variant)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import torch

    from dentro.model.checkpoint import load_checkpoint

    if not (args.run / "factuality" / "conversations" / "train.jsonl").is_file():
        print(f"{args.run} has no factuality/conversations/train.jsonl: run `dentro speedrun` first")
        return
    model, tok, _ = load_checkpoint(args.run / "sft" / "checkpoint", load_train_state=False)
    model.train()
    seq_len = model.config.max_position_embeddings
    out = {"run": str(args.run), "torch_threads": torch.get_num_threads(), "sets": {}}

    import dentro.model.gpt as gpt

    # variant -> (the head over every position, MATMUL_ATTENTION_MAX_T)
    variants = {"before": (True, 0), "head only": (False, 0), "after": (False, gpt.MATMUL_ATTENTION_MAX_T)}

    def step(x, y, variant: str):
        everywhere, gpt.MATMUL_ATTENTION_MAX_T = variants[variant]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(x, y, return_logits=True)[0] if everywhere else model(x, y)
        loss.backward()
        return loss

    for name in ("sft", "tools phase"):
        loader = rows_for(args.run, tok, name, seq_len)
        batches = [loader.next_batch() for _ in range(args.batches)]
        trained = sum(int((y != -1).sum()) for _, y in batches) / sum(y.numel() for _, y in batches)
        x, y = batches[0]
        grads = []
        for variant in ("before", "after"):
            model.zero_grad(set_to_none=True)
            loss = step(x, y, variant)
            grads.append((loss.item(), [p.grad.clone() for p in model.parameters()]))
        loss_diff = abs(grads[0][0] - grads[1][0])
        grad_diff = max(float((a - b).abs().max()) for a, b in zip(grads[0][1], grads[1][1]))
        times = {v: [] for v in variants}
        for _ in range(args.rounds):
            for x, y in batches:
                for variant in variants:
                    model.zero_grad(set_to_none=True)
                    t = time.perf_counter()
                    step(x, y, variant)
                    times[variant].append(time.perf_counter() - t)
        med = {k: statistics.median(v[2:]) * 1000 for k, v in times.items()}
        res = {"trained_share": round(trained, 3), **{f"ms_{k.replace(' ', '_')}": round(v, 1) for k, v in med.items()},
               "speedup_head_only": round(med["before"] / med["head only"], 3),
               "speedup_after": round(med["before"] / med["after"], 3),
               "loss_diff": loss_diff, "max_grad_diff": grad_diff}
        out["sets"][name] = res
        print(f"{name}: {trained:.1%} of positions trained; ms per forward+backward: before {med['before']:.0f}, "
              f"head only {med['head only']:.0f} ({res['speedup_head_only']:.2f}x), after {med['after']:.0f} "
              f"({res['speedup_after']:.2f}x); before/after: loss differs by {loss_diff:.2e}, gradients by "
              f"at most {grad_diff:.2e}", flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
