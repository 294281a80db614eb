"""Question banks: reading, validating and caching the exam-style questions of each quiz topic.

A bank is `data/questions/<topic>.yaml`. Its structure is checked with `bank.schema.json`; the rules
that span several fields (option counts, answer ids, the task of a domain, unique ids) are checked
here. A broken question is reported as a `BankProblem` and left out; the rest of its bank still loads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ..course import load_course
from ..errors import CourseDataError
from ..paths import QUESTIONS_DIR

SCHEMA_PATH = Path(__file__).with_name("bank.schema.json")
DOCS_PREFIXES = ("https://docs.aws.amazon.com/", "https://aws.amazon.com/")
SUFFIX = ".yaml"
_TOPIC_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Option:
    """One answer option, as written in the bank (its id is the bank letter, not the displayed one)."""

    id: str
    text: str
    explanation: str


@dataclass(frozen=True)
class Question:
    """One validated exam-style question."""

    id: str
    topic: str
    domain: int
    task: str
    choose: int
    stem: str
    options: tuple[Option, ...]
    answer: tuple[str, ...]
    docs: tuple[str, ...]
    hint: str | None = None

    @property
    def multiple(self) -> bool:
        """True for a multiple-response question (choose two or more)."""
        return self.choose > 1

    def option(self, option_id: str) -> Option:
        """The option with this bank id."""
        for opt in self.options:
            if opt.id == option_id:
                return opt
        raise KeyError(option_id)


@dataclass(frozen=True)
class BankProblem:
    """Something wrong in a bank file; `question_id` is None for problems with the file as a whole."""

    file: str
    question_id: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.question_id is not None:
            where.append(f"question {self.question_id}")
        return ": ".join([*where, self.message])


@dataclass
class Bank:
    """The loadable questions of one topic and the problems found in its file."""

    topic: str
    title: str
    questions: list[Question]
    problems: list[BankProblem] = field(default_factory=list)
    path: Path | None = None

    @property
    def broken_question_ids(self) -> list[str]:
        """Ids of the questions left out because of a problem, in file order."""
        seen: dict[str, None] = {}
        for p in self.problems:
            if p.question_id is not None:
                seen.setdefault(p.question_id, None)
        return list(seen)


@dataclass(frozen=True)
class _Parsed:
    """The cached result of reading one file, before checks that need the other banks."""

    topic: str
    title: str
    questions: tuple[Question, ...]
    problems: tuple[BankProblem, ...]


_CACHE: dict[tuple[Path, int, int], _Parsed] = {}


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _location(path: Iterable[Any]) -> str:
    """Turn a JSON path like ['options', 2, 'text'] into 'options[3].text' (1-based, as authors count)."""
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: jsonschema.ValidationError, rel_path: list[Any]) -> str:
    """A schema error in words an author can act on."""
    loc = _location(rel_path)
    last = rel_path[-1] if rel_path else None
    if error.validator == "type" and last == "task" and isinstance(error.instance, int | float):
        return f'task must be a quoted string like "{error.instance}" (YAML read it as a number)'
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        text = f"missing required field '{missing[0]}'" if missing else error.message
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        text = f"unknown field{'s' if len(extra) > 1 else ''} {', '.join(repr(str(k)) for k in extra)}"
    elif error.validator == "pattern" and last == "id" and "options" not in rel_path:
        return f"id {error.instance!r} must look like '<topic>-01' (lower case, ending in two digits)"
    elif error.validator == "pattern" and last == "id":
        text = f"option id {error.instance!r} must be a single lower-case letter"
    elif error.validator == "pattern" and error.validator_value == r"\S":
        text = "must not be blank"
    else:
        text = error.message
    return f"{loc}: {text}" if loc else text


def _error_order(error: jsonschema.ValidationError) -> list[tuple[int, int | str]]:
    return [(0, p) if isinstance(p, int) else (1, p) for p in error.absolute_path]


def _yaml_problem(name: str, error: yaml.YAMLError) -> BankProblem:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    context_mark = getattr(error, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    text = f"YAML syntax error: {getattr(error, 'problem', None) or str(error).splitlines()[0]}"
    if mark is not None:
        text += f" (column {mark.column + 1})"
    context = getattr(error, "context", None)
    if context and context_mark is not None and context_mark.line + 1 != line:
        text += f"; {context} that starts on line {context_mark.line + 1}"
    elif context:
        text += f"; {context}"
    return BankProblem(name, None, text, line=line)


def _question_label(raw: Any, index: int) -> str:
    qid = raw.get("id") if isinstance(raw, dict) else None
    return qid if isinstance(qid, str) and qid else f"#{index + 1}"


def _semantic_problems(raw: dict, stem: str) -> list[str]:
    """Checks the schema cannot express, for one schema-valid question."""
    msgs: list[str] = []
    qid: str = raw["id"]
    if not qid.startswith(f"{stem}-"):
        msgs.append(f"id must start with '{stem}-' (the topic of this file)")
    option_ids = [o["id"] for o in raw["options"]]
    dupes = sorted({i for i in option_ids if option_ids.count(i) > 1})
    if dupes:
        msgs.append(f"option id(s) {', '.join(repr(d) for d in dupes)} used more than once")
    choose, n_options = raw["choose"], len(raw["options"])
    if choose == 1 and n_options != 4:
        msgs.append(f"a multiple-choice question (choose: 1) needs exactly 4 options; it has {n_options}")
    elif choose >= 2 and n_options < 5:
        msgs.append(f"a multiple-response question (choose: {choose}) needs at least 5 options; it has {n_options}")
    elif choose >= n_options:
        msgs.append(f"choose is {choose} but there are only {n_options} options")
    for answer_id in raw["answer"]:
        if answer_id not in option_ids:
            msgs.append(f"answer lists {answer_id!r}, which is not an option")
    if len(raw["answer"]) != choose:
        msgs.append(f"choose is {choose} but answer lists {len(raw['answer'])} option(s); they must match")
    domain, task = raw["domain"], raw["task"]
    tasks = load_course().domain(domain).tasks
    if task not in tasks:
        owner = next((d.number for d in load_course().domains if task in d.tasks), None)
        also = f"; it belongs to domain {owner}" if owner else ""
        msgs.append(f"task {task} is not a task statement of domain {domain} (its tasks are {', '.join(tasks)}){also}")
    for url in raw["docs"]:
        if not url.startswith(DOCS_PREFIXES):
            msgs.append(f"docs link {url!r} must start with {' or '.join(DOCS_PREFIXES)}")
    if re.search(r"\(choose\b", raw["stem"], re.IGNORECASE):
        msgs.append('stem must not contain "(Choose ...)"; the quiz adds it from `choose`')
    return msgs


def _build_question(raw: dict, topic: str) -> Question:
    return Question(
        id=raw["id"],
        topic=topic,
        domain=int(raw["domain"]),
        task=raw["task"],
        choose=int(raw["choose"]),
        stem=raw["stem"].strip(),
        options=tuple(Option(o["id"], o["text"].strip(), o["explanation"].strip()) for o in raw["options"]),
        answer=tuple(raw["answer"]),
        docs=tuple(raw["docs"]),
        hint=raw["hint"].strip() if raw.get("hint") else None,
    )


def _parse(path: Path) -> _Parsed:
    """Read and check one bank file without looking at the other banks."""
    name, stem = path.name, path.stem
    problems: list[BankProblem] = []
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as e:
        return _Parsed(stem, stem, (), (_yaml_problem(name, e),))
    except (OSError, UnicodeDecodeError) as e:
        return _Parsed(stem, stem, (), (BankProblem(name, None, f"the file could not be read: {e}"),))
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        msg = f"the file is {what}; it needs topic, title and questions"
        return _Parsed(stem, stem, (), (BankProblem(name, None, msg),))

    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list):
        raw_questions = []
    bad: set[int] = set()
    for error in sorted(_validator().iter_errors(data), key=_error_order):
        path_parts = list(error.absolute_path)
        if len(path_parts) >= 2 and path_parts[0] == "questions" and isinstance(path_parts[1], int):
            index = path_parts[1]
            bad.add(index)
            label = _question_label(raw_questions[index], index)
            problems.append(BankProblem(name, label, _describe(error, path_parts[2:])))
        else:
            problems.append(BankProblem(name, None, _describe(error, path_parts)))

    topic = data.get("topic")
    if isinstance(topic, str) and topic != stem:
        msg = f"topic is '{topic}' but the file is {name}; they must match"
        problems.append(BankProblem(name, None, msg))
    title = data.get("title") if isinstance(data.get("title"), str) else stem

    questions: list[Question] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(raw_questions):
        if index in bad:
            continue
        qid = raw["id"]
        msgs = _semantic_problems(raw, stem)
        if qid in first_index:
            msgs.insert(
                0,
                f"id is used more than once in this file (questions {first_index[qid] + 1} "
                f"and {index + 1}); only the first one is kept",
            )
        else:
            first_index[qid] = index
        problems.extend(BankProblem(name, qid, m) for m in msgs)
        if not msgs:
            questions.append(_build_question(raw, stem))
    return _Parsed(stem, title, tuple(questions), tuple(problems))


def _parsed(path: Path) -> _Parsed:
    """`_parse` with a cache keyed by the file's path, modification time and size."""
    path = path.resolve()
    try:
        st = path.stat()
    except OSError:
        return _parse(path)
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        for old in [k for k in _CACHE if k[0] == path]:
            del _CACHE[old]
        _CACHE[key] = _parse(path)
    return _CACHE[key]


