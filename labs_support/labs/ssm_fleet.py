"""Checks of the module 'Run Command and State Manager' (ssm-fleet).

They read the sandbox through the real Systems Manager, EC2 and IAM APIs. The exercise check also names, for
each instance that is still not a managed node, the prerequisite it misses: the same checks that
`ls.why_not_managed` shows (on AWS, the AWSSupport-TroubleshootManagedInstance runbook's).
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckFailed, lab_check
from ..emulator.ssm import fleet
from ..emulator.ssm.backend import fleet_for
from ..sandbox import Sandbox

WEB_FLEET_SIZE = 10
DEPLOY_COMMENT = "deploy the webapp site"
DESIRED_STATE_DOCUMENT = "WebTier-DesiredState"
DESIRED_STATE_ASSOCIATION = "web-desired-state"
PAYMENTS_DOCUMENT = "Payments-Baseline"
PAYMENTS_ASSOCIATION = "payments-baseline"
PAYMENTS_PROFILE = "payments-app"
CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


# -- reading the fleet ------------------------------------------------------------------------------------
def _tagged(ec2: Any, key: str, value: str) -> dict[str, dict[str, Any]]:
    """Running (or starting) instances with this tag, by id, in launch order."""
    found: dict[str, dict[str, Any]] = {}
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": f"tag:{key}", "Values": [value]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                found[instance["InstanceId"]] = instance
    return found


def _name(instance: dict[str, Any]) -> str:
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    return f"{tags['Name']} ({instance['InstanceId']})" if "Name" in tags else instance["InstanceId"]


def _short_name(instance: dict[str, Any]) -> str:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get("Name", instance["InstanceId"])


def _managed(ssm: Any) -> dict[str, dict[str, Any]]:
    return {
        info["InstanceId"]: info
        for page in ssm.get_paginator("describe_instance_information").paginate()
        for info in page["InstanceInformationList"]
    }


def _association(ssm: Any, name: str) -> dict[str, Any] | None:
    rows = ssm.list_associations(AssociationFilterList=[{"key": "AssociationName", "value": name}])["Associations"]
    if not rows:
        return None
    return ssm.describe_association(AssociationId=rows[0]["AssociationId"])["AssociationDescription"]


def _latest_run(ssm: Any, association_id: str) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The association's latest execution and its target results by node."""
    executions = ssm.describe_association_executions(AssociationId=association_id)["AssociationExecutions"]
    if not executions:
        return None, {}
    latest = executions[0]
    targets = ssm.describe_association_execution_targets(
        AssociationId=association_id, ExecutionId=latest["ExecutionId"]
    )["AssociationExecutionTargets"]
    return latest, {t["ResourceId"]: t for t in targets}


# -- the lab ----------------------------------------------------------------------------------------------
@lab_check("ssm-fleet.run-command", title="Run Command: the webapp site is deployed on all 10 web servers")
def check_run_command(sb: Sandbox) -> str:
    ec2, ssm = sb.client("ec2"), sb.client("ssm")
    web = _tagged(ec2, "Role", "web")
    if len(web) != WEB_FLEET_SIZE:
        raise CheckFailed(
            f"There are {len(web)} running instances tagged Role=web; the lab has {WEB_FLEET_SIZE}.",
            hint="Run the lab cells from the sandbox cell down (part 1 launches the web fleet).",
        )
    managed = _managed(ssm)
    offline = [_name(i) for iid, i in web.items() if managed.get(iid, {}).get("PingStatus") != "Online"]
    if offline:
        raise CheckFailed(
            f"Not Online as managed nodes: {', '.join(offline)}.",
            hint="Every web server has the SSMManagedInstance instance profile in part 1: run the cells again.",
        )
    not_deployed = []
    for instance_id, instance in web.items():
        invocations = [
            i
            for i in ssm.list_command_invocations(InstanceId=instance_id)["CommandInvocations"]
            if i["Comment"] == DEPLOY_COMMENT
        ]
        latest = max(invocations, key=lambda i: i["RequestedDateTime"], default=None)
        if latest is None or latest["Status"] != "Success":
            state = "never sent" if latest is None else f"{latest['StatusDetails']} the last time"
            not_deployed.append(f"{_name(instance)}: {state}")
    if not_deployed:
        raise CheckFailed(
            "The site deployment has not succeeded everywhere yet:\n" + "\n".join(not_deployed),
            hint="Part 4 ends by fixing APP_PORT on the three launch template version 1 servers and deploying "
            "to them again.",
        )
    return "10 web servers are Online managed nodes, and the latest site deployment succeeded on each."


