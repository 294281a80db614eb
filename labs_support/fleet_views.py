"""Working with the sandbox's Systems Manager fleet from a notebook: launch, wait, diagnose, picture.

    profile = ls.ssm_instance_profile(sb)          # role + instance profile with AmazonSSMManagedInstanceCore
    ids = ls.launch_fleet(sb, 10, tags={"Role": "web"}, instance_profile=profile)
    cmd = ls.wait_for_command(ssm, command_id)                 # poll ListCommands until the command ends
    ls.fleet_status(ssm)                                       # a tile per node: ping status, or a command's results
    ls.why_not_managed(sb, "i-...")                            # the managed-node prerequisites, met or not
    ls.fast_forward(minutes=30)                                # lab time passes: schedules that fall due run

Everything here goes through the real boto3 API except `why_not_managed` (AWS answers that question with the
AWSSupport-TroubleshootManagedInstance runbook, which the sandbox does not have: it reads the same checks
from the emulator) and `fast_forward` (the sandbox's clock).
"""

from __future__ import annotations

import html
import json
import time
from typing import Any

from .errors import LabError
from .pictures import _text
from .show import _Html, _table

CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
STATUS_COLOURS = {
    "Online": "#3a9d5d",
    "Success": "#3a9d5d",
    "ConnectionLost": "#d0453b",
    "Failed": "#d0453b",
    "TimedOut": "#c77d1a",
    "Cancelled": "#8a8a8a",
    "Pending": "#8a8a8a",
    "InProgress": "#4a7fc1",
    "Not managed": "#555555",
}
_ACTIVE = ("Pending", "InProgress", "Cancelling")


def ssm_instance_profile(sb: Any, name: str = "SSMManagedInstance", account: str | None = None) -> str:
    """An EC2 role and instance profile with AmazonSSMManagedInstanceCore (made once); returns the profile name."""
    iam = sb.client("iam", account=account)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        iam.attach_role_policy(RoleName=name, PolicyArn=CORE_POLICY)
    try:
        iam.get_instance_profile(InstanceProfileName=name)
    except iam.exceptions.NoSuchEntityException:
        iam.create_instance_profile(InstanceProfileName=name)
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return name


