"""The lab sandbox: an isolated, in-process AWS (moto + the fidelity layer) with an organization of accounts.

    sb = start_sandbox()                      # starts, or resets, the sandbox of this kernel
    cfn = sb.client("cloudformation")         # default Region, management account
    ssm = sb.client("ssm", region="eu-west-1", account="dev")   # another Region / member account
    sb.accounts                               # {"management": "123456789012", "dev": "...", ...}
    sb.stop()

While a sandbox runs, every boto3 client in the kernel (also one built by hand) reaches the sandbox:
moto intercepts requests inside botocore. Fake credentials win over real ones because the sandbox
replaces the credential environment (keys, profiles, config files) for as long as it runs. The guard
(guard.py) refuses anything that would still try to leave the machine.
"""

from __future__ import annotations

import html
import os
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from . import emulator, guard
from .errors import LabError, SandboxNotRunning

DEFAULT_REGION = "us-east-1"
MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account: the organization's management account
MEMBER_ROLE = "OrganizationAccountAccessRole"
SEED = 20261122  # moto's random ids are seeded, so a re-run creates the same ids

# The organization every sandbox starts with: OU name -> member account names.
ORGANIZATION_LAYOUT: dict[str, tuple[str, ...]] = {
    "Security": ("log-archive", "audit"),
    "Workloads-NonProd": ("dev", "test"),
    "Workloads-Prod": ("prod",),
}

# Environment that decides which credentials, profile, Region and endpoint botocore uses. While a
# sandbox runs these are replaced (or removed, value None) so nothing of the learner's own AWS set-up
# can be picked up; they are restored by stop().
_FAKE_ENV: dict[str, str | None] = {
    "AWS_ACCESS_KEY_ID": "AKIASANDBOXLEARNER00",
    "AWS_SECRET_ACCESS_KEY": "sandbox-secret-key-not-a-real-credential",
    "AWS_SESSION_TOKEN": None,
    "AWS_SECURITY_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_DEFAULT_PROFILE": None,
    "AWS_DEFAULT_REGION": DEFAULT_REGION,
    "AWS_REGION": DEFAULT_REGION,
    "AWS_ROLE_ARN": None,
    "AWS_WEB_IDENTITY_TOKEN_FILE": None,
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
    "AWS_CONTAINER_AUTHORIZATION_TOKEN": None,
    "AWS_ENDPOINT_URL": None,
    "AWS_USE_FIPS_ENDPOINT": None,
    "AWS_USE_DUALSTACK_ENDPOINT": None,
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ACCOUNT_ID": None,
    # botocore >= 1.37 can route DynamoDB to account-based endpoints that moto 5.2.5 does not match.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "MOTO_ACCOUNT_ID": None,
}
_EMPTY_AWS_FILES = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")

_lock = threading.RLock()
_current: Sandbox | None = None
_warmed_up = False


