"""Checks of the module 'CloudFormation templates at the professional level' (cfn-templates)."""

from __future__ import annotations

from ..checks import CheckFailed, lab_check
from ..emulator.cloudformation.template import parse_template
from ..sandbox import Sandbox
from . import common


@lab_check("cfn-templates.network", title="The production network stack and its exports")
def network(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    stack = common.live_stack(cfn, "network", "Run the cells of 'Deploy the network stack' again.")
    if common.parameter(stack, "EnvType") != "prod":
        raise CheckFailed(
            f"The network stack was deployed with EnvType '{common.parameter(stack, 'EnvType')}', not 'prod'.",
            hint="Deploy it with Parameters=[{'ParameterKey': 'EnvType', 'ParameterValue': 'prod'}].",
        )
    resources = common.resources(cfn, stack["StackId"])
    if "AppSubnetB" not in resources:
        raise CheckFailed(
            "In production the template should create a second subnet (AppSubnetB), and it is missing.",
            hint="Look at the IsProd condition and the Condition attribute of AppSubnetB.",
        )
    exports = common.exports(cfn)
    missing = [n for n in ("network-VpcId", "network-AppSubnetIds", "network-AppSecurityGroupId") if n not in exports]
    if missing:
        raise CheckFailed(
            f"These exports are missing: {', '.join(missing)}.",
            hint="Exports come from the Export: Name: entries under Outputs.",
        )
    if exports["network-VpcId"] != resources["Vpc"]["PhysicalResourceId"]:
        raise CheckFailed(
            "network-VpcId does not hold the id of the stack's VPC.", hint="The VpcId output should be !Ref Vpc."
        )
    return f"network is {stack['StackStatus']} in prod with 2 subnets and 3 exports."


@lab_check("cfn-templates.cross-stack", title="The app stack imports the network's exports and a public AMI id")
def cross_stack(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    stack = common.live_stack(cfn, "app", "Run the cells of 'Cross-stack references' again.")
    for export in ("network-VpcId", "network-AppSecurityGroupId"):
        try:
            importers = cfn.list_imports(ExportName=export)["Imports"]
        except cfn.exceptions.ClientError:
            importers = []
        if "app" not in importers:
            raise CheckFailed(
                f"The app stack does not import {export}.",
                hint="It reads it with Fn::ImportValue: !Sub '${NetworkStackName}-...'.",
            )
    ami = next(
        (p.get("ResolvedValue") for p in stack.get("Parameters", []) if p["ParameterKey"] == "LatestAmiId"), None
    )
    if not ami or not ami.startswith("ami-"):
        raise CheckFailed(
            "LatestAmiId did not resolve to an AMI id.",
            hint="Its type must be AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>.",
        )
    return f"app imports 2 exports of network; LatestAmiId resolved to {ami}."


@lab_check("cfn-templates.retain", title="Deleting the network stack kept the log bucket (DeletionPolicy: Retain)")
def retain(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    deleted = [
        s
        for s in cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
        if s["StackName"] == "network"
    ]
    if not deleted:
        raise CheckFailed(
            "The network stack has not been deleted yet.",
            hint="Delete the app stack first (it imports network's exports), then the network stack.",
        )
    resources = common.resources(cfn, deleted[0]["StackId"])
    bucket = resources.get("LogBucket", {})
    if bucket.get("ResourceStatus") != "DELETE_SKIPPED":
        raise CheckFailed(
            "CloudFormation deleted the log bucket with the stack.",
            hint="LogBucket needs DeletionPolicy: Retain in the template.",
        )
    names = {b["Name"] for b in sb.client("s3").list_buckets()["Buckets"]}
    if bucket.get("PhysicalResourceId") not in names:
        raise CheckFailed(
            "The stack says it kept the bucket, but S3 no longer lists it.",
            hint="Did a cell delete the bucket with the S3 API?",
        )
    return f"network is DELETE_COMPLETE and its bucket {bucket['PhysicalResourceId']} still exists."


@lab_check("cfn-templates.logging", title="Exercise: a production-ready logging stack", exercise=True)
def logging_exercise(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    stack = common.live_stack(cfn, "logging", "Run the exercise cell and then the deploy cell below it.")
    if common.parameter(stack, "EnvType") != "prod":
        raise CheckFailed(
            "The logging stack was not deployed with EnvType=prod.",
            hint="Use the deploy cell below the exercise as it is: it passes EnvType=prod.",
        )
    resources = common.resources(cfn, stack["StackId"])
    if "ArchiveQueue" not in resources:
        raise CheckFailed(
            "EnvType is prod, yet the stack has no ArchiveQueue: the IsProd condition is false.",
            hint="Fn::Equals compares EnvType with a string. Which values can EnvType take (AllowedValues)?",
        )
    export_name = "logging-BucketName"
    exports = common.exports(cfn)
    bucket = resources.get("LogBucket", {}).get("PhysicalResourceId")
    if export_name not in exports:
        raise CheckFailed(
            f"No stack exports {export_name}, so other stacks cannot import the bucket name.",
            hint="Under Outputs › BucketName add  Export: {Name: !Sub '${AWS::StackName}-BucketName'}",
        )
    if exports[export_name] != bucket:
        raise CheckFailed(
            f"{export_name} exports '{exports[export_name]}', not the bucket's name.",
            hint="The output's Value should be !Ref LogBucket.",
        )
    body = cfn.get_template(StackName=stack["StackId"])["TemplateBody"]
    template = body if isinstance(body, dict) else parse_template(body)  # boto3 decodes JSON bodies
    policy = template["Resources"].get("LogBucket", {}).get("DeletionPolicy")
    if policy != "Retain":
        raise CheckFailed(
            "Deleting this stack would delete the log bucket and the logs in it.",
            hint="Give LogBucket the attribute DeletionPolicy: Retain (beside Type, not under Properties).",
        )
    return f"In prod the stack creates ArchiveQueue, exports {export_name} and keeps {bucket} on deletion."
