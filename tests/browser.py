"""Debian's headless Chromium driven through chromedriver (selenium), for the report test. Installing the packages
needs root; elsewhere the test is skipped, except in CI (NNFT_CI=1), where it must run."""

import os
import shutil
import subprocess

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# flags for a closed network and no display (without the background-networking ones Chromium retries connections)
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1100",
)


def _unavailable(reason: str):
    if os.environ.get("NNFT_CI") == "1":
        pytest.fail(f"the browser test must run in CI: {reason}")
    pytest.skip(reason)


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver if they are missing (root only)."""
    if shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER):
        return
    if os.geteuid() != 0:
        _unavailable("installing Debian's chromium needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "chromium-driver"],
    ):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            _unavailable(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")


def driver(user_data_dir):
    """A headless Chromium webdriver with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + (f"--user-data-dir={user_data_dir}",):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
