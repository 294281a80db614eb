"""Maintenance windows as AWS runs them: on their schedule, within Duration and Cutoff, tasks by priority, rate
controls per task, and the executions, tasks and invocations they leave behind.

Each test proves one AWS behaviour and cites the documentation it rests on. Windows run on the sandbox clock: a
test moves it with schedule.fast_forward and every window that fell due meanwhile runs at the time it fell due.
Each test deletes its windows at the end, so later fast-forwards do not replay them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aws_errors import api_error

import labs_support
from labs_support.emulator import clock
from labs_support.emulator.ssm.schedule import fast_forward
from labs_support.sandbox import Sandbox

AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64"
PROFILE = "WindowsManagedNode"
HOUR = 3600
_names = itertools.count(1)


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """A fast lab clock and an instance profile that makes instances managed nodes."""
    sandbox = labs_support.start_sandbox()
    sandbox.lab_clock_speed = 60_000
    labs_support.ssm_instance_profile(sandbox, PROFILE)
    yield sandbox
    sandbox.stop()


@pytest.fixture
def ssm(sb: Sandbox) -> Iterator[Any]:
    """The SSM client; windows the test created are deleted afterwards."""
    client = sb.client("ssm")
    before = {w["WindowId"] for w in client.describe_maintenance_windows(MaxResults=100)["WindowIdentities"]}
    yield client
    for window in client.describe_maintenance_windows(MaxResults=100)["WindowIdentities"]:
        if window["WindowId"] not in before:
            client.delete_maintenance_window(WindowId=window["WindowId"])


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def launch(sb: Sandbox, count: int, tag: str, user_data: str = "") -> list[str]:
    """N managed Amazon Linux 2023 nodes tagged Fleet=<tag>."""
    image = sb.client("ssm").get_parameter(Name=AL2023)["Parameter"]["Value"]
    reservation = sb.client("ec2").run_instances(
        ImageId=image,
        MinCount=count,
        MaxCount=count,
        IamInstanceProfile={"Name": PROFILE},
        UserData=user_data,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Fleet", "Value": tag}]}],
    )
    return [i["InstanceId"] for i in reservation["Instances"]]


def window(ssm: Any, schedule: str = "rate(1 hour)", duration: int = 2, cutoff: int = 1, **extra: Any) -> str:
    return ssm.create_maintenance_window(
        Name=unique("fidelity-window"),
        Schedule=schedule,
        Duration=duration,
        Cutoff=cutoff,
        AllowUnassociatedTargets=False,
        **extra,
    )["WindowId"]


def target(ssm: Any, window_id: str, tag: str) -> str:
    return ssm.register_target_with_maintenance_window(
        WindowId=window_id,
        ResourceType="INSTANCE",
        Targets=[{"Key": "tag:Fleet", "Values": [tag]}],
        OwnerInformation=f"owner of {tag}",
    )["WindowTargetId"]


def shell_task(
    ssm: Any,
    window_id: str,
    target_id: str,
    commands: list[str],
    priority: int = 1,
    concurrency: str = "50%",
    errors: str = "0",
    **extra: Any,
) -> str:
    return ssm.register_task_with_maintenance_window(
        WindowId=window_id,
        Targets=[{"Key": "WindowTargetIds", "Values": [target_id]}],
        TaskArn="AWS-RunShellScript",
        TaskType="RUN_COMMAND",
        Priority=priority,
        MaxConcurrency=concurrency,
        MaxErrors=errors,
        TaskInvocationParameters={"RunCommand": {"Parameters": {"commands": commands, "executionTimeout": ["7200"]}}},
        ServiceRoleArn="arn:aws:iam::123456789012:role/MaintenanceWindowRole",
        **extra,
    )["WindowTaskId"]


def patch_task(ssm: Any, window_id: str, tag: str, operation: str, concurrency: str, errors: str) -> str:
    """An AWS-RunPatchBaseline task on the nodes tagged `tag`."""
    return ssm.register_task_with_maintenance_window(
        WindowId=window_id,
        Targets=[{"Key": "WindowTargetIds", "Values": [target(ssm, window_id, tag)]}],
        TaskArn="AWS-RunPatchBaseline",
        TaskType="RUN_COMMAND",
        MaxConcurrency=concurrency,
        MaxErrors=errors,
        TaskInvocationParameters={"RunCommand": {"Parameters": {"Operation": [operation]}}},
    )["WindowTaskId"]


def executions(ssm: Any, window_id: str) -> list[dict[str, Any]]:
    """The window's executions, oldest first."""
    found = ssm.describe_maintenance_window_executions(WindowId=window_id, MaxResults=100)["WindowExecutions"]
    return sorted(found, key=lambda e: e["StartTime"])


