"""Best-of-n wall-clock timing, and the FLOP rates the training benchmarks compare against."""

import time


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def best_of_cpu(fn, repeat: int = 3) -> tuple[float, float]:
    """(best wall-clock seconds, fewest CPU seconds of the process, all its threads) over repeat calls: on a shared
    machine the CPU time shows what a multi-threaded call would cost with its cores to itself."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def network_matmul_flops(dim: int, width: int, depth: int, n: int, members: int) -> int:
    """FLOPs of one training step's network matmuls for every member: forward and backward ~ 3 x the forward pass's
    2 n sum_l fan_in fan_out (fan: dim, width x (depth - 1), 1)."""
    fan = [dim] + [width] * (depth - 1) + [1]
    return 3 * members * sum(2 * n * a * b for a, b in zip(fan[:-1], fan[1:], strict=True))


def matmul_rate(members: int, n: int, width: int) -> float:
    """FLOP/s of the dense float32 matmul (members, n, width) @ (members, width, width) at JAX's default precision,
    best of 20 after compiling: the hidden layers' shape."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(1), (members, n, width), jnp.float32)
    b = jax.random.normal(jax.random.key(2), (members, width, width), jnp.float32)
    mm = jax.jit(jnp.matmul)
    mm(a, b).block_until_ready()
    return 2 * members * n * width * width / best_of(lambda: mm(a, b).block_until_ready(), repeat=20)
