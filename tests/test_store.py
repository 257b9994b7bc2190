"""store.py: Zarr v3 round trip with provenance; atomic writes leave no half store."""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

from nnft import store
from tests.mounts import tmpfs


def sample_dataset():
    return xr.Dataset(
        {"mse": (("draw", "n_train"), np.arange(6.0).reshape(2, 3))},
        coords={"draw": [0, 1], "n_train": [8, 16, 32]},
        attrs={"kernel": "nngp"},
    )


def test_round_trip_with_provenance(tmp_path):
    path = tmp_path / "a.zarr"
    store.write(sample_dataset(), path, store.provenance({"ridge": 0.1}, seed=3))
    assert zarr.open_group(path, mode="r").metadata.zarr_format == 3
    back = store.read(path)
    xr.testing.assert_identical(back.drop_attrs(), sample_dataset().drop_attrs())
    assert json.loads(back.attrs["config"]) == {"ridge": 0.1}
    assert back.attrs["seed"] == "3" and back.attrs["kernel"] == "nngp"
    assert "numpy" in json.loads(back.attrs["versions"])


def test_overwrite_and_no_temporaries(tmp_path):
    path = tmp_path / "a.zarr"
    store.write(sample_dataset(), path)
    store.write(sample_dataset() * 2, path)
    np.testing.assert_array_equal(store.read(path).mse.values, 2 * np.arange(6.0).reshape(2, 3))
    assert [p.name for p in tmp_path.iterdir()] == ["a.zarr"]


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "b.zarr"

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_zarr", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        store.write(sample_dataset(), path)
    assert list(tmp_path.iterdir()) == []


def big_dataset():
    return xr.Dataset({"f": (("i",), np.random.default_rng(0).standard_normal(200_000))})


def test_disk_full_is_a_clear_error_and_stores_nothing(tmp_path):
    with tmpfs(tmp_path / "small", "size=256k") as disk:
        with pytest.raises(OSError, match="disk is full.*Nothing was stored") as err:
            store.write(big_dataset(), disk / "f.zarr")
        assert str(disk / "f.zarr") in str(err.value)
        assert list(disk.iterdir()) == []  # no half store, no temporary left behind


def test_read_only_results_is_a_clear_error(tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=1m") as disk:
        with pytest.raises(OSError, match="read-only file system"):
            store.write(sample_dataset(), disk / "exp" / "a.zarr")


def test_no_pickle_anywhere():
    # Stores are Zarr, checkpoints .npz read with allow_pickle=False: nothing executes code on load.
    repo = Path(__file__).resolve().parents[1]
    banned = re.compile(
        r"import pickle|from pickle|cloudpickle|joblib|\bdill\b|allow_pickle\s*=\s*True|\.pkl\b|pd\.read_pickle"
    )
    files = [p for d in ("src", "workflow", "benchmarks") for p in (repo / d).rglob("*") if p.suffix in {".py", ".smk"}]
    files.append(repo / "Snakefile")
    hits = [f"{p}: {m.group()}" for p in files for m in banned.finditer(p.read_text())]
    assert not hits, hits


def test_stores_open_without_warnings(tmp_path):
    """A store as the workflow leaves it (with Snakemake's .snakemake_timestamp inside) opens with a plain
    xr.open_zarr and with store.read without a single warning; a store written without consolidated metadata (before
    this change) still reads."""
    path = tmp_path / "s.zarr"
    store.write(sample_dataset(), path)
    (path / ".snakemake_timestamp").touch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with xr.open_zarr(path) as ds:
            assert ds.mse.values.sum() == 15
        assert store.read(path).mse.values.sum() == 15
    old = tmp_path / "old.zarr"
    sample_dataset().to_zarr(old, zarr_format=3, consolidated=False)
    (old / ".snakemake_timestamp").touch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.read(old).mse.values.sum() == 15
