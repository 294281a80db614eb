"""Drift readers: a resource's actual configuration, read from the sandbox's services in CloudFormation's shape.

CloudFormation detects drift by calling each resource type's read handler and comparing what it returns
with the template's properties. A reader here plays that read handler for one type: it looks the resource
up in moto's service backend by its physical id (None when it has been deleted) and returns its properties
as the CloudFormation resource schema names them. `properties` lists what the reader can read; a template
property outside it is not checked (the sandbox cannot read it, so it does not claim to know).

Types AWS supports but that have no reader here are reported NOT_CHECKED with a sentence that says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.utilities.utils import get_partition


@dataclass(frozen=True)
class ReadRequest:
    """Which resource to read."""

    account_id: str
    region: str
    physical_id: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Reader:
    read: Callable[[ReadRequest], dict[str, Any] | None]
    properties: frozenset[str]


READERS: dict[str, Reader] = {}


def reader(resource_type: str, *properties: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the function as the drift reader of a type."""

    def register(function: Callable[[ReadRequest], dict[str, Any] | None]) -> Callable[..., Any]:
        READERS[resource_type] = Reader(function, frozenset(properties))
        return function

    return register


def already_deleted(resource_type: str, account_id: str, region: str, physical_id: str) -> bool:
    """True if the resource is known to be gone (deleted outside CloudFormation): a delete handler answers
    NotFound then, which CloudFormation counts as deleted. False when the type has no reader here."""
    found = READERS.get(resource_type)
    if found is None:
        return False
    try:
        return found.read(ReadRequest(account_id, region, physical_id, {})) is None
    except Exception:
        return False


def _tag_list(tags: dict[str, str] | list[dict[str, str]]) -> list[dict[str, str]]:
    """Tags as CloudFormation lists them, without the aws: tags AWS adds itself (not drift)."""
    pairs = tags.items() if isinstance(tags, dict) else ((t["Key"], t["Value"]) for t in tags)
    return [{"Key": k, "Value": v} for k, v in pairs if not k.startswith("aws:")]


