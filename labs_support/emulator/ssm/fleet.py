"""Managed nodes: which EC2 instances Systems Manager can reach, decided by AWS's prerequisites.

An instance becomes a managed node (DescribeInstanceInformation, Fleet Manager) only when, as on AWS,
https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-setting-up-ec2.html and
https://docs.aws.amazon.com/systems-manager/latest/userguide/troubleshooting-managed-nodes.html:

1. it is running;
2. the SSM Agent is installed and its service running (hosts.py: AMI, user data, or a later install);
3. the agent has credentials: an instance profile whose role trusts ec2.amazonaws.com and allows
   ssm:UpdateInstanceInformation (AmazonSSMManagedInstanceCore does), or, without one, Default Host
   Management Configuration: the service setting /ssm/managed-instance/default-ec2-instance-management-role
   names a role trusted by ssm.amazonaws.com with such permissions, the instance requires IMDSv2, and the
   agent is 3.2.582.0 or later
   (https://docs.aws.amazon.com/systems-manager/latest/userguide/fleet-manager-default-host-management-configuration.html);
4. it can reach the service endpoints: its subnet routes 0.0.0.0/0 to an internet or NAT gateway, or the VPC
   has interface endpoints for ssm, ssmmessages and ec2messages
   (https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html).

A node that was online and loses one of these reports PingStatus ConnectionLost. `diagnose` walks the same
list, as the AWSSupport-TroubleshootManagedInstance runbook does, so a lab can explain what is missing.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends

from .. import clock
from .hosts import Host, host_for

DHMC_SETTING = "/ssm/managed-instance/default-ec2-instance-management-role"
DHMC_MIN_AGENT = (3, 2, 582, 0)
ENDPOINT_SERVICES = ("ssm", "ssmmessages", "ec2messages")
CORE_ACTION = "ssm:UpdateInstanceInformation"


@dataclass
class Check:
    """One prerequisite and whether this instance meets it."""

    name: str
    ok: bool
    detail: str


def ec2_backend(account_id: str, region: str) -> Any:
    return ec2_backends[account_id][region]


def all_instances(account_id: str, region: str) -> list[Any]:
    """Every instance of the account and Region that is not terminated."""
    backend = ec2_backend(account_id, region)
    return [i for i in backend.all_instances() if i.state != "terminated"]


def find_instance(account_id: str, region: str, instance_id: str) -> Any | None:
    for instance in all_instances(account_id, region):
        if instance.id == instance_id:
            return instance
    return None


# -- the prerequisites -------------------------------------------------------------------------------
def diagnose(instance: Any, settings: dict[str, str]) -> list[Check]:
    """The prerequisites of a managed node, each met or not, with what is missing."""
    host = host_for(instance)
    checks = [Check("instance running", instance.state == "running", f"the instance is {instance.state}")]
    agent_running = bool(host.agent_version) and any(
        n in host.services and host.services[n].running for n in ("amazon-ssm-agent", "AmazonSSMAgent")
    )
    if not host.agent_version:
        detail = f"no SSM Agent on this {host.platform_name} {host.platform_version} host"
    elif not agent_running:
        detail = "the SSM Agent is installed but its service is stopped"
    else:
        detail = f"SSM Agent {host.agent_version} running"
    checks.append(Check("SSM Agent", agent_running, detail))
    checks.append(_credentials_check(instance, host, settings))
    checks.append(_network_check(instance))
    return checks


def _credentials_check(instance: Any, host: Host, settings: dict[str, str]) -> Check:
    iam = iam_backends[instance.ec2_backend.account_id][instance.ec2_backend.partition]
    profile_role = _instance_profile_role(instance, iam)
    if profile_role is not None:
        role, profile_name = profile_role
        if not _trusts(role, "ec2.amazonaws.com"):
            return Check(
                "credentials",
                False,
                f"role {role.name} (instance profile {profile_name}) does not trust ec2.amazonaws.com",
            )
        if not _allows(role, iam, CORE_ACTION):
            return Check(
                "credentials",
                False,
                f"role {role.name} (instance profile {profile_name}) does not allow {CORE_ACTION}: "
                "attach AmazonSSMManagedInstanceCore",
            )
        return Check("credentials", True, f"instance profile {profile_name}, role {role.name}")
    role_name = settings.get(DHMC_SETTING, "")
    if not role_name or role_name.startswith("$None"):
        return Check("credentials", False, "no instance profile, and Default Host Management Configuration is off")
    role = _role(iam, role_name.split("/")[-1])
    if role is None:
        return Check("credentials", False, f"the DHMC role {role_name} does not exist")
    if not _trusts(role, "ssm.amazonaws.com"):
        return Check("credentials", False, f"the DHMC role {role.name} does not trust ssm.amazonaws.com")
    if not _allows(role, iam, CORE_ACTION):
        return Check("credentials", False, f"the DHMC role {role.name} does not allow {CORE_ACTION}")
    tokens = getattr(instance.metadata_options, "http_tokens", "optional")
    if tokens != "required":
        return Check("credentials", False, "DHMC is on but the instance does not require IMDSv2 (HttpTokens=optional)")
    if _version(host.agent_version or "0") < DHMC_MIN_AGENT:
        return Check(
            "credentials", False, f"DHMC needs SSM Agent 3.2.582.0 or later; this host has {host.agent_version}"
        )
    return Check("credentials", True, f"Default Host Management Configuration, role {role.name}")


def _network_check(instance: Any) -> Check:
    backend = instance.ec2_backend
    subnet_id = getattr(instance, "subnet_id", None)
    if not subnet_id:
        return Check("network", True, "EC2-Classic style instance with a public address")
    subnet = backend.get_subnet(subnet_id)
    table = _route_table(backend, subnet)
    vpc = backend.vpcs.get(subnet.vpc_id)
    if vpc is not None and vpc.is_default and table is not None and table.main_association_id is not None:
        # AWS gives every default VPC an internet gateway and a 0.0.0.0/0 route in its main route table;
        # moto creates the VPC without them, so the default VPC's main table counts as routed here.
        return Check("network", True, f"default VPC subnet {subnet_id} (internet gateway route)")
    for route in table.routes if table else []:
        if route.destination_cidr_block == "0.0.0.0/0" and (route.gateway or route.nat_gateway):
            via = route.gateway.id if route.gateway else route.nat_gateway.id
            return Check("network", True, f"subnet {subnet_id} routes 0.0.0.0/0 to {via}")
    region = backend.region_name
    present = {
        e.service_name.split(".")[-1]
        for e in backend.vpc_end_points.values()
        if e.vpc_id == subnet.vpc_id
        and e.service_name.startswith(f"com.amazonaws.{region}.")
        and getattr(e, "vpc_endpoint_type", "Interface") == "Interface"
    }
    missing = [s for s in ENDPOINT_SERVICES if s not in present]
    if not missing:
        return Check(
            "network", True, f"private subnet {subnet_id} with interface endpoints for ssm, ssmmessages, ec2messages"
        )
    names = ", ".join(f"com.amazonaws.{region}.{s}" for s in missing)
    return Check(
        "network", False, f"subnet {subnet_id} has no route to the internet and the VPC lacks endpoints {names}"
    )


def _route_table(backend: Any, subnet: Any) -> Any | None:
    main = None
    for table in backend.route_tables.values():
        if table.vpc_id != subnet.vpc_id:
            continue
        if subnet.id in table._associations.values():
            return table
        if table.main_association_id is not None:
            main = table
    return main


def _instance_profile_role(instance: Any, iam: Any) -> tuple[Any, str] | None:
    association = instance.ec2_backend.iam_instance_profile_associations.get(instance.id)
    profile = association.iam_instance_profile if association else None
    if profile is None:
        return None
    roles = list(getattr(profile, "roles", []))
    if not roles:
        return None
    return roles[0], profile.name


def _role(iam: Any, name: str) -> Any | None:
    for role in iam.roles.values():
        if role.name == name:
            return role
    return None


def _documents(role: Any, iam: Any) -> list[dict[str, Any]]:
    docs = []
    for policy in role.managed_policies.values():
        default = [v for v in policy.versions if v.version_id == policy.default_version_id]
        docs.extend(_load(v.document) for v in default)
    for document in role.policies.values():
        docs.append(_load(document))
    return docs


def _load(document: Any) -> dict[str, Any]:
    if isinstance(document, dict):
        return document
    try:
        return json.loads(unquote(document))
    except (TypeError, ValueError):
        return {}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _allows(role: Any, iam: Any, action: str) -> bool:
    """Identity-policy evaluation for one action on any resource: an explicit Deny wins."""
    allowed = False
    for document in _documents(role, iam):
        for statement in _statements(document):
            actions = _listed(statement.get("Action"))
            if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _trusts(role: Any, service: str) -> bool:
    document = _load(role.assume_role_policy_document)
    for statement in _statements(document):
        principal = statement.get("Principal", {})
        services = _listed(principal.get("Service")) if isinstance(principal, dict) else []
        if statement.get("Effect") == "Allow" and service in services:
            return True
    return False


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        return (0,)


# -- the node's record --------------------------------------------------------------------------------
def refresh(instance: Any, settings: dict[str, str]) -> tuple[Host, bool]:
    """Bring a host's registration up to date; (host, online now)."""
    host = host_for(instance)
    online = all(check.ok for check in diagnose(instance, settings))
    now = clock.now()
    with host.lock:
        if online:
            if getattr(host, "registered_at", None) is None:
                host.registered_at = now  # type: ignore[attr-defined]
            host.last_ping = now  # type: ignore[attr-defined]
            host.role_name = _role_in_use(instance, settings)  # type: ignore[attr-defined]
    return host, online


