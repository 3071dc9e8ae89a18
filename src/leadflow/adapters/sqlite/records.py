"""Leads, accounts, activities and touches in the store: putting them in, getting them out.

Scope: the repository of the four entity tables and a lead's stage history, as functions of
an open connection (so a caller decides the transaction: one per batch, or one per imported
file). Every stored or replaced record takes the next number of the store-wide change counter
(its ``seq``) and a new version (its ``rev``), which is what incremental reads follow.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import attrs

from leadflow.adapters.sqlite.columns import TABLES, iso
from leadflow.adapters.sqlite.store import next_seq
from leadflow.errors import LeadflowError, ValidationError
from leadflow.model import Lead, OwnerChange, StageChange
from leadflow.ports import Cursor, Entity, Page, RecordError, Versioned

__all__ = [
    "by_ids",
    "check_items",
    "handoffs",
    "histories",
    "keep_store_state",
    "owner_histories",
    "read_pages",
    "upsert",
]

#: The columns of a stage-history entry, beside its lead, position and stamp.
_HISTORY_KEYS = ("from_stage", "to_stage", "at", "by", "reason", "note")

#: How many ids one ``IN (...)`` query binds (SQLite's default limit is far above it).
_CHUNK = 500


def check_items(entity: Entity, items: Iterable[Any]) -> list[Any]:
    """*items* as a list, refusing any that is not a value of *entity*'s model class."""
    cls = TABLES[entity].model
    stored = list(items)
    for item in stored:
        if not isinstance(item, cls):
            raise ValidationError("items", item, f"is not a {cls.__name__}")
    return stored


