"""IAM: AWS-managed policies present in every account, without moto's start-up cost.

moto builds ~1,600 AWS-managed policy objects for every IAM backend it creates, and it creates one per
account *and per partition* (six of them) the first time any request looks up an access key. With an
organization of several accounts that cost seconds and hundreds of MB. The course only uses the `aws`
partition, so we parse moto's policy data once per process, build the objects for that partition only,
and let every account's objects share the same document strings and dates (~4 MB an account, not 13).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from functools import cache

from moto.iam import models as iam_models

_original_init_aws_policies = iam_models.IAMBackend._init_aws_policies


@cache
def _policy_data() -> list[tuple[str, str | None, str | None, str, datetime, datetime]]:
    """Each policy's fields, parsed once per process; the strings and dates are shared by every account."""
    rows = []
    for name, data in json.loads(iam_models.aws_managed_policies_data).items():
        rows.append(
            (
                sys.intern(name),
                data.get("DefaultVersionId"),
                data.get("Path"),
                json.dumps(data.get("Document")),
                datetime.fromisoformat(data["CreateDate"]),
                datetime.fromisoformat(data["UpdateDate"]),
            )
        )
    return rows


def _init_aws_policies(self: iam_models.IAMBackend) -> list[iam_models.ManagedPolicy]:
    if not iam_models.load_iam_aws_managed_policies() or self.region_name != "aws":
        return []
    return [
        iam_models.AWSManagedPolicy(
            name,
            account_id=self.account_id,
            region=self.region_name,
            default_version_id=version,
            path=path,
            document=document,
            create_date=created,
            update_date=updated,
        )
        for name, version, path, document, created, updated in _policy_data()
    ]


def install() -> None:
    """Replace IAMBackend._init_aws_policies."""
    iam_models.IAMBackend._init_aws_policies = _init_aws_policies  # type: ignore[method-assign]
