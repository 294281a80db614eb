"""Image Builder's error responses, worded as AWS words them.

Verified wordings (from real responses quoted in public issue threads):
- "The value supplied for parameter '<name>' is not valid. <detail>" (InvalidParameterValueException);
  the AMI name detail "The EC2 AMI name must contain '{{ imagebuilder:buildDate }}' to ensure that the name
  will be unique." (hashicorp/terraform-provider-aws#36610), the semantic version detail "semanticVersion must
  match pattern ^[0-9]+\\.[0-9]+\\.[0-9]+$" (aws-cloudformation/cloudformation-coverage-roadmap#2439), the step
  name detail (aws/aws-cdk#19909) and the undefined component parameters detail (aws-ia/terraform-aws-ec2-image-
  builder#106, an InvalidParameterCombinationException).
- "Resource dependency error: The resource ARN '<arn>' has other resources depended on it."
  (hashicorp/terraform-provider-aws#39985, #40128; pulumi/pulumi#6919).
- "The following resource 'ImageRecipe' already exists: '<arn>'." (ministryofjustice/modernisation-platform-
  ami-builds#549).
Other details after the AWS prefix are ours, marked `wording ours` where they are raised.
"""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class ImageBuilderError(ServiceException):
    """An error Image Builder answers with (serialized with the status code of botocore's model)."""


class ResourceNotFoundException(ImageBuilderError):
    code = "ResourceNotFoundException"


class InvalidParameterValueException(ImageBuilderError):
    code = "InvalidParameterValueException"


class InvalidParameterCombinationException(ImageBuilderError):
    code = "InvalidParameterCombinationException"


class InvalidRequestException(ImageBuilderError):
    code = "InvalidRequestException"


class ResourceAlreadyExistsException(ImageBuilderError):
    code = "ResourceAlreadyExistsException"


class ResourceDependencyException(ImageBuilderError):
    code = "ResourceDependencyException"


class SandboxNotSupported(ImageBuilderError):
    """Something AWS does that this sandbox does not emulate: said plainly, never faked."""

    code = "SandboxNotSupported"


def invalid_value(parameter: str, detail: str) -> InvalidParameterValueException:
    """AWS's InvalidParameterValueException: its fixed prefix, then what is wrong."""
    return InvalidParameterValueException(f"The value supplied for parameter '{parameter}' is not valid. {detail}")


def not_found(arn: str) -> ResourceNotFoundException:
    # wording ours: AWS documents the error, not its message
    return ResourceNotFoundException(f"The resource ARN '{arn}' does not exist.")


def already_exists(kind: str, arn: str) -> ResourceAlreadyExistsException:
    return ResourceAlreadyExistsException(f"The following resource '{kind}' already exists: '{arn}'.")


def dependency(arn: str) -> ResourceDependencyException:
    return ResourceDependencyException(
        f"Resource dependency error: The resource ARN '{arn}' has other resources depended on it."
    )
