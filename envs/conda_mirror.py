"""Write envs/nnft.yaml, the conda mirror of envs/requirements.lock (`make lock` runs it; a test checks it)."""

import sys
from pathlib import Path

HEADER = """\
# Conda mirror of envs/requirements.lock for `snakemake --sdm conda`, written by envs/conda_mirror.py (make lock).
name: nnft
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def mirror(lock_text: str) -> str:
    pins = [line.strip() for line in lock_text.splitlines() if line.strip() and not line.startswith("#")]
    return HEADER + "".join(f"      - {pin}\n" for pin in pins)


if __name__ == "__main__":
    envs = Path(__file__).parent
    (envs / "nnft.yaml").write_text(mirror((envs / "requirements.lock").read_text()))
    sys.exit(0)
