"""What the finite-width Bayesian networks' figure draws (docs/finite_width_bayes.md): the trained networks' test
MSE over the GP's on the datasets and test points of the theory store (experiments.finite_width_bayes), a + b / width
and 1 + b / width + c / width^2 fitted to it, the measured first-layer weight moments, and the theories' curves on
the figure's width grids (plots compute nothing).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..sampling import langevin
from ..theory import finite_width_bayes


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


def ratio_fit(summary: xr.Dataset, n_train: int, gp_limit: bool = False) -> dict | None:
    """finite_width_bayes.inverse_width_fit of the measured ratios over the widths >= 2 n_train (all widths if fewer
    than three are): closer to n the gap is outside the 1/width regime and a straight line in 1/width extrapolates
    too low (the exactly solvable linear network, fitted over N / P = 1..8, gives a = 0.77 for a limit of 1; docs/
    finite_width_bayes.md Sec. 7). Default a + b / width, with gp_limit 1 + b / width + c / width^2. Adds min_width
    and the standard errors a_se (of a fitted a; 0 when imposed), b_se, c_se. None without three widths with finite,
    positive error bars."""
    se, widths = summary.ratio_se.values, summary.width.values
    use = widths >= 2 * n_train if np.sum(widths >= 2 * n_train) >= 3 else np.ones(widths.size, bool)
    if use.sum() < 3 or not np.all(np.isfinite(se[use])) or not np.all(se[use] > 0):
        return None
    fit = finite_width_bayes.inverse_width_fit(widths[use], summary.ratio.values[use], se[use], gp_limit=gp_limit)
    fit["min_width"] = int(widths[use].min())
    errors = np.sqrt(np.diag(fit["cov"]))
    names = ("b_se", "c_se") if gp_limit else ("a_se", "b_se")
    fit.update({"a_se": 0.0, "c_se": 0.0} | {k: float(e) for k, e in zip(names, errors, strict=True)})
    return fit


def gp_limit_fit(summary: xr.Dataset, theory: xr.Dataset) -> dict | None:
    """ratio_fit with the GP imposed as the infinite-width limit, 1 + b / width + c / width^2, and beside its b the
    first-order theory's slope on the same datasets (b_first_order, b_first_order_se: predicted ratio - 1 times
    width): if the networks tend to the GP with the first-order slope, the two b agree and chi^2 is fair."""
    fit = ratio_fit(summary, int(theory.attrs["n_train"]), gp_limit=True)
    if fit is not None:
        ratio, se = finite_width_bayes.predicted_ratio(theory, [1.0])
        fit["b_first_order"], fit["b_first_order_se"] = float(ratio[0] - 1), float(se[0])
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


def predicted_curves(theory: xr.Dataset, widths, fit: dict | None, weights: xr.Dataset | None,
                     gp_fit: dict | None = None) -> xr.Dataset:  # fmt: skip
    """The figure's curves on its width grids: grid_width (1/width down to 0: first order, the bands of `fit` as
    fit, fit_se and of `gp_fit` as gp_fit, gp_fit_se), oracle_width (the linear-oracle panel), weight_width (the
    predicted weight moments), and every approximation's ratio (finite_width_bayes.approximation_summary)."""
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
    if gp_fit is not None:
        curves["gp_fit"], curves["gp_fit_se"] = (("grid_width", v) for v in finite_width_bayes.fit_band(gp_fit, grid))
    if weights is not None:
        coords["weight_width"] = np.linspace(0.9 * widths.min(), 20 * widths.max(), 400)
        moment = finite_width_bayes.predicted_weight_moment(theory, coords["weight_width"])
        curves["weight_first_order"] = (("weight_width", "direction"), moment)
    return xr.merge([xr.Dataset(curves, coords=coords), finite_width_bayes.approximation_summary(theory)])