@lab_check("ssm-fleet.state-manager", title="State Manager keeps nginx running on the web fleet, and it is compliant")
def check_state_manager(sb: Sandbox) -> str:
    ec2, ssm = sb.client("ec2"), sb.client("ssm")
    association = _association(ssm, DESIRED_STATE_ASSOCIATION)
    if association is None:
        raise CheckFailed(
            f"There is no association called {DESIRED_STATE_ASSOCIATION}.",
            hint="Create it in part 5 with create_association(AssociationName='web-desired-state', ...).",
        )
    if association["Name"] != DESIRED_STATE_DOCUMENT or association.get("ScheduleExpression") != "rate(30 minutes)":
        raise CheckFailed(
            f"{DESIRED_STATE_ASSOCIATION} runs {association['Name']} on "
            f"{association.get('ScheduleExpression', 'no schedule')}; the lab runs {DESIRED_STATE_DOCUMENT} "
            "every 30 minutes.",
            hint="Create the association as part 5 does: Name='WebTier-DesiredState', "
            "ScheduleExpression='rate(30 minutes)'.",
        )
    executions = ssm.describe_association_executions(AssociationId=association["AssociationId"])
    if len(executions["AssociationExecutions"]) < 2:
        raise CheckFailed(
            "The association has run only once: at its creation.",
            hint="Let lab time pass with ls.fast_forward(minutes=30), as part 5 does, so that it runs on its schedule.",
        )
    web = _tagged(ec2, "Role", "web")
    summaries = {
        s["ResourceId"]: s
        for s in ssm.list_resource_compliance_summaries(
            Filters=[{"Key": "ComplianceType", "Values": ["Association"], "Type": "EQUAL"}]
        )["ResourceComplianceSummaryItems"]
    }
    wrong = [
        f"{_name(i)}: {summaries[iid]['Status'] if iid in summaries else 'no association compliance yet'}"
        for iid, i in web.items()
        if summaries.get(iid, {}).get("Status") != "COMPLIANT"
    ]
    if wrong:
        raise CheckFailed(
            "Not every web server is compliant with its associations:\n" + "\n".join(wrong),
            hint="Redeploy the site on the node whose config was deleted, then run the association again with "
            "start_associations_once (end of part 5).",
        )
    return (
        f"{DESIRED_STATE_ASSOCIATION} ran {len(executions['AssociationExecutions'])} times, and all 10 web servers "
        "are COMPLIANT."
    )


@lab_check("ssm-fleet.inventory", title="Inventory: every managed node reports its software")
def check_inventory(sb: Sandbox) -> str:
    ec2, ssm = sb.client("ec2"), sb.client("ssm")
    gathering = [a for a in ssm.list_associations()["Associations"] if a["Name"] == "AWS-GatherSoftwareInventory"]
    if not gathering:
        raise CheckFailed(
            "No association runs AWS-GatherSoftwareInventory.",
            hint="Create the inventory association of part 6.",
        )
    found = ssm.get_inventory(Filters=[{"Key": "AWS:Application.Name", "Values": ["nginx"], "Type": "Equal"}])
    with_nginx = {e["Id"] for e in found["Entities"]}
    missing = [_name(i) for iid, i in _tagged(ec2, "Role", "web").items() if iid not in with_nginx]
    if missing:
        raise CheckFailed(
            f"Inventory does not show nginx on: {', '.join(missing)}.",
            hint="The inventory association collects at creation and on its schedule: create it after nginx is "
            "installed (part 6).",
        )
    return f"Inventory reports nginx on all {len(with_nginx)} web servers."


