"""Lab checks: each says PASS or NOT YET in one line and, when not yet, names what to look at.

A module's checks live in labs_support/labs/<module>.py:

    @lab_check("cfn-templates.network", title="The network stack is deployed with its exports")
    def network(sb: Sandbox) -> str:
        ...                                   # read the sandbox with the real APIs
        if problem:
            raise CheckFailed("what is wrong", hint="what to look at")
        return "what is right"

and a notebook runs one with `ls.check("cfn-templates.network")`. A learner's mistake never surfaces as
a traceback: a missing sandbox, an AWS error or a bug in the check itself all become a NOT YET line.

Under the test suite the environment variable LABS_SUPPORT_EXPECT says what the notebook run must show:
"untouched" (the committed notebook: exercise checks fail with a hint, every other check passes) or
"solved" (reference solutions in place: every check passes). A check that disagrees raises, so nbval
fails the run; a check that cannot fail is a defect this catches.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from .course import load_course
from .errors import LabError, SandboxNotRunning, message_box
from .sandbox import Sandbox, current_sandbox

EXPECT_ENV_VAR = "LABS_SUPPORT_EXPECT"


class CheckFailed(Exception):
    """Raised by a check function: what is not right yet, and a hint that names what to look at."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class CheckExpectationError(AssertionError):
    """In a test run, a check did not give the result the notebook run must give."""


@dataclass(frozen=True)
class CheckSpec:
    """A registered check."""

    id: str
    title: str
    exercise: bool
    function: Callable[[Sandbox], str | None]

    @property
    def module(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass(frozen=True, repr=False)
class CheckResult:
    """The outcome of running a check."""

    check_id: str
    title: str
    passed: bool
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "NOT YET"
        text = f"[{mark}] {self.title}: {self.message}"
        return f"{text}\n  Hint: {self.hint}" if self.hint else text

    __repr__ = __str__

    def _repr_html_(self) -> str:
        if self.passed:
            return message_box(f"✔ PASS · {self.title}", self.message, kind="ok")
        return message_box(f"✘ NOT YET · {self.title}", self.message, self.hint, kind="warning")


_REGISTRY: dict[str, CheckSpec] = {}


def lab_check(check_id: str, *, title: str, exercise: bool = False) -> Callable:
    """Register a check function under an id '<module>.<name>' (the module must be in course.yaml)."""

    def register(function: Callable[[Sandbox], str | None]) -> Callable[[Sandbox], str | None]:
        _REGISTRY[check_id] = CheckSpec(check_id, title, exercise, function)
        return function

    return register


def _load_lab_modules() -> None:
    from . import labs

    for info in pkgutil.iter_modules(labs.__path__):
        importlib.import_module(f"{labs.__name__}.{info.name}")


def registry() -> dict[str, CheckSpec]:
    """Every check of the course, by id."""
    _load_lab_modules()
    return dict(_REGISTRY)


def check_domains() -> dict[str, int]:
    """check id -> exam domain (the progress dashboard counts these)."""
    course = load_course()
    return {cid: course.module(spec.module).domain for cid, spec in registry().items()}


def run_check(check_id: str) -> CheckResult:
    """Run a check and return its result (nothing is shown or recorded)."""
    checks = registry()
    if check_id not in checks:
        known = ", ".join(sorted(checks)) or "none"
        return CheckResult(
            check_id, check_id, False, f"There is no check called '{check_id}'.", f"Checks of the course: {known}."
        )
    spec = checks[check_id]
    try:
        sandbox = current_sandbox()
        message = spec.function(sandbox) or "Everything the check looks for is in place."
        return CheckResult(check_id, spec.title, True, message)
    except CheckFailed as e:
        return CheckResult(check_id, spec.title, False, e.message, e.hint)
    except SandboxNotRunning as e:
        return CheckResult(check_id, spec.title, False, e.message, e.hint)
    except LabError as e:
        return CheckResult(check_id, spec.title, False, e.message, e.hint)
    except ClientError as e:
        error = e.response.get("Error", {})
        return CheckResult(
            check_id,
            spec.title,
            False,
            f"The check asked AWS and got {error.get('Code', 'an error')}: {error.get('Message', e)}",
            "Did every lab cell above run without an error? Run them again from the sandbox cell down.",
        )
    except (BotoCoreError, Exception) as e:  # a bug in the check must not look like the learner's fault
        if os.environ.get(EXPECT_ENV_VAR):
            raise
        return CheckResult(
            check_id,
            spec.title,
            False,
            f"The check itself ran into a problem ({type(e).__name__}: {e}). This is a fault in the course.",
            "Run the lab cells above again; if this message stays, please report it.",
        )


def _expectation(spec: CheckSpec | None, result: CheckResult) -> None:
    expect = os.environ.get(EXPECT_ENV_VAR)
    if not expect or spec is None:
        return
    if expect == "untouched" and spec.exercise:
        if result.passed:
            raise CheckExpectationError(f"{spec.id} passes on the untouched exercise: it cannot fail.")
        if not result.hint:
            raise CheckExpectationError(f"{spec.id} fails without a hint: {result.message}")
        return
    if not result.passed:
        raise CheckExpectationError(f"{spec.id} should pass in this run but says: {result}")


def _record(spec: CheckSpec | None, result: CheckResult) -> None:
    if spec is None:
        return
    try:
        from .progress import default_store

        default_store().record_check(
            check_id=spec.id,
            module=spec.module,
            domain=load_course().module(spec.module).domain,
            passed=result.passed,
            message=result.message,
        )
    except Exception:
        pass


def check(check_id: str) -> None:
    """Run a lab check, show PASS or NOT YET with a hint, and record a pass in the learner's progress."""
    result = run_check(check_id)
    spec = _REGISTRY.get(check_id)
    _record(spec, result)
    _show(result)
    _expectation(spec, result)


def _show(result: CheckResult) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(result)
            return
    except ImportError:
        pass
    print(result)
