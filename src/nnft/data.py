"""Datasets on the hypersphere: inputs uniform on S^{d-1}, targets given by their spectral weight per degree.

The target is a fixed teacher g = sum_j g_j with one zonal harmonic per term,
g_j(x) = sqrt(weight_j * N(d, l_j)) P_{l_j}(x . u_j), u_j a random unit direction. Since
int dmu P_l(x.u)^2 = 1 / N(d, l), each term has population norm ||g_j||^2 = weight_j exactly, and terms of
different degree are orthogonal, so `weights` are the exact per-degree powers G_l of the theory.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import sphere


def check_target(d: int, degrees, weights) -> None:
    degrees, weights = np.asarray(degrees), np.asarray(weights)
    if degrees.shape != weights.shape or degrees.ndim != 1 or degrees.size == 0:
        raise ValueError(f"target degrees and weights must be equal-length lists (got {degrees}, {weights})")
    if np.any(degrees < 0) or len(set(degrees.tolist())) != degrees.size:
        raise ValueError(f"target degrees must be distinct non-negative integers (got {degrees.tolist()})")
    if np.any(weights < 0):
        raise ValueError(f"target weights are powers and must be >= 0 (got {weights.tolist()})")
    sphere.check_dim(d)


def target_terms(x: np.ndarray, degrees, weights, directions) -> np.ndarray:
    """Values of each target term g_j at the rows of x: shape (n_terms, *x.shape[:-1])."""
    d = x.shape[-1]
    out = []
    for l, w, u in zip(degrees, weights, directions, strict=True):
        amp = np.sqrt(w * sphere.degeneracy(d, l))
        out.append(amp * sphere.gegenbauer_normalized(d, int(l), x @ u))
    return np.stack(out)


def make_dataset(
    seed: int,
    dim: int,
    degrees,
    weights,
    n_max: int,
    n_test: int,
    n_draws: int,
    noise: float = 0.0,
) -> xr.Dataset:
    """Nested train sets (the first n points of each draw are the train set of size n), one test set.

    Variables: x_train (draw, sample, dim), y_train (noisy labels), g_train (clean target), x_test, g_test,
    direction (term, dim), degree (term), weight (term). `noise` is the label-noise standard deviation.
    """
    check_target(dim, degrees, weights)
    if min(n_max, n_test, n_draws) < 1 or noise < 0:
        raise ValueError(f"need n_max, n_test, n_draws >= 1 and noise >= 0 (got {n_max}, {n_test}, {n_draws}, {noise})")
    teacher_seq, test_seq, *draw_seqs = np.random.SeedSequence(seed).spawn(2 + n_draws)
    directions = sphere.sample_sphere(np.random.default_rng(teacher_seq), len(degrees), dim)
    x_test = sphere.sample_sphere(np.random.default_rng(test_seq), n_test, dim)
    x_train, y_train, g_train = [], [], []
    for s in draw_seqs:
        rng = np.random.default_rng(s)
        x = sphere.sample_sphere(rng, n_max, dim)
        g = target_terms(x, degrees, weights, directions).sum(0)
        x_train.append(x)
        g_train.append(g)
        y_train.append(g + noise * rng.standard_normal(n_max))
    g_test = target_terms(x_test, degrees, weights, directions).sum(0)
    return xr.Dataset(
        {
            "x_train": (("draw", "sample", "dim"), np.stack(x_train)),
            "y_train": (("draw", "sample"), np.stack(y_train)),
            "g_train": (("draw", "sample"), np.stack(g_train)),
            "x_test": (("test_sample", "dim"), x_test),
            "g_test": (("test_sample",), g_test),
            "direction": (("term", "dim"), directions),
            "degree": (("term",), np.asarray(degrees, dtype=np.int64)),
            "weight": (("term",), np.asarray(weights, dtype=np.float64)),
        },
        coords={"draw": np.arange(n_draws), "sample": np.arange(n_max), "test_sample": np.arange(n_test)},
        attrs={"noise": float(noise), "description": "inputs uniform on S^{d-1}; fixed zonal-harmonic teacher"},
    )
