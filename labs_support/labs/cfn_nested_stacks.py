"""Checks of the module 'Nested stacks' (cfn-nested-stacks)."""

from __future__ import annotations

from typing import Any

from ..checks import CheckFailed, lab_check
from ..sandbox import Sandbox
from . import common

CHILDREN = ("Network", "Database", "Compute")
NESTED = "AWS::CloudFormation::Stack"


def _children(cfn: Any, stack: dict[str, Any], expected: tuple[str, ...], hint: str) -> dict[str, dict[str, Any]]:
    """The nested stacks of a root, by logical id (described with DescribeStacks)."""
    resources = common.resources(cfn, stack["StackId"])
    missing = [n for n in expected if resources.get(n, {}).get("ResourceType") != NESTED]
    if missing:
        raise CheckFailed(
            f"Stack '{stack['StackName']}' has no nested stack called {', '.join(missing)}.",
            hint=hint,
        )
    children = {}
    for name in expected:
        child_id = resources[name].get("PhysicalResourceId")
        if not child_id:
            raise CheckFailed(f"The nested stack {name} was never created.", hint=hint)
        children[name] = cfn.describe_stacks(StackName=child_id)["Stacks"][0]
    return children


def _output(stack: dict[str, Any], key: str) -> str | None:
    return next((o["OutputValue"] for o in stack.get("Outputs", []) if o["OutputKey"] == key), None)


