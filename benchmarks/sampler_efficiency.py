"""Effective posterior samples per second of the samplers of the finite-width Bayesian posterior (issue 18).

For each sampler: the effective sample size (langevin.effective_sample_size) of the test outputs f(x_test) at 8
probe points, of the slowest probe (the smallest chain-averaged ESS), per chain, divided by the wall seconds of the
sampling phase; and the same for the readout-marginal mean E[f | hidden layers, data] at the probes (the estimator
the workflow averages, langevin.chain_means), which already integrates out the readout's own noise. Compilation is
excluded: the first compiled block of every run is its burn-in (5 relaxation times, as the default Plan) and is not
timed; the 4 timed blocks that follow are the plan's 20 relaxation times with 200 evaluations. Every sampler runs
the same chains (vmapped) on the same data, so the ratios hold on a noisy machine.

Grid: ReLU, sigma_w2 = 2, sigma_b2 = 0, width 256, inputs uniform on S^15 (nnft.data), a polynomial target of degrees
1-3; ridge 0.05 and 0.01, depth 3 and 6, n = 64 and 256. --full runs it all (hours on 2 CPU cores: a BAOAB step at
depth 6, n = 256 costs ~ 20x one at depth 3, n = 64, and needs ~3x more steps per relaxation time); the default
--quick subset is depth 3, n = 64 at both ridges (~5 min).

Usage: .venv/bin/python benchmarks/sampler_efficiency.py [--quick | --full] [--chains 4] [--ridge ...] [--depth ...]
[--n ...] [--samplers ...] (the last four override the grid)
"""

from __future__ import annotations

import argparse
import itertools
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from nnft import data, model
from nnft.sampling import langevin

SAMPLERS = {  # name: the plan (run lengths are the default Plan's: 5 + 20 relaxation times, 200 evaluations)
    "baoab": langevin.Plan(),  # today's default: underdamped Langevin, step 0.5 / sqrt(mu_max + T)
    "gibbs_readout_0.5": langevin.Plan("gibbs_readout", 0.5),  # step 0.5 / sqrt(mu_hidden + T)
    "gibbs_readout_1": langevin.Plan("gibbs_readout", 1.0),
    "gibbs_readout_1.5": langevin.Plan("gibbs_readout", 1.5),  # diverges on the width-4 linear network of the tests
}
QUICK = {"ridge": (0.05, 0.01), "depth": (3,), "n": (64,)}
FULL = {"ridge": (0.05, 0.01), "depth": (3, 6), "n": (64, 256)}
DIM, WIDTH, N_TEST, N_PROBE, BLOCKS = 16, 256, 8, 8, 4


def problem(n: int, seed: int = 0):
    """One dataset draw: n train points and N_TEST test points on S^15, target of degrees 1-3 (powers 0.4, 0.3,
    0.3), no label noise."""
    ds = data.make_dataset(seed, DIM, [1, 2, 3], [0.4, 0.3, 0.3], n, N_TEST, 1)
    return ds.x_train.values[0], ds.y_train.values[0], ds.x_test.values


@partial(jax.jit, static_argnames=("net", "integrator", "steps_per_eval", "n_evals"))
def probe_block(net, integrator, ridge, h, gamma, states, x, y, x_probe, steps_per_eval: int, n_evals: int):
    """langevin.sample_block's loop, returning at every evaluation f and the readout-marginal mean
    (langevin.readout_marginal_mean, the estimator the workflow averages) at the probe points."""
    step = langevin.make_step(net, ridge, h, gamma, integrator)

    def one(state, xc, yc):
        def round_(s, _):
            s = jax.lax.scan(lambda s2, _: (langevin._advance(step, s2, (xc, yc))[0], None), s, None, steps_per_eval)[0]
            h_probe = model.features(net, s.params, x_probe)
            f = model.readout(net, s.params, h_probe)
            return s, (f, langevin.readout_marginal_mean(net, s.params, xc, yc, h_probe, ridge))

        return jax.lax.scan(round_, state, None, length=n_evals)

    return jax.vmap(one)(states, x, y)


def slowest_ess(trace: np.ndarray) -> float:
    """trace (chain, record, probe): the smallest over probes of the chain-mean ESS."""
    ess = [[langevin.effective_sample_size(tc[:, j]) for j in range(tc.shape[1])] for tc in trace]
    return float(np.mean(ess, axis=0).min())


