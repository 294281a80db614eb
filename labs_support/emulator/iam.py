"""IAM: AWS-managed policies present in every account, without moto's start-up cost.

moto builds ~1,600 AWS-managed policy objects for every IAM backend it creates, and it creates one per
account *and per partition* (six of them) the first time any request looks up an access key. With an
organization of several accounts that cost seconds and hundreds of MB. The course only uses the `aws`
partition, so we parse moto's policy data once per process and build the objects for that partition only.
"""

from __future__ import annotations

import json
from functools import cache

from moto.iam import models as iam_models

_original_init_aws_policies = iam_models.IAMBackend._init_aws_policies


@cache
def _parsed_policy_data() -> dict:
    return json.loads(iam_models.aws_managed_policies_data)


def _init_aws_policies(self: iam_models.IAMBackend) -> list[iam_models.ManagedPolicy]:
    if not iam_models.load_iam_aws_managed_policies() or self.region_name != "aws":
        return []
    return [
        iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
        for name, data in _parsed_policy_data().items()
    ]


def install() -> None:
    """Replace IAMBackend._init_aws_policies."""
    iam_models.IAMBackend._init_aws_policies = _init_aws_policies  # type: ignore[method-assign]
