"""Fidelity tests: State Manager associations, Compliance, Inventory and the lab-clock schedules.

Each test names the AWS behaviour it proves and the page it rests on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

import labs_support as ls
from labs_support.emulator.ssm import schedule
from labs_support.sandbox import Sandbox
from tests.aws_errors import api_error

ENSURE_NGINX = {
    "schemaVersion": "2.2",
    "description": "nginx installed, enabled and running",
    "mainSteps": [
        {
            "action": "aws:runShellScript",
            "name": "ensureNginx",
            "inputs": {
                "runCommand": [
                    "rpm -q nginx || dnf install -y nginx",
                    "systemctl enable --now nginx",
                    "systemctl is-active nginx",
                ]
            },
        }
    ],
}


@pytest.fixture(scope="module")
def ssm(sb: Sandbox) -> Any:
    ssm = sb.client("ssm")
    ssm.create_document(Name="Web-EnsureNginx", DocumentType="Command", Content=json.dumps(ENSURE_NGINX))
    return ssm


def command_document(ssm: Any, name: str, command: str, description: str) -> None:
    """A Command document of one aws:runShellScript step."""
    step = {"action": "aws:runShellScript", "name": "run", "inputs": {"runCommand": [command]}}
    content = {"schemaVersion": "2.2", "description": description, "mainSteps": [step]}
    ssm.create_document(Name=name, DocumentType="Command", Content=json.dumps(content))


def shell(ssm: Any, instance_ids: list[str], *commands: str) -> dict[str, str]:
    sent = ssm.send_command(
        InstanceIds=instance_ids,
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": list(commands)},
        MaxErrors="100%",  # a look at every node, even where the check fails
    )["Command"]
    ls.wait_for_command(ssm, sent["CommandId"])
    return {
        i: ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=i)["StandardOutputContent"]
        for i in instance_ids
    }


def executions(ssm: Any, association_id: str) -> list[dict[str, Any]]:
    return ssm.describe_association_executions(AssociationId=association_id)["AssociationExecutions"]


def test_association_applies_at_creation_and_reports_success(sb: Sandbox, ssm: Any, profile: str) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/state-manager-about.html: an association runs
    when it is created (unless ApplyOnlyAtCronInterval), then on its schedule."""
    ids = ls.launch_fleet(sb, 3, tags={"Tier": "create"}, instance_profile=profile)
    created = ssm.create_association(
        Name="Web-EnsureNginx",
        Targets=[{"Key": "tag:Tier", "Values": ["create"]}],
        ScheduleExpression="rate(30 minutes)",
        AssociationName="nginx-create",
    )
    description = created["AssociationDescription"]
    assert description["Overview"]["Status"] == "Pending"
    association_id = description["AssociationId"]
    overview = ssm.describe_association(AssociationId=association_id)["AssociationDescription"]["Overview"]
    assert overview == {
        "Status": "Success",
        "DetailedStatus": "Success",
        "AssociationStatusAggregatedCount": {"Success": 3},
    }
    assert set(shell(ssm, ids, "systemctl is-active nginx").values()) == {"active\n"}


def test_drift_is_corrected_at_the_next_scheduled_run(sb: Sandbox, ssm: Any, profile: str) -> None:
    """State Manager reapplies the document on schedule: a stopped service is running again after the next run."""
    ids = ls.launch_fleet(sb, 2, tags={"Tier": "drift"}, instance_profile=profile)
    association_id = ssm.create_association(
        Name="Web-EnsureNginx",
        Targets=[{"Key": "tag:Tier", "Values": ["drift"]}],
        ScheduleExpression="rate(30 minutes)",
    )["AssociationDescription"]["AssociationId"]
    ssm.describe_association(AssociationId=association_id)  # the creation run falls due
    shell(ssm, [ids[0]], "systemctl stop nginx")
    assert shell(ssm, ids, "systemctl is-active nginx") == {ids[0]: "inactive\n", ids[1]: "active\n"}
    ls.fast_forward(minutes=10)
    assert len(executions(ssm, association_id)) == 1  # not due yet
    assert shell(ssm, [ids[0]], "systemctl is-active nginx")[ids[0]] == "inactive\n"
    ls.fast_forward(minutes=25)
    assert len(executions(ssm, association_id)) == 2
    assert shell(ssm, [ids[0]], "systemctl is-active nginx")[ids[0]] == "active\n"


