"""Standard benchmarks from local files, scored the way lm-evaluation-harness scores them.

Each task reads the file format its authors published (no hub: the user passes a path):

    hellaswag  JSONL, one item a line: ctx (or ctx_a + ctx_b), endings [4], label, and optionally
               activity_label. Context "{activity_label}: {ctx}", cleaned of WikiHow's "[title]"
               marks as lm-eval's hellaswag does; options: the endings. (Zellers et al. 2019)
    arc        JSONL of the AI2 release: question {stem, choices [{text, label}]}, answerKey
               (or the hub's flat question / choices {text, label}). "Question: {stem}\\nAnswer:"
               with the choice texts as options (lm-eval's arc_easy / arc_challenge).
    mmlu       CSV per subject without a header: question, A, B, C, D, answer letter; a folder
               of them (data/test/*_test.csv) or one file. lm-eval's default prompt: a subject
               line, the question, the four lettered choices, "Answer:"; the options are the
               letters " A" ... " D". (Hendrycks et al. 2021)
    gsm8k      JSONL: question, answer whose last line is "#### N". Greedy generation, right when
               the reply's final number equals N (dentro.eval.math's verifier; lm-eval calls
               this "flexible-extract"). Base models get "Question: {q}\\nAnswer:" and their
               reply is cut at the first blank line; chat models get the question as a user turn.

Multiple choice is scored without generating anything: for each option, the sum of
log p(option tokens | context), one forward pass over context + option. The model's answer
is the option with the highest sum (acc), or with the highest sum per character of the
option text (acc_norm: lm-eval's length normalisation, which stops long options from losing
only for being long). Context and option are split into tokens as lm-eval's _encode_pair
does: the whole string is encoded, and the option's tokens are those after the context's.

Batching: all (item, option) rows are sorted by length and run through the model together,
right-padded. Padding on the right changes nothing: a causal model never looks ahead, so the
real tokens' logits are those of each row alone (loglikelihood_one is the unbatched reference,
tests/test_eval_tasks.py checks they agree).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from dentro.errors import UserError
from dentro.eval.stats import centred, wilson

TASKS = ("hellaswag", "arc", "mmlu", "gsm8k")


@dataclass
class Choice:
    """A multiple-choice item: the answer is options[label], each option written after the
    context with delimiter between them."""
    id: str
    context: str
    options: list[str]
    label: int
    delimiter: str = " "


@dataclass
class Problem:
    """A question with a numeric answer."""
    id: str
    question: str
    answer: float


@dataclass
class Loaded:
    items: list
    bad: list[str] = field(default_factory=list)  # "file:line: why" for each skipped record


# ---- readers -----------------------------------------------------------------------------------

def _jsonl(path: Path, parse, out: Loaded) -> None:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.items.append(parse(json.loads(line), f"{path.stem}-{n}"))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            out.bad.append(f"{path.name}:{n}: {type(e).__name__}: {e}")


def _hellaswag_clean(text: str) -> str:
    # lm-eval tasks/hellaswag/utils.py: WikiHow items carry "[title]", "[step]" marks
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def parse_hellaswag(d: dict, fallback_id: str) -> Choice:
    ctx = d["ctx_a"] + " " + d["ctx_b"].capitalize() if "ctx_a" in d else d["ctx"]
    if d.get("activity_label"):
        ctx = f"{d['activity_label']}: {ctx}"
    label = int(d["label"])  # the published test split has no labels: "" -> ValueError, skipped
    endings = [_hellaswag_clean(e) for e in d["endings"]]
    if not 0 <= label < len(endings):
        raise ValueError(f"label {label} is not one of the {len(endings)} endings")
    return Choice(str(d.get("ind", fallback_id)), _hellaswag_clean(ctx), endings, label)


def parse_arc(d: dict, fallback_id: str) -> Choice:
    q = d["question"]
    if isinstance(q, dict):  # the AI2 release: question {stem, choices [{text, label}]}
        stem, texts, labels = q["stem"], [c["text"] for c in q["choices"]], [c["label"] for c in q["choices"]]
    else:  # the hub's flat rows: question, choices {text: [...], label: [...]}
        stem, texts, labels = q, list(d["choices"]["text"]), list(d["choices"]["label"])
    key = str(d["answerKey"]).strip()
    return Choice(str(d.get("id", fallback_id)), f"Question: {stem}\nAnswer:", texts, labels.index(key))


def parse_gsm8k(d: dict, fallback_id: str) -> Problem:
    from dentro.eval.math import parse_number

    final = d["answer"].rsplit("####", 1)
    if len(final) != 2:
        raise ValueError("the answer has no '#### N' line")
    value = parse_number(final[1].strip())
    if value is None:
        raise ValueError(f"the final answer {final[1].strip()!r} is not a number")
    return Problem(str(d.get("id", fallback_id)), d["question"], value)


def _mmlu_subject(path: Path) -> str:
    return re.sub(r"_(test|val|dev)$", "", path.stem).replace("_", " ")


def read_mmlu(path: Path, out: Loaded) -> None:
    subject = _mmlu_subject(path)
    head = f"The following are multiple choice questions (with answers) about {subject}.\n\n"
    with open(path, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if len(row) != 6 or row[5].strip() not in ("A", "B", "C", "D"):
                out.bad.append(f"{path.name}:{n}: expected question, A, B, C, D, answer letter; got {len(row)} fields")
                continue
            q, *choices, ans = row
            text = head + q.strip() + "".join(f"\n{L}. {c}" for L, c in zip("ABCD", choices)) + "\nAnswer:"
            out.items.append(Choice(f"{path.stem}-{n}", text, list("ABCD"), "ABCD".index(ans.strip())))


def load_task(task: str, path, limit: int | None = None) -> Loaded:
    """The items of a task from a local file (a folder of CSV files for MMLU), the first `limit`
    of them; bad records are skipped and listed in .bad."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"--data {path}: no such file or folder")
    out = Loaded([])
    if task == "mmlu":
        files = (sorted(path.rglob("*_test.csv")) or sorted(path.rglob("*.csv"))) if path.is_dir() else [path]
        if not files:
            raise UserError(f"--data {path}: no MMLU CSV files (subject_test.csv) in this folder")
        for f in files:
            read_mmlu(f, out)
    elif task in ("hellaswag", "arc", "gsm8k"):
        if path.is_dir():
            raise UserError(f"--data {path}: {task} reads one JSONL file, not a folder")
        _jsonl(path, {"hellaswag": parse_hellaswag, "arc": parse_arc, "gsm8k": parse_gsm8k}[task], out)
    else:
        raise UserError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    if limit is not None:
        out.items = out.items[:limit]
    if not out.items:
        why = f" ({len(out.bad)} bad records, the first: {out.bad[0]})" if out.bad else ""
        raise UserError(f"--data {path}: no {task} items read{why}")
    return out


