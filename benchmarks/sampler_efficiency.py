"""Effective posterior samples per second of the samplers of the finite-width Bayesian posterior (issue 18).

For each sampler: the effective sample size (langevin.effective_sample_size) of the test outputs f(x_test) at 8
probe points, of the slowest probe (the smallest chain-averaged ESS), per chain, divided by the wall seconds of the
sampling phase; and the same for the readout-marginal mean E[f | hidden layers, data] at the probes (the estimator
the workflow averages, langevin.chain_means), which already integrates out the readout's own noise. Compilation is
excluded: the first compiled block of every run is its burn-in (5 relaxation times, as the default Plan) and is not
timed; the 4 timed blocks that follow are the plan's 20 relaxation times with 200 evaluations. Every sampler runs
the same chains (vmapped) on the same data, so the ratios hold on a noisy machine. "hmc" is the Metropolis-adjusted
reference sampler (metropolis.py, BlackJAX leapfrog, trajectory pi / 2, step adapted to acceptance 0.75 over 100
untimed warm-up iterations), timed over its 200 sampling iterations the same way. "collapsed_readout_s" moves the
hidden layers on their marginal posterior (the readout integrated out) and draws the readout at every evaluation;
as run_ensemble, its burn-in step comes from the curvature measured at the prior draws and its sampling step from the
curvature measured after the burn-in ("mu" below; "mu burn" the first).

Grid: ReLU, sigma_w2 = 2, sigma_b2 = 0, width 256 (--width), inputs uniform on S^15 (nnft.data), a polynomial target of
degrees 1-3; ridge 0.05 and 0.01, depth 3 and 6, n = 64 and 256. --full runs it all (hours on 2 CPU cores: a BAOAB step
at depth 6, n = 256 costs ~ 20x one at depth 3, n = 64, and needs ~3x more steps per relaxation time); the default
--quick subset is depth 3, n = 64 at both ridges (~5 min).

Throughput: "GFLOP/s" counts the network's matmuls alone (forward and backward, 3 x 2 n sum_l fan_in fan_out per chain
per step, the same for every sampler; the collapsed sampler's n x n Gram matrix, factorisation and solves and every
evaluation are not counted but are in the wall time), and "of mm" divides it by the same run's FLOP/s of the
same-shape dense float32 matmul, (chains, n, width) @ (chains, width, width), at JAX's default matmul precision (set
JAX_DEFAULT_MATMUL_PRECISION=highest to keep full float32 on a GPU, whose default for float32 is TF32).

Usage: .venv/bin/python benchmarks/sampler_efficiency.py [--quick | --full] [--chains 4] [--width 256] [--ridge ...]
[--depth ...] [--n ...] [--samplers ...] (the last four override the grid)
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from _timing import matmul_rate, network_matmul_flops

from nnft import data, model
from nnft.sampling import langevin, metropolis

SAMPLERS = {  # name: the plan (run lengths are the default Plan's: 5 + 20 relaxation times, 200 evaluations)
    "baoab": langevin.Plan(),  # today's default: underdamped Langevin, step 0.5 / sqrt(mu_max + T)
    "gibbs_readout_0.5": langevin.Plan("gibbs_readout", 0.5),  # step 0.5 / sqrt(mu_hidden + T)
    "gibbs_readout_1": langevin.Plan("gibbs_readout", 1.0),
    "gibbs_readout_1.5": langevin.Plan("gibbs_readout", 1.5),  # diverges on the width-4 linear network of the tests
    "collapsed_readout_0.5": langevin.Plan("collapsed_readout", 0.5),  # step 0.5 / sqrt(mu_collapsed + T)
    "collapsed_readout_1": langevin.Plan("collapsed_readout", 1.0),
    "hmc": metropolis.Plan(),  # Metropolis-adjusted HMC (BlackJAX) as the reference runs it: trajectory pi / 2
}
QUICK = {"ridge": (0.05, 0.01), "depth": (3,), "n": (64,)}
FULL = {"ridge": (0.05, 0.01), "depth": (3, 6), "n": (64, 256)}
DIM, N_TEST, N_PROBE, BLOCKS = 16, 8, 8, 4


def problem(n: int, seed: int = 0):
    """One dataset draw: n train points and N_TEST test points on S^15, target of degrees 1-3 (powers 0.4, 0.3,
    0.3), no label noise."""
    ds = data.make_dataset(seed, DIM, [1, 2, 3], [0.4, 0.3, 0.3], n, N_TEST, 1)
    return ds.x_train.values[0], ds.y_train.values[0], ds.x_test.values


@partial(jax.jit, static_argnames=("net", "integrator", "steps_per_eval", "n_evals"))
def probe_block(net, integrator, ridge, h, gamma, states, x, y, x_probe, steps_per_eval: int, n_evals: int):
    """langevin.sample_block's loop, returning at every evaluation (langevin.evaluate) f and the readout-marginal mean
    (the estimator the workflow averages) at the probe points."""
    step = langevin.make_step(net, ridge, h, gamma, integrator)

    def one(state, xc, yc):
        def round_(s, _):
            s = jax.lax.scan(lambda s2, _: (langevin._advance(step, s2, (xc, yc))[0], None), s, None, steps_per_eval)[0]
            s, f, marginal, _ = langevin.evaluate(net, integrator, ridge, s, xc, yc, x_probe)
            return s, (f, marginal)

        return jax.lax.scan(round_, state, None, length=n_evals)

    return jax.vmap(one)(states, x, y)


def slowest_ess(trace: np.ndarray) -> float:
    """trace (chain, record, probe): the smallest over probes of the chain-mean ESS."""
    ess = [[langevin.effective_sample_size(tc[:, j]) for j in range(tc.shape[1])] for tc in trace]
    return float(np.mean(ess, axis=0).min())


def measure(net: model.FCN, x, y, x_test, ridge: float, plan: langevin.Plan, chains: int, key: jax.Array) -> dict:
    """Burn-in block (compiles, untimed), then BLOCKS timed blocks of plan.n_samples / BLOCKS evaluations; returns the
    slowest probe's chain-mean ESS of f and of the readout-marginal mean, the timed wall seconds and the schedule."""
    xc = jnp.asarray(np.repeat(x[None], chains, 0), jnp.float32)
    yc = jnp.asarray(np.repeat(y[None], chains, 0), jnp.float32)
    xp = jnp.asarray(x_test[:N_PROBE], jnp.float32)
    init = partial(langevin.init_chain, net=net, ridge=ridge, integrator=plan.integrator)
    states = jax.vmap(lambda k, a, b: init(k, x=a, y=b))(jax.random.split(key, chains), xc, yc)
    collapsed = plan.integrator == "collapsed_readout"
    if collapsed:  # as run_ensemble: measured at the prior draws for the burn-in, after it for the sampling
        mu = langevin.chains_curvature(net, ridge, states, xc, yc, jax.random.fold_in(key, 1))
    else:
        mu = langevin.top_curvature(net, x, plan.integrator)
    sch = langevin.schedule(mu, ridge, plan)

    def block(s, sch, k):
        args = (net, plan.integrator, jnp.float32(ridge), jnp.float32(sch.step_size), jnp.float32(sch.friction))
        return jax.block_until_ready(probe_block(*args, s, xc, yc, xp, steps_per_eval=sch.steps_per_eval, n_evals=k))

    states = block(states, sch, max(1, round(sch.burn_in_steps / sch.steps_per_eval)))[0]  # compiles; the burn-in
    if collapsed:
        mu_burn, mu = mu, langevin.chains_curvature(net, ridge, states, xc, yc, jax.random.fold_in(key, 2))
        sch = langevin.schedule(mu, ridge, plan)
    per_block = sch.n_evals // BLOCKS
    block(states, sch, per_block)  # compiles the timed shape (its result is discarded)
    fs, ms = [], []
    t0 = time.perf_counter()
    for _ in range(BLOCKS):
        states, (f, m) = block(states, sch, per_block)
        fs.append(np.asarray(f, np.float64))
        ms.append(np.asarray(m, np.float64))
    wall = time.perf_counter() - t0
    finite = all(np.isfinite(np.asarray(a)).all() for a in jax.tree.leaves(states.params))
    nan = float("nan")
    ess_f = slowest_ess(np.concatenate(fs, axis=1)) if finite else nan
    ess_m = slowest_ess(np.concatenate(ms, axis=1)) if finite else nan
    mu_burn = mu_burn if collapsed else mu
    return {"ess": ess_f, "ess_marginal": ess_m, "wall": wall, "sch": sch, "mu": mu, "mu_burn": mu_burn}


