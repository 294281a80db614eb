"""The fidelity layer: where moto falls short of AWS, these modules make the sandbox answer as AWS does.

One module per service or behaviour. `install()` applies them once per process, before the first
sandbox starts. Every patch here is written against moto PINNED_MOTO; if a different moto is installed
the layer refuses to start (a test fails loudly too), because a silent mismatch would teach learners
behaviour AWS does not have.
"""

from __future__ import annotations

import moto

PINNED_MOTO = "5.2.5"
_installed = False


class MotoVersionMismatch(RuntimeError):
    """The installed moto is not the version the fidelity layer was written and tested against."""


def check_moto_version() -> None:
    """Raise MotoVersionMismatch unless the pinned moto is installed."""
    if moto.__version__ != PINNED_MOTO:
        raise MotoVersionMismatch(
            f"labs_support's emulator patches moto {PINNED_MOTO}, but moto {moto.__version__} is installed. "
            "Install the pinned versions: pip install -r requirements.txt"
        )


def install() -> None:
    """Apply every fidelity module (idempotent)."""
    global _installed
    if _installed:
        return
    check_moto_version()
    from . import ec2_offerings

    ec2_offerings.install()  # before anything imports moto's EC2 models
    from . import awslambda, cloudformation, iam, parameter_store, sts

    awslambda.install()
    iam.install()
    sts.install()
    cloudformation.install()
    parameter_store.install()
    from . import ec2_instances, events_targets, ssm

    ec2_instances.install()
    ssm.install()
    events_targets.install()
    from . import autoscaling, imagebuilder

    autoscaling.install()
    imagebuilder.install()
    _installed = True
