"""Stage entries, conversion, time in stage, stuck leads and cohorts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadflow.analytics import (
    cohorts,
    stage_conversion,
    stage_entries,
    stuck_leads,
    time_in_stage_stats,
)
from leadflow.errors import ValidationError
from leadflow.lifecycle import transition
from leadflow.model import Lead
from leadflow.reasons import reject

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _leads() -> list[Lead]:
    a = Lead(id="A", created_at=T0, handed_off_at=T0 + 2 * H, owner_id="u-1")
    a = transition(a, "mql", at=T0 + 2 * H)
    a = transition(a, "sal", at=T0 + 12 * H)
    a = transition(a, "sql", at=T0 + 40 * H)
    b = Lead(id="B", created_at=T0, handed_off_at=T0 + 24 * 40 * H, source="event")
    b = transition(b, "mql", at=T0 + 4 * H)
    b, _ = reject(b, "no_budget", at=T0 + 10 * H, by="u-2")
    b = transition(b, "mql", at=T0 + 100 * H)
    c = Lead(id="C", created_at=T0 + 24 * 40 * H)  # still an inquiry
    return [a, b, c]


def test_stage_entries_per_month() -> None:
    rows = stage_entries(_leads())
    assert [(r.period, r.stage, r.entries) for r in rows] == [
        ("2026-01", "inquiry", 2),
        ("2026-01", "mql", 2),
        ("2026-01", "recycled", 1),
        ("2026-02", "mql", 1),
        ("2026-02", "sal", 1),
        ("2026-02", "sql", 1),
        ("2026-03", "inquiry", 1),
    ]


def test_conversion_along_the_path() -> None:
    rows = stage_conversion(_leads())
    assert [(r.from_stage, r.reached_from, r.reached_to, r.rate) for r in rows] == [
        ("inquiry", 3, 2, 0.666667),
        ("mql", 2, 1, 0.5),
        ("sal", 1, 1, 1.0),
        ("sql", 1, 0, 0.0),
        ("opportunity", 0, 0, None),
    ]
    with pytest.raises(ValidationError, match="path"):
        stage_conversion(_leads(), path=("mql",))


def test_time_in_stage_counts_each_completed_visit() -> None:
    rows = {r.stage: r for r in time_in_stage_stats(_leads())}
    assert rows["inquiry"].visits == 2 and rows["inquiry"].median_hours == 3.0
    # mql: A 10 h, B 6 h (first visit); B's second visit is still open.
    assert (rows["mql"].visits, rows["mql"].median_hours, rows["mql"].p90_hours) == (2, 8.0, 9.6)
    assert "sql" not in rows


def test_stuck_leads_skip_terminal_and_nurture() -> None:
    now = T0 + 24 * 60 * H
    rows = stuck_leads(_leads(), now=now, threshold=timedelta(days=3))
    assert [(r.lead_id, r.stage) for r in rows] == [("A", "sql"), ("B", "mql"), ("C", "inquiry")]
    assert rows[0].hours == pytest.approx((now - (T0 + 40 * H)) / H)
    only_sql = stuck_leads(_leads(), now=now, threshold={"sql": timedelta(days=30)})
    assert [r.lead_id for r in only_sql] == ["A"]
    with pytest.raises(ValidationError, match="naive"):
        stuck_leads(_leads(), now=datetime(2026, 4, 1), threshold=H)


def test_cohorts_by_hand_off_month() -> None:
    rows = cohorts(_leads(), path=("mql", "sql"))
    assert [(r.cohort, r.stage, r.handed_off, r.reached, r.share) for r in rows] == [
        ("2026-01", "mql", 1, 1, 1.0),
        ("2026-01", "sql", 1, 1, 1.0),
        ("2026-03", "mql", 1, 1, 1.0),
        ("2026-03", "sql", 1, 0, 0.0),
    ]
