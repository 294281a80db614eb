"""Fidelity tests: the template Rules section and AWS::CDK::Metadata, as the CDK's templates use them.

https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html
https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html (the bootstrap version check)
"""

from __future__ import annotations

import json
from typing import Any

from aws_errors import api_error

from labs_support.sandbox import Sandbox

# The shape the CDK's default synthesizer gives every stack (aws-cdk-lib 2.275.0).
CDK_TEMPLATE = json.dumps(
    {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            }
        },
        "Rules": {
            "CheckBootstrapVersion": {
                "Assertions": [
                    {
                        "Assert": {
                            "Fn::Not": [{"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}]
                        },
                        "AssertDescription": "CDK bootstrap stack version 6 required. Please run 'cdk bootstrap' "
                        "with a recent version of the CDK CLI.",
                    }
                ]
            }
        },
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:abc"}},
        },
    }
)


def test_a_failed_rule_assertion_rejects_the_stack_with_its_description(sb: Sandbox, cfn: Any) -> None:
    sb.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="5", Type="String", Overwrite=True)
    code, message = api_error(cfn.create_stack, StackName="cdk-old", TemplateBody=CDK_TEMPLATE)
    assert code == "ValidationError"
    assert message == (
        "CDK bootstrap stack version 6 required. Please run 'cdk bootstrap' with a recent version of the CDK CLI."
    )


def test_a_passing_rule_lets_the_stack_through_and_cdk_metadata_is_accepted(sb: Sandbox, cfn: Any) -> None:
    sb.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="33", Type="String", Overwrite=True)
    cfn.create_stack(StackName="cdk-new", TemplateBody=CDK_TEMPLATE)
    assert cfn.describe_stacks(StackName="cdk-new")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    types = {r["ResourceType"] for r in cfn.list_stack_resources(StackName="cdk-new")["StackResourceSummaries"]}
    assert types == {"AWS::SNS::Topic", "AWS::CDK::Metadata"}


def test_rules_are_checked_on_update_too(sb: Sandbox, cfn: Any) -> None:
    sb.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="33", Type="String", Overwrite=True)
    cfn.create_stack(StackName="cdk-upd", TemplateBody=CDK_TEMPLATE)
    sb.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="4", Type="String", Overwrite=True)
    changed = CDK_TEMPLATE.replace('"Topic": {"Type": "AWS::SNS::Topic"}', '"Topic2": {"Type": "AWS::SNS::Topic"}')
    code, message = api_error(cfn.update_stack, StackName="cdk-upd", TemplateBody=changed)
    assert code == "ValidationError" and message.startswith("CDK bootstrap stack version 6 required")


def test_a_rule_condition_that_does_not_hold_skips_the_rule(cfn: Any) -> None:
    template = {
        "Parameters": {"Env": {"Type": "String", "Default": "dev"}, "Size": {"Type": "String", "Default": "big"}},
        "Rules": {
            "ProdIsSmall": {
                "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "Assertions": [{"Assert": {"Fn::Contains": [["small"], {"Ref": "Size"}]}, "AssertDescription": "no"}],
            }
        },
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    }
    cfn.create_stack(StackName="rule-dev", TemplateBody=json.dumps(template))
    code, message = api_error(
        cfn.create_stack,
        StackName="rule-prod",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Env", "ParameterValue": "prod"}],
    )
    assert (code, message) == ("ValidationError", "no")
