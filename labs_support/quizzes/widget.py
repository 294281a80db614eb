"""The exam-style quiz widget.

The answers stay in the kernel: the browser receives widget state, so until the learner presses
Check no widget holds an answer id, an explanation, a hint or which options are correct. The
feedback HTML is written only by the Check handler and the hint only by the Hint handler.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

import ipywidgets as widgets

from ..course import load_course
from ..errors import LabError
from ..errors import message_box as _box
from .bank import Bank, Option, Question, load_bank

Status = Literal["correct", "incorrect", "nothing-chosen", "wrong-count"]

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_GOOD = "#3a9d5d"  # mid-tone green and red read on both the light and the dark JupyterLab theme
_BAD = "#d0453b"
_NEUTRAL = "#8a8a8a"
_MAX_PROBLEMS_SHOWN = 12

# Radio and checkbox labels are single-line and clipped by default; exam options are sentences.
_STYLE = """<style>
.dop-quiz .widget-radio-box label {height:auto; line-height:1.4; white-space:normal; padding:3px 0;
  display:flex; flex-direction:row-reverse; justify-content:flex-end; align-items:flex-start; gap:6px;}
.dop-quiz .widget-radio-box label input {flex:0 0 auto; margin:3px 0 0 0;}
.dop-quiz .widget-checkbox {height:auto; width:100%;}
.dop-quiz .widget-checkbox label.widget-label-basic {
  white-space:normal; overflow:visible; height:auto; line-height:1.4; display:flex; align-items:flex-start;
  padding:3px 0;}
.dop-quiz .widget-checkbox input[type='checkbox'] {flex-grow:0; align-self:flex-start; margin-top:2px;}
.dop-quiz .widget-html-content {line-height:1.45;}
</style>"""


class Recorder(Protocol):
    """What the quiz needs from the progress store."""

    def record_quiz_answer(
        self, *, question_id: str, topic: str, domain: int, task: str, correct: bool, chosen: list[str]
    ) -> Any: ...


@dataclass(frozen=True)
class CheckOutcome:
    """The result of pressing Check on one question."""

    status: Status
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"


class Score(NamedTuple):
    """Questions answered correctly and checked so far (latest check of each question counts)."""

    correct: int
    checked: int
    total: int


def number_word(n: int) -> str:
    """'two' for 2, as the exam writes it; digits above ten."""
    return _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else str(n)


def _inline(text: str) -> str:
    """Escaped text with `backticks` shown as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def text_to_html(text: str) -> str:
    """Bank prose as HTML: blank lines separate paragraphs, list items keep their line, other breaks flow."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.splitlines()
        out = _inline(lines[0]) if lines else ""
        for line in lines[1:]:
            keep_break = re.match(r"\s*([-*]|\d+[.)])\s", line) or line.startswith("  ")
            out += ("<br>" if keep_break else " ") + _inline(line.strip() if not keep_break else line)
        paragraphs.append(f'<p style="margin:0 0 6px 0">{out}</p>')
    return "".join(paragraphs)


def _label(letter: str, option: Option) -> str:
    # Widget descriptions are plain text in the browser, so no escaping here.
    return f"{letter}. {' '.join(option.text.split())}"


def _execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "execution_count", None) if shell is not None else None


class _QuestionView:
    """The widgets of one question and the learner's latest checked result."""

    def __init__(self, quiz: Quiz, index: int, question: Question, options: list[Option]) -> None:
        self.question = question
        self.options = options
        self.letters = [chr(ord("A") + i) for i in range(len(options))]
        self.result: bool | None = None
        total = len(quiz.questions)
        task = quiz.task_names.get(question.task, "")
        heading = (
            f'<div style="font-weight:600;margin-bottom:4px">Question {index + 1} of {total} · '
            f'Domain {question.domain} · <span title="{html.escape(task)}">Task {html.escape(question.task)}'
            "</span></div>"
        )
        stem = text_to_html(question.stem)
        if question.multiple:
            stem += f'<p style="margin:0 0 6px 0"><b>(Choose {number_word(question.choose)}.)</b></p>'
        self.stem = widgets.HTML(heading + stem, layout=widgets.Layout(width="100%"))
        if question.multiple:
            self.radio = None
            self.checkboxes = [
                widgets.Checkbox(
                    value=False,
                    description=_label(letter, opt),
                    indent=False,
                    layout=widgets.Layout(width="100%"),
                )
                for letter, opt in zip(self.letters, options, strict=True)
            ]
            selector: widgets.Widget = widgets.VBox(self.checkboxes, layout=widgets.Layout(width="100%"))
        else:
            self.checkboxes = []
            self.radio = widgets.RadioButtons(
                options=[
                    (_label(letter, opt), i) for i, (letter, opt) in enumerate(zip(self.letters, options, strict=True))
                ],
                value=None,
                layout=widgets.Layout(width="100%"),
            )
            selector = self.radio
        self.check_button = widgets.Button(
            description="Check", button_style="primary", layout=widgets.Layout(width="auto")
        )
        self.check_button.on_click(lambda _b: quiz._click(index, quiz.check))
        buttons = [self.check_button]
        self.hint_button: widgets.Button | None = None
        if question.hint:
            self.hint_button = widgets.Button(description="Hint", layout=widgets.Layout(width="auto"))
            self.hint_button.on_click(lambda _b: quiz._click(index, quiz.show_hint))
            buttons.append(self.hint_button)
        self.hint = widgets.HTML("")
        self.feedback = widgets.HTML("")
        self.box = widgets.VBox(
            [self.stem, selector, widgets.HBox(buttons), self.hint, self.feedback],
            layout=widgets.Layout(
                border="1px solid var(--jp-border-color2, #c8c8c8)",
                padding="8px 12px",
                margin="0 0 12px 0",
                width="100%",
            ),
        )

    def chosen(self) -> list[str]:
        """The bank ids of the selected options, sorted."""
        if self.radio is not None:
            return [] if self.radio.value is None else [self.options[self.radio.value].id]
        return sorted(opt.id for opt, cb in zip(self.options, self.checkboxes, strict=True) if cb.value)

    def select(self, option_ids: list[str]) -> None:
        positions = {opt.id: i for i, opt in enumerate(self.options)}
        if self.radio is not None:
            self.radio.value = positions[option_ids[0]] if option_ids else None
        else:
            for opt, cb in zip(self.options, self.checkboxes, strict=True):
                cb.value = opt.id in option_ids


