"""Fidelity tests for Lambda in the sandbox: a function's Python code really runs, as the Python runtime runs it.

Every test is named after the behaviour it proves and cites the AWS documentation it rests on. The error documents
follow the Python runtime interface client (github.com/aws/aws-lambda-python-runtime-interface-client,
awslambdaric/bootstrap.py), which is the code that produces them on AWS.

The module shares one sandbox; every test creates functions under names of its own.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import textwrap
import threading
import time
import zipfile
from typing import Any

import pytest

from labs_support.sandbox import Sandbox

_names = itertools.count(1)
TRUST_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
ROLE_NAME = "runtime-test-role"


# -- helpers ---------------------------------------------------------------------------------------------
def unique(prefix: str) -> str:
    """A function name no other test uses."""
    return f"{prefix}-{next(_names)}"


def package(source: str, filename: str = "lambda_function.py") -> bytes:
    """A deployment package (.zip) holding one Python file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(filename, textwrap.dedent(source).strip() + "\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lam(sb: Sandbox) -> Any:
    return sb.client("lambda")


@pytest.fixture(scope="module")
def role_arn(sb: Sandbox) -> str:
    """The execution role every test function uses."""
    return sb.client("iam").create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=TRUST_LAMBDA)["Role"]["Arn"]


def deploy(lam: Any, role_arn: str, source: str, **kwargs: Any) -> str:
    """Create a Python function from `source` (handler lambda_function.handler) and return its name."""
    name = unique(kwargs.pop("prefix", "fn"))
    lam.create_function(
        FunctionName=name,
        Runtime=kwargs.pop("Runtime", "python3.12"),
        Role=role_arn,
        Handler=kwargs.pop("Handler", "lambda_function.handler"),
        Code={"ZipFile": package(source)},
        **kwargs,
    )
    return name


def invoke(lam: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """(response without the payload stream, the decoded JSON payload)."""
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}), **kwargs)
    payload = json.loads(response.pop("Payload").read() or b"null")
    return response, payload


def log_messages(sb: Sandbox, name: str) -> list[str]:
    """Every line the function has written to its log group, oldest first."""
    found = sb.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    return [e["message"] for e in sorted(found, key=lambda e: (e["timestamp"], e["eventId"]))]


ECHO = """
    def handler(event, context):
        return {"received": event, "answer": 42}
"""


# -- the handler runs ----------------------------------------------------------------------------------
def test_handler_return_value_is_the_invoke_payload(lam: Any, role_arn: str) -> None:
    """A synchronous Invoke returns what the handler returned, serialized as JSON, with status 200.

    https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html
    """
    name = deploy(lam, role_arn, ECHO)
    response, payload = invoke(lam, name, {"colour": "green"})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert payload == {"received": {"colour": "green"}, "answer": 42}


def test_print_output_reaches_the_log_group_between_start_end_and_report_lines(
    sb: Sandbox, lam: Any, role_arn: str
) -> None:
    """What the function prints goes to CloudWatch Logs group /aws/lambda/<name>, framed by START, END and REPORT.

    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
    """
    name = deploy(
        lam,
        role_arn,
        """
        def handler(event, context):
            print("processing order", event["order"])
            return "ok"
        """,
    )
    invoke(lam, name, {"order": 7})
    lines = log_messages(sb, name)
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith(" Version: $LATEST")
    request_id = lines[0].split()[2]
    assert lines[1] == "processing order 7"
    assert lines[2] == f"END RequestId: {request_id}"
    assert lines[3].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "Billed Duration: " in lines[3] and "Memory Size: 128 MB" in lines[3]


