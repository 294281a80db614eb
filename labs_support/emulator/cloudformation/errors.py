"""CloudFormation's error responses, worded as AWS words them.

`ValidationError`s are raised from the API call itself (the request is rejected); a `ResourceFailure`
happens while a stack operation runs and ends up as a *_FAILED event and a rollback, as on AWS.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import CloudFormationError


class ValidationError(CloudFormationError):
    code = "ValidationError"


class AlreadyExistsException(CloudFormationError):
    code = "AlreadyExistsException"


class InsufficientCapabilitiesException(CloudFormationError):
    code = "InsufficientCapabilitiesException"


class SandboxNotSupported(CloudFormationError):
    """Something AWS does that this sandbox does not emulate: said plainly, never faked."""

    code = "SandboxNotSupported"


class ResourceFailure(Exception):
    """A resource could not be created, updated or deleted: becomes its *_FAILED status reason.

    `provisioned` is what exists despite the failure (a custom resource that answered FAILED still names a
    physical id), so that a rollback deletes it.
    """

    def __init__(self, reason: str, provisioned: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provisioned = provisioned


class PropertyValidationFailure(ResourceFailure):
    """The resource's properties do not match its registry schema (AWS checks before provisioning)."""


class StackFailure(Exception):
    """The operation failed before (or outside) any one resource: the stack's own status reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def template_format_error(message: str) -> ValidationError:
    """A ValidationError for a template AWS would reject before creating anything."""
    return ValidationError(message)
