"""Fidelity tests: Systems Manager Automation and the EventBridge rules that start it, as AWS documents them.

Each test names the AWS behaviour it proves and the page it rests on. Executions run in worker threads on the
lab clock (fast here); the tests wait for them to end and never assert on durations.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

import labs_support as ls
from labs_support.emulator import events_targets
from labs_support.sandbox import Sandbox
from tests.aws_errors import api_error

ACTIVE = ("Pending", "InProgress", "Waiting", "Cancelling")
SSM_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EVENTS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """This module's sandbox, with a fast lab clock (an instance stopping takes 45 lab seconds)."""
    sandbox = ls.start_sandbox()
    sandbox.lab_clock_speed = 100_000
    yield sandbox
    sandbox.stop()


def finished(ssm: Any, execution_id: str, patience: float = 60.0) -> dict[str, Any]:
    """The execution once it has ended (polls GetAutomationExecution, as a script would)."""
    deadline = time.monotonic() + patience
    while True:
        execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        if execution["AutomationExecutionStatus"] not in ACTIVE:
            return execution
        assert time.monotonic() < deadline, f"the automation is still {execution['AutomationExecutionStatus']}"
        time.sleep(0.01)


def step_reaches(ssm: Any, execution_id: str, step_name: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        execution = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
        step = {s["StepName"]: s for s in execution["StepExecutions"]}[step_name]
        if step["StepStatus"] == status:
            return execution
        assert time.monotonic() < deadline, f"step {step_name} is still {step['StepStatus']}"
        time.sleep(0.01)


def steps(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["StepName"]: s for s in execution["StepExecutions"]}


def state(ec2: Any, instance_id: str) -> str:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


def runbook(ssm: Any, name: str, content: dict[str, Any]) -> str:
    ssm.create_document(Name=name, DocumentType="Automation", DocumentFormat="YAML", Content=yaml.safe_dump(content))
    return name


def start(ssm: Any, name: str, **parameters: Any) -> str:
    given = {k: v if isinstance(v, list) else [v] for k, v in parameters.items()}
    return ssm.start_automation_execution(DocumentName=name, Parameters=given)["AutomationExecutionId"]


def role(
    iam: Any, name: str, trust: dict[str, Any], policies: list[str] = (), inline: dict[str, Any] | None = None
) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for policy in policies:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    return arn


# -- AWS-owned runbooks ----------------------------------------------------------------------------------------
def test_restart_ec2_instance_stops_then_starts_the_instance(sb: Sandbox, ssm: Any, ec2: Any) -> None:
    """AWS-RestartEC2Instance runs aws:changeInstanceState stopped, then running; each step waits for the
    state (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-changestate.html)."""
    [instance_id] = ls.launch_fleet(sb, 1)
    execution = finished(ssm, start(ssm, "AWS-RestartEC2Instance", InstanceId=instance_id))
    assert execution["AutomationExecutionStatus"] == "Success"
    stop_step, start_step = execution["StepExecutions"]
    assert [stop_step["StepName"], start_step["StepName"]] == ["stopInstances", "startInstances"]
    assert {stop_step["StepStatus"], start_step["StepStatus"]} == {"Success"}
    assert stop_step["Action"] == "aws:changeInstanceState"
    assert json.loads(stop_step["Inputs"]["DesiredState"]) == "stopped"
    assert json.loads(stop_step["Inputs"]["InstanceIds"]) == [instance_id]
    assert stop_step["ExecutionEndTime"] <= start_step["ExecutionStartTime"]
    assert execution["ExecutionStartTime"] < execution["ExecutionEndTime"]
    assert execution["Parameters"]["InstanceId"] == [instance_id]
    assert execution["ExecutedBy"].startswith("arn:aws:")
    assert state(ec2, instance_id) == "running"


def test_stop_ec2_instance_leaves_the_instance_stopped(sb: Sandbox, ssm: Any, ec2: Any) -> None:
    """AWS-StopEC2Instance (https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/automation-aws-stopec2instance.html)."""
    [instance_id] = ls.launch_fleet(sb, 1)
    assert (
        finished(ssm, start(ssm, "AWS-StopEC2Instance", InstanceId=instance_id))["AutomationExecutionStatus"]
        == "Success"
    )
    assert state(ec2, instance_id) == "stopped"


def test_create_image_makes_an_available_ami_whose_instances_inherit_the_source_host(
    sb: Sandbox, ssm: Any, ec2: Any, profile: str
) -> None:
    """AWS-CreateImage: aws:createImage polls until the image is available and outputs ImageId and ImageState
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-create.html); an instance
    launched from the AMI has what the source instance had (a package installed by Run Command)."""
    [source] = ls.launch_fleet(sb, 1, instance_profile=profile)
    command = ssm.send_command(
        InstanceIds=[source], DocumentName="AWS-RunShellScript", Parameters={"commands": ["sudo dnf install -y nginx"]}
    )["Command"]
    assert ls.wait_for_command(ssm, command["CommandId"])["Status"] == "Success"
    execution = finished(ssm, start(ssm, "AWS-CreateImage", InstanceId=source))
    assert execution["AutomationExecutionStatus"] == "Success"
    [image_id] = execution["Outputs"]["createImage.ImageId"]
    create = steps(execution)["createImage"]
    assert create["Outputs"] == {"ImageId": [image_id], "ImageState": ["available"]}
    assert json.loads(create["Inputs"]["ImageName"]) == f"{source}_{execution['AutomationExecutionId']}"
    [image] = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert image["State"] == "available"
    [copy] = ls.launch_fleet(sb, 1, instance_profile=profile, image_id=image_id)
    check = ssm.send_command(
        InstanceIds=[copy], DocumentName="AWS-RunShellScript", Parameters={"commands": ["rpm -q nginx"]}
    )["Command"]
    assert ls.wait_for_command(ssm, check["CommandId"])["Status"] == "Success"
    output = ssm.get_command_invocation(CommandId=check["CommandId"], InstanceId=copy)["StandardOutputContent"]
    assert "nginx" in output


# -- custom runbooks --------------------------------------------------------------------------------------------
STOP_IF_RUNNING = {
    "schemaVersion": "0.3",
    "description": "Stop the instance if it is running",
    "parameters": {"InstanceId": {"type": "String"}},
    "mainSteps": [
        {
            "name": "getState",
            "action": "aws:executeAwsApi",
            "inputs": {"Service": "ec2", "Api": "DescribeInstances", "InstanceIds": ["{{ InstanceId }}"]},
            "outputs": [
                {"Name": "State", "Selector": "$.Reservations[0].Instances[0].State.Name", "Type": "String"},
                {"Name": "Code", "Selector": "$.Reservations[0].Instances[0].State.Code", "Type": "Integer"},
            ],
        },
        {
            "name": "chooseAction",
            "action": "aws:branch",
            "inputs": {
                "Choices": [{"NextStep": "stopIt", "Variable": "{{ getState.State }}", "StringEquals": "running"}],
                "Default": "alreadyStopped",
            },
        },
        {
            "name": "stopIt",
            "action": "aws:changeInstanceState",
            "inputs": {"InstanceIds": ["{{ InstanceId }}"], "DesiredState": "stopped"},
            "isEnd": True,
        },
        {"name": "alreadyStopped", "action": "aws:sleep", "inputs": {"Duration": "PT1M"}},
    ],
    "outputs": ["getState.State", "stopIt.Nothing"],
}


def test_custom_runbook_branches_on_an_execute_aws_api_output(sb: Sandbox, ssm: Any, ec2: Any) -> None:
    """aws:executeAwsApi outputs (Selector JSONPath, Type) feed aws:branch: the first true choice wins, else
    Default; steps the branch skipped stay Pending
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html,
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-branch.html,
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-statuses.html)."""
    runbook(ssm, "StopIfRunning", STOP_IF_RUNNING)
    [instance_id] = ls.launch_fleet(sb, 1)

    first = finished(ssm, start(ssm, "StopIfRunning", InstanceId=instance_id))
    assert first["AutomationExecutionStatus"] == "Success"
    ran = steps(first)
    assert ran["getState"]["Outputs"] == {"State": ["running"], "Code": ["16"]}
    assert ran["chooseAction"]["NextStep"] == "stopIt"
    assert (ran["stopIt"]["StepStatus"], ran["alreadyStopped"]["StepStatus"]) == ("Success", "Pending")
    assert first["Outputs"]["getState.State"] == ["running"]
    assert first["Outputs"]["stopIt.Nothing"] == [
        "No output available yet because the step is not successfully executed"
    ]
    assert state(ec2, instance_id) == "stopped"

    second = finished(ssm, start(ssm, "StopIfRunning", InstanceId=instance_id))
    ran = steps(second)
    assert ran["getState"]["Outputs"]["State"] == ["stopped"]
    assert (ran["stopIt"]["StepStatus"], ran["alreadyStopped"]["StepStatus"]) == ("Pending", "Success")


def assert_runbook(on_failure: str | None) -> dict[str, Any]:
    failing: dict[str, Any] = {
        "name": "checkRunning",
        "action": "aws:assertAwsResourceProperty",
        "inputs": {
            "Service": "ec2",
            "Api": "DescribeInstances",
            "InstanceIds": ["{{ InstanceId }}"],
            "PropertySelector": "$.Reservations[0].Instances[0].State.Name",
            "DesiredValues": ["stopped"],
        },
    }
    if on_failure:
        failing["onFailure"] = on_failure
    return {
        "schemaVersion": "0.3",
        "parameters": {"InstanceId": {"type": "String"}},
        "mainSteps": [
            failing,
            {"name": "afterwards", "action": "aws:sleep", "inputs": {"Duration": "PT5S"}, "isEnd": True},
            {"name": "cleanup", "action": "aws:sleep", "inputs": {"Duration": "PT5S"}},
        ],
    }


def test_on_failure_abort_fails_the_execution_and_names_the_failed_step(sb: Sandbox, ssm: Any) -> None:
    """onFailure Abort (the default): the automation stops at the failed step, Failed; later steps stay Pending
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-actions.html#automation-common,
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-assertAwsResourceProperty.html)."""
    runbook(ssm, "AssertAbort", assert_runbook(None))
    [instance_id] = ls.launch_fleet(sb, 1)
    execution = finished(ssm, start(ssm, "AssertAbort", InstanceId=instance_id))
    assert execution["AutomationExecutionStatus"] == "Failed"
    ran = steps(execution)
    assert ran["checkRunning"]["StepStatus"] == "Failed"
    assert (
        "Property value 'running' from the API output is not in the desired values"
        in ran["checkRunning"]["FailureMessage"]
    )
    assert ran["afterwards"]["StepStatus"] == "Pending"
    assert "checkRunning" in execution["FailureMessage"]


def test_on_failure_continue_goes_on_and_the_automation_succeeds(sb: Sandbox, ssm: Any) -> None:
    """onFailure Continue: the next step runs, and the failed step is not critical (isCritical defaults to false
    with Continue), so the automation ends Success (automation-actions.html#automation-common)."""
    runbook(ssm, "AssertContinue", assert_runbook("Continue"))
    [instance_id] = ls.launch_fleet(sb, 1)
    execution = finished(ssm, start(ssm, "AssertContinue", InstanceId=instance_id))
    ran = steps(execution)
    assert (ran["checkRunning"]["StepStatus"], ran["afterwards"]["StepStatus"]) == ("Failed", "Success")
    assert ran["checkRunning"]["IsCritical"] is False
    assert ran["cleanup"]["StepStatus"] == "Pending"  # afterwards isEnd
    assert execution["AutomationExecutionStatus"] == "Success"


def test_on_failure_step_runs_the_named_step_but_a_critical_failure_fails_the_automation(sb: Sandbox, ssm: Any) -> None:
    """onFailure step:<name> jumps to that step; the failed step is critical (default true), so the automation's
    final status is Failed (automation-actions.html#automation-common, isCritical)."""
    runbook(ssm, "AssertCleanup", assert_runbook("step:cleanup"))
    [instance_id] = ls.launch_fleet(sb, 1)
    execution = finished(ssm, start(ssm, "AssertCleanup", InstanceId=instance_id))
    ran = steps(execution)
    assert [ran[n]["StepStatus"] for n in ("checkRunning", "afterwards", "cleanup")] == ["Failed", "Pending", "Success"]
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert "checkRunning" in execution["FailureMessage"]


def test_timeout_seconds_times_the_step_out(sb: Sandbox, ssm: Any) -> None:
    """timeoutSeconds: a step still running when it passes ends TimedOut, and with Abort so does the automation
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-statuses.html)."""
    runbook(
        ssm,
        "SleepTooLong",
        {
            "schemaVersion": "0.3",
            "mainSteps": [{"name": "nap", "action": "aws:sleep", "timeoutSeconds": 60, "inputs": {"Duration": "PT2H"}}],
        },
    )
    execution = finished(ssm, ssm.start_automation_execution(DocumentName="SleepTooLong")["AutomationExecutionId"])
    assert steps(execution)["nap"]["StepStatus"] == "TimedOut"
    assert execution["AutomationExecutionStatus"] == "TimedOut"


def test_run_command_step_outputs_the_command_and_fails_with_it(sb: Sandbox, ssm: Any, profile: str) -> None:
    """aws:runCommand sends a real command and outputs CommandId, Status, ResponseCode and Output; a command that
    fails fails the step (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-runcommand.html)."""
    runbook(
        ssm,
        "RunScript",
        {
            "schemaVersion": "0.3",
            "parameters": {"InstanceId": {"type": "String"}, "Script": {"type": "String"}},
            "mainSteps": [
                {
                    "name": "run",
                    "action": "aws:runCommand",
                    "inputs": {
                        "DocumentName": "AWS-RunShellScript",
                        "InstanceIds": ["{{ InstanceId }}"],
                        "Parameters": {"commands": ["echo run {{ automation:EXECUTION_ID }}", "{{ Script }}"]},
                    },
                }
            ],
            "outputs": ["run.Output"],
        },
    )
    [instance_id] = ls.launch_fleet(sb, 1, instance_profile=profile)
    good = finished(ssm, start(ssm, "RunScript", InstanceId=instance_id, Script="echo hello"))
    assert good["AutomationExecutionStatus"] == "Success"
    outputs = steps(good)["run"]["Outputs"]
    assert outputs["Status"] == ["Success"] and outputs["ResponseCode"] == ["0"]
    assert outputs["Output"] == [f"run {good['AutomationExecutionId']}\nhello\n"]
    assert ssm.list_commands(CommandId=outputs["CommandId"][0])["Commands"][0]["DocumentName"] == "AWS-RunShellScript"

    bad = finished(ssm, start(ssm, "RunScript", InstanceId=instance_id, Script="exit 3"))
    assert bad["AutomationExecutionStatus"] == "Failed"
    assert "ResponseCode=[3]" in steps(bad)["run"]["FailureMessage"]


def test_stop_automation_execution_cancels_the_running_step(sb: Sandbox, ssm: Any) -> None:
    """StopAutomationExecution: the running step and the automation end Cancelled, later steps stay Pending; an
    automation that has ended cannot be stopped
    (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StopAutomationExecution.html)."""
    runbook(
        ssm,
        "PauseThenSleep",
        {
            "schemaVersion": "0.3",
            "mainSteps": [
                {"name": "hold", "action": "aws:pause", "inputs": {}},
                {"name": "later", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
            ],
        },
    )
    execution_id = ssm.start_automation_execution(DocumentName="PauseThenSleep")["AutomationExecutionId"]
    waiting = step_reaches(ssm, execution_id, "hold", "Waiting")
    assert waiting["AutomationExecutionStatus"] == "Waiting"
    ssm.stop_automation_execution(AutomationExecutionId=execution_id, Type="Cancel")
    execution = finished(ssm, execution_id)
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert [s["StepStatus"] for s in execution["StepExecutions"]] == ["Cancelled", "Pending"]
    code, _ = api_error(ssm.stop_automation_execution, AutomationExecutionId=execution_id)
    assert code == "InvalidAutomationStatusUpdateException"


def test_approve_waits_for_send_automation_signal(sb: Sandbox, ssm: Any, iam: Any) -> None:
    """aws:approve: the automation waits until enough approvers Approve (outputs ApprovalStatus and
    ApproverDecisions), or fails when one Rejects
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-approve.html)."""
    runbook(
        ssm,
        "NeedsApproval",
        {
            "schemaVersion": "0.3",
            "mainSteps": [
                {
                    "name": "approval",
                    "action": "aws:approve",
                    "inputs": {"Approvers": ["arn:aws:iam::123456789012:root"], "Message": "Restart prod?"},
                },
                {"name": "go", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}},
            ],
        },
    )
    approved = ssm.start_automation_execution(DocumentName="NeedsApproval")["AutomationExecutionId"]
    step_reaches(ssm, approved, "approval", "Waiting")
    ssm.send_automation_signal(AutomationExecutionId=approved, SignalType="Approve", Payload={"Comment": ["ok"]})
    execution = finished(ssm, approved)
    assert execution["AutomationExecutionStatus"] == "Success"
    outputs = steps(execution)["approval"]["Outputs"]
    assert outputs["ApprovalStatus"] == ["Approved"]
    assert json.loads(outputs["ApproverDecisions"][0])["Comment"] == "ok"

    rejected = ssm.start_automation_execution(DocumentName="NeedsApproval")["AutomationExecutionId"]
    step_reaches(ssm, rejected, "approval", "Waiting")
    ssm.send_automation_signal(AutomationExecutionId=rejected, SignalType="Reject")
    execution = finished(ssm, rejected)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert steps(execution)["go"]["StepStatus"] == "Pending"


# -- refusals --------------------------------------------------------------------------------------------------
def test_missing_or_disallowed_parameters_are_refused(ssm: Any) -> None:
    """StartAutomationExecution refuses parameters the runbook does not accept with
    InvalidAutomationExecutionParametersException
    (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_StartAutomationExecution.html)."""
    code, message = api_error(ssm.start_automation_execution, DocumentName="AWS-RestartEC2Instance")
    assert code == "InvalidAutomationExecutionParametersException"
    assert message == "Missing required parameter: InstanceId in user inputs."
    runbook(
        ssm,
        "Picky",
        {
            "schemaVersion": "0.3",
            "parameters": {"Action": {"type": "String", "allowedValues": ["Install", "Uninstall"]}},
            "mainSteps": [{"name": "wait", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}],
        },
    )
    code, message = api_error(ssm.start_automation_execution, DocumentName="Picky", Parameters={"Action": ["install"]})
    assert code == "InvalidAutomationExecutionParametersException"
    assert message == 'Parameter "Action" has value "install" not found in [Install, Uninstall].'
    code, _ = api_error(ssm.start_automation_execution, DocumentName="NoSuchRunbook")
    assert code == "AutomationDefinitionNotFoundException"
    code, _ = api_error(ssm.get_automation_execution, AutomationExecutionId="00000000-0000-0000-0000-000000000000")
    assert code == "AutomationExecutionNotFoundException"


def test_runbook_content_is_checked_when_it_is_created(ssm: Any) -> None:
    """CreateDocument refuses an Automation runbook whose steps refer to steps it does not have
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-branch.html: "the system
    validates each operation in the runbook")."""
    content = {
        "schemaVersion": "0.3",
        "mainSteps": [
            {
                "name": "choose",
                "action": "aws:branch",
                "inputs": {"Choices": [{"NextStep": "nowhere", "Variable": "x", "StringEquals": "x"}]},
            },
        ],
    }
    code, message = api_error(
        ssm.create_document,
        Name="BadRunbook",
        DocumentType="Automation",
        DocumentFormat="YAML",
        Content=yaml.safe_dump(content),
    )
    assert code == "InvalidDocumentContent" and "nowhere" in message


# -- the assume role ------------------------------------------------------------------------------------------
def test_assume_role_must_trust_ssm_and_allow_the_calls(sb: Sandbox, ssm: Any, iam: Any, ec2: Any) -> None:
    """AutomationAssumeRole: Automation assumes the role (it must trust ssm.amazonaws.com) and the role's
    permissions decide what the steps may do
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-setup.html,
    https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-working-executing.html)."""
    ec2_trust = json.loads(json.dumps(SSM_TRUST).replace("ssm.amazonaws.com", "ec2.amazonaws.com"))
    wrong_trust = role(iam, "TrustsEc2", ec2_trust, ["arn:aws:iam::aws:policy/service-role/AmazonSSMAutomationRole"])
    no_ec2 = role(iam, "AutomationNoEc2", SSM_TRUST, ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"])
    good = role(iam, "AutomationService", SSM_TRUST, ["arn:aws:iam::aws:policy/service-role/AmazonSSMAutomationRole"])
    [instance_id] = ls.launch_fleet(sb, 1)

    failed = finished(ssm, start(ssm, "AWS-StopEC2Instance", InstanceId=instance_id, AutomationAssumeRole=wrong_trust))
    assert failed["AutomationExecutionStatus"] == "Failed"
    assert failed["FailureMessage"].startswith("The defined assume role is unable to be assumed.")
    assert state(ec2, instance_id) == "running"

    denied = finished(ssm, start(ssm, "AWS-StopEC2Instance", InstanceId=instance_id, AutomationAssumeRole=no_ec2))
    assert denied["AutomationExecutionStatus"] == "Failed"
    assert "UnauthorizedOperation" in steps(denied)["stopInstances"]["FailureMessage"]
    assert "ec2:StopInstances" in steps(denied)["stopInstances"]["FailureMessage"]

    works = finished(ssm, start(ssm, "AWS-StopEC2Instance", InstanceId=instance_id, AutomationAssumeRole=good))
    assert works["AutomationExecutionStatus"] == "Success"
    assert state(ec2, instance_id) == "stopped"


# -- rate control and listing -------------------------------------------------------------------------------------
def test_rate_control_runs_one_child_automation_per_tagged_instance(sb: Sandbox, ssm: Any, ec2: Any) -> None:
    """TargetParameterName + Targets: one child automation per target, each with the target as the parameter
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/running-automations-scale.html)."""
    ids = ls.launch_fleet(sb, 3, tags={"Patch": "wave-1"})
    parent_id = ssm.start_automation_execution(
        DocumentName="AWS-StopEC2Instance",
        TargetParameterName="InstanceId",
        Targets=[{"Key": "tag:Patch", "Values": ["wave-1"]}],
        MaxConcurrency="1",
        MaxErrors="0",
    )["AutomationExecutionId"]
    parent = finished(ssm, parent_id)
    assert parent["AutomationExecutionStatus"] == "Success"
    assert sorted(parent["ResolvedTargets"]["ParameterValues"]) == sorted(ids)
    children = ssm.describe_automation_executions(Filters=[{"Key": "ParentExecutionId", "Values": [parent_id]}])[
        "AutomationExecutionMetadataList"
    ]
    assert sorted(c["Target"] for c in children) == sorted(ids)
    assert {c["AutomationExecutionStatus"] for c in children} == {"Success"}
    assert {state(ec2, i) for i in ids} == {"stopped"}


def test_describe_automation_executions_and_steps_filter(sb: Sandbox, ssm: Any) -> None:
    """DescribeAutomationExecutions filters (DocumentNamePrefix, ExecutionStatus) and
    DescribeAutomationStepExecutions (StepName, ReverseOrder)
    (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeAutomationExecutions.html)."""
    [instance_id] = ls.launch_fleet(sb, 1)
    execution_id = start(ssm, "AWS-RestartEC2Instance", InstanceId=instance_id)
    finished(ssm, execution_id)
    listed = ssm.describe_automation_executions(
        Filters=[
            {"Key": "DocumentNamePrefix", "Values": ["AWS-Restart"]},
            {"Key": "ExecutionStatus", "Values": ["Success"]},
        ]
    )["AutomationExecutionMetadataList"]
    assert execution_id in [e["AutomationExecutionId"] for e in listed]
    assert {e["DocumentName"] for e in listed} == {"AWS-RestartEC2Instance"}
    only = ssm.describe_automation_step_executions(
        AutomationExecutionId=execution_id, Filters=[{"Key": "StepName", "Values": ["startInstances"]}]
    )["StepExecutions"]
    assert [s["StepName"] for s in only] == ["startInstances"]
    reverse = ssm.describe_automation_step_executions(AutomationExecutionId=execution_id, ReverseOrder=True)
    assert [s["StepName"] for s in reverse["StepExecutions"]] == ["startInstances", "stopInstances"]


# -- EventBridge --------------------------------------------------------------------------------------------------
def events_role(iam: Any) -> str:
    try:
        return iam.get_role(RoleName="EventsStartAutomation")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        allow = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "ssm:StartAutomationExecution", "Resource": "*"}],
        }
        return role(iam, "EventsStartAutomation", EVENTS_TRUST, inline=allow)