def test_apply_only_at_cron_interval_waits_for_the_schedule(sb: Sandbox, ssm: Any, profile: str) -> None:
    """ApplyOnlyAtCronInterval: no run at creation, only at the scheduled time."""
    ls.launch_fleet(sb, 1, tags={"Tier": "cron"}, instance_profile=profile)
    association_id = ssm.create_association(
        Name="Web-EnsureNginx",
        Targets=[{"Key": "tag:Tier", "Values": ["cron"]}],
        ScheduleExpression="cron(0 3 * * ? *)",
        ApplyOnlyAtCronInterval=True,
    )["AssociationDescription"]["AssociationId"]
    assert executions(ssm, association_id) == []
    ls.fast_forward(days=1)
    assert len(executions(ssm, association_id)) == 1


def test_apply_only_at_cron_interval_is_refused_with_a_rate_expression(ssm: Any) -> None:
    """CreateAssociation: ApplyOnlyAtCronInterval isn't supported for rate expressions (API reference)."""
    code, _ = api_error(
        ssm.create_association,
        Name="Web-EnsureNginx",
        ScheduleExpression="rate(1 day)",
        ApplyOnlyAtCronInterval=True,
        Targets=[{"Key": "tag:Tier", "Values": ["x"]}],
    )
    assert code == "ValidationException"


def test_rate_shorter_than_thirty_minutes_is_refused(ssm: Any) -> None:
    """State Manager's shortest rate is 30 minutes (reference-cron-and-rate-expressions.html)."""
    code, _ = api_error(
        ssm.create_association,
        Name="Web-EnsureNginx",
        ScheduleExpression="rate(5 minutes)",
        Targets=[{"Key": "tag:Tier", "Values": ["x"]}],
    )
    assert code == "InvalidSchedule"


def test_failed_association_makes_the_node_non_compliant(sb: Sandbox, ssm: Any, profile: str) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/compliance-about.html: association compliance
    follows the latest run, with the association's ComplianceSeverity."""
    [good, bad] = ls.launch_fleet(sb, 2, tags={"Tier": "compliance"}, instance_profile=profile)
    shell(ssm, [good], "touch /etc/app.conf")
    command_document(ssm, "Check-AppConfig", "test -f /etc/app.conf", "config present")
    association_id = ssm.create_association(
        Name="Check-AppConfig",
        Targets=[{"Key": "tag:Tier", "Values": ["compliance"]}],
        ComplianceSeverity="CRITICAL",
        MaxErrors="5",
    )["AssociationDescription"]["AssociationId"]
    summary = {
        s["ResourceId"]: (s["Status"], s["OverallSeverity"])
        for s in ssm.list_resource_compliance_summaries(
            Filters=[{"Key": "ComplianceType", "Values": ["Association"], "Type": "EQUAL"}]
        )["ResourceComplianceSummaryItems"]
    }
    assert summary[good] == ("COMPLIANT", "CRITICAL") and summary[bad] == ("NON_COMPLIANT", "CRITICAL")
    [execution] = executions(ssm, association_id)
    assert (execution["Status"], execution["ResourceCountByStatus"]) == ("Failed", "{Failed=1, Success=1}")
    targets = ssm.describe_association_execution_targets(
        AssociationId=association_id, ExecutionId=execution["ExecutionId"]
    )
    by_node = {t["ResourceId"]: t for t in targets["AssociationExecutionTargets"]}
    assert by_node[bad]["Status"] == "Failed" and by_node[bad]["OutputSource"]["OutputSourceType"] == "RunCommand"
    info = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [bad]}])[
        "InstanceInformationList"
    ]
    assert info[0]["AssociationStatus"] == "Failed"


