"""EC2 RunInstances: every instance of a multi-instance launch gets the instance profile, as on AWS.

moto 5.2.5 associates IamInstanceProfile with the first instance of a RunInstances call only; AWS gives it
to every instance launched (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html,
IamInstanceProfile). Systems Manager's managed-node check reads that association, so a fleet launched in one
call must have it on every member.

A launched instance also boots its simulated host at once (ssm/hosts.py), and its SSM Agent registers if it
can, as it would within seconds on AWS: an instance stopped right after launch is still a (ConnectionLost)
managed node.
"""

from __future__ import annotations

from typing import Any

from moto.ec2.responses.instances import InstanceResponse

_original_run_instances = InstanceResponse.run_instances


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
    from .ssm.backend import fleet_for
    from .ssm.fleet import refresh

    settings = fleet_for(self.current_account, self.region).settings
    for instance in instances:
        refresh(instance, settings)  # the agent boots with the instance and registers at once if it can
    return result


def install() -> None:
    """Replace InstanceResponse.run_instances."""
    InstanceResponse.run_instances = _run_instances  # type: ignore[method-assign]
