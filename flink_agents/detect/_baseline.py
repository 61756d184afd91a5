"""A key's baseline: the mean and covariance of its normal feature vectors, learnt online."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

Vector = NDArray[np.float64]

# Below this a metric's variance is taken as this (relative to its scale): a metric that
# never moved during warm-up must not make every later wobble infinitely surprising.
_RELATIVE_VARIANCE_FLOOR = 1e-6


class Baseline(BaseModel):
    """Mean and covariance of the windows a key has shown so far, as plain lists (JSON state).

    The first windows are averaged equally (warm-up); after that each normal window moves
    the estimate by ``alpha``, so slow drift and seasons are followed while a fault, which
    is not learnt, stands out.

    >>> b = Baseline()
    >>> for x in ([1.0, 10.0], [3.0, 14.0], [2.0, 12.0]):
    ...     b.learn(np.array(x))
    >>> b.mean, b.n
    ([2.0, 12.0], 3)
    >>> round(b.distance(np.array([2.0, 12.0]), shrinkage=0.1)[0], 6)
    0.0
    """

    n: int = 0
    mean: list[float] = []
    cov: list[list[float]] = []

    def learn(self, x: Vector, alpha: float | None = None, beta: float = 0.0) -> None:
        """Take ``x`` in: equally weighted while ``alpha`` is None (warm-up), else moving the
        mean by ``alpha`` and the covariance by ``beta`` (0 leaves it as it is)."""
        if self.n == 0:
            self.n, self.mean, self.cov = 1, x.tolist(), np.zeros((x.size, x.size)).tolist()
            return
        mean, cov = np.array(self.mean), np.array(self.cov)
        delta = x - mean
        if alpha is None:
            weight = 1.0 / (self.n + 1)
            new_mean = mean + weight * delta
            cov = cov + (np.outer(delta, x - new_mean) - cov) * weight
        else:
            new_mean = mean + alpha * delta
            cov = (1 - beta) * cov + beta * np.outer(delta, delta)
        self.n += 1
        self.mean, self.cov = new_mean.tolist(), cov.tolist()

    def distance(self, x: Vector, shrinkage: float) -> tuple[float, Vector, Vector]:
        """Squared Mahalanobis distance of ``x``, each metric's additive part of it, and each
        metric's own z-score. The covariance is shrunk towards its diagonal by ``shrinkage``
        (a few dozen windows estimate correlations poorly)."""
        mean, cov = np.array(self.mean), np.array(self.cov)
        variances = np.maximum(np.diag(cov), (_RELATIVE_VARIANCE_FLOOR * (np.abs(mean) + 1)) ** 2)
        shrunk = (1 - shrinkage) * cov + shrinkage * np.diag(np.diag(cov))
        np.fill_diagonal(shrunk, variances)
        delta = x - mean
        solved = np.linalg.solve(shrunk, delta)
        parts = delta * solved
        return float(parts.sum()), parts, delta / np.sqrt(variances)
