"""The progress store: persistence, concurrent kernels, damaged and read-only files, and the dashboard."""

from __future__ import annotations

import io
import multiprocessing
import os
import re
import sqlite3
import subprocess
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labs_support import progress
from labs_support.errors import message_box
from labs_support.progress import (
    PROGRESS_ENV_VAR,
    Completion,
    ProgressNotice,
    ProgressStore,
    ProgressWarning,
    completion_by_domain,
    dashboard,
    default_store,
    domain_chart,
    progress_path,
)

# Spawned processes import the worker by module name; it lives next to this file.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
from helpers_progress.writer import EXIT_DEGRADED, SHARED_EVERY, SHARED_QUESTION, record_inherited, write_many

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real ~/.dop-c02-course, and start every test without a process-wide store."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv(PROGRESS_ENV_VAR, str(tmp_path / "env" / "progress.sqlite"))
    monkeypatch.setattr(progress, "_default_store", None)
    monkeypatch.setattr(progress, "_ipython_shell", lambda: None)


def answer(store: ProgressStore, qid: str, correct: bool, *, domain: int = 2, topic: str = "cfn-templates") -> None:
    store.record_quiz_answer(question_id=qid, topic=topic, domain=domain, task="2.1", correct=correct, chosen=["B"])


def check(store: ProgressStore, cid: str, passed: bool, *, domain: int = 2) -> None:
    store.record_check(check_id=cid, module=cid.split(".")[0], domain=domain, passed=passed, message="m")


def progress_warnings(recorded: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in recorded if issubclass(w.category, ProgressWarning)]


def raw_counts(path: Path) -> tuple[int, int]:
    """Rows in the file itself, read without the store (and without writing: immutable needs no index)."""
    for query in ("mode=ro", "immutable=1"):  # immutable for a read-only folder (no WAL index possible)
        conn = sqlite3.connect(f"{path.as_uri()}?{query}", uri=True)
        try:
            return (
                conn.execute("SELECT COUNT(*) FROM quiz_answers").fetchone()[0],
                conn.execute("SELECT COUNT(*) FROM checks").fetchone()[0],
            )
        except sqlite3.OperationalError:
            continue
        finally:
            conn.close()
    raise AssertionError(f"{path} could not be read")


def filled_store(path: Path, rows: int = 0) -> ProgressStore:
    """A closed store at `path` with q1 correct, c1 passed, and `rows` more answers (a multi-page file).

    Closed, so everything is in the file itself (no write-ahead log beside it).
    """
    store = ProgressStore(path)
    answer(store, "cfn-templates-01", True)
    check(store, "cfn-templates.c1", True)
    for i in range(rows):
        store.record_quiz_answer(
            question_id=f"filler-{i:04d}",
            topic="filler",
            domain=1,
            task="1.1",
            correct=False,
            chosen=["A"] * 20,
        )
    store.close()
    assert not path.with_name(path.name + "-wal").exists()
    return store


# ---------------------------------------------------------------------------------------- location


def test_progress_path_defaults_to_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROGRESS_ENV_VAR)
    assert progress_path() == tmp_path / "home" / ".dop-c02-course" / "progress.sqlite"
    monkeypatch.setenv(PROGRESS_ENV_VAR, "  ")  # blank counts as unset
    assert progress_path() == tmp_path / "home" / ".dop-c02-course" / "progress.sqlite"


def test_progress_path_follows_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV_VAR, "~/elsewhere/p.sqlite")
    assert progress_path() == tmp_path / "home" / "elsewhere" / "p.sqlite"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(PROGRESS_ENV_VAR, "relative/p.sqlite")
    assert progress_path() == tmp_path / "relative" / "p.sqlite"
    assert progress_path().is_absolute()


