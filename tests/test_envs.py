"""The conda mirror pins exactly what the pip lock pins."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def test_conda_mirror_matches_lock():
    lock = [
        line.strip()
        for line in (REPO / "envs/requirements.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    env = yaml.safe_load((REPO / "envs/nnft.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(p for p in pip if not p.startswith("-e")) == sorted(lock)
    assert "python=3.11" in env["dependencies"]
    assert all("==" in p for p in lock)


def test_conda_mirror_is_generated_from_the_lock():
    import importlib.util

    spec = importlib.util.spec_from_file_location("conda_mirror", REPO / "envs/conda_mirror.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.mirror((REPO / "envs/requirements.lock").read_text()) == (REPO / "envs/nnft.yaml").read_text()


def test_lock_pins_every_direct_requirement():
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (REPO / "envs/requirements.lock").read_text().splitlines()
        if "==" in line
    }
    direct = [
        line.split("#")[0].strip()
        for line in (REPO / "envs/requirements.in").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    names = {d.split(">")[0].split("=")[0].split("<")[0].lower() for d in direct}
    assert names <= pinned, names - pinned
