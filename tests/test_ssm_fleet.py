"""Fidelity tests: managed nodes, AWS-owned documents and Run Command, as AWS documents them.

Each test names the AWS behaviour it proves and the page it rests on.
"""

from __future__ import annotations

import json
import time
from typing import Any

import labs_support as ls
import labs_support.fleet_views
from labs_support.sandbox import Sandbox
from tests.aws_errors import api_error

RHEL_AMI = "ami-bb9a6bc2"  # RHEL-7.4: no SSM Agent preinstalled
WINDOWS_AMI = "ami-b7e93bce"  # Windows_Server-2016-English-Full-Base


def managed(ssm: Any) -> dict[str, str]:
    return {
        i["InstanceId"]: i["PingStatus"]
        for page in ssm.get_paginator("describe_instance_information").paginate()
        for i in page["InstanceInformationList"]
    }


def run(ssm: Any, commands: list[str], **target: Any) -> dict[str, Any]:
    command = ssm.send_command(DocumentName="AWS-RunShellScript", Parameters={"commands": commands}, **target)[
        "Command"
    ]
    return ls.wait_for_command(ssm, command["CommandId"])


def invocations(ssm: Any, command_id: str) -> dict[str, dict[str, Any]]:
    found = ssm.list_command_invocations(CommandId=command_id, Details=True)["CommandInvocations"]
    return {i["InstanceId"]: i for i in found}


# -- AWS-owned documents --------------------------------------------------------------------------------------
def test_aws_owned_documents_are_listed_with_owner_amazon(ssm: Any) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/documents.html: documents owned by Amazon."""
    names = {
        d["Name"] for d in ssm.list_documents(Filters=[{"Key": "Owner", "Values": ["Amazon"]}])["DocumentIdentifiers"]
    }
    assert {
        "AWS-RunShellScript",
        "AWS-RunPowerShellScript",
        "AWS-ConfigureAWSPackage",
        "AWS-RunPatchBaseline",
        "AWS-UpdateSSMAgent",
        "AWS-RestartEC2Instance",
        "AWS-StopEC2Instance",
        "AWS-CreateImage",
    } <= names
    content = json.loads(ssm.get_document(Name="AWS-RunPatchBaseline")["Content"])
    assert content["parameters"]["Operation"]["allowedValues"] == ["Scan", "Install"]


def test_aws_owned_documents_cannot_be_deleted(ssm: Any) -> None:
    """Documents owned by Amazon are read-only to customers."""
    code, _ = api_error(ssm.delete_document, Name="AWS-RunShellScript")
    assert code == "InvalidDocumentOperation"


# -- managed nodes ---------------------------------------------------------------------------------------------
def test_instance_with_agent_and_core_role_becomes_a_managed_node(sb: Sandbox, ssm: Any, profile: str) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-setting-up-ec2.html"""
    [instance_id] = ls.launch_fleet(sb, 1, tags={"Test": "core"}, instance_profile=profile)
    info = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
    [node] = info["InstanceInformationList"]
    assert node["PingStatus"] == "Online"
    assert (node["PlatformName"], node["PlatformVersion"], node["IamRole"]) == ("Amazon Linux", "2023", profile)


def test_instance_without_instance_profile_is_not_managed(sb: Sandbox, ssm: Any) -> None:
    """Without an instance profile (and without Default Host Management Configuration) the agent has no
    credentials to register: the classic "instances don't appear" case."""
    [instance_id] = ls.launch_fleet(sb, 1, tags={"Test": "no-profile"})
    assert instance_id not in managed(ssm)
    assert "Default Host Management Configuration is off" in repr(ls.why_not_managed(sb, instance_id))
    code, message = api_error(
        ssm.send_command, InstanceIds=[instance_id], DocumentName="AWS-RunShellScript", Parameters={"commands": ["id"]}
    )
    assert code == "InvalidInstanceId" and instance_id in message


def test_attaching_the_instance_profile_later_makes_the_node_appear(
    sb: Sandbox, ssm: Any, ec2: Any, profile: str
) -> None:
    """Fixing the permissions is enough: the agent retries and registers (troubleshooting-managed-nodes)."""
    [instance_id] = ls.launch_fleet(sb, 1, tags={"Test": "late-profile"})
    assert instance_id not in managed(ssm)
    ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": profile}, InstanceId=instance_id)
    assert managed(ssm)[instance_id] == "Online"


