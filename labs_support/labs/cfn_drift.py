"""Checks of the module 'Drift detection' (cfn-drift)."""

from __future__ import annotations

import json
from typing import Any

from ..checks import CheckFailed, lab_check
from ..sandbox import Sandbox
from . import common

DRIFTED = ["MODIFIED", "DELETED"]
DRIFT_RULE = "CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK"
DRIFT_EVENT = "CloudFormation Drift Detection Status Change"
INVOICES = 3  # messages the exercise's setup cell leaves in InvoiceQueue
KEPT_TIMEOUT = "120"  # the InvoiceQueue VisibilityTimeout the incident review keeps


def _detect(cfn: Any, stack_id: str) -> list[dict[str, Any]]:
    """Run drift detection on the stack now and return its drifted resources (MODIFIED or DELETED)."""
    detection_id = cfn.detect_stack_drift(StackName=stack_id)["StackDriftDetectionId"]
    status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
    if status["DetectionStatus"] == "DETECTION_FAILED":
        raise CheckFailed(
            f"Drift detection failed: {status.get('DetectionStatusReason', 'no reason given')}",
            hint="Run the lab cells again from the sandbox cell down.",
        )
    found = cfn.describe_stack_resource_drifts(StackName=stack_id, StackResourceDriftStatusFilters=DRIFTED)
    return found["StackResourceDrifts"]


def _summary(drift: dict[str, Any]) -> str:
    """'Name (DELETED)' or 'Name (MODIFIED: /Path expected -> actual, ...)'."""
    if drift["StackResourceDriftStatus"] == "DELETED":
        return f"{drift['LogicalResourceId']} (DELETED)"
    changes = [
        f"{d['PropertyPath']} {d['DifferenceType']}"
        + (f" {d.get('ExpectedValue')} -> {d.get('ActualValue')}" if d["DifferenceType"] == "NOT_EQUAL" else "")
        for d in drift.get("PropertyDifferences", [])
    ]
    return f"{drift['LogicalResourceId']} (MODIFIED: {', '.join(changes)})"


def _still_drifted(stack: str, drifts: list[dict[str, Any]], hints: dict[str, str], fallback: str) -> CheckFailed:
    first = drifts[0]
    return CheckFailed(
        f"Drift detection run just now says {stack} is still DRIFTED: {'; '.join(_summary(d) for d in drifts)}.",
        hint=hints.get(first["LogicalResourceId"], fallback.format(logical_id=first["LogicalResourceId"])),
    )


# -- the lab: the orders stack back in sync ---------------------------------------------------------------
ORDERS_HINTS = {
    "WebSecurityGroup": "Nobody approved the SSH rule: revoke it with ec2.revoke_security_group_ingress (the ADD "
    "difference's ActualValue is the rule to revoke).",
    "ReportsBucketPolicy": "The analytics statement was not approved: put the template's policy back with "
    "s3.put_bucket_policy (it is the PolicyDocument in the drift result's ExpectedProperties).",
    "BatchSizeParameter": "The team keeps the batch size of 200: update the stack with BatchSize=200, so that the "
    "template expects what the parameter holds.",
    "OrdersQueue": "A deleted resource comes back through the stack: give the queue a new logical id in the template "
    "(and in the output that refers to it) and update the stack.",
}