def test_default_store_creates_its_folder_and_moves_with_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = default_store()
    assert first.path == tmp_path / "env" / "progress.sqlite"
    assert first.path.is_file()
    assert default_store() is first
    answer(first, "cfn-templates-01", True)

    monkeypatch.setenv(PROGRESS_ENV_VAR, str(tmp_path / "b" / "deeper" / "progress.sqlite"))
    second = default_store()
    assert second is not first
    assert second.path == tmp_path / "b" / "deeper" / "progress.sqlite"
    assert second.path.is_file()
    assert second.quiz_status() == {}
    assert set(ProgressStore(first.path).quiz_status()) == {"cfn-templates-01"}
    assert not (tmp_path / "home" / ".dop-c02-course").exists()


# -------------------------------------------------------------------------------------- persistence


def test_progress_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "p" / "progress.sqlite"
    store = ProgressStore(path)
    answer(store, "q-01", False)
    answer(store, "q-01", True)
    answer(store, "q-02", True)
    answer(store, "q-02", False)
    check(store, "mod.c1", False)
    check(store, "mod.c1", True)
    check(store, "mod.c2", False)
    store.record_check(check_id="mod.c3", module="mod", domain=2, passed=True)
    del store

    restarted = ProgressStore(path)
    status = restarted.quiz_status()
    assert set(status) == {"q-01", "q-02"}
    assert status["q-01"].correct is True
    assert status["q-02"].correct is False
    assert status["q-01"].attempts == status["q-02"].attempts == 2
    assert status["q-01"].last_answered.utcoffset() is not None
    assert status["q-01"].last_answered.utcoffset().total_seconds() == 0
    assert status["q-01"].last_answered < status["q-02"].last_answered
    assert restarted.passed_checks() == {"mod.c1", "mod.c3"}
    assert restarted.counts() == {"quiz_answers": 4, "checks": 4}
    assert restarted.persistent
    assert restarted.notices == []

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        chosen = conn.execute("SELECT chosen FROM quiz_answers ORDER BY id LIMIT 1").fetchone()[0]
        stamps = [r[0] for r in conn.execute("SELECT answered_at FROM quiz_answers ORDER BY id")]
    finally:
        conn.close()
    assert chosen == '["B"]'
    assert all(s.endswith("+00:00") for s in stamps)


def test_recording_takes_a_few_milliseconds(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path / "progress.sqlite")
    start = time.perf_counter()
    for i in range(50):
        answer(store, f"q-{i:02d}", i % 2 == 0)
        check(store, f"mod.c{i}", True)
    per_call = (time.perf_counter() - start) / 100
    assert per_call < 0.025, f"{per_call * 1000:.1f} ms per record call"


def test_importing_and_recording_load_neither_matplotlib_nor_ipython(tmp_path: Path) -> None:
    # A stand-in package, so only progress.py's own imports count (the real __init__ imports much more).
    code = (
        "import sys, types\n"
        "package = types.ModuleType('labs_support')\n"
        f"package.__path__ = [{str(REPO / 'labs_support')!r}]\n"
        "sys.modules['labs_support'] = package\n"
        "import labs_support.progress\n"
        "store = labs_support.progress.ProgressStore(sys.argv[1])\n"
        "store.record_quiz_answer(question_id='q', topic='t', domain=1, task='1.1', correct=True, chosen=[])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'IPython', 'numpy', 'yaml'}))\n"
    )
    args = [sys.executable, "-c", code, str(tmp_path / "progress.sqlite")]
    out = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert ProgressStore(tmp_path / "progress.sqlite").counts()["quiz_answers"] == 1


# ---------------------------------------------------------------------------------------- concurrency


