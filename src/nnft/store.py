"""xarray Datasets in Zarr v3 stores, written atomically and stamped with provenance."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import time
import uuid
import warnings
from importlib import metadata
from pathlib import Path

import xarray as xr

PACKAGES = ("nnft", "numpy", "scipy", "jax", "jaxlib", "xarray", "zarr", "matplotlib", "snakemake")


def versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_revision(path: str | os.PathLike = ".") -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(config: dict, seed: int | None = None) -> dict[str, str]:
    """Attrs recording what made a store: the config slice the job received, package versions, git revision."""
    return {
        "config": json.dumps(config, sort_keys=True, default=str),
        "versions": json.dumps(versions(), sort_keys=True),
        "git_revision": git_revision(Path(__file__).parent),
        "seed": "none" if seed is None else str(seed),
    }


def write(ds: xr.Dataset, path: str | os.PathLike, attrs: dict | None = None) -> None:
    """Write ds to a Zarr v3 store at path, via a temporary sibling renamed into place (no half stores).

    The metadata is consolidated, so that a plain xr.open_zarr(path) opens the store without listing its directory
    (no warning about the .snakemake_timestamp file Snakemake adds to directory outputs, none about missing
    consolidated metadata)."""
    path = Path(path)
    ds = ds.copy()
    ds.attrs.update(attrs or {})
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            # zarr 3 notes that consolidated metadata is not yet in the v3 specification; zarr and xarray read it
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
            ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=True)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except OSError as e:
        if e.errno in _STORAGE_ERRORS:
            reason = f"{_STORAGE_ERRORS[e.errno]} ({e.strerror})"
            raise OSError(e.errno, f"cannot write the store {path}: {reason}. Nothing was stored.") from e
        raise
    finally:
        # Zarr's asynchronous chunk writes can still land in tmp after to_zarr has raised (seen on a full disk), so
        # a single rmtree may lose the race and leave a temporary behind: retry, bounded (about 2.5 s at most).
        for _ in range(50):
            if not tmp.exists():
                break
            shutil.rmtree(tmp, ignore_errors=True)
            if tmp.exists():
                time.sleep(0.05)


_STORAGE_ERRORS = {
    errno.ENOSPC: "the disk is full; free space or move results/ to a larger disk",
    errno.EDQUOT: "the disk quota is exhausted; free space or move results/ elsewhere",
    errno.EROFS: "the results directory is on a read-only file system",
    errno.EACCES: "no permission to write the results directory",
    errno.EPERM: "no permission to write the results directory",
}


def read(path: str | os.PathLike) -> xr.Dataset:
    """Open a store eagerly (stores are small); stores written before their metadata was consolidated open too."""
    with warnings.catch_warnings():
        # Snakemake drops a .snakemake_timestamp file into directory outputs; it is not part of the store.
        warnings.filterwarnings("ignore", message=".*snakemake_timestamp.*")
        warnings.filterwarnings("ignore", message="Failed to open Zarr store with consolidated metadata")
        with xr.open_zarr(path, zarr_format=3) as ds:
            return ds.load()
