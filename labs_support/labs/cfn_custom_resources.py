"""Checks of the module 'Custom resources' (cfn-custom-resources)."""

from __future__ import annotations

import json
import re
from typing import Any

from ..checks import CheckFailed, lab_check
from ..sandbox import Sandbox
from . import common

NO_RESPONSE = "did not receive a response from your Custom Resource"
FAILED_RESPONSE = "Received response status [FAILED] from custom resource. Message returned: "


def _events(cfn: Any, stack_id: str) -> list[dict[str, Any]]:
    """A stack's events, oldest first."""
    return list(reversed(cfn.describe_stack_events(StackName=stack_id)["StackEvents"]))


def _requests(sb: Sandbox, cfn: Any, stack_id: str, function_logical_id: str) -> list[dict[str, Any]]:
    """The custom resource requests a stack's function logged (its handler prints each request first)."""
    names = [
        e["PhysicalResourceId"]
        for e in _events(cfn, stack_id)
        if e["LogicalResourceId"] == function_logical_id and e["ResourceStatus"] == "CREATE_COMPLETE"
    ]
    if not names:
        return []
    logs = sb.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{names[-1]}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"]) for e in events if e["message"].startswith('{"RequestType"')]


def _latest(cfn: Any, name: str) -> dict[str, Any] | None:
    """The most recent stack of that name, live or deleted (ListStacks keeps deleted stacks)."""
    summaries = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == name]
    return max(summaries, key=lambda s: s["CreationTime"]) if summaries else None


def _object_etag(s3: Any, uri: str) -> str | None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except s3.exceptions.ClientError:
        return None