class Quiz:
    """An exam-style quiz over one topic's bank (or a given list of questions).

    Display it in a notebook (it renders as its `.widget`), or drive it from code with `select`,
    `check` and `score`. Question indexes are 0-based; option ids are the bank's ids, not the letters.
    `directory` reads the bank from another folder (tests); `questions` skips the bank entirely.
    """

    def __init__(
        self,
        topic: str | None = None,
        *,
        questions: list[Question] | None = None,
        seed: int | None = None,
        recorder: Recorder | None = None,
        directory: str | Path | None = None,
    ) -> None:
        if topic is None and questions is None:
            raise LabError("A quiz needs a topic or a list of questions.", hint='For example Quiz("cfn-templates").')
        self.topic = topic
        self.seed = seed
        self._recorder = recorder
        self._recorder_failed = False
        self._warned: set[str] = set()
        self._notices: list[str] = []
        self._shown_in: int | None = None
        try:
            self._build(topic, questions, seed, directory)
        except LabError:
            raise
        except Exception as e:  # a learner gets a message box, never a traceback
            raise LabError(f"The quiz could not be built: {type(e).__name__}: {e}") from e

    def _build(
        self,
        topic: str | None,
        questions: list[Question] | None,
        seed: int | None,
        directory: str | Path | None,
    ) -> None:
        bank: Bank | None = None
        if questions is None:
            bank = load_bank(topic, directory)  # __init__ made sure a topic was given
            questions = bank.questions
        self.title = bank.title if bank else _module_title(topic)
        self.task_names = _task_names()
        rng = random.Random(seed)
        self.questions: list[Question] = list(questions)
        self._views: list[_QuestionView] = []
        for index, question in enumerate(self.questions):
            options = list(question.options)
            rng.shuffle(options)
            self._views.append(_QuestionView(self, index, question, options))

        n = len(self.questions)
        self._title = widgets.HTML(
            _STYLE + f'<div style="font-size:1.25em;font-weight:600">{html.escape(self.title)}</div>'
            f"<div>{n} question{'s' if n != 1 else ''} in the style of the DOP-C02 exam. "
            "Choose, then press Check; you can change your answer and check again.</div>"
        )
        self._score_line = widgets.HTML(layout=widgets.Layout(margin="4px 0"))
        self._notice_box = widgets.HTML("")
        header: list[widgets.Widget] = [self._title, self._score_line, self._notice_box]
        if bank is not None and bank.problems:
            header.append(widgets.HTML(_problems_html(bank)))
        if not self.questions:
            header.append(
                widgets.HTML(
                    _box("No questions yet", "There are no questions to show for this topic yet.", kind="info")
                )
            )
        self.widget = widgets.VBox(header + [v.box for v in self._views], layout=widgets.Layout(width="100%"))
        self.widget.add_class("dop-quiz")
        self._update_score()

    # ---- display -------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        # show_quiz() displays the quiz and returns it; skip the second display of the same cell.
        from IPython.display import display

        count = _execution_count()
        if count is not None and count == self._shown_in:
            return
        self._shown_in = count
        display(self.widget)

    def __repr__(self) -> str:
        return f"<Quiz {self.title!r}: {len(self.questions)} questions, {self.score_text()}>"

    # ---- programmatic API ----------------------------------------------------------------------

    @property
    def score(self) -> Score:
        """(correct, checked, total), counting the latest valid check of each question."""
        results = [v.result for v in self._views]
        return Score(sum(r is True for r in results), sum(r is not None for r in results), len(results))

    def score_text(self) -> str:
        """'Score: 3 of 8 correct · 5 not checked yet'."""
        correct, checked, total = self.score
        parts = [f"Score: {correct} of {total} correct"]
        if checked - correct:
            parts.append(f"{checked - correct} incorrect")
        if total - checked:
            parts.append(f"{total - checked} not checked yet")
        return " · ".join(parts)

    def displayed_options(self, index: int) -> list[tuple[str, Option]]:
        """The options of a question as shown: (letter, option) in displayed order."""
        view = self._view(index)
        return list(zip(view.letters, view.options, strict=True))

    def select(self, index: int, option_ids: str | Iterable[str]) -> None:
        """Select options of question `index` by bank id (an empty list clears the selection)."""
        view = self._view(index)
        ids = [option_ids] if isinstance(option_ids, str) else list(option_ids)
        known = [opt.id for opt in view.question.options]
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise LabError(
                f"Question {index + 1} has no option {', '.join(map(repr, unknown))}.",
                hint=f"Its option ids are {', '.join(known)}.",
            )
        if not view.question.multiple and len(ids) > 1:
            raise LabError(f"Question {index + 1} takes a single answer; got {len(ids)}.")
        view.select(ids)

    def chosen(self, index: int) -> list[str]:
        """Bank ids of the options currently selected in question `index`."""
        return self._view(index).chosen()

    def check(self, index: int) -> CheckOutcome:
        """Score question `index` as the Check button does: show feedback, record, update the score."""
        view = self._view(index)
        question, chosen = view.question, view.chosen()
        if not chosen:
            outcome = CheckOutcome("nothing-chosen", "Choose an answer first.")
            view.feedback.value = _box("Nothing chosen", outcome.message, kind="warning")
            return outcome
        if len(chosen) != question.choose:
            outcome = CheckOutcome(
                "wrong-count",
                f"This question asks for {number_word(question.choose)} answers; you chose {number_word(len(chosen))}.",
            )
            view.feedback.value = _box("Check how many you chose", outcome.message, kind="warning")
            return outcome
        correct = set(chosen) == set(question.answer)
        if correct:
            outcome = CheckOutcome("correct", "Correct.")
        elif question.multiple:
            found = len(set(chosen) & set(question.answer))
            outcome = CheckOutcome(
                "incorrect",
                f"Not quite. You found {number_word(found)} of the {number_word(question.choose)} answers; "
                "the exam gives credit only when every answer is right.",
            )
        else:
            outcome = CheckOutcome("incorrect", "Not quite.")
        view.result = correct
        view.feedback.value = _feedback_html(view, chosen, outcome)
        self._update_score()
        self._record(question, chosen, correct)
        return outcome

    def show_hint(self, index: int) -> str | None:
        """Reveal the hint of question `index` (what the Hint button does); returns it."""
        view = self._view(index)
        if view.question.hint:
            view.hint.value = _box("Hint", view.question.hint, kind="info")
        return view.question.hint

    # ---- internals -----------------------------------------------------------------------------

    def _view(self, index: int) -> _QuestionView:
        if not isinstance(index, int) or not 0 <= index < len(self._views):
            raise LabError(
                f"There is no question {index!r} in this quiz.",
                hint=f"Questions are numbered from 0 to {len(self._views) - 1} in code."
                if self._views
                else "This quiz has no questions.",
            )
        return self._views[index]

    def _click(self, index: int, action: Any) -> None:
        """Run a button's action; a failure is shown in the question, never raised into the front end."""
        try:
            action(index)
        except LabError as e:
            self._views[index].feedback.value = _box(e.title, e.message, e.hint)
        except Exception as e:
            self._views[index].feedback.value = _box(
                "Something went wrong", f"{type(e).__name__}: {e}", "Run the cell again to rebuild the quiz."
            )

    def _update_score(self) -> None:
        self._score_line.value = f"<b>{html.escape(self.score_text())}</b>"

    def _notice(self, key: str, message: str) -> None:
        """A small warning in the header, shown once per kind."""
        if key in self._warned:
            return
        self._warned.add(key)
        self._notices.append(_box("Progress not saved", message, kind="warning"))
        self._notice_box.value = "".join(self._notices)

    def _get_recorder(self) -> Recorder | None:
        if self._recorder is None and not self._recorder_failed:
            try:
                from ..progress import default_store

                self._recorder = default_store()
            except Exception as e:
                self._recorder_failed = True
                self._notice(
                    "store",
                    f"The progress store is not available ({type(e).__name__}: {e}); "
                    "the quiz works, but your answers are not saved.",
                )
        return self._recorder

    def _record(self, question: Question, chosen: list[str], correct: bool) -> None:
        recorder = self._get_recorder()
        if recorder is None:
            return
        try:
            recorder.record_quiz_answer(
                question_id=question.id,
                topic=question.topic,
                domain=question.domain,
                task=question.task,
                correct=correct,
                chosen=list(chosen),
            )
        except Exception as e:  # progress must never break the quiz
            self._notice(
                "record",
                f"Your answer could not be saved ({type(e).__name__}: {e}); the quiz carries on without saving.",
            )


