"""EventBridge rules that start Systems Manager Automation, and the AWS service events the sandbox emits.

moto's EventBridge matches event patterns and delivers to a few targets (SQS, CloudWatch Logs, event buses), but
not to SSM Automation, and no AWS service emits events into it. This module adds:

1. The SSM Automation target (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-cwe-target.html):
   a target whose Arn is `arn:aws:ssm:<region>:<account>:automation-definition/<runbook>[:$DEFAULT|:$LATEST|:<n>]`
   (the console adds `:$DEFAULT`; the account may be empty for AWS-owned runbooks) starts an automation
   execution of that runbook, in the rule's account and Region, for every event the rule matches. The runbook's
   parameters are the target's input, a JSON object of parameter name -> list of strings:
   - `Input`: constant JSON, e.g. '{"InstanceId":["i-0123"],"AutomationAssumeRole":["arn:aws:iam::...:role/X"]}';
   - `InputTransformer`: InputPathsMap (JSONPath into the event) + InputTemplate, e.g.
     {"InputPathsMap": {"instance": "$.detail.instance-id"}, "InputTemplate": '{"InstanceId":[<instance>]}'}
     (a variable outside quotes becomes its JSON value, inside quotes its text:
     https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html);
   - `InputPath`: the part of the event the path selects;
   - none of these: the whole event, which is not a parameter map, so the invocation fails (as on AWS).
   EventBridge calls StartAutomationExecution with the target's RoleArn: the role must exist, trust
   events.amazonaws.com and allow ssm:StartAutomationExecution. An invocation that fails (no role, bad input,
   parameters the runbook refuses) starts nothing; AWS counts it in the rule's FailedInvocations metric, the
   sandbox records it where `automation_invocations()` shows it (with the reason). A disabled rule starts nothing.
2. PutEvents from a customer with a Source beginning "aws." is refused per entry, as on AWS
   (ErrorCode NotAuthorizedForSourceException, "Not authorized for the source." [observed]).
3. AWS service events, which AWS emits on its own: the sandbox stands in for AWS and puts them on the account's
   default event bus. `emit_ec2_state_change(...)` emits the EC2 "EC2 Instance State-change Notification" (moto
   emits none when instances change state: a lab calls it to play AWS's part); Automation emits its own
   "EC2 Automation Execution/Step Status-change Notification" events (automation_engine.py).
4. moto's InputTransformer for its own targets (SQS, CloudWatch Logs...) needs jsonpath_ng, which the course
   does not install (every delivery to those targets failed), and breaks on string variables: it is replaced by
   the same rendering the Automation target uses. A template that renders to non-JSON text reaches SQS as a
   JSON string (EventBridge sends the bare text).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from moto.events.models import Rule, events_backends
from moto.events.responses import EventsHandler
from moto.events.utils import EventTemplateParser

from . import clock

AUTOMATION_ARN = re.compile(
    r"^arn:aws[\w-]*:ssm:(?P<region>[a-z0-9-]*):(?P<account>\d{12})?:automation-definition/"
    r"(?P<name>[a-zA-Z0-9_.\-]+)(?::(?P<version>\$DEFAULT|\$LATEST|\d+))?$"
)
EC2_STATE_CHANGE = "EC2 Instance State-change Notification"
_PREDEFINED = ("aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time", "aws.events.event")

_original_send_to_targets = Rule.send_to_targets
_original_put_events = EventsHandler.put_events


class InvocationFailed(Exception):
    """EventBridge could not start the automation (counted as a failed invocation)."""


# -- AWS service events ---------------------------------------------------------------------------------------
def emit_aws_event(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: list[str] | tuple[str, ...] = (),
    account_id: str | None = None,
    region: str | None = None,
) -> str:
    """Put an event on the default bus of an account and Region as the AWS service `source` would; its id.

    Customers cannot send "aws." sources (PutEvents refuses them): this is the sandbox playing AWS's part."""
    account_id, region = _where(account_id, region)
    entry = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, default=str),
        "Resources": list(resources),
        "Time": clock.now().timestamp(),
    }
    [result] = events_backends[account_id][region].put_events([entry])
    return str(result.get("EventId", ""))


def emit_ec2_state_change(
    instance_id: str, state: str | None = None, account: str | None = None, region: str | None = None
) -> str:
    """Emit EC2's "EC2 Instance State-change Notification" for an instance (its current state unless `state`
    is given), as AWS emits it on every state change
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html); the event id.
    `account` may be a sandbox account name ('dev') or id."""
    account_id, region = _where(_account_id(account), region)
    if state is None:
        from moto.ec2.models import ec2_backends

        found = [i for i in ec2_backends[account_id][region].all_instances() if i.id == instance_id]
        state = found[0].state if found else "unknown"
    return emit_aws_event(
        "aws.ec2",
        EC2_STATE_CHANGE,
        {"instance-id": instance_id, "state": state},
        [f"arn:aws:ec2:{region}:{account_id}:instance/{instance_id}"],
        account_id,
        region,
    )