def _json(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _bool(value: Any) -> bool:
    return value.lower() == "true" if isinstance(value, str) else bool(value)


# -- Amazon EC2 -----------------------------------------------------------------------------------------
def _ec2(request: ReadRequest):  # type: ignore[no-untyped-def]
    from moto.ec2.models import ec2_backends

    return ec2_backends[request.account_id][request.region]


def _ec2_tags(resource: Any) -> list[dict[str, str]]:
    return _tag_list({t["key"]: t["value"] for t in resource.get_tags()})


@reader("AWS::EC2::VPC", "CidrBlock", "EnableDnsSupport", "EnableDnsHostnames", "InstanceTenancy", "Tags")
def read_vpc(request: ReadRequest) -> dict[str, Any] | None:
    vpc = _ec2(request).vpcs.get(request.physical_id)
    if vpc is None:
        return None
    return {
        "CidrBlock": vpc.cidr_block,
        "EnableDnsSupport": _bool(vpc.enable_dns_support),
        "EnableDnsHostnames": _bool(vpc.enable_dns_hostnames),
        "InstanceTenancy": vpc.instance_tenancy,
        "Tags": _ec2_tags(vpc),
    }


@reader(
    "AWS::EC2::Subnet",
    "VpcId",
    "CidrBlock",
    "AvailabilityZone",
    "MapPublicIpOnLaunch",
    "AssignIpv6AddressOnCreation",
    "Tags",
)
def read_subnet(request: ReadRequest) -> dict[str, Any] | None:
    try:
        subnet = _ec2(request).get_subnet(request.physical_id)
    except Exception:
        return None
    return {
        "VpcId": subnet.vpc_id,
        "CidrBlock": subnet.cidr_block,
        "AvailabilityZone": subnet.availability_zone,
        "MapPublicIpOnLaunch": _bool(subnet.map_public_ip_on_launch),
        "AssignIpv6AddressOnCreation": _bool(subnet.assign_ipv6_address_on_creation),
        "Tags": _ec2_tags(subnet),
    }


def _sg_rule(rule: Any, egress: bool) -> dict[str, Any]:
    """One moto rule (one source each) as one CloudFormation Ingress/Egress item."""
    out: dict[str, Any] = {"IpProtocol": rule.ip_protocol}
    if rule.ip_protocol == "-1":
        out["FromPort"], out["ToPort"] = -1, -1
    else:
        out["FromPort"], out["ToPort"] = rule.from_port, rule.to_port
    for key in ("CidrIp", "CidrIpv6"):
        if rule.ip_range.get(key):
            out[key] = rule.ip_range[key]
    if rule.source_group.get("GroupId"):
        if egress:
            out["DestinationSecurityGroupId"] = rule.source_group["GroupId"]
        else:
            out["SourceSecurityGroupId"] = rule.source_group["GroupId"]
            out["SourceSecurityGroupOwnerId"] = rule.source_group.get("UserId") or rule.source_group.get("OwnerId")
    if rule.prefix_list_id:
        out["DestinationPrefixListId" if egress else "SourcePrefixListId"] = rule.prefix_list_id
    description = rule.ip_range.get("Description") or rule.source_group.get("Description")
    if description:
        out["Description"] = description
    return out


@reader(
    "AWS::EC2::SecurityGroup",
    "GroupDescription",
    "GroupName",
    "VpcId",
    "SecurityGroupIngress",
    "SecurityGroupEgress",
    "Tags",
)
def read_security_group(request: ReadRequest) -> dict[str, Any] | None:
    group = _ec2(request).get_security_group_from_id(request.physical_id)
    if group is None:
        return None
    return {
        "GroupDescription": group.description,
        "GroupName": group.name,
        "VpcId": group.vpc_id,
        "SecurityGroupIngress": [_sg_rule(r, egress=False) for r in group.ingress_rules],
        "SecurityGroupEgress": [_sg_rule(r, egress=True) for r in group.egress_rules],
        "Tags": _ec2_tags(group),
    }


# -- Amazon S3 ------------------------------------------------------------------------------------------
def _s3(request: ReadRequest):  # type: ignore[no-untyped-def]
    from moto.s3.models import s3_backends

    return s3_backends[request.account_id][get_partition(request.region)]


def _encryption(api: dict[str, Any] | None) -> dict[str, Any] | None:
    """S3's stored ServerSideEncryptionConfiguration in the shape of the BucketEncryption property."""
    if not api:
        return None
    rules = api.get("Rule", [])
    rules = rules if isinstance(rules, list) else [rules]
    converted = []
    for rule in rules:
        by_default = rule.get("ApplyServerSideEncryptionByDefault", {})
        item: dict[str, Any] = {"ServerSideEncryptionByDefault": dict(by_default)}
        if "BucketKeyEnabled" in rule:
            item["BucketKeyEnabled"] = _bool(rule["BucketKeyEnabled"])
        converted.append(item)
    return {"ServerSideEncryptionConfiguration": converted}


@reader(
    "AWS::S3::Bucket",
    "BucketName",
    "VersioningConfiguration",
    "BucketEncryption",
    "PublicAccessBlockConfiguration",
    "Tags",
)
def read_bucket(request: ReadRequest) -> dict[str, Any] | None:
    backend = _s3(request)
    bucket = backend.buckets.get(request.physical_id)
    if bucket is None:
        return None
    actual: dict[str, Any] = {"BucketName": bucket.name}
    if bucket.versioning_status:
        actual["VersioningConfiguration"] = {"Status": bucket.versioning_status}
    encryption = _encryption(bucket.encryption)
    if encryption:
        actual["BucketEncryption"] = encryption
    block = bucket.public_access_block
    if block is not None:
        actual["PublicAccessBlockConfiguration"] = {
            "BlockPublicAcls": _bool(block.block_public_acls),
            "IgnorePublicAcls": _bool(block.ignore_public_acls),
            "BlockPublicPolicy": _bool(block.block_public_policy),
            "RestrictPublicBuckets": _bool(block.restrict_public_buckets),
        }
    tags = backend.get_bucket_tagging(bucket.name).get("Tags", [])
    if tags:
        actual["Tags"] = _tag_list(tags)
    return actual


@reader("AWS::S3::BucketPolicy", "Bucket", "PolicyDocument")
def read_bucket_policy(request: ReadRequest) -> dict[str, Any] | None:
    bucket = _s3(request).buckets.get(request.physical_id)
    if bucket is None or not bucket.policy:
        return None
    return {"Bucket": bucket.name, "PolicyDocument": _json(bucket.policy)}


# -- AWS Systems Manager ------------------------------------------------------------------------------------
@reader("AWS::SSM::Parameter", "Name", "Type", "Value", "DataType", "Tags")
def read_parameter(request: ReadRequest) -> dict[str, Any] | None:
    from moto.ssm.models import ssm_backends

    backend = ssm_backends[request.account_id][request.region]
    try:
        parameter = backend.get_parameter(request.physical_id)
    except Exception:
        return None
    if parameter is None:
        return None
    try:
        tags = backend.list_tags_for_resource("Parameter", request.physical_id)
    except Exception:
        tags = {}
    actual: dict[str, Any] = {
        "Name": parameter.name,
        "Type": parameter.parameter_type,
        "Value": parameter.value,
        "DataType": parameter.data_type,
    }
    if tags:
        actual["Tags"] = {t["Key"]: t["Value"] for t in _tag_list(tags)}
    return actual


# -- Amazon SQS and Amazon SNS ------------------------------------------------------------------------------
_QUEUE_ATTRIBUTES = {
    "DelaySeconds": "delay_seconds",
    "MaximumMessageSize": "maximum_message_size",
    "MessageRetentionPeriod": "message_retention_period",
    "ReceiveMessageWaitTimeSeconds": "receive_message_wait_time_seconds",
    "VisibilityTimeout": "visibility_timeout",
    "KmsDataKeyReusePeriodSeconds": "kms_data_key_reuse_period_seconds",
}


@reader(
    "AWS::SQS::Queue",
    "QueueName",
    *_QUEUE_ATTRIBUTES,
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "SqsManagedSseEnabled",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "Tags",
)
def read_queue(request: ReadRequest) -> dict[str, Any] | None:
    from moto.sqs.models import sqs_backends

    try:
        queue = sqs_backends[request.account_id][request.region].get_queue(request.physical_id.rsplit("/", 1)[-1])
    except Exception:
        return None
    actual: dict[str, Any] = {"QueueName": queue.name}
    for prop, attribute in _QUEUE_ATTRIBUTES.items():
        actual[prop] = int(getattr(queue, attribute))
    actual["FifoQueue"] = _bool(queue.fifo_queue)
    actual["ContentBasedDeduplication"] = _bool(queue.content_based_deduplication)
    actual["SqsManagedSseEnabled"] = _bool(queue.sqs_managed_sse_enabled)
    for prop, attribute in (
        ("DeduplicationScope", "deduplication_scope"),
        ("FifoThroughputLimit", "fifo_throughput_limit"),
    ):
        if queue.fifo_queue and getattr(queue, attribute, None):
            actual[prop] = getattr(queue, attribute)
    if queue.redrive_policy:
        actual["RedrivePolicy"] = _json(queue.redrive_policy)
    redrive_allow = getattr(queue, "redrive_allow_policy", None)
    if redrive_allow:
        actual["RedriveAllowPolicy"] = _json(redrive_allow)
    if queue.tags:
        actual["Tags"] = _tag_list(queue.tags)
    return actual


@reader("AWS::SNS::Topic", "TopicName", "DisplayName", "FifoTopic", "ContentBasedDeduplication", "Subscription", "Tags")
def read_topic(request: ReadRequest) -> dict[str, Any] | None:
    from moto.sns.models import sns_backends

    backend = sns_backends[request.account_id][request.region]
    topic = backend.topics.get(request.physical_id)
    if topic is None:
        return None
    actual: dict[str, Any] = {
        "TopicName": topic.name,
        "DisplayName": topic.display_name,
        "FifoTopic": _bool(topic.fifo_topic),
        "ContentBasedDeduplication": _bool(topic.content_based_deduplication),
        "Subscription": [
            {"Endpoint": s.endpoint, "Protocol": s.protocol}
            for s in backend.subscriptions.values()
            if s.topic.arn == topic.arn
        ],
    }
    if topic._tags:
        actual["Tags"] = _tag_list(topic._tags)
    return actual


# -- AWS Identity and Access Management ---------------------------------------------------------------------
@reader(
    "AWS::IAM::Role",
    "RoleName",
    "Path",
    "Description",
    "MaxSessionDuration",
    "AssumeRolePolicyDocument",
    "ManagedPolicyArns",
    "Policies",
    "PermissionsBoundary",
    "Tags",
)
def read_role(request: ReadRequest) -> dict[str, Any] | None:
    from moto.iam.models import iam_backends

    backend = iam_backends[request.account_id][get_partition(request.region)]
    try:
        role = backend.get_role(request.physical_id)
    except Exception:
        return None
    tags, _ = backend.list_role_tags(role.name, None)
    actual: dict[str, Any] = {
        "RoleName": role.name,
        "Path": role.path,
        "MaxSessionDuration": int(role.max_session_duration),
        "AssumeRolePolicyDocument": _json(role.assume_role_policy_document),
        "ManagedPolicyArns": list(role.managed_policies),
        "Policies": [
            {"PolicyName": name, "PolicyDocument": _json(document)} for name, document in role.policies.items()
        ],
    }
    if role.description:
        actual["Description"] = role.description
    if role.permissions_boundary_arn:
        actual["PermissionsBoundary"] = role.permissions_boundary_arn
    if tags:
        actual["Tags"] = _tag_list(tags)
    return actual


# -- AWS Lambda ------------------------------------------------------------------------------------------
@reader(
    "AWS::Lambda::Function",
    "FunctionName",
    "Description",
    "Handler",
    "Runtime",
    "Role",
    "MemorySize",
    "Timeout",
    "Environment",
    "Architectures",
    "PackageType",
    "Tags",
)
def read_function(request: ReadRequest) -> dict[str, Any] | None:
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[request.account_id][request.region]
    try:
        function = backend.get_function(request.physical_id)
    except Exception:
        return None
    if function is None:
        return None
    actual: dict[str, Any] = {
        "FunctionName": function.function_name,
        "Description": function.description,
        "Handler": function.handler,
        "Runtime": function.run_time,
        "Role": function.role,
        "MemorySize": int(function.memory_size),
        "Timeout": int(function.timeout),
        "Architectures": list(function.architectures),
        "PackageType": function.package_type,
    }
    if function.environment_vars:
        actual["Environment"] = {"Variables": dict(function.environment_vars)}
    tags = backend.list_tags(function.function_arn)
    if tags:
        actual["Tags"] = _tag_list(tags)
    return actual
