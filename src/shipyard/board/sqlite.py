"""`SqliteBoard`: the durable board, one SQLite file in WAL mode, shared by threads and processes.

Each change runs in one `BEGIN IMMEDIATE` transaction: load the task, apply the rule from `rules`, write
the task back (guarded on its old status and attempts) and append its events. The write lock SQLite
takes at `BEGIN IMMEDIATE` is what makes a claim atomic across processes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from shipyard.board import rules
from shipyard.board.base import Completion, Landed
from shipyard.board.rules import Redact, Transition
from shipyard.board.transitions import Transitions
from shipyard.domain import Event, Handoff, Task, TaskKind, TaskSpec, TaskStatus
from shipyard.errors import BoardError
from shipyard.redact import Redactor

SCHEMA_VERSION = "1"
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    acceptance TEXT NOT NULL,
    scope TEXT NOT NULL,
    priority INTEGER NOT NULL,
    kind TEXT NOT NULL,
    planner TEXT NOT NULL,
    parent_id INTEGER,
    depth INTEGER NOT NULL,
    cycle INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    lease_holder TEXT,
    lease_expires REAL,
    handoff TEXT,
    commits TEXT NOT NULL,
    notes TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_claim_order ON tasks (status, kind, priority DESC, id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    task_id INTEGER,
    agent TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_task ON events (task_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_INSERT_TASK = """
