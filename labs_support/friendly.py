"""Learner mistakes shown as short, specific messages instead of tracebacks (in IPython kernels).

`install()` registers an IPython custom exception handler for the errors a learner can cause: the
course's own LabErrors, AWS errors answered by the sandbox (ClientError: the real service message,
which is the lesson), boto3 parameter mistakes, missing credentials (no sandbox running), YAML typos
and names used before the cell that defines them ran. The cell still fails (Run All stops there and
the test suite notices); only the display changes. `%tb` shows the full traceback when wanted.
"""

from __future__ import annotations

import html
from typing import Any

import yaml
from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
)

from .errors import LabError, message_box

_CLIENT_ERROR_HINTS = {
    "ValidationError": "The message above is what CloudFormation (or the service) rejected: fix the template "
    "or the call, then run the cell again.",
    "AlreadyExistsException": "A stack with that name already exists. Delete it first, or run the notebook "
    "from its sandbox cell again, which starts from an empty sandbox.",
    "InsufficientCapabilitiesException": "The template creates IAM resources: acknowledge that by passing "
    "Capabilities=['CAPABILITY_IAM'] (or ['CAPABILITY_NAMED_IAM'] for IAM resources with custom names).",
    "AccessDenied": "The caller is not allowed to do this. In a cross-account step, check which account's "
    "client you used (sb.client(..., account=...)) and the role's trust policy.",
    "SandboxNotSupported": "This is a limit of the course sandbox, not of AWS; the notebook says what AWS does.",
}
_TRACEBACK_NOTE = "(Run %tb in a new cell to see the full traceback.)"


def describe(error: BaseException) -> tuple[str, str, str | None]:
    """(title, message, hint) for an error a learner can cause."""
    if isinstance(error, LabError):
        return error.title, error.message, error.hint
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "Error")
        operation = getattr(error, "operation_name", "the call")
        return (
            f"AWS answered {code} ({operation})",
            details.get("Message", str(error)),
            _CLIENT_ERROR_HINTS.get(code),
        )
    if isinstance(error, ParamValidationError):
        return (
            "boto3 rejected the call before sending it",
            str(error.kwargs.get("report", error)).strip(),
            "Check the parameter names and types of this operation in the boto3 documentation.",
        )
    if isinstance(error, (NoCredentialsError, PartialCredentialsError, ProfileNotFound, NoRegionError)):
        return (
            "No sandbox is running",
            f"boto3 looked for AWS credentials and configuration and found none it can use: {error}",
            "Run the notebook's sandbox cell first: sb = ls.start_sandbox()",
        )
    if isinstance(error, yaml.YAMLError):
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return (
            "This YAML is not well-formed",
            f"{error}".strip() + f"\n(problem{where})",
            ("YAML is indentation-sensitive: check the indentation and the colons on that line and the one above."),
        )
    if isinstance(error, NameError):
        name = getattr(error, "name", None) or str(error)
        return (
            f"'{name}' is not defined yet",
            f"This cell uses {name}, which a cell above defines (or it is misspelled).",
            "Run the cells above this one first: Run ▸ Run All Above Selected Cell, starting with the sandbox "
            "cell. If they ran, check the spelling.",
        )
    return type(error).__name__, str(error), None


FRIENDLY_TYPES: tuple[type[BaseException], ...] = (
    LabError,
    ClientError,
    ParamValidationError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    NoRegionError,
    yaml.YAMLError,
    NameError,
)


def _handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    title, message, hint = describe(value)
    try:
        from IPython.display import HTML, display

        display(HTML(message_box(title, message, hint) + f"<small>{html.escape(_TRACEBACK_NOTE)}</small>"))
        return []  # the box says it all; the cell is still reported as failed
    except Exception:
        lines = [f"{title}: {message}"]
        return [*lines, f"Hint: {hint}"] if hint else lines


_installed = False


def install() -> None:
    """Register the handler in the running IPython kernel, if there is one (idempotent)."""
    global _installed
    if _installed:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.set_custom_exc(FRIENDLY_TYPES, _handler)
    _installed = True
