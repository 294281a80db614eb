"""ls.drift_report: the last drift check of a stack, read through the real API, as a table and as text."""

from __future__ import annotations

from typing import Any

import labs_support
from labs_support.sandbox import Sandbox

TEMPLATE = """
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: "50"
  Jobs:
    Type: AWS::SQS::Queue
"""


def test_a_stack_never_checked_shows_not_checked_and_runs_no_detection(cfn: Any) -> None:
    cfn.create_stack(StackName="report-unchecked", TemplateBody=TEMPLATE)
    report = labs_support.drift_report(cfn, "report-unchecked")
    assert repr(report).splitlines() == [
        "report-unchecked: NOT_CHECKED (never checked)",
        "  Setting                  NOT_CHECKED",
        "  Jobs                     NOT_CHECKED",
    ]
    stack = cfn.describe_stacks(StackName="report-unchecked")["Stacks"][0]
    assert stack["DriftInformation"]["StackDriftStatus"] == "NOT_CHECKED"


def test_the_report_lists_each_difference_and_deleted_resources(sb: Sandbox, cfn: Any) -> None:
    cfn.create_stack(StackName="report-drifted", TemplateBody=TEMPLATE)
    ids = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName="report-drifted")["StackResourceSummaries"]
    }
    sb.client("ssm").put_parameter(Name=ids["Setting"], Value="200", Type="String", Overwrite=True)
    sb.client("sqs").delete_queue(QueueUrl=ids["Jobs"])
    cfn.detect_stack_drift(StackName="report-drifted")
    report = labs_support.drift_report(cfn, "report-drifted")
    lines = repr(report).splitlines()
    assert lines[0] == "report-drifted: DRIFTED (2 of 2 resources drifted)"
    assert lines[1].split() == ["Setting", "MODIFIED", "NOT_EQUAL", "/Value", "expected:", "50", "actual:", "200"]
    assert lines[2].split() == ["Jobs", "DELETED"]
    assert "<table>" in report._repr_html_() and "NOT_EQUAL" in report._repr_html_()
