"""Run Command: SendCommand to managed nodes, with rate control, per-node invocations and their output.

https://docs.aws.amazon.com/systems-manager/latest/userguide/run-command.html
- Targets: InstanceIds, or Targets by `tag:<key>`, `tag-key` or `InstanceIds` (managed nodes only). An
  instance id that never registered with Systems Manager is refused with InvalidInstanceId; a node that is
  registered but offline gets an invocation that waits for delivery until TimeoutSeconds, then ends
  TimedOut / "Delivery Timed Out".
- The command runs in the background on the lab clock (sandbox.lab_clock_speed): SendCommand answers at
  once with Status Pending, then invocations go InProgress and end Success / Failed / TimedOut / Cancelled
  under MaxConcurrency and MaxErrors (rate_control.py).
- Command statuses and details: https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
- Output: the first 24,000 characters of stdout (8,000 of stderr) in GetCommandInvocation, 2,500 in
  ListCommandInvocations(Details), everything in S3 when OutputS3BucketName is given (key
  prefix/command-id/instance-id/plugin/stdout|stderr).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .. import clock
from . import rate_control
from .backend import FleetBackend
from .documents_run import ParameterError, PluginResult, RunContext, content_of, resolve_parameters, run_document

# SendCommand's request members the sandbox reads (Run Command, and Automation's aws:runCommand inputs)
SEND_COMMAND_FIELDS = (
    "DocumentName",
    "DocumentVersion",
    "InstanceIds",
    "Targets",
    "Parameters",
    "Comment",
    "TimeoutSeconds",
    "MaxConcurrency",
    "MaxErrors",
    "OutputS3BucketName",
    "OutputS3KeyPrefix",
    "ServiceRoleArn",
    "NotificationConfig",
    "CloudWatchOutputConfig",
)
GET_OUTPUT_LIMIT = 24000
GET_ERROR_LIMIT = 8000
LIST_OUTPUT_LIMIT = 2500
AGENT_PICKUP_SECONDS = 1.0  # the agent polls for work; a command starts a moment after it is sent


class InvalidTarget(Exception):
    """A SendCommand the API refuses (becomes an SSM error of this code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Invocation:
    """A command on one managed node."""

    command: Command
    instance_id: str
    instance_name: str
    status: str = "Pending"
    status_details: str = "Pending"
    plugins: list[PluginResult] = field(default_factory=list)
    requested: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None

    @property
    def response_code(self) -> int:
        codes = [p.response_code for p in self.plugins if not p.skipped]
        return codes[-1] if codes else -1

    def output(self, limit: int, stream: str = "stdout") -> str:
        text = "".join(getattr(p, stream) for p in self.plugins)
        return text[:limit]

    def s3_url(self, plugin: str, stream: str) -> str:
        c = self.command
        if not c.output_s3_bucket:
            return ""
        key = "/".join(
            p
            for p in (
                c.output_s3_prefix,
                c.command_id,
                self.instance_id,
                "awsrunShellScript" if plugin == "aws:runShellScript" else plugin.replace(":", ""),
                stream,
            )
            if p
        )
        return f"https://s3.{c.region}.amazonaws.com/{c.output_s3_bucket}/{key}"


@dataclass
class Command:
    """A SendCommand request and its progress."""

    command_id: str
    account_id: str
    region: str
    document_name: str
    document_version: str
    comment: str
    parameters: dict[str, Any]
    instance_ids: list[str]
    targets: list[dict[str, Any]]
    max_concurrency: str
    max_errors: str
    timeout_seconds: int
    requested: datetime
    output_s3_bucket: str = ""
    output_s3_prefix: str = ""
    service_role: str = ""
    notification_config: dict[str, Any] | None = None
    cloudwatch_output: dict[str, Any] | None = None
    internal: bool = False
    status: str = "Pending"
    status_details: str = "Pending"
    invocations: dict[str, Invocation] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def counts(self) -> dict[str, int]:
        finished = [i for i in self.invocations.values() if i.status not in ("Pending", "InProgress", "Delayed")]
        not_errors = ("Delivery Timed Out", "Invalid Platform", "Undeliverable", "Access Denied")
        return {
            "TargetCount": len(self.invocations),
            "CompletedCount": len(finished),
            "ErrorCount": sum(
                1 for i in finished if i.status in ("Failed", "TimedOut") and i.status_details not in not_errors
            ),
            "DeliveryTimedOutCount": sum(1 for i in finished if i.status_details == "Delivery Timed Out"),
        }

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "CommandId": self.command_id,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "Comment": self.comment,
            "ExpiresAfter": self.requested + timedelta(seconds=self.timeout_seconds),
            "Parameters": {k: v if isinstance(v, list) else [str(v)] for k, v in self.parameters.items()},
            "InstanceIds": self.instance_ids,
            "Targets": self.targets,
            "RequestedDateTime": self.requested,
            "Status": self.status,
            "StatusDetails": self.status_details,
            "OutputS3Region": self.region,
            "OutputS3BucketName": self.output_s3_bucket,
            "OutputS3KeyPrefix": self.output_s3_prefix,
            "MaxConcurrency": self.max_concurrency,
            "MaxErrors": self.max_errors,
            "ServiceRole": self.service_role,
            "NotificationConfig": self.notification_config or {},
            "CloudWatchOutputConfig": self.cloudwatch_output or {"CloudWatchOutputEnabled": False},
            "TimeoutSeconds": self.timeout_seconds,
        }
        body.update(self.counts())
        return body


