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