def test_node_that_newly_matches_the_targets_runs_the_association(sb: Sandbox, ssm: Any, profile: str) -> None:
    """Associations also run "when target changes are detected" (CreateAssociation reference): a node tagged
    later runs it at once, and every scheduled run includes it."""
    [first] = ls.launch_fleet(sb, 1, tags={"Tier": "late"}, instance_profile=profile)
    association_id = ssm.create_association(
        Name="Web-EnsureNginx", Targets=[{"Key": "tag:Tier", "Values": ["late"]}], ScheduleExpression="rate(1 hour)"
    )["AssociationDescription"]["AssociationId"]
    assert len(executions(ssm, association_id)) == 1  # the run at creation, on the first node
    [later] = ls.launch_fleet(sb, 1, instance_profile=profile)
    sb.client("ec2").create_tags(Resources=[later], Tags=[{"Key": "Tier", "Value": "late"}])
    # "when target changes are detected": the new node runs it at once, on its own
    newest = executions(ssm, association_id)[0]
    assert newest["ResourceCountByStatus"] == "{Success=1}"
    targets = ssm.describe_association_execution_targets(
        AssociationId=association_id, ExecutionId=newest["ExecutionId"]
    )
    assert [t["ResourceId"] for t in targets["AssociationExecutionTargets"]] == [later]
    ls.fast_forward(hours=1)
    assert executions(ssm, association_id)[0]["ResourceCountByStatus"] == "{Success=2}"
    assert first != later


def test_start_associations_once_runs_now(sb: Sandbox, ssm: Any, profile: str) -> None:
    """StartAssociationsOnce runs an association immediately, keeping its schedule."""
    ls.launch_fleet(sb, 1, tags={"Tier": "once"}, instance_profile=profile)
    association_id = ssm.create_association(
        Name="Web-EnsureNginx", Targets=[{"Key": "tag:Tier", "Values": ["once"]}], ScheduleExpression="rate(7 days)"
    )["AssociationDescription"]["AssociationId"]
    ssm.start_associations_once(AssociationIds=[association_id])
    assert len(executions(ssm, association_id)) == 2  # creation + once


def test_inventory_is_collected_by_the_gather_association_and_queryable(sb: Sandbox, ssm: Any, profile: str) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/systems-manager-inventory.html: the
    AWS-GatherSoftwareInventory association reports AWS:Application, AWS:InstanceInformation ..."""
    [web, plain] = ls.launch_fleet(sb, 2, tags={"Tier": "inventory"}, instance_profile=profile)
    shell(ssm, [web], "dnf install -y nginx")
    ssm.create_association(
        Name="AWS-GatherSoftwareInventory",
        Targets=[{"Key": "tag:Tier", "Values": ["inventory"]}],
        ScheduleExpression="rate(12 hours)",
    )
    found = ssm.get_inventory(Filters=[{"Key": "AWS:Application.Name", "Values": ["nginx"], "Type": "Equal"}])
    assert [e["Id"] for e in found["Entities"]] == [web]
    entries = ssm.list_inventory_entries(InstanceId=plain, TypeName="AWS:InstanceInformation")["Entries"]
    assert entries[0]["PlatformVersion"] == "2023"
    apps = ssm.list_inventory_entries(
        InstanceId=web, TypeName="AWS:Application", Filters=[{"Key": "Name", "Values": ["nginx"], "Type": "Equal"}]
    )["Entries"]
    assert apps == [
        {
            "Name": "nginx",
            "Version": "1.24.0",
            "Architecture": "x86_64",
            "Publisher": "Amazon Linux",
            "ApplicationType": "System Environment/Base",
        }
    ]


def test_custom_inventory_and_custom_compliance(sb: Sandbox, ssm: Any, profile: str) -> None:
    """PutInventory takes Custom: types; PutComplianceItems takes Custom: compliance types."""
    [node] = ls.launch_fleet(sb, 1, instance_profile=profile)
    ssm.put_inventory(
        InstanceId=node,
        Items=[
            {
                "TypeName": "Custom:RackInfo",
                "SchemaVersion": "1.0",
                "CaptureTime": "2026-11-22T10:00:00Z",
                "Content": [{"Rack": "R12"}],
            }
        ],
    )
    assert ssm.list_inventory_entries(InstanceId=node, TypeName="Custom:RackInfo")["Entries"] == [{"Rack": "R12"}]
    ssm.put_compliance_items(
        ResourceId=node,
        ResourceType="ManagedInstance",
        ComplianceType="Custom:Antivirus",
        ExecutionSummary={"ExecutionTime": datetime(2026, 11, 22, tzinfo=UTC)},
        Items=[{"Id": "av", "Title": "AV signatures", "Severity": "HIGH", "Status": "NON_COMPLIANT"}],
    )
    items = ssm.list_compliance_items(ResourceIds=[node], ResourceTypes=["ManagedInstance"])["ComplianceItems"]
    assert [(i["ComplianceType"], i["Status"]) for i in items] == [("Custom:Antivirus", "NON_COMPLIANT")]


# -- schedule expressions (unit) ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(30 minutes)", "2026-11-22T10:00", "2026-11-22T10:30"),
        ("cron(0 2 ? * SUN *)", "2026-11-22T10:00", "2026-11-29T02:00"),  # 22 Nov 2026 is a Sunday
        ("cron(15 10 ? * MON-FRI *)", "2026-11-22T10:00", "2026-11-23T10:15"),
        ("cron(0 */6 * * ? *)", "2026-11-22T10:00", "2026-11-22T12:00"),
        ("cron(0 0 1 * ? *)", "2026-11-22T10:00", "2026-12-01T00:00"),
    ],
)
def test_schedule_expressions_follow_systems_manager_syntax(expression: str, after: str, expected: str) -> None:
    """https://docs.aws.amazon.com/systems-manager/latest/userguide/reference-cron-and-rate-expressions.html"""
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    parsed = schedule.parse(expression)
    assert parsed.next_after(moment, anchor=moment) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_invalid_schedule_expressions_are_refused() -> None:
    for expression in ("rate(0 minutes)", "cron(61 * * * ? *)", "every day", "cron(0 2 * *)"):
        with pytest.raises(schedule.ScheduleError):
            schedule.parse(expression)


