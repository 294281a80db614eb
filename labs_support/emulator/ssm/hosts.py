"""Simulated hosts: what an EC2 instance of the sandbox "has inside" (files, services, packages, agent).

moto's EC2 instances are records without an operating system. Systems Manager acts *on* the operating
system, so each instance gets a small simulated host the first time Systems Manager looks at it: an OS
derived from its AMI's name (Amazon Linux 2 / 2023, Ubuntu, RHEL, SUSE, Windows Server), the packages and
services such a machine starts with, whether the SSM Agent is preinstalled, and its user data run once as
cloud-init would at first boot (so a lab prepares hosts the way it would on AWS; its output goes to
/var/log/cloud-init-output.log). The host is stored on
moto's instance object, so it lives and dies with the instance and the sandbox.

Which AMIs ship the agent: https://docs.aws.amazon.com/systems-manager/latest/userguide/ami-preinstalled-agent.html
(Amazon Linux 2 and 2023, Amazon Linux base AMIs from 2017.09, Ubuntu Server 16.04 AMIs published from 2018-06-27
and later releases, SUSE Linux Enterprise Server 12/15, Windows Server AMIs published from November 2016).
Red Hat Enterprise Linux and older Ubuntu AMIs need the agent installed (user data or a golden AMI).

Hosts run commands through `shell.run` (shell.py), a small deterministic interpreter: it is not a real
shell, and notebooks say so.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass, field
from typing import Any

# Agent version every simulated host reports (a 3.3 release; DHMC needs 3.2.582.0 or later).
AGENT_VERSION = "3.3.1142.0"
OLD_AGENT_VERSION = "2.3.68.0"  # what an Ubuntu 16.04 snap from 2018 carried: too old for DHMC


@dataclass
class Service:
    """A system service (systemd unit or Windows service)."""

    running: bool
    enabled: bool


@dataclass
class Host:
    """The inside of one instance."""

    instance_id: str
    platform_type: str  # "Linux" or "Windows", as describe_instance_information says
    platform_name: str
    platform_version: str
    package_manager: str  # "dnf", "yum", "apt", "zypper" or "windows"
    agent_version: str | None  # None: no SSM Agent installed
    computer_name: str
    files: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    # Patch Manager's view (patching.py fills these): update id -> installed time (ISO) or None
    installed_updates: dict[str, str] = field(default_factory=dict)
    failed_updates: set[str] = field(default_factory=set)
    pending_reboot: bool = False
    reboots: int = 0
    booted: bool = False
    boot_log: str = ""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def is_windows(self) -> bool:
        return self.platform_type == "Windows"

    def install_agent(self) -> None:
        self.agent_version = AGENT_VERSION
        self.services["amazon-ssm-agent" if not self.is_windows else "AmazonSSMAgent"] = Service(True, True)
        if not self.is_windows:
            self.packages["amazon-ssm-agent"] = AGENT_VERSION


@dataclass(frozen=True)
class OsProfile:
    platform_type: str
    platform_name: str
    platform_version: str
    package_manager: str
    agent_version: str | None


# AMI name pattern -> operating system (first match wins)
_PROFILES: list[tuple[re.Pattern[str], OsProfile]] = [
    (re.compile(r"^al2023"), OsProfile("Linux", "Amazon Linux", "2023", "dnf", AGENT_VERSION)),
    (re.compile(r"^al2022"), OsProfile("Linux", "Amazon Linux", "2022", "dnf", AGENT_VERSION)),
    (re.compile(r"^amzn2|^amazon-eks"), OsProfile("Linux", "Amazon Linux", "2", "yum", AGENT_VERSION)),
    (re.compile(r"^amzn-ami"), OsProfile("Linux", "Amazon Linux AMI", "2018.03", "yum", AGENT_VERSION)),
    (re.compile(r"^ubuntu.*(trusty|14\.04)"), OsProfile("Linux", "Ubuntu", "14.04", "apt", None)),
    (re.compile(r"^ubuntu.*xenial.*-2017"), OsProfile("Linux", "Ubuntu", "16.04", "apt", None)),
    (re.compile(r"^ubuntu.*(xenial|16\.04)"), OsProfile("Linux", "Ubuntu", "16.04", "apt", OLD_AGENT_VERSION)),
    (re.compile(r"^ubuntu"), OsProfile("Linux", "Ubuntu", "22.04", "apt", AGENT_VERSION)),
    (re.compile(r"^RHEL-(\d+\.\d+)"), OsProfile("Linux", "Red Hat Enterprise Linux Server", "7.4", "yum", None)),
    (re.compile(r"^suse-sles-12"), OsProfile("Linux", "SLES", "12.3", "zypper", AGENT_VERSION)),
    (re.compile(r"^suse-sles"), OsProfile("Linux", "SLES", "11.4", "zypper", None)),
    (
        re.compile(r"^Windows_Server-(\d{4})"),
        OsProfile("Windows", "Microsoft Windows Server", "10.0", "windows", AGENT_VERSION),
    ),
]
_UNKNOWN = OsProfile("Linux", "Linux", "unknown", "yum", None)

# What a fresh machine of each kind has running
_BASE_SERVICES_LINUX = {"sshd": Service(True, True), "chronyd": Service(True, True), "crond": Service(True, True)}
_BASE_SERVICES_WINDOWS = {
    "W32Time": Service(True, True),
    "WinRM": Service(True, True),
    "Spooler": Service(False, False),
}
_BASE_PACKAGES_LINUX = {"bash": "5.2.15", "openssl": "3.0.8", "curl": "8.5.0", "python3": "3.9.23", "tar": "1.34"}

# Images whose contents the sandbox knows beyond their name (golden AMIs, images made from an instance)
_image_contents: dict[str, dict[str, Any]] = {}
_lock = threading.Lock()


def profile_for_image_name(name: str | None) -> OsProfile:
    """The operating system an AMI of this name boots."""
    for pattern, profile in _PROFILES:
        if name and pattern.search(name):
            return profile
    return _UNKNOWN


def remember_image_contents(image_id: str, host: Host) -> None:
    """An AMI was made from a host (CreateImage, Image Builder): instances launched from it start as it was."""
    with _lock:
        _image_contents[image_id] = {
            "profile": OsProfile(
                host.platform_type, host.platform_name, host.platform_version, host.package_manager, host.agent_version
            ),
            "files": dict(host.files),
            "services": {n: Service(s.running, s.enabled) for n, s in host.services.items()},
            "packages": dict(host.packages),
            "installed_updates": dict(host.installed_updates),
        }


def forget_images() -> None:
    """The sandbox was reset."""
    with _lock:
        _image_contents.clear()


def _image_name(ec2_backend: Any, image_id: str) -> str | None:
    try:
        images = ec2_backend.describe_images(ami_ids=[image_id])
    except Exception:  # the AMI was deregistered: the running instance keeps its OS, the name is gone
        return None
    return images[0].name if images else None


def host_for(instance: Any) -> Host:
    """The simulated host of a moto EC2 instance (made, and booted, the first time it is needed)."""
    host: Host | None = getattr(instance, "_course_host", None)
    if host is not None:
        return host
    host = host_from_image(instance.ec2_backend, instance.image_id, instance.id, lambda p: _computer_name(instance, p))
    instance._course_host = host
    _boot(instance, host)
    return host


def host_from_image(ec2_backend: Any, image_id: str, host_id: str, computer_name: Any = None) -> Host:
    """A fresh host as an AMI boots it (no user data run): an image's own contents if the sandbox knows them
    (golden images), else what its name says. Image Builder builds on one of these."""
    with _lock:
        baked = _image_contents.get(image_id)
    profile = baked["profile"] if baked else profile_for_image_name(_image_name(ec2_backend, image_id))
    host = Host(
        instance_id=host_id,
        platform_type=profile.platform_type,
        platform_name=profile.platform_name,
        platform_version=profile.platform_version,
        package_manager=profile.package_manager,
        agent_version=None,
        computer_name=computer_name(profile) if computer_name else f"build-{host_id}",
    )
    if baked:
        host.files = dict(baked["files"])
        host.services = {n: Service(s.running, s.enabled) for n, s in baked["services"].items()}
        host.packages = dict(baked["packages"])
        host.installed_updates = dict(baked["installed_updates"])
        host.agent_version = profile.agent_version
    else:
        if host.is_windows:
            host.services = {n: Service(s.running, s.enabled) for n, s in _BASE_SERVICES_WINDOWS.items()}
        else:
            host.services = {n: Service(s.running, s.enabled) for n, s in _BASE_SERVICES_LINUX.items()}
            host.packages = dict(_BASE_PACKAGES_LINUX)
            host.files = {
                "/etc/os-release": f'NAME="{profile.platform_name}"\nVERSION_ID="{profile.platform_version}"\n'
            }
        if profile.agent_version:
            host.install_agent()
            host.agent_version = profile.agent_version
    return host


def _computer_name(instance: Any, profile: OsProfile) -> str:
    if profile.platform_type == "Windows":
        return "EC2AMAZ-" + instance.id[-7:].upper()
    ip = getattr(instance, "private_ip", None) or "10.0.0.1"
    return f"ip-{ip.replace('.', '-')}.ec2.internal"


def user_data_text(instance: Any) -> str:
    """The instance's user data as text (moto keeps it base64-encoded)."""
    raw = getattr(instance, "user_data", None)
    if not raw:
        return ""
    if isinstance(raw, list):  # older moto kept a list
        raw = raw[0] if raw else ""
    if hasattr(raw, "decode") and not isinstance(raw, bytes):  # moto's Base64EncodedString
        try:
            return raw.decode()
        except Exception:
            return ""
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace")
    try:
        return base64.b64decode(raw, validate=True).decode(errors="replace")
    except Exception:
        return str(raw)


def _boot(instance: Any, host: Host) -> None:
    """First boot: cloud-init (Linux) runs a shell-script user data once, as root."""
    from . import shell

    host.booted = True
    script = user_data_text(instance)
    if script.startswith("#!") and not host.is_windows:
        result = shell.run(host, script)
        host.boot_log = result.stdout + result.stderr
        host.files["/var/log/cloud-init-output.log"] = host.boot_log  # where cloud-init writes a script's output
    elif host.is_windows and "<powershell>" in script:
        body = script.split("<powershell>", 1)[1].split("</powershell>", 1)[0]
        result = shell.run(host, body)
        host.boot_log = result.stdout + result.stderr