def invocation_to_api(inv: Invocation, details: bool) -> dict[str, Any]:
    """One CommandInvocation of ListCommandInvocations."""
    c = inv.command
    body: dict[str, Any] = {
        "CommandId": c.command_id,
        "InstanceId": inv.instance_id,
        "InstanceName": inv.instance_name,
        "Comment": c.comment,
        "DocumentName": c.document_name,
        "DocumentVersion": c.document_version,
        "RequestedDateTime": inv.requested or c.requested,
        "Status": inv.status,
        "StatusDetails": inv.status_details,
        "TraceOutput": "",
        "StandardOutputUrl": inv.s3_url(inv.plugins[0].name, "stdout") if inv.plugins else "",
        "StandardErrorUrl": inv.s3_url(inv.plugins[0].name, "stderr") if inv.plugins else "",
        "CommandPlugins": [],
        "ServiceRole": c.service_role,
        "NotificationConfig": c.notification_config or {},
        "CloudWatchOutputConfig": c.cloudwatch_output or {"CloudWatchOutputEnabled": False},
    }
    if details:
        body["CommandPlugins"] = [
            {
                "Name": p.name,
                "Status": p.status,
                "StatusDetails": p.status_details,
                "ResponseCode": p.response_code,
                "ResponseStartDateTime": inv.started,
                "ResponseFinishDateTime": inv.finished,
                "Output": (p.stdout + ("\n----------ERROR-------\n" + p.stderr if p.stderr else ""))[
                    :LIST_OUTPUT_LIMIT
                ],
                "StandardOutputUrl": inv.s3_url(p.name, "stdout"),
                "StandardErrorUrl": inv.s3_url(p.name, "stderr"),
                "OutputS3Region": c.region,
                "OutputS3BucketName": c.output_s3_bucket,
                "OutputS3KeyPrefix": c.output_s3_prefix,
            }
            for p in inv.plugins
        ]
    return body


