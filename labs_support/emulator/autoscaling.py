"""EC2 Auto Scaling instance refresh: moto 5.2.5 answers StartInstanceRefresh with NotImplemented.

Actions added to moto's AutoScalingResponse (its documented extension point): StartInstanceRefresh,
DescribeInstanceRefreshes, CancelInstanceRefresh and RollbackInstanceRefresh. A refresh returns its id at once and
replaces the group's instances in a worker thread on the lab clock, in batches that keep the group within
MinHealthyPercentage and MaxHealthyPercentage of its desired capacity:

* min = ceil(desired x MinHealthyPercentage / 100) healthy instances are kept (AWS: "rounded up"); max =
  floor(desired x MaxHealthyPercentage / 100) instances at most, and at least desired + 1 when the maximum is
  above 100. A batch terminates up to desired - min old instances, launches their replacements plus up to
  max - desired more first ("launch before terminating"), waits for the new instances (LAUNCH_LAB_SECONDS to
  InService, then the warm-up), and terminates as many old ones as it launched beyond the first. When both
  ranges are empty (MinHealthyPercentage 100, MaxHealthyPercentage 100) one instance is replaced at a time.
* Warm-up: Preferences.InstanceWarmup, else the group's health check grace period (moto does not store the
  group's DefaultInstanceWarmup).
* SkipMatching skips instances launched from the desired launch template and version ($Latest and $Default
  resolved when the refresh starts). After a successful refresh the group takes the desired configuration.
* CheckpointPercentages pause the refresh for CheckpointDelay (default 3600 s) each time one is reached.
* CancelInstanceRefresh: Cancelling, then Cancelled once the batch in flight is done (at once with
  WaitForTransitioningInstances false); replaced instances stay replaced.
* RollbackInstanceRefresh, or AutoRollback when the refresh fails: RollbackInProgress, the replaced instances
  are replaced again from the group's previous launch template version, then RollbackSuccessful. Refused
  (IrreversibleInstanceRefresh) without a desired configuration or when the group uses $Latest or $Default.
* Deterministic failure: a desired launch template version whose ImageId is not an AMI in the group's Region
  (EC2 cannot launch it): the refresh fails before that batch terminates anything, with a StatusReason.
Statuses: Pending -> InProgress -> Successful | Cancelling -> Cancelled | Failed | RollbackInProgress ->
RollbackSuccessful; PercentageComplete and InstancesToUpdate count replaced instances (after warm-up).
Sources: https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-refresh.html,
understand-instance-refresh-default-values.html, asg-instance-refresh-skip-matching.html,
ec2-auto-scaling-instance-maintenance-policy.html, instance-refresh-rollback.html and the API reference
(StartInstanceRefresh, RefreshPreferences, InstanceRefresh, CancelInstanceRefresh, RollbackInstanceRefresh).

Two patches on moto's models make instances carry what they were launched from, as AWS's do:
`FakeAutoScalingGroup.replace_autoscaling_group_instances` launches with the launch template version resolved
(moto passed none, so EC2 tagged every instance with the default version), and `InstanceState.launch_template`
reports the instance's own launch template and version number, not the group's current one.

Simplified (for design.md's "Known differences"): health is "running" (no ELB or EC2 health checks, no lifecycle
hooks); launch configurations are refreshed by moto's own launch; mixed instances policies, warm pools,
ReplaceRootVolume, alarms, bake time, ScaleInProtectedInstances and StandbyInstances other than their defaults
are refused with SandboxNotSupported; a launch template version created during a refresh does not re-replace
instances; the group can still be scaled or updated while a refresh runs.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.autoscaling.exceptions import AutoscalingClientError
from moto.autoscaling.models import ASG_NAME_TAG, FakeAutoScalingGroup, InstanceState
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult
from moto.moto_api._internal import mock_random

from . import clock

PENDING_LAB_SECONDS = 10
LAUNCH_LAB_SECONDS = 60
DEFAULT_CHECKPOINT_DELAY = 3600
ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")
_original_replace = FakeAutoScalingGroup.replace_autoscaling_group_instances
_original_launch_template = InstanceState.launch_template


class _Error(AutoscalingClientError):
    pass


def _error(code: str, message: str) -> _Error:
    return _Error(code, message)


def _unsupported(what: str) -> _Error:
    return _error("SandboxNotSupported", f"The course sandbox's instance refresh does not support {what}.")


# -- instances remember their launch template version --------------------------------------------------------
def _launch(group: FakeAutoScalingGroup, count: int, template: Any, version: Any, pending: bool) -> list[InstanceState]:
    """Launch `count` instances into the group from a launch template version (as the group's own launches)."""
    tags = group.get_propagated_tags()
    tags[ASG_NAME_TAG] = group.name
    tags.update(version.instance_tags)
    subnet_id = group.vpc_zone_identifier.split(",")[0] if group.vpc_zone_identifier else None
    reservation = group.autoscaling_backend.ec2_backend.run_instances(
        version.image_id,
        count,
        version.user_data,
        version.security_groups,
        instance_type=version.instance_type,
        tags={"instance": tags},
        placement=mock_random.choice(group.availability_zones),
        launch_config=None,
        launch_template={"LaunchTemplateId": template.id, "Version": str(version.number)},
        is_instance_type_default=False,
        associate_public_ip=None,
        subnet_id=subnet_id,
    )
    states = []
    for instance in reservation.instances:
        instance.autoscaling_group = group
        state = InstanceState(
            instance,
            lifecycle_state="Pending" if pending else "InService",
            protected_from_scale_in=group.new_instances_protected_from_scale_in,
        )
        state.labs_launch_template = {  # type: ignore[attr-defined]
            "LaunchTemplateId": template.id,
            "LaunchTemplateName": template.name,
            "Version": str(version.number),
        }
        states.append(state)
    return states


def _replace_autoscaling_group_instances(
    self: FakeAutoScalingGroup, count_needed: int, propagated_tags: dict[str, str]
) -> None:
    if self.ec2_launch_template is None:
        _original_replace(self, count_needed, propagated_tags)
        return
    version = self.ec2_launch_template.get_version(self.launch_template_version)
    self.instance_states.extend(_launch(self, count_needed, self.ec2_launch_template, version, pending=False))


def _instance_launch_template(self: InstanceState) -> dict[str, Any] | None:
    own = getattr(self, "labs_launch_template", None)
    return own if own is not None else _original_launch_template.fget(self)  # type: ignore[attr-defined]


# -- the refresh -----------------------------------------------------------------------------------------------
@dataclass
class Target:
    """A launch template and the version number a refresh launches from."""

    template: Any
    version: Any
    spec: dict[str, Any]  # as the request (or the group) gave it: the group takes it on success

    def matches(self, state: InstanceState) -> bool:
        own = _instance_launch_template(state) or {}
        return own.get("LaunchTemplateId") == self.template.id and own.get("Version") == str(self.version.number)


@dataclass
class Refresh:
    refresh_id: str
    group: FakeAutoScalingGroup
    preferences: dict[str, Any]
    desired: dict[str, Any] | None
    target: Target | None
    previous: Target | None
    status: str = "Pending"
    reason: str | None = None
    started: datetime = field(default_factory=clock.now)
    ended: datetime | None = None
    total: int = 0
    done: int = 0
    wake: threading.Event = field(default_factory=threading.Event)
    cancel_requested: bool = False
    at_checkpoint: bool = False
    rollback_requested: str | None = None
    rollback: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "InstanceRefreshId": self.refresh_id,
            "AutoScalingGroupName": self.group.name,
            "Status": self.status,
            "StartTime": self.started,
            "PercentageComplete": self.percentage(),
            "InstancesToUpdate": self.total - self.done,
            "ProgressDetails": {
                "LivePoolProgress": {
                    "PercentageComplete": self.percentage(),
                    "InstancesToUpdate": self.total - self.done,
                }
            },
            "Preferences": self.preferences,
            "Strategy": "Rolling",
        }
        if self.reason:
            row["StatusReason"] = self.reason
        if self.ended:
            row["EndTime"] = self.ended
        if self.desired:
            row["DesiredConfiguration"] = self.desired
        if self.rollback:
            row["RollbackDetails"] = self.rollback
        return row

    def percentage(self) -> int:
        return (
            100
            if self.total == 0 and self.status == "Successful"
            else (100 * self.done // self.total if self.total else 0)
        )


def _refreshes(group: FakeAutoScalingGroup) -> list[Refresh]:
    if not hasattr(group, "labs_instance_refreshes"):
        group.labs_instance_refreshes = []  # type: ignore[attr-defined]
    return group.labs_instance_refreshes  # type: ignore[attr-defined]


def _active(group: FakeAutoScalingGroup) -> Refresh | None:
    return next((r for r in _refreshes(group) if r.status in ACTIVE), None)


def _group(self: AutoScalingResponse) -> FakeAutoScalingGroup:
    name = self._get_param("AutoScalingGroupName")
    group = self.autoscaling_backend.autoscaling_groups.get(name)
    if group is None:
        # moto's wording for a missing group
        raise _error("ValidationError", f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found")
    return group


def _target(group: FakeAutoScalingGroup, spec: dict[str, Any]) -> Target:
    ec2 = group.autoscaling_backend.ec2_backend
    if bool(spec.get("LaunchTemplateId")) == bool(spec.get("LaunchTemplateName")):
        raise _error("ValidationError", "Valid requests must contain either launchTemplateId or LaunchTemplateName")
    template = (
        ec2.get_launch_template(spec["LaunchTemplateId"])
        if spec.get("LaunchTemplateId")
        else ec2.get_launch_template_by_name(spec["LaunchTemplateName"])
    )
    return Target(template, template.get_version(spec.get("Version") or "$Default"), spec)


def _preferences(group: FakeAutoScalingGroup, given: dict[str, Any]) -> dict[str, Any]:
    low, high = given.get("MinHealthyPercentage"), given.get("MaxHealthyPercentage")
    if high is not None and low is None:
        # wording ours; AWS: both must be given, and they may differ by 100 at most
        raise _error("ValidationError", "MaxHealthyPercentage requires MinHealthyPercentage.")
    low = 90 if low is None else int(low)
    high = 100 if high is None else int(high)
    if not 0 <= low <= 100 or not 100 <= high <= 200 or high - low > 100:
        # wording ours
        raise _error(
            "ValidationError",
            "MinHealthyPercentage must be 0 to 100, MaxHealthyPercentage 100 to 200, and they may differ by 100 at "
            "most.",
        )
    checkpoints = [int(p) for p in given.get("CheckpointPercentages") or []]
    if given.get("CheckpointDelay") is not None and not checkpoints:
        raise _error("ValidationError", "CheckpointDelay requires CheckpointPercentages.")  # wording ours
    if checkpoints != sorted(set(checkpoints)) or any(not 1 <= p <= 100 for p in checkpoints):
        # wording ours
        raise _error("ValidationError", "CheckpointPercentages must be unique values from 1 to 100 in ascending order.")
    for key, default in (("ScaleInProtectedInstances", "Ignore"), ("StandbyInstances", "Ignore")):
        if given.get(key, default) != default:
            raise _unsupported(f"{key} {given[key]}")
    if (given.get("AlarmSpecification") or {}).get("Alarms"):
        raise _unsupported("CloudWatch alarms (AlarmSpecification)")
    if given.get("BakeTime"):
        raise _unsupported("a bake time")
    warmup = given.get("InstanceWarmup")
    preferences: dict[str, Any] = {
        "MinHealthyPercentage": low,
        "InstanceWarmup": int(warmup if warmup is not None else group.health_check_grace_period or 0),
        "SkipMatching": bool(given.get("SkipMatching", False)),
        "AutoRollback": bool(given.get("AutoRollback", False)),
        "ScaleInProtectedInstances": "Ignore",
        "StandbyInstances": "Ignore",
    }
    if given.get("MaxHealthyPercentage") is not None:  # AWS shows none when not given (null, i.e. 100)
        preferences["MaxHealthyPercentage"] = high
    if checkpoints:
        preferences["CheckpointPercentages"] = checkpoints
        preferences["CheckpointDelay"] = int(given.get("CheckpointDelay") or DEFAULT_CHECKPOINT_DELAY)
    return preferences


def start_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    group = _group(self)
    if _active(group) is not None:
        # wording ours
        raise _error(
            "InstanceRefreshInProgress",
            "An instance refresh is already in progress and blocks the execution of this instance refresh.",
        )
    if self._get_param("Strategy", "Rolling") != "Rolling":
        raise _unsupported(f"the {self._get_param('Strategy')} strategy")
    desired = self._get_param("DesiredConfiguration") or None
    if desired and desired.get("MixedInstancesPolicy"):
        raise _unsupported("a mixed instances policy")
    if group.mixed_instances_policy or getattr(group, "warm_pool", None):
        raise _unsupported("groups with a mixed instances policy or a warm pool")
    preferences = _preferences(group, self._get_param("Preferences") or {})
    current = None
    if group.ec2_launch_template is not None:
        spec = {"LaunchTemplateId": group.ec2_launch_template.id, "Version": group.provided_launch_template_version}
        version = group.ec2_launch_template.get_version(group.launch_template_version)
        current = Target(group.ec2_launch_template, version, {k: v for k, v in spec.items() if v is not None})
    target = _target(group, desired["LaunchTemplate"]) if desired and desired.get("LaunchTemplate") else current
    if target is None and preferences["SkipMatching"]:
        # AWS: skip matching cannot be used with a launch configuration (wording ours)
        raise _error("ValidationError", "SkipMatching cannot be used with a launch configuration.")
    if preferences["AutoRollback"]:
        _check_reversible(group, desired)
    refresh = Refresh(str(mock_random.uuid4()), group, preferences, desired, target, current)
    _refreshes(group).append(refresh)
    threading.Thread(target=_run, args=(refresh,), name="instance-refresh", daemon=True).start()
    return ActionResult({"InstanceRefreshId": refresh.refresh_id})


def _check_reversible(group: FakeAutoScalingGroup, desired: dict[str, Any] | None) -> None:
    version = getattr(group, "launch_template_version", None)
    if not desired or group.ec2_launch_template is None or str(version).lower() in ("$latest", "$default"):
        # wording ours; AWS documents when a rollback is not possible (API_RefreshPreferences, AutoRollback)
        raise _error(
            "IrreversibleInstanceRefresh",
            "A rollback needs a desired configuration, and a group whose launch template version is a number "
            "(not $Latest or $Default).",
        )


def describe_instance_refreshes(self: AutoScalingResponse) -> ActionResult:
    group = self.autoscaling_backend.autoscaling_groups.get(self._get_param("AutoScalingGroupName"))
    rows = [r.describe() for r in reversed(_refreshes(group))] if group is not None else []
    wanted = self._get_param("InstanceRefreshIds") or []
    if wanted:
        rows = [r for r in rows if r["InstanceRefreshId"] in wanted]
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxRecords") or 50)
    result: dict[str, Any] = {"InstanceRefreshes": rows[start : start + size]}
    if start + size < len(rows):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def _no_active(group: FakeAutoScalingGroup) -> _Error:
    # wording ours
    return _error(
        "ActiveInstanceRefreshNotFound", f"No in progress or pending instance refresh found for group {group.name}."
    )


def cancel_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    group = _group(self)
    refresh = _active(group)
    if refresh is None or refresh.status == "Cancelling":
        raise _no_active(group)
    refresh.status, refresh.cancel_requested = "Cancelling", True
    if self._get_param("WaitForTransitioningInstances") is False or refresh.at_checkpoint:
        refresh.wake.set()  # nothing in flight to wait for
    return ActionResult({"InstanceRefreshId": refresh.refresh_id})


def rollback_instance_refresh(self: AutoScalingResponse) -> ActionResult:
    group = _group(self)
    refresh = _active(group)
    if refresh is None or refresh.status not in ("Pending", "InProgress"):
        raise _no_active(group)
    _check_reversible(group, refresh.desired)
    refresh.rollback_requested = "Rollback initiated by user."  # wording ours
    refresh.wake.set()
    return ActionResult({"InstanceRefreshId": refresh.refresh_id})


# -- the worker --------------------------------------------------------------------------------------------------
class _Stopped(Exception):
    """The group was deleted, or its sandbox reset: the refresh ends without a word."""


class _LaunchFailed(Exception):
    pass


def _alive(refresh: Refresh) -> None:
    group = refresh.group
    if group.autoscaling_backend.autoscaling_groups.get(group.name) is not group:
        raise _Stopped


def _wait(refresh: Refresh, lab_seconds: float) -> None:
    """Wait on the lab clock; a cancellation without waiting, or a rollback request, ends it early."""
    if lab_seconds > 0:
        clock.wait(refresh.wake, lab_seconds)
    _alive(refresh)


def _run(refresh: Refresh) -> None:
    try:
        _wait(refresh, PENDING_LAB_SECONDS)
        if refresh.status == "Pending":
            refresh.status = "InProgress"
        outcome = _replace_all(refresh)
        if outcome == "done":
            _succeed(refresh)
        elif outcome == "cancelled":
            refresh.status, refresh.ended = "Cancelled", clock.now()
        else:
            _roll_back(refresh, outcome)
    except (clock.Aborted, _Stopped):
        return
    except Exception as error:  # a fault of ours must not leave the refresh in progress for ever
        refresh.status, refresh.ended = "Failed", clock.now()
        refresh.reason = f"The course sandbox could not complete this instance refresh: {error}"


def _succeed(refresh: Refresh) -> None:
    group = refresh.group
    if refresh.desired and refresh.desired.get("LaunchTemplate"):
        if group.launch_config is not None:  # a group moving from a launch configuration to a launch template
            group.launch_config, group.launch_configuration_name = None, None  # type: ignore[assignment]
        group._set_launch_configuration(None, refresh.desired["LaunchTemplate"], None)  # type: ignore[arg-type]
    refresh.status, refresh.ended = "Successful", clock.now()


def _replace_all(refresh: Refresh) -> str:
    """Replace the instances that need it; 'done', 'cancelled', or the reason the refresh must roll back or fail."""
    group, target = refresh.group, refresh.target
    prefs = refresh.preferences
    old = [s for s in group.instance_states if s.lifecycle_state == "InService"]
    if prefs["SkipMatching"] and target is not None:
        old = [s for s in old if not target.matches(s)]
    refresh.total, refresh.done = len(old), 0
    checkpoints = list(prefs.get("CheckpointPercentages", []))
    try:
        outcome = _batches(refresh, old, target, checkpoints)
    except _LaunchFailed as failure:
        return str(failure)
    return outcome


def _batches(refresh: Refresh, old: list[InstanceState], target: Target | None, checkpoints: list[int]) -> str:
    group, prefs = refresh.group, refresh.preferences
    while old:
        if refresh.cancel_requested:
            return "cancelled"
        if refresh.rollback_requested:
            return refresh.rollback_requested
        desired = group.desired_capacity or len(old)
        keep = math.ceil(desired * prefs["MinHealthyPercentage"] / 100)
        high = prefs.get("MaxHealthyPercentage", 100)
        ceiling = math.floor(desired * high / 100)
        if high > 100:
            ceiling = max(ceiling, desired + 1)
        down = min(len(old), max(0, desired - keep))
        up = min(len(old) - down, max(0, ceiling - desired))
        if down + up == 0:
            down = 1
        if checkpoints:
            room = math.ceil(refresh.total * checkpoints[0] / 100) - refresh.done
            while down + up > max(1, room):
                if up:
                    up -= 1
                else:
                    down -= 1
        _check_launchable(group, target)
        first, later = old[:down], old[down : down + up]
        _terminate(group, first)
        new = _launch_replacements(group, target, down + up)
        _wait(refresh, LAUNCH_LAB_SECONDS)
        for state in new:
            if state.lifecycle_state == "Pending":
                state.lifecycle_state = "InService"
        _touch(group)
        _wait(refresh, prefs["InstanceWarmup"])
        _terminate(group, later)
        old = old[down + up :]
        refresh.done += down + up
        if checkpoints and refresh.done * 100 >= refresh.total * checkpoints[0]:
            checkpoints.pop(0)
            if old:
                refresh.reason = f"Waiting at checkpoint {refresh.percentage()}%."  # wording ours
                refresh.at_checkpoint = True
                _wait(refresh, prefs["CheckpointDelay"])
                refresh.reason, refresh.at_checkpoint = None, False
    return "done"


def _check_launchable(group: FakeAutoScalingGroup, target: Target | None) -> None:
    if target is None:
        return
    try:
        group.autoscaling_backend.ec2_backend.describe_images(ami_ids=[target.version.image_id])
    except Exception:
        # wording ours
        raise _LaunchFailed(
            f"Launching a new EC2 instance failed: the image id '{target.version.image_id}' does not exist "
            f"(launch template {target.template.id}, version {target.version.number})."
        ) from None


def _launch_replacements(group: FakeAutoScalingGroup, target: Target | None, count: int) -> list[InstanceState]:
    if target is None:  # a launch configuration: moto's own launch
        before = set(map(id, group.instance_states))
        _original_replace(group, count, group.get_propagated_tags())
        return [s for s in group.instance_states if id(s) not in before]
    new = _launch(group, count, target.template, target.version, pending=True)
    group.instance_states = [*group.instance_states, *new]
    return new


def _terminate(group: FakeAutoScalingGroup, states: list[InstanceState]) -> None:
    if not states:
        return
    gone = {s.instance.id for s in states}
    group.instance_states = [s for s in group.instance_states if s.instance.id not in gone]
    group.autoscaling_backend.ec2_backend.terminate_instances(sorted(gone))
    _touch(group)


def _touch(group: FakeAutoScalingGroup) -> None:
    """Load balancers and target groups follow the group's instances."""
    group.autoscaling_backend.update_attached_elbs(group.name)
    group.autoscaling_backend.update_attached_target_groups(group.name)


def _roll_back(refresh: Refresh, reason: str) -> None:
    """A failed refresh: roll back (requested, or AutoRollback) or end Failed."""
    by_user = refresh.rollback_requested == reason
    if not by_user and not refresh.preferences["AutoRollback"]:
        refresh.status, refresh.reason, refresh.ended = "Failed", reason, clock.now()
        return
    refresh.wake.clear()  # it cut the refresh's wait short; the rollback's own waits run in full
    refresh.status = "RollbackInProgress"
    refresh.rollback = {
        "RollbackReason": reason,
        "RollbackStartTime": clock.now(),
        "PercentageCompleteOnRollback": refresh.percentage(),
        "InstancesToUpdateOnRollback": refresh.total - refresh.done,
    }
    refresh.rollback_requested, refresh.target = None, refresh.previous
    previous = refresh.previous
    assert previous is not None  # _check_reversible
    updated = [s for s in refresh.group.instance_states if s.lifecycle_state == "InService" and not previous.matches(s)]
    refresh.total, refresh.done = len(updated), 0
    try:
        outcome = _batches(refresh, updated, previous, [])
    except _LaunchFailed as failure:
        refresh.status, refresh.reason, refresh.ended = "RollbackFailed", str(failure), clock.now()
        return
    refresh.status = "Cancelled" if outcome == "cancelled" else "RollbackSuccessful"
    refresh.reason, refresh.ended = reason, clock.now()


def install() -> None:
    """Add the instance refresh actions to moto's AutoScalingResponse; instances remember their template version."""
    for function in (
        start_instance_refresh,
        describe_instance_refreshes,
        cancel_instance_refresh,
        rollback_instance_refresh,
    ):
        setattr(AutoScalingResponse, function.__name__, function)
    FakeAutoScalingGroup.replace_autoscaling_group_instances = _replace_autoscaling_group_instances  # type: ignore[method-assign]
    InstanceState.launch_template = property(_instance_launch_template)  # type: ignore[assignment,method-assign]
