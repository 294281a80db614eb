"""An image build: its stages on the lab clock, its components run (simulated), its AMIs distributed.

StartImagePipelineExecution and CreateImage return the image's ARN at once; the build runs in a worker thread
through AWS's statuses PENDING -> BUILDING -> TESTING -> DISTRIBUTING -> INTEGRATING -> AVAILABLE (TESTING is
skipped when image tests are disabled), each lasting STAGE_LAB_SECONDS on the lab clock (330 lab seconds in all,
about half a real second at the default speed). A failing component step (documents.py) or a distribution that
cannot be done makes the image FAILED with a reason; CancelImageCreation makes it CANCELLED.

Distribution registers a real AMI in EC2 for each Region of the distribution configuration (and the build Region,
which always gets one), named from the template (`{{ imagebuilder:buildDate }}`, `{{ imagebuilder:buildVersion }}`),
tagged with the recipe's and the distribution's amiTags plus the tags Image Builder adds (CreatedBy,
Ec2ImageBuilderArn); copies go to targetAccountIds, launch permissions are applied, launchTemplateConfigurations
get a new launch template version with the AMI (made the default unless setDefaultVersion is false), and
ssmParameterConfigurations get the AMI id written to Parameter Store in that Region (a new version each build).
"""

from __future__ import annotations

import copy
import re
import threading
from datetime import datetime
from typing import Any

from .. import clock
from . import documents
from .errors import ImageBuilderError
from .resources import Component, Image

STAGE_LAB_SECONDS = {"PENDING": 15, "BUILDING": 150, "TESTING": 90, "DISTRIBUTING": 60, "INTEGRATING": 15}
_BUILD_DATE = re.compile(r"\{\{\s*imagebuilder:buildDate(?::([^}\s]*))?\s*\}\}")
_BUILD_VERSION = re.compile(r"\{\{\s*imagebuilder:buildVersion\s*\}\}")
_DATE_TOKENS = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))


class _Stopped(Exception):
    """The build ends without a new status: cancelled, deleted, or its sandbox reset."""