def get_invocation_to_api(inv: Invocation, plugin_name: str | None) -> dict[str, Any]:
    """GetCommandInvocation's answer (one plugin, or the invocation as a whole)."""
    c = inv.command
    plugins = [p for p in inv.plugins if plugin_name in (None, p.name)]
    plugin = plugins[0] if plugin_name and plugins else None
    stdout = plugin.stdout if plugin else "".join(p.stdout for p in plugins)
    stderr = plugin.stderr if plugin else "".join(p.stderr for p in plugins)
    started, finished = inv.started, inv.finished
    return {
        "CommandId": c.command_id,
        "InstanceId": inv.instance_id,
        "Comment": c.comment,
        "DocumentName": c.document_name,
        "DocumentVersion": c.document_version,
        "PluginName": plugin.name if plugin else (plugin_name or (plugins[0].name if plugins else "")),
        "ResponseCode": plugin.response_code if plugin else inv.response_code,
        "ExecutionStartDateTime": started.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z" if started else "",
        "ExecutionElapsedTime": _elapsed(started, finished),
        "ExecutionEndDateTime": finished.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z" if finished else "",
        "Status": plugin.status if plugin else inv.status,
        "StatusDetails": plugin.status_details if plugin else inv.status_details,
        "StandardOutputContent": stdout[:GET_OUTPUT_LIMIT],
        "StandardOutputUrl": inv.s3_url((plugin or plugins[0]).name, "stdout") if plugins else "",
        "StandardErrorContent": stderr[:GET_ERROR_LIMIT],
        "StandardErrorUrl": inv.s3_url((plugin or plugins[0]).name, "stderr") if plugins else "",
        "CloudWatchOutputConfig": c.cloudwatch_output or {"CloudWatchOutputEnabled": False},
    }


def _elapsed(started: datetime | None, finished: datetime | None) -> str:
    if not started or not finished:
        return ""
    seconds = (finished - started).total_seconds()
    return f"PT{seconds:.3f}S"


# -- targets -----------------------------------------------------------------------------------------------
def resolve_targets(
    fleet: FleetBackend, instance_ids: list[str], targets: list[dict[str, Any]]
) -> list[tuple[Any, Any, bool]]:
    """The managed nodes a request names, in order; InvalidTarget for ids that are not managed nodes."""
    if instance_ids:
        nodes, bad = [], []
        for instance_id in instance_ids:
            node = fleet.node(instance_id)
            (nodes.append(node) if node else bad.append(instance_id))
        if bad:
            raise InvalidTarget("InvalidInstanceId", _invalid_instance_message(fleet, bad))
        return nodes
    return select(fleet.managed_nodes(), targets)


def _invalid_instance_message(fleet: FleetBackend, bad: list[str]) -> str:
    # AWS's wording for instances that are not managed nodes (observed; the API reference only names the
    # error): "Instances [[i-...]] not in a valid state for account <id>".
    return f"Instances [[{', '.join(bad)}]] not in a valid state for account {fleet.account_id}"


def select(nodes: list[tuple[Any, Any, bool]], targets: list[dict[str, Any]]) -> list[tuple[Any, Any, bool]]:
    """Nodes matching every Target (a key with several values matches any of them)."""
    chosen = []
    for node in nodes:
        instance = node[0]
        tags = {t["key"]: t["value"] for t in instance.get_tags()} if hasattr(instance, "get_tags") else _tags(instance)
        if all(_matches(instance.id, tags, t) for t in targets):
            chosen.append(node)
    return chosen


def _tags(instance: Any) -> dict[str, str]:
    backend = instance.ec2_backend
    return {t["key"]: t["value"] for t in backend.describe_tags(filters={"resource-id": [instance.id]})}


def _matches(instance_id: str, tags: dict[str, str], target: dict[str, Any]) -> bool:
    key, values = target.get("Key", ""), target.get("Values", [])
    if key.startswith("tag:"):
        return tags.get(key[4:]) in values
    if key == "tag-key":
        return any(v in tags for v in values)
    if key in ("InstanceIds", "instanceids"):
        return instance_id in values or "*" in values
    return False


def validate_targets(targets: list[dict[str, Any]]) -> None:
    for target in targets:
        key = target.get("Key", "")
        if not (key.startswith("tag:") or key in ("tag-key", "InstanceIds", "instanceids")):
            raise InvalidTarget(
                "InvalidTarget",
                f"Target key {key} is not supported by the course sandbox "
                "(it supports InstanceIds, tag:<key> and tag-key).",
            )


