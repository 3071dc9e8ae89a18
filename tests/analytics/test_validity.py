"""Conversion by score band and suggested point changes, on planted rule effects."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from leadflow.analytics import conversion_by_score_band, suggest_points
from leadflow.analytics.validity import score_slope
from leadflow.errors import ValidationError
from leadflow.model import Lead
from leadflow.outcomes import Outcome

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _planted(n: int, seed: int = 4) -> tuple[dict[str, float], dict[str, set[str]], list[Outcome]]:
    """Rule "demo_request" truly adds +2 log-odds, "newsletter" nothing; the scorecard weighs
    them 20 and 20 points, plus noise points that do not matter."""
    rng = random.Random(seed)
    scores, hits, outcomes = {}, {}, []
    for i in range(n):
        lead_id = f"L{i}"
        fired = {r for r in ("demo_request", "newsletter") if rng.random() < 0.4}
        hits[lead_id] = fired
        scores[lead_id] = 20.0 * len(fired) + rng.uniform(0, 10)
        logit = -2.0 + 2.0 * ("demo_request" in fired)
        won = rng.random() < 1 / (1 + math.exp(-logit))
        kind = "won" if won else "lost"
        outcomes.append(
            Outcome(
                lead_id=lead_id,
                kind=kind,
                at=T0 + timedelta(days=i % 50),
                reason=None if won else "price",
                amount=1 if won else None,
                currency="EUR" if won else None,
            )
        )
    return scores, hits, outcomes


def test_suggestions_follow_the_planted_effects() -> None:
    scores, hits, outcomes = _planted(4000)
    rows = {
        r.rule: r
        for r in suggest_points(scores, hits, {"demo_request": 20, "newsletter": 20}, outcomes)
    }
    demo, news = rows["demo_request"], rows["newsletter"]
    assert demo.status == news.status == "suggested"
    assert demo.lift_log_odds == pytest.approx(2.0, abs=0.2)
    assert news.lift_log_odds == pytest.approx(0.0, abs=0.2)
    assert demo.suggested_points is not None and news.suggested_points is not None
    assert demo.suggested_points > 20 * 1.5 * max(news.suggested_points, 1)
    assert news.change is not None and news.change < -10  # the newsletter is over-weighted
    assert demo.fired + demo.not_fired == 4000


def test_too_few_closed_outcomes_says_so() -> None:
    scores, hits, outcomes = _planted(100)
    (row,) = suggest_points(scores, hits, {"demo_request": 20}, outcomes)
    assert row.status == "too few closed outcomes (100 < 200)"
    assert row.suggested_points is None and row.change is None
    # Evaluating outcomes are not closed.
    open_only = [Outcome(lead_id=o.lead_id, kind="evaluating", at=o.at) for o in outcomes]
    (row,) = suggest_points(scores, hits, {"demo_request": 20}, open_only, min_closed=1)
    assert row.status.startswith("too few closed outcomes (0")


def test_score_slope_matches_a_known_logistic() -> None:
    rng = random.Random(9)
    xs = [rng.uniform(0, 100) for _ in range(5000)]
    ys = [rng.random() < 1 / (1 + math.exp(-(-3 + 0.05 * x))) for x in xs]
    assert score_slope(xs, ys) == pytest.approx(0.05, rel=0.1)
    with pytest.raises(ValidationError, match="needs both wins and non-wins"):
        score_slope([1.0, 2.0], [True, True])


def test_conversion_by_band() -> None:
    leads = [Lead(id=f"L{i}", created_at=T0, stage="sql" if i >= 5 else "mql") for i in range(10)]
    scores = {f"L{i}": float(i * 10) for i in range(9)}  # L9 has no score
    rows = conversion_by_score_band(leads, scores, edges=(0, 50))
    assert [(b.band, b.leads, b.converted, b.rate) for b in rows] == [
        ("0-50", 5, 0, 0.0),
        (">=50", 4, 4, 1.0),
    ]
    with pytest.raises(ValidationError, match="edges"):
        conversion_by_score_band(leads, scores, edges=(50, 0))


def test_scores_at_handoff_with_a_real_scorecard() -> None:
    from leadflow.analytics import scores_at_handoff
    from leadflow.model import Activity
    from leadflow.rules.scorecard import Rule, Scorecard

    card = Scorecard(
        name="t",
        half_life_days=30,
        rules=[
            Rule(
                id="demo",
                category="behaviour",
                signal="intent",
                points=30,
                activities=["demo_request"],
            ),
            Rule(
                id="opens",
                category="behaviour",
                signal="interest",
                points=30,
                activities=["email_open"],
            ),
        ],
    )
    rng = random.Random(12)
    leads, activities, outcomes = [], [], []
    for i in range(1200):
        handoff = T0 + timedelta(days=i % 30)
        lead = Lead(id=f"L{i}", created_at=T0 - timedelta(days=5), handed_off_at=handoff)
        leads.append(lead)
        demo, opens = rng.random() < 0.4, rng.random() < 0.4
        for kind, fired in (("demo_request", demo), ("email_open", opens)):
            if fired:
                activities.append(
                    Activity(
                        id=f"A{i}{kind}",
                        lead_id=lead.id,
                        kind=kind,
                        occurred_at=handoff - timedelta(hours=1),
                    )
                )
        # An activity after hand-off is not what sales was told: it must not count.
        activities.append(
            Activity(
                id=f"A{i}late",
                lead_id=lead.id,
                kind="demo_request",
                occurred_at=handoff + timedelta(days=2),
            )
        )
        won = rng.random() < (0.5 if demo else 0.1)
        outcomes.append(
            Outcome(
                lead_id=lead.id,
                kind="won",
                at=handoff + timedelta(days=40),
                amount=1,
                currency="EUR",
            )
            if won
            else Outcome(
                lead_id=lead.id, kind="lost", at=handoff + timedelta(days=40), reason="price"
            )
        )
    leads.append(Lead(id="never", created_at=T0))  # never handed off: not scored
    scored = scores_at_handoff(card, leads, activities)
    assert "never" not in scored.scores
    assert scored.points == {"demo": 30.0, "opens": 30.0}
    # Points as of hand-off: an hour of decay at most, and the later demo request not counted.
    assert all(min(abs(s - x) for x in (0.0, 30.0, 60.0)) < 0.1 for s in scored.scores.values())
    assert {h for hits in scored.rule_hits.values() for h in hits} == {"demo", "opens"}
    rows = {
        r.rule: r for r in suggest_points(scored.scores, scored.rule_hits, scored.points, outcomes)
    }
    assert rows["demo"].change is not None and rows["demo"].change > 0
    assert rows["opens"].change is not None and rows["opens"].change < 0
