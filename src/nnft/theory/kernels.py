"""NNGP and NTK of deep fully connected networks at infinite width, as functions of t = x.x' on the unit sphere.

``depth`` counts weight layers (docs/learning_curves.md Sec. 3): depth = 1 is a linear model. The kernel of a
network is a fold over its layers, each calling the activation's Gaussian expectations (activations.py):

    Sigma^(1) = sigma_w2[0] g t + sigma_b2[0],                q^(1) = sigma_w2[0] g + sigma_b2[0]
    Sigma^(l) = sigma_w2[l] E[s(u)s(v)] + sigma_b2[l],        (u, v) ~ N(0, [[q, Sigma], [Sigma, q]]) at layer l-1
    dSigma^(l) = sigma_w2[l] E[s'(u)s'(v)],  Theta^(l) = Theta^(l-1) dSigma^(l) + Sigma^(l),  Theta^(1) = Sigma^(1)

with g the input gain of the convention (docs/learning_curves.md Sec. 2), both for data on the unit sphere S^{d-1}:

- ``"unit"``:   first-layer weight variance sigma_w2 / d on |x| = 1, g = 1/d (Cohen et al. v2; docs/papers.md Sec. 1);
- ``"sqrt_d"``: inputs at radius sqrt(d) (PDLT's |x|^2 / n_0 = 1), g = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .. import sphere
from ..activations import Activation, arccos_kappa0, arccos_kappa1  # noqa: F401  (re-exported: the ReLU closed forms)
from ..model import FCN

CHEBYSHEV_DEGREE = 256  # interpolation of quadrature kernels in t for large arrays


def recursion(net: FCN, t) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) by the layer recursion evaluated at every entry of t (real, or complex for Cauchy integrals)."""
    t = np.asarray(t)
    act = net.act
    layers = net.layer_variances()
    w2, b2 = layers[0]
    sigma = w2 * net.input_gain2 * t + b2
    q = w2 * net.input_gain2 + b2
    theta = sigma
    for w2, b2 in layers[1:]:
        sigma_dot = w2 * act.pair_deriv(q, sigma, q)
        sigma = w2 * act.pair(q, sigma, q) + b2
        theta = theta * sigma_dot + sigma
        q = float(w2 * act.pair(q, q, q) + b2)
    return sigma, theta


def first_layer_kernel(net: FCN, x, y):
    """Sigma^(1)(x_i, y_j) = sigma_w2[0] g x_i . y_j + sigma_b2[0] for rows x, y (numpy or jax arrays): the first
    layer's kernel, exact at any width (its preactivations are Gaussian)."""
    w2, b2 = net.layer_variances()[0]
    return w2 * net.input_gain2 * x @ y.T + b2


def first_layer_variance(net: FCN, x):
    """Sigma^(1)(x_i, x_i) = sigma_w2[0] g |x_i|^2 + sigma_b2[0] for rows x (numpy or jax arrays)."""
    w2, b2 = net.layer_variances()[0]
    return w2 * net.input_gain2 * (x**2).sum(-1) + b2


def kernel_map(act: Activation, w2, b2, diag, cross, n_cols: int):
    """One layer of the recursion on kernel matrices, F(G) = w2 E[s(z) s(z)^T] + b2, z ~ N(0, G), in jax.numpy
    (traceable, forward- and reverse-differentiable) and in block form: diag holds G's diagonal over all rows,
    cross the columns against the first n_cols rows (whose first n_cols rows are the square block with its
    diagonal). The activation's closed forms (Activation.jax_pair, jax_mean_square: the formulas of its numpy
    pair, which `recursion` folds); the diagonal comes from E[s(z)^2], the other entries from E[s(u) s(v)] with rho
    kept off +-1 (activations.RHO_MARGIN). Returns F's (diag, cross)."""
    new_diag = w2 * act.jax_mean_square(diag) + b2
    pair = w2 * act.jax_pair(diag[:, None], cross, diag[None, :n_cols]) + b2
    on_diag = jnp.arange(diag.shape[0])[:, None] == jnp.arange(n_cols)[None, :]
    return new_diag, jnp.where(on_diag, new_diag[:, None], pair)


def full_kernel_map(act: Activation, w2, b2, g):
    """kernel_map on a full symmetric kernel matrix g (jax.numpy): F(g)."""
    return kernel_map(act, w2, b2, jnp.diag(g), g, g.shape[0])[1]


