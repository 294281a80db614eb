"""Fidelity tests for StackSets: each test is named after the AWS behaviour it proves.

AWS pages:
- StackSetOperationPreferences: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackSetOperationPreferences.html
- StackSet operation options: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-concepts.html
- Stack instance status: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html
- Self-managed permissions: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-prereqs-self-managed.html
- Account gating: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-account-gating.html
- Deleting: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStackSet.html
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

import labs_support
from labs_support import wait_for_stack_set_operation
from labs_support.sandbox import Sandbox

TEMPLATE = json.dumps(
    {
        "Parameters": {"Level": {"Type": "String", "Default": "standard"}},
        "Resources": {
            "Setting": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/baseline/level", "Type": "String", "Value": {"Ref": "Level"}},
            }
        },
    }
)
MEMBERS = ("dev", "test", "prod", "audit", "log-archive")


@contextmanager
def api_error(code: str, fragment: str) -> Iterator[None]:
    """The block must fail with this AWS error code and a message containing `fragment`."""
    with pytest.raises(ClientError) as info:
        yield
    assert info.value.response["Error"]["Code"] == code
    assert fragment in info.value.response["Error"]["Message"]


def lambda_zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def trust(principal: dict[str, Any]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
    )


def self_managed_roles(sb: Sandbox, accounts: tuple[str, ...] = MEMBERS) -> None:
    admin = sb.accounts["management"]
    sb.client("iam").create_role(
        RoleName="AWSCloudFormationStackSetAdministrationRole",
        AssumeRolePolicyDocument=trust({"Service": "cloudformation.amazonaws.com"}),
    )
    for name in accounts:
        sb.client("iam", account=name).create_role(
            RoleName="AWSCloudFormationStackSetExecutionRole",
            AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{admin}:root"}),
        )


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = labs_support.start_sandbox()
    sandbox.lab_clock_speed = 60_000  # waves of 30 lab seconds take 0.5 ms here
    self_managed_roles(sandbox)
    yield sandbox
    sandbox.stop()


_counter = iter(range(1000))


def new_set(cfn: Any, **extra: Any) -> str:
    name = f"baseline-{next(_counter)}"
    cfn.create_stack_set(StackSetName=name, TemplateBody=TEMPLATE, **extra)
    return name


def ids(sb: Sandbox, *names: str) -> list[str]:
    return [sb.accounts[n] for n in names]


def run(cfn: Any, name: str, call: str, **kwargs: Any) -> dict[str, Any]:
    operation_id = getattr(cfn, call)(StackSetName=name, **kwargs)["OperationId"]
    return wait_for_stack_set_operation(cfn, name, operation_id, call_as=kwargs.get("CallAs"))


def results(cfn: Any, name: str, operation_id: str) -> dict[tuple[str, str], str]:
    rows = cfn.list_stack_set_operation_results(StackSetName=name, OperationId=operation_id)["Summaries"]
    return {(r["Account"], r["Region"]): r["Status"] for r in rows}


def clash(sb: Sandbox, account: str, region: str = "us-east-1") -> None:
    """A parameter of the same name already in the account: the instance's stack fails there."""
    sb.client("ssm", account=account, region=region).put_parameter(Name="/baseline/level", Value="x", Type="String")


def unclash(sb: Sandbox, account: str, region: str = "us-east-1") -> None:
    sb.client("ssm", account=account, region=region).delete_parameter(Name="/baseline/level")


def level(sb: Sandbox, account: str, region: str = "us-east-1") -> str:
    ssm = sb.client("ssm", account=account, region=region)
    return ssm.get_parameter(Name="/baseline/level")["Parameter"]["Value"]


def delete_everything(cfn: Any, name: str) -> None:
    instances = cfn.list_stack_instances(StackSetName=name)["Summaries"]
    if instances:
        run(
            cfn,
            name,
            "delete_stack_instances",
            Accounts=sorted({i["Account"] for i in instances}),
            Regions=sorted({i["Region"] for i in instances}),
            RetainStacks=False,
            OperationPreferences={"MaxConcurrentPercentage": 100, "FailureTolerancePercentage": 100},
        )


