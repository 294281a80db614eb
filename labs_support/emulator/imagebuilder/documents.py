"""Component documents (AWSTOE YAML or JSON): checked when the component is created, run during a build.

https://docs.aws.amazon.com/imagebuilder/latest/userguide/create-component-yaml.html: a document has phases of
steps; Image Builder runs the build and validate phases in the Build stage and the test phase in the Test stage.
A component whose document has exactly one phase, named test, is a test component; any other is a build
component (whose own test phase runs in the Test stage).

AWS validates the document at CreateComponent (a bad step name is refused with "The value supplied for parameter
'data' is not valid. Invalid step name ..."), so a document that is not YAML, or not shaped as phases of named
steps, is refused there too; the step-name detail is AWS's, the other details are ours.

Running a step is simulated, deterministically: an ExecuteBash or ExecutePowerShell step fails when one of its
command lines is exactly `exit N` with N not 0 (194 on Linux and 3010 on Windows ask AWSTOE for a reboot, so they
do not fail). A step with `onFailure: Continue` or `onFailure: Ignore` does not stop its phase. Everything else
succeeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import invalid_value

_STEP_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_EXIT = re.compile(r"^\s*exit\s+(-?[0-9]+)\s*(?:#.*)?$")
_SCRIPT_ACTIONS = {"ExecuteBash": "194", "ExecutePowerShell": "3010"}  # action -> its "reboot" exit code


def parse(data: str) -> dict[str, Any]:
    """Parse and check a component document; raise InvalidParameterValueException('data') as AWS does."""
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as error:
        problem = str(error).splitlines()[0]
        raise invalid_value("data", f"The document is not valid YAML or JSON: {problem}.") from None  # wording ours
    if not isinstance(document, dict):
        raise invalid_value("data", "The document must be a YAML or JSON object.")  # wording ours
    if str(document.get("schemaVersion")) not in ("1.0", "1"):
        raise invalid_value("data", "The document must declare schemaVersion: 1.0.")  # wording ours
    phases = document.get("phases")
    if not isinstance(phases, list) or not phases:
        raise invalid_value("data", "The document must have a list of phases.")  # wording ours
    for phase in phases:
        if not isinstance(phase, dict) or not isinstance(phase.get("name"), str):
            raise invalid_value("data", "Every phase must have a name.")  # wording ours
        steps = phase.get("steps")
        if not isinstance(steps, list) or not steps:
            raise invalid_value("data", f"Phase '{phase['name']}' must have a list of steps.")  # wording ours
        for step in steps:
            name = step.get("name") if isinstance(step, dict) else None
            if not isinstance(name, str) or not _STEP_NAME.match(name):
                raise invalid_value(
                    "data",
                    f"Invalid step name '{name}' in phase '{phase['name']}'. Allowed characters are combinations "
                    "of numbers [0-9], english letters [a-z,A-Z] and special characters [-_].",
                )
            if not isinstance(step.get("action"), str):
                raise invalid_value("data", f"Step '{name}' in phase '{phase['name']}' has no action.")  # ours
    return document


def component_type(document: dict[str, Any]) -> str:
    """TEST for a document whose only phase is test, BUILD otherwise (AWS's rule)."""
    phases = document["phases"]
    return "TEST" if len(phases) == 1 and phases[0]["name"] == "test" else "BUILD"


def parameter_names(document: dict[str, Any]) -> set[str]:
    """The input parameters a document declares (a list of one-key mappings)."""
    names: set[str] = set()
    for entry in document.get("parameters") or []:
        if isinstance(entry, dict):
            names.update(str(k) for k in entry)
    return names


@dataclass
class StepFailure:
    """A step that failed: where, and AWSTOE's reason."""

    phase: str
    step: str
    action: str
    message: str


def run_phase(document: dict[str, Any], phase_name: str) -> StepFailure | None:
    """Run a phase's steps (simulated); the first failing step that may stop the phase, or None."""
    for phase in document["phases"]:
        if phase["name"] != phase_name:
            continue
        for step in phase["steps"]:
            code = _failing_exit_code(step)
            if code is None:
                continue
            if str(step.get("onFailure", "Abort")).lower() in ("continue", "ignore"):
                continue
            # wording ours
            message = f"Command execution failed with an exit code of {code}."
            return StepFailure(phase_name, step["name"], step["action"], message)
    return None


def _failing_exit_code(step: dict[str, Any]) -> str | None:
    action = step.get("action")
    if action not in _SCRIPT_ACTIONS:
        return None
    inputs = step.get("inputs") or {}
    commands: list[Any] = []
    for block in inputs if isinstance(inputs, list) else [inputs]:
        if isinstance(block, dict):
            value = block.get("commands") or []
            commands.extend(value if isinstance(value, list) else [value])
    for command in commands:
        for line in str(command).splitlines():
            m = _EXIT.match(line)
            if m and m.group(1) not in ("0", _SCRIPT_ACTIONS[action]):
                return m.group(1)
    return None
