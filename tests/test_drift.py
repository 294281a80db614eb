"""Fidelity tests for CloudFormation drift detection: each test proves one documented AWS behaviour.

Stacks are deployed with real boto3 calls, changed out of band through the services' own APIs (as someone
would in the console), then checked with DetectStackDrift / DetectStackResourceDrift. Every test uses a stack
of its own, so tests never see each other's changes.

Main sources:
* https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-drift.html (what drift is,
  status codes, considerations; cited below as DRIFT_GUIDE)
* https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/detect-drift-stack.html (the CLI walk-through
  with an SQS queue whose DelaySeconds and RedrivePolicy/maxReceiveCount drifted)
* the API reference of DetectStackDrift, DescribeStackDriftDetectionStatus, DescribeStackResourceDrifts and
  DetectStackResourceDrift.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from typing import Any

import pytest
from aws_errors import api_error

from labs_support.emulator.cloudformation.drift_readers import READERS, Reader, ReadRequest
from labs_support.sandbox import Sandbox

DRIFT_GUIDE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-stack-drift.html"
_names = itertools.count(1)


def template(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


# A stack of the kinds the labs deploy: network, bucket with policy, parameter, queue, topic.
APP = template(
    """
    Parameters:
      Retention:
        Type: String
        Default: "7"
    Resources:
      Vpc:
        Type: AWS::EC2::VPC
        Properties:
          CidrBlock: 10.20.0.0/16
          EnableDnsSupport: true
          EnableDnsHostnames: true
          Tags:
            - Key: Name
              Value: drift-vpc
      Subnet:
        Type: AWS::EC2::Subnet
        Properties:
          VpcId: !Ref Vpc
          CidrBlock: 10.20.0.0/24
          AvailabilityZone: !Select [0, !GetAZs ""]
          MapPublicIpOnLaunch: false
      WebSecurityGroup:
        Type: AWS::EC2::SecurityGroup
        Properties:
          GroupDescription: web tier
          VpcId: !Ref Vpc
          SecurityGroupIngress:
            - IpProtocol: tcp
              FromPort: 443
              ToPort: 443
              CidrIp: 10.20.0.0/16
      Logs:
        Type: AWS::S3::Bucket
        Properties:
          VersioningConfiguration:
            Status: Enabled
          Tags:
            - Key: retention-days
              Value: !Ref Retention
      LogsPolicy:
        Type: AWS::S3::BucketPolicy
        Properties:
          Bucket: !Ref Logs
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: DenyInsecureTransport
                Effect: Deny
                Principal: "*"
                Action: "s3:*"
                Resource:
                  - !Sub "arn:aws:s3:::${Logs}"
                  - !Sub "arn:aws:s3:::${Logs}/*"
                Condition:
                  Bool:
                    aws:SecureTransport: "false"
      RetentionParameter:
        Type: AWS::SSM::Parameter
        Properties:
          Type: String
          Value: !Ref Retention
          Description: Days the logs are kept
      DeadLetters:
        Type: AWS::SQS::Queue
      Jobs:
        Type: AWS::SQS::Queue
        Properties:
          DelaySeconds: 20
          VisibilityTimeout: 60
          RedrivePolicy:
            deadLetterTargetArn: !GetAtt DeadLetters.Arn
            maxReceiveCount: 10
      Alerts:
        Type: AWS::SNS::Topic
        Properties:
          DisplayName: alerts
    Outputs:
      PolicyRef:
        Value: !Ref LogsPolicy
    """
)

ROLE = template(
    """
    Resources:
      AppRole:
        Type: AWS::IAM::Role
        Properties:
          AssumeRolePolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Principal: {Service: lambda.amazonaws.com}
                Action: sts:AssumeRole
          ManagedPolicyArns:
            - arn:aws:iam::aws:policy/ReadOnlyAccess
      ExtraPolicy:
        Type: AWS::IAM::Policy
        Properties:
          PolicyName: extra
          Roles: [!Ref AppRole]
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: sqs:SendMessage
                Resource: "*"
    """
)


# -- fixtures and helpers --------------------------------------------------------------------------------
def deploy(cfn: Any, body: str = APP, **kwargs: Any) -> str:
    """Create a stack under a fresh name; it must reach CREATE_COMPLETE."""
    name = f"drift-{next(_names)}"
    cfn.create_stack(StackName=name, TemplateBody=body, **kwargs)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return name


def physical_id(cfn: Any, stack: str, logical_id: str) -> str:
    detail = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)["StackResourceDetail"]
    return detail["PhysicalResourceId"]


def detect(cfn: Any, stack: str, **kwargs: Any) -> dict[str, Any]:
    """DetectStackDrift, then the operation's DescribeStackDriftDetectionStatus."""
    detection_id = cfn.detect_stack_drift(StackName=stack, **kwargs)["StackDriftDetectionId"]
    return cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)


