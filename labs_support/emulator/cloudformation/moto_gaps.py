"""Template properties that moto's CloudFormation models leave out, applied so resources match their templates.

Drift detection reads a resource back and compares it with its template, so whatever provisioning skips shows
up as false drift on a stack nobody touched. moto 5.2.5's models ignore, among others: a VPC's DNS
attributes, a subnet's MapPublicIpOnLaunch (moto makes every first subnet of a zone public), security
group egress rules and rule descriptions, a bucket's VersioningConfiguration and
PublicAccessBlockConfiguration, and a role's ManagedPolicyArns. Their updates are incomplete too: VPCs and
subnets are rebuilt with new ids, security groups are deleted and recreated, a role's update changes only
its description, a queue's only two attributes. On AWS all of these update in place ("No interruption").

Each provider here lets moto's model create the resource, then applies the rest through the same service
backend a boto3 call would reach; updates that AWS makes in place are made in place.
"""

from __future__ import annotations

import json
from typing import Any

from moto.utilities.utils import get_partition

from .errors import ResourceFailure
from .resources import MotoProvider, Provider, Provisioned, ResourceRequest, S3BucketProvider, register_provider


def _model(resource_type: str) -> type:
    from moto.cloudformation.parsing import get_model_map

    return get_model_map()[resource_type]


def _ec2(request: ResourceRequest):  # type: ignore[no-untyped-def]
    from moto.ec2.models import ec2_backends

    return ec2_backends[request.account_id][request.region]


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def _tags(tags: Any) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in tags or []}


def _retag_ec2(request: ResourceRequest, resource_id: str, old: dict[str, Any]) -> None:
    backend = _ec2(request)
    before, after = _tags(old.get("Tags")), _tags(request.properties.get("Tags"))
    gone = [k for k in before if k not in after]
    if gone:
        backend.delete_tags([resource_id], {k: None for k in gone})
    if after:
        backend.create_tags([resource_id], after)


def _in_place(request: ResourceRequest, current: Provisioned) -> Provisioned:
    return Provisioned(current.physical_id, current.ref, request.properties, current.handle)


def _fail_plainly(function):  # type: ignore[no-untyped-def]
    def wrapped(*args: Any) -> Any:
        try:
            return function(*args)
        except ResourceFailure:
            raise
        except Exception as e:
            raise ResourceFailure(getattr(e, "message", None) or str(e)) from e

    return wrapped


# -- Amazon EC2 -----------------------------------------------------------------------------------------
class _Ec2AttributesProvider(MotoProvider):
    """An EC2 resource whose attributes moto's model ignores: `_apply` sets them after moto creates it, and
    an update sets them (and the tags) in place."""

    def _apply(self, request: ResourceRequest, resource_id: str) -> None:
        raise NotImplementedError

    def create(self, request: ResourceRequest) -> Provisioned:
        provisioned = super().create(request)
        self._apply(request, provisioned.physical_id)
        return provisioned

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        self._apply(request, current.physical_id)
        _retag_ec2(request, current.physical_id, current.properties)
        return _in_place(request, current)


class VpcProvider(_Ec2AttributesProvider):
    """EnableDnsSupport / EnableDnsHostnames applied; attribute and tag changes made in place."""

    def __init__(self) -> None:
        super().__init__(_model("AWS::EC2::VPC"))

    @_fail_plainly
    def _apply(self, request: ResourceRequest, vpc_id: str) -> None:
        props = request.properties
        backend = _ec2(request)
        backend.modify_vpc_attribute(vpc_id, "enable_dns_support", _flag(props.get("EnableDnsSupport", True)))
        backend.modify_vpc_attribute(vpc_id, "enable_dns_hostnames", _flag(props.get("EnableDnsHostnames", False)))


class SubnetProvider(_Ec2AttributesProvider):
    """MapPublicIpOnLaunch as the template says (false by default, as in any VPC but the default one)."""

    def __init__(self) -> None:
        super().__init__(_model("AWS::EC2::Subnet"))

    @_fail_plainly
    def _apply(self, request: ResourceRequest, subnet_id: str) -> None:
        props = request.properties
        backend = _ec2(request)
        backend.modify_subnet_attribute(subnet_id, "map_public_ip_on_launch", _flag(props.get("MapPublicIpOnLaunch")))
        backend.modify_subnet_attribute(
            subnet_id, "assign_ipv6_address_on_creation", _flag(props.get("AssignIpv6AddressOnCreation"))
        )