def _feedback_html(view: _QuestionView, chosen: list[str], outcome: CheckOutcome) -> str:
    question = view.question
    title = "Correct" if outcome.correct else "Not quite"
    detail = outcome.message.removeprefix("Correct.").removeprefix("Not quite.").strip()
    parts = [
        _box(
            title,
            detail or ("Well done." if outcome.correct else "See why below."),
            kind="ok" if outcome.correct else "warning",
        )
    ]
    for letter, opt in zip(view.letters, view.options, strict=True):
        is_answer, was_chosen = opt.id in question.answer, opt.id in chosen
        accent = _GOOD if is_answer else (_BAD if was_chosen else _NEUTRAL)
        verdict = (
            f'<span style="color:{_GOOD};font-weight:600">✔ correct answer</span>'
            if is_answer
            else f'<span style="color:{_BAD if was_chosen else _NEUTRAL};font-weight:600">✘ not an answer</span>'
        )
        mine = "you chose it" if was_chosen else "you did not choose it"
        parts.append(
            f'<div style="border-left:3px solid {accent};padding:2px 10px;margin:6px 0">'
            f"<div><b>{letter}.</b> {_inline(opt.text)}</div>"
            f'<div style="font-size:0.92em">{verdict} · {mine}</div>'
            f'<div style="font-size:0.92em;opacity:0.9">{text_to_html(opt.explanation)}</div></div>'
        )
    links = " · ".join(
        f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer" '
        f'style="text-decoration:underline">{html.escape(url)}</a>'
        for url in question.docs
    )
    parts.append(f'<div style="margin-top:6px;font-size:0.92em"><b>Documentation:</b> {links}</div>')
    return "".join(parts)


def _problems_html(bank: Bank) -> str:
    name = bank.path.name if bank.path else f"{bank.topic}.yaml"
    loaded = {q.id for q in bank.questions}
    left_out = [qid for qid in bank.broken_question_ids if qid not in loaded]
    lines = []
    if left_out:
        lines.append(f"These questions were left out: {', '.join(left_out)}.")
    if not bank.questions:
        lines.append("No question of this file could be loaded.")
    details = [str(p) for p in bank.problems[:_MAX_PROBLEMS_SHOWN]]
    if len(bank.problems) > _MAX_PROBLEMS_SHOWN:
        details.append(f"… and {len(bank.problems) - _MAX_PROBLEMS_SHOWN} more.")
    message = "\n".join([*lines, "", *details] if lines else details)
    hint = "The other questions work normally. " if bank.questions else ""
    return _box(
        f"The question bank {name} has problems",
        message,
        hint=hint + "Please tell the course authors about it.",
        kind="warning",
    )


def _module_title(topic: str | None) -> str:
    if topic is None:
        return "Practice questions"
    try:
        return load_course().module(topic).title
    except LabError:
        return topic


def _task_names() -> dict[str, str]:
    try:
        return load_course().all_tasks()
    except LabError:
        return {}
