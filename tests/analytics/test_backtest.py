"""Planted truth for backtests: scoring as of hand-off (no look-ahead), a better card wins on
AUC, flips carry their real outcomes, and a proposal fitted from outcomes is validated on a
time-based holdout and written as a reviewable TOML diff."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from leadflow.analytics.backtest import backtest, propose_points
from leadflow.errors import InsufficientDataError
from leadflow.lifecycle import transition
from leadflow.model import Activity, Lead
from leadflow.rules.scorecard import Equals, Rule, Scorecard, Thresholds, TitleKeywords

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def card(vp: float, software: float, quote: float, name: str = "card") -> Scorecard:
    return Scorecard(
        name=name,
        half_life_days=30,
        thresholds=Thresholds(mql=20, sql_ready=40, sql_ready_requires_intent=False),
        rules=[
            Rule(id="vp", label="VP title", category="fit", points=vp,
                 when=TitleKeywords(keywords=["VP"])),
            Rule(id="software", label="software", category="fit", points=software,
                 when=Equals(field="industry", value="Software")),
            Rule(id="quote", label="quote request", category="behaviour", signal="intent",
                 points=quote, activities=["quote_request"]),
        ],
    )  # fmt: skip


def world(n: int = 1200, seed: int = 7) -> tuple[list[Lead], list[Activity]]:
    """True model: log-odds = -2 + 1.5 * VP + 0 * software + 2.0 * quote (at hand-off)."""
    rng = random.Random(seed)
    leads, activities = [], []
    for i in range(n):
        handed = T0 + timedelta(hours=i)
        vp, sw, quote = rng.random() < 0.4, rng.random() < 0.5, rng.random() < 0.3
        z = -2 + 1.5 * vp + 2.0 * quote
        converted = rng.random() < 1 / (1 + math.exp(-z))
        lead = Lead(
            id=f"L{i:04d}",
            created_at=handed - timedelta(days=2),
            title="VP Sales" if vp else "Analyst",
            industry="Software" if sw else "Retail",
        )
        lead = attrs.evolve(transition(lead, "mql", at=handed), handed_off_at=handed)
        if converted:
            lead = transition(lead, "sal", at=handed + timedelta(hours=2))
            lead = transition(lead, "sql", at=handed + timedelta(hours=3))
        leads.append(lead)
        if quote:
            activities.append(
                Activity(id=f"Q{i}", lead_id=lead.id, kind="quote_request",
                         occurred_at=handed - timedelta(hours=1))
            )  # fmt: skip
        # every lead does something after hand-off; a backtest must never see it
        activities.append(
            Activity(id=f"X{i}", lead_id=lead.id, kind="quote_request",
                     occurred_at=handed + timedelta(hours=5))
        )  # fmt: skip
    return leads, activities


def test_scores_are_taken_at_hand_off_without_look_ahead() -> None:
    leads, activities = world(n=300)
    before = [a for a in activities if a.id.startswith("Q")]
    with_later = backtest([card(20, 15, 40)], leads, activities)
    without = backtest([card(20, 15, 40)], leads, before)
    assert with_later.cards[0].to_dict() == without.cards[0].to_dict()


def test_the_better_card_wins_and_flips_carry_outcomes() -> None:
    leads, activities = world()
    fit_only = card(20, 40, 0, name="fit-only")  # weighs a useless rule, ignores intent
    intent = card(25, 0, 45, name="intent")
    result = backtest([fit_only, intent], leads, activities)
    a, b = result.cards
    assert a.auc is not None and b.auc is not None and b.auc > a.auc + 0.1
    assert b.deciles[0].lift is not None and b.deciles[0].lift > 1.5
    assert sum(d.leads for d in b.deciles) == len(leads)
    assert sum(c.leads for c in b.calibration) == len(leads)
    assert result.flips, "two different cards must disagree on some sql_ready calls"
    gained = [f for f in result.flips if f.second == "sql_ready"]
    lost = [f for f in result.flips if f.first == "sql_ready"]
    rate = lambda fs: sum(f.converted for f in fs) / max(1, len(fs))  # noqa: E731
    assert gained and rate(gained) > rate(lost)


def test_a_proposal_learns_the_planted_weights_and_is_validated_on_later_leads() -> None:
    leads, activities = world(n=2000)
    current = card(20, 30, 10)  # over-weights the useless rule, under-weights intent
    proposal = propose_points(current, leads, activities, holdout=0.3)
    points = {r.rule: r.proposed_points for r in proposal.revisions}
    assert points["quote"] > points["vp"] > abs(points["software"])
    assert proposal.training_leads == 1400 and proposal.holdout_leads == 600
    assert proposal.holdout_from == leads[1400].handed_off_at.isoformat()  # type: ignore[union-attr]
    assert proposal.holdout_auc_proposed is not None and proposal.holdout_auc_current is not None
    assert proposal.holdout_auc_proposed > proposal.holdout_auc_current
    assert "-points = 30" in proposal.diff and "+points = " in proposal.diff


def test_a_proposal_refuses_to_invent_from_too_little_data() -> None:
    leads, activities = world(n=50)
    with pytest.raises(InsufficientDataError, match="50 handed-off leads"):
        propose_points(card(20, 15, 40), leads, activities)


def test_a_capped_rule_keeps_capping_the_same_number_of_events() -> None:
    leads, activities = world(n=1500)
    capped = attrs.evolve(
        card(20, 30, 10),
        rules=[
            *card(20, 30, 10).rules[:2],
            attrs.evolve(card(20, 30, 10).rules[2], cap=20.0),  # two quote requests' worth
        ],
    )
    proposal = propose_points(capped, leads, activities)
    quote = next(r for r in proposal.revisions if r.rule == "quote")
    assert quote.current_cap == 20.0
    assert quote.proposed_cap == pytest.approx(20.0 * quote.proposed_points / 10.0, abs=0.01)
    revised = next(r for r in proposal.card.rules if r.id == "quote")
    assert revised.cap == quote.proposed_cap and revised.points == quote.proposed_points
