"""A seeded generator of leads, touches, outcomes and SLA results with PLANTED truths.

Every statistic the analytics estimate has a known true value here, so tests can check that the
estimates recover it:

* first-response delay ``d`` (hours, whole minutes) ~ Exponential(mean ``mean_delay``); a lead
  answered after ``d`` hours reaches SQL with probability ``p0 * 2 ** (-d / half_life)``;
* every non-converted answered lead is rejected from SAL with a code drawn from its source's
  ``REASON_MIX``;
* a rejected lead later becomes a real buyer (won / competitor / opportunity) with probability
  ``REAL_BUYER[code]``, else re-engages, gets "no decision" or nothing;
* each lead's ``first_touch`` SLA step is breached with probability ``BREACH_RATE[team]``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from leadflow.model import Lead, StageChange, Touch
from leadflow.outcomes import Outcome
from leadflow.rules.sla import StepResult, StepState

SOURCES = ("web", "event", "partner", "paid_social")
SOURCE_WEIGHTS = (0.4, 0.25, 0.15, 0.2)
REASON_MIX: dict[str, dict[str, float]] = {
    "web": {"no_budget": 0.3, "not_ready_to_buy": 0.3, "student": 0.2, "other": 0.2},
    "event": {"not_ready_to_buy": 0.5, "wrong_function": 0.3, "bad_contact_data": 0.2},
    "partner": {"existing_customer": 0.4, "no_need": 0.4, "other": 0.2},
    "paid_social": {"spam_or_test": 0.35, "too_junior": 0.35, "no_budget": 0.3},
}
REAL_BUYER: dict[str, float] = {
    "not_ready_to_buy": 0.5,
    "no_budget": 0.2,
    "wrong_function": 0.3,
    "too_junior": 0.1,
}
TEAMS = ("east", "west")
BREACH_RATE = {"east": 0.1, "west": 0.35}
OWNERS = {"east": ("u-ana", "u-ben"), "west": ("u-cy", "u-dee")}
RECYCLE_CODES = {
    "no_budget",
    "not_ready_to_buy",
    "wrong_function",
    "too_junior",
    "no_need",
    "other",
}
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Planted:
    leads: list[Lead] = field(default_factory=list)
    touches: list[Touch] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    sla: list[StepResult] = field(default_factory=list)
    now: datetime = START + timedelta(days=200)


def _pick(rng: random.Random, mix: dict[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def generate(
    n: int,
    *,
    seed: int = 8,
    half_life: float = 12.0,
    p0: float = 0.4,
    mean_delay: float = 18.0,
    no_response: float = 0.05,
) -> Planted:
    """*n* leads with the truths above planted; deterministic for a given seed."""
    rng = random.Random(seed)
    out = Planted()
    for i in range(n):
        lead_id = f"L-{i:06d}"
        source = rng.choices(SOURCES, weights=SOURCE_WEIGHTS)[0]
        team = TEAMS[i % 2]
        owner = OWNERS[team][(i // 2) % 2]
        created = START + timedelta(minutes=rng.randrange(0, 150 * 24 * 60))
        mql_at = created + timedelta(minutes=rng.randrange(10, 3 * 24 * 60))
        handoff = mql_at
        history = [StageChange(from_stage="inquiry", to_stage="mql", at=mql_at, by="scoring")]
        stage = "mql"
        answered = rng.random() >= no_response
        delay = round(rng.expovariate(1 / mean_delay) * 60) / 60 if answered else None
        breached = rng.random() < BREACH_RATE[team]
        out.sla.append(
            StepResult(
                lead_id=lead_id,
                policy="handoff_follow_up",
                step="first_touch",
                state="breached" if breached else "met",
                detail=StepState.BREACHED if breached else StepState.MET,
                due_at=handoff + timedelta(hours=4),
                response_hours=round(rng.uniform(4.5, 20) if breached else rng.uniform(0.1, 4), 3),
                owner=owner,
                team=team,
                source=source,
            )
        )
        if delay is not None:
            touch_at = handoff + timedelta(hours=delay)
            out.touches.append(
                Touch(id=f"T-{i:06d}", lead_id=lead_id, kind="call", at=touch_at, by=owner)
            )
            sal_at = touch_at + timedelta(minutes=5)
            history.append(StageChange(from_stage="mql", to_stage="sal", at=sal_at, by=owner))
            stage = "sal"
            t = sal_at
            if rng.random() < p0 * 2 ** (-delay / half_life):
                t += timedelta(days=rng.uniform(1, 10))
                history.append(StageChange(from_stage="sal", to_stage="sql", at=t, by=owner))
                stage = "sql"
                if rng.random() < 0.6:
                    t += timedelta(days=rng.uniform(2, 20))
                    history.append(
                        StageChange(from_stage="sql", to_stage="opportunity", at=t, by=owner)
                    )
                    stage = "opportunity"
                    if rng.random() < 0.5:
                        t += timedelta(days=rng.uniform(10, 40))
                        won = rng.random() < 0.4
                        history.append(
                            StageChange(
                                from_stage="opportunity", to_stage="won" if won else "lost", at=t
                            )
                        )
                        stage = "won" if won else "lost"
                        out.outcomes.append(
                            Outcome(
                                lead_id=lead_id,
                                kind="won",
                                at=t,
                                amount=Decimal(20000),
                                currency="EUR",
                            )
                            if won
                            else Outcome(lead_id=lead_id, kind="lost", at=t, reason="price")
                        )
            elif rng.random() < 0.9:
                code = _pick(rng, REASON_MIX[source])
                t += timedelta(hours=rng.uniform(1, 72))
                to = "recycled" if code in RECYCLE_CODES else "disqualified"
                history.append(
                    StageChange(
                        from_stage="sal",
                        to_stage=to,
                        at=t,
                        by=owner,
                        reason=code,
                        note="planted" if code == "other" else None,
                    )
                )
                stage = to
                later = t + timedelta(days=rng.uniform(30, 120))
                if rng.random() < REAL_BUYER.get(code, 0.0):
                    fate = rng.choice(("won", "competitor", "opportunity"))
                    if fate == "won":
                        out.outcomes.append(
                            Outcome(
                                lead_id=lead_id,
                                kind="won",
                                at=later,
                                amount=Decimal(5000),
                                currency="EUR",
                            )
                        )
                    elif fate == "competitor":
                        out.outcomes.append(
                            Outcome(lead_id=lead_id, kind="competitor", at=later, competitor="Acme")
                        )
                    else:
                        out.outcomes.append(Outcome(lead_id=lead_id, kind="evaluating", at=later))
                elif to == "recycled" and rng.random() < 0.3:
                    history.append(StageChange(from_stage="recycled", to_stage="mql", at=later))
                    stage = "mql"
                elif rng.random() < 0.2:
                    out.outcomes.append(Outcome(lead_id=lead_id, kind="no_decision", at=later))
        out.leads.append(
            Lead(
                id=lead_id,
                created_at=created,
                source=source,
                campaign=f"{source}-q1" if created.month <= 3 else f"{source}-q2",
                owner_id=owner,
                handed_off_at=handoff,
                stage=stage,
                history=tuple(history),
            )
        )
    return out
