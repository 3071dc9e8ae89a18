"""Planted truth for the monthly meeting's tables: rates, trends, pipeline, the re-engage list,
and the note that says why there is no half-life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from leadflow.analytics import build_report
from leadflow.analytics.meeting import pipeline, reengage_due, rejection_rates, trends
from leadflow.lifecycle import transition
from leadflow.model import Lead, Touch
from leadflow.outcomes import Outcome
from leadflow.reasons import reject

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
D = timedelta(days=1)


def handed(i: int, source: str, owner: str, at: datetime, campaign: str = "c1") -> Lead:
    lead = Lead(id=f"L{i}", created_at=at, source=source, owner_id=owner, campaign=campaign)
    return attrs.evolve(transition(lead, "mql", at=at), handed_off_at=at)


def test_rejection_rate_divides_by_hand_offs_per_source_and_rep() -> None:
    leads = [handed(i, "webinar" if i < 10 else "trade_show", "ana" if i % 2 else "ben", T0)
             for i in range(30)]  # fmt: skip
    rejections = []
    for i in (0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17, 18):
        leads[i], r = reject(leads[i], "not_ready_to_buy", at=T0 + D, by="rep")
        rejections.append(r)
    by_source = {r.key: r for r in rejection_rates(leads, rejections, by="source")}
    assert (by_source["webinar"].handed_off, by_source["webinar"].rejected) == (10, 3)
    assert by_source["webinar"].rate == 0.3
    assert by_source["trade_show"].rate == 0.45  # 9 of 20
    by_rep = {r.key: r for r in rejection_rates(leads, rejections, by="owner")}
    assert by_rep["ana"].handed_off == by_rep["ben"].handed_off == 15
    assert by_rep["ana"].rejected + by_rep["ben"].rejected == 12


def test_trends_per_period_and_pipeline_by_source() -> None:
    jan = [handed(i, "webinar", "ana", T0) for i in range(4)]
    feb = [handed(10 + i, "ads", "ben", T0 + 31 * D, campaign="spring") for i in range(5)]
    feb[0], r = reject(feb[0], "student", at=T0 + 32 * D, by="ben")
    rows = trends([*jan, *feb], [r])
    assert [(t.period, t.handed_off, t.rejected) for t in rows] == [
        ("2026-01", 4, 0),
        ("2026-02", 5, 1),
    ]
    assert rows[1].rejection_rate == 0.2
    outcomes = [
        Outcome(lead_id="L0", kind="won", at=T0 + 40 * D, amount=Decimal(5000), currency="EUR"),
        Outcome(lead_id="L1", kind="lost", at=T0 + 40 * D, reason="price"),
        Outcome(lead_id="L11", kind="competitor", at=T0 + 60 * D),
    ]
    by_source = {p.key: p for p in pipeline([*jan, *feb], outcomes)}
    assert (by_source["webinar"].won, by_source["webinar"].revenue_won) == (1, "5000 EUR")
    assert by_source["webinar"].opportunities == 2 and by_source["webinar"].lost == 1
    assert by_source["ads"].lost_to_competitor == 1
    assert {p.key for p in pipeline([*jan, *feb], outcomes, by="campaign")} == {"c1", "spring"}


def test_reengage_due_lists_recycled_leads_whose_date_has_come() -> None:
    a, ra = reject(handed(1, "web", "ana", T0), "not_ready_to_buy", at=T0, by="ana")
    b, rb = reject(handed(2, "web", "ana", T0), "not_ready_to_buy", at=T0 + 60 * D, by="ana")
    c, rc = reject(handed(3, "web", "ana", T0), "not_ready_to_buy", at=T0, by="ana")
    c = transition(c, "mql", at=T0 + 10 * D)  # already back in the funnel
    now = T0 + 100 * D
    due = reengage_due([a, b, c], [ra, rb, rc], now=now)
    assert [d.lead_id for d in due] == ["L1"]
    assert ra.reengage_at is not None and due[0].reengage_at == ra.reengage_at <= now


def test_the_note_says_converted_leads_had_no_touches_not_that_none_converted() -> None:
    leads = []
    for i in range(6):
        lead = handed(i, "web", "ana", T0)
        if i < 3:
            lead = transition(transition(lead, "sal", at=T0 + D), "sql", at=T0 + 2 * D)
        leads.append(lead)
    touches = [Touch(id=f"T{i}", lead_id=f"L{i}", kind="call", at=T0 + D, by="ana")
               for i in (3, 4, 5)]  # fmt: skip
    report = build_report(leads=leads, touches=touches, now=T0 + 10 * D)
    assert report.half_life is None
    assert any("3 handed-off leads converted, but none has a recorded touch" in n
               for n in report.notes)  # fmt: skip
    assert not any("no lead converted" in n for n in report.notes)
