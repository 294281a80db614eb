"""Exercises: the untouched exercise fails its check with a hint; the reference solution passes every check.

Each notebook's code cells are executed in this process, in order, up to the exercise's check cell:
once as committed and once with the exercise cell (tagged `exercise:<id>`) replaced by the reference
solution from labs_support/data/solutions. LABS_SUPPORT_EXPECT makes every `ls.check` in the notebook
raise if it disagrees (see labs_support/checks.py). nbval runs the committed notebooks in a kernel too.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from labs_support import checks
from labs_support.exercises import EXERCISE_TAG_PREFIX, exercise_ids, solution_code
from labs_support.paths import NOTEBOOKS_DIR


def _exercise_cells() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(NOTEBOOKS_DIR.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            for tag in cell.get("metadata", {}).get("tags", []):
                if tag.startswith(EXERCISE_TAG_PREFIX):
                    found[tag.removeprefix(EXERCISE_TAG_PREFIX)] = path
    return found


EXERCISES = _exercise_cells()


def test_every_exercise_has_a_solution_and_an_exercise_check_and_every_solution_an_exercise():
    assert EXERCISES, "no notebook has an exercise cell"
    assert set(EXERCISES) == set(exercise_ids())
    registry = checks.registry()
    for exercise_id in EXERCISES:
        assert registry[exercise_id].exercise, f"{exercise_id} must be registered with exercise=True"


def _run_until_check(path: Path, exercise_id: str, variant: str, monkeypatch) -> checks.CheckResult:
    monkeypatch.chdir(path.parent)
    monkeypatch.setenv("LABS_SUPPORT_EXPECT", variant)
    namespace: dict = {"__name__": "__main__"}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        if variant == "solved" and f"{EXERCISE_TAG_PREFIX}{exercise_id}" in cell.metadata.get("tags", []):
            source = solution_code(exercise_id)
        exec(compile(source, f"{path.name} cell", "exec"), namespace)
        if f'ls.check("{exercise_id}")' in source:
            return checks.run_check(exercise_id)
    raise AssertionError(f'{path.name} has no ls.check("{exercise_id}") cell')


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_the_untouched_exercise_fails_its_check_with_a_hint(exercise_id, monkeypatch):
    result = _run_until_check(EXERCISES[exercise_id], exercise_id, "untouched", monkeypatch)
    assert not result.passed
    assert result.hint and len(result.hint) > 20


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_the_reference_solution_passes_every_check(exercise_id, monkeypatch):
    result = _run_until_check(EXERCISES[exercise_id], exercise_id, "solved", monkeypatch)
    assert result.passed, str(result)
