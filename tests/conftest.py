"""Fixtures the emulator's test modules share: one sandbox per module and its CloudFormation client.

A module that needs its sandbox prepared (a bucket of templates, a faster lab clock) overrides `sb`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import labs_support
from labs_support.sandbox import Sandbox


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """One sandbox for the module, stopped at the end."""
    sandbox = labs_support.start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def cfn(sb: Sandbox) -> Any:
    """The sandbox's CloudFormation client (default Region, management account)."""
    return sb.client("cloudformation")
