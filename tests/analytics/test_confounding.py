"""Planted truth: the half-life survives confounding by fit, and every half-life names its clock.

The planted world is the one every real sales team lives in: better-fit leads are answered
faster *and* convert more anyway. The true decay is a 12 h half-life within every fit band.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from leadflow.analytics import build_report
from leadflow.analytics.response import (
    WALL_CLOCK,
    business_hours,
    compare_half_lives,
    estimate_half_life,
    first_responses,
    fit_decay,
    fit_decay_stratified,
)
from leadflow.business_time import BusinessCalendar
from leadflow.lifecycle import transition
from leadflow.model import Lead, Touch

TRUE_HALF_LIFE = 12.0
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def confounded_world(n: int = 6000, seed: int = 11) -> tuple[list[float], list[bool], list[str]]:
    rng = random.Random(seed)
    delays, converted, bands = [], [], []
    for _ in range(n):
        band = rng.choice(["A", "B", "C"])
        base = {"A": 0.7, "B": 0.4, "C": 0.15}[band]
        mean_delay = {"A": 3.0, "B": 12.0, "C": 36.0}[band]  # good fit is answered first
        d = rng.expovariate(1 / mean_delay)
        p = base * 2 ** (-d / TRUE_HALF_LIFE)
        delays.append(d)
        converted.append(rng.random() < p)
        bands.append(band)
    return delays, converted, bands


def test_pooled_half_life_is_confounded_and_the_stratified_one_finds_the_truth() -> None:
    delays, converted, bands = confounded_world()
    crude = fit_decay(delays, converted)
    adjusted = fit_decay_stratified(delays, converted, bands, adjusted_for=["fit band"])
    assert crude.half_life_hours is not None and adjusted.half_life_hours is not None
    # the pooled fit is far too short, and its interval excludes the truth
    assert crude.ci_high_hours is not None and crude.ci_high_hours < TRUE_HALF_LIFE
    # the adjusted interval covers the truth and its estimate is close
    assert adjusted.ci_low_hours is not None and adjusted.ci_high_hours is not None
    assert adjusted.ci_low_hours <= TRUE_HALF_LIFE <= adjusted.ci_high_hours
    assert abs(adjusted.half_life_hours - TRUE_HALF_LIFE) < 2.5
    assert adjusted.strata == 3 and adjusted.adjusted_for == ("fit band",)
    verdict = compare_half_lives(crude, adjusted)
    assert verdict.disagree
    assert verdict.warning is not None and "fit band" in verdict.warning


def test_without_confounding_crude_and_adjusted_agree() -> None:
    rng = random.Random(5)
    delays, converted, bands = [], [], []
    for _ in range(4000):
        band = rng.choice(["A", "B"])
        d = rng.expovariate(1 / 12.0)  # same response speed for every band
        p = {"A": 0.6, "B": 0.3}[band] * 2 ** (-d / TRUE_HALF_LIFE)
        delays.append(d)
        converted.append(rng.random() < p)
        bands.append(band)
    verdict = compare_half_lives(
        fit_decay(delays, converted), fit_decay_stratified(delays, converted, bands)
    )
    assert not verdict.disagree
    assert verdict.warning is None


def test_stratified_fit_equals_the_pooled_fit_with_one_stratum() -> None:
    delays, converted, _ = confounded_world(n=800, seed=3)
    pooled = fit_decay(delays, converted)
    one = fit_decay_stratified(delays, converted, ["all"] * len(delays))
    assert pooled.half_life_hours == pytest.approx(one.half_life_hours, rel=1e-5)
    assert pooled.ci_low_hours == pytest.approx(one.ci_low_hours, rel=1e-4)


def _leads_and_touches() -> tuple[list[Lead], list[Touch]]:
    delays, converted, bands = confounded_world(n=3000, seed=2)
    leads, touches = [], []
    for i, (d, c, band) in enumerate(zip(delays, converted, bands, strict=True)):
        handed = T0 + timedelta(hours=i % 500)
        lead = Lead(id=f"L{i}", created_at=handed, source=f"band-{band}", handed_off_at=handed)
        lead = transition(lead, "mql", at=handed)
        if c:
            lead = transition(lead, "sal", at=handed + timedelta(hours=d + 1))
            lead = transition(lead, "sql", at=handed + timedelta(hours=d + 2))
        leads.append(lead)
        touches.append(
            Touch(id=f"T{i}", lead_id=lead.id, kind="call", at=handed + timedelta(hours=d), by="u1")
        )
    return leads, touches


def test_report_shows_crude_and_adjusted_side_by_side_with_a_warning() -> None:
    leads, touches = _leads_and_touches()
    now = T0 + timedelta(days=60)
    report = build_report(leads=leads, touches=touches, now=now, half_life_strata=("source",))
    assert report.half_life is not None and report.half_life_adjusted is not None
    assert report.half_life_adjusted.adjusted_for == ("source",)
    assert report.half_life.clock == WALL_CLOCK == report.half_life_adjusted.clock
    assert any("confounded" in note for note in report.notes)
    data = report.to_dict()
    assert data["half_life"][0]["clock"] == "wall-clock hours"
    assert data["half_life_adjusted"][0]["adjusted_for"] == ["source"]
    assert data["half_life_comparison"]["disagree"] is True


def test_business_hours_are_labelled_with_their_calendar() -> None:
    leads, touches = _leads_and_touches()
    calendar = BusinessCalendar.weekdays("America/New_York", name="ny-sales")
    responses = first_responses(leads[:400], touches[:400], elapsed=business_hours(calendar))
    fit = estimate_half_life(responses, clock=business_hours(calendar).label)
    assert fit.clock == "business hours (ny-sales)"
    report = build_report(
        leads=leads[:400],
        touches=touches[:400],
        now=T0 + timedelta(days=60),
        elapsed=business_hours(calendar),
    )
    assert report.half_life is not None
    assert report.half_life.clock == "business hours (ny-sales)"
