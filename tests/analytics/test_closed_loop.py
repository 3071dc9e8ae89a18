"""The fate of rejected leads: precedence, time windows, counts per code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from leadflow.analytics import Fate, closed_loop, rejection_fates
from leadflow.lifecycle import transition
from leadflow.model import Lead
from leadflow.outcomes import Outcome
from leadflow.reasons import reject

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
D = timedelta(days=1)


def _won(lead_id: str, at: datetime) -> Outcome:
    return Outcome(lead_id=lead_id, kind="won", at=at, amount=Decimal(100), currency="EUR")


def test_the_furthest_fate_wins_and_only_later_events_count() -> None:
    a, ra = reject(Lead(id="A", created_at=T0, stage="sal"), "no_budget", at=T0, by="u")
    a = transition(a, "mql", at=T0 + 30 * D)  # re-engaged ...
    outcomes = [
        Outcome(lead_id="A", kind="no_decision", at=T0 + 40 * D),
        Outcome(lead_id="A", kind="competitor", at=T0 + 50 * D, competitor="Acme"),  # ... bought
        _won("B", T0 - D),  # before B's rejection: not a fate of it
    ]
    b, rb = reject(Lead(id="B", created_at=T0 - 5 * D, stage="sal"), "student", at=T0, by="u")
    fates = rejection_fates([ra, rb], [a, b], outcomes)
    assert [(f.lead_id, f.fate, f.fate_at) for f in fates] == [
        ("A", Fate.COMPETITOR, T0 + 50 * D),
        ("B", Fate.NOTHING_YET, None),
    ]


def test_a_second_rejection_starts_a_new_story() -> None:
    lead = Lead(id="A", created_at=T0, stage="sal", source="event")
    lead, first = reject(lead, "not_ready_to_buy", at=T0, by="u")
    lead = transition(lead, "mql", at=T0 + 90 * D)
    lead = transition(lead, "sal", at=T0 + 91 * D)
    lead, second = reject(lead, "no_budget", at=T0 + 95 * D, by="u")
    lead = transition(lead, "mql", at=T0 + 200 * D)
    lead = transition(lead, "sal", at=T0 + 201 * D)
    lead = transition(lead, "sql", at=T0 + 202 * D)
    lead = transition(lead, "opportunity", at=T0 + 210 * D)
    fates = rejection_fates([first, second], [lead], [_won("A", T0 + 250 * D)])
    assert [f.fate for f in fates] == [Fate.REENGAGED, Fate.WON]
    rows = closed_loop([first, second], [lead], [_won("A", T0 + 250 * D)], by_source=True)
    assert [(r.code, r.source, r.rejected, r.won, r.reengaged, r.real_buyers) for r in rows] == [
        ("no_budget", "event", 1, 1, 0, 1),
        ("not_ready_to_buy", "event", 1, 0, 1, 0),
    ]


def test_lost_and_evaluating_outcomes_count_as_opportunities() -> None:
    leads, rejections = [], []
    for i in range(4):
        lead, r = reject(Lead(id=f"L{i}", created_at=T0, stage="sal"), "no_need", at=T0, by="u")
        leads.append(lead)
        rejections.append(r)
    outcomes = [
        Outcome(lead_id="L0", kind="lost", at=T0 + D, reason="price"),
        Outcome(lead_id="L1", kind="evaluating", at=T0 + D),
        Outcome(lead_id="L2", kind="no_decision", at=T0 + D),
    ]
    (row,) = closed_loop(rejections, leads, outcomes)
    assert (row.rejected, row.opportunity, row.no_decision, row.nothing_yet) == (4, 2, 1, 1)
    assert (row.real_buyers, row.real_buyer_share) == (2, 0.5)
