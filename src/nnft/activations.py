"""Activations that know their Gaussian expectations (style: one concept, one object).

An `Activation` carries its elementwise function for the networks (JAX) and, for the kernel recursions, the
pair expectations E[s(u) s(v)] and E[s'(u) s'(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]): closed forms where they
exist (arc-cosine for the ReLU family, arcsin for erf; docs/learning_curves.md Sec. 3), quadrature in float64
otherwise. Each closed form is written once, for numpy and JAX alike (an array-namespace argument `xp`): `pair` and
`pair_deriv` evaluate it with numpy (complex arguments allowed), `jax_pair` and `jax_mean_square` trace it with
jax.numpy for the finite-width theories, which differentiate the kernel map (theory.finite_width_bayes,
theory.adaptive_kernel).

Every Gaussian expectation of the project that has no closed form uses one rule, `gaussian_nodes`: the trapezoidal
rule in z ~ N(0, 1) with step QUADRATURE_STEP on |z| <= QUADRATURE_HALF_WIDTH (docs/finite_width.md Sec. 1). For an
integrand analytic in the strip |Im z| < a its error falls like exp(-2 pi a / h); tanh(sqrt(q) z) has its poles at
Im z = pi / (2 sqrt(q)), so the rule stays exponentially accurate where Gauss-Hermite (whose error is set by the
growth of the integrand off the real axis) loses digits: E[sech^4(sqrt(q) z)] at q = 10 is off by 1e-2 with 120
Gauss-Hermite nodes and by 3e-13 with this rule (test_activations checks tanh and GELU moments against adaptive
quadrature up to q = 10 at 1e-12 and at q = 20 at 1e-8).

Higher moments E[s(z)^p] and E[s(z1)^p s(z2)^q] (the finite-width recursions need p + q up to 4) are `moment` and
`pair_moment`, in jax.numpy so that they can be differentiated: exact by polar coordinates for the scale-invariant
class, `gaussian_nodes` otherwise.

`parse` turns a config string ("relu", "leaky_relu(0.1)", "erf", "tanh", "gelu", "identity") into an Activation,
`resolve` accepts a name or an Activation; `from_function` wraps any elementwise JAX function.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

NAMES = ("relu", "leaky_relu(a)", "erf", "tanh", "gelu", "identity")
QUADRATURE_STEP = 0.08  # trapezoidal step in z ~ N(0, 1): relative error < 1e-12 for tanh / GELU moments, q <= 10
QUADRATURE_HALF_WIDTH = 10.0  # |z| <= 10: the Gaussian weight beyond is below 1e-22
POLAR_ORDER = 48  # angular Gauss-Legendre nodes per smooth piece in pair_moment (a trig polynomial there)


# The differentiable (JAX) closed forms keep |rho| <= 1 - RHO_MARGIN: kappa_1'(rho) adds two terms that diverge as
# rho -> +-1 and cancel, so at |rho| = 1 automatic differentiation gives inf - inf = nan, and jnp.where's zero
# cotangent does not mask a nan (0 * nan = nan) in the branch it discards (the kernel maps' diagonal entries).
# The clip moves kappa_1 by at most RHO_MARGIN (kappa_1' <= 1) and kappa_0 by O(RHO_MARGIN^(1/2)), only there.
RHO_MARGIN = 1e-12


def _clip_rho(rho, xp=np):
    """A correlation-like argument of arcsin / arccos, clipped. numpy (xp = np): rounding excursions past |rho| = 1
    are clipped for real input, complex input (Cauchy integrals of theory.kernels) passes through. JAX (xp = jnp,
    traced and differentiated): clipped to |rho| <= 1 - RHO_MARGIN, so that first and second derivatives stay
    finite (see RHO_MARGIN)."""
    if xp is np:
        rho = np.asarray(rho)
        return rho if np.iscomplexobj(rho) else np.clip(rho, -1.0, 1.0)
    return xp.clip(rho, -1.0 + RHO_MARGIN, 1.0 - RHO_MARGIN)


def arccos_kappa1(rho, xp=np):
    """kappa_1(rho) = (sqrt(1 - rho^2) + rho (pi - arccos rho)) / pi: E[relu(u) relu(v)] = sqrt(q1 q2) kappa_1 / 2.
    xp: the array namespace, numpy or jax.numpy (`_clip_rho` says how each clips rho)."""
    rho = _clip_rho(rho, xp)
    return (xp.sqrt(1.0 - rho**2) + rho * (xp.pi - xp.arccos(rho))) / xp.pi


def arccos_kappa0(rho, xp=np):
    """kappa_0(rho) = 1 - arccos(rho) / pi: E[relu'(u) relu'(v)] = kappa_0 / 2 (xp as in arccos_kappa1)."""
    rho = _clip_rho(rho, xp)
    return 1.0 - xp.arccos(rho) / xp.pi


# --- Closed-form Gaussian expectations, written once for numpy and JAX ----------------------------------------------
# Each takes the array namespace xp (numpy or jax.numpy) last. Activation.pair / pair_deriv call them with numpy
# (float or complex arguments); Activation.jax_pair / jax_mean_square with jax.numpy (traced: the finite-width
# theories differentiate the kernel map through them). (u, v) ~ N(0, [[q1, c], [c, q2]]), z ~ N(0, q).


def _broadcast_ones(xp, *arrays):
    return xp.ones(xp.broadcast_shapes(*(xp.shape(a) for a in arrays)))


def scale_invariant_pair(slopes, q1, c, q2, xp=np):
    """E[s(u) s(v)] for s(x) = a_+ x (x > 0), a_- x (x < 0), slopes = (a_+, a_-). With s = a_- x + (a_+ - a_-) relu(x)
    and E[u relu(v)] = c / 2: a_+ a_- c + (a_+ - a_-)^2 sqrt(q1 q2) kappa_1(rho) / 2, rho = c / sqrt(q1 q2) (a linear
    s, a_+ = a_-, gives a_+^2 c exactly, also at q1 q2 = 0)."""
    ap, am = slopes
    if ap == am:
        return ap * am * c + 0.0 * (q1 * q2)
    s = xp.sqrt(q1 * q2)
    return ap * am * c + (ap - am) ** 2 * s * arccos_kappa1(c / s, xp) / 2


def scale_invariant_pair_deriv(slopes, q1, c, q2, xp=np):
    """E[s'(u) s'(v)] = a_+ a_- + (a_+ - a_-)^2 kappa_0(rho) / 2 for the s of scale_invariant_pair."""
    ap, am = slopes
    if ap == am:
        return ap * am * _broadcast_ones(xp, q1, c, q2)
    return ap * am + (ap - am) ** 2 * arccos_kappa0(c / xp.sqrt(q1 * q2), xp) / 2


def scale_invariant_pair_on_sphere(slopes, q, c, deriv=True):
    """(E[s(u) s(v)], E[s'(u) s'(v)] or None) of scale_invariant_pair / _pair_deriv at equal variances q1 = q2 = q
    (a positive number; every pair of inputs on a sphere), numpy, real c: one arccos serves kappa_1 and kappa_0, in
    place on arrays of the size of c, with the operations of the two in their order (the same values, bit for bit,
    as sqrt(q q) = q in binary floating point)."""
    ap, am = slopes
    if ap == am:
        return ap * am * c, (np.full(np.shape(c), ap * am) if deriv else None)
    s = math.sqrt(q * q)
    rho = np.clip(c / s, -1.0, 1.0)
    angle = np.arccos(rho)
    pair = np.subtract(np.pi, angle)
    pair *= rho
    rho *= rho
    np.subtract(1.0, rho, out=rho)
    np.sqrt(rho, out=rho)
    pair += rho
    pair /= np.pi  # kappa_1
    pair *= (ap - am) ** 2 * s
    pair /= 2
    if ap * am != 0:  # 0 c + p = p
        pair = ap * am * c + pair
    if not deriv:
        return pair, None
    angle /= np.pi
    np.subtract(1.0, angle, out=angle)  # kappa_0
    angle *= (ap - am) ** 2
    angle /= 2
    if ap * am != 0:
        angle = ap * am + angle
    return pair, angle


def scale_invariant_mean_square(slopes, q, xp=np):
    """E[s(z)^2] = (a_+^2 + a_-^2) q / 2."""
    ap, am = slopes
    return (ap**2 + am**2) / 2 * q


def erf_pair(q1, c, q2, xp=np):
    """Williams (1997): E[erf(u) erf(v)] = (2/pi) arcsin(2c / sqrt((1+2q1)(1+2q2)))."""
    return 2 / xp.pi * xp.arcsin(_clip_rho(2 * c / xp.sqrt((1 + 2 * q1) * (1 + 2 * q2)), xp))


def erf_pair_deriv(q1, c, q2, xp=np):
    """E[erf'(u) erf'(v)] = (4/pi) ((1+2q1)(1+2q2) - 4c^2)^(-1/2)."""
    return 4 / xp.pi / xp.sqrt((1 + 2 * q1) * (1 + 2 * q2) - 4 * c**2)


def erf_mean_square(q, xp=np):
    """E[erf(z)^2] = (2/pi) arcsin(2q / (1+2q))."""
    return 2 / xp.pi * xp.arcsin(2 * q / (1 + 2 * q))


@lru_cache(maxsize=1)
def gaussian_nodes() -> tuple[np.ndarray, np.ndarray]:
    """The project's quadrature rule for E[f(z)], z ~ N(0, 1): nodes z_k = k h, |z_k| <= QUADRATURE_HALF_WIDTH,
    weights h phi(z_k) (the trapezoidal rule; see the module docstring for its accuracy). Read-only arrays."""
    h, half = QUADRATURE_STEP, QUADRATURE_HALF_WIDTH
    x = h * np.arange(-round(half / h), round(half / h) + 1)
    w = h * np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)
    x.flags.writeable = w.flags.writeable = False
    return x, w


def gauss_expect(f, q):
    """E[f(sqrt(q) z)], z ~ N(0, 1), for an array (or number) q >= 0 (numpy, `gaussian_nodes`)."""
    x, w = gaussian_nodes()
    q = np.asarray(q, dtype=np.float64)
    return f(np.sqrt(q)[..., None] * x) @ w


def gauss_pair(f, g, q1, c, q2):
    """E[f(u) g(v)] for (u, v) ~ N(0, [[q1, c], [c, q2]]) by the tensor rule of `gaussian_nodes`, broadcast over q1,
    c, q2."""
    x, w = gaussian_nodes()
    q1, c, q2 = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (q1, c, q2)))
    s1 = np.sqrt(q1)[..., None]
    safe = np.where(q1 > 0, q1, 1.0)
    slope = (c / np.sqrt(safe))[..., None]
    resid = np.sqrt(np.maximum(q2 - c**2 / safe, 0.0))[..., None]
    fu = f(s1 * x)  # (..., i)
    out = np.zeros(q1.shape)
    for j in range(x.size):  # loop the inner node: memory stays O(size * nodes)
        out += w[j] * (fu * g(slope * x + resid * x[j])) @ w
    return out


@lru_cache(maxsize=4)
def _legendre(order: int):
    return np.polynomial.legendre.leggauss(order)


def _abs_moment(p: int) -> float:
    """E|xi|^p for a standard normal xi."""
    return 2 ** (p / 2) * special.gamma((p + 1) / 2) / math.sqrt(math.pi)


def moment(act: Activation, p: int, k):
    """E[s(z)^p], z ~ N(0, k), in jax.numpy (differentiable in k): exact for the scale-invariant class (ReLU,
    leaky ReLU, identity), `gaussian_nodes` otherwise. The finite-width recursions need p up to 4."""
    a = act.slopes
    if a is not None:
        return (a[0] ** p + (-a[1]) ** p) / 2 * _abs_moment(p) * k ** (p / 2)
    x, w = gaussian_nodes()
    return jnp.sum(w * act.jax_fn(jnp.sqrt(k) * x) ** p)


def pair_moment(act: Activation, p: int, q: int, g):
    """E[s(z1)^p s(z2)^q] for z ~ N(0, [[g0, g1], [g1, g2]]) with |g1| < sqrt(g0 g2), in jax.numpy (differentiable in
    g). Scale-invariant activations s(r u) = r s(u): polar coordinates, the radial integral in closed form and the
    angular one by Gauss-Legendre (POLAR_ORDER nodes) on the pieces between kinks, where the integrand is a
    trigonometric polynomial (exact to rounding); other activations: the tensor rule of `gaussian_nodes`."""
    g0, g1, g2 = g[0], g[1], g[2]
    a = act.slopes
    if a is None:
        x, w = gaussian_nodes()
        z1 = jnp.sqrt(g0) * x[:, None]
        z2 = (g1 / jnp.sqrt(g0)) * x[:, None] + jnp.sqrt(g2 - g1**2 / g0) * x[None, :]
        return jnp.sum(w[:, None] * w[None, :] * act.jax_fn(z1) ** p * act.jax_fn(z2) ** q)
    # z = r (sqrt(g0) cos phi, sqrt(g2) cos(phi - theta)), cos theta = g1 / sqrt(g0 g2); s(r u) = r s(u)
    ap, am = a
    m = p + q
    theta = jnp.arccos(g1 / jnp.sqrt(g0 * g2))
    kinks = jnp.sort(jnp.mod(jnp.array([[0.5, 1.5]]) * jnp.pi + jnp.array([[0.0], [1.0]]) * theta, 2 * jnp.pi).ravel())
    edges = jnp.concatenate([jnp.zeros(1), kinks, jnp.full(1, 2 * jnp.pi)])
    x, w = _legendre(POLAR_ORDER)
    lo, hi = edges[:-1, None], edges[1:, None]
    phi = (lo + hi) / 2 + (hi - lo) / 2 * x[None, :]
    weight = (hi - lo) / 2 * w[None, :]

    def s(u):
        return jnp.where(u > 0, ap * u, am * u)

    integrand = s(jnp.sqrt(g0) * jnp.cos(phi)) ** p * s(jnp.sqrt(g2) * jnp.cos(phi - theta)) ** q
    radial = 2 ** (m / 2) * special.gamma(m / 2 + 1) / (2 * math.pi)
    return radial * jnp.sum(weight * integrand)


@dataclass(frozen=True)
class Activation:
    """An elementwise activation and its Gaussian pair expectations."""

    name: str
    token: object = None  # identity of a user-supplied function, so two custom activations never compare equal
    jax_fn: Callable = field(default=None, compare=False)
    np_fn: Callable = field(default=None, compare=False)
    np_deriv: Callable = field(default=None, compare=False)
    closed_pair: Callable | None = field(default=None, compare=False)  # (q1, c, q2, xp) -> E[s(u) s(v)]
    closed_pair_deriv: Callable | None = field(default=None, compare=False)  # (q1, c, q2, xp) -> E[s'(u) s'(v)]
    closed_mean_square: Callable | None = field(default=None, compare=False)  # (q, xp) -> E[s(z)^2]
    slopes: tuple[float, float] | None = field(default=None, compare=False)  # (a_+, a_-) if scale-invariant

    @property
    def closed_form(self) -> bool:
        return self.closed_pair is not None

    def pair(self, q1, c, q2):
        """E[s(u) s(v)] (numpy; complex c is allowed where a closed form exists)."""
        if self.closed_pair is not None:
            return self.closed_pair(np.asarray(q1), np.asarray(c), np.asarray(q2), np)
        return gauss_pair(self.np_fn, self.np_fn, q1, c, q2)

    def pair_deriv(self, q1, c, q2):
        """E[s'(u) s'(v)]."""
        if self.closed_pair_deriv is not None:
            return self.closed_pair_deriv(np.asarray(q1), np.asarray(c), np.asarray(q2), np)
        return gauss_pair(self.np_deriv, self.np_deriv, q1, c, q2)

    def jax_pair(self, q1, c, q2):
        """E[s(u) s(v)]: the same closed form in jax.numpy, to be traced and differentiated (off the diagonal: rho is
        kept within 1 - RHO_MARGIN of +-1; use jax_mean_square for E[s(z)^2]). ValueError without a closed form."""
        return self._closed(self.closed_pair)(q1, c, q2, jnp)

    def jax_mean_square(self, q):
        """E[s(z)^2], z ~ N(0, q), in jax.numpy (exact on the diagonal, differentiable in q)."""
        return self._closed(self.closed_mean_square)(q, jnp)

    def _closed(self, fn):
        if fn is None:
            raise ValueError(f"activation {self.name!r} has no closed-form Gaussian expectations (ReLU family, "
                             f"identity, erf)")  # fmt: skip
        return fn

    def pair_on_sphere(self, q: float, c, deriv: bool = True):
        """(E[s(u) s(v)], E[s'(u) s'(v)]) at equal variances q1 = q2 = q (a number; the layer maps of inputs on a
        sphere), numpy, for real c; the second is None unless deriv. The ReLU family shares one arccos between the
        two (scale_invariant_pair_on_sphere); other activations call pair and pair_deriv. The values are those of
        pair and pair_deriv, bit for bit."""
        if self.slopes is not None:
            return scale_invariant_pair_on_sphere(self.slopes, q, c, deriv)
        return self.pair(q, c, q), (self.pair_deriv(q, c, q) if deriv else None)

    def mean_square(self, q):
        """E[s(sqrt(q) z)^2], z ~ N(0, 1), numpy, for an array q: the closed form where there is one, else
        `gaussian_nodes`."""
        if self.closed_form:
            return np.asarray(self.pair(q, q, q))
        return gauss_expect(lambda u: self.np_fn(u) ** 2, q)

    def mean_square_deriv(self, q):
        """E[s'(sqrt(q) z)^2], numpy, for an array q (closed form where there is one, else `gaussian_nodes`)."""
        if self.closed_pair_deriv is not None:
            return np.asarray(self.pair_deriv(q, q, q))
        return gauss_expect(lambda u: self.np_deriv(u) ** 2, q)

    def pair_quadrature(self, q1, c, q2):
        """(E[s s], E[s' s']) by quadrature even where a closed form exists (an independent check)."""
        return gauss_pair(self.np_fn, self.np_fn, q1, c, q2), gauss_pair(self.np_deriv, self.np_deriv, q1, c, q2)


def leaky_relu(a: float = 0.0) -> Activation:
    """s(x) = max(x, a x) for 0 <= a <= 1 = a x + (1 - a) relu(x): E[s s] = a c + (1 - a)^2 sqrt(q1 q2) kappa_1 / 2,
    E[s' s'] = a + (1 - a)^2 kappa_0 / 2 (using E[u relu(v)] = c / 2)."""
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"leaky_relu slope must lie in [0, 1] (got {a})")
    slopes = (1.0, a)
    return Activation(
        name="relu" if a == 0 else f"leaky_relu({a:g})",
        jax_fn=lambda x: jnp.where(x > 0, x, a * x),
        np_fn=lambda x: np.where(x > 0, x, a * x),
        np_deriv=lambda x: np.where(x > 0, 1.0, a),
        closed_pair=partial(scale_invariant_pair, slopes),
        closed_pair_deriv=partial(scale_invariant_pair_deriv, slopes),
        closed_mean_square=partial(scale_invariant_mean_square, slopes),
        slopes=slopes,
    )


