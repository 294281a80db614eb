"""Checks of the module 'AWS CDK synthesizes CloudFormation' (cdk)."""

from __future__ import annotations

import json
from typing import Any

from ..checks import CheckFailed, lab_check
from ..sandbox import Sandbox

BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
FOURTEEN_DAYS = 14 * 24 * 3600


def _stack(cfn: Any, name: str, hint: str) -> dict[str, Any]:
    stacks = [s for s in cfn.describe_stacks()["Stacks"] if s["StackName"] == name]
    if not stacks:
        raise CheckFailed(f"There is no stack called {name}.", hint=hint)
    stack = stacks[0]
    if stack["StackStatus"] not in DONE:
        raise CheckFailed(
            f"The stack {name} is {stack['StackStatus']} ({stack.get('StackStatusReason', 'no reason given')}).",
            hint="Read its events (ls.stack_events(cfn, name)), fix the app, synthesize and deploy again.",
        )
    return stack


def _from_cdk(cfn: Any, name: str) -> dict[str, Any]:
    """The deployed template, which must carry the default synthesizer's bootstrap parameter and rule."""
    body = cfn.get_template(StackName=name)["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    parameter = template.get("Parameters", {}).get("BootstrapVersion", {})
    if parameter.get("Default") != BOOTSTRAP_PARAMETER or "CheckBootstrapVersion" not in template.get("Rules", {}):
        raise CheckFailed(
            f"The template of {name} has no BootstrapVersion parameter and CheckBootstrapVersion rule: it did not "
            "come from a CDK synthesis.",
            hint="Deploy the template of the cloud assembly: cdk_deploy(cdk_synth(app_file), stack_name).",
        )
    return template


def _resources(cfn: Any, name: str) -> list[dict[str, Any]]:
    return cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]


@lab_check("cdk.deployed", title="The CDK app is deployed into a bootstrapped account")
def check_deployed(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    _stack(
        cfn, "CDKToolkit", "Bootstrap the account: create the stack CDKToolkit from the bootstrap template (part 2)."
    )
    ssm = sb.client("ssm")
    try:
        version = ssm.get_parameter(Name=BOOTSTRAP_PARAMETER)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise CheckFailed(f"The bootstrap version parameter {BOOTSTRAP_PARAMETER} is missing.") from None
    _stack(cfn, "AlertsStack", "Deploy the cloud assembly's template with a change set (part 2).")
    _from_cdk(cfn, "AlertsStack")
    topics = [r for r in _resources(cfn, "AlertsStack") if r["ResourceType"] == "AWS::SNS::Topic"]
    if not topics:
        raise CheckFailed("AlertsStack has no SNS topic.", hint="Deploy the app of part 1.")
    stored = ssm.get_parameter(Name="/cdk-lab/alerts-topic-arn")["Parameter"]["Value"]
    if stored not in {t["PhysicalResourceId"] for t in topics}:
        raise CheckFailed("/cdk-lab/alerts-topic-arn does not hold the ARN of the stack's topic.")
    return f"CDKToolkit is deployed (bootstrap version {version}); AlertsStack came from the synthesized template."


@lab_check("cdk.escape-hatch", title="An escape hatch and an L1 construct reach the deployed stack")
def check_escape_hatch(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    _stack(cfn, "AlertsStack", "Run the lab from the sandbox cell down.")
    template = _from_cdk(cfn, "AlertsStack")
    resources = template["Resources"]
    buckets = [r for r in resources.values() if r["Type"] == "AWS::S3::Bucket"]
    tags = [t for b in buckets for t in b.get("Properties", {}).get("Tags", [])]
    if {"Key": "data-class", "Value": "build-artifacts"} not in tags:
        raise CheckFailed(
            "The deployed bucket has no data-class tag.", hint="Run the cells of part 5: override, synth, deploy."
        )
    if resources.get("BuildFlag", {}).get("Type") != "AWS::SSM::Parameter":
        raise CheckFailed("The deployed template has no BuildFlag parameter (the L1 CfnParameter).")
    value = sb.client("ssm").get_parameter(Name="/cdk-lab/build-flag")["Parameter"]["Value"]
    if value != "on":
        raise CheckFailed(f"/cdk-lab/build-flag is {value}; the app says on.")
    return "The bucket's L1 resource carries the overridden tag; the L1 CfnParameter BuildFlag is deployed."


def _queues(sb: Sandbox, cfn: Any) -> dict[str, dict[str, str]]:
    """Each queue of OrdersStack: URL -> its attributes."""
    sqs = sb.client("sqs")
    urls = [r["PhysicalResourceId"] for r in _resources(cfn, "OrdersStack") if r["ResourceType"] == "AWS::SQS::Queue"]
    return {url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"] for url in urls}


@lab_check("cdk.orders-queues", title="Exercise: OrdersStack's queue and dead-letter queue, from CDK", exercise=True)
def check_orders_queues(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    stack = _stack(
        cfn,
        "OrdersStack",
        hint="Write the new app into ORDERS_APP, then assembly = cdk_synth(ORDERS_APP) and "
        'cdk_deploy(assembly, "OrdersStack").',
    )
    _from_cdk(cfn, "OrdersStack")
    queues = _queues(sb, cfn)
    if len(queues) < 2:
        raise CheckFailed(
            f"OrdersStack has {len(queues)} queue(s); it needs the orders queue and its dead-letter queue.",
            hint="Two sqs.Queue constructs: the dead-letter queue, and the orders queue with dead_letter_queue=...",
        )
    by_arn = {attributes["QueueArn"]: (url, attributes) for url, attributes in queues.items()}
    mains = [(url, a) for url, a in queues.items() if a.get("RedrivePolicy")]
    if not mains:
        raise CheckFailed(
            "No queue of OrdersStack has a redrive policy.",
            hint="Give the orders queue dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=dlq).",
        )
    main_url, main = mains[0]
    policy = json.loads(main["RedrivePolicy"])
    if int(policy.get("maxReceiveCount", 0)) != 5:
        raise CheckFailed(
            f"The orders queue moves a message to the dead-letter queue after {policy.get('maxReceiveCount')} "
            "receives; it should be 5.",
            hint="max_receive_count=5 in sqs.DeadLetterQueue.",
        )
    target = by_arn.get(policy.get("deadLetterTargetArn"))
    if target is None:
        raise CheckFailed("The orders queue's dead-letter queue is not a queue of OrdersStack.")
    retention = int(target[1].get("MessageRetentionPeriod", 0))
    if retention != FOURTEEN_DAYS:
        raise CheckFailed(
            f"The dead-letter queue keeps messages for {retention} seconds; 14 days is {FOURTEEN_DAYS}.",
            hint="retention_period=cdk.Duration.days(14) on the dead-letter queue.",
        )
    outputs = {o["OutputValue"] for o in stack.get("Outputs", [])}
    if not outputs & {main_url, main["QueueArn"], main["QueueArn"].split(":")[-1]}:
        raise CheckFailed(
            "OrdersStack has no output with the orders queue's URL.",
            hint='cdk.CfnOutput(self, "OrdersQueueUrl", value=queue.queue_url).',
        )
    return (
        f"OrdersStack is {stack['StackStatus']} from a synthesized template: the orders queue sends a message to its "
        "dead-letter queue after 5 receives; the dead-letter queue keeps messages 14 days; the URL is an output."
    )
