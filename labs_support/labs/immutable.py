"""Checks of the module 'Automation and immutable infrastructure' (immutable).

They read the sandbox through the real APIs: Systems Manager (the runbook and its executions), EventBridge (the rule
and its target), EC2 Image Builder (recipes, images), Parameter Store in both Regions, EC2 (AMIs, launch template
versions, instances) and Auto Scaling (the group and its instance refreshes).
"""

from __future__ import annotations

from typing import Any

from ..checks import CheckFailed, lab_check
from ..sandbox import Sandbox

RUNBOOK = "Restart-CriticalInstance"
RULE = "restart-critical-instances"
RECIPE = "golden-web"
PIPELINE = "golden-web"
PARAMETER = "/golden/web/latest"
GROUP = "web"
TEMPLATE = "web"
WEST = "us-west-2"
GROUP_SIZE = 10
NEW_VERSION = "1.1.0"
NEW_COMPONENTS = ("web-server", "cloudwatch-agent")
ACTIVE_REFRESH = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


# -- reading the sandbox ---------------------------------------------------------------------------------------
def _tags(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def _instances(ec2: Any, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_instances").paginate(Filters=filters)
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def _group(asg: Any) -> dict[str, Any] | None:
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"]
    return groups[0] if groups else None


def _template_versions(ec2: Any, template_id: str) -> dict[str, dict[str, Any]]:
    """Version number (text) -> its LaunchTemplateData."""
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=template_id)["LaunchTemplateVersions"]
    return {str(v["VersionNumber"]): v["LaunchTemplateData"] for v in versions}


def _recipe_arn(sb: Sandbox, version: str) -> str:
    return f"arn:aws:imagebuilder:{sb.region}:{sb.account_id()}:image-recipe/{RECIPE}/{version}"


def _images(ib: Any, sb: Sandbox, version: str) -> list[dict[str, Any]]:
    """The builds of golden-web <version>, oldest first."""
    version_arn = f"arn:aws:imagebuilder:{sb.region}:{sb.account_id()}:image/{RECIPE}/{version}"
    found = ib.list_image_build_versions(imageVersionArn=version_arn)["imageSummaryList"]
    return sorted(found, key=lambda i: int(i["arn"].rsplit("/", 1)[1]))


def _amis(image: dict[str, Any]) -> dict[str, str]:
    """Region -> the AMI the image distributed there (this account's)."""
    return {a["region"]: a["image"] for a in image.get("outputResources", {}).get("amis", [])}


def _parameter_history(client: Any) -> list[dict[str, Any]]:
    try:
        pages = client.get_paginator("get_parameter_history").paginate(Name=PARAMETER)
        return [p for page in pages for p in page["Parameters"]]
    except client.exceptions.ParameterNotFound:
        return []


def _component_names(recipe: dict[str, Any]) -> list[str]:
    """The components of a recipe by name (from their ARNs: .../component/<name>/<version>[/<build>])."""
    return [c["componentArn"].split(":component/")[1].split("/")[0] for c in recipe.get("components", [])]


# -- the lab -----------------------------------------------------------------------------------------------------
@lab_check("immutable.event-remediation", title="EventBridge starts the runbook that restarts critical instances")
def check_event_remediation(sb: Sandbox) -> str:
    ssm, events, ec2 = sb.client("ssm"), sb.client("events"), sb.client("ec2")
    found = ssm.list_documents(Filters=[{"Key": "Name", "Values": [RUNBOOK]}])["DocumentIdentifiers"]
    if not found or found[0]["DocumentType"] != "Automation":
        raise CheckFailed(
            f"There is no Automation runbook called {RUNBOOK}.",
            hint="Run part 1 from its first cell: ssm.create_document(..., DocumentType='Automation').",
        )
    try:
        targets = events.list_targets_by_rule(Rule=RULE)["Targets"]
    except events.exceptions.ResourceNotFoundException:
        raise CheckFailed(
            f"There is no EventBridge rule called {RULE}.", hint="Create it with events.put_rule (part 1)."
        ) from None
    runbook_targets = [t for t in targets if f":automation-definition/{RUNBOOK}" in t["Arn"]]
    if not runbook_targets or not runbook_targets[0].get("RoleArn"):
        raise CheckFailed(
            f"The rule {RULE} has no target that starts {RUNBOOK} with a role.",
            hint="events.put_targets with Arn arn:aws:ssm:<region>:<account>:automation-definition/"
            f"{RUNBOOK}:$DEFAULT and the RoleArn of the EventBridge role (part 1).",
        )
    critical = _instances(ec2, [{"Name": "tag:Critical", "Values": ["true"]}])
    critical = [i for i in critical if i["State"]["Name"] != "terminated"]
    if not critical:
        raise CheckFailed(
            "There is no instance tagged Critical=true.", hint="Launch orders-db as part 1 does, then stop it."
        )
    executions = ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [RUNBOOK]}])
    started: set[str] = set()
    for meta in executions["AutomationExecutionMetadataList"]:
        if meta["AutomationExecutionStatus"] != "Success":
            continue
        execution = ssm.get_automation_execution(AutomationExecutionId=meta["AutomationExecutionId"])
        steps = {s["StepName"]: s for s in execution["AutomationExecution"]["StepExecutions"]}
        if steps.get("startInstance", {}).get("StepStatus") == "Success":
            started.update(execution["AutomationExecution"]["Parameters"].get("InstanceId", []))
    for instance in critical:
        name = _tags(instance).get("Name", instance["InstanceId"])
        if instance["InstanceId"] not in started:
            raise CheckFailed(
                f"No automation of {RUNBOOK} has started {name} ({instance['InstanceId']}) yet.",
                hint="Stop it and emit its state-change event with ls.emit_ec2_state_change (the sandbox plays "
                "EC2's part), then wait for the automation the rule starts.",
            )
        if instance["State"]["Name"] != "running":
            raise CheckFailed(
                f"{name} is {instance['State']['Name']}.",
                hint="The runbook's startInstance step starts it; run part 1 again from the cell that stops it.",
            )
    left = [
        _tags(i).get("Name", i["InstanceId"])
        for i in _instances(ec2, [{"Name": "tag:Critical", "Values": ["false"]}])
        if i["InstanceId"] in started
    ]
    if left:
        raise CheckFailed(
            f"The runbook started {', '.join(left)}, which is tagged Critical=false.",
            hint="Its aws:branch step must go to startInstance only when readTags.Critical is 'true'.",
        )
    return (
        f"{RULE} started {RUNBOOK} for the stopped instances; it started the critical one again and left "
        "Critical=false instances stopped."
    )