def _rule_arguments(rule: dict[str, Any], egress: bool) -> dict[str, Any]:
    """A template Ingress/Egress item as the arguments of moto's authorize_security_group_* call."""
    description = {"Description": rule["Description"]} if rule.get("Description") else {}
    ip_ranges: list[dict[str, Any]] = []
    source_groups: list[dict[str, Any]] = []
    prefix_lists: list[dict[str, Any]] = []
    for key in ("CidrIp", "CidrIpv6"):
        if rule.get(key):
            ip_ranges.append({key: rule[key], **description})
    group = rule.get("DestinationSecurityGroupId" if egress else "SourceSecurityGroupId")
    if group:
        source_groups.append({"GroupId": group, **description})
    elif not egress and rule.get("SourceSecurityGroupName"):
        source_groups.append({"GroupName": rule["SourceSecurityGroupName"], **description})
    prefix = rule.get("DestinationPrefixListId" if egress else "SourcePrefixListId")
    if prefix:
        prefix_lists.append({"PrefixListId": prefix, **description})
    protocol = str(rule.get("IpProtocol", "-1"))
    return {
        "ip_protocol": protocol,
        "from_port": rule.get("FromPort", -1),
        "to_port": rule.get("ToPort", -1),
        "ip_ranges": ip_ranges,
        "source_groups": source_groups,
        "prefix_list_ids": prefix_lists,
    }


class SecurityGroupProvider(MotoProvider):
    """Ingress and egress rules exactly as the template lists them; rule and tag changes made in place."""

    def __init__(self) -> None:
        super().__init__(_model("AWS::EC2::SecurityGroup"))

    @_fail_plainly
    def _apply_rules(self, request: ResourceRequest, group_id: str) -> None:
        backend = _ec2(request)
        group = backend.get_security_group_from_id(group_id)
        props = request.properties
        group.ingress_rules.clear()
        for rule in props.get("SecurityGroupIngress", []) or []:
            backend.authorize_security_group_ingress(group_id, **_rule_arguments(rule, egress=False))
        if "SecurityGroupEgress" in props:
            # a template that lists egress rules replaces the default allow-all rule with them
            group.egress_rules.clear()
            for rule in props.get("SecurityGroupEgress") or []:
                backend.authorize_security_group_egress(group_id, **_rule_arguments(rule, egress=True))
        elif not group.egress_rules:
            backend.authorize_security_group_egress(group_id, "-1", None, None, [{"CidrIp": "0.0.0.0/0"}])

    def create(self, request: ResourceRequest) -> Provisioned:
        # moto's model reads rules with fixed keys (a rule without ports fails); the rules are added here
        bare = {k: v for k, v in request.properties.items() if k not in ("SecurityGroupIngress", "SecurityGroupEgress")}
        provisioned = super().create(ResourceRequest(**{**request.__dict__, "properties": bare}))
        self._apply_rules(request, provisioned.physical_id)
        return Provisioned(provisioned.physical_id, provisioned.ref, request.properties, provisioned.handle)

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        self._apply_rules(request, current.physical_id)
        _retag_ec2(request, current.physical_id, current.properties)
        return _in_place(request, current)


class SecurityGroupRuleProvider:
    """AWS::EC2::SecurityGroupIngress / Egress: one rule added to a group (moto's model has no physical id).

    The physical id, Ref and Fn::GetAtt Id are the security group rule's id (sgr-...).
    """

    def __init__(self, egress: bool) -> None:
        self.egress = egress

    @_fail_plainly
    def create(self, request: ResourceRequest) -> Provisioned:
        props = request.properties
        backend = _ec2(request)
        group_id = props.get("GroupId")
        if not group_id:
            group = backend.get_security_group_from_name(props.get("GroupName"))
            if group is None:
                raise ResourceFailure(f"The security group '{props.get('GroupName')}' does not exist")
            group_id = group.id
        authorize = backend.authorize_security_group_egress if self.egress else backend.authorize_security_group_ingress
        rules, _ = authorize(group_id, **_rule_arguments(props, self.egress))
        return Provisioned(rules[0].id, rules[0].id, props, group_id)

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        self.delete(request, current)
        return self.create(request)

    def delete(self, request: ResourceRequest, current: Provisioned) -> None:
        group = _ec2(request).get_security_group_from_id(str(current.handle))
        if group is not None:  # a group deleted out of band took its rules with it
            rules = group.egress_rules if self.egress else group.ingress_rules
            rules[:] = [r for r in rules if r.id != current.physical_id]

    def get_att(self, request: ResourceRequest, current: Provisioned, attribute: str) -> Any:
        if attribute == "Id":
            return current.physical_id
        raise ResourceFailure(f"The course sandbox cannot read attribute {attribute} of {request.resource_type}.")


# -- Amazon S3 ------------------------------------------------------------------------------------------
class BucketProvider(S3BucketProvider):
    """Versioning and the public access block applied on create and update (and removed with the template's)."""

    def __init__(self) -> None:
        super().__init__(_model("AWS::S3::Bucket"))

    @_fail_plainly
    def _apply(self, request: ResourceRequest, name: str, old: dict[str, Any]) -> None:
        from moto.s3.models import s3_backends

        backend = s3_backends[request.account_id][get_partition(request.region)]
        props = request.properties
        versioning = props.get("VersioningConfiguration")
        if versioning:
            backend.put_bucket_versioning(name, versioning.get("Status"))
        elif old.get("VersioningConfiguration"):
            backend.put_bucket_versioning(name, "Suspended")  # a versioned bucket can only be suspended
        block = props.get("PublicAccessBlockConfiguration")
        if block:
            backend.put_public_access_block(name, {k: _flag(v) for k, v in block.items()})
        elif old.get("PublicAccessBlockConfiguration"):
            backend.buckets[name].public_access_block = None
        if not props.get("Tags") and old.get("Tags"):
            backend.put_bucket_tagging(name, {})

    def create(self, request: ResourceRequest) -> Provisioned:
        provisioned = super().create(request)
        self._apply(request, provisioned.physical_id, {})
        return provisioned

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        provisioned = super().update(request, current)
        self._apply(request, provisioned.physical_id, current.properties)
        return provisioned


