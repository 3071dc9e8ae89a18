"""The embedded store: leadflow's default adapter, one SQLite file (or ``:memory:``).

Scope: a real system of record on the standard library's :mod:`sqlite3` — for teams without a
CRM, and for the state CRMs do not keep: score and explanation history, stage history,
rejections, outcomes, SLA clocks, and the sync cursors of jobs that read other adapters.

Guarantees:

* **Versioned schema.** ``PRAGMA user_version`` records the schema version; opening a store
  applies the missing migrations in one transaction, and a store written by a newer leadflow is
  refused rather than misread.
* **A transaction per batch.** :meth:`SQLiteAdapter.write` applies a whole batch in one
  ``BEGIN IMMEDIATE`` transaction (each write in a savepoint, so a bad write fails alone): a
  process killed mid-batch leaves the batch entirely absent, never half-applied.
* **Two processes at once.** WAL journal mode (readers never block the writer) and a busy
  timeout: a second writer waits for the lock instead of failing.
* **Incremental reads.** Every change takes the next number of a store-wide change counter; a
  cursor is the last number read, so a reader resumes exactly after it.

>>> from datetime import datetime, timezone
>>> from leadflow.model import Lead
>>> from leadflow.ports import Entity, ScoreWrite
>>> store = SQLiteAdapter(":memory:")
>>> at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
>>> _ = store.upsert(Entity.LEAD, [Lead(id="L-1", email="ada@example.com", created_at=at)])
>>> [page] = store.read_leads()
>>> page.items[0].item.email, page.items[0].version, page.cursor.token
('ada@example.com', '1', '1')
>>> [r.status.value for r in store.write([ScoreWrite(lead_id="L-1", score=71.0)] * 2)]
['applied', 'unchanged']
>>> list(store.read_leads(page.cursor))[0].items[0].version
'2'
>>> store.close()
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from leadflow.errors import AdapterError, ConfigError, LeadflowError, ValidationError
from leadflow.model import Account, Activity, Lead, OwnerChange, StageChange, Touch
from leadflow.outcomes import Outcome
from leadflow.ports import (
    Capabilities,
    Cursor,
    Entity,
    OutcomeWrite,
    Page,
    RejectionWrite,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    Versioned,
    Write,
    WriteKind,
    WriteResult,
    WriteStatus,
)
from leadflow.reasons import Disposition, Rejection

__all__ = [
    "SCHEMA_VERSION",
    "ImportReport",
    "RowError",
    "SLAClock",
    "SQLiteAdapter",
    "ScoreRecord",
]

_CLASSES: dict[Entity, type[Any]] = {
    Entity.LEAD: Lead,
    Entity.ACCOUNT: Account,
    Entity.ACTIVITY: Activity,
    Entity.TOUCH: Touch,
}
_TABLES: dict[Entity, str] = {
    Entity.LEAD: "leads",
    Entity.ACCOUNT: "accounts",
    Entity.ACTIVITY: "activities",
    Entity.TOUCH: "touches",
}


def _columns(cls: type[Any]) -> list[tuple[str, str]]:
    """(column, SQL type) for the scalar fields of a model class."""
    out = []
    for field in attrs.fields(cls):
        if field.name in {"history", "properties", "owner_history"}:
            continue
        annotation = str(field.type)
        sql = (
            "INTEGER"
            if annotation.startswith("int")
            else "REAL"
            if annotation.startswith("float")
            else "TEXT"
        )
        out.append((field.name, sql))
    return out


def _entity_table(entity: Entity) -> str:
    cls = _CLASSES[entity]
    cols = ",\n    ".join(
        f"{name} {sql}{' PRIMARY KEY' if name == 'id' else ''}" for name, sql in _columns(cls)
    )
    props = (
        "    properties TEXT NOT NULL DEFAULT '{}',\n"
        if "properties" in attrs.fields_dict(cls)
        else ""
    )
    table = _TABLES[entity]
    return (
        f"CREATE TABLE {table} (\n    {cols},\n{props}"
        "    rev INTEGER NOT NULL,\n    seq INTEGER NOT NULL\n);\n"
        f"CREATE UNIQUE INDEX {table}_seq ON {table}(seq);\n"
    )


#: Migrations, in order; migration *n* takes the schema from version n-1 to n.
_MIGRATIONS: tuple[str, ...] = (
    # 1: the entities and a lead's stage history.
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);\n"
    "INSERT INTO counters VALUES ('seq', 0);\n"
    + "".join(_entity_table(e) for e in Entity)
    + "CREATE TABLE stage_history (\n"
    "    lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,\n"
    "    pos INTEGER NOT NULL, from_stage TEXT NOT NULL, to_stage TEXT NOT NULL,\n"
    "    at TEXT NOT NULL, by TEXT, reason TEXT, note TEXT,\n"
    "    PRIMARY KEY (lead_id, pos)\n);\n"
    "CREATE INDEX activities_lead ON activities(lead_id);\n"
    "CREATE INDEX touches_lead ON touches(lead_id);\n"
    "CREATE INDEX leads_account ON leads(account_id);\n",
    # 2: the state CRMs do not keep, and jobs' sync cursors.
    "CREATE TABLE scores (\n"
    "    lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,\n"
    "    seq INTEGER NOT NULL, score REAL NOT NULL, summary TEXT NOT NULL,\n"
    "    recommendation TEXT,\n"
    "    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),\n"
    "    PRIMARY KEY (lead_id, seq)\n);\n"
    "CREATE TABLE rejections (\n"
    "    lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,\n"
    "    code TEXT NOT NULL, disposition TEXT NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL,\n"
    "    note TEXT, from_stage TEXT NOT NULL, reengage_at TEXT, seq INTEGER NOT NULL\n);\n"
    "CREATE INDEX rejections_lead ON rejections(lead_id);\n"
    "CREATE TABLE outcomes (\n"
    "    lead_id TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL, amount TEXT,\n"
    "    currency TEXT, reason TEXT, competitor TEXT, opportunity_id TEXT, recorded_by TEXT,\n"
    "    seq INTEGER NOT NULL\n);\n"
    "CREATE INDEX outcomes_lead ON outcomes(lead_id);\n"
    "CREATE TABLE sla_clocks (\n"
    "    lead_id TEXT PRIMARY KEY REFERENCES leads(id) ON DELETE CASCADE,\n"
    "    due_at TEXT, state TEXT NOT NULL, seq INTEGER NOT NULL\n);\n"
    "CREATE TABLE sync_cursors (\n"
    "    job TEXT NOT NULL, entity TEXT NOT NULL, token TEXT,\n"
    "    PRIMARY KEY (job, entity)\n);\n",
    # 3: a lead's owner history (who held it when), as JSON [{owner_id, at, by}, ...].
    "ALTER TABLE leads ADD COLUMN owner_history TEXT NOT NULL DEFAULT '[]';\n",
)

#: Per entity: (column, holds a datetime) for building values from rows.
_READ_COLUMNS: dict[Entity, tuple[tuple[str, bool], ...]] = {
    entity: tuple(
        (name, "datetime" in str(attrs.fields_dict(cls)[name].type)) for name, _ in _columns(cls)
    )
    for entity, cls in _CLASSES.items()
}

#: The schema version this leadflow writes.
SCHEMA_VERSION = len(_MIGRATIONS)


@attrs.frozen(kw_only=True)
class ScoreRecord:
    """One entry of a lead's score history."""

    lead_id: str
    score: float
    summary: str
    recommendation: str | None
    recorded_at: str


