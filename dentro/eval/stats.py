"""Numbers with error bars: how sure a benchmark score is, and what it means above chance.

    wilson     95% interval of a proportion k/n (Wilson 1927): unlike p +- 1.96 sqrt(p(1-p)/n)
               it stays inside [0, 1] and is not zero-width at 0/n or n/n, which small
               evaluations hit often.
    bootstrap  95% percentile interval of a mean (Efron 1979): resample the items with
               replacement, take the mean each time, read the 2.5th and 97.5th percentiles.
               For scores that are not 0/1 (a per-item reward, a log-likelihood).
    centred    (accuracy - chance) / (1 - chance): 0 is guessing, 1 is perfect, below 0 is
               worse than guessing. nanochat's CORE metric centres each task this way before
               averaging, so that a 4-way task at 25% and a 2-way one at 50% both count 0.
    auc        the area under the ROC curve of a score separating two groups: the chance that a
               member of the first scores above one of the second (ties count half).
"""

from __future__ import annotations

import math

import numpy as np


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion k/n ((0, 0) when n is 0)."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_mean(values, *, samples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of values ((nan, nan) when empty)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(samples, x.size))  # (samples, n) resampled item indices
    means = x[idx].mean(axis=1)
    a = (1 - level) / 2
    lo, hi = np.quantile(means, [a, 1 - a])
    return (float(lo), float(hi))


def centred(accuracy: float, chance: float) -> float:
    """(accuracy - chance) / (1 - chance); chance 0 (an open answer) leaves accuracy as it is."""
    if not 0 <= chance < 1:
        raise ValueError(f"chance must be in [0, 1), got {chance}")
    return (accuracy - chance) / (1 - chance)


def auc(pos: list[float], neg: list[float]) -> float | None:
    """P(a score of pos > a score of neg), ties half; None when either group is empty."""
    if not pos or not neg:
        return None
    return sum((x > y) + 0.5 * (x == y) for x in pos for y in neg) / (len(pos) * len(neg))
