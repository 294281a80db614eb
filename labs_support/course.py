"""The course catalogue: the exam's domains, their task statements and the modules that teach them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import yaml

from .errors import CourseDataError
from .paths import DATA_DIR, NOTEBOOKS_DIR


@dataclass(frozen=True)
class Domain:
    """One of the exam's six content domains."""

    number: int
    name: str
    weight: int
    folder: str
    tasks: dict[str, str]


@dataclass(frozen=True)
class Module:
    """A notebook of the course: its id is also its quiz topic and the prefix of its lab checks."""

    id: str
    domain: int
    title: str
    notebook: str
    status: str

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def path(self):
        return NOTEBOOKS_DIR / self.notebook


@dataclass(frozen=True)
class Course:
    """Everything in course.yaml."""

    exam: dict
    domains: tuple[Domain, ...]
    modules: tuple[Module, ...]

    def domain(self, number: int) -> Domain:
        for d in self.domains:
            if d.number == number:
                return d
        raise CourseDataError(f"There is no domain {number}; the exam has domains 1 to 6.")

    def module(self, module_id: str) -> Module:
        for m in self.modules:
            if m.id == module_id:
                return m
        known = ", ".join(m.id for m in self.modules)
        raise CourseDataError(f"There is no module '{module_id}'.", hint=f"Known modules: {known}.")

    def all_tasks(self) -> dict[str, str]:
        """Every task statement, keyed '2.1' and so on."""
        return {k: v for d in self.domains for k, v in d.tasks.items()}


@cache
def load_course() -> Course:
    """Read data/course.yaml once per process."""
    path = DATA_DIR / "course.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        domains = tuple(
            Domain(d["number"], d["name"], d["weight"], d["folder"], {str(k): v for k, v in d["tasks"].items()})
            for d in raw["domains"]
        )
        modules = tuple(Module(m["id"], m["domain"], m["title"], m["notebook"], m["status"]) for m in raw["modules"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise CourseDataError(f"{path} could not be read: {e}") from e
    return Course(raw["exam"], domains, modules)
