"""(being written)"""

from __future__ import annotations


def install() -> None:
    """Register this module's actions."""