def drifts(cfn: Any, stack: str, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """DescribeStackResourceDrifts by logical id."""
    found = cfn.describe_stack_resource_drifts(StackName=stack, **kwargs)["StackResourceDrifts"]
    return {d["LogicalResourceId"]: d for d in found}


def differences(drift: dict[str, Any]) -> list[dict[str, Any]]:
    """PropertyDifferences with JSON values parsed, so key order inside them does not matter."""

    def parse(value: str | None) -> Any:
        if value is None:
            return None
        try:
            return json.loads(value) if value[:1] in "{[" else value
        except ValueError:
            return value

    return [
        {
            "PropertyPath": d["PropertyPath"],
            "DifferenceType": d["DifferenceType"],
            "ExpectedValue": parse(d.get("ExpectedValue")),
            "ActualValue": parse(d.get("ActualValue")),
        }
        for d in drift.get("PropertyDifferences", [])
    ]


# -- detection on a stack nobody changed -----------------------------------------------------------------
def test_a_stack_nobody_changed_is_in_sync(cfn: Any) -> None:
    """Every resource whose actual configuration matches its template is IN_SYNC, and so is the stack.

    DRIFT_GUIDE, "Drift detection status codes"; DescribeStackDriftDetectionStatus:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackDriftDetectionStatus.html
    """
    stack = deploy(cfn)
    status = detect(cfn, stack)
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    assert (status["StackId"], status["DetectionStatus"]) == (stack_id, "DETECTION_COMPLETE")
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("IN_SYNC", 0)
    found = drifts(cfn, stack)
    assert {k: d["StackResourceDriftStatus"] for k, d in found.items()} == {
        k: "IN_SYNC"
        for k in (
            "Vpc",
            "Subnet",
            "WebSecurityGroup",
            "Logs",
            "LogsPolicy",
            "RetentionParameter",
            "DeadLetters",
            "Jobs",
            "Alerts",
        )
    }
    assert "PropertyDifferences" not in found["Jobs"]


def test_each_detection_gets_its_own_id(cfn: Any) -> None:
    """ "CloudFormation generates new results, with a new drift detection ID, each time this operation is run."

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackDrift.html
    """
    stack = deploy(cfn)
    first = cfn.detect_stack_drift(StackName=stack)["StackDriftDetectionId"]
    second = cfn.detect_stack_drift(StackName=stack)["StackDriftDetectionId"]
    assert first != second
    for detection_id in (first, second):
        described = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection_id)
        assert described["StackDriftDetectionId"] == detection_id


