"""Fidelity tests for EC2 Image Builder (emulator/imagebuilder/): each test is named after the AWS behaviour it proves.

AWS pages (https://docs.aws.amazon.com/imagebuilder/latest/):
- Semantic versioning: userguide/ibhow-semantic-versioning.html
- Component documents and types: userguide/create-component-yaml.html
- Distribution settings, SSM output parameters: userguide/cr-upd-ami-distribution-settings.html,
  APIReference/API_SsmParameterConfiguration.html, APIReference/API_AmiDistributionConfiguration.html,
  APIReference/API_LaunchTemplateConfiguration.html
- Image statuses: APIReference/API_ImageState.html; deleting: userguide/delete-resources.html,
  APIReference/API_DeleteImage.html
Error wordings checked here are AWS's, quoted from real responses (sources in emulator/imagebuilder/errors.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

import labs_support
from labs_support.sandbox import Sandbox
from tests.aws_errors import api_error

AWS_ORDER = ["PENDING", "BUILDING", "TESTING", "DISTRIBUTING", "INTEGRATING", "AVAILABLE"]
FINAL = ("AVAILABLE", "FAILED", "CANCELLED")


def document(build: str = "echo building", test: str | None = "echo testing") -> str:
    phases = f"""
  - name: build
    steps:
      - name: Install
        action: ExecuteBash
        inputs:
          commands:
            - {build}"""
    if test is not None:
        phases += f"""
  - name: test
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands:
            - {test}"""
    return f"name: doc\nschemaVersion: 1.0\nphases:{phases}\n"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    """A sandbox whose lab clock runs fast: a build's lab minutes pass in milliseconds."""
    sandbox = labs_support.start_sandbox()
    sandbox.lab_clock_speed = 60_000
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def ib(sb: Sandbox) -> Any:
    return sb.client("imagebuilder")


@pytest.fixture(scope="module")
def base(sb: Sandbox, ib: Any) -> dict[str, str]:
    """A Linux parent AMI, an instance profile, an infrastructure configuration and a component."""
    images = sb.client("ec2").describe_images(Owners=["amazon"])["Images"]
    ami = next(i["ImageId"] for i in images if i.get("Platform") != "windows")
    sb.client("iam").create_instance_profile(InstanceProfileName="ImageBuilderProfile")
    infra = ib.create_infrastructure_configuration(
        name="builders", instanceProfileName="ImageBuilderProfile", instanceTypes=["t3.micro"]
    )["infrastructureConfigurationArn"]
    component = ib.create_component(name="base-component", semanticVersion="1.0.0", platform="Linux", data=document())
    return {"ami": ami, "infra": infra, "component": component["componentBuildVersionArn"]}


_names = iter(range(1000))


def recipe(ib: Any, base: dict[str, str], *documents: str, version: str = "1.0.0") -> str:
    """A recipe with a new component per document."""
    components = []
    for data in documents:
        arn = ib.create_component(name=f"comp-{next(_names)}", semanticVersion="1.0.0", platform="Linux", data=data)[
            "componentBuildVersionArn"
        ]
        components.append({"componentArn": arn})
    return ib.create_image_recipe(
        name=f"recipe-{next(_names)}", semanticVersion=version, parentImage=base["ami"], components=components
    )["imageRecipeArn"]


