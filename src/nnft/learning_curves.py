"""Learning-curve theory and exact GP regression on the hypersphere.

Conventions (science/learning_curves.md Sec. 1d): Mercer decomposition with respect to the uniform probability
measure on S^{d-1}; a level l has eigenvalue lambda_l and degeneracy N(d, l); the target has power G_l in level l;
`ridge` is the GP noise variance sigma^2, which equals the Langevin temperature T of a sum-of-squares loss (Sec. 1c).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import optimize

from . import data, kernels, sphere


def ek_mse(eigenvalues, degeneracy, target_power, ridge: float, n_train, noise: float = 0.0) -> np.ndarray:
    """Equivalent-kernel test MSE against the clean target, per n_train (Sec. 2).

    eps_EK = sum_l G_l (kappa0 / (lambda_l + kappa0))^2, kappa0 = ridge / n; label noise of variance noise^2
    adds the variance of the linear filter, noise^2 / n * sum_l N_l (lambda_l / (lambda_l + kappa0))^2.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)[None, :]
    deg = np.asarray(degeneracy, dtype=np.float64)[None, :]
    power = np.asarray(target_power, dtype=np.float64)[None, :]
    n = np.asarray(n_train, dtype=np.float64)[:, None]
    kappa0 = ridge / n
    bias = (power * (kappa0 / (lam + kappa0)) ** 2).sum(1)
    variance = noise**2 / n[:, 0] * (deg * (lam / (lam + kappa0)) ** 2).sum(1)
    return bias + variance


def power_per_degree(degrees, weights, max_degree: int) -> np.ndarray:
    """Target power G_l on levels 0..max_degree from the (degree, weight) terms of a target."""
    power = np.zeros(max_degree + 1)
    for l, w in zip(degrees, weights, strict=True):
        if l > max_degree:
            raise ValueError(f"target degree {l} exceeds the spectrum's max_degree {max_degree}")
        power[l] += w
    return power


