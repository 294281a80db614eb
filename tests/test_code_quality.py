"""The code base stays ruff-clean (the same configuration a developer runs)."""

from __future__ import annotations

import subprocess
import sys

from labs_support.paths import REPO_DIR


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(REPO_DIR)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
