"""The finite-width Bayesian networks' study (docs/finite_width_bayes.md): the theories of the networks' test MSE
at finite width on the very datasets the width-convergence ensembles are trained on, and the measured ratios, fits
and predicted curves the figure draws.

`theory` evaluates, per dataset: the first-order 1/width correction (theory.finite_width_bayes.first_order_mse) and
the first-layer weight moments it predicts, the adaptive-kernel saddle point with its loop on a width grid and in
independent replicas at the measured widths (theory.adaptive_kernel), kernel renormalisation with one scalar per
hidden layer, and the exactly solvable linear-network references (theory.bayes_linear). `measured_ratios`,
`ratio_fit`, `measured_weight_moments` and `predicted_curves` turn stores into what the figure plots (plots compute
nothing).
"""

from __future__ import annotations

import jax
import numpy as np
import xarray as xr

from .. import model
from ..sampling import langevin
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


def measured_ratios(train: xr.Dataset, data: xr.Dataset, theory: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """The networks' posterior-mean test MSE over the GP's, on the theory's datasets and test points (the theory's
    own gp_mse: a different test set moves the ratio by up to 0.05 at n = 128). train: the width-convergence stores
    concatenated on "width". Returns (per_draw: ratio, ratio_se, mse, mse_se and the first-order prediction of each
    dataset's ratio - 1, on (width, draw); summary: ratio, ratio_se of the summed MSEs per width). ValueError when a
    width was trained on other datasets than the theory's."""
    n, q = int(theory.attrs["n_train"]), int(theory.attrs["test_points"])
    gp_same = theory.gp_mse.values
    rows = []
    for w in train.width.values:
        t = train.sel(width=w, n_train=n)
        if not np.array_equal(t.draw.values, theory.draw.values):
            raise ValueError(f"width {w}: trained on draws {t.draw.values}, theory on {theory.draw.values}")
        mse, mse_se = langevin.posterior_mean_mse(langevin.chain_means(t)[..., :q], data.g_test.values[:q])
        rows.append(xr.Dataset({"ratio": ("draw", mse / gp_same), "ratio_se": ("draw", mse_se / gp_same),
                                "mse": ("draw", mse), "mse_se": ("draw", mse_se)}))  # fmt: skip
    per_draw = xr.concat(rows, dim="width").assign_coords(width=train.width.values, draw=theory.draw.values)
    coefficient = (theory.mse_coefficient / theory.gp_mse).values, (theory.mse_coefficient_se / theory.gp_mse).values
    for name, c in zip(("first_order", "first_order_se"), coefficient, strict=True):
        per_draw[name] = (("width", "draw"), np.stack([c / w for w in per_draw.width.values]))
    summary = xr.Dataset(
        {
            "ratio": per_draw.mse.sum("draw") / gp_same.sum(),
            "ratio_se": np.sqrt((per_draw.mse_se**2).sum("draw")) / gp_same.sum(),
        }
    )
    return per_draw, summary


def ratio_fit(summary: xr.Dataset, n_train: int) -> dict | None:
    """a + b / width fitted to the measured ratios over the widths >= 2 n_train (all widths if fewer than three
    are): closer to n the gap is outside the 1/width regime and a straight line in 1/width extrapolates too low (the
    exactly solvable linear network, fitted over N / P = 1..8, gives a = 0.77 for a limit of 1; docs/
    finite_width_bayes.md). None without three widths with finite, positive error bars."""
    se, widths = summary.ratio_se.values, summary.width.values
    use = widths >= 2 * n_train if np.sum(widths >= 2 * n_train) >= 3 else np.ones(widths.size, bool)
    if use.sum() < 3 or not np.all(np.isfinite(se[use])) or not np.all(se[use] > 0):
        return None
    fit = finite_width_bayes.inverse_width_fit(widths[use], summary.ratio.values[use], se[use])
    fit["min_width"] = int(widths[use].min())
    fit["a_se"] = float(np.sqrt(fit["cov"][0, 0]))
    return fit


def measured_weight_moments(train: xr.Dataset, theory: xr.Dataset) -> xr.Dataset | None:
    """u^T M u per width and direction u of the theory (M: the stores' first-layer weight second moment), chains
    and datasets pooled, with its standard error; None when the stores or the theory lack them."""
    if "first_layer_moment" not in train or "direction_vector" not in theory:
        return None
    u = theory.direction_vector.values
    m = train.first_layer_moment.sel(n_train=int(theory.attrs["n_train"])).transpose("width", "draw", "member", ...)
    proj = np.einsum("ki,wdmij,kj->wdmk", u, m.values, u)
    flat = proj.reshape(proj.shape[0], -1, proj.shape[-1])
    return xr.Dataset(
        {
            "moment": (("width", "direction"), flat.mean(1)),
            "moment_se": (("width", "direction"), flat.std(1, ddof=1) / np.sqrt(flat.shape[1])),
        },
        coords={"width": train.width.values},
    )


def predicted_curves(theory: xr.Dataset, widths, fit: dict | None, weights: xr.Dataset | None) -> xr.Dataset:
    """The figure's curves on its width grids: grid_width (1/width down to 0: first order and the fit's band),
    oracle_width (the linear-oracle panel), weight_width (the predicted weight moments), and every
    approximation's ratio (finite_width_bayes.approximation_summary)."""
    widths = np.asarray(widths)
    grid = np.linspace(0.9 * widths.min(), 1e6, 4000)
    grid = np.unique(np.concatenate([grid, np.geomspace(0.9 * widths.min(), 1e6, 400)]))
    oracle = np.geomspace(0.5 * widths.min(), 4 * widths.max(), 200)
    ratio, ratio_se = finite_width_bayes.predicted_ratio(theory, grid)
    curves = {
        "first_order": ("grid_width", ratio),
        "first_order_se": ("grid_width", ratio_se),
        "oracle_first_order": ("oracle_width", finite_width_bayes.predicted_ratio(theory, oracle)[0]),
    }
    coords = {"grid_width": grid, "oracle_width": oracle}
    if fit is not None:
        curves["fit"], curves["fit_se"] = (("grid_width", v) for v in finite_width_bayes.fit_band(fit, grid))
    if weights is not None:
        coords["weight_width"] = np.linspace(0.9 * widths.min(), 20 * widths.max(), 400)
        moment = finite_width_bayes.predicted_weight_moment(theory, coords["weight_width"])
        curves["weight_first_order"] = (("weight_width", "direction"), moment)
    return xr.merge([xr.Dataset(curves, coords=coords), finite_width_bayes.approximation_summary(theory)])
