"""AWS-owned SSM documents, present in every account and Region as on AWS (moto ships none).

Their parameters and steps follow the published documents (Documents > Owned by Amazon in the console;
https://docs.aws.amazon.com/systems-manager/latest/userguide/documents.html and the Automation runbook
reference https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/). The content
is shortened to what the sandbox runs (aws_documents.yaml): parameters with their types, defaults and
allowed values, and the
steps with their actions. Owner is "Amazon"; they cannot be updated or deleted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from moto.ssm.models import Document, Documents

_DATA = yaml.safe_load((Path(__file__).parent / "aws_documents.yaml").read_text())
COMMAND_DOCUMENTS: dict[str, dict[str, Any]] = _DATA["command"]
AUTOMATION_DOCUMENTS: dict[str, dict[str, Any]] = _DATA["automation"]
PLATFORMS: dict[str, list[str]] = _DATA["platforms"]
OWNER = "Amazon"


def is_aws_owned(name: str) -> bool:
    return name in COMMAND_DOCUMENTS or name in AUTOMATION_DOCUMENTS


def seed(backend: Any) -> None:
    """Put the AWS-owned documents into one moto SSM backend (account and Region)."""
    for name, content in [*COMMAND_DOCUMENTS.items(), *AUTOMATION_DOCUMENTS.items()]:
        if name in backend._documents:
            continue
        kind = "Command" if name in COMMAND_DOCUMENTS else "Automation"
        document = Document(
            account_id=backend.account_id,
            name=name,
            version_name=None,
            content=json.dumps(content, indent=2),
            document_type=kind,
            document_format="JSON",
            requires=[],
            attachments=[],
            target_type="/AWS::EC2::Instance" if kind == "Automation" else None,
        )
        document.owner = OWNER
        document.platform_types = PLATFORMS.get(name, ["Windows", "Linux", "MacOS"])
        backend._documents[name] = Documents(document)
