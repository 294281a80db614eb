"""Automation step actions: what each `action:` of a runbook does in the sandbox.

Reference: https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html and the page of
each action (automation-action-<name>.html). Steps that call AWS go through the sandbox's boto3 API in the
execution's account and Region, as Automation calls the service APIs; with an assumeRole, each call is first
checked against the role's identity policies (actions only: resources and conditions are not evaluated).

- aws:executeAwsApi: Service (boto3 client name), Api (operation, e.g. DescribeInstances), the operation's
  parameters (strings converted to the model's integers/booleans); `outputs` with Name, Selector (JSONPath on
  the response) and Type (String, Integer, Boolean, StringList, StringMap, MapList).
- aws:waitForAwsResourceProperty / aws:assertAwsResourceProperty: the same call, then PropertySelector against
  DesiredValues (compared as text: True/False for booleans, as the docs ask); wait polls until they match or the
  step times out (3600 s by default), assert fails at once.
- aws:changeInstanceState: InstanceIds, DesiredState running|stopped|terminated, CheckStateOnly (poll only),
  Force; polls DescribeInstanceStatus (the call AmazonSSMAutomationRole allows) until every instance is in the
  state, and for running until its status checks pass (3600 s by default). No outputs.
- aws:createImage: InstanceId, ImageName, ImageDescription, NoReboot, BlockDeviceMappings; a real AMI in the
  sandbox's EC2 whose instances start with the source host's contents; polls until available; outputs ImageId,
  ImageState.
- aws:runCommand: a real Run Command command (run_command.send) with the action's SendCommand inputs; waits for
  it; outputs CommandId, Status, ResponseCode and Output (the first node's output, 2,500 characters); the step
  fails unless the command ends Success.
- aws:branch: Choices (NextStep + StringEquals, EqualsIgnoreCase, StartsWith, EndsWith, Contains, Numeric*,
  BooleanEquals on Variable, or And / Or / Not), Default; no true choice and no Default: the next step.
- aws:sleep: Duration (ISO 8601, e.g. PT5M) or Timestamp, at most 7 days, on the lab clock.
- aws:approve / aws:pause: the execution waits (status Waiting) for SendAutomationSignal Approve|Reject or Resume.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from . import fleet as fleet_module
from . import hosts, run_command
from .automation_json import coerce, json_path, plain
from .automation_model import (
    Execution,
    Outcome,
    Step,
    StepCancelled,
    StepFailure,
    StepTimedOut,
    deadline_for,
    lab_sleep,
    role_of,
    wait_real,
)
from .backend import FleetBackend

POLL_SECONDS = 15.0  # how often Automation looks again at a resource it waits for (lab time)
TRANSITION_SECONDS = {"stopped": 45.0, "running": 90.0, "terminated": 45.0}  # running includes status checks
IMAGE_SECONDS = 180.0  # an AMI of a small root volume becomes available in a few minutes
REBOOT_SECONDS = 60.0
MAX_SLEEP_SECONDS = 7 * 86400
OUTPUT_LIMIT = 2500
_CLIENTS: dict[tuple[Any, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()
# boto3 client name -> IAM service prefix, where they differ
_IAM_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing", "stepfunctions": "states"}


class Context:
    """What an action may use: the execution, its step, the sandbox's API, the lab clock."""

    def __init__(self, fleet: FleetBackend, execution: Execution, step: Step) -> None:
        self.fleet = fleet
        self.execution = execution
        self.step = step
        self.deadline = deadline_for(execution, step)

    def client(self, service: str) -> Any:
        """A boto3 client of the execution's account and Region (shared by executions: making one is slow)."""
        sandbox = self.execution.sandbox
        key = (
            id(sandbox),
            getattr(sandbox, "generation", 0),
            self.execution.account_id,
            self.execution.region,
            service,
        )
        with _CLIENTS_LOCK:
            if key not in _CLIENTS:
                if len(_CLIENTS) > 200:
                    _CLIENTS.clear()
                if sandbox is not None:
                    _CLIENTS[key] = sandbox.client(
                        service, region=self.execution.region, account=self.execution.account_id
                    )
                else:
                    import boto3

                    _CLIENTS[key] = boto3.client(service, region_name=self.execution.region)
            return _CLIENTS[key]

    def sleep(self, seconds: float) -> None:
        lab_sleep(self.execution, seconds, self.deadline)

    def wait_until(self, ready: Any) -> None:
        wait_real(self.execution, ready, self.deadline)

    def authorize(self, service: str, operation: str) -> None:
        """With an assumeRole, the role's identity policies must allow the call (AccessDenied otherwise)."""
        arn = self.execution.assume_role
        if not arn:
            return
        found = role_of(arn)
        if found is None:
            return
        role, iam = found
        action = f"{_IAM_PREFIX.get(service, service)}:{operation}"
        if fleet_module._allows(role, iam, action):
            return
        principal = f"arn:aws:sts::{iam.account_id}:assumed-role/{role.name}/{self.execution.execution_id}"
        code = "UnauthorizedOperation" if service == "ec2" else "AccessDeniedException"
        raise StepFailure(
            "Executing",
            f"An error occurred ({code}) when calling the {operation} operation: User: {principal} is not "
            f"authorized to perform: {action} because no identity-based policy allows the {action} action",
            "Unknown",
        )

    def call(self, service: str, api: str, params: dict[str, Any]) -> dict[str, Any]:
        """Call an AWS API as the automation (the sandbox's boto3); its response as plain JSON values."""
        try:
            client = self.client(service)
        except BotoCoreError as error:
            raise StepFailure("Executing", f"Unknown service {service}: {error}", "Unknown") from None
        method = xform_name(api)
        operation = client.meta.method_to_api_mapping.get(method)
        if operation is None:
            raise StepFailure("Executing", f"{api} is not an API operation of the {service} service", "Unknown")
        self.authorize(service, operation)
        shape = client.meta.service_model.operation_model(operation).input_shape
        try:
            response = getattr(client, method)(**coerce(shape, params))
        except ClientError as error:
            raise StepFailure("Executing", str(error), "Unknown") from None
        except BotoCoreError as error:  # e.g. a parameter the operation does not take
            raise StepFailure("Executing", str(error), "Unknown") from None
        return plain(response)


