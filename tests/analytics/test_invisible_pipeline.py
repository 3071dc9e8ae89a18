"""Planted truth: the classic study of ten "rubbish" trade-show leads, replayed a year later.

Of ten leads sales rejected, a year on: 2 had bought from a competitor, 2 were in an active
purchase in which the vendor was not a candidate, 1 expected to buy within 12 months, 4 had done
nothing and 1 was not in the market. Half of the "rubbish" bought or was buying — the invisible
pipeline. The report must say so in one number, and keep the other vendors' deals apart from ours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import leadflow
from leadflow.analytics import build_report
from leadflow.analytics.closed_loop import Fate, closed_loop, closed_loop_headline, rejection_fates
from leadflow.errors import ValidationError
from leadflow.outcomes import Outcome

T0 = datetime(2025, 3, 10, 15, tzinfo=UTC)
YEAR_ON = T0 + timedelta(days=350)


def seed_study() -> tuple[list[leadflow.Lead], list[leadflow.Rejection], list[Outcome]]:
    leads, rejections = [], []
    for i in range(10):
        lead = leadflow.Lead(id=f"TS-{i}", created_at=T0, source="trade_show")
        lead = leadflow.transition(lead, "mql", at=T0 + timedelta(hours=1), by="scoring")
        lead, rejection = leadflow.reject(
            lead, "not_ready_to_buy", at=T0 + timedelta(days=2), by="u-rep"
        )
        leads.append(lead)
        rejections.append(rejection)
    outcomes = [
        Outcome(lead_id="TS-0", kind="competitor", at=YEAR_ON, competitor="Acme",
                amount=Decimal("40000"), currency="USD"),
        Outcome(lead_id="TS-1", kind="competitor", at=YEAR_ON, competitor="Globex"),
        Outcome(lead_id="TS-2", kind="evaluating_others", at=YEAR_ON),
        Outcome(lead_id="TS-3", kind="evaluating_others", at=YEAR_ON),
        Outcome(lead_id="TS-4", kind="expects_to_buy", at=YEAR_ON,
                expected_by=YEAR_ON + timedelta(days=365)),
        Outcome(lead_id="TS-9", kind="not_in_market", at=YEAR_ON),
    ]  # fmt: skip
    return leads, rejections, outcomes


def test_the_seed_study_reads_half_within_twelve_months() -> None:
    leads, rejections, outcomes = seed_study()
    head = closed_loop_headline(rejections, leads, outcomes, window_months=12)
    assert head.rejected == 10
    assert head.buying == 5 and head.buying_share == 0.5
    assert head.bought_from_competitor == 2 and head.evaluating_others == 2
    assert head.from_competitor_share == 0.4
    assert head.from_us == 0 and head.from_us_share == 0.0
    assert head.expects_to_buy == 1
    assert head.revenue_lost == "40000 USD"
    assert "50% bought or are buying within 12 months" in head.sentence
    assert "40% from a competitor, 0% from us" in head.sentence


def test_the_window_is_a_parameter() -> None:
    leads, rejections, outcomes = seed_study()
    # a six-month window sees none of what was learned a year on
    assert closed_loop_headline(rejections, leads, outcomes, window_months=6).buying == 0
    with pytest.raises(ValidationError, match="window_months"):
        closed_loop_headline(rejections, leads, outcomes, window_months=0)


def test_the_period_selects_rejections() -> None:
    leads, rejections, outcomes = seed_study()
    later = (T0 + timedelta(days=30), T0 + timedelta(days=60))
    assert closed_loop_headline(rejections, leads, outcomes, period=later).rejected == 0
    around = (T0, T0 + timedelta(days=30))
    head = closed_loop_headline(rejections, leads, outcomes, period=around)
    assert head.rejected == 10 and "rejected from 2025-03-10 to before 2025-04-09" in head.sentence


def test_other_vendors_deals_are_not_our_pipeline() -> None:
    leads, rejections, outcomes = seed_study()
    fates = {f.lead_id: f.fate for f in rejection_fates(rejections, leads, outcomes)}
    assert fates["TS-2"] is Fate.EVALUATING_OTHERS  # was shown as 'opportunity' (ours) before
    assert fates["TS-4"] is Fate.EXPECTS_TO_BUY
    assert fates["TS-9"] is Fate.NOT_IN_MARKET
    (row,) = closed_loop(rejections, leads, outcomes)
    assert row.opportunity == 0
    assert (row.competitor, row.evaluating_others, row.expects_to_buy) == (2, 2, 1)
    assert row.real_buyers == 5 and row.real_buyer_share == 0.5
    assert (row.revenue_lost, row.revenue_lost_unknown) == ("40000 USD", 3)


def test_fates_by_source_and_by_reason_and_both() -> None:
    leads, rejections, outcomes = seed_study()
    (by_source,) = closed_loop(rejections, leads, outcomes, by=("source",))
    assert (by_source.code, by_source.source, by_source.real_buyers) == (None, "trade_show", 5)
    (both,) = closed_loop(rejections, leads, outcomes, by=("code", "source"))
    assert (both.code, both.source) == ("not_ready_to_buy", "trade_show")


def test_the_report_carries_the_headline_in_html_and_json() -> None:
    from leadflow.analytics import render_html

    leads, rejections, outcomes = seed_study()
    report = build_report(
        leads=leads, rejections=rejections, outcomes=outcomes, now=YEAR_ON + timedelta(days=30)
    )
    data = report.to_dict()
    assert data["closed_loop_headline"]["buying_share"] == 0.5
    assert data["closed_loop_headline"]["window_months"] == 12
    assert data["closed_loop_by_source"][0]["source"] == "trade_show"
    html = render_html(report)
    assert "50% bought or are buying within 12 months" in html


def test_expects_to_buy_needs_a_date() -> None:
    with pytest.raises(ValidationError, match="expected_by"):
        Outcome(lead_id="X", kind="expects_to_buy", at=YEAR_ON)
    with pytest.raises(ValidationError, match="expected_by"):
        Outcome(lead_id="X", kind="won", at=YEAR_ON, amount=1, currency="USD", expected_by=YEAR_ON)


def test_the_headline_says_when_its_window_has_not_closed() -> None:
    leads, rejections, outcomes = seed_study()
    early = closed_loop_headline(
        rejections, leads, outcomes, window_months=12, now=T0 + timedelta(days=200)
    )
    assert early.complete == 0
    assert "window has closed for 0 of them; the others can still buy" in early.sentence
    late = closed_loop_headline(
        rejections, leads, outcomes, window_months=12, now=T0 + timedelta(days=400)
    )
    assert late.complete == 10 and "can still buy" not in late.sentence


def test_the_csv_export_holds_the_headline(tmp_path: Path) -> None:
    from leadflow.cli.reporting import write_report

    leads, rejections, outcomes = seed_study()
    report = build_report(leads=leads, rejections=rejections, outcomes=outcomes, now=YEAR_ON)
    write_report(report, tmp_path / "csv", fmt="csv")
    text = (tmp_path / "csv" / "closed_loop_headline.csv").read_text(encoding="utf-8")
    assert "buying_share" in text.splitlines()[0] and ",0.5," in text
