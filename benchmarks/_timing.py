"""Best-of-n wall-clock timing."""

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
