"""The Image Builder API actions (REST-JSON): each method answers one operation of botocore's model.

moto routes the request (method and URI from the model), parses its parameters and serializes what a method
returns (an ActionResult in the operation's output shape) or raises (an ImageBuilderError, with the error's
status code from the model).
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.moto_api._internal import mock_random

from .errors import SandboxNotSupported, invalid_value
from .service import ImageBuilderBackend, filtered, imagebuilder_backends

_NOT_ECHOED = ("clientToken", "dryRun", "tags", "name", "semanticVersion")


def _fields(params: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in _NOT_ECHOED + drop and v is not None}


class ImageBuilderResponse(BaseResponse):
    """EC2 Image Builder, answered by the sandbox's ImageBuilderBackend."""

    def __init__(self) -> None:
        super().__init__(service_name="imagebuilder")
        self.automated_parameter_parsing = True

    @property
    def backend(self) -> ImageBuilderBackend:
        return imagebuilder_backends[self.current_account][self.region]

    def _params(self) -> dict[str, Any]:
        params = dict(self.params)
        if params.get("dryRun"):
            raise SandboxNotSupported("The course sandbox does not answer dry runs (dryRun).")
        return params

    def _answer(self, **result: Any) -> ActionResult:
        result["requestId"] = str(mock_random.uuid4())
        if "clientToken" in self.params:
            result["clientToken"] = self.params["clientToken"]
        return ActionResult(result)

    def _page(self, key: str, rows: list[dict[str, Any]]) -> ActionResult:
        start = int(self.params.get("nextToken") or 0)
        size = int(self.params.get("maxResults") or 25)
        page = rows[start : start + size]
        result: dict[str, Any] = {key: page}
        if start + size < len(rows):
            result["nextToken"] = str(start + size)
        return self._answer(**result)

    def _owner_self(self) -> None:
        owner = self.params.get("owner") or "Self"
        if owner != "Self":
            raise SandboxNotSupported(
                f"The course sandbox has only your own Image Builder resources (owner 'Self'), not '{owner}' ones."
            )

    # -- components ------------------------------------------------------------------------------------
    def create_component(self) -> ActionResult:
        p = self._params()
        component = self.backend.create_component(
            p.get("name"), p.get("semanticVersion"), p.get("platform"), p.get("data"), p.get("uri"),
            _fields(p, ("platform", "data", "uri")), p.get("tags") or {},
        )  # fmt: skip
        refs = self.backend.component_references(component.arn)
        return self._answer(componentBuildVersionArn=component.arn, latestVersionReferences=refs)

    def get_component(self) -> ActionResult:
        component = self.backend.get_component(self.params["componentBuildVersionArn"])
        refs = self.backend.component_references(component.arn)
        return self._answer(component=component.describe(), latestVersionReferences=refs)

    def list_components(self) -> ActionResult:
        self._owner_self()
        rows = [c.version_summary() for c in self.backend.list_components()]
        return self._page("componentVersionList", filtered(rows, self.params.get("filters")))

    def list_component_build_versions(self) -> ActionResult:
        rows = [c.build_summary() for c in self.backend.component_builds(self.params["componentVersionArn"])]
        return self._page("componentSummaryList", rows)

    def delete_component(self) -> ActionResult:
        self.backend.delete_component(self.params["componentBuildVersionArn"])
        return self._answer(componentBuildVersionArn=self.params["componentBuildVersionArn"])

    # -- image recipes ---------------------------------------------------------------------------------
    def create_image_recipe(self) -> ActionResult:
        p = self._params()
        recipe = self.backend.create_image_recipe(
            p.get("name"), p.get("semanticVersion"), p.get("parentImage"), p.get("components") or [],
            _fields(p, ("parentImage", "components")), p.get("tags") or {},
        )  # fmt: skip
        return self._answer(imageRecipeArn=recipe.arn, latestVersionReferences=self._recipe_refs(recipe))

    def _recipe_refs(self, recipe: Any) -> dict[str, str]:
        from .naming import latest_version_references

        b = self.backend
        return latest_version_references(b.region_name, b.account_id, "image-recipe", recipe.name, recipe.version)

    def get_image_recipe(self) -> ActionResult:
        recipe = self.backend.get_recipe(self.params["imageRecipeArn"])
        return self._answer(imageRecipe=recipe.describe(), latestVersionReferences=self._recipe_refs(recipe))

    def list_image_recipes(self) -> ActionResult:
        self._owner_self()
        rows = [r.summary() for r in self.backend.recipes.values()]
        return self._page("imageRecipeSummaryList", filtered(rows, self.params.get("filters")))

    def delete_image_recipe(self) -> ActionResult:
        self.backend.delete_recipe(self.params["imageRecipeArn"])
        return self._answer(imageRecipeArn=self.params["imageRecipeArn"])

    # -- infrastructure configurations -----------------------------------------------------------------
    def create_infrastructure_configuration(self) -> ActionResult:
        p = self._params()
        config_arn = self.backend.put_infrastructure(p.get("name"), _fields(p), p.get("tags") or {})
        return self._answer(infrastructureConfigurationArn=config_arn)

    def update_infrastructure_configuration(self) -> ActionResult:
        p = self._params()
        existing = p.get("infrastructureConfigurationArn")
        config_arn = self.backend.put_infrastructure("", _fields(p, ("infrastructureConfigurationArn",)), {}, existing)
        return self._answer(infrastructureConfigurationArn=config_arn)

    def get_infrastructure_configuration(self) -> ActionResult:
        config = self.backend.get_infrastructure(self.params["infrastructureConfigurationArn"])
        return self._answer(infrastructureConfiguration=config.describe())

    def list_infrastructure_configurations(self) -> ActionResult:
        rows = [c.summary() for c in self.backend.infrastructure.values()]
        return self._page("infrastructureConfigurationSummaryList", filtered(rows, self.params.get("filters")))

    def delete_infrastructure_configuration(self) -> ActionResult:
        config_arn = self.params["infrastructureConfigurationArn"]
        self.backend.delete_configuration(config_arn, "infrastructure-configuration")
        return self._answer(infrastructureConfigurationArn=config_arn)

    # -- distribution configurations -------------------------------------------------------------------
    def create_distribution_configuration(self) -> ActionResult:
        p = self._params()
        config_arn = self.backend.put_distribution(p.get("name"), _fields(p), p.get("tags") or {})
        return self._answer(distributionConfigurationArn=config_arn)

    def update_distribution_configuration(self) -> ActionResult:
        p = self._params()
        existing = p.get("distributionConfigurationArn")
        config_arn = self.backend.put_distribution("", _fields(p, ("distributionConfigurationArn",)), {}, existing)
        return self._answer(distributionConfigurationArn=config_arn)

    def get_distribution_configuration(self) -> ActionResult:
        config = self.backend.get_distribution(self.params["distributionConfigurationArn"])
        return self._answer(distributionConfiguration=config.describe())

    def list_distribution_configurations(self) -> ActionResult:
        rows = [c.summary() for c in self.backend.distributions.values()]
        return self._page("distributionConfigurationSummaryList", filtered(rows, self.params.get("filters")))

    def delete_distribution_configuration(self) -> ActionResult:
        config_arn = self.params["distributionConfigurationArn"]
        self.backend.delete_configuration(config_arn, "distribution-configuration")
        return self._answer(distributionConfigurationArn=config_arn)

    # -- image pipelines -------------------------------------------------------------------------------
    def create_image_pipeline(self) -> ActionResult:
        p = self._params()
        return self._answer(imagePipelineArn=self.backend.put_pipeline(p.get("name"), _fields(p), p.get("tags") or {}))

    def update_image_pipeline(self) -> ActionResult:
        p = self._params()
        existing = p.get("imagePipelineArn")
        pipeline_arn = self.backend.put_pipeline("", _fields(p, ("imagePipelineArn",)), {}, existing)
        return self._answer(imagePipelineArn=pipeline_arn)

    def get_image_pipeline(self) -> ActionResult:
        return self._answer(imagePipeline=self.backend.get_pipeline(self.params["imagePipelineArn"]).describe())

    def list_image_pipelines(self) -> ActionResult:
        rows = [p.describe() for p in self.backend.pipelines.values()]
        return self._page("imagePipelineList", filtered(rows, self.params.get("filters")))

    def delete_image_pipeline(self) -> ActionResult:
        self.backend.delete_pipeline(self.params["imagePipelineArn"])
        return self._answer(imagePipelineArn=self.params["imagePipelineArn"])

    def start_image_pipeline_execution(self) -> ActionResult:
        p = self._params()
        image = self.backend.start_pipeline(p["imagePipelineArn"], p.get("tags") or {})
        return self._answer(imageBuildVersionArn=image.arn)

    def list_image_pipeline_images(self) -> ActionResult:
        pipeline = self.backend.get_pipeline(self.params["imagePipelineArn"])
        rows = [i.summary() for i in self.backend.images.values() if i.pipeline is pipeline]
        return self._page("imageSummaryList", filtered(rows, self.params.get("filters")))

    # -- images ----------------------------------------------------------------------------------------
    def create_image(self) -> ActionResult:
        p = self._params()
        if p.get("containerRecipeArn") or not p.get("imageRecipeArn"):
            raise SandboxNotSupported("The course sandbox builds AMIs from image recipes only (imageRecipeArn).")
        if p.get("workflows"):
            raise SandboxNotSupported("The course sandbox runs the default build and test workflows only.")
        b = self.backend
        recipe = b.get_recipe(p["imageRecipeArn"])
        image = b.new_image(
            recipe,
            b.get_infrastructure(p.get("infrastructureConfigurationArn", "")),
            b.get_distribution(p["distributionConfigurationArn"]) if p.get("distributionConfigurationArn") else None,
            {"imageTestsEnabled": True, "timeoutMinutes": 720, **(p.get("imageTestsConfiguration") or {})},
            p.get("enhancedImageMetadataEnabled", True),
            p.get("tags") or {},
        )
        return self._answer(imageBuildVersionArn=image.arn, latestVersionReferences=self._image_refs(image))

    def _image_refs(self, image: Any) -> dict[str, str]:
        from .naming import latest_version_references

        b = self.backend
        return latest_version_references(b.region_name, b.account_id, "image", image.name, image.version)

    def get_image(self) -> ActionResult:
        image = self.backend.get_image(self.params["imageBuildVersionArn"])
        return self._answer(image=image.describe(), latestVersionReferences=self._image_refs(image))

    def list_images(self) -> ActionResult:
        self._owner_self()
        versions: dict[str, dict[str, Any]] = {}
        for image in self.backend.images.values():
            versions.setdefault(image.version_arn, image.version_summary())
        return self._page("imageVersionList", filtered(versions.values(), self.params.get("filters")))

    def list_image_build_versions(self) -> ActionResult:
        version_arn = self.params.get("imageVersionArn")
        if not version_arn:
            raise invalid_value("imageVersionArn", "imageVersionArn is required.")  # wording ours
        rows = [i.summary() for i in self.backend.images.values() if i.version_arn == version_arn]
        return self._page("imageSummaryList", filtered(rows, self.params.get("filters")))

    def cancel_image_creation(self) -> ActionResult:
        image = self.backend.cancel_image(self.params["imageBuildVersionArn"])
        return self._answer(imageBuildVersionArn=image.arn)

    def delete_image(self) -> ActionResult:
        self.backend.delete_image(self.params["imageBuildVersionArn"])
        return self._answer(imageBuildVersionArn=self.params["imageBuildVersionArn"])

    # -- tags ------------------------------------------------------------------------------------------
    def tag_resource(self) -> EmptyResult:
        self.backend.tagged(self._get_param("resourceArn")).tags.update(self.params.get("tags") or {})
        return EmptyResult()

    def untag_resource(self) -> EmptyResult:
        resource = self.backend.tagged(self._get_param("resourceArn"))
        for key in self.params.get("tagKeys") or []:
            resource.tags.pop(key, None)
        return EmptyResult()

    def list_tags_for_resource(self) -> ActionResult:
        return ActionResult({"tags": dict(self.backend.tagged(self._get_param("resourceArn")).tags)})