@lru_cache(maxsize=32)
def _chebyshev(net: FCN):
    """Chebyshev series of (NNGP, NTK) on [-1, 1], trimmed where the coefficients reach the quadrature's noise
    plateau (~1e-14 of the largest)."""
    series = []
    values = None
    for which in (0, 1):

        def f(t, which=which):
            nonlocal values
            if values is None:
                values = recursion(net, t)
            return values[which]

        c = np.polynomial.Chebyshev.interpolate(f, CHEBYSHEV_DEGREE).coef
        keep = np.nonzero(np.abs(c) > 5e-14 * np.abs(c).max())[0]  # above the Gauss-Hermite noise plateau
        series.append(c[: keep[-1] + 1])
    return series


KINDS = ("nngp", "ntk")
BLOCK = 1 << 15  # entries per block of the large-array evaluations: the temporaries of a block stay in cache
JAX_BLOCK = 1 << 16  # entries per call of the jitted Chebyshev evaluation, used from JAX_MIN entries on (below,
JAX_MIN = 1 << 18  # numpy's chebval is faster than a compilation)


def _check_kinds(kinds) -> tuple[str, ...]:
    kinds = tuple(kinds)
    if not kinds or any(k not in KINDS for k in kinds):
        raise ValueError(f"kinds must be a non-empty sequence of 'nngp' and 'ntk' (got {kinds!r})")
    return kinds


@lru_cache(maxsize=32)
def _sphere_layers(net: FCN) -> tuple[tuple[float, float], tuple[tuple[float, float, float], ...]]:
    """The layer maps of inputs on the unit sphere, whose preactivation variance q is one number per layer: the
    first layer's (sigma_w2 g, sigma_b2), then (sigma_w2, sigma_b2, q of its input) for every later layer. q is
    the diagonal entry of the previous layer's map computed with the same operations as the off-diagonal ones, so
    that c / q = 1 exactly at t = 1 (arccos amplifies an ulp there to ~1e-8)."""
    layers = net.layer_variances()
    w2, b2 = layers[0]
    q = w2 * net.input_gain2 * 1.0 + b2
    later = []
    for w2, b2 in layers[1:]:
        later.append((w2, b2, q))
        q = float(w2 * net.act.pair_on_sphere(q, np.array([q]), deriv=False)[0][0] + b2)
    return (layers[0][0] * net.input_gain2, layers[0][1]), tuple(later)