def automation_invocations(
    rule: str, event_bus: str = "default", account: str | None = None, region: str | None = None
) -> list[dict[str, Any]]:
    """What the rule's SSM Automation targets did with each matched event: Started (with the execution id) or
    Failed (with the reason). AWS shows only counts (CloudWatch Invocations / FailedInvocations metrics)."""
    account_id, region = _where(_account_id(account), region)
    bus = events_backends[account_id][region].describe_event_bus(event_bus)
    found = bus.rules.get(rule)
    return list(getattr(found, "_course_invocations", [])) if found is not None else []


def _account_id(account: str | None) -> str | None:
    if account is None or re.fullmatch(r"\d{12}", account):
        return account
    from ..sandbox import current_sandbox

    return current_sandbox().account_id(account)


def _where(account_id: str | None, region: str | None) -> tuple[str, str]:
    if account_id and region:
        return account_id, region
    try:
        from ..sandbox import current_sandbox

        sandbox = current_sandbox()
        return account_id or sandbox.account_id(), region or sandbox.region
    except Exception:
        return account_id or "123456789012", region or "us-east-1"


# -- the Automation target ------------------------------------------------------------------------------------
def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    automation = [t for t in self.targets if AUTOMATION_ARN.match(str(t.get("Arn", "")))]
    if not automation:
        _original_send_to_targets(self, original_event, transform_input)
        return
    others = [t for t in self.targets if t not in automation]
    if others:
        rest = copy.copy(self)
        rest.targets = others
        _original_send_to_targets(rest, original_event, transform_input)
    if self.state != "ENABLED" or (self.scheduled_expression and not self.event_pattern.get_pattern()):
        return
    if not self.event_pattern.matches_event(original_event):
        return
    for target in automation:
        _invoke_automation(self, target, original_event)