# -- aws:executeAwsApi ------------------------------------------------------------------------------------------
def execute_aws_api(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    params = dict(inputs)
    service, api = str(params.pop("Service", "")), str(params.pop("Api", ""))
    if not service or not api:
        raise StepFailure("Executing", "aws:executeAwsApi needs Service and Api inputs", "Unknown")
    response = ctx.call(service, api, params)
    outputs: dict[str, Any] = {}
    for spec in ctx.step.spec.get("outputs") or []:
        matches = json_path(response, str(spec.get("Selector", "$")))
        if matches:
            outputs[str(spec["Name"])] = _typed_output(str(spec["Name"]), str(spec.get("Type", "String")), matches)
    return Outcome(outputs=outputs)


def _typed_output(name: str, kind: str, matches: list[Any]) -> Any:
    value = matches[0] if len(matches) == 1 else matches
    try:
        if kind == "String":
            return (
                value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)
            )
        if kind == "Integer":
            return int(value)
        if kind == "Boolean":
            return value if isinstance(value, bool) else str(value).lower() == "true"
        if kind == "StringList":
            items = value if isinstance(value, list) else [value]
            return [v if isinstance(v, str) else json.dumps(v) if isinstance(v, dict | list) else str(v) for v in items]
        if kind == "StringMap":
            if not isinstance(value, dict):
                raise ValueError
            return value
        if kind == "MapList":
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(v, dict) for v in items):
                raise ValueError
            return items
    except (TypeError, ValueError):
        pass
    raise StepFailure("Executing", f"The output {name} ({value!r}) is not of type {kind}", "Unknown")  # ours


# -- aws:waitForAwsResourceProperty, aws:assertAwsResourceProperty ------------------------------------------------
def _property(ctx: Context, inputs: dict[str, Any]) -> tuple[list[Any], list[str]]:
    params = dict(inputs)
    service, api = str(params.pop("Service", "")), str(params.pop("Api", ""))
    selector = str(params.pop("PropertySelector", "$"))
    desired = params.pop("DesiredValues", [])
    desired = [_text(d) for d in (desired if isinstance(desired, list) else [desired])]
    matches = json_path(ctx.call(service, api, params), selector)
    if len(matches) == 1 and isinstance(matches[0], list):
        matches = matches[0]
    return matches, desired