@lab_check("immutable.golden-ami", title="Image Builder built golden-web 1.0.0 and published it in both Regions")
def check_golden_ami(sb: Sandbox) -> str:
    ib, ec2 = sb.client("imagebuilder"), sb.client("ec2")
    images = _images(ib, sb, "1.0.0")
    available = [i for i in images if i["state"]["status"] == "AVAILABLE"]
    if not available:
        state = images[-1]["state"] if images else None
        raise CheckFailed(
            "golden-web 1.0.0 has no AVAILABLE image"
            + (f": the latest build is {state['status']} {state.get('reason', '')}".rstrip() + "." if state else "."),
            hint="Create the component, recipe, configurations and pipeline of part 3, then "
            "ib.start_image_pipeline_execution(imagePipelineArn=pipeline_arn).",
        )
    image = ib.get_image(imageBuildVersionArn=available[-1]["arn"])["image"]
    amis = _amis(image)
    missing = [r for r in (sb.region, WEST) if r not in amis]
    if missing:
        raise CheckFailed(
            f"The image {image['arn']} has no AMI in {', '.join(missing)}.",
            hint="Build it through the pipeline golden-web, whose distribution configuration names both Regions.",
        )
    for region, client in ((sb.region, sb.client("ssm")), (WEST, sb.client("ssm", region=WEST))):
        values = [p["Value"] for p in _parameter_history(client)]
        if amis[region] not in values:
            raise CheckFailed(
                f"{PARAMETER} in {region} has never held the image's AMI {amis[region]}.",
                hint="The distribution configuration needs ssmParameterConfigurations in both Regions (part 3).",
            )
    templates = ec2.describe_launch_templates(Filters=[{"Name": "launch-template-name", "Values": [TEMPLATE]}])
    if not templates["LaunchTemplates"]:
        raise CheckFailed(f"There is no launch template called {TEMPLATE}.", hint="Create it in part 3.")
    versions = _template_versions(ec2, templates["LaunchTemplates"][0]["LaunchTemplateId"])
    if not any(data.get("ImageId") == amis[sb.region] for data in versions.values()):
        raise CheckFailed(
            f"No version of the launch template {TEMPLATE} uses the golden AMI {amis[sb.region]}.",
            hint="Give the us-east-1 distribution a launchTemplateConfigurations entry with the template's id.",
        )
    return (
        f"golden-web 1.0.0 is AVAILABLE with AMIs in {sb.region} and {WEST}, {PARAMETER} holds them, and the "
        f"launch template {TEMPLATE} has a version with the golden AMI."
    )


