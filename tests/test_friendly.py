"""A learner's mistake gets a specific, friendly message, never a raw traceback."""

from __future__ import annotations

import nbformat
import pytest
import yaml
from botocore.exceptions import ClientError, NoCredentialsError, ParamValidationError
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from labs_support.errors import SandboxNotRunning
from labs_support.friendly import describe


def test_an_aws_error_shows_the_service_message_and_a_hint():
    message = "Template format error: YAML not well-formed. (line 3, column 1)"
    error = ClientError({"Error": {"Code": "ValidationError", "Message": message}}, "CreateStack")
    title, message, hint = describe(error)
    assert title == "AWS answered ValidationError (CreateStack)"
    assert "(line 3, column 1)" in message
    assert "fix the template" in hint


def test_missing_capabilities_hint_names_the_parameter_to_pass():
    error = ClientError(
        {"Error": {"Code": "InsufficientCapabilitiesException", "Message": "Requires capabilities : [CAPABILITY_IAM]"}},
        "CreateStack",
    )
    assert "Capabilities=['CAPABILITY_IAM']" in describe(error)[2]


def test_parameter_mistakes_missing_credentials_yaml_and_names():
    assert "boto3 rejected" in describe(ParamValidationError(report='Unknown parameter in input: "Stackname"'))[0]
    assert "start_sandbox" in describe(NoCredentialsError())[2]
    try:
        yaml.safe_load("a: [1, 2\nb: 3")
    except yaml.YAMLError as e:
        title, message, _ = describe(e)
        assert title == "This YAML is not well-formed" and "line" in message
    title, _, hint = describe(NameError("name 'cfn' is not defined", name="cfn"))
    assert title == "'cfn' is not defined yet" and "Run All Above" in hint
    assert describe(SandboxNotRunning("m", hint="h")) == ("The sandbox is not running", "m", "h")


def _run(cells: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True).execute()
    return nb


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    return _run(
        [
            "import labs_support as ls",
            "cfn.describe_stacks()",  # a lab cell run before the sandbox cell
            "sb = ls.start_sandbox(); cfn = sb.client('cloudformation')",
            "cfn.create_stack(StackName='s', TemplateBody='Resources:\\n  Q: {Type: AWS::SQS::Queue\\n')",
            "print('still alive')",
        ]
    )


def _html(cell) -> str:  # type: ignore[no-untyped-def]
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def test_a_cell_run_before_the_sandbox_cell_gets_a_message_not_a_traceback(executed):
    cell = executed.cells[1]
    assert "cfn" in _html(cell) and "Run All Above" in _html(cell)
    # no traceback reaches the page (that the cell still fails is the last test's point)
    assert all(o.traceback == [] for o in cell.outputs if o.output_type == "error")
    assert "Traceback" not in str(cell.outputs)


def test_a_template_with_a_yaml_error_gets_the_line(executed):
    cell = executed.cells[3]
    assert "YAML not well-formed. (line 3, column 1)" in _html(cell)
    assert all(o.traceback == [] for o in cell.outputs if o.output_type == "error")
    assert "still alive" in executed.cells[4].outputs[0].text


def test_the_friendly_error_still_fails_the_cell_for_run_all_and_the_test_suite():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import labs_support\nundefined_name")]
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
