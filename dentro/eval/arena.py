"""The arena: models meet in pairs on the same prompt, a judge picks the better answer, and a
Bradley-Terry fit turns the battles into ratings (LM Arena's method, Chiang et al. 2024,
arXiv:2403.04132, section 5).

    battle      one prompt, two models' answers, shown anonymously and in random order;
                the verdict is "a", "b" or "tie" (the schema of <run>/arena/votes.sqlite, where
                people's "both_bad" counts as a tie, as LM Arena counts it).
    judge       for the tiny world no judge model is needed: the truth knows the answer. Each
                answer is graded correct (it contains the true answer), refusal ("I don't
                know") or wrong; correct beats wrong, refusal beats wrong (an honest "I don't
                know" is better than a hallucination), anything else is a tie. For people who
                do not exist (the "absent" bucket) there is no true answer: only a refusal is
                not wrong.
    rating      P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400)): the Elo scale, fitted by
                maximum likelihood over all battles at once (not Elo's online updates, whose
                result depends on the order of the battles). A tie counts as half a win for
                each side. Ratings are centred on 1000 (or one model is pinned at 1000).
    interval    95% bootstrap interval: resample the battles with replacement, refit, read
                the 2.5th and 97.5th percentiles of each model's rating.
"""

from __future__ import annotations

import math
import random
import sqlite3
from itertools import combinations
from pathlib import Path

import numpy as np

SCALE, BASE, ANCHOR = 400.0, 10.0, 1000.0
# A weak Gaussian prior on the natural-log strengths (precision L2): without it a model that
# never lost has an infinite maximum-likelihood rating. 0.01 moves a 2-model 30-0 record from
# infinity to about +1200 points; with a few losses among many battles it moves nothing visible.
L2 = 0.01


# ---- the judge -------------------------------------------------------------------------------

def grade(item: dict, text: str) -> str:
    """'correct', 'refusal' or 'wrong' for a reply to a world question item ({"answers", ...})."""
    from dentro.eval.knowledge import contains_answer, is_refusal

    if item.get("answers") and contains_answer(text, item["answers"]):
        return "correct"
    return "refusal" if is_refusal(text) else "wrong"


def judge(item: dict, text_a: str, text_b: str) -> str:
    """'a', 'b' or 'tie' from the two answers alone (the judge never sees the models' names)."""
    ga, gb = grade(item, text_a), grade(item, text_b)
    if (ga == "wrong") == (gb == "wrong"):
        return "tie"
    return "b" if ga == "wrong" else "a"


def auto_battles(items: list[dict], replies: dict[str, list[str]], *, seed: int = 0) -> list[dict]:
    """Every pair of models on every item, sides drawn at random: [{"model_a", "model_b",
    "winner", "prompt", "source": "auto"}]. replies[model][i] answers items[i]."""
    rng = random.Random(seed)
    out = []
    for i, it in enumerate(items):
        for x, y in combinations(sorted(replies), 2):
            a, b = (x, y) if rng.random() < 0.5 else (y, x)
            out.append({"model_a": a, "model_b": b, "winner": judge(it, replies[a][i], replies[b][i]),
                        "prompt": it["question"], "source": "auto"})
    return out


