"""Image Builder ARNs, semantic versions and names.

https://docs.aws.amazon.com/imagebuilder/latest/userguide/ibhow-semantic-versioning.html: versions are
<major>.<minor>.<patch>/<build>; you assign the first three (each up to 2^30-1), Image Builder assigns the build.
A version ARN has three nodes, a build version ARN four; a wildcard (x) selects the most recent version, and every
node right of a wildcard must be a wildcard too. ARNs hold the resource name in lowercase (the ARN pattern is
[a-z0-9-_]+), spaces becoming hyphens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from .errors import invalid_value

MAX_NODE = 2**30 - 1
_SEMVER = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_NAME = re.compile(r"^[-_A-Za-z-0-9][-_A-Za-z0-9 ]{1,126}[-_A-Za-z-0-9]$")
_ARN = re.compile(
    r"^arn:aws[^:]*:imagebuilder:(?P<region>[^:]+):(?P<owner>[0-9]{12}|aws):"
    r"(?P<kind>image-recipe|infrastructure-configuration|distribution-configuration|component|image-pipeline|image)"
    r"/(?P<name>[a-z0-9-_]+)(?:/(?P<version>(?:x|[0-9]+)\.(?:x|[0-9]+)\.(?:x|[0-9]+))(?:/(?P<build>[0-9]+))?)?$"
)


def arn_name(name: str) -> str:
    """The name as an ARN holds it."""
    return name.lower().replace(" ", "-")


def arn(region: str, account: str, kind: str, name: str, version: str | None = None, build: int | None = None) -> str:
    value = f"arn:aws:imagebuilder:{region}:{account}:{kind}/{arn_name(name)}"
    if version is not None:
        value += f"/{version}"
    if build is not None:
        value += f"/{build}"
    return value


@dataclass(frozen=True)
class ParsedArn:
    region: str
    owner: str
    kind: str
    name: str
    version: str | None
    build: int | None


def parse_arn(value: str, parameter: str, kinds: tuple[str, ...]) -> ParsedArn:
    """Parse an Image Builder ARN of one of `kinds`, or refuse it as AWS does."""
    m = _ARN.match(value or "")
    if not m or m["kind"] not in kinds:
        # wording ours (after AWS's prefix)
        raise invalid_value(parameter, f"'{value}' is not a valid {' or '.join(kinds)} ARN.")
    version = m["version"]
    if version and not _valid_wildcards(version):
        # AWS: "x.2.x is not valid, and produces an error" (wording ours)
        raise invalid_value(parameter, f"The version '{version}' has a number right of a wildcard (x).")
    build = int(m["build"]) if m["build"] else None
    return ParsedArn(m["region"], m["owner"], m["kind"], m["name"], version, build)


def _valid_wildcards(version: str) -> bool:
    nodes = version.split(".")
    seen_x = False
    for node in nodes:
        if node == "x":
            seen_x = True
        elif seen_x:
            return False
    return True


def check_version(version: str | None, parameter: str = "semanticVersion") -> tuple[int, int, int]:
    """A semantic version you assign: three numeric nodes, each up to 2^30-1."""
    if not version or not _SEMVER.match(version):
        raise invalid_value(parameter, f"{parameter} must match pattern ^[0-9]+\\.[0-9]+\\.[0-9]+$")
    nodes = tuple(int(n) for n in version.split("."))
    if any(n > MAX_NODE for n in nodes):
        # wording ours
        raise invalid_value(parameter, f"Each node of {parameter} must be at most {MAX_NODE}.")
    return nodes  # type: ignore[return-value]


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in version.split("."))


def version_matches(pattern: str, version: str) -> bool:
    """True if `version` (x.y.z) is selected by `pattern` (x.y.z with wildcards)."""
    return all(p in ("x", v) for p, v in zip(pattern.split("."), version.split("."), strict=True))


def check_name(name: str | None, parameter: str = "name") -> str:
    if not name or not _NAME.match(name):
        raise invalid_value(parameter, f"{parameter} must match pattern {_NAME.pattern}")
    return name


def latest_version_references(region: str, account: str, kind: str, name: str, version: str) -> dict[str, str]:
    """The wildcard ARNs Image Builder returns with a resource (latestVersionReferences)."""
    major, minor, _patch = version.split(".")
    return {
        "latestVersionArn": arn(region, account, kind, name, "x.x.x"),
        "latestMajorVersionArn": arn(region, account, kind, name, f"{major}.x.x"),
        "latestMinorVersionArn": arn(region, account, kind, name, f"{major}.{minor}.x"),
        "latestPatchVersionArn": arn(region, account, kind, name, version),
    }


def api_date(moment: datetime) -> str:
    """Image Builder's dates are strings (DateTime in its model): ISO 8601 UTC with milliseconds."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
