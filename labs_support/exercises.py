"""Exercises and their reference solutions, one mechanism for every module.

The committed notebook holds the learner's version of an exercise: a code cell tagged
`exercise:<id>`. The reference solution is the code that replaces that cell, kept out of the notebook in
labs_support/data/solutions/<module>.yaml with an explanation:

    cfn-templates.logging:
      explanation: Why the solution looks the way it does.
      code: |
        logging_template = '''...'''

`solution(id)` shows a button that reveals it (the code reaches the browser only when clicked); the
test suite runs every notebook once as committed (exercise checks must fail, with a hint) and once with
the solutions swapped in (every check must pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import yaml

from .errors import CourseDataError, message_box
from .paths import SOLUTIONS_DIR

EXERCISE_TAG_PREFIX = "exercise:"


@dataclass(frozen=True)
class Solution:
    """The reference solution of one exercise."""

    exercise_id: str
    code: str
    explanation: str


@cache
def _solutions() -> dict[str, Solution]:
    found: dict[str, Solution] = {}
    for path in sorted(SOLUTIONS_DIR.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for exercise_id, entry in data.items():
                found[exercise_id] = Solution(exercise_id, entry["code"], entry["explanation"].strip())
        except (yaml.YAMLError, KeyError, TypeError, AttributeError) as e:
            raise CourseDataError(f"The solutions file {path.name} is malformed: {e}") from e
    return found


def solution_code(exercise_id: str) -> str:
    """The code that replaces the exercise cell."""
    return _get(exercise_id).code


def exercise_ids() -> list[str]:
    """Every exercise that has a reference solution."""
    return sorted(_solutions())


def _get(exercise_id: str) -> Solution:
    solutions = _solutions()
    if exercise_id not in solutions:
        raise CourseDataError(
            f"There is no reference solution for '{exercise_id}'.",
            hint=f"Exercises with solutions: {', '.join(sorted(solutions)) or 'none'}.",
        )
    return solutions[exercise_id]


def solution(exercise_id: str):  # type: ignore[no-untyped-def]
    """A button that reveals the reference solution (and its explanation) when clicked."""
    import html

    import ipywidgets as widgets

    entry = _get(exercise_id)
    button = widgets.Button(
        description="Reveal the reference solution", icon="eye", layout=widgets.Layout(width="auto")
    )
    shown = widgets.HTML()

    def reveal(_: object) -> None:
        button.layout.display = "none"
        code = html.escape(entry.code.rstrip())
        shown.value = (
            message_box("Reference solution", entry.explanation, kind="info")
            + f'<pre style="padding:8px;border:1px solid #8a8a8a55;border-radius:4px;overflow:auto">{code}</pre>'
            + "<small>Copy it into the exercise cell above (replacing what is there), run that cell, the "
            "deploy cell and the check again.</small>"
        )

    button.on_click(reveal)
    return widgets.VBox([button, shown])
