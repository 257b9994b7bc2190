"""Finite-width ensembles (issue 7): the exact Gram sampler at M = 10^5 networks, width 100, depth 31 (target: under
a minute on the 2-core machine), and its throughput against networks with full weight matrices."""

import time

import jax

from nnft import model
from nnft.sampling import ensembles

net = model.FCN(dim=100, depth=31, activation="relu", sigma_w2=2.0, sigma_b2=0.0, width=100, parametrization="standard")


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


for _ in range(2):  # the second pass is after compilation
    t_gram = timed(lambda: ensembles.gram_sampler(jax.random.key(0), net, 1.0, 100_000))
print(f"exact Gram sampler, M = 100000, width 100, depth 31: {t_gram:.1f} s ({t_gram / 60:.2f} of the 1-minute target)")
m_full = 2000
for _ in range(2):
    t_full = timed(lambda: ensembles.full_weight_ensemble(jax.random.key(0), net, 1.0, m_full))
rate_gram, rate_full = 100_000 / t_gram, m_full / t_full
print(
    f"full weight matrices, M = {m_full}: {t_full:.1f} s; networks per second {rate_full:.0f} vs {rate_gram:.0f} "
    f"(exact sampler {rate_gram / rate_full:.0f}x faster, expected ~ width = 100x from O(M n L) vs O(M n^2 L))"
)