@lab_check("immutable.instance-refresh", title="An instance refresh moved the web group to the golden AMI")
def check_instance_refresh(sb: Sandbox) -> str:
    asg, ec2 = sb.client("autoscaling"), sb.client("ec2")
    group = _group(asg)
    if group is None:
        raise CheckFailed(f"There is no Auto Scaling group called {GROUP}.", hint="Create it at the start of part 4.")
    refreshes = asg.describe_instance_refreshes(AutoScalingGroupName=GROUP)["InstanceRefreshes"]
    if not any(r["Status"] == "RollbackSuccessful" for r in refreshes):
        raise CheckFailed(
            "The rehearsal has not been rolled back yet.",
            hint="Run the rehearsal cell of part 4: a refresh with a checkpoint at 20 %, then "
            "asg.rollback_instance_refresh at the checkpoint.",
        )
    if not any(r["Status"] == "Successful" for r in refreshes):
        active = [r for r in refreshes if r["Status"] in ACTIVE_REFRESH]
        raise CheckFailed(
            f"No instance refresh of {GROUP} has succeeded"
            + (f"; one is {active[0]['Status']} ({active[0]['PercentageComplete']}%)." if active else "."),
            hint="Start the rollout of part 4 (MinHealthyPercentage 90, SkipMatching) and wait for it with "
            "ls.watch_instance_refresh.",
        )
    in_service = [i for i in group["Instances"] if i["LifecycleState"] == "InService"]
    if len(in_service) != GROUP_SIZE:
        raise CheckFailed(
            f"The group {GROUP} has {len(in_service)} instances in service; the lab has {GROUP_SIZE}.",
            hint="Run part 4 again from the cell that creates the group (after running the sandbox cell).",
        )
    described = _instances(ec2, [{"Name": "instance-id", "Values": [i["InstanceId"] for i in in_service]}])
    golden = {
        image["ImageId"]
        for image in ec2.describe_images(ImageIds=sorted({i["ImageId"] for i in described}))["Images"]
        if _tags(image).get("CreatedBy") == "EC2 Image Builder"
    }
    plain = [i["InstanceId"] for i in described if i["ImageId"] not in golden]
    if plain:
        raise CheckFailed(
            f"{len(plain)} of the group's instances do not run a golden AMI: {', '.join(plain)}.",
            hint="Roll out the launch template version that Image Builder made (part 4).",
        )
    return f"All {GROUP_SIZE} instances of {GROUP} run the golden AMI, after a rehearsed rollback and a rollout."


