"""The SLA rules, the CLI and the HTML report quote one adherence definition for the same data."""

from __future__ import annotations

import pytest

from leadflow.analytics import sla_adherence
from leadflow.business_time import BusinessCalendar
from leadflow.rules.sla import AdherenceFigures, adherence, evaluate_many, load_policies

from .planted import generate


def test_rules_and_report_agree_per_owner() -> None:
    # Enough delay and silence that every owner has met, breached *and* pending steps, so the
    # two denominators (judged vs decided) give visibly different shares.
    data = generate(600, seed=5, mean_delay=30.0, no_response=0.1)
    handoffs = sorted(lead.handed_off_at for lead in data.leads if lead.handed_off_at)
    now = handoffs[-40]  # the last leads are still within their windows: pending
    always = BusinessCalendar(zone="UTC", hours={"mon-sun": "00:00-24:00"}, name="24x7")
    evaluations = evaluate_many(
        data.leads,
        data.touches,
        now=now,
        policies=load_policies("examples/sla.toml"),
        calendar=always,
    )
    by_rules = {r["owner"]: r for r in adherence(evaluations, by=("owner",))}
    flat = [row for ev in evaluations for row in ev.results()]
    by_report = {r.key: r for r in sla_adherence(flat, by="owner")}
    assert set(by_rules) == set(by_report)
    assert any(r["pending"] and r["breached"] for r in by_rules.values())
    for owner, rules_row in by_rules.items():
        report_row = by_report[owner]
        counts = (rules_row["met"], rules_row["breached"], rules_row["pending"])
        assert counts == (report_row.met, report_row.breached, report_row.pending)
        assert report_row.share_met == pytest.approx(rules_row["share_met"], abs=1e-6)
        assert report_row.adherence == pytest.approx(rules_row["adherence"], abs=1e-6)
        assert report_row.median_hours == rules_row["median_response_hours"]
        assert report_row.p90_hours == rules_row["p90_response_hours"]


def test_the_two_denominators_are_named_and_distinct() -> None:
    figures = AdherenceFigures.of(met=7, breached=1, pending=2, response_hours=[2.0, 4.0])
    assert figures.share_met == pytest.approx(7 / 10)  # of judged: met + breached + pending
    assert figures.adherence == pytest.approx(7 / 8)  # of decided: met + breached
    assert figures.share_met + figures.share_breached + figures.share_pending == pytest.approx(1)
    assert (figures.median_response_hours, figures.p90_response_hours) == (3.0, 3.8)
    nothing = AdherenceFigures.of(met=0, breached=0, pending=0, response_hours=[])
    assert (nothing.share_met, nothing.adherence, nothing.median_response_hours) == (
        None,
        None,
        None,
    )
