"""The Image Builder resources of one account and Region, each answering in botocore's response shapes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import clock
from .naming import api_date, arn


@dataclass
class Component:
    arn: str
    name: str
    version: str
    build: int
    platform: str
    data: str
    document: dict[str, Any]
    type: str
    owner: str
    fields: dict[str, Any]  # description, changeDescription, supportedOsVersions, kmsKeyId
    tags: dict[str, str]
    created: datetime = field(default_factory=clock.now)

    @property
    def version_arn(self) -> str:
        return self.arn.rsplit("/", 1)[0]

    def describe(self) -> dict[str, Any]:
        return {
            **self.fields,
            "arn": self.arn,
            "name": self.name,
            "version": self.version,
            "type": self.type,
            "platform": self.platform,
            "state": {"status": "ACTIVE"},
            "owner": self.owner,
            "data": self.data,
            "encrypted": True,
            "dateCreated": api_date(self.created),
            "tags": self.tags,
        }

    def version_summary(self) -> dict[str, Any]:
        row = {k: v for k, v in self.fields.items() if k in ("description", "supportedOsVersions")}
        return {
            **row,
            "arn": self.version_arn,
            "name": self.name,
            "version": self.version,
            "platform": self.platform,
            "type": self.type,
            "owner": self.owner,
            "dateCreated": api_date(self.created),
            "status": "ACTIVE",
        }

    def build_summary(self) -> dict[str, Any]:
        row = {k: v for k, v in self.fields.items() if k in ("description", "changeDescription", "supportedOsVersions")}
        return {
            **row,
            "arn": self.arn,
            "name": self.name,
            "version": self.version,
            "platform": self.platform,
            "state": {"status": "ACTIVE"},
            "type": self.type,
            "owner": self.owner,
            "dateCreated": api_date(self.created),
            "tags": self.tags,
        }


@dataclass
class ImageRecipe:
    arn: str
    name: str
    version: str
    platform: str
    parent_image: str
    components: list[dict[str, Any]]
    owner: str
    fields: dict[str, Any]  # description, blockDeviceMappings, workingDirectory, amiTags, ...
    tags: dict[str, str]
    created: datetime = field(default_factory=clock.now)

    def describe(self) -> dict[str, Any]:
        return {
            **self.fields,
            "arn": self.arn,
            "type": "AMI",
            "name": self.name,
            "platform": self.platform,
            "owner": self.owner,
            "version": self.version,
            "components": self.components,
            "parentImage": self.parent_image,
            "dateCreated": api_date(self.created),
            "tags": self.tags,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "name": self.name,
            "platform": self.platform,
            "owner": self.owner,
            "parentImage": self.parent_image,
            "dateCreated": api_date(self.created),
            "tags": self.tags,
        }


@dataclass
class Configuration:
    """An infrastructure or a distribution configuration: what the request said, echoed back."""

    arn: str
    name: str
    fields: dict[str, Any]
    tags: dict[str, str]
    created: datetime = field(default_factory=clock.now)
    updated: datetime | None = None

    def describe(self) -> dict[str, Any]:
        row = {**self.fields, "arn": self.arn, "name": self.name, "dateCreated": api_date(self.created)}
        if self.updated is not None:
            row["dateUpdated"] = api_date(self.updated)
        row["tags"] = self.tags
        return row


@dataclass
class InfrastructureConfiguration(Configuration):
    def summary(self) -> dict[str, Any]:
        keep = ("description", "resourceTags", "instanceTypes", "instanceProfileName", "placement")
        row = {k: v for k, v in self.describe().items() if k in keep or k in ("arn", "name", "tags")}
        row["dateCreated"] = api_date(self.created)
        if self.updated is not None:
            row["dateUpdated"] = api_date(self.updated)
        return row


@dataclass
class DistributionConfiguration(Configuration):
    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "timeoutMinutes": 720}

    def summary(self) -> dict[str, Any]:
        row = {k: v for k, v in super().describe().items() if k in ("arn", "name", "description", "tags")}
        row["dateCreated"] = api_date(self.created)
        if self.updated is not None:
            row["dateUpdated"] = api_date(self.updated)
        row["regions"] = [d["region"] for d in self.fields.get("distributions", [])]
        return row

    @property
    def distributions(self) -> list[dict[str, Any]]:
        return self.fields.get("distributions", [])


@dataclass
class ImagePipeline:
    arn: str
    name: str
    platform: str
    fields: dict[str, Any]  # the ARNs, description, schedule, status, imageTestsConfiguration, ...
    tags: dict[str, str]
    created: datetime = field(default_factory=clock.now)
    updated: datetime | None = None
    last_run: datetime | None = None
    last_run_status: str | None = None

    def describe(self) -> dict[str, Any]:
        row = {**self.fields, "arn": self.arn, "name": self.name, "platform": self.platform}
        row["dateCreated"] = api_date(self.created)
        if self.updated is not None:
            row["dateUpdated"] = api_date(self.updated)
        if self.last_run is not None:
            row["dateLastRun"] = api_date(self.last_run)
        if self.last_run_status is not None:
            row["lastRunStatus"] = self.last_run_status
        row["tags"] = self.tags
        return row

    @property
    def recipe_arn(self) -> str:
        return self.fields["imageRecipeArn"]

    @property
    def infrastructure_arn(self) -> str:
        return self.fields["infrastructureConfigurationArn"]

    @property
    def distribution_arn(self) -> str | None:
        return self.fields.get("distributionConfigurationArn")


IN_PROGRESS = ("PENDING", "CREATING", "BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING")


@dataclass
class Image:
    """One image build version (…/image/<recipe>/<version>/<build>) and the state of its build."""

    region: str
    account: str
    recipe: ImageRecipe
    build: int
    infrastructure: InfrastructureConfiguration
    distribution: DistributionConfiguration | None
    tests: dict[str, Any]
    enhanced_metadata: bool
    tags: dict[str, str]
    pipeline: ImagePipeline | None = None
    status: str = "PENDING"
    reason: str | None = None
    failure_context: dict[str, Any] | None = None
    amis: list[dict[str, Any]] = field(default_factory=list)
    created: datetime = field(default_factory=clock.now)
    cancel: threading.Event = field(default_factory=threading.Event)
    build_host: Any = None  # the build instance's simulated host (ssm/hosts.py), baked into the AMIs

    @property
    def name(self) -> str:
        return self.recipe.name

    @property
    def version(self) -> str:
        return self.recipe.version

    @property
    def arn(self) -> str:
        return arn(self.region, self.account, "image", self.recipe.name, self.recipe.version, self.build)

    @property
    def version_arn(self) -> str:
        return arn(self.region, self.account, "image", self.recipe.name, self.recipe.version)

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"status": self.status}
        if self.reason:
            state["reason"] = self.reason
        if self.failure_context:
            state["failureContext"] = self.failure_context
        return state

    def _common(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "name": self.name,
            "type": "AMI",
            "version": f"{self.version}/{self.build}",
            "platform": self.recipe.platform,
            "state": self.state(),
            "owner": self.account,
            "dateCreated": api_date(self.created),
            "outputResources": {"amis": list(self.amis)},
            "tags": self.tags,
            "buildType": "USER_INITIATED",
            "imageSource": "CUSTOM",
        }

    def describe(self) -> dict[str, Any]:
        row = {
            **self._common(),
            "enhancedImageMetadataEnabled": self.enhanced_metadata,
            "imageRecipe": self.recipe.describe(),
            "infrastructureConfiguration": self.infrastructure.describe(),
            "imageTestsConfiguration": self.tests,
        }
        if self.distribution is not None:
            row["distributionConfiguration"] = self.distribution.describe()
        if self.pipeline is not None:
            row["sourcePipelineName"] = self.pipeline.name
            row["sourcePipelineArn"] = self.pipeline.arn
        return row

    def summary(self) -> dict[str, Any]:
        return self._common()

    def version_summary(self) -> dict[str, Any]:
        row = {k: v for k, v in self._common().items() if k not in ("state", "outputResources", "tags")}
        row["arn"] = self.version_arn
        row["version"] = self.version
        return row
