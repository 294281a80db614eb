"""Systems Manager's fleet side: managed nodes, AWS-owned documents, Run Command, State Manager, Inventory,
Patch Manager, maintenance windows and Automation, on simulated hosts (moto implements little beyond
Parameter Store). See design.md, "A Systems Manager fleet".

Modules: hosts.py / shell.py (the simulated machines), fleet.py (managed-node prerequisites), documents.py
(AWS-owned documents), documents_run.py (running a document's steps), rate_control.py (MaxConcurrency /
MaxErrors), run_command.py, schedule.py (lab-clock schedules), backend.py (state), api.py (the actions), compliance.py,
associations.py (State Manager), inventory.py, patching.py + patching_api.py, maintenance_windows.py, automation*.py.
"""

from __future__ import annotations

from moto.ssm.models import SimpleSystemManagerBackend

from . import documents

_original_init = SimpleSystemManagerBackend.__init__


def _init_with_aws_documents(self: SimpleSystemManagerBackend, region_name: str, account_id: str) -> None:
    _original_init(self, region_name, account_id)
    documents.seed(self)


def install() -> None:
    """Seed AWS-owned documents in every SSM backend and answer the fleet's API actions."""
    from . import api, associations, automation, compliance, inventory, maintenance_windows, patching

    SimpleSystemManagerBackend.__init__ = _init_with_aws_documents  # type: ignore[method-assign]
    api.install()
    for module in (compliance, associations, inventory, patching, maintenance_windows, automation):
        module.install()