def erf() -> Activation:
    """Williams (1997): E[erf erf] = (2/pi) arcsin(2c / sqrt((1+2q1)(1+2q2))),
    E[erf' erf'] = (4/pi) ((1+2q1)(1+2q2) - 4c^2)^(-1/2)."""
    return Activation(
        name="erf",
        jax_fn=jax.scipy.special.erf,
        np_fn=special.erf,
        np_deriv=lambda x: 2 / math.sqrt(math.pi) * np.exp(-(x**2)),
        closed_pair=erf_pair,
        closed_pair_deriv=erf_pair_deriv,
        closed_mean_square=erf_mean_square,
    )


def identity() -> Activation:
    return Activation(
        name="identity",
        jax_fn=lambda x: x,
        np_fn=lambda x: x,
        np_deriv=np.ones_like,
        closed_pair=partial(scale_invariant_pair, (1.0, 1.0)),
        closed_pair_deriv=partial(scale_invariant_pair_deriv, (1.0, 1.0)),
        closed_mean_square=partial(scale_invariant_mean_square, (1.0, 1.0)),
        slopes=(1.0, 1.0),
    )


def tanh() -> Activation:
    return Activation(name="tanh", jax_fn=jnp.tanh, np_fn=np.tanh, np_deriv=lambda x: 1 - np.tanh(x) ** 2)