def test_role_without_ssm_permissions_is_not_enough(sb: Sandbox, ssm: Any) -> None:
    """The instance profile's role must allow ssm:UpdateInstanceInformation (AmazonSSMManagedInstanceCore)."""
    iam = sb.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="s3-only", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName="s3-only", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.create_instance_profile(InstanceProfileName="s3-only")
    iam.add_role_to_instance_profile(InstanceProfileName="s3-only", RoleName="s3-only")
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile="s3-only")
    assert instance_id not in managed(ssm)
    assert "does not allow ssm:UpdateInstanceInformation" in repr(ls.why_not_managed(sb, instance_id))


def test_ami_without_the_agent_is_not_managed_until_user_data_installs_it(sb: Sandbox, ssm: Any, profile: str) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/ami-preinstalled-agent.html: RHEL AMIs need
    the agent installed (here by user data at first boot)."""
    [bare] = ls.launch_fleet(sb, 1, image_id=RHEL_AMI, instance_profile=profile)
    [installed] = ls.launch_fleet(
        sb,
        1,
        image_id=RHEL_AMI,
        instance_profile=profile,
        user_data="#!/bin/bash\nsudo yum install -y https://s3.amazonaws.com/ec2-downloads-windows/SSMAgent/latest/"
        "linux_amd64/amazon-ssm-agent.rpm\nsudo systemctl enable --now amazon-ssm-agent\n",
    )
    nodes = managed(ssm)
    assert bare not in nodes
    assert nodes[installed] == "Online"
    assert "no SSM Agent" in repr(ls.why_not_managed(sb, bare))


def test_default_host_management_configuration_needs_imdsv2(sb: Sandbox) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/fleet-manager-default-host-management-configuration.html:
    with DHMC on, instances without a profile become managed if they use IMDSv2 and agent 3.2.582.0+.
    (In the dev account: the setting is per account and Region.)"""
    ssm2, iam = sb.client("ssm", account="dev"), sb.client("iam", account="dev")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role = "AWSSystemsManagerDefaultEC2InstanceManagementRole"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedEC2InstanceDefaultPolicy")
    [v2] = ls.launch_fleet(sb, 1, imdsv2=True, account="dev")
    [v1] = ls.launch_fleet(sb, 1, imdsv2=False, account="dev")
    assert managed(ssm2) == {}
    setting = "/ssm/managed-instance/default-ec2-instance-management-role"
    ssm2.update_service_setting(SettingId=setting, SettingValue=role)
    assert ssm2.get_service_setting(SettingId=setting)["ServiceSetting"]["Status"] == "Customized"
    nodes = managed(ssm2)
    assert nodes.get(v2) == "Online" and v1 not in nodes
    assert "IMDSv2" in repr(ls.why_not_managed(sb, v1, account="dev"))


def test_private_subnet_needs_the_three_interface_endpoints(sb: Sandbox, ssm: Any, ec2: Any, profile: str) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/setup-create-vpc.html: without a route to
    the internet, the VPC needs endpoints for ssm, ssmmessages and ec2messages."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    image = ssm.get_parameter(Name=ls.fleet_views.AL2023_PARAMETER)["Parameter"]["Value"]
    instance_id = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet, IamInstanceProfile={"Name": profile}
    )["Instances"][0]["InstanceId"]
    assert instance_id not in managed(ssm)
    for service in ("ssm", "ssmmessages"):
        ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=f"com.amazonaws.us-east-1.{service}", VpcEndpointType="Interface", SubnetIds=[subnet]
        )
    assert instance_id not in managed(ssm)
    assert "ec2messages" in repr(ls.why_not_managed(sb, instance_id))
    ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.ec2messages", VpcEndpointType="Interface", SubnetIds=[subnet]
    )
    assert managed(ssm)[instance_id] == "Online"


def test_stopped_node_reports_connection_lost(sb: Sandbox, ssm: Any, ec2: Any, profile: str) -> None:
    """A registered node that stops answering keeps its record with PingStatus ConnectionLost."""
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile)
    assert managed(ssm)[instance_id] == "Online"
    ec2.stop_instances(InstanceIds=[instance_id])
    assert managed(ssm)[instance_id] == "ConnectionLost"


