"""The quiz widget: shuffling, exam scoring, recording, and keeping the answers out of the browser."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import types
from pathlib import Path

import ipywidgets as widgets
import pytest

import labs_support.quizzes as quiz_package
from labs_support.errors import CourseDataError, LabError
from labs_support.quizzes import bank as bank_module
from labs_support.quizzes import widget as widget_module
from labs_support.quizzes.bank import Question, load_bank
from labs_support.quizzes.widget import Quiz, Score

FIXTURES = Path(__file__).parent / "data" / "questions"


class FakeRecorder:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def record_quiz_answer(self, **kwargs) -> None:
        self.calls.append(kwargs)


class BrokenRecorder:
    def __init__(self) -> None:
        self.attempts = 0

    def record_quiz_answer(self, **kwargs) -> None:
        self.attempts += 1
        raise OSError("disk full")


@pytest.fixture
def questions() -> list[Question]:
    """sample-01 (single, hint, answer b), sample-02 (choose two: a+b), sample-03 (single, answer c)."""
    return load_bank("sample", FIXTURES).questions


@pytest.fixture
def recorder() -> FakeRecorder:
    return FakeRecorder()


@pytest.fixture
def quiz(questions, recorder) -> Quiz:
    return Quiz(questions=questions, seed=7, recorder=recorder)


def walk(widget: widgets.Widget, seen: set[str] | None = None) -> list[widgets.Widget]:
    """Every widget reachable from `widget` through its synced traits (children, layout, style, ...)."""
    seen = set() if seen is None else seen
    if widget.model_id in seen:
        return []
    seen.add(widget.model_id)
    found = [widget]
    for name in widget.keys:
        value = getattr(widget, name)
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, widgets.Widget):
                found += walk(item, seen)
    return found


def synced_text(quiz: Quiz) -> str:
    """Everything the browser receives for this quiz, as one string."""
    return "\n".join(json.dumps(w.get_state(), default=str) for w in walk(quiz.widget))


def normalised_states(quiz: Quiz) -> list[str]:
    """Widget states in tree order with model ids replaced by their position, so two quizzes compare."""
    tree = walk(quiz.widget)
    position = {w.model_id: str(i) for i, w in enumerate(tree)}
    texts = [json.dumps(w.get_state(), sort_keys=True, default=str) for w in tree]
    return [re.sub(r"IPY_MODEL_(\w+)", lambda m: "IPY_MODEL_" + position.get(m.group(1), "?"), t) for t in texts]


def secrets(question: Question) -> list[str]:
    texts = [opt.explanation for opt in question.options]
    return texts + ([question.hint] if question.hint else [])


def html_values(quiz: Quiz) -> list[str]:
    return [w.value for w in walk(quiz.widget) if isinstance(w, widgets.HTML)]


# ---- shuffling and layout ------------------------------------------------------------------------


def order(quiz: Quiz) -> list[list[str]]:
    return [[opt.id for _, opt in quiz.displayed_options(i)] for i in range(len(quiz.questions))]


def test_shuffle_is_deterministic_for_a_seed(questions):
    assert order(Quiz(questions=questions, seed=3)) == order(Quiz(questions=questions, seed=3))


def test_shuffle_permutes_options_for_some_seed(questions):
    bank_order = [[o.id for o in q.options] for q in questions]
    orders = [order(Quiz(questions=questions, seed=s)) for s in range(10)]
    assert any(o != bank_order for o in orders)
    assert len({json.dumps(o) for o in orders}) > 1
    assert all(sorted(ids) == sorted(bank) for o in orders for ids, bank in zip(o, bank_order, strict=True))


def test_options_are_lettered_in_displayed_order(quiz):
    radio = quiz._views[0].radio
    shown = quiz.displayed_options(0)
    assert [letter for letter, _ in shown] == ["A", "B", "C", "D"]
    assert list(radio._options_labels) == [f"{letter}. {opt.text}" for letter, opt in shown]
    boxes = quiz._views[1].checkboxes
    assert [cb.description for cb in boxes] == [f"{letter}. {opt.text}" for letter, opt in quiz.displayed_options(1)]


def test_single_answer_uses_radio_buttons_and_multiple_response_checkboxes(quiz):
    single, multiple = quiz._views[0], quiz._views[1]
    assert isinstance(single.radio, widgets.RadioButtons) and single.radio.value is None
    assert single.checkboxes == []
    assert multiple.radio is None and len(multiple.checkboxes) == 5
    assert all(cb.value is False for cb in multiple.checkboxes)


def test_heading_choose_text_and_escaping(quiz):
    first, second = quiz._views[0].stem.value, quiz._views[1].stem.value
    assert "Question 1 of 3 · Domain 2 · " in first and "Task 2.1" in first
    assert "Question 3 of 3 · Domain 1 · " in quiz._views[2].stem.value
    assert "(Choose two.)" in second and "(Choose" not in first
    assert "&amp; wants &lt;one&gt; template" in first and "<one>" not in first


def test_header_score_line(quiz):
    assert quiz.score == Score(0, 0, 3)
    assert quiz.score_text() == "Score: 0 of 3 correct · 3 not checked yet"
    assert any("Score: 0 of 3 correct · 3 not checked yet" in v for v in html_values(quiz))
    assert any("3 questions" in v for v in html_values(quiz))


# ---- scoring -------------------------------------------------------------------------------------


def test_single_answer_scoring(quiz, recorder):
    quiz.select(0, ["a"])
    outcome = quiz.check(0)
    assert (outcome.status, outcome.correct) == ("incorrect", False)
    assert "Not quite" in quiz._views[0].feedback.value
    quiz.select(0, "b")
    outcome = quiz.check(0)
    assert (outcome.status, outcome.correct) == ("correct", True)
    assert "Correct" in quiz._views[0].feedback.value
    assert quiz.score == Score(1, 1, 3)


@pytest.mark.parametrize(
    ("chosen", "status"),
    [(["a", "b"], "correct"), (["b", "a"], "correct"), (["a", "c"], "incorrect"), (["d", "e"], "incorrect")],
)
def test_multiple_response_needs_the_exact_set(quiz, recorder, chosen, status):
    quiz.select(1, chosen)
    assert quiz.check(1).status == status
    assert recorder.calls[-1]["correct"] is (status == "correct")
    assert recorder.calls[-1]["chosen"] == sorted(chosen)


def test_nothing_chosen_warns_and_records_nothing(quiz, recorder):
    for index in (0, 1):
        outcome = quiz.check(index)
        assert (outcome.status, outcome.message) == ("nothing-chosen", "Choose an answer first.")
        assert "Choose an answer first." in quiz._views[index].feedback.value
    assert recorder.calls == []
    assert quiz.score == Score(0, 0, 3)


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        (["a"], "This question asks for two answers; you chose one."),
        (["a", "b", "c"], "This question asks for two answers; you chose three."),
    ],
)
def test_wrong_count_warns_and_records_nothing(quiz, recorder, chosen, message):
    quiz.select(1, chosen)
    outcome = quiz.check(1)
    assert (outcome.status, outcome.message) == ("wrong-count", message)
    assert message in quiz._views[1].feedback.value
    assert recorder.calls == []
    assert quiz.score == Score(0, 0, 3)


def test_recorder_receives_each_valid_check(quiz, recorder):
    quiz.select(0, ["a"])
    quiz.check(0)
    quiz.select(1, ["b", "a"])
    quiz.check(1)
    quiz.check(2)  # nothing chosen: not recorded
    assert recorder.calls == [
        {
            "question_id": "sample-01",
            "topic": "sample",
            "domain": 2,
            "task": "2.1",
            "correct": False,
            "chosen": ["a"],
        },
        {
            "question_id": "sample-02",
            "topic": "sample",
            "domain": 2,
            "task": "2.1",
            "correct": True,
            "chosen": ["a", "b"],
        },
    ]


def test_score_reflects_the_latest_check_of_each_question(quiz):
    quiz.select(0, ["b"])
    quiz.check(0)
    quiz.select(2, ["c"])
    quiz.check(2)
    assert quiz.score == Score(2, 2, 3)
    assert any("Score: 2 of 3 correct · 1 not checked yet" in v for v in html_values(quiz))
    quiz.select(0, ["d"])
    quiz.check(0)
    assert quiz.score == Score(1, 2, 3)
    assert quiz.score_text() == "Score: 1 of 3 correct · 1 incorrect · 1 not checked yet"
    quiz.select(0, [])
    quiz.check(0)  # an invalid check keeps the previous result
    assert quiz.score == Score(1, 2, 3)


def test_buttons_go_through_the_same_code(quiz, recorder):
    view = quiz._views[2]
    view.radio.value = [opt.id for _, opt in quiz.displayed_options(2)].index("c")  # what a click does
    view.check_button.click()
    assert recorder.calls[-1]["question_id"] == "sample-03" and recorder.calls[-1]["correct"] is True
    assert quiz.score == Score(1, 1, 3)
    quiz._views[1].checkboxes[0].value = True
    quiz._views[1].check_button.click()
    assert "you chose one" in quiz._views[1].feedback.value


def test_select_validates_its_arguments(quiz):
    with pytest.raises(LabError, match="no option 'z'"):
        quiz.select(0, ["z"])
    with pytest.raises(LabError, match="single answer"):
        quiz.select(0, ["a", "b"])
    with pytest.raises(LabError, match="no question 3"):
        quiz.check(3)
    assert quiz.chosen(0) == []
    quiz.select(1, ["e", "a"])
    assert quiz.chosen(1) == ["a", "e"]


# ---- answers stay in the kernel ------------------------------------------------------------------


def test_no_answer_explanation_or_hint_is_synced_before_checking(quiz, questions):
    text = synced_text(quiz)
    for question in questions:
        for secret in secrets(question):
            assert secret not in text
    assert "EXPLAIN" not in text and "HINT" not in text
    assert "correct answer" not in text


def test_widget_state_does_not_depend_on_the_answer(questions):
    """Two quizzes that differ only in which options are correct send the browser identical state."""
    changed = [
        dataclasses.replace(questions[0], answer=("d",)),
        dataclasses.replace(questions[1], answer=("c", "e")),
        dataclasses.replace(questions[2], answer=("a",)),
    ]
    original = normalised_states(Quiz(questions=questions, seed=11))
    assert original == normalised_states(Quiz(questions=changed, seed=11))
    assert original != normalised_states(Quiz(questions=questions, seed=12))  # the comparison can fail


def test_feedback_after_checking_explains_every_option(quiz, questions):
    quiz.select(1, ["a", "c"])
    quiz.check(1)
    feedback = quiz._views[1].feedback.value
    for letter, opt in quiz.displayed_options(1):
        assert f"<b>{letter}.</b> {opt.text}" in feedback
        assert opt.explanation in feedback
    assert feedback.count("✔ correct answer") == 2
    assert feedback.count("you chose it") == 2 and feedback.count("you did not choose it") == 3
    assert 'href="https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/walkthrough-crossstackref.html"' in (
        feedback
    )
    assert "one of the two answers" in feedback
    # Only the checked question reveals anything.
    text = synced_text(quiz)
    assert all(secret not in text for q in (questions[0], questions[2]) for secret in secrets(q))


def test_hint_appears_only_after_clicking_hint(quiz, questions):
    hint_buttons = [w for w in walk(quiz.widget) if isinstance(w, widgets.Button) and w.description == "Hint"]
    assert len(hint_buttons) == 1  # only sample-01 has a hint
    quiz.select(0, ["a"])
    quiz.check(0)
    assert questions[0].hint not in synced_text(quiz)
    hint_buttons[0].click()
    assert questions[0].hint in quiz._views[0].hint.value
    assert quiz.show_hint(2) is None


# ---- progress recording --------------------------------------------------------------------------


def notices(quiz: Quiz) -> str:
    return quiz._notice_box.value


def test_a_broken_recorder_does_not_break_checking(questions):
    broken = BrokenRecorder()
    quiz = Quiz(questions=questions, seed=1, recorder=broken)
    quiz.select(0, ["b"])
    assert quiz.check(0).status == "correct"
    quiz.select(2, ["c"])
    assert quiz.check(2).status == "correct"
    assert broken.attempts == 2
    assert quiz.score == Score(2, 2, 3)
    assert notices(quiz).count("could not be saved") == 1
    assert "disk full" in notices(quiz)


def test_default_store_is_used_lazily(questions, monkeypatch):
    store = FakeRecorder()
    made = []
    fake = types.ModuleType("labs_support.progress")
    fake.default_store = lambda: made.append(1) or store
    monkeypatch.setitem(sys.modules, "labs_support.progress", fake)
    quiz = Quiz(questions=questions, seed=1)
    assert made == []
    quiz.check(0)  # nothing chosen: no store needed
    assert made == []
    quiz.select(0, ["b"])
    quiz.check(0)
    quiz.check(0)
    assert made == [1]
    assert [c["question_id"] for c in store.calls] == ["sample-01", "sample-01"]
    assert notices(quiz) == ""


def test_missing_progress_module_warns_once(questions, monkeypatch):
    monkeypatch.setitem(sys.modules, "labs_support.progress", None)  # makes the import fail
    quiz = Quiz(questions=questions, seed=1)
    quiz.select(0, ["b"])
    assert quiz.check(0).status == "correct"
    quiz.select(2, ["a"])
    assert quiz.check(2).status == "incorrect"
    assert notices(quiz).count("Progress not saved") == 1
    assert quiz.score == Score(1, 2, 3)


def test_failing_default_store_warns(questions, monkeypatch):
    fake = types.ModuleType("labs_support.progress")

    def default_store():
        raise PermissionError("read-only home")

    fake.default_store = default_store
    monkeypatch.setitem(sys.modules, "labs_support.progress", fake)
    quiz = Quiz(questions=questions, seed=1)
    quiz.select(0, ["b"])
    assert quiz.check(0).correct
    assert "read-only home" in notices(quiz)


# ---- banks with problems, errors, display --------------------------------------------------------


def test_bank_with_problems_shows_valid_questions_and_a_warning(recorder):
    quiz = Quiz("semantic", directory=FIXTURES, recorder=recorder)
    assert [q.id for q in quiz.questions] == ["semantic-01"]
    warning = next(v for v in html_values(quiz) if "has problems" in v)
    assert "semantic.yaml" in warning
    assert "left out: semantic-01" not in warning  # the first semantic-01 is shown
    for broken in ("semantic-02", "semantic-05", "other-10", "semantic-11"):
        assert broken in warning


def test_unreadable_bank_shows_a_warning_and_no_questions():
    quiz = Quiz("yaml-syntax", directory=FIXTURES, recorder=FakeRecorder())
    assert quiz.questions == []
    assert any("yaml-syntax.yaml" in v and "line 8" in v for v in html_values(quiz))
    assert any("no questions to show" in v for v in html_values(quiz))


def test_unknown_topic_is_a_course_data_error():
    with pytest.raises(CourseDataError, match="no-such-topic"):
        Quiz("no-such-topic", directory=FIXTURES)
    with pytest.raises(LabError):
        Quiz()


def test_unexpected_failures_become_lab_errors(monkeypatch, questions):
    monkeypatch.setattr(widget_module, "_task_names", lambda: 1 / 0)
    with pytest.raises(LabError, match="ZeroDivisionError"):
        Quiz(questions=questions)


def test_a_failing_button_shows_a_message_instead_of_raising(quiz, monkeypatch):
    def explode(index):
        raise RuntimeError("boom")

    monkeypatch.setattr(quiz, "check", explode)
    quiz._views[0].check_button.click()
    assert "boom" in quiz._views[0].feedback.value


def test_show_quiz_displays_once_per_cell(monkeypatch, recorder):
    shown = []

    def fake_display(obj):
        shown.append(obj)
        if isinstance(obj, Quiz):  # as IPython does for objects with _ipython_display_
            obj._ipython_display_()

    monkeypatch.setattr("IPython.display.display", fake_display)
    monkeypatch.setattr(bank_module, "QUESTIONS_DIR", FIXTURES)
    monkeypatch.setattr(widget_module, "_execution_count", lambda: 5)
    quiz = quiz_package.show_quiz("sample", seed=2, recorder=recorder)
    assert isinstance(quiz, Quiz) and quiz.questions[0].id == "sample-01"
    widgets_shown = [obj for obj in shown if obj is quiz.widget]
    assert len(widgets_shown) == 1
    quiz._ipython_display_()  # the same cell returning the quiz: skipped
    assert len([obj for obj in shown if obj is quiz.widget]) == 1
    monkeypatch.setattr(widget_module, "_execution_count", lambda: 6)
    quiz._ipython_display_()  # a later cell showing `quiz` again
    assert len([obj for obj in shown if obj is quiz.widget]) == 2
