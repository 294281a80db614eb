"""Event-driven automation and immutable rollouts from a notebook: AWS's part in events, and refresh pictures.

    ls.emit_ec2_state_change(instance_id)          # EC2's state-change event, emitted by the sandbox in AWS's place
    ls.emit_aws_event("aws.ec2", detail_type, {...})   # any AWS service event on the account's default event bus
    ls.automation_invocations("rule-name")          # what a rule's Automation target did with each matched event
    watch = ls.watch_instance_refresh(asg, "web")   # poll an instance refresh until it ends; `watch` draws it

On AWS, services put their own events on the default event bus, and customers cannot (PutEvents refuses a Source
beginning with "aws."). moto's EC2 emits no events, so a lab that needs one calls `emit_ec2_state_change` right
after the change, and the notebook says so. `automation_invocations` reads what the sandbox recorded for each
invocation of an Automation target (AWS shows only the rule's Invocations and FailedInvocations metrics).
`watch_instance_refresh` only polls the real API (DescribeInstanceRefreshes, DescribeAutoScalingGroups) and draws
what it saw.
"""

from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass
from typing import Any

from .errors import LabError
from .pictures import _text

_ENDED = ("Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")
# one colour per launch template version, in the order the versions first appear in a refresh
_VERSION_COLOURS = ("#8a8a8a", "#3a9d5d", "#4a7fc1", "#c77d1a", "#8e5bb5")


# -- events ---------------------------------------------------------------------------------------------------
def emit_ec2_state_change(
    instance_id: str, state: str | None = None, region: str | None = None, account: str | None = None
) -> str:
    """Emit EC2's "EC2 Instance State-change Notification" for an instance (its current state unless `state` is
    given) on the default event bus, as AWS does on every state change; the event's id.

    The sandbox plays AWS's part here: moto's EC2 emits no events, and customers may not send "aws." sources."""
    from .emulator import events_targets
    from .sandbox import current_sandbox

    sb = current_sandbox()
    region = region or sb.region
    if state is None:
        ec2 = sb.client("ec2", region=region, account=account)
        try:
            found = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except ec2.exceptions.ClientError:
            found = []
        if not found:
            raise LabError(
                f"There is no instance {instance_id} in {region}.",
                hint="Check the id with ec2.describe_instances(), or pass the Region it runs in.",
            )
    return events_targets.emit_ec2_state_change(instance_id, state, account, region)


def emit_aws_event(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: list[str] | tuple[str, ...] = (),
    region: str | None = None,
    account: str | None = None,
) -> str:
    """Put an AWS service event (Source "aws.<service>") on the default event bus, in the sandbox's name of that
    service; the event's id. For events of your own, call events.put_events."""
    from .emulator import events_targets
    from .sandbox import current_sandbox

    if not source.startswith("aws."):
        raise LabError(
            f"{source} is not an AWS service's source: send your own events with events.put_events.",
            hint="emit_aws_event stands in for AWS services, whose sources begin with 'aws.' (aws.ec2, aws.ssm ...).",
        )
    sb = current_sandbox()
    account_id = sb.account_id(account)
    return events_targets.emit_aws_event(source, detail_type, detail, list(resources), account_id, region or sb.region)


def automation_invocations(
    rule: str, event_bus: str = "default", region: str | None = None, account: str | None = None
) -> list[dict[str, Any]]:
    """What the rule's Systems Manager Automation targets did with each event it matched, oldest first: Status
    Started (with AutomationExecutionId and the Parameters passed) or Failed (with ErrorCode and Reason)."""
    from .emulator import events_targets
    from .sandbox import current_sandbox

    sb = current_sandbox()
    events = sb.client("events", region=region, account=account)
    try:
        events.describe_rule(Name=rule, EventBusName=event_bus)
    except events.exceptions.ResourceNotFoundException:
        raise LabError(
            f"There is no rule {rule} on the event bus {event_bus}.",
            hint="Create it with events.put_rule, then give it a target with events.put_targets.",
        ) from None
    return events_targets.automation_invocations(rule, event_bus, sb.account_id(account), region or sb.region)


