"""Training throughput of Langevin ensembles (issue 5): achieved FLOP/s of one ensemble step over the same
process's dense float32 matmul FLOP/s at the same shapes, and vmap-ensemble vs a Python loop over members."""

import sys
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from _timing import best_of, matmul_rate, network_matmul_flops

from nnft import model, sphere
from nnft.sampling import langevin

width = int(sys.argv[1]) if len(sys.argv) > 1 else 256
n = int(sys.argv[2]) if len(sys.argv) > 2 else 256
members, d, depth, steps = 16, 8, 3, 50
net = model.FCN(dim=d, depth=depth, width=width, sigma_w2=2.0, sigma_b2=0.1)
x = sphere.sample_sphere(np.random.default_rng(0), n, d)
y = np.random.default_rng(1).standard_normal(n)
xc = jnp.asarray(np.repeat(x[None], members, 0), jnp.float32)
yc = jnp.asarray(np.repeat(y[None], members, 0), jnp.float32)
keys = jax.random.split(jax.random.key(0), members)
states = jax.vmap(lambda k, a, b: langevin.init_chain(k, net, 0.05, a, b))(keys, xc, yc)
ridge, h, gamma = jnp.float32(0.05), jnp.float32(1e-3), jnp.float32(0.4)
args = (net, "underdamped", ridge, h, gamma)


def ensemble():
    jax.block_until_ready(langevin.run_steps(*args, states, xc, yc, n_steps=steps))


def one_at_a_time():
    for m in range(members):
        s = jax.tree.map(lambda a, m=m: a[m : m + 1], states)
        jax.block_until_ready(langevin.run_steps(*args, s, xc[m : m + 1], yc[m : m + 1], n_steps=steps))


step = jax.jit(partial(langevin._advance, langevin.make_step(net, ridge, h, gamma, "underdamped")))


def step_by_step():
    """The naive loop: one compiled step per member per step, driven from Python."""
    for m in range(members):
        s = jax.tree.map(lambda a, m=m: a[m], states)
        for _ in range(steps):
            s = step(s, (xc[m], yc[m]))[0]
        jax.block_until_ready(s)


ensemble()
one_at_a_time()
step_by_step()  # compile all three
t_ens = best_of(ensemble)
t_loop = best_of(one_at_a_time)
t_naive = best_of(step_by_step)
achieved = network_matmul_flops(d, width, depth, n, members) * steps / t_ens
mm_rate = matmul_rate(members, n, width)  # the same shapes as dense float32 matmuls, batched over members
print(f"device {jax.devices()[0]}, width {width}, depth {depth}, n {n}, {members} members, {steps} steps")
print(
    f"ensemble step: {achieved / 1e9:.2f} GFLOP/s achieved vs {mm_rate / 1e9:.2f} GFLOP/s dense float32 matmul "
    f"at the hidden shape: ratio {achieved / mm_rate:.2f}"
)
print(
    f"vmap ensemble {t_ens:.3f} s vs Python loop over members: {t_loop:.3f} s with one compiled scan per member "
    f"(speed-up {t_loop / t_ens:.1f}x), {t_naive:.3f} s with one compiled step per member and step "
    f"(speed-up {t_naive / t_ens:.1f}x)"
)
# the Gaussian noise every step draws for every parameter (threefry), a cost vmap cannot batch away
noise = jax.jit(lambda k: langevin._normal_like(k, states.params))
noise(jax.random.key(0))
t_noise = best_of(lambda: jax.block_until_ready(noise(jax.random.key(0))), repeat=10)
print(f"noise generation: {t_noise * steps / t_ens:.0%} of the ensemble's time")
