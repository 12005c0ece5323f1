"""Does the digit grouping of the split pattern change how well a small model learns arithmetic?

    .venv/bin/python benchmarks/tokenizer_arithmetic.py            # ~10 min on 1 core
    .venv/bin/python benchmarks/tokenizer_arithmetic.py --smoke    # seconds (the tests run it)

Issue 13 switched dentro's split pattern from numbers in groups of at most 2 digits to single
digits (Qwen2's pattern, which llama.cpp implements); Llama 3's groups of 1-3 are the other
pattern llama.cpp has. Liu & Low 2023 (arXiv:2305.14201) credit digit-by-digit tokens for
LLaMA-based Goat's multi-digit addition. This measures it at dentro's scale, with nothing else
changing between the arms:

    data       addition and subtraction of two random numbers of 1 to 4 digits, as text
               "1234+567=1801"; the held-out problems are pairs never trained on
    tokenizer  trained per pattern on the same training text, same vocabulary size (1,024), so
               {1,3} has room for some 3-digit groups and not others, as real vocabularies do
    model      dentro's GPT (depth 2, width 128), Muon + AdamW as in pretraining; the loss on the
               answer's tokens only; the same problems in the same order for every arm (equal
               data; single digits spend more tokens, hence compute, on each problem)
    score      greedy exact match of the answer on held-out problems, by number of digits of
               the larger operand; mean over seeds
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DENTRO_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from dentro.model.gpt import GPT, ModelConfig  # noqa: E402
from dentro.tokenizer.bpe import SPLIT_PATTERN, train_tokenizer  # noqa: E402
from dentro.train.loop import TrainConfig, build_optimizers, lr_multiplier  # noqa: E402

# The two other groupings, written into dentro's pattern (which splits single digits, \p{N}).
PATTERNS = {"{1} (qwen2, dentro)": SPLIT_PATTERN,
            "{1,2} (dentro before)": SPLIT_PATTERN.replace(r"\p{L}+|\p{N}|", r"\p{L}+|\p{N}{1,2}|"),
            "{1,3} (llama3)": SPLIT_PATTERN.replace(r"\p{L}+|\p{N}|", r"\p{L}+|\p{N}{1,3}|")}
assert len(set(PATTERNS.values())) == 3


def problems(n: int, rng: random.Random, max_digits: int) -> list[tuple[str, str]]:
    """n (prompt, answer) pairs "a+b=" / "a-b=" with operands of 1..max_digits digits (the number
    of digits drawn uniformly, so that long numbers are as common as short ones)."""
    out = []
    for _ in range(n):
        a, b = (rng.randrange(10 ** (d - 1) if d > 1 else 0, 10 ** d)
                for d in (rng.randint(1, max_digits), rng.randint(1, max_digits)))
        if rng.random() < 0.5:
            out.append((f"{a}+{b}=", str(a + b)))
        else:
            a, b = max(a, b), min(a, b)  # no negative answers
            out.append((f"{a}-{b}=", str(a - b)))
    return out


def digits_of(prompt: str) -> int:
    return max(len(x) for x in prompt.rstrip("=").replace("-", "+").split("+"))


def rows(tok, pairs, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) (N, T): <|endoftext|> prompt answer \\n, targets -1 except on the answer and its \\n."""
    eot = tok.special_id("<|endoftext|>")
    xs, ys = [], []
    for prompt, answer in pairs:
        p, a = [eot] + tok.encode(prompt), tok.encode(answer + "\n")
        ids = p + a
        assert len(ids) <= T + 1, f"a problem of {len(ids)} tokens does not fit {T + 1}"
        x, y = ids[:-1], [-1] * (len(p) - 1) + a
        xs.append(x + [0] * (T - len(x)))
        ys.append(y + [-1] * (T - len(y)))
    return torch.tensor(xs), torch.tensor(ys)


@torch.no_grad()
def exact_match(model, tok, pairs, max_new: int) -> list[bool]:
    """Greedy answers of all problems at once, left-padded into one batch per prompt length."""
    eot, nl = tok.special_id("<|endoftext|>"), tok.encode("\n")[0]
    by_len: dict[int, list[int]] = {}
    enc = [[eot] + tok.encode(p) for p, _ in pairs]
    for i, ids in enumerate(enc):
        by_len.setdefault(len(ids), []).append(i)
    ok = [False] * len(pairs)
    model.eval()
    for _, idx in by_len.items():
        x = torch.tensor([enc[i] for i in idx])
        out = [[] for _ in idx]
        for _ in range(max_new):
            nxt = model(x)[:, -1].argmax(-1)
            x = torch.cat([x, nxt[:, None]], dim=1)
            for r, t in enumerate(nxt.tolist()):
                out[r].append(t)
        for r, i in enumerate(idx):
            gen = out[r][:out[r].index(nl)] if nl in out[r] else None
            ok[i] = gen is not None and tok.decode(gen) == pairs[i][1]
    model.train()
    return ok


