"""Evaluation.explain(): one line a person can read, like ScoreResult.explain()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from leadflow.business_time import BusinessCalendar
from leadflow.lifecycle import transition
from leadflow.model import Lead, Touch
from leadflow.rules.sla import SLAPolicy, evaluate

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
NY = BusinessCalendar.weekdays("America/New_York", name="us-east")
POLICY = SLAPolicy.from_dict(
    {
        "name": "inbound",
        "trigger": "handoff",
        "steps": [
            {"name": "first_touch", "within_hours": 4, "by": "owner", "escalate": "manager"},
            {"name": "follow_up", "within_days": 5, "count": 3, "escalate": "queue:sdr"},
        ],
        "final": {"action": "recycle", "reason": "no_response"},
    }
)


def lead() -> Lead:
    moved = transition(Lead(id="L-1", created_at=T0, owner_id="u-ana"), "mql", at=T0)
    return attrs.evolve(moved, handed_off_at=T0)


def test_a_fresh_hand_off_names_what_is_due_and_when_in_the_calendars_zone() -> None:
    verdict = evaluate(lead(), [], now=T0 + timedelta(hours=1), policies=[POLICY], calendar=NY)
    assert verdict.explain() == (
        "inbound (us-east): first_touch pending (u-ana), 0/1 done, due 2026-03-02 13:00 EST, "
        "3 business h left; follow_up pending (u-ana), 0/3 done, due 2026-03-09 17:00 EDT, "
        "47 business h left; final recycle (no_response) pending, due 2026-03-09 17:00 EDT"
    )


def test_breaches_say_how_late_and_where_they_escalate() -> None:
    call = Touch(id="T-1", lead_id="L-1", kind="call", by="u-ana", at=T0 + timedelta(hours=2))
    verdict = evaluate(lead(), [call], now=T0 + timedelta(days=10), policies=[POLICY], calendar=NY)
    assert verdict.explain() == (
        "inbound (us-east): first_touch met in 2 business h (u-ana); follow_up breached (u-ana), 1/3 done, "
        "due 2026-03-09 17:00 EDT, 17 business h overdue, escalates to queue sdr; "
        "final recycle (no_response) due since 2026-03-09 17:00 EDT"
    )


def test_a_connected_lead_skips_its_final_action_and_says_why() -> None:
    connected = Touch(
        id="T-1",
        lead_id="L-1",
        kind="call",
        by="u-ana",
        at=T0 + timedelta(hours=2),
        outcome="connected",
    )
    verdict = evaluate(
        lead(), [connected], now=T0 + timedelta(days=10), policies=[POLICY], calendar=NY
    )
    assert verdict.explain().endswith("; final recycle (no_response) skipped (connected)")
    # The chase stopped: the line says when, why and whose step it was.
    assert "follow_up stopped at 2026-03-02 11:00 EST: connected (u-ana)" in verdict.explain()


def test_each_step_names_the_owner_it_counts_for_after_a_reassignment() -> None:
    from leadflow.lifecycle import reassign

    moved = reassign(lead(), "u-bob", at=T0 + timedelta(hours=3), by="u-boss")
    call = Touch(id="T-1", lead_id="L-1", kind="call", by="u-ana", at=T0 + timedelta(hours=2))
    verdict = evaluate(moved, [call], now=T0 + timedelta(days=10), policies=[POLICY], calendar=NY)
    text = verdict.explain()
    # Met before the move: credited to Ana; fell due after it: charged to Bob.
    assert "first_touch met in 2 business h (u-ana)" in text
    assert "follow_up breached (u-bob), 1/3 done" in text


def test_states_are_enums_and_due_times_are_in_the_calendars_zone() -> None:
    from zoneinfo import ZoneInfo

    from leadflow.rules.sla import StepState

    verdict = evaluate(lead(), [], now=T0 + timedelta(days=10), policies=[POLICY], calendar=NY)
    assert verdict.state is StepState.BREACHED
    assert verdict.clock.state is StepState.BREACHED
    assert {type(r.state) for r in verdict.results()} == {StepState}
    zone = ZoneInfo("America/New_York")
    dues = [s.due for s in verdict.steps]
    assert verdict.final is not None
    dues.append(verdict.final.due)
    assert verdict.clock.due_at is None or verdict.clock.due_at.tzinfo == zone
    assert all(d.tzinfo == zone for d in dues), dues
