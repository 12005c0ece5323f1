"""Fine-tuning steps with the output head only where a target is, against the head everywhere.

    .venv/bin/python benchmarks/finetune_head.py RUN [--batches 12] [--rounds 3]

RUN is a run folder after `dentro factuality` (its sft/ and factuality/ conversations, its
pretraining tokens and its SFT checkpoint). Fine-tuning trains the assistant's tokens only: the
other targets are -1. GPT.forward then puts only the trained positions through the final norm's
output, the lm_head (width x vocabulary) and the softmax; the baseline is the same forward with the
head over every position (`return_logits=True`, the path before). Both get the same batches, in
alternation, forward and backward under bf16 autocast as the training loop runs on CPU (the
optimiser step, the same for both, is left out). Two sets of rows, built as the stages build them
(dentro.train.sft's loader, 8 rows of 256 tokens, 30% of the rows pretraining text with every
token trained):

  sft          the SFT stage's training conversations (sft/conversations/train.jsonl)
  tools phase  stage 6's tool conversations (TOOL_KINDS) and 300 of its other ones

Prints per set: the share of positions trained, the median milliseconds per step of each path,
their ratio, and the largest difference in loss and gradient between the two on the first batch
(the two must agree: the same mean over the same targets).
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
    ap.add_argument("--batches", type=int, default=12, help="batches per round (each timed with both paths)")
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

    def step(x, y, head_everywhere: bool):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(x, y, return_logits=True)[0] if head_everywhere else model(x, y)
        loss.backward()
        return loss

    for name in ("sft", "tools phase"):
        loader = rows_for(args.run, tok, name, seq_len)
        batches = [loader.next_batch() for _ in range(args.batches)]
        trained = sum(int((y != -1).sum()) for _, y in batches) / sum(y.numel() for _, y in batches)
        x, y = batches[0]
        grads = []
        for everywhere in (True, False):
            model.zero_grad(set_to_none=True)
            loss = step(x, y, everywhere)
            grads.append((loss.item(), [p.grad.clone() for p in model.parameters()]))
        loss_diff = abs(grads[0][0] - grads[1][0])
        grad_diff = max(float((a - b).abs().max()) for a, b in zip(grads[0][1], grads[1][1]))
        times = {"head everywhere": [], "head where trained": []}
        for _ in range(args.rounds):
            for x, y in batches:
                for label, everywhere in (("head everywhere", True), ("head where trained", False)):
                    model.zero_grad(set_to_none=True)
                    t = time.perf_counter()
                    step(x, y, everywhere)
                    times[label].append(time.perf_counter() - t)
        med = {k: statistics.median(v[2:]) * 1000 for k, v in times.items()}
        res = {"trained_share": round(trained, 3), "ms_everywhere": round(med["head everywhere"], 1),
               "ms_trained": round(med["head where trained"], 1),
               "speedup": round(med["head everywhere"] / med["head where trained"], 3),
               "loss_diff": loss_diff, "max_grad_diff": grad_diff}
        out["sets"][name] = res
        print(f"{name}: {trained:.1%} of positions trained; {med['head everywhere']:.0f} ms -> "
              f"{med['head where trained']:.0f} ms per forward+backward ({res['speedup']:.2f}x); "
              f"loss differs by {loss_diff:.2e}, gradients by at most {grad_diff:.2e}", flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