@lab_check("cfn-drift.in-sync", title="The orders stack is back in sync, each change resolved the right way")
def orders_in_sync(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    stack = common.live_stack(cfn, "orders", "Run the cells of parts 1 to 3 again, from the sandbox cell down.")
    if common.parameter(stack, "BatchSize") != "200":
        raise CheckFailed(
            f"The orders stack's BatchSize parameter is {common.parameter(stack, 'BatchSize')}, not 200.",
            hint="Part 3 keeps the on-call engineer's batch size: update the stack with BatchSize=200.",
        )
    drifts = _detect(cfn, stack["StackId"])
    if drifts:
        raise _still_drifted("orders", drifts, ORDERS_HINTS, "Run the cells of part 3 again ({logical_id}).")
    queues = [r for r in common.resources(cfn, stack["StackId"]).values() if r["ResourceType"] == "AWS::SQS::Queue"]
    if not queues:
        raise CheckFailed(
            "The orders stack has no queue any more.",
            hint="Removing a deleted resource from the template hides the drift, but the service needs its queue: "
            "give it a new logical id instead, so that CloudFormation creates a new one.",
        )
    value = sb.client("ssm").get_parameter(Name="/orders/batch-size")["Parameter"]["Value"]
    return (
        f"Drift detection says orders is IN_SYNC: the SSH rule and the analytics statement are gone, the template "
        f"now expects the batch size of {value}, and {queues[0]['LogicalResourceId']} replaced the deleted queue."
    )


# -- the lab: proactive detection -----------------------------------------------------------------------
def _trusts(iam: Any, role_arn: str, service: str) -> bool:
    try:
        role = iam.get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
    except iam.exceptions.NoSuchEntityException:
        return False
    return service in json.dumps(role["AssumeRolePolicyDocument"])


@lab_check("cfn-drift.proactive", title="Drift is detected on a schedule and reported through EventBridge")
def proactive(sb: Sandbox) -> str:
    config, events, iam, scheduler = (sb.client(s) for s in ("config", "events", "iam", "scheduler"))
    rules = [
        r for r in config.describe_config_rules()["ConfigRules"] if r["Source"].get("SourceIdentifier") == DRIFT_RULE
    ]
    if not rules:
        raise CheckFailed(
            f"There is no AWS Config rule with the managed rule identifier {DRIFT_RULE}.",
            hint=f"Run the cells of part 4 again: put_config_rule with Source={{'Owner': 'AWS', "
            f"'SourceIdentifier': '{DRIFT_RULE}'}}.",
        )
    role_arn = json.loads(rules[0].get("InputParameters") or "{}").get("cloudformationRoleArn", "")
    if not role_arn or not _trusts(iam, role_arn, "config.amazonaws.com"):
        raise CheckFailed(
            f"The rule's cloudformationRoleArn parameter ({role_arn or 'missing'}) is not a role that AWS Config "
            "can assume.",
            hint="Pass InputParameters naming a role that trusts config.amazonaws.com and may detect drift and read "
            "the stacks' resources.",
        )
    schedules = [scheduler.get_schedule(Name=s["Name"]) for s in scheduler.list_schedules()["Schedules"]]
    sweeps = [s for s in schedules if ":lambda:" in s["Target"]["Arn"]]
    if not sweeps:
        raise CheckFailed(
            "No EventBridge Scheduler schedule invokes a Lambda function.",
            hint="Run the cells of part 4 again: scheduler.create_schedule with the sweeper function as its Target.",
        )
    function = sweeps[0]["Target"]["Arn"].rsplit(":", 1)[-1]
    try:
        sb.client("lambda").get_function(FunctionName=function)
    except sb.client("lambda").exceptions.ResourceNotFoundException:
        raise CheckFailed(
            f"The schedule {sweeps[0]['Name']} invokes {function}, which does not exist.",
            hint="Run the cells of part 4 again, in order.",
        ) from None
    drift_rules = [r for r in events.list_rules()["Rules"] if DRIFT_EVENT in r.get("EventPattern", "")]
    if not drift_rules or not events.list_targets_by_rule(Rule=drift_rules[0]["Name"])["Targets"]:
        raise CheckFailed(
            f"No EventBridge rule with a target matches '{DRIFT_EVENT}' events.",
            hint="Run the cells of part 4 again: put_rule with the event pattern, then put_targets.",
        )
    pattern = json.loads(drift_rules[0]["EventPattern"])
    if pattern.get("source") != ["aws.cloudformation"]:
        raise CheckFailed(
            f"The rule {drift_rules[0]['Name']} does not match the source aws.cloudformation.",
            hint="CloudFormation's events have the source aws.cloudformation.",
        )
    return (
        f"The AWS Config rule {rules[0]['ConfigRuleName']} runs drift detection as {role_arn.rsplit('/', 1)[-1]}; "
        f"the schedule {sweeps[0]['Name']} ({sweeps[0]['ScheduleExpression']}) invokes {function}; and the rule "
        f"{drift_rules[0]['Name']} sends drift results to its target."
    )


# -- the exercise: the billing stack --------------------------------------------------------------------
BILLING_DEPLOY_HINT = (
    "Run the exercise's setup cell (it creates the billing stack as the incident left it), then your cell."
)
BILLING_HINTS = {
    "InvoiceQueue": "The incident review keeps the 120-second visibility timeout. Make the stack expect it: update "
    "the stack with the VisibilityTimeout parameter at 120 (use the previous template or your new one).",
    "ArchiveBucket": "The bucket changes were not approved: put back what the drift result's ExpectedProperties say, "
    "with s3.put_bucket_versioning and s3.put_public_access_block.",
    "AlertsTopic": "A deleted resource comes back through the stack: give the topic a new logical id in the template "
    "(and change every !Ref to it) and update the stack, so that CloudFormation creates a new topic.",
}


def _bucket_problem(s3: Any, bucket: str) -> str | None:
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        return "its versioning is not Enabled"
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        return "it has no public access block"
    if not all(block.values()):
        return "its public access block does not block everything"
    return None


@lab_check(
    "cfn-drift.billing", title="Exercise: the billing stack back in sync, without losing an invoice", exercise=True
)
def billing(sb: Sandbox) -> str:
    cfn, sqs, s3 = sb.client("cloudformation"), sb.client("sqs"), sb.client("s3")
    stack = common.live_stack(cfn, "billing", BILLING_DEPLOY_HINT)
    resources = common.resources(cfn, stack["StackId"])
    queue = resources.get("InvoiceQueue")
    if queue is None:
        raise CheckFailed(
            "The billing stack has no InvoiceQueue any more.",
            hint="Keep InvoiceQueue in the template: it holds invoices that have not been processed yet.",
        )
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue["PhysicalResourceId"], AttributeNames=["ApproximateNumberOfMessages", "VisibilityTimeout"]
        )["Attributes"]
    except sqs.exceptions.ClientError:
        attributes = {"ApproximateNumberOfMessages": "0"}
    waiting = int(attributes["ApproximateNumberOfMessages"])
    if waiting < INVOICES:
        raise CheckFailed(
            f"InvoiceQueue holds {waiting} of the {INVOICES} invoices the setup cell left in it: the queue (or the "
            "whole stack) was deleted or replaced, and the invoices with it.",
            hint="Fix drift in place, never by deleting or replacing the stack or its queue. Run the setup cell "
            "again to start over.",
        )
    drifts = _detect(cfn, stack["StackId"])
    if drifts:
        raise _still_drifted(
            "billing", drifts, BILLING_HINTS, "Put {logical_id} back as the template says, or change the template."
        )
    if attributes.get("VisibilityTimeout") != KEPT_TIMEOUT:
        raise CheckFailed(
            f"billing is IN_SYNC, but InvoiceQueue's visibility timeout is {attributes.get('VisibilityTimeout')} "
            f"seconds: the incident review decided to keep {KEPT_TIMEOUT}.",
            hint="Update the stack with VisibilityTimeout=120 (the template's parameter): the update sets the queue "
            "to 120 seconds and the template then expects it.",
        )
    archive = resources.get("ArchiveBucket")
    problem = _bucket_problem(s3, archive["PhysicalResourceId"]) if archive else "it is not in the stack any more"
    if problem:
        raise CheckFailed(
            f"billing is IN_SYNC, but ArchiveBucket is not as the original template wants: {problem}.",
            hint="The bucket changes were not approved: keep the template's VersioningConfiguration and "
            "PublicAccessBlockConfiguration, and put the bucket back with the S3 API.",
        )
    topics = [r for r in resources.values() if r["ResourceType"] == "AWS::SNS::Topic"]
    if not topics:
        raise CheckFailed(
            "billing is IN_SYNC, but it has no SNS topic any more: nobody would be alerted.",
            hint=BILLING_HINTS["AlertsTopic"],
        )
    topic_arn = topics[0]["PhysicalResourceId"]
    parameter = sb.client("ssm").get_parameter(Name="/billing/alerts-topic-arn")["Parameter"]["Value"]
    if parameter != topic_arn:
        raise CheckFailed(
            f"/billing/alerts-topic-arn holds {parameter}, not the stack's topic {topic_arn}.",
            hint="Keep the parameter's Value as !Ref to the topic's logical id, so that it follows the new topic.",
        )
    name = topics[0]["LogicalResourceId"]
    topic = "the alerts topic exists again," if name == "AlertsTopic" else f"{name} replaced the deleted topic,"
    return (
        f"billing is IN_SYNC and still holds its {waiting} invoices: InvoiceQueue keeps its {KEPT_TIMEOUT}-second "
        f"visibility timeout, now expected by the stack; ArchiveBucket is versioned and blocks public access again; "
        f"{topic} and /billing/alerts-topic-arn points to it."
    )
