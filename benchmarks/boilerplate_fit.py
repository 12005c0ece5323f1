"""Fit the `blocks` extractor's learned decision (dentro/web/boilerplate.py, LEARNED_*).

    .venv/bin/python benchmarks/boilerplate_fit.py [--world RUN] [--write] [--heldout]
    .venv/bin/python benchmarks/boilerplate_fit.py --precise [--world RUN]

Labels (../shared/data/extraction, see benchmarks/data_extraction.py):
- ScrapingHub's 181 pages: a block of resiliparse's main content is content when at least half of
  its word 3-grams occur in the page's article body (a block of 1-2 words: when its words occur
  there in that order);
- the tune half of trafilatura-dev: a block that holds one of the page's `with` snippets is content,
  one that holds a `without` snippet is furniture, the others (and blocks holding both) unlabelled.
- with --world RUN (a tiny world made for this, e.g. `dentro world --run RUN --seed 1`, never the
  world the figures are then measured on): the even ones of its first 1,200 pages that keep text,
  a block being content when its text is in the page's `main_text` (labelled by construction).
The held-out half of trafilatura-dev is never a label: it is scored once, with --heldout.

Model: logistic regression (L2 = 1 on standardised features, Newton steps) over
boilerplate.learned_features. The weight of a tune-half block against a ScrapingHub block and the
probability threshold are chosen by 5-fold cross-validation over the tune half's pages, scored as
trafilatura's evaluation scores them; ScrapingHub's figure is 5-fold cross-validation over its
pages (its blocks are labels). With --world, the weight of a world block is then the largest of
WORLD_WEIGHTS whose tune-half CV F1 stays within 0.001 of the best without world blocks; the token
F1 on the world's odd pages is printed beside. --write puts the chosen model into boilerplate.py
(raw feature scale).

--precise chooses the `precise` extractor's two thresholds (dentro/web/extract.py, PRECISE_*) with
the model's chosen settings (CHOSEN_*): 5-fold cross-validated block probabilities on the tune half
and on ScrapingHub, each (drop, add) pair scored on both, the pair with the best mean F1 printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_extraction import DATA, load_sets  # noqa: E402
from data_world import token_f1, world_pages  # noqa: E402

from dentro.web import boilerplate as bp  # noqa: E402
from dentro.web.extract import (decode_html, extract_resiliparse, extract_text, extract_trafilatura,  # noqa: E402
                                merge_precise)

WEIGHTS = (20, 50, 100)         # a tune-half block counts as this many ScrapingHub blocks
THRESHOLDS = (0.5, 0.6, 0.7)
WORLD_WEIGHTS = (0.1, 0.5, 1.0, 2.0)   # a world block counts as this many ScrapingHub blocks
WORLD_PAGES = 1200
CHOSEN_WEIGHT, CHOSEN_WORLD_WEIGHT = 50, 0.5   # what the last full run chose (docs/data.md)
DROP_BELOW = (0.0, 0.05, 0.1, 0.2, 0.3)     # --precise: candidates for PRECISE_DROP_BELOW
ADD_FROM = (0.6, 0.7, 0.8, 0.9, 0.95, 1.01)  # and PRECISE_ADD_FROM (1.01: add nothing)
L2 = 1.0
FOLDS = 5
_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def page_rows(html: str) -> tuple[list[dict], np.ndarray]:
    """The blocks of a page as clean_text sees them, and their feature rows."""
    blocks, stop, cf, classes = bp._classified(extract_resiliparse(html, marked=True))
    rows = bp.learned_features(blocks, stop, cf, classes)
    return blocks, np.asarray(rows, dtype=np.float64).reshape(len(blocks), len(bp.LEARNED_FEATURES))


def article_labels(blocks: list[dict], article: str) -> np.ndarray:
    words = _WORD.findall(article.lower())
    grams, joined = set(zip(words, words[1:], words[2:])), " " + " ".join(words) + " "
    out = []
    for b in blocks:
        w = b["words"]
        if len(w) >= 3:
            g = list(zip(w, w[1:], w[2:]))
            out.append(sum(x in grams for x in g) >= 0.5 * len(g))
        else:
            out.append(bool(w) and f" {' '.join(w)} " in joined)
    return np.array(out, dtype=np.float64)


def snippet_labels(blocks: list[dict], item: dict) -> tuple[list[int], np.ndarray]:
    wanted = [_WS.sub(" ", s) for s in item["with"]]
    unwanted = [_WS.sub(" ", s) for s in item["without"]]
    idx, y = [], []
    for i, b in enumerate(blocks):
        t = _WS.sub(" ", b["text"])
        good, bad = any(s in t for s in wanted), any(s in t for s in unwanted)
        if good != bad:
            idx.append(i)
            y.append(float(good))
    return idx, np.array(y)


def world_labels(blocks: list[dict], main_text: str) -> np.ndarray:
    main = f" {_WS.sub(' ', main_text)} "
    return np.array([float(_WS.sub(" ", b["text"]) in main) for b in blocks])


def fit(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """Weighted L2 logistic regression -> (weights, bias) on the raw feature scale."""
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = np.hstack([(X - mu) / sd, np.ones((len(X), 1))])
    beta = np.zeros(Z.shape[1])
    reg = L2 * np.eye(Z.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(30):
        p = 1 / (1 + np.exp(-Z @ beta))
        step = np.linalg.solve((Z * (w * p * (1 - p))[:, None]).T @ Z + reg, Z.T @ (w * (p - y)) + reg @ beta)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    coef = beta[:-1] / sd
    return coef, float(beta[-1] - coef @ mu)


@contextmanager
def fitted(model, threshold: float):
    """boilerplate.py decides with `model` (weights, bias) and `threshold` inside the block."""
    saved = bp.LEARNED_WEIGHTS, bp.LEARNED_BIAS, bp.LEARNED_THRESHOLD
    bp.LEARNED_WEIGHTS, bp.LEARNED_BIAS, bp.LEARNED_THRESHOLD = tuple(model[0]), model[1], threshold
    try:
        yield
    finally:
        bp.LEARNED_WEIGHTS, bp.LEARNED_BIAS, bp.LEARNED_THRESHOLD = saved


def extract_with(model, threshold: float, htmls: list[str]) -> list[str]:
    with fitted(model, threshold):
        return [extract_text(h, "blocks") for h in htmls]


def stack(parts):
    return (np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def folds(n: int, seed: int) -> list[list[int]]:
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    return [idx[k::FOLDS] for k in range(FOLDS)]


def write_model(model, threshold: float) -> None:
    path = Path(bp.__file__)
    src = path.read_text(encoding="utf-8")
    weights = ",\n    ".join(", ".join(f"{x:.6g}" for x in model[0][i:i + 6]) for i in range(0, len(model[0]), 6))
    block = (f"# BEGIN LEARNED\nLEARNED_THRESHOLD = {threshold}\nLEARNED_BIAS = {model[1]:.6g}\n"
             f"LEARNED_WEIGHTS = (\n    {weights})\n# END LEARNED")
    src, n = re.subn(r"# BEGIN LEARNED\n.*?# END LEARNED", lambda m: block, src, flags=re.S)
    assert n == 1, "no LEARNED block in boilerplate.py"
    path.write_text(src, encoding="utf-8")
    print(f"written to {path}")


def precise_grid(sh, tune, world_fit, sh_html, tune_html, sh_score, tune_score) -> None:
    """--precise: the (drop, add) pair of the `precise` extractor, by cross-validation."""
    def fold_probs(htmls, test_sets, train_parts):
        tf = [extract_trafilatura(h) for h in htmls]
        marked = [extract_resiliparse(h, marked=True) for h in htmls]
        out = [None] * len(htmls)
        for test in test_sets:
            model = fit(*stack(train_parts(set(test))))
            with fitted(model, bp.LEARNED_THRESHOLD):
                for i in test:
                    blocks, probs = bp.block_probabilities(marked[i])
                    fallback = "" if tf[i].strip() else extract_text(htmls[i], "blocks")
                    out[i] = (tf[i], blocks, probs, fallback)
        return out

    def world_parts():
        return [(X, y, np.full(len(y), CHOSEN_WORLD_WEIGHT)) for X, y in world_fit]

    tune_p = fold_probs(tune_html, folds(len(tune_html), 1), lambda held: (
        [(X, y, np.ones(len(y))) for X, y in sh]
        + [(tune[i][0], tune[i][1], np.full(len(tune[i][1]), float(CHOSEN_WEIGHT))) for i in range(len(tune))
           if i not in held] + world_parts()))
    sh_p = fold_probs(sh_html, folds(len(sh_html), 0), lambda held: (
        [(sh[i][0], sh[i][1], np.ones(len(sh[i][1]))) for i in range(len(sh)) if i not in held]
        + [(X, y, np.full(len(y), float(CHOSEN_WEIGHT))) for X, y in tune] + world_parts()))

    def texts(pages, lo, hi):
        return [merge_precise(tf, blocks, probs, lo, hi) if tf.strip() else fallback
                for tf, blocks, probs, fallback in pages]

    print("\n| drop below | add from | tune half, 5-fold CV: F1 | precision | recall | ScrapingHub, 5-fold CV: F1 |"
          "\n|---|---|---|---|---|---|")
    best = None
    for lo in DROP_BELOW:
        for hi in ADD_FROM:
            t, s = tune_score(texts(tune_p, lo, hi)), sh_score(texts(sh_p, lo, hi))
            print(f"| {lo} | {hi} | {t['f1']:.4f} | {t['precision']:.4f} | {t['recall']:.4f} | {s['f1']:.4f} |",
                  flush=True)
            if best is None or t["f1"] + s["f1"] > best[0]:
                best = (t["f1"] + s["f1"], lo, hi)
    print(f"\nchosen (best mean F1): PRECISE_DROP_BELOW = {best[1]}, PRECISE_ADD_FROM = {best[2]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help="write the chosen model into boilerplate.py")
    ap.add_argument("--heldout", action="store_true", help="score the held-out half of trafilatura-dev")
    ap.add_argument("--world", type=Path, help="a run folder with a tiny world whose pages join the labels")
    ap.add_argument("--precise", action="store_true", help="choose the `precise` extractor's thresholds instead")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"no benchmark data at {DATA}")
    sets = load_sets()
    dev = json.loads((DATA / "trafilatura-dev" / "evaldata.json").read_text())
    items = sorted(dev.values(), key=lambda it: it["file"])
    tune_items = [it for it in items if hashlib.md5(it["file"].encode()).digest()[0] < 128]
    tune_raw, tune_score = sets["trafilatura-dev, tune half"]
    tune_html = [decode_html(r) for r in tune_raw]
    sh_raw, sh_score = sets["ScrapingHub"]
    truth = json.loads((DATA / "ground-truth.json").read_text())
    sh_html = [decode_html(r) for r in sh_raw]

    tune = []
    for h, it in zip(tune_html, tune_items):
        blocks, X = page_rows(h)
        idx, y = snippet_labels(blocks, it)
        tune.append((X[idx], y))
    sh = []
    for h, k in zip(sh_html, sorted(truth)):
        blocks, X = page_rows(h)
        sh.append((X, article_labels(blocks, truth[k]["articleBody"])))
    n_tune = sum(len(y) for _, y in tune)
    n_sh = sum(len(y) for _, y in sh)
    print(f"labelled blocks: ScrapingHub {n_sh} ({sum(y.sum() for _, y in sh) / n_sh:.0%} content), "
          f"tune half {n_tune} ({sum(y.sum() for _, y in tune) / n_tune:.0%} content)")

    world_fit, world_check = [], []
    if args.world:
        pages = [(html, main) for _, html, main in world_pages(args.world, ("keep", "quality", "dedup"), WORLD_PAGES)]
        world_check = pages[1::2]
        for html, main in pages[0::2]:
            blocks, X = page_rows(html)
            world_fit.append((X, world_labels(blocks, main)))
        n_world = sum(len(y) for _, y in world_fit)
        print(f"world blocks: {n_world} ({sum(y.sum() for _, y in world_fit) / n_world:.0%} content) from "
              f"{len(world_fit)} pages of {args.world}; {len(world_check)} other pages to check")
    world_weight = 0.0
    if args.precise:
        precise_grid(sh, tune, world_fit, sh_html, tune_html, sh_score, tune_score)
        return

    def parts(sh_idx, tune_idx, weight):
        return ([(sh[i][0], sh[i][1], np.ones(len(sh[i][1]))) for i in sh_idx]
                + [(tune[i][0], tune[i][1], np.full(len(tune[i][1]), float(weight))) for i in tune_idx]
                + [(X, y, np.full(len(y), world_weight)) for X, y in world_fit if world_weight])

    def tune_cv(weight, thresholds):
        preds = {t: [""] * len(tune_html) for t in thresholds}
        for test in folds(len(tune_html), 1):
            held = set(test)
            model = fit(*stack(parts(range(len(sh)), [i for i in range(len(tune)) if i not in held], weight)))
            for t in thresholds:
                for i, text in zip(test, extract_with(model, t, [tune_html[i] for i in test])):
                    preds[t][i] = text
        return {t: tune_score(p) for t, p in preds.items()}

    print("\n| tune-block weight | threshold | tune half, 5-fold CV: F1 | precision | recall |\n|---|---|---|---|---|")
    best = None
    for weight in WEIGHTS:
        scores = tune_cv(weight, THRESHOLDS)
        for t in THRESHOLDS:
            s = scores[t]
            print(f"| {weight} | {t} | {s['f1']:.4f} | {s['precision']:.4f} | {s['recall']:.4f} |", flush=True)
            if best is None or s["f1"] > best[0]:
                best = (s["f1"], weight, t)
    best_f1, weight, threshold = best
    print(f"\nchosen: weight {weight}, threshold {threshold}")
    if world_fit:
        print("\n| world-block weight | tune half, 5-fold CV: F1 | world, other pages: token F1 |\n|---|---|---|")
        for w in (0.0,) + WORLD_WEIGHTS:
            world_weight = w
            f1 = best_f1 if not w else tune_cv(weight, (threshold,))[threshold]["f1"]
            model = fit(*stack(parts(range(len(sh)), range(len(tune)), weight)))
            texts = extract_with(model, threshold, [h for h, _ in world_check])
            wf1 = float(np.mean([token_f1(p, m) for p, (_, m) in zip(texts, world_check)]))
            print(f"| {w} | {f1:.4f} | {wf1:.4f} |", flush=True)
            if f1 >= best_f1 - 0.001:
                chosen = w
        world_weight = chosen
        print(f"chosen: world-block weight {world_weight}")

    preds = [""] * len(sh_html)
    for test in folds(len(sh_html), 0):
        held = set(test)
        model = fit(*stack(parts([i for i in range(len(sh)) if i not in held], range(len(tune)), weight)))
        for i, text in zip(test, extract_with(model, threshold, [sh_html[i] for i in test])):
            preds[i] = text
    s = sh_score(preds)
    print(f"ScrapingHub, 5-fold CV over its pages: F1 {s['f1']:.4f}, precision {s['precision']:.4f}, "
          f"recall {s['recall']:.4f}")

    model = fit(*stack(parts(range(len(sh)), range(len(tune)), weight)))
    print("\nweights (raw scale), largest first:")
    for name, x in sorted(zip(bp.LEARNED_FEATURES, model[0]), key=lambda t: -abs(t[1]))[:12]:
        print(f"  {name:20s} {x:+.3f}")
    if args.heldout:
        raw, score = sets["trafilatura-dev, held-out half"]
        s = score(extract_with(model, threshold, [decode_html(r) for r in raw]))
        print(f"trafilatura-dev held-out half: F1 {s['f1']:.4f}, precision {s['precision']:.4f}, "
              f"recall {s['recall']:.4f}")
    if args.write:
        write_model(model, threshold)
    assert math.isfinite(model[1])


if __name__ == "__main__":
    main()
