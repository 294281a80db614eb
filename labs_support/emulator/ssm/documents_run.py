"""Running an SSM Command document on one simulated host: parameters, steps (plugins), outputs.

A document's steps are its plugins: schema 1.2 documents list them under runtimeConfig (the plugin is named
after its action, e.g. aws:runShellScript), 2.x documents under mainSteps (named after the step). A step's
`precondition` on platformType is honoured (a step for another platform is skipped, with the agent's
message). `{{ name }}` takes the parameter's value (a StringList parameter standing alone becomes the list),
and `{{ssm:/name}}` a Parameter Store value of the node's account and Region, as Run Command resolves it
(https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-param-runcommand.html).

Actions are functions registered in ACTIONS; documents that AWS runs with its own scripts (AWS-RunPatchBaseline)
register a whole-document handler in DOCUMENT_HANDLERS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import shell
from .hosts import AGENT_VERSION, Host


@dataclass
class PluginResult:
    """One step's outcome on one node (a CommandPlugin of ListCommandInvocations)."""

    name: str
    status: str  # Success | Failed | TimedOut | Cancelled
    response_code: int
    stdout: str = ""
    stderr: str = ""
    lab_seconds: float = 1.0
    status_details: str = ""
    skipped: bool = False

    def __post_init__(self) -> None:
        self.status_details = self.status_details or {"TimedOut": "Execution Timed Out"}.get(self.status, self.status)


@dataclass
class RunContext:
    """What a step may need besides the host: who runs it, where, and the parameters given."""

    account_id: str
    region: str
    instance: Any
    document_name: str
    parameters: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


Action = Callable[[Host, dict[str, Any], RunContext, str], PluginResult]
ACTIONS: dict[str, Action] = {}
DOCUMENT_HANDLERS: dict[str, Callable[[Host, RunContext], list[PluginResult]]] = {}


class ParameterError(ValueError):
    """Parameters given do not match the document (becomes InvalidParameters)."""


def content_of(document: Any) -> dict[str, Any]:
    """A moto Document's content as a dict."""
    if getattr(document, "content_json", None) is not None:
        return document.content_json
    text = document.content
    return json.loads(text) if document.document_format == "JSON" else yaml.safe_load(text)


