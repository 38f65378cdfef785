"""Late-fusion weights fitted on held-out training clips: a per-class share of the train split is
kept out of training, and after training the weights w on the simplex (grid step 0.1) that minimise the held-out
negative log-likelihood of the fused score Σ_s w_s p_s(y) are written into the checkpoint."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from partkd.data.inputs import Inputs

#: Resolution of the weight grid on the simplex.
GRID_STEP = 0.1


def holdout_split(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held-out) indices: round(share · n_c) clips of every class c with at least two clips are held out,
    drawn with `seed`; sorted."""
    rng = np.random.default_rng([seed, 7])
    held: list[int] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = min(int(round(share * len(idx))), len(idx) - 1)
        held += rng.permutation(idx)[:k].tolist()
    held_arr = np.sort(np.asarray(held, dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels)), held_arr), held_arr


def simplex_grid(streams: int, step: float = GRID_STEP) -> np.ndarray:
    """(G, S) every weight vector with entries in multiples of `step` summing to 1."""
    n = int(round(1 / step))
    rows = [c for c in itertools.product(range(n + 1), repeat=streams - 1) if sum(c) <= n]
    return np.asarray([[*c, n - sum(c)] for c in rows], dtype=np.float64) / n


def fused_nll(weights: np.ndarray, stream_proba: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """−mean log Σ_s w_s p_s(y_i) of stream probabilities (S, N, K) for each row of weights (..., S)."""
    true = stream_proba[:, np.arange(len(labels)), labels]  # (S, N)
    return -np.log(np.maximum(weights @ true, 1e-12)).mean(axis=-1)


def fit_weights(stream_proba: np.ndarray, labels: np.ndarray, step: float = GRID_STEP) -> tuple[np.ndarray, float]:
    """The grid weights minimising the fused NLL over stream probabilities (S, N, K), and that NLL (ties: the
    first on the grid)."""
    grid = simplex_grid(stream_proba.shape[0], step)
    nll = fused_nll(grid, stream_proba, labels)
    best = int(np.argmin(nll))
    return grid[best], float(nll[best])


def apply_fitted_fusion(path: Path | str, x_held: Inputs, y_held: np.ndarray) -> dict[str, Any]:
    """Fit the fusion weights of the multi-stream checkpoint at `path` on held-out inputs and labels, store them in
    its weights and metadata (model.fusion, fusion_fit), and return the fit's record."""
    import torch

    from partkd.checkpoints import load_checkpoint, save_checkpoint, stem_of
    from partkd.engine.evaluate import stream_proba

    loaded = load_checkpoint(path)
    per = stream_proba(loaded, x_held)
    proba = np.stack(list(per.values()))
    weights, nll = fit_weights(proba, y_held)
    equal = np.full(len(per), 1.0 / len(per))
    top1 = {name: float((p.argmax(1) == y_held).mean()) for name, p in per.items()}
    record = {
        "clips": int(len(y_held)),
        "weights": [round(float(w), 6) for w in weights],
        "nll": nll,
        "nll_equal": float(fused_nll(equal, proba, y_held)),
        "top1_fitted": float((np.tensordot(weights, proba, 1).argmax(1) == y_held).mean()),
        "top1_equal": float((proba.mean(0).argmax(1) == y_held).mean()),
        "top1_streams": top1,
        "grid_step": GRID_STEP,
    }
    model = loaded.model
    buffer = model.get_buffer("weights")
    with torch.no_grad():
        buffer.copy_(torch.as_tensor(weights, dtype=torch.float32))
    meta = dict(loaded.meta)
    meta["model"] = {**meta["model"], "fusion": record["weights"]}
    meta["fusion_fit"] = record
    save_checkpoint(stem_of(loaded.path), model, meta)
    return record


__all__ = ["GRID_STEP", "apply_fitted_fusion", "fit_weights", "fused_nll", "holdout_split", "simplex_grid"]