def test_eventbridge_rule_starts_an_automation_with_parameters_from_the_event(
    sb: Sandbox, ssm: Any, ec2: Any, iam: Any
) -> None:
    """An EventBridge rule can target an Automation runbook (arn:aws:ssm:<region>:<account>:automation-definition/
    <name>:$DEFAULT, with a RoleArn); an InputTransformer maps the event into the runbook's parameters
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-cwe-target.html,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html). The EC2 state-change
    event is emitted by the sandbox in AWS's place."""
    events = sb.client("events")
    account = sb.account_id()
    events.put_rule(
        Name="restart-stopped-instances",
        EventPattern=json.dumps(
            {
                "source": ["aws.ec2"],
                "detail-type": ["EC2 Instance State-change Notification"],
                "detail": {"state": ["stopped"]},
            }
        ),
    )
    events.put_targets(
        Rule="restart-stopped-instances",
        Targets=[
            {
                "Id": "start-it",
                "Arn": f"arn:aws:ssm:{sb.region}:{account}:automation-definition/AWS-StartEC2Instance:$DEFAULT",
                "RoleArn": events_role(iam),
                "InputTransformer": {
                    "InputPathsMap": {"instance": "$.detail.instance-id"},
                    "InputTemplate": '{"InstanceId": [<instance>]}',
                },
            }
        ],
    )
    [instance_id] = ls.launch_fleet(sb, 1)
    ec2.stop_instances(InstanceIds=[instance_id])
    events_targets.emit_ec2_state_change(instance_id)

    [invocation] = events_targets.automation_invocations("restart-stopped-instances")
    assert invocation["Status"] == "Started", invocation
    execution = finished(ssm, invocation["AutomationExecutionId"])
    assert execution["DocumentName"] == "AWS-StartEC2Instance"
    assert execution["Parameters"]["InstanceId"] == [instance_id]
    assert execution["AutomationExecutionStatus"] == "Success"
    assert ":assumed-role/EventsStartAutomation/" in execution["ExecutedBy"]
    assert state(ec2, instance_id) == "running"

    events_targets.emit_ec2_state_change(instance_id)  # "running" does not match the pattern
    assert len(events_targets.automation_invocations("restart-stopped-instances")) == 1


