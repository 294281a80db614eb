"""AWS::S3::BucketPolicy, which moto has no CloudFormation model for: the policy is put on the sandbox bucket.

As AWS documents (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucketpolicy.html),
Ref returns the bucket's name, which is also the resource's physical id (the registry schema's primary
identifier is /properties/Bucket). Changing Bucket replaces the resource; changing PolicyDocument updates it.
"""

from __future__ import annotations

import json
from typing import Any

from moto.utilities.utils import get_partition

from .errors import ResourceFailure
from .resources import Provisioned, ResourceRequest, register_provider


def _backend(request: ResourceRequest):  # type: ignore[no-untyped-def]
    from moto.s3.models import s3_backends

    return s3_backends[request.account_id][get_partition(request.region)]


def _document(properties: dict[str, Any]) -> bytes:
    document = properties.get("PolicyDocument")
    return (document if isinstance(document, str) else json.dumps(document)).encode()


class S3BucketPolicyProvider:
    """Puts, replaces and deletes a bucket's policy through the sandbox's S3 backend."""

    def _put(self, request: ResourceRequest) -> Provisioned:
        bucket = str(request.properties.get("Bucket", ""))
        backend = _backend(request)
        if bucket not in backend.buckets:
            raise ResourceFailure("The specified bucket does not exist (Service: S3, Status Code: 404)")
        backend.put_bucket_policy(bucket, _document(request.properties))
        return Provisioned(bucket, bucket, request.properties, backend.buckets[bucket])

    def create(self, request: ResourceRequest) -> Provisioned:
        return self._put(request)

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        return self._put(request)

    def delete(self, request: ResourceRequest, current: Provisioned) -> None:
        bucket = _backend(request).buckets.get(current.physical_id)
        if bucket is not None:  # a bucket deleted out of band took its policy with it
            bucket.policy = None

    def get_att(self, request: ResourceRequest, current: Provisioned, attribute: str) -> Any:
        raise ResourceFailure(f"The course sandbox cannot read attribute {attribute} of {request.resource_type}.")


register_provider("AWS::S3::BucketPolicy", S3BucketPolicyProvider)