# -- instance refresh ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Sample:
    """One moment the poll saw: the refresh's status and progress, and the group's instances."""

    status: str
    percentage: int
    instances: tuple[tuple[str, str], ...]  # (launch template version, lifecycle state), sorted

    def count(self, version: str | None = None, state: str | None = None) -> int:
        return sum(1 for v, s in self.instances if version in (None, v) and state in (None, s))


class RefreshWatch:
    """An instance refresh as polling saw it: each change of its status, its progress or the group's instances."""

    def __init__(self, asg: Any, group_name: str, refresh_id: str | None = None) -> None:
        self.asg, self.group_name = asg, group_name
        self.refresh = self._describe(refresh_id)
        self.refresh_id: str = self.refresh["InstanceRefreshId"]
        self.samples: list[_Sample] = []
        self.versions: list[str] = []

    def _describe(self, refresh_id: str | None) -> dict[str, Any]:
        request: dict[str, Any] = {"AutoScalingGroupName": self.group_name}
        if refresh_id:
            request["InstanceRefreshIds"] = [refresh_id]
        found = self.asg.describe_instance_refreshes(**request)["InstanceRefreshes"]
        if not found:
            raise LabError(
                f"The group {self.group_name} has no instance refresh" + (f" {refresh_id}." if refresh_id else " yet."),
                hint="Start one with asg.start_instance_refresh(AutoScalingGroupName=...).",
            )
        return found[0]

    def _sample(self) -> None:
        self.refresh = self._describe(self.refresh_id)
        groups = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.group_name])["AutoScalingGroups"]
        instances = groups[0]["Instances"] if groups else []
        rows = tuple(
            sorted((str(i.get("LaunchTemplate", {}).get("Version", "-")), i["LifecycleState"]) for i in instances)
        )
        for version, _ in rows:
            if version not in self.versions:
                self.versions.append(version)
        sample = _Sample(self.refresh["Status"], int(self.refresh.get("PercentageComplete", 0)), rows)
        if not self.samples or self.samples[-1] != sample:
            self.samples.append(sample)

    @property
    def ended(self) -> bool:
        return self.refresh["Status"] in _ENDED

    def wait(self, until_percentage: int | None = None, timeout: float = 120.0) -> RefreshWatch:
        """Poll until the refresh has ended (or, with `until_percentage`, has replaced at least that share)."""
        deadline = time.monotonic() + timeout
        while True:
            self._sample()
            if self.ended or (until_percentage is not None and self.refresh["PercentageComplete"] >= until_percentage):
                return self
            if time.monotonic() > deadline:
                raise LabError(
                    f"The instance refresh of {self.group_name} is still {self.refresh['Status']} "
                    f"({self.refresh['PercentageComplete']}% done) after {timeout:.0f} s.",
                    hint="Look at asg.describe_instance_refreshes(AutoScalingGroupName=...): a checkpoint may be "
                    "waiting, or call watch.wait() again.",
                )
            time.sleep(0.01)

    # -- what it saw --------------------------------------------------------------------------------------
    @property
    def lowest_in_service(self) -> int:
        """The fewest InService instances the poll saw."""
        return min((s.count(state="InService") for s in self.samples), default=0)

    @property
    def most_instances(self) -> int:
        """The most instances (in any lifecycle state) the poll saw in the group at once."""
        return max((len(s.instances) for s in self.samples), default=0)

    def _title(self) -> str:
        prefs = self.refresh.get("Preferences", {})
        shares = f"MinHealthyPercentage {prefs.get('MinHealthyPercentage', 90)}"
        if prefs.get("MaxHealthyPercentage") is not None:
            shares += f", MaxHealthyPercentage {prefs['MaxHealthyPercentage']}"
        return f"Instance refresh of {self.group_name}: {self.refresh['Status']} ({shares})"

    def _summary(self) -> str:
        return (
            f"{len(self.samples)} changes seen by polling; at least {self.lowest_in_service} instances InService "
            f"throughout, at most {self.most_instances} in the group at once."
        )

    def _line(self, sample: _Sample) -> str:
        parts = []
        for version in self.versions:
            for state in ("InService", "Pending", "Terminating"):
                n = sample.count(version, state)
                if n:
                    parts.append(f"v{version} {state} {n}")
        return f"{sample.percentage:>3}%  {sample.status:<18} " + ", ".join(parts)

    def __repr__(self) -> str:
        return "\n".join([self._title(), *(self._line(s) for s in self.samples), self._summary() + self._timing()])

    def _timing(self) -> str:
        started, ended = self.refresh.get("StartTime"), self.refresh.get("EndTime")
        if started is None or ended is None:
            return ""
        seconds = int((ended - started).total_seconds())
        return f" Sandbox time from start to end: {seconds // 60} min {seconds % 60} s."

    def _repr_html_(self) -> str:
        unit, column, gap, top, left = 9.0, 14.0, 2.0, 30.0, 34.0
        tallest = max(self.most_instances, 1)
        count = max(len(self.samples), 1)
        if count * (column + gap) > 900:  # long refreshes: thinner columns, same picture
            column = max(2.0, 900 / count - gap)
        legend = "solid: InService · pale: Pending · red line: minimum healthy (MinHealthyPercentage of desired)"
        width = max(
            left + count * (column + gap) + 10, 7.2 * len(self._title()) + 10, 84 * len(self.versions) + 7 * len(legend)
        )
        height = top + tallest * unit + 30
        base = top + tallest * unit
        colour = {v: _VERSION_COLOURS[i % len(_VERSION_COLOURS)] for i, v in enumerate(self.versions)}
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            'font-family="sans-serif">',
            _text(4, 16, self._title(), weight="bold"),
        ]
        for n, sample in enumerate(self.samples):
            x = left + n * (column + gap)
            y = base
            parts.append(f"<g><title>{html.escape(self._line(sample).strip())}</title>")
            for state, opacity in (("InService", 1.0), ("Pending", 0.4), ("Terminating", 0.2)):
                for version in self.versions:
                    k = sample.count(version, state)
                    if not k:
                        continue
                    y -= k * unit
                    parts.append(
                        f'<rect x="{x:.1f}" y="{y:.1f}" width="{column:.1f}" height="{k * unit:.1f}" '
                        f'fill="{colour[version]}" fill-opacity="{opacity}" stroke="#ffffff" stroke-width="0.5"/>'
                    )
            parts.append("</g>")
        groups = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[self.group_name])["AutoScalingGroups"]
        desired = groups[0]["DesiredCapacity"] if groups else 0
        minimum = math.ceil(desired * self.refresh.get("Preferences", {}).get("MinHealthyPercentage", 90) / 100)
        if minimum:
            y = base - minimum * unit
            right = left + count * (column + gap)
            parts.append(
                f'<line x1="{left - 4}" x2="{right:.0f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0453b" '
                'stroke-dasharray="4 3"/>'
            )
            parts.append(_text(left - 6, y + 4, str(minimum), anchor="end", colour="#d0453b"))
        parts.append(_text(left - 6, base, "0", anchor="end"))
        legend_y = base + 20
        x = left
        for version in self.versions:
            parts.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour[version]}"/>')
            parts.append(_text(x + 14, legend_y, f"version {version}"))
            x += 84
        parts.append(_text(x, legend_y, legend))
        parts.append("</svg>")
        caption = html.escape(self._summary() + self._timing() + " Each column is one change; hover for its numbers.")
        return f'<div>{"".join(parts)}<div style="font-family:sans-serif;font-size:13px">{caption}</div></div>'


def watch_instance_refresh(
    asg: Any,
    group_name: str,
    refresh_id: str | None = None,
    until_percentage: int | None = None,
    timeout: float = 120.0,
) -> RefreshWatch:
    """Poll DescribeInstanceRefreshes and DescribeAutoScalingGroups until the group's latest refresh (or
    `refresh_id`) ends, or has replaced `until_percentage` percent; the result draws what the poll saw, and
    `.wait()` goes on polling. (boto3 has no waiter for instance refreshes.)"""
    return RefreshWatch(asg, group_name, refresh_id).wait(until_percentage, timeout)