def read_votes(path: Path) -> list[dict]:
    """People's votes from the web UI's arena (dentro/serve/ui_api.py writes the table):
    [{"model_a", "model_b", "winner" ("a", "b" or "tie"), "prompt", "source": "vote"}]."""
    path = Path(path)
    if not path.is_file():
        return []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute("SELECT model_a, model_b, winner, prompt FROM votes ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # a database without the votes table: nobody has voted
        rows = []
    finally:
        con.close()
    return [{"model_a": a, "model_b": b, "winner": w if w in ("a", "b") else "tie", "prompt": p, "source": "vote"}
            for a, b, w, p in rows if a != b]


# ---- Bradley-Terry ---------------------------------------------------------------------------

def _arrays(battles: list[dict], models: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index of a, index of b, a's score: 1 win, 0.5 tie, 0 loss) per battle."""
    pos = {m: i for i, m in enumerate(models)}
    a = np.array([pos[x["model_a"]] for x in battles], dtype=np.int64)
    b = np.array([pos[x["model_b"]] for x in battles], dtype=np.int64)
    s = np.array([{"a": 1.0, "b": 0.0}.get(x["winner"], 0.5) for x in battles])
    return a, b, s


def fit_strengths(a: np.ndarray, b: np.ndarray, s: np.ndarray, n: int, l2: float = L2) -> np.ndarray:
    """Maximum a-posteriori natural-log strengths theta (n,), summing to 0: P(i beats j) =
    sigmoid(theta_i - theta_j). Newton's method on the concave log-likelihood."""
    W = np.zeros((n, n))  # W[i, j]: i's score against j, summed over battles (ties half each)
    np.add.at(W, (a, b), s)
    np.add.at(W, (b, a), 1 - s)
    N = W + W.T  # battles between i and j
    theta = np.zeros(n)
    for _ in range(100):
        p = 1 / (1 + np.exp(theta[None, :] - theta[:, None]))  # (n, n) P(i beats j)
        grad = (W - N * p).sum(1) - l2 * theta
        w = N * p * (1 - p)
        hess = w - np.diag(w.sum(1) + l2)  # negative definite with l2 > 0
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]  # least squares: with l2 = 0, adding a
        # constant to every theta changes nothing and the Hessian is singular; this takes the step
        # without that direction
        step = np.clip(step, -5, 5)  # no wild first steps from a near-separable record
        theta -= step
        if np.abs(step).max() < 1e-9:
            break
    return theta - theta.mean()


def ratings(battles: list[dict], *, anchor: str | None = None, l2: float = L2) -> dict[str, float]:
    """{model: rating} on the Elo scale: mean 1000, or anchor's rating pinned at 1000."""
    models = sorted({x["model_a"] for x in battles} | {x["model_b"] for x in battles})
    if not models:
        return {}
    theta = fit_strengths(*_arrays(battles, models), len(models), l2)
    return _to_elo(theta, models, anchor)


def _to_elo(theta: np.ndarray, models: list[str], anchor: str | None) -> dict[str, float]:
    zero = theta[models.index(anchor)] if anchor in models else theta.mean()
    return {m: float(ANCHOR + SCALE / math.log(BASE) * (t - zero)) for m, t in zip(models, theta)}


def leaderboard(battles: list[dict], *, samples: int = 200, seed: int = 0, anchor: str | None = None,
                l2: float = L2) -> list[dict]:
    """Rows best first: {"model", "rating", "ci" [lo, hi] (95% bootstrap over battles), "battles",
    "wins", "ties", "losses"}."""
    models = sorted({x["model_a"] for x in battles} | {x["model_b"] for x in battles})
    if not models:
        return []
    a, b, s = _arrays(battles, models)
    best = _to_elo(fit_strengths(a, b, s, len(models), l2), models, anchor)
    rng = np.random.default_rng(seed)
    boot = np.empty((samples, len(models)))
    for k in range(samples):
        i = rng.integers(0, len(battles), len(battles))
        r = _to_elo(fit_strengths(a[i], b[i], s[i], len(models), l2), models, anchor)
        boot[k] = [r[m] for m in models]
    lo, hi = np.quantile(boot, [0.025, 0.975], axis=0) if samples else (np.full(len(models), np.nan),) * 2
    rows = []
    for j, m in enumerate(models):
        mine = (a == j) | (b == j)
        score = np.where(a == j, s, 1 - s)[mine]  # this model's side of its battles
        rows.append({"model": m, "rating": best[m], "ci": [float(lo[j]), float(hi[j])], "battles": int(mine.sum()),
                     "wins": int((score == 1).sum()), "ties": int((score == 0.5).sum()),
                     "losses": int((score == 0).sum())})
    return sorted(rows, key=lambda r: -r["rating"])


def plot_leaderboard(path: Path, rows: list[dict], *, title: str) -> Path:
    """A PNG: one bar per model (its rating above 0 on the axis from the lowest interval) with its
    95% interval as an error bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["model"] for r in rows]
    vals = np.array([r["rating"] for r in rows])
    err = np.array([[r["rating"] - r["ci"][0], r["ci"][1] - r["rating"]] for r in rows]).T.clip(min=0)  # (2, n)
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(rows) + 2), 4), dpi=110)
    ax.bar(range(len(rows)), vals, yerr=err, capsize=6, color="#4a7bb7")
    ax.axhline(ANCHOR, color="grey", linewidth=0.8, linestyle="--")
    lowest = min(r["ci"][0] for r in rows if not math.isnan(r["ci"][0])) if rows else ANCHOR
    ax.set_ylim(bottom=min(lowest, vals.min()) - 50)
    ax.set_xticks(range(len(rows)), names, rotation=20, ha="right")
    ax.set_ylabel("rating (Bradley-Terry, Elo scale)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
