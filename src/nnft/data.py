"""Datasets on the hypersphere: inputs uniform on S^{d-1}, targets given by their power per degree.

The target is a fixed teacher g = sum_l g_l. Each degree l is a sum of `directions` zonal harmonics,
g_l(x) = a_l sum_j c_j P_l(x . u_j), with u_j random unit directions and c_j standard normal. Since
int dmu P_l(x.u) P_l(x.v) = P_l(u.v) / N(d, l) (addition theorem), ||g_l||^2 = a_l^2 c^T G c / N(d, l) with
G_jk = P_l(u_j . u_k), and a_l is chosen so that ||g_l||^2 = power_l exactly: the exact per-degree powers G_l of
the theory. With one direction, g_l = sqrt(power_l N(d, l)) P_l(x . u).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import sphere


def check_target(d: int, degrees, power) -> None:
    degrees, power = np.asarray(degrees), np.asarray(power)
    if degrees.shape != power.shape or degrees.ndim != 1 or degrees.size == 0:
        raise ValueError(f"target degrees and power must be equal-length lists (got {degrees}, {power})")
    if np.any(degrees < 0) or len(set(degrees.tolist())) != degrees.size:
        raise ValueError(f"target degrees must be distinct non-negative integers (got {degrees.tolist()})")
    if np.any(power < 0):
        raise ValueError(f"target power must be >= 0 on every degree (got {power.tolist()})")
    sphere.check_dim(d)


def make_target(rng: np.random.Generator, d: int, degrees, power, directions: int = 1) -> dict[str, np.ndarray]:
    """Zonal terms (degree, coefficient, direction) of a teacher with exact per-degree powers `power`."""
    check_target(d, degrees, power)
    if directions < 1:
        raise ValueError(f"target directions must be >= 1 (got {directions})")
    term_degree, term_coef, term_dir = [], [], []
    for l, w in zip(degrees, power, strict=True):
        u = sphere.sample_sphere(rng, directions, d)
        c = rng.standard_normal(directions) if directions > 1 else np.ones(1)
        gram = sphere.gegenbauer_normalized(d, int(l), u @ u.T)
        norm2 = c @ gram @ c / sphere.degeneracy(d, l)
        term_degree += [int(l)] * directions
        term_coef += list(np.sqrt(w / norm2) * c)
        term_dir.append(u)
    return {
        "degree": np.asarray(term_degree, dtype=np.int64),
        "coefficient": np.asarray(term_coef, dtype=np.float64),
        "direction": np.concatenate(term_dir),
    }


def target_terms(x: np.ndarray, degree, coefficient, direction) -> np.ndarray:
    """Values of each zonal term coefficient * P_l(x . u) at the rows of x: shape (n_terms, *x.shape[:-1])."""
    d = x.shape[-1]
    return np.stack(
        [
            a * sphere.gegenbauer_normalized(d, int(l), x @ u)
            for l, a, u in zip(degree, coefficient, direction, strict=True)
        ]
    )


def make_dataset(
    seed: int,
    dim: int,
    degrees,
    power,
    n_max: int,
    n_test: int,
    n_draws: int,
    noise: float = 0.0,
    directions: int = 1,
    nested: bool = True,
) -> xr.Dataset:
    """Nested train sets (the first n points of each draw are the train set of size n), one test set.

    Variables: x_train (draw, sample, dim), y_train (noisy labels), g_train (clean target), x_test, g_test; the
    teacher's zonal terms term_degree, term_coefficient (term), term_direction (term, dim); its exact power per
    degree target_power (target_degree). `noise` is the label-noise standard deviation.

    nested: each draw's label noise comes from its own stream (spawned from the draw's seed), so that the first n
    rows of every variable, and the first draws, do not depend on n_max or n_draws: the dataset drawn with
    n_max = n is the first n rows of any larger one, labels included. False: the noise follows the inputs in the
    draw's stream (the layout before nesting; with noise > 0 the first n labels then depend on n_max), kept by the
    single-size datasets of the survey and the hyper-parameter selection so that their stores are unchanged.
    With noise = 0 both give the same dataset.
    """
    check_target(dim, degrees, power)
    if min(n_max, n_test, n_draws) < 1 or noise < 0:
        raise ValueError(f"need n_max, n_test, n_draws >= 1 and noise >= 0 (got {n_max}, {n_test}, {n_draws}, {noise})")
    teacher_seq, test_seq, *draw_seqs = np.random.SeedSequence(seed).spawn(2 + n_draws)
    target = make_target(np.random.default_rng(teacher_seq), dim, degrees, power, directions)
    terms = (target["degree"], target["coefficient"], target["direction"])
    x_test = sphere.sample_sphere(np.random.default_rng(test_seq), n_test, dim)
    x_train, y_train, g_train = [], [], []
    for s in draw_seqs:
        rng = np.random.default_rng(s)
        x = sphere.sample_sphere(rng, n_max, dim)
        g = target_terms(x, *terms).sum(0)
        x_train.append(x)
        g_train.append(g)
        noise_rng = np.random.default_rng(s.spawn(1)[0]) if nested else rng
        y_train.append(g + noise * noise_rng.standard_normal(n_max))
    g_test = target_terms(x_test, *terms).sum(0)
    return xr.Dataset(
        {
            "x_train": (("draw", "sample", "dim"), np.stack(x_train)),
            "y_train": (("draw", "sample"), np.stack(y_train)),
            "g_train": (("draw", "sample"), np.stack(g_train)),
            "x_test": (("test_sample", "dim"), x_test),
            "g_test": (("test_sample",), g_test),
            "term_degree": (("term",), target["degree"]),
            "term_coefficient": (("term",), target["coefficient"]),
            "term_direction": (("term", "dim"), target["direction"]),
            "target_power": (("target_degree",), np.asarray(power, dtype=np.float64)),
        },
        coords={
            "draw": np.arange(n_draws),
            "sample": np.arange(n_max),
            "test_sample": np.arange(n_test),
            "target_degree": np.asarray(degrees, dtype=np.int64),
        },
        attrs={"noise": float(noise), "description": "inputs uniform on S^{d-1}; fixed zonal-harmonic teacher"},
    )
