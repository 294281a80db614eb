"""CloudFormation drift (not emulated yet: its API actions are refused plainly, see api.NOT_YET)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# API action name (snake_case, as moto's CloudFormationResponse names them) -> function(self: response)
ACTIONS: dict[str, Callable[..., Any]] = {}