@attrs.frozen(kw_only=True)
class SLAClock:
    """A lead's current SLA clock."""

    lead_id: str
    due_at: datetime | None
    state: str


@attrs.frozen(kw_only=True)
class RowError:
    """One refused row of an import: where (1-based line), which field, what was wrong."""

    line: int
    field: str
    value: Any
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@attrs.frozen(kw_only=True)
class ImportReport:
    """What an import did: rows stored, and each refused row with its error."""

    entity: Entity
    imported: int
    errors: tuple[RowError, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every row was imported."""
        return not self.errors


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _sql_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value") and isinstance(value, str):  # StrEnum
        return str(value)
    return value


class SQLiteAdapter:
    """The embedded store at *path* (a file, created when missing, or ``":memory:"``).

    *page_size* is how many records a read yields per page; *busy_timeout* is how many seconds a
    writer waits for another process's lock before giving up.
    """

    name = "sqlite"
    capabilities = Capabilities(
        reads=frozenset(Entity),
        writes=frozenset(WriteKind),
        max_batch=10_000,
        conflict_detection=True,
        transactional_batches=True,
        handoff_time=True,
    )

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        page_size: int = 500,
        busy_timeout: float = 30.0,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValidationError("page_size", page_size, "must be a whole number >= 1")
        self.path = str(path)
        self.page_size = page_size
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise AdapterError(f"cannot open {self.path!r}: {exc}", adapter="sqlite") from None
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
        self._migrate()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SQLiteAdapter:
        """Build from a config table: ``path`` (required), ``page_size``, ``busy_timeout``."""
        known = {"path", "page_size", "busy_timeout"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown sqlite setting; known: {sorted(known)}")
        if "path" not in config:
            raise ConfigError("path", "is required: the store's file (or ':memory:')")
        return cls(
            config["path"],
            page_size=config.get("page_size", 500),
            busy_timeout=config.get("busy_timeout", 30.0),
        )

    def __repr__(self) -> str:
        return f"SQLiteAdapter({self.path!r})"

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (for reports that query the store directly)."""
        if self._conn is None:
            raise AdapterError("the store is closed", adapter="sqlite")
        return self._conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise AdapterError(
                    f"{self.path!r} has schema version {version}, newer than this leadflow's "
                    f"{SCHEMA_VERSION}; upgrade leadflow to open it",
                    adapter="sqlite",
                )
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[number - 1].split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    def _next_seq(self, conn: sqlite3.Connection) -> int:
        row = conn.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the connection; calling it twice is harmless."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> SQLiteAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- putting records in --------------------------------------------------------------------

    def upsert(self, entity: Entity | str, items: Iterable[Any]) -> list[Any]:
        """Insert or replace *items* of *entity* in one transaction; returns them as stored.

        A replaced record gets a new version and is read again by incremental reads. For
        leads, the stored stage history is replaced by the item's.
        """
        entity = Entity(entity)
        stored = list(items)
        cls = _CLASSES[entity]
        for item in stored:
            if not isinstance(item, cls):
                raise ValidationError("items", item, f"is not a {cls.__name__}")
        with self._tx() as conn:
            for item in stored:
                self._upsert_one(conn, entity, item)
        return stored

    def mirror(self, entity: Entity | str, items: Iterable[Any]) -> list[Any]:
        """:meth:`upsert` records read from another system, keeping what only the store knows.

        CRMs do not keep a lead's stage history; when an incoming lead carries none and is
        still in the stage the stored history ends in, the stored history is kept. Nor do they
        all keep the hand-off time: an incoming lead without ``handed_off_at`` keeps the stored
        one (which the job recorded with the stage change that handed it over).
        """
        entity = Entity(entity)
        stored = list(items)
        if entity is Entity.LEAD:
            known = self._histories([lead.id for lead in stored if not lead.history])
            stored = [
                attrs.evolve(lead, history=known[lead.id])
                if not lead.history
                and known.get(lead.id)
                and known[lead.id][-1].to_stage == lead.stage
                else lead
                for lead in stored
            ]
            owners = self._owner_histories([lead.id for lead in stored if not lead.owner_history])
            stored = [
                attrs.evolve(lead, owner_history=owners[lead.id])
                if not lead.owner_history
                and owners.get(lead.id)
                and owners[lead.id][-1].owner_id == lead.owner_id
                else lead
                for lead in stored
            ]
            handoffs = self._handoffs([lead.id for lead in stored if lead.handed_off_at is None])
            stored = [
                attrs.evolve(lead, handed_off_at=handoffs[lead.id])
                if lead.handed_off_at is None and lead.id in handoffs
                else lead
                for lead in stored
            ]
        return self.upsert(entity, stored)

    def _owner_histories(self, ids: Sequence[str]) -> dict[str, tuple[OwnerChange, ...]]:
        """The stored owner histories of the leads *ids* that have one."""
        out: dict[str, tuple[OwnerChange, ...]] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ", ".join("?" for _ in part)
            for row in self.connection.execute(
                f"SELECT id, owner_history FROM leads WHERE id IN ({marks}) "
                "AND owner_history != '[]'",
                part,
            ):
                out[row[0]] = tuple(
                    OwnerChange(
                        owner_id=c["owner_id"], at=datetime.fromisoformat(c["at"]), by=c["by"]
                    )
                    for c in json.loads(row[1])
                )
        return out

    def _handoffs(self, ids: Sequence[str]) -> dict[str, datetime]:
        """The stored hand-off times of the leads *ids* that have one."""
        out: dict[str, datetime] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ", ".join("?" for _ in part)
            for row in self.connection.execute(
                f"SELECT id, handed_off_at FROM leads WHERE id IN ({marks}) "
                "AND handed_off_at IS NOT NULL",
                part,
            ):
                out[row[0]] = datetime.fromisoformat(row[1])
        return out

    def _upsert_one(self, conn: sqlite3.Connection, entity: Entity, item: Any) -> None:
        table = _TABLES[entity]
        cols = [name for name, _ in _columns(_CLASSES[entity])]
        values = [_sql_value(getattr(item, c)) for c in cols]
        if hasattr(item, "properties"):
            cols.append("properties")
            values.append(json.dumps(dict(item.properties), sort_keys=True))
        if entity is Entity.LEAD:
            cols.append("owner_history")
            values.append(
                json.dumps(
                    [
                        {"owner_id": c.owner_id, "at": _iso(c.at), "by": c.by}
                        for c in item.owner_history
                    ]
                )
            )
        seq = self._next_seq(conn)
        names = ", ".join(cols)
        marks = ", ".join("?" for _ in cols)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
        conn.execute(
            f"INSERT INTO {table} ({names}, rev, seq) VALUES ({marks}, 1, ?) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}, rev = {table}.rev + 1, seq = excluded.seq",
            (*values, seq),
        )
        if entity is Entity.LEAD:
            conn.execute("DELETE FROM stage_history WHERE lead_id = ?", (item.id,))
            conn.executemany(
                "INSERT INTO stage_history VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (item.id, pos, c.from_stage, c.to_stage, _iso(c.at), c.by, c.reason, c.note)
                    for pos, c in enumerate(item.history)
                ],
            )

    def import_records(
        self,
        entity: Entity | str,
        rows: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = 500,
        first_line: int = 1,
    ) -> ImportReport:
        """Build *entity* values from flat records and store the good ones.

        A row that does not validate is reported (line, field, value, message) and skipped;
        the rest are stored in batches of *batch_size*, one transaction each, as :meth:`mirror`
        stores them: an imported lead keeps the stored stage history and hand-off time it does
        not carry itself. Lines count from *first_line*.
        """
        return self._import(
            Entity(entity), enumerate(rows, start=first_line), batch_size=batch_size
        )

    def import_file(
        self, entity: Entity | str, path: str | os.PathLike[str], *, batch_size: int = 500
    ) -> ImportReport:
        """Import a ``.csv`` file (a header row, then one record per row) or a JSON-lines file
        (``.jsonl``/``.ndjson``, one object per line); see :meth:`import_records`. Errors carry
        the line number in the file."""
        source = Path(path)
        suffix = source.suffix.lower()
        if suffix not in {".csv", ".jsonl", ".ndjson"}:
            raise ConfigError(str(source), "unknown file type; expected .csv, .jsonl or .ndjson")
        try:
            with source.open(newline="" if suffix == ".csv" else None, encoding="utf-8-sig") as f:
                rows = _csv_rows(f) if suffix == ".csv" else _jsonl_rows(f)
                return self._import(Entity(entity), rows, batch_size=batch_size)
        except OSError as exc:
            raise ConfigError(str(source), f"cannot read: {exc.strerror or exc}") from None

    def _import(
        self,
        entity: Entity,
        rows: Iterable[tuple[int, Mapping[str, Any] | RowError]],
        *,
        batch_size: int,
    ) -> ImportReport:
        cls = _CLASSES[entity]
        errors: list[RowError] = []
        good: list[Any] = []
        imported = 0
        for line, row in rows:
            if isinstance(row, RowError):
                errors.append(row)
                continue
            try:
                good.append(cls.from_record(row))
            except ValidationError as exc:
                errors.append(
                    RowError(line=line, field=exc.field, value=exc.value, message=str(exc))
                )
            except LeadflowError as exc:
                errors.append(RowError(line=line, field="", value=None, message=str(exc)))
            if len(good) >= batch_size:
                imported += len(self.mirror(entity, good))
                good = []
        if good:
            imported += len(self.mirror(entity, good))
        return ImportReport(entity=entity, imported=imported, errors=tuple(errors))

    # -- reading -------------------------------------------------------------------------------

    def _read(self, entity: Entity, cursor: Cursor | None) -> Iterator[Page[Any]]:
        if cursor is not None and cursor.entity is not entity:
            raise ValidationError(
                "cursor", cursor.to_json(), f"is a {cursor.entity.value} cursor, not {entity.value}"
            )
        after = _token(cursor)
        table = _TABLES[entity]
        while True:
            rows = self.connection.execute(
                f"SELECT * FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, self.page_size),
            ).fetchall()
            if not rows:
                return
            history = self._histories([r["id"] for r in rows]) if entity is Entity.LEAD else {}
            items = tuple(
                Versioned(
                    item=self._build(entity, r, history.get(r["id"], ())), version=str(r["rev"])
                )
                for r in rows
            )
            after = int(rows[-1]["seq"])
            yield Page(items=items, cursor=Cursor(entity=entity, token=str(after)))
            if len(rows) < self.page_size:
                return

    def _histories(self, ids: Sequence[str]) -> dict[str, tuple[StageChange, ...]]:
        out: dict[str, list[StageChange]] = {}
        marks = ", ".join("?" for _ in ids)
        for r in self.connection.execute(
            f"SELECT * FROM stage_history WHERE lead_id IN ({marks}) ORDER BY lead_id, pos", ids
        ):
            out.setdefault(r["lead_id"], []).append(
                StageChange(
                    from_stage=r["from_stage"],
                    to_stage=r["to_stage"],
                    at=datetime.fromisoformat(r["at"]),
                    by=r["by"],
                    reason=r["reason"],
                    note=r["note"],
                )
            )
        return {k: tuple(v) for k, v in out.items()}

    def _build(self, entity: Entity, row: sqlite3.Row, history: tuple[StageChange, ...]) -> Any:
        values: dict[str, Any] = {}
        for name, is_datetime in _READ_COLUMNS[entity]:
            value = row[name]
            values[name] = (
                datetime.fromisoformat(value) if is_datetime and value is not None else value
            )
        if entity is not Entity.TOUCH:
            values["properties"] = json.loads(row["properties"])
        if entity is Entity.LEAD:
            values["history"] = history
            values["owner_history"] = [
                OwnerChange(owner_id=c["owner_id"], at=datetime.fromisoformat(c["at"]), by=c["by"])
                for c in json.loads(row["owner_history"])
            ]
        return _CLASSES[entity](**values)

    def read_leads(self, cursor: Cursor | None = None) -> Iterator[Page[Lead]]:
        """Leads changed after *cursor*, in change order, with their stage history."""
        return self._read(Entity.LEAD, cursor)

    def read_accounts(self, cursor: Cursor | None = None) -> Iterator[Page[Account]]:
        """Accounts changed after *cursor*."""
        return self._read(Entity.ACCOUNT, cursor)

    def read_activities(self, cursor: Cursor | None = None) -> Iterator[Page[Activity]]:
        """Activities stored or changed after *cursor*."""
        return self._read(Entity.ACTIVITY, cursor)

    def read_touches(self, cursor: Cursor | None = None) -> Iterator[Page[Touch]]:
        """Touches stored or changed after *cursor*."""
        return self._read(Entity.TOUCH, cursor)

    # -- the state CRMs don't keep ---------------------------------------------------------------

    def score_history(self, lead_id: str) -> list[ScoreRecord]:
        """Every score written for *lead_id*, oldest first."""
        return [
            ScoreRecord(
                lead_id=r["lead_id"],
                score=r["score"],
                summary=r["summary"],
                recommendation=r["recommendation"],
                recorded_at=r["recorded_at"],
            )
            for r in self.connection.execute(
                "SELECT * FROM scores WHERE lead_id = ? ORDER BY seq", (lead_id,)
            )
        ]

    def current_scores(self) -> dict[str, ScoreRecord]:
        """The latest score of every scored lead."""
        return {
            r["lead_id"]: ScoreRecord(
                lead_id=r["lead_id"],
                score=r["score"],
                summary=r["summary"],
                recommendation=r["recommendation"],
                recorded_at=r["recorded_at"],
            )
            for r in self.connection.execute(
                "SELECT s.* FROM scores s JOIN (SELECT lead_id, MAX(seq) AS seq FROM scores "
                "GROUP BY lead_id) m ON s.lead_id = m.lead_id AND s.seq = m.seq"
            )
        }

    def rejections(self) -> list[Rejection]:
        """Every recorded rejection, in the order recorded."""
        return [
            Rejection(
                lead_id=r["lead_id"],
                code=r["code"],
                disposition=Disposition(r["disposition"]),
                at=datetime.fromisoformat(r["at"]),
                by=r["by"],
                note=r["note"],
                from_stage=r["from_stage"],
                reengage_at=_dt(r["reengage_at"]),
            )
            for r in self.connection.execute("SELECT * FROM rejections ORDER BY seq")
        ]

    def outcomes(self) -> list[Outcome]:
        """Every recorded outcome, in the order recorded."""
        return [
            Outcome(
                lead_id=r["lead_id"],
                kind=r["kind"],
                at=datetime.fromisoformat(r["at"]),
                amount=Decimal(r["amount"]) if r["amount"] is not None else None,
                currency=r["currency"],
                reason=r["reason"],
                competitor=r["competitor"],
                opportunity_id=r["opportunity_id"],
                recorded_by=r["recorded_by"],
            )
            for r in self.connection.execute("SELECT * FROM outcomes ORDER BY seq")
        ]

    def sla_clocks(self) -> dict[str, SLAClock]:
        """Every lead's current SLA clock."""
        return {
            r["lead_id"]: SLAClock(lead_id=r["lead_id"], due_at=_dt(r["due_at"]), state=r["state"])
            for r in self.connection.execute("SELECT * FROM sla_clocks ORDER BY lead_id")
        }

    def save_cursor(self, job: str, cursor: Cursor) -> None:
        """Remember *cursor* for *job* (e.g. ``"run:salesforce"``), replacing the last one."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO sync_cursors VALUES (?, ?, ?) ON CONFLICT(job, entity) "
                "DO UPDATE SET token = excluded.token",
                (job, cursor.entity.value, cursor.token),
            )

    def load_cursor(self, job: str, entity: Entity | str) -> Cursor | None:
        """The cursor last saved for *job* and *entity*, or ``None``."""
        entity = Entity(entity)
        row = self.connection.execute(
            "SELECT token FROM sync_cursors WHERE job = ? AND entity = ?", (job, entity.value)
        ).fetchone()
        return Cursor(entity=entity, token=row["token"]) if row is not None else None

    def _by_ids(self, entity: Entity, column: str, ids: Iterable[str]) -> list[Any]:
        wanted = sorted(set(ids))
        out: list[Any] = []
        table = _TABLES[entity]
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ", ".join("?" for _ in part)
            rows = self.connection.execute(
                f"SELECT * FROM {table} WHERE {column} IN ({marks}) ORDER BY seq", part
            ).fetchall()
            history = self._histories([r["id"] for r in rows]) if entity is Entity.LEAD else {}
            out.extend(self._build(entity, r, history.get(r["id"], ())) for r in rows)
        return out

    def leads_by_id(self, ids: Iterable[str]) -> dict[str, Lead]:
        """The stored leads among *ids*, with their stage history."""
        return {lead.id: lead for lead in self._by_ids(Entity.LEAD, "id", ids)}

    def accounts_by_id(self, ids: Iterable[str]) -> dict[str, Account]:
        """The stored accounts among *ids*."""
        return {account.id: account for account in self._by_ids(Entity.ACCOUNT, "id", ids)}

    def leads_at_accounts(self, account_ids: Iterable[str]) -> list[Lead]:
        """Every stored lead at the accounts *account_ids* (the people an account rolls up)."""
        return list(self._by_ids(Entity.LEAD, "account_id", account_ids))

    def activities_for(self, lead_ids: Iterable[str]) -> list[Activity]:
        """Every stored activity of the leads *lead_ids*."""
        return list(self._by_ids(Entity.ACTIVITY, "lead_id", lead_ids))

    def touches_for(self, lead_ids: Iterable[str]) -> list[Touch]:
        """Every stored touch of the leads *lead_ids*."""
        return list(self._by_ids(Entity.TOUCH, "lead_id", lead_ids))

    def open_sla_leads(self) -> list[str]:
        """Leads whose SLA clock is still running (neither met nor stopped)."""
        return [
            r[0]
            for r in self.connection.execute(
                "SELECT lead_id FROM sla_clocks WHERE state NOT IN ('met', 'stopped') "
                "ORDER BY lead_id"
            )
        ]

    def counts(self) -> dict[str, int]:
        """Rows per table, e.g. for a summary."""
        tables = (
            "leads",
            "accounts",
            "activities",
            "touches",
            "stage_history",
            "scores",
            "rejections",
            "outcomes",
            "sla_clocks",
        )
        return {
            t: int(self.connection.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
            for t in tables
        }

    # -- writing ---------------------------------------------------------------------------------

    def write(self, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply *writes* in one transaction; one result per write, in order.

        A write the lead already reflects is ``unchanged``; one whose ``expected_version``
        differs from the lead's version at the start of the batch is a ``conflict``; one that
        cannot be applied (no such lead, a stage change that does not start from the lead's
        stage) is ``failed`` with the reason, and rolled back alone.
        """
        results: list[WriteResult] = []
        with self._tx() as conn:
            ids = sorted({w.lead_id for w in writes})
            start: dict[str, int] = {}
            for chunk in range(0, len(ids), 500):
                part = ids[chunk : chunk + 500]
                marks = ", ".join("?" for _ in part)
                for r in conn.execute(f"SELECT id, rev FROM leads WHERE id IN ({marks})", part):
                    start[r["id"]] = int(r["rev"])
            for write in writes:
                conn.execute("SAVEPOINT w")
                try:
                    result = self._apply(conn, write, start)
                except (LeadflowError, sqlite3.IntegrityError) as exc:
                    conn.execute("ROLLBACK TO w")
                    result = WriteResult(write=write, status=WriteStatus.FAILED, error=str(exc))
                conn.execute("RELEASE w")
                results.append(result)
        return results

    def _apply(
        self, conn: sqlite3.Connection, write: Write, start: Mapping[str, int]
    ) -> WriteResult:
        lead_id = write.lead_id
        row = conn.execute("SELECT rev, stage FROM leads WHERE id = ?", (lead_id,)).fetchone()
        if isinstance(write, OutcomeWrite):
            return self._apply_outcome(conn, write, row)
        if row is None:
            return WriteResult(write=write, status=WriteStatus.FAILED, error=f"no lead {lead_id!r}")
        if self._holds(conn, write):
            return WriteResult(write=write, status=WriteStatus.UNCHANGED, version=str(row["rev"]))
        expected = write.expected_version
        if expected is not None and expected != str(start[lead_id]):
            return WriteResult(
                write=write,
                status=WriteStatus.CONFLICT,
                error=f"lead {lead_id!r} changed since it was read "
                f"(version {start[lead_id]}, expected {expected})",
            )
        seq = self._next_seq(conn)
        if isinstance(write, ScoreWrite):
            conn.execute(
                "INSERT INTO scores (lead_id, seq, score, summary, recommendation) "
                "VALUES (?, ?, ?, ?, ?)",
                (lead_id, seq, write.score, write.summary, write.recommendation),
            )
        elif isinstance(write, SLAWrite):
            conn.execute(
                "INSERT INTO sla_clocks VALUES (?, ?, ?, ?) ON CONFLICT(lead_id) DO UPDATE SET "
                "due_at = excluded.due_at, state = excluded.state, seq = excluded.seq",
                (lead_id, _iso(write.due_at), write.state, seq),
            )
        else:
            self._append_change(conn, lead_id, row["stage"], write.change)
            if isinstance(write, StageWrite) and write.handed_off_at is not None:
                conn.execute(
                    "UPDATE leads SET handed_off_at = ? WHERE id = ?",
                    (_iso(write.handed_off_at), lead_id),
                )
            if isinstance(write, RejectionWrite):
                r = write.rejection
                conn.execute(
                    "INSERT INTO rejections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        r.lead_id,
                        r.code,
                        str(r.disposition),
                        _iso(r.at),
                        r.by,
                        r.note,
                        r.from_stage,
                        _iso(r.reengage_at),
                        seq,
                    ),
                )
        conn.execute("UPDATE leads SET rev = rev + 1, seq = ? WHERE id = ?", (seq, lead_id))
        return WriteResult(write=write, status=WriteStatus.APPLIED, version=str(row["rev"] + 1))

    def _append_change(
        self, conn: sqlite3.Connection, lead_id: str, stage: str, change: StageChange
    ) -> None:
        if change.from_stage != stage:
            raise ValidationError(
                "change.from_stage",
                change.from_stage,
                f"does not match lead {lead_id!r}'s stage {stage!r}",
            )
        last = conn.execute(
            "SELECT pos, at FROM stage_history WHERE lead_id = ? ORDER BY pos DESC LIMIT 1",
            (lead_id,),
        ).fetchone()
        if last is not None and change.at < datetime.fromisoformat(last["at"]):
            raise ValidationError(
                "change.at",
                change.at.isoformat(),
                f"is earlier than lead {lead_id!r}'s last change",
            )
        pos = 0 if last is None else int(last["pos"]) + 1
        conn.execute(
            "INSERT INTO stage_history VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                lead_id,
                pos,
                change.from_stage,
                change.to_stage,
                _iso(change.at),
                change.by,
                change.reason,
                change.note,
            ),
        )
        conn.execute("UPDATE leads SET stage = ? WHERE id = ?", (change.to_stage, lead_id))

    def _holds(self, conn: sqlite3.Connection, write: Write) -> bool:
        """Whether the store already reflects *write* (so applying it would change nothing)."""
        lead_id = write.lead_id
        if isinstance(write, ScoreWrite):
            row = conn.execute(
                "SELECT score, summary, recommendation FROM scores WHERE lead_id = ? "
                "ORDER BY seq DESC LIMIT 1",
                (lead_id,),
            ).fetchone()
            return row is not None and tuple(row) == (
                write.score,
                write.summary,
                write.recommendation,
            )
        if isinstance(write, SLAWrite):
            row = conn.execute(
                "SELECT due_at, state FROM sla_clocks WHERE lead_id = ?", (lead_id,)
            ).fetchone()
            return row is not None and (_dt(row["due_at"]), row["state"]) == (
                write.due_at,
                write.state,
            )
        if isinstance(write, StageWrite | RejectionWrite):
            c = write.change
            found = conn.execute(
                "SELECT 1 FROM stage_history WHERE lead_id = ? AND from_stage = ? AND "
                "to_stage = ? AND at = ? AND by IS ? AND reason IS ? AND note IS ?",
                (lead_id, c.from_stage, c.to_stage, _iso(c.at), c.by, c.reason, c.note),
            ).fetchone()
            # A recorded change holds, hand-off time included: both are written together.
            if isinstance(write, StageWrite) or found is None:
                return found is not None
            r = write.rejection
            return (
                conn.execute(
                    "SELECT 1 FROM rejections WHERE lead_id = ? AND code = ? AND at = ?",
                    (r.lead_id, r.code, _iso(r.at)),
                ).fetchone()
                is not None
            )
        return False

    def _apply_outcome(
        self, conn: sqlite3.Connection, write: OutcomeWrite, lead: sqlite3.Row | None
    ) -> WriteResult:
        o = write.outcome
        if lead is None:
            return WriteResult(
                write=write, status=WriteStatus.FAILED, error=f"no lead {o.lead_id!r}"
            )
        values = (
            o.lead_id,
            str(o.kind),
            _iso(o.at),
            str(o.amount) if o.amount is not None else None,
            o.currency,
            o.reason,
            o.competitor,
            o.opportunity_id,
            o.recorded_by,
        )
        found = conn.execute(
            "SELECT 1 FROM outcomes WHERE lead_id = ? AND kind = ? AND at = ? AND amount IS ? "
            "AND currency IS ? AND reason IS ? AND competitor IS ? AND opportunity_id IS ? "
            "AND recorded_by IS ?",
            values,
        ).fetchone()
        if found is not None:
            return WriteResult(write=write, status=WriteStatus.UNCHANGED)
        conn.execute(
            "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, self._next_seq(conn)),
        )
        return WriteResult(write=write, status=WriteStatus.APPLIED)


def _token(cursor: Cursor | None) -> int:
    if cursor is None or cursor.token is None:
        return 0
    try:
        return int(cursor.token)
    except ValueError:
        raise ValidationError(
            "cursor.token", cursor.token, "is not a sqlite change number"
        ) from None


def _csv_rows(handle: Iterable[str]) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    reader = csv.DictReader(handle)
    for row in reader:
        line = reader.line_num
        if None in row:
            yield (
                line,
                RowError(
                    line=line,
                    field="",
                    value=row[None],
                    message="has more values than the header",
                ),
            )
            continue
        if any(v is None for v in row.values()):
            yield (
                line,
                RowError(
                    line=line, field="", value=None, message="has fewer values than the header"
                ),
            )
            continue
        yield line, row


def _jsonl_rows(handle: Iterable[str]) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield (
                line,
                RowError(
                    line=line,
                    field="",
                    value=text.strip()[:80],
                    message=f"not valid JSON: {exc.msg}",
                ),
            )
            continue
        if not isinstance(data, dict):
            yield line, RowError(line=line, field="", value=data, message="not a JSON object")
            continue
        yield line, data