# -- Run Command -------------------------------------------------------------------------------------------------
def test_send_command_by_tag_runs_on_every_matching_node(sb: Sandbox, ssm: Any, profile: str) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/send-commands-multiple.html: tag targets."""
    ids = ls.launch_fleet(
        sb, 3, tags={"Role": "tagged"}, instance_profile=profile, user_data="#!/bin/bash\necho v1 > /etc/app.version\n"
    )
    sent = ssm.send_command(
        Targets=[{"Key": "tag:Role", "Values": ["tagged"]}],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["cat /etc/app.version"]},
    )["Command"]
    assert sent["Status"] == "Pending"
    command = ls.wait_for_command(ssm, sent["CommandId"])
    assert (command["Status"], command["TargetCount"], command["CompletedCount"]) == ("Success", 3, 3)
    for instance_id in ids:
        result = ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance_id)
        assert (result["Status"], result["StandardOutputContent"], result["ResponseCode"]) == ("Success", "v1\n", 0)


def test_max_errors_zero_stops_after_the_first_error(sb: Sandbox, ssm: Any, profile: str) -> None:
    """MaxErrors 0 with MaxConcurrency 1: the first failure stops the command; targets not yet sent end
    Terminated (monitor-commands.html) and the command Failed."""
    ids = ls.launch_fleet(sb, 4, tags={"Role": "max-errors"}, instance_profile=profile)
    command = run(ssm, ["exit 1"], InstanceIds=ids, MaxConcurrency="1", MaxErrors="0")
    found = invocations(ssm, command["CommandId"])
    assert [found[i]["StatusDetails"] for i in ids] == ["Failed", "Terminated", "Terminated", "Terminated"]
    assert (command["Status"], command["ErrorCount"], command["CompletedCount"]) == ("Failed", 1, 4)


def test_errors_can_pass_max_errors_by_what_was_already_running(sb: Sandbox, ssm: Any, profile: str) -> None:
    """With MaxConcurrency 3 and MaxErrors 1, three run at once: all three fail before the stop is noticed, so
    ErrorCount is 3 > MaxErrors (send-commands-multiple.html); the rest are never sent."""
    ids = ls.launch_fleet(sb, 6, tags={"Role": "concurrency"}, instance_profile=profile)
    command = run(ssm, ["false"], InstanceIds=ids, MaxConcurrency="3", MaxErrors="1")
    found = invocations(ssm, command["CommandId"])
    assert [found[i]["StatusDetails"] for i in ids] == ["Failed"] * 3 + ["Terminated"] * 3
    assert command["ErrorCount"] == 3


def test_percentages_are_worked_out_on_the_target_count(sb: Sandbox, ssm: Any, profile: str) -> None:
    """MaxConcurrency 10% of 10 targets is 1 at a time; MaxErrors 20% of 10 is 2: the third failure stops it."""
    ids = ls.launch_fleet(sb, 10, tags={"Role": "percent"}, instance_profile=profile)
    command = run(ssm, ["exit 2"], InstanceIds=ids, MaxConcurrency="10%", MaxErrors="20%")
    found = invocations(ssm, command["CommandId"])
    details = [found[i]["StatusDetails"] for i in ids]
    assert details == ["Failed"] * 3 + ["Terminated"] * 7


def test_mixed_results_under_the_threshold_make_the_command_incomplete(sb: Sandbox, ssm: Any, profile: str) -> None:
    """Some invocations failed, but no more than MaxErrors: the command's detail is Incomplete."""
    ids = ls.launch_fleet(sb, 3, instance_profile=profile)
    run(ssm, ["touch /tmp/ok"], InstanceIds=ids[:2])
    command = run(ssm, ["test -f /tmp/ok"], InstanceIds=ids, MaxErrors="1")
    assert (command["Status"], command["StatusDetails"], command["ErrorCount"]) == ("Failed", "Incomplete", 1)