@partial(jax.jit, static_argnames=("net", "n_evals"))
def hmc_probe_block(net, ridge, chains, x, y, x_probe, step, n_max, jitter, n_evals: int):
    """n_evals HMC iterations (metropolis.make_step at a fixed step and trajectory) of every chain (leading axis, one
    dataset), f and the readout-marginal mean at the probes after each; and the acceptance probabilities."""

    def body(chains, _):
        chains, info = jax.vmap(lambda c: metropolis._hmc_step(net, "leapfrog", ridge, c, x, y, step, n_max, jitter))(
            chains
        )
        params = jax.vmap(partial(metropolis._params, net))(chains.state.position)
        h = jax.vmap(lambda p: model.features(net, p, x_probe))(params)
        f = jax.vmap(lambda p, hp: model.readout(net, p, hp))(params, h)
        m = jax.vmap(lambda p, hp: langevin.readout_marginal_mean(net, p, x, y, hp, ridge))(params, h)
        return chains, (f, m, info.acceptance_rate)

    chains, (f, m, acc) = jax.lax.scan(body, chains, None, length=n_evals)
    return chains, (jnp.swapaxes(f, 0, 1), jnp.swapaxes(m, 0, 1), acc.mean())


def measure_hmc(net, x, y, x_test, ridge: float, plan: metropolis.Plan, chains: int, key: jax.Array) -> dict:
    """BlackJAX HMC as metropolis.run_hmc_ensemble runs it: plan.warmup_iterations adapting the step by dual
    averaging (untimed, metropolis.hmc_block), then plan.n_samples iterations at the frozen step in BLOCKS timed blocks;
    the same ESS per chain per timed second as `measure`. Gradient evaluations per iteration: the adapted
    ceil(trajectory_length / step), jittered down by up to plan.jitter."""
    mu = langevin.top_curvature(net, x)
    step0 = metropolis.initial_step_size(mu, ridge, plan.step_factor)
    max_leapfrog = 10 * math.ceil(plan.trajectory_length / step0)
    xd, yd = jnp.asarray(x[None], jnp.float32), jnp.asarray(y[None], jnp.float32)
    xp = jnp.asarray(x_test[:N_PROBE], jnp.float32)
    state = metropolis.init_chains(key, net, jnp.float32(ridge), xd, yd, chains)
    da = metropolis.init_adaptation(np.array([step0]))
    common = (jnp.float32(plan.trajectory_length), jnp.float32(plan.jitter), jnp.float32(max_leapfrog))
    state, da, *_ = metropolis.hmc_block(net, "leapfrog", jnp.float32(ridge), state, da, xd, yd, xp, *common,
                                         jnp.bool_(True), n_evals=plan.warmup_iterations, n_probe=N_PROBE,
                                         target=float(plan.target_accept),
                                         adaptation=tuple(float(a) for a in plan.adaptation))  # fmt: skip
    step = float(np.exp(np.asarray(da.log_step_size_avg)[0]))
    n_max = min(math.ceil(plan.trajectory_length / step), max_leapfrog)
    chains_1 = jax.tree.map(lambda a: a[0], state)  # the one dataset's chains
    per_block = plan.n_samples // BLOCKS
    args = (net, jnp.float32(ridge))
    rest = (xd[0], yd[0], xp, jnp.float32(step), jnp.float32(n_max), jnp.float32(plan.jitter))

    def block(c):
        return jax.block_until_ready(hmc_probe_block(*args, c, *rest, n_evals=per_block))

    block(chains_1)  # compiles the timed shape
    fs, ms, accs = [], [], []
    t0 = time.perf_counter()
    for _ in range(BLOCKS):
        chains_1, (f, m, acc) = block(chains_1)
        fs.append(np.asarray(f, np.float64))
        ms.append(np.asarray(m, np.float64))
        accs.append(float(acc))
    wall = time.perf_counter() - t0
    return {"ess": slowest_ess(np.concatenate(fs, axis=1)), "ess_marginal": slowest_ess(np.concatenate(ms, axis=1)),
            "wall": wall, "mu": mu, "step": step, "n_leapfrog": n_max, "acceptance": float(np.mean(accs))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="depth 3, n = 64, both ridges (default)")
    size.add_argument("--full", action="store_true", help="the whole grid (hours on 2 CPU cores)")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--width", type=int, default=256, help="hidden width (256 in the CPU tables)")
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=list(SAMPLERS))
    for name in ("ridge", "depth", "n"):
        parser.add_argument(f"--{name}", nargs="+", type=float if name == "ridge" else int, help="override the grid")
    options = parser.parse_args()
    grid = {k: getattr(options, k) or v for k, v in (FULL if options.full else QUICK).items()}
    precision = jax.config.jax_default_matmul_precision or "default"
    print(f"device {jax.devices()[0]} (jax {jax.__version__}, matmul precision {precision}), width {options.width}, "
          f"d = {DIM}, {options.chains} chains, ReLU sigma_w2 = 2")  # fmt: skip
    header = f"{'ridge':>6} {'depth':>5} {'n':>4}  {'sampler':<19} {'mu':>7} {'steps':>6} {'wall s':>7} "
    print(
        header + f"{'ESS/chain':>9} {'ESS/chain/s':>11} {'vs baoab':>8}   {'marginal: ESS/chain/s':>21} {'vs baoab':>8}"
        f" {'GFLOP/s':>8} {'of mm':>6}"
    )
    for ridge, depth, n in itertools.product(grid["ridge"], grid["depth"], grid["n"]):
        with langevin.serial_lapack():  # one OpenBLAS thread, as run_ensemble samples
            run_grid_point(options, ridge, depth, n)