def test_concurrent_kernels_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "progress.sqlite"  # not created yet: the processes race to create it
    workers, count = 4, 250
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter per process, like a kernel
    barrier = ctx.Barrier(workers)
    procs = [ctx.Process(target=write_many, args=(str(path), w, count, barrier)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    codes = [p.exitcode for p in procs]
    assert codes == [0] * workers, f"exit codes {codes} ({EXIT_DEGRADED} = the store degraded)"

    store = ProgressStore(path)
    status = store.quiz_status()
    expected = {f"w{w}-{i:04d}" for w in range(workers) for i in range(count)}
    assert set(status) == expected | {SHARED_QUESTION}
    assert all(status[q].attempts == 1 for q in expected)
    assert status[SHARED_QUESTION].attempts == workers * len(range(0, count, SHARED_EVERY))
    assert store.passed_checks() == {f"concurrency.{q}" for q in expected}
    assert raw_counts(path) == (workers * count + status[SHARED_QUESTION].attempts, workers * count)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_can_keep_recording_with_the_inherited_store(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite"
    store = ProgressStore(path)
    check(store, "parent.before", True)
    assert store._anchor is not None  # the parent holds its connection across the fork
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=record_inherited, args=(store, w, 100)) for w in range(3)]
    for p in procs:
        p.start()
    for i in range(100):
        check(store, f"parent.during-{i}", True)
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    check(store, "parent.after", True)
    store.close()

    passed = ProgressStore(path).passed_checks()
    assert len(passed) == 1 + 100 + 3 * 100 + 1
    assert {"parent.before", "parent.after", "fork.w2-0099"} <= passed


def test_threads_sharing_one_store_lose_nothing(tmp_path: Path) -> None:
    import threading

    store = ProgressStore(tmp_path / "progress.sqlite")

    def work(t: int) -> None:
        for i in range(50):
            answer(store, f"t{t}-{i}", True)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.quiz_status()) == 200


# ------------------------------------------------------------------------------------- damaged files

BACKUP_NAME = re.compile(r"^progress\.sqlite\.corrupt-\d{8}-\d{6}$")


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(6000))


def _text_file(path: Path) -> None:
    path.write_text("These are my notes, not a database.\n" * 40)