# -- out-of-band changes -----------------------------------------------------------------------------------
def test_an_ingress_rule_added_out_of_band_is_an_add_difference(sb: Sandbox, cfn: Any) -> None:
    """A rule added to a security group in EC2 makes the group MODIFIED with an ADD at /SecurityGroupIngress/N.

    DRIFT_GUIDE: "ADD: A value has been added to a resource property that is an array or list data type."
    """
    stack = deploy(cfn)
    group_id = physical_id(cfn, stack, "WebSecurityGroup")
    sb.client("ec2").authorize_security_group_ingress(
        GroupId=group_id, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    status = detect(cfn, stack)
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("DRIFTED", 1)
    group = drifts(cfn, stack)["WebSecurityGroup"]
    assert group["StackResourceDriftStatus"] == "MODIFIED"
    assert differences(group) == [
        {
            "PropertyPath": "/SecurityGroupIngress/1",
            "DifferenceType": "ADD",
            "ExpectedValue": None,
            "ActualValue": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"},
        }
    ]
    assert len(json.loads(group["ActualProperties"])["SecurityGroupIngress"]) == 2
    assert len(json.loads(group["ExpectedProperties"])["SecurityGroupIngress"]) == 1


def test_an_ingress_rule_revoked_out_of_band_is_a_remove_difference(sb: Sandbox, cfn: Any) -> None:
    """A template rule revoked in EC2 is a REMOVE at its path, with the expected rule as ExpectedValue.

    DRIFT_GUIDE: "REMOVE: The property has been removed from the current resource configuration."
    """
    stack = deploy(cfn)
    group_id = physical_id(cfn, stack, "WebSecurityGroup")
    sb.client("ec2").revoke_security_group_ingress(
        GroupId=group_id, IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="10.20.0.0/16"
    )
    detect(cfn, stack)
    assert differences(drifts(cfn, stack)["WebSecurityGroup"]) == [
        {
            "PropertyPath": "/SecurityGroupIngress/0",
            "DifferenceType": "REMOVE",
            "ExpectedValue": {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.20.0.0/16"},
            "ActualValue": None,
        }
    ]


def test_a_parameter_value_overwritten_out_of_band_is_not_equal(sb: Sandbox, cfn: Any) -> None:
    """put_parameter --overwrite makes the parameter MODIFIED: /Value NOT_EQUAL, expected and actual values given.

    DRIFT_GUIDE: "NOT_EQUAL: The current property value differs from its expected value as defined in the
    stack template."
    """
    stack = deploy(cfn)
    name = physical_id(cfn, stack, "RetentionParameter")
    sb.client("ssm").put_parameter(Name=name, Value="30", Type="String", Overwrite=True)
    detect(cfn, stack)
    parameter = drifts(cfn, stack)["RetentionParameter"]
    assert parameter["StackResourceDriftStatus"] == "MODIFIED"
    assert parameter["PropertyDifferences"] == [
        {"PropertyPath": "/Value", "ExpectedValue": "7", "ActualValue": "30", "DifferenceType": "NOT_EQUAL"}
    ]
    assert json.loads(parameter["ExpectedProperties"])["Value"] == "7"
    assert json.loads(parameter["ActualProperties"])["Value"] == "30"


def test_properties_the_service_does_not_return_are_not_checked(sb: Sandbox, cfn: Any) -> None:
    """An SSM parameter's Description is write-only (the read handler does not return it), so a new
    description is not drift, and it is left out of ExpectedProperties.

    DRIFT_GUIDE, "Considerations": "Property values that the service that is responsible for the resource does
    not return ... cannot be included in drift detection results"; the AWS::SSM::Parameter schema lists
    Description, Tier, AllowedPattern and Policies as writeOnlyProperties.
    """
    stack = deploy(cfn)
    name = physical_id(cfn, stack, "RetentionParameter")
    sb.client("ssm").put_parameter(Name=name, Value="7", Description="changed by hand", Overwrite=True)
    detect(cfn, stack)
    parameter = drifts(cfn, stack)["RetentionParameter"]
    assert parameter["StackResourceDriftStatus"] == "IN_SYNC"
    assert "Description" not in json.loads(parameter["ExpectedProperties"])


def test_queue_attributes_changed_out_of_band_are_reported_per_property_path(sb: Sandbox, cfn: Any) -> None:
    """The user guide's own example: DelaySeconds 20 -> 120 and RedrivePolicy maxReceiveCount 10 -> 12 give two
    NOT_EQUAL differences, /DelaySeconds and /RedrivePolicy/maxReceiveCount.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/detect-drift-stack.html
    """
    stack = deploy(cfn)
    url = physical_id(cfn, stack, "Jobs")
    sqs = sb.client("sqs")
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"DelaySeconds": "120", "RedrivePolicy": json.dumps({**redrive, "maxReceiveCount": 12})},
    )
    detect(cfn, stack)
    queue = drifts(cfn, stack, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"])["Jobs"]
    assert queue["PropertyDifferences"] == [
        {"PropertyPath": "/DelaySeconds", "ExpectedValue": "20", "ActualValue": "120", "DifferenceType": "NOT_EQUAL"},
        {
            "PropertyPath": "/RedrivePolicy/maxReceiveCount",
            "ExpectedValue": "10",
            "ActualValue": "12",
            "DifferenceType": "NOT_EQUAL",
        },
    ]


def test_expected_and_actual_properties_hold_only_what_the_template_sets(sb: Sandbox, cfn: Any) -> None:
    """ExpectedProperties and ActualProperties are JSON objects of the properties the template sets; values
    the service defaulted (MaximumMessageSize, MessageRetentionPeriod...) are not among them.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackResourceDrift.html
    """
    stack = deploy(cfn)
    sb.client("sqs").set_queue_attributes(QueueUrl=physical_id(cfn, stack, "Jobs"), Attributes={"DelaySeconds": "5"})
    queue = cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="Jobs")["StackResourceDrift"]
    expected, actual = json.loads(queue["ExpectedProperties"]), json.loads(queue["ActualProperties"])
    assert list(expected) == list(actual) == ["DelaySeconds", "VisibilityTimeout", "RedrivePolicy"]
    assert (expected["DelaySeconds"], actual["DelaySeconds"]) == (20, 5)


def test_a_default_value_changed_out_of_band_is_not_drift(sb: Sandbox, cfn: Any) -> None:
    """A property the template leaves to its default is not tracked: changing it is not drift.

    DRIFT_GUIDE: "CloudFormation only determines drift for property values that are explicitly set ... This
    does not include default values for resource properties."
    """
    stack = deploy(cfn)
    sb.client("sqs").set_queue_attributes(
        QueueUrl=physical_id(cfn, stack, "Jobs"), Attributes={"MessageRetentionPeriod": "60"}
    )
    assert detect(cfn, stack)["StackDriftStatus"] == "IN_SYNC"


