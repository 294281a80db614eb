"""Provisioning: how the engine creates, updates and deletes one resource of a given type.

`MotoProvider` drives moto's own resource models (create/update/delete_from_cloudformation_json), so a
stack's resources are real objects in the sandbox's services: a bucket the stack creates is listed by
s3.list_buckets(). Types moto does not model fail honestly with a reason that says so. Later modules add
providers of their own (nested stacks, custom resources) through `register_provider`.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from moto.moto_api._internal import mock_random

from .errors import ResourceFailure
from .schema import create_only_properties, getatt_names

_SUFFIX_CHARS = string.digits + string.ascii_uppercase
_MIXED_CHARS = string.digits + string.ascii_letters


def _suffix(chars: str = _SUFFIX_CHARS, size: int = 12) -> str:
    return "".join(mock_random.choice(chars) for _ in range(size))


def generated_name(resource_type: str, stack_name: str, logical_id: str) -> str:
    """The physical name CloudFormation makes up when a template gives none."""
    if resource_type == "AWS::SSM::Parameter":
        return f"CFN-{logical_id}-{_suffix(_MIXED_CHARS)}"
    if resource_type == "AWS::S3::Bucket":
        right = f"-{logical_id}-{_suffix()}"
        return f"{stack_name[: 63 - len(right)]}{right}".lower()
    if resource_type in (
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
    ):
        suffix = _suffix()
        return f"{stack_name}-{logical_id}"[: 31 - len(suffix)].rstrip("-") + "-" + suffix
    if resource_type.startswith("AWS::IAM::"):
        suffix = _suffix()
        return f"{stack_name}-{logical_id}"[: 63 - len(suffix)] + "-" + suffix
    return f"{stack_name}-{logical_id}-{_suffix()}"


@dataclass
class ResourceRequest:
    """Everything a provider needs to act on one resource of a stack."""

    logical_id: str
    resource_type: str
    properties: dict[str, Any]
    account_id: str
    region: str
    stack_name: str
    stack_id: str
    rolling_back: bool = False  # an update that puts the resource back during a rollback


@dataclass
class Provisioned:
    """A resource as it exists in the sandbox."""

    physical_id: str
    ref: Any
    properties: dict[str, Any]
    handle: Any = field(default=None, repr=False)
    name: str | None = None  # the physical name used (generated when the template gives none)


class Provider(Protocol):
    """How one resource type is created, updated, deleted and read."""

    def create(self, request: ResourceRequest) -> Provisioned: ...

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned: ...

    def delete(self, request: ResourceRequest, current: Provisioned) -> None: ...

    def get_att(self, request: ResourceRequest, current: Provisioned, attribute: str) -> Any: ...


@cache
def name_property(resource_type: str) -> str | None:
    """The property that names a resource of this type (BucketName, QueueName ...), per moto's models."""
    from moto.cloudformation.parsing import resource_name_property_from_type

    return resource_name_property_from_type(resource_type) or None


