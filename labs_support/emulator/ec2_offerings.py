"""EC2 instance-type offerings read when first asked for, not at import.

At import, moto's EC2 models parse the instance-type offerings of every Region and location type:
~45 MB of a kernel's memory, for data a lab needs only when it launches an instance or describes
offerings (and then only for one Region). `install()` must run before moto's EC2 package is imported:
it lets moto import with empty offerings, then swaps in dictionaries that load a Region's file on first
access, exactly as moto would have loaded it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_OFFERINGS_DIR = "resources/instance_type_offerings"


class _LazyRegions(dict):
    """Region -> offerings of one location type; each Region's file is parsed on first access."""

    def __init__(self, location_type: str, files: dict[str, str], load: Any) -> None:
        super().__init__()
        self._location_type, self._files, self._load_resource = location_type, files, load

    def _ensure(self, region: str) -> None:
        if not dict.__contains__(self, region) and region in self._files:
            offerings = self._load_resource(self._files[region])
            for offering in offerings:
                offering["LocationType"] = self._location_type
            dict.__setitem__(self, region, offerings)

    def _ensure_all(self) -> None:
        for region in self._files:
            self._ensure(region)

    def __getitem__(self, region: str) -> Any:
        self._ensure(region)
        return dict.__getitem__(self, region)

    def get(self, region: str, default: Any = None) -> Any:
        self._ensure(region)
        return dict.get(self, region, default)

    def __contains__(self, region: object) -> bool:
        return region in self._files

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def keys(self):  # type: ignore[no-untyped-def]
        return self._files.keys()

    def items(self):  # type: ignore[no-untyped-def]
        self._ensure_all()
        return dict.items(self)

    def values(self):  # type: ignore[no-untyped-def]
        self._ensure_all()
        return dict.values(self)


def install() -> None:
    """Import moto's EC2 instance types with lazily loaded offerings (no-op if EC2 is already imported)."""
    if "moto.ec2.models.instance_types" in sys.modules:
        return
    import moto.utilities.utils as utils

    real_load = utils.load_resource

    def skip_offerings(path: str, *args: Any, **kwargs: Any) -> Any:
        return [] if _OFFERINGS_DIR in path else real_load(path, *args, **kwargs)

    utils.load_resource = skip_offerings
    try:
        from moto.ec2.models import instance_types
    finally:
        utils.load_resource = real_load
    root = os.path.join(os.path.dirname(instance_types.__file__), "..", _OFFERINGS_DIR)
    for location_type in list(instance_types.INSTANCE_TYPE_OFFERINGS):
        files = {
            name.split(".")[0]: os.path.join("ec2", _OFFERINGS_DIR, location_type, name)
            for name in os.listdir(os.path.join(root, location_type))
        }
        instance_types.INSTANCE_TYPE_OFFERINGS[location_type] = _LazyRegions(location_type, files, real_load)