def clear_cache() -> None:
    """Forget every parsed bank (the cache already notices edited files; this is for tests)."""
    _CACHE.clear()


def _bank_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == SUFFIX and p.is_file())


def _cross_bank_duplicates(path: Path, parsed: _Parsed, earlier: Iterable[Path]) -> list[BankProblem]:
    """Problems for ids of this bank already used by a bank that sorts before it (that one keeps it)."""
    owners: dict[str, str] = {}
    for other in earlier:
        for q in _parsed(other).questions:
            owners.setdefault(q.id, other.name)
    return [
        BankProblem(path.name, q.id, f"id is already used in {owners[q.id]}; ids must be unique across banks")
        for q in parsed.questions
        if q.id in owners
    ]


def _bank(path: Path, files: list[Path]) -> Bank:
    parsed = _parsed(path)
    earlier = [f for f in files if f.name < path.name]
    cross = _cross_bank_duplicates(path, parsed, earlier)
    dropped = {p.question_id for p in cross}
    return Bank(
        topic=path.stem,
        title=parsed.title,
        questions=[q for q in parsed.questions if q.id not in dropped],
        problems=[*parsed.problems, *cross],
        path=path,
    )


def validate_bank_file(path: str | Path) -> list[BankProblem]:
    """Every problem in one bank file, including ids already used by a bank sorting before it."""
    path = Path(path)
    if not path.is_file():
        return [BankProblem(path.name, None, "the file does not exist")]
    return _bank(path, _bank_files(path.parent)).problems


