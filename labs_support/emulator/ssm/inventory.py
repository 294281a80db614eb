"""Inventory: what the simulated hosts report through AWS-GatherSoftwareInventory, and the queries on it.

https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-inventory.html
Inventory is collected by a State Manager association running AWS-GatherSoftwareInventory (its
aws:softwareInventory step). Each run replaces the node's data of each type it collects:
- AWS:InstanceInformation (agent, platform, computer name, IP),
- AWS:Application (installed packages: Name, Version, Architecture, ...), when `applications` is Enabled,
- AWS:AWSComponent (amazon-ssm-agent), when `awsComponents` is Enabled,
- AWS:Service (Windows services only, as on AWS), when `services` is Enabled,
- AWS:Network, when `networkConfig` is Enabled.
PutInventory adds Custom:<name> types. GetInventory filters on Type.Attribute with Equal, NotEqual, BeginWith,
LessThan, GreaterThan, Exists; ListInventoryEntries lists one node's entries of one type.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from .documents_run import ACTIONS, PluginResult, RunContext
from .hosts import Host

SCHEMA_VERSION = "1.0"


def _rows(host: Host, instance: Any, inputs: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    enabled = {
        k: str(inputs.get(k, "Enabled")) == "Enabled"
        for k in ("applications", "awsComponents", "services", "networkConfig")
    }
    data: dict[str, list[dict[str, str]]] = {
        "AWS:InstanceInformation": [
            {
                "AgentType": "amazon-ssm-agent",
                "AgentVersion": host.agent_version or "",
                "ComputerName": host.computer_name,
                "InstanceId": host.instance_id,
                "IpAddress": getattr(instance, "private_ip", "") or "",
                "PlatformName": host.platform_name,
                "PlatformType": host.platform_type,
                "PlatformVersion": host.platform_version,
                "ResourceType": "EC2Instance",
                "InstanceStatus": "Active",
            }
        ]
    }
    if enabled["applications"]:
        data["AWS:Application"] = [
            {
                "Name": name,
                "Version": version,
                "Architecture": "x86_64",
                "Publisher": "Amazon Linux",
                "ApplicationType": "System Environment/Base",
            }
            for name, version in sorted(host.packages.items())
            if name != "amazon-ssm-agent"
        ]
    if enabled["awsComponents"] and host.agent_version:
        data["AWS:AWSComponent"] = [
            {
                "Name": "amazon-ssm-agent",
                "Version": host.agent_version,
                "Publisher": "Amazon",
                "ApplicationType": "Service",
            }
        ]
    if enabled["services"] and host.is_windows:
        data["AWS:Service"] = [
            {
                "Name": name,
                "DisplayName": name,
                "Status": "Running" if s.running else "Stopped",
                "StartType": "Automatic" if s.enabled else "Manual",
                "ServiceType": "Win32OwnProcess",
            }
            for name, s in sorted(host.services.items())
        ]
    if enabled["networkConfig"]:
        data["AWS:Network"] = [
            {
                "Name": "eth0",
                "IPV4": getattr(instance, "private_ip", "") or "",
                "MacAddress": "0a:00:00:00:00:01",
                "DHCPServer": "10.0.0.1",
            }
        ]
    return data


def _collect(host: Host, inputs: dict[str, Any], ctx: RunContext, name: str) -> PluginResult:
    from .. import clock
    from .backend import fleet_for

    fleet = fleet_for(ctx.account_id, ctx.region)
    captured: datetime = ctx.extra.get("at") or clock.now()
    stored = fleet.inventory.setdefault(host.instance_id, {})
    for type_name, rows in _rows(host, ctx.instance, inputs).items():
        store(stored, type_name, rows, captured)
    lines = [f"{t}: {len(v['Content'])} item(s)" for t, v in sorted(stored.items()) if t.startswith("AWS:")]
    return PluginResult(name, "Success", 0, "Inventory collected:\n" + "\n".join(lines) + "\n", "", 15)


def store(
    stored: dict[str, dict[str, Any]],
    type_name: str,
    rows: list[dict[str, str]],
    captured: datetime,
    schema_version: str = SCHEMA_VERSION,
) -> None:
    stored[type_name] = {
        "TypeName": type_name,
        "SchemaVersion": schema_version,
        "CaptureTime": captured.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ContentHash": hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:32],
        "Content": rows,
    }


def _matches(value: str | None, values: list[str], kind: str) -> bool:
    if kind == "Exists":
        return value is not None
    if value is None:
        return False
    if kind == "Equal":
        return value in values
    if kind == "NotEqual":
        return value not in values
    if kind == "BeginWith":
        return any(value.startswith(v) for v in values)
    try:
        number, limits = float(value), [float(v) for v in values]
    except ValueError:
        return False
    return any(number < v for v in limits) if kind == "LessThan" else any(number > v for v in limits)


def _filter_ok(data: dict[str, dict[str, Any]], f: dict[str, Any]) -> bool:
    type_name, _, attribute = f["Key"].rpartition(".")
    rows = data.get(type_name, {}).get("Content", [])
    kind = f.get("Type", "Equal")
    if kind == "NotEqual":
        return all(_matches(r.get(attribute), f.get("Values", []), kind) for r in rows)
    return any(_matches(r.get(attribute), f.get("Values", []), kind) for r in rows)


def install() -> None:
    from . import api

    ACTIONS["aws:softwareInventory"] = _collect

    def get_inventory(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        filters = api.param(self, "Filters", []) or []
        wanted = [a["TypeName"] for a in api.param(self, "ResultAttributes", []) or []]
        entities = []
        for instance_id, data in sorted(list(fleet.inventory.items())):
            if not all(_filter_ok(data, f) for f in filters):
                continue
            shown = {t: v for t, v in list(data.items()) if not wanted or t in wanted}
            entities.append({"Id": instance_id, "Data": shown})
        return api.page(entities, self, "Entities")

    def list_inventory_entries(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        instance_id, type_name = api.param(self, "InstanceId"), api.param(self, "TypeName")
        data = fleet.inventory.get(instance_id, {}).get(type_name)
        if data is None:
            return {"TypeName": type_name, "InstanceId": instance_id, "Entries": []}
        rows = data["Content"]
        for f in api.param(self, "Filters", []) or []:
            rows = [r for r in rows if _matches(r.get(f["Key"]), f.get("Values", []), f.get("Type", "Equal"))]
        body = {
            "TypeName": type_name,
            "InstanceId": instance_id,
            "SchemaVersion": data["SchemaVersion"],
            "CaptureTime": data["CaptureTime"],
        }
        body.update(api.page(rows, self, "Entries"))
        return body

    def put_inventory(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        instance_id = api.param(self, "InstanceId")
        if fleet.node(instance_id) is None:
            raise api.SsmError("InvalidInstanceId", "")
        stored = fleet.inventory.setdefault(instance_id, {})
        for item in api.param(self, "Items", []):
            if not item["TypeName"].startswith("Custom:"):
                raise api.SsmError("InvalidTypeNameException", f"{item['TypeName']} is not a custom inventory type.")
            try:
                captured = datetime.strptime(item["CaptureTime"], "%Y-%m-%dT%H:%M:%SZ")
            except (KeyError, ValueError):
                raise api.SsmError("ValidationException", "CaptureTime must look like 2026-11-22T10:00:00Z.") from None
            store(stored, item["TypeName"], item.get("Content", []), captured, item.get("SchemaVersion", "1.0"))
        return {"Message": ""}

    def get_inventory_schema(self: Any) -> dict[str, Any]:
        fleet = api.backend_of(self)
        types: dict[str, set[str]] = {}
        for data in fleet.inventory.values():
            for type_name, entry in data.items():
                for row in entry["Content"]:
                    types.setdefault(type_name, set()).update(row)
        schemas = [
            {
                "TypeName": t,
                "Version": SCHEMA_VERSION,
                "Attributes": [{"Name": a, "DataType": "string"} for a in sorted(attrs)],
            }
            for t, attrs in sorted(types.items())
        ]
        return api.page(schemas, self, "Schemas")

    for handler in (get_inventory, list_inventory_entries, put_inventory, get_inventory_schema):
        api.register(handler.__name__, handler)
