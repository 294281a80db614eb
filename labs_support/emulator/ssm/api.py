"""The Systems Manager API actions the sandbox answers itself (moto has none of them, or a stub).

Each function becomes a method of moto's SimpleSystemManagerResponse (moto's way to add or replace an
action): it reads the request, works on the FleetBackend of the caller's account and Region, and returns the
response shape of botocore's model. `register` lets the State Manager, patching, maintenance-window and
Automation modules add their actions the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.ssm.responses import SimpleSystemManagerResponse

from . import documents, fleet, run_command, schedule
from .backend import FleetBackend, fleet_for

Handler = Callable[[SimpleSystemManagerResponse], Any]


class SsmError(ServiceException):
    """An SSM error response with AWS's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def backend_of(self: SimpleSystemManagerResponse) -> FleetBackend:
    """The caller's fleet, after running whatever fell due on the lab clock since the last call."""
    fleet_backend = fleet_for(self.current_account, self.region)
    schedule.catch_up(fleet_backend)
    return fleet_backend


def param(self: SimpleSystemManagerResponse, name: str, default: Any = None) -> Any:
    return self._get_param(name, default)


def page(items: list[Any], self: SimpleSystemManagerResponse, key: str, default_max: int = 50) -> dict[str, Any]:
    """Paginate a list as SSM does (NextToken is an index here)."""
    try:
        start = int(self._get_param("NextToken") or 0)
    except ValueError:
        raise SsmError("InvalidNextToken", "The specified token isn't valid.") from None
    size = int(self._get_param("MaxResults") or default_max)
    body: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        body["NextToken"] = str(start + size)
    return body