def _sphere_recursion(net: FCN, t: np.ndarray, ntk: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(NNGP, NTK or None) of a closed-form activation at real t: the layer recursion with one scalar q per layer and
    one fused evaluation of both pair expectations (Activation.pair_on_sphere); without ntk only the NNGP chain."""
    (w2, b2), layers = _sphere_layers(net)
    sigma = w2 * t + b2
    theta = sigma if ntk else None
    for w2, b2, q in layers:
        pair, deriv = net.act.pair_on_sphere(q, sigma, deriv=ntk)
        if ntk:
            deriv *= w2
            theta = theta * deriv
        sigma = w2 * pair + b2
        if ntk:
            theta += sigma
    return sigma, theta


def _clenshaw(coef: list[float], t):
    """sum_k coef[k] T_k(t) by Clenshaw's recurrence, the steps of np.polynomial.chebyshev.chebval (jnp or np t)."""
    if len(coef) == 1:
        return coef[0] + 0 * t
    c0, c1 = coef[-2], coef[-1]
    t2 = 2 * t
    for c in coef[-3::-1]:
        c0, c1 = c - c1, c0 + c1 * t2
    return c0 + c1 * t


@lru_cache(maxsize=32)
def _chebyshev_map(net: FCN, kinds: tuple[str, ...]) -> Callable:
    """A jitted map of a float64 block of t to the requested kernels' Chebyshev series (coefficients compiled in as
    constants: one fused pass over the block); call it with jax.enable_x64."""
    series = dict(zip(KINDS, ([float(v) for v in c] for c in _chebyshev(net)), strict=True))

    def kernels_of(t):
        t = jnp.clip(t, -1.0, 1.0)
        return tuple(_clenshaw(series[k], t) for k in kinds)

    return jax.jit(kernels_of)


def _blockwise(fn: Callable, t: np.ndarray, n_out: int, block: int, pad: bool = False) -> list[np.ndarray]:
    """fn (a block of t -> n_out arrays of its size) applied block by block over the entries of t, assembled in the
    shape of t; pad: the last block is padded to the full block size (one compiled shape for jitted fn)."""
    flat = np.ascontiguousarray(t, dtype=np.float64).reshape(-1)
    out = [np.empty(flat.size) for _ in range(n_out)]
    for start in range(0, flat.size, block):
        part = flat[start : start + block]
        size = part.size
        if pad and size < block:
            part = np.concatenate([part, np.zeros(block - size)])
        for o, v in zip(out, fn(part), strict=True):
            o[start : start + size] = np.asarray(v)[:size]
    return [o.reshape(np.shape(t)) for o in out]


def kernels_at(net: FCN, t, kinds=KINDS) -> tuple[np.ndarray, ...]:
    """The requested kernels (kinds: a sequence of "nngp" and "ntk") of the network's scalar output at cosine t
    between two unit-sphere inputs, in that order; only those are computed (the NTK needs the NNGP chain, the NNGP
    alone skips the derivative maps).

    Closed-form activations evaluate the recursion entrywise, block by block (Activation.pair_on_sphere: one scalar
    variance per layer; the values of `recursion`, bit for bit). Quadrature activations do so for small arrays and
    otherwise evaluate a Chebyshev series in t (the kernels are analytic on [-1, 1]; agreement ~1e-12, tested), from
    JAX_MIN entries on in one jitted pass per block (the values of numpy's chebval to rounding).
    """
    kinds = _check_kinds(kinds)
    t = np.asarray(t, dtype=np.float64)
    if net.act.closed_form:

        def block(part):
            sigma, theta = _sphere_recursion(net, part, ntk="ntk" in kinds)
            return tuple({"nngp": sigma, "ntk": theta}[k] for k in kinds)

        out = _blockwise(block, t, len(kinds), BLOCK)
    elif t.size <= CHEBYSHEV_DEGREE + 1:
        values = dict(zip(KINDS, recursion(net, t), strict=True))
        return tuple(values[k] for k in kinds)
    elif t.size < JAX_MIN:
        series = dict(zip(KINDS, _chebyshev(net), strict=True))
        t = np.clip(t, -1.0, 1.0)
        return tuple(np.polynomial.chebyshev.chebval(t, series[k]) for k in kinds)
    else:
        with jax.enable_x64(True):
            out = _blockwise(_chebyshev_map(net, kinds), t, len(kinds), JAX_BLOCK, pad=True)
    return tuple(o[()] if o.ndim == 0 else o for o in out)


def nngp_ntk(net: FCN, t) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) of the network's scalar output at cosine t between two unit-sphere inputs (kernels_at)."""
    return kernels_at(net, t, KINDS)


def nngp(net: FCN, t) -> np.ndarray:
    return kernels_at(net, t, ("nngp",))[0]


def ntk(net: FCN, t) -> np.ndarray:
    return kernels_at(net, t, ("ntk",))[0]


SPHERE_TOLERANCE = 1e-5  # relative deviation of a row's norm from 1 that gram accepts (float32 rows: ~1e-7)


def gram(net: FCN, x: np.ndarray, y: np.ndarray | None = None, kind: str = "nngp") -> np.ndarray:
    """Kernel matrix K(x_i . y_j) for rows on the unit sphere (the kernels are functions of x.y there; the input
    scaling of net is applied inside); kind is "nngp" or "ntk". ValueError naming x or y for rows off the sphere,
    except for linear networks (identity activation), whose kernels are functions of x.y for any inputs."""
    if kind not in ("nngp", "ntk"):
        raise ValueError(f"kind must be 'nngp' or 'ntk' (got {kind!r})")
    linear = net.act.slopes == (1.0, 1.0)
    for name, rows in (("x", x), ("y", y)):
        if rows is not None and (np.ndim(rows) < 2 or np.shape(rows)[-1] != net.dim):
            raise ValueError(f"{name} must hold rows of net.dim = {net.dim} coordinates (got shape {np.shape(rows)})")
        if rows is None or linear:
            continue
        norms = np.linalg.norm(np.asarray(rows, dtype=np.float64), axis=-1)
        if norms.size and not np.all(np.abs(norms - 1) <= SPHERE_TOLERANCE):
            raise ValueError(f"{name}: rows must lie on the unit sphere S^(d-1) (norms from {norms.min():.6g} "
                             f"to {norms.max():.6g}); scale inputs to unit norm, net.input_scaling does the "
                             f"rest")  # fmt: skip
    t = x @ (x if y is None else y).swapaxes(-1, -2)
    return kernels_at(net, t, (kind,))[0]