def test_offline_node_gets_delivery_timed_out_which_is_not_an_error(
    sb: Sandbox, ssm: Any, ec2: Any, profile: str
) -> None:
    """A stopped node cannot receive the command: Delivery Timed Out after TimeoutSeconds, not counted in
    ErrorCount (monitor-commands.html)."""
    ids = ls.launch_fleet(sb, 2, instance_profile=profile)
    ec2.stop_instances(InstanceIds=[ids[1]])
    command = run(ssm, ["true"], InstanceIds=ids, TimeoutSeconds=30)
    found = invocations(ssm, command["CommandId"])
    assert found[ids[1]]["Status"] == "TimedOut" and found[ids[1]]["StatusDetails"] == "Delivery Timed Out"
    assert (command["ErrorCount"], command["DeliveryTimedOutCount"]) == (0, 1)


def test_linux_document_on_windows_node_is_invalid_platform(sb: Sandbox, ssm: Any, profile: str) -> None:
    """AWS-RunShellScript supports Linux and macOS: a Windows node reports Invalid Platform."""
    [windows] = ls.launch_fleet(sb, 1, image_id=WINDOWS_AMI, instance_profile=profile)
    command = run(ssm, ["echo hi"], InstanceIds=[windows])
    assert invocations(ssm, command["CommandId"])[windows]["StatusDetails"] == "Invalid Platform"
    command = ssm.send_command(
        InstanceIds=[windows], DocumentName="AWS-RunPowerShellScript", Parameters={"commands": ["Write-Output hello"]}
    )["Command"]
    ls.wait_for_command(ssm, command["CommandId"])
    result = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=windows)
    assert (result["Status"], result["StandardOutputContent"]) == ("Success", "hello\n")


def test_cancel_command_stops_a_running_command(sb: Sandbox, ssm: Any, profile: str) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/cancel-run-command.html"""
    ids = ls.launch_fleet(sb, 2, instance_profile=profile)
    sent = ssm.send_command(
        InstanceIds=ids, DocumentName="AWS-RunShellScript", MaxConcurrency="1", Parameters={"commands": ["sleep 3000"]}
    )["Command"]
    time.sleep(0.05)
    ssm.cancel_command(CommandId=sent["CommandId"])
    command = ls.wait_for_command(ssm, sent["CommandId"])
    assert command["Status"] == "Cancelled"
    assert {i["Status"] for i in invocations(ssm, sent["CommandId"]).values()} == {"Cancelled"}


def test_unknown_document_and_missing_parameter_are_refused(sb: Sandbox, ssm: Any, profile: str) -> None:
    """SendCommand validates the document and its required parameters before sending anything."""
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile)
    assert api_error(ssm.send_command, InstanceIds=[instance_id], DocumentName="No-Such-Doc")[0] == "InvalidDocument"
    assert (
        api_error(ssm.send_command, InstanceIds=[instance_id], DocumentName="AWS-RunShellScript")[0]
        == "InvalidParameters"
    )


def test_command_reads_parameter_store_values(sb: Sandbox, ssm: Any, profile: str) -> None:
    """{{ssm:name}} in a command's parameters is replaced with the Parameter Store value
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-param-runcommand.html)."""
    ssm.put_parameter(Name="/fleet/greeting", Value="hello from parameter store", Type="String")
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile)
    command = run(ssm, ["echo {{ssm:/fleet/greeting}}"], InstanceIds=[instance_id])
    result = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance_id)
    assert result["StandardOutputContent"] == "hello from parameter store\n"


def test_output_goes_to_s3_when_a_bucket_is_given(sb: Sandbox, ssm: Any, profile: str) -> None:
    """OutputS3BucketName keeps the full output: <prefix>/<command id>/<instance id>/<plugin>/stdout."""
    sb.client("s3").create_bucket(Bucket="fleet-output")
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile)
    command = run(
        ssm, ["echo saved"], InstanceIds=[instance_id], OutputS3BucketName="fleet-output", OutputS3KeyPrefix="runs"
    )
    key = f"runs/{command['CommandId']}/{instance_id}/awsrunShellScript/stdout"
    assert sb.client("s3").get_object(Bucket="fleet-output", Key=key)["Body"].read() == b"saved\n"


def test_targets_matching_no_managed_node_report_no_instances_in_tag(ssm: Any) -> None:
    """A tag that matches no managed node: nothing runs (detail No Instances In Tag)."""
    sent = ssm.send_command(
        Targets=[{"Key": "tag:Role", "Values": ["nobody"]}],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["true"]},
    )["Command"]
    assert (sent["TargetCount"], sent["StatusDetails"]) == (0, "No Instances In Tag")


def test_run_command_state_changes_persist_on_the_host(sb: Sandbox, ssm: Any, profile: str) -> None:
    """A package installed and a service started by one command are there for the next."""
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile)
    run(ssm, ["dnf install -y nginx", "systemctl enable --now nginx"], InstanceIds=[instance_id])
    command = run(ssm, ["systemctl is-active nginx", "rpm -q nginx"], InstanceIds=[instance_id])
    output = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance_id)["StandardOutputContent"]
    assert output == "active\nnginx-1.24.0.x86_64\n"
    failed = run(ssm, ["dnf install -y no-such-package"], InstanceIds=[instance_id])
    result = ssm.get_command_invocation(CommandId=failed["CommandId"], InstanceId=instance_id)
    assert result["ResponseCode"] == 1 and "Unable to find a match: no-such-package" in result["StandardErrorContent"]


def test_output_goes_to_cloudwatch_logs_when_enabled(sb: Sandbox, ssm: Any, profile: str) -> None:
    """CloudWatchOutputConfig: output in log group aws/ssm/<document> unless a group is named
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-rc-setting-up-cwlogs.html)."""
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile)
    command = run(
        ssm, ["echo to logs"], InstanceIds=[instance_id], CloudWatchOutputConfig={"CloudWatchOutputEnabled": True}
    )
    logs = sb.client("logs")
    stream = f"{command['CommandId']}/{instance_id}/aws-runShellScript/stdout"
    events = logs.get_log_events(logGroupName="aws/ssm/AWS-RunShellScript", logStreamName=stream)["events"]
    assert [e["message"] for e in events] == ["to logs"]


def test_secure_string_is_not_resolved_into_a_command(sb: Sandbox, ssm: Any, profile: str) -> None:
    """{{ssm:name}} does not hand a SecureString's value to a command (observed: awsdocs/aws-systems-manager-user-
    guide#55); the invocation fails instead of running with a secret in its parameters."""
    ssm.put_parameter(Name="/fleet/secret", Value="s3cr3t", Type="SecureString")
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile)
    command = run(ssm, ["echo {{ssm:/fleet/secret}}"], InstanceIds=[instance_id])
    result = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance_id)
    assert result["Status"] == "Failed" and "s3cr3t" not in result["StandardOutputContent"]