def test_what_other_threads_print_while_a_handler_runs_stays_out_of_its_log(
    sb: Sandbox, lam: Any, role_arn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the handler's own output is its log: a notebook cell printing while a stack operation invokes a
    function in the background keeps its output (a sandbox guarantee, not an AWS behaviour)."""
    name = deploy(
        lam,
        role_arn,
        """
        import time
        def handler(event, context):
            print("inside the handler")
            time.sleep(0.3)
            return "ok"
        """,
    )
    worker = threading.Thread(target=invoke, args=(lam, name))
    worker.start()
    time.sleep(0.1)
    print("printed by the notebook")
    worker.join()
    assert "printed by the notebook" in capsys.readouterr().out
    lines = log_messages(sb, name)
    assert "inside the handler" in lines and "printed by the notebook" not in lines


def test_logging_records_reach_the_log_with_level_time_and_request_id(sb: Sandbox, lam: Any, role_arn: str) -> None:
    """The runtime's handler on the root logger writes '[LEVEL]<tab>time<tab>request id<tab>message' lines.

    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
    """
    name = deploy(
        lam,
        role_arn,
        """
        import logging
        logger = logging.getLogger("orders")
        logger.setLevel(logging.INFO)
        def handler(event, context):
            logger.debug("not shown at INFO")
            logger.info("shipping order %s", event["order"])
            return context.aws_request_id
        """,
    )
    _, request_id = invoke(lam, name, {"order": 7})
    logged = [line for line in log_messages(sb, name) if line.startswith("[")]
    assert len(logged) == 1
    level, stamp, rid, message = logged[0].split("\t")
    assert (level, rid, message) == ("[INFO]", request_id, "shipping order 7")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", stamp)


def test_log_type_tail_returns_the_last_4_kb_of_the_log_base64_encoded(lam: Any, role_arn: str) -> None:
    """Invoke with LogType=Tail returns LogResult: the last 4 KB of the execution log, base64-encoded.

    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_ResponseSyntax
    """
    name = deploy(
        lam,
        role_arn,
        """
        def handler(event, context):
            for n in range(event["lines"]):
                print(f"line {n:04d} " + "x" * 40)
            return "done"
        """,
    )
    response, _ = invoke(lam, name, {"lines": 2}, LogType="Tail")
    short = base64.b64decode(response["LogResult"]).decode()
    assert short.startswith("START RequestId: ")
    assert "line 0000 " in short and "line 0001 " in short

    response, _ = invoke(lam, name, {"lines": 300}, LogType="Tail")  # about 15 KB of output
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096
    assert b"START RequestId" not in tail and b"line 0000 " not in tail
    assert b"line 0299 " in tail and tail.rstrip().split(b"\n")[-1].startswith(b"REPORT RequestId: ")


def test_log_result_is_absent_without_log_type_tail(lam: Any, role_arn: str) -> None:
    """Without LogType=Tail (LogType None is the default), the response carries no LogResult.

    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#lambda-Invoke-request-LogType
    """
    name = deploy(lam, role_arn, ECHO)
    response, _ = invoke(lam, name)
    assert "LogResult" not in response
    response, _ = invoke(lam, name, LogType="None")
    assert "LogResult" not in response


def test_environment_variables_are_set_for_the_handler(lam: Any, role_arn: str) -> None:
    """The function's environment variables, and Lambda's reserved ones, are in os.environ while it runs.

    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
    """
    name = deploy(
        lam,
        role_arn,
        """
        import os
        def handler(event, context):
            keys = ["TABLE_NAME", "STAGE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_LAMBDA_LOG_GROUP_NAME"]
            return {k: os.environ.get(k) for k in keys}
        """,
        Environment={"Variables": {"TABLE_NAME": "orders", "STAGE": "test"}},
    )
    _, payload = invoke(lam, name)
    assert payload == {
        "TABLE_NAME": "orders",
        "STAGE": "test",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
    }


def test_context_names_the_function_the_request_and_the_time_left(sb: Sandbox, lam: Any, role_arn: str) -> None:
    """The context object carries function_name, aws_request_id (the log's RequestId) and the time remaining.

    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
    """
    name = deploy(
        lam,
        role_arn,
        """
        def handler(event, context):
            return {
                "function_name": context.function_name,
                "aws_request_id": context.aws_request_id,
                "invoked_function_arn": context.invoked_function_arn,
                "log_group_name": context.log_group_name,
                "memory_limit_in_mb": int(context.memory_limit_in_mb),
                "remaining": context.get_remaining_time_in_millis(),
            }
        """,
        Timeout=20,
        MemorySize=256,
    )
    _, payload = invoke(lam, name)
    assert payload["function_name"] == name
    assert payload["invoked_function_arn"] == lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert payload["log_group_name"] == f"/aws/lambda/{name}"
    assert payload["memory_limit_in_mb"] == 256
    assert 0 < payload["remaining"] <= 20_000
    assert log_messages(sb, name)[0] == f"START RequestId: {payload['aws_request_id']} Version: $LATEST"


def test_unhandled_exception_is_function_error_unhandled_with_the_error_document(
    sb: Sandbox, lam: Any, role_arn: str
) -> None:
    """An exception the handler raises: status 200, FunctionError Unhandled, and a payload with errorMessage,
    errorType, requestId and stackTrace (the function's own frames); the log shows the [ERROR] line.

    https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html
    """
    name = deploy(
        lam,
        role_arn,
        """
        def handler(event, context):
            return check(event)

        def check(event):
            raise ValueError("order 7 has no customer")
        """,
    )
    response, payload = invoke(lam, name, {"order": 7})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert set(payload) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert payload["errorMessage"] == "order 7 has no customer"
    assert payload["errorType"] == "ValueError"
    frames = payload["stackTrace"]
    assert len(frames) == 2  # handler -> check: nothing of the runtime itself
    assert frames[0].startswith("  File ") and "lambda_function.py" in frames[0]
    assert frames[0].endswith(", line 2, in handler\n    return check(event)\n")
    assert frames[1].endswith(', line 5, in check\n    raise ValueError("order 7 has no customer")\n')
    lines = log_messages(sb, name)
    assert lines[0] == f"START RequestId: {payload['requestId']} Version: $LATEST"
    assert "[ERROR] ValueError: order 7 has no customer" in lines


def test_handler_acts_as_its_execution_role(sb: Sandbox, lam: Any, role_arn: str) -> None:
    """Lambda gives the function its execution role's credentials: the caller is assumed-role/<role>/<function>.

    https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html
    """
    name = deploy(
        lam,
        role_arn,
        """
        import boto3
        def handler(event, context):
            return boto3.client("sts").get_caller_identity()["Arn"]
        """,
    )
    _, caller = invoke(lam, name)
    assert caller == f"arn:aws:sts::{sb.account_id()}:assumed-role/{ROLE_NAME}/{name}"


def test_handler_reaches_other_services_of_the_sandbox(sb: Sandbox, lam: Any, role_arn: str) -> None:
    """A boto3 call inside the handler reaches the same (sandbox) account and Region the learner's clients see.

    https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html
    """
    name = deploy(
        lam,
        role_arn,
        """
        import boto3
        ssm = boto3.client("ssm")  # created at init, reused by every invocation
        def handler(event, context):
            ssm.put_parameter(Name=event["name"], Value=event["value"], Type="String")
            return "stored"
        """,
    )
    _, payload = invoke(lam, name, {"name": "/runtime-test/colour", "value": "teal"})
    assert payload == "stored"
    stored = sb.client("ssm").get_parameter(Name="/runtime-test/colour")["Parameter"]
    assert stored["Value"] == "teal"


COUNTER = """
    invocations = 0
    def handler(event, context):
        global invocations
        invocations += 1
        return {"version": "one", "invocations": invocations}
"""


def test_module_level_state_survives_between_invocations(lam: Any, role_arn: str) -> None:
    """Code outside the handler runs once per execution environment; a warm environment keeps module state.

    https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
    """
    name = deploy(lam, role_arn, COUNTER)
    assert [invoke(lam, name)[1]["invocations"] for _ in range(3)] == [1, 2, 3]


def test_warm_invocations_write_to_the_same_log_stream(sb: Sandbox, lam: Any, role_arn: str) -> None:
    """One execution environment writes to one log stream: warm invocations add to it.

    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
    """
    name = deploy(lam, role_arn, COUNTER)
    invoke(lam, name)
    invoke(lam, name)
    streams = sb.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])
    assert sum(line.startswith("START RequestId") for line in log_messages(sb, name)) == 2


def test_update_function_code_runs_the_new_code_in_a_fresh_environment(lam: Any, role_arn: str) -> None:
    """After UpdateFunctionCode the next invocation runs the new code, initialised afresh.

    https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html
    """
    name = deploy(lam, role_arn, COUNTER)
    invoke(lam, name)
    invoke(lam, name)
    lam.update_function_code(FunctionName=name, ZipFile=package(COUNTER.replace('"one"', '"two"')))
    _, payload = invoke(lam, name)
    assert payload == {"version": "two", "invocations": 1}


def test_missing_handler_module_is_runtime_import_module_error(lam: Any, role_arn: str) -> None:
    """A Handler setting that names a module the package lacks fails with Runtime.ImportModuleError.

    https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html
    """
    name = deploy(lam, role_arn, ECHO, Handler="app.handler")
    response, payload = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == "Unable to import module 'app': No module named 'app'"
    assert payload["stackTrace"] == []


def test_missing_handler_function_is_runtime_handler_not_found(lam: Any, role_arn: str) -> None:
    """A module without the named function fails with Runtime.HandlerNotFound.

    https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html
    """
    name = deploy(lam, role_arn, ECHO, Handler="lambda_function.main")
    response, payload = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.HandlerNotFound"
    assert payload["errorMessage"] == "Handler 'main' missing on module 'lambda_function'"


def test_a_package_the_function_imports_but_lacks_is_runtime_import_module_error(lam: Any, role_arn: str) -> None:
    """Importing a library the deployment package does not contain fails the same way, naming the library.

    https://docs.aws.amazon.com/lambda/latest/dg/python-package.html
    """
    name = deploy(
        lam,
        role_arn,
        """
        import not_a_real_library_xyz
        def handler(event, context):
            return "unreachable"
        """,
    )
    _, payload = invoke(lam, name)
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert payload["errorMessage"] == (
        "Unable to import module 'lambda_function': No module named 'not_a_real_library_xyz'"
    )


def test_non_python_runtime_is_refused_plainly(lam: Any, role_arn: str) -> None:
    """The sandbox runs Python functions only; another runtime answers with an error that says so.

    https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
    """
    name = deploy(lam, role_arn, ECHO, Runtime="nodejs20.x", Handler="index.handler")
    response, payload = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.SandboxNotSupported"
    assert payload["errorMessage"] == "The course sandbox runs Python Lambda functions only; this one uses nodejs20.x."


def test_inline_zipfile_code_from_cloudformation_can_import_cfnresponse(sb: Sandbox, lam: Any) -> None:
    """Inline code (Code.ZipFile) is saved as index.py beside the cfn-response module, so `import cfnresponse` works.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-lambda-function-code-cfnresponsemodule.html
    """
    body = {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": json.loads(TRUST_LAMBDA)},
            },
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {
                        "ZipFile": "import cfnresponse\n"
                        "def handler(event, context):\n"
                        "    return [cfnresponse.SUCCESS, cfnresponse.FAILED, __file__.rsplit('/', 1)[-1]]\n"
                    },
                },
            },
        },
        "Outputs": {"Name": {"Value": {"Ref": "Fn"}}},
    }
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName="inline-code", TemplateBody=json.dumps(body), Capabilities=["CAPABILITY_IAM"])
    stack = cfn.describe_stacks(StackName="inline-code")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    name = stack["Outputs"][0]["OutputValue"]
    response, payload = invoke(lam, name)
    assert "FunctionError" not in response, payload
    assert payload == ["SUCCESS", "FAILED", "index.py"]