# ---- log-likelihoods -----------------------------------------------------------------------------

def encode_pair(tok, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) as lm-eval's _encode_pair: the context's trailing whitespace
    (spaces, newlines, tabs: str.rstrip()) moves to the continuation; the continuation's ids are
    those of the whole string after as many tokens as the context alone has. Where a token of the
    whole string straddles the boundary (the split pattern keeps "?" and a following "\n"
    together), the pair is not the whole string's tokens: lm-eval pairs the context's own tokens
    with that tail, and so does this, for the same scores (tests/test_lmeval_interop.py compares)."""
    n = len(context) - len(context.rstrip())
    if n:
        context, continuation = context[:-n], context[-n:] + continuation
    ctx = tok.encode(context)
    return ctx, tok.encode(context + continuation)[len(ctx):]


def _window(ctx: list[int], cont: list[int], max_len: int) -> tuple[list[int], int]:
    """The model input (ctx + cont)[:-1], cut from the left to max_len, and the index in it of
    the first position whose logits predict cont[0]."""
    inp = (ctx + cont)[-(max_len + 1):][:-1]
    return inp, len(inp) - len(cont)


def loglikelihood_one(model, ctx: list[int], cont: list[int]) -> float:
    """The slow reference: sum of log p(cont | ctx) from one unpadded forward pass."""
    import torch

    inp, start = _window(ctx, cont, model.config.max_position_embeddings)
    if start < 0:
        raise ValueError("the continuation alone is longer than the model's context window")
    device = model.embed_tokens.weight.device
    with torch.no_grad():
        logits = model(torch.tensor([inp], device=device))[0]  # (T, V)
    logp = logits[start:].log_softmax(-1)  # (len(cont), V)
    return float(logp.gather(1, torch.tensor(cont, device=device)[:, None]).sum())


def loglikelihoods(model, rows: list[tuple[list[int], list[int]]], *, batch_tokens: int = 8192) -> list[float]:
    """sum log p(cont | ctx) for every (ctx, cont) row, in input order. Rows run longest first in
    right-padded batches of at most batch_tokens positions (padding included)."""
    import torch

    max_len = model.config.max_position_embeddings
    device = model.embed_tokens.weight.device
    windows = [_window(c, o, max_len) for c, o in rows]
    if any(s < 0 for _, s in windows):
        raise ValueError("a continuation alone is longer than the model's context window")
    order = sorted(range(len(rows)), key=lambda i: -len(windows[i][0]))
    out = [0.0] * len(rows)
    k = 0
    while k < len(order):
        T = len(windows[order[k]][0])  # the longest row of this batch sets its width
        chunk = order[k:k + max(1, batch_tokens // T)]
        k += len(chunk)
        idx = torch.zeros(len(chunk), T, dtype=torch.long)  # (B, T), right-padded with id 0
        b_of, t_of, targets = [], [], []
        for b, i in enumerate(chunk):
            inp, start = windows[i]
            idx[b, :len(inp)] = torch.tensor(inp)
            cont = rows[i][1]
            b_of += [b] * len(cont)
            t_of += range(start, start + len(cont))
            targets += cont
        with torch.no_grad():
            logits = model(idx.to(device))  # (B, T, V)
            picked = logits[torch.tensor(b_of, device=device), torch.tensor(t_of, device=device)]  # (N, V)
            lp = picked.log_softmax(-1).gather(1, torch.tensor(targets, device=device)[:, None])[:, 0]  # (N,)
        sums = torch.zeros(len(chunk), dtype=torch.float64).index_add_(0, torch.tensor(b_of), lp.double().cpu())
        for b, i in enumerate(chunk):
            out[i] = float(sums[b])
    return out


def score_choices(model, tok, items: list[Choice], *, prefix: list[int] | None = None,
                  batch_tokens: int = 8192, one_at_a_time: bool = False) -> list[dict]:
    """Per item: {"id", "label", "loglik" per option, "pred" (argmax of the sums), "pred_norm"
    (argmax per character), "correct", "correct_norm", "options"}. prefix: ids before every
    context (default: <|endoftext|>, the document start dentro models were trained after)."""
    prefix = [tok.eot_id] if prefix is None else prefix
    rows, owner = [], []
    for n, it in enumerate(items):
        for o in it.options:
            ctx, cont = encode_pair(tok, it.context, it.delimiter + o)
            rows.append((prefix + ctx, cont))
            owner.append(n)
    lls = [loglikelihood_one(model, c, o) for c, o in rows] if one_at_a_time else \
        loglikelihoods(model, rows, batch_tokens=batch_tokens)
    per = [[] for _ in items]
    for n, ll in zip(owner, lls):
        per[n].append(ll)
    out = []
    for it, ll in zip(items, per):
        norm = [v / max(1, len(o)) for v, o in zip(ll, it.options)]  # lm-eval acc_norm: per character of the option
        pred, pred_norm = max(range(len(ll)), key=ll.__getitem__), max(range(len(ll)), key=norm.__getitem__)
        out.append({"id": it.id, "label": it.label, "loglik": ll, "pred": pred, "pred_norm": pred_norm,
                    "correct": pred == it.label, "correct_norm": pred_norm == it.label, "options": len(ll)})
    return out


# ---- generation --------------------------------------------------------------------------------

def solve_problems(model, tok, problems: list[Problem], *, chat: bool, max_tokens: int = 256,
                   batch_size: int = 32) -> list[dict]:
    """Greedy answers: per problem {"id", "answer", "reply", "pred", "correct"}."""
    from dentro.eval.math import extract_answer, is_correct
    from dentro.model.engine import Sampling, generate_batch_all

    if chat:
        from dentro.chat.assistant import reply_batch

        rs = reply_batch(model, tok, [[{"role": "user", "content": p.question}] for p in problems],
                         max_tokens=max_tokens, batch_size=batch_size)
        texts = [r["text"] for r in rs]
    else:
        context = model.config.max_position_embeddings
        prompts = [[tok.eot_id] + tok.encode(f"Question: {p.question}\nAnswer:") for p in problems]
        texts = [""] * len(problems)
        fits = sorted((i for i, p in enumerate(prompts) if len(p) < context), key=lambda i: len(prompts[i]))
        for k in range(0, len(fits), batch_size):
            chunk = fits[k:k + batch_size]
            rows = generate_batch_all(model, [prompts[i] for i in chunk], max_tokens=max_tokens,
                                      sampling=Sampling(temperature=0.0), stop_ids={tok.eot_id})
            for i, r in zip(chunk, rows):
                text = tok.decode([t for t in r if t != tok.eot_id])
                texts[i] = re.split(r"\n\s*\n|\nQuestion:", text, maxsplit=1)[0]  # one answer, not the next item
    return [{"id": p.id, "answer": p.answer, "reply": t, "pred": extract_answer(t), "correct": is_correct(t, p.answer)}
            for p, t in zip(problems, texts)]


# ---- results -----------------------------------------------------------------------------------

def summarize(records: list[dict], chance: float) -> dict:
    """accuracy (and acc_norm when scored) with 95% Wilson intervals and centred accuracy."""
    n = len(records)
    out = {"n": n, "chance": round(chance, 6)}
    for key, name in (("correct", "accuracy"), ("correct_norm", "acc_norm")):
        if not records or key not in records[0]:
            continue
        k = sum(bool(r[key]) for r in records)
        acc = k / n if n else 0.0
        out[name] = acc
        out[f"{name}_ci"] = list(wilson(k, n))
        out[f"{name}_centred"] = centred(acc, chance)
    return out


def chance_of(items: list) -> float:
    """The accuracy of guessing uniformly: mean 1/options for multiple choice, 0 for open answers."""
    mc = [it for it in items if isinstance(it, Choice)]
    return sum(1 / len(it.options) for it in mc) / len(mc) if mc else 0.0


def evaluate(model, tok, task: str, items: list, *, chat: bool = False, batch_tokens: int = 8192,
             max_tokens: int = 256, prefix: list[int] | None = None) -> dict:
    """{"task", summary figures..., "items": per-item records} for one task's items."""
    if task == "gsm8k":
        records = solve_problems(model, tok, items, chat=chat, max_tokens=max_tokens)
    else:
        records = score_choices(model, tok, items, prefix=prefix, batch_tokens=batch_tokens)
    return {"task": task, **summarize(records, chance_of(items)), "items": records}


