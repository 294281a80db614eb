"""Pre-deployment validation: what CloudFormation checks before it provisions anything.

Since 2026-06-30 CreateStack, UpdateStack and CreateChangeSet check every resource's properties against its
type's schema and look for resources that already exist under the names the template gives; a FAIL finding
stops the operation before any resource is touched (a stack fails with DetailedStatus VALIDATION_FAILED and
rolls back, a change set ends FAILED). CreateChangeSet also runs WARN checks, which never block: here, a bucket
the change set would delete that still holds objects. `DisableValidation` skips all of it, and types AWS does not
validate keep the old behaviour (their property errors fail the resource while it is provisioned).

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/validate-stack-deployments.html; the messages
and fields follow real AWS responses (collected in the repository's research notes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .drift_readers import READERS, ReadRequest
from .schema import is_custom_type, property_findings, read_only_properties, resource_schema

FAILED_REASON = (
    "Validation failed with {count} error(s). Call DescribeEvents to retrieve the full list of issues with resource "
    "and property details, resolve each error, then retry the operation."
)
ROLLBACK_REASON = "Validation failure detected. See the operation's FAILED event for details."
CHANGE_SET_REASON = (
    "The following hook(s)/validation failed: [{hooks}]. To troubleshoot Early Validation errors, use the "
    "DescribeEvents API for detailed failure information."
)

# Types the User Guide lists as not supported for pre-deployment validation (the ones a lab is likely to use;
# the full list in "Resource limitations" has about 380 entries).
NOT_VALIDATED = frozenset(
    {
        "AWS::CloudFormation::Stack",
        "AWS::CloudFormation::CustomResource",
        "AWS::CloudFormation::Macro",
        "AWS::CloudFormation::WaitCondition",
        "AWS::CloudFormation::WaitConditionHandle",
        "AWS::IAM::Role",
        "AWS::IAM::User",
        "AWS::IAM::Group",
        "AWS::IAM::Policy",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::AccessKey",
        "AWS::IAM::UserToGroupAddition",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::S3::BucketPolicy",
        "AWS::S3::AccessPoint",
        "AWS::Logs::LogGroup",
        "AWS::KMS::Key",
        "AWS::KMS::Alias",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::SecurityGroupIngress",
        "AWS::EC2::SecurityGroupEgress",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::EIPAssociation",
        "AWS::EC2::NetworkAclEntry",
        "AWS::EC2::FlowLog",
        "AWS::EC2::PrefixList",
        "AWS::ECS::Cluster",
        "AWS::ECS::Service",
        "AWS::ECS::TaskDefinition",
        "AWS::ECR::Repository",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBSubnetGroup",
        "AWS::RDS::DBParameterGroup",
        "AWS::Route53::RecordSet",
        "AWS::Route53::HostedZone",
        "AWS::Route53::HealthCheck",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::CodeSigningConfig",
        "AWS::StepFunctions::StateMachine",
        "AWS::CodeBuild::Project",
        "AWS::CertificateManager::Certificate",
        "AWS::Config::ConfigurationRecorder",
        "AWS::Config::DeliveryChannel",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::SSM::Association",
        "AWS::SSM::MaintenanceWindow",
        "AWS::SSM::MaintenanceWindowTarget",
        "AWS::SSM::MaintenanceWindowTask",
        "AWS::ApiGateway::BasePathMapping",
        "AWS::ApiGateway::GatewayResponse",
        "AWS::EKS::Cluster",
        "AWS::EKS::FargateProfile",
    }
)

_HOOKS = {
    "NAME_CONFLICT_VALIDATION": "AWS::EarlyValidation::ResourceExistenceCheck",
    "PROPERTY_VALIDATION": "AWS::EarlyValidation::PropertyValidation",
}


@dataclass(frozen=True)
class Finding:
    """One finding of pre-deployment validation (a VALIDATION_ERROR record of DescribeEvents)."""

    logical_id: str
    resource_type: str
    name: str  # PROPERTY_VALIDATION, NAME_CONFLICT_VALIDATION or BUCKET_EMPTINESS_VALIDATION
    mode: str  # FAIL stops the operation; WARN only reports
    reason: str
    path: str


def validated(resource_type: str) -> bool:
    """True if AWS runs pre-deployment validation on the type."""
    return not is_custom_type(resource_type) and resource_type not in NOT_VALIDATED


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.mode == "FAIL"]


def change_set_reason(findings: Iterable[Finding]) -> str:
    """A failed change set's StatusReason: the internal checks that failed, existence check first."""
    names = {f.name for f in findings if f.mode == "FAIL"}
    hooks = [_HOOKS[n] for n in ("NAME_CONFLICT_VALIDATION", "PROPERTY_VALIDATION") if n in names]
    return CHANGE_SET_REASON.format(hooks=", ".join(hooks))


