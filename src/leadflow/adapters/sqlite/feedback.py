"""Rejections and outcomes in the store: read incrementally, and mirrored from another system.

Scope: the two logs of what sales decided and what became of leads, as the port reads them
(:meth:`~leadflow.ports.RejectionReader.read_rejections`,
:meth:`~leadflow.ports.OutcomeReader.read_outcomes`: pages in the order recorded, a cursor on
the store-wide change counter) and as a job mirrors them from a CRM that keeps them (each fact
once). The job's own rejections and outcomes arrive as writes (:mod:`~leadflow.adapters.sqlite.
writes`); this module holds the rest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from leadflow.adapters.sqlite import queries
from leadflow.adapters.sqlite.columns import iso
from leadflow.adapters.sqlite.store import next_seq
from leadflow.adapters.sqlite.writes import (
    insert_outcome,
    insert_rejection,
    outcome_held,
    outcome_row,
)
from leadflow.errors import ValidationError
from leadflow.outcomes import Outcome
from leadflow.ports import Cursor, Entity, Page, Versioned
from leadflow.reasons import Rejection

__all__ = ["LOGS", "mirror", "read_pages"]

#: The log entities, with their table and model class.
LOGS: dict[Entity, tuple[str, type[Any]]] = {
    Entity.REJECTION: ("rejections", Rejection),
    Entity.OUTCOME: ("outcomes", Outcome),
}


def read_pages(
    conn: sqlite3.Connection, entity: Entity, cursor: Cursor | None, page_size: int
) -> Iterator[Page[Any]]:
    """The rejections or outcomes recorded after *cursor*, in the order recorded, by page;
    each versioned by its change number."""
    if cursor is not None and cursor.entity is not entity:
        raise ValidationError(
            "cursor", cursor.to_json(), f"is a {cursor.entity.value} cursor, not {entity.value}"
        )
    after = 0
    if cursor is not None and cursor.token is not None:
        try:
            after = int(cursor.token)
        except ValueError:
            raise ValidationError(
                "cursor.token", cursor.token, "is not a sqlite change number"
            ) from None
    table, _cls = LOGS[entity]
    build = queries.rejection if entity is Entity.REJECTION else queries.outcome
    while True:
        rows = conn.execute(
            f"SELECT * FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?", (after, page_size)
        ).fetchall()
        if not rows:
            return
        after = int(rows[-1]["seq"])
        yield Page(
            items=tuple(Versioned(item=build(r), version=str(r["seq"])) for r in rows),
            cursor=Cursor(entity=entity, token=str(after)),
        )
        if len(rows) < page_size:
            return


def mirror(
    conn: sqlite3.Connection, entity: Entity, items: Sequence[Any], *, stamp: str | None
) -> list[Any]:
    """Record rejections or outcomes read from another system, each once.

    A rejection already held (same lead, code and instant, or the job's own record of it: see
    :func:`_written_by_the_job`) is not recorded again; one of a lead the store does not hold is
    refused (mirror the lead first). An outcome replaces the
    one held for the same lead, opportunity and kind (its amount or date changed in the CRM);
    one without an opportunity is recorded unless an identical one is held.
    """
    _table, cls = LOGS[entity]
    for item in items:
        if not isinstance(item, cls):
            raise ValidationError("items", item, f"is not a {cls.__name__}")
    for item in items:
        if isinstance(item, Rejection):
            _mirror_rejection(conn, item, stamp)
        else:
            _mirror_outcome(conn, item, stamp)
    return list(items)


def _mirror_rejection(conn: sqlite3.Connection, r: Rejection, stamp: str | None) -> None:
    if conn.execute("SELECT 1 FROM leads WHERE id = ?", (r.lead_id,)).fetchone() is None:
        raise ValidationError("lead_id", r.lead_id, "is not a stored lead (mirror the lead first)")
    held = conn.execute(
        "SELECT 1 FROM rejections WHERE lead_id = ? AND code = ? AND at = ?",
        (r.lead_id, r.code, iso(r.at)),
    ).fetchone()
    if held is not None or _written_by_the_job(conn, r):
        return
    insert_rejection(conn, r, seq=next_seq(conn), stamp=stamp)


def _written_by_the_job(conn: sqlite3.Connection, r: Rejection) -> bool:
    """Whether *r*, read back from a CRM, is a rejection the job wrote itself and recorded
    here: one of the same lead, code and starting stage, recorded at or before *r* (the job
    records the instant its rule decided, the CRM the instant it saved), with no stage change
    of the lead strictly between the two — a rejection made again after the lead was taken up
    again is a new one."""
    held = [
        datetime.fromisoformat(row["at"])
        for row in conn.execute(
            "SELECT at FROM rejections WHERE lead_id = ? AND code = ? AND from_stage = ?",
            (r.lead_id, r.code, r.from_stage),
        )
    ]
    earlier = max((at for at in held if at <= r.at), default=None)
    if earlier is None:
        return False
    return not any(
        earlier < datetime.fromisoformat(row["at"]) < r.at
        for row in conn.execute("SELECT at FROM stage_history WHERE lead_id = ?", (r.lead_id,))
    )


def _mirror_outcome(conn: sqlite3.Connection, o: Outcome, stamp: str | None) -> None:
    row = outcome_row(o)
    if o.opportunity_id is not None:
        conn.execute(
            "DELETE FROM outcomes WHERE lead_id = ? AND opportunity_id = ? AND kind = ?",
            (o.lead_id, o.opportunity_id, str(o.kind)),
        )
    elif outcome_held(conn, row):
        return
    insert_outcome(conn, row, stamp)
