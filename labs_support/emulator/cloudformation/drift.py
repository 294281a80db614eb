"""CloudFormation drift detection: DetectStackDrift, DetectStackResourceDrift and the two describe actions.

CloudFormation compares each resource's expected properties (the template's, after parameters) with its actual
configuration as the service reports it (drift_readers.py; the comparison rules are in drift_compare.py).
On AWS detection runs asynchronously; in the sandbox it finishes inside the call, so
DescribeStackDriftDetectionStatus reports DETECTION_COMPLETE at once, as it would once AWS is done.

The results of the last check of each stack and resource are kept (per account and Region, cleared with the
sandbox) for the describe actions and for the DriftInformation of DescribeStacks / ListStackResources
(`stack_drift_information`, `resource_drift_information`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.cloudformation.responses import CloudFormationResponse
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.responses import ActionResult
from moto.moto_api._internal import mock_random

from .. import clock
from .drift_compare import Comparison, compact, comparable
from .drift_readers import READERS, ReadRequest
from .engine import engine_for
from .errors import ValidationError
from .schema import is_custom_type, resource_schema
from .stack import Stack, StackResource

# "You can perform drift detection on stacks with the following statuses" (using-cfn-stack-drift.html)
DETECTABLE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED"})
DRIFTED_STATUSES = frozenset({"MODIFIED", "DELETED"})


@dataclass
class ResourceDrift:
    """The result of checking one resource (a StackResourceDrift)."""

    stack_id: str
    logical_id: str
    physical_id: str
    resource_type: str
    status: str
    timestamp: datetime = field(default_factory=clock.now)
    expected: dict[str, Any] | None = None
    actual: dict[str, Any] | None = None
    differences: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None

    def to_api(self) -> dict[str, Any]:
        drift: dict[str, Any] = {
            "StackId": self.stack_id,
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "StackResourceDriftStatus": self.status,
            "Timestamp": self.timestamp,
        }
        if self.physical_id:
            drift["PhysicalResourceId"] = self.physical_id
        if self.expected is not None:
            drift["ExpectedProperties"] = compact(self.expected)
        if self.actual is not None:
            drift["ActualProperties"] = compact(self.actual)
        if self.status == "MODIFIED":
            drift["PropertyDifferences"] = self.differences
        if self.reason:
            drift["DriftStatusReason"] = self.reason
        return drift


@dataclass
class Detection:
    """One DetectStackDrift operation (DescribeStackDriftDetectionStatus)."""

    detection_id: str
    stack_id: str
    stack_drift_status: str
    drifted_count: int
    status: str = "DETECTION_COMPLETE"
    reason: str | None = None
    timestamp: datetime = field(default_factory=clock.now)

    def to_api(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "StackId": self.stack_id,
            "StackDriftDetectionId": self.detection_id,
            "StackDriftStatus": self.stack_drift_status,
            "DetectionStatus": self.status,
            "DriftedStackResourceCount": self.drifted_count,
            "Timestamp": self.timestamp,
        }
        if self.reason:
            described["DetectionStatusReason"] = self.reason
        return described


class DriftRecords(BaseBackend):
    """Drift detections and the last check of each stack and resource, in one account and Region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.detections: dict[str, Detection] = {}
        self.stack_checks: dict[str, datetime] = {}
        self.resource_checks: dict[tuple[str, str], ResourceDrift] = {}


drift_records: BackendDict[DriftRecords] = BackendDict(DriftRecords, "cloudformation")


def _records(account_id: str, region: str) -> DriftRecords:
    return drift_records[account_id][region]


# -- what DescribeStacks and ListStackResources report ---------------------------------------------------------
def resource_drift_information(stack: Stack, resource: StackResource) -> dict[str, Any]:
    """A resource's DriftInformation: its last check, or NOT_CHECKED."""
    record = _records(stack.account_id, stack.region).resource_checks.get((stack.stack_id, resource.logical_id))
    if record is None or record.status == "NOT_CHECKED":
        return {"StackResourceDriftStatus": "NOT_CHECKED"}
    return {"StackResourceDriftStatus": record.status, "LastCheckTimestamp": record.timestamp}


def stack_drift_information(stack: Stack) -> dict[str, Any]:
    """A stack's DriftInformation: DRIFTED if a resource's last check found drift, NOT_CHECKED before any check."""
    records = _records(stack.account_id, stack.region)
    checked = records.stack_checks.get(stack.stack_id)
    if checked is None:
        return {"StackDriftStatus": "NOT_CHECKED"}
    results = [records.resource_checks.get((stack.stack_id, k)) for k in stack.resources]
    return {"StackDriftStatus": _stack_status([r for r in results if r is not None]), "LastCheckTimestamp": checked}


def _stack_status(results: list[ResourceDrift]) -> str:
    """DRIFTED if a resource drifted; UNKNOWN if detection could not run on a resource ("CloudFormation could
    not run drift detection for a resource in the stack", StackDriftInformation); else IN_SYNC. Which wins when
    both happen is not documented: drift found is reported first."""
    if any(r.status in DRIFTED_STATUSES for r in results):
        return "DRIFTED"
    return "UNKNOWN" if any(r.status == "UNKNOWN" for r in results) else "IN_SYNC"


