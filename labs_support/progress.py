"""The learner's progress: every quiz answer and lab check, kept in a small SQLite file.

The file is `$DOP_COURSE_PROGRESS` if set, else `~/.dop-c02-course/progress.sqlite`. Several notebooks
(kernels, so processes) may write at the same time: the file is in WAL mode, every call opens its own
connection with a busy timeout and writes in one short `BEGIN IMMEDIATE` transaction. One more idle
connection per store stays open only to keep those calls fast (see `_open_anchor`).

Recording never raises into a quiz or a check. A damaged file is moved aside to
`<name>.corrupt-<YYYYmmdd-HHMMSS>` and a fresh one started; a location that cannot be written makes the
store keep this session's progress in memory. Either way the learner is told once, in plain words.

    store = default_store()
    store.record_quiz_answer(question_id="cfn-templates-01", topic="cfn-templates", domain=2,
                             task="2.1", correct=True, chosen=["B"])
    dashboard()
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import sqlite3
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import message_box

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PROGRESS_ENV_VAR = "DOP_COURSE_PROGRESS"
EXAM_DOMAINS = (1, 2, 3, 4, 5, 6)

_BUSY_TIMEOUT_S = 5.0  # sqlite3's busy handler waits this long for another kernel's write lock
_ATTEMPTS = 3
_SCHEMA_VERSION = "1"
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS quiz_answers (
    id INTEGER PRIMARY KEY,
    question_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    domain INTEGER NOT NULL,
    task TEXT NOT NULL,
    correct INTEGER NOT NULL,
    chosen TEXT NOT NULL,
    answered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS quiz_answers_by_question ON quiz_answers (question_id, answered_at);
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY,
    check_id TEXT NOT NULL,
    module TEXT NOT NULL,
    domain INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    message TEXT NOT NULL,
    checked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checks_by_check ON checks (check_id, passed);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# The data columns of each table (not the row id), in insert order.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "quiz_answers": ("question_id", "topic", "domain", "task", "correct", "chosen", "answered_at"),
    "checks": ("check_id", "module", "domain", "passed", "message", "checked_at"),
}

T = TypeVar("T")


def progress_path() -> Path:
    """The progress file: `$DOP_COURSE_PROGRESS` if set, else ~/.dop-c02-course/progress.sqlite."""
    value = os.environ.get(PROGRESS_ENV_VAR, "").strip()
    if value:
        return Path(value).expanduser().absolute()
    try:
        home = Path.home()
    except (RuntimeError, KeyError):  # no HOME and no passwd entry: keep it next to the notebooks
        home = Path.cwd()
    return home / ".dop-c02-course" / "progress.sqlite"


# ----------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class QuizStatus:
    """Where the learner stands on one question: the latest attempt decides `correct`."""

    question_id: str
    correct: bool
    attempts: int
    last_answered: datetime


@dataclass(frozen=True)
class Completion:
    """How many of a domain's items (questions and checks) are done."""

    done: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0


class ProgressWarning(UserWarning):
    """The progress store had to set a file aside or fall back to memory (outside a notebook)."""


@dataclass(frozen=True)
class ProgressNotice:
    """A message for the learner about their progress file; HTML in a notebook, text elsewhere."""

    kind: str  # "corrupt", "unwritable", "moved", "reset-failed" or "error"
    title: str
    message: str
    hint: str | None = None

    def _repr_html_(self) -> str:
        return message_box(self.title, self.message, self.hint, kind="warning")

    def __str__(self) -> str:
        text = f"{self.title}\n{self.message}"
        return f"{text}\nHint: {self.hint}" if self.hint else text

    __repr__ = __str__


# -------------------------------------------------------------------------------------------- internals


