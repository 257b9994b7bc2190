"""Metropolis-adjusted reference sampler (Hamiltonian Monte Carlo, BlackJAX) of the posterior langevin.py samples.

Target: log p(theta) = -U(theta) / T with U = langevin.potential, the very energy of the Langevin ensembles, so the
equilibrium is the Bayesian posterior (prior x Gaussian likelihood of noise variance T = ridge,
docs/finite_width_bayes.md) with no discretisation bias: the leapfrog integrator is volume preserving and
reversible, and the Metropolis test on H = U / T + 1/2 p^T P p removes its energy error.

Mass: the diagonal inverse mass P is the prior variance (identity in NTK parametrisation), the preconditioner of
langevin.py; the standard parametrisation is then the NTK one in other coordinates. A direction the data do not
constrain has curvature 1 / prior variance in -log p and oscillates with angular frequency 1; data directions of
NTK eigenvalue mu have (mu + T) / T, up to omega_max = sqrt((mu_max + T) / T) with mu_max the top eigenvalue of the
analytic NTK Gram matrix of the train set (langevin.schedule's estimate). Leapfrog is stable for step * omega < 2;
the initial step is step_factor / omega_max.

Trajectory: physical time trajectory_length (default pi/2, a quarter period of the prior directions, which maps
(q, p) to (p, -q): one independent prior draw per iteration), i.e. N = ceil(trajectory_length / step) leapfrog
steps, each iteration drawing its number of steps uniformly in [ceil((1 - jitter) N), N] so that no data direction
stays resonant (omega * time a multiple of 2 pi). Randomising the number of steps independently of the state keeps
detailed balance.

Warm-up: dual averaging of log step (Hoffman & Gelman 2014, blackjax.adaptation.step_size), shared by the chains of
one dataset draw (it is fed their mean acceptance probability) and centred on the analytic initial step, towards
target_accept; the trajectory time is kept fixed while the step adapts. The step is then frozen at the dual average,
so the sampling phase is a time-homogeneous Metropolis chain. Energies are float32 like the Langevin runs: the
rounding of H (~1e-7 |H|, |H| ~ number of parameters / 2) perturbs acceptance probabilities by that relative
amount, far below every statistical error here.

Leaves of zero prior standard deviation (sigma_b2 = 0 biases in standard parametrisation) are not part of the HMC
position and stay 0; in NTK parametrisation such a bias is a standard normal that the output ignores (an exactly
sampled spectator, as in langevin.py).

Diagnostics: `acceptance` per chain. The step is shared by a draw's chains, so a chain that starts in a region much
stiffer than the typical posterior (seen with saturated tanh units and a large input gain) can sit there with
acceptance ~0 while the others are fine; such a chain is still exact in the limit but useless in practice.
"""

from __future__ import annotations

import math
import time
from functools import partial
from typing import NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from blackjax.adaptation.step_size import DualAveragingAdaptationState, dual_averaging_adaptation
from blackjax.mcmc import integrators as bj_integrators
from jax.flatten_util import ravel_pytree

from .. import model
from ..model import apply, features, init_params, prior_std, readout
from ..theory import kernels
from .langevin import effective_sample_size, potential, readout_marginal_mean

# name: (symplectic integrator, gradient evaluations per step)
INTEGRATORS = {"leapfrog": (bj_integrators.velocity_verlet, 1), "mclachlan": (bj_integrators.mclachlan, 2)}


class HMCChain(NamedTuple):
    state: blackjax.mcmc.hmc.HMCState  # position: the leaves of positive prior variance
    key: jax.Array


def _prior_variance(net: model.FCN) -> list[dict]:
    """Prior variance of the leaves that move (positive variance), per layer; the HMC inverse mass."""
    return [{k: s**2 for k, s in layer.items() if s > 0} for layer in prior_std(net)]


