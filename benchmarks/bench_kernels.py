"""NNGP + NTK Gram matrices for 4096 inputs on S^49, float64, as a multiple of the Gram step x @ x.T they start
from (same run; one call first, so that the Chebyshev series of quadrature activations and compilation are excluded),
and one kernel alone (kernels.gram with kind=). compare_neural_tangents.py puts them beside neural-tangents."""

import numpy as np
from _timing import best_of

from nnft import model, sphere
from nnft.theory import kernels

n, d = 4096, 50
x = sphere.sample_sphere(np.random.default_rng(0), n, d)
t_gram = best_of(lambda: x @ x.T)
print(f"x @ x.T, n = {n}, d = {d}: {t_gram * 1e3:.0f} ms = {2 * n * n * d / t_gram / 1e9:.1f} GFLOP/s (the floor)")
for activation, depth in (("relu", 3), ("relu", 10), ("erf", 3), ("gelu", 3), ("tanh", 3)):
    net = model.FCN(dim=d, depth=depth, activation=activation, sigma_w2=1.5, sigma_b2=0.1)
    kernels.nngp_ntk(net, x @ x.T)
    both = best_of(lambda net=net: kernels.nngp_ntk(net, x @ x.T))
    one = {kind: best_of(lambda net=net, kind=kind: kernels.gram(net, x, kind=kind)) for kind in kernels.KINDS}
    print(
        f"{activation:>4} depth {depth:>2}: NNGP + NTK {both:.2f} s = {both / t_gram:.1f} x the Gram step; "
        f"NNGP alone {one['nngp'] / t_gram:.1f} x, NTK alone {one['ntk'] / t_gram:.1f} x"
    )
