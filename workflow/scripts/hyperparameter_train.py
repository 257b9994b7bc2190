"""Rule hyperparameter_train: a Langevin ensemble at one validation point of the scan (its architecture, with
temperature = its ridge) on the first validate.draws datasets -> results/hyperparameters/{name}/train/p{i}.zarr."""

import sys
from typing import TYPE_CHECKING

import jax
from tqdm import tqdm

from nnft import model, store
from nnft.experiments import hyperparameters
from nnft.sampling import langevin
from nnft.theory import kernels, learning_curves

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.train
v = p["validate"]
i = int(snakemake.wildcards.i)
data, scan = store.read(snakemake.input.data), store.read(snakemake.input.scan)
point = hyperparameters.point_settings(scan, int(scan.point_index.values[i]))
net = model.FCN(
    dim=data.sizes["dim"],
    depth=int(point["depth"]),
    activation=point["activation"],
    sigma_w2=float(point["sigma_w2"]),
    sigma_b2=float(point["sigma_b2"]),
    input_scaling=p["input_scaling"],
    width=v["width"],
)
n, draws = scan.attrs["n_train"], slice(0, v["draws"])
every_minutes = snakemake.config["hyperparameters"][snakemake.wildcards.name]["validate"].get("checkpoint_minutes", 5)
bar = tqdm(total=v["n_samples"], desc=f"langevin point {i} {point}", unit="sample", file=sys.stderr, mininterval=5)


def progress(done, total, loss, step):
    bar.set_postfix(step=step, train_loss=f"{loss:.4g}")
    bar.update(done - bar.n)


checkpoint_path = f"results/.checkpoints/hyperparameters/{snakemake.wildcards.name}/p{i}.npz"
out = langevin.run_ensemble(
    net,
    data.x_train.values[draws, :n],
    data.y_train.values[draws, :n],
    data.x_test.values,
    ridge=float(point["ridge"]),
    key=jax.random.fold_in(jax.random.key(p["seed"]), i),
    members=v["members"],
    plan=langevin.Plan.from_config(v),
    progress=progress,
    checkpoint=langevin.Checkpoint(checkpoint_path, seconds=60 * every_minutes),
)
bar.close()
mse, mse_se = langevin.posterior_mean_mse(langevin.chain_means(out), data.g_test.values)
# the infinite-width GP on the same datasets and test points: separates the networks from the luck of the draws
eigenvalues = kernels.spectrum(net, 30, 1000).eigenvalue_nngp.values
gp = learning_curves.exact_gp_learning_curve(net, data.isel(draw=draws), [n], float(point["ridge"]), eigenvalues)
out = out.assign(mse=("draw", mse), mse_se=("draw", mse_se), gp_mse_same_draws=("draw", gp.mse_test.values[:, 0]))
out = out.assign_coords(draw=data.draw.values[draws])
out = out.assign_attrs({f"point_{k}": v_ for k, v_ in point.items()} | {"point": i, "n_train": n, "width": net.width})
print(f"point {i} {point}: posterior-mean MSE per draw {mse}", file=sys.stderr)
store.write(out, snakemake.output[0], store.provenance(p, seed=p["seed"]))