def wait_for_image(ib: Any, arn: str) -> tuple[dict[str, Any], list[str]]:
    """Poll GetImage until the build ends; the image and the statuses seen on the way."""
    seen: list[str] = []
    for _ in range(20_000):  # a bound, not a timing: a build takes milliseconds at this clock speed
        image = ib.get_image(imageBuildVersionArn=arn)["image"]
        status = image["state"]["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in FINAL:
            return image, seen
        time.sleep(0.001)
    raise AssertionError(f"{arn} did not finish: {seen}")


def build(ib: Any, base: dict[str, str], recipe_arn: str, dist: str | None = None, **extra: Any) -> dict[str, Any]:
    kwargs = {"imageRecipeArn": recipe_arn, "infrastructureConfigurationArn": base["infra"], **extra}
    if dist:
        kwargs["distributionConfigurationArn"] = dist
    return wait_for_image(ib, ib.create_image(**kwargs)["imageBuildVersionArn"])[0]


# -- components -----------------------------------------------------------------------------------------------
def test_component_arn_holds_the_name_in_lowercase_the_version_and_build_1(ib: Any) -> None:
    """ibhow-semantic-versioning.html: a build version ARN has all four nodes; Image Builder assigns the build."""
    answer = ib.create_component(name="Web Server", semanticVersion="2.1.0", platform="Linux", data=document())
    assert answer["componentBuildVersionArn"].endswith(":component/web-server/2.1.0/1")
    assert answer["latestVersionReferences"]["latestMinorVersionArn"].endswith("component/web-server/2.1.x")
    component = ib.get_component(componentBuildVersionArn=answer["componentBuildVersionArn"])["component"]
    assert (component["name"], component["version"], component["platform"]) == ("Web Server", "2.1.0", "Linux")


def test_component_type_is_test_only_when_the_document_has_only_a_test_phase(ib: Any) -> None:
    """create-component-yaml.html: a test component has exactly one phase, named test; any other is BUILD."""
    only_test = (
        "schemaVersion: 1.0\nphases:\n  - name: test\n    steps:\n      - name: T\n        action: ExecuteBash\n"
    )
    only_test += "        inputs:\n          commands: [echo]\n"
    test_arn = ib.create_component(name="t-only", semanticVersion="1.0.0", platform="Linux", data=only_test)
    build_arn = ib.create_component(name="b-and-t", semanticVersion="1.0.0", platform="Linux", data=document())
    types = {
        c["name"]: c["type"]
        for c in ib.list_components(filters=[{"name": "name", "values": ["t-only", "b-and-t"]}])["componentVersionList"]
    }
    assert types == {"t-only": "TEST", "b-and-t": "BUILD"}
    assert test_arn["componentBuildVersionArn"] != build_arn["componentBuildVersionArn"]


def test_a_document_that_is_not_valid_yaml_is_refused_when_the_component_is_created(ib: Any) -> None:
    """AWS validates the document at CreateComponent (InvalidParameterValueException for parameter 'data')."""
    code, message = api_error(
        ib.create_component, name="broken", semanticVersion="1.0.0", platform="Linux", data="phases: [unclosed"
    )
    assert code == "InvalidParameterValueException"
    assert message.startswith("The value supplied for parameter 'data' is not valid.")


def test_a_step_name_with_spaces_is_refused_with_awss_message(ib: Any) -> None:
    """Step names allow [0-9a-zA-Z_-] only (AWS's message, aws/aws-cdk#19909)."""
    data = document().replace("name: Install", "name: Install packages")
    code, message = api_error(ib.create_component, name="spaced", semanticVersion="1.0.0", platform="Linux", data=data)
    assert code == "InvalidParameterValueException"
    assert "Invalid step name 'Install packages' in phase 'build'. Allowed characters are combinations" in message


def test_semantic_version_must_be_three_numeric_nodes(ib: Any) -> None:
    """ibhow-semantic-versioning.html: you assign major.minor.patch."""
    code, message = api_error(
        ib.create_component, name="versioned", semanticVersion="1.0", platform="Linux", data=document()
    )
    assert code == "InvalidParameterValueException"
    assert "semanticVersion must match pattern ^[0-9]+\\.[0-9]+\\.[0-9]+$" in message


def test_same_component_version_with_a_changed_document_gets_the_next_build(ib: Any) -> None:
    """Image Builder numbers builds of a version; an identical document is refused as already existing."""
    first = ib.create_component(name="tool", semanticVersion="1.0.0", platform="Linux", data=document())
    code, message = api_error(
        ib.create_component, name="tool", semanticVersion="1.0.0", platform="Linux", data=document()
    )
    assert (code, first["componentBuildVersionArn"] in message) == ("ResourceAlreadyExistsException", True)
    second = ib.create_component(name="tool", semanticVersion="1.0.0", platform="Linux", data=document("echo v2"))
    assert second["componentBuildVersionArn"].endswith("component/tool/1.0.0/2")
    version_arn = first["componentBuildVersionArn"].rsplit("/", 1)[0]
    builds = ib.list_component_build_versions(componentVersionArn=version_arn)["componentSummaryList"]
    assert sorted(b["arn"][-1] for b in builds) == ["1", "2"]
    assert ib.get_component(componentBuildVersionArn=version_arn)["component"]["arn"].endswith("/1.0.0/2")


def test_a_wildcard_component_arn_selects_the_latest_version(ib: Any) -> None:
    """ibhow-semantic-versioning.html: given 2.2.4, 1.7.8 and 1.6.8, 1.x.x selects 1.7.8 and x.x.x 2.2.4."""
    for version in ("2.2.4", "1.7.8", "1.6.8"):
        arn = ib.create_component(name="picker", semanticVersion=version, platform="Linux", data=document())
    prefix = arn["componentBuildVersionArn"].split("/picker/")[0] + "/picker/"
    assert ib.get_component(componentBuildVersionArn=prefix + "1.x.x")["component"]["version"] == "1.7.8"
    assert ib.get_component(componentBuildVersionArn=prefix + "x.x.x")["component"]["version"] == "2.2.4"
    code, _ = api_error(ib.get_component, componentBuildVersionArn=prefix + "x.2.x")
    assert code == "InvalidParameterValueException"


# -- recipes and configurations -------------------------------------------------------------------------------
def test_recipe_parent_image_must_be_an_ami_that_exists(ib: Any, base: dict[str, str]) -> None:
    """A recipe's parentImage is the base image of its builds; an AMI that does not exist is refused."""
    code, message = api_error(
        ib.create_image_recipe,
        name="ghost",
        semanticVersion="1.0.0",
        parentImage="ami-0123456789abcdef0",
        components=[{"componentArn": base["component"]}],
    )
    assert code == "InvalidParameterValueException"
    assert "parentImage" in message and "ami-0123456789abcdef0" in message


def test_a_recipe_version_exists_once(ib: Any, base: dict[str, str]) -> None:
    """Recipes are immutable: a new version is a new recipe (AWS's ResourceAlreadyExistsException wording)."""
    components = [{"componentArn": base["component"]}]
    ib.create_image_recipe(name="once", semanticVersion="1.0.0", parentImage=base["ami"], components=components)
    code, message = api_error(
        ib.create_image_recipe, name="once", semanticVersion="1.0.0", parentImage=base["ami"], components=components
    )
    assert code == "ResourceAlreadyExistsException"
    assert message.startswith("The following resource 'ImageRecipe' already exists: 'arn:aws:imagebuilder:")


def test_component_parameters_must_be_declared_by_the_component(ib: Any, base: dict[str, str]) -> None:
    """Parameters a component does not declare are refused (AWS's InvalidParameterCombinationException)."""
    arn = ib.create_component(name="no-params", semanticVersion="1.0.0", platform="Linux", data=document())
    code, message = api_error(
        ib.create_image_recipe,
        name="params",
        semanticVersion="1.0.0",
        parentImage=base["ami"],
        components=[
            {"componentArn": arn["componentBuildVersionArn"], "parameters": [{"name": "Bucket", "value": ["x"]}]}
        ],
    )
    assert code == "InvalidParameterCombinationException"
    assert "The following parameters are not defined in the provided component: Bucket" in message


def test_infrastructure_configuration_needs_an_existing_instance_profile(ib: Any) -> None:
    """The build instance runs with the instance profile, which must exist."""
    code, message = api_error(
        ib.create_infrastructure_configuration, name="no-profile", instanceProfileName="DoesNotExist"
    )
    assert code == "InvalidParameterValueException"
    assert "instanceProfileName" in message and "instance profile does not exist" in message


def test_an_output_ami_name_must_contain_the_build_date(ib: Any) -> None:
    """AMI names must be unique, so a name template without {{ imagebuilder:buildDate }} is refused."""
    code, message = api_error(
        ib.create_distribution_configuration,
        name="no-date",
        distributions=[{"region": "us-east-1", "amiDistributionConfiguration": {"name": "golden-ami"}}],
    )
    assert code == "InvalidParameterValueException"
    assert message == (
        "The value supplied for parameter 'distributions[0].amiDistributionConfiguration.name' is not valid. "
        "The EC2 AMI name must contain '{{ imagebuilder:buildDate }}' to ensure that the name will be unique."
    )


def test_getting_a_resource_that_does_not_exist_is_resource_not_found(ib: Any, sb: Sandbox) -> None:
    arn = f"arn:aws:imagebuilder:us-east-1:{sb.account_id()}:image-pipeline/nothing-here"
    code, _ = api_error(ib.get_image_pipeline, imagePipelineArn=arn)
    assert code == "ResourceNotFoundException"


def test_amazon_managed_components_are_refused_plainly_as_not_emulated(ib: Any) -> None:
    """The sandbox has no Amazon-managed components: it says so instead of pretending one exists."""
    code, _ = api_error(
        ib.get_component, componentBuildVersionArn="arn:aws:imagebuilder:us-east-1:aws:component/update-linux/x.x.x"
    )
    assert code == "SandboxNotSupported"


# -- builds ---------------------------------------------------------------------------------------------------
def test_a_pipeline_build_goes_through_awss_statuses_in_order_to_available(ib: Any, base: dict[str, str]) -> None:
    """API_ImageState.html: PENDING, BUILDING, TESTING, DISTRIBUTING, INTEGRATING, AVAILABLE."""
    pipeline = ib.create_image_pipeline(
        name="ordered", imageRecipeArn=recipe(ib, base, document()), infrastructureConfigurationArn=base["infra"]
    )["imagePipelineArn"]
    arn = ib.start_image_pipeline_execution(imagePipelineArn=pipeline)["imageBuildVersionArn"]
    image, seen = wait_for_image(ib, arn)
    assert seen[-1] == "AVAILABLE", image["state"]
    assert seen == sorted(seen, key=AWS_ORDER.index)  # never back, never out of AWS's order
    assert image["sourcePipelineArn"] == pipeline and image["imageRecipe"]["name"] == arn.split("/")[-3]


def test_build_numbers_increment_with_each_execution_of_the_pipeline(ib: Any, base: dict[str, str]) -> None:
    """ibhow-semantic-versioning.html: Image Builder assigns the build number, the image's fourth node."""
    pipeline = ib.create_image_pipeline(
        name="counter", imageRecipeArn=recipe(ib, base, document()), infrastructureConfigurationArn=base["infra"]
    )["imagePipelineArn"]
    arns = [ib.start_image_pipeline_execution(imagePipelineArn=pipeline)["imageBuildVersionArn"] for _ in range(3)]
    assert [a.rsplit("/", 1)[1] for a in arns] == ["1", "2", "3"]
    for arn in arns:
        wait_for_image(ib, arn)
    listed = ib.list_image_pipeline_images(imagePipelineArn=pipeline)["imageSummaryList"]
    assert sorted(i["arn"] for i in listed) == sorted(arns)


def test_distribution_registers_an_ami_per_region_named_from_the_template(
    sb: Sandbox, ib: Any, base: dict[str, str]
) -> None:
    """API_AmiDistributionConfiguration.html: the output AMI's name and tags, in each Region distributed to."""
    dist = ib.create_distribution_configuration(
        name="two-regions",
        distributions=[
            {
                "region": "us-east-1",
                "amiDistributionConfiguration": {
                    "name": "web-{{ imagebuilder:buildDate }}",
                    "amiTags": {"Team": "web"},
                },
            },
            {"region": "eu-west-1", "amiDistributionConfiguration": {"name": "web-eu-{{ imagebuilder:buildDate }}"}},
        ],
    )["distributionConfigurationArn"]
    image = build(ib, base, recipe(ib, base, document()), dist)
    assert image["state"]["status"] == "AVAILABLE"
    amis = {a["region"]: a for a in image["outputResources"]["amis"]}
    assert set(amis) == {"us-east-1", "eu-west-1"}
    described = sb.client("ec2").describe_images(ImageIds=[amis["us-east-1"]["image"]])["Images"][0]
    assert described["Name"] == amis["us-east-1"]["name"] and described["Name"].startswith("web-")
    assert "{{" not in described["Name"]
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags["Team"] == "web" and tags["Ec2ImageBuilderArn"] == image["arn"]
    eu = sb.client("ec2", region="eu-west-1").describe_images(ImageIds=[amis["eu-west-1"]["image"]])["Images"][0]
    assert eu["Name"].startswith("web-eu-")


def test_pipeline_ami_is_written_to_parameter_store_with_a_new_version_each_build(
    sb: Sandbox, ib: Any, base: dict[str, str]
) -> None:
    """API_SsmParameterConfiguration.html: distribution creates the parameter, or updates it, with the AMI id."""
    dist = ib.create_distribution_configuration(
        name="to-ssm",
        distributions=[
            {
                "region": "us-east-1",
                "amiDistributionConfiguration": {"name": "golden-{{ imagebuilder:buildDate }}"},
                "ssmParameterConfigurations": [{"parameterName": "/golden/ami/latest", "dataType": "aws:ec2:image"}],
            }
        ],
    )["distributionConfigurationArn"]
    pipeline = ib.create_image_pipeline(
        name="golden",
        imageRecipeArn=recipe(ib, base, document()),
        infrastructureConfigurationArn=base["infra"],
        distributionConfigurationArn=dist,
    )["imagePipelineArn"]
    ssm = sb.client("ssm")
    for expected_version in (1, 2):
        arn = ib.start_image_pipeline_execution(imagePipelineArn=pipeline)["imageBuildVersionArn"]
        image, _ = wait_for_image(ib, arn)
        parameter = ssm.get_parameter(Name="/golden/ami/latest")["Parameter"]
        assert parameter["Value"] == image["outputResources"]["amis"][0]["image"]
        assert (parameter["DataType"], parameter["Version"]) == ("aws:ec2:image", expected_version)


def test_target_accounts_get_a_copy_of_the_ami_and_their_own_parameter(
    sb: Sandbox, ib: Any, base: dict[str, str]
) -> None:
    """amiAccountId must be a target account of the Region (API_SsmParameterConfiguration.html)."""
    dev = sb.account_id("dev")
    dist = ib.create_distribution_configuration(
        name="to-dev",
        distributions=[
            {
                "region": "us-east-1",
                "amiDistributionConfiguration": {
                    "name": "shared-{{ imagebuilder:buildDate }}",
                    "targetAccountIds": [dev],
                },
                "ssmParameterConfigurations": [{"parameterName": "/shared/ami", "amiAccountId": dev}],
            }
        ],
    )["distributionConfigurationArn"]
    image = build(ib, base, recipe(ib, base, document()), dist)
    copies = {a["accountId"]: a["image"] for a in image["outputResources"]["amis"]}
    assert set(copies) == {sb.account_id(), dev}
    assert sb.client("ssm", account="dev").get_parameter(Name="/shared/ami")["Parameter"]["Value"] == copies[dev]
    owned = sb.client("ec2", account="dev").describe_images(Owners=["self"])["Images"]
    assert copies[dev] in [i["ImageId"] for i in owned]


def test_launch_template_configuration_gets_a_new_default_version_with_the_ami(
    sb: Sandbox, ib: Any, base: dict[str, str]
) -> None:
    """API_LaunchTemplateConfiguration.html: a new launch template version with the AMI, the default unless told."""
    ec2 = sb.client("ec2")
    template = ec2.create_launch_template(
        LaunchTemplateName="golden-web", LaunchTemplateData={"ImageId": base["ami"], "InstanceType": "t3.micro"}
    )["LaunchTemplate"]
    dist = ib.create_distribution_configuration(
        name="to-template",
        distributions=[
            {
                "region": "us-east-1",
                "amiDistributionConfiguration": {"name": "lt-{{ imagebuilder:buildDate }}"},
                "launchTemplateConfigurations": [{"launchTemplateId": template["LaunchTemplateId"]}],
            }
        ],
    )["distributionConfigurationArn"]
    image = build(ib, base, recipe(ib, base, document()), dist)
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"])
    latest = max(versions["LaunchTemplateVersions"], key=lambda v: v["VersionNumber"])
    assert latest["VersionNumber"] == 2 and latest["DefaultVersion"]
    assert latest["LaunchTemplateData"]["ImageId"] == image["outputResources"]["amis"][0]["image"]
    assert latest["LaunchTemplateData"]["InstanceType"] == "t3.micro"


def test_a_build_step_that_exits_non_zero_makes_the_image_failed_with_a_reason(ib: Any, base: dict[str, str]) -> None:
    """A failing component step fails the build (the sandbox's trigger: a command line `exit N`, N not 0)."""
    image = build(ib, base, recipe(ib, base, document(build="exit 3")))
    state = image["state"]
    assert state["status"] == "FAILED"
    assert "Install" in state["reason"] and "3" in state["reason"]
    failure = state["failureContext"]
    assert failure["imageStatus"] == "BUILDING"
    assert (failure["componentFailure"]["phaseName"], failure["componentFailure"]["stepName"]) == ("build", "Install")
    assert image["outputResources"]["amis"] == []


def test_the_test_phase_runs_after_the_build_phase(ib: Any, base: dict[str, str]) -> None:
    """create-component-yaml.html: a build component's test phase runs in the Test stage, after the build."""
    test_fails = build(ib, base, recipe(ib, base, document(test="exit 1")))
    assert test_fails["state"]["status"] == "FAILED"
    assert test_fails["state"]["failureContext"]["imageStatus"] == "TESTING"
    both_fail = build(ib, base, recipe(ib, base, document(build="exit 1", test="exit 1")))
    assert both_fail["state"]["failureContext"]["componentFailure"]["phaseName"] == "build"


def test_disabled_image_tests_skip_the_test_phase(ib: Any, base: dict[str, str]) -> None:
    """ImageTestsConfiguration.imageTestsEnabled false: the Test stage does not run."""
    image = build(
        ib, base, recipe(ib, base, document(test="exit 1")), imageTestsConfiguration={"imageTestsEnabled": False}
    )
    assert image["state"]["status"] == "AVAILABLE"


def test_a_step_with_on_failure_continue_does_not_fail_the_build(ib: Any, base: dict[str, str]) -> None:
    """AWSTOE step option onFailure: Continue lets the phase go on."""
    data = document(build="exit 1").replace(
        "action: ExecuteBash", "action: ExecuteBash\n        onFailure: Continue", 1
    )
    assert build(ib, base, recipe(ib, base, data))["state"]["status"] == "AVAILABLE"


def test_cancel_image_creation_makes_a_pending_build_cancelled(sb: Sandbox, ib: Any, base: dict[str, str]) -> None:
    """CancelImageCreation stops a build in progress; the build returns at once, PENDING (asynchronous)."""
    sb.lab_clock_speed = 1  # a build now takes real minutes: it is still PENDING when we look
    try:
        arn = ib.create_image(
            imageRecipeArn=recipe(ib, base, document()), infrastructureConfigurationArn=base["infra"]
        )["imageBuildVersionArn"]
        assert ib.get_image(imageBuildVersionArn=arn)["image"]["state"]["status"] == "PENDING"
        ib.cancel_image_creation(imageBuildVersionArn=arn)
    finally:
        sb.lab_clock_speed = 60_000
    image, _ = wait_for_image(ib, arn)
    assert image["state"]["status"] == "CANCELLED"
    code, _ = api_error(ib.cancel_image_creation, imageBuildVersionArn=arn)
    assert code == "InvalidRequestException"


# -- deleting -------------------------------------------------------------------------------------------------
def test_deleting_a_recipe_used_by_a_pipeline_is_a_resource_dependency_error(ib: Any, base: dict[str, str]) -> None:
    """userguide/delete-resources.html: delete the pipeline first (AWS's ResourceDependencyException wording)."""
    recipe_arn = recipe(ib, base, document())
    pipeline = ib.create_image_pipeline(
        name="holder", imageRecipeArn=recipe_arn, infrastructureConfigurationArn=base["infra"]
    )["imagePipelineArn"]
    code, message = api_error(ib.delete_image_recipe, imageRecipeArn=recipe_arn)
    assert code == "ResourceDependencyException"
    assert message == f"Resource dependency error: The resource ARN '{recipe_arn}' has other resources depended on it."
    ib.delete_image_pipeline(imagePipelineArn=pipeline)
    ib.delete_image_recipe(imageRecipeArn=recipe_arn)
    assert api_error(ib.get_image_recipe, imageRecipeArn=recipe_arn)[0] == "ResourceNotFoundException"


def test_deleting_a_component_or_configuration_in_use_is_a_resource_dependency_error(
    ib: Any, base: dict[str, str]
) -> None:
    """userguide/delete-resources.html: resources are deleted after what uses them."""
    recipe_arn = recipe(ib, base, document())
    component = ib.get_image_recipe(imageRecipeArn=recipe_arn)["imageRecipe"]["components"][0]["componentArn"]
    assert api_error(ib.delete_component, componentBuildVersionArn=component)[0] == "ResourceDependencyException"
    infra = ib.create_infrastructure_configuration(name="in-use", instanceProfileName="ImageBuilderProfile")[
        "infrastructureConfigurationArn"
    ]
    ib.create_image_pipeline(name="uses-infra", imageRecipeArn=recipe_arn, infrastructureConfigurationArn=infra)
    code, _ = api_error(ib.delete_infrastructure_configuration, infrastructureConfigurationArn=infra)
    assert code == "ResourceDependencyException"


def test_deleting_an_image_keeps_its_amis(sb: Sandbox, ib: Any, base: dict[str, str]) -> None:
    """API_DeleteImage.html: DeleteImage does not delete the AMIs the build created."""
    image = build(ib, base, recipe(ib, base, document()))
    ami = image["outputResources"]["amis"][0]["image"]
    ib.delete_image(imageBuildVersionArn=image["arn"])
    assert api_error(ib.get_image, imageBuildVersionArn=image["arn"])[0] == "ResourceNotFoundException"
    assert sb.client("ec2").describe_images(ImageIds=[ami])["Images"][0]["State"] == "available"


def test_an_image_used_as_a_recipes_parent_cannot_be_deleted(ib: Any, base: dict[str, str]) -> None:
    """A recipe may start from one of your images (its ARN as parentImage); that image is then in use."""
    image = build(ib, base, recipe(ib, base, document()))
    child = ib.create_image_recipe(
        name="child-recipe",
        semanticVersion="1.0.0",
        parentImage=image["arn"].rsplit("/", 2)[0] + "/x.x.x",
        components=[{"componentArn": base["component"]}],
    )["imageRecipeArn"]
    assert api_error(ib.delete_image, imageBuildVersionArn=image["arn"])[0] == "ResourceDependencyException"
    assert build(ib, base, child)["state"]["status"] == "AVAILABLE"


def test_instances_from_a_golden_ami_start_with_what_its_components_installed(sb: Sandbox) -> None:
    """The AMI is a snapshot of the build instance after its components ran
    (https://docs.aws.amazon.com/imagebuilder/latest/userguide/how-image-builder-works.html); with a launch
    template carrying an instance profile, the new instances are managed nodes that already run nginx."""
    import labs_support as ls

    ib, ec2, ssm = sb.client("imagebuilder"), sb.client("ec2"), sb.client("ssm")
    parent = ssm.get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    data = (
        "name: nginx\nschemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: install\n"
        "        action: ExecuteBash\n        inputs:\n          commands:\n            - dnf install -y nginx\n"
        "            - systemctl enable nginx\n"
    )
    component = ib.create_component(name="golden-nginx", semanticVersion="1.0.0", platform="Linux", data=data)
    recipe = ib.create_image_recipe(
        name="golden-nginx",
        semanticVersion="1.0.0",
        parentImage=parent["Parameter"]["Value"],
        components=[{"componentArn": component["componentBuildVersionArn"]}],
    )
    profile = ls.ssm_instance_profile(sb, "golden-build")
    infra = ib.create_infrastructure_configuration(name="golden-nginx", instanceProfileName=profile)
    arn = ib.create_image(
        imageRecipeArn=recipe["imageRecipeArn"], infrastructureConfigurationArn=infra["infrastructureConfigurationArn"]
    )["imageBuildVersionArn"]
    image, _ = wait_for_image(ib, arn)
    assert image["state"]["status"] == "AVAILABLE"
    ami = image["outputResources"]["amis"][0]["image"]
    template = ec2.create_launch_template(
        LaunchTemplateName="golden-nginx",
        LaunchTemplateData={
            "ImageId": ami,
            "IamInstanceProfile": {"Name": profile},
            "MetadataOptions": {"HttpTokens": "required"},
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    instance_id = ec2.run_instances(LaunchTemplate={"LaunchTemplateId": template}, MinCount=1, MaxCount=1)["Instances"][
        0
    ]["InstanceId"]
    sent = ssm.send_command(
        InstanceIds=[instance_id],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": ["rpm -q nginx", "systemctl is-enabled nginx"]},
    )["Command"]
    ls.wait_for_command(ssm, sent["CommandId"])
    output = ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance_id)["StandardOutputContent"]
    assert output == "nginx-1.24.0.x86_64\nenabled\n"
