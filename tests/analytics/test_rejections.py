"""Rejection counts, shares, top reasons and the share of "other"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadflow.analytics import (
    other_share,
    rejection_counts,
    rejections_from_leads,
    top_reasons_by_source,
)
from leadflow.errors import ValidationError
from leadflow.lifecycle import transition
from leadflow.model import Lead
from leadflow.reasons import reject

T0 = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


def _data() -> tuple[list[Lead], list]:
    spec = [
        ("web", "c1", "no_budget", 0),
        ("web", "c1", "no_budget", 0),
        ("web", "c2", "student", 5),
        ("web", "c2", "other", 5),
        ("event", "c3", "not_ready_to_buy", 0),
        (None, None, "duplicate", 5),
    ]
    leads, rejections = [], []
    for i, (source, campaign, code, days) in enumerate(spec):
        lead = Lead(id=f"L-{i}", created_at=T0, stage="sal", source=source, campaign=campaign)
        note = "asked for a job" if code == "other" else None
        lead, r = reject(lead, code, at=T0 + timedelta(days=days), by=f"u-{i % 2}", note=note)
        leads.append(lead)
        rejections.append(r)
    return leads, rejections


def test_counts_and_shares_by_source_and_code() -> None:
    leads, rejections = _data()
    rows = rejection_counts(rejections, leads, by=("source", "code"))
    assert [(r.source, r.code, r.count, r.share) for r in rows] == [
        ("(none)", "duplicate", 1, 1.0),
        ("event", "not_ready_to_buy", 1, 1.0),
        ("web", "no_budget", 2, 0.5),
        ("web", "other", 1, 0.25),
        ("web", "student", 1, 0.25),
    ]
    assert all(r.campaign is None and r.owner is None and r.period is None for r in rows)


def test_counts_by_period_and_owner_and_bounds() -> None:
    leads, rejections = _data()
    by_period = rejection_counts(rejections, leads, by=("period",))
    assert [(r.period, r.count, r.share) for r in by_period] == [
        ("2026-03", 3, 0.5),
        ("2026-04", 3, 0.5),
    ]
    by_owner = rejection_counts(rejections, leads, by=("owner", "code"), end=T0 + timedelta(days=1))
    assert sum(r.count for r in by_owner) == 3
    assert {r.owner for r in by_owner} == {"u-0", "u-1"}
    weekly = rejection_counts(rejections, leads, by=("period",), period="week")
    assert [(r.period, r.count) for r in weekly] == [("2026-W14", 6)]
    with pytest.raises(ValidationError, match="by: 'colour' is not a dimension"):
        rejection_counts(rejections, leads, by=("colour",))
    with pytest.raises(ValidationError, match="period: 'fortnight'"):
        rejection_counts(rejections, leads, by=("period",), period="fortnight")


def test_top_reasons_and_other_share() -> None:
    leads, rejections = _data()
    top = top_reasons_by_source(rejections, leads, n=2)
    assert [(t.source, t.rank, t.code, t.count) for t in top] == [
        ("(none)", 1, "duplicate", 1),
        ("event", 1, "not_ready_to_buy", 1),
        ("web", 1, "no_budget", 2),
        ("web", 2, "other", 1),
    ]
    assert top[2].label == "No budget this cycle"
    shares = other_share(rejections, leads)
    assert (shares[0].source, shares[0].rejections, shares[0].other) == ("(all)", 6, 1)
    assert next(s for s in shares if s.source == "web").share == 0.25


def test_rejections_come_back_from_histories() -> None:
    leads, rejections = _data()
    # A history entry with a reason that is not a reject code is not a rejection.
    extra = transition(Lead(id="X", created_at=T0), "mql", at=T0, reason="score crossed 60")
    assert rejections_from_leads([*leads, extra]) == rejections


def test_without_code_the_share_is_of_all_rejections() -> None:
    leads, rejections = _data()
    rows = rejection_counts(rejections, leads, by=("campaign",))
    assert [(r.campaign, r.count, r.share) for r in rows] == [
        ("(none)", 1, 0.166667),
        ("c1", 2, 0.333333),
        ("c2", 2, 0.333333),
        ("c3", 1, 0.166667),
    ]


@pytest.mark.parametrize("bound", ["start", "end"])
def test_naive_bounds_are_refused_by_name(bound: str) -> None:
    leads, rejections = _data()
    naive = datetime(2026, 4, 1, 9, 0)
    with pytest.raises(ValidationError, match=rf"^{bound}: .* naive") as info:
        rejection_counts(rejections, leads, **{bound: naive})
    assert (info.value.field, info.value.value) == (bound, naive)
