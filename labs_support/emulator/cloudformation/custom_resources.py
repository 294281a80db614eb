"""Custom resources (Custom::Name, AWS::CloudFormation::CustomResource) backed by Lambda functions.

For each Create, Update and Delete, CloudFormation invokes the function named by ServiceToken with a
request (RequestType, ResponseURL, RequestId, ResourceProperties, OldResourceProperties ...), then waits
for the function to PUT a SUCCESS or FAILED response to the ResponseURL, for an hour unless the resource
sets ServiceTimeout. The handler's Python code really runs (emulator/awslambda.py). On AWS the
ResponseURL is a pre-signed S3 URL; here it points at a small receiver on 127.0.0.1, which is all
cfn-response, urllib3 or requests need to answer it. The hour runs on the lab clock (emulator/clock.py).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.moto_api._internal import mock_random

from . import operations
from .errors import ResourceFailure
from .intrinsics import as_string
from .resources import Provisioned, ResourceRequest

DEFAULT_TIMEOUT = 3600  # seconds CloudFormation waits for a response unless ServiceTimeout says otherwise
_LAMBDA_ARN = re.compile(r"^arn:aws[\w-]*:lambda:([\w-]+):(\d{12}):function:([\w-]+)(?::([\w$-]+))?$")
_MAX_RESPONSE_BYTES = 4096
_CANCELLED = {"Create": "creation", "Update": "update", "Delete": "deletion"}  # 'Resource creation cancelled'


@dataclass
class _Pending:
    """A request CloudFormation has sent and whose response it is waiting for."""

    request_id: str
    stack_id: str
    logical_id: str
    received: threading.Event = field(default_factory=threading.Event)
    response: dict[str, Any] | None = None
    problem: str | None = None


_pending: dict[str, _Pending] = {}
_server: ThreadingHTTPServer | None = None
_server_lock = threading.Lock()


class _Receiver(BaseHTTPRequestHandler):
    """Answers the PUT a handler sends to its ResponseURL."""

    def do_PUT(self) -> None:
        request_id = self.path.rstrip("/").rsplit("/", 1)[-1]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        pending = _pending.get(request_id)
        if pending is None:
            self._answer(403, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
            return
        if len(body) > _MAX_RESPONSE_BYTES:
            pending.problem = "Response object is too long."
        else:
            try:
                pending.response = json.loads(body or b"{}")
            except ValueError:
                pending.problem = "Response is not valid JSON."
        pending.received.set()
        self._answer(200, "")

    def _answer(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:  # quiet
        pass


def _response_base_url() -> str:
    global _server
    with _server_lock:
        if _server is None:
            _server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
            threading.Thread(target=_server.serve_forever, name="custom-resource-responses", daemon=True).start()
        return f"http://127.0.0.1:{_server.server_address[1]}"


def _stringify(value: Any) -> Any:
    """CloudFormation passes custom resource properties to the handler with every scalar as a string."""
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return as_string(value)


def _function(service_token: str, region: str) -> Any:
    match = _LAMBDA_ARN.match(service_token or "")
    if not match:
        if ":sns:" in (service_token or ""):
            raise ResourceFailure(
                "The course sandbox supports custom resources backed by Lambda functions only "
                "(ServiceToken is an SNS topic here). On AWS, the topic's subscriber would receive the request."
            )
        raise ResourceFailure(f"Invalid service token: {service_token}")
    fn_region, account_id, name, qualifier = match.groups()
    if fn_region != region:
        raise ResourceFailure("ServiceToken must be in the same region as the stack")
    from moto.awslambda.models import lambda_backends

    try:
        return lambda_backends[account_id][fn_region].get_function(name, qualifier)
    except Exception:
        raise ResourceFailure(f"Function not found: {service_token}") from None


class CustomResourceProvider:
    """Sends CloudFormation's requests to the ServiceToken's function and waits for its responses."""

    def _send(
        self,
        request: ResourceRequest,
        request_type: str,
        properties: dict[str, Any],
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        service_token = properties.get("ServiceToken")
        if not service_token:
            raise ResourceFailure(
                f"Properties validation failed for resource {request.logical_id} with message:\n"
                "[#: required key [ServiceToken] not found]"
            )
        function = _function(str(service_token), request.region)
        request_id = str(mock_random.uuid4())
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": service_token,
            "ResponseURL": f"{_response_base_url()}/cloudformation-custom-resource-response/"
            f"{request.region}/{request.stack_name}/{request.logical_id}/{request_id}",
            "StackId": request.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": request.logical_id,
            "ResourceType": request.resource_type,
            "ResourceProperties": _stringify(properties),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = _stringify(old_properties)
        pending = _Pending(request_id, request.stack_id, request.logical_id)
        _pending[request_id] = pending
        try:
            function.invoke(json.dumps(event), {"x-amz-invocation-type": "Event"}, {})
            timeout = _timeout(properties)
            if not operations.wait_for(pending.received, timeout):
                operation = operations.current()
                if operation is not None and operation.cancelled.is_set():
                    raise ResourceFailure(f"Resource {_CANCELLED[request_type]} cancelled")
                raise ResourceFailure(
                    "CloudFormation did not receive a response from your Custom Resource. Please check your logs "
                    f"for requestId [{request_id}]. If you are using the Python cfn-response module, you may need "
                    "to update your Lambda function code so that CloudFormation can attach the updated version."
                )
        finally:
            _pending.pop(request_id, None)
        if pending.problem:
            raise ResourceFailure(pending.problem)
        response = pending.response or {}
        status = response.get("Status")
        if status == "FAILED":
            response["RequestId"] = request_id
            named = response.get("PhysicalResourceId") if request_type == "Create" else None
            raise ResourceFailure(
                f"Received response status [FAILED] from custom resource. Message returned: "
                f"{response.get('Reason', '')} (RequestId: {request_id})",
                # CloudFormation records the id a FAILED response names, and sends it a Delete on rollback
                provisioned=self._provisioned(request, response, "") if named else None,
            )
        if status != "SUCCESS":
            raise ResourceFailure(f"Invalid response status [{status}] from custom resource (RequestId: {request_id})")
        if not response.get("PhysicalResourceId") and request_type == "Create":
            raise ResourceFailure(f"Response is missing the PhysicalResourceId (RequestId: {request_id})")
        response["RequestId"] = request_id
        return response

    def _provisioned(self, request: ResourceRequest, response: dict[str, Any], fallback: str) -> Provisioned:
        physical_id = str(response.get("PhysicalResourceId") or fallback)
        handle = {
            "Data": response.get("Data") or {},
            "RequestId": response["RequestId"],
            "NoEcho": response.get("NoEcho"),
        }
        return Provisioned(physical_id, physical_id, request.properties, handle)

    def create(self, request: ResourceRequest) -> Provisioned:
        response = self._send(request, "Create", request.properties)
        return self._provisioned(request, response, "")

    def update(self, request: ResourceRequest, current: Provisioned) -> Provisioned:
        response = self._send(request, "Update", request.properties, current.physical_id, current.properties)
        # A different PhysicalResourceId means the handler replaced the resource: the engine then sends a
        # Delete for the old id in the cleanup phase.
        return self._provisioned(request, response, current.physical_id)

    def delete(self, request: ResourceRequest, current: Provisioned) -> None:
        self._send(request, "Delete", current.properties, current.physical_id)

    def get_att(self, request: ResourceRequest, current: Provisioned, attribute: str) -> Any:
        data = (current.handle or {}).get("Data") or {}
        if attribute not in data:
            raise ResourceFailure(
                f"CustomResource attribute error: Vendor response doesn't contain {attribute} attribute in object "
                f"{request.stack_id}|{request.logical_id}|{(current.handle or {}).get('RequestId', '')}"
            )
        return data[attribute]


def _timeout(properties: dict[str, Any]) -> float:
    """ServiceTimeout (seconds, 1 to 3600) if the template sets it, else an hour."""
    try:
        value = int(properties.get("ServiceTimeout", DEFAULT_TIMEOUT))
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT
    return min(max(value, 1), DEFAULT_TIMEOUT)
