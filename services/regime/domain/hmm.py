"""A Gaussian hidden Markov model with anchored state means: Baum-Welch fit, causal filter.

The state means are fixed at prototypes the caller chooses (so state k always means the same
regime); EM estimates the covariances, the transition matrix and the initial distribution.
Classification uses the forward filter only: the probability at step t depends on steps <= t.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class HmmParams:
    means: Array  # (K, D)
    covariances: Array  # (K, D, D)
    transition: Array  # (K, K), rows sum to 1
    initial: Array  # (K,)

    @property
    def states(self) -> int:
        return int(self.means.shape[0])


def log_emissions(params: HmmParams, z: Array) -> Array:
    """Log density of every observation under every state: (..., T, D) -> (..., T, K)."""
    k, d = params.means.shape
    out = np.empty((*z.shape[:-1], k))
    for j in range(k):
        chol = np.linalg.cholesky(params.covariances[j])
        diff = z - params.means[j]
        sol = np.linalg.solve(chol, diff.reshape(-1, d).T).T.reshape(diff.shape)
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        out[..., j] = -0.5 * (
            np.einsum("...i,...i->...", sol, sol) + log_det + d * np.log(2 * np.pi)
        )
    return out


def forward_filter(params: HmmParams, log_b: Array) -> Array:
    """Filtered state probabilities P(state_t | obs_<=t), for (T, K) or (S, T, K) emissions.

    Missing observations (rows of NaN) carry no evidence: the state only propagates.
    """
    single = log_b.ndim == 2
    lb = log_b[None] if single else log_b
    lb = np.where(np.isnan(lb), 0.0, lb)
    s, t_len, k = lb.shape
    trans = params.transition
    # Evidence up to a per-row constant (it cancels in the normalization), all rows at once.
    evidence = np.exp(lb - lb.max(axis=2, keepdims=True))
    probs = np.empty((s, t_len, k))
    prior = np.broadcast_to(params.initial, (s, k))
    for t in range(t_len):
        post = prior * evidence[:, t, :]
        post /= post.sum(axis=1, keepdims=True)
        probs[:, t, :] = post
        prior = post @ trans
    return probs[0] if single else probs


def _forward_backward(params: HmmParams, log_b: Array) -> tuple[Array, Array, float]:
    """Smoothed posteriors, expected transition counts, and log likelihood (used for fitting)."""
    t_len, k = log_b.shape
    shift = log_b.max(axis=1, keepdims=True)
    b = np.exp(log_b - shift)
    alpha = np.empty((t_len, k))
    scale = np.empty(t_len)
    a = params.initial * b[0]
    scale[0] = a.sum()
    alpha[0] = a / scale[0]
    for t in range(1, t_len):
        a = (alpha[t - 1] @ params.transition) * b[t]
        scale[t] = a.sum()
        alpha[t] = a / scale[t]
    beta = np.ones((t_len, k))
    for t in range(t_len - 2, -1, -1):
        beta[t] = params.transition @ (b[t + 1] * beta[t + 1]) / scale[t + 1]
    gamma = alpha * beta
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi = np.einsum(
        "ti,ij,tj->ij", alpha[:-1], params.transition, b[1:] * beta[1:] / scale[1:, None]
    )
    log_likelihood = float(np.log(scale).sum() + shift.sum())
    return gamma, xi, log_likelihood


def fit_anchored(
    sequences: Sequence[Array],
    means: Array,
    *,
    stickiness: float = 50.0,
    ridge: float = 0.1,
    max_iter: int = 200,
    tol: float = 1e-5,
) -> tuple[HmmParams, float]:
    """Baum-Welch over independent sequences (one per symbol, each (T_i, D)) with the means
    held at `means`.

    A Dirichlet prior of weight `stickiness` on the diagonal of the transition matrix favours
    persistent states; `ridge` floors every covariance (in standardized units) so no state
    collapses onto a thin slice of the data. Returns the params and the final log likelihood.
    """
    k, d = means.shape
    pooled = np.concatenate(list(sequences))
    off = 0.05 / max(k - 1, 1)
    params = HmmParams(
        means=means.astype(np.float64),
        covariances=np.tile(np.cov(pooled.T) + ridge * np.eye(d), (k, 1, 1)),
        transition=np.full((k, k), off) + np.eye(k) * (0.95 - off),
        initial=np.full(k, 1.0 / k),
    )
    previous = -np.inf
    log_likelihood = previous
    for _ in range(max_iter):
        gammas, xi, log_likelihood, first = [], np.zeros((k, k)), 0.0, np.zeros(k)
        for z in sequences:
            gamma, seq_xi, seq_ll = _forward_backward(params, log_emissions(params, z))
            gammas.append(gamma)
            xi += seq_xi
            log_likelihood += seq_ll
            first += gamma[0]
        gamma_all = np.concatenate(gammas)
        weights = gamma_all.sum(axis=0)
        covariances = np.empty((k, d, d))
        for j in range(k):
            diff = pooled - means[j]
            weighted = diff * gamma_all[:, j][:, None]
            covariances[j] = weighted.T @ diff / max(weights[j], 1e-9) + ridge * np.eye(d)
        counts = xi + np.eye(k) * stickiness + 1.0
        params = HmmParams(
            means=params.means,
            covariances=covariances,
            transition=counts / counts.sum(axis=1, keepdims=True),
            initial=(first + 1e-3) / (first + 1e-3).sum(),
        )
        if log_likelihood - previous < tol * abs(log_likelihood):
            break
        previous = log_likelihood
    return params, log_likelihood