class _Trouble(Exception):
    """Why the progress file cannot be used, found by our own checks rather than raised by SQLite."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _classify(exc: BaseException) -> tuple[str, str]:
    """(kind, reason in plain words) for a failure: corrupt, busy, schema or unwritable."""
    if isinstance(exc, _Trouble):
        return exc.kind, exc.reason
    if isinstance(exc, sqlite3.Error):
        text = str(exc)
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None  # extended codes keep the primary low byte
        said = f"SQLite said: {text}"
        if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or any(
            s in text for s in ("malformed", "not a database")
        ):
            return "corrupt", f"the file is damaged or is not a database ({said})"
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text or "busy" in text:
            return "busy", f"another program kept the file locked for too long ({said})"
        if "no such table" in text:
            return "schema", said
        if primary == sqlite3.SQLITE_READONLY or "readonly" in text or "read-only" in text:
            return "unwritable", f"the file or its folder is read-only ({said})"
        if primary == sqlite3.SQLITE_CANTOPEN or "unable to open" in text:
            why = "the file could not be opened or created; usually its folder is read-only or missing"
            return "unwritable", f"{why} ({said})"
        if primary == sqlite3.SQLITE_FULL or "is full" in text:
            return "unwritable", f"the disk is full ({said})"
        return "unwritable", said
    if isinstance(exc, PermissionError):
        return "unwritable", f"permission denied ({exc.filename or exc})"
    if isinstance(exc, NotADirectoryError | FileExistsError):
        return "unwritable", f"part of the path is a file, not a folder ({exc.filename or exc})"
    if isinstance(exc, OSError):
        return "unwritable", f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
    return "unwritable", f"{type(exc).__name__}: {exc}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def _free_name(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`... if a file of that name exists already."""
    candidate, n = path, 1
    while candidate.exists() or candidate.with_name(candidate.name + "-wal").exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _header_problem(path: Path) -> str | None:
    """Why `path` can't be an SQLite file, judged from its first bytes; None if it may be one.

    Checked before SQLite opens it: SQLite would delete a leftover `-wal` next to a non-database on close,
    and that log may hold the learner's last answers.
    """
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except FileNotFoundError:
        return None
    except OSError:
        return None  # unreadable: SQLite reports it, and it is not damage
    if not head:
        return None  # SQLite treats an empty file as an empty database
    if head.startswith(_SQLITE_MAGIC):
        short = f"it was cut short ({len(head)} bytes, less than an SQLite header)"
        return None if len(head) == 100 else short
    if head.isascii() and all(c >= 32 or c in b"\t\n\r" for c in head):
        return "it is a text file, not an SQLite database"
    return "it is not an SQLite database (it does not start with the SQLite header)"


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so a second writer waits in the busy handler instead of
    # failing half-way with a deadlock error (SQLITE_BUSY_SNAPSHOT is not retried by the handler).
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (a setting kept in the file), so readers and a writer don't block each other.

    The switch needs an exclusive lock and SQLite returns "locked" at once instead of waiting (no busy
    handler), which happens when several kernels create the file together: retry for a while. A file
    left in rollback mode, or on a filesystem without WAL support, still works, with less concurrency.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if _classify(exc)[0] != "busy":
                raise
            if time.monotonic() > deadline:
                return  # the next open tries again
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _pause(attempt: int) -> None:
    """Back off before retrying after "database is locked" that outlasted the busy timeout."""
    time.sleep(0.05 * (attempt + 1))


def _new_memory_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.executescript(_SCHEMA)
    return conn


def _insert_rows(conn: sqlite3.Connection, table: str, rows: list[tuple[Any, ...]]) -> None:
    columns = _COLUMNS[table]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    conn.executemany(sql, rows)


def _select_rows(conn: sqlite3.Connection, table: str, after_id: int = 0) -> list[tuple[Any, ...]]:
    sql = f"SELECT {', '.join(_COLUMNS[table])} FROM {table} WHERE id > ? ORDER BY id"
    return conn.execute(sql, (after_id,)).fetchall()