def tasks(ssm: Any, execution_id: str) -> list[dict[str, Any]]:
    found = ssm.describe_maintenance_window_execution_tasks(WindowExecutionId=execution_id)
    return sorted(found["WindowExecutionTaskIdentities"], key=lambda t: t["StartTime"])


def invocations(ssm: Any, execution_id: str, task_id: str) -> list[dict[str, Any]]:
    found = ssm.describe_maintenance_window_execution_task_invocations(
        WindowExecutionId=execution_id, TaskId=task_id, MaxResults=50
    )["WindowExecutionTaskInvocationIdentities"]
    return sorted(found, key=lambda i: i["StartTime"])


# -- schedules ----------------------------------------------------------------------------------------------------
def test_a_window_runs_when_its_schedule_falls_due_and_not_before(ssm: Any, sb: Sandbox) -> None:
    """A window runs its tasks on its schedule; each run is a window execution with task executions, and a
    RUN_COMMAND task has one invocation per target, whose ExecutionId is the Run Command command id. Pseudo
    parameters such as {{WINDOW_EXECUTION_ID}} are replaced ({{RESOURCE_ID}} can't be used in Run Command tasks).

    https://docs.aws.amazon.com/systems-manager/latest/userguide/maintenance-windows.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeMaintenanceWindowExecutionTaskInvocations.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/maintenance-window-tasks-pseudo-parameters.html
    """
    tag = unique("hourly")
    nodes = launch(sb, 3, tag)
    created = clock.now()
    window_id = window(ssm)
    target_id = target(ssm, window_id, tag)
    task_id = shell_task(ssm, window_id, target_id, ["echo {{WINDOW_TARGET_ID}} in {{WINDOW_EXECUTION_ID}}"])
    assert ssm.get_maintenance_window(WindowId=window_id)["Enabled"] is True
    fast_forward(HOUR / 2)
    assert executions(ssm, window_id) == []
    fast_forward(HOUR / 2 + 60)
    [execution] = executions(ssm, window_id)
    assert execution["Status"] == "SUCCESS"
    assert abs(execution["StartTime"] - (created + timedelta(hours=1))) < timedelta(seconds=5)
    got = ssm.get_maintenance_window_execution(WindowExecutionId=execution["WindowExecutionId"])
    [task] = tasks(ssm, execution["WindowExecutionId"])
    assert got["TaskIds"] == [task["TaskExecutionId"]]
    assert (task["Status"], task["TaskArn"], task["TaskType"]) == ("SUCCESS", "AWS-RunShellScript", "RUN_COMMAND")
    detail = ssm.get_maintenance_window_execution_task(
        WindowExecutionId=execution["WindowExecutionId"], TaskId=task["TaskExecutionId"]
    )
    assert detail["ServiceRole"] == "arn:aws:iam::123456789012:role/MaintenanceWindowRole"
    assert (detail["MaxConcurrency"], detail["MaxErrors"], detail["Priority"]) == ("50%", "0", 1)
    found = invocations(ssm, execution["WindowExecutionId"], task["TaskExecutionId"])
    assert len(found) == 3
    assert {i["WindowTargetId"] for i in found} == {target_id}
    assert {i["OwnerInformation"] for i in found} == {f"owner of {tag}"}
    for invocation in found:
        [instance_id] = json.loads(invocation["Parameters"])["instanceIds"]
        output = ssm.get_command_invocation(CommandId=invocation["ExecutionId"], InstanceId=instance_id)
        assert output["StandardOutputContent"] == f"{target_id} in {execution['WindowExecutionId']}\n"
    assert sorted(json.loads(i["Parameters"])["instanceIds"][0] for i in found) == sorted(nodes)
    one = ssm.get_maintenance_window_execution_task_invocation(
        WindowExecutionId=execution["WindowExecutionId"],
        TaskId=task["TaskExecutionId"],
        InvocationId=found[0]["InvocationId"],
    )
    assert one["ExecutionId"] == found[0]["ExecutionId"]
    assert ssm.get_maintenance_window_task(WindowId=window_id, WindowTaskId=task_id)["Priority"] == 1


