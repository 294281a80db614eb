"""Lambda functions run their real Python code, in this process, without Docker.

moto runs a function's code only inside a Docker container, which the course cannot rely on. Here
`LambdaFunction._invoke_lambda` is replaced: the deployment package is unpacked once per code version,
the handler module imported, and the handler called with the event and a context object, as the Python
runtime does. The function acts as its execution role (boto3 calls inside it are signed with credentials
of that role's account), its environment variables are set for the call, and what it prints goes to its
CloudWatch Logs log group with the START / END / REPORT lines Lambda writes. Module-level state survives
between invocations, as in a warm execution environment.

Only Python runtimes can run here; other runtimes answer with an error saying so.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any

import boto3
from moto.awslambda.models import LambdaFunction
from moto.moto_api._internal import mock_random

_CODE_ROOT = Path(tempfile.mkdtemp(prefix="labs-lambda-"))
_handlers: dict[tuple[str, str, str], Any] = {}
_invoke_lock = threading.RLock()  # stdout, os.environ and boto3's default session are process-wide


class _Context:
    """The context object the Python runtime passes to a handler."""

    def __init__(self, fn: LambdaFunction, request_id: str, log_stream: str) -> None:
        self.function_name = fn.function_name
        self.function_version = str(fn.version)
        self.invoked_function_arn = fn.function_arn
        self.memory_limit_in_mb = int(fn.memory_size or 128)
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{fn.function_name}"
        self.log_stream_name = log_stream
        self._deadline = time.monotonic() + int(fn.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HandlerNotFound(Exception):
    """The handler setting names a module or function the package does not contain."""


def _load_handler(fn: LambdaFunction) -> Any:
    key = (fn.function_arn, fn.code_sha_256, fn.handler)
    if key in _handlers:
        return _handlers[key]
    folder = _CODE_ROOT / fn.code_sha_256.replace("/", "_").replace("+", "-")
    if not folder.exists():
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as package:
            package.extractall(folder)
    module_path, _, function_name = fn.handler.rpartition(".")
    source = folder / (module_path.replace(".", "/") + ".py")
    if not source.exists():
        raise HandlerNotFound(f"Unable to import module '{module_path}': No module named '{module_path}'")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # so the package's own modules (cfnresponse, helpers) import
    spec = importlib.util.spec_from_file_location(f"_lambda_{mock_random.uuid4().hex}", source)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    handler = getattr(module, function_name, None)
    if handler is None:
        raise HandlerNotFound(f"Handler '{function_name}' missing on module '{module_path}'")
    _handlers[key] = handler
    return handler


def _role_session(fn: LambdaFunction) -> boto3.Session:
    """A session with credentials of the function's execution role, as Lambda provides them."""
    from moto.sts.models import sts_backends

    role = sts_backends[fn.account_id]["aws"].assume_role(
        region_name=fn.region,
        role_session_name=fn.function_name[:64],
        role_arn=fn.role,
        policy="",
        duration=3600,
        external_id="",
    )
    return boto3.Session(
        aws_access_key_id=role.access_key_id,
        aws_secret_access_key=role.secret_access_key,
        aws_session_token=role.session_token,
        region_name=fn.region,
    )


def _error_payload(error: BaseException) -> str:
    trace = traceback.format_exception(type(error), error, error.__traceback__)
    return json.dumps(
        {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": [line.rstrip() for line in trace]}
    )


def _invoke_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for LambdaFunction._invoke_lambda: returns (payload, errored, logs)."""
    if isinstance(event, (str, bytes)):
        event = json.loads(event or "{}")
    request_id = str(mock_random.uuid4())
    stamp = time.strftime("%Y/%m/%d")
    log_stream = f"{stamp}/[{self.version}]{mock_random.uuid4().hex}"
    output = io.StringIO()
    output.write(f"START RequestId: {request_id} Version: {self.version}\n")
    started = time.perf_counter()
    errored = True
    if not str(self.run_time or "").startswith("python3"):
        payload = json.dumps(
            {
                "errorMessage": f"The course sandbox runs Python Lambda functions only; this one uses {self.run_time}.",
                "errorType": "Runtime.SandboxNotSupported",
            }
        )
    else:
        with _invoke_lock:
            saved_env = dict(os.environ)
            saved_session = boto3.DEFAULT_SESSION
            try:
                os.environ.update(
                    {
                        "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
                        "AWS_LAMBDA_FUNCTION_VERSION": str(self.version),
                        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_size),
                        "AWS_REGION": self.region,
                        "AWS_DEFAULT_REGION": self.region,
                        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.function_name}",
                        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                        "_HANDLER": self.handler,
                        **{k: str(v) for k, v in (self.environment_vars or {}).items()},
                    }
                )
                boto3.DEFAULT_SESSION = _role_session(self)
                with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                    try:
                        result = _load_handler(self)(event, _Context(self, request_id, log_stream))
                        payload, errored = json.dumps(result), False
                    except Exception as error:  # the function's own failure: reported as Lambda reports it
                        payload = _error_payload(error)
                        print(f"[ERROR] {type(error).__name__}: {error}")
                        traceback.print_exc()
            finally:
                os.environ.clear()
                os.environ.update(saved_env)
                boto3.DEFAULT_SESSION = saved_session
    elapsed = (time.perf_counter() - started) * 1000
    output.write(f"END RequestId: {request_id}\n")
    output.write(
        f"REPORT RequestId: {request_id}\tDuration: {elapsed:.2f} ms\tBilled Duration: {max(1, round(elapsed))} ms\t"
        f"Memory Size: {self.memory_size} MB\n"
    )
    logs = output.getvalue()
    _save_logs(self, log_stream, logs)
    return payload, errored, logs


def _save_logs(fn: LambdaFunction, log_stream: str, logs: str) -> None:
    """Write the invocation's output to the function's log group, in the stream the context named."""
    from moto.core.utils import unix_time_millis

    fn.logs_backend.ensure_log_group(fn.logs_group_name)
    fn.logs_backend.create_log_stream(fn.logs_group_name, log_stream)
    events = [{"timestamp": unix_time_millis(), "message": line} for line in logs.splitlines()]
    fn.logs_backend.put_log_events(fn.logs_group_name, log_stream, events)


_original_invoke = LambdaFunction.invoke


def _invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> str | bytes:
    result = _original_invoke(self, body, request_headers, response_headers)
    if response_headers.get("x-amz-function-error") == "Handled":
        response_headers["x-amz-function-error"] = "Unhandled"  # what Lambda reports for a function's errors
    return result


def install() -> None:
    """Run Lambda handlers in-process instead of in Docker."""
    LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]
    LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