def test_register_default_host_management_configuration_service_managed(sb: Sandbox) -> None:
    """RegisterDefaultHostManagementConfiguration: SERVICE_MANAGED has Systems Manager create the role; Overwrite
    guards an existing registration; Deregister turns DHMC off (API reference). In the test account."""
    ssm2 = sb.client("ssm", account="test")
    role_arn = ssm2.register_default_host_management_configuration(PermissionModel="SERVICE_MANAGED")["RoleArn"]
    assert role_arn.endswith(":role/service-role/AWSSystemsManagerDefaultEC2InstanceManagementRole")
    [node] = ls.launch_fleet(sb, 1, account="test")
    assert managed(ssm2) == {node: "Online"}
    assert api_error(ssm2.register_default_host_management_configuration, PermissionModel="SERVICE_MANAGED")[0] == (
        "ValidationException"
    )
    ssm2.deregister_default_host_management_configuration()
    setting = ssm2.get_service_setting(SettingId="/ssm/managed-instance/default-ec2-instance-management-role")
    assert setting["ServiceSetting"]["SettingValue"] == "$None"
    assert managed(ssm2) == {node: "ConnectionLost"}


def test_launch_template_instance_profile_reaches_auto_scaling_instances(
    sb: Sandbox, ssm: Any, ec2: Any, profile: str
) -> None:
    """A launch template's IamInstanceProfile and MetadataOptions apply to every instance it launches, including
    Auto Scaling's (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RequestLaunchTemplateData.html):
    the group's instances are managed nodes."""
    image = ssm.get_parameter(Name=ls.fleet_views.AL2023_PARAMETER)["Parameter"]["Value"]
    template = ec2.create_launch_template(
        LaunchTemplateName="managed-asg",
        LaunchTemplateData={
            "ImageId": image,
            "InstanceType": "t3.micro",
            "IamInstanceProfile": {"Name": profile},
            "MetadataOptions": {"HttpTokens": "required"},
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg = sb.client("autoscaling")
    asg.create_auto_scaling_group(
        AutoScalingGroupName="managed-asg",
        MinSize=2,
        MaxSize=2,
        DesiredCapacity=2,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        AvailabilityZones=["us-east-1a"],
    )
    ids = [
        i["InstanceId"]
        for i in asg.describe_auto_scaling_groups(AutoScalingGroupNames=["managed-asg"])["AutoScalingGroups"][0][
            "Instances"
        ]
    ]
    nodes = managed(ssm)
    assert len(ids) == 2 and all(nodes.get(i) == "Online" for i in ids)
    described = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert {i["MetadataOptions"]["HttpTokens"] for r in described for i in r["Instances"]} == {"required"}


def test_run_command_ramps_up_to_max_concurrency(sb: Sandbox, ssm: Any, profile: str) -> None:
    """Run Command sends to one node first, then two more, growing exponentially up to MaxConcurrency
    ("Using concurrency controls", https://docs.aws.amazon.com/systems-manager/latest/userguide/send-commands-multiple.html)."""
    ids = ls.launch_fleet(sb, 7, tags={"Role": "ramp"}, instance_profile=profile)
    command = run(ssm, ["true"], InstanceIds=ids, MaxConcurrency="4")
    started = sorted(
        ssm.list_command_invocations(CommandId=command["CommandId"], Details=True)["CommandInvocations"],
        key=lambda i: i["CommandPlugins"][0]["ResponseStartDateTime"],
    )
    rounds: list[int] = []
    last = None
    for invocation in started:
        moment = invocation["CommandPlugins"][0]["ResponseStartDateTime"]
        if last is None or (moment - last).total_seconds() > 0.5:
            rounds.append(0)
        rounds[-1] += 1
        last = moment
    assert rounds == [1, 2, 4]


def test_user_data_the_simulated_shell_cannot_run_does_not_break_the_launch(
    sb: Sandbox, ssm: Any, profile: str
) -> None:
    """Whatever the user data holds, RunInstances answers (cloud-init's failures stay on the instance)."""
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile, user_data="#!/bin/bash\nprintf '%z 50%'\n")
    assert managed(ssm)[instance_id] == "Online"


def test_get_command_invocation_of_a_never_sent_node_with_a_plugin_name(sb: Sandbox, ssm: Any, profile: str) -> None:
    """A Terminated invocation has no plugin output; asking for a plugin answers, it does not crash."""
    ids = ls.launch_fleet(sb, 2, instance_profile=profile)
    command = run(ssm, ["exit 1"], InstanceIds=ids, MaxConcurrency="1")
    result = ssm.get_command_invocation(
        CommandId=command["CommandId"], InstanceId=ids[1], PluginName="aws:runShellScript"
    )
    assert result["StatusDetails"] == "Terminated" and result["StandardOutputContent"] == ""


def test_max_concurrency_zero_is_refused(sb: Sandbox, ssm: Any, profile: str) -> None:
    """MaxConcurrency must be at least 1 (or 1%): 0 and 0% are refused."""
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile)
    for value in ("0", "0%"):
        code, _ = api_error(
            ssm.send_command,
            InstanceIds=[instance_id],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": ["true"]},
            MaxConcurrency=value,
        )
        assert code == "ValidationException"


def test_an_ami_made_with_create_image_keeps_the_instance_contents(
    sb: Sandbox, ssm: Any, ec2: Any, profile: str
) -> None:
    """CreateImage copies the instance's disk: instances launched from the AMI have its agent and packages."""
    [source] = ls.launch_fleet(sb, 1, instance_profile=profile)
    run(ssm, ["dnf install -y htop"], InstanceIds=[source])
    image_id = ec2.create_image(InstanceId=source, Name="with-htop")["ImageId"]
    [copy] = ls.launch_fleet(sb, 1, image_id=image_id, instance_profile=profile)
    command = run(ssm, ["rpm -q htop"], InstanceIds=[copy])
    output = ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=copy)["StandardOutputContent"]
    assert output == "htop-3.2.1.x86_64\n"
