"""Notebooks are source code: clean, consistently structured, and pointing at things that exist."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from labs_support.course import load_course
from labs_support.paths import NOTEBOOKS_DIR, TEMPLATES_DIR
from labs_support.quizzes import load_bank

NOTEBOOKS = sorted(p for p in NOTEBOOKS_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
MODULES = [m for m in load_course().modules if m.available]
# The order every module notebook follows (headings, level 2).
MODULE_SECTIONS = ["Objectives", "Concepts", "Lab", "Exercise", "Check your work", "Quiz", "Clean-up", "Summary"]


def _ids(path: Path) -> str:
    return str(path.relative_to(NOTEBOOKS_DIR))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_is_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, "widget state is committed"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "nbval-check-output" not in cell.metadata.get("tags", []):
            assert cell.execution_count is None, f"execution count left in: {cell.source[:60]}"
            assert cell.outputs == [], f"stray output in: {cell.source[:60]}"
        else:
            assert cell.outputs, f"nbval-check-output cell without its expected output: {cell.source[:60]}"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.id)
def test_module_notebook_follows_the_course_structure(module):
    nb = nbformat.read(module.path, as_version=4)
    headings = [
        line[3:].split(":")[0].strip()
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    positions = [headings.index(s) for s in MODULE_SECTIONS]
    assert positions == sorted(positions), f"sections out of order: {headings}"
    assert nb.cells[0].source.startswith("# "), "a module opens with its title"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.id)
def test_module_notebook_has_its_quiz_of_at_least_eight_questions_and_checks(module):
    source = "\n".join(c.source for c in nbformat.read(module.path, as_version=4).cells if c.cell_type == "code")
    assert f'ls.quiz("{module.id}")' in source
    assert len(load_bank(module.id).questions) >= 8
    assert re.search(rf'ls\.check\("{re.escape(module.id)}\.', source)
    assert "ls.start_sandbox()" in source


def test_course_map_matches_the_notebooks_on_disk():
    for module in load_course().modules:
        assert module.path.exists() == module.available, module.notebook
        folder = load_course().domain(module.domain).folder
        assert module.notebook.startswith(folder + "/"), f"{module.id} is not in its domain's folder"


def test_links_between_notebooks_point_at_existing_files():
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for target in re.findall(r"\]\(([^)#]+\.ipynb)\)", cell.source):
                assert (path.parent / target).resolve().exists(), f"{_ids(path)} links to missing {target}"


TEMPLATES = sorted(TEMPLATES_DIR.rglob("*.yaml"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES_DIR)))
def test_lab_templates_pass_cfn_lint(template):
    from cfnlint.api import lint_file

    problems = lint_file(template)
    assert not problems, "\n".join(str(p) for p in problems)