def parse_time(text: Any, field: str, default_zone: Any = None) -> Any:
    """An ISO 8601 date and time from a request (UTC unless it says otherwise), or an SSM ValidationException."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise SsmError(
            "ValidationException", f"{field}: {text} is not a valid date and time."
        ) from None  # wording ours
    return moment if moment.tzinfo else moment.replace(tzinfo=default_zone or UTC)


def register(name: str, handler: Handler) -> None:
    """Answer an SSM action with `handler(response) -> dict` (moto serializes it)."""

    def method(self: SimpleSystemManagerResponse) -> ActionResult:
        result = handler(self)
        return EmptyResult() if result is None else ActionResult(result)

    method.__name__ = name
    setattr(SimpleSystemManagerResponse, name, method)


# -- managed nodes ------------------------------------------------------------------------------------------
def describe_instance_information(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet_backend = backend_of(self)
    filters = [(f["key"], f["valueSet"]) for f in param(self, "InstanceInformationFilterList", []) or []]
    filters += [(f["Key"], f["Values"]) for f in param(self, "Filters", []) or []]
    from . import associations

    entries = []
    for instance, host, online in fleet_backend.managed_nodes():
        entry = fleet.information(instance, host, online, associations.status_of(fleet_backend, instance.id))
        tags = run_command._tags(instance)
        if all(_info_filter(entry, tags, key, values) for key, values in filters):
            entries.append(entry)
    return page(entries, self, "InstanceInformationList")


def _info_filter(entry: dict[str, Any], tags: dict[str, str], key: str, values: list[str]) -> bool:
    if key.startswith("tag:"):
        return tags.get(key[4:]) in values
    if key == "tag-key":
        return any(v in tags for v in values)
    field_name = {
        "InstanceIds": "InstanceId",
        "PlatformTypes": "PlatformType",
        "ResourceType": "ResourceType",
        "PingStatus": "PingStatus",
        "AgentVersion": "AgentVersion",
        "IamRole": "IamRole",
        "AssociationStatus": "AssociationStatus",
    }.get(key)
    if field_name is None:
        raise SsmError("InvalidInstanceInformationFilterValue", f"Filter key {key} is not supported.")  # wording ours
    return str(entry.get(field_name)) in values


# -- service settings (Default Host Management Configuration) ------------------------------------------------
_SETTINGS_DEFAULTS = {fleet.DHMC_SETTING: "$None"}


def _setting_id(self: SimpleSystemManagerResponse) -> str:
    setting_id = param(self, "SettingId", "")
    short = (
        "/ssm/" + setting_id.split(":servicesetting/ssm/", 1)[1] if ":servicesetting/ssm/" in setting_id else setting_id
    )
    if short not in _SETTINGS_DEFAULTS:
        raise SsmError("ServiceSettingNotFound", f"The service setting {setting_id} was not found.")  # wording ours
    return short


def _setting(fleet_backend: FleetBackend, setting_id: str) -> dict[str, Any]:
    value = fleet_backend.settings.get(setting_id, _SETTINGS_DEFAULTS[setting_id])
    return {
        "SettingId": setting_id,
        "SettingValue": value,
        "LastModifiedDate": getattr(fleet_backend, "settings_modified", None) or _epoch(),
        "LastModifiedUser": "System"
        if setting_id not in fleet_backend.settings
        else f"arn:aws:iam::{fleet_backend.account_id}:root",
        "ARN": f"arn:aws:ssm:{fleet_backend.region_name}:{fleet_backend.account_id}:servicesetting{setting_id}",
        "Status": "Default" if setting_id not in fleet_backend.settings else "Customized",
    }


def _epoch() -> Any:
    from datetime import UTC, datetime

    return datetime(2022, 1, 1, tzinfo=UTC)


def get_service_setting(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet_backend = backend_of(self)
    return {"ServiceSetting": _setting(fleet_backend, _setting_id(self))}


def update_service_setting(self: SimpleSystemManagerResponse) -> None:
    fleet_backend = backend_of(self)
    fleet_backend.settings[_setting_id(self)] = param(self, "SettingValue", "")
    fleet_backend.settings_modified = schedule.clock.now()  # type: ignore[attr-defined]


def reset_service_setting(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet_backend = backend_of(self)
    setting_id = _setting_id(self)
    fleet_backend.settings.pop(setting_id, None)
    return {"ServiceSetting": _setting(fleet_backend, setting_id)}


DHMC_ROLE = "AWSSystemsManagerDefaultEC2InstanceManagementRole"
DHMC_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedEC2InstanceDefaultPolicy"


def register_default_host_management_configuration(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    """Turn DHMC on: SELF_MANAGED registers RoleArn; SERVICE_MANAGED has Systems Manager make the role (named as
    the console names it, with AmazonSSMManagedEC2InstanceDefaultPolicy)."""
    import json

    from moto.iam.models import iam_backends

    fleet_backend = backend_of(self)
    model, role_arn = param(self, "PermissionModel"), param(self, "RoleArn")
    if fleet_backend.settings.get(fleet.DHMC_SETTING, "$None") != "$None" and not param(self, "Overwrite", False):
        # wording ours: the guardrail the API reference describes for Overwrite=false
        raise SsmError(
            "ValidationException",
            "A role is already registered for Default Host Management "
            "Configuration; set Overwrite to true to replace it.",
        )
    iam = iam_backends[fleet_backend.account_id]["aws"]
    if model == "SELF_MANAGED":
        if not role_arn:
            raise SsmError("ValidationException", "RoleArn is required when PermissionModel is SELF_MANAGED.")
        name = role_arn.split(":role/", 1)[-1]
        if not any(r.name == name.split("/")[-1] for r in iam.roles.values()):
            raise SsmError("ValidationException", f"The role {role_arn} does not exist.")  # wording ours
    else:
        if role_arn:
            raise SsmError("ValidationException", "RoleArn must not be set when PermissionModel is SERVICE_MANAGED.")
        name = f"service-role/{DHMC_ROLE}"
        if not any(r.name == DHMC_ROLE for r in iam.roles.values()):
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
            iam.create_role(DHMC_ROLE, json.dumps(trust), "/service-role/", None, "", [], "3600")
            iam.attach_role_policy(DHMC_POLICY, DHMC_ROLE)
        role_arn = f"arn:aws:iam::{fleet_backend.account_id}:role/{name}"
    fleet_backend.settings[fleet.DHMC_SETTING] = name
    return {"RoleArn": role_arn}


def deregister_default_host_management_configuration(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet_backend = backend_of(self)
    fleet_backend.settings.pop(fleet.DHMC_SETTING, None)
    return {}


# -- Run Command ---------------------------------------------------------------------------------------------
def send_command(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet_backend = backend_of(self)
    request = {k: param(self, k) for k in run_command.SEND_COMMAND_FIELDS}
    try:
        command = run_command.send(fleet_backend, request)
    except run_command.InvalidTarget as error:
        raise SsmError(error.code, error.message) from None
    body = command.to_api()
    if command.status_details != "No Instances In Tag":
        body["Status"] = body["StatusDetails"] = "Pending"  # SendCommand answers before anything is delivered
    return {"Command": body}


def _command(fleet_backend: FleetBackend, command_id: str | None) -> run_command.Command | None:
    if command_id is None:
        return None
    command = fleet_backend.commands.get(command_id)
    if command is None:
        raise SsmError("InvalidCommandId", "")
    return command


def list_commands(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet_backend = backend_of(self)
    command = _command(fleet_backend, param(self, "CommandId"))
    commands = [command] if command else [c for c in reversed(list(fleet_backend.commands.values())) if not c.internal]
    instance_id = param(self, "InstanceId")
    if instance_id:
        commands = [c for c in commands if instance_id in c.invocations]
    for f in param(self, "Filters", []) or []:
        commands = [c for c in commands if _command_filter(c.to_api(), f["key"], f["value"])]
    return page([c.to_api() for c in commands], self, "Commands")


def _command_filter(body: dict[str, Any], key: str, value: str) -> bool:
    if key == "Status":
        return body["Status"] == value
    if key == "DocumentName":
        return body["DocumentName"] == value
    if key in ("InvokedAfter", "InvokedBefore"):
        from datetime import UTC, datetime

        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise SsmError("InvalidFilterValue", f"{value} is not a valid date and time.") from None  # wording ours
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return body["RequestedDateTime"] >= moment if key == "InvokedAfter" else body["RequestedDateTime"] <= moment
    return True


def list_command_invocations(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet_backend = backend_of(self)
    command = _command(fleet_backend, param(self, "CommandId"))
    commands = [command] if command else [c for c in reversed(list(fleet_backend.commands.values())) if not c.internal]
    instance_id = param(self, "InstanceId")
    details = bool(param(self, "Details", False))
    invocations = [
        run_command.invocation_to_api(inv, details)
        for c in commands
        for inv in c.invocations.values()
        if instance_id in (None, inv.instance_id)
    ]
    for f in param(self, "Filters", []) or []:
        if f["key"] == "Status":
            invocations = [i for i in invocations if i["Status"] == f["value"]]
    return page(invocations, self, "CommandInvocations")


def get_command_invocation(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet_backend = backend_of(self)
    command = fleet_backend.commands.get(param(self, "CommandId"))
    instance_id = param(self, "InstanceId")
    if command is None:
        raise SsmError("InvalidCommandId", "")
    inv = command.invocations.get(instance_id)
    if inv is None:
        raise SsmError("InvocationDoesNotExist", "")
    plugin_name = param(self, "PluginName")
    if plugin_name and inv.plugins and plugin_name not in [p.name for p in inv.plugins]:
        raise SsmError("InvalidPluginName", "")
    return run_command.get_invocation_to_api(inv, plugin_name)


def cancel_command(self: SimpleSystemManagerResponse) -> dict[str, Any]:
    fleet_backend = backend_of(self)
    try:
        run_command.cancel(fleet_backend, param(self, "CommandId"), param(self, "InstanceIds"))
    except run_command.InvalidTarget:
        raise SsmError("InvalidCommandId", "") from None
    return {}


# -- AWS-owned documents are read-only ------------------------------------------------------------------------
def _protect(name: str) -> None:
    original = getattr(SimpleSystemManagerResponse, name)

    def method(self: SimpleSystemManagerResponse) -> Any:
        document = param(self, "Name", "")
        if documents.is_aws_owned(document):
            # wording ours: AWS refuses changes to documents it owns
            raise SsmError("InvalidDocumentOperation", f"You can't change or delete {document}: it is owned by Amazon.")
        return original(self)

    method.__name__ = name
    setattr(SimpleSystemManagerResponse, name, method)


def install() -> None:
    for name, handler in {
        "describe_instance_information": describe_instance_information,
        "get_service_setting": get_service_setting,
        "update_service_setting": update_service_setting,
        "reset_service_setting": reset_service_setting,
        "register_default_host_management_configuration": register_default_host_management_configuration,
        "deregister_default_host_management_configuration": deregister_default_host_management_configuration,
        "send_command": send_command,
        "list_commands": list_commands,
        "list_command_invocations": list_command_invocations,
        "get_command_invocation": get_command_invocation,
        "cancel_command": cancel_command,
    }.items():
        register(name, handler)
    for name in ("update_document", "delete_document", "update_document_default_version", "modify_document_permission"):
        _protect(name)
