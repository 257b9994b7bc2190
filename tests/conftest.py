import os

# Two CPU devices for JAX, so sharding code paths are testable without a GPU (style.md Sec. 9).
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One compilation cache for the session (the Snakefile's default otherwise), inherited by the workflow tests' Snakemake
# runs: every copy of the tiny workflow loads the programs the first run compiled instead of compiling them again.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".pytest_cache", "jax_cache")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import jax  # noqa: E402  (after the JAX environment above)

# This process itself stores only compilations over a second (JAX's default): the unit tests compile each program
# once per session, and writing every small one to the cache cost ~10 % of a fresh clone's run (test_langevin.py:
# 136 s with every compilation stored, 123 s with none). The Snakemake runs keep the environment's 0 above.
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)

# Strict broadcasting: arrays of different nonzero rank must be broadcast explicitly (b[None, :]), else an error.
jax.config.update("jax_numpy_rank_promotion", "raise")

import pytest  # noqa: E402  (after the JAX environment above)

# Warnings raised from nnft's own modules are errors (pyproject.toml's filterwarnings).


@pytest.fixture(scope="module")
def linear_problem():
    """Shared by test_langevin.py and test_metropolis.py: a linear model with an analytic Gaussian posterior."""
    import numpy as np

    from nnft import model, sphere
    from nnft.theory import kernels

    # depth = 1 is a linear model f = sqrt(sigma_w2) x.W + sqrt(sigma_b2) b: its posterior is exactly the GP with
    # kernel sigma_w2 t + sigma_b2 and noise variance T. n = 6 < d = 8, T = 0.3: the mean depends strongly on T.
    rng = np.random.default_rng(5)
    net = model.FCN(dim=8, depth=1, sigma_w2=1.5, sigma_b2=0.2, input_scaling="sqrt_d")
    x = sphere.sample_sphere(rng, 6, 8)
    y = rng.standard_normal(6)
    xt = sphere.sample_sphere(rng, 12, 8)
    ridge = 0.3
    k, ks, kss = kernels.gram(net, x), kernels.gram(net, xt, x), kernels.gram(net, xt)
    a = np.linalg.solve(k + ridge * np.eye(6), np.c_[y, ks.T])
    mean, cov = ks @ a[:, 0], kss - ks @ a[:, 1:]
    # The mean a sampler at the wrong temperature (2T, the loss-as-mean pitfall of Sec. 1c in miniature) would give.
    wrong = ks @ np.linalg.solve(k + 2 * ridge * np.eye(6), y)
    return net, x, y, xt, ridge, mean, np.diag(cov), wrong