def taylor_coefficients(
    kernel: Callable, n_coef: int, radius: float = 0.95, n_points: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """b_q, q < n_coef, of an analytic dot-product kernel K(t) = sum_q b_q t^q by the Cauchy integral on |z| = radius
    (trapezoidal rule = FFT; docs/learning_curves.md Sec. 4), and the rounding error of each, 1e-16 max|K| / radius^q.
    The kernel must accept complex arrays; aliasing is negligible for n_points >= 4 n_coef."""
    m = n_points or max(4 * n_coef, 256)
    z = radius * np.exp(2j * np.pi * np.arange(m) / m)
    values = kernel(z)
    coef = np.fft.fft(values) / m
    scale = radius ** np.arange(n_coef)
    return (coef[:n_coef] / scale).real, 1e-16 * np.abs(values).max() * np.sqrt(m) / scale


def _taylor_log_weights(d: int, l: int, n) -> np.ndarray:
    """log of the weight of b_n in lambda_l (Eq. 9), n = l + 2s."""
    from scipy.special import gammaln

    n = np.asarray(n)
    s = (n - l) // 2
    return (
        gammaln(d / 2)
        - 0.5 * np.log(np.pi)
        - l * np.log(2)
        + gammaln(n + 1)
        - gammaln(2 * s + 1)
        + gammaln(s + 0.5)
        - gammaln(s + l + d / 2)
    )


def eigenvalues_from_taylor(b: np.ndarray, d: int, max_degree: int) -> np.ndarray:
    """Eq. 9 of Cohen et al. (docs/learning_curves.md Sec. 4): lambda_l = sum_s b_{l+2s} w_{l,s}, every term >= 0,
    in log space (no overflow for d ~ 1000, l ~ 20)."""
    b = np.asarray(b, dtype=np.float64)
    lam = np.zeros(max_degree + 1)
    for l in range(max_degree + 1):
        n = np.arange(l, b.size, 2)
        lam[l] = np.sum(b[n] * np.exp(_taylor_log_weights(d, l, n)))
    return lam


def spectrum(net: FCN, max_degree: int, quadrature_nodes: int = 1000, taylor_terms: int = 400) -> xr.Dataset:
    """NNGP and NTK eigenvalues per degree on S^{dim-1}, with degeneracies and the tail mass beyond max_degree.

    Two routes (docs/learning_curves.md Sec. 4): Funk-Hecke by Gauss-Gegenbauer quadrature, whose absolute error is
    estimated as the change from half the nodes (kinked kernels converge algebraically) plus a rounding floor
    ~1e-15 E|K P_l| (it cancels catastrophically for high degree at large d), and, for closed-form
    activations, Eq. 9 from Taylor coefficients (positive terms, no cancellation; error = the truncated Taylor
    mass times the weight of the first dropped term, large when d is small). Each degree takes the route with
    the smaller error estimate; both routes and their estimates are stored.
    """
    degree = np.arange(max_degree + 1)
    t, w = sphere.quadrature(net.dim, quadrature_nodes)
    table = sphere.gegenbauer_table(net.dim, max_degree, t)
    t_half, w_half = sphere.quadrature(net.dim, quadrature_nodes // 2)  # discretisation-error estimate
    table_half = sphere.gegenbauer_table(net.dim, max_degree, t_half)
    k_half = dict(zip(("nngp", "ntk"), nngp_ntk(net, t_half), strict=True))
    k1 = dict(zip(("nngp", "ntk"), (float(v) for v in nngp_ntk(net, 1.0)), strict=True))
    log_deg = sphere.log_degeneracy(net.dim, degree)
    deg = np.exp(log_deg)
    data = {}
    n_taylor = int(min(taylor_terms, np.log(1e-9) / np.log(0.95)))  # keep the rounding error below 1e-7
    for which, k_t in zip(("nngp", "ntk"), nngp_ntk(net, t), strict=True):
        # sphere.funk_hecke's projection on its rule, written out so that both kernels share one evaluation per rule
        # and the rounding floor reuses the table (calling funk_hecke per kernel and rule took 2.6x the time)
        lam_q = table @ (w * k_t)
        lam_half = table_half @ (w_half * k_half[which])
        err_q = 1e-15 * (np.abs(table * k_t) @ w) + np.abs(lam_q - lam_half)  # rounding floor + discretisation
        lam_t = np.full(max_degree + 1, np.nan)
        err_t = np.full(max_degree + 1, np.inf)
        b = np.full(n_taylor, np.nan)
        if net.act.closed_form:
            n_coef = n_taylor
            b, b_err = taylor_coefficients(lambda z, which=which: recursion(net, z)[which == "ntk"], n_coef, 0.95)
            lam_t = eigenvalues_from_taylor(b, net.dim, max_degree)
            dropped = abs(k1[which] - b.sum()) + b_err.sum()
            for l in degree:
                n = np.arange(l, n_coef, 2)
                first = n_coef + ((n_coef - l) % 2)
                logw = _taylor_log_weights(net.dim, l, np.append(n, first))
                err_t[l] = np.sum(b_err[n] * np.exp(logw[:-1])) + dropped * np.exp(logw[-1])
        use_taylor = err_t < err_q
        lam = np.where(use_taylor, lam_t, lam_q)
        data[f"eigenvalue_{which}"] = ("degree", lam)
        data[f"eigenvalue_{which}_quadrature"] = ("degree", lam_q)
        data[f"eigenvalue_{which}_taylor"] = ("degree", lam_t)
        data[f"error_{which}"] = ("degree", np.minimum(err_q, err_t))
        data[f"error_{which}_quadrature"] = ("degree", err_q)
        data[f"error_{which}_taylor"] = ("degree", err_t)
        data[f"route_{which}"] = ("degree", use_taylor.astype(np.int8))
        data[f"taylor_{which}"] = ("power", b)
    data["degeneracy"] = ("degree", np.round(deg) if log_deg.max() < 36 else deg)
    data["log_degeneracy"] = ("degree", log_deg)
    lam_nngp, lam_ntk = data["eigenvalue_nngp"][1], data["eigenvalue_ntk"][1]
    return xr.Dataset(
        data,
        coords={"degree": degree, "power": np.arange(n_taylor)},
        attrs={
            "k1_nngp": k1["nngp"],
            "k1_ntk": k1["ntk"],
            "tail_nngp": float(k1["nngp"] - (deg * lam_nngp).sum()),
            "tail_ntk": float(k1["ntk"] - (deg * lam_ntk).sum()),
            "input_scaling": net.input_scaling,
            "activation": net.act.name,
            "dim": net.dim,
            "depth": net.depth,
            "description": (
                "K(t) = sum_l degeneracy_l eigenvalue_l P_l(t); tail = K(1) - sum up to max_degree; "
                "route 0 = Funk-Hecke quadrature, 1 = Taylor coefficients (Eq. 9); error = absolute error estimate; "
                "taylor = K's Taylor coefficients b_q, q = power (NaN without a closed form)"
            ),
        },
    )


def spectra_table(
    dim: int, max_degree: int, quadrature_nodes: int, depths, models, input_scaling: str = "sqrt_d"
) -> xr.Dataset:
    """Eigenvalues and the share of prior variance per degree, N(d, l) lambda_l / K(1), for every (model, depth).

    models: dicts with activation, sigma_w2, sigma_b2. Dims (model, depth, degree); model names in attrs.
    """
    import json

    depths = list(depths)
    shape = (len(models), len(depths), max_degree + 1)
    keys = ("eigenvalue_nngp", "eigenvalue_ntk", "share_nngp", "share_ntk", "share_error_nngp", "share_error_ntk")
    out = {k: np.zeros(shape) for k in keys}
    names = []
    deg = None
    for i, m in enumerate(models):
        names.append(f"{m['activation']} (σw²={m['sigma_w2']:g}, σb²={m['sigma_b2']:g})")
        for j, depth in enumerate(depths):
            net = FCN(dim=dim, depth=depth, input_scaling=input_scaling, **m)
            spec = spectrum(net, max_degree, quadrature_nodes)
            deg = spec.degeneracy.values
            for which in ("nngp", "ntk"):
                lam = spec[f"eigenvalue_{which}"].values
                out[f"eigenvalue_{which}"][i, j] = lam
                out[f"share_{which}"][i, j] = deg * lam / spec.attrs[f"k1_{which}"]
                out[f"share_error_{which}"][i, j] = deg * spec[f"error_{which}"].values / spec.attrs[f"k1_{which}"]
    dims = ("model", "depth", "degree")
    return xr.Dataset(
        {k: (dims, v) for k, v in out.items()} | {"degeneracy": ("degree", deg)},
        coords={"model": np.arange(len(models)), "depth": depths, "degree": np.arange(max_degree + 1)},
        attrs={"models": json.dumps(names), "dim": dim, "input_scaling": input_scaling},
    )
