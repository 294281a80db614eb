"""Lab checks: PASS, or NOT YET with a hint; never a traceback at the learner."""

from __future__ import annotations

import pytest

import labs_support as ls
from labs_support import checks
from labs_support.checks import CheckExpectationError, CheckFailed, lab_check, run_check
from labs_support.course import load_course


@pytest.fixture
def temporary_checks():
    """Register throw-away checks under the real module id 'cfn-templates' and remove them afterwards."""
    before = dict(checks._REGISTRY)
    yield
    checks._REGISTRY.clear()
    checks._REGISTRY.update(before)


@pytest.fixture
def sb():
    sandbox = ls.start_sandbox()
    yield sandbox
    sandbox.stop()


def test_every_check_belongs_to_a_module_of_the_course_and_every_ready_module_has_checks():
    course = load_course()
    registered = checks.registry()
    for check_id in registered:
        course.module(check_id.split(".")[0])  # raises for an unknown module
    for module in course.modules:
        if module.available:
            assert any(c.startswith(module.id + ".") for c in registered), module.id
    assert checks.check_domains()["cfn-templates.network"] == 2


def test_a_check_without_a_sandbox_says_which_cell_to_run():
    ls.start_sandbox().stop()
    result = run_check("cfn-templates.network")
    assert not result.passed
    assert "start_sandbox" in result.hint


def test_an_unknown_check_id_is_reported_not_raised():
    result = run_check("cfn-templates.no-such-check")
    assert not result.passed and "no check called" in result.message
    assert "cfn-templates.network" in result.hint


def test_check_failed_carries_message_and_hint(sb, temporary_checks):
    @lab_check("cfn-templates.t-fail", title="t")
    def _(sandbox):
        raise CheckFailed("the bucket is missing", hint="look at LogBucket")

    result = run_check("cfn-templates.t-fail")
    assert (result.passed, result.message, result.hint) == (False, "the bucket is missing", "look at LogBucket")
    assert "NOT YET" in str(result) and "look at LogBucket" in result._repr_html_()


def test_an_aws_error_inside_a_check_becomes_a_hint(sb, temporary_checks):
    @lab_check("cfn-templates.t-aws", title="t")
    def _(sandbox):
        sandbox.client("cloudformation").describe_stacks(StackName="nope")

    result = run_check("cfn-templates.t-aws")
    assert not result.passed
    assert "Stack with id nope does not exist" in result.message
    assert "Run them again" in result.hint


def test_a_bug_in_a_check_is_owned_by_the_course_for_learners_and_raised_in_tests(sb, temporary_checks, monkeypatch):
    @lab_check("cfn-templates.t-bug", title="t")
    def _(sandbox):
        return {}["missing"]

    monkeypatch.delenv("LABS_SUPPORT_EXPECT", raising=False)
    result = run_check("cfn-templates.t-bug")
    assert not result.passed and "fault in the course" in result.message
    monkeypatch.setenv("LABS_SUPPORT_EXPECT", "untouched")
    with pytest.raises(KeyError):
        run_check("cfn-templates.t-bug")


def test_expectations_in_test_runs(sb, temporary_checks, monkeypatch):
    @lab_check("cfn-templates.t-pass", title="t")
    def _(sandbox):
        return "fine"

    @lab_check("cfn-templates.t-exercise-passes", title="t", exercise=True)
    def _(sandbox):
        return "fine"

    @lab_check("cfn-templates.t-exercise-no-hint", title="t", exercise=True)
    def _(sandbox):
        raise CheckFailed("not yet")

    @lab_check("cfn-templates.t-exercise-ok", title="t", exercise=True)
    def _(sandbox):
        raise CheckFailed("not yet", hint="do this")

    monkeypatch.setenv("LABS_SUPPORT_EXPECT", "untouched")
    ls.check("cfn-templates.t-pass")
    ls.check("cfn-templates.t-exercise-ok")
    with pytest.raises(CheckExpectationError, match="cannot fail"):
        ls.check("cfn-templates.t-exercise-passes")
    with pytest.raises(CheckExpectationError, match="without a hint"):
        ls.check("cfn-templates.t-exercise-no-hint")
    monkeypatch.setenv("LABS_SUPPORT_EXPECT", "solved")
    with pytest.raises(CheckExpectationError, match="should pass"):
        ls.check("cfn-templates.t-exercise-ok")
    monkeypatch.delenv("LABS_SUPPORT_EXPECT")
    ls.check("cfn-templates.t-exercise-ok")  # a learner just sees NOT YET


def test_a_passed_check_is_recorded_in_progress(sb, temporary_checks, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOP_COURSE_PROGRESS", str(tmp_path / "p.sqlite"))
    monkeypatch.delenv("LABS_SUPPORT_EXPECT", raising=False)

    @lab_check("cfn-templates.t-record", title="Recorded")
    def _(sandbox):
        return "fine"

    ls.check("cfn-templates.t-record")
    assert "PASS" in capsys.readouterr().out
    from labs_support.progress import ProgressStore

    assert "cfn-templates.t-record" in ProgressStore(tmp_path / "p.sqlite").passed_checks()
