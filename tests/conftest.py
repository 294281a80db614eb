"""Fixtures the emulator's test modules share: one sandbox per module, its common clients, an SSM instance profile.

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


@pytest.fixture(scope="module")
def ssm(sb: Sandbox) -> Any:
    """The sandbox's Systems Manager client (a module may override it to prepare documents)."""
    return sb.client("ssm")


@pytest.fixture(scope="module")
def ec2(sb: Sandbox) -> Any:
    return sb.client("ec2")


@pytest.fixture(scope="module")
def iam(sb: Sandbox) -> Any:
    return sb.client("iam")


@pytest.fixture(scope="module")
def profile(sb: Sandbox) -> str:
    """An instance profile that makes instances managed nodes (AmazonSSMManagedInstanceCore)."""
    return labs_support.ssm_instance_profile(sb)