# -- the exercise -------------------------------------------------------------------------------------------
def _fix_for(check: fleet.Check, instance: dict[str, Any]) -> str:
    """What to do about one unmet prerequisite (the hint)."""
    detail = check.detail
    if check.name == "network":
        return (
            "give its VPC interface endpoints for ssm, ssmmessages and ec2messages "
            "(ec2.create_vpc_endpoint with VpcEndpointType='Interface', its subnet and PrivateDnsEnabled=True)"
        )
    if "does not allow" in detail and "instance profile" in detail:
        return "attach AmazonSSMManagedInstanceCore to the role of its instance profile (iam.attach_role_policy)"
    if "Default Host Management Configuration is off" in detail:
        return (
            "turn on Default Host Management Configuration: a role trusted by ssm.amazonaws.com with "
            "AmazonSSMManagedEC2InstanceDefaultPolicy, named in the service setting "
            f"{fleet.DHMC_SETTING} (ssm.update_service_setting)"
        )
    if "IMDSv2" in detail:
        return "make it require IMDSv2 (ec2.modify_instance_metadata_options with HttpTokens='required')"
    if "DHMC role" in detail:
        return (
            "fix the role named in the DHMC service setting: it must exist, trust ssm.amazonaws.com and have "
            "AmazonSSMManagedEC2InstanceDefaultPolicy"
        )
    if check.name == "SSM Agent":
        return "install and start the SSM Agent"
    return f"fix this: {detail}"


def _routes_out(ec2: Any, instance: dict[str, Any]) -> bool:
    """Whether the instance's subnet has a default route to an internet or NAT gateway."""
    subnet, vpc = instance.get("SubnetId"), instance.get("VpcId")
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]
    if not tables:  # the subnet uses its VPC's main route table
        tables = [
            t
            for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
            if any(a.get("Main") for a in t.get("Associations", []))
        ]
    return any(
        r.get("DestinationCidrBlock") == "0.0.0.0/0"
        and (r.get("GatewayId", "").startswith("igw-") or r.get("NatGatewayId"))
        for t in tables
        for r in t.get("Routes", [])
    )


