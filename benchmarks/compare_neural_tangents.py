"""NNGP + NTK of 4096 inputs on S^49: nnft against neural-tangents on the same inputs, timed side by side.

neural-tangents is no project dependency, and 0.6.5 imports only with jax <= 0.5.3, so it runs in a scratch
environment as a worker process that this script (in the project environment) drives:

    python3.11 -m venv /work/nt-venv
    /work/nt-venv/bin/pip install neural-tangents==0.6.5 jax==0.5.3 jaxlib==0.5.3 numpy scipy
    .venv/bin/python benchmarks/compare_neural_tangents.py [--nt-python /work/nt-venv/bin/python] [--repeat 3]

Both read the same x (seed 0, saved to an .npy); the cases alternate between the two processes, best of --repeat,
compilation and first calls excluded. nnft times `kernels.nngp_ntk(net, x @ x.T)` (its Gram step included, as
neural-tangents' kernel_fn includes its own) and the kernel map alone; neural-tangents times its jitted
kernel_fn(x, None, ("nngp", "ntk")) up to block_until_ready, without copying the results to numpy. Each also
reports the CPU seconds of its process (all threads): on a loaded machine, what a multi-threaded call would take
with its cores to itself is at least its CPU time over the number of cores. The kernels are
compared on the first 256 rows: the largest |difference| over the largest |value|, away from t = +-1 and over all
entries (the diagonal included: the two sides compute t with different roundings, x.x' against
(sqrt(d) x).(sqrt(d) x') / d, and the ReLU NTK's kappa_0 ~ 1 - sqrt(2 (1 - t)) / pi turns an ulp of t into ~1e-8).
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
from _timing import best_of, best_of_cpu

CASES = (("relu", 3), ("relu", 10), ("erf", 3), ("gelu", 3))
N, DIM, SIGMA_W2, SIGMA_B2, ROWS = 4096, 50, 1.5, 0.1, 256


def nt_worker():
    """Runs in the neural-tangents environment: one JSON command per line on stdin, one JSON answer per line."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import neural_tangents as nt  # noqa: F401
    from neural_tangents import stax

    acts = {"relu": stax.Relu, "erf": stax.Erf, "gelu": lambda: stax.Gelu(approximate=False)}
    fns = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        x = jax.numpy.asarray(np.load(cmd["x"]) * math.sqrt(DIM))  # "sqrt_d": |x|^2 / d = 1, Dense divides by d
        key = (cmd["activation"], cmd["depth"])
        if key not in fns:
            dense = (math.sqrt(SIGMA_W2), math.sqrt(SIGMA_B2))
            layers = [stax.Dense(512, *dense), acts[cmd["activation"]]()] * (cmd["depth"] - 1)
            _, _, kernel_fn = stax.serial(*layers, stax.Dense(1, *dense))
            fns[key] = jax.jit(kernel_fn, static_argnames="get")
        fn = fns[key]
        out = jax.block_until_ready(fn(x, None, ("nngp", "ntk")))  # compiles on the first call
        call = partial(fn, x, None, ("nngp", "ntk"))
        seconds, cpu = best_of_cpu(lambda call=call: jax.block_until_ready(call()), cmd["repeat"])
        if cmd.get("save"):
            for name, k in zip(("nngp", "ntk"), out, strict=True):
                np.save(cmd["save"] + f"_{name}.npy", np.asarray(k[:ROWS]))
        print(json.dumps({"seconds": seconds, "cpu": cpu, "jax": jax.__version__}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nt-python", default="/work/nt-venv/bin/python")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nt_compare_") as tmp:
        compare(Path(tmp), args)


def compare(tmp: Path, args):
    from nnft import model, sphere
    from nnft.theory import kernels

    x = sphere.sample_sphere(np.random.default_rng(0), N, DIM)
    np.save(tmp / "x.npy", x)
    worker = subprocess.Popen(
        [args.nt_python, str(Path(__file__).resolve()), "--nt-worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def nt_time(activation, depth, save=None):
        cmd = {"x": str(tmp / "x.npy"), "activation": activation, "depth": depth, "repeat": args.repeat}
        worker.stdin.write(json.dumps(cmd | {"save": save}) + "\n")
        worker.stdin.flush()
        return json.loads(worker.stdout.readline())

    t = x @ x.T
    for activation, depth in CASES:
        net = model.FCN(dim=DIM, depth=depth, activation=activation, sigma_w2=SIGMA_W2, sigma_b2=SIGMA_B2)
        ours = kernels.nngp_ntk(net, t)  # first call: Chebyshev series and compilation
        theirs = nt_time(activation, depth, save=str(tmp / f"{activation}{depth}"))
        agree = {}
        inner = np.abs(t[:ROWS]) < 1 - 1e-9  # away from t = +-1, where kappa_0 ~ sqrt(1 - t) magnifies an ulp of t
        for name, k in zip(("nngp", "ntk"), ours, strict=True):
            ref = np.load(tmp / f"{activation}{depth}_{name}.npy")
            diff = np.abs(k[:ROWS] - ref) / np.max(np.abs(ref))
            agree[name] = float(diff[inner].max())
            agree[name + "_all"] = float(diff.max())
        best = {"nnft": np.inf, "map": np.inf, "nt": np.inf, "gram": np.inf, "nnft_cpu": np.inf, "nt_cpu": np.inf}
        for _ in range(2):  # alternate, so that both see the same load
            best["gram"] = min(best["gram"], best_of(lambda: x @ x.T, args.repeat))
            wall, cpu = best_of_cpu(lambda net=net: kernels.nngp_ntk(net, x @ x.T), args.repeat)
            best["nnft"], best["nnft_cpu"] = min(best["nnft"], wall), min(best["nnft_cpu"], cpu)
            best["map"] = min(best["map"], best_of(lambda net=net: kernels.nngp_ntk(net, t), args.repeat))
            theirs = nt_time(activation, depth)
            best["nt"], best["nt_cpu"] = min(best["nt"], theirs["seconds"]), min(best["nt_cpu"], theirs["cpu"])
        print(
            f"{activation:>4} depth {depth:>2}: nnft {best['nnft']:.3f} s (kernel map alone {best['map']:.3f} s), "
            f"neural-tangents {best['nt']:.3f} s, x @ x.T {best['gram']:.3f} s; CPU seconds nnft "
            f"{best['nnft_cpu']:.3f}, neural-tangents {best['nt_cpu']:.3f}; "
            f"nnft at {best['nt'] / best['nnft']:.2f}x neural-tangents' speed; "
            f"nnft = {best['nnft'] / best['gram']:.1f}, neural-tangents = "
            f"{best['nt'] / best['gram']:.1f} x the Gram step; max |diff| / max |K| for |t| < 1 - 1e-9 (all "
            f"entries): NNGP {agree['nngp']:.1e} ({agree['nngp_all']:.1e}), NTK {agree['ntk']:.1e} "
            f"({agree['ntk_all']:.1e})",
            flush=True,
        )
    worker.stdin.close()
    worker.wait()
    print(f"neural-tangents ran on jax {theirs['jax']}")


if __name__ == "__main__":
    if "--nt-worker" in sys.argv:
        nt_worker()
    else:
        main()
