"""Spectrum of a depth-10 kernel at d = 1000 up to degree 20 (issue 3 target: well under a second)."""

import numpy as np
from _timing import best_of

from nnft import model
from nnft.theory import kernels

net = model.FCN(dim=1000, depth=10, activation="relu", sigma_w2=2.0, sigma_b2=0.1)
a = np.random.default_rng(0).standard_normal((1000, 1000))
t_matmul = best_of(lambda: a @ a)
for activation in ("relu", "erf", "tanh"):
    net = model.FCN(dim=1000, depth=10, activation=activation, sigma_w2=1.5, sigma_b2=0.1)
    kernels._chebyshev.cache_clear()
    t = best_of(lambda net=net: kernels.spectrum(net, 20, 1000))
    print(
        f"spectrum depth 10, d 1000, l <= 20, {activation:>5}: {t:.3f} s "
        f"= {t / t_matmul:.1f} x a 1000^2 float64 matmul ({t_matmul * 1e3:.1f} ms)"
    )