def needs_replacement(resource_type: str, region: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The create-only properties whose value changes (non-empty means the update replaces the resource)."""
    return sorted(p for p in create_only_properties(resource_type, region) if old.get(p) != new.get(p))


class MotoProvider:
    """Any type moto models: its CloudFormationModel class does the work inside the sandbox's backends."""

    def __init__(self, model: type) -> None:
        self.model = model

    def _name_property(self, resource_type: str) -> str | None:
        return name_property(resource_type)

    def _with_name(self, request: ResourceRequest, name_prop: str | None) -> tuple[str, dict[str, Any]]:
        props = copy.deepcopy(request.properties)  # moto's models may rewrite what they are given
        if name_prop and props.get(name_prop):
            return str(props[name_prop]), props
        name = generated_name(request.resource_type, request.stack_name, request.logical_id)
        if name_prop:
            props[name_prop] = name
        return name, props

    def create(self, request: ResourceRequest) -> Provisioned:
        name, props = self._with_name(request, self._name_property(request.resource_type))
        try:
            obj = self.model.create_from_cloudformation_json(
                name,
                {"Type": request.resource_type, "Properties": props},
                request.account_id,
                request.region,
                LogicalId=request.logical_id,
                StackId=request.stack_id,
                ResourceType=request.resource_type,
            )
        except ResourceFailure:
            raise
        except Exception as e:  # moto's service errors carry AWS's message; anything else is said plainly
            raise ResourceFailure(_reason(e)) from e
        _tag(obj, request)
        return _provisioned(obj, request.properties, name)

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        update = self.model.update_from_cloudformation_json
        name_prop = self._name_property(request.resource_type)
        props = copy.deepcopy(request.properties)
        if name_prop and not props.get(name_prop) and current.handle is not None:
            props[name_prop] = current.properties.get(name_prop) or _current_name(current)
        if getattr(update, "__isabstractmethod__", False):
            # moto cannot update this type in place: rebuild it under the same name, which leaves the
            # same physical resource id and the new configuration (what an in-place update achieves).
            self.delete(request, current)
            rebuilt = self.create(ResourceRequest(**{**request.__dict__, "properties": props}))
            rebuilt.properties = request.properties  # what the template says, not the name we filled in
            return rebuilt
        try:
            obj = update(
                original_resource=current.handle,
                new_resource_name=props.get(name_prop) if name_prop else current.physical_id,
                cloudformation_json={"Type": request.resource_type, "Properties": props},
                account_id=request.account_id,
                region_name=request.region,
            )
        except Exception as e:
            raise ResourceFailure(_reason(e)) from e
        _tag(obj, request)
        return _provisioned(obj, request.properties, props.get(name_prop) if name_prop else current.name)

    def delete(self, request: ResourceRequest, current: Provisioned) -> None:
        obj = current.handle
        try:
            try:
                obj.delete(request.account_id, request.region)
            except (TypeError, AttributeError):
                delete = self.model.delete_from_cloudformation_json
                if getattr(delete, "__isabstractmethod__", False):
                    return
                delete(
                    current.physical_id,
                    {"Properties": current.properties},
                    request.account_id,
                    request.region,
                )
        except Exception as e:
            raise ResourceFailure(_reason(e)) from e

    def get_att(self, request: ResourceRequest, current: Provisioned, attribute: str) -> Any:
        obj = current.handle
        if obj is not None and type(obj).has_cfn_attr(attribute):
            try:
                return obj.get_cfn_attribute(attribute)
            except Exception:
                pass
        top = attribute.split(".")[0]
        if top in current.properties:
            value: Any = current.properties
            for part in attribute.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                return value
        raise ResourceFailure(
            f"The course sandbox cannot read attribute {attribute} of {request.resource_type} (moto does not model it)."
        )


def _provisioned(obj: Any, properties: dict[str, Any], name: str | None) -> Provisioned:
    # a few moto models (RDS DB subnet groups, for one) have no physical_resource_id: their name is it
    physical = getattr(obj, "physical_resource_id", None) or name
    return Provisioned(str(physical), physical, properties, obj, name)


def _current_name(current: Provisioned) -> str:
    """The physical name in use: the one recorded, else the moto object's, else the physical id."""
    return current.name or getattr(current.handle, "name", None) or current.physical_id


def _tag(obj: Any, request: ResourceRequest) -> None:
    """Mark the moto object the way moto's own stack code does (used by moto's describe helpers)."""
    try:
        obj.logical_resource_id = request.logical_id
        obj.cf_resource_type = request.resource_type
    except AttributeError:
        pass


def _reason(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    code = getattr(error, "code", None)
    if isinstance(code, str) and code not in message:
        return f"{message} (Service: {code})"
    if isinstance(error, (KeyError, TypeError, AttributeError, ValueError)):
        return f"The course sandbox could not provision this resource ({type(error).__name__}: {error})."
    return message


class UnsupportedProvider:
    """A real AWS type that the sandbox cannot emulate: every operation fails with that reason."""

    def _fail(self, request: ResourceRequest) -> Any:
        raise ResourceFailure(
            f"The course sandbox cannot create {request.resource_type} resources: moto does not model this "
            "type. (On AWS this resource would be created.)"
        )

    def create(self, request: ResourceRequest) -> Provisioned:
        return self._fail(request)

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        return self._fail(request)

    def delete(self, request: ResourceRequest, current: Provisioned) -> None:
        return None

    def get_att(self, request: ResourceRequest, current: Provisioned, attribute: str) -> Any:
        return self._fail(request)


_PROVIDERS: dict[str, Callable[[], Provider]] = {}


def register_provider(resource_type: str, factory: Callable[[], Provider]) -> None:
    """Let a fidelity module handle a type itself (checked before moto's models)."""
    _PROVIDERS[resource_type] = factory


def provider_for(resource_type: str) -> Provider:
    """The provider that handles a resource type in the sandbox."""
    if resource_type in _PROVIDERS:
        return _PROVIDERS[resource_type]()
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        from .custom_resources import CustomResourceProvider

        return CustomResourceProvider()
    if resource_type == "AWS::CloudFormation::Stack":
        from .nested_stacks import NestedStackProvider

        return NestedStackProvider()
    from moto.cloudformation.parsing import get_model_map

    model = get_model_map().get(resource_type)
    return MotoProvider(model) if model is not None else UnsupportedProvider()


class S3BucketProvider(MotoProvider):
    """S3 refuses to delete a bucket that still holds objects; moto's CloudFormation hook skips it silently."""

    def delete(self, request: ResourceRequest, current: Provisioned) -> None:
        from moto.s3.exceptions import BucketNotEmpty
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        backend = s3_backends[request.account_id][get_partition(request.region)]
        bucket = backend.buckets.get(current.physical_id)
        if bucket is not None and bucket.keys:
            raise ResourceFailure(_reason(BucketNotEmpty(current.physical_id)))
        super().delete(request, current)


def _s3_bucket_provider() -> Provider:
    from moto.cloudformation.parsing import get_model_map

    return S3BucketProvider(get_model_map()["AWS::S3::Bucket"])


register_provider("AWS::S3::Bucket", _s3_bucket_provider)


def valid_getatt(resource_type: str, region: str, attribute: str) -> bool:
    """True if Fn::GetAtt may ask this type for this attribute."""
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        return True
    if resource_type == "AWS::CloudFormation::Stack" and attribute.startswith("Outputs."):
        return True
    return attribute in getatt_names(resource_type, region)
