"""Exact Bayesian posterior of deep linear networks at any width (docs/finite_width_bayes.md Secs. 1-4 and 9).

The model is ``model.FCN(depth=2, activation="identity", sigma_b2=0)`` with sigma_w2 = (sigma_w2, sigma_a2): in
the parametrisation of model.py (standard-normal W (d x N) and readout A (N x 1), variances in the forward pass)

    f(x) = c . x,    c = sqrt(sigma_a2 sigma_w2 g / N) W A,    g = input_gain2 (1 for "sqrt_d", 1/d for "unit"),

on unit-norm inputs x (inputs at radius sqrt(d) are sqrt(d) x, with the same c; the teacher y = beta . x has
population test MSE |c - beta|^2 / d over the uniform sphere). NNGP on the train set: K0 = s X X^T, s = sigma_a2
sigma_w2 g. The posterior is that of sampling.langevin.run_ensemble and of the exact block Gibbs sampler
sampling.gibbs: N(0, I) prior on the parameters x Gaussian likelihood of variance T.

Sec. 1 reduction: with u = |A|^2 / N (= |a|^2 / (N sigma_a2) for a readout a of variance sigma_a2),
c | u ~ N(0, u s I_d) and u ~ Gamma(N/2, scale 2/N), so f | u, D is GP regression with kernel u K0 and

    p(t = log u | D) propto exp[(N/2) t - (N/2) e^t + l(e^t)],    l(u) = log N(y; 0, u K0 + T I).

Deeper linear networks (depth L + 1, L hidden layers of width N, zero biases; Sec. 9): given the layers above it,
the readout vector pulled back to the first hidden layer, v, is fixed and W_1^T v ~ N(0, |v|^2 I), and likewise for
every layer, so c | u ~ N(0, u s I_d) with u = u_1 ... u_L a product of independent Gamma(N/2, 2/N) scalars and s
the product of all the layers' sigma_w2 times g. The posterior is the same one-dimensional average over t = log u
with the prior of t the L-fold convolution of the one-layer density.

Everything is spectral in the SVD X = U S V^T: lambda_k = s S_k^2, y~ = U^T y, and at fixed u the GP posterior of c
in the V basis has mean u s S_k y~_k / (u lambda_k + T) and variance u s T / (u lambda_k + T) (u s off the row span).

The approximations are named as the general theories they are exact references for (saddle_point and width_sweep
as in adaptive_kernel, first_order and kernel_renormalisation as in finite_width_bayes): the same concept in closed
form for linear networks, returning a LinearPosterior (the posterior of c) instead of predictions on test points.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import xarray as xr
from scipy import optimize

from .. import model

LOG_MARGIN = 60.0  # the quadrature covers every t where the density can exceed exp(-LOG_MARGIN) of its maximum
POINTS_PER_SD = 16  # trapezoidal nodes per posterior standard deviation of t (spectrally accurate: smooth, decaying)


class Spectrum(NamedTuple):
    """Eigendecomposition of K0 = s X X^T on the train set, from the thin SVD X = U S V^T."""

    lam: np.ndarray  # (r,) eigenvalues s S_k^2 of K0, r = min(P, d)
    y_tilde: np.ndarray  # (r,) U^T y
    b: np.ndarray  # (r,) s S_k y~_k: the GP mean of c in the V basis is u b_k / (u lambda_k + T)
    v: np.ndarray  # (d, r) right singular vectors
    residual2: float  # |y - U U^T y|^2: the part of y outside the range of K0
    n_train: int
    s: float  # sigma_a2 sigma_w2 input_gain2 (the product of every layer's sigma_w2 for deeper networks)
    width: int
    layers: int  # hidden layers L; the kernel scale is u = u_1 ... u_L, each u_l ~ Gamma(N/2, scale 2/N)


class LinearPosterior(NamedTuple):
    """A posterior (or an approximation to it) over the predictor f(x) = c . x on unit-norm inputs."""

    c_mean: np.ndarray  # (d,) posterior mean of c: the mean predictor is x . c_mean
    c_cov: np.ndarray  # (d, d) posterior covariance of c
    u_mean: float  # E[u | D], u = |A|^2 / N
    u_var: float  # Var[u | D]
    u_mode: float  # mode of p(log u | D), the saddle point u* of Sec. 2
    quad_error: float  # relative change of the quadrature from half the nodes (0 for closed forms)
    method: str


def check_linear(net: model.FCN) -> None:
    """Raise ValueError naming `net` unless it is a deep linear network: depth >= 2, identity activation, zero
    biases (the models of Sec. 1 and Sec. 9 of docs/finite_width_bayes.md)."""
    if not isinstance(net, model.FCN):
        raise ValueError(f"net must be a model.FCN (got {type(net).__name__})")
    if net.depth < 2:
        raise ValueError(f"net must have depth >= 2 (a hidden layer) for the exact linear posterior (got {net.depth})")
    if net.act.name != "identity":
        raise ValueError(f"net must have the identity activation for the exact linear posterior (got {net.act.name})")
    if any(b2 != 0 for _, b2 in net.layer_variances()):
        raise ValueError(f"net must have sigma_b2 = 0 in every layer for the exact linear posterior ({net.sigma_b2})")


def check_model(net: model.FCN) -> None:
    """Raise ValueError naming `net` unless it is the Sec. 1 model: depth 2, identity activation, zero biases."""
    check_linear(net)
    if net.depth != 2:
        raise ValueError(f"net must have depth 2 (one hidden layer) here (got {net.depth})")


def spectrum(net: model.FCN, x_train: np.ndarray, y_train: np.ndarray) -> Spectrum:
    """K0 = (prod of the layers' sigma_w2) g X X^T (the NNGP of net, kernels.gram) in eigen-coordinates, computed
    once, for a linear network of any depth >= 2."""
    check_linear(net)
    x = np.asarray(x_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != net.dim or y.shape != (x.shape[0],):
        raise ValueError(f"need x_train (P, {net.dim}) and y_train (P,) (got {x.shape} and {y.shape})")
    s = math.prod(w2 for w2, _ in net.layer_variances()) * net.input_gain2
    u_, sv, vt = np.linalg.svd(x, full_matrices=False)
    y_tilde = u_.T @ y
    return Spectrum(
        lam=s * sv**2,
        y_tilde=y_tilde,
        b=s * sv * y_tilde,
        v=vt.T,
        residual2=float(max(y @ y - y_tilde @ y_tilde, 0.0)),
        n_train=x.shape[0],
        s=s,
        width=net.width,
        layers=net.depth - 1,
    )


def log_evidence(spec: Spectrum, u, ridge: float) -> np.ndarray:
    """l(u) = log N(y; 0, u K0 + T I) = -1/2 sum_k [y~_k^2 / (u lambda_k + T) + log(u lambda_k + T)]
    - |y_perp|^2 / 2T - (P - r)/2 log T - P/2 log 2 pi, for every entry of u."""
    u = np.asarray(u, dtype=np.float64)[..., None]
    den = u * spec.lam + ridge
    r = spec.lam.size
    quad = (spec.y_tilde**2 / den).sum(-1) + spec.residual2 / ridge
    logdet = np.log(den).sum(-1) + (spec.n_train - r) * math.log(ridge)
    return -0.5 * (quad + logdet + spec.n_train * math.log(2 * math.pi))


def _dl(spec: Spectrum, u, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """(l'(u), l''(u)) with D = u lambda + T: l' = 1/2 sum [lambda y~^2 / D^2 - lambda / D],
    l'' = sum [lambda^2 / 2 D^2 - lambda^2 y~^2 / D^3]."""
    u = np.asarray(u, dtype=np.float64)[..., None]
    lam, y2 = spec.lam, spec.y_tilde**2
    den = u * lam + ridge
    d1 = 0.5 * (lam * y2 / den**2 - lam / den).sum(-1)
    d2 = (0.5 * lam**2 / den**2 - lam**2 * y2 / den**3).sum(-1)
    return d1, d2


def _log_density_t(spec: Spectrum, t, ridge: float) -> np.ndarray:
    """log p(t | D) up to a constant: (N/2) t - (N/2) e^t + l(e^t) (Sec. 1; = S(e^t) of Sec. 2)."""
    n = spec.width
    t = np.asarray(t, dtype=np.float64)
    return 0.5 * n * (t - np.exp(t)) + log_evidence(spec, np.exp(t), ridge)


def _dlog_density_t(spec: Spectrum, t, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """First and second t-derivatives of _log_density_t: N/2 (1 - u) + u l'(u) and -N u/2 + u l' + u^2 l''."""
    u = np.exp(np.asarray(t, dtype=np.float64))
    d1, d2 = _dl(spec, u, ridge)
    n = spec.width
    return 0.5 * n * (1 - u) + u * d1, -0.5 * n * u + u * d1 + u**2 * d2


def _bound(spec: Spectrum, t, ridge: float):
    """B(t) = (N/2)(t - e^t) - 1/2 sum log(e^t lambda + T) >= log density + const (the y-term is <= 0); B is concave
    in t, so {B >= level} is one interval that contains all the mass. Returns (B, B')."""
    u = np.exp(np.asarray(t, dtype=np.float64))[..., None]
    den = u * spec.lam + ridge
    n = spec.width
    value = 0.5 * n * (np.log(u[..., 0]) - u[..., 0]) - 0.5 * np.log(den).sum(-1)
    slope = 0.5 * n * (1 - u[..., 0]) - 0.5 * (u * spec.lam / den).sum(-1)
    return value, slope


def _root_bracket(f, start: float, step: float) -> tuple[float, float]:
    """An interval [start, start + k step] (or reversed) over which f changes sign, by doubling k."""
    a, fa = start, f(start)
    for i in range(200):
        b = start + step * 2**i
        if np.sign(f(b)) != np.sign(fa):
            return (a, b) if a < b else (b, a)
        a = b
    raise RuntimeError("no sign change found while bracketing a root")


def _local_mode(spec: Spectrum, ridge: float, t_lo: float, t_hi: float) -> float:
    """A root of d log p / dt in [t_lo, t_hi] (the derivative is N/2 > 0 at u -> 0 and -> -infinity at u -> inf)."""

    def g1(t):
        return float(_dlog_density_t(spec, t, ridge)[0])

    if g1(t_lo) <= 0:
        t_lo = _root_bracket(g1, t_lo, -1.0)[0]
    if g1(t_hi) >= 0:
        t_hi = _root_bracket(g1, t_hi, 1.0)[1]
    return optimize.brentq(g1, t_lo, t_hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)


def _sd_at(spec: Spectrum, t: float, ridge: float) -> float:
    curvature = -float(_dlog_density_t(spec, t, ridge)[1])
    return 1.0 / math.sqrt(curvature) if curvature > 0 else 1.0


def _t_grid(spec: Spectrum, ridge: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Uniform nodes in t = log u over the interval where the density can exceed exp(-LOG_MARGIN) of its maximum,
    POINTS_PER_SD nodes per standard deviation at the (global) mode; returns (t, log density, global mode)."""
    t0 = _local_mode(spec, ridge, -1.0, 1.0)
    level = float(_log_density_t(spec, t0, ridge)) - LOG_MARGIN
    tb = _local_mode_bound(spec, ridge)

    def excess(t):
        return float(_bound(spec, t, ridge)[0]) - level

    lo = optimize.brentq(excess, *_root_bracket(excess, tb, -1.0), xtol=1e-10)
    hi = optimize.brentq(excess, *_root_bracket(excess, tb, 1.0), xtol=1e-10)
    sd = _sd_at(spec, t0, ridge)
    for _ in range(3):
        n = int(min(max(np.ceil((hi - lo) / sd * POINTS_PER_SD), 512), 2_000_000)) | 1  # odd: halving keeps the ends
        t = np.linspace(lo, hi, n)
        logp = _log_density_t(spec, t, ridge)
        i = int(np.argmax(logp))
        mode = _local_mode(spec, ridge, t[max(i - 1, 0)], t[min(i + 1, n - 1)])
        sd_mode = _sd_at(spec, mode, ridge)
        if sd_mode >= 0.99 * sd:
            return t, logp, mode
        sd = sd_mode  # another, narrower mode dominates: refine
    return t, logp, mode


def _local_mode_bound(spec: Spectrum, ridge: float) -> float:
    """Maximum of the concave bound B(t)."""

    def slope(t):
        return float(_bound(spec, t, ridge)[1])

    return optimize.brentq(slope, *_root_bracket(slope, 0.0, -1.0 if slope(0.0) < 0 else 1.0), xtol=1e-12)


def _gp_moments(spec: Spectrum, u, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """GP posterior of c at kernel u K0 in the V basis: mean u b / (u lambda + T), variance u s T / (u lambda + T)."""
    u = np.asarray(u, dtype=np.float64)[..., None]
    den = u * spec.lam + ridge
    return u * spec.b / den, u * spec.s * ridge / den


def _assemble(spec: Spectrum, mean_v, cov_v, off_span_var: float) -> tuple[np.ndarray, np.ndarray]:
    """c mean and covariance from V-basis moments; off the row span of X the posterior is the prior, variance
    off_span_var (= s E[u])."""
    v = spec.v
    d = v.shape[0]
    cov = v @ cov_v @ v.T + off_span_var * (np.eye(d) - v @ v.T)
    return v @ mean_v, 0.5 * (cov + cov.T)


def _layer_log_prior(t, width: int) -> np.ndarray:
    """log density of t_l = log u_l, u_l ~ Gamma(N/2, scale 2/N), up to a constant: (N/2)(t - e^t + 1) (max 0)."""
    return 0.5 * width * (t - np.exp(t) + 1)


def _joint_mode(spec: Spectrum, ridge: float) -> float:
    """t* of Sec. 9 (kernel renormalisation with one scalar per hidden layer, Li & Sompolinsky): the global maximum
    over (t_1 .. t_L) of sum_l (N/2)(t_l - e^t_l) + l(e^(t_1 + ... + t_L)). For equal widths every t_l is equal at
    the maximum (sum_l t_l fixed, the prior term is strictly concave and symmetric), so it is the maximum of
    G(t) = L (N/2)(t - e^t) + l(e^(L t)); returns log u* = L t* (log of the kernel scale). For L = 1 this is the mode
    of p(log u | D), Sec. 2. G is scanned on a grid, its best node refined by brentq on G'."""
    n, lay = spec.width, spec.layers

    def g(t):
        return lay * _layer_log_prior(t, n) + log_evidence(spec, np.exp(lay * np.asarray(t)), ridge)

    def g1(t):
        u = math.exp(lay * t)
        return float(lay * 0.5 * n * (1 - math.exp(t)) + lay * u * _dl(spec, u, ridge)[0])

    grid = np.linspace(-20.0 / lay, 5.0, 40_001)
    i = int(np.argmax(g(grid)))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    if g1(lo) > 0 > g1(hi):
        return lay * optimize.brentq(g1, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)
    raise ValueError(f"no kernel-renormalisation saddle point inside u in [e^-20, e^{5 * lay}] (width {n})")


def _deep_grid(spec: Spectrum, ridge: float, step: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes tau = log u (u = u_1 ... u_L) at spacing `step` and the unnormalised log posterior density there: the
    prior of tau is the L-fold convolution of the layers' log-Gamma densities (trapezoidal sums of positive terms,
    so small values keep their relative accuracy), each cut where it falls below exp(-margin) of its maximum."""
    n, lay = spec.width, spec.layers

    def excess(t):
        return _layer_log_prior(t, n) + margin

    t_lo = optimize.brentq(excess, -2 * margin / n - 50, 0.0)
    t_hi = optimize.brentq(excess, 0.0, math.log(4 * margin / n + 4) + 2)
    t = t_lo + step * np.arange(int(np.ceil((t_hi - t_lo) / step)) + 1)
    layer = np.exp(_layer_log_prior(t, n))
    prior = layer
    for _ in range(lay - 1):
        prior = np.convolve(prior, layer) * step
    tau = lay * t_lo + step * np.arange(prior.size)
    with np.errstate(divide="ignore"):
        return tau, np.log(prior) + log_evidence(spec, np.exp(tau), ridge)


def _deep_grids(spec: Spectrum, ridge: float):
    """(tau, log density) at POINTS_PER_SD nodes per standard deviation (of one layer's prior and of the posterior,
    whichever is narrower) and the same at twice the spacing, with a range wide enough that the posterior density at
    both ends is below exp(-LOG_MARGIN) of its maximum."""
    sd_layer = math.sqrt(2.0 / spec.width)
    margin = LOG_MARGIN
    for _ in range(4):
        step = sd_layer / POINTS_PER_SD
        for _ in range(3):
            tau, logp = _deep_grid(spec, ridge, step, margin)
            w = np.exp(logp - logp.max())
            w /= w.sum()
            sd = math.sqrt(max(w @ tau**2 - (w @ tau) ** 2, 0.0))
            if sd / POINTS_PER_SD >= 0.99 * step:
                break
            step = sd / POINTS_PER_SD
        if max(logp[0], logp[-1]) < logp.max() - LOG_MARGIN:
            return (tau, logp), _deep_grid(spec, ridge, 2 * step, margin)
        margin = min(2 * margin, 650.0 / spec.layers)
    raise ValueError(f"net: the kernel scale's posterior lies outside its prior's range (width {spec.width})")


def exact_posterior(net: model.FCN, x_train, y_train, ridge: float) -> LinearPosterior:
    """The exact finite-width posterior of a deep linear network (docs/finite_width_bayes.md Secs. 1 and 9) by
    trapezoidal quadrature in t = log u, u = u_1 ... u_L the kernel scale (one Gamma(N/2, 2/N) scalar per hidden
    layer; L = 1 is Sec. 1):

        E[c] = E_t[V u b / (u lambda + T)],
        Cov[c] = E_t[GP covariance at u K0 + mu(u) mu(u)^T] - E[c] E[c]^T,

    with weights propto p(t) exp l(e^t) on a uniform grid covering the whole mass (concave bound, LOG_MARGIN) at
    POINTS_PER_SD nodes per standard deviation; p(t) is exp[(N/2)(t - e^t)] for one hidden layer and the L-fold
    convolution of it for L. quad_error: the largest relative change of Z (L = 1 only), E[u] and E[c] at twice the
    spacing (an upper bound on the error of the full grid). u_mode: the saddle point u* (kernel_renormalisation)."""
    spec = spectrum(net, x_train, y_train)
    if spec.layers == 1:
        t, logp, mode = _t_grid(spec, ridge)
        coarse = (t[::2], logp[::2])
    else:
        (t, logp), coarse = _deep_grids(spec, ridge)
        mode = _joint_mode(spec, ridge)

    top = logp.max()

    def moments(tt, lp):
        w = np.exp(lp - top)
        z = w.sum()
        w = w / z
        u = np.exp(tt)
        mu, var = _gp_moments(spec, u, ridge)
        return z * (tt[1] - tt[0]), w, u, mu, var

    z, w, u, mu, var = moments(t, logp)
    z2, w2, u2, mu2, _ = moments(*coarse)
    e_u, e_mu = w @ u, w @ mu
    scale = np.abs(e_mu).max() if e_mu.size and np.abs(e_mu).max() > 0 else 1.0
    err = max(abs(w2 @ u2 / e_u - 1), float(np.abs(w2 @ mu2 - e_mu).max() / scale))
    if spec.layers == 1:
        err = max(err, abs(z2 / z - 1))
    cov_v = np.diag(w @ var) + (mu * w[:, None]).T @ mu - np.outer(e_mu, e_mu)
    c_mean, c_cov = _assemble(spec, e_mu, cov_v, spec.s * e_u)
    return LinearPosterior(
        c_mean, c_cov, float(e_u), float(w @ u**2 - e_u**2), float(np.exp(mode)), float(err), "exact"
    )


def _at_scale(spec: Spectrum, u: float, ridge: float, u_mode: float, method: str) -> LinearPosterior:
    mu, var = _gp_moments(spec, u, ridge)
    c_mean, c_cov = _assemble(spec, mu, np.diag(var), spec.s * u)
    return LinearPosterior(c_mean, c_cov, float(u), 0.0, float(u_mode), 0.0, method)


def saddle_point(net: model.FCN, x_train, y_train, ridge: float) -> float:
    """The kernel scale u* = u_1* ... u_L* of kernel renormalisation. One hidden layer (Sec. 2): the global maximum
    of S(u) = (N/2)(log u - u + 1) + l(u), a root of N (1/u - 1) = sum_k lambda_k / (u lambda_k + T) -
    sum_k lambda_k y~_k^2 / (u lambda_k + T)^2 (brentq in log u). L hidden layers (Sec. 9, Li & Sompolinsky): the
    joint maximum over the L scalars, where N (1 - u_l) = -2 u l'(u) in every layer (u = u_1 ... u_L)."""
    spec = spectrum(net, x_train, y_train)
    if spec.layers == 1:
        return float(np.exp(_t_grid(spec, ridge)[2]))
    return float(np.exp(_joint_mode(spec, ridge)))


def kernel_renormalisation(net: model.FCN, x_train, y_train, ridge: float) -> LinearPosterior:
    """Secs. 2 and 9: GP regression with the renormalised kernel u* K0, u* = saddle_point."""
    spec = spectrum(net, x_train, y_train)
    u_star = saddle_point(net, x_train, y_train, ridge)
    return _at_scale(spec, u_star, ridge, u_star, "kernel_renormalisation")


def gp(net: model.FCN, x_train, y_train, ridge: float) -> LinearPosterior:
    """The infinite-width posterior: GP regression with kernel K0 and noise variance T (u = 1)."""
    spec = spectrum(net, x_train, y_train)
    return _at_scale(spec, 1.0, ridge, 1.0, "gp")


def first_order(net: model.FCN, x_train, y_train, ridge: float) -> LinearPosterior:
    """Sec. 3: first order in 1/N around the GP. For any g(u), E[g | D] = g(1) + (L/N)[g''(1) + 2 g'(1) l'(1)] +
    O(1/N^2): u = u_1 ... u_L has mean 1, variance (1 + 2/N)^L - 1 = 2L/N + O(1/N^2) and higher cumulants
    O(1/N^2) (u_l ~ Gamma(N/2, 2/N)), so L hidden layers of width N act as one of width N/L. With
    g = m(u) = u k*^T (u K + T)^-1 y:

        mean = m(1) + (L/N)[m''(1) + 2 m'(1) l'(1)],

    m = V mu, mu_k = u b_k / D_k, mu' = b T / D^2, mu'' = -2 lambda b T / D^3 (D = u lambda + T), and the covariance
    to the same order, Sigma(1) + (L/N)[Sigma''(1) + 2 Sigma'(1) l'(1) + 2 mu'(1) mu'(1)^T] (Sigma_k = u s T / D)."""
    spec = spectrum(net, x_train, y_train)
    n, lam, b, s, T = spec.width / spec.layers, spec.lam, spec.b, spec.s, ridge
    den = lam + T
    l1 = float(_dl(spec, 1.0, T)[0])
    mu, var = _gp_moments(spec, 1.0, T)
    mu1, mu2 = b * T / den**2, -2 * lam * b * T / den**3
    var1, var2 = s * T**2 / den**2, -2 * lam * s * T**2 / den**3
    mean_v = mu + (mu2 + 2 * mu1 * l1) / n
    cov_v = np.diag(var + (var2 + 2 * var1 * l1) / n) + 2 * np.outer(mu1, mu1) / n
    u_mean = 1.0 + 2 * l1 / n
    c_mean, c_cov = _assemble(spec, mean_v, cov_v, s * u_mean)
    return LinearPosterior(c_mean, c_cov, u_mean, 2.0 / n, 1.0, 0.0, "first_order")


def adaptive_kernel(
    net: model.FCN, x_train, y_train, ridge: float, damping: float = 0.5, max_iter: int = 10_000
) -> LinearPosterior:
    """The adaptive-kernel saddle point (docs/finite_width_bayes.md Sec. 8) in closed form: a linear unit tilted by
    exp(sigma_a2 / N z^T Gamma z), z = sqrt(sigma_w2 g) X w, is Gaussian, w ~ N(0, S) with
    S^{-1} = I - 2 (s / N) X^T Gamma X, and the kernel G = s X S X^T, Gamma = 1/2 (alpha alpha^T - (G + T)^{-1}),
    are solved together (damped fixed point). The predictor is GP regression with G, i.e. the prior c ~ N(0, s S).
    u_mean and u_mode hold the kernel scale tr G / tr K0. Raises ValueError where S^{-1} stops being positive
    definite (the tilted unit is not normalisable: no saddle point at this width)."""
    check_model(net)
    spec = spectrum(net, x_train, y_train)
    if not 0 < damping <= 1:
        raise ValueError(f"damping must be in (0, 1] (got {damping})")
    x = np.asarray(x_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    d, p, s_, n = x.shape[1], x.shape[0], spec.s, spec.width
    cov = np.eye(d)
    for _ in range(max_iter):
        g = s_ * x @ cov @ x.T
        a = np.linalg.inv(g + ridge * np.eye(p))
        alpha = a @ y
        prec = np.eye(d) - (s_ / n) * x.T @ (np.outer(alpha, alpha) - a) @ x
        prec = 0.5 * (prec + prec.T)
        if np.linalg.eigvalsh(prec)[0] <= 0:
            raise ValueError(f"no adaptive-kernel saddle point at width {n}: the tilted unit is not normalisable")
        new = np.linalg.inv(prec)
        if np.max(np.abs(new - cov)) < 1e-13:
            cov = new
            break
        cov = (1 - damping) * cov + damping * new
    else:
        raise ValueError(f"no adaptive-kernel saddle point at width {n}: not converged in {max_iter} iterations")
    prior = s_ * cov
    gain = prior @ x.T @ np.linalg.inv(s_ * x @ cov @ x.T + ridge * np.eye(p))
    scale = float(np.trace(cov @ x.T @ x) / np.trace(x.T @ x))
    return LinearPosterior(gain @ y, prior - gain @ x @ prior, scale, 0.0, scale, 0.0, "adaptive_kernel")


def predict(post: LinearPosterior, x_test) -> xr.Dataset:
    """Mean x . E[c] and variance x^T Cov[c] x of f(x) on unit-norm test inputs (rows of x_test)."""
    x = np.asarray(x_test, dtype=np.float64)
    return xr.Dataset(
        {
            "mean": ("test_sample", x @ post.c_mean),
            "var": ("test_sample", np.einsum("ij,jk,ik->i", x, post.c_cov, x)),
        },
        attrs={"method": post.method, "u_mean": post.u_mean, "u_mode": post.u_mode},
    )


def test_mse(c, beta) -> float:
    """Population test MSE of f(x) = c . x against the teacher y = beta . x over the uniform unit sphere:
    E[((c - beta) . x)^2] = |c - beta|^2 / d (E[x x^T] = I/d)."""
    diff = np.asarray(c, dtype=np.float64) - np.asarray(beta, dtype=np.float64)
    return float(diff @ diff / diff.size)


test_mse.__test__ = False  # not a pytest test when imported into a test module


def isotropic_design(dim: int, n_train: int, target_scale2: float, seed: int = 0):
    """Sec. 4's design in unit-x coordinates: X = sqrt(P/d) Q (Q orthonormal, so X^T X = (P/d) I), teacher beta with
    |beta|^2 = target_scale2 * d, noiseless labels y = X beta. Returns (x, y, beta)."""
    if n_train < dim or target_scale2 <= 0:
        raise ValueError(f"n_train must be >= dim and target_scale2 > 0 (got {n_train}, {dim}, {target_scale2})")
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n_train, dim)))
    x = math.sqrt(n_train / dim) * q
    beta = rng.standard_normal(dim)
    beta *= math.sqrt(dim * target_scale2) / np.linalg.norm(beta)
    return x, x @ beta, beta


def width_sweep(
    x, y, beta, widths, ridge: float, sigma_w2: float = 1.0, sigma_a2: float = 1.0, depth: int = 2
) -> xr.Dataset:
    """Test MSE of the exact finite-width posterior, kernel renormalisation (one scalar per hidden layer), first
    order in 1/N and the GP of the linear network with depth - 1 hidden layers at each width; for one hidden layer
    also the adaptive-kernel saddle point (NaN where it has none)."""
    rows = []
    for width in widths:
        net = model.FCN(dim=x.shape[1], depth=depth, activation="identity",
                          sigma_w2=(sigma_w2,) * (depth - 1) + (sigma_a2,), sigma_b2=0.0, width=int(width))  # fmt: skip
        row = [test_mse(f(net, x, y, ridge).c_mean, beta)
               for f in (gp, exact_posterior, kernel_renormalisation, first_order)]  # fmt: skip
        if depth == 2:
            try:
                row.append(test_mse(adaptive_kernel(net, x, y, ridge).c_mean, beta))
            except ValueError:  # no saddle point at this width
                row.append(np.nan)
        rows.append(row)
    rows = np.array(rows)
    names = ("gp_mse", "exact_mse", "kernel_renormalisation_mse", "first_order_mse", "adaptive_kernel_mse")
    return xr.Dataset(
        {name: (("width",), rows[:, i]) for i, name in enumerate(names[: rows.shape[1]])},
        coords={"width": np.asarray(widths, dtype=np.int64)},
        attrs={"n_train": int(x.shape[0]), "dim": int(x.shape[1]), "ridge": float(ridge), "depth": depth},
    )