def forget_check(stack: Stack, logical_id: str) -> None:
    """A resource skipped by ContinueUpdateRollback is NOT_CHECKED again until drift detection runs on it."""
    _records(stack.account_id, stack.region).resource_checks.pop((stack.stack_id, logical_id), None)


# -- checking --------------------------------------------------------------------------------------------
def supports_drift(resource_type: str, region: str) -> bool:
    """AWS checks types whose registry schema has a read handler; custom resources are never checked."""
    if is_custom_type(resource_type):
        return False
    try:
        return "read" in resource_schema(resource_type, region).get("handlers", {})
    except Exception:
        return False


def check_resource(stack: Stack, resource: StackResource) -> ResourceDrift:
    """Compare one resource's actual configuration with its template's."""
    provisioned = resource.provisioned
    result = ResourceDrift(
        stack.stack_id, resource.logical_id, resource.physical_id, resource.resource_type, "NOT_CHECKED"
    )
    reader = READERS.get(resource.resource_type)
    if provisioned is None:
        return result
    if reader is None:
        if supports_drift(resource.resource_type, stack.region):
            result.reason = (
                f"The course sandbox does not read {resource.resource_type} resources for drift; "
                "on AWS this type supports drift detection."
            )
        return result
    expected = comparable(resource.resource_type, stack.region, provisioned.properties, reader.properties)
    # AWS does not check properties set by dynamic references (and never shows the resolved secret)
    written = resource.shown_properties or {}
    expected = {k: v for k, v in expected.items() if "{{resolve:" not in json.dumps(written.get(k, ""), default=str)}
    try:
        found = reader.read(
            ReadRequest(stack.account_id, stack.region, provisioned.physical_id, provisioned.properties)
        )
    except Exception as e:  # a reader that cannot cope says so instead of guessing
        result.status, result.reason = "UNKNOWN", f"The course sandbox could not read this resource ({e})."
        return result
    if found is None:
        result.status = "DELETED"
        return result
    expected = _with_attachments(stack, resource, expected)
    actual = {k: found[k] for k in expected if k in found}
    result.expected, result.actual = expected, actual
    result.differences = Comparison(resource.resource_type, stack.region).differences(expected, actual)
    result.status = "MODIFIED" if result.differences else "IN_SYNC"
    return result


# Resources that add items to another resource's list property (AWS analyses the template for them, so what
# they add is not drift): attaching type -> (attached type, property, attaches to this physical id?, the item)
_Attaches = Callable[[dict[str, Any], str], bool]
_ATTACHMENTS: dict[str, tuple[str, str, _Attaches, Callable[[StackResource], Any]]] = {
    "AWS::EC2::SecurityGroupIngress": (
        "AWS::EC2::SecurityGroup",
        "SecurityGroupIngress",
        lambda props, physical_id: props.get("GroupId") == physical_id,
        lambda other: {k: v for k, v in _props(other).items() if k not in ("GroupId", "GroupName")},
    ),
    "AWS::EC2::SecurityGroupEgress": (
        "AWS::EC2::SecurityGroup",
        "SecurityGroupEgress",
        lambda props, physical_id: props.get("GroupId") == physical_id,
        lambda other: {k: v for k, v in _props(other).items() if k != "GroupId"},
    ),
    "AWS::IAM::Policy": (
        "AWS::IAM::Role",
        "Policies",
        lambda props, physical_id: physical_id in (props.get("Roles") or []),
        lambda other: {k: _props(other).get(k) for k in ("PolicyName", "PolicyDocument")},
    ),
    "AWS::IAM::ManagedPolicy": (
        "AWS::IAM::Role",
        "ManagedPolicyArns",
        lambda props, physical_id: physical_id in (props.get("Roles") or []),
        lambda other: other.physical_id,  # Ref of a managed policy is its ARN
    ),
    "AWS::SNS::Subscription": (
        "AWS::SNS::Topic",
        "Subscription",
        lambda props, physical_id: props.get("TopicArn") == physical_id,
        lambda other: {k: _props(other).get(k) for k in ("Endpoint", "Protocol")},
    ),
}


def _props(resource: StackResource) -> dict[str, Any]:
    return resource.provisioned.properties if resource.provisioned else {}


def _with_attachments(stack: Stack, resource: StackResource, expected: dict[str, Any]) -> dict[str, Any]:
    """Expected properties plus the items other resources of the same stack attach to this one.

    "CloudFormation analyses the stack template for attachments before performing the drift comparison.
    However, CloudFormation cannot perform this analysis across stacks" (using-cfn-stack-drift.html).
    """
    for other in stack.resources.values():
        spec = _ATTACHMENTS.get(other.resource_type)
        if spec is None or other.provisioned is None or spec[0] != resource.resource_type:
            continue
        _, prop, attaches, item = spec
        if attaches(_props(other), resource.physical_id):
            attached = comparable(resource.resource_type, stack.region, {prop: [item(other)]}, frozenset({prop}))
            expected = {**expected, prop: [*expected.get(prop, []), *attached[prop]]}
    return expected


