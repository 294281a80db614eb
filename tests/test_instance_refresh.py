"""Fidelity tests for Auto Scaling instance refresh (emulator/autoscaling.py), named after the AWS behaviour.

AWS pages (https://docs.aws.amazon.com/autoscaling/ec2/):
- Instance refresh: userguide/asg-instance-refresh.html
- Defaults: userguide/understand-instance-refresh-default-values.html
- Skip matching: userguide/asg-instance-refresh-skip-matching.html
- Healthy percentages: userguide/ec2-auto-scaling-instance-maintenance-policy.html
- Rollback: userguide/instance-refresh-rollback.html; cancel: userguide/cancel-instance-refresh.html
- API: APIReference/API_StartInstanceRefresh.html, API_RefreshPreferences.html, API_InstanceRefresh.html,
  API_CancelInstanceRefresh.html, API_RollbackInstanceRefresh.html
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from labs_support.sandbox import Sandbox
from tests.aws_errors import api_error

_names = iter(range(1000))


@pytest.fixture(scope="module")
def asg(sb: Sandbox) -> Any:
    return sb.client("autoscaling")


@pytest.fixture(scope="module")
def amis(ec2: Any) -> list[str]:
    return [i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"][:2]]


def group_with_template(ec2: Any, asg: Any, amis: list[str], size: int = 4, version: str = "1") -> tuple[str, str]:
    """A group of `size` instances from version 1 of a new launch template, which also gets a version 2."""
    name = f"web-{next(_names)}"
    template = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": amis[0], "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": amis[1], "InstanceType": "t3.micro"}
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template, "Version": version},
        MinSize=size,
        MaxSize=size * 2,
        DesiredCapacity=size,
        AvailabilityZones=["us-east-1a"],
    )
    return name, template


def instances(asg: Any, name: str) -> list[dict[str, Any]]:
    return asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["Instances"]


def refresh_of(asg: Any, name: str) -> dict[str, Any]:
    return asg.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"][0]


def wait_until(condition: Callable[[], Any], watch: Callable[[], None] | None = None) -> Any:
    """Poll until `condition()` is truthy (calling `watch` on each look); a bound, not a timing."""
    for _ in range(50_000):
        if watch is not None:
            watch()
        result = condition()
        if result:
            return result
        time.sleep(0.001)
    raise AssertionError("the instance refresh did not get there")


def finished(asg: Any, name: str, watch: Callable[[], None] | None = None) -> dict[str, Any]:
    done = ("Successful", "Failed", "Cancelled", "RollbackSuccessful", "RollbackFailed")
    return wait_until(lambda: (r := refresh_of(asg, name))["Status"] in done and r, watch)


def version_2(template: str) -> dict[str, Any]:
    return {"LaunchTemplate": {"LaunchTemplateId": template, "Version": "2"}}


def test_refresh_replaces_every_instance_from_the_desired_launch_template_version(
    ec2: Any, asg: Any, amis: list[str]
) -> None:
    """asg-instance-refresh.html: instances are replaced; the group then takes the desired configuration."""
    name, template = group_with_template(ec2, asg, amis)
    before = {i["InstanceId"] for i in instances(asg, name)}
    refresh_id = asg.start_instance_refresh(
        AutoScalingGroupName=name, DesiredConfiguration=version_2(template), Preferences={"InstanceWarmup": 30}
    )["InstanceRefreshId"]
    refresh = finished(asg, name)
    assert (refresh["InstanceRefreshId"], refresh["Status"]) == (refresh_id, "Successful")
    assert (refresh["PercentageComplete"], refresh["InstancesToUpdate"]) == (100, 0)
    assert refresh["EndTime"] >= refresh["StartTime"]
    now = instances(asg, name)
    assert len(now) == 4 and not before & {i["InstanceId"] for i in now}
    assert {i["LaunchTemplate"]["Version"] for i in now} == {"2"}
    launched = ec2.describe_instances(InstanceIds=[now[0]["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert launched["ImageId"] == amis[1]
    tags = {t["Key"]: t["Value"] for t in launched["Tags"]}
    assert tags["aws:ec2launchtemplate:version"] == "2"
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    assert group["LaunchTemplate"]["Version"] == "2"
    states = ec2.describe_instances(InstanceIds=sorted(before))["Reservations"][0]["Instances"]
    assert {s["State"]["Name"] for s in states} == {"terminated"}


def test_default_preferences_are_90_percent_minimum_healthy_and_no_skip_matching(
    ec2: Any, asg: Any, amis: list[str]
) -> None:
    """understand-instance-refresh-default-values.html: MinHealthyPercentage 90, SkipMatching false (CLI/SDK)."""
    name, _ = group_with_template(ec2, asg, amis, size=2)
    asg.start_instance_refresh(AutoScalingGroupName=name, Preferences={"InstanceWarmup": 0})
    preferences = finished(asg, name)["Preferences"]
    assert (preferences["MinHealthyPercentage"], preferences["SkipMatching"], preferences["AutoRollback"]) == (
        90,
        False,
        False,
    )
    assert "MaxHealthyPercentage" not in preferences  # null: 100 percent


def test_in_service_capacity_never_drops_below_the_minimum_healthy_percentage(
    ec2: Any, asg: Any, amis: list[str]
) -> None:
    """API_RefreshPreferences.html: MinHealthyPercentage of desired capacity stays in service; with the maximum at
    100 percent an instance is terminated before its replacement is launched."""
    name, template = group_with_template(ec2, asg, amis, size=4)
    seen: list[tuple[int, int]] = []

    def watch() -> None:
        now = instances(asg, name)
        seen.append((sum(i["LifecycleState"] == "InService" for i in now), len(now)))

    asg.start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration=version_2(template),
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 60},
    )
    assert finished(asg, name, watch)["Status"] == "Successful"
    assert min(in_service for in_service, _ in seen) >= 2  # 50 % of 4
    assert max(total for _, total in seen) <= 4  # MaxHealthyPercentage 100: never above desired


def test_a_maximum_above_100_percent_launches_before_it_terminates(ec2: Any, asg: Any, amis: list[str]) -> None:
    """ec2-auto-scaling-instance-maintenance-policy.html: with MinHealthyPercentage 100 and MaxHealthyPercentage
    above 100, new instances are launched first, so capacity in service never drops below desired."""
    name, template = group_with_template(ec2, asg, amis, size=4)
    seen: list[tuple[int, int]] = []

    def watch() -> None:
        now = instances(asg, name)
        seen.append((sum(i["LifecycleState"] == "InService" for i in now), len(now)))

    asg.start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration=version_2(template),
        Preferences={"MinHealthyPercentage": 100, "MaxHealthyPercentage": 150, "InstanceWarmup": 60},
    )
    assert finished(asg, name, watch)["Status"] == "Successful"
    assert min(in_service for in_service, _ in seen) >= 4
    assert max(total for _, total in seen) <= 6  # 150 % of 4


def test_skip_matching_replaces_only_instances_not_on_the_desired_version(ec2: Any, asg: Any, amis: list[str]) -> None:
    """asg-instance-refresh-skip-matching.html: instances that match the desired configuration are not replaced."""
    name, template = group_with_template(ec2, asg, amis, size=2)
    asg.update_auto_scaling_group(
        AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateId": template, "Version": "2"}, DesiredCapacity=4
    )
    on_2 = {i["InstanceId"] for i in instances(asg, name) if i["LaunchTemplate"]["Version"] == "2"}
    assert len(on_2) == 2
    asg.start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration=version_2(template),
        Preferences={"SkipMatching": True, "InstanceWarmup": 0},
    )
    refresh = finished(asg, name)
    assert refresh["Status"] == "Successful"
    now = instances(asg, name)
    assert on_2 <= {i["InstanceId"] for i in now} and {i["LaunchTemplate"]["Version"] for i in now} == {"2"}


def test_skip_matching_with_nothing_to_replace_succeeds_without_replacing(ec2: Any, asg: Any, amis: list[str]) -> None:
    """asg-instance-refresh-skip-matching.html: if nothing changes, the refresh succeeds immediately."""
    name, _ = group_with_template(ec2, asg, amis, size=2)
    before = {i["InstanceId"] for i in instances(asg, name)}
    asg.start_instance_refresh(AutoScalingGroupName=name, Preferences={"SkipMatching": True})
    refresh = finished(asg, name)
    assert (refresh["Status"], refresh["PercentageComplete"]) == ("Successful", 100)
    assert {i["InstanceId"] for i in instances(asg, name)} == before


def test_a_second_start_while_one_runs_is_instance_refresh_in_progress(ec2: Any, asg: Any, amis: list[str]) -> None:
    """API_StartInstanceRefresh.html: InstanceRefreshInProgress when an active refresh exists."""
    name, template = group_with_template(ec2, asg, amis, size=2)
    asg.start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration=version_2(template),
        Preferences={"CheckpointPercentages": [50, 100], "CheckpointDelay": 3600},
    )
    code, _ = api_error(asg.start_instance_refresh, AutoScalingGroupName=name)
    assert code == "InstanceRefreshInProgress"
    asg.cancel_instance_refresh(AutoScalingGroupName=name, WaitForTransitioningInstances=False)
    assert finished(asg, name)["Status"] == "Cancelled"


def test_cancel_with_no_active_refresh_is_active_instance_refresh_not_found(
    ec2: Any, asg: Any, amis: list[str]
) -> None:
    """API_CancelInstanceRefresh.html: ActiveInstanceRefreshNotFound when none is in progress."""
    name, _ = group_with_template(ec2, asg, amis, size=1)
    assert api_error(asg.cancel_instance_refresh, AutoScalingGroupName=name)[0] == "ActiveInstanceRefreshNotFound"


def test_cancel_at_a_checkpoint_keeps_the_instances_already_replaced(ec2: Any, asg: Any, amis: list[str]) -> None:
    """cancel-instance-refresh.html: Cancelling, then Cancelled; replaced instances are not rolled back."""
    name, template = group_with_template(ec2, asg, amis, size=4)
    asg.start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration=version_2(template),
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0, "CheckpointPercentages": [50, 100]},
    )
    at_checkpoint = wait_until(lambda: "checkpoint" in (r := refresh_of(asg, name)).get("StatusReason", "") and r)
    assert (at_checkpoint["Status"], at_checkpoint["PercentageComplete"]) == ("InProgress", 50)
    asg.cancel_instance_refresh(AutoScalingGroupName=name)
    assert refresh_of(asg, name)["Status"] in ("Cancelling", "Cancelled")
    assert finished(asg, name)["Status"] == "Cancelled"
    versions = sorted(i["LaunchTemplate"]["Version"] for i in instances(asg, name))
    assert versions == ["1", "1", "2", "2"]
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    assert group["LaunchTemplate"]["Version"] == "1"  # the desired configuration applies only on success


def test_rollback_replaces_updated_instances_with_the_previous_version(ec2: Any, asg: Any, amis: list[str]) -> None:
    """instance-refresh-rollback.html: a rollback replaces the instances already updated, from the previous
    launch template version, and ends RollbackSuccessful."""
    name, template = group_with_template(ec2, asg, amis, size=4)
    asg.start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration=version_2(template),
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0, "CheckpointPercentages": [50, 100]},
    )
    wait_until(lambda: "checkpoint" in refresh_of(asg, name).get("StatusReason", ""))
    asg.rollback_instance_refresh(AutoScalingGroupName=name)
    refresh = finished(asg, name)
    assert refresh["Status"] == "RollbackSuccessful"
    assert refresh["RollbackDetails"]["PercentageCompleteOnRollback"] == 50
    assert {i["LaunchTemplate"]["Version"] for i in instances(asg, name)} == {"1"}


def test_rollback_is_refused_without_a_desired_configuration(ec2: Any, asg: Any, amis: list[str]) -> None:
    """API_RefreshPreferences.html (AutoRollback): no rollback without a desired configuration."""
    name, _ = group_with_template(ec2, asg, amis, size=2)
    code, _ = api_error(asg.start_instance_refresh, AutoScalingGroupName=name, Preferences={"AutoRollback": True})
    assert code == "IrreversibleInstanceRefresh"


def test_a_version_whose_ami_does_not_exist_fails_the_refresh_with_a_reason(
    ec2: Any, asg: Any, amis: list[str]
) -> None:
    """API_StartInstanceRefresh.html: EC2 launch failures fail an instance refresh; nothing is terminated first."""
    name, template = group_with_template(ec2, asg, amis, size=2)
    ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": "ami-0000000000000dead", "InstanceType": "t3.micro"}
    )
    before = {i["InstanceId"] for i in instances(asg, name)}
    asg.start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": template, "Version": "3"}},
    )
    refresh = finished(asg, name)
    assert refresh["Status"] == "Failed" and "ami-0000000000000dead" in refresh["StatusReason"]
    assert {i["InstanceId"] for i in instances(asg, name)} == before


def test_auto_rollback_after_a_failure_restores_the_previous_configuration(ec2: Any, asg: Any, amis: list[str]) -> None:
    """API_RefreshPreferences.html: AutoRollback rolls the group back when the refresh fails."""
    name, template = group_with_template(ec2, asg, amis, size=2)
    ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": "ami-0000000000000dead", "InstanceType": "t3.micro"}
    )
    asg.start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": template, "Version": "3"}},
        Preferences={"AutoRollback": True},
    )
    refresh = finished(asg, name)
    assert refresh["Status"] == "RollbackSuccessful"
    assert "ami-0000000000000dead" in refresh["RollbackDetails"]["RollbackReason"]
    assert {i["LaunchTemplate"]["Version"] for i in instances(asg, name)} == {"1"}


def test_max_healthy_percentage_needs_min_healthy_percentage(ec2: Any, asg: Any, amis: list[str]) -> None:
    """API_RefreshPreferences.html: when MaxHealthyPercentage is given, MinHealthyPercentage must be too."""
    name, _ = group_with_template(ec2, asg, amis, size=1)
    code, _ = api_error(
        asg.start_instance_refresh, AutoScalingGroupName=name, Preferences={"MaxHealthyPercentage": 150}
    )
    assert code == "ValidationError"
    code, _ = api_error(
        asg.start_instance_refresh,
        AutoScalingGroupName=name,
        Preferences={"MinHealthyPercentage": 10, "MaxHealthyPercentage": 150},
    )
    assert code == "ValidationError"  # they may differ by 100 at most


def test_instances_report_the_launch_template_version_they_were_launched_from(
    ec2: Any, asg: Any, amis: list[str]
) -> None:
    """DescribeAutoScalingInstances: each instance's own LaunchTemplate, which skip matching compares."""
    name, template = group_with_template(ec2, asg, amis, size=1)
    asg.update_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        DesiredCapacity=2,
    )
    described = asg.describe_auto_scaling_instances(InstanceIds=[i["InstanceId"] for i in instances(asg, name)])
    assert sorted(i["LaunchTemplate"]["Version"] for i in described["AutoScalingInstances"]) == ["1", "2"]
