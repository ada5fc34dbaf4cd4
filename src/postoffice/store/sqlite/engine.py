"""SQLite underneath the store: one writer thread that commits in groups, readers of their own.

SQLite allows one writer at a time, and a durable commit costs an fsync. So every write goes
through a single writer thread: it takes the first waiting job, then every job that queued up
behind it (up to `max_group`), runs each in its own SAVEPOINT inside one transaction and commits
once. Under load many appends share one fsync; alone, a job is committed at once. A job that fails
rolls back its savepoint only; the others in its group still commit. Callers are told their
result only after COMMIT has returned, which with `journal_mode=WAL` and `synchronous=FULL` means
the WAL is on disk (the "durable before reply" order of docs/architecture.md).

Readers run on a small thread pool, each thread with its own connection; WAL lets them read the
last committed state while the writer works. Other processes (the `postoffice` admin commands
while the server runs) open the same file: `busy_timeout` makes them wait for the lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]
# A result row as sqlite3 gives it: each value is of the type of the column the query named.
Row = tuple[Any, ...]

BUSY_TIMEOUT_MS = 30_000
CHECKPOINT_INTERVAL_S = 1.0


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: the WAL is fsynced at every commit, so a committed transaction survives power loss.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def inserted_id(cur: sqlite3.Cursor) -> int:
    """The rowid of the row the INSERT run by `cur` added."""
    if cur.lastrowid is None:  # only after a statement that inserted nothing
        raise sqlite3.OperationalError("the statement inserted no row")
    return cur.lastrowid


def migrate(conn: sqlite3.Connection) -> int:
    """Applies the numbered migrations above `PRAGMA user_version`; returns the new version."""
    files = sorted(
        (p for p in resources.files("postoffice.store.sqlite").joinpath("migrations").iterdir()
         if p.name.endswith(".sql")),
        key=lambda p: int(p.name.split("_", 1)[0]),
    )
    conn.execute("BEGIN IMMEDIATE")
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        for f in files:
            number = int(f.name.split("_", 1)[0])
            if number > version:
                log.info("store: applying migration %s", f.name)
                for statement in _statements(f.read_text()):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                version = number
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return version


def _statements(script: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            out.append("\n".join(current))
            current = []
    return [s for s in out if s.strip()]


class Writer:
    """The one writing connection, fed by a queue of jobs, committing in groups."""

    def __init__(self, path: Path, *, group_commit: bool = True, max_group: int = 256) -> None:
        self._conn = connect(path)
        # Checkpoints (copying the WAL back into the database, with an fsync) would otherwise run
        # inside some unlucky commit and stall every client waiting on it; a thread of their own
        # does them instead, without blocking the writer (PASSIVE).
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._jobs: queue.SimpleQueue[tuple[Job[Any], concurrent.futures.Future[Any]] | None] = queue.SimpleQueue()
        self._max_group = max_group if group_commit else 1
        self.commits = 0  # for the benchmark: transactions committed
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoints, args=(path,), name="store-checkpoint",
                                              daemon=True)
        self._checkpointer.start()

    def _checkpoints(self, path: Path) -> None:
        conn = connect(path)
        try:
            while not self._stop.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    log.warning("store: checkpoint failed; trying again later", exc_info=True)
        finally:
            conn.close()

    def submit(self, job: Job[T]) -> concurrent.futures.Future[T]:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, fut))
        return fut

    async def run(self, job: Job[T]) -> T:
        return await asyncio.wrap_future(self.submit(job))

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join()
        self._jobs.put(None)
        self._thread.join()
        try:  # fold the WAL back into the database, so a stopped store is one file
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # another process holds it open; its own close or the next start will do it
        self._conn.close()

    def _run(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    nxt = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._jobs.put(None)  # finish this group, then stop
                    break
                group.append(nxt)
            self._commit_group(group)

    def _commit_group(self, group: list[tuple[Job[Any], concurrent.futures.Future[Any]]]) -> None:
        pending = group
        while pending:
            pending = self._try_group(pending)

    def _try_group(self, group: list[tuple[Job[Any], concurrent.futures.Future[Any]]]
                   ) -> list[tuple[Job[Any], concurrent.futures.Future[Any]]]:
        """Commits the group; returns the jobs to try again when one failure aborted the transaction."""
        conn = self._conn
        results: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for i, (job, fut) in enumerate(group):
                conn.execute("SAVEPOINT job")
                try:
                    results.append((True, job(conn)))
                    conn.execute("RELEASE job")
                except BaseException as e:  # the job's own failure: undo it alone
                    if not conn.in_transaction:
                        # SQLite rolled the whole transaction back (a full disk, an I/O error): the
                        # failing job gets its error, the others run again without it.
                        fut.set_exception(e)
                        return group[:i] + group[i + 1:]
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((False, e))
            conn.execute("COMMIT")
            self.commits += 1
        except BaseException as e:  # BEGIN or COMMIT failed: nothing of the group is durable
            log.exception("store: commit of %d writes failed", len(group))
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            for _, fut in group:
                if not fut.done():
                    fut.set_exception(e)
            return []
        for (ok, value), (_, fut) in zip(results, group):
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
        return []


class Readers:
    """Read-only work on a thread pool, one connection per thread."""

    def __init__(self, path: Path, *, threads: int = 4) -> None:
        self._path = path
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="store-reader")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._path)
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    async def run(self, job: Job[T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: job(self._conn()))

    def quick(self, job: Job[T]) -> T:
        """Runs a point lookup (an indexed read of a row or a few) right here, on the caller's own
        connection: it takes microseconds, less than the hop to a thread and back would."""
        return job(self._conn())

    def run_sync(self, job: Job[T]) -> T:
        return self._pool.submit(lambda: job(self._conn())).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
