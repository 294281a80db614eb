"""Lambda functions run their real Python code, in this process, without Docker.

moto runs a function's code only inside a Docker container, which the course cannot rely on. Here
`LambdaFunction._invoke_lambda` is replaced: the deployment package is unpacked once per code version,
the handler module imported, and the handler called with the event and a context object, as the Python
runtime does. The function acts as its execution role (boto3 calls inside it are signed with credentials
of that role's account), its environment variables are set for the call, and what it prints goes to its
CloudWatch Logs log group with the START / END / REPORT lines Lambda writes (logging records in the runtime's
'[LEVEL] time request-id message' form); LogType=Tail returns the last 4 KB. Module-level state survives
between invocations, as in a warm execution environment, which writes to one log stream; new code starts a
fresh one. Errors come back as the Python runtime reports them: FunctionError Unhandled and a document with
errorMessage, errorType, requestId and the function's own stack frames (Runtime.ImportModuleError,
Runtime.HandlerNotFound ... when the handler cannot be loaded).

Only Python runtimes can run here; other runtimes answer with an error saying so.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from moto.awslambda.models import LambdaFunction
from moto.moto_api._internal import mock_random

_CODE_ROOT = Path(tempfile.mkdtemp(prefix="labs-lambda-"))
_LOG_TAIL_BYTES = 4096  # Invoke's LogResult is the last 4 KB of the execution log
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


class HandlerFault(Exception):
    """The runtime could not load the handler: reported with the Python runtime's own error type."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class _Environment:
    """A warm execution environment: the loaded handler and the log stream it writes to."""

    def __init__(self, key: tuple[str, str, str]) -> None:
        self.key = key
        self.log_stream = f"{time.strftime('%Y/%m/%d')}/[{key[0]}]{mock_random.uuid4().hex}"
        self.handler: Any = None


def _environment(fn: LambdaFunction) -> _Environment:
    """The function's warm environment; new code or a new handler setting starts a fresh one.

    It lives on moto's function object, so a sandbox reset (which drops the object) drops it too.
    """
    key = (str(fn.version), fn.code_sha_256, fn.handler)
    environment = fn.__dict__.get("_labs_environment")
    if environment is None or environment.key != key:
        environment = fn.__dict__["_labs_environment"] = _Environment(key)
    return environment


def _load_handler(fn: LambdaFunction) -> Any:
    """Import the handler's module (once per environment, as Lambda's init phase does) and return the handler."""
    environment = _environment(fn)
    if environment.handler is not None:
        return environment.handler
    folder = _CODE_ROOT / fn.code_sha_256.replace("/", "_").replace("+", "-")
    if not folder.exists():
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as package:
            package.extractall(folder)
    if "." not in (fn.handler or ""):
        raise HandlerFault(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{fn.handler}': not enough values to unpack (expected 2, got 1)",
        )
    module_path, _, function_name = fn.handler.rpartition(".")
    source = folder / (module_path.replace(".", "/").replace("/", os.sep) + ".py")
    if not source.exists():
        raise HandlerFault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_path}': No module named '{module_path}'"
        )
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # so the package's own modules (cfnresponse, helpers) import
    spec = importlib.util.spec_from_file_location(f"_lambda_{mock_random.uuid4().hex}", source)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except ImportError as error:  # a module the package imports is not there
        raise HandlerFault("Runtime.ImportModuleError", f"Unable to import module '{module_path}': {error}") from None
    except SyntaxError as error:
        raise HandlerFault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_path}': {error}") from None
    handler = getattr(module, function_name, None)
    if handler is None:
        raise HandlerFault("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_path}'")
    environment.handler = handler
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
    from ..sandbox import _botocore_session  # shares the loaded service models (a new session reads them again)

    return boto3.Session(
        aws_access_key_id=role.access_key_id,
        aws_secret_access_key=role.secret_access_key,
        aws_session_token=role.session_token,
        region_name=fn.region,
        botocore_session=_botocore_session(),
    )


def _error_result(error: BaseException, request_id: str) -> dict[str, Any]:
    """The error document the Python runtime returns: the function's own frames only, as formatted lines."""
    if isinstance(error, HandlerFault):
        error_type, trace = error.error_type, []
    else:
        frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(error.__traceback__)]
        while frames and frames[0][0] == __file__:  # the runtime's own frames are not the function's
            frames.pop(0)
        error_type, trace = type(error).__name__, traceback.format_list(frames)
    return {"errorMessage": str(error), "errorType": error_type, "requestId": request_id, "stackTrace": trace}


