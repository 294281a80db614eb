"""Where the course's files live: the package data and the repository around it."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
QUESTIONS_DIR = DATA_DIR / "questions"
SOLUTIONS_DIR = DATA_DIR / "solutions"
REPO_DIR = PACKAGE_DIR.parent
NOTEBOOKS_DIR = REPO_DIR / "notebooks"
TEMPLATES_DIR = NOTEBOOKS_DIR / "templates"
