"""Nested stacks: AWS::CloudFormation::Stack resources whose template lives in S3.

The child is a real stack of the same account and Region, named `<parent>-<LogicalId>-<SUFFIX>`, with
ParentId and RootId set. Its operations run inside the parent's operation, so the parent waits for it:
a child that fails fails its resource in the parent ("Embedded stack ... was not successfully created"),
and the parent's rollback then deletes or rolls back the child. `Ref` returns the child's stack id;
`Fn::GetAtt Child.Outputs.Name` one of its outputs. Updates reach the child through the parent.
"""

from __future__ import annotations

from typing import Any

from .errors import ResourceFailure, ValidationError
from .resources import Provisioned, ResourceRequest, _suffix
from .stack import Stack

_DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


def _engine(request: ResourceRequest):  # type: ignore[no-untyped-def]
    from .engine import engine_for

    return engine_for(request.account_id, request.region)


def _template(request: ResourceRequest) -> str:
    from moto.cloudformation.utils import get_stack_from_s3_url

    url = request.properties.get("TemplateURL")
    if not url:
        raise ResourceFailure(
            f"Properties validation failed for resource {request.logical_id} with message:\n"
            "[#: required key [TemplateURL] not found]"
        )
    if not str(url).startswith("https://"):
        raise ResourceFailure("TemplateURL must be a supported URL.")
    try:
        body = get_stack_from_s3_url(str(url), account_id=request.account_id, partition="aws")
    except Exception:
        raise ResourceFailure(f"Template could not be read from {url}: the object does not exist.") from None
    return body if isinstance(body, str) else body.decode()


def _parameters(request: ResourceRequest) -> dict[str, str]:
    from .intrinsics import as_string

    given = request.properties.get("Parameters") or {}
    return {k: ",".join(map(as_string, v)) if isinstance(v, list) else as_string(v) for k, v in given.items()}


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
            parameters=_parameters(request),
            capabilities=list(parent.capabilities) if parent else [],
            tags=tags or (list(parent.tags) if parent else []),
            notification_arns=request.properties.get("NotificationARNs") or [],
            timeout_in_minutes=request.properties.get("TimeoutInMinutes"),
        ), parent

    def create(self, request: ResourceRequest) -> Provisioned:
        body = _template(request)
        name = f"{request.stack_name}-{request.logical_id}-{_suffix()}"[:128]
        stack_request, parent = self._stack_request(request, name, body)
        try:
            child = _engine(request).create_stack(stack_request, parent=parent)
        except ValidationError as error:  # the child's template or parameters were refused
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
        except ValidationError as error:
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