def _log_error(result: dict[str, Any]) -> None:
    """What the runtime writes to the log for a failed invocation (printed inside the invocation's output)."""
    print(f"[ERROR] {result['errorType']}: {result['errorMessage']}")
    print("Traceback (most recent call last):")
    for element in result["stackTrace"]:
        print(element.rstrip("\n"))


class _LambdaLogHandler(logging.Handler):
    """The runtime's handler on the root logger: '[LEVEL]<tab>time<tab>request id<tab>message' lines in the log."""

    def __init__(self, output: io.StringIO, request_id: str) -> None:
        super().__init__()
        self.output, self.request_id, self.thread = output, request_id, threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if threading.get_ident() != self.thread:
            return  # another thread of the sandbox's process, not this function
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        self.output.write(f"[{record.levelname}]\t{stamp}\t{self.request_id}\t{self.format(record)}\n")


def _call_handler(fn: LambdaFunction, event: Any, request_id: str, log_stream: str, output: io.StringIO) -> str:
    """Run the handler as the runtime does; returns the response document, raises what the function raised."""
    log_handler = _LambdaLogHandler(output, request_id)
    root = logging.getLogger()
    root.addHandler(log_handler)
    try:
        result = _load_handler(fn)(event, _Context(fn, request_id, log_stream))
    finally:
        root.removeHandler(log_handler)
    try:
        return json.dumps(result)
    except (TypeError, ValueError) as error:
        raise HandlerFault("Runtime.MarshalError", f"Unable to marshal response: {error}") from None


class _ThreadRouted(io.TextIOBase):
    """sys.stdout (or stderr) while a handler runs: the handler's thread writes to its log, every other thread
    (a notebook cell printing while a stack operation runs in the background) to the stream as before.
    contextlib.redirect_stdout would capture every thread's output, a cell's print included."""

    def __init__(self, original: Any, log: io.StringIO) -> None:
        super().__init__()
        self.original, self.log, self.thread = original, log, threading.get_ident()

    def _target(self) -> Any:
        return self.log if threading.get_ident() == self.thread else self.original

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


@contextlib.contextmanager
def _capture_this_thread(output: io.StringIO) -> Iterator[None]:
    saved_out, saved_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ThreadRouted(saved_out, output), _ThreadRouted(saved_err, output)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err


def _invoke_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    """Replacement for LambdaFunction._invoke_lambda: returns (payload, errored, logs)."""
    if isinstance(event, (str, bytes)):
        event = json.loads(event or "{}")
    request_id = str(mock_random.uuid4())
    output = io.StringIO()
    output.write(f"START RequestId: {request_id} Version: {self.version}\n")
    started = time.perf_counter()
    errored = True
    if not str(self.run_time or "").startswith("python3"):
        log_stream = _environment(self).log_stream
        payload = json.dumps(
            {
                "errorMessage": f"The course sandbox runs Python Lambda functions only; this one uses {self.run_time}.",
                "errorType": "Runtime.SandboxNotSupported",
            }
        )
    else:
        with _invoke_lock:
            log_stream = _environment(self).log_stream
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
                with _capture_this_thread(output):
                    try:
                        payload, errored = _call_handler(self, event, request_id, log_stream, output), False
                    except Exception as error:  # the function's own failure: reported as Lambda reports it
                        result = _error_result(error, request_id)
                        payload = json.dumps(result)
                        _log_error(result)
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
    group = fn.logs_backend.groups[fn.logs_group_name]
    if log_stream not in group.streams:
        fn.logs_backend.create_log_stream(fn.logs_group_name, log_stream)
    events = [{"timestamp": unix_time_millis(), "message": line} for line in logs.splitlines()]
    fn.logs_backend.put_log_events(fn.logs_group_name, log_stream, events)


_original_invoke = LambdaFunction.invoke


def _invoke(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> str | bytes:
    result = _original_invoke(self, body, request_headers, response_headers)
    if response_headers.get("x-amz-function-error") == "Handled":
        response_headers["x-amz-function-error"] = "Unhandled"  # what Lambda reports for a function's errors
    if "x-amz-log-result" in response_headers:  # LogType=Tail: only the last 4 KB of the log
        tail = base64.b64decode(response_headers["x-amz-log-result"])[-_LOG_TAIL_BYTES:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    return result


def install() -> None:
    """Run Lambda handlers in-process instead of in Docker."""
    LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]
    LambdaFunction.invoke = _invoke  # type: ignore[method-assign]