def _text(value: Any) -> str:
    return str(value)  # Python's text: booleans are True / False, as the docs tell runbook authors to write them


def _holds(values: list[Any], desired: list[str]) -> bool:
    return bool(values) and all(_text(v) in desired for v in values)


def wait_for_property(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    while True:
        values, desired = _property(ctx, inputs)
        if _holds(values, desired):
            return Outcome()
        ctx.sleep(POLL_SECONDS)


def assert_property(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    values, desired = _property(ctx, inputs)
    if not _holds(values, desired):
        shown = ", ".join(repr(_text(v)) for v in values) or "(nothing: the selector matched no value)"
        # AWS's wording [observed]: "Property value 'False' from the API output is not in the desired values.
        # Desired values: ['True']."
        raise StepFailure(
            "Verifying",
            f"Property value {shown} from the API output is not in the desired values. Desired values: {desired}",
        )
    return Outcome()


# -- aws:changeInstanceState --------------------------------------------------------------------------------------
def change_instance_state(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    ids = _strings(inputs.get("InstanceIds"))
    desired = str(inputs.get("DesiredState", ""))
    if not ids or desired not in TRANSITION_SECONDS:
        raise StepFailure(
            "Executing", "aws:changeInstanceState needs InstanceIds and DesiredState running, stopped or terminated"
        )
    if not _truthy(inputs.get("CheckStateOnly", False)):
        api = {"running": "StartInstances", "stopped": "StopInstances", "terminated": "TerminateInstances"}[desired]
        params: dict[str, Any] = {"InstanceIds": ids}
        if desired == "stopped" and _truthy(inputs.get("Force", False)):
            params["Force"] = True
        ctx.call("ec2", api, params)
        ctx.sleep(TRANSITION_SECONDS[desired])
    while True:
        # DescribeInstanceStatus, as the AmazonSSMAutomationRole policy foresees (it has no ec2:DescribeInstances);
        # "running" also waits for the instance and system status checks to pass (automation-action-changestate)
        response = ctx.call("ec2", "DescribeInstanceStatus", {"InstanceIds": ids, "IncludeAllInstances": True})
        reached = {
            s["InstanceId"]
            for s in response["InstanceStatuses"]
            if s["InstanceState"]["Name"] == desired and (desired != "running" or _checks_ok(s))
        }
        if all(i in reached for i in ids):
            return Outcome()
        ctx.sleep(POLL_SECONDS)


def _checks_ok(status: dict[str, Any]) -> bool:
    return all(status.get(k, {}).get("Status", "ok") == "ok" for k in ("InstanceStatus", "SystemStatus"))


# -- aws:createImage ----------------------------------------------------------------------------------------------
def create_image(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    instance_id = (_strings(inputs.get("InstanceId")) or [""])[0]
    no_reboot = _truthy(inputs.get("NoReboot", False))
    params: dict[str, Any] = {
        "InstanceId": instance_id,
        "Name": str(inputs.get("ImageName", "")),
        "NoReboot": no_reboot,
    }
    if inputs.get("ImageDescription"):
        params["Description"] = str(inputs["ImageDescription"])
    if inputs.get("BlockDeviceMappings"):
        params["BlockDeviceMappings"] = inputs["BlockDeviceMappings"]
    image_id = ctx.call("ec2", "CreateImage", params)["ImageId"]
    instance = fleet_module.find_instance(ctx.execution.account_id, ctx.execution.region, instance_id)
    if instance is not None:
        host = hosts.host_for(instance)
        with host.lock:
            hosts.remember_image_contents(image_id, host)
            if not no_reboot:
                host.reboots += 1  # CreateImage shuts the instance down for a consistent image, then starts it
    if not no_reboot:
        ctx.sleep(REBOOT_SECONDS)
    ctx.sleep(IMAGE_SECONDS)
    while True:
        images = ctx.call("ec2", "DescribeImages", {"ImageIds": [image_id]})["Images"]
        state = images[0]["State"] if images else "missing"
        if state == "available":
            return Outcome(outputs={"ImageId": image_id, "ImageState": state})
        if state in ("failed", "missing", "deregistered"):
            raise StepFailure("Verifying", f"Image {image_id} is {state}")
        ctx.sleep(POLL_SECONDS)


# -- aws:runCommand -----------------------------------------------------------------------------------------------


def run_command_step(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    request = {k: inputs.get(k) for k in run_command.SEND_COMMAND_FIELDS}
    if request["InstanceIds"] is not None:
        request["InstanceIds"] = _strings(request["InstanceIds"])
    ctx.authorize("ssm", "SendCommand")
    try:
        command = run_command.send(ctx.fleet, request, replay=ctx.execution.timeline)
    except run_command.InvalidTarget as error:
        raise StepFailure(
            "Executing",
            f"An error occurred ({error.code}) when calling the SendCommand operation: {error.message}",
            "Unknown",
        ) from None
    try:
        ctx.wait_until(command.done.is_set)
    except (StepCancelled, StepTimedOut):
        run_command.cancel(ctx.fleet, command.command_id, None)
        raise
    invocation = next(iter(command.invocations.values()), None)
    code = str(invocation.response_code) if invocation else ""
    output = invocation.output(OUTPUT_LIMIT) if invocation else ""
    if command.status != "Success":
        errors = invocation.output(OUTPUT_LIMIT, "stderr") if invocation else ""
        text = output + (f"\n----------ERROR-------\n{errors}" if errors else "")
        raise StepFailure(
            "Poll action status for completion",
            f"Command {command.command_id} returns unexpected invocation result: "
            f"{{Status=[{command.status}], ResponseCode=[{code}], Output=[{text}]}}",
        )
    return Outcome(
        outputs={"CommandId": command.command_id, "Status": command.status, "ResponseCode": code, "Output": output}
    )


# -- aws:branch ----------------------------------------------------------------------------------------------------
BRANCH_OPERATORS = (
    "StringEquals",
    "EqualsIgnoreCase",
    "StartsWith",
    "EndsWith",
    "Contains",
    "NumericEquals",
    "NumericGreater",
    "NumericLesser",
    "NumericGreaterOrEquals",
    "NumericLesserOrEquals",
    "BooleanEquals",
)


def branch(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    for choice in inputs.get("Choices") or []:
        if _choice_holds(choice):
            return Outcome(next_step=str(choice["NextStep"]))
    default = inputs.get("Default")
    return Outcome(next_step=str(default) if default else None)


def _choice_holds(choice: dict[str, Any]) -> bool:
    if "And" in choice:
        return all(_choice_holds(c) for c in choice["And"])
    if "Or" in choice:
        return any(_choice_holds(c) for c in choice["Or"])
    if "Not" in choice:
        return not _choice_holds(choice["Not"])
    variable = choice.get("Variable")
    for operator in BRANCH_OPERATORS:
        if operator in choice:
            return _compare(operator, variable, choice[operator])
    raise StepFailure(
        "Executing", f"The choice {json.dumps(choice, default=str)} has no operator the runbook language knows"
    )


def _compare(operator: str, variable: Any, expected: Any) -> bool:
    if operator == "BooleanEquals":
        return _truthy(variable) == _truthy(expected)
    if operator.startswith("Numeric"):
        try:
            left, right = float(variable), float(expected)
        except (TypeError, ValueError):
            raise StepFailure("Executing", f"{operator}: {variable!r} or {expected!r} is not a number") from None
        return {
            "NumericEquals": left == right,
            "NumericGreater": left > right,
            "NumericLesser": left < right,
            "NumericGreaterOrEquals": left >= right,
            "NumericLesserOrEquals": left <= right,
        }[operator]
    if operator == "Contains" and isinstance(variable, list):
        return str(expected) in [str(v) for v in variable]
    text, other = _branch_text(variable), _branch_text(expected)
    return {
        "StringEquals": text == other,
        "EqualsIgnoreCase": text.lower() == other.lower(),
        "StartsWith": text.startswith(other),
        "EndsWith": text.endswith(other),
        "Contains": other in text,
    }[operator]


def _branch_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# -- aws:sleep -----------------------------------------------------------------------------------------------------
_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def sleep(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    if inputs.get("Duration"):
        match = _DURATION.match(str(inputs["Duration"]).strip())
        if not match or str(inputs["Duration"]).strip() in ("P", "PT"):
            raise StepFailure("Executing", f"Duration {inputs['Duration']} is not an ISO 8601 duration such as PT5M")
        parts = {k: float(v or 0) for k, v in match.groupdict().items()}
        seconds = parts["w"] * 604800 + parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    elif inputs.get("Timestamp"):
        try:
            moment = datetime.fromisoformat(str(inputs["Timestamp"]).replace("Z", "+00:00"))
        except ValueError:
            raise StepFailure("Executing", f"Timestamp {inputs['Timestamp']} is not an ISO 8601 time") from None
        seconds = (moment.astimezone(UTC) - ctx.execution.now()).total_seconds()
    else:
        raise StepFailure("Executing", "aws:sleep needs Duration or Timestamp")
    if seconds > MAX_SLEEP_SECONDS:
        raise StepFailure("Executing", "aws:sleep can wait at most 7 days (P7D)")
    if seconds > 0:
        ctx.sleep(seconds)
    return Outcome()


# -- aws:approve, aws:pause ---------------------------------------------------------------------------------------
def approve(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    approvers = _strings(inputs.get("Approvers"))
    if not approvers or len(approvers) > 10:
        raise StepFailure("Executing", "aws:approve needs between 1 and 10 Approvers")
    minimum = int(inputs.get("MinRequiredApprovals") or 1)
    if minimum > len(approvers):
        raise StepFailure("Executing", "MinRequiredApprovals cannot be more than the number of Approvers")
    topic = inputs.get("NotificationArn")
    if topic:
        if not str(topic).split(":")[-1].startswith("Automation"):
            raise StepFailure("Executing", "The Amazon SNS topic name of NotificationArn must start with Automation")
        message = inputs.get("Message") or f"Automation {ctx.execution.execution_id} waits for your approval."
        ctx.call("sns", "Publish", {"TopicArn": topic, "Message": str(message)})
    decisions = _wait_for_signals(
        ctx,
        lambda d: sum(x["Decision"] == "Approve" for x in d) >= minimum or any(x["Decision"] == "Reject" for x in d),
        ("Approve", "Reject"),
    )
    rejected = [d for d in decisions if d["Decision"] == "Reject"]
    if rejected:
        raise StepFailure("Waiting for approval", f"The step was rejected by {rejected[0]['Approver']}")  # ours
    return Outcome(outputs={"ApprovalStatus": "Approved", "ApproverDecisions": decisions})


def pause(ctx: Context, inputs: dict[str, Any]) -> Outcome:
    _wait_for_signals(ctx, lambda d: bool(d), ("Resume",))
    return Outcome()


def _wait_for_signals(ctx: Context, enough: Any, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """Status Waiting until SendAutomationSignal brings what `enough` asks for (real time: a person answers)."""
    execution, step = ctx.execution, ctx.step
    decisions: list[dict[str, Any]] = []
    with execution.signal_lock:
        execution.signals.clear()
    step.status = "Waiting"
    if execution.status == "InProgress":
        execution.status = "Waiting"

    def ready() -> bool:
        with execution.signal_lock:
            for signal in execution.signals:
                if signal["Type"] in kinds and signal.get("Step") == step.name:
                    decisions.append(
                        {
                            "Approver": signal["Caller"],
                            "Decision": signal["Type"],
                            "DecisionTime": signal["Time"].isoformat(),
                            "Comment": signal.get("Comment", ""),
                        }
                    )
            execution.signals.clear()
        return enough(decisions)

    try:
        ctx.wait_until(ready)
    finally:
        step.status = "InProgress"
        if execution.status == "Waiting":
            execution.status = "InProgress"
    return decisions


ACTIONS = {
    "aws:executeAwsApi": execute_aws_api,
    "aws:waitForAwsResourceProperty": wait_for_property,
    "aws:assertAwsResourceProperty": assert_property,
    "aws:changeInstanceState": change_instance_state,
    "aws:createImage": create_image,
    "aws:runCommand": run_command_step,
    "aws:branch": branch,
    "aws:sleep": sleep,
    "aws:approve": approve,
    "aws:pause": pause,
}


# -- helpers --------------------------------------------------------------------------------------------------------
def _strings(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v) for v in items]


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