def _invoke_automation(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> None:
    from .ssm import automation_engine, automation_model
    from .ssm.backend import fleet_for

    match = AUTOMATION_ARN.match(target["Arn"])
    assert match is not None
    record: dict[str, Any] = {
        "Time": clock.now(),
        "Rule": rule.name,
        "TargetId": target.get("Id"),
        "Arn": target["Arn"],
        "EventId": event.get("id"),
    }
    try:
        if match.group("region") not in ("", rule.region_name):
            raise InvocationFailed(
                f"The runbook ARN names Region {match.group('region')}; the rule is in {rule.region_name}."
            )  # the sandbox starts automations in the rule's Region only
        role = _events_role(rule, target.get("RoleArn"))
        parameters = _parameters(_input_for(rule, target, _aws_event(event)))
        version = match.group("version")
        request = {
            "DocumentName": match.group("name"),
            "DocumentVersion": None if version in (None, "$DEFAULT") else version,
            "Parameters": parameters,
        }
        executed_by = f"arn:aws:sts::{rule.account_id}:assumed-role/{role}/{str(event.get('id', ''))[:32]}"
        execution = automation_engine.start(
            fleet_for(rule.account_id, rule.region_name), request, executed_by=executed_by, triggered_by=rule.arn
        )
        record.update({"Status": "Started", "AutomationExecutionId": execution.execution_id, "Parameters": parameters})
    except (InvocationFailed, automation_model.AutomationError) as error:
        reason = error.message if isinstance(error, automation_model.AutomationError) else str(error)
        code = error.code if isinstance(error, automation_model.AutomationError) else "InvocationFailed"
        record.update({"Status": "Failed", "ErrorCode": code, "Reason": reason})
    rule.__dict__.setdefault("_course_invocations", []).append(record)


def _events_role(rule: Rule, role_arn: str | None) -> str:
    """The target's role, if EventBridge can use it to start the automation; its name."""
    from .ssm import fleet as fleet_module
    from .ssm.automation_model import role_of

    if not role_arn:
        raise InvocationFailed(
            "The target has no RoleArn: EventBridge needs a role it can assume to call ssm:StartAutomationExecution."
        )
    found = role_of(role_arn)
    if found is None:
        raise InvocationFailed(f"The target's role {role_arn} does not exist.")
    role, iam = found
    if not fleet_module._trusts(role, "events.amazonaws.com"):
        raise InvocationFailed(f"The trust policy of {role.name} does not allow events.amazonaws.com to assume it.")
    if not fleet_module._allows(role, iam, "ssm:StartAutomationExecution"):
        raise InvocationFailed(f"The role {role.name} does not allow ssm:StartAutomationExecution.")
    return str(role.name)


def _aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as AWS shapes it for targets (moto keeps `time` as a number)."""
    shaped = {k: v for k, v in event.items() if k != "ingestion-time"}
    if isinstance(shaped.get("time"), int | float):
        from datetime import UTC, datetime

        shaped["time"] = datetime.fromtimestamp(float(shaped["time"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return shaped


def _input_for(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> Any:
    from .ssm.automation_json import json_path
    from .ssm.automation_model import StepFailure

    try:
        if target.get("Input") is not None:
            return json.loads(target["Input"])
        if target.get("InputPath"):
            found = json_path(event, target["InputPath"])
            return found[0] if found else None
        transformer = target.get("InputTransformer")
        if transformer:
            return json.loads(_transform(rule, transformer, event))
    except ValueError as error:
        raise InvocationFailed(f"The target's input is not valid JSON: {error}") from None
    except StepFailure as error:
        raise InvocationFailed(error.reason) from None
    return event


def _transform(rule: Rule | None, transformer: dict[str, Any], event: dict[str, Any]) -> str:
    """InputTransformer: every <variable> of the template replaced as EventBridge replaces it."""
    from .ssm.automation_json import json_path

    values: dict[str, Any] = {
        "aws.events.rule-arn": rule.arn if rule is not None else "",
        "aws.events.rule-name": rule.name if rule is not None else "",
        "aws.events.event.ingestion-time": event.get("time"),
        "aws.events.event": event,
        "aws.events.event.json": event,
    }
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        found = json_path(event, path)
        values[name] = found[0] if found else None
    template = str(transformer.get("InputTemplate") or "<aws.events.event>")
    out, inside, escaped, i = [], False, False, 0
    while i < len(template):
        char = template[i]
        if char == "<":
            end = template.find(">", i)
            name = template[i + 1 : end] if end > 0 else ""
            if name in values:
                value = values[name]
                if inside:
                    text = value if isinstance(value, str) else json.dumps(value) if value is not None else ""
                    out.append(json.dumps(text)[1:-1])
                else:
                    out.append(json.dumps(value))
                i = end + 1
                continue
        if inside and char == "\\" and not escaped:
            escaped = True
            out.append(char)
            i += 1
            continue
        if char == '"' and not escaped:
            inside = not inside
        escaped = False
        out.append(char)
        i += 1
    return "".join(out)


def _parameters(given: Any) -> dict[str, list[str]]:
    """The target's input as StartAutomationExecution Parameters (name -> list of strings)."""
    if not isinstance(given, dict):
        raise InvocationFailed("The target's input must be a JSON object of runbook parameters.")
    parameters: dict[str, list[str]] = {}
    for name, value in given.items():
        items = value if isinstance(value, list) else [value]
        parameters[str(name)] = [v if isinstance(v, str) else json.dumps(v) for v in items]
    return parameters


# -- moto's own targets ------------------------------------------------------------------------------------------
class _Text(str):
    """A transformed input that is not JSON (EventBridge sends it as text); moto's target code probes it with
    `"time" in event`, which must not match inside the text."""

    def __contains__(self, item: object) -> bool:
        return False


def _template_parse(input_template: str | None, input_paths_map: dict[str, Any], event: dict[str, Any]) -> Any:
    """moto's EventTemplateParser.parse (it needs jsonpath_ng, which the course does not install, and fails on
    string variables): the event itself without a transformer, else the template rendered as EventBridge does."""
    if not input_template and not input_paths_map:
        return {k: v for k, v in event.items() if k != "ingestion-time"}
    rendered = _transform(None, {"InputTemplate": input_template, "InputPathsMap": input_paths_map}, _aws_event(event))
    try:
        return json.loads(rendered)
    except ValueError:
        return _Text(rendered)


# -- PutEvents from customers ------------------------------------------------------------------------------------
def _put_events(self: EventsHandler) -> str:
    entries = self._get_param("Entries") or []
    reserved = [str(e.get("Source") or "").startswith("aws.") for e in entries]
    if not any(reserved) or len(entries) > 10:
        return _original_put_events(self)
    allowed = [e for e, r in zip(entries, reserved, strict=True) if not r]
    delivered = iter(self.events_backend.put_events(allowed) if allowed else [])
    results = [
        {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
        if r
        else next(delivered)
        for r in reserved
    ]
    return json.dumps({"FailedEntryCount": sum(1 for e in results if "ErrorCode" in e), "Entries": results})


def install() -> None:
    """Patch moto's EventBridge: SSM Automation targets, input transformers, PutEvents' reserved "aws." sources."""
    Rule.send_to_targets = _send_to_targets  # type: ignore[method-assign]
    EventTemplateParser.parse = staticmethod(_template_parse)  # type: ignore[method-assign,assignment]
    EventsHandler.put_events = _put_events  # type: ignore[method-assign]