def run_grid_point(options, ridge: float, depth: int, n: int) -> None:
    """Every sampler of options.samplers at one grid point; prints one row each."""
    net = model.FCN(dim=DIM, depth=depth, width=options.width, activation="relu", sigma_w2=2.0, sigma_b2=0.0)
    x, y, x_test = problem(n)
    mm = matmul_rate(options.chains, n, options.width)
    print(f"    dense float32 matmul ({options.chains}, {n}, {options.width}) @ ({options.chains}, {options.width}, "
          f"{options.width}): "
          f"{mm / 1e9:.1f} GFLOP/s")  # fmt: skip
    base = base_m = None
    for name in options.samplers:
        plan = SAMPLERS[name]
        if isinstance(plan, metropolis.Plan):
            r = measure_hmc(net, x, y, x_test, ridge, plan, options.chains, jax.random.key(1))
        else:
            r = measure(net, x, y, x_test, ridge, plan, options.chains, jax.random.key(1))
        rate, rate_m = r["ess"] / r["wall"], r["ess_marginal"] / r["wall"]
        if name == "baoab":
            base, base_m = rate, rate_m
        ratio = f"{rate / base:8.2f}" if base else f"{'-':>8}"
        ratio_m = f"{rate_m / base_m:8.2f}" if base_m else f"{'-':>8}"
        if "sch" in r:
            steps = r["sch"].steps_per_eval * r["sch"].n_evals
            if r["mu_burn"] != r["mu"]:
                print(f"    {name}: curvature {r['mu_burn']:.3g} at the prior draws (burn-in), {r['mu']:.3g} after")
        else:  # gradient evaluations: the jittered leapfrog steps, mean (1 - jitter / 2) n_leapfrog
            steps = round(plan.n_samples * r["n_leapfrog"] * (1 - plan.jitter / 2))
            print(f"    hmc: step {r['step']:.4g}, {r['n_leapfrog']} leapfrog steps per iteration at most, "
                  f"acceptance {r['acceptance']:.2f}")  # fmt: skip
        flops = steps * network_matmul_flops(DIM, options.width, depth, n, options.chains) / r["wall"]
        print(f"{ridge:6.2f} {depth:5d} {n:4d}  {name:<19} {r['mu']:7.1f} {steps:6d} {r['wall']:7.1f} "
              f"{r['ess']:9.1f} {rate:11.3f} {ratio}   {rate_m:21.3f} {ratio_m} {flops / 1e9:8.1f} {flops / mm:6.2f}",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