# -- running -----------------------------------------------------------------------------------------------
def send(
    fleet: FleetBackend, request: dict[str, Any], replay: rate_control.Timeline | None = None, internal: bool = False
) -> Command:
    """Validate and start a command; returns it at once (Pending), it runs in a worker thread.

    With a replay timeline (work that fell due while time was fast-forwarded) it runs to the end first, in
    this thread. `internal` commands (State Manager's) are left out of ListCommands.
    """
    document = _document(fleet, request["DocumentName"], request.get("DocumentVersion"))
    content = content_of(document)
    if document.document_type != "Command":
        raise InvalidTarget("InvalidDocument", f"Document {document.name} is not of type Command.")  # wording ours
    try:
        params = resolve_parameters(content, request.get("Parameters") or {})
    except ParameterError as error:
        raise InvalidTarget("InvalidParameters", str(error)) from None
    instance_ids = request.get("InstanceIds") or []
    targets = request.get("Targets") or []
    if bool(instance_ids) == bool(targets):
        raise InvalidTarget(
            "ValidationException", "Specify either InstanceIds or Targets, but not both."
        )  # wording ours
    validate_targets(targets)
    nodes = resolve_targets(fleet, instance_ids, targets)
    try:
        rate_control.limit(request.get("MaxConcurrency"), 1, "50", 1)
        rate_control.limit(request.get("MaxErrors"), 1, "0", 0)
    except rate_control.RateError as error:
        raise InvalidTarget("ValidationException", str(error)) from None
    now = replay.now() if replay else clock.now()
    command = Command(
        command_id=str(uuid.UUID(int=uuid.uuid4().int)),
        account_id=fleet.account_id,
        region=fleet.region_name,
        document_name=document.name,
        document_version=document.document_version,
        comment=request.get("Comment") or "",
        parameters=params,
        instance_ids=list(instance_ids),
        targets=targets,
        max_concurrency=str(request.get("MaxConcurrency") or "50"),
        max_errors=str(request.get("MaxErrors") or "0"),
        timeout_seconds=int(request.get("TimeoutSeconds") or 3600),
        requested=now,
        output_s3_bucket=request.get("OutputS3BucketName") or "",
        output_s3_prefix=request.get("OutputS3KeyPrefix") or "",
        service_role=request.get("ServiceRoleArn") or "",
        notification_config=request.get("NotificationConfig"),
        cloudwatch_output=request.get("CloudWatchOutputConfig"),
        internal=internal,
    )
    for instance, host, _ in nodes:
        command.invocations[instance.id] = Invocation(command, instance.id, host.computer_name, requested=now)
    with fleet.lock:
        fleet.commands[command.command_id] = command
    if not nodes:
        # Targets matched no managed node: nothing to run (AWS's detailed status for tags)
        command.status, command.status_details = "Success", "No Instances In Tag"
        command.done.set()
        return command
    if replay is not None:
        _execute(fleet, command, content, nodes, replay)
        return command
    thread = threading.Thread(
        target=_execute,
        args=(fleet, command, content, nodes, rate_control.Timeline()),
        daemon=True,
        name=f"ssm-command-{command.command_id[:8]}",
    )
    thread.start()
    return command


def _document(fleet: FleetBackend, name: str, version: str | None) -> Any:
    moto = fleet.moto
    if name not in moto._documents:
        raise InvalidTarget("InvalidDocument", f"Document {name} does not exist in your account.")  # wording ours
    documents = moto._documents[name]
    if version in (None, "", "$DEFAULT"):
        return documents.get_default_version()
    if version == "$LATEST":
        return documents.get_latest_version()
    found = documents.find_by_version(str(version))
    if found is None:
        raise InvalidTarget("InvalidDocumentVersion", f"Document {name} has no version {version}.")  # wording ours
    return found


