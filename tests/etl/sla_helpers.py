"""Shared helpers for the columnar SLA tests: domain objects to Arrow, and the per-record rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from leadflow.model import Lead, Touch
from leadflow.rules.sla import Evaluation, StepState

_TS = pa.timestamp("us", tz="UTC")
_HOUR = timedelta(hours=1)


def leads_table(leads: Sequence[Lead]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([x.id for x in leads], pa.string()),
            "created_at": pa.array([x.created_at for x in leads], _TS),
            "owner_id": pa.array([x.owner_id for x in leads], pa.string()),
            "handed_off_at": pa.array([x.handed_off_at for x in leads], _TS),
            "source": pa.array([x.source for x in leads], pa.string()),
            "country": pa.array([x.country for x in leads], pa.string()),
            "team": pa.array([x.properties.get("team") for x in leads], pa.string()),
        }
    )


def touches_table(touches: Sequence[Touch]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array([t.id for t in touches], pa.string()),
            "lead_id": pa.array([t.lead_id for t in touches], pa.string()),
            "kind": pa.array([t.kind.value for t in touches], pa.string()),
            "at": pa.array([t.at for t in touches], _TS),
            "by": pa.array([t.by for t in touches], pa.string()),
            "outcome": pa.array([t.outcome.value for t in touches], pa.string()),
        }
    )


def _hours(delta: timedelta | None) -> float | None:
    return None if delta is None else delta / _HOUR


def utc_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Instants in UTC: Python never finds a repeated-hour time equal to one in another zone
    (PEP 495), so rows are compared with every instant moved to UTC."""
    return [
        {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in row.items()}
        for row in rows
    ]


def expected_rows(evaluations: Sequence[Evaluation]) -> list[dict[str, Any]]:
    """What the columnar plan must return, built from the per-record evaluations."""
    rows = []
    for ev in evaluations:
        nxt = ev.next_action
        for status in ev.steps:
            rows.append(
                {
                    "lead_id": ev.lead_id,
                    "policy": ev.policy,
                    "step": status.step,
                    "state": status.state.value,
                    "started_at": ev.started_at,
                    "due_at": status.due,
                    "required": status.required,
                    "done": status.done,
                    "met_at": status.completed_at,
                    "response_hours": _hours(status.response_business),
                    "remaining_hours": _hours(status.remaining),
                    "breached_at": status.breached_at,
                    "overdue_hours": _hours(status.overdue),
                    "escalate": None if status.escalate is None else status.escalate.to_data(),
                    "escalation_due": any(e.step == status.step for e in ev.escalations),
                    "next_step": None if nxt is None else nxt.step,
                    "next_action": None if nxt is None or nxt.action is None else nxt.action.value,
                    "next_due": None if nxt is None else nxt.due,
                    "next_escalate": (
                        None if nxt is None or nxt.escalation is None else nxt.escalation.to_data()
                    ),
                    "final_action": None if ev.final is None else ev.final.action.value,
                    "final_reason": None if ev.final is None else ev.final.reason,
                    "final_state": None if ev.final is None else ev.final.state.value,
                    "calendar": ev.calendar,
                    "owner_id": ev.owner_id,
                    "team": ev.team,
                    "source": ev.source,
                }
            )
            # no history: only a live conversation ends the chase
            assert status.state is not StepState.STOPPED or status.stopped_because == "connected"
    return utc_rows(rows)