def _property_findings(logical_id: str, resource_type: str, region: str, properties: dict[str, Any]) -> list[Finding]:
    found = []
    for pointer, message in property_findings(resource_type, region, properties):
        path = f"/Resources/{logical_id}/Properties{pointer.removeprefix('#')}"
        found.append(Finding(logical_id, resource_type, "PROPERTY_VALIDATION", "FAIL", message, path))
    return found


# Existence checks for primary identifiers a template can set, where no drift reader looks the name up.
def _lambda_function_exists(account_id: str, region: str, name: str) -> bool:
    from moto.awslambda.models import lambda_backends

    try:
        return lambda_backends[account_id][region].get_function(name) is not None
    except Exception:
        return False


def _table_exists(account_id: str, region: str, name: str) -> bool:
    from moto.dynamodb.models import dynamodb_backends

    return name in dynamodb_backends[account_id][region].tables


_EXISTS: dict[str, Callable[[str, str, str], bool]] = {
    "AWS::Lambda::Function": _lambda_function_exists,
    "AWS::DynamoDB::Table": _table_exists,
}


def _name_property(resource_type: str, region: str) -> str | None:
    """The top-level property a template can set that is the type's whole primary identifier (BucketName ...)."""
    identifier = resource_schema(resource_type, region).get("primaryIdentifier") or []
    if len(identifier) != 1 or identifier[0].count("/") != 2:
        return None
    name = identifier[0].removeprefix("/properties/")
    return None if name in read_only_properties(resource_type, region) else name


def _exists(resource_type: str, account_id: str, region: str, name: str) -> bool:
    check = _EXISTS.get(resource_type)
    if check is not None:
        return check(account_id, region, name)
    reader = READERS.get(resource_type)
    if reader is None:
        return False
    try:
        return reader.read(ReadRequest(account_id, region, name, {})) is not None
    except Exception:
        return False


def check(
    resources: dict[str, tuple[str, dict[str, Any]]],
    account_id: str,
    region: str,
    owned: set[str],
) -> list[Finding]:
    """FAIL findings for resources {logical id: (type, properties resolved as far as known before provisioning)}.

    `owned` holds the physical ids of the stack's own resources: a name the stack already uses is no conflict.
    """
    findings: list[Finding] = []
    for logical_id, (resource_type, properties) in resources.items():
        if not validated(resource_type):
            continue
        findings += _property_findings(logical_id, resource_type, region, properties)
        name_property = _name_property(resource_type, region)
        name = properties.get(name_property) if name_property else None
        known = isinstance(name, str) and "\x00" not in name and name not in owned
        if known and _exists(resource_type, account_id, region, str(name)):
            findings.append(
                Finding(
                    logical_id,
                    resource_type,
                    "NAME_CONFLICT_VALIDATION",
                    "FAIL",
                    f"Resource of type '{resource_type}' with identifier '{name}' already exists.",
                    f"/Resources/{logical_id}",
                )
            )
    return findings


def bucket_not_empty(logical_id: str, account_id: str, bucket: str) -> Finding | None:
    """WARN when a change set would delete a bucket that still holds objects (S3 refuses to delete it)."""
    from moto.s3.models import s3_backends

    try:
        found = s3_backends[account_id]["aws"].get_bucket(bucket)
    except Exception:
        return None
    if not found.keys:
        return None
    return Finding(
        logical_id,
        "AWS::S3::Bucket",
        "BUCKET_EMPTINESS_VALIDATION",
        "WARN",
        f"The bucket '{bucket}' is not empty. You must either delete all objects and versions or use the deletion "
        "policy to retain it, otherwise the delete operation will fail.",
        f"/Resources/{logical_id}",
    )
