"""Template pieces for tests of Lambda-backed custom resources."""

from __future__ import annotations

import textwrap


def role_and_function(handler: str) -> str:
    """Resources `Role` and `Fn` (python3.12, inline code importing cfnresponse) for a template's Resources
    section; `handler` is the body of `def handler(event, context):`."""
    body = textwrap.indent(textwrap.dedent(handler).strip(), " " * 14)
    return f"""  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: sts:AssumeRole}}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          import cfnresponse
          def handler(event, context):
{body}
"""