def measure(net: model.FCN, x, y, x_test, ridge: float, plan: langevin.Plan, chains: int, key: jax.Array) -> dict:
    """Burn-in block (compiles, untimed), then BLOCKS timed blocks of plan.n_samples / BLOCKS evaluations; returns the
    slowest probe's chain-mean ESS of f and of the readout-marginal mean, the timed wall seconds and the schedule."""
    mu = langevin.top_curvature(net, x, plan.integrator)
    sch = langevin.schedule(mu, ridge, plan)
    xc = jnp.asarray(np.repeat(x[None], chains, 0), jnp.float32)
    yc = jnp.asarray(np.repeat(y[None], chains, 0), jnp.float32)
    xp = jnp.asarray(x_test[:N_PROBE], jnp.float32)
    states = jax.vmap(lambda k, a, b: langevin.init_chain(k, net, ridge, a, b))(jax.random.split(key, chains), xc, yc)
    args = (net, plan.integrator, jnp.float32(ridge), jnp.float32(sch.step_size), jnp.float32(sch.friction))
    per_block = sch.n_evals // BLOCKS
    burn_evals = max(1, round(sch.burn_in_steps / sch.steps_per_eval))

    def block(s, k):
        return jax.block_until_ready(probe_block(*args, s, xc, yc, xp, steps_per_eval=sch.steps_per_eval, n_evals=k))

    states = block(states, burn_evals)[0]  # compiles this shape; the burn-in
    block(states, per_block)  # compiles the timed shape (its result is discarded)
    fs, ms = [], []
    t0 = time.perf_counter()
    for _ in range(BLOCKS):
        states, (f, m) = block(states, per_block)
        fs.append(np.asarray(f, np.float64))
        ms.append(np.asarray(m, np.float64))
    wall = time.perf_counter() - t0
    finite = all(np.isfinite(np.asarray(a)).all() for a in jax.tree.leaves(states.params))
    nan = float("nan")
    ess_f = slowest_ess(np.concatenate(fs, axis=1)) if finite else nan
    ess_m = slowest_ess(np.concatenate(ms, axis=1)) if finite else nan
    return {"ess": ess_f, "ess_marginal": ess_m, "wall": wall, "sch": sch, "mu": mu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="depth 3, n = 64, both ridges (default)")
    size.add_argument("--full", action="store_true", help="the whole grid (hours on 2 CPU cores)")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=list(SAMPLERS))
    for name in ("ridge", "depth", "n"):
        parser.add_argument(f"--{name}", nargs="+", type=float if name == "ridge" else int, help="override the grid")
    options = parser.parse_args()
    grid = {k: getattr(options, k) or v for k, v in (FULL if options.full else QUICK).items()}
    print(f"device {jax.devices()[0]}, width {WIDTH}, d = {DIM}, {options.chains} chains, ReLU sigma_w2 = 2")
    header = f"{'ridge':>6} {'depth':>5} {'n':>4}  {'sampler':<19} {'mu':>7} {'steps':>6} {'wall s':>7} "
    print(
        header + f"{'ESS/chain':>9} {'ESS/chain/s':>11} {'vs baoab':>8}   {'marginal: ESS/chain/s':>21} {'vs baoab':>8}"
    )
    for ridge, depth, n in itertools.product(grid["ridge"], grid["depth"], grid["n"]):
        net = model.FCN(dim=DIM, depth=depth, width=WIDTH, activation="relu", sigma_w2=2.0, sigma_b2=0.0)
        x, y, x_test = problem(n)
        base = base_m = None
        for name in options.samplers:
            r = measure(net, x, y, x_test, ridge, SAMPLERS[name], options.chains, jax.random.key(1))
            rate, rate_m = r["ess"] / r["wall"], r["ess_marginal"] / r["wall"]
            if name == "baoab":
                base, base_m = rate, rate_m
            ratio = f"{rate / base:8.2f}" if base else f"{'-':>8}"
            ratio_m = f"{rate_m / base_m:8.2f}" if base_m else f"{'-':>8}"
            steps = r["sch"].steps_per_eval * r["sch"].n_evals
            print(f"{ridge:6.2f} {depth:5d} {n:4d}  {name:<19} {r['mu']:7.1f} {steps:6d} {r['wall']:7.1f} "
                  f"{r['ess']:9.1f} {rate:11.3f} {ratio}   {rate_m:21.3f} {ratio_m}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
