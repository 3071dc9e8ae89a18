"""The demo plants known truths; the public analytics API must find each of them.

Tolerances are set for the default demo (3,000 leads): the half-life's 95% interval must contain
the planted value and be bounded on both sides, and other effects must show with the sign and
rough size planted, not to the decimal.
"""

from __future__ import annotations

import pytest

from leadflow.analytics import closed_loop, rejection_counts, top_reasons_by_source
from leadflow.analytics.response import estimate_half_life, first_responses
from leadflow.analytics.sla_report import sla_adherence
from leadflow.analytics.validity import (
    conversion_by_score_band,
    scores_at_handoff,
    suggest_points,
)
from leadflow.demo import (
    OWNERS,
    PLANTED_HALF_LIFE_HOURS,
    PLANTED_SURGING_ACCOUNTS,
    PLANTED_TRADE_SHOW_REAL_BUYERS,
    DemoData,
    demo_calendar,
    demo_policies,
    demo_scorecard,
    generate,
)
from leadflow.rules.scoring import score_account
from leadflow.rules.sla import evaluate_many


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate()


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_the_planted_half_life_is_recovered_with_a_bounded_interval(seed: int) -> None:
    demo = generate(seed=seed)
    fit = estimate_half_life(first_responses(demo.leads, demo.touches))
    assert fit.ci_low_hours is not None and fit.ci_high_hours is not None
    assert fit.ci_low_hours <= PLANTED_HALF_LIFE_HOURS <= fit.ci_high_hours
    assert fit.ci_high_hours / fit.ci_low_hours < 2.5  # informative, not merely bounded
    assert fit.leads > 1000


def test_conversion_rises_across_score_bands_and_wins_rise_with_score(data: DemoData) -> None:
    accounts = {a.id: a for a in data.accounts}
    handoff = scores_at_handoff(demo_scorecard(), data.leads, data.activities, accounts=accounts)
    bands = conversion_by_score_band(data.leads, handoff.scores)
    rates = [b.rate for b in bands if b.leads >= 50]
    assert len(rates) == 5
    assert all(r is not None for r in rates)
    assert rates == sorted(rates)  # type: ignore[type-var]
    assert rates[-1] - rates[0] > 0.25  # type: ignore[operator]
    rows = suggest_points(
        handoff.scores, handoff.rule_hits, handoff.points, [w.outcome for w in data.outcomes]
    )
    statuses = {r.rule: r.status for r in rows}
    assert not any("slope" in s for s in statuses.values())
    assert sum(s == "suggested" for s in statuses.values()) >= 8


def test_reject_reasons_differ_by_source(data: DemoData) -> None:
    rejections = [w.rejection for w in data.rejections]
    top = {r.source: r for r in top_reasons_by_source(rejections, data.leads, n=1)}
    assert top["trade_show"].code == "not_ready_to_buy"
    counts = rejection_counts(rejections, data.leads, by=("source", "code"))
    not_ready = {r.source: r.share or 0.0 for r in counts if r.code == "not_ready_to_buy"}
    others = [share for source, share in not_ready.items() if source != "trade_show"]
    assert not_ready["trade_show"] > 2 * max(others)
    assert top["purchased_list"].code in ("wrong_function", "outside_target_market")
    assert top["content_syndication"].code in ("student", "wrong_function", "too_junior")


def test_half_of_the_trade_show_not_ready_leads_were_real_buyers(data: DemoData) -> None:
    rows = closed_loop(
        [w.rejection for w in data.rejections],
        data.leads,
        [w.outcome for w in data.outcomes],
        by_source=True,
    )
    by = {(r.code, r.source): r for r in rows}
    show = by[("not_ready_to_buy", "trade_show")]
    assert show.rejected >= 80
    # Binomial sd at n >= 80 is <= 0.056; allow about three of them.
    assert show.real_buyer_share is not None
    assert abs(show.real_buyer_share - PLANTED_TRADE_SHOW_REAL_BUYERS) < 0.17
    others = [r for (code, source), r in by.items() if source != "trade_show" and r.rejected >= 20]
    assert others and all((r.real_buyer_share or 0) < 0.2 for r in others)


def test_slow_reps_breach_the_sla_more(data: DemoData) -> None:
    evaluations = evaluate_many(
        data.leads,
        data.touches,
        now=data.now,
        policies=demo_policies(),
        calendar=demo_calendar(),
    )
    results = [r for ev in evaluations for r in ev.results() if r.step == "first_touch"]
    rows = {r.key: r for r in sla_adherence(results, by="owner")}
    assert set(rows) == set(OWNERS)
    fastest = min(OWNERS, key=lambda o: OWNERS[o][1])
    slowest = max(OWNERS, key=lambda o: OWNERS[o][1])
    assert rows[fastest].adherence is not None and rows[slowest].adherence is not None
    assert rows[fastest].adherence - rows[slowest].adherence > 0.15


def test_a_few_accounts_are_sales_winnable(data: DemoData) -> None:
    card = demo_scorecard()
    contacts: dict[str, list[tuple[object, list[object]]]] = {}
    by_lead: dict[str, list[object]] = {}
    for activity in data.activities:
        by_lead.setdefault(activity.lead_id, []).append(activity)
    for lead in data.leads:
        if lead.account_id is not None:
            contacts.setdefault(lead.account_id, []).append((lead, by_lead.get(lead.id, [])))
    winnable = [
        a.id
        for a in data.accounts
        if score_account(card, a, contacts.get(a.id, []), as_of=data.now).sales_winnable  # type: ignore[arg-type]
    ]
    planted = len(data.leads) // PLANTED_SURGING_ACCOUNTS
    # Most planted committees qualify, and few accounts qualify without one.
    assert 0.6 * planted <= len(winnable) <= 2 * planted
