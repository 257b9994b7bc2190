"""Real small or read-only file systems (tmpfs) for fault tests. Mounting needs root; without it the tests skip,
unless NNFT_CI=1 (set by .ci/run), where they must run."""

import contextlib
import os
import subprocess

import pytest


@contextlib.contextmanager
def tmpfs(path, options: str):
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        if os.environ.get("NNFT_CI") == "1":
            pytest.fail(f"cannot mount a tmpfs in CI: {proc.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)