@lab_check("cfn-custom-resources.config-file", title="A Lambda-backed custom resource wrote the config file")
def config_file(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    stack = common.live_stack(cfn, "config", "Run the cells of '1. A handler that works' again.")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resource = common.resources(cfn, stack["StackId"]).get("AppConfig", {})
    physical_id = resource.get("PhysicalResourceId", "")
    if outputs.get("ConfigUri") != physical_id or not physical_id.startswith("s3://"):
        raise CheckFailed(
            f"The ConfigUri output ({outputs.get('ConfigUri')}) is not the custom resource's physical id "
            f"({physical_id}).",
            hint="Deploy config-file.yaml as it is: its ConfigUri output is !Ref AppConfig.",
        )
    etag = _object_etag(sb.client("s3"), physical_id)
    if etag is None:
        raise CheckFailed(
            f"S3 has no object at {physical_id}, although the custom resource says it wrote one.",
            hint="Did a cell delete the config file with the S3 API? Run the cells of part 1 again from the sandbox.",
        )
    if outputs.get("ConfigETag") != etag:
        raise CheckFailed(
            "The ConfigETag output does not match the ETag of the config file in S3.",
            hint="ConfigETag is !GetAtt AppConfig.ETag: the ETag key of the Data the handler sent.",
        )
    requests = _requests(sb, cfn, stack["StackId"], "ConfigWriterFunction")
    if not any(r["RequestType"] == "Create" and r["LogicalResourceId"] == "AppConfig" for r in requests):
        raise CheckFailed(
            "The function's CloudWatch Logs hold no Create request for AppConfig.",
            hint="The handler prints each request it receives: read the log group /aws/lambda/<function name> "
            "with logs.filter_log_events.",
        )
    return (
        f"config is {stack['StackStatus']}: Ref AppConfig = {physical_id}, GetAtt AppConfig.ETag matches the "
        "object in S3, and the function logged the Create request it answered."
    )


@lab_check("cfn-custom-resources.update-replace", title="An in-place update, then a replacement and its Delete")
def update_replace(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    stack = common.live_stack(cfn, "config", "Run the cells of '1. A handler that works' and of part 3 again.")
    if common.parameter(stack, "LogLevel") != "DEBUG" or common.parameter(stack, "ConfigKey") != "app/config.json":
        raise CheckFailed(
            "The config stack does not have LogLevel=DEBUG and ConfigKey=app/config.json yet.",
            hint="Run both update_stack cells of part 3, in order.",
        )
    requests = _requests(sb, cfn, stack["StackId"], "ConfigWriterFunction")
    in_place = [
        r
        for r in requests
        if r["RequestType"] == "Update"
        and r.get("OldResourceProperties", {}).get("Settings", {}).get("logLevel") == "INFO"
        and r["ResourceProperties"]["Settings"].get("logLevel") == "DEBUG"
    ]
    if not in_place:
        raise CheckFailed(
            "The function never received the Update that changed logLevel from INFO to DEBUG.",
            hint="Run the first update of part 3 (LogLevel=DEBUG) before the one that changes ConfigKey.",
        )
    old_id = in_place[0]["PhysicalResourceId"]
    new_id = common.resources(cfn, stack["StackId"])["AppConfig"]["PhysicalResourceId"]
    if new_id == old_id:
        raise CheckFailed(
            "AppConfig still has its first physical id: nothing was replaced.",
            hint="Run the second update of part 3 (ConfigKey=app/config.json).",
        )
    if not any(r["RequestType"] == "Delete" and r.get("PhysicalResourceId") == old_id for r in requests):
        raise CheckFailed(
            f"CloudFormation never sent a Delete request for the old physical id {old_id}.",
            hint="A new PhysicalResourceId in an Update response makes CloudFormation delete the old one in the "
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS phase: look at the stack's latest events.",
        )
    s3 = sb.client("s3")
    if _object_etag(s3, old_id) is not None or _object_etag(s3, new_id) is None:
        raise CheckFailed(
            "S3 does not hold exactly the new config file: the old one should be gone and the new one there.",
            hint="Did a cell write or delete config files with the S3 API? Run part 1 and part 3 again.",
        )
    return (
        f"The LogLevel update kept {old_id} (OldResourceProperties showed INFO); the new key made the handler "
        f"answer {new_id}, and CloudFormation's Delete of the old id removed the old file."
    )


def _reason(events: list[dict[str, Any]], logical_id: str, status: str) -> str | None:
    found = [
        e.get("ResourceStatusReason") or ""
        for e in events
        if e["LogicalResourceId"] == logical_id and e["ResourceStatus"] == status
    ]
    return found[-1] if found else None


@lab_check("cfn-custom-resources.flags", title="Exercise: a handler that always answers", exercise=True)
def flags_exercise(sb: Sandbox) -> str:
    cfn = sb.client("cloudformation")
    deploy_hint = "Run the exercise cell, then the deploy cell below it."
    bad = _latest(cfn, "flags-bad")
    good = _latest(cfn, "flags")
    if bad is None or good is None:
        raise CheckFailed("The exercise stacks flags and flags-bad have not been deployed yet.", hint=deploy_hint)

    # 1. Invalid input: the handler must answer FAILED with a reason, not leave CloudFormation waiting.
    bad_events = _events(cfn, bad["StackId"])
    if any(e["LogicalResourceId"] == "flags-bad" and e["ResourceStatus"] == "CREATE_COMPLETE" for e in bad_events):
        raise CheckFailed(
            "flags-bad was created although its checkout-v2 flag is 'yes'.",
            hint="Keep as_bool's check: the exercise is about reporting the ValueError to CloudFormation, "
            "not about accepting 'yes'.",
        )
    reason = _reason(bad_events, "Flags", "CREATE_FAILED")
    if reason is None:
        raise CheckFailed(f"flags-bad is {bad['StackStatus']} and its Flags resource never failed.", hint=deploy_hint)
    if NO_RESPONSE in reason:
        raise CheckFailed(
            "flags-bad failed only because its ServiceTimeout ran out: the handler raised ValueError for "
            "'yes' and never answered, so CloudFormation waited (60 s here, an hour by default).",
            hint="Wrap the handler's work in try/except and call cfnresponse.send in a finally block: "
            "cfnresponse.FAILED with reason=f'{type(error).__name__}: {error}' when an exception was raised.",
        )
    if not reason.startswith(FAILED_RESPONSE):
        raise CheckFailed(f"Flags failed in flags-bad with: {reason}", hint="Read the handler's log for this request.")
    message = re.sub(r" \(RequestId: [^)]*\)$", "", reason.removeprefix(FAILED_RESPONSE))
    if "checkout-v2" not in message:
        raise CheckFailed(
            f'The handler answered FAILED, but its reason does not say what was wrong: "{message}".',
            hint="Pass the exception's message to cfnresponse.send as reason=..., so the stack event names the "
            "flag and the value that was refused.",
        )

    # 2. Valid input: created, then deleted cleanly (the deploy cell deletes it).
    good_events = _events(cfn, good["StackId"])
    if not any(e["LogicalResourceId"] == "flags" and e["ResourceStatus"] == "CREATE_COMPLETE" for e in good_events):
        failure = _reason(good_events, "Flags", "CREATE_FAILED") or good["StackStatus"]
        raise CheckFailed(
            f"The flags stack (valid input) was not created: {failure}",
            hint="For Create, the handler must still write flags.json and answer SUCCESS with the s3:// "
            "physical id and Data {'Count': ...}.",
        )
    if good["StackStatus"] == "DELETE_COMPLETE":
        return (
            f"flags-bad failed at once with the handler's reason ({message}), and flags was created and "
            "deleted cleanly: the handler always answers, Delete included."
        )
    delete_reason = _reason(good_events, "Flags", "DELETE_FAILED")
    if delete_reason and NO_RESPONSE in delete_reason:
        raise CheckFailed(
            "Deleting the flags stack failed: the handler sent no response to the Delete request.",
            hint="Handle RequestType 'Delete' too: delete the file the physical id names and answer SUCCESS "
            "(CloudFormation sends Delete when a stack is deleted or rolled back).",
        )
    if delete_reason:
        raise CheckFailed(f"Deleting the flags stack failed: {delete_reason}", hint="Read the handler's log.")
    bucket_reason = _reason(good_events, "FlagsBucket", "DELETE_FAILED")
    if bucket_reason:
        raise CheckFailed(
            f"The handler answered Delete, but CloudFormation could not delete the bucket: {bucket_reason}",
            hint="On Delete, remove the object the PhysicalResourceId names (s3://bucket/flags.json) before "
            "answering SUCCESS.",
        )
    raise CheckFailed(f"The flags stack is {good['StackStatus']}, not DELETE_COMPLETE.", hint=deploy_hint)
