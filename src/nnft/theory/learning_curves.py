"""Learning-curve theory and exact GP regression on the hypersphere (docs/learning_curves.md).

Conventions (Sec. 1): Mercer decomposition with respect to the uniform probability measure on S^{d-1}; a level l
has eigenvalue lambda_l and degeneracy N(d, l); the target has power G_l in level l; `ridge` is the GP noise
variance sigma^2, which equals the Langevin temperature T of a sum-of-squares loss (Sec. 11); `noise` is the
label-noise standard deviation epsilon. Every theory is a pure function of (eigenvalues, degeneracy, target
power per degree, ridge, n) and is vectorised over n.

Theories: equivalent kernel (Sec. 7), renormalised noise by Taylor trimming or spectral lumping with the cut-off
rule of Sec. 8, the leading 1/n correction (Sec. 9, Eq. 10), and the self-consistent theory (Sec. 10).
Exact GP: batched Cholesky solves over dataset draws, test error exact in the spectral basis (Sec. 6).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import xarray as xr

from .. import data, model, sphere
from . import kernels

# ----------------------------------------------------------------------------------------------------------------
# Theories


KERNELS = ("nngp", "ntk")


def check_kernel(kind: str) -> None:
    if kind not in KERNELS:
        raise ValueError(f"kind (the kernel) must be one of {KERNELS} (got {kind!r})")


def _sizes(n_train) -> tuple[np.ndarray, np.ndarray]:
    """n_train (a number or a 1-d sequence, > 0) as floats for the formulas, and as the coordinate of the results:
    integers stay integers, a continuous grid stays float."""
    given = np.atleast_1d(np.asarray(n_train))
    if given.ndim != 1 or given.size == 0 or given.dtype.kind not in "iuf" or not np.all(np.isfinite(given)):
        raise ValueError(f"n_train must be a number or a non-empty 1-d sequence of finite numbers (got {n_train!r})")
    if np.any(given <= 0):
        raise ValueError(f"n_train must be > 0 (got {given.min()})")
    return given.astype(np.float64), given.astype(np.int64 if given.dtype.kind in "iu" else np.float64)


def _train_sizes(n_train, n_max: int) -> list[int]:
    """Training-set sizes of the exact GP: an int or a sequence of ints in 1..n_max (the dataset's samples)."""
    given = np.atleast_1d(np.asarray(n_train))
    if given.ndim != 1 or given.size == 0 or given.dtype.kind not in "iu" or np.any(given < 1):
        raise ValueError(f"n_train must be an integer >= 1 or a non-empty sequence of them (got {n_train!r})")
    if given.max() > n_max:
        raise ValueError(f"n_train {given.max()} exceeds the dataset's {n_max} samples")
    return [int(n) for n in given]


def _check_ridge(ridge) -> None:
    if not (np.ndim(ridge) == 0 and np.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"ridge must be a number >= 0 (got {ridge!r})")


def _as_levels(eigenvalues, degeneracy, target_power, n_train):
    lam = np.asarray(eigenvalues, dtype=np.float64)
    deg = np.asarray(degeneracy, dtype=np.float64)
    power = np.asarray(target_power, dtype=np.float64)
    n = _sizes(n_train)[0]
    if not (lam.ndim == 1 and lam.shape == deg.shape == power.shape):
        raise ValueError(f"eigenvalues, degeneracy, target_power need one entry per level (got shapes {lam.shape}, "
                         f"{deg.shape}, {power.shape})")  # fmt: skip
    return lam, deg, power, n


def ek_learnability(eigenvalues, ridge: float, n_train) -> np.ndarray:
    """EK learned fraction lambda_l / (lambda_l + ridge / n), shape (n, level)."""
    _check_ridge(ridge)
    lam = np.asarray(eigenvalues, dtype=np.float64)[None, :]
    kappa0 = ridge / _sizes(n_train)[0][:, None]
    return lam / (lam + kappa0)


def ek_mse(eigenvalues, degeneracy, target_power, ridge: float, n_train, noise: float = 0.0) -> np.ndarray:
    """Equivalent-kernel test MSE against the clean target, per n_train (Sec. 7).

    eps_EK = sum_l G_l (kappa0 / (lambda_l + kappa0))^2, kappa0 = ridge / n; label noise of variance noise^2
    adds the variance of the linear filter, noise^2 / n * sum_l N_l (lambda_l / (lambda_l + kappa0))^2.
    """
    lam, deg, power, n = _as_levels(eigenvalues, degeneracy, target_power, n_train)
    learn = ek_learnability(lam, ridge, n)  # checks ridge
    return (power * (1 - learn) ** 2).sum(1) + noise**2 / n * (deg * learn**2).sum(1)


def ek_one_over_n(eigenvalues, degeneracy, target_power, ridge: float, n_train) -> tuple[np.ndarray, np.ndarray]:
    """EK plus the leading 1/n correction, Eq. 10 (Sec. 9): returns (MSE, fraction not learned a_l (n, level)).

    kappa0 = ridge / n, C = sum_l N_l lambda_l kappa0 / (lambda_l + kappa0),
    a_l = kappa0 / (lambda_l + kappa0) + (C / n) lambda_l / (lambda_l + kappa0)^2, MSE = sum_l G_l a_l^2.
    This is the MSE of the dataset-averaged predictor; valid while C << ridge (`perturbative_ratio`).
    """
    lam, deg, power, n = _as_levels(eigenvalues, degeneracy, target_power, n_train)
    _check_ridge(ridge)
    kappa0 = ridge / n[:, None]
    c = (deg * lam * kappa0 / (lam + kappa0)).sum(1, keepdims=True)
    a = kappa0 / (lam + kappa0) + c / n[:, None] * lam / (lam + kappa0) ** 2
    return (power * a**2).sum(1), a


def perturbative_ratio(eigenvalues, degeneracy, ridge: float, n_train) -> np.ndarray:
    """C / ridge of Sec. 9; the 1/n expansion needs it << 1 (roughly: retained modes << n)."""
    _check_ridge(ridge)
    lam = np.asarray(eigenvalues, dtype=np.float64)
    deg = np.asarray(degeneracy, dtype=np.float64)
    kappa0 = ridge / _sizes(n_train)[0][:, None]
    return (deg * lam * kappa0 / (lam + kappa0)).sum(1) / ridge


def renormalised_spectral(eigenvalues, degeneracy, k1: float, ridge: float, cutoff: int):
    """Spectral lumping (Sec. 8; not the v2 procedure): keep lambda_{l <= r},
    sigma_r^2 = ridge + K(1) - sum_{l <= r} N_l lambda_l."""
    lam = np.asarray(eigenvalues, dtype=np.float64).copy()
    deg = np.asarray(degeneracy, dtype=np.float64)
    kept = np.arange(lam.size) <= cutoff
    ridge_r = ridge + k1 - (deg * lam)[kept].sum()
    lam[~kept] = 0.0
    return lam, ridge_r


def renormalised_taylor(taylor: np.ndarray, k1: float, dim: int, ridge: float, cutoff: int, max_degree: int):
    """Taylor trimming of v2 (Sec. 8): K_r(t) = sum_{q <= r} b_q t^q, whose eigenvalues (Eq. 9) vanish beyond r and
    shift slightly below it, and sigma_r^2 = ridge + K(1) - K_r(1) (the whole Taylor tail, summed exactly)."""
    b = np.asarray(taylor, dtype=np.float64)[: cutoff + 1]
    lam = np.zeros(max_degree + 1)
    r = min(cutoff, max_degree)
    lam[: r + 1] = kernels.eigenvalues_from_taylor(b, dim, r)
    return lam, ridge + k1 - b.sum()


def cutoff_degree(n_train, dim: int, tolerance: float = 0.1, max_cutoff: int = 50) -> np.ndarray:
    """Cut-off rule of Sec. 8 (lower bound): the smallest r with sqrt(n) d^{-(r+1)/2} <= tolerance, so that the
    off-diagonal part of the trimmed tail is negligible. The upper bound (perturbation theory holds) is reported
    separately by `perturbative_ratio` of the renormalised kernel."""
    n = _sizes(n_train)[0]
    if not dim > 1 or not tolerance > 0:
        raise ValueError(f"cutoff_degree needs dim > 1 and tolerance > 0 (got dim {dim}, tolerance {tolerance})")
    r = np.ceil(2 * np.log(np.sqrt(n) / tolerance) / np.log(dim) - 1).astype(int)
    return np.clip(r, 0, max_cutoff)


def self_consistent_kappa(eigenvalues, degeneracy, ridge: float, n_train) -> np.ndarray:
    """Effective ridge kappa(n) solving n = sum_l N_l lambda_l / (lambda_l + kappa) + ridge / kappa (Sec. 10).

    Vectorised bisection in log kappa (the left side is monotone), polished by Newton steps; robust from n = 1 to
    n = 1e7 and beyond. With ridge = 0 a solution needs n < number of modes with lambda > 0.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    deg = np.asarray(degeneracy, dtype=np.float64)
    keep = lam > 0
    lam, deg = lam[keep][None, :], deg[keep][None, :]
    n = _sizes(n_train)[0]
    _check_ridge(ridge)
    if ridge == 0 and np.any(n >= deg.sum()):
        raise ValueError(f"n_train: the noiseless self-consistent theory needs n_train < the number of modes "
                         f"({deg.sum():.0f})")  # fmt: skip

    def excess(u):
        kappa = np.exp(u)[:, None]
        return (deg * lam / (lam + kappa)).sum(1) + ridge / kappa[:, 0] - n

    scale = max(lam.max(), ridge, 1e-300)
    lo = np.full(n.shape, np.log(scale) - 750.0)
    hi = np.full(n.shape, np.log(scale) + np.log(deg.sum() + ridge / scale + 1.0) + 5.0)
    for _ in range(80):  # bisection to ~1e-20 in log kappa
        mid = 0.5 * (lo + hi)
        pos = excess(mid) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    u = 0.5 * (lo + hi)
    for _ in range(3):  # Newton in log kappa: d excess / du = -kappa (sum N lam / (lam + kappa)^2 + ridge / kappa^2)
        kappa = np.exp(u)[:, None]
        slope = -(kappa[:, 0] * (deg * lam / (lam + kappa) ** 2).sum(1) + ridge / kappa[:, 0])
        u = np.clip(u - excess(u) / slope, lo - 1e-12, hi + 1e-12)
    return np.exp(u)


def sc_theory(eigenvalues, degeneracy, target_power, ridge: float, n_train, noise: float = 0.0) -> xr.Dataset:
    """Self-consistent (CBP / eigenlearning) learning curve (Sec. 10), per n_train and level, with the variable names
    of `theory_curves` (which calls it on a spectrum Dataset; this is its level-wise form, taking arrays like ek_mse).

    learnability_sc L_l = lambda_l / (lambda_l + kappa), e0 = n / (n - sum_l N_l L_l^2);
    mode_error_sc_l = e0 (1 - L_l)^2 G_l (clean target); sc = sum_l mode_error_sc_l + noise^2 (e0 - 1) (CBP's E_g,
    the test MSE against the clean target); sc_noisy_test = sc + noise^2 (Simon's E_test, against noisy test labels);
    sc_mean_predictor = sum_l (1 - L_l)^2 G_l (the MSE of the dataset-averaged predictor).
    """
    lam, deg, power, n = _as_levels(eigenvalues, degeneracy, target_power, n_train)
    kappa = self_consistent_kappa(lam, deg, ridge, n)
    learn = lam[None, :] / (lam[None, :] + kappa[:, None])
    e0 = n / (n - (deg * learn**2).sum(1))
    mode_error = e0[:, None] * (1 - learn) ** 2 * power
    mse = mode_error.sum(1) + noise**2 * (e0 - 1)
    return xr.Dataset(
        {
            "kappa": ("n_train", kappa),
            "e0": ("n_train", e0),
            "learnability_sc": (("n_train", "degree"), learn),
            "mode_error_sc": (("n_train", "degree"), mode_error),
            "sc": ("n_train", mse),
            "sc_noisy_test": ("n_train", mse + noise**2),
            "sc_mean_predictor": ("n_train", ((1 - learn) ** 2 * power).sum(1)),
        },
        coords={"n_train": _sizes(n_train)[1], "degree": np.arange(lam.size)},
    )


def power_per_degree(degrees, power, max_degree: int) -> np.ndarray:
    """Target power G_l on levels 0..max_degree from the (degree, power) terms of a target."""
    degrees, terms = list(np.atleast_1d(degrees)), list(np.atleast_1d(power))
    if len(degrees) != len(terms):
        raise ValueError(f"power: one per degree (got {len(terms)} powers for {len(degrees)} degrees)")
    if any(int(l) != l or l < 0 for l in degrees):
        raise ValueError(f"degrees must be integers >= 0 (got {degrees})")
    if any(not np.isfinite(w) or w < 0 for w in terms):
        raise ValueError(f"power must be finite and >= 0 on every degree (got {terms})")
    power = np.zeros(max_degree + 1)
    for l, w in zip(degrees, terms, strict=True):
        if l > max_degree:
            raise ValueError(f"target degree {l} exceeds the spectrum's max_degree {max_degree}")
        power[int(l)] += w
    return power


def theory_curves(
    spectrum: xr.Dataset,
    degrees,
    power,
    ridge: float,
    noise: float,
    n_grid,
    cutoff: int | None = None,
    cutoff_tolerance: float = 0.1,
    taylor: np.ndarray | None = None,
    kind: str = "nngp",
) -> xr.Dataset:
    """Every theory for the spectrum of the network's NNGP or NTK (`kind`) on a grid of n_train.

    cutoff: the renormalisation scale r, or None for the cut-off rule of Sec. 8 per n (reported as `cutoff`).
    taylor: Taylor coefficients b_q of the kernel (closed-form activations) for the Taylor-trim variant.
    ridge may be 0 (noiseless regression): the self-consistent theory then takes the spectrum's tail beyond
    max_degree as its ridge, and the renormalised theories the Taylor or spectral tail.
    """
    check_kernel(kind)
    lam, deg = spectrum[f"eigenvalue_{kind}"].values, spectrum.degeneracy.values
    if taylor is None and f"taylor_{kind}" in spectrum and np.all(np.isfinite(spectrum[f"taylor_{kind}"].values)):
        taylor = spectrum[f"taylor_{kind}"].values
    k1, dim = spectrum.attrs[f"k1_{kind}"], int(spectrum.attrs["dim"])
    max_degree = lam.size - 1
    power = power_per_degree(degrees, power, max_degree)
    n_grid, n_coord = _sizes(n_grid)
    _check_ridge(ridge)
    r = np.full(n_grid.shape, cutoff) if cutoff is not None else cutoff_degree(n_grid, dim, cutoff_tolerance)
    r = np.minimum(r, max_degree)
    # SC with the tail beyond max_degree lumped into the ridge (Sec. 8 spectral variant at r = max_degree)
    tail = max(spectrum.attrs[f"tail_{kind}"], 0.0)
    sc = sc_theory(lam, deg, power, ridge + tail, n_grid, noise)
    out = {
        "ek": ek_mse(lam, deg, power, ridge, n_grid, noise),
        # C / sigma^2 of the bare EK (infinite without a ridge: the bare expansion does not exist)
        "perturbative_ratio": perturbative_ratio(lam, deg, ridge, n_grid)
        if ridge > 0
        else np.full(n_grid.size, np.inf),
        "sc": sc.sc.values,
        "sc_mean_predictor": sc.sc_mean_predictor.values,
        "kappa": sc.kappa.values,
        "e0": sc.e0.values,
        "cutoff": r,
    }
    variants = {"spectral": lambda rr: renormalised_spectral(lam, deg, k1, ridge, rr)}
    if taylor is not None:
        variants["taylor"] = lambda rr: renormalised_taylor(taylor, k1, dim, ridge, rr, max_degree)
    for name, renorm in variants.items():
        ek_r, ek1n_r, ridge_r, ratio = (np.zeros(n_grid.size) for _ in range(4))
        for rr in np.unique(r):
            sel = r == rr
            lam_r, ridge_r_value = renorm(int(rr))
            ek_r[sel] = ek_mse(lam_r, deg, power, ridge_r_value, n_grid[sel], noise)
            ek1n_r[sel] = ek_one_over_n(lam_r, deg, power, ridge_r_value, n_grid[sel])[0]
            ridge_r[sel] = ridge_r_value
            ratio[sel] = perturbative_ratio(lam_r, deg, ridge_r_value, n_grid[sel])
        out[f"ek_renorm_{name}"] = ek_r
        out[f"ek_1n_renorm_{name}"] = ek1n_r
        out[f"ridge_renorm_{name}"] = ridge_r
        out[f"perturbative_ratio_{name}"] = ratio
    return xr.Dataset(
        {k: ("n_train", v) for k, v in out.items()}
        | {
            "learnability_sc": (("n_train", "degree"), sc.learnability_sc.values),
            "learnability_ek": (("n_train", "degree"), ek_learnability(lam, ridge, n_grid)),
        },
        coords={"n_train": n_coord, "degree": np.arange(max_degree + 1)},
        attrs={
            "ridge": float(ridge),
            "noise": float(noise),
            "kernel": kind,
            "cutoff_rule": "fixed" if cutoff is not None else f"sqrt(n) d^-(r+1)/2 <= {cutoff_tolerance}",
            **{k: spectrum.attrs[k] for k in ("input_scaling", "activation", "dim", "depth") if k in spectrum.attrs},
        },
    )


# ----------------------------------------------------------------------------------------------------------------
# Exact GP regression


def gp_solve(k_train: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """alpha = (K + ridge I)^{-1} y, batched over leading axes, by Cholesky (float64)."""
    n = k_train.shape[-1]
    try:
        chol = np.linalg.cholesky(k_train + ridge * np.eye(n))
    except np.linalg.LinAlgError:
        raise ValueError(
            f"the kernel matrix plus ridge {ridge:g} is not positive definite to rounding (n = {n}): "
            "noiseless regression needs a jitter > 0 on the diagonal"
        ) from None
    return scipy.linalg.cho_solve((chol, True), y[..., None])[..., 0]


def population_mse(alpha, x_train, eigenvalues, target_norm2: float, target_smooth) -> np.ndarray:
    """Exact population MSE int dmu (f - g)^2 of f = sum_i alpha_i K(x_i, .) (Sec. 6), per leading index.

    MSE = alpha^T M alpha - 2 alpha^T h + ||g||^2 with M_ij = sum_l N_l lambda_l^2 P_l(x_i . x_j) and
    h_i = (K g)(x_i) = sum_l lambda_l g_l(x_i), which the caller passes as target_smooth (..., n).
    The spectrum is truncated at len(eigenvalues) - 1; the neglected tail of sum_l N_l lambda_l^2 bounds the error.
    """
    d = x_train.shape[-1]
    lam = np.asarray(eigenvalues)
    coef = sphere.degeneracy(d, np.arange(lam.size)) * lam**2
    x = x_train.reshape(-1, *x_train.shape[-2:])
    a = alpha.reshape(-1, alpha.shape[-1])
    n = x.shape[1]
    rows = max(1, 2**17 // n)  # M row block by row block, each ~1 MB: the series' recurrence stays in cache (3-5x)

    def quadratic_form(ai, xi):
        return sum(
            ai[r : r + rows] @ sphere.gegenbauer_series(d, coef, np.clip(xi[r : r + rows] @ xi.T, -1, 1)) @ ai
            for r in range(0, n, rows)
        )

    quad = np.array([quadratic_form(ai, xi) for ai, xi in zip(a, x, strict=True)]).reshape(alpha.shape[:-1])
    return quad - 2 * np.einsum("...i,...i->...", alpha, target_smooth) + target_norm2


def exact_gp_learning_curve(
    net: model.FCN, ds: xr.Dataset, n_train, ridge: float, eigenvalues, kind: str = "nngp", jitter: float = 0.0
) -> xr.Dataset:
    """Exact GP regression with the network's NNGP (or NTK: kind) on every draw and nested train size of a dataset.
    `eigenvalues` are that kernel's, for the exact population MSE. Noiseless regression (ridge 0) may need a
    jitter > 0 on the kernel's diagonal for the Cholesky factorisation; it is recorded in the attrs (docs/papers.md).

    Returns, per (draw, n_train): mse_population (exact, spectral), mse_test (on the dataset's test points), both
    against the clean target; learned_fraction (draw, n_train, target_degree) = <f, g_l> / ||g_l||^2, whose
    dataset average gives the MSE of the dataset-averaged predictor (by rotation symmetry that predictor is
    (1 - a_l) g_l in each target degree); and the posterior mean f_test (draw, n_train, test_sample).
    """
    check_kernel(kind)
    if ridge < 0 or jitter < 0:
        raise ValueError(f"need ridge >= 0 and jitter >= 0 (got ridge {ridge}, jitter {jitter})")
    lam = np.asarray(eigenvalues)
    terms = (ds.term_degree.values, ds.term_coefficient.values, ds.term_direction.values)
    target_degrees, target_power = ds.target_degree.values, ds.target_power.values
    n_train = _train_sizes(n_train, ds.sizes["sample"])
    x_test, g_test = ds.x_test.values, ds.g_test.values
    n_draws = ds.sizes["draw"]
    mse_pop = np.zeros((n_draws, len(n_train)))
    mse_test = np.zeros_like(mse_pop)
    learned = np.zeros((n_draws, len(n_train), target_degrees.size))
    f_test_all = np.zeros((n_draws, len(n_train), ds.sizes["test_sample"]))
    for j, n in enumerate(n_train):
        x = ds.x_train.values[:, :n]
        y = ds.y_train.values[:, :n]
        # batched over draws, in chunks that keep the kernel recursion's temporaries within ~2 GB
        chunk = max(1, 2**24 // (n * n))
        alpha = np.concatenate(
            [
                gp_solve(kernels.gram(net, x[b : b + chunk], kind=kind), y[b : b + chunk], ridge + jitter)
                for b in range(0, n_draws, chunk)
            ]
        )
        values = data.target_terms(x, *terms)  # (term, draw, n)
        smooth = np.tensordot(lam[terms[0]], values, axes=1)  # (K g)(x_i) = sum_terms lambda_l g_term(x_i)
        mse_pop[:, j] = population_mse(alpha, x, lam, float(target_power.sum()), smooth)
        for k, (l, power) in enumerate(zip(target_degrees, target_power, strict=True)):
            sel = terms[0] == l
            # <f, g_l> = sum_i alpha_i lambda_l g_l(x_i) (reproducing property, Sec. 6)
            learned[:, j, k] = lam[l] * np.einsum("bi,bi->b", alpha, values[sel].sum(0)) / power
        f_test = np.einsum("bi,bti->bt", alpha, kernels.gram(net, x_test[None], x, kind=kind))
        mse_test[:, j] = ((f_test - g_test) ** 2).mean(-1)
        f_test_all[:, j] = f_test
    return xr.Dataset(
        {
            "mse_population": (("draw", "n_train"), mse_pop),
            "mse_test": (("draw", "n_train"), mse_test),
            "learned_fraction": (("draw", "n_train", "target_degree"), learned),
            "f_test": (("draw", "n_train", "test_sample"), f_test_all),
        },
        coords={
            "draw": ds.draw.values,
            "n_train": np.asarray(n_train, dtype=np.int64),
            "test_sample": ds.test_sample.values,
            "target_degree": target_degrees,
        },
        attrs={"ridge": float(ridge), "jitter": float(jitter), "kernel": kind, "spectrum_max_degree": lam.size - 1},
    )


def _level_quadratic_forms(x: np.ndarray, vectors: np.ndarray, max_degree: int) -> np.ndarray:
    """Q[l] = N(d, l) V^T P_l(X X^T) V for l = 0..max_degree, V = vectors (n, k): every population inner product
    of kernel expansions sum_i v_i K(x_i, .) follows from these by weighting level l with its eigenvalues.
    One pass of the Gegenbauer recurrence over the (n, n) Gram of the inputs."""
    d = x.shape[-1]
    deg = sphere.degeneracy(d, np.arange(max_degree + 1))
    levels = sphere.gegenbauer_levels(d, max_degree, np.clip(x @ x.T, -1, 1))
    return np.stack([n_l * vectors.T @ p @ vectors for n_l, p in zip(deg, levels, strict=True)])


def cutoff_convergence(
    net: model.FCN,
    ds: xr.Dataset,
    n_train,
    cutoffs,
    eigenvalues,
    taylor,
    ridge: float,
    kind: str = "nngp",
    jitter: float = 0.0,
) -> xr.Dataset:
    """Convergence of the renormalised predictor in the cut-off r (Cohen et al. Fig. 1 right; docs/papers.md).

    On every draw and nested train size, g*_inf is GP regression with the full kernel K and noise ridge (+ jitter),
    g*_r with the Taylor-trimmed kernel K_r(t) = sum_{q <= r} b_q t^q and the renormalised noise
    sigma_r^2 = ridge + K(1) - K_r(1). Returns distance2 (draw, n_train, cutoff) = int dmu (g*_r - g*_inf)^2, exact
    in the spectral basis (eigenvalues of K up to their max_degree, of K_r by Eq. 9), and ridge_r (cutoff).
    """
    check_kernel(kind)
    if ridge < 0 or jitter < 0:
        raise ValueError(f"need ridge >= 0 and jitter >= 0 (got ridge {ridge}, jitter {jitter})")
    cutoffs = np.asarray(cutoffs, dtype=int)
    b = np.asarray(taylor, dtype=np.float64)
    if not np.all(np.isfinite(b)):
        raise ValueError("taylor: the Taylor-trimmed kernel needs finite Taylor coefficients (closed-form activation)")
    if cutoffs.size == 0 or cutoffs.min() < 0 or cutoffs.max() >= b.size:
        raise ValueError(f"cutoffs must lie in 0..{b.size - 1} (got {cutoffs.tolist()})")
    lam = np.asarray(eigenvalues, dtype=np.float64)
    max_degree = lam.size - 1
    d = ds.sizes["dim"]
    k1 = float(kernels.nngp_ntk(net, 1.0)[kind == "ntk"])
    # eigenvalues of each K_r on levels 0..max_degree (zero beyond r) and its renormalised noise
    lam_r = np.stack([kernels.eigenvalues_from_taylor(b[: r + 1], d, max_degree) for r in cutoffs])
    ridge_r = ridge + k1 - np.array([b[: r + 1].sum() for r in cutoffs])
    # coefficients per level of each predictor: column 0 the full kernel, then one per cut-off
    lam_all = np.vstack([lam[None], lam_r])  # (1 + cutoffs, level)
    out = np.zeros((ds.sizes["draw"], len(n_train), cutoffs.size))
    for j, n in enumerate(n_train):
        for i in range(ds.sizes["draw"]):
            x, y = ds.x_train.values[i, :n], ds.y_train.values[i, :n]
            t = np.clip(x @ x.T, -1, 1)
            solves = [gp_solve(kernels.gram(net, x[None], kind=kind)[0], y, ridge + jitter)]
            for r, noise_r in zip(cutoffs, ridge_r, strict=True):
                k_trim = np.polynomial.polynomial.polyval(t, b[: r + 1])
                solves.append(gp_solve(k_trim, y, noise_r + jitter))
            q = _level_quadratic_forms(x, np.stack(solves, axis=1), max_degree)  # (level, 1 + c, 1 + c)
            # ||sum_i a_i K(x_i, .) - sum_i c_i K_r(x_i, .)||^2 = sum_l lam^2 Qaa - 2 lam lam_r Qac + lam_r^2 Qcc
            for k in range(cutoffs.size):
                out[i, j, k] = np.sum(
                    lam_all[0] ** 2 * q[:, 0, 0]
                    - 2 * lam_all[0] * lam_all[k + 1] * q[:, 0, k + 1]
                    + lam_all[k + 1] ** 2 * q[:, k + 1, k + 1]
                )
    return xr.Dataset(
        {
            "distance2": (("draw", "n_train", "cutoff"), out),
            "ridge_renorm": ("cutoff", ridge_r),
        },
        coords={"draw": ds.draw.values, "n_train": np.asarray(n_train), "cutoff": cutoffs},
        attrs={"ridge": float(ridge), "jitter": float(jitter), "kernel": kind, "spectrum_max_degree": max_degree},
    )


def gp_population_mse(net: model.FCN, ds: xr.Dataset, n_train, ridges, eigenvalues) -> np.ndarray:
    """Exact population MSE (against the clean target) of GP regression with the network's NNGP on the first n_train
    points of every draw, for several ridges at the cost of one eigendecomposition per draw and size: (draw, ridge)
    for one size n_train, (draw, n_train, ridge) for a sequence of sizes. The same numbers as
    `exact_gp_learning_curve`'s mse_population, without the test set."""
    sizes = _train_sizes(n_train, ds.sizes["sample"])
    ridges = np.atleast_1d(np.asarray(ridges, dtype=np.float64))
    if ridges.ndim != 1 or np.any(~np.isfinite(ridges)) or np.any(ridges <= 0):
        raise ValueError(f"ridges must be finite and > 0 (got {ridges})")
    terms = (ds.term_degree.values, ds.term_coefficient.values, ds.term_direction.values)
    lam = np.asarray(eigenvalues)
    norm2 = float(ds.target_power.values.sum())
    out = np.empty((ds.sizes["draw"], len(sizes), ridges.size))
    for j, n in enumerate(sizes):
        x, y = ds.x_train.values[:, :n], ds.y_train.values[:, :n]
        s, u = np.linalg.eigh(kernels.gram(net, x))  # (draw, n), (draw, n, n)
        uy = np.einsum("bji,bj->bi", u, y)
        smooth = np.tensordot(lam[terms[0]], data.target_terms(x, *terms), axes=1)
        for k, ridge in enumerate(ridges):
            alpha = np.einsum("bij,bj->bi", u, uy / (s + ridge))
            out[:, j, k] = population_mse(alpha, x, lam, norm2, smooth)
    return out[:, 0] if np.ndim(n_train) == 0 else out


def gp_summary(gp: xr.Dataset, target_power) -> xr.Dataset:
    """Dataset averages with standard errors: mse (dataset-averaged MSE) and mse_mean_predictor
    (sum_l G_l (1 - E[learned_l])^2, unbiased: (mean)^2 minus its sampling variance), per n_train."""
    power = np.asarray(target_power, dtype=np.float64)
    draws = gp.sizes["draw"]
    mse = gp.mse_population
    miss = 1 - gp.learned_fraction  # (draw, n, degree)
    m, v = miss.mean("draw"), miss.var("draw", ddof=1) / draws
    mean_pred = ((m**2 - v) * power).sum("target_degree")
    # delta method: d/dm sum G m^2 = 2 G m
    mean_pred_se = np.sqrt(((2 * power * m) ** 2 * v).sum("target_degree"))
    return xr.Dataset(
        {
            "mse": mse.mean("draw"),
            "mse_se": mse.std("draw", ddof=1) / np.sqrt(draws),
            "mse_mean_predictor": mean_pred,
            "mse_mean_predictor_se": mean_pred_se,
            "learned_fraction": gp.learned_fraction.mean("draw"),
            "learned_fraction_se": gp.learned_fraction.std("draw", ddof=1) / np.sqrt(draws),
        }
    )


THEORIES = {
    # name in the theory store: (label, the exact-GP observable it predicts)
    "ek": ("EK", "mse"),
    "ek_renorm_spectral": ("EK, renormalised (spectral)", "mse"),
    "ek_renorm_taylor": ("EK, renormalised (Taylor trim)", "mse"),
    "ek_1n_renorm_spectral": ("EK + 1/n, renormalised (spectral)", "mse_mean_predictor"),
    "ek_1n_renorm_taylor": ("EK + 1/n, renormalised (Taylor trim)", "mse_mean_predictor"),
    "sc": ("self-consistent", "mse"),
    "sc_mean_predictor": ("self-consistent, mean predictor", "mse_mean_predictor"),
}


def compare(theory: xr.Dataset, gp_summary_ds: xr.Dataset) -> xr.Dataset:
    """Relative error of every theory against the exact-GP observable it predicts, at the GP's n_train:
    rel_<theory> = theory / GP - 1, with the GP's standard error carried as rel_se_<theory>."""
    n = gp_summary_ds.n_train.values
    at_n = theory.sel(n_train=n.astype(np.float64))
    out = {}
    for name, (_, observable) in THEORIES.items():
        if name not in theory:
            continue
        gp_value = gp_summary_ds[observable].values
        gp_se = gp_summary_ds[f"{observable}_se"].values
        out[name] = ("n_train", at_n[name].values)
        out[f"rel_{name}"] = ("n_train", at_n[name].values / gp_value - 1)
        out[f"rel_se_{name}"] = ("n_train", at_n[name].values * gp_se / gp_value**2)
    for observable in ("mse", "mse_mean_predictor"):
        out[f"gp_{observable}"] = ("n_train", gp_summary_ds[observable].values)
        out[f"gp_{observable}_se"] = ("n_train", gp_summary_ds[f"{observable}_se"].values)
    return xr.Dataset(out, coords={"n_train": n}, attrs={"theories": str(list(out))})


# ----------------------------------------------------------------------------------------------------------------
# The stated claims of Cohen, Malka & Ringel (v2), measured (docs/papers.md)

COHEN_V2 = {
    # quoted in the text (lambda_1 is printed 7.27e-3, a typo: their own sigma_r^2 / lambda_1 ordering needs 7.27e-4)
    "eigenvalues": (3.19, 7.27e-4, 5.98e-6, 1.62e-7),
    "ridge_renorm": 0.018,
    "cutoff": 3,
    "learned_modes": 51,  # C / sigma_r^2 ~ 51 / n: N(50, 0) + N(50, 1)
    "suppression_n": 1000,  # "at n = 1000 the l = 2 part is learned but suppressed by a factor of about 3"
    "suppression": 3.0,
    "accuracy": 0.03,  # "the best estimate is within 3 % of experiment"
}


def _quoted_tolerance(value: float, digits: int) -> float:
    """One unit in the last of `digits` significant digits, relative: a quoted value rounded or truncated."""
    return 10 ** (np.floor(np.log10(abs(value))) - digits + 1) / abs(value)


def cohen_v2_claims(spectrum: xr.Dataset, theory: xr.Dataset, comparison: xr.Dataset, gp_summary_ds: xr.Dataset):
    """Every stated claim of Cohen et al. v2 in its own setting (d = 50, depth-4 ReLU NTK, noiseless), as a table
    with one row per (claim, n): the stated value (the paper's number; for the 3 % claim, the paper's best estimate
    EK + 1/n computed by us), the measured one with its standard error, the relative difference stated / measured
    - 1 for the 3 % claim and measured / stated - 1 otherwise, the criterion, and whether it holds.
    Observables: `theory` (a theory's own number), `gp_mse` (the dataset-averaged MSE of exact GP regression),
    `gp_mse_mean_predictor` (the MSE of the dataset-averaged predictor), `gp_learned_fraction` (<f, g_2> / ||g_2||^2
    averaged over datasets).
    """
    import pandas as pd

    c = COHEN_V2
    kind = theory.attrs["kernel"]
    dim = int(spectrum.attrs["dim"])
    max_degree = spectrum.sizes["degree"] - 1
    lam_r, ridge_r = renormalised_taylor(
        spectrum[f"taylor_{kind}"].values,
        spectrum.attrs[f"k1_{kind}"],
        dim,
        theory.attrs["ridge"],
        c["cutoff"],
        max_degree,
    )
    rows = []

    def row(claim, observable, n, stated, measured, se, criterion, holds):
        rows.append(
            dict(
                claim=claim,
                observable=observable,
                n_train=n,
                stated=stated,
                measured=measured,
                measured_se=se,
                relative=measured / stated - 1,
                criterion=criterion,
                holds=bool(holds),
            )
        )

    for l, quoted in enumerate(c["eigenvalues"]):
        tol = _quoted_tolerance(quoted, 3)
        row(
            f"lambda_{l} of the Taylor-trimmed kernel (r = 3)",
            "theory",
            np.nan,
            quoted,
            lam_r[l],
            0.0,
            f"|relative| <= {tol:.2g} (quoted digits)",
            abs(lam_r[l] / quoted - 1) <= tol,
        )
    tol = _quoted_tolerance(c["ridge_renorm"], 2)
    row(
        "sigma_r^2, renormalised noise (r = 3)",
        "theory",
        np.nan,
        c["ridge_renorm"],
        ridge_r,
        0.0,
        f"|relative| <= {tol:.2g} (quoted digits)",
        abs(ridge_r / c["ridge_renorm"] - 1) <= tol,
    )
    n = comparison.n_train.values
    ratio = theory.perturbative_ratio_taylor.sel(n_train=n.astype(float)).values
    for nn, value in zip(n, ratio, strict=True):
        row(
            "C / sigma_r^2 ~ 51 / n",
            "theory",
            nn,
            c["learned_modes"] / nn,
            value,
            0.0,
            "|relative| <= 0.25",
            abs(value * nn / c["learned_modes"] - 1) <= 0.25,
        )
    ns = c["suppression_n"]
    if ns in gp_summary_ds.n_train.values:
        frac = gp_summary_ds.learned_fraction.sel(n_train=ns, target_degree=2).item()
        se = gp_summary_ds.learned_fraction_se.sel(n_train=ns, target_degree=2).item()
        row(
            "degree 2 learned but suppressed by about 3 (learned fraction ~ 1/3)",
            "gp_learned_fraction",
            ns,
            1 / c["suppression"],
            frac,
            se,
            "suppression 1 / fraction within [2, 4]",
            2 <= 1 / frac <= 4,
        )
    for observable in ("mse", "mse_mean_predictor"):
        gp_value = comparison[f"gp_{observable}"].values
        gp_se = comparison[f"gp_{observable}_se"].values
        best = comparison.ek_1n_renorm_taylor.values
        for nn, g, s, b in zip(n, gp_value, gp_se, best, strict=True):
            rows.append(
                dict(
                    claim="EK + 1/n (Taylor trim, r = 3) within 3 % of experiment",
                    observable=f"gp_{observable}",
                    n_train=nn,
                    stated=b,
                    measured=g,
                    measured_se=s,
                    relative=b / g - 1,
                    criterion="|EK+1/n / GP - 1| <= 0.03",
                    holds=abs(b / g - 1) <= c["accuracy"],
                )
            )
    return pd.DataFrame(rows)