@lab_check("cfn-nested-stacks.tree", title="The webapp root stack and its three nested stacks")
def tree(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    deploy = "Run the cells of '1. Publish the building blocks and deploy the root' again, from the sandbox cell."
    root = common.live_stack(cfn, "webapp", deploy)
    if root.get("ParentId"):
        raise CheckFailed("'webapp' should be the root stack, but it has a parent.", hint=deploy)
    children = _children(
        cfn, root, CHILDREN, "The root template declares Network, Database and Compute as AWS::CloudFormation::Stack."
    )
    for name, child in children.items():
        if child.get("ParentId") != root["StackId"] or child.get("RootId") != root["StackId"]:
            raise CheckFailed(
                f"The {name} stack does not name webapp as its parent and root.",
                hint="Describe the child: ParentId and RootId should both be webapp's stack id.",
            )
        if child["StackStatus"] not in common.DONE:
            raise CheckFailed(f"The {name} stack is {child['StackStatus']}.", hint=deploy)
    compute = {p["ParameterKey"]: p["ParameterValue"] for p in children["Compute"].get("Parameters", [])}
    if compute.get("TableName") != _output(children["Database"], "TableName"):
        raise CheckFailed(
            "The Compute stack did not receive the Database stack's table name.",
            hint="In the root template, Compute's TableName parameter is !GetAtt Database.Outputs.TableName.",
        )
    if _output(root, "NetworkStackId") != children["Network"]["StackId"]:
        raise CheckFailed(
            "The root's NetworkStackId output is not the Network stack's id.",
            hint="Ref on an AWS::CloudFormation::Stack resource returns the nested stack's id: !Ref Network.",
        )
    return (
        f"webapp is {root['StackStatus']} with 3 nested stacks whose ParentId and RootId are webapp; "
        "Compute gets its table name from Database's outputs."
    )


@lab_check("cfn-nested-stacks.rollback", title="A failed child rolled the whole tree back")
def rollback(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    redo = "Run the lab again from the sandbox cell down to '4. A child that fails rolls back the whole tree'."
    try:
        root = cfn.describe_stacks(StackName="webapp")["Stacks"][0]
    except cfn.exceptions.ClientError:
        raise CheckFailed("There is no stack called 'webapp'.", hint=redo) from None
    if root["StackStatus"] != "UPDATE_ROLLBACK_COMPLETE":
        raise CheckFailed(
            f"webapp is {root['StackStatus']}, not UPDATE_ROLLBACK_COMPLETE: the failing update has not run yet.",
            hint="Run the cell of part 4 that sets LogRetentionDays to 45.",
        )
    children = _children(cfn, root, CHILDREN, redo)
    events = cfn.describe_stack_events(StackName=root["StackId"])["StackEvents"]
    embedded = [
        e
        for e in events
        if e["LogicalResourceId"] == "Compute"
        and e["ResourceStatus"] == "UPDATE_FAILED"
        and "was not successfully updated" in (e.get("ResourceStatusReason") or "")
    ]
    if not embedded:
        raise CheckFailed(
            "The root's events show no failed update of the Compute stack.",
            hint="Part 4's update must reach Compute: it passes LogRetentionDays=45 through the root.",
        )
    params = {p["ParameterKey"]: p["ParameterValue"] for p in root.get("Parameters", [])}
    if params.get("PointInTimeRecovery") != "false" or params.get("LogRetentionDays") != "14":
        raise CheckFailed(
            "After the rollback the root should have its previous parameter values again.",
            hint="Rolling back restores PointInTimeRecovery=false and LogRetentionDays=14; run part 4 again.",
        )
    database = children["Database"]
    if database["StackStatus"] != "UPDATE_ROLLBACK_COMPLETE":
        raise CheckFailed(
            f"The Database stack is {database['StackStatus']}: its successful update was not rolled back.",
            hint="The Database child updated first; the root's rollback must put it back too.",
        )
    table = _output(database, "TableName")
    pitr = sb.client("dynamodb").describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    if pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] != "DISABLED":
        raise CheckFailed(
            f"Point-in-time recovery of {table} is still on, although the update that switched it on rolled back.",
            hint="Look at the Database stack's events: its rollback should update OrdersTable again.",
        )
    lt_id = _output(children["Compute"], "LaunchTemplateId")
    versions = sb.client("ec2").describe_launch_template_versions(LaunchTemplateId=lt_id, Versions=["$Latest"])
    instance_type = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"].get("InstanceType")
    if instance_type != "t3.small":
        raise CheckFailed(
            f"The launch template's latest version uses {instance_type}, not the t3.small of part 3.",
            hint="Part 3 updates the root with InstanceType=t3.small; a later rollback only undoes part 4.",
        )
    return (
        "Compute failed, webapp rolled back (UPDATE_ROLLBACK_COMPLETE) and took Database back with it: "
        f"point-in-time recovery of {table} is off again, and part 3's t3.small is kept."
    )


@lab_check("cfn-nested-stacks.logging", title="Exercise: a shared log bucket from the standard template", exercise=True)
def logging_exercise(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    root = common.live_stack(cfn, "observability", "Run the exercise cell and then the deploy cell below it.")
    child = _children(
        cfn,
        root,
        ("Logging",),
        "Keep the resource called Logging, of type AWS::CloudFormation::Stack, with the TemplateURL given.",
    )["Logging"]
    retention = common.parameter(child, "RetentionDays")
    if retention != "365":
        raise CheckFailed(
            f"The Logging stack keeps log objects for {retention} days, its template's default, not 365.",
            hint="A nested stack only receives the parameters its parent passes: add  Parameters: {RetentionDays: 365}"
            "  under the Logging resource's Properties.",
        )
    bucket = _output(child, "BucketName")
    value = _output(root, "LogBucketName")
    if value is None:
        raise CheckFailed("The root stack has no output called LogBucketName.", hint="Keep the LogBucketName output.")
    if value.startswith("arn:aws:cloudformation:"):
        raise CheckFailed(
            f"LogBucketName holds {value}: the id of the Logging stack, not the name of its bucket.",
            hint="Ref on a nested stack returns its stack id. Read the child's output with "
            "!GetAtt Logging.Outputs.BucketName.",
        )
    if value != bucket:
        raise CheckFailed(
            f"LogBucketName is '{value}', but the Logging stack's bucket is '{bucket}'.",
            hint="Read the child's output with !GetAtt Logging.Outputs.BucketName.",
        )
    export_name = "observability-LogBucketName"
    exports = common.exports(cfn)
    if exports.get(export_name) != bucket:
        raise CheckFailed(
            f"No stack exports {export_name}, so application stacks cannot import the bucket's name.",
            hint="Under Outputs › LogBucketName add  Export: {Name: !Sub '${AWS::StackName}-LogBucketName'}",
        )
    return f"The Logging child keeps logs 365 days, and observability exports its bucket {bucket} as {export_name}."