def validate_all_banks(directory: str | Path | None = None) -> list[BankProblem]:
    """Every problem in every bank of the folder (the course's own banks by default)."""
    return [p for bank in load_all_banks(directory).values() for p in bank.problems]


def available_topics(directory: str | Path | None = None) -> list[str]:
    """Topics that have a bank file, sorted."""
    return [p.stem for p in _bank_files(Path(directory) if directory else QUESTIONS_DIR)]


def load_bank(topic: str, directory: str | Path | None = None) -> Bank:
    """The valid questions of one topic plus the problems of its broken ones."""
    folder = Path(directory) if directory else QUESTIONS_DIR
    files = _bank_files(folder)
    path = folder / f"{topic}{SUFFIX}"
    if not isinstance(topic, str) or not _TOPIC_RE.match(topic) or path not in files:
        topics = [p.stem for p in files]
        hint = f"Available topics: {', '.join(topics)}." if topics else f"{folder} has no question banks yet."
        raise CourseDataError(f"There is no question bank for the topic '{topic}'.", hint=hint)
    return _bank(path, files)


def load_all_banks(directory: str | Path | None = None) -> dict[str, Bank]:
    """Every bank of the folder, keyed by topic in sorted order."""
    files = _bank_files(Path(directory) if directory else QUESTIONS_DIR)
    return {path.stem: _bank(path, files) for path in files}


def question_domains(directory: str | Path | None = None) -> dict[str, int]:
    """Exam domain of every loadable question of every bank, keyed by question id."""
    return {q.id: q.domain for bank in load_all_banks(directory).values() for q in bank.questions}


__all__ = [
    "Bank",
    "BankProblem",
    "Option",
    "Question",
    "available_topics",
    "clear_cache",
    "load_all_banks",
    "load_bank",
    "question_domains",
    "validate_all_banks",
    "validate_bank_file",
]