def test_suspended_bucket_versioning_is_not_equal(sb: Sandbox, cfn: Any) -> None:
    """Versioning suspended in S3 on a bucket whose template enables it: /VersioningConfiguration/Status NOT_EQUAL.

    DRIFT_GUIDE ("NOT_EQUAL"); AWS::S3::Bucket supports drift detection:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-supported-resources.html
    """
    stack = deploy(cfn)
    sb.client("s3").put_bucket_versioning(
        Bucket=physical_id(cfn, stack, "Logs"), VersioningConfiguration={"Status": "Suspended"}
    )
    bucket = cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="Logs")["StackResourceDrift"]
    assert bucket["PropertyDifferences"] == [
        {
            "PropertyPath": "/VersioningConfiguration/Status",
            "ExpectedValue": "Enabled",
            "ActualValue": "Suspended",
            "DifferenceType": "NOT_EQUAL",
        }
    ]


def test_a_tag_added_out_of_band_is_an_add_difference(sb: Sandbox, cfn: Any) -> None:
    """Tags are a list: a tag added in S3 is an ADD under /Tags.

    DRIFT_GUIDE, "ADD".
    """
    stack = deploy(cfn)
    sb.client("s3").put_bucket_tagging(
        Bucket=physical_id(cfn, stack, "Logs"),
        Tagging={"TagSet": [{"Key": "retention-days", "Value": "7"}, {"Key": "owner", "Value": "ops"}]},
    )
    bucket = cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="Logs")["StackResourceDrift"]
    assert differences(bucket) == [
        {
            "PropertyPath": "/Tags/1",
            "DifferenceType": "ADD",
            "ExpectedValue": None,
            "ActualValue": {"Key": "owner", "Value": "ops"},
        }
    ]


def test_an_edited_bucket_policy_is_modified(sb: Sandbox, cfn: Any) -> None:
    """A statement added to the bucket policy in S3 makes the AWS::S3::BucketPolicy MODIFIED.

    DRIFT_GUIDE ("ADD"); AWS::S3::BucketPolicy is listed in "Resource type support":
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import-supported-resources.html
    """
    stack = deploy(cfn)
    bucket = physical_id(cfn, stack, "Logs")
    s3 = sb.client("s3")
    document = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    public_read = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({**document, "Statement": [*document["Statement"], public_read]})
    )
    detect(cfn, stack)
    policy = drifts(cfn, stack)["LogsPolicy"]
    assert policy["StackResourceDriftStatus"] == "MODIFIED"
    assert [(d["PropertyPath"], d["DifferenceType"], d["ActualValue"]) for d in differences(policy)] == [
        ("/PolicyDocument/Statement/1", "ADD", public_read)
    ]


def test_a_policy_rewritten_with_the_same_meaning_is_in_sync(sb: Sandbox, cfn: Any) -> None:
    """Policies are compared as JSON documents: key order, and one action in a list or alone, do not matter.

    DRIFT_GUIDE ("only ... property values that differ"); IAM JSON policy grammar, where Action and Resource
    take a string or an array of strings:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
    """
    stack = deploy(cfn)
    bucket = physical_id(cfn, stack, "Logs")
    same = {
        "Statement": {
            "Condition": {"Bool": {"aws:SecureTransport": ["false"]}},
            "Resource": [f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"],
            "Action": ["s3:*"],
            "Principal": "*",
            "Effect": "Deny",
            "Sid": "DenyInsecureTransport",
        },
        "Version": "2012-10-17",
    }
    sb.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(same))
    policy = cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="LogsPolicy")["StackResourceDrift"]
    assert policy["StackResourceDriftStatus"] == "IN_SYNC"


def test_a_resource_deleted_out_of_band_is_deleted(sb: Sandbox, cfn: Any) -> None:
    """A resource deleted outside CloudFormation is DELETED, without expected or actual properties.

    DRIFT_GUIDE ("DELETED"); StackResourceDrift: "For resources whose StackResourceDriftStatus is DELETED,
    this structure will not be present."
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackResourceDrift.html
    """
    stack = deploy(cfn)
    sb.client("sqs").delete_queue(QueueUrl=physical_id(cfn, stack, "Jobs"))
    status = detect(cfn, stack)
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("DRIFTED", 1)
    queue = drifts(cfn, stack)["Jobs"]
    assert queue["StackResourceDriftStatus"] == "DELETED"
    assert not {"ExpectedProperties", "ActualProperties", "PropertyDifferences"} & set(queue)


