"""CloudFormation as AWS behaves: an engine of our own on top of moto's resource models.

moto's own stack code gets lifecycle, validation and exports wrong in ways a professional-level lab
cannot live with (see moto-gaps.md): failures leave stacks stuck, one bad Fn::GetAtt silences every
output, exports in use can be deleted. The engine here re-implements the stack lifecycle with AWS's
statuses, events and error messages, and reuses moto's per-type models to create the real resources.
"""

from __future__ import annotations

import warnings


def install() -> None:
    """Route the CloudFormation API to the engine."""
    # importing these registers their providers (after resources.py's own, which they refine)
    from . import api, cdk_metadata, moto_gaps, s3_bucket_policy  # noqa: F401

    # moto warns when it serializes an error code that its botocore model does not list (AccessDenied
    # from STS, SandboxNotSupported from here); the learner sees the error itself, not the warning.
    warnings.filterwarnings("ignore", message=r"Exception\(.*\) with code .* does not match an error shape")
    api.install()
