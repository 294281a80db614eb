"""State Manager: associations that keep managed nodes in a desired state, on a schedule.

https://docs.aws.amazon.com/systems-manager/latest/userguide/state-manager-about.html and
https://docs.aws.amazon.com/systems-manager/latest/userguide/state-manager-associations-creating.html
- An association binds a document (and its parameters) to targets (InstanceIds, tag:<key>, tag-key, or
  InstanceIds=* for every managed node) with an optional schedule: cron or rate, rate at least 30 minutes.
- It runs when created (or updated) unless ApplyOnlyAtCronInterval is true (cron schedules only), then at every
  scheduled time, on the nodes its targets match *at that time*, under MaxConcurrency (default 100%) and
  MaxErrors; and when target changes are detected: a node that newly matches runs it at the next check-in
  (the next Systems Manager call here).
- Each run is an association execution with one target result per node; the association's overview and every
  node's "Association" compliance (ComplianceSeverity, SyncCompliance AUTO) follow the latest run.
- A node that drifted (a stopped service, a removed package) is corrected when the document runs again: that
  is the document's doing, as on AWS (State Manager only reapplies it).

Each run sends its document through Run Command internally (OutputSource RunCommand), replayed at the time it
fell due (schedule.py); those commands are not listed by ListCommands.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from . import compliance, rate_control, run_command, schedule
from .backend import FleetBackend
from .documents_run import ParameterError, content_of, resolve_parameters

MINIMUM_RATE = timedelta(minutes=30)
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNSPECIFIED")


@dataclass
class Execution:
    """One run of an association."""

    execution_id: str
    version: str
    created: datetime
    status: str = "Pending"
    detailed_status: str = "Pending"
    targets: list[dict[str, Any]] = field(default_factory=list)
    command_id: str = ""


@dataclass
class Association:
    """A State Manager association and its history."""

    association_id: str
    name: str  # the document
    request: dict[str, Any]
    created: datetime
    version: int = 1
    updated: datetime | None = None
    executions: list[Execution] = field(default_factory=list)
    last_success: datetime | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def targets(self) -> list[dict[str, Any]]:
        if self.request.get("Targets"):
            return self.request["Targets"]
        if self.request.get("InstanceId"):
            return [{"Key": "InstanceIds", "Values": [self.request["InstanceId"]]}]
        return []

    def overview(self) -> dict[str, Any]:
        last = self.executions[-1] if self.executions else None
        counts: dict[str, int] = {}
        for target in last.targets if last else []:
            counts[target["Status"]] = counts.get(target["Status"], 0) + 1
        if last is None:
            return {"Status": "Pending", "DetailedStatus": "Creating", "AssociationStatusAggregatedCount": {}}
        return {
            "Status": last.status,
            "DetailedStatus": last.detailed_status,
            "AssociationStatusAggregatedCount": counts,
        }

    def description(self) -> dict[str, Any]:
        r = self.request
        body: dict[str, Any] = {
            "Name": self.name,
            "AssociationVersion": str(self.version),
            "Date": self.created,
            "LastUpdateAssociationDate": self.updated or self.created,
            "Overview": self.overview(),
            "DocumentVersion": r.get("DocumentVersion") or "$DEFAULT",
            "Parameters": {k: v if isinstance(v, list) else [v] for k, v in (r.get("Parameters") or {}).items()},
            "AssociationId": self.association_id,
            "Targets": self.targets,
            "MaxConcurrency": r.get("MaxConcurrency") or "",
            "MaxErrors": r.get("MaxErrors") or "",
            "ComplianceSeverity": r.get("ComplianceSeverity") or "UNSPECIFIED",
            "SyncCompliance": r.get("SyncCompliance") or "AUTO",
            "ApplyOnlyAtCronInterval": bool(r.get("ApplyOnlyAtCronInterval")),
        }
        for key in ("ScheduleExpression", "AssociationName", "OutputLocation", "InstanceId"):
            if r.get(key):
                body[key] = r[key]
        if self.executions:
            body["LastExecutionDate"] = self.executions[-1].created
        if self.last_success:
            body["LastSuccessfulExecutionDate"] = self.last_success
        return body

    def summary(self) -> dict[str, Any]:
        d = self.description()
        keys = (
            "Name",
            "AssociationId",
            "AssociationVersion",
            "DocumentVersion",
            "Targets",
            "LastExecutionDate",
            "Overview",
            "ScheduleExpression",
            "AssociationName",
            "InstanceId",
        )
        return {k: d[k] for k in keys if k in d}


def _check(fleet: FleetBackend, request: dict[str, Any]) -> None:
    """What CreateAssociation/UpdateAssociation refuse before anything runs."""
    document = run_command._document(fleet, request["Name"], request.get("DocumentVersion"))
    try:
        resolve_parameters(content_of(document), request.get("Parameters") or {})
    except ParameterError as error:
        raise run_command.InvalidTarget("InvalidParameters", str(error)) from None
    if request.get("ScheduleExpression"):
        try:
            schedule.parse(request["ScheduleExpression"], minimum=MINIMUM_RATE)
        except schedule.ScheduleError as error:
            raise run_command.InvalidTarget("InvalidSchedule", str(error)) from None
    if request.get("ApplyOnlyAtCronInterval") and not str(request.get("ScheduleExpression") or "").startswith("cron("):
        # CreateAssociation: ApplyOnlyAtCronInterval "isn't supported for rate expressions" (API reference)
        raise run_command.InvalidTarget(
            "ValidationException",
            "ApplyOnlyAtCronInterval is supported only with a cron schedule expression.",  # wording ours
        )
    if not request.get("Targets") and not request.get("InstanceId"):
        raise run_command.InvalidTarget("ValidationException", "Either InstanceId or Targets must be specified.")
    run_command.validate_targets(request.get("Targets") or [])
    severity = request.get("ComplianceSeverity")
    if severity and severity not in SEVERITIES:
        raise run_command.InvalidTarget("ValidationException", f"ComplianceSeverity {severity} is not valid.")


def create(fleet: FleetBackend, request: dict[str, Any]) -> Association:
    _check(fleet, request)
    now = clock.now()
    association = Association(str(uuid.uuid4()), request["Name"], dict(request), now)
    with fleet.lock:
        fleet.associations[association.association_id] = association
    _schedule(fleet, association, now, first=True)
    return association


def update(fleet: FleetBackend, association: Association, changes: dict[str, Any]) -> Association:
    merged = {**association.request, **{k: v for k, v in changes.items() if v is not None}}
    _check(fleet, merged)
    association.history.append({"version": association.version, "request": dict(association.request)})
    association.request = merged
    association.version += 1
    association.updated = clock.now()
    _schedule(fleet, association, association.updated, first=True)
    return association


def delete(fleet: FleetBackend, association: Association) -> None:
    with fleet.lock:
        fleet.associations.pop(association.association_id, None)
    schedule.remove_job(fleet, association.association_id)


def _schedule(fleet: FleetBackend, association: Association, now: datetime, first: bool) -> None:
    expression = association.request.get("ScheduleExpression")
    parsed = schedule.parse(expression, minimum=MINIMUM_RATE) if expression else None
    anchor = now

    def run(due: datetime) -> datetime | None:
        if association.association_id not in fleet.associations:
            return None
        execution = execute(fleet, association, due)
        ends = max((t["LastExecutionDate"] for t in execution.targets), default=due)
        # an occurrence that falls while this run is still going is skipped, not queued
        return parsed.next_after(max(due, ends), anchor) if parsed else None

    apply_now = first and not association.request.get("ApplyOnlyAtCronInterval")
    next_due = now if apply_now else (parsed.next_after(now, anchor) if parsed else None)
    schedule.add_job(fleet, schedule.Job(association.association_id, next_due, run))


def apply_to_new_targets(fleet: FleetBackend) -> None:
    """AWS also runs an association "when target changes are detected" (CreateAssociation, ApplyOnlyAtCronInterval):
    an online node that matches the targets and has never run this version of it gets its own execution now."""
    for association in list(fleet.associations.values()):
        if association.request.get("ApplyOnlyAtCronInterval") or not association.executions:
            continue
        done = {
            t["ResourceId"] for e in association.executions if e.version == str(association.version) for t in e.targets
        }
        nodes = run_command.select(fleet.managed_nodes(), association.targets)
        new = [n[0].id for n in nodes if n[2] and n[0].id not in done]
        if new:
            execute(fleet, association, clock.now(), only=new)


def run_once(fleet: FleetBackend, association: Association) -> None:
    """StartAssociationsOnce: run now, keeping the schedule."""
    execute(fleet, association, clock.now())


def execute(fleet: FleetBackend, association: Association, due: datetime, only: list[str] | None = None) -> Execution:
    """One association run at `due`, on the nodes the targets match then (or only the nodes named)."""
    execution = Execution(str(uuid.uuid4()), str(association.version), due)
    association.executions.append(execution)
    nodes = run_command.select(fleet.managed_nodes(), association.targets)
    online = [n for n in nodes if n[2] and (only is None or n[0].id in only)]
    if not online:
        execution.status, execution.detailed_status = "Success", "Success"  # nothing to do (wording: AWS's "Success")
        return execution
    request = {
        "DocumentName": association.name,
        "DocumentVersion": association.request.get("DocumentVersion"),
        "Parameters": association.request.get("Parameters") or {},
        "InstanceIds": [n[0].id for n in online],
        "MaxConcurrency": association.request.get("MaxConcurrency") or "100%",  # CreateAssociation's default
        "MaxErrors": association.request.get("MaxErrors") or "0",
        "Comment": f"State Manager association {association.association_id}",
    }
    timeline = rate_control.Timeline(replay_from=due)
    try:
        command = run_command.send(fleet, request, replay=timeline, internal=True)
    except run_command.InvalidTarget as error:  # the document went away, or its parameters no longer fit
        execution.status, execution.detailed_status = "Failed", error.message[:250] or error.code
        return execution
    execution.command_id = command.command_id
    severity = association.request.get("ComplianceSeverity") or "UNSPECIFIED"
    failed = 0
    for inv in command.invocations.values():
        status = {"Success": "Success", "Cancelled": "Failed"}.get(inv.status, "Failed")
        detail = inv.status_details if inv.status != "Success" else "Success"
        failed += status != "Success"
        execution.targets.append(
            {
                "AssociationId": association.association_id,
                "AssociationVersion": execution.version,
                "ExecutionId": execution.execution_id,
                "ResourceId": inv.instance_id,
                "ResourceType": "ManagedInstance",
                "Status": status,
                "DetailedStatus": detail,
                "LastExecutionDate": inv.finished or due,
                "OutputSource": {"OutputSourceId": command.command_id, "OutputSourceType": "RunCommand"},
            }
        )
        if (association.request.get("SyncCompliance") or "AUTO") == "AUTO":
            compliance.record(
                fleet,
                inv.instance_id,
                "Association",
                [
                    {
                        "Id": association.association_id,
                        "Title": association.request.get("AssociationName") or association.name,
                        "Severity": severity,
                        "Status": "COMPLIANT" if status == "Success" else "NON_COMPLIANT",
                        "Details": {"DocumentName": association.name, "DocumentVersion": command.document_version},
                    }
                ],
                compliance.execution_summary(due, execution.execution_id),
                upload_type="PARTIAL",
            )
    execution.status = "Failed" if failed else "Success"
    execution.detailed_status = execution.status
    if not failed:
        association.last_success = due
    ends = max((t["LastExecutionDate"] for t in execution.targets), default=due)
    if ends > clock.now():
        clock.advance((ends - clock.now()).total_seconds())
    return execution


def status_of(fleet: FleetBackend, instance_id: str) -> dict[str, Any] | None:
    """AssociationStatus and dates for DescribeInstanceInformation."""
    latest: dict[str, Any] | None = None
    ok_dates: list[datetime] = []
    statuses: list[str] = []
    for association in fleet.associations.values():
        for execution in reversed(association.executions):
            target = next((t for t in execution.targets if t["ResourceId"] == instance_id), None)
            if target is None:
                continue
            statuses.append(target["Status"])
            if target["Status"] == "Success":
                ok_dates.append(target["LastExecutionDate"])
            if latest is None or target["LastExecutionDate"] > latest["LastExecutionDate"]:
                latest = target
            break
    if latest is None:
        return None
    body: dict[str, Any] = {
        "AssociationStatus": "Failed" if "Failed" in statuses else "Success",
        "LastAssociationExecutionDate": latest["LastExecutionDate"],
    }
    if ok_dates:
        body["LastSuccessfulAssociationExecutionDate"] = max(ok_dates)
    return body


def instance_statuses(fleet: FleetBackend, instance_id: str) -> list[dict[str, Any]]:
    """DescribeInstanceAssociationsStatus: the latest result of each association on a node."""
    out = []
    for association in fleet.associations.values():
        for execution in reversed(association.executions):
            target = next((t for t in execution.targets if t["ResourceId"] == instance_id), None)
            if target is None:
                continue
            out.append(
                {
                    "AssociationId": association.association_id,
                    "Name": association.name,
                    "DocumentVersion": association.request.get("DocumentVersion") or "$DEFAULT",
                    "AssociationVersion": execution.version,
                    "InstanceId": instance_id,
                    "ExecutionDate": target["LastExecutionDate"],
                    "Status": target["Status"],
                    "DetailedStatus": target["DetailedStatus"],
                    "ExecutionSummary": f"1 out of 1 plugin processed, {1 if target['Status'] == 'Success' else 0} "
                    f"success, {0 if target['Status'] == 'Success' else 1} failed",
                    "AssociationName": association.request.get("AssociationName", ""),
                }
            )
            break
    return out


# -- API ---------------------------------------------------------------------------------------------------
_FIELDS = (
    "Name",
    "DocumentVersion",
    "InstanceId",
    "Parameters",
    "Targets",
    "ScheduleExpression",
    "OutputLocation",
    "AssociationName",
    "MaxErrors",
    "MaxConcurrency",
    "ComplianceSeverity",
    "SyncCompliance",
    "ApplyOnlyAtCronInterval",
)


def install() -> None:
    from . import api

    schedule.AFTER_CATCH_UP.append(apply_to_new_targets)

    def find(self: Any, fleet: FleetBackend) -> Association:
        association_id = api.param(self, "AssociationId")
        if association_id:
            found = fleet.associations.get(association_id)
        else:
            name, instance_id = api.param(self, "Name"), api.param(self, "InstanceId")
            found = next(
                (
                    a
                    for a in fleet.associations.values()
                    if a.name == name and a.request.get("InstanceId") == instance_id
                ),
                None,
            )
        if found is None:
            raise api.SsmError("AssociationDoesNotExist", "")
        return found

    def refused(error: run_command.InvalidTarget) -> api.SsmError:
        return api.SsmError(error.code, error.message)

    def create_association(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        try:
            association = create(fleet, {k: api.param(self, k) for k in _FIELDS})
        except run_command.InvalidTarget as error:
            raise refused(error) from None
        return {"AssociationDescription": association.description()}

    def describe_association(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        return {"AssociationDescription": find(self, fleet).description()}

    def update_association(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        association = find(self, fleet)
        try:
            update(fleet, association, {k: api.param(self, k) for k in _FIELDS if k != "InstanceId"})
        except run_command.InvalidTarget as error:
            raise refused(error) from None
        return {"AssociationDescription": association.description()}

    def delete_association(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        delete(fleet, find(self, fleet))
        return {}

    def list_associations(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        items = [a.summary() for a in fleet.associations.values()]
        for f in api.param(self, "AssociationFilterList", []) or []:
            key, value = f["key"], f["value"]
            field_name = {
                "AssociationName": "AssociationName",
                "Name": "Name",
                "InstanceId": "InstanceId",
                "AssociationId": "AssociationId",
            }.get(key)
            if field_name:
                items = [i for i in items if i.get(field_name) == value]
            elif key == "AssociationStatusName":
                items = [i for i in items if i["Overview"]["Status"] == value]
        return api.page(items, self, "Associations")

    def start_associations_once(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        for association_id in api.param(self, "AssociationIds", []):
            association = fleet.associations.get(association_id)
            if association is None:
                raise api.SsmError("InvalidAssociation", f"Association {association_id} does not exist.")
            run_once(fleet, association)
        return {}

    def describe_association_executions(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        association = find(self, fleet)
        items = []
        for execution in reversed(association.executions):
            counts: dict[str, int] = {}
            for target in execution.targets:
                counts[target["Status"]] = counts.get(target["Status"], 0) + 1
            items.append(
                {
                    "AssociationId": association.association_id,
                    "AssociationVersion": execution.version,
                    "ExecutionId": execution.execution_id,
                    "Status": execution.status,
                    "DetailedStatus": execution.detailed_status,
                    "CreatedTime": execution.created,
                    "LastExecutionDate": max(
                        (t["LastExecutionDate"] for t in execution.targets), default=execution.created
                    ),
                    "ResourceCountByStatus": "{" + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) + "}",
                }
            )
        return api.page(items, self, "AssociationExecutions")

    def describe_association_execution_targets(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        association = find(self, fleet)
        execution_id = api.param(self, "ExecutionId")
        execution = next((e for e in association.executions if e.execution_id == execution_id), None)
        if execution is None:
            raise api.SsmError("AssociationExecutionDoesNotExist", "")
        items = list(execution.targets)
        for f in api.param(self, "Filters", []) or []:
            items = [t for t in items if str(t.get(f["Key"])) == f["Value"]]
        return api.page(items, self, "AssociationExecutionTargets")

    def describe_instance_associations_status(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        return api.page(instance_statuses(fleet, api.param(self, "InstanceId")), self, "InstanceAssociationStatusInfos")

    def list_association_versions(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        association = find(self, fleet)
        versions = [
            {
                "AssociationId": association.association_id,
                "AssociationVersion": str(h["version"]),
                "Name": h["request"]["Name"],
                **(
                    {"ScheduleExpression": h["request"]["ScheduleExpression"]}
                    if h["request"].get("ScheduleExpression")
                    else {}
                ),
            }
            for h in association.history
        ]
        current = association.description()
        versions.append(
            {
                k: current[k]
                for k in ("AssociationId", "AssociationVersion", "Name", "ScheduleExpression")
                if k in current
            }
        )
        return api.page(list(reversed(versions)), self, "AssociationVersions")

    for handler in (
        create_association,
        describe_association,
        update_association,
        delete_association,
        list_associations,
        start_associations_once,
        describe_association_executions,
        describe_association_execution_targets,
        describe_instance_associations_status,
        list_association_versions,
    ):
        api.register(handler.__name__, handler)