def test_an_association_whose_document_is_gone_fails_its_run_and_nothing_else(
    sb: Sandbox, ssm: Any, profile: str
) -> None:
    """A run that cannot start (its document was deleted) is a failed execution; every other call goes on."""
    command_document(ssm, "Short-Lived", "true", "short-lived")
    ls.launch_fleet(sb, 1, tags={"Tier": "gone"}, instance_profile=profile)
    association_id = ssm.create_association(
        Name="Short-Lived", Targets=[{"Key": "tag:Tier", "Values": ["gone"]}], ScheduleExpression="rate(30 minutes)"
    )["AssociationDescription"]["AssociationId"]
    assert executions(ssm, association_id)[0]["Status"] == "Success"
    ssm.delete_document(Name="Short-Lived")
    ls.fast_forward(minutes=30)
    latest = executions(ssm, association_id)[0]
    assert latest["Status"] == "Failed" and "Short-Lived" in latest["DetailedStatus"]
    assert ssm.describe_instance_information()["InstanceInformationList"]
    ssm.delete_association(AssociationId=association_id)


def test_a_run_longer_than_the_interval_skips_the_occurrences_it_overlaps(sb: Sandbox, ssm: Any, profile: str) -> None:
    """A 40-minute run on a 30-minute rate: the occurrence that falls during the run is skipped, not queued."""
    command_document(ssm, "Slow-Check", "sleep 2400", "slow")
    ls.launch_fleet(sb, 1, tags={"Tier": "slow"}, instance_profile=profile)
    association_id = ssm.create_association(
        Name="Slow-Check", Targets=[{"Key": "tag:Tier", "Values": ["slow"]}], ScheduleExpression="rate(30 minutes)"
    )["AssociationDescription"]["AssociationId"]
    assert len(executions(ssm, association_id)) == 1
    ls.fast_forward(minutes=50)
    found = executions(ssm, association_id)
    assert len(found) == 2  # the 30-minute occurrence fell inside the first run; the 60-minute one ran
    ssm.delete_association(AssociationId=association_id)
