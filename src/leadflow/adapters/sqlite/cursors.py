"""Jobs' sync cursors: where each job resumes reading each entity from another adapter.

Scope: the ``sync_cursors`` table, one token per (job, entity); the embedded store serves as
the job's :class:`~leadflow.job.CursorStore` through these functions.
"""

from __future__ import annotations

import sqlite3

from leadflow.ports import Cursor, Entity

__all__ = ["load_cursor", "save_cursor"]


def save_cursor(conn: sqlite3.Connection, job: str, cursor: Cursor) -> None:
    """Remember *cursor* for *job*, replacing the last one (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO sync_cursors VALUES (?, ?, ?) ON CONFLICT(job, entity) "
        "DO UPDATE SET token = excluded.token",
        (job, cursor.entity.value, cursor.token),
    )


def load_cursor(conn: sqlite3.Connection, job: str, entity: Entity) -> Cursor | None:
    """The cursor last saved for *job* and *entity*, or ``None``."""
    row = conn.execute(
        "SELECT token FROM sync_cursors WHERE job = ? AND entity = ?", (job, entity.value)
    ).fetchone()
    return Cursor(entity=entity, token=row["token"]) if row is not None else None
