"""The Systems Manager state moto does not keep: one FleetBackend per account and Region.

moto's own SSM backend still holds parameters, documents, maintenance windows and patch baselines; this one
holds what the sandbox adds (commands and invocations, service settings, associations and their executions,
compliance, inventory, patch states, maintenance-window executions, automation executions). It is a moto
BackendDict, so a sandbox reset drops it with everything else.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.ssm.models import ssm_backends

from . import fleet


class FleetBackend(BaseBackend):
    """Systems Manager state of one account and Region that moto does not model."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.commands: dict[str, Any] = {}  # command id -> run_command.Command, in send order
        self.settings: dict[str, str] = {}  # service setting id -> value
        self.associations: dict[str, Any] = {}
        self.compliance: dict[str, dict[str, list[dict[str, Any]]]] = {}  # resource id -> type -> items
        self.compliance_meta: dict[tuple[str, str], dict[str, Any]] = {}  # (resource id, type) -> execution summary
        self.inventory: dict[
            str, dict[str, dict[str, Any]]
        ] = {}  # instance id -> type name -> {CaptureTime, Content...}
        self.patch_states: dict[str, dict[str, Any]] = {}
        self.window_executions: dict[str, Any] = {}
        self.automation_executions: dict[str, Any] = {}

    @property
    def moto(self) -> Any:
        """moto's own SSM backend of the same account and Region."""
        return ssm_backends[self.account_id][self.region_name]

    # -- managed nodes ---------------------------------------------------------------------------------
    def managed_nodes(self) -> list[tuple[Any, Any, bool]]:
        """(instance, host, online) for every instance that has ever registered, in launch order."""
        nodes = []
        for instance in fleet.all_instances(self.account_id, self.region_name):
            host, online = fleet.refresh(instance, self.settings)
            if fleet.registered(host):
                nodes.append((instance, host, online))
        return nodes

    def node(self, instance_id: str) -> tuple[Any, Any, bool] | None:
        instance = fleet.find_instance(self.account_id, self.region_name, instance_id)
        if instance is None:
            return None
        host, online = fleet.refresh(instance, self.settings)
        return (instance, host, online) if fleet.registered(host) else None


fleets: BackendDict[FleetBackend] = BackendDict(FleetBackend, "ssm")


def fleet_for(account_id: str, region: str) -> FleetBackend:
    return fleets[account_id][region]
