"""Invariants of the reports, checked with hypothesis over random lead histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.analytics import (
    closed_loop,
    fit_decay,
    quantile,
    rejection_counts,
    rejections_from_leads,
    sla_adherence,
    stage_conversion,
    stage_entries,
)
from leadflow.errors import InsufficientDataError
from leadflow.lifecycle import WATERFALL, transition
from leadflow.model import Lead
from leadflow.outcomes import Outcome
from leadflow.reasons import STANDARD_REASONS, reject
from leadflow.rules.sla import StepResult, StepState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SOURCES = st.sampled_from([None, "web", "event"])
CODES = [c.code for c in STANDARD_REASONS if not c.note_required]


@st.composite
def leads(draw: st.DrawFn, lead_id: str) -> Lead:
    lead = Lead(id=lead_id, created_at=T0, source=draw(SOURCES))
    at = T0
    for _ in range(draw(st.integers(0, 6))):
        targets = WATERFALL.targets(lead.stage)
        if not targets:
            break
        at += timedelta(hours=draw(st.integers(0, 2000)))
        if draw(st.booleans()) and lead.stage in ("mql", "sal", "sql"):
            lead, _ = reject(lead, draw(st.sampled_from(CODES)), at=at, by="u")
        else:
            lead = transition(lead, draw(st.sampled_from(targets)), at=at)
    return lead


lead_lists = st.integers(0, 25).flatmap(
    lambda n: st.tuples(*(leads(f"L{i}") for i in range(n))).map(list)
)


@settings(max_examples=60, deadline=None)
@given(
    lead_lists, st.sampled_from([("code",), ("source", "code"), ("period", "code"), ("source",)])
)
def test_rejection_counts_add_up(data: list[Lead], by: tuple[str, ...]) -> None:
    rejections = rejections_from_leads(data)
    rows = rejection_counts(rejections, data, by=by)
    assert sum(r.count for r in rows) == len(rejections)
    groups: dict[tuple[object, ...], float] = {}
    for r in rows:
        # Grouped by code, shares add up to 1 within each group of the other dimensions, among
        # sales' judgements and among SLA failures apart; otherwise they are shares of all
        # rejections.
        key = (r.source, r.period, r.sla_failure) if "code" in by else ()
        groups[key] = groups.get(key, 0.0) + (r.share or 0.0)
    assert all(abs(total - 1.0) < 1e-5 for total in groups.values())


@settings(max_examples=60, deadline=None)
@given(lead_lists)
def test_closed_loop_fates_partition_the_rejections(data: list[Lead]) -> None:
    rejections = rejections_from_leads(data)
    kinds = ["no_decision", "evaluating_others", "not_in_market", "competitor", "evaluating"]
    outcomes = [
        Outcome(lead_id=lead.id, kind=kinds[i % len(kinds)], at=T0 + timedelta(days=400))
        for i, lead in enumerate(data[::3])
    ]
    for window in (None, 12):
        rows = closed_loop(rejections, data, outcomes, window_months=window)
        assert sum(r.rejected for r in rows) == len(rejections)
        for r in rows:
            parts = (
                r.won + r.competitor + r.opportunity + r.evaluating_others + r.expects_to_buy
                + r.reengaged + r.no_decision + r.not_in_market + r.nothing_yet
            )  # fmt: skip
            assert parts == r.rejected
            assert r.real_buyers == (
                r.won + r.competitor + r.opportunity + r.evaluating_others + r.expects_to_buy
            )


@settings(max_examples=60, deadline=None)
@given(lead_lists)
def test_the_funnel_narrows_and_entries_match_histories(data: list[Lead]) -> None:
    rows = stage_conversion(data)
    for row in rows:
        assert 0 <= row.reached_to <= row.reached_from <= len(data)
    entries = stage_entries(data)
    assert sum(e.entries for e in entries) == sum(len(lead.history) + 1 for lead in data)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 1), st.floats(0, 1))
def test_quantile_is_bounded_and_monotone(values: list[float], q1: float, q2: float) -> None:
    low, high = sorted((q1, q2))
    a, b = quantile(values, low), quantile(values, high)
    assert a is not None and b is not None
    assert min(values) - 1e-6 <= a <= b + 1e-6 <= max(values) + 2e-6


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 96), st.booleans()), min_size=4, max_size=60),
    st.sampled_from([0.5, 2.0, 3.0]),
)
def test_half_life_scales_with_the_unit_of_time(points: list[tuple[int, bool]], k: float) -> None:
    delays = [float(d) for d, _ in points]
    conv = [c for _, c in points]
    try:
        base = fit_decay(delays, conv)
    except InsufficientDataError:
        return
    scaled = fit_decay([d * k for d in delays], conv)
    assert abs(scaled.initial_rate - base.initial_rate) < 1e-3
    if base.half_life_hours is None or scaled.half_life_hours is None:
        assert base.decay_per_hour < 1e-6 or scaled.decay_per_hour < 1e-6
    else:
        assert (
            abs(scaled.half_life_hours - k * base.half_life_hours)
            <= 1e-3 * k * base.half_life_hours + 1e-3
        )


@st.composite
def step_results(draw: st.DrawFn) -> list[StepResult]:
    n = draw(st.integers(0, 30))
    return [
        StepResult(
            lead_id=f"L{i}",
            policy="p",
            step=draw(st.sampled_from(["first_touch", "follow_up"])),
            state=(state := draw(st.sampled_from(["met", "breached", "pending"]))),
            detail=StepState(state),
            due_at=T0 + timedelta(days=draw(st.integers(0, 400))),
            response_hours=draw(st.none() | st.floats(0, 500)),
            owner=draw(st.sampled_from([None, "u-1", "u-2"])),
            team=draw(st.sampled_from([None, "east"])),
            source=draw(SOURCES),
        )
        for i in range(n)
    ]


@settings(max_examples=60, deadline=None)
@given(step_results(), st.sampled_from(["policy", "step", "owner", "team", "source", "period"]))
def test_sla_adherence_partitions_the_results(results: list[StepResult], by: str) -> None:
    rows = sla_adherence(results, by=by)
    assert sum(r.met + r.breached + r.pending for r in rows) == len(results)
    for r in rows:
        assert r.adherence is None or 0.0 <= r.adherence <= 1.0
        if r.median_hours is not None:
            assert r.p90_hours is not None and r.median_hours <= r.p90_hours + 1e-9


def test_a_negligible_decay_is_no_decay() -> None:
    """Hypothesis found these points: the optimiser's decay of ~1e-18 per hour was reported as a
    1.2e17 h half-life beside a rounded decay of 0.0, and scaled differently with the unit."""
    points = [(0, True), (0, True), (37, False), (45, False), (49, True), (53, False),
              (96, True), (96, True), (32, False), (71, True), (93, False)]  # fmt: skip
    for k in (1.0, 3.0):
        fit = fit_decay([d * k for d, _ in points], [c for _, c in points])
        assert fit.half_life_hours is None
        assert fit.decay_per_hour == 0.0
