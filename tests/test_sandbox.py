"""The sandbox: one call starts or resets an isolated AWS with an organization of accounts."""

from __future__ import annotations

import json
import os

import boto3
import pytest

import labs_support as ls
from labs_support.errors import LabError, SandboxNotRunning
from labs_support.sandbox import MANAGEMENT_ACCOUNT_ID, ORGANIZATION_LAYOUT


@pytest.fixture
def sb():
    sandbox = ls.start_sandbox()
    yield sandbox
    sandbox.stop()


def test_start_gives_management_and_one_account_per_member_of_the_layout(sb):
    members = [name for names in ORGANIZATION_LAYOUT.values() for name in names]
    assert list(sb.accounts) == ["management", *members]
    assert sb.accounts["management"] == MANAGEMENT_ACCOUNT_ID
    assert all(len(i) == 12 and i.isdigit() for i in sb.accounts.values())
    assert len(set(sb.accounts.values())) == len(sb.accounts)


def test_accounts_sit_in_their_organizational_units(sb):
    org = sb.client("organizations")
    for ou_name, members in ORGANIZATION_LAYOUT.items():
        ou_id = sb.organization["ous"][ou_name]
        listed = {a["Name"] for a in org.list_accounts_for_parent(ParentId=ou_id)["Accounts"]}
        assert listed == set(members)


def test_restart_resets_the_data_and_keeps_the_same_account_ids(sb):
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="left-over")
    ids = dict(sb.accounts)
    again = ls.start_sandbox()
    assert again.accounts == ids
    assert again.generation == sb.generation + 1
    assert "left-over" not in [b["Name"] for b in again.client("s3").list_buckets()["Buckets"]]
    assert not sb.running  # the old handle was stopped by the reset


def test_a_client_in_another_account_and_region_sees_only_that_account_and_region(sb):
    sb.client("ssm", region="eu-west-1", account="dev").put_parameter(Name="/x", Value="dev", Type="String")
    assert sb.client("ssm", region="eu-west-1", account="dev").get_parameter(Name="/x")["Parameter"]["Value"] == "dev"
    with pytest.raises(sb.client("ssm").exceptions.ParameterNotFound):
        sb.client("ssm", region="eu-west-1").get_parameter(Name="/x")
    with pytest.raises(sb.client("ssm").exceptions.ParameterNotFound):
        sb.client("ssm", account="dev").get_parameter(Name="/x")


def test_a_member_account_is_reached_by_assuming_organization_account_access_role(sb):
    arn = sb.client("sts", account="prod").get_caller_identity()["Arn"]
    assert arn.startswith(f"arn:aws:sts::{sb.accounts['prod']}:assumed-role/OrganizationAccountAccessRole/")


def test_accounts_can_be_named_or_given_by_id(sb):
    by_id = sb.client("sts", account=sb.accounts["audit"]).get_caller_identity()["Account"]
    assert by_id == sb.accounts["audit"]
    with pytest.raises(LabError, match="no account called 'staging'"):
        sb.client("s3", account="staging")


def test_a_client_built_by_hand_reaches_the_sandbox(sb):
    assert boto3.client("sts", region_name="eu-central-1").get_caller_identity()["Account"] == MANAGEMENT_ACCOUNT_ID


def test_aws_managed_policies_exist_in_every_account(sb):
    for account in ("management", "dev"):
        iam = sb.client("iam", account=account)
        for name in ("AdministratorAccess", "AmazonSSMManagedInstanceCore", "ReadOnlyAccess"):
            policy = iam.get_policy(PolicyArn=f"arn:aws:iam::aws:policy/{name}")["Policy"]
            assert policy["PolicyName"] == name


def test_assume_role_needs_an_existing_role(sb):
    sts = sb.client("sts")
    with pytest.raises(sts.exceptions.ClientError, match="AccessDenied"):
        sts.assume_role(RoleArn=f"arn:aws:iam::{sb.accounts['dev']}:role/NoSuchRole", RoleSessionName="tester")


def test_assume_role_needs_a_trust_policy_that_admits_the_caller(sb):
    iam = sb.client("iam", account="dev")
    trust_other = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{sb.accounts['audit']}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="AuditOnly", AssumeRolePolicyDocument=json.dumps(trust_other))
    role_arn = f"arn:aws:iam::{sb.accounts['dev']}:role/AuditOnly"
    with pytest.raises(boto3.client("sts").exceptions.ClientError, match="AccessDenied"):
        sb.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="tester")
    creds = sb.client("sts", account="audit").assume_role(RoleArn=role_arn, RoleSessionName="tester")["Credentials"]
    assert creds["AccessKeyId"]


def test_an_explicit_deny_in_the_trust_policy_wins(sb):
    mgmt_root = f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root"
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": mgmt_root}, "Action": "sts:AssumeRole"},
        ],
    }
    sb.client("iam", account="test").create_role(RoleName="NotMgmt", AssumeRolePolicyDocument=json.dumps(doc))
    with pytest.raises(boto3.client("sts").exceptions.ClientError, match="AccessDenied"):
        role_arn = f"arn:aws:iam::{sb.accounts['test']}:role/NotMgmt"
        sb.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="tester")


def test_fake_credentials_win_over_real_ones_from_env_profile_and_files(tmp_path, monkeypatch):
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAREALKEY000000000\naws_secret_access_key = realsecret\n"
        "[prod-admin]\naws_access_key_id = AKIAPRODADMIN0000000\naws_secret_access_key = prodsecret\n"
    )
    (aws / "config").write_text("[default]\nregion = ap-southeast-2\nendpoint_url = https://example.invalid\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x" * 40)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-session-token")
    monkeypatch.setenv("AWS_PROFILE", "prod-admin")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "https://sts.example.invalid")
    sandbox = ls.start_sandbox()
    try:
        assert "AWS_PROFILE" not in os.environ and "AWS_SESSION_TOKEN" not in os.environ
        assert "AWS_ENDPOINT_URL_STS" not in os.environ
        session = boto3.Session()
        assert session.region_name == "us-east-1"
        assert session.get_credentials().access_key != "AKIAREALLOOKINGKEY01"
        assert boto3.client("sts").get_caller_identity()["Account"] == MANAGEMENT_ACCOUNT_ID
    finally:
        sandbox.stop()
    # the learner's own environment is given back when the sandbox stops
    assert os.environ["AWS_PROFILE"] == "prod-admin"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREALLOOKINGKEY01"
    assert os.environ["AWS_ENDPOINT_URL_STS"] == "https://sts.example.invalid"


def test_stop_is_safe_twice_and_a_stopped_sandbox_says_so(sb):
    sb.stop()
    sb.stop()
    with pytest.raises(SandboxNotRunning, match="stopped"):
        sb.client("s3")


def test_current_sandbox_without_one_running_names_the_cell_to_run():
    ls.start_sandbox().stop()
    with pytest.raises(SandboxNotRunning) as caught:
        ls.current_sandbox()
    assert "start_sandbox" in caught.value.hint
