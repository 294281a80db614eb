"""Nested stacks: AWS::CloudFormation::Stack resources whose template lives in S3.

The child is a real stack of the same account and Region, named `<parent>-<LogicalId>-<SUFFIX>`, with
ParentId and RootId set. Its operations run inside the parent's operation, so the parent waits for it:
a child that fails fails its resource in the parent ("Embedded stack ... was not successfully created"),
and the parent's rollback then deletes or rolls back the child. `Ref` returns the child's stack id;
`Fn::GetAtt Child.Outputs.Name` one of its outputs. Updates reach the child through the parent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

from moto.cloudformation.exceptions import CloudFormationError

from .errors import ResourceFailure
from .resources import Provisioned, ResourceRequest, _suffix
from .stack import Stack

_DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


def _engine(request: ResourceRequest):  # type: ignore[no-untyped-def]
    from .engine import engine_for

    return engine_for(request.account_id, request.region)


_S3_ERROR_HELP = "For more information check http://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"


def nested_template(logical_id: str, properties: dict[str, Any], account_id: str) -> str:
    """The child's template, read from the S3 object TemplateURL names (with S3's errors as AWS reports them)."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    url = properties.get("TemplateURL")
    if not url:
        raise ResourceFailure(
            f"Properties validation failed for resource {logical_id} with message:\n"
            "[#: required key [TemplateURL] not found]"
        )
    parts = urlparse(str(url))
    if parts.scheme == "s3":
        raise ResourceFailure(f"S3 error: Domain name specified in {parts.netloc} is not a valid S3 domain")
    if parts.scheme != "https" or not parts.netloc:
        raise ResourceFailure("TemplateURL must be a supported URL.")
    host = parts.netloc.lower()
    if not (host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")):
        raise ResourceFailure(f"S3 error: Domain name specified in {parts.netloc} is not a valid S3 domain")
    if host.startswith("s3.") or host.startswith("s3-"):  # path style: https://s3.<region>.amazonaws.com/bucket/key
        bucket, _, key = parts.path.lstrip("/").partition("/")
    else:  # virtual-hosted style: https://bucket.s3.<region>.amazonaws.com/key
        bucket, key = host.split(".s3", 1)[0], parts.path.lstrip("/")
    try:  # moto finds a bucket of another account of the sandbox too, as S3 does
        obj = s3_backends[account_id]["aws"].get_object(bucket, unquote(key))
    except MissingBucket:
        raise ResourceFailure(f"S3 error: The specified bucket does not exist\n{_S3_ERROR_HELP}") from None
    except Exception:
        raise ResourceFailure(f"S3 error: Access Denied\n{_S3_ERROR_HELP}") from None
    if obj is None:
        raise ResourceFailure(f"S3 error: The specified key does not exist.\n{_S3_ERROR_HELP}")
    return obj.value.decode()


def nested_parameters(properties: dict[str, Any]) -> dict[str, str]:
    """The child's parameter values, as strings (a list becomes a comma-delimited string)."""
    from .intrinsics import as_string

    given = properties.get("Parameters") or {}
    return {k: ",".join(map(as_string, v)) if isinstance(v, list) else as_string(v) for k, v in given.items()}


def _template(request: ResourceRequest) -> str:
    return nested_template(request.logical_id, request.properties, request.account_id)


def _reviewed_name(request: ResourceRequest) -> str | None:
    """The name of the REVIEW_IN_PROGRESS stack a nested change set made for this resource, if there is one:
    executing the root change set creates the nested stack there, as its change set showed."""
    prefix = f"{request.stack_name}-{request.logical_id}-"
    for stack in _engine(request).stacks.values():
        in_review = stack.status == "REVIEW_IN_PROGRESS" and stack.parent_id == request.stack_id
        if in_review and stack.name.startswith(prefix):
            return stack.name
    return None


def _failure_reason(child: Stack) -> str:
    """The child's own reason for failing, as the parent's event quotes it."""
    for event in reversed(child.events):
        if event.physical_id == child.stack_id and event.reason and event.reason != "User Initiated":
            return event.reason.removesuffix(" Rollback requested by user.")
    return child.status


class NestedStackProvider:
    """Creates, updates and deletes the child stack of an AWS::CloudFormation::Stack resource."""

    def _stack_request(self, request: ResourceRequest, name: str, body: str):  # type: ignore[no-untyped-def]
        from .engine import StackRequest

        parent = _engine(request).find_stack(request.stack_id, include_deleted=True)
        tags = [{"Key": t["Key"], "Value": t["Value"]} for t in request.properties.get("Tags") or []]
        return StackRequest(
            name=name,
            template_body=body,
            parameters=nested_parameters(request.properties),
            capabilities=list(parent.capabilities) if parent else [],
            tags=tags or (list(parent.tags) if parent else []),
            notification_arns=request.properties.get("NotificationARNs") or [],
            timeout_in_minutes=request.properties.get("TimeoutInMinutes"),
        ), parent

    def create(self, request: ResourceRequest) -> Provisioned:
        body = _template(request)
        name = _reviewed_name(request) or f"{request.stack_name}-{request.logical_id}-{_suffix()}"[:128]
        stack_request, parent = self._stack_request(request, name, body)
        try:
            child = _engine(request).create_stack(stack_request, parent=parent)
        except CloudFormationError as error:  # the child's template, parameters or capabilities were refused
            raise ResourceFailure(str(error.message)) from None
        provisioned = Provisioned(child.stack_id, child.stack_id, request.properties, child.stack_id)
        if child.status != "CREATE_COMPLETE":
            raise ResourceFailure(
                f"Embedded stack {child.stack_id} was not successfully created: {_failure_reason(child)}",
                provisioned=provisioned,
            )
        return provisioned

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        engine = _engine(request)
        child = engine.find_stack(current.physical_id)
        if child is None:
            raise ResourceFailure(f"Stack {current.physical_id} does not exist")
        stack_request, _ = self._stack_request(request, child.stack_id, _template(request))
        try:
            engine.update_stack(stack_request, rollback=request.rolling_back)
        except CloudFormationError as error:
            if "No updates are to be performed" not in str(error.message):
                raise ResourceFailure(str(error.message)) from None
        if child.status not in _DONE and not (request.rolling_back and child.status == "UPDATE_ROLLBACK_COMPLETE"):
            raise ResourceFailure(
                f"Embedded stack {child.stack_id} was not successfully updated. Currently in "
                f"{child.status.replace('COMPLETE', 'IN_PROGRESS')} with reason: {_failure_reason(child)}"
            )
        return Provisioned(child.stack_id, child.stack_id, request.properties, child.stack_id)

    def delete(self, request: ResourceRequest, current: Provisioned) -> None:
        engine = _engine(request)
        child = engine.find_stack(current.physical_id)
        if child is None or child.deleted_for_good:
            return
        child.termination_protection = False  # a nested stack goes with its parent
        engine.delete_stack(child.stack_id)
        if child.status != "DELETE_COMPLETE":
            raise ResourceFailure(
                f"Embedded stack {child.stack_id} was not successfully deleted: {_failure_reason(child)}"
            )

    def get_att(self, request: ResourceRequest, current: Provisioned, attribute: str) -> Any:
        child = _engine(request).find_stack(current.physical_id, include_deleted=True)
        name = attribute.removeprefix("Outputs.")
        if child is not None and attribute.startswith("Outputs."):
            for output in child.outputs:
                if output.key == name:
                    return output.value
        raise ResourceFailure(f"Template error: Output '{name}' not found in stack '{current.physical_id}'")
