"""NNGP + NTK Gram matrices for 4096 inputs, against the Gram step x @ x.T they start from."""

import numpy as np
from _timing import best_of

from nnft import model, sphere
from nnft.theory import kernels

n, d = 4096, 50
x = sphere.sample_sphere(np.random.default_rng(0), n, d)
t_gram = best_of(lambda: x @ x.T)
flops = 2 * n * n * d
print(f"x @ x.T, n = {n}, d = {d}: {t_gram * 1e3:.1f} ms = {flops / t_gram / 1e9:.1f} GFLOP/s (the floor)")
for activation, depth in (("relu", 3), ("relu", 10), ("erf", 3), ("tanh", 3), ("gelu", 3)):
    net = model.FCN(dim=d, depth=depth, activation=activation, sigma_w2=1.5, sigma_b2=0.1)
    kernels._chebyshev.cache_clear()
    t = best_of(lambda net=net: kernels.nngp_ntk(net, x @ x.T), repeat=2)
    print(
        f"NNGP + NTK Gram, {activation:>5} depth {depth:>2}: {t:.2f} s = {t / t_gram:.0f} x the Gram step; "
        f"runs at {t_gram / t:.3f} of the matmul's throughput"
    )