def test_drifted_resource_count_counts_modified_and_deleted_resources(sb: Sandbox, cfn: Any) -> None:
    """DriftedStackResourceCount is the number of resources that drifted, modified or deleted.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackDriftDetectionStatus.html
    """
    stack = deploy(cfn)
    sb.client("ssm").put_parameter(
        Name=physical_id(cfn, stack, "RetentionParameter"), Value="1", Type="String", Overwrite=True
    )
    sb.client("sns").delete_topic(TopicArn=physical_id(cfn, stack, "Alerts"))
    status = detect(cfn, stack)
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("DRIFTED", 2)


def test_a_managed_policy_detached_out_of_band_is_a_remove_difference(sb: Sandbox, cfn: Any) -> None:
    """A managed policy detached from a role in IAM is a REMOVE under /ManagedPolicyArns.

    DRIFT_GUIDE ("REMOVE"); AWS::IAM::Role supports drift detection (resource-import-supported-resources.html).
    """
    stack = deploy(cfn, ROLE, Capabilities=["CAPABILITY_IAM"])
    role = physical_id(cfn, stack, "AppRole")
    sb.client("iam").detach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    drift = cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="AppRole")["StackResourceDrift"]
    assert drift["PropertyDifferences"] == [
        {
            "PropertyPath": "/ManagedPolicyArns/0",
            "ExpectedValue": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "DifferenceType": "REMOVE",
        }
    ]


def test_what_another_resource_of_the_stack_attaches_is_expected(sb: Sandbox, cfn: Any) -> None:
    """A rule that an AWS::EC2::SecurityGroupIngress of the same stack adds to a group is expected of the group:
    its presence is not drift, its removal is.

    DRIFT_GUIDE, "Considerations": "CloudFormation analyses the stack template for attachments before
    performing the drift comparison."
    """
    body = APP.replace(
        "Outputs:",
        "  SshFromVpc:\n"
        "    Type: AWS::EC2::SecurityGroupIngress\n"
        "    Properties:\n"
        "      GroupId: !Ref WebSecurityGroup\n"
        "      IpProtocol: tcp\n"
        "      FromPort: 22\n"
        "      ToPort: 22\n"
        "      CidrIp: 10.20.0.0/16\n"
        "Outputs:",
    )
    stack = deploy(cfn, body)
    group = cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="WebSecurityGroup")
    assert group["StackResourceDrift"]["StackResourceDriftStatus"] == "IN_SYNC"
    # the attached rule is part of what the group is expected to have
    sb.client("ec2").revoke_security_group_ingress(
        GroupId=physical_id(cfn, stack, "WebSecurityGroup"),
        IpProtocol="tcp",
        FromPort=22,
        ToPort=22,
        CidrIp="10.20.0.0/16",
    )
    group = cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="WebSecurityGroup")
    assert differences(group["StackResourceDrift"]) == [
        {
            "PropertyPath": "/SecurityGroupIngress/1",
            "DifferenceType": "REMOVE",
            "ExpectedValue": {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.20.0.0/16"},
            "ActualValue": None,
        }
    ]


# -- resource types CloudFormation cannot check ------------------------------------------------------------
def test_a_type_without_drift_support_is_not_checked_and_not_listed(cfn: Any) -> None:
    """AWS::IAM::Policy does not support drift detection: it is NOT_CHECKED, and DescribeStackResourceDrifts
    leaves it out.

    DRIFT_GUIDE: "Resources that do not support drift detection are assigned a drift status of NOT_CHECKED";
    DescribeStackResourceDrifts: "Resources that don't currently support drift detection aren't checked, and
    so not included." https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResourceDrifts.html
    """
    stack = deploy(cfn, ROLE, Capabilities=["CAPABILITY_IAM"])
    detect(cfn, stack)
    assert set(drifts(cfn, stack)) == {"AppRole"}
    policy = cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="ExtraPolicy")["StackResourceDrift"]
    assert (policy["ResourceType"], policy["StackResourceDriftStatus"]) == ("AWS::IAM::Policy", "NOT_CHECKED")
    assert "PropertyDifferences" not in policy