@dataclass
class Sandbox:
    """A running sandbox. Get one with start_sandbox(); its clients reach only the in-process AWS."""

    region: str
    accounts: dict[str, str]
    organization: dict[str, Any]
    generation: int
    _mock: Any = field(repr=False)
    _saved_env: dict[str, str | None] = field(repr=False)
    _tmpdir: tempfile.TemporaryDirectory = field(repr=False)
    _credentials: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _running: bool = True

    # -- clients ----------------------------------------------------------------------------------
    def account_id(self, account: str | None = None) -> str:
        """The 12-digit id for an account name ('dev') or id; the management account by default."""
        if account is None:
            return self.accounts["management"]
        if account in self.accounts:
            return self.accounts[account]
        if account in self.accounts.values() or account in self._organization_accounts():
            return account  # one of the starting accounts, or one the lab created in the organization
        names = ", ".join(self.accounts)
        raise LabError(f"The sandbox has no account called '{account}'.", hint=f"Its accounts are: {names}.")

    def _organization_accounts(self) -> set[str]:
        from moto.organizations.models import organizations_backends

        backend = organizations_backends[self.accounts["management"]]["aws"]
        return {a.id for a in backend.accounts if a.status == "ACTIVE"}

    def session(self, account: str | None = None, region: str | None = None) -> boto3.Session:
        """A boto3 Session for an account of the sandbox (for resource APIs and several clients)."""
        self._ensure_running()
        account_id = self.account_id(account)
        if account_id == MANAGEMENT_ACCOUNT_ID:
            keys = {
                "aws_access_key_id": _FAKE_ENV["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": _FAKE_ENV["AWS_SECRET_ACCESS_KEY"],
            }
        else:
            creds = self._member_credentials(account_id)
            keys = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
        return boto3.Session(botocore_session=_botocore_session(), region_name=region or self.region, **keys)

    def client(self, service: str, region: str | None = None, account: str | None = None) -> Any:
        """A boto3 client for the sandbox: default Region and management account unless told otherwise.

        A member account is reached as on AWS: by assuming its OrganizationAccountAccessRole from the
        management account.
        """
        return self.session(account, region).client(service, config=_CLIENT_CONFIG)

    def _member_credentials(self, account_id: str) -> dict[str, str]:
        if account_id not in self._credentials:
            sts = self.session().client("sts", config=_CLIENT_CONFIG)
            role_arn = f"arn:aws:iam::{account_id}:role/{MEMBER_ROLE}"
            self._credentials[account_id] = sts.assume_role(RoleArn=role_arn, RoleSessionName="course-learner")[
                "Credentials"
            ]
        return self._credentials[account_id]

    # -- lifecycle ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    @property
    def lab_clock_speed(self) -> float:
        """Lab seconds per real second for AWS's long waits (a custom resource's hour): 600 by default."""
        from .emulator import clock

        return clock.speed()

    @lab_clock_speed.setter
    def lab_clock_speed(self, lab_seconds_per_second: float) -> None:
        from .emulator import clock

        clock.set_speed(lab_seconds_per_second)

    def _ensure_running(self) -> None:
        if not self._running:
            raise SandboxNotRunning(
                "This sandbox was stopped (or replaced by a newer one).",
                hint="Run the notebook's sandbox cell again: sb = ls.start_sandbox()",
            )

    def stop(self) -> None:
        """Stop the sandbox, drop its data and give the environment back. Safe to call twice."""
        global _current
        with _lock:
            if not self._running:
                return
            self._running = False
            from .emulator import clock

            clock.abort_waits()  # operations waiting on the lab clock end now
            self._mock.stop()
            _restore_env(self._saved_env)
            self._tmpdir.cleanup()
            if _current is self:
                _current = None

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<Sandbox {state}: {len(self.accounts)} accounts, default Region {self.region}>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td><code>{acct}</code></td></tr>" for name, acct in self.accounts.items()
        )
        state = "running" if self._running else "stopped"
        return (
            f"<div><b>Sandbox {state}</b> · default Region <code>{self.region}</code>"
            f"<table><tr><th>account</th><th>id</th></tr>{rows}</table></div>"
        )


_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2})


def _botocore_session() -> botocore.session.Session:
    """A fresh botocore session that shares boto3's default session's model loader and exception classes.

    Sharing the loader reads each service model once per process; sharing the exceptions factory means
    `ssm.exceptions.ParameterNotFound` of one client catches the error of any other client, as it does
    between clients of one boto3 session.
    """
    base = boto3._get_default_session()._session
    session = botocore.session.Session()
    session.register_component("data_loader", base.get_component("data_loader"))
    session._internal_components.register_component(
        "exceptions_factory", base._get_internal_component("exceptions_factory")
    )
    return session


def _replace_env(tmpdir: str) -> dict[str, str | None]:
    saved: dict[str, str | None] = {}
    for key, value in _FAKE_ENV.items():
        saved[key] = os.environ.get(key)
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")]:
        saved[key] = os.environ.pop(key)
    for key in _EMPTY_AWS_FILES:
        saved[key] = os.environ.get(key)
        empty = os.path.join(tmpdir, key.lower())
        open(empty, "w").close()
        os.environ[key] = empty
    return saved


def _restore_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# Services whose botocore models moto reads the first time an account uses them (EC2's alone is ~0.15 s).
_WARM_SERVICES = ("ec2", "s3", "ssm", "sqs", "sns", "iam", "sts", "lambda", "logs", "cloudformation", "events")