def test_eventbridge_automation_target_needs_a_role_events_can_assume(sb: Sandbox, iam: Any) -> None:
    """EventBridge starts the automation with the target's role (RoleArn, trusted by events.amazonaws.com):
    without one the invocation fails and no automation starts
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html)."""
    events = sb.client("events")
    events.put_rule(Name="no-role", EventPattern=json.dumps({"source": ["course.orders"]}))
    events.put_targets(
        Rule="no-role",
        Targets=[
            {
                "Id": "t",
                "Arn": f"arn:aws:ssm:{sb.region}:{sb.account_id()}:automation-definition/AWS-StopEC2Instance",
                "Input": json.dumps({"InstanceId": ["i-0123456789abcdef0"]}),
            }
        ],
    )
    result = events.put_events(Entries=[{"Source": "course.orders", "DetailType": "Order", "Detail": "{}"}])
    assert result["FailedEntryCount"] == 0
    [invocation] = events_targets.automation_invocations("no-role")
    assert invocation["Status"] == "Failed" and "RoleArn" in invocation["Reason"]


def test_customers_cannot_put_events_with_an_aws_source(sb: Sandbox) -> None:
    """PutEvents refuses entries whose Source begins with "aws." (reserved for AWS services): the entry fails
    with NotAuthorizedForSourceException (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html)."""
    events = sb.client("events")
    result = events.put_events(
        Entries=[
            {"Source": "aws.ec2", "DetailType": "EC2 Instance State-change Notification", "Detail": "{}"},
            {"Source": "course.app", "DetailType": "Ping", "Detail": "{}"},
        ]
    )
    assert result["FailedEntryCount"] == 1
    assert result["Entries"][0]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert "EventId" in result["Entries"][1]