class _Failed(Exception):
    """The build fails: the image becomes FAILED with this reason."""

    def __init__(self, reason: str, context: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason, self.context = reason, context


def start(backend: Any, image: Image) -> None:
    """Run the image's build in a worker thread; the API call that started it returns at once."""
    threading.Thread(target=_run, args=(backend, image), name="imagebuilder-build", daemon=True).start()


def _run(backend: Any, image: Image) -> None:
    try:
        _build(backend, image)
        _finish(backend, image, "AVAILABLE")
    except (clock.Aborted, _Stopped):
        return
    except _Failed as failure:
        _finish(backend, image, "FAILED", failure.reason, failure.context)
    except Exception as error:  # a fault of ours must not leave the image building for ever
        _finish(backend, image, "FAILED", f"The course sandbox could not complete this build: {error}")


def _alive(backend: Any, image: Image) -> None:
    if getattr(backend, "images", {}).get(image.arn) is not image or image.cancel.is_set():
        raise _Stopped


def _stage(backend: Any, image: Image, status: str) -> None:
    with backend.lock:
        _alive(backend, image)
        image.status = status
        if image.pipeline is not None:
            image.pipeline.last_run_status = status
    clock.wait(image.cancel, STAGE_LAB_SECONDS[status])
    _alive(backend, image)


def _finish(
    backend: Any, image: Image, status: str, reason: str | None = None, context: dict[str, Any] | None = None
) -> None:
    with backend.lock:
        images = getattr(backend, "images", {})  # {} while moto resets the backend
        if images.get(image.arn) is not image or image.cancel.is_set():
            return
        image.status, image.reason = status, reason
        if context:
            image.failure_context = {"imageStatus": context.pop("imageStatus"), **context}
        if image.pipeline is not None:
            image.pipeline.last_run_status = status


def _build(backend: Any, image: Image) -> None:
    _stage(backend, image, "PENDING")
    _stage(backend, image, "BUILDING")
    parent = _parent_ami(backend, image)
    components = _components(backend, image)
    image.build_host = _build_host(image, parent)
    for component in components:
        if component.type == "BUILD":
            for phase in ("build", "validate"):
                _run_phase(component, phase, "BUILDING")
                if phase == "build":
                    _apply_on_host(image.build_host, component)
    if image.tests.get("imageTestsEnabled", True):
        _stage(backend, image, "TESTING")
        for component in components:
            _run_phase(component, "test", "TESTING")
    _stage(backend, image, "DISTRIBUTING")
    _distribute(backend, image, parent)
    _stage(backend, image, "INTEGRATING")


def _build_host(image: Image, parent: Any) -> Any:
    """The build instance's simulated host: the parent image as it boots (ssm/hosts.py)."""
    from moto.ec2.models import ec2_backends

    from ..ssm import hosts

    return hosts.host_from_image(ec2_backends[image.account][image.region], parent.id, f"build-{image.build}")


def _apply_on_host(host: Any, component: Component) -> None:
    """Run the build phase's ExecuteBash/ExecutePowerShell commands on the build host for what they change
    (packages, files, services): the AMI keeps it. Only the documented trigger fails a build (documents.py)."""
    from ..ssm import shell

    for phase in component.document["phases"]:
        if phase["name"] != "build":
            continue
        for step in phase["steps"]:
            if step.get("action") not in ("ExecuteBash", "ExecutePowerShell"):
                continue
            inputs = step.get("inputs") or {}
            for block in inputs if isinstance(inputs, list) else [inputs]:
                commands = block.get("commands") if isinstance(block, dict) else None
                if commands:
                    shell.run(host, [str(c) for c in (commands if isinstance(commands, list) else [commands])])


def _parent_ami(backend: Any, image: Image) -> Any:
    try:
        return backend.resolve_parent_image(image.recipe.parent_image)
    except ImageBuilderError as error:
        raise _Failed(f"The parent image could not be used: {error.message}", {"imageStatus": "BUILDING"}) from None


def _components(backend: Any, image: Image) -> list[Component]:
    """The recipe's components, wildcard versions resolved to the latest match now (as AWS does per build)."""
    resolved = []
    for entry in image.recipe.components:
        try:
            resolved.append(backend.get_component(entry["componentArn"], "componentArn"))
        except ImageBuilderError:
            # wording ours
            raise _Failed(
                f"The component '{entry['componentArn']}' does not exist any more.", {"imageStatus": "BUILDING"}
            ) from None
    return resolved


def _run_phase(component: Component, phase: str, stage: str) -> None:
    failure = documents.run_phase(component.document, phase)
    if failure is None:
        return
    # wording ours
    reason = (
        f"Component '{component.arn}' failed in phase '{failure.phase}', step '{failure.step}' "
        f"({failure.action}): {failure.message}"
    )
    raise _Failed(
        reason,
        {
            "imageStatus": stage,
            "componentFailure": {
                "componentArn": component.arn,
                "phaseName": failure.phase,
                "stepName": failure.step,
                "action": failure.action,
                "errorMessage": failure.message,
            },
        },
    )


# -- distribution ------------------------------------------------------------------------------------------
def render(template: str, built: datetime, build: int) -> str:
    """An AMI name or tag value with Image Builder's variables replaced."""

    def date(m: re.Match) -> str:
        pattern = m.group(1)
        if not pattern:
            return built.strftime("%Y-%m-%dT%H-%M-%S.") + f"{built.microsecond // 1000:03d}Z"  # format ours
        for token, directive in _DATE_TOKENS:
            pattern = pattern.replace(token, directive)
        return built.strftime(pattern)

    return _BUILD_VERSION.sub(str(build), _BUILD_DATE.sub(date, template))


def _distribute(backend: Any, image: Image, parent: Any) -> None:
    built = clock.now()
    recipe = image.recipe
    distributions = list(image.distribution.distributions) if image.distribution else []
    if not any(d["region"] == image.region for d in distributions):
        distributions.insert(0, {"region": image.region})  # the build Region always gets the AMI
    distributions.sort(key=lambda d: d["region"] != image.region)
    amis: list[dict[str, Any]] = []
    try:
        for d in distributions:
            amis.extend(_distribute_region(image, d, parent, built, recipe.fields.get("amiTags") or {}))
    except _Failed:
        image.amis = amis
        raise
    image.amis = amis


def _distribute_region(
    image: Image, d: dict[str, Any], parent: Any, built: datetime, recipe_tags: dict[str, str]
) -> list[dict[str, Any]]:
    region, conf = d["region"], d.get("amiDistributionConfiguration") or {}
    name = render(conf.get("name") or f"{image.name} {{{{ imagebuilder:buildDate }}}}", built, image.build)
    description = conf.get("description") or (
        image.recipe.fields.get("description") if region == image.region else None
    )
    tags = {k: render(v, built, image.build) for k, v in {**recipe_tags, **(conf.get("amiTags") or {})}.items()}
    tags.update({"CreatedBy": "EC2 Image Builder", "Ec2ImageBuilderArn": image.arn})
    accounts = [image.account, *[a for a in conf.get("targetAccountIds") or [] if a != image.account]]
    made: dict[str, str] = {}
    rows = []
    from ..ssm import hosts

    for account in accounts:
        made[account] = _register_ami(account, region, parent, name, description, tags, conf.get("launchPermission"))
        if getattr(image, "build_host", None) is not None:
            hosts.remember_image_contents(made[account], image.build_host)  # instances start as the build left it
        row = {"region": region, "image": made[account], "name": name, "accountId": account}
        if description:
            row["description"] = description
        rows.append({**row, "state": {"status": "AVAILABLE"}})
    for lt in d.get("launchTemplateConfigurations") or []:
        _new_launch_template_version(image, region, lt, made)
    for p in d.get("ssmParameterConfigurations") or []:
        account = p.get("amiAccountId") or image.account
        if account not in made:
            # wording ours
            raise _Failed(
                f"Distribution to {region} failed: the SSM parameter '{p['parameterName']}' is for account "
                f"{account}, which is not a target account of the AMI in that Region.",
                {"imageStatus": "DISTRIBUTING"},
            )
        _put_parameter(account, region, p, made[account])
    return rows


def _register_ami(
    account: str,
    region: str,
    parent: Any,
    name: str,
    description: str | None,
    tags: dict[str, str],
    launch_permission: dict[str, Any] | None,
) -> str:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import Ami
    from moto.ec2.utils import random_ami_id

    ec2 = ec2_backends[account][region]
    ami = Ami(ec2, random_ami_id(), source_ami=parent, name=name, description=description, region_name=f"{region}a")
    ami.root_device_type, ami.root_device_name = "ebs", parent.root_device_name
    ec2.amis[ami.id] = ami
    ec2.create_tags([ami.id], tags)
    permission = launch_permission or {}
    ami.launch_permissions.extend({"UserId": u} for u in permission.get("userIds") or [])
    ami.launch_permissions.extend({"Group": g} for g in permission.get("userGroups") or [])
    return ami.id


def _new_launch_template_version(image: Image, region: str, lt: dict[str, Any], made: dict[str, str]) -> None:
    from moto.ec2.models import ec2_backends

    account = lt.get("accountId") or image.account
    template = ec2_backends[account][region].launch_templates.get(lt.get("launchTemplateId"))
    if template is None or account not in made:
        # wording ours
        raise _Failed(
            f"Distribution to {region} failed: the launch template '{lt.get('launchTemplateId')}' does not exist "
            f"in account {account}, or the AMI is not distributed to that account.",
            {"imageStatus": "DISTRIBUTING"},
        )
    data = copy.deepcopy(template.get_version(template.default_version_number).data)
    data["ImageId"] = made[account]
    version = template.create_version(data, f"Created by EC2 Image Builder for {image.arn}")  # description ours
    if lt.get("setDefaultVersion", True):
        template.default_version_number = version.number


def _put_parameter(account: str, region: str, p: dict[str, Any], ami_id: str) -> None:
    from moto.ssm.models import ssm_backends

    ssm = ssm_backends[account][region]
    existing = ssm.get_parameter(p["parameterName"])
    ssm.put_parameter(
        name=p["parameterName"],
        description=None,  # type: ignore[arg-type]
        value=ami_id,
        parameter_type=None if existing else "String",  # type: ignore[arg-type]
        allowed_pattern=None,  # type: ignore[arg-type]
        keyid=None,  # type: ignore[arg-type]
        overwrite=True,
        tags=[],
        data_type=p.get("dataType", "text"),
        tier=None,
        policies=None,
    )