def _checked_resources(stack: Stack) -> list[StackResource]:
    return [r for r in stack.resources.values() if r.status not in ("DELETE_COMPLETE", "DELETE_SKIPPED")]


# -- API actions -----------------------------------------------------------------------------------------
def _stack(self: CloudFormationResponse, name: str) -> Stack:
    stack = engine_for(self.current_account, self.region).find_stack(name, include_deleted=name.startswith("arn:"))
    if stack is None or stack.deleted_for_good:
        raise ValidationError(f"Stack with id {name} does not exist")
    return stack


def _detectable(stack: Stack) -> None:
    if stack.status not in DETECTABLE:
        raise ValidationError(
            f"Stack [{stack.name}] is in {stack.status} state; drift detection can be performed on stacks in "
            f"{', '.join(sorted(DETECTABLE))} state."
        )


def _resource(stack: Stack, logical_id: str) -> StackResource:
    resource = stack.resources.get(logical_id)
    if resource is None or resource.status in ("DELETE_COMPLETE", "DELETE_SKIPPED"):
        # wording ours: AWS does not document this message
        raise ValidationError(f"Resource {logical_id} does not exist for stack {stack.name}")
    return resource


def detect(stack: Stack, wanted: list[str] | None = None) -> Detection:
    """Check a stack's resources (or the `wanted` ones) against its template and record the results."""
    _detectable(stack)
    resources = [_resource(stack, k) for k in wanted] if wanted else _checked_resources(stack)
    records = _records(stack.account_id, stack.region)
    results = [check_resource(stack, r) for r in resources]
    for result in results:
        records.resource_checks[(stack.stack_id, result.logical_id)] = result
    drifted = sum(r.status in DRIFTED_STATUSES for r in results)
    detection = Detection(str(mock_random.uuid4()), stack.stack_id, _stack_status(results), drifted)
    failed = [r.logical_id for r in results if r.status == "UNKNOWN"]
    if failed:
        detection.status = "DETECTION_FAILED"
        detection.reason = f"Failed to detect drift on resource(s): [{', '.join(failed)}]"
    records.detections[detection.detection_id] = detection
    records.stack_checks[stack.stack_id] = detection.timestamp
    return detection


def detect_stack_drift(self: CloudFormationResponse) -> ActionResult:
    stack = _stack(self, self._get_param("StackName"))
    detection = detect(stack, self._get_param("LogicalResourceIds", []) or [])
    return ActionResult({"StackDriftDetectionId": detection.detection_id})


def describe_stack_drift_detection_status(self: CloudFormationResponse) -> ActionResult:
    detection_id = self._get_param("StackDriftDetectionId")
    detection = _records(self.current_account, self.region).detections.get(detection_id)
    if detection is None:
        # wording ours: AWS does not document this message
        raise ValidationError(f"Drift detection with id {detection_id} does not exist")
    return ActionResult(detection.to_api())


def describe_stack_resource_drifts(self: CloudFormationResponse) -> ActionResult:
    stack = _stack(self, self._get_param("StackName"))
    wanted = set(self._get_param("StackResourceDriftStatusFilters", []) or [])
    records = _records(stack.account_id, stack.region)
    # Resources that were never checked, or that CloudFormation cannot check, are not listed.
    drifts = [
        record
        for logical_id in stack.resources
        if (record := records.resource_checks.get((stack.stack_id, logical_id))) is not None
        and record.status != "NOT_CHECKED"
        and (not wanted or record.status in wanted)
    ]
    start = _page_start(self._get_param("NextToken"))
    size = int(self._get_param("MaxResults") or 100)
    page = drifts[start : start + size]
    result: dict[str, Any] = {"StackResourceDrifts": [d.to_api() for d in page]}
    if start + size < len(drifts):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def _page_start(token: str | None) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise ValidationError("Invalid NextToken")
    return int(token)


def detect_stack_resource_drift(self: CloudFormationResponse) -> ActionResult:
    stack = _stack(self, self._get_param("StackName"))
    _detectable(stack)
    resource = _resource(stack, self._get_param("LogicalResourceId"))
    result = check_resource(stack, resource)
    records = _records(stack.account_id, stack.region)
    records.resource_checks[(stack.stack_id, resource.logical_id)] = result
    # "CloudFormation also updates the overall stack drift status" (detect-drift-resource.html)
    records.stack_checks[stack.stack_id] = result.timestamp
    return ActionResult({"StackResourceDrift": result.to_api()})


# API action name (snake_case, as moto's CloudFormationResponse names them) -> function(self: response)
ACTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        detect_stack_drift,
        describe_stack_drift_detection_status,
        describe_stack_resource_drifts,
        detect_stack_resource_drift,
    )
}
