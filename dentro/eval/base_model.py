"""The base model's properties, measured: what the course says about a pretrained model, checked
on dentro's own (as propriedades do modelo base).

    in-context learning   tasks whose answer is only in the prompt, scored at 0, 1, 2, 4, 8
                          examples: invented names -> invented codes ("Tavilo = KX-47"), an
                          invented pt -> en lexicon ("brelo em inglês: house"); for k >= 1 the
                          question repeats one of the shown keys (k = 0 is the floor: nothing
                          to copy). Plus world questions the model saw stated as prose, asked
                          in a Q/A form it never saw ("Q: In which country is X?\\nA:"), with
                          k other solved questions before them (few-shot) or none (zero-shot).
                          Greedy; an item is right when the continuation starts with the answer
                          (then a non-letter/digit). The same query items at every k.
    compression           the training text's bytes beside the parameters' bytes (the course:
                          Llama 2 70B, ~10 TB of text -> a 140 GB file, ~70x), and the model as a
                          compressor: bits per byte on the held-out split (the code length an
                          arithmetic coder driven by the model reaches) beside gzip, bzip2 and xz
                          at their highest levels on the same bytes. The model's own size is not
                          counted; a compressor's tables are (they are in its output).
    memorisation          the course's "lossy": prompt with a document's first 32 tokens, does the
                          greedy continuation reproduce the next 32 exactly? Training documents
                          against held-out documents of the same kind, split by how often the
                          page's subject is repeated in the crawl (the world's fact buckets:
                          frequent 20-36 pages, medium 3-6, rare 1; none: math and other pages).

base_model_properties(run, preset) -> (figures, markdown) wires a run folder; the measuring
functions take a model, a tokenizer and plain data, and `complete` (prompt ids -> new ids) so
that tests can score with a fake model.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from dentro.eval.knowledge import wilson

TITLE = {"pt": "as propriedades do modelo base", "en": "the base model's properties"}

# The course's reference point (Karpathy, "Intro to Large Language Models", 2023): Llama 2 70B
# was trained on ~10 TB of text and its parameters are a 140 GB file (70B x 2 bytes).
LECTURE = {"text_bytes": 10e12, "param_bytes": 140e9}


@dataclass
class Config:
    shots: tuple[int, ...]  # numbers of examples in the prompt
    icl_items: int  # items per (task, shots) for the invented tasks
    world_items: int  # world questions per language (pt, en) per shots
    bpb_bytes: int  # held-out text measured (bits per byte, compressors)
    memo_docs: int  # documents per (split, bucket) for memorisation
    prefix: int = 32  # memorisation: prompt tokens, then as many to reproduce
    batch: int = 64  # prompts per generate_batch call


# tiny: 5M parameters, 19-25 s on 2 busy CPU cores (docs/base-model.md); 48 items per point
# gives a 95% interval of about +-14 points at 50%. micro: a 32-token context, so short prompts
# and few items (seconds); world Q/A prompts with examples do not fit and are counted apart.
PRESETS = {
    "micro": Config(shots=(0, 1, 2), icl_items=4, world_items=2, bpb_bytes=4_000, memo_docs=2, prefix=8),
    "tiny": Config(shots=(0, 1, 2, 4, 8), icl_items=48, world_items=24, bpb_bytes=100_000, memo_docs=24),
    "small": Config(shots=(0, 1, 2, 4, 8), icl_items=200, world_items=100, bpb_bytes=2_000_000, memo_docs=200),
}

# ---- in-context learning ----------------------------------------------------------------------

SYLLABLES = ["ba", "be", "bi", "bo", "da", "de", "di", "fa", "fe", "ga", "go", "ja", "la", "le", "li", "lo",
             "ma", "me", "mi", "mo", "na", "ne", "no", "pa", "pe", "ra", "re", "ri", "ro", "sa", "se", "ta",
             "te", "ti", "to", "va", "ve", "vi", "za", "zo", "lha", "nho", "ção", "quã", "tre", "bra"]
ENGLISH = ["house", "water", "book", "tree", "bird", "river", "bread", "stone", "window", "horse", "cloud",
           "fire", "road", "chair", "apple", "moon", "ship", "garden", "milk", "door", "king", "salt", "snow",
           "wheel", "field", "glove", "bell", "coin", "lamp", "rope"]
LETTERS = "ABCDEFGHJKLMNPRSTVXZ"
FORMATS = {"codes": "{key} = {value}\n", "lexicon": "{key} em inglês: {value}\n"}
QA = {"pt": "P: {q}\nR:", "en": "Q: {q}\nA:"}


def invented_word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(n))


def icl_items(task: str, shots: tuple[int, ...], n: int, seed: int = 0) -> list[dict]:
    """n items per number of examples k: {"task", "shots", "prompt", "answer"}. Item i draws
    max(shots) pairs once; at k it shows k of them (shuffled) and asks one of those k again."""
    rng = random.Random(f"{task}-{seed}")
    out = []
    for i in range(n):
        pairs, keys = [], set()
        while len(pairs) < max(shots) + 1:
            key = (invented_word(rng, 3).capitalize() if task == "codes" else invented_word(rng, 2))
            if key in keys:
                continue
            keys.add(key)
            value = (rng.choice(LETTERS) + rng.choice(LETTERS) + f"-{rng.randint(10, 99)}" if task == "codes"
                     else rng.choice(ENGLISH))
            pairs.append((key, value))
        for k in shots:
            shown = pairs[:k]
            r = random.Random(f"{task}-{seed}-{i}-{k}")
            r.shuffle(shown)
            key, value = r.choice(shown) if k else pairs[-1]  # k = 0: a key never shown
            prompt = "".join(FORMATS[task].format(key=a, value=b) for a, b in shown)
            prompt += FORMATS[task].format(key=key, value="").rstrip("\n").rstrip()
            out.append({"task": task, "shots": k, "prompt": prompt, "answer": value})
    return out


def world_items(truth: Path, shots: tuple[int, ...], n: int, seed: int = 0) -> list[dict]:
    """World questions (truth/questions/<lang>_forward_frequent.jsonl) in a Q/A form: per
    language n query questions, each with k solved questions about other facts before it."""
    out = []
    for lang in ("pt", "en"):
        path = Path(truth) / "questions" / f"{lang}_forward_frequent.jsonl"
        if not path.exists():
            continue
        qs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rng = random.Random(f"world-{lang}-{seed}")
        rng.shuffle(qs)
        queries, pool = qs[:n], qs[n:] or qs
        for i, q in enumerate(queries):
            r = random.Random(f"world-{lang}-{seed}-{i}")
            examples = r.sample([e for e in pool if e["fact"] != q["fact"]], min(max(shots), len(pool) - 1))
            for k in shots:
                prompt = "".join(QA[lang].format(q=e["question"]) + f" {e['answer']}\n\n" for e in examples[:k])
                out.append({"task": "world", "lang": lang, "shots": k, "prompt": prompt + QA[lang].format(q=q["question"]),
                            "answer": q["answer"]})
    return out


def is_right(continuation: str, answer: str) -> bool:
    """The continuation starts with the answer (after spaces), and the answer ends there."""
    c = continuation.lstrip(" ")
    return c.startswith(answer) and (len(c) == len(answer) or not c[len(answer)].isalnum())


def greedy_completer(model, tok, batch: int = 64):
    """complete(prompts: list of id lists, max_tokens) -> new ids per prompt, greedy, batched
    by length (left padding is wasted work, so similar lengths go together)."""
    from dentro.model.engine import Sampling, generate_batch_all

    def complete(prompts: list[list[int]], max_tokens: int) -> list[list[int]]:
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out = [None] * len(prompts)
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            rows = generate_batch_all(model, [prompts[i] for i in idx], max_tokens=max_tokens,
                                      sampling=Sampling(temperature=0.0), stop_ids={tok.eot_id})
            for i, r in zip(idx, rows):
                out[i] = r
        return out
    return complete


def score_items(items: list[dict], tok, complete, context: int) -> list[dict]:
    """Fill item["continuation"] and item["right"]; an item whose prompt does not fit the
    context window gets right = None (counted apart, never as wrong)."""
    prompts, todo = [], []
    need = max((len(tok.encode(" " + it["answer"])) for it in items), default=1) + 1
    for it in items:
        ids = [tok.eot_id] + tok.encode(it["prompt"])
        if len(ids) + need > context:
            it["continuation"], it["right"] = None, None
            continue
        prompts.append(ids)
        todo.append(it)
    if prompts:
        for it, new in zip(todo, complete(prompts, need)):
            it["continuation"] = tok.decode([t for t in new if t != tok.eot_id])
            it["right"] = is_right(it["continuation"], it["answer"])
    return items


def accuracy_table(items: list[dict]) -> dict:
    """{task: {shots: {"n", "right", "accuracy", "ci95", "too_long"}}}"""
    out = {}
    for it in items:
        cell = out.setdefault(it["task"], {}).setdefault(it["shots"], {"n": 0, "right": 0, "too_long": 0})
        if it["right"] is None:
            cell["too_long"] += 1
        else:
            cell["n"] += 1
            cell["right"] += it["right"]
    for task in out.values():
        for c in task.values():
            c["accuracy"] = round(c["right"] / c["n"], 4) if c["n"] else None
            c["ci95"] = [round(x, 4) for x in wilson(c["right"], c["n"])]
    return out


# ---- compression ------------------------------------------------------------------------------

def compressor_bpb(data: bytes) -> dict:
    """Bits per byte of the standard library's compressors at their highest levels."""
    sizes = {"gzip": len(gzip.compress(data, compresslevel=9, mtime=0)),
             "bzip2": len(bz2.compress(data, compresslevel=9)),
             "xz": len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))}
    return {k: round(8 * v / max(1, len(data)), 4) for k, v in sizes.items()}