def gp_solve(k_train: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """alpha = (K + ridge I)^{-1} y, batched over leading axes, by Cholesky."""
    n = k_train.shape[-1]
    chol = np.linalg.cholesky(k_train + ridge * np.eye(n))
    z = np.linalg.solve(chol, y[..., None])
    return np.linalg.solve(np.swapaxes(chol, -1, -2), z)[..., 0]


def population_mse(alpha, x_train, eigenvalues, target_norm2: float, target_smooth) -> np.ndarray:
    """Exact population MSE int dmu (f - g)^2 of f = sum_i alpha_i K(x_i, .) (Sec. 9).

    MSE = alpha^T M alpha - 2 alpha^T h + ||g||^2 with M_ij = sum_l N_l lambda_l^2 P_l(x_i . x_j) and
    h_i = (K g)(x_i) = sum_l lambda_l g_l(x_i), which the caller passes as target_smooth (..., n).
    The spectrum is truncated at len(eigenvalues) - 1; the neglected tail of sum_l N_l lambda_l^2 bounds the error.
    """
    d = x_train.shape[-1]
    lam = np.asarray(eigenvalues)
    deg = sphere.degeneracy(d, np.arange(lam.size))
    t = np.clip(x_train @ np.swapaxes(x_train, -1, -2), -1.0, 1.0)
    m = np.tensordot(deg * lam**2, sphere.gegenbauer_table(d, lam.size - 1, t), axes=1)
    quad = np.einsum("...i,...ij,...j->...", alpha, m, alpha)
    return quad - 2 * np.einsum("...i,...i->...", alpha, target_smooth) + target_norm2


def exact_gp_learning_curve(net: kernels.FCN, ds: xr.Dataset, n_train, ridge: float, eigenvalues) -> xr.Dataset:
    """Exact GP regression with the network's NNGP on every draw and nested train size of a dataset.

    Returns mse_population (exact, spectral) and mse_test (on the dataset's test points), both (draw, n_train),
    against the clean target, and the posterior mean f_test on the test points (draw, n_train, test_sample).
    """
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0 (got {ridge})")
    lam = np.asarray(eigenvalues)
    terms = (ds.term_degree.values, ds.term_coefficient.values, ds.term_direction.values)
    norm2 = float(ds.target_power.sum())
    n_max = ds.sizes["sample"]
    if max(n_train) > n_max:
        raise ValueError(f"n_train {max(n_train)} exceeds the dataset's {n_max} samples")
    x_test, g_test = ds.x_test.values, ds.g_test.values
    mse_pop = np.zeros((ds.sizes["draw"], len(n_train)))
    mse_test = np.zeros_like(mse_pop)
    f_test_all = np.zeros((ds.sizes["draw"], len(n_train), ds.sizes["test_sample"]))
    for j, n in enumerate(n_train):
        x = ds.x_train.values[:, :n]
        y = ds.y_train.values[:, :n]
        alpha = gp_solve(kernels.gram(net, x), y, ridge)
        values = data.target_terms(x, *terms)  # (term, draw, n)
        smooth = np.tensordot(lam[terms[0]], values, axes=1)  # (K g)(x_i) = sum_terms lambda_l g_term(x_i)
        mse_pop[:, j] = population_mse(alpha, x, lam, norm2, smooth)
        f_test = np.einsum("bi,bti->bt", alpha, kernels.gram(net, x_test[None], x))
        mse_test[:, j] = ((f_test - g_test) ** 2).mean(-1)
        f_test_all[:, j] = f_test
    return xr.Dataset(
        {
            "mse_population": (("draw", "n_train"), mse_pop),
            "mse_test": (("draw", "n_train"), mse_test),
            "f_test": (("draw", "n_train", "test_sample"), f_test_all),
        },
        coords={"draw": ds.draw.values, "n_train": np.asarray(n_train), "test_sample": ds.test_sample.values},
        attrs={"ridge": float(ridge), "kernel": "nngp", "spectrum_max_degree": lam.size - 1},
    )


def self_consistent_kappa(eigenvalues, degeneracy, ridge: float, n: float) -> float:
    """Effective ridge kappa solving n = sum_l N_l lambda_l / (lambda_l + kappa) + ridge / kappa (Sec. 7)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    deg = np.asarray(degeneracy, dtype=np.float64)
    keep = lam > 0
    lam, deg = lam[keep], deg[keep]

    def excess(log_kappa):
        kappa = np.exp(log_kappa)
        return (deg * lam / (lam + kappa)).sum() + ridge / kappa - n

    lo, hi = np.log(1e-300), np.log(max(lam.max(), ridge) * 1e3 + 1.0)
    if excess(hi) > 0:
        raise ValueError("no self-consistent kappa: spectrum and ridge give too few effective samples")
    if ridge == 0 and deg.sum() <= n:
        raise ValueError(f"noiseless self-consistent theory needs n < number of modes ({deg.sum():.0f}); n = {n}")
    return float(np.exp(optimize.brentq(excess, lo, hi, xtol=1e-14, rtol=1e-13)))


def sc_mse(eigenvalues, degeneracy, target_power, ridge: float, n_train, noise: float = 0.0) -> xr.Dataset:
    """Self-consistent (CBP / eigenlearning) learning curve against the clean target (Sec. 7).

    Returns mse (dataset-averaged test MSE, E_0 [sum_l (1 - L_l)^2 G_l] + noise^2 (E_0 - 1)),
    mse_mean_predictor (the MSE of the dataset-averaged predictor, sum_l (1 - L_l)^2 G_l) and kappa, per n_train.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    deg = np.asarray(degeneracy, dtype=np.float64)
    power = np.asarray(target_power, dtype=np.float64)
    n_train = np.asarray(n_train, dtype=np.float64)
    kappa = np.array([self_consistent_kappa(lam, deg, ridge, n) for n in n_train])
    learn = lam[None, :] / (lam[None, :] + kappa[:, None])
    e0 = n_train / (n_train - (deg[None, :] * learn**2).sum(1))
    mean_pred = ((1 - learn) ** 2 * power[None, :]).sum(1)
    return xr.Dataset(
        {
            "mse": ("n_train", e0 * mean_pred + noise**2 * (e0 - 1)),
            "mse_mean_predictor": ("n_train", mean_pred),
            "kappa": ("n_train", kappa),
        },
        coords={"n_train": n_train},
    )


def theory_curves(spectrum: xr.Dataset, degrees, weights, ridge: float, noise: float, n_grid) -> xr.Dataset:
    """EK and self-consistent learning curves of the NNGP spectrum on a grid of n_train."""
    lam, deg = spectrum.eigenvalue_nngp.values, spectrum.degeneracy.values
    power = power_per_degree(degrees, weights, lam.size - 1)
    sc = sc_mse(lam, deg, power, ridge, n_grid, noise)
    return xr.Dataset(
        {
            "ek": ("n_train", ek_mse(lam, deg, power, ridge, n_grid, noise)),
            "sc": ("n_train", sc.mse.values),
            "sc_mean_predictor": ("n_train", sc.mse_mean_predictor.values),
            "kappa": ("n_train", sc.kappa.values),
        },
        coords={"n_train": np.asarray(n_grid, dtype=np.float64)},
        attrs={
            "ridge": float(ridge),
            "noise": float(noise),
            "kernel": "nngp",
            **{k: spectrum.attrs[k] for k in ("input_scaling", "activation", "dim", "depth") if k in spectrum.attrs},
        },
    )