# -- the API's options -----------------------------------------------------------------------------------
def test_describe_stack_resource_drifts_filters_by_drift_status(sb: Sandbox, cfn: Any) -> None:
    """StackResourceDriftStatusFilters returns only the resources with those statuses.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResourceDrifts.html
    """
    stack = deploy(cfn)
    sb.client("sqs").delete_queue(QueueUrl=physical_id(cfn, stack, "Jobs"))
    sb.client("ssm").put_parameter(
        Name=physical_id(cfn, stack, "RetentionParameter"), Value="1", Type="String", Overwrite=True
    )
    detect(cfn, stack)
    assert set(drifts(cfn, stack, StackResourceDriftStatusFilters=["DELETED"])) == {"Jobs"}
    assert set(drifts(cfn, stack, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"])) == {
        "Jobs",
        "RetentionParameter",
    }
    assert "Jobs" not in drifts(cfn, stack, StackResourceDriftStatusFilters=["IN_SYNC"])


def test_describe_stack_resource_drifts_pages_with_max_results(cfn: Any) -> None:
    """MaxResults limits a page; NextToken fetches the next one until none is returned.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResourceDrifts.html
    """
    stack = deploy(cfn)
    detect(cfn, stack)
    seen: list[str] = []
    page = cfn.describe_stack_resource_drifts(StackName=stack, MaxResults=4)
    while True:
        assert len(page["StackResourceDrifts"]) <= 4
        seen += [d["LogicalResourceId"] for d in page["StackResourceDrifts"]]
        if "NextToken" not in page:
            break
        page = cfn.describe_stack_resource_drifts(StackName=stack, MaxResults=4, NextToken=page["NextToken"])
    assert len(seen) == len(set(seen)) == 9


def test_detect_stack_drift_can_check_only_the_logical_ids_given(sb: Sandbox, cfn: Any) -> None:
    """With LogicalResourceIds, only those resources are checked.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackDriftDetectionStatus.html
    ("If you specified logical resource IDs ... only the resources with those logical IDs are checked")
    """
    stack = deploy(cfn)
    sb.client("sqs").delete_queue(QueueUrl=physical_id(cfn, stack, "Jobs"))
    status = detect(cfn, stack, LogicalResourceIds=["Alerts", "Logs"])
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("IN_SYNC", 0)
    assert set(drifts(cfn, stack)) == {"Alerts", "Logs"}


def test_detect_stack_resource_drift_checks_one_resource(sb: Sandbox, cfn: Any) -> None:
    """DetectStackResourceDrift returns the StackResourceDrift of one resource, and DescribeStackResourceDrifts
    then lists that check.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/detect-drift-resource.html
    """
    stack = deploy(cfn)
    name = physical_id(cfn, stack, "RetentionParameter")
    sb.client("ssm").put_parameter(Name=name, Value="30", Type="String", Overwrite=True)
    drift = cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="RetentionParameter")
    drift = drift["StackResourceDrift"]
    assert (drift["LogicalResourceId"], drift["PhysicalResourceId"]) == ("RetentionParameter", name)
    assert (drift["ResourceType"], drift["StackResourceDriftStatus"]) == ("AWS::SSM::Parameter", "MODIFIED")
    assert set(drifts(cfn, stack)) == {"RetentionParameter"}


def test_a_stack_update_that_puts_the_resource_back_makes_it_in_sync_again(sb: Sandbox, cfn: Any) -> None:
    """After an update writes the template's value again, the next detection finds the resource IN_SYNC.

    DRIFT_GUIDE: "take corrective action so that your stack resources are again in sync with their
    definitions in the stack template"; detect-drift-resource.html (status goes back to IN_SYNC).
    """
    stack = deploy(cfn)
    name = physical_id(cfn, stack, "RetentionParameter")
    ssm = sb.client("ssm")
    ssm.put_parameter(Name=name, Value="30", Type="String", Overwrite=True)
    assert detect(cfn, stack)["StackDriftStatus"] == "DRIFTED"
    cfn.update_stack(
        StackName=stack, TemplateBody=APP, Parameters=[{"ParameterKey": "Retention", "ParameterValue": "14"}]
    )
    assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "14"
    status = detect(cfn, stack)
    assert (status["StackDriftStatus"], status["DriftedStackResourceCount"]) == ("IN_SYNC", 0)
    assert drifts(cfn, stack)["RetentionParameter"]["StackResourceDriftStatus"] == "IN_SYNC"