def model_bpb(model, tok, docs: list[list[int]], batch: int = 16) -> dict:
    """Bits per byte of the model on documents (token ids, each starting with <|endoftext|>),
    packed into one stream cut into windows of the context + 1 tokens that overlap by one, so
    every token but the first is a target once, seen after up to a context of tokens. Special
    tokens (0 bytes) count in neither sum, as in pretraining's evaluate_bpb."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    T = model.config.max_position_embeddings
    stream = np.concatenate([np.asarray(d, np.int64) for d in docs])
    nbytes = np.asarray(tok.token_byte_lengths() + [0] * (model.config.vocab_size - tok.vocab_size), np.int64)
    windows = [stream[s:s + T + 1] for s in range(0, len(stream) - 1, T)]
    nats, bytes_ = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(windows), batch):
            group = windows[s:s + batch]
            L = max(len(w) for w in group)
            x = torch.zeros(len(group), L - 1, dtype=torch.long)
            y = torch.full((len(group), L - 1), -1, dtype=torch.long)
            for b, w in enumerate(group):
                x[b, :len(w) - 1] = torch.from_numpy(w[:-1])
                y[b, :len(w) - 1] = torch.from_numpy(w[1:])
            logits = model(x)  # (B, L-1, V)
            losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=-1,
                                     reduction="none")
            b = torch.from_numpy(nbytes)[y.reshape(-1).clamp(min=0)] * (y.reshape(-1) >= 0)
            nats += float((losses * (b > 0)).sum())
            bytes_ += int(b.sum())
    return {"bpb": round(nats / (math.log(2) * max(1, bytes_)), 4), "bytes": bytes_,
            "tokens": int(len(stream))}


# ---- memorisation ----------------------------------------------------------------------------

def memorisation(docs: list[dict], complete, prefix: int, eot_id: int) -> list[dict]:
    """docs: {"ids": text token ids (no <|endoftext|>), ...}, each at least 2 x prefix long.
    Fills "exact" (the next prefix tokens reproduced) and "match" (tokens right before the
    first miss)."""
    if not docs:
        return docs
    new = complete([[eot_id] + d["ids"][:prefix] for d in docs], prefix)
    for d, got in zip(docs, new):
        want = d["ids"][prefix:2 * prefix]
        m = 0
        while m < len(want) and m < len(got) and got[m] == want[m]:
            m += 1
        d["exact"], d["match"] = m == len(want), m
    return docs


def memo_table(docs: list[dict]) -> list[dict]:
    """Rows per (split, bucket) and per split: n, exact, rate, 95% Wilson interval, mean match."""
    groups = {}
    for d in docs:
        for key in ((d["split"], d["bucket"]), (d["split"], "all")):
            groups.setdefault(key, []).append(d)
    order = ["frequent", "medium", "rare", "none", "all"]
    rows = []
    for (split, bucket), ds in sorted(groups.items(), key=lambda kv: (kv[0][0] != "train", order.index(kv[0][1]))):
        k = sum(d["exact"] for d in ds)
        rows.append({"split": split, "bucket": bucket, "n": len(ds), "exact": k, "rate": round(k / len(ds), 4),
                     "ci95": [round(x, 4) for x in wilson(k, len(ds))],
                     "mean_match": round(sum(d["match"] for d in ds) / len(ds), 2)})
    return rows


def page_buckets(truth: Path) -> dict[str, str]:
    """url -> how often the page's subject is repeated in the crawl: the most common bucket of
    its facts (ties: the more frequent), or "none" for a page with no world facts."""
    facts = {}
    with open(Path(truth) / "facts.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            facts[r["id"]] = r["bucket"]
    rank = {"frequent": 0, "medium": 1, "rare": 2}
    out = {}
    with open(Path(truth) / "pages.jsonl", encoding="utf-8") as f:
        for line in f:
            p = json.loads(line)
            c = Counter(facts[x] for x in p.get("facts", []) if facts.get(x) in rank)
            out[p["url"]] = min(c, key=lambda b: (-c[b], rank[b])) if c else "none"
    return out


def sample_documents(corpus: Path, tok, val_fraction: float, buckets: dict[str, str], per_group: int,
                     min_tokens: int, seed: int = 0) -> list[dict]:
    """Up to per_group documents per (split, bucket), at least min_tokens long, split exactly as
    pretraining split them (dentro.train.data.is_validation on the document id)."""
    import pyarrow.parquet as pq

    from dentro.corpus import corpus_files, document_id, is_validation

    rows = []
    for path in corpus_files(corpus):
        pf = pq.ParquetFile(path)
        cols = [c for c in ("text", "id", "url") if c in pf.schema_arrow.names]
        t = pf.read(columns=cols).to_pydict()
        n = len(t["text"])
        for text, i, url in zip(t["text"], t.get("id", [None] * n), t.get("url", [None] * n)):
            if isinstance(text, str) and text.strip():
                split = "val" if is_validation(document_id(i, text), val_fraction) else "train"
                rows.append({"split": split, "bucket": buckets.get(url, "none"), "url": url, "text": text})
    random.Random(seed).shuffle(rows)
    counts, out = Counter(), []
    for r in rows:
        key = (r["split"], r["bucket"])
        if counts[key] >= per_group:
            continue
        ids = tok.encode(r["text"])
        if len(ids) >= min_tokens:
            counts[key] += 1
            out.append({"split": r["split"], "bucket": r["bucket"], "url": r["url"], "ids": ids})
    return out


# ---- the whole measurement on a run ---------------------------------------------------------

def base_model_properties(run: Path, preset: str = "tiny", *, out: Path | None = None) -> tuple[dict, str]:
    """Measure the run's base model; write properties.json and icl.png into out (default
    run/sample). Returns (figures, markdown section)."""
    import torch

    from dentro.model.checkpoint import load_checkpoint
    from dentro.report import md_table, plot_lines
    from dentro.runs import atomic_write_json
    from dentro.errors import UserError
    from dentro.train.data import DocumentIndex

    t0 = time.perf_counter()
    cfg = PRESETS[preset]
    run = Path(run)
    out = Path(out) if out else run / "sample"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model, tok, _ = load_checkpoint(run / "pretrain" / "checkpoint", "cpu", load_train_state=False)
    ctx = model.config.max_position_embeddings
    complete = greedy_completer(model, tok, cfg.batch)
    truth = run / "world" / "truth"
    seconds = {}

    # in-context learning
    t = time.perf_counter()
    items = icl_items("codes", cfg.shots, cfg.icl_items) + icl_items("lexicon", cfg.shots, cfg.icl_items)
    if truth.exists():
        items += world_items(truth, cfg.shots, cfg.world_items)
    for task in ("codes", "lexicon", "world"):
        score_items([it for it in items if it["task"] == task], tok, complete, ctx)
    icl = accuracy_table(items)
    seconds["icl"] = time.perf_counter() - t

    # compression
    t = time.perf_counter()
    tokens_dir = run / "pretrain" / "tokens"
    meta = json.loads((tokens_dir / "meta.json").read_text())
    try:
        val = DocumentIndex(tokens_dir, "val", eot_id=tok.eot_id)
    except UserError:  # no held-out documents (a very small corpus): measure on none
        val = []
    docs, size = [], 0
    for d in range(len(val)):
        ids = val.tokens(d, 0, int(val.length[d])).tolist()
        docs.append(ids)
        size += len(tok.decode_bytes([i for i in ids if not tok.is_special(i)]))
        if size >= cfg.bpb_bytes:
            break
    text = b"".join(tok.decode_bytes([i for i in d if not tok.is_special(i)]) for d in docs)
    mbpb = model_bpb(model, tok, docs) if docs else {"bpb": None}
    cbpb = compressor_bpb(text) if text else {"gzip": None, "bzip2": None, "xz": None}
    info = json.loads((run / "pretrain" / "checkpoint" / "config.json").read_text()).get("dentro", {})
    n_params = model.num_params()
    train = meta["splits"]["train"]
    seen_bytes = round(info.get("tokens", 0) * train["bytes"] / max(1, train["tokens"]))
    dtype_bytes = model.embed_tokens.weight.element_size()
    compression = {"train_text_bytes": train["bytes"], "train_tokens": train["tokens"],
                   "text_bytes_seen": seen_bytes, "params": n_params, "param_bytes": n_params * dtype_bytes,
                   "param_bytes_bf16": n_params * 2,
                   "text_per_param_byte_bf16": round(train["bytes"] / (n_params * 2), 3),
                   "lecture_text_per_param_byte": round(LECTURE["text_bytes"] / LECTURE["param_bytes"], 1),
                   "heldout_bytes": len(text), "model_bpb": mbpb["bpb"], **{f"{k}_bpb": v for k, v in cbpb.items()}}
    seconds["compression"] = time.perf_counter() - t

    # memorisation
    t = time.perf_counter()
    memo_rows, memo_docs = [], []
    corpus = run / "data" / "corpus"
    if corpus.exists() and truth.exists():
        buckets = page_buckets(truth)
        prefix = min(cfg.prefix, (ctx - 1) // 2)
        memo_docs = sample_documents(corpus, tok, meta["val_fraction"], buckets, cfg.memo_docs, 2 * prefix)
        memorisation(memo_docs, complete, prefix, tok.eot_id)
        memo_rows = memo_table(memo_docs)
    seconds["memorisation"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0

    # figures, plot, section
    figures = {}
    top = max(cfg.shots)
    for task in ("codes", "lexicon", "world"):
        if task in icl:
            figures[f"icl_{task}_0shot"] = icl[task][0]["accuracy"]
            figures[f"icl_{task}_{top}shot"] = icl[task][top]["accuracy"]
    figures.update({k: compression[k] for k in ("model_bpb", "gzip_bpb", "bzip2_bpb", "xz_bpb",
                                                "text_per_param_byte_bf16")})
    for r in memo_rows:
        if r["bucket"] == "all":
            figures[f"memorised_{r['split']}"] = r["rate"]
    figures["seconds"] = round(seconds["total"], 1)

    names = {"codes": "codes (invented)", "lexicon": "lexicon (invented pt→en)", "world": "world Q/A"}
    plot = plot_lines(out / "icl.png", {names[t]: (sorted(icl[t]), [icl[t][k]["accuracy"] or 0 for k in sorted(icl[t])])
                                        for t in icl},
                      title="in-context learning / aprendizado no contexto", xlabel="examples in the prompt / exemplos",
                      ylabel="exact-match accuracy / acerto")
    atomic_write_json(out / "properties.json",
                      {"preset": preset, "icl": {t: {str(k): v for k, v in c.items()} for t, c in icl.items()},
                       "compression": compression, "memorisation": memo_rows,
                       "seconds": {k: round(v, 2) for k, v in seconds.items()},
                       "examples": {t: next((it for it in items if it["task"] == t and it["shots"] == top), None)
                                    for t in icl}})
    section = render_section(run, plot, icl, compression, memo_rows, seconds, cfg, md_table)
    return figures, section


def render_section(run, plot, icl, compression, memo_rows, seconds, cfg, md_table) -> str:
    def pct(c):
        return "–" if c["accuracy"] is None else f"{100 * c['accuracy']:.0f}% ({c['right']}/{c['n']})"

    c = compression
    lines = [f"### {TITLE['en'].capitalize()} / {TITLE['pt']}", "",
             f"Measured by dentro/eval/base_model.py in {seconds['total']:.1f} s on the CPU.", "",
             "**In-context learning / aprendizado no contexto.** Greedy, an item is right when the "
             "continuation starts with the answer. Codes and lexicon are invented, so their answer is only "
             "in the prompt (at 0 examples there is nothing to copy); world Q/A asks facts the model read as "
             "prose in a Q/A form it never saw.", "",
             md_table(["task / tarefa"] + [f"{k} ex." for k in cfg.shots],
                      [[t] + [pct(icl[t][k]) if k in icl[t] else "–" for k in cfg.shots] for t in icl]), "",
             f"![ICL]({plot.relative_to(run).as_posix() if plot.is_relative_to(run) else plot})", "",
             "**Compression / compressão.** "
             f"{c['train_text_bytes'] / 1e6:.2f} MB of training text ({c['text_bytes_seen'] / 1e6:.2f} MB read in "
             f"pretraining) against {c['params'] / 1e6:.2f} M parameters = {c['param_bytes_bf16'] / 1e6:.1f} MB in "
             f"bf16: {c['text_per_param_byte_bf16']} bytes of text per byte of parameters (the course's Llama 2 70B: "
             f"~10 TB -> 140 GB, ~{c['lecture_text_per_param_byte']:.0f}). As a compressor, on "
             f"{c['heldout_bytes'] / 1e3:.0f} KB of held-out text (the model's own size not counted):", "",
             md_table(["compressor", "bits per byte"], [["the base model / o modelo base", c["model_bpb"]],
                                                        ["gzip -9", c["gzip_bpb"]], ["bzip2 -9", c["bzip2_bpb"]],
                                                        ["xz -9e", c["xz_bpb"]]]), ""]
    if memo_rows:
        lines += [f"**Memorisation / memorização (lossy).** The first {cfg.prefix} tokens of a document as the "
                  f"prompt: how often does the greedy continuation reproduce the next {cfg.prefix} exactly? "
                  "Bucket: how often the page's subject is repeated in the crawl.", "",
                  md_table(["split", "bucket", "documents", "exact", "rate (95% CI)", "mean matching tokens"],
                           [[r["split"], r["bucket"], r["n"], r["exact"],
                             f"{100 * r['rate']:.0f}% ({100 * r['ci95'][0]:.0f}–{100 * r['ci95'][1]:.0f}%)",
                             r["mean_match"]] for r in memo_rows]), ""]
    return "\n".join(lines)
