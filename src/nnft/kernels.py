"""NNGP and NTK of deep fully connected networks at infinite width, as functions of t = x.x' on the unit sphere.

``depth`` counts weight layers (science/learning_curves.md Sec. 5): depth = 1 is a linear model.
Two input conventions, both for data on the unit sphere S^{d-1}:

- ``"unit"``:   first-layer weight variance sigma_w2 / d on |x| = 1, Sigma^(1) = sigma_w2 t / d + sigma_b2
                (Cohen, Malka & Ringel v2; reproduces their numbers, Sec. 8 F3);
- ``"sqrt_d"``: inputs at radius sqrt(d) (PDLT's |x|^2 / n_0 = 1), Sigma^(1) = sigma_w2 t + sigma_b2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INPUT_SCALINGS = ("unit", "sqrt_d")
ACTIVATIONS = ("relu",)


@dataclass(frozen=True)
class FCN:
    """One description of a fully connected network, shared by the kernel theory and the trained ensembles."""

    dim: int
    depth: int
    activation: str = "relu"
    sigma_w2: float = 2.0
    sigma_b2: float = 0.0
    input_scaling: str = "sqrt_d"
    width: int = 128

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS} (got {self.activation!r})")
        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"input_scaling must be one of {INPUT_SCALINGS} (got {self.input_scaling!r})")
        if self.depth < 1:
            raise ValueError(f"depth must be >= 1 weight layer (got {self.depth})")
        if self.sigma_w2 <= 0 or self.sigma_b2 < 0:
            raise ValueError(f"need sigma_w2 > 0 and sigma_b2 >= 0 (got {self.sigma_w2}, {self.sigma_b2})")
        if self.width < 1 or self.dim < 1:
            raise ValueError(f"width and dim must be positive (got {self.width}, {self.dim})")

    @property
    def input_gain2(self) -> float:
        """Variance multiplier of x.x' in the first layer: Sigma^(1) = sigma_w2 * input_gain2 * t + sigma_b2."""
        return 1.0 / self.dim if self.input_scaling == "unit" else 1.0


def arccos_kappa1(rho):
    """kappa_1(rho) = (sqrt(1 - rho^2) + rho (pi - arccos rho)) / pi, so E[relu(u) relu(v)] = sqrt(q q') kappa_1 / 2."""
    rho = np.clip(rho, -1.0, 1.0)
    return (np.sqrt(1.0 - rho**2) + rho * (np.pi - np.arccos(rho))) / np.pi


def arccos_kappa0(rho):
    """kappa_0(rho) = 1 - arccos(rho) / pi, so E[relu'(u) relu'(v)] = kappa_0 / 2."""
    rho = np.clip(rho, -1.0, 1.0)
    return 1.0 - np.arccos(rho) / np.pi


def nngp_ntk(net: FCN, t) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) of the network's scalar output at cosine t between two unit-sphere inputs (Sec. 5 recursion)."""
    t = np.asarray(t, dtype=np.float64)
    w2, b2 = net.sigma_w2, net.sigma_b2
    sigma = w2 * net.input_gain2 * t + b2
    q = w2 * net.input_gain2 + b2
    theta = sigma
    for _ in range(2, net.depth + 1):
        rho = sigma / q
        sigma_dot = w2 * arccos_kappa0(rho) / 2
        sigma = w2 * q * arccos_kappa1(rho) / 2 + b2
        theta = theta * sigma_dot + sigma
        q = w2 * q / 2 + b2
    return sigma, theta


def nngp(net: FCN, t) -> np.ndarray:
    return nngp_ntk(net, t)[0]


def ntk(net: FCN, t) -> np.ndarray:
    return nngp_ntk(net, t)[1]


def gram(net: FCN, x: np.ndarray, y: np.ndarray | None = None, kind: str = "nngp") -> np.ndarray:
    """Kernel matrix K(x_i . y_j) for unit-norm rows; kind is "nngp" or "ntk"."""
    t = x @ (x if y is None else y).swapaxes(-1, -2)
    k_nngp, k_ntk = nngp_ntk(net, t)
    return {"nngp": k_nngp, "ntk": k_ntk}[kind]


def spectrum(net: FCN, max_degree: int, quadrature_nodes: int = 1000):
    """NNGP and NTK Funk-Hecke eigenvalues per degree on S^{dim-1}, with degeneracies, as an xarray Dataset."""
    import xarray as xr

    from . import sphere

    degree = np.arange(max_degree + 1)
    lam_nngp = sphere.funk_hecke(lambda t: nngp(net, t), net.dim, max_degree, quadrature_nodes)
    lam_ntk = sphere.funk_hecke(lambda t: ntk(net, t), net.dim, max_degree, quadrature_nodes)
    k1_nngp, k1_ntk = nngp_ntk(net, 1.0)
    deg = sphere.degeneracy(net.dim, degree)
    return xr.Dataset(
        {
            "eigenvalue_nngp": ("degree", lam_nngp),
            "eigenvalue_ntk": ("degree", lam_ntk),
            "degeneracy": ("degree", deg),
        },
        coords={"degree": degree},
        attrs={
            "k1_nngp": float(k1_nngp),
            "k1_ntk": float(k1_ntk),
            "tail_nngp": float(k1_nngp - (deg * lam_nngp).sum()),
            "tail_ntk": float(k1_ntk - (deg * lam_ntk).sum()),
            "input_scaling": net.input_scaling,
            "dim": net.dim,
            "depth": net.depth,
            "description": "K(t) = sum_l degeneracy_l eigenvalue_l P_l(t); tail = K(1) - sum up to max_degree",
        },
    )