INSERT INTO tasks (title, description, acceptance, scope, priority, kind, planner, parent_id, depth, cycle,
                   status, attempts, commits, notes, created, updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', 0, '[]', '[]', ?, ?)
"""

_UPDATE_TASK = """
UPDATE tasks SET status = ?, attempts = ?, lease_holder = ?, lease_expires = ?, handoff = ?, priority = ?,
                 commits = ?, notes = ?, updated = ?
WHERE id = ? AND status = ? AND attempts = ?
"""

_UPSERT_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

_NEXT_OPEN = "SELECT * FROM tasks WHERE status = 'open' AND kind = ? ORDER BY priority DESC, id LIMIT 1"


class SqliteBoard(Transitions):
    """The board in the SQLite file at `path` (created with its folder if missing).

    `redact` cleans free text before it is stored; the default masks secrets from the environment.
    """

    def __init__(self, path: Path, redact: Redact | None = None) -> None:
        self.path = path
        self._redact: Redact = redact or Redactor()
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise BoardError(f"cannot open the board at {path}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        """Set the pragmas and create the schema; safe when another process opens the file too."""
        with self._read() as db:
            db.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            _enable_wal(db)
            db.execute("PRAGMA synchronous = NORMAL")
        with self._write() as db:
            for statement in _SCHEMA.split(";\n"):
                if statement.strip():
                    db.execute(statement)
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
            found = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
            if found != SCHEMA_VERSION:
                raise BoardError(f"{self.path}: board schema {found}, expected {SCHEMA_VERSION}")

    def add_task(self, spec: TaskSpec) -> Task:
        now, spec = time.time(), rules.redact_spec(spec, self._redact)
        with self._write() as db:
            cursor = db.execute(_INSERT_TASK, (*_spec_row(spec), now, now))
            assert cursor.lastrowid is not None
            task = Task(id=cursor.lastrowid, spec=spec)
            _insert_events(db, [rules.created(task, now)])
            return task

    def get(self, task_id: int) -> Task:
        with self._read() as db:
            return _load(db, task_id)

    def tasks(self, status: TaskStatus | None = None) -> list[Task]:
        with self._read() as db:
            if status is None:
                rows = db.execute("SELECT * FROM tasks ORDER BY id").fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM tasks WHERE status = ? ORDER BY id", (status.value,)
                ).fetchall()
        return [_task(row) for row in rows]

    def claim(self, agent: str, kind: TaskKind, lease_s: float, now: float | None = None) -> Task | None:
        at = rules.clock(now)
        with self._write() as db:
            row = db.execute(_NEXT_OPEN, (kind.value,)).fetchone()
            if row is None:
                return None
            task = _task(row)
            return _store(db, task, rules.claimed(task, agent, lease_s, at))

    def land(
        self, completions: Sequence[Completion], swap: Callable[[], bool], events: Sequence[Event] = ()
    ) -> Landed:
        events = [rules.redact_event(e, self._redact) for e in events]
        said = [rules.redact_handoff(c.handoff, self._redact) or c.handoff for c in completions]
        with self._write() as db:
            tasks = [_load(db, c.task_id) for c in completions]
            gone = tuple(t.id for t, c in zip(tasks, completions, strict=True) if rules.revoked(t, c.agent))
            if gone or not swap():
                return Landed(refused=gone)
            at = time.time()
            logged = _insert_events(db, events)
            for task, c, handoff in zip(tasks, completions, said, strict=True):
                transition = rules.completed(task, c.agent, c.commits, handoff, at)
                _store(db, task, transition)
                logged += transition.events
            return Landed(events=tuple(logged))

    def expire_leases(self, max_attempts: int, now: float | None = None) -> list[Task]:
        at = rules.clock(now)
        query = "SELECT * FROM tasks WHERE status = 'claimed' AND lease_expires <= ? ORDER BY id"
        with self._write() as db:
            stale = [_task(row) for row in db.execute(query, (at,)).fetchall()]
            return [_store(db, t, rules.expired(t, max_attempts, at)) for t in stale]

    def append(self, event: Event) -> Event:
        event = rules.redact_event(event, self._redact)
        with self._write() as db:
            return _insert_events(db, [event])[0]

    def events(self, since: int = 0, limit: int | None = None) -> list[Event]:
        query = "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?"
        with self._read() as db:
            rows = db.execute(query, (since, -1 if limit is None else limit)).fetchall()
        return [_event(row) for row in rows]

    def counts(self) -> dict[str, int]:
        counts = rules.empty_counts()
        with self._read() as db:
            for status, n in db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status"):
                counts[status] = n
        return counts

    def get_meta(self, key: str) -> str | None:
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        value = self._redact(value)
        with self._write() as db:
            db.execute(_UPSERT_META, (key, value))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _apply(self, task_id: int, rule: Callable[[Task], Transition]) -> Task:
        with self._write() as db:
            task = _load(db, task_id)
            return _store(db, task, rule(task))

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The connection, for this thread alone; SQLite errors become `BoardError`."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise BoardError(f"board {self.path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from the start; rolled back on error."""
        with self._read() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise


def _enable_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL, retrying for a while: SQLite refuses the switch at once (its busy timeout
    does not apply) while another process is creating the same file."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    pause_s = 0.001
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(pause_s)
        pause_s = min(pause_s * 2, 0.05)


def _load(db: sqlite3.Connection, task_id: int) -> Task:
    row = db.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if row is None:
        raise rules.unknown(task_id)
    return _task(row)


def _store(db: sqlite3.Connection, old: Task, transition: Transition) -> Task:
    """Write the task's new state, guarded on the state it was read in, and append its events."""
    new = transition.task
    handoff = None if new.handoff is None else json.dumps(new.handoff.as_dict())
    values = (new.status.value, new.attempts, new.lease_holder, new.lease_expires, handoff, new.spec.priority)
    lists = (json.dumps(list(new.commits)), json.dumps(list(new.notes)))
    guard = (new.id, old.status.value, old.attempts)
    cursor = db.execute(_UPDATE_TASK, (*values, *lists, time.time(), *guard))
    if cursor.rowcount != 1:
        raise BoardError(f"task {new.id} changed while it was being updated")
    _insert_events(db, transition.events)
    return new


def _insert_events(db: sqlite3.Connection, events: Sequence[Event]) -> list[Event]:
    stored = []
    for event in events:
        ts = event.ts or time.time()
        text, data = rules.json_text(event.data)
        cursor = db.execute(
            "INSERT INTO events (ts, kind, task_id, agent, data) VALUES (?, ?, ?, ?, ?)",
            (ts, event.kind, event.task_id, event.agent, text),
        )
        assert cursor.lastrowid is not None
        stored.append(replace(event, id=cursor.lastrowid, ts=ts, data=data))
    return stored


def _spec_row(spec: TaskSpec) -> tuple[Any, ...]:
    return (
        spec.title,
        spec.description,
        spec.acceptance,
        json.dumps(list(spec.scope)),
        spec.priority,
        spec.kind.value,
        spec.planner,
        spec.parent_id,
        spec.depth,
        spec.cycle,
    )


def _task(row: sqlite3.Row) -> Task:
    spec = TaskSpec(
        title=row["title"],
        description=row["description"],
        acceptance=row["acceptance"],
        scope=tuple(json.loads(row["scope"])),
        priority=row["priority"],
        kind=TaskKind(row["kind"]),
        planner=row["planner"],
        parent_id=row["parent_id"],
        depth=row["depth"],
        cycle=row["cycle"],
    )
    return Task(
        id=row["id"],
        spec=spec,
        status=TaskStatus(row["status"]),
        attempts=row["attempts"],
        lease_holder=row["lease_holder"],
        lease_expires=row["lease_expires"],
        handoff=None if row["handoff"] is None else Handoff(**json.loads(row["handoff"])),
        commits=tuple(json.loads(row["commits"])),
        notes=tuple(json.loads(row["notes"])),
    )


def _event(row: sqlite3.Row) -> Event:
    return Event(
        kind=row["kind"],
        data=json.loads(row["data"]),
        task_id=row["task_id"],
        agent=row["agent"],
        id=row["id"],
        ts=row["ts"],
    )
