"""The analytics recover truths planted in a seeded synthetic data set (20 000 leads)."""

from __future__ import annotations

import pytest

from leadflow.analytics import (
    build_report,
    closed_loop,
    estimate_half_life,
    first_responses,
    rejection_counts,
    rejections_from_leads,
    sla_adherence,
)

from .planted import BREACH_RATE, REAL_BUYER, REASON_MIX, Planted, generate

HALF_LIFE = 12.0


@pytest.fixture(scope="module")
def planted() -> Planted:
    return generate(20_000, seed=8, half_life=HALF_LIFE, p0=0.4)


def test_half_life_is_recovered_within_15_percent(planted: Planted) -> None:
    fit = estimate_half_life(first_responses(planted.leads, planted.touches))
    assert fit.half_life_hours is not None
    assert abs(fit.half_life_hours - HALF_LIFE) / HALF_LIFE < 0.15
    assert fit.ci_low_hours is not None and fit.ci_high_hours is not None
    assert fit.ci_low_hours < HALF_LIFE < fit.ci_high_hours
    assert abs(fit.initial_rate - 0.4) < 0.03


@pytest.mark.parametrize(("seed", "half_life"), [(1, 6.0), (2, 30.0)])
def test_other_half_lives_are_recovered(seed: int, half_life: float) -> None:
    data = generate(20_000, seed=seed, half_life=half_life, p0=0.3)
    fit = estimate_half_life(first_responses(data.leads, data.touches))
    assert fit.half_life_hours is not None
    assert abs(fit.half_life_hours - half_life) / half_life < 0.15


def test_reason_mix_per_source_is_recovered(planted: Planted) -> None:
    rejections = rejections_from_leads(planted.leads)
    rows = rejection_counts(rejections, planted.leads, by=("source", "code"))
    observed = {(r.source, r.code): r.share for r in rows}
    assert {s for s, _ in observed} == set(REASON_MIX)
    for source, mix in REASON_MIX.items():
        assert {c for s, c in observed if s == source} == set(mix)
        for code, share in mix.items():
            assert observed[(source, code)] == pytest.approx(share, abs=0.03), (source, code)


def test_sla_breach_rates_per_team_are_recovered(planted: Planted) -> None:
    rows = {r.key: r for r in sla_adherence(planted.sla, by="team")}
    assert set(rows) == set(BREACH_RATE)
    for team, rate in BREACH_RATE.items():
        row = rows[team]
        assert row.pending == 0
        assert row.breached / (row.met + row.breached) == pytest.approx(rate, abs=0.02)
        assert row.adherence == pytest.approx(1 - rate, abs=0.02)


def test_real_buyer_share_per_code_is_recovered(planted: Planted) -> None:
    rows = closed_loop(rejections_from_leads(planted.leads), planted.leads, planted.outcomes)
    for row in rows:
        assert row.real_buyer_share == pytest.approx(REAL_BUYER.get(row.code, 0.0), abs=0.04)


def test_the_full_report_agrees_with_the_single_reports(planted: Planted) -> None:
    report = build_report(
        leads=planted.leads,
        touches=planted.touches,
        outcomes=planted.outcomes,
        sla_results=planted.sla,
        now=planted.now,
    )
    assert report.half_life == estimate_half_life(first_responses(planted.leads, planted.touches))
    rejections = rejections_from_leads(planted.leads)
    assert report.rejections_total == len(rejections)
    assert list(report.rejections) == rejection_counts(
        rejections, planted.leads, by=("source", "code")
    )
    assert list(report.sla_by_team) == sla_adherence(planted.sla, by="team")