# ---- the tiny world --------------------------------------------------------------------------------

def evaluate_world(model, tok, truth: Path, heldout_facts: set[str] | None, *, chat: bool,
                   per_group: int | dict | None = 80) -> dict:
    """The world's held-out questions (dentro.eval.knowledge): a base model completes each fact's
    cloze sentence, a chat model answers the question. accuracy counts facts known (the absent
    bucket aside: no fact to know); refusal_absent, the chat model's "I don't know" to questions
    about people who do not exist. Per (bucket, language) tables beside."""
    from dentro.chat.assistant import reply_batch
    from dentro.eval import knowledge as K

    items = K.load_items(truth, heldout_facts, per_group=per_group)
    if not items:
        raise UserError(f"no world questions in {truth / 'questions'}; run `dentro world` first")
    if chat:
        for it, r in zip(items, reply_batch(model, tok, [[{"role": "user", "content": it["question"]}]
                                                         for it in items], max_tokens=48)):
            it["reply"] = r["text"]
            it["correct"] = bool(it["answers"]) and K.contains_answer(r["text"], it["answers"])
            it["refused"] = K.is_refusal(r["text"])
    else:
        items = [it for it in items if it["bucket"] != "absent"]  # a cloze needs a fact to complete
        prompts = K.cloze_prompts(truth, items)
        for it, p, c in zip(items, prompts, K.run_cloze(model, tok, prompts)):
            it["cloze_prompt"], it["reply"] = p, c
            it["correct"] = bool(p) and K.contains_answer(c, it["answers"])
    known = [it for it in items if it["bucket"] != "absent"]
    out = {"task": "world", "mode": "chat" if chat else "cloze", **summarize(known, 0.0)}
    absent = [it for it in items if it["bucket"] == "absent"]
    if chat and absent:
        k = sum(it["refused"] for it in absent)
        out.update(refusal_absent=k / len(absent), refusal_absent_ci=list(wilson(k, len(absent))),
                   n_absent=len(absent))
    out["groups"] = {f"{b}/{lang}": g for (b, lang), g in K.table(items, "correct").items()}
    out["items"] = items
    return out