def ssm_lookup(fleet: FleetBackend):
    def lookup(name: str) -> str:
        parameter = fleet.moto.get_parameter(name)
        if parameter is None:
            raise ParameterError(f"{{{{ssm:{name}}}}}: parameter not found")
        if parameter.parameter_type == "SecureString":
            # wording ours: {{ssm:}} references do not hand SecureString values to commands (observed in
            # awsdocs/aws-systems-manager-user-guide#55); a script reads them with get-parameter --with-decryption
            raise ParameterError(f"{{{{ssm:{name}}}}} is a SecureString parameter and is not resolved into commands")
        return parameter.value

    return lookup


def run_on_node(
    fleet: FleetBackend,
    instance: Any,
    host: Any,
    document_name: str,
    content: dict[str, Any],
    params: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> list[PluginResult]:
    """Run a document on one node now (the host changes at once; the caller accounts the lab time)."""
    ctx = RunContext(fleet.account_id, fleet.region_name, instance, document_name, params, extra or {})
    with host.lock:
        try:
            return run_document(host, content, ctx, ssm_lookup(fleet))
        except ParameterError as error:
            return [PluginResult("aws:runShellScript", "Failed", -1, "", f"{error}\n")]


def _execute(
    fleet: FleetBackend,
    command: Command,
    content: dict[str, Any],
    nodes: list[tuple[Any, Any, bool]],
    timeline: rate_control.Timeline,
) -> None:
    by_id = {instance.id: (instance, host, online) for instance, host, online in nodes}
    concurrency = rate_control.limit(command.max_concurrency, len(nodes), "50", 1)
    max_errors = rate_control.limit(command.max_errors, len(nodes), "0", 0)
    command.status, command.status_details = "InProgress", "In Progress"
    platforms = set(getattr(_document(fleet, command.document_name, command.document_version), "platform_types", []))
    platforms = {p for p in platforms if p in ("Linux", "Windows", "MacOS")}

    def start(instance_id: str) -> rate_control.Outcome:
        instance, host, _ = by_id[instance_id]
        inv = command.invocations[instance_id]
        inv.status, inv.status_details = "InProgress", "In Progress"
        inv.started = timeline.now()
        _, still_online = _online_now(fleet, instance)
        if not still_online:
            inv.plugins = []
            inv.status, inv.status_details = "TimedOut", "Delivery Timed Out"
            return rate_control.Outcome(False, command.timeout_seconds, counts_as_error=False)
        if platforms and host.platform_type not in platforms:
            inv.plugins = []
            inv.status, inv.status_details = "Failed", "Invalid Platform"
            return rate_control.Outcome(False, AGENT_PICKUP_SECONDS, counts_as_error=False)
        extra = {"at": inv.started, "command_id": command.command_id}
        inv.plugins = run_on_node(fleet, instance, host, command.document_name, content, command.parameters, extra)
        seconds = AGENT_PICKUP_SECONDS + sum(p.lab_seconds for p in inv.plugins)
        return rate_control.Outcome(all(p.status == "Success" for p in inv.plugins), seconds)

    def finish(instance_id: str, outcome: rate_control.Outcome) -> None:
        inv = command.invocations[instance_id]
        inv.finished = timeline.now()
        if inv.status_details in ("Delivery Timed Out", "Invalid Platform"):
            inv.started = None if inv.status_details == "Delivery Timed Out" else inv.started
            return
        failed = [p for p in inv.plugins if p.status != "Success"]
        if not failed:
            inv.status = inv.status_details = "Success"
        else:
            inv.status = failed[0].status
            inv.status_details = failed[0].status_details
        _write_output(fleet, inv)

    def skip(instance_id: str, why: str) -> None:
        inv = command.invocations[instance_id]
        inv.finished = timeline.now()
        inv.status = inv.status_details = "Cancelled"
        if why == "Failed":
            # never sent: MaxErrors was passed first. AWS's detail is "Terminated" (monitor-commands.html); the
            # API enum has no such status, so Status is Cancelled (AWS does not document which enum value).
            inv.status_details = "Terminated"

    try:
        result = rate_control.run(
            list(by_id), concurrency, max_errors, start, finish, command.cancel, skip, timeline, ramp_up=True
        )
    except clock.Aborted:
        return
    except Exception as error:  # the sandbox's own fault: end the command Failed rather than InProgress forever
        for inv in command.invocations.values():
            if inv.status in ("Pending", "InProgress"):
                inv.status, inv.status_details = "Failed", "Failed"
                inv.plugins = [PluginResult("aws:runShellScript", "Failed", -1, "", f"sandbox error: {error}\n")]
        command.status = command.status_details = "Failed"
        command.done.set()
        return
    delivery_timeouts = command.counts()["DeliveryTimedOutCount"]
    if result == "Cancelled":
        command.status = command.status_details = "Cancelled"
    elif result == "Failed":
        command.status = command.status_details = "Failed"
    elif result == "Incomplete":
        if delivery_timeouts and delivery_timeouts == len(command.invocations):
            command.status, command.status_details = "TimedOut", "Delivery Timed Out"
        else:
            command.status, command.status_details = "Failed", "Incomplete"
    else:
        command.status = command.status_details = "Success"
    command.done.set()


def _online_now(fleet: FleetBackend, instance: Any) -> tuple[Any, bool]:
    from . import fleet as fleet_module

    return fleet_module.refresh(instance, fleet.settings)


def _write_output(fleet: FleetBackend, inv: Invocation) -> None:
    """Copy the output to S3 and CloudWatch Logs, as the agent uploads it, when the command asked for it."""
    c = inv.command
    if (c.cloudwatch_output or {}).get("CloudWatchOutputEnabled"):
        _write_logs(inv)
    if not c.output_s3_bucket:
        return
    from moto.s3.models import s3_backends

    s3 = s3_backends[c.account_id]["aws"]
    for plugin in inv.plugins:
        for stream in ("stdout", "stderr"):
            text = getattr(plugin, stream)
            if not text:
                continue
            key = inv.s3_url(plugin.name, stream).split(f"/{c.output_s3_bucket}/", 1)[1]
            try:
                s3.put_object(c.output_s3_bucket, key, text.encode())
            except Exception:  # no such bucket: on AWS the agent's upload fails and the output stays in the API only
                return


def _write_logs(inv: Invocation) -> None:
    """CloudWatch output: group aws/ssm/<document> unless named, stream <command>/<instance>/<plugin>/stdout|stderr
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-rc-setting-up-cwlogs.html)."""
    from moto.logs.models import logs_backends

    c = inv.command
    logs = logs_backends[c.account_id][c.region]
    group = (c.cloudwatch_output or {}).get("CloudWatchLogGroupName") or f"aws/ssm/{c.document_name}"
    if group not in logs.groups:
        logs.create_log_group(group, {})
    at = int((inv.finished or clock.now()).timestamp() * 1000)
    for plugin in inv.plugins:
        for stream in ("stdout", "stderr"):
            text = getattr(plugin, stream)
            if not text:
                continue
            name = f"{c.command_id}/{inv.instance_id}/{plugin.name.replace(':', '-')}/{stream}"
            if name not in logs.groups[group].streams:
                logs.create_log_stream(group, name)
            events = [{"timestamp": at, "message": line} for line in text.splitlines() if line]
            # straight into the group: after a fast-forward sandbox time is ahead of real time, and moto's
            # put_log_events refuses events more than 2 hours in the (real) future
            logs.groups[group].put_log_events(name, events)


def cancel(fleet: FleetBackend, command_id: str, instance_ids: list[str] | None) -> None:
    """CancelCommand: stop a command that has not finished (a finished one is left as it is)."""
    command = fleet.commands.get(command_id)
    if command is None:
        raise InvalidTarget("InvalidCommandId", "")
    if command.status in ("Pending", "InProgress"):
        command.status = command.status_details = "Cancelling"
        command.cancel.set()