def _warm_up() -> None:
    """Pay once per process, in the sandbox cell, what the first lab cell would otherwise pay (1-2 s)."""
    global _warmed_up
    if _warmed_up:
        return
    from moto.core.base_backend import AccountSpecificBackend

    session = AccountSpecificBackend.get_session()
    # moto's own boto3 session reads whole service models to list Regions; with the clients' loader each model
    # is held once, not twice (~30 MB of a kernel for the services above)
    session._session.register_component(
        "data_loader", boto3._get_default_session()._session.get_component("data_loader")
    )
    for service in _WARM_SERVICES:
        session.get_available_regions(service)
    cfn = boto3.client("cloudformation", region_name=DEFAULT_REGION, config=_CLIENT_CONFIG)
    cfn.create_stack(
        StackName="labs-warm-up",
        TemplateBody='{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, "Param": {"Type": "AWS::SSM::Parameter",'
        ' "Properties": {"Type": "String", "Value": {"Fn::GetAtt": ["Topic", "TopicArn"]}}}}}',
    )
    cfn.delete_stack(StackName="labs-warm-up")
    _warmed_up = True


def _build_organization() -> tuple[dict[str, str], dict[str, Any]]:
    org = boto3.client("organizations", region_name=DEFAULT_REGION, config=_CLIENT_CONFIG)
    details = org.create_organization(FeatureSet="ALL")["Organization"]
    root_id = org.list_roots()["Roots"][0]["Id"]
    accounts = {"management": details["MasterAccountId"]}
    ous: dict[str, str] = {}
    for ou_name, members in ORGANIZATION_LAYOUT.items():
        ou_id = org.create_organizational_unit(ParentId=root_id, Name=ou_name)["OrganizationalUnit"]["Id"]
        ous[ou_name] = ou_id
        for name in members:
            status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
            accounts[name] = status["AccountId"]
            org.move_account(AccountId=status["AccountId"], SourceParentId=root_id, DestinationParentId=ou_id)
    return accounts, {"id": details["Id"], "root": root_id, "ous": ous}


def start_sandbox(region: str = DEFAULT_REGION) -> Sandbox:
    """Start this kernel's sandbox, or reset it if one is already running (all its data is dropped)."""
    global _current
    from moto import mock_aws
    from moto.core.base_backend import BackendDict
    from moto.moto_api._internal import mock_random

    guard.install()
    emulator.install()
    with _lock:
        generation = 1
        if _current is not None:
            generation = _current.generation + 1
            _current.stop()
        from .emulator import clock

        clock.reset()
        from .emulator.ssm import hosts

        hosts.forget_images()  # AMI ids repeat in a new sandbox (seeded): no contents may carry over
        tmpdir = tempfile.TemporaryDirectory(prefix="labs-sandbox-")
        saved = _replace_env(tmpdir.name)
        os.environ["AWS_DEFAULT_REGION"] = os.environ["AWS_REGION"] = region
        boto3.DEFAULT_SESSION = None
        mock = mock_aws(config={"iam": {"load_aws_managed_policies": True}})
        try:
            mock.start()
            _warm_up()
            BackendDict.reset()  # drop the warm-up's data (MockAWS.reset would also unregister URLs)
            mock_random.seed(SEED)
            accounts, organization = _build_organization()
        except BaseException:
            mock.stop()
            _restore_env(saved)
            tmpdir.cleanup()
            raise
        _current = Sandbox(region, accounts, organization, generation, mock, saved, tmpdir)
        return _current


def current_sandbox() -> Sandbox:
    """The running sandbox, or a SandboxNotRunning that tells the learner which cell to run."""
    if _current is None or not _current.running:
        raise SandboxNotRunning(
            "This step needs the lab sandbox, and none is running in this kernel.",
            hint="Run the notebook's sandbox cell first: sb = ls.start_sandbox()",
        )
    return _current


def is_running() -> bool:
    """True while a sandbox is running in this kernel."""
    return _current is not None and _current.running


guard.sandbox_running = is_running