@lab_check(
    "ssm-fleet.unmanaged-nodes",
    title="Exercise: the payments instances are managed nodes with their baseline applied",
    exercise=True,
)
def check_unmanaged_nodes(sb: Sandbox) -> str:
    ec2, ssm = sb.client("ec2"), sb.client("ssm")
    payments = _tagged(ec2, "App", "payments")
    if len(payments) != 3:
        raise CheckFailed(
            f"There are {len(payments)} running instances tagged App=payments; the exercise has 3.",
            hint="Run the exercise's setup cell again: it starts the exercise over.",
        )
    by_name = {{t["Key"]: t["Value"] for t in i.get("Tags", [])}.get("Name", iid): i for iid, i in payments.items()}
    # the constraints of the exercise: the API server keeps its own instance profile, the batch server has none
    api, batch = by_name.get("payments-api"), by_name.get("payments-batch")
    if api is not None and not api.get("IamInstanceProfile", {}).get("Arn", "").endswith(f"/{PAYMENTS_PROFILE}"):
        raise CheckFailed(
            f"{_name(api)} no longer has its instance profile {PAYMENTS_PROFILE}: the application reads S3 with it.",
            hint=f"Give it back {PAYMENTS_PROFILE} (ec2.replace_iam_instance_profile_association) and fix the role "
            "inside the profile instead.",
        )
    if batch is not None and batch.get("IamInstanceProfile"):
        raise CheckFailed(
            f"{_name(batch)} has an instance profile; the platform team manages it through Default Host "
            "Management Configuration.",
            hint="Remove the profile (ec2.disassociate_iam_instance_profile) and turn on DHMC instead.",
        )
    proxy = by_name.get("payments-db-proxy")
    if proxy is not None and _routes_out(ec2, proxy):
        raise CheckFailed(
            f"The subnet of {_name(proxy)} now routes 0.0.0.0/0 out of the VPC; it must stay private.",
            hint="Remove that route and give the VPC interface endpoints for ssm, ssmmessages and ec2messages instead.",
        )
    managed = _managed(ssm)
    settings = fleet_for(sb.account_id(), sb.region).settings
    problems: list[str] = []
    fixes: dict[str, list[str]] = {}  # what to do -> the instances that need it
    for instance_id, instance in payments.items():
        if managed.get(instance_id, {}).get("PingStatus") == "Online":
            continue
        emulated = fleet.find_instance(sb.account_id(), sb.region, instance_id)
        unmet = [c for c in fleet.diagnose(emulated, settings) if not c.ok] if emulated else []
        problems.append(f"{_name(instance)}: " + "; ".join(f"{c.name}: {c.detail}" for c in unmet))
        for c in unmet:
            fixes.setdefault(_fix_for(c, instance), []).append(_short_name(instance))
    if problems:
        count = (
            "1 payments instance is not a managed node"
            if len(problems) == 1
            else (f"{len(problems)} of 3 payments instances are not managed nodes")
        )
        raise CheckFailed(
            f"{count} yet:\n" + "\n".join(problems),
            hint="; ".join(f"{' and '.join(names)}: {fix}" for fix, names in fixes.items())
            + ". ls.why_not_managed(sb, instance_id) shows the same checks.",
        )
    association = _association(ssm, PAYMENTS_ASSOCIATION)
    if association is None:
        raise CheckFailed(
            f"All 3 payments instances are Online managed nodes, but there is no association called "
            f"{PAYMENTS_ASSOCIATION}.",
            hint=f"Create it with ssm.create_association(AssociationName='{PAYMENTS_ASSOCIATION}', "
            f"Name='{PAYMENTS_DOCUMENT}', ...) as the requirements say.",
        )
    if association["Name"] != PAYMENTS_DOCUMENT:
        raise CheckFailed(
            f"{PAYMENTS_ASSOCIATION} runs the document {association['Name']}, not {PAYMENTS_DOCUMENT}.",
            hint="An association's document cannot be changed: delete it and create it again.",
        )
    if association["Targets"] != [{"Key": "tag:App", "Values": ["payments"]}]:
        raise CheckFailed(
            f"{PAYMENTS_ASSOCIATION} targets {association['Targets']}.",
            hint="Target the tag, Targets=[{'Key': 'tag:App', 'Values': ['payments']}], so that payments instances "
            "launched later get the baseline too (update_association can change the targets).",
        )
    if not association.get("ScheduleExpression"):
        raise CheckFailed(
            f"{PAYMENTS_ASSOCIATION} has no schedule: it would run once and never correct drift.",
            hint="Give it a ScheduleExpression, for example rate(1 hour) (update_association).",
        )
    if association["ComplianceSeverity"] != "CRITICAL":
        raise CheckFailed(
            f"{PAYMENTS_ASSOCIATION} reports compliance with severity {association['ComplianceSeverity']}.",
            hint="The payments baseline is CRITICAL: ComplianceSeverity='CRITICAL' (update_association).",
        )
    latest, results = _latest_run(ssm, association["AssociationId"])
    missed = [_name(i) for iid, i in payments.items() if iid not in results]
    if latest is None or missed:
        raise CheckFailed(
            f"The latest run of {PAYMENTS_ASSOCIATION} did not reach "
            f"{', '.join(missed) if latest else 'any instance'}: "
            "it ran before they were managed nodes.",
            hint="Run it again now with ssm.start_associations_once(AssociationIds=[...]) (the sandbox applies an "
            "association to newly managed nodes only at its next run).",
        )
    failed = [
        f"{_name(payments[iid])}: {t['DetailedStatus']}"
        for iid, t in results.items()
        if iid in payments and t["Status"] != "Success"
    ]
    if failed:
        raise CheckFailed(
            f"The latest run of {PAYMENTS_ASSOCIATION} failed on:\n" + "\n".join(failed),
            hint="Read its output: describe_association_execution_targets gives the command id "
            "(OutputSource) for get_command_invocation.",
        )
    return (
        "payments-api (its role now has AmazonSSMManagedInstanceCore), payments-db-proxy (VPC endpoints) and "
        "payments-batch (DHMC with IMDSv2) are Online, and payments-baseline succeeded on all three."
    )
