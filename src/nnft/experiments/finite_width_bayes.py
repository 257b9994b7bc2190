"""The finite-width Bayesian networks' study (docs/finite_width_bayes.md): the theories of the networks' test MSE
at finite width on the very datasets the width-convergence ensembles are trained on, and the measured ratios, fits
and predicted curves the figure draws.

`theory` evaluates, per dataset: the first-order 1/width correction (theory.finite_width_bayes.first_order_mse) and
the first-layer weight moments it predicts, the adaptive-kernel saddle point with its loop on a width grid and in
independent replicas at the measured widths (theory.adaptive_kernel), kernel renormalisation with one scalar per
hidden layer, and the exactly solvable linear-network references (theory.bayes_linear). What the figure draws from
these stores and the trained networks' is computed in experiments.finite_width_bayes_summary (kept apart so that
this stage does not depend on the sampler's code).
"""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr

from .. import model
from ..theory import adaptive_kernel, bayes_linear, finite_width_bayes

# The exactly solvable reference beside the deep networks: one hidden layer of a linear network on the isotropic
# design of docs/finite_width_bayes.md Sec. 4 with a prior-mismatched teacher (|beta|^2 = target_scale2 d). The
# adaptive kernel's loop is evaluated at the widths in loop_widths' range (no saddle point below 2 n_train).
LINEAR_REFERENCE = {
    "dim": 30,
    "n_train": 60,
    "target_scale2": 4.0,
    "ridge": 0.05,
    "widths": (15, 30, 60, 120, 240, 480, 960, 1920, 3840),
    "loop_widths": (120, 960),
    "loop_samples": 2**15,
}
RENORMALISATION_WIDTHS = np.unique(np.geomspace(16, 4096, 25).astype(int))  # kernel renormalisation's width grid


def _key(seed: int, stream: int) -> jax.Array:
    return jax.random.fold_in(jax.random.key(seed), stream)


def weight_directions(term_direction: np.ndarray, seed: int) -> np.ndarray:
    """Unit directions in input space whose first-layer weight moments are predicted and measured: each teacher
    direction (rows of term_direction), then one direction orthogonal to all of them (drawn with seed)."""
    other = np.random.default_rng(seed).standard_normal(term_direction.shape[1])
    other -= term_direction.T @ np.linalg.lstsq(term_direction.T, other, rcond=None)[0]
    return np.concatenate([term_direction, other[None] / np.linalg.norm(other)])


def linear_reference(depth: int, seed: int, loop_samples: int, reference: dict = LINEAR_REFERENCE) -> xr.Dataset:
    """The linear-network references (variables prefixed linear_, coordinate linear_width): the exact posterior of
    one hidden layer with every approximation beside it, the adaptive kernel with its loop (a Monte Carlo of the
    same module as the deep networks'; NaN outside reference["loop_widths"] or with loop_samples = 0), and for
    depth > 2 the deep linear network of that depth (one Gamma scalar per hidden layer, docs Sec. 9)."""
    r = reference
    x, y, beta = bayes_linear.isotropic_design(dim=r["dim"], n_train=r["n_train"], target_scale2=r["target_scale2"])
    linear = bayes_linear.width_sweep(x, y, beta, list(r["widths"]), ridge=r["ridge"])
    loop = np.full(linear.sizes["width"], np.nan)
    lo, hi = r["loop_widths"]
    for i, width in enumerate(linear.width.values):
        if width < lo or width > hi or not loop_samples:
            continue
        net = model.FCN(dim=r["dim"], depth=2, activation="identity", sigma_w2=1.0, sigma_b2=0.0, width=int(width))
        saddle = adaptive_kernel.saddle_point(net, x, y, np.eye(r["dim"]), r["ridge"], jax.random.key(seed),
                                              r["loop_samples"], loop_samples=loop_samples)  # fmt: skip
        loop[i] = bayes_linear.test_mse(saddle["mean"].values + saddle.loop.values, beta)
    linear["adaptive_kernel_loop_mse"] = ("width", loop)
    out = linear.rename(width="linear_width").rename({k: f"linear_{k}" for k in linear.data_vars})
    out.attrs = {f"linear_{k}": v for k, v in linear.attrs.items()}
    if depth > 2:
        deep = bayes_linear.width_sweep(x, y, beta, linear.width.values, ridge=r["ridge"], depth=depth)
        out = out.merge(deep.rename({k: f"linear_deep_{k}" for k in deep.data_vars}).rename(width="linear_width"))
        out.attrs["linear_deep_depth"] = depth
    return out


