"""Rule train: a Langevin ensemble of finite networks on the first train.draws datasets at one n -> train/n{n}.zarr."""

import sys
from typing import TYPE_CHECKING

import jax
from tqdm import tqdm

from nnft import model, store
from nnft.sampling import langevin

if TYPE_CHECKING:
    from snakemake.script import snakemake

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params.train
t = p["train"]
n = int(snakemake.wildcards.n)
ds = store.read(snakemake.input.data)
net = model.FCN(dim=ds.sizes["dim"], **p["model"])
draws = slice(0, t["draws"])
# read from the config, not params: the interval does not change the result, so changing it reruns nothing
every_minutes = snakemake.config["experiments"][snakemake.wildcards.experiment]["train"]["checkpoint_minutes"]
bar = tqdm(total=t["n_samples"], desc=f"langevin n={n}", unit="sample", file=sys.stderr, mininterval=5)


def progress(done, total, loss, step):
    bar.set_postfix(step=step, train_loss=f"{loss:.4g}")
    bar.update(done - bar.n)


checkpoint_path = f"results/.checkpoints/{snakemake.wildcards.experiment}/n{n}_w{net.width}.npz"
out = langevin.run_ensemble(
    net,
    ds.x_train.values[draws, :n],
    ds.y_train.values[draws, :n],
    ds.x_test.values,
    ridge=p["ridge"],
    key=jax.random.fold_in(jax.random.key(p["seed"]), n),
    members=t["members"],
    plan=langevin.Plan.from_config(t),
    progress=progress,
    # resumable: a killed job rerun (--rerun-incomplete) continues from here; stale checkpoints are ignored
    checkpoint=langevin.Checkpoint(checkpoint_path, seconds=60 * every_minutes),
)
bar.close()
out = out.assign_coords(draw=ds.draw.values[draws]).expand_dims(n_train=[n], width=[net.width])
print(f"n={n}: {dict(out.attrs)}", file=sys.stderr)
store.write(out, snakemake.output[0], store.provenance(p, seed=p["seed"]))