def run_arm(pattern: str, train_text: str, train_pairs, test_pairs, args, seed: int) -> dict:
    tok = train_tokenizer([train_text], args.vocab, pattern=pattern)
    T = max(len(tok.encode(p + a + "\n")) + 1 for p, a in train_pairs + test_pairs)
    x, y = rows(tok, train_pairs, T)
    torch.manual_seed(seed)
    model = GPT(ModelConfig.from_depth(args.depth, tok.vocab_size, T))
    cfg = TrainConfig(max_steps=args.steps, warmup_steps=20, precision="fp32")
    opts = build_optimizers(model, cfg)
    for o in opts:
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    t0, tokens = time.perf_counter(), 0
    for step in range(args.steps):
        mult = lr_multiplier(step, step / args.steps, cfg)
        for o in opts:
            for g in o.param_groups:
                g["lr"] = g["initial_lr"] * mult
        i = order[(step * args.batch + torch.arange(args.batch)) % len(x)]
        loss = model(x[i], y[i])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for o in opts:
            o.step()
            o.zero_grad(set_to_none=True)
        tokens += int((y[i] != -1).sum()) + int((x[i] != 0).sum())
    seconds = time.perf_counter() - t0
    max_new = max(len(tok.encode(a + "\n")) for _, a in test_pairs) + 1
    ok = exact_match(model, tok, test_pairs, max_new)
    by_d: dict[int, list[bool]] = {}
    for (p, _), good in zip(test_pairs, ok):
        by_d.setdefault(digits_of(p), []).append(good)
    answer_tokens = statistics.mean(len(tok.encode(a)) for _, a in test_pairs)
    return {"acc": sum(ok) / len(ok), "by_digits": {d: sum(v) / len(v) for d, v in sorted(by_d.items())},
            "answer_tokens": answer_tokens, "seconds": seconds, "final_loss": loss.item(), "vocab": tok.vocab_size}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--train", type=int, default=60000, help="training problems")
    ap.add_argument("--test", type=int, default=600, help="held-out problems")
    ap.add_argument("--digits", type=int, default=4, help="operands of 1..DIGITS digits")
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="seconds: 40 steps, 2-digit numbers, one seed")
    args = ap.parse_args(argv)
    if args.smoke:
        args.steps, args.train, args.test, args.digits, args.depth, args.vocab, args.seeds = 40, 2000, 60, 2, 1, 400, "0"
    torch.set_num_threads(args.threads)
    rng = random.Random(1234)
    train_pairs = problems(args.train, rng, args.digits)
    seen = {p for p, _ in train_pairs}
    test_pairs = [q for q in problems(args.test * 3, random.Random(99), args.digits) if q[0] not in seen][:args.test]
    train_text = "\n".join(p + a for p, a in train_pairs)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{len(train_pairs):,} training problems, {len(test_pairs)} held-out ones (none trained on); operands of "
          f"1-{args.digits} digits; depth {args.depth}, vocabulary {args.vocab}, {args.steps} steps x {args.batch} "
          f"problems; seeds {seeds}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)", flush=True)
    results = {}
    for name, pattern in PATTERNS.items():
        arms = [run_arm(pattern, train_text, train_pairs, test_pairs, args, s) for s in seeds]
        results[name] = arms
        print(f"{name}: exact match {[round(a['acc'], 3) for a in arms]} "
              f"({statistics.mean(a['seconds'] for a in arms):.0f} s per run)", flush=True)
    digits = sorted(results[next(iter(results))][0]["by_digits"])
    print(f"\nheld-out exact match, mean of {len(seeds)} seed(s) (by digits of the larger operand):")
    print("| split pattern | answer tokens (mean) | all | " + " | ".join(f"{d} digits" for d in digits) + " | s/run |")
    print("|---|---|---|" + "---|" * len(digits) + "---|")
    for name, arms in results.items():
        m = lambda f: statistics.mean(f(a) for a in arms)  # noqa: E731
        print(f"| {name} | {m(lambda a: a['answer_tokens']):.2f} | **{100 * m(lambda a: a['acc']):.1f}%** | "
              + " | ".join(f"{100 * m(lambda a: a['by_digits'][d]):.1f}%" for d in digits)
              + f" | {m(lambda a: a['seconds']):.0f} |")
    return results


if __name__ == "__main__":
    main()
