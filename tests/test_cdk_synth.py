"""Unit tests of labs_support.cdk: the notebook's `cdk synth` says what went wrong in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs_support.cdk import synth
from labs_support.errors import LabError


def test_a_missing_app_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="There is no CDK app"):
        synth(tmp_path / "app.py", tmp_path / "cdk.out")


def test_an_app_that_fails_shows_the_end_of_its_error(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("raise ValueError('bucket names must be lowercase')\n")
    with pytest.raises(LabError, match="bucket names must be lowercase"):
        synth(app, tmp_path / "cdk.out")


def test_an_app_that_never_synthesizes_is_told_so(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("print('no app.synth() here')\n")
    with pytest.raises(LabError, match=r"app\.synth\(\)"):
        synth(app, tmp_path / "cdk.out")
