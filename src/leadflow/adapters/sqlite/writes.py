"""Carrying out the job's writes on the store: one transaction per batch, a savepoint each.

Scope: how each kind of :data:`~leadflow.ports.Write` changes the store, when a write is
already reflected (``unchanged``), when it conflicts with the version the job read
(``conflict``), and when it cannot be applied (``failed``, rolled back alone).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime

from leadflow.adapters.sqlite.columns import iso, parse_instant
from leadflow.adapters.sqlite.store import next_seq
from leadflow.errors import LeadflowError, ValidationError
from leadflow.model import StageChange, check_change_order
from leadflow.outcomes import Outcome
from leadflow.ports import (
    OutcomeWrite,
    RejectionWrite,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    Write,
    WriteResult,
    WriteStatus,
)
from leadflow.reasons import Rejection

__all__ = [
    "apply_batch",
    "insert_outcome",
    "insert_rejection",
    "outcome_held",
    "outcome_row",
]


def apply_batch(
    conn: sqlite3.Connection, writes: Sequence[Write], *, now: datetime | None = None
) -> list[WriteResult]:
    """Apply *writes* inside the caller's transaction; one result per write, in order.

    ``expected_version`` is judged against each lead's version when the batch began. Rows the
    writes add are stamped ``recorded_at = now`` (the job's instant; ``NULL`` without one).
    """
    stamp = iso(now)
    ids = sorted({w.lead_id for w in writes})
    start: dict[str, int] = {}
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        marks = ", ".join("?" for _ in part)
        for r in conn.execute(f"SELECT id, rev FROM leads WHERE id IN ({marks})", part):
            start[r["id"]] = int(r["rev"])
    results: list[WriteResult] = []
    for write in writes:
        conn.execute("SAVEPOINT w")
        try:
            result = _apply(conn, write, start, stamp)
        except (LeadflowError, sqlite3.IntegrityError) as exc:
            conn.execute("ROLLBACK TO w")
            result = WriteResult(write=write, status=WriteStatus.FAILED, error=str(exc))
        conn.execute("RELEASE w")
        results.append(result)
    return results


def _apply(
    conn: sqlite3.Connection, write: Write, start: Mapping[str, int], stamp: str | None
) -> WriteResult:
    lead_id = write.lead_id
    row = conn.execute("SELECT rev, stage FROM leads WHERE id = ?", (lead_id,)).fetchone()
    if isinstance(write, OutcomeWrite):
        return _apply_outcome(conn, write, row, stamp)
    if row is None:
        return WriteResult(write=write, status=WriteStatus.FAILED, error=f"no lead {lead_id!r}")
    if _holds(conn, write):
        return WriteResult(write=write, status=WriteStatus.UNCHANGED, version=str(row["rev"]))
    expected = write.expected_version
    if expected is not None and expected != str(start[lead_id]):
        return WriteResult(
            write=write,
            status=WriteStatus.CONFLICT,
            error=f"lead {lead_id!r} changed since it was read "
            f"(version {start[lead_id]}, expected {expected})",
        )
    seq = next_seq(conn)
    if isinstance(write, ScoreWrite):
        conn.execute(
            "INSERT INTO scores (lead_id, seq, score, summary, recommendation, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (lead_id, seq, write.score, write.summary, write.recommendation, stamp),
        )
    elif isinstance(write, SLAWrite):
        conn.execute(
            "INSERT INTO sla_clocks (lead_id, due_at, state, seq, recorded_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(lead_id) DO UPDATE SET "
            "due_at = excluded.due_at, state = excluded.state, seq = excluded.seq, "
            "recorded_at = excluded.recorded_at",
            (lead_id, iso(write.due_at), write.state, seq, stamp),
        )
    else:
        _append_change(conn, lead_id, row["stage"], write.change, stamp)
        if isinstance(write, StageWrite) and write.handed_off_at is not None:
            conn.execute(
                "UPDATE leads SET handed_off_at = ? WHERE id = ?",
                (iso(write.handed_off_at), lead_id),
            )
        if isinstance(write, RejectionWrite):
            insert_rejection(conn, write.rejection, seq=seq, stamp=stamp)
    conn.execute("UPDATE leads SET rev = rev + 1, seq = ? WHERE id = ?", (seq, lead_id))
    return WriteResult(write=write, status=WriteStatus.APPLIED, version=str(row["rev"] + 1))


def _append_change(
    conn: sqlite3.Connection, lead_id: str, stage: str, change: StageChange, stamp: str | None
) -> None:
    """Append *change* to the stage history of lead *lead_id* (now in *stage*) and move it;
    the row is stamped ``recorded_at = stamp``."""
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
    check_change_order(None if last is None else datetime.fromisoformat(last["at"]), change)
    pos = 0 if last is None else int(last["pos"]) + 1
    conn.execute(
        "INSERT INTO stage_history (lead_id, pos, from_stage, to_stage, at, by, reason, note, "
        "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            lead_id,
            pos,
            change.from_stage,
            change.to_stage,
            iso(change.at),
            change.by,
            change.reason,
            change.note,
            stamp,
        ),
    )
    conn.execute("UPDATE leads SET stage = ? WHERE id = ?", (change.to_stage, lead_id))


def _holds(conn: sqlite3.Connection, write: Write) -> bool:
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
        return row is not None and (parse_instant(row["due_at"]), row["state"]) == (
            write.due_at,
            write.state,
        )
    if isinstance(write, StageWrite | RejectionWrite):
        c = write.change
        found = conn.execute(
            "SELECT 1 FROM stage_history WHERE lead_id = ? AND from_stage = ? AND "
            "to_stage = ? AND at = ? AND by IS ? AND reason IS ? AND note IS ?",
            (lead_id, c.from_stage, c.to_stage, iso(c.at), c.by, c.reason, c.note),
        ).fetchone()
        # A recorded change holds, hand-off time included: both are written together.
        if isinstance(write, StageWrite) or found is None:
            return found is not None
        r = write.rejection
        return (
            conn.execute(
                "SELECT 1 FROM rejections WHERE lead_id = ? AND code = ? AND at = ?",
                (r.lead_id, r.code, iso(r.at)),
            ).fetchone()
            is not None
        )
    return False


def _apply_outcome(
    conn: sqlite3.Connection, write: OutcomeWrite, lead: sqlite3.Row | None, stamp: str | None
) -> WriteResult:
    o = write.outcome
    if lead is None:
        return WriteResult(write=write, status=WriteStatus.FAILED, error=f"no lead {o.lead_id!r}")
    row = outcome_row(o)
    if outcome_held(conn, row):
        return WriteResult(write=write, status=WriteStatus.UNCHANGED)
    insert_outcome(conn, row, stamp)
    return WriteResult(write=write, status=WriteStatus.APPLIED)


def outcome_row(o: Outcome) -> tuple[str | None, ...]:
    """The ``outcomes`` columns of *o* (without ``seq`` and ``recorded_at``), as stored."""
    return (
        o.lead_id,
        str(o.kind),
        iso(o.at),
        str(o.amount) if o.amount is not None else None,
        o.currency,
        o.reason,
        o.competitor,
        o.opportunity_id,
        o.recorded_by,
        iso(o.expected_by) if o.expected_by is not None else None,
    )


def outcome_held(conn: sqlite3.Connection, row: Sequence[str | None]) -> bool:
    """Whether the store already holds the outcome whose :func:`outcome_row` is *row*."""
    found = conn.execute(
        "SELECT 1 FROM outcomes WHERE lead_id = ? AND kind = ? AND at = ? AND amount IS ? "
        "AND currency IS ? AND reason IS ? AND competitor IS ? AND opportunity_id IS ? "
        "AND recorded_by IS ? AND expected_by IS ?",
        tuple(row),
    ).fetchone()
    return found is not None


def insert_outcome(conn: sqlite3.Connection, row: Sequence[str | None], stamp: str | None) -> None:
    """Record the outcome whose :func:`outcome_row` is *row*, stamped *stamp* (the job's now)."""
    conn.execute(
        "INSERT INTO outcomes (lead_id, kind, at, amount, currency, reason, competitor, "
        "opportunity_id, recorded_by, expected_by, seq, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*row, next_seq(conn), stamp),
    )


def insert_rejection(
    conn: sqlite3.Connection, r: Rejection, *, seq: int, stamp: str | None
) -> None:
    """Record rejection *r* at change number *seq*, stamped *stamp* (the job's now)."""
    conn.execute(
        "INSERT INTO rejections (lead_id, code, disposition, at, by, note, from_stage, "
        "reengage_at, seq, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            r.lead_id,
            r.code,
            str(r.disposition),
            iso(r.at),
            r.by,
            r.note,
            r.from_stage,
            iso(r.reengage_at),
            seq,
            stamp,
        ),
    )