def theory(data: xr.Dataset, net: model.FCN, n_train: int, draws: int, test_points: int, ridge: float, seed: int,
           theory_samples: int, widths, adaptive_kernel_samples: int, adaptive_kernel_loop_samples: int,
           adaptive_kernel_replicas: int, progress=None) -> xr.Dataset:  # fmt: skip
    """Every finite-width theory of the networks' posterior on the first `draws` datasets of data (a data.zarr
    store) at n_train points, evaluated on its first test_points test points; widths are the trained ones.

    Random streams (all from seed): the first-order Monte Carlo fold_in(n_train), the weight moments
    fold_in(1 + n_train), the adaptive-kernel width grid fold_in(2 + n_train), replica r >= 1 fold_in(1000 r +
    n_train)."""
    n, sel, q = n_train, slice(0, draws), test_points
    x_train, y_train = data.x_train.values[sel, :n], data.y_train.values[sel, :n]
    x_test, g_test = data.x_test.values[:q], data.g_test.values[:q]
    out = finite_width_bayes.first_order_mse(net, x_train, y_train, x_test, g_test, ridge=ridge,
                                             key=_key(seed, n), n_samples=theory_samples)  # fmt: skip
    out = out.assign_coords(draw=data.draw.values[sel])
    directions = weight_directions(data.term_direction.values, seed)
    keys = jax.random.split(_key(seed, 1 + n), draws)
    moments = [
        finite_width_bayes.first_layer_second_moment(net, xd, yd, ridge, directions, k)
        for xd, yd, k in zip(x_train, y_train, keys, strict=True)
    ]
    out["weight_coefficient"] = (("draw", "direction"), np.stack([m.coefficient.values for m in moments]))
    out["weight_coefficient_se"] = (("draw", "direction"), np.stack([m.coefficient_se.values for m in moments]))
    out["direction_vector"] = (("direction", "dim"), moments[0].direction_vector.values)
    out["direction_degree"] = (("direction",), np.append(data.term_degree.values, -1))  # -1: orthogonal to teacher
    # The adaptive-kernel saddle point at the measured widths and on a geometric grid around them (NaN: no saddle).
    measured = np.asarray(widths)
    around = np.geomspace(measured.min() / 2, 8 * measured.max(), 9).astype(int)
    ak_widths = np.unique(np.concatenate([measured, around]))
    ak = adaptive_kernel.width_sweep(net, x_train, y_train, x_test, g_test, ridge, ak_widths, _key(seed, 2 + n),
                                     adaptive_kernel_samples, directions, loop_samples=adaptive_kernel_loop_samples,
                                     loop_widths=measured)  # fmt: skip
    if progress:
        progress(ak)
    out = out.merge(ak.drop_vars("draw").assign_coords(draw=out.draw.values))
    # Independent replicas at the measured widths: their spread is the Monte Carlo error of the saddle point and loop.
    replicas = [ak.sel(ak_width=measured)] + [
        adaptive_kernel.width_sweep(
            net,
            x_train,
            y_train,
            x_test,
            g_test,
            ridge,
            measured,
            _key(seed, 1000 * r + n),
            adaptive_kernel_samples,
            loop_samples=adaptive_kernel_loop_samples,
            loop_widths=measured,
        )  # fmt: skip
        for r in range(1, adaptive_kernel_replicas)
    ]
    for name in ("ak_mse", "ak_loop_mse"):
        stacked = np.stack([r[name].values for r in replicas])  # (replica, draw, width)
        out[name.replace("ak_", "ak_replica_")] = (("ak_replica", "draw", "measured_width"), stacked)
    out = out.assign_coords(measured_width=measured, ak_replica=np.arange(len(replicas)))
    kr = finite_width_bayes.kernel_renormalisation_mse(net, x_train, y_train, x_test, g_test, ridge,
                                                       RENORMALISATION_WIDTHS)  # fmt: skip
    out = out.merge(kr.assign_coords(draw=out.draw.values))
    linear = linear_reference(net.depth, seed, adaptive_kernel_loop_samples)
    out = out.merge(linear)
    out.attrs.update(linear.attrs)
    return out