def _truncated(path: Path) -> None:
    filled_store(path, rows=400)
    data = path.read_bytes()
    assert len(data) > 4 * 4096  # several pages, so truncation cuts real content
    path.write_bytes(data[: len(data) // 2 + 100])


def _truncated_header(path: Path) -> None:
    filled_store(path)
    path.write_bytes(path.read_bytes()[:60])


def _garbage_pages(path: Path) -> None:
    filled_store(path, rows=400)
    with path.open("r+b") as f:
        f.seek(2 * 4096)
        f.write(os.urandom(3 * 4096))


def _foreign_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE quiz_answers (name TEXT)")
    conn.execute("INSERT INTO quiz_answers VALUES ('something else')")
    conn.commit()
    conn.close()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "random-bytes": _random_bytes,
    "text-file": _text_file,
    "truncated": _truncated,
    "truncated-header": _truncated_header,
    "garbage-pages": _garbage_pages,
    "not-a-progress-database": _foreign_database,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_file_is_set_aside_and_a_fresh_store_works(
    tmp_path: Path, recwarn: pytest.WarningsRecorder, damage: str
) -> None:
    path = tmp_path / "progress.sqlite"
    DAMAGE[damage](path)
    damaged_bytes = path.read_bytes()
    recwarn.clear()

    store = ProgressStore(path)

    backups = [p for p in tmp_path.iterdir() if BACKUP_NAME.match(p.name)]
    assert len(backups) == 1
    assert backups[0].read_bytes() == damaged_bytes  # moved, never rewritten or deleted
    messages = progress_warnings(recwarn)
    assert len(messages) == 1
    assert str(backups[0]) in messages[0]
    assert "saved" in messages[0] and str(path) in messages[0]
    assert "Traceback" not in messages[0]
    assert [n.kind for n in store.notices] == ["corrupt"]
    assert store.persistent

    answer(store, "q-01", True)
    check(store, "mod.c1", True)
    assert set(store.quiz_status()) == {"q-01"}
    assert ProgressStore(path).passed_checks() == {"mod.c1"}
    assert len(progress_warnings(recwarn)) == 1  # told once, not on every call


def test_a_leftover_write_ahead_log_goes_with_the_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite"
    _random_bytes(path)
    (tmp_path / "progress.sqlite-wal").write_bytes(b"old log")
    with pytest.warns(ProgressWarning):
        store = ProgressStore(path)
    backup = next(p for p in tmp_path.iterdir() if BACKUP_NAME.match(p.name))
    assert (tmp_path / f"{backup.name}-wal").read_bytes() == b"old log"
    answer(store, "q-01", True)
    assert set(ProgressStore(path).quiz_status()) == {"q-01"}


def test_damage_found_during_a_session_is_repaired_without_raising(
    tmp_path: Path, recwarn: pytest.WarningsRecorder
) -> None:
    path = tmp_path / "progress.sqlite"
    store = filled_store(path)
    path.write_bytes(os.urandom(8192))

    answer(store, "q-after", True)  # must not raise
    check(store, "mod.after", True)

    assert len(progress_warnings(recwarn)) == 1
    assert len([p for p in tmp_path.iterdir() if BACKUP_NAME.match(p.name)]) == 1
    assert store.persistent
    assert set(ProgressStore(path).quiz_status()) == {"q-after"}
    assert store.passed_checks() == {"mod.after"}


def test_in_a_notebook_the_message_is_a_warning_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython.display

    shown: list[Any] = []
    monkeypatch.setattr(progress, "_ipython_shell", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    path = tmp_path / "progress.sqlite"
    _text_file(path)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ProgressWarning)  # no plain warning in a notebook
        store = ProgressStore(path)
        answer(store, "q-01", True)

    assert len(shown) == 1
    notice = shown[0]
    assert isinstance(notice, ProgressNotice)
    page = notice._repr_html_()
    assert page == message_box(notice.title, notice.message, notice.hint, kind="warning")
    backup = next(p for p in tmp_path.iterdir() if BACKUP_NAME.match(p.name))
    assert str(backup) in page
    assert "Traceback" not in page


# ----------------------------------------------------------------------------------- read-only places


@pytest.fixture
def make_read_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], None]]:
    """Make a file or folder read-only: chmod for a normal user; root ignores modes, so for root SQLite
    opens the place read-only (a real SQLite read-only connection) or cannot create files there."""
    chmodded: list[tuple[Path, int]] = []
    read_only: list[Path] = []
    real_connect = sqlite3.connect

    def connect(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if isinstance(database, str | os.PathLike) and not str(database).startswith("file:"):
            target = Path(database)
            for place in read_only:
                if target == place or target.parent == place:
                    if not target.is_file():
                        raise sqlite3.OperationalError("unable to open database file")
                    kwargs["uri"] = True
                    return real_connect(f"{target.as_uri()}?mode=ro", *args, **kwargs)
        return real_connect(database, *args, **kwargs)

    def make(place: Path) -> None:
        if IS_ROOT:
            read_only.append(place)
            monkeypatch.setattr(sqlite3, "connect", connect)
        else:
            chmodded.append((place, place.stat().st_mode))
            place.chmod(0o555 if place.is_dir() else 0o444)

    yield make
    for place, mode in reversed(chmodded):
        place.chmod(mode)


def test_a_read_only_file_falls_back_to_memory_for_the_session(
    tmp_path: Path, recwarn: pytest.WarningsRecorder, make_read_only: Callable[[Path], None]
) -> None:
    path = tmp_path / "progress.sqlite"
    filled_store(path)
    before = path.read_bytes()
    make_read_only(path)
    recwarn.clear()

    store = ProgressStore(path)
    answer(store, "q-new", True)
    answer(store, "q-new", False)
    check(store, "mod.new", True)

    assert not store.persistent
    messages = progress_warnings(recwarn)
    assert len(messages) == 1
    assert str(path) in messages[0] and PROGRESS_ENV_VAR in messages[0]
    assert "read-only" in messages[0]
    status = store.quiz_status()
    assert set(status) == {"cfn-templates-01", "q-new"}  # what the file held, plus this session
    assert status["q-new"].attempts == 2 and status["q-new"].correct is False
    assert store.passed_checks() == {"cfn-templates.c1", "mod.new"}
    assert path.read_bytes() == before
    assert len(progress_warnings(recwarn)) == 1


@pytest.mark.parametrize("with_file", [False, True], ids=["empty-folder", "folder-with-file"])
def test_a_read_only_folder_falls_back_to_memory_for_the_session(
    tmp_path: Path, recwarn: pytest.WarningsRecorder, make_read_only: Callable[[Path], None], with_file: bool
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "progress.sqlite"
    if with_file:
        filled_store(path)
    make_read_only(folder)
    recwarn.clear()

    store = ProgressStore(path)
    answer(store, "q-new", True)
    check(store, "mod.new", True)

    assert not store.persistent
    messages = progress_warnings(recwarn)
    assert len(messages) == 1 and str(path) in messages[0] and PROGRESS_ENV_VAR in messages[0]
    expected = {"q-new", "cfn-templates-01"} if with_file else {"q-new"}
    assert set(store.quiz_status()) == expected
    assert "mod.new" in store.passed_checks()
    # Nothing new in the folder (SQLite's own index files aside, which root's simulation lets it create).
    names = {p.name for p in folder.iterdir()} - {"progress.sqlite-wal", "progress.sqlite-shm"}
    assert names == ({"progress.sqlite"} if with_file else set())
    if with_file:
        assert raw_counts(path) == (1, 1)


@pytest.mark.parametrize("kind", ["parent-is-a-file", "path-is-a-folder", "under-proc"])
def test_a_path_that_cannot_be_created_falls_back_to_memory(
    tmp_path: Path, recwarn: pytest.WarningsRecorder, kind: str
) -> None:
    # Real failures even for root: no chmod involved.
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    path = {
        "parent-is-a-file": tmp_path / "a-file" / "progress.sqlite",
        "path-is-a-folder": tmp_path / "a-folder",
        "under-proc": Path("/proc/version/progress.sqlite"),
    }[kind]
    store = ProgressStore(path)
    answer(store, "q-01", True)
    check(store, "mod.c1", True)
    answer(store, "q-02", False)

    assert not store.persistent
    messages = progress_warnings(recwarn)
    assert len(messages) == 1 and str(path) in messages[0]
    assert ("not a folder" if kind != "path-is-a-folder" else "is a folder") in messages[0]
    assert set(store.quiz_status()) == {"q-01", "q-02"}
    assert store.passed_checks() == {"mod.c1"}


def test_a_file_that_turns_read_only_during_the_session_keeps_everything(
    tmp_path: Path, recwarn: pytest.WarningsRecorder, make_read_only: Callable[[Path], None]
) -> None:
    path = tmp_path / "progress.sqlite"
    store = ProgressStore(path)
    answer(store, "q-before", True)
    store.close()  # an open handle keeps write access whatever the mode says, as in any program
    make_read_only(path)

    answer(store, "q-after", True)  # must not raise
    check(store, "mod.after", True)

    assert not store.persistent
    assert len(progress_warnings(recwarn)) == 1
    assert set(store.quiz_status()) == {"q-before", "q-after"}
    assert store.passed_checks() == {"mod.after"}
    assert raw_counts(path) == (1, 0)


def test_session_progress_moves_to_a_writable_file_named_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv(PROGRESS_ENV_VAR, str(tmp_path / "a-file" / "progress.sqlite"))
    answer(default_store(), "q-01", True)
    check(default_store(), "mod.c1", True)
    assert not default_store().persistent

    good = tmp_path / "good" / "progress.sqlite"
    monkeypatch.setenv(PROGRESS_ENV_VAR, str(good))
    store = default_store()

    assert store.persistent and store.path == good
    assert [n.kind for n in store.notices] == ["moved"]
    reopened = ProgressStore(good)
    assert set(reopened.quiz_status()) == {"q-01"}
    assert reopened.passed_checks() == {"mod.c1"}


def test_recording_never_raises_even_when_sqlite_itself_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    store = ProgressStore(tmp_path / "progress.sqlite")

    def broken(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(sqlite3, "connect", broken)
    answer(store, "q-01", True)
    check(store, "mod.c1", True)
    assert store.quiz_status() == {}
    assert store.passed_checks() == set()
    messages = progress_warnings(recwarn)
    assert len(messages) == 1 and "the disk caught fire" in messages[0]


# -------------------------------------------------------------------------------------------- reset


def test_reset_keeps_a_backup_and_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "progress.sqlite"
    store = filled_store(path)
    answer(store, "cfn-templates-02", False)

    backup = store.reset()

    assert backup is not None and backup.parent == tmp_path
    assert re.fullmatch(r"progress\.sqlite\.backup-\d{8}-\d{6}", backup.name)
    old = ProgressStore(backup)
    assert set(old.quiz_status()) == {"cfn-templates-01", "cfn-templates-02"}
    assert old.passed_checks() == {"cfn-templates.c1"}
    assert store.quiz_status() == {} and store.passed_checks() == set()
    assert ProgressStore(path).counts() == {"quiz_answers": 0, "checks": 0}
    answer(store, "q-new", True)
    assert set(ProgressStore(path).quiz_status()) == {"q-new"}
    assert store.reset() != backup  # a second reset in the same second gets its own name


def test_reset_in_memory_clears_the_session(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.warns(ProgressWarning):
        store = ProgressStore(tmp_path / "a-file" / "progress.sqlite")
    answer(store, "q-01", True)
    assert store.reset() is None
    assert store.quiz_status() == {}
    answer(store, "q-02", True)
    assert set(store.quiz_status()) == {"q-02"}


# ---------------------------------------------------------------------------------------- dashboard


def test_completion_by_domain_counts_latest_answers_and_checks_passed_once(tmp_path: Path) -> None:
    store = ProgressStore(tmp_path / "progress.sqlite")
    answer(store, "qa", False, domain=1)
    answer(store, "qa", True, domain=1)  # latest correct: done
    answer(store, "qb", True, domain=1)
    answer(store, "qb", False, domain=1)  # latest wrong: not done
    answer(store, "qd", True, domain=5)  # the bank says domain 3: the bank wins
    answer(store, "q-gone", True, domain=1)  # no longer in the bank: ignored
    check(store, "m.c1", False)
    check(store, "m.c1", True)
    check(store, "m.c2", True)
    check(store, "m.c2", False)  # passed once: done
    check(store, "m.c-gone", True)

    questions = {"qa": 1, "qb": 1, "qc": 3, "qd": 3}
    checks = {"m.c1": 2, "m.c2": 2, "m.c3": 6}
    result = completion_by_domain(store, questions, checks)

    assert result == {
        1: Completion(1, 2),
        2: Completion(2, 2),
        3: Completion(1, 2),
        4: Completion(0, 0),
        5: Completion(0, 0),
        6: Completion(0, 1),
    }
    assert result[1].percent == 50.0 and result[2].percent == 100.0
    assert result[4].percent == 0.0 and result[6].percent == 0.0
    assert completion_by_domain(store, {}, {}) == {d: Completion(0, 0) for d in range(1, 7)}


SAMPLE = {
    1: Completion(1, 4),
    2: Completion(9, 10),
    3: Completion(0, 0),
    4: Completion(0, 3),
    5: Completion(0, 0),
    6: Completion(2, 2),
}


def test_domain_chart_has_a_bar_per_domain_and_no_pyplot_figure() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    before = plt.get_fignums()
    fig = domain_chart(SAMPLE)

    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.patches) == 6
    assert [round(p.get_width(), 1) for p in ax.patches] == [25.0, 90.0, 0.0, 0.0, 0.0, 100.0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "1 SDLC Automation (22%)"
    assert labels[5].startswith("6 Security and Compliance")
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("no modules yet") == 2
    assert {"1/4", "9/10", "0/3", "2/2"} <= set(texts)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    assert buffer.getvalue().startswith(b"\x89PNG")
    assert plt.get_fignums() == before


def test_domain_chart_stays_readable_under_a_dark_style() -> None:
    import matplotlib.colors
    import matplotlib.style

    with matplotlib.style.context("dark_background"):
        fig = domain_chart(SAMPLE)
    (ax,) = fig.axes
    assert matplotlib.colors.to_hex(fig.get_facecolor()) == "#ffffff"
    for label in ax.get_yticklabels():
        assert matplotlib.colors.to_hex(label.get_color()) != "#ffffff"


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, int]]:
    """Fake question bank and check registry, as the real modules would provide them."""
    data = {
        "questions": {"cfn-templates-01": 2, "cfn-templates-02": 2, "sdlc-thing-01": 1},
        "checks": {"cfn-templates.exports": 2, "cfn-templates.params": 2, "other.x": 6},
    }
    bank = types.ModuleType("labs_support.quiz.bank")
    bank.question_domains = lambda: data["questions"]  # type: ignore[attr-defined]
    checks = types.ModuleType("labs_support.checks")
    checks.check_domains = lambda: data["checks"]  # type: ignore[attr-defined]
    for name in progress._QUESTION_SOURCES:
        monkeypatch.setitem(sys.modules, name, bank)
    monkeypatch.setitem(sys.modules, "labs_support.checks", checks)
    return data


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import IPython.display

    objs: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda *o, **kw: objs.extend(o))
    return objs


def test_dashboard_shows_the_chart_and_a_module_table(
    tmp_path: Path, sources: dict[str, dict[str, int]], shown: list[Any]
) -> None:
    import matplotlib.pyplot as plt

    store = ProgressStore(tmp_path / "progress.sqlite")
    answer(store, "cfn-templates-01", True)
    answer(store, "cfn-templates-02", False)
    check(store, "cfn-templates.exports", True)
    before = plt.get_fignums()

    dashboard(store)

    assert len(shown) == 1
    page = shown[0]._repr_html_()
    assert page.count('<img src="data:image/png;base64,') == 1
    row = re.search(r"<tr><td[^>]*><code>cfn-templates</code>.*?</tr>", page)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0))
    from labs_support.course import load_course

    assert cells[1] == load_course().module("cfn-templates").title
    assert cells[2:] == ["1/2", "1/2"]
    assert "could not be loaded" not in page
    text = str(shown[0])
    assert "2 Configuration Management and IaC (17%): 2/4 (50%)" in text
    assert "3 Resilient Cloud Solutions (15%): no modules yet" in text
    assert plt.get_fignums() == before


def test_dashboard_uses_the_default_store(tmp_path: Path, sources: dict[str, dict[str, int]], shown: list[Any]) -> None:
    answer(default_store(), "sdlc-thing-01", True)
    dashboard()
    assert "1 SDLC Automation (22%): 1/1 (100%)" in str(shown[0])


def test_dashboard_without_question_bank_or_checks_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shown: list[Any]
) -> None:
    for name in progress._QUESTION_SOURCES:
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    monkeypatch.setitem(sys.modules, "labs_support.checks", None)
    dashboard(ProgressStore(tmp_path / "progress.sqlite"))

    page = shown[0]._repr_html_()
    assert "The quiz questions could not be loaded" in page
    assert "The lab checks could not be loaded" in page
    assert ">0/0<" in page


def test_dashboard_prints_text_outside_ipython(
    tmp_path: Path, sources: dict[str, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    dashboard(ProgressStore(tmp_path / "progress.sqlite"))
    out = capsys.readouterr().out
    assert "Progress by exam domain" in out
    assert "cfn-templates: 0/2, 0/2" in out