def test_automation_emits_its_status_change_events_to_eventbridge(sb: Sandbox, ssm: Any) -> None:
    """Automation sends "EC2 Automation Execution Status-change Notification" events (source aws.ssm) that a rule
    can route, here to SQS
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html)."""
    sqs, events = sb.client("sqs"), sb.client("events")
    queue_url = sqs.create_queue(QueueName="automation-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="automation-status",
        EventPattern=json.dumps(
            {"source": ["aws.ssm"], "detail-type": ["EC2 Automation Execution Status-change Notification"]}
        ),
    )
    events.put_targets(Rule="automation-status", Targets=[{"Id": "q", "Arn": queue_arn}])
    runbook(
        ssm,
        "QuickNap",
        {"schemaVersion": "0.3", "mainSteps": [{"name": "nap", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]},
    )
    execution_id = ssm.start_automation_execution(DocumentName="QuickNap")["AutomationExecutionId"]
    finished(ssm, execution_id)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    details = [json.loads(m["Body"])["detail"] for m in messages]
    assert {"ExecutionId": execution_id, "Definition": "QuickNap", "Status": "Success"}.items() <= next(
        d for d in details if d["ExecutionId"] == execution_id
    ).items()


def test_input_transformer_shapes_what_an_sqs_target_receives(sb: Sandbox) -> None:
    """InputTransformer: InputPathsMap picks values from the event, InputTemplate places them; a variable inside
    quotes becomes its text, outside quotes its JSON value
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html)."""
    sqs, events = sb.client("sqs"), sb.client("events")
    queue_url = sqs.create_queue(QueueName="transformed")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="orders-to-queue", EventPattern=json.dumps({"source": ["course.shop"]}))
    events.put_targets(
        Rule="orders-to-queue",
        Targets=[
            {
                "Id": "q",
                "Arn": queue_arn,
                "InputTransformer": {
                    "InputPathsMap": {"order": "$.detail.order", "items": "$.detail.items"},
                    "InputTemplate": '{"message": "order <order> placed", "order": <order>, "items": <items>}',
                },
            }
        ],
    )
    detail = {"order": "A-17", "items": [{"sku": "x", "n": 2}]}
    events.put_events(Entries=[{"Source": "course.shop", "DetailType": "Order", "Detail": json.dumps(detail)}])
    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(message["Body"]) == {"message": "order A-17 placed", "order": "A-17", "items": detail["items"]}


