"""What the store knows that CRMs do not: score history, rejections, outcomes, SLA clocks.

Scope: read-only queries for reports and for the job's :class:`~leadflow.job.History` (which
SLA clocks are still open), and the small value classes they return. Nothing here writes.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal

import attrs

from leadflow.adapters.sqlite.columns import parse_instant
from leadflow.outcomes import Outcome
from leadflow.reasons import Disposition, Rejection

__all__ = [
    "SLAClock",
    "ScoreRecord",
    "counts",
    "current_scores",
    "open_sla_leads",
    "outcome",
    "outcomes",
    "rejection",
    "rejections",
    "score_history",
    "sla_clocks",
]

#: The tables :func:`counts` reports on.
_COUNTED = (
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


@attrs.frozen(kw_only=True)
class ScoreRecord:
    """One entry of a lead's score history.

    Before schema version 3 the store stamped ``recorded_at`` with SQLite's clock; such
    stamps are read as they were stored (UTC).
    """

    lead_id: str
    score: float
    summary: str
    recommendation: str | None
    #: The job's ``now`` when the score was written (``None`` if the writer passed none).
    recorded_at: datetime | None


@attrs.frozen(kw_only=True)
class SLAClock:
    """A lead's current SLA clock."""

    lead_id: str
    due_at: datetime | None
    state: str
    #: The job's ``now`` when the clock was last written (``None`` if unknown).
    recorded_at: datetime | None = None


def _score(r: sqlite3.Row) -> ScoreRecord:
    return ScoreRecord(
        lead_id=r["lead_id"],
        score=r["score"],
        summary=r["summary"],
        recommendation=r["recommendation"],
        recorded_at=parse_instant(r["recorded_at"]),
    )


def score_history(conn: sqlite3.Connection, lead_id: str) -> list[ScoreRecord]:
    """Every score written for *lead_id*, oldest first."""
    return [
        _score(r)
        for r in conn.execute("SELECT * FROM scores WHERE lead_id = ? ORDER BY seq", (lead_id,))
    ]


def current_scores(conn: sqlite3.Connection) -> dict[str, ScoreRecord]:
    """The latest score of every scored lead."""
    return {
        r["lead_id"]: _score(r)
        for r in conn.execute(
            "SELECT s.* FROM scores s JOIN (SELECT lead_id, MAX(seq) AS seq FROM scores "
            "GROUP BY lead_id) m ON s.lead_id = m.lead_id AND s.seq = m.seq"
        )
    }


def rejection(r: sqlite3.Row) -> Rejection:
    """A rejection from its row."""
    return Rejection(
        lead_id=r["lead_id"],
        code=r["code"],
        disposition=Disposition(r["disposition"]),
        at=datetime.fromisoformat(r["at"]),
        by=r["by"],
        note=r["note"],
        from_stage=r["from_stage"],
        reengage_at=parse_instant(r["reengage_at"]),
    )


def outcome(r: sqlite3.Row) -> Outcome:
    """An outcome from its row."""
    return Outcome(
        lead_id=r["lead_id"],
        kind=r["kind"],
        at=datetime.fromisoformat(r["at"]),
        amount=Decimal(r["amount"]) if r["amount"] is not None else None,
        currency=r["currency"],
        reason=r["reason"],
        competitor=r["competitor"],
        opportunity_id=r["opportunity_id"],
        recorded_by=r["recorded_by"],
        expected_by=parse_instant(r["expected_by"]),
    )


def rejections(conn: sqlite3.Connection) -> list[Rejection]:
    """Every recorded rejection, in the order recorded."""
    return [rejection(r) for r in conn.execute("SELECT * FROM rejections ORDER BY seq")]


def outcomes(conn: sqlite3.Connection) -> list[Outcome]:
    """Every recorded outcome, in the order recorded."""
    return [outcome(r) for r in conn.execute("SELECT * FROM outcomes ORDER BY seq")]


def sla_clocks(conn: sqlite3.Connection) -> dict[str, SLAClock]:
    """Every lead's current SLA clock."""
    return {
        r["lead_id"]: SLAClock(
            lead_id=r["lead_id"],
            due_at=parse_instant(r["due_at"]),
            state=r["state"],
            recorded_at=parse_instant(r["recorded_at"]),
        )
        for r in conn.execute("SELECT * FROM sla_clocks ORDER BY lead_id")
    }


def open_sla_leads(conn: sqlite3.Connection) -> list[str]:
    """Leads whose SLA clock is still running (neither met nor stopped)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT lead_id FROM sla_clocks WHERE state NOT IN ('met', 'stopped') ORDER BY lead_id"
        )
    ]


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table, e.g. for a summary."""
    return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in _COUNTED}