# -- the exercise ------------------------------------------------------------------------------------------------
@lab_check(
    "immutable.ship-golden-ami",
    title="Exercise: golden-web 1.1.0 is built, published and rolled out to the web group",
    exercise=True,
)
def check_ship_golden_ami(sb: Sandbox) -> str:
    ib, ec2, asg = sb.client("imagebuilder"), sb.client("ec2"), sb.client("autoscaling")
    # 1. the recipe
    try:
        recipe = ib.get_image_recipe(imageRecipeArn=_recipe_arn(sb, NEW_VERSION))["imageRecipe"]
    except ib.exceptions.ResourceNotFoundException:
        raise CheckFailed(
            f"There is no recipe {RECIPE} {NEW_VERSION} yet.",
            hint="Recipes cannot be changed: create version 1.1.0 with ib.create_image_recipe(name='golden-web', "
            "semanticVersion='1.1.0', parentImage=f'ssm:{AL2023}', components=[{'componentArn': web_server_arn}, "
            "{'componentArn': cloudwatch_agent_arn}]).",
        ) from None
    names = _component_names(recipe)
    missing = [c for c in NEW_COMPONENTS if c not in names]
    if missing:
        raise CheckFailed(
            f"The recipe {RECIPE} {NEW_VERSION} has the components {names or 'none'}; it lacks {', '.join(missing)}.",
            hint="A recipe version cannot be changed: the exercise's setup cell deletes it, then create it again "
            "with both components.",
        )
    # 2. the image
    images = _images(ib, sb, NEW_VERSION)
    if not images:
        raise CheckFailed(
            f"Nothing has been built from {RECIPE} {NEW_VERSION} yet.",
            hint="Point the pipeline at the new recipe (ib.update_image_pipeline with all of its settings), then "
            "ib.start_image_pipeline_execution(imagePipelineArn=pipeline_arn).",
        )
    available = [i for i in images if i["state"]["status"] == "AVAILABLE"]
    if not available:
        state = images[-1]["state"]
        if state["status"] == "FAILED":
            raise CheckFailed(
                f"The build {images[-1]['arn']} FAILED: {state.get('reason', 'no reason given')}",
                hint="Read ib.get_image(...)['image']['state']['failureContext'], fix the cause and run the "
                "pipeline again.",
            )
        raise CheckFailed(
            f"The build {images[-1]['arn']} is {state['status']}.",
            hint="Wait for it: wait_for_image(image_arn) polls until the build ends.",
        )
    image = ib.get_image(imageBuildVersionArn=available[-1]["arn"])["image"]
    amis = _amis(image)
    if WEST not in amis or image.get("sourcePipelineName") != PIPELINE:
        raise CheckFailed(
            f"The image {image['arn']} was not built by the pipeline {PIPELINE}: it has AMIs only in "
            f"{', '.join(sorted(amis)) or 'no Region'}.",
            hint="Run the pipeline (ib.start_image_pipeline_execution) rather than ib.create_image: the pipeline's "
            "distribution configuration publishes to both Regions, Parameter Store and the launch template.",
        )
    # 3. the parameter, in both Regions
    for region, client in ((sb.region, sb.client("ssm")), (WEST, sb.client("ssm", region=WEST))):
        history = _parameter_history(client)
        latest = max(history, key=lambda p: p["Version"], default=None)
        if latest is None or latest["Value"] != amis[region]:
            now = f"{latest['Value']} (version {latest['Version']})" if latest else "missing"
            raise CheckFailed(
                f"In {region}, the latest version of {PARAMETER} is {now}, not the new AMI {amis[region]}.",
                hint="The pipeline's distribution writes it at the end of every build: build 1.1.0 through the "
                "pipeline, and do not write the parameter by hand afterwards.",
            )
    # 4. the launch template version and the refresh
    group = _group(asg)
    if group is None:
        raise CheckFailed(f"There is no Auto Scaling group called {GROUP}.", hint="Run part 4 of the lab first.")
    template_id = group["LaunchTemplate"]["LaunchTemplateId"]
    listed = ec2.describe_launch_template_versions(LaunchTemplateId=template_id)["LaunchTemplateVersions"]
    versions = {str(v["VersionNumber"]): v["LaunchTemplateData"] for v in listed}
    aliases = {
        "$Latest": str(max(v["VersionNumber"] for v in listed)),
        "$Default": next(str(v["VersionNumber"]) for v in listed if v["DefaultVersion"]),
    }
    new_versions = sorted(int(n) for n, d in versions.items() if d.get("ImageId") == amis[sb.region])
    if not new_versions:
        raise CheckFailed(
            f"No version of the launch template {TEMPLATE} uses the new AMI {amis[sb.region]}.",
            hint="The pipeline's distribution configuration makes one: build through the pipeline golden-web.",
        )
    target = str(new_versions[-1])

    def rolls_out_new_ami(refresh: dict[str, Any]) -> bool:
        named = str(refresh.get("DesiredConfiguration", {}).get("LaunchTemplate", {}).get("Version", ""))
        return versions.get(aliases.get(named, named), {}).get("ImageId") == amis[sb.region]

    refreshes = asg.describe_instance_refreshes(AutoScalingGroupName=GROUP)["InstanceRefreshes"]
    rollout = next(
        (r for r in sorted(refreshes, key=lambda r: r["StartTime"], reverse=True) if rolls_out_new_ami(r)), None
    )
    if rollout is None:
        raise CheckFailed(
            f"No instance refresh of {GROUP} rolls out launch template version {target} (the new AMI) yet.",
            hint=f"asg.start_instance_refresh(AutoScalingGroupName='web', DesiredConfiguration={{'LaunchTemplate': "
            f"{{'LaunchTemplateId': template_id, 'Version': '{target}'}}}}, Preferences={{'MinHealthyPercentage': "
            "90, 'SkipMatching': True}).",
        )
    named = str(rollout["DesiredConfiguration"]["LaunchTemplate"]["Version"])
    if named in aliases:
        raise CheckFailed(
            f"The refresh names the launch template version {named}, not its number ({aliases[named]}).",
            hint="Name the version by its number: a group on $Latest or $Default cannot be rolled back by an "
            "instance refresh.",
        )
    prefs = rollout["Preferences"]
    if prefs.get("MinHealthyPercentage", 90) < 90 or not prefs.get("SkipMatching"):
        raise CheckFailed(
            f"The refresh ran with MinHealthyPercentage {prefs.get('MinHealthyPercentage')} and SkipMatching "
            f"{prefs.get('SkipMatching')}; the requirement is at least 90 and true.",
            hint="Start another refresh with Preferences={'MinHealthyPercentage': 90, 'SkipMatching': True}; with "
            "SkipMatching it replaces only the instances not on the new version yet.",
        )
    if rollout["Status"] in ACTIVE_REFRESH:
        raise CheckFailed(
            f"The refresh is still {rollout['Status']} ({rollout['PercentageComplete']}% done).",
            hint="Wait for it: ls.watch_instance_refresh(asg, 'web') polls until it ends.",
        )
    if rollout["Status"] != "Successful":
        reason = f": {rollout['StatusReason']}" if rollout.get("StatusReason") else ""
        raise CheckFailed(
            f"The refresh ended {rollout['Status']}{reason}.",
            hint="Start it again with the same desired configuration and preferences.",
        )
    # 5. every instance on the new AMI
    group = _group(asg) or group
    in_service = [i for i in group["Instances"] if i["LifecycleState"] == "InService"]
    described = {
        i["InstanceId"]: i
        for i in _instances(ec2, [{"Name": "instance-id", "Values": [i["InstanceId"] for i in in_service]}])
    }
    behind = [
        f"{i['InstanceId']} (version {i['LaunchTemplate']['Version']})"
        for i in in_service
        if described[i["InstanceId"]]["ImageId"] != amis[sb.region]
    ]
    if behind or len(in_service) != group["DesiredCapacity"]:
        raise CheckFailed(
            f"Not every instance of {GROUP} runs the new AMI {amis[sb.region]}: "
            + (", ".join(behind) if behind else f"{len(in_service)} of {group['DesiredCapacity']} in service")
            + ".",
            hint="Start another refresh to that version with SkipMatching: it replaces only the ones left behind.",
        )
    return (
        f"golden-web {NEW_VERSION} ({', '.join(names)}) is AVAILABLE, {PARAMETER} points to its AMI in "
        f"{sb.region} and {WEST}, and a refresh with MinHealthyPercentage {prefs['MinHealthyPercentage']} and "
        f"SkipMatching moved all {len(in_service)} instances to launch template version {named}."
    )