def upsert(
    conn: sqlite3.Connection, entity: Entity, item: Any, *, stamp: str | None = None
) -> None:
    """Insert or replace *item*; a lead's stored stage history is replaced by its own.

    A history entry the store already holds at the same position keeps its ``recorded_at``;
    a new one is stamped *stamp* (the job's ``now`` as ISO text, or ``None``).
    """
    table = TABLES[entity]
    table.check(item)
    values = table.values(item)
    conn.execute(table.upsert_sql, (*values.values(), next_seq(conn)))
    if entity is Entity.LEAD:
        held = {
            int(r["pos"]): r
            for r in conn.execute("SELECT * FROM stage_history WHERE lead_id = ?", (item.id,))
        }
        conn.execute("DELETE FROM stage_history WHERE lead_id = ?", (item.id,))
        rows = []
        for pos, c in enumerate(item.history):
            entry = (c.from_stage, c.to_stage, iso(c.at), c.by, c.reason, c.note)
            was = held.get(pos)
            kept = stamp
            if was is not None and entry == tuple(was[k] for k in _HISTORY_KEYS):
                kept = was["recorded_at"]
            rows.append((item.id, pos, *entry, kept))
        conn.executemany(
            "INSERT INTO stage_history (lead_id, pos, from_stage, to_stage, at, by, reason, note, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("DELETE FROM owner_history WHERE lead_id = ?", (item.id,))
        conn.executemany(
            "INSERT INTO owner_history (lead_id, pos, owner_id, at, by) VALUES (?, ?, ?, ?, ?)",
            [
                (item.id, pos, c.owner_id, iso(c.at), c.by)
                for pos, c in enumerate(item.owner_history)
            ],
        )


def keep_store_state(conn: sqlite3.Connection, leads: Sequence[Lead]) -> list[Lead]:
    """*leads* read from another system, completed with what only the store knows.

    CRMs do not keep a lead's stage history; when an incoming lead carries none and is still
    in the stage the stored history ends in, the stored history is kept. Nor do they all keep
    the hand-off time: an incoming lead without ``handed_off_at`` keeps the stored one.
    """
    known = histories(conn, [lead.id for lead in leads if not lead.history])
    kept = [
        attrs.evolve(lead, history=known[lead.id])
        if not lead.history and known.get(lead.id) and known[lead.id][-1].to_stage == lead.stage
        else lead
        for lead in leads
    ]
    # Nor an owner history: a lead read without one keeps the stored one while its owner is
    # the one the stored history ends with.
    owners = owner_histories(conn, [lead.id for lead in kept if not lead.owner_history])
    kept = [
        attrs.evolve(lead, owner_history=owners[lead.id])
        if not lead.owner_history
        and owners.get(lead.id)
        and owners[lead.id][-1].owner_id == lead.owner_id
        else lead
        for lead in kept
    ]
    stamps = handoffs(conn, [lead.id for lead in kept if lead.handed_off_at is None])
    return [
        attrs.evolve(lead, handed_off_at=stamps[lead.id])
        if lead.handed_off_at is None and lead.id in stamps
        else lead
        for lead in kept
    ]


def handoffs(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, datetime]:
    """The stored hand-off times of the leads *ids* that have one."""
    out: dict[str, datetime] = {}
    for start in range(0, len(ids), _CHUNK):
        part = list(ids[start : start + _CHUNK])
        marks = ", ".join("?" for _ in part)
        for row in conn.execute(
            f"SELECT id, handed_off_at FROM leads WHERE id IN ({marks}) "
            "AND handed_off_at IS NOT NULL",
            part,
        ):
            out[row[0]] = datetime.fromisoformat(row[1])
    return out


def histories(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, tuple[StageChange, ...]]:
    """The stored stage history of each of the leads *ids* that has one."""
    out: dict[str, list[StageChange]] = {}
    for start in range(0, len(ids), _CHUNK):
        part = list(ids[start : start + _CHUNK])
        marks = ", ".join("?" for _ in part)
        for r in conn.execute(
            f"SELECT * FROM stage_history WHERE lead_id IN ({marks}) ORDER BY lead_id, pos",
            part,
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


def owner_histories(
    conn: sqlite3.Connection, ids: Sequence[str]
) -> dict[str, tuple[OwnerChange, ...]]:
    """The stored owner history of each of the leads *ids* that has one."""
    out: dict[str, list[OwnerChange]] = {}
    for start in range(0, len(ids), _CHUNK):
        part = list(ids[start : start + _CHUNK])
        marks = ", ".join("?" for _ in part)
        for r in conn.execute(
            f"SELECT * FROM owner_history WHERE lead_id IN ({marks}) ORDER BY lead_id, pos",
            part,
        ):
            out.setdefault(r["lead_id"], []).append(
                OwnerChange(owner_id=r["owner_id"], at=datetime.fromisoformat(r["at"]), by=r["by"])
            )
    return {k: tuple(v) for k, v in out.items()}


def _build(
    entity: Entity,
    row: sqlite3.Row,
    history: tuple[StageChange, ...],
    owners: tuple[OwnerChange, ...] = (),
) -> Any:
    table = TABLES[entity]
    values = table.fields(row)
    if entity is Entity.LEAD:
        values["history"] = history
        values["owner_history"] = owners
    return table.model(**values)


def _built(
    conn: sqlite3.Connection, entity: Entity, rows: Sequence[sqlite3.Row]
) -> list[Any | RecordError]:
    """The values of *rows*; a row the model refuses (written by another tool, or by an older
    leadflow under looser rules) becomes a :class:`~leadflow.ports.RecordError` saying why."""
    ids = [r["id"] for r in rows]
    lead = entity is Entity.LEAD
    history = histories(conn, ids) if lead else {}
    owners = owner_histories(conn, ids) if lead else {}
    out: list[Any | RecordError] = []
    for r in rows:
        try:
            out.append(_build(entity, r, history.get(r["id"], ()), owners.get(r["id"], ())))
        except (LeadflowError, ValueError, TypeError) as exc:
            out.append(RecordError(entity=entity, record_id=str(r["id"]), error=str(exc)))
    return out


def by_ids(conn: sqlite3.Connection, entity: Entity, column: str, ids: Iterable[str]) -> list[Any]:
    """The stored *entity* records whose *column* is one of *ids*, in change order per chunk."""
    if column not in {"id", "lead_id", "account_id"}:
        raise ValueError(f"not a key column: {column!r}")
    wanted = sorted(set(ids))
    out: list[Any] = []
    table = TABLES[entity].table
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        marks = ", ".join("?" for _ in part)
        rows = conn.execute(
            f"SELECT * FROM {table} WHERE {column} IN ({marks}) ORDER BY seq", part
        ).fetchall()
        out.extend(v for v in _built(conn, entity, rows) if not isinstance(v, RecordError))
    return out


def _token(cursor: Cursor | None) -> int:
    if cursor is None or cursor.token is None:
        return 0
    try:
        return int(cursor.token)
    except ValueError:
        raise ValidationError(
            "cursor.token", cursor.token, "is not a sqlite change number"
        ) from None


def read_pages(
    conn: sqlite3.Connection, entity: Entity, cursor: Cursor | None, page_size: int
) -> Iterator[Page[Any]]:
    """*entity* records changed after *cursor*, in change order, *page_size* per page."""
    if cursor is not None and cursor.entity is not entity:
        raise ValidationError(
            "cursor", cursor.to_json(), f"is a {cursor.entity.value} cursor, not {entity.value}"
        )
    after = _token(cursor)
    table = TABLES[entity].table
    while True:
        rows = conn.execute(
            f"SELECT * FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?", (after, page_size)
        ).fetchall()
        if not rows:
            return
        built = list(zip(_built(conn, entity, rows), rows, strict=True))
        items = tuple(
            Versioned(item=item, version=str(r["rev"]))
            for item, r in built
            if not isinstance(item, RecordError)
        )
        errors = tuple(item for item, _ in built if isinstance(item, RecordError))
        after = int(rows[-1]["seq"])
        yield Page(items=items, cursor=Cursor(entity=entity, token=str(after)), errors=errors)
        if len(rows) < page_size:
            return
