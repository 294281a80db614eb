"""EC2 RunInstances: every instance of a multi-instance launch gets the instance profile, as on AWS.

moto 5.2.5 associates IamInstanceProfile with the first instance of a RunInstances call only; AWS gives it
to every instance launched (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html,
IamInstanceProfile). Systems Manager's managed-node check reads that association, so a fleet launched in one
call must have it on every member.

A launch template's IamInstanceProfile and MetadataOptions reach the instances it launches (moto 5.2.5 ignores
them), whether RunInstances or Auto Scaling launches them.

CreateImage records the instance's simulated contents for the new AMI (ssm/hosts.py), as a disk image would.

A launched instance also boots its simulated host at once (ssm/hosts.py), and its SSM Agent registers if it
can, as it would within seconds on AWS: an instance stopped right after launch is still a (ConnectionLost)
managed node.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.models.amis import AmiBackend
from moto.ec2.models.instances import InstanceBackend, MetadataOptions
from moto.ec2.responses.instances import InstanceResponse

_original_run_instances = InstanceResponse.run_instances
_original_backend_run_instances = InstanceBackend.run_instances
_original_create_image = AmiBackend.create_image


def _run_instances(self: InstanceResponse) -> Any:
    result = _original_run_instances(self)
    name = self._get_param("IamInstanceProfile.Name")
    arn = self._get_param("IamInstanceProfile.Arn")
    instances = getattr(result.result, "instances", [])
    if name or arn:
        for instance in instances[1:]:
            if instance.id not in self.ec2_backend.iam_instance_profile_associations:
                self.ec2_backend.associate_iam_instance_profile(
                    instance_id=instance.id, iam_instance_profile_name=name, iam_instance_profile_arn=arn
                )
    _register(self.current_account, self.region, instances)
    return result


def _backend_run_instances(
    self: Any, image_id: str, count: int, user_data: Any, security_group_names: list[str], **kwargs: Any
) -> Any:
    """A launch template's IamInstanceProfile and MetadataOptions apply to the instances it launches (moto keeps
    only user data, type, key and security groups) — by RunInstances and by Auto Scaling alike."""
    reservation = _original_backend_run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
    if not kwargs.get("launch_template"):
        return reservation
    data = self._get_template_from_args(kwargs["launch_template"]).data
    profile = data.get("IamInstanceProfile") or {}
    options = data.get("MetadataOptions")
    for instance in reservation.instances:
        if options and not kwargs.get("metadata_options"):
            instance.metadata_options = MetadataOptions(options)
        if (
            (profile.get("Name") or profile.get("Arn"))
            and not kwargs.get("iam_instance_profile_name")
            and not kwargs.get("iam_instance_profile_arn")
            and instance.id not in self.iam_instance_profile_associations
        ):
            self.associate_iam_instance_profile(
                instance_id=instance.id,
                iam_instance_profile_name=profile.get("Name"),
                iam_instance_profile_arn=profile.get("Arn"),
            )
    _register(self.account_id, self.region_name, reservation.instances)
    return reservation


def _register(account_id: str, region: str, instances: list[Any]) -> None:
    from .ssm.backend import fleet_for
    from .ssm.fleet import refresh

    settings = fleet_for(account_id, region).settings
    for instance in instances:
        refresh(instance, settings)  # the agent boots with the instance and registers at once if it can


def _create_image(self: Any, instance_id: str, name: str, description: str, tag_specifications: Any) -> Any:
    """CreateImage: the AMI is a copy of the instance's disk, so instances launched from it start as it was."""
    ami = _original_create_image(self, instance_id, name, description, tag_specifications)
    from .ssm import hosts

    instance = self.get_instance(instance_id)
    hosts.remember_image_contents(ami.id, hosts.host_for(instance))
    return ami


def install() -> None:
    """Replace InstanceResponse.run_instances and InstanceBackend.run_instances."""
    InstanceResponse.run_instances = _run_instances  # type: ignore[method-assign]
    InstanceBackend.run_instances = _backend_run_instances  # type: ignore[method-assign]
    AmiBackend.create_image = _create_image  # type: ignore[method-assign]
