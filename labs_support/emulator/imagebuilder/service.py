"""The Image Builder service of one account and Region: a moto backend holding the resources.

Create, get, list, update and delete for components, image recipes, infrastructure and distribution
configurations, image pipelines and images, with AWS's checks (names, semantic versions, references to EC2, IAM,
SSM and S3 resources that must exist) and AWS's dependency rules (a resource in use by another cannot be deleted).
Sources for the behaviours are in the package docstring; wordings in errors.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from botocore.loaders import create_loader
from moto.core.base_backend import BackendDict, BaseBackend

from .. import clock
from . import documents
from .errors import (
    InvalidParameterCombinationException,
    InvalidRequestException,
    SandboxNotSupported,
    already_exists,
    dependency,
    invalid_value,
    not_found,
)
from .naming import (
    arn,
    arn_name,
    check_name,
    check_version,
    latest_version_references,
    parse_arn,
    version_key,
    version_matches,
)
from .resources import (
    IN_PROGRESS,
    Component,
    DistributionConfiguration,
    Image,
    ImagePipeline,
    ImageRecipe,
    InfrastructureConfiguration,
)

URL = r"https?://imagebuilder\.(.+)\.amazonaws\.com/.*"
# the commercial Regions (botocore's endpoint data lists none for imagebuilder itself, so moto would find none)
REGIONS = [
    r for p in create_loader().load_data("endpoints")["partitions"] if p["partition"] == "aws" for r in p["regions"]
]
PLATFORMS = ("Linux", "Windows", "macOS")
_BUILD_DATE = re.compile(r"\{\{\s*imagebuilder:buildDate(?::[^}\s]*)?\s*\}\}")
_AMI_NAME = re.compile(r"^[-_A-Za-z0-9{][-_A-Za-z0-9\s:{}\.]+[-_A-Za-z0-9}]$")
_SSM_NAME = re.compile(r"^[a-zA-Z0-9_.\-\/]+$")
_UNSUPPORTED_DISTRIBUTION = {
    "containerDistributionConfiguration": "container image distribution",
    "s3ExportConfiguration": "exporting images to S3",
    "fastLaunchConfigurations": "EC2 Fast Launch",
    "licenseConfigurationArns": "License Manager configurations",
}


def _managed(value: str) -> SandboxNotSupported:
    return SandboxNotSupported(
        f"The course sandbox has no Amazon-managed Image Builder resources ({value}); create your own component, "
        "or use an AMI id as the parent image."
    )


class ImageBuilderBackend(BaseBackend):
    """Image Builder in one account and Region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.components: dict[str, Component] = {}
        self.recipes: dict[str, ImageRecipe] = {}
        self.infrastructure: dict[str, InfrastructureConfiguration] = {}
        self.distributions: dict[str, DistributionConfiguration] = {}
        self.pipelines: dict[str, ImagePipeline] = {}
        self.images: dict[str, Image] = {}
        self.builds: dict[tuple[str, str], int] = {}  # (recipe name, version) -> last build number
        self.lock = threading.RLock()

    @property
    def urls(self) -> dict[str, Callable[..., Any]]:
        from .api import ImageBuilderResponse

        return {URL: ImageBuilderResponse.dispatch}

    def _arn(self, kind: str, name: str, version: str | None = None, build: int | None = None) -> str:
        return arn(self.region_name, self.account_id, kind, name, version, build)

    # -- components ------------------------------------------------------------------------------------
    def create_component(
        self, name: str, version: str, platform: str, data: str | None, uri: str | None, fields: dict, tags: dict
    ) -> Component:
        check_name(name)
        check_version(version)
        if platform not in PLATFORMS:
            raise invalid_value("platform", f"platform must be one of {', '.join(PLATFORMS)}.")  # wording ours
        if data and uri:
            # wording ours
            raise InvalidParameterCombinationException("You can specify either data or uri, not both.")
        if uri:
            data = self._read_s3(uri)
        if not data:
            raise InvalidParameterCombinationException("You must specify either data or uri.")  # wording ours
        document = documents.parse(data)
        with self.lock:
            builds = [
                c for c in self.components.values() if arn_name(c.name) == arn_name(name) and c.version == version
            ]
            latest = max(builds, key=lambda c: c.build, default=None)
            if latest is not None and latest.data == data and latest.platform == platform:
                raise already_exists("Component", latest.arn)
            build = latest.build + 1 if latest is not None else 1
            component = Component(
                arn=self._arn("component", name, version, build),
                name=name,
                version=version,
                build=build,
                platform=platform,
                data=data,
                document=document,
                type=documents.component_type(document),
                owner=self.account_id,
                fields=fields,
                tags=tags,
            )
            self.components[component.arn] = component
        return component

    def _read_s3(self, uri: str) -> str:
        from moto.s3.models import s3_backends

        m = re.match(r"^s3://([^/]+)/(.+)$", uri)
        try:
            if not m:
                raise ValueError
            key = s3_backends[self.account_id]["aws"].get_object(m.group(1), m.group(2))
            if key is None:
                raise ValueError
            return key.value.decode()
        except Exception:
            raise invalid_value("uri", f"The component document could not be read from '{uri}'.") from None  # ours

    def component_references(self, component_arn: str) -> dict[str, str]:
        c = self.get_component(component_arn)
        return latest_version_references(self.region_name, self.account_id, "component", c.name, c.version)

    def get_component(self, component_arn: str, parameter: str = "componentBuildVersionArn") -> Component:
        """A component by build version ARN, version ARN (its latest build) or wildcard ARN (the latest match)."""
        parsed = parse_arn(component_arn, parameter, ("component",))
        if parsed.owner == "aws":
            raise _managed(component_arn)
        with self.lock:
            candidates = [
                c
                for c in self.components.values()
                if arn_name(c.name) == parsed.name
                and (parsed.version is None or version_matches(parsed.version, c.version))
                and (parsed.build is None or c.build == parsed.build)
            ]
        if parsed.owner != self.account_id or parsed.region != self.region_name or not candidates:
            raise not_found(component_arn)
        return max(candidates, key=lambda c: (version_key(c.version), c.build))

    def list_components(self) -> list[Component]:
        """The latest build of each component version."""
        latest: dict[str, Component] = {}
        for c in self.components.values():
            if c.version_arn not in latest or c.build > latest[c.version_arn].build:
                latest[c.version_arn] = c
        return list(latest.values())

    def component_builds(self, version_arn: str) -> list[Component]:
        parsed = parse_arn(version_arn, "componentVersionArn", ("component",))
        if parsed.version is None or "x" in parsed.version or parsed.build is not None:
            # wording ours
            raise invalid_value("componentVersionArn", "The ARN must name one version (major.minor.patch).")
        return [c for c in self.components.values() if c.version_arn == version_arn]

    def delete_component(self, component_arn: str) -> None:
        parsed = parse_arn(component_arn, "componentBuildVersionArn", ("component",))
        component = self.components.get(component_arn)
        if component is None or parsed.build is None:
            raise not_found(component_arn)
        with self.lock:
            for recipe in self.recipes.values():
                for entry in recipe.components:
                    used = parse_arn(entry["componentArn"], "componentArn", ("component",))
                    if (
                        used.name == arn_name(component.name)
                        and (used.version is None or version_matches(used.version, component.version))
                        and used.build in (None, component.build)
                    ):
                        raise dependency(component_arn)
            del self.components[component_arn]

    # -- image recipes ---------------------------------------------------------------------------------
    def create_image_recipe(
        self, name: str, version: str, parent_image: str, components: list[dict], fields: dict, tags: dict
    ) -> ImageRecipe:
        check_name(name)
        if version and "x" in version:
            raise SandboxNotSupported(
                "The course sandbox does not assign recipe versions automatically; give semanticVersion as "
                "major.minor.patch."
            )
        check_version(version)
        recipe_arn = self._arn("image-recipe", name, version)
        if recipe_arn in self.recipes:
            raise already_exists("ImageRecipe", recipe_arn)
        ami = self.resolve_parent_image(parent_image)
        platform = "Windows" if (ami.platform or "").lower() == "windows" else "Linux"
        for i, entry in enumerate(components):
            component = self.get_component(entry.get("componentArn", ""), f"components[{i}].componentArn")
            if component.platform != platform:
                raise invalid_value(  # wording ours
                    f"components[{i}].componentArn",
                    f"The component's platform ({component.platform}) does not match the parent image's "
                    f"platform ({platform}).",
                )
            given = {p.get("name") for p in entry.get("parameters") or []}
            undefined = sorted(str(n) for n in given - documents.parameter_names(component.document))
            if undefined:
                raise InvalidParameterCombinationException(
                    f"The value supplied for parameter 'components[{i}].parameters' is not valid. The following "
                    f"parameters are not defined in the provided component: {', '.join(undefined)}"
                )
        recipe = ImageRecipe(
            arn=recipe_arn,
            name=name,
            version=version,
            platform=platform,
            parent_image=parent_image,
            components=components,
            owner=self.account_id,
            fields=fields,
            tags=tags,
        )
        with self.lock:
            self.recipes[recipe_arn] = recipe
        return recipe

    def resolve_parent_image(self, parent_image: str, parameter: str = "parentImage") -> Any:
        """The EC2 AMI a recipe starts from: an AMI id, `ssm:<parameter>`, or one of this account's images."""
        from moto.ec2.models import ec2_backends

        value = parent_image or ""
        if value.startswith("ssm:"):
            from moto.ssm.models import ssm_backends

            parameter_value = ssm_backends[self.account_id][self.region_name].get_parameter(value[4:])
            if parameter_value is None:
                raise invalid_value(parameter, f"The SSM parameter '{value[4:]}' does not exist.")  # wording ours
            value = parameter_value.value
        elif value.startswith("arn:"):
            parsed = parse_arn(value, parameter, ("image",))
            if parsed.owner == "aws":
                raise _managed(value)
            value = self._image_ami(value, parameter)
        if not value.startswith("ami-"):
            raise invalid_value(parameter, f"'{parent_image}' is not an AMI id, an image ARN or ssm:<parameter>.")
        try:
            return ec2_backends[self.account_id][self.region_name].describe_images(ami_ids=[value])[0]
        except Exception:
            # wording ours
            raise invalid_value(parameter, f"The AMI '{value}' does not exist in {self.region_name}.") from None

    def _image_ami(self, image_arn: str, parameter: str) -> str:
        parsed = parse_arn(image_arn, parameter, ("image",))
        images = [
            i
            for i in self.images.values()
            if arn_name(i.name) == parsed.name
            and i.status == "AVAILABLE"
            and (parsed.version is None or version_matches(parsed.version, i.version))
            and parsed.build in (None, i.build)
        ]
        if not images:
            raise not_found(image_arn)
        image = max(images, key=lambda i: (version_key(i.version), i.build))
        for ami in image.amis:
            if ami["region"] == self.region_name and ami["accountId"] == self.account_id:
                return ami["image"]
        raise not_found(image_arn)

    def get_recipe(self, recipe_arn: str, parameter: str = "imageRecipeArn") -> ImageRecipe:
        parse_arn(recipe_arn, parameter, ("image-recipe",))
        recipe = self.recipes.get(recipe_arn)
        if recipe is None:
            raise not_found(recipe_arn)
        return recipe

    def delete_recipe(self, recipe_arn: str) -> None:
        self.get_recipe(recipe_arn)
        with self.lock:
            if any(p.recipe_arn == recipe_arn for p in self.pipelines.values()):
                raise dependency(recipe_arn)
            del self.recipes[recipe_arn]

    # -- infrastructure and distribution configurations ------------------------------------------------
    def put_infrastructure(self, name: str, fields: dict, tags: dict, existing: str | None = None) -> str:
        from moto.iam.models import iam_backends

        profile = fields.get("instanceProfileName")
        try:
            iam_backends[self.account_id]["global"].get_instance_profile(profile)
        except Exception:
            # "The provided instance profile does not exist" is AWS's (quoted in public write-ups)
            raise invalid_value("instanceProfileName", "The provided instance profile does not exist.") from None
        fields.setdefault("terminateInstanceOnFailure", True)
        if existing is not None:
            config = self.get_infrastructure(existing)
            config.fields, config.updated = fields, clock.now()
            return config.arn
        check_name(name)
        config_arn = self._arn("infrastructure-configuration", name)
        with self.lock:
            if config_arn in self.infrastructure:
                raise already_exists("InfrastructureConfiguration", config_arn)
            self.infrastructure[config_arn] = InfrastructureConfiguration(config_arn, name, fields, tags)
        return config_arn

    def get_infrastructure(
        self, config_arn: str, parameter: str = "infrastructureConfigurationArn"
    ) -> InfrastructureConfiguration:
        parse_arn(config_arn, parameter, ("infrastructure-configuration",))
        config = self.infrastructure.get(config_arn)
        if config is None:
            raise not_found(config_arn)
        return config

    def put_distribution(self, name: str, fields: dict, tags: dict, existing: str | None = None) -> str:
        self._check_distributions(fields.get("distributions") or [])
        if existing is not None:
            config = self.get_distribution(existing)
            config.fields, config.updated = fields, clock.now()
            return config.arn
        check_name(name)
        config_arn = self._arn("distribution-configuration", name)
        with self.lock:
            if config_arn in self.distributions:
                raise already_exists("DistributionConfiguration", config_arn)
            self.distributions[config_arn] = DistributionConfiguration(config_arn, name, fields, tags)
        return config_arn

    def _check_distributions(self, distributions: list[dict]) -> None:
        if not distributions:
            raise invalid_value("distributions", "At least one distribution is required.")  # wording ours
        seen: set[str] = set()
        for i, d in enumerate(distributions):
            where = f"distributions[{i}]"
            for key, what in _UNSUPPORTED_DISTRIBUTION.items():
                if d.get(key):
                    raise SandboxNotSupported(f"The course sandbox does not emulate {what} ({where}.{key}).")
            if d.get("region") not in REGIONS:
                raise invalid_value(f"{where}.region", f"'{d.get('region')}' is not a valid Region.")  # wording ours
            if d["region"] in seen:
                # wording ours
                raise InvalidParameterCombinationException(f"The Region {d['region']} is given more than once.")
            seen.add(d["region"])
            name = (d.get("amiDistributionConfiguration") or {}).get("name")
            if name is not None:
                if not (1 <= len(name) <= 127) or not _AMI_NAME.match(name):
                    raise invalid_value(
                        f"{where}.amiDistributionConfiguration.name", f"name must match pattern {_AMI_NAME.pattern}"
                    )
                if not _BUILD_DATE.search(name):
                    raise invalid_value(
                        f"{where}.amiDistributionConfiguration.name",
                        "The EC2 AMI name must contain '{{ imagebuilder:buildDate }}' to ensure that the name will "
                        "be unique.",
                    )
            for j, p in enumerate(d.get("ssmParameterConfigurations") or []):
                if not _SSM_NAME.match(p.get("parameterName") or ""):
                    raise invalid_value(
                        f"{where}.ssmParameterConfigurations[{j}].parameterName",
                        f"parameterName must match pattern {_SSM_NAME.pattern}",
                    )
                if p.get("dataType", "text") not in ("text", "aws:ec2:image"):
                    raise invalid_value(
                        f"{where}.ssmParameterConfigurations[{j}].dataType", "dataType must be text or aws:ec2:image"
                    )

    def get_distribution(
        self, config_arn: str, parameter: str = "distributionConfigurationArn"
    ) -> DistributionConfiguration:
        parse_arn(config_arn, parameter, ("distribution-configuration",))
        config = self.distributions.get(config_arn)
        if config is None:
            raise not_found(config_arn)
        return config

    def delete_configuration(self, config_arn: str, kind: str) -> None:
        store: dict[str, Any] = self.infrastructure if kind == "infrastructure-configuration" else self.distributions
        parse_arn(config_arn, f"{'infrastructure' if 'infra' in kind else 'distribution'}ConfigurationArn", (kind,))
        if config_arn not in store:
            raise not_found(config_arn)
        with self.lock:
            if any(config_arn in (p.infrastructure_arn, p.distribution_arn) for p in self.pipelines.values()):
                raise dependency(config_arn)
            del store[config_arn]

    # -- pipelines and images --------------------------------------------------------------------------
    def put_pipeline(self, name: str, fields: dict, tags: dict, existing: str | None = None) -> str:
        if fields.get("containerRecipeArn"):
            raise SandboxNotSupported("The course sandbox does not build container images (containerRecipeArn).")
        if fields.get("workflows"):
            raise SandboxNotSupported("The course sandbox runs the default build and test workflows only.")
        if not fields.get("imageRecipeArn"):
            raise invalid_value("imageRecipeArn", "imageRecipeArn is required.")  # wording ours
        recipe = self.get_recipe(fields["imageRecipeArn"])
        self.get_infrastructure(fields.get("infrastructureConfigurationArn", ""))
        if fields.get("distributionConfigurationArn"):
            self.get_distribution(fields["distributionConfigurationArn"])
        if fields.get("status", "ENABLED") not in ("ENABLED", "DISABLED"):
            raise invalid_value("status", "status must be ENABLED or DISABLED.")  # wording ours
        fields.setdefault("status", "ENABLED")
        fields.setdefault("enhancedImageMetadataEnabled", True)
        fields["imageTestsConfiguration"] = {
            "imageTestsEnabled": True,
            "timeoutMinutes": 720,
            **(fields.get("imageTestsConfiguration") or {}),
        }
        if existing is not None:
            pipeline = self.get_pipeline(existing)
            pipeline.fields, pipeline.platform, pipeline.updated = fields, recipe.platform, clock.now()
            return pipeline.arn
        check_name(name)
        pipeline_arn = self._arn("image-pipeline", name)
        with self.lock:
            if pipeline_arn in self.pipelines:
                raise already_exists("ImagePipeline", pipeline_arn)
            self.pipelines[pipeline_arn] = ImagePipeline(pipeline_arn, name, recipe.platform, fields, tags)
        return pipeline_arn

    def get_pipeline(self, pipeline_arn: str, parameter: str = "imagePipelineArn") -> ImagePipeline:
        parse_arn(pipeline_arn, parameter, ("image-pipeline",))
        pipeline = self.pipelines.get(pipeline_arn)
        if pipeline is None:
            raise not_found(pipeline_arn)
        return pipeline

    def delete_pipeline(self, pipeline_arn: str) -> None:
        self.get_pipeline(pipeline_arn)
        with self.lock:
            del self.pipelines[pipeline_arn]

    def start_pipeline(self, pipeline_arn: str, tags: dict) -> Image:
        pipeline = self.get_pipeline(pipeline_arn)
        image = self.new_image(
            self.get_recipe(pipeline.recipe_arn),
            self.get_infrastructure(pipeline.infrastructure_arn),
            self.get_distribution(pipeline.distribution_arn) if pipeline.distribution_arn else None,
            pipeline.fields["imageTestsConfiguration"],
            pipeline.fields["enhancedImageMetadataEnabled"],
            {**pipeline.fields.get("imageTags", {}), **tags},
            pipeline,
        )
        pipeline.last_run, pipeline.last_run_status = image.created, image.status
        return image

    def new_image(
        self,
        recipe: ImageRecipe,
        infrastructure: InfrastructureConfiguration,
        distribution: DistributionConfiguration | None,
        tests: dict,
        enhanced_metadata: bool,
        tags: dict,
        pipeline: ImagePipeline | None = None,
    ) -> Image:
        """A new build version of the recipe's image, built in a worker thread on the lab clock."""
        from . import builds

        with self.lock:
            key = (arn_name(recipe.name), recipe.version)
            self.builds[key] = self.builds.get(key, 0) + 1
            image = Image(
                region=self.region_name,
                account=self.account_id,
                recipe=recipe,
                build=self.builds[key],
                infrastructure=infrastructure,
                distribution=distribution,
                tests=tests,
                enhanced_metadata=enhanced_metadata,
                tags=tags,
                pipeline=pipeline,
            )
            self.images[image.arn] = image
        builds.start(self, image)
        return image

    def get_image(self, image_arn: str, parameter: str = "imageBuildVersionArn") -> Image:
        """An image by build version ARN, or by version ARN (its latest build)."""
        parsed = parse_arn(image_arn, parameter, ("image",))
        if parsed.owner == "aws":
            raise _managed(image_arn)
        images = [
            i
            for i in self.images.values()
            if arn_name(i.name) == parsed.name
            and (parsed.version is None or version_matches(parsed.version, i.version))
            and parsed.build in (None, i.build)
        ]
        if not images:
            raise not_found(image_arn)
        return max(images, key=lambda i: (version_key(i.version), i.build))

    def cancel_image(self, image_arn: str) -> Image:
        image = self.get_image(image_arn)
        with self.lock:
            if image.status not in IN_PROGRESS:
                # wording ours
                raise InvalidRequestException(f"The image '{image_arn}' is {image.status} and cannot be cancelled.")
            image.status, image.reason = "CANCELLED", "The image creation was cancelled."  # wording ours
            image.cancel.set()
            if image.pipeline is not None:
                image.pipeline.last_run_status = "CANCELLED"
        return image

    def delete_image(self, image_arn: str) -> None:
        image = self.get_image(image_arn)
        with self.lock:
            if image.status in IN_PROGRESS:
                # wording ours
                raise InvalidRequestException(f"The image '{image_arn}' is still {image.status}; cancel it first.")
            for recipe in self.recipes.values():
                if not recipe.parent_image.startswith("arn:"):
                    continue
                parent = parse_arn(recipe.parent_image, "parentImage", ("image",))
                if (
                    parent.name == arn_name(image.name)
                    and (parent.version is None or version_matches(parent.version, image.version))
                    and parent.build in (None, image.build)
                ):
                    raise dependency(image.arn)
            del self.images[image.arn]

    # -- tags ------------------------------------------------------------------------------------------
    def tagged(self, resource_arn: str) -> Any:
        for store in (self.components, self.recipes, self.infrastructure, self.distributions, self.pipelines):
            if resource_arn in store:
                return store[resource_arn]
        if resource_arn in self.images:
            return self.images[resource_arn]
        raise not_found(resource_arn)


def filtered(rows: Iterable[dict[str, Any]], filters: list[dict] | None) -> list[dict[str, Any]]:
    """Rows whose field named by each filter has one of its values."""
    result = list(rows)
    for f in filters or []:
        name, values = f.get("name"), [str(v) for v in f.get("values") or []]
        result = [r for r in result if str(r.get(name)) in values]
    return result


imagebuilder_backends: BackendDict[ImageBuilderBackend] = BackendDict(
    ImageBuilderBackend,
    "imagebuilder",
    use_boto3_regions=False,
    additional_regions=REGIONS,
)