# -- AWS Identity and Access Management ---------------------------------------------------------------------
def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class RoleProvider(MotoProvider):
    """ManagedPolicyArns attached (and detached before the role is deleted); updates made in place."""

    def __init__(self) -> None:
        super().__init__(_model("AWS::IAM::Role"))

    def _backend(self, request: ResourceRequest):  # type: ignore[no-untyped-def]
        from moto.iam.models import iam_backends

        return iam_backends[request.account_id][get_partition(request.region)]

    @_fail_plainly
    def _attach(self, request: ResourceRequest, role_name: str, old: dict[str, Any]) -> None:
        backend = self._backend(request)
        before, after = set(old.get("ManagedPolicyArns") or []), list(request.properties.get("ManagedPolicyArns") or [])
        for arn in before - set(after):
            backend.detach_role_policy(arn, role_name)
        for arn in after:
            if arn not in before:
                backend.attach_role_policy(arn, role_name)

    def create(self, request: ResourceRequest) -> Provisioned:
        provisioned = super().create(request)
        self._attach(request, provisioned.physical_id, {})
        return provisioned

    def delete(self, request: ResourceRequest, current: Provisioned) -> None:
        # IAM refuses to delete a role with attached policies; CloudFormation detaches them first
        backend = self._backend(request)
        role = backend.roles.get(getattr(current.handle, "id", None))
        for arn in list(role.managed_policies) if role is not None else []:
            backend.detach_role_policy(arn, role.name)
        super().delete(request, current)

    @_fail_plainly
    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        backend = self._backend(request)
        props, old = request.properties, current.properties
        name = current.physical_id
        backend.update_assume_role_policy(name, _document(props["AssumeRolePolicyDocument"]))
        backend.update_role(name, props.get("Description", ""), props.get("MaxSessionDuration", 3600))
        if props.get("PermissionsBoundary"):
            backend.put_role_permissions_boundary(name, props["PermissionsBoundary"])
        elif old.get("PermissionsBoundary"):
            backend.delete_role_permissions_boundary(name)
        new_policies = {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies") or []}
        for policy in old.get("Policies") or []:
            if policy["PolicyName"] not in new_policies:
                backend.delete_role_policy(name, policy["PolicyName"])
        for policy_name, document in new_policies.items():
            backend.put_role_policy(name, policy_name, _document(document))
        before, after = _tags(old.get("Tags")), _tags(props.get("Tags"))
        if set(before) - set(after):
            backend.untag_role(name, sorted(set(before) - set(after)))
        if after:
            backend.tag_role(name, [{"Key": k, "Value": v} for k, v in after.items()])
        self._attach(request, name, old)
        return _in_place(request, current)


# -- Amazon SQS ------------------------------------------------------------------------------------------
_QUEUE_CREATE_ONLY = {"QueueName", "FifoQueue", "Tags"}


class QueueProvider(MotoProvider):
    """Every attribute the template changes is set on update (moto's model sets two)."""

    def __init__(self) -> None:
        super().__init__(_model("AWS::SQS::Queue"))

    @_fail_plainly
    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        from moto.sqs.models import sqs_backends

        backend = sqs_backends[request.account_id][request.region]
        name = current.physical_id.rsplit("/", 1)[-1]
        attributes = {
            k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, dict) else str(v).lower()
            for k, v in request.properties.items()
            if k not in _QUEUE_CREATE_ONLY
        }
        if attributes:
            backend.set_queue_attributes(name, attributes)
        before, after = _tags(current.properties.get("Tags")), _tags(request.properties.get("Tags"))
        if set(before) - set(after):
            backend.untag_queue(name, sorted(set(before) - set(after)))
        if after:
            backend.tag_queue(name, after)
        return _in_place(request, current)


_PROVIDERS: dict[str, type[Provider]] = {
    "AWS::EC2::VPC": VpcProvider,
    "AWS::EC2::Subnet": SubnetProvider,
    "AWS::EC2::SecurityGroup": SecurityGroupProvider,
    "AWS::S3::Bucket": BucketProvider,
    "AWS::IAM::Role": RoleProvider,
    "AWS::SQS::Queue": QueueProvider,
}

for _type, _provider in _PROVIDERS.items():
    register_provider(_type, _provider)
register_provider("AWS::EC2::SecurityGroupIngress", lambda: SecurityGroupRuleProvider(egress=False))
register_provider("AWS::EC2::SecurityGroupEgress", lambda: SecurityGroupRuleProvider(egress=True))
