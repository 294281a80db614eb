"""Question banks: schema and semantic validation, partial loading, caching, and the course's real banks."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import jsonschema
import pytest

from labs_support.course import load_course
from labs_support.errors import CourseDataError
from labs_support.paths import QUESTIONS_DIR
from labs_support.quizzes import bank as bank_module
from labs_support.quizzes.bank import (
    SCHEMA_PATH,
    BankProblem,
    available_topics,
    load_all_banks,
    load_bank,
    question_domains,
    validate_all_banks,
    validate_bank_file,
)

FIXTURES = Path(__file__).parent / "data" / "questions"

GOOD_QUESTION = """\
  - id: {qid}
    domain: {domain}
    task: "{task}"
    choose: 1
    stem: Stem of {qid}.
    options:
      - {{id: a, text: A, explanation: ea}}
      - {{id: b, text: B, explanation: eb}}
      - {{id: c, text: C, explanation: ec}}
      - {{id: d, text: D, explanation: ed}}
    answer: [a]
    docs: [https://docs.aws.amazon.com/x]
"""


def write_bank(folder: Path, topic: str, *questions: tuple[str, int, str]) -> Path:
    """A bank file of good single-answer questions given as (id, domain, task)."""
    body = "".join(GOOD_QUESTION.format(qid=q, domain=d, task=t) for q, d, t in questions)
    path = folder / f"{topic}.yaml"
    path.write_text(f"topic: {topic}\ntitle: {topic} title\nquestions:\n{body}", encoding="utf-8")
    return path


def messages_for(problems: list[BankProblem], question_id: str | None) -> list[str]:
    return [p.message for p in problems if p.question_id == question_id]


# ---- the schema file itself ----------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


# ---- a valid bank --------------------------------------------------------------------------------


def test_valid_bank_has_no_problems_and_loads_every_question():
    assert validate_bank_file(FIXTURES / "sample.yaml") == []
    bank = load_bank("sample", FIXTURES)
    assert (bank.topic, bank.title) == ("sample", "Sample bank for the quiz tests")
    assert [q.id for q in bank.questions] == ["sample-01", "sample-02", "sample-03"]
    assert bank.problems == []
    first, second, third = bank.questions
    assert first.topic == "sample" and first.domain == 2 and first.task == "2.1"
    assert first.answer == ("b",) and not first.multiple
    assert [o.id for o in first.options] == ["a", "b", "c", "d"]
    assert first.option("b").text == "Use Parameters with Mappings and Conditions."
    assert first.hint is not None and first.hint.startswith("HINT-01")
    assert second.multiple and second.choose == 2 and second.answer == ("a", "b")
    assert third.hint is None and third.domain == 1
    assert third.docs == (
        "https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html",
        "https://aws.amazon.com/codebuild/",
    )


def test_questions_and_options_are_frozen():
    question = load_bank("sample", FIXTURES).questions[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        question.id = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        question.options[0].text = "changed"  # type: ignore[misc]


# ---- broken banks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question_id", "fragment"),
    [
        ("schema-error-02", "options[3]: missing required field 'explanation'"),
        ("schema-error-03", "unknown field 'difficulty'"),
        ("schema-error-03", 'task must be a quoted string like "2.1"'),
        ("schema-error-04", "domain: 7 is greater than the maximum of 6"),
    ],
)
def test_schema_errors_name_the_question(question_id, fragment):
    problems = validate_bank_file(FIXTURES / "schema-error.yaml")
    assert all(p.file == "schema-error.yaml" for p in problems)
    assert any(fragment in m for m in messages_for(problems, question_id)), [str(p) for p in problems]


def test_schema_errors_leave_the_good_question_loaded():
    bank = load_bank("schema-error", FIXTURES)
    assert [q.id for q in bank.questions] == ["schema-error-01"]
    assert bank.broken_question_ids == ["schema-error-02", "schema-error-03", "schema-error-04"]
    assert messages_for(bank.problems, "schema-error-01") == []


@pytest.mark.parametrize(
    ("question_id", "fragment"),
    [
        ("semantic-02", "answer lists 'f', which is not an option"),
        ("semantic-03", "needs exactly 4 options; it has 5"),
        ("semantic-04", "needs at least 5 options; it has 4"),
        ("semantic-05", "choose is 2 but answer lists 3"),
        ("semantic-01", "id is used more than once in this file (questions 1 and 6)"),
        ("semantic-07", "docs link 'http://example.com/blog' must start with https://docs.aws.amazon.com/"),
        ("semantic-08", "task 1.2 is not a task statement of domain 2"),
        ("semantic-09", 'stem must not contain "(Choose'),
        ("other-10", "id must start with 'semantic-'"),
        ("semantic-11", "option id(s) 'b' used more than once"),
    ],
)
def test_semantic_errors_name_the_question(question_id, fragment):
    problems = validate_bank_file(FIXTURES / "semantic.yaml")
    assert any(fragment in m for m in messages_for(problems, question_id)), [str(p) for p in problems]


def test_semantic_problem_text_names_file_and_question():
    problems = validate_bank_file(FIXTURES / "semantic.yaml")
    assert "semantic.yaml: question semantic-02: answer lists 'f', which is not an option" in map(str, problems)
    task_problem = messages_for(problems, "semantic-08")[0]
    assert "it belongs to domain 1" in task_problem


def test_every_broken_semantic_question_is_reported_and_the_good_one_loads():
    bank = load_bank("semantic", FIXTURES)
    # The duplicate keeps the first semantic-01; the second one is dropped with its problem.
    assert [q.id for q in bank.questions] == ["semantic-01"]
    assert bank.questions[0].stem == "The good one."
    reported = {p.question_id for p in bank.problems}
    expected = {f"semantic-{n:02d}" for n in (1, 2, 3, 4, 5, 7, 8, 9, 11)} | {"other-10"}
    assert reported == expected


def test_yaml_syntax_error_is_a_problem_with_file_and_line():
    problems = validate_bank_file(FIXTURES / "yaml-syntax.yaml")
    assert len(problems) == 1
    (problem,) = problems
    assert (problem.file, problem.question_id, problem.line) == ("yaml-syntax.yaml", None, 8)
    assert "YAML syntax error" in problem.message and "starts on line 7" in problem.message
    assert str(problem).startswith("yaml-syntax.yaml: line 8: YAML syntax error")
    bank = load_bank("yaml-syntax", FIXTURES)  # does not raise
    assert bank.questions == [] and bank.problems == problems


def test_topic_must_match_file_name():
    problems = validate_bank_file(FIXTURES / "wrong-topic.yaml")
    assert [str(p) for p in problems] == [
        "wrong-topic.yaml: topic is 'something-else' but the file is wrong-topic.yaml; they must match"
    ]
    assert [q.id for q in load_bank("wrong-topic", FIXTURES).questions] == ["wrong-topic-01"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "the file is empty"),
        ("- just\n- a list\n", "the file is a list, not a mapping"),
        ("topic: odd\ntitle: Odd\n", "missing required field 'questions'"),
        ("topic: odd\ntitle: Odd\nquestions: 3\n", "questions: 3 is not of type 'array'"),
    ],
)
def test_file_level_problems(tmp_path, text, fragment):
    path = tmp_path / "odd.yaml"
    path.write_text(text, encoding="utf-8")
    problems = validate_bank_file(path)
    assert [p.question_id for p in problems] == [None]
    assert fragment in problems[0].message
    assert str(problems[0]).startswith("odd.yaml: ")


def test_question_that_is_not_a_mapping_is_named_by_position(tmp_path):
    path = write_bank(tmp_path, "pos", ("pos-01", 2, "2.1"))
    path.write_text(path.read_text(encoding="utf-8") + "  - just a string\n", encoding="utf-8")
    bank = load_bank("pos", tmp_path)
    assert [q.id for q in bank.questions] == ["pos-01"]
    assert [p.question_id for p in bank.problems] == ["#2"]


def test_missing_file_is_reported_not_raised(tmp_path):
    assert [p.message for p in validate_bank_file(tmp_path / "nope.yaml")] == ["the file does not exist"]


# ---- several banks -------------------------------------------------------------------------------


def test_ids_must_be_unique_across_banks(tmp_path):
    # "alpha-beta.yaml" sorts before "alpha.yaml", so it keeps the id and alpha.yaml reports it.
    write_bank(tmp_path, "alpha-beta", ("alpha-beta-01", 1, "1.1"))
    write_bank(tmp_path, "alpha", ("alpha-01", 2, "2.1"), ("alpha-beta-01", 2, "2.2"))
    banks = load_all_banks(tmp_path)
    assert [q.id for q in banks["alpha-beta"].questions] == ["alpha-beta-01"]
    assert [q.id for q in banks["alpha"].questions] == ["alpha-01"]
    expected = (
        "alpha.yaml: question alpha-beta-01: id is already used in alpha-beta.yaml; ids must be unique across banks"
    )
    assert [str(p) for p in banks["alpha"].problems] == [expected]
    assert [str(p) for p in validate_bank_file(tmp_path / "alpha.yaml")] == [expected]
    assert [str(p) for p in load_bank("alpha", tmp_path).problems] == [expected]
    assert validate_bank_file(tmp_path / "alpha-beta.yaml") == []
    assert [str(p) for p in validate_all_banks(tmp_path)] == [expected]
    assert question_domains(tmp_path) == {"alpha-beta-01": 1, "alpha-01": 2}


def test_load_all_banks_and_question_domains_over_fixtures():
    banks = load_all_banks(FIXTURES)
    assert list(banks) == sorted(banks)
    assert {"sample", "semantic", "schema-error", "yaml-syntax", "wrong-topic"} <= set(banks)
    assert available_topics(FIXTURES) == list(banks)
    domains = question_domains(FIXTURES)
    assert {k: domains[k] for k in ("sample-01", "sample-02", "sample-03")} == {
        "sample-01": 2,
        "sample-02": 2,
        "sample-03": 1,
    }
    assert "semantic-02" not in domains  # broken questions are not counted


def test_unknown_topic_lists_the_available_ones():
    with pytest.raises(CourseDataError) as info:
        load_bank("no-such-topic", FIXTURES)
    assert "no-such-topic" in info.value.message
    assert info.value.hint is not None
    assert "sample" in info.value.hint and "semantic" in info.value.hint


@pytest.mark.parametrize("topic", ["../questions/sample", "Sample", "sample.yaml", ""])
def test_topic_that_is_not_a_plain_name_is_unknown(topic):
    with pytest.raises(CourseDataError):
        load_bank(topic, FIXTURES)


def test_unknown_topic_in_an_empty_folder(tmp_path):
    with pytest.raises(CourseDataError) as info:
        load_bank("anything", tmp_path)
    assert "has no question banks yet" in (info.value.hint or "")
    assert load_all_banks(tmp_path) == {} and load_all_banks(tmp_path / "missing") == {}


# ---- caching -------------------------------------------------------------------------------------


def test_banks_are_parsed_once_until_the_file_changes(tmp_path, monkeypatch):
    path = write_bank(tmp_path, "cached", ("cached-01", 2, "2.1"))
    calls = []
    real_parse = bank_module._parse
    monkeypatch.setattr(bank_module, "_parse", lambda p: calls.append(p) or real_parse(p))

    first = load_bank("cached", tmp_path)
    second = load_bank("cached", tmp_path)
    assert len(calls) == 1
    assert first.questions[0] is second.questions[0]

    write_bank(tmp_path, "cached", ("cached-01", 2, "2.1"), ("cached-02", 2, "2.2"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a changed mtime for sure
    third = load_bank("cached", tmp_path)
    assert len(calls) == 2
    assert [q.id for q in third.questions] == ["cached-01", "cached-02"]


def test_callers_cannot_corrupt_the_cache():
    load_bank("sample", FIXTURES).questions.clear()
    assert len(load_bank("sample", FIXTURES).questions) == 3


# ---- the course's own banks ----------------------------------------------------------------------


def test_every_real_bank_is_valid():
    """Fails listing every problem of every bank in labs_support/data/questions (passes when empty)."""
    problems = validate_all_banks()
    assert not problems, "Question bank problems:\n" + "\n".join(str(p) for p in problems)


def test_every_real_bank_belongs_to_a_course_module():
    modules = {m.id for m in load_course().modules}
    orphans = [t for t in available_topics() if t not in modules]
    assert not orphans, f"Banks in {QUESTIONS_DIR} with no module of that id in course.yaml: {orphans}"