def test_maintenance_window_automation_task_runs_the_runbook_per_target(
    sb: Sandbox, ssm: Any, ec2: Any, profile: str
) -> None:
    """A maintenance window's AUTOMATION task runs the runbook once per target, {{RESOURCE_ID}} naming the
    target; the invocation's ExecutionId is the automation execution id
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/maintenance-window-tasks-pseudo-parameters.html,
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_MaintenanceWindowAutomationParameters.html)."""
    from labs_support.emulator.ssm.schedule import fast_forward

    ids = ls.launch_fleet(sb, 2, tags={"Window": "stop-at-night"}, instance_profile=profile)
    window_id = ssm.create_maintenance_window(
        Name="stop-at-night", Schedule="rate(1 hour)", Duration=2, Cutoff=1, AllowUnassociatedTargets=False
    )["WindowId"]
    target_id = ssm.register_target_with_maintenance_window(
        WindowId=window_id, ResourceType="INSTANCE", Targets=[{"Key": "tag:Window", "Values": ["stop-at-night"]}]
    )["WindowTargetId"]
    ssm.register_task_with_maintenance_window(
        WindowId=window_id,
        Targets=[{"Key": "WindowTargetIds", "Values": [target_id]}],
        TaskArn="AWS-StopEC2Instance",
        TaskType="AUTOMATION",
        MaxConcurrency="2",
        MaxErrors="0",
        TaskInvocationParameters={"Automation": {"Parameters": {"InstanceId": ["{{RESOURCE_ID}}"]}}},
    )
    fast_forward(3600 + 60)
    [execution] = ssm.describe_maintenance_window_executions(WindowId=window_id)["WindowExecutions"]
    assert execution["Status"] == "SUCCESS"
    [task] = ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=execution["WindowExecutionId"])[
        "WindowExecutionTaskIdentities"
    ]
    found = ssm.describe_maintenance_window_execution_task_invocations(
        WindowExecutionId=execution["WindowExecutionId"], TaskId=task["TaskExecutionId"]
    )["WindowExecutionTaskInvocationIdentities"]
    automations = [finished(ssm, i["ExecutionId"]) for i in found]
    assert {a["AutomationExecutionStatus"] for a in automations} == {"Success"}
    assert sorted(a["Parameters"]["InstanceId"][0] for a in automations) == sorted(ids)
    assert {state(ec2, i) for i in ids} == {"stopped"}
