"""Theory-driven hyper-parameter selection (Cohen, Malka & Ringel: learning-curve theory makes the search cheap).

A grid over (depth, activation, sigma_w2, sigma_b2, ridge) is scored by the self-consistent learning curve with the
spectral tail lumped into the ridge (`learning_curves.theory_curves`' "sc", docs/learning_curves.md Sec. 10) and,
as its check, by exact GP regression with the same NNGP on every dataset draw (`learning_curves.gp_population_mse`).
A few grid points, chosen along the predicted ranking, are then validated by trained network ensembles (Langevin,
rule hyperparameter_train); `validation_summary` puts the three side by side.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from .. import model
from ..theory import kernels, learning_curves

AXES = ("depth", "activation", "sigma_w2", "sigma_b2", "ridge")


def check_grid(grid: dict) -> None:
    """Every axis present, non-empty, without repeats; ridge > 0, sigma_w2 > 0, sigma_b2 >= 0, depth >= 1."""
    missing = [a for a in AXES if a not in grid]
    if missing:
        raise ValueError(f"the grid needs the axes {AXES}; missing {missing}")
    for a in AXES:
        values = list(grid[a])
        if not values or len(set(values)) != len(values):
            raise ValueError(f"grid.{a} must be a non-empty list without repeats (got {values})")
    if min(grid["ridge"]) <= 0 or min(grid["sigma_w2"]) <= 0 or min(grid["sigma_b2"]) < 0 or min(grid["depth"]) < 1:
        raise ValueError("need ridge > 0, sigma_w2 > 0, sigma_b2 >= 0 and depth >= 1 on the whole grid")


def scan(data: xr.Dataset, n_train: int, grid: dict, max_degree: int, quadrature_nodes: int,
         input_scaling: str = "sqrt_d", progress=None) -> xr.Dataset:  # fmt: skip
    """Predicted (self-consistent theory) and exact-GP population MSE against the clean target at n_train, over the
    whole grid (dims AXES). The GP uses the first n_train points of every draw of `data`; its standard error is over
    draws. Wall times: theory_seconds (spectra + theory) and gp_seconds (Gram matrices + solves), kept apart."""
    check_grid(grid)
    if n_train > data.sizes["sample"]:
        raise ValueError(f"n_train {n_train} exceeds the dataset's {data.sizes['sample']} samples per draw")
    dim = data.sizes["dim"]
    degrees, power = data.target_degree.values, data.target_power.values
    noise = float(data.attrs.get("noise", 0.0))
    ridges = np.asarray(grid["ridge"], dtype=np.float64)
    shape = tuple(len(grid[a]) for a in AXES)
    predicted, gp_mse, gp_se = (np.full(shape, np.nan) for _ in range(3))
    theory_seconds = gp_seconds = 0.0
    architectures = list(itertools.product(*(enumerate(grid[a]) for a in AXES[:-1])))
    for count, arch in enumerate(architectures):
        index = tuple(i for i, _ in arch)
        depth, activation, sigma_w2, sigma_b2 = (v for _, v in arch)
        net = model.FCN(dim=dim, depth=int(depth), activation=activation, sigma_w2=float(sigma_w2),
                          sigma_b2=float(sigma_b2), input_scaling=input_scaling)  # fmt: skip
        start = time.perf_counter()
        spectrum = kernels.spectrum(net, max_degree, quadrature_nodes)
        for k, ridge in enumerate(ridges):
            theory = learning_curves.theory_curves(spectrum, degrees, power, float(ridge), noise, [n_train])
            predicted[index + (k,)] = theory.sc.values[0]
        middle = time.perf_counter()
        mse = learning_curves.gp_population_mse(net, data, n_train, ridges, spectrum.eigenvalue_nngp.values)
        gp_mse[index], gp_se[index] = mse.mean(0), mse.std(0, ddof=1) / np.sqrt(mse.shape[0])
        theory_seconds += middle - start
        gp_seconds += time.perf_counter() - middle
        if progress:
            progress(count + 1, len(architectures))
    return xr.Dataset(
        {
            "predicted_mse": (AXES, predicted),
            "gp_mse": (AXES, gp_mse),
            "gp_mse_se": (AXES, gp_se),
        },
        coords={a: list(grid[a]) for a in AXES},
        attrs={
            "n_train": int(n_train),
            "noise": noise,
            "n_draws": int(data.sizes["draw"]),
            "theory": "self-consistent, spectral tail lumped into the ridge (theory_curves 'sc')",
            "theory_seconds": theory_seconds,
            "gp_seconds": gp_seconds,
            "grid_points": int(np.prod(shape)),
        },
    )


def validation_points(predicted: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of k grid points spread evenly along the predicted ranking: the predicted optimum first, the
    predicted worst last (NaNs are never chosen)."""
    flat = np.asarray(predicted, dtype=np.float64).ravel()
    order = np.argsort(np.where(np.isfinite(flat), flat, np.inf))[: int(np.isfinite(flat).sum())]
    if k < 2 or k > order.size:
        raise ValueError(f"k: need 2 <= validation points <= {order.size} finite grid points (got {k})")
    return order[np.unique(np.round(np.linspace(0, order.size - 1, k)).astype(int))]


def point_settings(ds: xr.Dataset, flat_index: int) -> dict:
    """The hyper-parameters of one grid point of a scan, as plain Python values."""
    index = np.unravel_index(int(flat_index), tuple(ds.sizes[a] for a in AXES))
    return {a: ds[a].values[i].item() for a, i in zip(AXES, index, strict=True)}


