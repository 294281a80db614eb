"""AWS::CDK::Metadata: the resource the CDK adds to report which constructs a stack uses (version reporting).

On AWS it is a real resource type that creates nothing you can see in your account; moto does not model it,
so a CDK template with analytics reporting on would fail here. This provider accepts it, as AWS does.
https://docs.aws.amazon.com/cdk/v2/guide/cli.html (version reporting)
"""

from __future__ import annotations

from typing import Any

from moto.moto_api._internal import mock_random

from .errors import ResourceFailure
from .resources import Provisioned, ResourceRequest, register_provider


class CdkMetadataProvider:
    """Records the metadata; nothing else exists."""

    def create(self, request: ResourceRequest) -> Provisioned:
        physical_id = str(mock_random.uuid4())
        return Provisioned(physical_id, physical_id, request.properties)

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        return Provisioned(current.physical_id, current.ref, request.properties)

    def delete(self, request: ResourceRequest, current: Provisioned) -> None:
        return None

    def get_att(self, request: ResourceRequest, current: Provisioned, attribute: str) -> Any:
        raise ResourceFailure(f"Template error: resource type AWS::CDK::Metadata has no attribute {attribute}")


register_provider("AWS::CDK::Metadata", CdkMetadataProvider)