def launch_fleet(
    sb: Any,
    count: int,
    tags: dict[str, str] | None = None,
    instance_profile: str | None = None,
    image_id: str | None = None,
    user_data: str | None = None,
    instance_type: str = "t3.micro",
    region: str | None = None,
    account: str | None = None,
    imdsv2: bool = True,
) -> list[str]:
    """Launch `count` instances (Amazon Linux 2023 unless told otherwise) in one RunInstances call."""
    ec2 = sb.client("ec2", region=region, account=account)
    if image_id is None:
        image_id = sb.client("ssm", region=region, account=account).get_parameter(Name=AL2023_PARAMETER)["Parameter"][
            "Value"
        ]
    request: dict[str, Any] = {
        "ImageId": image_id,
        "InstanceType": instance_type,
        "MinCount": count,
        "MaxCount": count,
        "MetadataOptions": {"HttpTokens": "required" if imdsv2 else "optional"},
    }
    if tags:
        request["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    if instance_profile:
        request["IamInstanceProfile"] = {"Name": instance_profile}
    if user_data:
        request["UserData"] = user_data
    return [i["InstanceId"] for i in ec2.run_instances(**request)["Instances"]]


def wait_for_command(ssm: Any, command_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll ListCommands until the command has ended; return it (boto3's command_executed waiter polls every
    5 s for one instance; this is the loop a script would write for the whole command)."""
    deadline = time.monotonic() + timeout
    while True:
        command = ssm.list_commands(CommandId=command_id)["Commands"][0]
        if command["Status"] not in _ACTIVE:
            return command
        if time.monotonic() > deadline:
            raise LabError(
                f"Command {command_id} is still {command['Status']} after {timeout:.0f} s.",
                hint="Look at list_command_invocations to see which nodes are still running it.",
            )
        time.sleep(0.02)


def fast_forward(minutes: float = 0, hours: float = 0, days: float = 0) -> str:
    """Let lab time pass at once: every schedule (State Manager, maintenance windows) that falls due runs."""
    from .emulator import clock
    from .emulator.ssm import schedule

    seconds = minutes * 60 + hours * 3600 + days * 86400
    if seconds <= 0:
        raise LabError("fast_forward needs a positive amount of time.", hint="For example: ls.fast_forward(minutes=30)")
    schedule.fast_forward(seconds)
    return f"Sandbox time is now {clock.now():%Y-%m-%d %H:%M} UTC."


def why_not_managed(sb: Any, instance_id: str, region: str | None = None, account: str | None = None) -> _Html:
    """The managed-node prerequisites for one instance, each met or not (the checks of AWS's troubleshooting
    runbook AWSSupport-TroubleshootManagedInstance, read from the sandbox)."""
    from .emulator.ssm import fleet
    from .emulator.ssm.backend import fleet_for

    account_id = sb.account_id(account)
    region = region or sb.region
    instance = fleet.find_instance(account_id, region, instance_id)
    if instance is None:
        raise LabError(
            f"There is no instance {instance_id} in {region}.", hint="Check the id with ec2.describe_instances()."
        )
    checks = fleet.diagnose(instance, fleet_for(account_id, region).settings)
    rows = [[("✅ " if c.ok else "❌ ") + html.escape(c.name), html.escape(c.detail)] for c in checks]
    verdict = "is a managed node" if all(c.ok for c in checks) else "is not a managed node"
    text = "\n".join(
        [f"{instance_id} {verdict}"] + [f"  {'OK ' if c.ok else 'NO '} {c.name}: {c.detail}" for c in checks]
    )
    markup = f"<div><b>{html.escape(instance_id)} {verdict}</b>{_table(['prerequisite', 'finding'], rows)}</div>"
    return _Html(markup, text)


def fleet_status(ssm: Any, command_id: str | None = None, ec2: Any = None, columns: int = 10) -> _Html:
    """A tile per instance: its PingStatus, or (with command_id) its invocation's status for that command.

    With `ec2` given, instances that are not managed nodes appear too (dark grey), which is the usual puzzle.
    """
    nodes: dict[str, str] = {}
    paginator = ssm.get_paginator("describe_instance_information")
    for page in paginator.paginate():
        for info in page["InstanceInformationList"]:
            nodes[info["InstanceId"]] = info["PingStatus"]
    if ec2 is not None:
        for reservation in ec2.describe_instances()["Reservations"]:
            for instance in reservation["Instances"]:
                if instance["State"]["Name"] != "terminated":
                    nodes.setdefault(instance["InstanceId"], "Not managed")
    details: dict[str, str] = {}
    title = "Fleet: ping status of each instance"
    if command_id:
        title = f"Command {command_id[:8]}…: status on each node"
        invocations = ssm.list_command_invocations(CommandId=command_id)["CommandInvocations"]
        nodes = {i["InstanceId"]: i["Status"] for i in invocations}
        details = {i["InstanceId"]: i["StatusDetails"] for i in invocations}
    if not nodes:
        return _Html("<p>No instances to show.</p>", "No instances to show.")
    size, gap = 86, 6
    rows = (len(nodes) + columns - 1) // columns
    width = min(len(nodes), columns) * (size + gap) + gap
    height = rows * (size * 0.6 + gap) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" font-family="sans-serif">']
    parts.append(_text(gap, 16, title, weight="bold"))
    for n, (instance_id, status) in enumerate(sorted(nodes.items())):
        x = gap + (n % columns) * (size + gap)
        y = 26 + (n // columns) * (size * 0.6 + gap)
        colour = STATUS_COLOURS.get(status, "#8a8a8a")
        tip = html.escape(f"{instance_id}: {status}" + (f" ({details[instance_id]})" if instance_id in details else ""))
        parts.append(
            f"<g><title>{tip}</title>"
            f'<rect x="{x}" y="{y}" width="{size}" height="{size * 0.6}" rx="4" fill="{colour}"/>'
        )
        parts.append(_text(x + size / 2, y + 20, instance_id[-8:], anchor="middle", colour="#ffffff"))
        label = details.get(instance_id, status)
        parts.append(_text(x + size / 2, y + 38, label[:14], anchor="middle", colour="#ffffff") + "</g>")
    counts: dict[str, int] = {}
    for status in nodes.values():
        counts[status] = counts.get(status, 0) + 1
    legend = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    parts.append("</svg>")
    text = title + "\n" + "\n".join(f"  {i}: {details.get(i, s)}" for i, s in sorted(nodes.items())) + "\n" + legend
    return _Html(f"<div>{''.join(parts)}<div>{html.escape(legend)}</div></div>", text)