def with_validation(ds: xr.Dataset, k: int) -> xr.Dataset:
    """The scan plus the chosen validation points (dim `point`): flat index, settings, prediction and exact GP."""
    flat = validation_points(ds.predicted_mse.values, k)
    settings = [point_settings(ds, i) for i in flat]
    optimum = {f"optimum_{a}": v for a, v in settings[0].items()}  # the chosen hyper-parameters
    return ds.assign_attrs(optimum | {"optimum_predicted_mse": float(ds.predicted_mse.values.ravel()[flat[0]])}).assign(
        point_index=("point", flat),
        **{f"point_{a}": ("point", [s[a] for s in settings]) for a in AXES},
        point_predicted_mse=("point", ds.predicted_mse.values.ravel()[flat]),
        point_gp_mse=("point", ds.gp_mse.values.ravel()[flat]),
        point_gp_mse_se=("point", ds.gp_mse_se.values.ravel()[flat]),
    )


def validation_summary(ds: xr.Dataset, network_mse: np.ndarray, network_se: np.ndarray, train_seconds: np.ndarray,
                       gp_same_draws: np.ndarray | None = None) -> xr.Dataset:  # fmt: skip
    """Side by side at the validation points: predicted, exact-GP and network (trained ensembles) test MSE. Adds
    Spearman rank correlations (theory vs networks over the validated points, theory vs exact GP over the whole
    grid), whether the theory's optimum is within one measured standard error of the best measured point (networks
    and, over the whole grid, exact GP), and the cost: theory seconds for the grid against the training seconds it
    replaces (mean training time per validated point times the grid size; times are attributes, so that two identical
    runs give identical data variables). gp_same_draws: the exact GP on the
    networks' own datasets (optional)."""
    pred = ds.point_predicted_mse.values
    best_net = int(np.argmin(network_mse))
    opt = int(np.argmin(pred))  # the predicted optimum (index 0 by construction)
    grid_pred, grid_gp = ds.predicted_mse.values.ravel(), ds.gp_mse.values.ravel()
    grid_se = ds.gp_mse_se.values.ravel()
    gp_best = int(np.nanargmin(grid_gp))
    gp_at_opt = grid_gp[int(np.nanargmin(grid_pred))]
    replaced = float(np.mean(train_seconds)) * int(ds.attrs["grid_points"])
    return ds.assign(
        point_network_mse=("point", np.asarray(network_mse)),
        point_network_mse_se=("point", np.asarray(network_se)),
        point_gp_mse_same_draws=("point", np.full(len(pred), np.nan) if gp_same_draws is None else gp_same_draws),
    ).assign_attrs(
        spearman_networks=float(stats.spearmanr(pred, network_mse).statistic),
        spearman_gp_grid=float(stats.spearmanr(grid_pred, grid_gp, nan_policy="omit").statistic),
        best_measured_point=best_net,
        predicted_optimum_point=opt,
        network_gap=float(network_mse[opt] - network_mse[best_net]),
        network_gap_allowed=float(network_se[best_net]),
        optimum_within_network_se=bool(network_mse[opt] - network_mse[best_net] <= network_se[best_net]),
        gp_gap=float(gp_at_opt - grid_gp[gp_best]),
        gp_gap_allowed=float(grid_se[gp_best]),
        optimum_within_gp_se=bool(gp_at_opt - grid_gp[gp_best] <= grid_se[gp_best]),
        train_seconds=[float(t) for t in train_seconds],  # an attribute: wall times differ between identical runs
        training_seconds_replaced=replaced,
        speedup=replaced / float(ds.attrs["theory_seconds"]),
    )


def network_errors(trained: list[xr.Dataset]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per validation point (one store each, variables mse and gp_mse_same_draws over draws): the dataset-averaged
    posterior-mean test MSE of the networks, its standard error over draws, the training wall time, and the exact GP's
    test MSE on the same datasets and test points."""
    mse = np.array([t.mse.values.mean() for t in trained])
    se = np.array([t.mse.values.std(ddof=1) / np.sqrt(t.sizes["draw"]) for t in trained])
    gp_same = np.array([t.gp_mse_same_draws.values.mean() for t in trained])
    return mse, se, np.array([float(t.attrs["wall_seconds"]) for t in trained]), gp_same


def summary_tables(ds: xr.Dataset):
    """(per-point table, key-value summary) as pandas DataFrames for the report."""
    points = pd.DataFrame(
        {
            **{a: ds[f"point_{a}"].values for a in AXES},
            "predicted_mse": ds.point_predicted_mse.values,
            "exact_gp_mse": ds.point_gp_mse.values,
            "exact_gp_mse_se": ds.point_gp_mse_se.values,
            "network_mse": ds.point_network_mse.values,
            "network_mse_se": ds.point_network_mse_se.values,
            "exact_gp_mse_same_draws": ds.point_gp_mse_same_draws.values,
            "train_seconds": ds.attrs["train_seconds"],
        },
        index=pd.Index(ds.point.values, name="point"),
    )
    keys = ("grid_points", "n_train", "noise", "spearman_networks", "spearman_gp_grid", "optimum_within_network_se",
            "network_gap", "network_gap_allowed", "optimum_within_gp_se", "gp_gap", "gp_gap_allowed", "theory_seconds",
            "gp_seconds", "training_seconds_replaced", "speedup")  # fmt: skip
    summary = pd.DataFrame({"value": [ds.attrs[k] for k in keys]}, index=pd.Index(keys, name="quantity"))
    return points, summary
