"""labs_support: the sandbox, checks, quizzes and progress behind the DOP-C02 course notebooks."""

from __future__ import annotations

import sys

# jsonschema imports rfc3987_syntax when it is installed (JupyterLab pulls it in), which builds 39 parser
# grammars at import time: ~1.7 s of every kernel start for IRI format checks the course never uses.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

from . import guard
from .sandbox import Sandbox, current_sandbox, start_sandbox

guard.install()

__all__ = ["Sandbox", "current_sandbox", "start_sandbox"]
