"""Learning-curve theories vs exact GP (issue 4 targets: all theories for 200 n x 30 degrees in < 10 ms;
exact GP with batched vs one-at-a-time solves)."""

import time

import numpy as np
from _timing import best_of

from nnft import data, model
from nnft.theory import kernels, learning_curves

net = model.FCN(dim=8, depth=3, sigma_w2=2.0, sigma_b2=0.1)
spec = kernels.spectrum(net, 29, 1000)  # 30 degrees
n_grid = np.geomspace(1, 1e7, 200)
t_theory = best_of(lambda: learning_curves.theory_curves(spec, [1, 2], [0.5, 0.5], 0.05, 0.0, n_grid), repeat=5)
lam, deg = spec.eigenvalue_nngp.values, spec.degeneracy.values
power = learning_curves.power_per_degree([1, 2], [0.5, 0.5], 29)
t_sc = best_of(lambda: learning_curves.sc_theory(lam, deg, power, 0.05, n_grid), repeat=5)

ds = data.make_dataset(0, 8, [1, 2], [0.5, 0.5], n_max=4096, n_test=1, n_draws=20)
x1, y1 = ds.x_train.values[0, :1000], ds.y_train.values[0, :1000]
k1 = kernels.gram(net, x1)
t_solve = best_of(lambda: learning_curves.gp_solve(k1, y1, 0.05))
print(
    f"all theories (EK, renormalised x2, EK+1/n x2, SC), 200 n x 30 degrees: {t_theory * 1e3:.2f} ms "
    f"(SC alone {t_sc * 1e3:.2f} ms) = {t_theory / t_solve:.2f} x one exact-GP solve at n = 1000 "
    f"({t_solve * 1e3:.1f} ms)"
)

for n in (1024, 4096):
    x, y = ds.x_train.values[:, :n], ds.y_train.values[:, :n]
    k = kernels.gram(net, x)
    t_batched = best_of(lambda k=k, y=y: learning_curves.gp_solve(k, y, 0.05), repeat=2)
    t_loop = best_of(lambda k=k, y=y: [learning_curves.gp_solve(k[b], y[b], 0.05) for b in range(20)], repeat=2)
    print(
        f"exact GP solves, n = {n}, 20 draws: batched {t_batched:.2f} s, one at a time {t_loop:.2f} s, "
        f"ratio {t_loop / t_batched:.2f}"
    )
t0 = time.perf_counter()
learning_curves.exact_gp_learning_curve(net, ds, [256, 1024, 4096], 0.05, lam)
print(f"full exact-GP curve (n = 256, 1024, 4096; 20 draws; exact population MSE): {time.perf_counter() - t0:.1f} s")
