"""Workflow overhead (issue 6): `snakemake -n` on an up-to-date tree, and how many jobs a one-key config change
reruns, on the tiny two-experiment test config in a scratch copy of the workflow."""

import copy
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = yaml.safe_load((REPO / "tests/config/tiny.yaml").read_text())


def snakemake(cwd, *args) -> str:
    proc = subprocess.run([str(BIN / "snakemake"), "--cores", "2", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc.stdout


def planned_jobs(cwd) -> int:
    m = re.search(r"^total\s+(\d+)", snakemake(cwd, "-n"), re.MULTILINE)
    return int(m.group(1)) if m else 0


def timed(fn, repeat=3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


with tempfile.TemporaryDirectory() as tmp:
    wf = Path(tmp)
    for name in ("Snakefile", "workflow", "src", "envs"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, wf / name)
    (wf / "config").mkdir()
    cfg_path = wf / "config/config.yaml"
    cfg_path.write_text(yaml.safe_dump(TINY))
    total = planned_jobs(wf)
    t_run = timed(lambda: snakemake(wf), repeat=1)
    t_dry = timed(lambda: snakemake(wf, "-n"))
    t_floor = timed(lambda: subprocess.run([str(BIN / "snakemake"), "--version"], capture_output=True))
    print(f"tiny config: {total} jobs, full run {t_run:.1f} s")
    print(
        f"snakemake -n on the up-to-date tree: {t_dry:.2f} s, {planned_jobs(wf)} jobs planned; "
        f"{t_dry / t_floor:.1f}x the {t_floor:.2f} s of `snakemake --version`"
    )

    def change(path, value):
        cfg = copy.deepcopy(TINY)
        section = cfg
        for key in path[:-1]:
            section = section[key]
        section[path[-1]] = value
        cfg_path.write_text(yaml.safe_dump(cfg))
        try:
            return planned_jobs(wf)
        finally:
            cfg_path.write_text(yaml.safe_dump(TINY))

    for path, value in [
        (("experiments", "a", "train", "members"), 3),
        (("experiments", "b", "model", "width"), 32),
        (("experiments", "b", "ridge"), 0.3),
        (("experiments", "a", "train", "checkpoint_minutes"), 1),
        (("spectra", "s", "depths"), [2, 4]),
    ]:
        n = change(path, value)
        print(f"change {'.'.join(path)} -> {value}: {n} of {total} jobs rerun ({n / total:.0%})")