def gelu() -> Activation:
    """Exact GELU x Phi(x)."""
    return Activation(
        name="gelu",
        jax_fn=lambda x: jax.nn.gelu(x, approximate=False),
        np_fn=lambda x: x * special.ndtr(x),
        np_deriv=lambda x: special.ndtr(x) + x * np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi),
    )


def from_function(fn: Callable, name: str | None = None) -> Activation:
    """Any elementwise JAX function; its expectations by float64 quadrature, its derivative by jax.grad."""
    grad = jax.vmap(jax.grad(fn))

    def np_fn(x):
        with jax.enable_x64(True):
            return np.asarray(fn(jnp.asarray(x, jnp.float64)))

    def np_deriv(x):
        with jax.enable_x64(True):
            x = jnp.asarray(x, jnp.float64)
            return np.asarray(grad(x.ravel()).reshape(x.shape))

    return Activation(
        name=name or getattr(fn, "__name__", "custom"), token=fn, jax_fn=fn, np_fn=np_fn, np_deriv=np_deriv
    )


_LEAKY = re.compile(r"^leaky_relu\(\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*\)$")


def resolve(activation: str | Activation) -> Activation:
    """An Activation from a config name or an Activation (returned as is); ValueError for anything else."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        return parse(activation)
    raise ValueError(f"activation must be a name ({', '.join(NAMES)}) or an Activation (got {activation!r})")


@lru_cache(maxsize=64)
def parse(spec: str) -> Activation:
    """Activation from its config name; raises ValueError naming the allowed forms."""
    builtin = {"relu": leaky_relu, "erf": erf, "tanh": tanh, "gelu": gelu, "identity": identity}
    if spec in builtin:
        return builtin[spec]()
    m = _LEAKY.match(spec)
    if m:
        return leaky_relu(float(m.group(1)))
    raise ValueError(f"unknown activation {spec!r}; allowed: {', '.join(NAMES)}, or an elementwise JAX function")
