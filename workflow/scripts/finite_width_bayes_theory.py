"""Rule finite_width_bayes_theory: the first-order 1/width theory of the networks' test MSE on the datasets the
width-convergence ensembles are trained on -> finite_width_bayes/theory.zarr."""

import sys
from typing import TYPE_CHECKING

import jax
import numpy as np

from nnft import model, store
from nnft.theory import adaptive_kernel, bayes_linear, finite_width_bayes

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.fwb
ds = store.read(snakemake.input.data)
net = model.FCN(dim=ds.sizes["dim"], **p["model"])
n, draws, q = p["n_train"], slice(0, p["draws"]), p["theory_test_points"]
out = finite_width_bayes.first_order_mse(
    net,
    ds.x_train.values[draws, :n],
    ds.y_train.values[draws, :n],
    ds.x_test.values[:q],
    ds.g_test.values[:q],
    ridge=p["ridge"],
    key=jax.random.fold_in(jax.random.key(p["seed"]), n),
    n_samples=p["theory_samples"],
)
out = out.assign_coords(draw=ds.draw.values[draws])
# First-layer weights: along each teacher direction and one direction orthogonal to all of them.
teacher = ds.term_direction.values
other = np.random.default_rng(p["seed"]).standard_normal(teacher.shape[1])
other -= teacher.T @ np.linalg.lstsq(teacher.T, other, rcond=None)[0]
directions = np.concatenate([teacher, other[None] / np.linalg.norm(other)])
moments = [
    finite_width_bayes.first_layer_second_moment(net, xd, yd, p["ridge"], directions, k)
    for xd, yd, k in zip(
        ds.x_train.values[draws, :n], ds.y_train.values[draws, :n],
        jax.random.split(jax.random.fold_in(jax.random.key(p["seed"]), 1 + n), p["draws"]), strict=True,
    )
]  # fmt: skip
out["weight_coefficient"] = (("draw", "direction"), np.stack([m.coefficient.values for m in moments]))
out["weight_coefficient_se"] = (("draw", "direction"), np.stack([m.coefficient_se.values for m in moments]))
out["direction_vector"] = (("direction", "dim"), moments[0].direction_vector.values)
out["direction_degree"] = (("direction",), np.append(ds.term_degree.values, -1))  # -1: orthogonal to the teacher
# The adaptive-kernel saddle point at the measured widths and on a geometric grid around them (NaN: no saddle).
measured = np.asarray(p["widths"])
ak_widths = np.unique(np.concatenate([measured, np.geomspace(measured.min() / 2, 8 * measured.max(), 9).astype(int)]))
ak = adaptive_kernel.width_sweep(
    net, ds.x_train.values[draws, :n], ds.y_train.values[draws, :n], ds.x_test.values[:q], ds.g_test.values[:q],
    p["ridge"], ak_widths, jax.random.fold_in(jax.random.key(p["seed"]), 2 + n), p["adaptive_kernel_samples"],
    directions, loop_samples=p["adaptive_kernel_loop_samples"], loop_widths=measured,
)  # fmt: skip
print(ak, file=sys.stderr)
out = out.merge(ak.drop_vars("draw").assign_coords(draw=out.draw.values))
# Independent replicas at the measured widths: their spread is the Monte Carlo error of the saddle point and loop.
replicas = [ak.sel(ak_width=measured)] + [
    adaptive_kernel.width_sweep(
        net, ds.x_train.values[draws, :n], ds.y_train.values[draws, :n], ds.x_test.values[:q], ds.g_test.values[:q],
        p["ridge"], measured, jax.random.fold_in(jax.random.key(p["seed"]), 1000 * r + n), p["adaptive_kernel_samples"],
        loop_samples=p["adaptive_kernel_loop_samples"], loop_widths=measured,
    )
    for r in range(1, p["adaptive_kernel_replicas"])
]  # fmt: skip
for name in ("ak_mse", "ak_loop_mse"):
    stacked = np.stack([r[name].values for r in replicas])  # (replica, draw, width)
    out[name.replace("ak_", "ak_replica_")] = (("ak_replica", "draw", "measured_width"), stacked)
out = out.assign_coords(measured_width=measured, ak_replica=np.arange(len(replicas)))
kr_widths = np.unique(np.geomspace(16, 4096, 25).astype(int))
kr = finite_width_bayes.kernel_renormalisation_mse(
    net, ds.x_train.values[draws, :n], ds.y_train.values[draws, :n], ds.x_test.values[:q], ds.g_test.values[:q],
    p["ridge"], kr_widths,
)  # fmt: skip
out = out.merge(kr.assign_coords(draw=out.draw.values))
# The exactly solvable reference beside it: one-hidden-layer linear network, the isotropic design of
# docs/finite_width_bayes.md Sec. 4 with a prior-mismatched teacher (|beta|^2 = 4 d), d = 30, P = 60, T = 0.05.
x, y, beta = bayes_linear.isotropic_design(dim=30, n_train=60, target_scale2=4.0)
linear = bayes_linear.width_sweep(x, y, beta, [15, 30, 60, 120, 240, 480, 960, 1920, 3840], ridge=0.05)
# ... and the adaptive kernel with its loop there (a Monte Carlo of the same module as the deep networks'; NaN where
# the saddle point does not exist).
loop_lin = np.full(linear.sizes["width"], np.nan)
for i, width in enumerate(linear.width.values):
    net_lin = model.FCN(dim=30, depth=2, activation="identity", sigma_w2=1.0, sigma_b2=0.0, width=int(width))
    if width < 120 or width > 960 or not p["adaptive_kernel_loop_samples"]:  # no saddle point below 120
        continue
    r = adaptive_kernel.saddle_point(
        net_lin, x, y, np.eye(30), 0.05, jax.random.key(p["seed"]), 2**15,
        loop_samples=p["adaptive_kernel_loop_samples"],
    )  # fmt: skip
    loop_lin[i] = bayes_linear.test_mse(r["mean"].values + r.loop.values, beta)
linear["adaptive_kernel_loop_mse"] = ("width", loop_lin)
out = out.merge(linear.rename(width="linear_width").rename({k: f"linear_{k}" for k in linear.data_vars}))
out.attrs.update({f"linear_{k}": v for k, v in linear.attrs.items()})
# ... and the deep linear network of this experiment's depth (one Gamma scalar per hidden layer, Sec. 9).
if net.depth > 2:
    deep = bayes_linear.width_sweep(x, y, beta, linear.width.values, ridge=0.05, depth=net.depth)
    out = out.merge(deep.rename({k: f"linear_deep_{k}" for k in deep.data_vars}).rename(width="linear_width"))
    out.attrs["linear_deep_depth"] = net.depth
print(out, file=sys.stderr)
store.write(out, snakemake.output[0], store.provenance(p, seed=p["seed"]))
