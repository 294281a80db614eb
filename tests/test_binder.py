"""Binder (repo2docker) installs the same pins on Python 3.11 and opens the start notebook."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from labs_support.paths import REPO_DIR

BINDER = REPO_DIR / "binder"


def test_binder_uses_python_3_11_and_the_repository_pins():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    lines = [line for line in (BINDER / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines == ["-r ../requirements.txt"]
    assert "-e ." in (REPO_DIR / "requirements.txt").read_text().splitlines()


def test_binder_post_build_is_tiny_and_opens_the_start_notebook():
    post_build = (BINDER / "postBuild").read_text()
    assert "00-start-here.ipynb" in post_build
    assert (REPO_DIR / "notebooks" / "00-start-here.ipynb").exists()
    assert "pip install" not in post_build  # installs belong in requirements (cached layers)


def test_repo2docker_reads_the_configuration():
    """`repo2docker --no-build --debug .` prints the Dockerfile it would build (no Docker needed)."""
    exe = shutil.which("repo2docker", path=str(Path(sys.executable).parent))
    assert exe, "jupyter-repo2docker is pinned in requirements.txt"
    result = subprocess.run(
        [exe, "--no-build", "--debug", "."], cwd=REPO_DIR, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-2000:]
    assert "python=3.11" in output
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in output
    assert "binder/postBuild" in output