def _shapes(net: model.FCN) -> list[dict]:
    sizes = [net.dim] + [net.width] * (net.depth - 1) + [1]
    return [{"w": (a, b), "b": (b,)} for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


def _position(net: model.FCN, params: list[dict]) -> list[dict]:
    """The HMC position: params without the zero-variance leaves."""
    return [{k: layer[k] for k in var} for layer, var in zip(params, _prior_variance(net), strict=True)]


def _params(net: model.FCN, position: list[dict]) -> list[dict]:
    """Full network parameters from an HMC position (zeros for the zero-variance leaves)."""
    return [
        {k: pos[k] if k in pos else jnp.zeros(shape, jnp.float32) for k, shape in layer.items()}
        for pos, layer in zip(position, _shapes(net), strict=True)
    ]


def _inverse_mass(net: model.FCN) -> jax.Array:
    """Diagonal inverse mass P = prior variance, flattened in ravel_pytree order of the position."""
    tree = [
        {k: np.full(shape[k], v, np.float32) for k, v in var.items()}
        for var, shape in zip(_prior_variance(net), _shapes(net), strict=True)
    ]
    return ravel_pytree(tree)[0]


def log_density(net: model.FCN, ridge, x, y):
    """position -> log p = -U / T (up to a constant), U = langevin.potential."""
    return lambda position: -potential(net, ridge, _params(net, position), x, y) / ridge


def initial_step_size(mu_max: float, ridge: float, step_factor: float) -> float:
    """step_factor / omega_max, omega_max^2 = (mu_max + T) / T the top curvature of -log p (leapfrog: stable < 2)."""
    return step_factor / math.sqrt((mu_max + ridge) / ridge)


def make_step(net: model.FCN, ridge, integrator: str, step_size, n_max, jitter):
    """The HMC transition as a pure function, in the style of BlackJAX: step(key, state, batch) -> (state, info) for
    a blackjax HMCState `state` and batch = (x, y): ceil(u n_max) integration steps of size step_size,
    u ~ U(1 - jitter, 1] (a jittered trajectory length), then BlackJAX's Metropolis correction."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {tuple(INTEGRATORS)} (got {integrator!r})")
    kernel = blackjax.hmc.build_kernel(integrator=INTEGRATORS[integrator][0])

    def step(key: jax.Array, state, batch):
        x, y = batch
        k_len, k_hmc = jax.random.split(key)
        u = 1.0 - jitter * jax.random.uniform(k_len)
        n = jnp.maximum(1, jnp.ceil(u * n_max)).astype(jnp.int32)
        return kernel(k_hmc, state, log_density(net, ridge, x, y), step_size, _inverse_mass(net), n)

    return step


def _hmc_step(net, integrator, ridge, chain: HMCChain, x, y, step, n_max, jitter) -> tuple[HMCChain, object]:
    """make_step's transition for a chain that carries its own key."""
    key, k_step = jax.random.split(chain.key)
    state, info = make_step(net, ridge, integrator, step, n_max, jitter)(k_step, chain.state, (x, y))
    return HMCChain(state, key), info


def _n_steps(trajectory_length, step, max_leapfrog):
    return jnp.minimum(jnp.ceil(trajectory_length / step), max_leapfrog)


def init_adaptation(step0) -> DualAveragingAdaptationState:
    """Dual-averaging state per draw for initial steps step0 (draw,), centred on them: mu = log step0, not
    blackjax's log (10 step0), since the analytic step is already of the order of the stability limit."""
    log_step = jnp.log(jnp.asarray(step0, jnp.float32))
    zero = jnp.zeros_like(log_step)
    return DualAveragingAdaptationState(log_step, zero, jnp.ones(log_step.shape, jnp.int32), zero, log_step)


@partial(jax.jit, static_argnames=("net", "integrator", "n_evals", "n_probe", "target", "adaptation"))
def hmc_block(
    net,
    integrator,
    ridge,
    chains,
    da,
    x,
    y,
    x_test,
    trajectory_length,
    jitter,
    max_leapfrog,
    adapt,
    n_evals: int,
    n_probe: int,
    target: float,
    adaptation: tuple[float, float, float],
):
    """n_evals HMC iterations of every chain, f evaluated on x_test after each; chains (draw, member), da the
    dual-averaging state (draw,), x (draw, n, d), y (draw, n).

    adapt (a traced bool, so warm-up and sampling share one compiled program): each iteration integrates with the
    current iterate exp(da.log_step_size) and updates da with the mean acceptance probability of the draw's chains.
    Otherwise the step is frozen at the dual average exp(da.log_step_size_avg) and da is left unchanged.
    adaptation: (t0, gamma, kappa) of the dual averaging. Returns chains, da, per chain the sums of f and f^2, the data
    loss and probe outputs of every record, the sum of the readout-marginal mean (langevin.readout_marginal_mean), the
    summed acceptance probabilities, divergences and integration steps and of the first-layer moment W1 W1^T / fan_out,
    and per draw the mean acceptance and the step of every iteration."""
    _, da_update, da_final = dual_averaging_adaptation(target, *adaptation)

    def per_draw(chains, da, xd, yd):
        def body(carry, _):
            chains, da = carry
            step = jnp.where(adapt, jnp.exp(da.log_step_size), da_final(da))
            n_max = _n_steps(trajectory_length, step, max_leapfrog)
            chains, info = jax.vmap(lambda c: _hmc_step(net, integrator, ridge, c, xd, yd, step, n_max, jitter))(chains)
            acc = info.acceptance_rate.mean()
            da = jax.tree.map(lambda new, old: jnp.where(adapt, new, old), da_update(da, acc), da)
            params = jax.vmap(partial(_params, net))(chains.state.position)
            h_test = jax.vmap(lambda p: features(net, p, x_test))(params)
            f = jax.vmap(lambda p, h: readout(net, p, h))(params, h_test)
            marginal = jax.vmap(lambda p, h: readout_marginal_mean(net, p, xd, yd, h, ridge))(params, h_test)
            loss = jax.vmap(lambda p: 0.5 * jnp.sum((apply(net, p, xd) - yd) ** 2))(params)
            w = params[0]["w"]  # (member, dim, fan_out): first-layer weights, one column per unit
            moment = jnp.einsum("mdu,meu->mde", w, w) / w.shape[-1]
            per_chain = (f, marginal, loss, info.acceptance_rate, info.is_divergent, info.num_integration_steps, moment)
            return (chains, da), (per_chain, (acc, step))

        (chains, da), ((f, fm, loss, acc, div, n, m), per_iter) = jax.lax.scan(body, (chains, da), None, length=n_evals)
        probe = jnp.swapaxes(f[:, :, :n_probe], 0, 1)
        sums = (f.sum(0), (f**2).sum(0), fm.sum(0), loss.T, probe, acc.sum(0), div.sum(0), n.sum(0), m.sum(0))
        return chains, da, *sums, *per_iter

    return jax.vmap(per_draw)(chains, da, x, y)


@partial(jax.jit, static_argnames=("net", "members"))
def init_chains(key: jax.Array, net: model.FCN, ridge, x, y, members: int) -> HMCChain:
    """members chains per dataset draw (x (draw, n, d), y (draw, n)), each started from a prior draw."""
    keys = jax.random.split(key, x.shape[0] * members).reshape(x.shape[0], members)

    def one(k, xd, yd):
        k_param, k_chain = jax.random.split(k)
        position = _position(net, init_params(k_param, net))
        return HMCChain(blackjax.hmc.init(position, log_density(net, ridge, xd, yd)), k_chain)

    return jax.vmap(jax.vmap(one, (0, None, None)))(keys, x, y)


def _check_arguments(x_train, y_train, x_test, ridge, members, **options) -> None:
    if np.ndim(x_train) != 3 or np.shape(y_train) != np.shape(x_train)[:2]:
        raise ValueError(
            f"x_train must be (draw, n, d) and y_train (draw, n) (got {np.shape(x_train)}, {np.shape(y_train)})"
        )
    if np.ndim(x_test) != 2 or np.shape(x_test)[1] != np.shape(x_train)[2]:
        raise ValueError(f"x_test must be (test_sample, d) with the d of x_train (got {np.shape(x_test)})")
    if members < 2:
        raise ValueError(f"members must be >= 2 to estimate the sampling error (got {members})")
    if not ridge > 0:
        raise ValueError(f"ridge = temperature must be > 0 for the posterior to be a proper density (got {ridge})")
    checks = {
        "integrator": (options["integrator"] in INTEGRATORS, f"one of {tuple(INTEGRATORS)}"),
        "target_accept": (0 < options["target_accept"] < 1, "in (0, 1)"),
        "trajectory_length": (options["trajectory_length"] > 0, "> 0"),
        "jitter": (0 <= options["jitter"] < 1, "in [0, 1)"),
        "step_factor": (options["step_factor"] > 0, "> 0"),
        "warmup_iterations": (options["warmup_iterations"] >= 1, ">= 1"),
        "n_samples": (options["n_samples"] >= 1, ">= 1"),
        "evals_per_block": (options["evals_per_block"] >= 1, ">= 1"),
        "max_leapfrog": (options["max_leapfrog"] is None or options["max_leapfrog"] >= 1, ">= 1 or None"),
    }
    for name, (ok, what) in checks.items():
        if not ok:
            raise ValueError(f"{name} must be {what} (got {options[name]!r})")


class Plan(NamedTuple):
    """How run_hmc_ensemble samples: warm-up and sampling iterations, the adaptation target and the trajectories."""

    warmup_iterations: int = 100  # iterations adapting the step size of each draw (discarded)
    n_samples: int = 200  # iterations at the adapted step, f evaluated after each
    target_accept: float = 0.75  # mean Metropolis acceptance the step size is adapted to
    trajectory_length: float = math.pi / 2  # integration time per iteration (a quarter period of the stiffest mode)
    jitter: float = 0.5  # the number of integration steps is ceil(u n_max), u uniform in (1 - jitter, 1]
    step_factor: float = 1.0  # initial step = step_factor x the stability limit of the stiffest mode
    integrator: str = "leapfrog"  # one of INTEGRATORS
    max_leapfrog: int | None = None  # cap on integration steps per iteration (None: 10 x those of the initial step)
    adaptation: tuple[float, float, float] = (10.0, 0.2, 0.75)  # dual averaging (t0, gamma, kappa)
    evals_per_block: int = 20  # iterations per compiled block (progress and memory, not results)


DEFAULT_PLAN = Plan()


def run_hmc_ensemble(
    net: model.FCN,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    ridge: float,
    key: jax.Array,
    members: int,
    plan: Plan = DEFAULT_PLAN,
    *,
    n_probe: int = 8,
    progress=None,
) -> xr.Dataset:
    """HMC on log p = -langevin.potential / T: `members` independent chains per dataset draw, x_train (draw, n, d),
    y_train (draw, n), the conventions and output layout of langevin.run_ensemble; plan: the sampler's settings
    (`Plan`).

    One compiled program advances every chain (vmap over draws x members, lax.scan over iterations): first
    `warmup_iterations` HMC iterations adapting the step size of each draw (module docstring), then `n_samples`
    iterations at that fixed step, f evaluated on x_test after each; test outputs are accumulated as float64 running
    sums between blocks of `evals_per_block` iterations. max_leapfrog caps the integration steps per iteration
    (default 10 x those of the initial step size).

    Returns the time average f_mean and time variance f_var of each chain's outputs on x_test and the time average of
    the readout-marginal mean f_mean_marginal (dims draw, member, test_sample), the data-loss (SSE / 2) and probe-output
    traces, the effective sample size of the probes per chain (langevin.effective_sample_size, mean over probes, in
    iterations), the time-averaged first-layer weight second moment W1 W1^T / width (prior units, as run_ensemble), the
    mean Metropolis acceptance probability and the number of divergent transitions of the sampling phase per chain, the
    gradient evaluations per chain, the adapted step size and number of integration steps per draw, and the warm-up
    traces of acceptance and step size. progress(done, total, mean_loss, iteration) is called after every block.
    """
    if not isinstance(plan, Plan):
        raise ValueError(f"plan must be a metropolis.Plan (got {type(plan).__name__})")
    _check_arguments(x_train, y_train, x_test, ridge, members, **plan._asdict())
    warmup_iterations, n_samples, target_accept, trajectory_length, jitter, step_factor = plan[:6]
    integrator, max_leapfrog, adaptation, evals_per_block = plan[6:]
    n_draws = x_train.shape[0]
    mu_max = np.array([np.linalg.eigvalsh(kernels.gram(net, xb, kind="ntk"))[-1] for xb in x_train])
    step0 = np.array([initial_step_size(m, ridge, step_factor) for m in mu_max])
    if max_leapfrog is None:
        max_leapfrog = 10 * math.ceil(trajectory_length / step0.min())
    n_probe = min(n_probe, len(x_test))
    xd = jnp.asarray(x_train, jnp.float32)
    yd = jnp.asarray(y_train, jnp.float32)
    xt = jnp.asarray(x_test, jnp.float32)
    ridge = jnp.float32(ridge)
    common = (jnp.float32(trajectory_length), jnp.float32(jitter))

    t0 = time.perf_counter()
    chains = init_chains(key, net, ridge, xd, yd, members)
    da = init_adaptation(step0)
    n_chains = n_draws * members
    f_sum = np.zeros((n_draws, members, len(x_test)))
    f2_sum = np.zeros_like(f_sum)
    marginal_sum = np.zeros_like(f_sum)
    acc_sum = np.zeros((n_draws, members))
    div_sum = np.zeros((n_draws, members), dtype=np.int64)
    n_sum = np.zeros((n_draws, members), dtype=np.int64)
    w_sum = np.zeros((n_draws, members, net.dim, net.dim))
    warm_acc, warm_step, trace, probes = [], [], [], []
    for phase, total in (("warmup", warmup_iterations), ("sampling", n_samples)):
        done = 0
        while done < total:
            k = min(evals_per_block, total - done)
            chains, da, fs, f2s, ms, loss, probe, acc, div, n, ws, acc_iter, step_iter = hmc_block(
                net,
                integrator,
                ridge,
                chains,
                da,
                xd,
                yd,
                xt,
                *common,
                jnp.float32(max_leapfrog),
                jnp.bool_(phase == "warmup"),
                n_evals=k,
                n_probe=n_probe,
                target=float(target_accept),
                adaptation=tuple(float(a) for a in adaptation),
            )
            n_sum += np.asarray(n, np.int64)
            done += k
            if phase == "warmup":
                warm_acc.append(np.asarray(acc_iter, np.float64))
                warm_step.append(np.asarray(step_iter, np.float64))
                continue
            f_sum += np.asarray(fs, np.float64)
            f2_sum += np.asarray(f2s, np.float64)
            marginal_sum += np.asarray(ms, np.float64)
            acc_sum += np.asarray(acc, np.float64)
            div_sum += np.asarray(div, np.int64)
            w_sum += np.asarray(ws, np.float64)
            trace.append(np.asarray(loss, np.float64))
            probes.append(np.asarray(probe, np.float64))
            if progress is not None:
                progress(done, n_samples, float(trace[-1][..., -1].mean()), warmup_iterations + done)
    step = np.exp(np.asarray(da.log_step_size_avg, np.float64))
    n_max = np.asarray(_n_steps(common[0], jnp.exp(da.log_step_size_avg), max_leapfrog), np.int64)
    wall = time.perf_counter() - t0

    f_mean = f_sum / n_samples
    f_var = np.maximum(f2_sum / n_samples - f_mean**2, 0.0)
    probe_trace = np.concatenate(probes, axis=2)  # (draw, member, record, probe)
    ess = np.array(
        [
            [effective_sample_size(pt[:, j]) for j in range(n_probe)]
            for pt in probe_trace.reshape(n_chains, n_samples, -1)
        ]
    ).mean(1)
    grads = n_sum * INTEGRATORS[integrator][1]
    return xr.Dataset(
        {
            "f_mean": (("draw", "member", "test_sample"), f_mean),
            "f_var": (("draw", "member", "test_sample"), f_var),
            "f_mean_marginal": (("draw", "member", "test_sample"), marginal_sum / n_samples),
            "loss": (("draw", "member", "record"), np.concatenate(trace, axis=2)),
            "probe_trace": (("draw", "member", "record", "probe"), probe_trace),
            "ess": (("draw", "member"), ess.reshape(n_draws, members)),
            "first_layer_moment": (
                ("draw", "member", "input_i", "input_j"),
                w_sum / n_samples / prior_std(net)[0]["w"] ** 2,
            ),
            "acceptance": (("draw", "member"), acc_sum / n_samples),
            "divergences": (("draw", "member"), div_sum),
            "gradient_evals": (("draw", "member"), grads),
            "step_size": (("draw",), step),
            "n_leapfrog": (("draw",), n_max),
            "initial_step_size": (("draw",), step0),
            "ntk_mu_max": (("draw",), mu_max),
            "warmup_acceptance": (("draw", "warmup_iteration"), np.concatenate(warm_acc, axis=1)),
            "warmup_step_size": (("draw", "warmup_iteration"), np.concatenate(warm_step, axis=1)),
        },
        coords={"member": np.arange(members), "record": np.arange(n_samples), "probe": np.arange(n_probe)},
        attrs={
            "sampler": "hmc",
            "integrator": integrator,
            "ridge": float(ridge),
            "target_accept": float(target_accept),
            "trajectory_length": float(trajectory_length),
            "jitter": float(jitter),
            "step_factor": float(step_factor),
            "max_leapfrog": int(max_leapfrog),
            "warmup_iterations": warmup_iterations,
            "n_evals": n_samples,
            "wall_seconds": wall,
            "device": str(jax.devices()[0]),
            "description": "HMC (BlackJAX) on log p = -U/T, inverse mass = prior variance; acceptance: mean Metropolis "
            "acceptance probability of the sampling phase; n_leapfrog: integration steps per iteration at the "
            "adapted step (each iteration draws ceil(u n_leapfrog), u ~ U(1 - jitter, 1]); ess: effective sample "
            "size of the probes in iterations (Sokal windowed integrated autocorrelation), mean over probes; "
            "first_layer_moment: time average of W1 W1^T / width in units of the prior variance (as run_ensemble)",
        },
    )