def test_a_cron_window_runs_at_its_time_in_its_schedule_timezone(ssm: Any, sb: Sandbox) -> None:
    """Schedule cron(...) is read in ScheduleTimezone (IANA names); NextExecutionTime and
    DescribeMaintenanceWindowSchedule show the coming runs.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-cron-and-rate-expressions.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateMaintenanceWindow.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeMaintenanceWindowSchedule.html
    """
    tag = unique("nightly")
    launch(sb, 1, tag)
    window_id = window(ssm, "cron(0 2 ? * * *)", 3, 1, ScheduleTimezone="America/New_York")
    shell_task(ssm, window_id, target(ssm, window_id, tag), ["echo nightly"])
    new_york = ZoneInfo("America/New_York")
    local = clock.now().astimezone(new_york)
    expected = local.replace(hour=2, minute=0, second=0, microsecond=0)
    if expected <= local:
        expected = (local + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
    next_time = ssm.get_maintenance_window(WindowId=window_id)["NextExecutionTime"]
    assert datetime.fromisoformat(next_time) == expected
    runs = ssm.describe_maintenance_window_schedule(WindowId=window_id)["ScheduledWindowExecutions"]
    assert [datetime.fromisoformat(r["ExecutionTime"]).astimezone(new_york).hour for r in runs[:3]] == [2, 2, 2]
    fast_forward((expected.astimezone(UTC) - clock.now()).total_seconds() - 60)
    assert executions(ssm, window_id) == []
    fast_forward(120)
    [execution] = executions(ssm, window_id)
    assert execution["StartTime"] == expected.astimezone(UTC)


def test_a_one_time_at_window_runs_once(ssm: Any, sb: Sandbox) -> None:
    """at(yyyy-mm-ddThh:mm:ss) runs once.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-cron-and-rate-expressions.html
    """
    tag = unique("once")
    launch(sb, 1, tag)
    when = (clock.now() + timedelta(hours=2)).replace(microsecond=0)
    window_id = window(ssm, f"at({when:%Y-%m-%dT%H:%M:%S})")
    shell_task(ssm, window_id, target(ssm, window_id, tag), ["echo once"])
    fast_forward(3 * HOUR)
    [execution] = executions(ssm, window_id)
    assert execution["StartTime"] == when.astimezone(UTC)
    fast_forward(24 * HOUR)
    assert len(executions(ssm, window_id)) == 1
    assert "NextExecutionTime" not in ssm.get_maintenance_window(WindowId=window_id)


def test_a_disabled_window_does_not_run(ssm: Any, sb: Sandbox) -> None:
    """UpdateMaintenanceWindow Enabled=false stops a window from running until it is enabled again.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_UpdateMaintenanceWindow.html
    """
    tag = unique("disabled")
    launch(sb, 1, tag)
    window_id = window(ssm)
    shell_task(ssm, window_id, target(ssm, window_id, tag), ["echo run"])
    updated = ssm.update_maintenance_window(WindowId=window_id, Enabled=False)
    assert updated["Enabled"] is False
    fast_forward(3 * HOUR)
    assert executions(ssm, window_id) == []
    assert "NextExecutionTime" not in ssm.get_maintenance_window(WindowId=window_id)
    ssm.update_maintenance_window(WindowId=window_id, Enabled=True)
    fast_forward(HOUR + 60)
    assert len(executions(ssm, window_id)) == 1


def test_a_window_refuses_a_cutoff_not_shorter_than_its_duration_and_tasks_without_rate_controls(ssm: Any) -> None:
    """Duration is 1-24 hours and Cutoff 0-23, and tasks stop being scheduled Cutoff hours before the end; a task
    with targets needs MaxConcurrency and MaxErrors ("a value can be omitted only when you are registering or
    updating a targetless task").

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateMaintenanceWindow.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_RegisterTaskWithMaintenanceWindow.html
    """
    kwargs = {"Name": unique("bad"), "Schedule": "rate(1 hour)", "AllowUnassociatedTargets": False}
    assert api_error(ssm.create_maintenance_window, Duration=2, Cutoff=2, **kwargs)[0] == "ValidationException"
    assert api_error(ssm.create_maintenance_window, Duration=25, Cutoff=0, **kwargs)[0] == "ValidationException"
    bad = {**kwargs, "Schedule": "every hour"}
    assert api_error(ssm.create_maintenance_window, Duration=2, Cutoff=0, **bad)[0] == "ValidationException"
    window_id = window(ssm)
    code, _ = api_error(
        ssm.register_task_with_maintenance_window,
        WindowId=window_id,
        Targets=[{"Key": "InstanceIds", "Values": ["i-0123456789abcdef0"]}],
        TaskArn="AWS-RunShellScript",
        TaskType="RUN_COMMAND",
    )
    assert code == "ValidationException"


# -- inside an execution ------------------------------------------------------------------------------------------
def test_tasks_run_in_priority_order_and_tasks_of_equal_priority_start_together(ssm: Any, sb: Sandbox) -> None:
    """Tasks are scheduled in priority order, 0 highest; tasks with the same priority are scheduled in parallel.
    (Here a lower priority waits for the higher one to finish; AWS does not say.)

    https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-maintenance-assign-tasks.html
    """
    tag = unique("priority")
    launch(sb, 1, tag)
    window_id = window(ssm)
    target_id = target(ssm, window_id, tag)
    shell_task(ssm, window_id, target_id, ["sleep 300", "echo later"], priority=5)
    shell_task(ssm, window_id, target_id, ["sleep 600", "echo first"], priority=0)
    shell_task(ssm, window_id, target_id, ["sleep 60", "echo also first"], priority=0)
    fast_forward(HOUR + 60)
    [execution] = executions(ssm, window_id)
    found = tasks(ssm, execution["WindowExecutionId"])
    detail = {
        t["TaskExecutionId"]: ssm.get_maintenance_window_execution_task(
            WindowExecutionId=execution["WindowExecutionId"], TaskId=t["TaskExecutionId"]
        )
        for t in found
    }
    first = [t for t in found if detail[t["TaskExecutionId"]]["Priority"] == 0]
    [later] = [t for t in found if detail[t["TaskExecutionId"]]["Priority"] == 5]
    assert first[0]["StartTime"] == first[1]["StartTime"] == execution["StartTime"]
    assert later["StartTime"] == max(t["EndTime"] for t in first)
    assert execution["EndTime"] == later["EndTime"]


def test_a_task_stops_once_more_invocations_fail_than_max_errors_allows(ssm: Any, sb: Sandbox) -> None:
    """MaxConcurrency 10% of 10 targets is 1 at a time; MaxErrors 1 allows one error, so the task stops when the
    second invocation fails: 2 invocations, both FAILED, 8 targets never started; the task and the execution are
    FAILED. Simulated failure: a node with /etc/yum.repos.d/broken.repo cannot patch.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/send-commands-velocity.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_MaintenanceWindowTask.html
    """
    tag = unique("broken")
    launch(sb, 10, tag, user_data="#!/bin/bash\necho '[broken]' > /etc/yum.repos.d/broken.repo\n")
    window_id = window(ssm)
    patch_task(ssm, window_id, tag, "Install", concurrency="10%", errors="1")
    fast_forward(HOUR + 60)
    [execution] = executions(ssm, window_id)
    assert (execution["Status"], execution["StatusDetails"]) == (
        "FAILED",
        "One or more tasks in the orchestration failed.",
    )
    [task] = tasks(ssm, execution["WindowExecutionId"])
    assert task["Status"] == "FAILED"
    found = invocations(ssm, execution["WindowExecutionId"], task["TaskExecutionId"])
    assert [i["Status"] for i in found] == ["FAILED", "FAILED"]
    assert found[1]["StartTime"] >= found[0]["EndTime"]  # one at a time
    failed = ssm.describe_maintenance_window_execution_task_invocations(
        WindowExecutionId=execution["WindowExecutionId"],
        TaskId=task["TaskExecutionId"],
        Filters=[{"Key": "STATUS", "Values": ["SUCCESS"]}],
    )["WindowExecutionTaskInvocationIdentities"]
    assert failed == []
    command = ssm.list_commands(CommandId=found[0]["ExecutionId"])["Commands"][0]
    assert command["DocumentName"] == "AWS-RunPatchBaseline" and command["Status"] == "Failed"


def test_no_task_starts_after_the_windows_end_minus_its_cutoff(ssm: Any, sb: Sandbox) -> None:
    """ "No maintenance window tasks are permitted to start after the resulting endtime minus the number of hours
    you specify for Cutoff": a 2-hour window with a 1-hour cutoff starts nothing after its first hour.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_UpdateMaintenanceWindow.html
    """
    tag = unique("cutoff")
    launch(sb, 1, tag)
    window_id = window(ssm, duration=2, cutoff=1)
    target_id = target(ssm, window_id, tag)
    shell_task(ssm, window_id, target_id, ["sleep 4000"], priority=1)  # 66 lab minutes
    shell_task(ssm, window_id, target_id, ["echo too late"], priority=2, Name="too-late")
    fast_forward(HOUR + 60)
    [execution] = executions(ssm, window_id)
    [task] = tasks(ssm, execution["WindowExecutionId"])  # the second task never started
    assert task["Status"] == "SUCCESS"
    assert execution["Status"] == "TIMED_OUT" and "too-late" in execution["StatusDetails"]


def test_cancel_task_cutoff_behavior_starts_no_new_invocation_after_the_cutoff(ssm: Any, sb: Sandbox) -> None:
    """CutoffBehavior CANCEL_TASK: once the cutoff is reached no new invocations start and the task ends TIMED_OUT;
    CONTINUE_TASK (the default) lets the task go on.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_MaintenanceWindowTask.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-maintenance-assign-tasks.html
    """
    tag = unique("cancel")
    launch(sb, 3, tag)
    runs = {}
    for behavior in ("CANCEL_TASK", "CONTINUE_TASK"):
        window_id = window(ssm, duration=2, cutoff=1)
        target_id = target(ssm, window_id, tag)
        shell_task(ssm, window_id, target_id, ["sleep 2400"], concurrency="1", CutoffBehavior=behavior)
        runs[behavior] = window_id
    fast_forward(HOUR + 60)
    for behavior, status, count in (("CANCEL_TASK", "TIMED_OUT", 2), ("CONTINUE_TASK", "SUCCESS", 3)):
        [execution] = executions(ssm, runs[behavior])
        [task] = tasks(ssm, execution["WindowExecutionId"])
        found = invocations(ssm, execution["WindowExecutionId"], task["TaskExecutionId"])
        # 40-minute invocations one at a time: they start at 0, 40 and 80 minutes; the cutoff is at 60
        assert (execution["Status"], task["Status"], len(found)) == (status, status, count)


def test_an_execution_that_falls_due_while_the_previous_one_runs_is_skipped_overlapping(ssm: Any, sb: Sandbox) -> None:
    """A window execution due while the previous one is still running is SKIPPED_OVERLAPPING.

    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_MaintenanceWindowExecution.html
    """
    tag = unique("overlap")
    launch(sb, 1, tag)
    window_id = window(ssm, duration=3, cutoff=0)
    shell_task(ssm, window_id, target(ssm, window_id, tag), ["sleep 4000"])
    fast_forward(3 * HOUR + 60)
    assert [e["Status"] for e in executions(ssm, window_id)] == ["SUCCESS", "SKIPPED_OVERLAPPING", "SUCCESS"]


def test_patching_in_a_window_uses_the_window_execution_as_snapshot_id(ssm: Any, sb: Sandbox) -> None:
    """Run AWS-RunPatchBaseline in a maintenance window without a Snapshot ID: Systems Manager supplies one based on
    the maintenance window execution ID.

    https://docs.aws.amazon.com/systems-manager/latest/userguide/patch-manager-aws-runpatchbaseline.html
    """
    tag = unique("patch-window")
    [node] = launch(sb, 1, tag)
    window_id = window(ssm)
    patch_task(ssm, window_id, tag, "Scan", concurrency="1", errors="0")
    fast_forward(HOUR + 60)
    [execution] = executions(ssm, window_id)
    assert execution["Status"] == "SUCCESS"
    state = ssm.describe_instance_patch_states(InstanceIds=[node])["InstancePatchStates"][0]
    assert state["SnapshotId"] == execution["WindowExecutionId"]
    assert state["OperationStartTime"] >= execution["StartTime"]


def test_registered_tasks_are_described_with_their_type(ssm: Any) -> None:
    """DescribeMaintenanceWindowTasks names the task type "Type"; GetMaintenanceWindowTask names it "TaskType"
    (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_MaintenanceWindowTask.html)."""
    window_id = window(ssm, schedule="rate(7 days)")
    try:
        target_id = target(ssm, window_id, "describe-type")
        task_id = shell_task(ssm, window_id, target_id, ["true"])
        [described] = ssm.describe_maintenance_window_tasks(WindowId=window_id)["Tasks"]
        assert described["Type"] == "RUN_COMMAND"
        got = ssm.get_maintenance_window_task(WindowId=window_id, WindowTaskId=task_id)
        assert got["TaskType"] == "RUN_COMMAND"
    finally:
        ssm.delete_maintenance_window(WindowId=window_id)


def test_a_start_date_that_is_not_a_date_is_refused(ssm: Any) -> None:
    """A malformed StartDate is a validation error, and no window is created."""
    before = len(ssm.describe_maintenance_windows()["WindowIdentities"])
    code, _ = api_error(
        ssm.create_maintenance_window,
        Name="bad-date",
        Schedule="rate(1 day)",
        Duration=2,
        Cutoff=1,
        AllowUnassociatedTargets=False,
        StartDate="next tuesday",
    )
    assert code == "ValidationException"
    assert len(ssm.describe_maintenance_windows()["WindowIdentities"]) == before