def _ipython_shell() -> Any:
    """The running IPython shell, or None (IPython is not imported just to find out)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        return ipython.get_ipython()
    except Exception:
        return None


def _show_notice(notice: ProgressNotice) -> None:
    if _ipython_shell() is not None:
        try:
            from IPython.display import display

            display(notice)
            return
        except Exception:
            pass
    # Point the warning at the first frame outside this module (the learner's call), not at our internals.
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(str(notice), ProgressWarning, stacklevel=level)


# ------------------------------------------------------------------------------------------------ store


class ProgressStore:
    """Quiz answers and check results in one SQLite file, safe to share between kernels.

    `persistent` is False when this session's progress is kept in memory because the file could not
    be written; `notices` lists what the learner was told.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path).expanduser().absolute() if path is not None else progress_path()
        self.notices: list[ProgressNotice] = []
        self.fallback_reason: str | None = None
        self._lock = threading.RLock()
        self._memory: sqlite3.Connection | None = None
        self._session_start = {"quiz_answers": 0, "checks": 0}  # memory ids above these: this session
        self._checked_id: tuple[int, int] | None = None  # the file last opened, so only it is set aside
        self._anchor: sqlite3.Connection | None = None
        _live_stores.add(self)
        with self._lock:
            self._open()

    def __repr__(self) -> str:
        where = "" if self.persistent else ", in memory"
        return f"ProgressStore({str(self.path)!r}{where})"

    @property
    def persistent(self) -> bool:
        """True while progress is being saved to the file."""
        return self._memory is None

    # ---------------------------------------------------------------------------------------- writing

    def record_quiz_answer(
        self, *, question_id: str, topic: str, domain: int, task: str, correct: bool, chosen: list[str]
    ) -> None:
        """Keep one attempt at a question (every attempt is kept, with a UTC timestamp)."""

        def write(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                _insert_rows(conn, "quiz_answers", [row])

        try:
            row = (
                str(question_id), str(topic), int(domain), str(task), int(bool(correct)),
                json.dumps([str(c) for c in chosen]), _now(),
            )  # fmt: skip
            self._run(write)
        except Exception as exc:  # a quiz must go on whatever happens here
            self._unexpected(exc)

    def record_check(self, *, check_id: str, module: str, domain: int, passed: bool, message: str = "") -> None:
        """Keep one run of a lab check."""

        def write(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                _insert_rows(conn, "checks", [row])

        try:
            row = (str(check_id), str(module), int(domain), int(bool(passed)), str(message), _now())
            self._run(write)
        except Exception as exc:
            self._unexpected(exc)

    def reset(self) -> Path | None:
        """Start over: copy the progress aside as `<name>.backup-<YYYYmmdd-HHMMSS>`, then clear it.

        Returns the backup's path (None when progress was only in memory, or nothing could be saved).
        """
        with self._lock:
            if self._memory is not None:
                self._clear(self._memory)
                self._session_start = {"quiz_answers": 0, "checks": 0}
                return None
            try:
                # Not through _run: a backup that can't be written must not send the store to memory.
                with self._file_connection() as conn:
                    return self._backup_and_clear(conn)
            except Exception as exc:
                reason = _classify(exc)[1]
                self._notify(
                    ProgressNotice(
                        "reset-failed",
                        "Your progress was not reset",
                        f"A backup of {self.path} could not be written ({reason}), so nothing was cleared.",
                        "Check that the folder is writable and has free space, then try again.",
                    ),
                    once=False,
                )
                return None

    # ---------------------------------------------------------------------------------------- reading

    def quiz_status(self) -> dict[str, QuizStatus]:
        """Per question id: is the latest attempt correct, how many attempts, when was the last one."""

        def read(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(
                """
                SELECT question_id, correct, attempts, answered_at FROM (
                    SELECT question_id, correct, answered_at,
                           COUNT(*) OVER (PARTITION BY question_id) AS attempts,
                           ROW_NUMBER() OVER (
                               PARTITION BY question_id ORDER BY answered_at DESC, id DESC) AS n
                    FROM quiz_answers)
                WHERE n = 1
                """
            ).fetchall()

        return {
            qid: QuizStatus(qid, bool(correct), attempts, datetime.fromisoformat(at))
            for qid, correct, attempts, at in self._read(read, [])
        }

    def passed_checks(self) -> set[str]:
        """Ids of the checks that passed at least once."""

        def read(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute("SELECT DISTINCT check_id FROM checks WHERE passed = 1").fetchall()

        return {check_id for (check_id,) in self._read(read, [])}

    def counts(self) -> dict[str, int]:
        """How many quiz answers and check runs are stored (all attempts)."""

        def read(conn: sqlite3.Connection) -> dict[str, int]:
            return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in _COLUMNS}

        return self._read(read, dict.fromkeys(_COLUMNS, 0))

    # --------------------------------------------------------------------------------------- plumbing

    @contextmanager
    def _file_connection(self) -> Iterator[sqlite3.Connection]:
        # One connection per call: none is shared across a fork, and a file moved aside is not written again.
        conn = sqlite3.connect(str(self.path), timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; skips an fsync per answer
            yield conn
        finally:
            conn.close()

    def _read(self, op: Callable[[sqlite3.Connection], T], default: T) -> T:
        try:
            return self._run(op)
        except Exception as exc:
            self._unexpected(exc)
            return default

    def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run `op` on the file, repairing or degrading on trouble; in memory once degraded."""
        with self._lock:
            for attempt in range(_ATTEMPTS + 1):
                if self._memory is not None:
                    return op(self._memory)
                try:
                    self._checked_id = _file_id(self.path)
                    with self._file_connection() as conn:
                        result = op(conn)
                    self._open_anchor()
                    return result
                except (sqlite3.Error, OSError) as exc:
                    kind, reason = _classify(exc)
                    if attempt == _ATTEMPTS:
                        self._fall_back(reason)
                    elif kind == "busy":
                        _pause(attempt)
                    elif kind == "corrupt":
                        if self._set_aside(reason):
                            self._open()
                    else:  # schema or unwritable: the file or its folder may be gone; _open decides
                        self._open()
            assert self._memory is not None
            return op(self._memory)

    def _open(self) -> None:
        """Make the file ready; set a damaged one aside, or fall back to memory if it can't be written."""
        for attempt in range(_ATTEMPTS):
            try:
                self._prepare_file()
                return
            except (sqlite3.Error, OSError, _Trouble) as exc:
                kind, reason = _classify(exc)
                if kind == "busy" and attempt + 1 < _ATTEMPTS:
                    _pause(attempt)
                    continue
                if kind == "corrupt" and self._set_aside(reason):
                    continue
                if self._memory is None:
                    self._fall_back(reason)
                return
        self._fall_back("the file stayed unusable after it was set aside")

    def _prepare_file(self) -> None:
        if self.path.is_dir():
            raise _Trouble("unwritable", f"{self.path} is a folder, not a file")
        self._checked_id = _file_id(self.path)
        problem = _header_problem(self.path)
        if problem:
            # Another kernel may be writing a brand-new file's first page right now: a real problem stays.
            time.sleep(0.05)
            if _header_problem(self.path) == problem and _file_id(self.path) == self._checked_id:
                raise _Trouble("corrupt", problem)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._file_connection() as conn:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            if rows != [("ok",)]:
                found = "; ".join(str(r[0]) for r in rows[:3])
                raise _Trouble("corrupt", f"SQLite's integrity check found problems ({found})")
            for table, columns in _COLUMNS.items():
                present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                if present and not set(columns) <= present:
                    raise _Trouble(
                        "corrupt",
                        f"it is an SQLite database, but not a progress file of this course "
                        f"(its table {table} lacks {', '.join(sorted(set(columns) - present))})",
                    )
            _enable_wal(conn)
            # The meta row is a real write: it proves now, not at the first answer, that the file is writable.
            conn.executescript(
                f"BEGIN IMMEDIATE;{_SCHEMA}"
                f"INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '{_SCHEMA_VERSION}');"
                "COMMIT;"
            )
        self._open_anchor()

    def _open_anchor(self) -> None:
        """Hold one idle connection for as long as the store lives.

        When the last connection to a WAL file closes, SQLite checkpoints it and syncs the disk: with
        a connection per call that was every call, ~1 ms on an idle disk but 20 ms on a busy one. While
        this one stays open, a call costs a fraction of a millisecond.
        """
        if self._anchor is not None or _fork_inherited_anchors:
            return
        anchor = None
        try:  # only a speed-up: never an error
            anchor = sqlite3.connect(
                str(self.path), timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            anchor.execute("SELECT COUNT(*) FROM meta").fetchone()  # maps the WAL index, takes the shared lock
        except Exception:
            if anchor is not None:
                with suppress(Exception):
                    anchor.close()
            return
        self._anchor = anchor

    def close(self) -> None:
        """Let go of the file (the store stays usable: the next call opens it again)."""
        with self._lock:
            if self._anchor is not None:
                anchor, self._anchor = self._anchor, None
                with suppress(sqlite3.Error):
                    anchor.close()

    def _set_aside(self, reason: str) -> bool:
        """Move a damaged file to `<name>.corrupt-<stamp>`; False if it could not be (then in memory)."""
        if _file_id(self.path) != self._checked_id:
            return True  # another kernel already replaced the damaged file: use the new one
        self.close()  # before the rename: closing later would delete the fresh file's log by name
        target = _free_name(self.path.with_name(f"{self.path.name}.corrupt-{_stamp()}"))
        try:
            self.path.rename(target)
        except FileNotFoundError:
            return True  # another kernel set it aside a moment ago
        except OSError as exc:
            self._fall_back(f"it is damaged ({reason}) and could not be moved aside: {_classify(exc)[1]}")
            return False
        # A leftover write-ahead log would be replayed into the fresh file: it goes with the old one.
        for suffix in ("-wal", "-shm", "-journal"):
            side = self.path.with_name(self.path.name + suffix)
            try:
                side.rename(target.with_name(target.name + suffix))
            except FileNotFoundError:
                pass
            except OSError:
                if suffix == "-shm":  # only an index SQLite rebuilds; the others hold data
                    side.unlink(missing_ok=True)
        self._notify(
            ProgressNotice(
                "corrupt",
                "Your progress file could not be read, so it was set aside",
                f"The progress file {self.path} could not be used: {reason}. "
                f"It has been moved to {target} (nothing was deleted). "
                f"A fresh progress file was started at {self.path}, and your progress from now on "
                "is saved there.",
                "Answers and checks recorded before this are in the moved file. You can keep it for a "
                "bug report or delete it once you no longer need it.",
            )
        )
        return True

    def _fall_back(self, reason: str) -> None:
        """Keep this session's progress in memory, starting from whatever the file still lets us read."""
        if self._memory is not None:
            return
        self.close()
        memory = _new_memory_db()
        kept = self._copy_readable_rows(memory)
        for table in _COLUMNS:
            self._session_start[table] = memory.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
        self._memory = memory
        self.fallback_reason = reason
        earlier = (
            f" The {kept} answers and check results already saved in it were read and still count." if kept else ""
        )
        self._notify(
            ProgressNotice(
                "unwritable",
                "Your progress can't be saved to disk in this session",
                f"The progress file {self.path} can't be written: {reason}. "
                "Until this kernel stops, your quiz answers and lab checks are kept in memory, so nothing "
                "you do in this session is lost, but it will not be there after a kernel restart." + earlier,
                f"Make sure {self.path.parent} is a folder you can write to, and the file too if it "
                f"exists (for example: chmod u+w '{self.path.parent}' '{self.path}'), "
                f"or point {PROGRESS_ENV_VAR} at a file in a writable folder, "
                f"e.g. run %env {PROGRESS_ENV_VAR}=/path/to/progress.sqlite in a cell; this session's "
                "answers are carried over to the new file.",
            )
        )

    def _copy_readable_rows(self, memory: sqlite3.Connection) -> int:
        if not self.path.is_file():
            return 0
        uri = self.path.as_uri()
        # mode=ro needs the WAL index; immutable=1 reads a read-only folder's file without one.
        for query in ("mode=ro", "immutable=1"):
            try:
                source = sqlite3.connect(f"{uri}?{query}", uri=True, timeout=_BUSY_TIMEOUT_S)
                try:
                    rows = {table: _select_rows(source, table) for table in _COLUMNS}
                finally:
                    source.close()
            except sqlite3.Error:
                continue
            with _transaction(memory):
                for table, table_rows in rows.items():
                    _insert_rows(memory, table, table_rows)
            return sum(len(r) for r in rows.values())
        return 0

    def _session_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Rows recorded in memory during this session (not those read from the file)."""
        with self._lock:
            if self._memory is None:
                return {}
            return {t: _select_rows(self._memory, t, self._session_start[t]) for t in _COLUMNS}

    def _adopt(self, rows: dict[str, list[tuple[Any, ...]]], source: Path) -> None:
        """Save another store's in-memory session rows here (the learner moved the progress file)."""
        if not any(rows.values()):
            return

        def write(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                for table, table_rows in rows.items():
                    _insert_rows(conn, table, table_rows)

        try:
            self._run(write)
        except Exception as exc:
            self._unexpected(exc)
            return
        if self.persistent:
            n = sum(len(r) for r in rows.values())
            self._notify(
                ProgressNotice(
                    "moved",
                    "Progress saved to the new file",
                    f"{n} answers and check results kept in memory (because {source} could not be written) "
                    f"are now saved in {self.path}.",
                )
            )

    def _backup_and_clear(self, conn: sqlite3.Connection) -> Path:
        # Copy and clear inside one write transaction, so no other kernel's answer falls between the two.
        with _transaction(conn):
            rows = {table: _select_rows(conn, table) for table in _COLUMNS}
            target = _free_name(self.path.with_name(f"{self.path.name}.backup-{_stamp()}"))
            backup = sqlite3.connect(str(target), isolation_level=None)
            try:
                backup.executescript(_SCHEMA)
                with _transaction(backup):
                    for table, table_rows in rows.items():
                        _insert_rows(backup, table, table_rows)
            finally:
                backup.close()
            self._clear(conn, in_transaction=True)
        return target

    @staticmethod
    def _clear(conn: sqlite3.Connection, *, in_transaction: bool = False) -> None:
        if in_transaction:
            for table in _COLUMNS:
                conn.execute(f"DELETE FROM {table}")
            return
        with _transaction(conn):
            for table in _COLUMNS:
                conn.execute(f"DELETE FROM {table}")

    def _notify(self, notice: ProgressNotice, *, once: bool = True) -> None:
        if once and any(n.kind == notice.kind for n in self.notices):
            return
        self.notices.append(notice)
        try:
            _show_notice(notice)
        except Exception:
            print(notice, file=sys.stderr)

    def _unexpected(self, exc: Exception) -> None:
        self._notify(
            ProgressNotice(
                "error",
                "Progress could not be recorded",
                f"Recording progress in {self.path} failed unexpectedly ({type(exc).__name__}: {exc}). "
                "The lab itself is not affected.",
                "Please report this message with the course's issue tracker.",
            )
        )


# A forked child inherits SQLite's record of the parent's locks without the locks themselves; it must not
# use or close the parent's connections (https://www.sqlite.org/howtocorrupt.html#fork). So after a fork
# the inherited anchors are parked, never closed, and the child works without anchors.
_live_stores: weakref.WeakSet[ProgressStore] = weakref.WeakSet()
_parked_after_fork: list[sqlite3.Connection] = []
_fork_inherited_anchors = False


def _after_fork_in_child() -> None:
    global _fork_inherited_anchors
    for store in list(_live_stores):
        if store._anchor is not None:
            _parked_after_fork.append(store._anchor)
            store._anchor = None
            _fork_inherited_anchors = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


_default_lock = threading.Lock()
_default_store: ProgressStore | None = None


def default_store() -> ProgressStore:
    """The process-wide store for the current `progress_path()` (a new one if the path changed)."""
    global _default_store
    path = progress_path()
    with _default_lock:
        old = _default_store
        if old is None or old.path != path:
            _default_store = ProgressStore(path)
            if old is not None and not old.persistent:
                _default_store._adopt(old._session_rows(), old.path)
        return _default_store


# -------------------------------------------------------------------------------------------- dashboard


def completion_by_domain(
    store: ProgressStore, question_domains: dict[str, int], check_domains: dict[str, int]
) -> dict[int, Completion]:
    """Done/total per exam domain (all six): questions whose latest attempt was correct, checks passed once.

    Totals are the sizes of the given catalogues; stored ids missing from them are ignored.
    """
    return _completion(store.quiz_status(), store.passed_checks(), question_domains, check_domains)


def _completion(
    status: dict[str, QuizStatus],
    passed: set[str],
    question_domains: dict[str, int],
    check_domains: dict[str, int],
) -> dict[int, Completion]:
    done = dict.fromkeys(EXAM_DOMAINS, 0)
    total = dict.fromkeys(EXAM_DOMAINS, 0)
    for qid, domain in question_domains.items():
        if domain in total:
            total[domain] += 1
            done[domain] += qid in status and status[qid].correct
    for cid, domain in check_domains.items():
        if domain in total:
            total[domain] += 1
            done[domain] += cid in passed
    return {d: Completion(done[d], total[d]) for d in EXAM_DOMAINS}


def _domain_labels() -> dict[int, str]:
    labels = {d: f"Domain {d}" for d in EXAM_DOMAINS}
    try:
        from .course import load_course

        labels.update({d.number: f"{d.number} {d.name} ({d.weight}%)" for d in load_course().domains})
    except Exception:
        pass
    return labels


_INK = "#222222"
_MUTED = "#6b6b6b"
_BAR = "#2f6db5"
_TRACK = "#ebebeb"


def domain_chart(completion: dict[int, Completion]) -> Figure:
    """A horizontal bar per domain: percent complete, annotated done/total ("no modules yet" if empty).

    The figure is not registered with pyplot (nothing to close, no backend switch): render it with
    `fig.savefig` or display it. Its white card keeps dark text readable in light and dark themes.
    """
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = _domain_labels()
    domains = sorted(completion)
    rc = {
        "font.size": 10,
        "text.color": _INK,
        "axes.labelcolor": _INK,
        "axes.edgecolor": _MUTED,
        "xtick.color": _INK,
        "ytick.color": _INK,
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "savefig.transparent": False,
    }
    # The learner's own style (a dark one, say) must not turn the text white on our white card.
    with matplotlib.style.context("default"), matplotlib.rc_context(rc):
        fig = Figure(figsize=(8.0, 0.45 * len(domains) + 1.3), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ys = list(range(len(domains)))
        # A grey track (a collection, not a bar) behind the domains that have items; none for "no modules yet".
        for y, d in zip(ys, domains, strict=True):
            if completion[d].total:
                ax.broken_barh([(0, 100)], (y - 0.3, 0.6), facecolors=_TRACK, zorder=0)
        ax.barh(ys, [completion[d].percent for d in domains], height=0.6, color=_BAR, label="complete")
        ax.set_yticks(ys, [labels.get(d, f"Domain {d}") for d in domains])
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% complete")
        ax.set_title("Progress by exam domain", loc="left", fontweight="bold")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for y, d in zip(ys, domains, strict=True):
            c = completion[d]
            if c.total == 0:
                ax.text(1.5, y, "no modules yet", va="center", color=_MUTED, style="italic")
            elif c.percent > 75:
                ax.text(c.percent - 1.5, y, f"{c.done}/{c.total}", va="center", ha="right", color="white")
            else:
                ax.text(c.percent + 1.5, y, f"{c.done}/{c.total}", va="center", color=_INK)
    return fig


@dataclass(frozen=True)
class _DashboardView:
    html: str
    text: str

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def _question_topic(question_id: str) -> str:
    # The bank validates ids as '<topic>-NN', so the topic is everything before the last dash.
    return question_id.rsplit("-", 1)[0]


def _module_rows(
    status: dict[str, QuizStatus],
    passed: set[str],
    question_domains: dict[str, int],
    check_domains: dict[str, int],
) -> list[tuple[str, str, int, int, int, int]]:
    """(id, title, questions correct, questions, checks passed, checks) per available module."""
    from .course import load_course

    rows = []
    for module in load_course().modules:
        if not module.available:
            continue
        questions = [q for q in question_domains if _question_topic(q) == module.id]
        checks = [c for c in check_domains if c.split(".", 1)[0] == module.id]
        correct = sum(1 for q in questions if q in status and status[q].correct)
        rows.append((module.id, module.title, correct, len(questions), sum(c in passed for c in checks), len(checks)))
    return rows


def _dashboard_html(png: bytes, rows: list[tuple[str, str, int, int, int, int]], notes: list[str]) -> str:
    cell = "padding:3px 10px;text-align:left;border-bottom:1px solid rgba(128,128,128,.35)"
    num = cell.replace("text-align:left", "text-align:right")
    body = "".join(
        f'<tr><td style="{cell}"><code>{html.escape(mid)}</code></td>'
        f'<td style="{cell}">{html.escape(title)}</td>'
        f'<td style="{num}">{qc}/{qt}</td><td style="{num}">{cp}/{ct}</td></tr>'
        for mid, title, qc, qt, cp, ct in rows
    )
    if not rows:
        body = f'<tr><td style="{cell}" colspan="4">No module is available yet.</td></tr>'
    head = "".join(
        f'<th style="{num if i >= 2 else cell}">{h}</th>'
        for i, h in enumerate(("Module", "Title", "Quiz questions correct", "Checks passed"))
    )
    note_html = "".join(f'<div style="font-size:85%;opacity:.75;margin-top:4px">{html.escape(n)}</div>' for n in notes)
    image = base64.b64encode(png).decode("ascii")
    return (
        '<div style="font-family:var(--jp-ui-font-family,sans-serif)">'
        f'<img src="data:image/png;base64,{image}" alt="Progress by exam domain" '
        'style="max-width:100%;border-radius:6px">'
        f'<table style="border-collapse:collapse;margin-top:8px"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>{note_html}</div>"
    )


def _dashboard_text(
    completion: dict[int, Completion], rows: list[tuple[str, str, int, int, int, int]], notes: list[str]
) -> str:
    labels = _domain_labels()
    lines = ["Progress by exam domain"]
    for d, c in sorted(completion.items()):
        state = "no modules yet" if c.total == 0 else f"{c.done}/{c.total} ({c.percent:.0f}%)"
        lines.append(f"  {labels.get(d, f'Domain {d}')}: {state}")
    lines.append("Modules (quiz questions correct, checks passed)")
    lines += [f"  {mid}: {qc}/{qt}, {cp}/{ct}  {title}" for mid, title, qc, qt, cp, ct in rows]
    return "\n".join(lines + notes)


# Where the totals come from, imported only when the dashboard is shown. The quiz package was named
# `quiz` in the original plan and is `quizzes` now; the first module that imports wins.
_QUESTION_SOURCES = ("labs_support.quizzes.bank", "labs_support.quiz.bank")
_CHECK_SOURCES = ("labs_support.checks",)


def _catalogue(modules: tuple[str, ...], function: str, what: str, notes: list[str]) -> dict[str, int]:
    """id -> domain from the first of `modules` that provides `function`; {} and a note if none does."""
    import importlib

    problem: Exception | None = None
    for name in modules:
        try:
            return dict(getattr(importlib.import_module(name), function)())
        except Exception as exc:  # the dashboard shows what it can
            problem = problem or exc
    notes.append(f"The {what} could not be loaded ({type(problem).__name__}: {problem}), so they are not counted.")
    return {}


def dashboard(store: ProgressStore | None = None) -> None:
    """Show progress per exam domain (a bar chart) and per available module (a table)."""
    store = store if store is not None else default_store()
    notes: list[str] = []
    questions = _catalogue(_QUESTION_SOURCES, "question_domains", "quiz questions", notes)
    checks = _catalogue(_CHECK_SOURCES, "check_domains", "lab checks", notes)
    if not store.persistent:
        notes.append(f"Progress is kept in memory for this session only: {store.fallback_reason}.")

    status, passed = store.quiz_status(), store.passed_checks()
    completion = _completion(status, passed, questions, checks)
    try:
        rows = _module_rows(status, passed, questions, checks)
    except Exception as exc:
        rows = []
        notes.append(f"The course catalogue could not be read ({exc}).")
    fig = domain_chart(completion)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    fig.clear()
    view = _DashboardView(_dashboard_html(buffer.getvalue(), rows, notes), _dashboard_text(completion, rows, notes))
    try:
        from IPython.display import display
    except ImportError:
        print(view)
        return
    display(view)


__all__ = [
    "EXAM_DOMAINS",
    "PROGRESS_ENV_VAR",
    "Completion",
    "ProgressNotice",
    "ProgressStore",
    "ProgressWarning",
    "QuizStatus",
    "completion_by_domain",
    "dashboard",
    "default_store",
    "domain_chart",
    "progress_path",
]