# -- instances are real stacks --------------------------------------------------------------------------------
def test_stack_instances_are_real_stacks_in_each_target_account_and_region(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    op = run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev", "test"), Regions=["us-east-1", "eu-west-1"])
    assert op["Status"] == "SUCCEEDED"
    for account in ("dev", "test"):
        for region in ("us-east-1", "eu-west-1"):
            assert level(sb, account, region) == "standard"
            stacks = sb.client("cloudformation", account=account, region=region).describe_stacks()["Stacks"]
            ours = [s for s in stacks if s["StackName"].startswith(f"StackSet-{name}-")]
            assert len(ours) == 1 and ours[0]["StackStatus"] == "CREATE_COMPLETE"
    delete_everything(cfn, name)


def test_stack_instance_stack_ids_are_stable_and_statuses_current(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev"), Regions=["us-east-1"])
    first = cfn.list_stack_instances(StackSetName=name)["Summaries"]
    second = cfn.list_stack_instances(StackSetName=name)["Summaries"]
    assert [i["StackId"] for i in first] == [i["StackId"] for i in second]
    assert first[0]["Status"] == "CURRENT" and first[0]["StackInstanceStatus"] == {"DetailedStatus": "SUCCEEDED"}
    described = cfn.describe_stack_instance(
        StackSetName=name, StackInstanceAccount=sb.accounts["dev"], StackInstanceRegion="us-east-1"
    )["StackInstance"]
    assert described["StackId"] == first[0]["StackId"] and described["ParameterOverrides"] == []
    delete_everything(cfn, name)


def test_an_operation_answers_at_once_and_runs_while_the_learner_watches(sb: Sandbox, cfn: Any) -> None:
    sb.lab_clock_speed = 600
    try:
        name = new_set(cfn)
        operation_id = cfn.create_stack_instances(
            StackSetName=name, Accounts=ids(sb, "dev", "test", "prod"), Regions=["us-east-1"]
        )["OperationId"]
        seen = cfn.describe_stack_set_operation(StackSetName=name, OperationId=operation_id)["StackSetOperation"]
        assert seen["Status"] == "RUNNING" and seen["Action"] == "CREATE"
        done = wait_for_stack_set_operation(cfn, name, operation_id)
        assert done["Status"] == "SUCCEEDED" and done["EndTimestamp"] > done["CreationTimestamp"]
        # three waves of one account: the lab clock shows them 30 s apart
        assert (done["EndTimestamp"] - done["CreationTimestamp"]).total_seconds() >= 90
    finally:
        sb.lab_clock_speed = 60_000
    delete_everything(cfn, name)


# -- where an operation stops ----------------------------------------------------------------------------------
STOPPING_POINTS = [
    # preferences, failing accounts (us-east-1), expected us-east-1 statuses by account, eu-west-1 statuses
    pytest.param(
        {"MaxConcurrentCount": 1, "FailureToleranceCount": 0},
        ["test"],
        ["SUCCEEDED", "FAILED", "CANCELLED", "CANCELLED", "CANCELLED"],
        "CANCELLED",
        id="defaults: the first failure stops the Region and the later Regions never start",
    ),
    pytest.param(
        {"MaxConcurrentCount": 2, "FailureToleranceCount": 1},
        ["test", "audit"],
        ["SUCCEEDED", "FAILED", "SUCCEEDED", "FAILED", "CANCELLED"],
        "CANCELLED",
        id="strict: concurrency drops by the failures so far; the second failure exceeds a tolerance of 1",
    ),
    pytest.param(
        {"MaxConcurrentCount": 3, "FailureToleranceCount": 0, "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"},
        ["test"],
        ["SUCCEEDED", "FAILED", "SUCCEEDED", "CANCELLED", "CANCELLED"],
        "CANCELLED",
        id="soft: the whole first wave of 3 runs even though tolerance is 0",
    ),
    pytest.param(
        {"MaxConcurrentCount": 3, "FailureToleranceCount": 0},
        ["test"],
        ["SUCCEEDED", "FAILED", "CANCELLED", "CANCELLED", "CANCELLED"],
        "CANCELLED",
        id="strict: MaxConcurrentCount 3 with tolerance 0 runs one account at a time",
    ),
    pytest.param(
        {"MaxConcurrentPercentage": 10, "FailureTolerancePercentage": 39},
        ["dev", "prod"],
        ["FAILED", "SUCCEEDED", "FAILED", "CANCELLED", "CANCELLED"],
        "CANCELLED",
        id="percentages round down: 39% of 5 tolerates 1, 10% of 5 still runs 1 at a time",
    ),
    pytest.param(
        {"MaxConcurrentCount": 1, "FailureToleranceCount": 1},
        ["prod"],
        ["SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"],
        "SUCCEEDED",
        id="within tolerance: the Region finishes and the next Region runs",
    ),
]


@pytest.mark.parametrize(("preferences", "failing", "east", "west"), STOPPING_POINTS)
def test_failure_tolerance_stops_the_operation_at_the_documented_point(
    sb: Sandbox, cfn: Any, preferences: dict[str, Any], failing: list[str], east: list[str], west: str
) -> None:
    for account in failing:
        clash(sb, account)
    try:
        name = new_set(cfn)
        op = run(
            cfn,
            name,
            "create_stack_instances",
            Accounts=ids(sb, *MEMBERS),
            Regions=["eu-west-1", "us-east-1"],
            OperationPreferences={"RegionOrder": ["us-east-1", "eu-west-1"], **preferences},
        )
        got = results(cfn, name, op["OperationId"])
        assert [got[(a, "us-east-1")] for a in ids(sb, *MEMBERS)] == east
        assert {got[(a, "eu-west-1")] for a in ids(sb, *MEMBERS)} == {west}
        assert op["Status"] == ("SUCCEEDED" if west == "SUCCEEDED" else "FAILED")
        if op["Status"] == "FAILED":
            assert op["StatusDetails"] == {"FailedStackInstancesCount": east.count("FAILED")}
    finally:
        for account in failing:
            unclash(sb, account)
    delete_everything(cfn, name)


def test_cancelled_instances_are_outdated_with_the_tolerance_reason(sb: Sandbox, cfn: Any) -> None:
    clash(sb, "dev")
    try:
        name = new_set(cfn)
        op = run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev", "test"), Regions=["us-east-1"])
    finally:
        unclash(sb, "dev")
    rows = {r["Account"]: r for r in cfn.list_stack_instances(StackSetName=name)["Summaries"]}
    failed, cancelled = rows[sb.accounts["dev"]], rows[sb.accounts["test"]]
    assert failed["Status"] == "OUTDATED" and failed["StackInstanceStatus"]["DetailedStatus"] == "FAILED"
    assert "already exists" in failed["StatusReason"] or "Validation failed" in failed["StatusReason"]
    assert cancelled["Status"] == "OUTDATED" and cancelled["StackInstanceStatus"]["DetailedStatus"] == "CANCELLED"
    summary = cfn.list_stack_set_operation_results(StackSetName=name, OperationId=op["OperationId"])["Summaries"]
    assert {r["StatusReason"] for r in summary if r["Status"] == "CANCELLED"} == {
        "Cancelled since failure tolerance has exceeded"
    }
    # fixed, the same instances are retried by the next operation
    op = run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev", "test"), Regions=["us-east-1"])
    assert op["Status"] == "SUCCEEDED"
    assert {i["Status"] for i in cfn.list_stack_instances(StackSetName=name)["Summaries"]} == {"CURRENT"}
    delete_everything(cfn, name)


def test_region_order_decides_which_region_runs_first(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    run(
        cfn,
        name,
        "create_stack_instances",
        Accounts=ids(sb, "dev"),
        Regions=["us-east-1", "eu-west-1"],
        OperationPreferences={"RegionOrder": ["eu-west-1", "us-east-1"]},
    )
    created = {}
    for region in ("us-east-1", "eu-west-1"):
        stacks = sb.client("cloudformation", account="dev", region=region).describe_stacks()["Stacks"]
        created[region] = next(s["CreationTime"] for s in stacks if s["StackName"].startswith(f"StackSet-{name}-"))
    assert created["eu-west-1"] < created["us-east-1"]
    delete_everything(cfn, name)


def test_parallel_regions_run_at_the_same_time(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    op = run(
        cfn,
        name,
        "create_stack_instances",
        Accounts=ids(sb, "dev", "test"),
        Regions=["us-east-1", "eu-west-1"],
        OperationPreferences={"RegionConcurrencyType": "PARALLEL", "MaxConcurrentCount": 1},
    )
    # two waves of one account in each Region at once: 2 x 30 lab seconds, not 4 x 30
    assert (op["EndTimestamp"] - op["CreationTimestamp"]).total_seconds() < 90
    assert op["OperationPreferences"]["RegionConcurrencyType"] == "PARALLEL"
    delete_everything(cfn, name)


def test_count_and_percentage_together_are_refused(cfn: Any, sb: Sandbox) -> None:
    name = new_set(cfn)
    with api_error("ValidationError", "either MaxConcurrentCount or MaxConcurrentPercentage"):
        cfn.create_stack_instances(
            StackSetName=name,
            Accounts=ids(sb, "dev"),
            Regions=["us-east-1"],
            OperationPreferences={"MaxConcurrentCount": 1, "MaxConcurrentPercentage": 10},
        )


# -- failure injection and permissions ---------------------------------------------------------------------------
GATE = """
import json
def handler(event, context):
    return {"Status": "FAILED", "StatusReason": "Open alarms in this account"}
"""


def test_an_account_gate_that_fails_counts_toward_failure_tolerance(sb: Sandbox, cfn: Any) -> None:
    lam = sb.client("lambda", account="test")
    role = sb.client("iam", account="test").create_role(
        RoleName="gate-role", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"})
    )["Role"]["Arn"]
    lam.create_function(
        FunctionName="AWSCloudFormationStackSetAccountGate",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": lambda_zip(GATE)},
    )
    try:
        name = new_set(cfn)
        op = run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev", "test", "prod"), Regions=["us-east-1"])
        rows = {
            r["Account"]: r
            for r in cfn.list_stack_set_operation_results(StackSetName=name, OperationId=op["OperationId"])["Summaries"]
        }
        gated = rows[sb.accounts["test"]]
        assert gated["Status"] == "FAILED"
        assert gated["AccountGateResult"] == {"Status": "FAILED", "StatusReason": "Open alarms in this account"}
        assert rows[sb.accounts["dev"]]["AccountGateResult"]["Status"] == "SKIPPED"
        assert rows[sb.accounts["prod"]]["Status"] == "CANCELLED"
    finally:
        lam.delete_function(FunctionName="AWSCloudFormationStackSetAccountGate")
    delete_everything(cfn, name)


def test_self_managed_needs_the_execution_role_in_each_target_account(sb: Sandbox, cfn: Any) -> None:
    iam = sb.client("iam", account="audit")
    iam.delete_role(RoleName="AWSCloudFormationStackSetExecutionRole")
    try:
        name = new_set(cfn)
        op = run(cfn, name, "create_stack_instances", Accounts=ids(sb, "audit"), Regions=["us-east-1"])
        (row,) = cfn.list_stack_set_operation_results(StackSetName=name, OperationId=op["OperationId"])["Summaries"]
        assert row["StatusReason"] == (
            f"Account {sb.accounts['audit']} should have 'AWSCloudFormationStackSetExecutionRole' role with trust "
            "relationship to Role 'AWSCloudFormationStackSetAdministrationRole'."
        )
    finally:
        iam.create_role(
            RoleName="AWSCloudFormationStackSetExecutionRole",
            AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{sb.accounts['management']}:root"}),
        )
    delete_everything(cfn, name)


def test_self_managed_needs_the_administration_role_trusting_cloudformation(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn, AdministrationRoleARN=f"arn:aws:iam::{sb.accounts['management']}:role/NoSuchRole")
    op = run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev"), Regions=["us-east-1"])
    (row,) = cfn.list_stack_set_operation_results(StackSetName=name, OperationId=op["OperationId"])["Summaries"]
    assert op["Status"] == "FAILED"
    assert row["StatusReason"] == (
        f"Account {sb.accounts['management']} should have 'NoSuchRole' role with trust relationship to "
        "CloudFormation service."
    )


# -- updates and deletion ----------------------------------------------------------------------------------------
def test_update_stack_set_changes_the_deployed_resources(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev", "test"), Regions=["us-east-1"])
    op = run(
        cfn,
        name,
        "update_stack_set",
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Level", "ParameterValue": "strict"}],
    )
    assert op["Action"] == "UPDATE" and op["Status"] == "SUCCEEDED"
    assert level(sb, "dev") == level(sb, "test") == "strict"
    described = cfn.describe_stack_set(StackSetName=name)["StackSet"]
    assert described["Parameters"] == [{"ParameterKey": "Level", "ParameterValue": "strict"}]
    delete_everything(cfn, name)


def test_parameter_overrides_change_only_the_chosen_instances(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev", "prod"), Regions=["us-east-1"])
    run(
        cfn,
        name,
        "update_stack_instances",
        Accounts=ids(sb, "prod"),
        Regions=["us-east-1"],
        ParameterOverrides=[{"ParameterKey": "Level", "ParameterValue": "locked-down"}],
    )
    assert level(sb, "prod") == "locked-down" and level(sb, "dev") == "standard"
    prod = cfn.describe_stack_instance(
        StackSetName=name, StackInstanceAccount=sb.accounts["prod"], StackInstanceRegion="us-east-1"
    )["StackInstance"]
    assert prod["ParameterOverrides"] == [{"ParameterKey": "Level", "ParameterValue": "locked-down"}]
    # a later stack set update keeps the override
    run(
        cfn,
        name,
        "update_stack_set",
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Level", "ParameterValue": "v2"}],
    )
    assert level(sb, "prod") == "locked-down" and level(sb, "dev") == "v2"
    with api_error("ValidationError", "Nope"):
        cfn.update_stack_instances(
            StackSetName=name,
            Accounts=ids(sb, "prod"),
            Regions=["us-east-1"],
            ParameterOverrides=[{"ParameterKey": "Nope", "ParameterValue": "x"}],
        )
    delete_everything(cfn, name)


def test_delete_stack_instances_with_retain_stacks_keeps_the_stack(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev", "test"), Regions=["us-east-1"])
    run(cfn, name, "delete_stack_instances", Accounts=ids(sb, "dev"), Regions=["us-east-1"], RetainStacks=True)
    run(cfn, name, "delete_stack_instances", Accounts=ids(sb, "test"), Regions=["us-east-1"], RetainStacks=False)
    assert cfn.list_stack_instances(StackSetName=name)["Summaries"] == []
    kept = sb.client("cloudformation", account="dev").describe_stacks()["Stacks"]
    assert any(s["StackName"].startswith(f"StackSet-{name}-") for s in kept)
    gone = sb.client("cloudformation", account="test").describe_stacks()["Stacks"]
    assert not any(s["StackName"].startswith(f"StackSet-{name}-") for s in gone)
    assert level(sb, "dev") == "standard"
    with pytest.raises(Exception, match="ParameterNotFound"):
        level(sb, "test")
    sb.client("cloudformation", account="dev").delete_stack(
        StackName=next(s["StackId"] for s in kept if s["StackName"].startswith(f"StackSet-{name}-"))
    )


def test_a_stack_set_with_instances_cannot_be_deleted(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev"), Regions=["us-east-1"])
    with api_error("StackSetNotEmptyException", "StackSet is not empty"):
        cfn.delete_stack_set(StackSetName=name)
    delete_everything(cfn, name)
    cfn.delete_stack_set(StackSetName=name)
    with api_error("StackSetNotFoundException", name):
        cfn.describe_stack_set(StackSetName=name)
    assert name not in [s["StackSetName"] for s in cfn.list_stack_sets(Status="ACTIVE")["Summaries"]]


def test_a_second_operation_is_refused_while_one_runs(sb: Sandbox, cfn: Any) -> None:
    sb.lab_clock_speed = 600
    try:
        name = new_set(cfn)
        first = cfn.create_stack_instances(StackSetName=name, Accounts=ids(sb, "dev", "test"), Regions=["us-east-1"])
        with api_error("OperationInProgressException", "is in progress"):
            cfn.create_stack_instances(StackSetName=name, Accounts=ids(sb, "prod"), Regions=["us-east-1"])
        wait_for_stack_set_operation(cfn, name, first["OperationId"])
    finally:
        sb.lab_clock_speed = 60_000
    delete_everything(cfn, name)


def test_managed_execution_queues_operations_instead_of_refusing(sb: Sandbox, cfn: Any) -> None:
    sb.lab_clock_speed = 600
    try:
        name = new_set(cfn, ManagedExecution={"Active": True})
        first = cfn.create_stack_instances(StackSetName=name, Accounts=ids(sb, "dev"), Regions=["us-east-1"])
        second = cfn.create_stack_instances(StackSetName=name, Accounts=ids(sb, "test"), Regions=["us-east-1"])
        queued = cfn.describe_stack_set_operation(StackSetName=name, OperationId=second["OperationId"])
        assert queued["StackSetOperation"]["Status"] == "QUEUED"
        for op in (first, second):
            assert wait_for_stack_set_operation(cfn, name, op["OperationId"])["Status"] == "SUCCEEDED"
    finally:
        sb.lab_clock_speed = 60_000
    delete_everything(cfn, name)


def test_stopping_an_operation_cancels_what_has_not_started(sb: Sandbox, cfn: Any) -> None:
    sb.lab_clock_speed = 600
    try:
        name = new_set(cfn)
        started = cfn.create_stack_instances(
            StackSetName=name, Accounts=ids(sb, "dev", "test", "prod"), Regions=["us-east-1"]
        )
        cfn.stop_stack_set_operation(StackSetName=name, OperationId=started["OperationId"])
        stopping = cfn.describe_stack_set_operation(StackSetName=name, OperationId=started["OperationId"])
        assert stopping["StackSetOperation"]["Status"] == "STOPPING"
        op = wait_for_stack_set_operation(cfn, name, started["OperationId"])
    finally:
        sb.lab_clock_speed = 60_000
    assert op["Status"] == "STOPPED"
    statuses = list(results(cfn, name, op["OperationId"]).values())
    assert statuses[0] == "SUCCEEDED" and statuses[1:] == ["CANCELLED", "CANCELLED"]
    delete_everything(cfn, name)


def test_operations_are_listed_newest_first(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    created = run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev"), Regions=["us-east-1"])
    updated = run(cfn, name, "update_stack_set", UsePreviousTemplate=True)
    listed = cfn.list_stack_set_operations(StackSetName=name)["Summaries"]
    assert [o["OperationId"] for o in listed] == [updated["OperationId"], created["OperationId"]]
    assert [o["Action"] for o in listed] == ["UPDATE", "CREATE"]
    delete_everything(cfn, name)


# -- drift ------------------------------------------------------------------------------------------------------
def test_stack_set_drift_detection_reports_the_drifted_instances(sb: Sandbox, cfn: Any) -> None:
    name = new_set(cfn)
    run(cfn, name, "create_stack_instances", Accounts=ids(sb, "dev", "test"), Regions=["us-east-1"])
    sb.client("ssm", account="test").put_parameter(Name="/baseline/level", Value="hand-edited", Overwrite=True)
    op = run(cfn, name, "detect_stack_set_drift", OperationPreferences={"MaxConcurrentPercentage": 100})
    assert op["Action"] == "DETECT_DRIFT"
    details = cfn.describe_stack_set(StackSetName=name)["StackSet"]["StackSetDriftDetectionDetails"]
    assert details["DriftStatus"] == "DRIFTED" and details["DriftDetectionStatus"] == "COMPLETED"
    assert (details["DriftedStackInstancesCount"], details["InSyncStackInstancesCount"]) == (1, 1)
    drifted = cfn.list_stack_instances(StackSetName=name, Filters=[{"Name": "DRIFT_STATUS", "Values": "DRIFTED"}])
    assert [i["Account"] for i in drifted["Summaries"]] == ids(sb, "test")
    delete_everything(cfn, name)


def test_create_stack_set_needs_the_template_s_capabilities_acknowledged(cfn: Any) -> None:
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html (Capabilities)"""
    template = json.dumps(
        {
            "Resources": {
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "RoleName": "audit-reader",
                        "AssumeRolePolicyDocument": json.loads(trust({"Service": "ec2.amazonaws.com"})),
                    },
                }
            }
        }
    )
    with api_error("InsufficientCapabilitiesException", "CAPABILITY_NAMED_IAM"):
        cfn.create_stack_set(StackSetName="roles", TemplateBody=template)
    cfn.create_stack_set(StackSetName="roles", TemplateBody=template, Capabilities=["CAPABILITY_NAMED_IAM"])
    with api_error("NameAlreadyExistsException", "roles"):
        cfn.create_stack_set(StackSetName="roles", TemplateBody=template, Capabilities=["CAPABILITY_NAMED_IAM"])