def test_a_resource_check_updates_the_stack_drift_status(sb: Sandbox, cfn: Any) -> None:
    """Detecting drift on one resource updates the stack's drift status both ways, without a new stack check.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/detect-drift-resource.html ("If you set that
    resource back to its expected property values, and then detect drift on the resource again, CloudFormation
    will update both resource drift status and stack drift status to IN_SYNC"). DescribeStacks reports it as
    DriftInformation; until the API shows it, the engine's record is read directly.
    """
    from labs_support.emulator.cloudformation.drift import resource_drift_information, stack_drift_information
    from labs_support.emulator.cloudformation.engine import engine_for

    stack = deploy(cfn)
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    region, account = stack_id.split(":")[3:5]
    record = engine_for(account, region).find_stack(stack)
    assert stack_drift_information(record) == {"StackDriftStatus": "NOT_CHECKED"}
    assert detect(cfn, stack)["StackDriftStatus"] == "IN_SYNC"
    assert stack_drift_information(record)["StackDriftStatus"] == "IN_SYNC"
    name = physical_id(cfn, stack, "RetentionParameter")
    ssm = sb.client("ssm")
    ssm.put_parameter(Name=name, Value="30", Type="String", Overwrite=True)
    cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="RetentionParameter")
    assert stack_drift_information(record)["StackDriftStatus"] == "DRIFTED"
    parameter = resource_drift_information(record, record.resources["RetentionParameter"])
    assert parameter["StackResourceDriftStatus"] == "MODIFIED"
    ssm.put_parameter(Name=name, Value="7", Type="String", Overwrite=True)
    cfn.detect_stack_resource_drift(StackName=stack, LogicalResourceId="RetentionParameter")
    assert stack_drift_information(record)["StackDriftStatus"] == "IN_SYNC"