def _role_in_use(instance: Any, settings: dict[str, str]) -> str:
    iam = iam_backends[instance.ec2_backend.account_id][instance.ec2_backend.partition]
    found = _instance_profile_role(instance, iam)
    if found:
        return found[0].name
    return settings.get(DHMC_SETTING, "").split("/")[-1]


def registered(host: Host) -> bool:
    return getattr(host, "registered_at", None) is not None


def information(
    instance: Any, host: Host, online: bool, association_status: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One InstanceInformation entry of DescribeInstanceInformation."""
    last_ping: datetime = getattr(host, "last_ping", None) or clock.now()
    entry: dict[str, Any] = {
        "InstanceId": instance.id,
        "PingStatus": "Online" if online else "ConnectionLost",
        "LastPingDateTime": last_ping,
        "AgentVersion": host.agent_version,
        "IsLatestVersion": host.agent_version == "3.3.1142.0",
        "PlatformType": host.platform_type,
        "PlatformName": host.platform_name,
        "PlatformVersion": host.platform_version,
        "ResourceType": "EC2Instance",
        "IamRole": getattr(host, "role_name", ""),
        "RegistrationDate": getattr(host, "registered_at", last_ping),
        "IPAddress": getattr(instance, "private_ip", None) or "",
        "ComputerName": host.computer_name,
        "SourceId": instance.id,
        "SourceType": "AWS::EC2::Instance",
    }
    if association_status:
        entry.update(association_status)
    return entry