def resolve_parameters(content: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The document's parameters with defaults filled in; unknown, missing or disallowed values refused."""
    declared: dict[str, Any] = content.get("parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParameterError(f"Parameter(s) {', '.join(unknown)} are not valid for this document.")  # wording ours
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            value = given[name]
        elif "default" in spec:
            value = spec["default"]
        else:
            raise ParameterError(f"Required parameter(s) {name} were not provided.")  # wording ours
        if spec.get("type") in ("String", "Boolean", "Integer") and isinstance(value, list):
            value = value[0] if len(value) == 1 else value
        allowed = spec.get("allowedValues")
        if allowed and value not in allowed and not (isinstance(value, list) and all(v in allowed for v in value)):
            raise ParameterError(f"Parameter {name} value {value!r} is not one of {allowed}.")  # wording ours
        values[name] = value
    return values


_PLACEHOLDER = re.compile(r"\{\{\s*([\w:./\-]+)\s*\}\}")


def substitute(value: Any, params: dict[str, Any], ssm_lookup: Callable[[str], str] | None = None) -> Any:
    """Replace {{ name }} (and {{ssm:/name}}) in a step's inputs."""
    if isinstance(value, dict):
        return {k: substitute(v, params, ssm_lookup) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            replaced = substitute(item, params, ssm_lookup)
            out.extend(replaced if isinstance(replaced, list) and isinstance(item, str) else [replaced])
        return out
    if not isinstance(value, str):
        return value
    whole = _PLACEHOLDER.fullmatch(value.strip())
    if whole and whole.group(1) in params:
        return params[whole.group(1)]

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("ssm:") and ssm_lookup is not None:
            return ssm_lookup(name[4:])
        if name in params:
            v = params[name]
            return "\n".join(map(str, v)) if isinstance(v, list) else str(v)
        return match.group(0)

    return _PLACEHOLDER.sub(one, value)


def steps_of(content: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
    """(plugin name, action, inputs, precondition) for each step of a Command document."""
    if str(content.get("schemaVersion")) == "1.2":
        steps = []
        for action, config in (content.get("runtimeConfig") or {}).items():
            for props in config.get("properties", []) or [{}]:
                steps.append((action, action, props, None))
        return steps
    return [
        (s.get("name", s["action"]), s["action"], s.get("inputs") or {}, s.get("precondition"))
        for s in content.get("mainSteps") or []
    ]


def run_document(
    host: Host, content: dict[str, Any], ctx: RunContext, ssm_lookup: Callable[[str], str]
) -> list[PluginResult]:
    """Run every step of the document on the host, in order; a failed step stops the rest (AWS's default)."""
    ctx.parameters = {k: _resolve_ssm(v, ssm_lookup) for k, v in ctx.parameters.items()}
    handler = DOCUMENT_HANDLERS.get(ctx.document_name)
    if handler is not None:
        return handler(host, ctx)
    results: list[PluginResult] = []
    failed = False
    for name, action, inputs, precondition in steps_of(content):
        if failed:
            results.append(
                PluginResult(name, "Failed", -1, "", "Step skipped: an earlier step failed.", 0, "Skipped")
            )  # wording ours
            continue
        if precondition and not _precondition_holds(precondition, host):
            text = (
                "Step execution skipped due to unsatisfied preconditions: "
                f"'{json.dumps(precondition)}' failed for step {name}"
            )
            results.append(PluginResult(name, "Success", 0, text, "", 0, "Success", skipped=True))
            continue
        resolved = substitute(inputs, ctx.parameters, ssm_lookup)
        fn = ACTIONS.get(action)
        if fn is None:
            result = PluginResult(name, "Failed", -1, "", f"The course sandbox does not run the {action} action.")
        else:
            result = fn(host, resolved, ctx, name)
        results.append(result)
        failed = result.status != "Success"
    return results


def _resolve_ssm(value: Any, ssm_lookup: Callable[[str], str]) -> Any:
    """{{ssm:name}} inside a parameter's value, resolved before the document runs."""
    if isinstance(value, list):
        return [_resolve_ssm(v, ssm_lookup) for v in value]
    if isinstance(value, str) and "{{" in value:
        return _PLACEHOLDER.sub(
            lambda m: ssm_lookup(m.group(1)[4:]) if m.group(1).startswith("ssm:") else m.group(0), value
        )
    return value


def _precondition_holds(precondition: dict[str, Any], host: Host) -> bool:
    for operator, operands in precondition.items():
        if operator == "StringEquals" and len(operands) == 2 and operands[0] == "platformType":
            return host.platform_type == operands[1]
    return True


# -- actions ------------------------------------------------------------------------------------------------
def _script_action(platform: str) -> Action:
    def run(host: Host, inputs: dict[str, Any], ctx: RunContext, name: str) -> PluginResult:
        if (platform == "Linux") == host.is_windows:
            # wording ours: the agent refuses a shell plugin on the other platform
            return PluginResult(
                name, "Failed", 1, "", f"Plugin {name} is not supported on this platform ({host.platform_type})."
            )
        commands = inputs.get("runCommand") or inputs.get("commands") or []
        timeout = float(inputs.get("timeoutSeconds") or 3600)
        result = shell.run(host, commands if isinstance(commands, list) else [commands])
        if result.lab_seconds > timeout:
            return PluginResult(
                name,
                "TimedOut",
                -1,
                result.stdout,
                result.stderr + "\nfailed to run commands: exit status -1\n",
                timeout,
            )
        status = "Success" if result.exit_code == 0 else "Failed"
        stderr = result.stderr
        if result.exit_code != 0:
            stderr += f"failed to run commands: exit status {result.exit_code}\n"
        return PluginResult(name, status, result.exit_code, result.stdout, stderr, result.lab_seconds)

    return run


def _configure_package(host: Host, inputs: dict[str, Any], ctx: RunContext, name: str) -> PluginResult:
    package, action = str(inputs.get("name", "")), inputs.get("action", "Install")
    known = {"AmazonCloudWatchAgent": "amazon-cloudwatch-agent", "AWSCodeDeployAgent": "codedeploy-agent"}
    target = known.get(package, package)
    if action == "Install":
        if target not in shell.CATALOG and target != "codedeploy-agent":
            return PluginResult(
                name, "Failed", 1, "", f"Failed to retrieve manifest: could not find package {package}\n"
            )  # wording ours
        version = shell.CATALOG.get(target, ("1.7.1",))[0]
        host.packages[target] = version
        return PluginResult(
            name,
            "Success",
            0,
            f"Initiating {package} {version} install\nSuccessfully installed {package} {version}\n",
            "",
            20,
        )
    host.packages.pop(target, None)
    return PluginResult(name, "Success", 0, f"Successfully uninstalled {package}\n", "", 10)


def _update_agent(host: Host, inputs: dict[str, Any], ctx: RunContext, name: str) -> PluginResult:
    before = host.agent_version
    if before == AGENT_VERSION:
        return PluginResult(
            name, "Success", 0, f"amazon-ssm-agent {before} has already been installed, update skipped\n", "", 5
        )
    host.install_agent()
    return PluginResult(
        name,
        "Success",
        0,
        f"Updating amazon-ssm-agent from {before} to {AGENT_VERSION}\n"
        f"Successfully installed amazon-ssm-agent {AGENT_VERSION}\n",
        "",
        60,
    )


ACTIONS.update(
    {
        "aws:runShellScript": _script_action("Linux"),
        "aws:runPowerShellScript": _script_action("Windows"),
        "aws:configurePackage": _configure_package,
        "aws:updateSsmAgent": _update_agent,
    }
)
