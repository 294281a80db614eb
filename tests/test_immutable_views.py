"""The helpers of module 2.12: AWS's events played by the sandbox, and the picture of an instance refresh.

The event helpers put AWS service events on the default bus (what AWS does on its own) and read what a rule's
Automation target did; the refresh watch only polls the real Auto Scaling API and draws what it saw. Each test makes
the real thing happen in the sandbox and asserts what the helper shows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

import labs_support as ls
from labs_support.errors import LabError
from labs_support.sandbox import Sandbox

EVENTS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
_names = iter(range(1000))


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """The lab clock at its notebook speed (600x): a refresh batch lasts 0.15 s, long enough to be seen polling."""
    sandbox = ls.start_sandbox()
    yield sandbox
    sandbox.stop()


def restart_rule(sb: Sandbox, name: str) -> None:
    """A rule that starts AWS-StartEC2Instance for every stopped instance."""
    iam, events = sb.client("iam"), sb.client("events")
    role = iam.create_role(RoleName=f"events-{name}", AssumeRolePolicyDocument=json.dumps(EVENTS_TRUST))["Role"]
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=f"events-{name}", PolicyName="ssm", PolicyDocument=json.dumps(allow))
    pattern = {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]}
    events.put_rule(Name=name, EventPattern=json.dumps({**pattern, "detail": {"state": ["stopped"]}}))
    events.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "start",
                "Arn": f"arn:aws:ssm:{sb.region}:{sb.account_id()}:automation-definition/AWS-StartEC2Instance:$DEFAULT",
                "RoleArn": role["Arn"],
                "InputTransformer": {
                    "InputPathsMap": {"instance": "$.detail.instance-id"},
                    "InputTemplate": '{"InstanceId": [<instance>]}',
                },
            }
        ],
    )


def test_an_emitted_state_change_reaches_the_rules_automation_target(sb: Sandbox) -> None:
    restart_rule(sb, "restart-any")
    [instance_id] = ls.launch_fleet(sb, 1)
    sb.client("ec2").stop_instances(InstanceIds=[instance_id])
    event_id = ls.emit_ec2_state_change(instance_id)
    [invocation] = ls.automation_invocations("restart-any")
    assert (invocation["Status"], invocation["EventId"]) == ("Started", event_id)
    assert invocation["Parameters"] == {"InstanceId": [instance_id]}


def test_the_event_carries_the_instances_current_state_so_running_does_not_match(sb: Sandbox) -> None:
    restart_rule(sb, "restart-running")
    [instance_id] = ls.launch_fleet(sb, 1)
    ls.emit_ec2_state_change(instance_id)  # running: the rule wants stopped
    assert ls.automation_invocations("restart-running") == []


def test_emitting_for_an_instance_that_does_not_exist_is_a_lab_error(sb: Sandbox) -> None:
    with pytest.raises(LabError, match="There is no instance i-0123456789abcdef0"):
        ls.emit_ec2_state_change("i-0123456789abcdef0")


def test_emit_aws_event_refuses_sources_that_are_not_aws_services(sb: Sandbox) -> None:
    with pytest.raises(LabError, match="put_events"):
        ls.emit_aws_event("shop.orders", "Order placed", {})
    assert ls.emit_aws_event("aws.ssm", "Parameter Store Change", {"name": "/x", "operation": "Update"})


def test_automation_invocations_of_a_rule_that_does_not_exist_is_a_lab_error(sb: Sandbox) -> None:
    with pytest.raises(LabError, match="There is no rule nope"):
        ls.automation_invocations("nope")


# -- instance refresh ---------------------------------------------------------------------------------------
def group_of_four(sb: Sandbox) -> tuple[Any, str, str]:
    """An Auto Scaling group of 4 instances on version 1 of a launch template that also has a version 2."""
    ec2, asg = sb.client("ec2"), sb.client("autoscaling")
    amis = [i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"][:2]]
    name = f"views-{next(_names)}"
    template = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": amis[0], "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(LaunchTemplateId=template, LaunchTemplateData={"ImageId": amis[1]})
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        MinSize=4,
        MaxSize=8,
        DesiredCapacity=4,
        AvailabilityZones=[f"{sb.region}a"],
    )
    return asg, name, template


def start(asg: Any, name: str, template: str, **preferences: Any) -> str:
    return asg.start_instance_refresh(
        AutoScalingGroupName=name,
        DesiredConfiguration={"LaunchTemplate": {"LaunchTemplateId": template, "Version": "2"}},
        Preferences={"InstanceWarmup": 30, **preferences},
    )["InstanceRefreshId"]


def test_the_watch_follows_a_refresh_to_its_end_and_sees_the_healthy_minimum_kept(sb: Sandbox) -> None:
    asg, name, template = group_of_four(sb)
    refresh_id = start(asg, name, template, MinHealthyPercentage=50)
    watch = ls.watch_instance_refresh(asg, name)
    assert (watch.refresh_id, watch.refresh["Status"]) == (refresh_id, "Successful")
    assert "1" in {v for v, _ in watch.samples[0].instances}  # the first look may already see a batch started
    assert {v for v, _ in watch.samples[-1].instances} == {"2"}
    # what polling sees depends on when it looks; these hold whatever it saw
    assert watch.lowest_in_service >= 2  # half of 4 stays in service
    assert watch.most_instances == 4  # MaxHealthyPercentage 100: never more than the desired capacity
    assert watch.versions == ["1", "2"]
    text = repr(watch)
    assert text.startswith(f"Instance refresh of {name}: Successful (MinHealthyPercentage 50)")
    assert f"at least {watch.lowest_in_service} instances InService throughout, at most 4" in text
    markup = watch._repr_html_()
    assert "<svg" in markup and "version 1" in markup and "version 2" in markup


def test_a_maximum_above_100_shows_the_extra_instance(sb: Sandbox) -> None:
    asg, name, template = group_of_four(sb)
    start(asg, name, template, MinHealthyPercentage=100, MaxHealthyPercentage=125)
    watch = ls.watch_instance_refresh(asg, name)
    assert watch.refresh["Status"] == "Successful"
    assert watch.lowest_in_service == 4 and watch.most_instances in (4, 5)  # 5 when a poll saw the extra one
    assert "MaxHealthyPercentage 125" in repr(watch)


def test_the_watch_can_stop_at_a_share_and_go_on_after_a_rollback(sb: Sandbox) -> None:
    asg, name, template = group_of_four(sb)
    start(asg, name, template, MinHealthyPercentage=75, CheckpointPercentages=[50, 100], CheckpointDelay=3600)
    watch = ls.watch_instance_refresh(asg, name, until_percentage=50)
    assert watch.refresh["Status"] == "InProgress" and watch.refresh["PercentageComplete"] >= 50
    asg.rollback_instance_refresh(AutoScalingGroupName=name)
    assert watch.wait() is watch
    assert watch.refresh["Status"] == "RollbackSuccessful"
    assert {v for v, _ in watch.samples[-1].instances} == {"1"}
    assert any(s.status == "RollbackInProgress" for s in watch.samples)


def test_watching_a_group_without_a_refresh_is_a_lab_error(sb: Sandbox) -> None:
    asg, name, _ = group_of_four(sb)
    with pytest.raises(LabError, match="has no instance refresh yet"):
        ls.watch_instance_refresh(asg, name)


def test_a_refresh_that_does_not_end_in_time_is_a_lab_error_naming_its_progress(sb: Sandbox) -> None:
    asg, name, template = group_of_four(sb)
    start(asg, name, template, MinHealthyPercentage=75, CheckpointPercentages=[25, 100], CheckpointDelay=86400)
    with pytest.raises(LabError, match="is still InProgress"):
        ls.watch_instance_refresh(asg, name, timeout=0.5)
    asg.cancel_instance_refresh(AutoScalingGroupName=name)
    deadline = time.monotonic() + 30
    while asg.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"][0]["Status"] != "Cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.01)
