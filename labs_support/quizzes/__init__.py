"""Exam-style quizzes: question banks (`bank`) and the quiz widget (`widget`).

In a notebook::

    from labs_support.quizzes import show_quiz
    quiz = show_quiz("cfn-templates")
"""

from __future__ import annotations

from .bank import (
    Bank,
    BankProblem,
    Option,
    Question,
    available_topics,
    load_all_banks,
    load_bank,
    question_domains,
    validate_all_banks,
    validate_bank_file,
)
from .widget import CheckOutcome, Quiz, Recorder, Score


def show_quiz(topic: str, *, seed: int | None = None, recorder: Recorder | None = None) -> Quiz:
    """Display the quiz of a topic and return it (a second display in the same cell is skipped)."""
    from IPython.display import display

    quiz = Quiz(topic, seed=seed, recorder=recorder)
    display(quiz)
    return quiz


__all__ = [
    "Bank",
    "BankProblem",
    "CheckOutcome",
    "Option",
    "Question",
    "Quiz",
    "Recorder",
    "Score",
    "available_topics",
    "load_all_banks",
    "load_bank",
    "question_domains",
    "show_quiz",
    "validate_all_banks",
    "validate_bank_file",
]
