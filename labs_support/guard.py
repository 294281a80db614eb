"""The guard: nothing a lab does may reach a real AWS endpoint, whatever credentials the machine holds.

Two layers, installed once per process by ``install()`` (importing labs_support does it):

1. botocore's HTTP sender: every boto3/botocore request that moto did not answer is about to leave the
   process. Unless it goes to a loopback address, it is refused with a `RealAWSBlocked` that names the
   service, the host and the reason (sandbox stopped, or an endpoint that is not the sandbox).
2. Python sockets: a TCP connection to any non-loopback address from this kernel is refused too, so a
   hand-made HTTP request (requests, urllib, a signed URL) cannot reach AWS either.

Loopback stays open: the sandbox's own helpers (custom-resource responses, for one) listen on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from botocore.httpsession import URLLib3Session

from .errors import RealAWSBlocked

_original_send = URLLib3Session.send
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_installed = False

# Set by the sandbox so the refusal can say whether a sandbox is running.
sandbox_running: Callable[[], bool] = lambda: False  # noqa: E731

# botocore looks for credentials on the instance metadata service when it finds none elsewhere:
# that would be a network call the guard refuses, with a confusing error. Turn the lookup off.
_QUIET_ENV = {"AWS_EC2_METADATA_DISABLED": "true"}


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost' (the only destinations a lab may reach)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refusal(what: str, host: str) -> RealAWSBlocked:
    if sandbox_running():
        reason = (
            f"{what} was about to go to {host}, which is not the course sandbox. "
            "This happens when a client is given an endpoint_url, or a request is built by hand."
        )
        hint = "Use the sandbox's clients: sb.client('s3'), sb.client('ssm', region=..., account=...)."
    else:
        reason = (
            f"{what} was about to go to {host}, but no sandbox is running in this kernel, so it would "
            "have reached real AWS with whatever credentials this machine has. The course never does that."
        )
        hint = "Run the notebook's sandbox cell first: sb = ls.start_sandbox()"
    return RealAWSBlocked(reason, hint=hint)


def _guarded_send(self: URLLib3Session, request):  # type: ignore[no-untyped-def]
    host = urlsplit(request.url).hostname
    if not is_loopback(host):
        raise _refusal(f"An AWS API request ({_describe(request)})", host or request.url)
    return _original_send(self, request)


def _describe(request) -> str:  # type: ignore[no-untyped-def]
    """'sts GetCallerIdentity'-style label for a botocore request, best effort."""
    target = request.headers.get("X-Amz-Target", b"")
    if isinstance(target, bytes):
        target = target.decode(errors="replace")
    host = urlsplit(request.url).hostname or ""
    service = host.split(".")[0] if host else "?"
    return f"{service} {target}".strip() if target else f"{request.method} {service}"


def _address_host(address: object) -> str | None:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None


def _guarded_connect(self: socket.socket, address):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(_address_host(address)):
        raise _refusal("A network connection", f"{_address_host(address)}:{address[1]}")
    return _original_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(_address_host(address)):
        raise _refusal("A network connection", f"{_address_host(address)}:{address[1]}")
    return _original_connect_ex(self, address)


def install() -> None:
    """Install both layers (idempotent)."""
    global _installed
    if _installed:
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    URLLib3Session.send = _guarded_send  # type: ignore[method-assign]
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    _installed = True


def installed() -> bool:
    """True once the guard is in place (and it never comes out)."""
    return _installed and URLLib3Session.send is _guarded_send and socket.socket.connect is _guarded_connect