def test_a_resource_detection_cannot_read_makes_the_stack_unknown(cfn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """UNKNOWN: "CloudFormation could not run drift detection for a resource in the stack"; the detection ends
    DETECTION_FAILED and the resource is UNKNOWN with a reason. (The sandbox's reader is made to fail here.)

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackDriftInformation.html
    """
    name = deploy(cfn, "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n")

    def unreadable(request: ReadRequest) -> None:
        raise RuntimeError("access denied")

    monkeypatch.setitem(READERS, "AWS::SQS::Queue", Reader(unreadable, READERS["AWS::SQS::Queue"].properties))
    status = detect(cfn, name)
    assert (status["DetectionStatus"], status["StackDriftStatus"]) == ("DETECTION_FAILED", "UNKNOWN")
    assert drifts(cfn, name)["Queue"]["StackResourceDriftStatus"] == "UNKNOWN"
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["DriftInformation"]["StackDriftStatus"] == "UNKNOWN"


def test_a_resource_skipped_by_continue_update_rollback_is_not_checked_again(cfn: Any, sb: Sandbox) -> None:
    """Resources skipped with ResourcesToSkip or ForceRollback have a drift status of NOT_CHECKED until a
    detection runs on them. (The skip is done by the engine's own step here: a rollback of a drift-checked
    type that fails is not something a template can arrange.)

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackResourceDriftInformationSummary.html
    """
    from labs_support.emulator.cloudformation.drift import forget_check
    from labs_support.emulator.cloudformation.engine import engine_for

    name = deploy(cfn, "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n")
    detect(cfn, name)
    stack = engine_for(sb.accounts["management"], "us-east-1").find_stack(name)
    assert stack is not None
    forget_check(stack, "Queue")
    summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    assert summaries[0]["DriftInformation"]["StackResourceDriftStatus"] == "NOT_CHECKED"


# -- errors ------------------------------------------------------------------------------------------------
def test_detecting_drift_on_a_stack_that_does_not_exist_is_refused(cfn: Any) -> None:
    """DetectStackDrift and DescribeStackResourceDrifts name the missing stack as the other stack actions do.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html (ValidationError)
    """
    assert api_error(cfn.detect_stack_drift, StackName="no-such-stack") == (
        "ValidationError",
        "Stack with id no-such-stack does not exist",
    )
    assert api_error(cfn.describe_stack_resource_drifts, StackName="no-such-stack") == (
        "ValidationError",
        "Stack with id no-such-stack does not exist",
    )


def test_an_unknown_detection_id_is_refused(cfn: Any) -> None:
    """A detection id CloudFormation never issued is a ValidationError.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackDriftDetectionStatus.html
    """
    code, message = api_error(
        cfn.describe_stack_drift_detection_status, StackDriftDetectionId="00000000-0000-0000-0000-000000000000"
    )
    assert code == "ValidationError"
    assert "00000000-0000-0000-0000-000000000000" in message


def test_a_logical_id_not_in_the_stack_is_refused(cfn: Any) -> None:
    """DetectStackResourceDrift needs a resource of the stack.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackResourceDrift.html
    """
    stack = deploy(cfn)
    assert api_error(cfn.detect_stack_resource_drift, StackName=stack, LogicalResourceId="Nope") == (
        "ValidationError",
        f"Resource Nope does not exist for stack {stack}",
    )


def test_drift_detection_is_refused_for_a_stack_that_rolled_back(cfn: Any) -> None:
    """Drift is detected only on stacks in CREATE_COMPLETE, UPDATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE or
    UPDATE_ROLLBACK_FAILED; a ROLLBACK_COMPLETE stack is refused.

    DRIFT_GUIDE: "You can perform drift detection on stacks with the following statuses".
    """
    name = f"drift-{next(_names)}"
    failing = APP.replace("CidrBlock: 10.20.0.0/24", "CidrBlock: 10.99.0.0/24")  # outside the VPC's range
    cfn.create_stack(StackName=name, TemplateBody=failing)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    code, message = api_error(cfn.detect_stack_drift, StackName=name)
    assert code == "ValidationError"
    assert "ROLLBACK_COMPLETE" in message


# -- provisioning that drift detection relies on ---------------------------------------------------------
def test_bucket_policy_ref_is_the_bucket_name_and_the_policy_is_on_the_bucket(sb: Sandbox, cfn: Any) -> None:
    """AWS::S3::BucketPolicy: Ref returns the bucket name; the policy is the bucket's policy.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucketpolicy.html
    """
    stack = deploy(cfn)
    bucket = physical_id(cfn, stack, "Logs")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
    assert outputs["PolicyRef"] == bucket == physical_id(cfn, stack, "LogsPolicy")
    policy = json.loads(sb.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"


def test_deleting_a_bucket_policy_resource_removes_the_policy(sb: Sandbox, cfn: Any) -> None:
    """Deleting the stack of an AWS::S3::BucketPolicy takes the policy off a bucket the stack does not own.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucketpolicy.html
    """
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="drift-shared-bucket")
    body = template(
        """
        Resources:
          Policy:
            Type: AWS::S3::BucketPolicy
            Properties:
              Bucket: drift-shared-bucket
              PolicyDocument:
                Version: "2012-10-17"
                Statement:
                  - Effect: Deny
                    Principal: "*"
                    Action: s3:DeleteBucket
                    Resource: arn:aws:s3:::drift-shared-bucket
        """
    )
    stack = deploy(cfn, body)
    assert "Policy" in s3.get_bucket_policy(Bucket="drift-shared-bucket")
    cfn.delete_stack(StackName=stack)
    code, _ = api_error(s3.get_bucket_policy, Bucket="drift-shared-bucket")
    assert code == "NoSuchBucketPolicy"


def test_template_settings_moto_leaves_out_are_applied(sb: Sandbox, cfn: Any) -> None:
    """DNS attributes, MapPublicIpOnLaunch, versioning and managed policies are set as the templates say.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-vpc.html,
    aws-resource-ec2-subnet.html, aws-properties-s3-bucket.html, aws-resource-iam-role.html
    """
    stack = deploy(cfn)
    ec2 = sb.client("ec2")
    vpc = physical_id(cfn, stack, "Vpc")
    assert ec2.describe_vpc_attribute(VpcId=vpc, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
    subnet = ec2.describe_subnets(SubnetIds=[physical_id(cfn, stack, "Subnet")])["Subnets"][0]
    assert subnet["MapPublicIpOnLaunch"] is False
    versioning = sb.client("s3").get_bucket_versioning(Bucket=physical_id(cfn, stack, "Logs"))
    assert versioning["Status"] == "Enabled"
    roles = deploy(cfn, ROLE, Capabilities=["CAPABILITY_IAM"])
    attached = sb.client("iam").list_attached_role_policies(RoleName=physical_id(cfn, roles, "AppRole"))
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]


def test_updating_security_group_rules_keeps_the_group(sb: Sandbox, cfn: Any) -> None:
    """Changing SecurityGroupIngress updates the group in place ("Update requires: No interruption").

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-securitygroup.html
    """
    stack = deploy(cfn)
    before = physical_id(cfn, stack, "WebSecurityGroup")
    cfn.update_stack(
        StackName=stack,
        TemplateBody=APP.replace("FromPort: 443\n          ToPort: 443", "FromPort: 8443\n          ToPort: 8443"),
    )
    assert physical_id(cfn, stack, "WebSecurityGroup") == before
    rules = sb.client("ec2").describe_security_groups(GroupIds=[before])["SecurityGroups"][0]["IpPermissions"]
    assert [(r["FromPort"], r["IpRanges"][0]["CidrIp"]) for r in rules] == [(8443, "10.20.0.0/16")]
    assert detect(cfn, stack)["StackDriftStatus"] == "IN_SYNC"


def test_a_role_with_managed_policies_is_deleted_with_its_stack(sb: Sandbox, cfn: Any) -> None:
    """Deleting the stack deletes a role whose template attaches managed policies (CloudFormation detaches them
    first; IAM itself refuses to delete a role that still has policies attached).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-role.html;
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html
    """
    stack = deploy(cfn, ROLE, Capabilities=["CAPABILITY_IAM"])
    role = physical_id(cfn, stack, "AppRole")
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=stack)
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert api_error(sb.client("iam").get_role, RoleName=role)[0] == "NoSuchEntity"
