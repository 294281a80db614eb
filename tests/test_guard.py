"""The guard: whatever the learner does, no request reaches a real AWS endpoint."""

from __future__ import annotations

import socket
import threading

import boto3
import pytest
from botocore.httpsession import URLLib3Session
from moto import mock_aws

import labs_support as ls
from labs_support import guard
from labs_support.errors import RealAWSBlocked

REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7REALKEY",
    "AWS_SECRET_ACCESS_KEY": "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",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def real_looking_credentials(monkeypatch):
    for key, value in REAL_LOOKING.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.fixture
def sends_that_got_through(monkeypatch):
    """Record every request the guard lets through to botocore's real HTTP sender."""
    passed: list[str] = []

    def record(self, request):  # type: ignore[no-untyped-def]
        passed.append(request.url)
        raise ConnectionError("test stand-in for the network")

    monkeypatch.setattr(guard, "_original_send", record)
    return passed


def test_importing_labs_support_installs_the_guard():
    assert guard.installed()
    assert URLLib3Session.send is guard._guarded_send


def test_with_no_sandbox_a_boto3_call_with_real_credentials_is_refused(
    real_looking_credentials, sends_that_got_through
):
    ls.start_sandbox().stop()
    with pytest.raises(RealAWSBlocked) as caught:
        boto3.client("sts").get_caller_identity()
    assert "no sandbox is running" in caught.value.message
    assert "start_sandbox" in caught.value.hint
    assert sends_that_got_through == []


def test_stopping_moto_by_hand_does_not_open_the_way(real_looking_credentials, sends_that_got_through):
    sandbox = ls.start_sandbox()
    sandbox._mock.stop()  # the learner stops the mock behind the sandbox's back
    try:
        with pytest.raises(RealAWSBlocked):
            boto3.client("s3").list_buckets()
    finally:
        sandbox._running = False
        from labs_support import sandbox as sandbox_module

        sandbox_module._restore_env(sandbox._saved_env)
        sandbox_module._current = None
    assert sends_that_got_through == []


def test_a_raw_client_with_its_own_mock_still_cannot_reach_a_non_aws_host(sends_that_got_through):
    with mock_aws(), pytest.raises(RealAWSBlocked):
        boto3.client("s3", region_name="us-east-1", endpoint_url="https://10.20.30.40").list_buckets()
    assert sends_that_got_through == []


def test_an_endpoint_url_that_is_not_the_sandbox_is_refused_while_the_sandbox_runs(sends_that_got_through):
    sandbox = ls.start_sandbox()
    try:
        with pytest.raises(RealAWSBlocked) as caught:
            boto3.client("sts", endpoint_url="https://203.0.113.10").get_caller_identity()
        assert "not the course sandbox" in caught.value.message
    finally:
        sandbox.stop()
    assert sends_that_got_through == []


def test_a_socket_connection_to_a_non_loopback_address_is_refused_at_once():
    with pytest.raises(RealAWSBlocked, match=r"52\.94\.236\.248:443"):
        socket.create_connection(("52.94.236.248", 443), timeout=5)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        with pytest.raises(RealAWSBlocked):
            sock.connect_ex(("2600:1f18::1", 443, 0, 0))
    finally:
        sock.close()


def test_loopback_stays_open():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[bool] = []
    thread = threading.Thread(target=lambda: accepted.append(bool(server.accept())), daemon=True)
    thread.start()
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    thread.join(timeout=5)
    server.close()
    assert accepted == [True]


def test_profiles_that_do_not_exist_do_not_break_the_sandbox(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    sandbox = ls.start_sandbox()
    try:
        assert boto3.client("sts").get_caller_identity()["Account"] == sandbox.accounts["management"]
    finally:
        sandbox.stop()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("sts.amazonaws.com", False),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("", False),
        (None, False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_only_loopback_addresses_count_as_local(host, loopback):
    assert guard.is_loopback(host) is loopback
