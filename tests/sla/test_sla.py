"""SLA policies: the seed policy end to end, triggers, priority, stop stages, errors, adherence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from leadflow.business_time import BusinessCalendar, CalendarResolver
from leadflow.errors import ConfigError, ValidationError
from leadflow.lifecycle import transition
from leadflow.model import Activity, Lead, Touch
from leadflow.reasons import Disposition
from leadflow.rules import (
    ActionState,
    EscalationTarget,
    SLAPolicy,
    Step,
    StepState,
    adherence,
    evaluate,
    evaluate_many,
    load_policies,
    loads_policies,
    select_policy,
)
from leadflow.rules.sla import SLAClock

NY = ZoneInfo("America/New_York")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sla.toml"
H = timedelta(hours=1)
CAL = BusinessCalendar.weekdays("America/New_York", name="us-east")
HANDOFF = datetime(2026, 3, 2, 10, 0, tzinfo=NY)  # Monday


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=NY)


@pytest.fixture
def seed() -> SLAPolicy:
    (policy,) = load_policies(EXAMPLE)
    return policy


@pytest.fixture
def lead() -> Lead:
    return Lead(
        id="L-1",
        created_at=HANDOFF - timedelta(days=3),
        owner_id="u-ana",
        source="webinar",
        handed_off_at=HANDOFF,
        properties={"team": "east"},
    )


def touch(
    n: int, at: datetime, *, kind: str = "call", by: str = "u-ana", outcome: str = "no_answer"
) -> Touch:
    return Touch(id=f"T-{n}", lead_id="L-1", kind=kind, at=at, by=by, outcome=outcome)


def test_seed_policy_is_what_the_seed_asks(seed: SLAPolicy) -> None:
    first, attempts = seed.steps
    # "First touch within one business day of hand-off" (the close of the next business day).
    assert (first.within_days, first.window, first.count, first.by.value) == (
        1,
        "1 business day",
        1,
        "owner",
    )
    assert (attempts.within_days, attempts.count) == (8, 3)
    assert seed.final is not None
    assert (seed.final.action, seed.final.reason) == (Disposition.RECYCLE, "not_ready_to_buy")


def test_seed_just_after_handoff_everything_is_pending(seed: SLAPolicy, lead: Lead) -> None:
    result = evaluate(lead, [], now=ny(2, 11), policies=[seed], calendar=CAL)
    assert result is not None
    first = result.step("first_touch")
    assert first.state is StepState.PENDING
    # The close of Tuesday, the next business day: 6 h Monday and 8 h Tuesday left.
    assert first.due == ny(3, 17)
    assert first.remaining == 14 * H
    attempts = result.step("follow_up_attempts")
    # Close of the 8th business day after Monday 2 March, after the switch to daylight time.
    assert attempts.due.isoformat() == "2026-03-12T17:00:00-04:00"
    assert result.next_action is not None
    assert result.next_action.step == "first_touch"
    assert result.next_action.escalation is not None
    assert result.next_action.escalation.to is EscalationTarget.MANAGER
    assert result.state == "pending"
    assert result.clock == SLAClock(lead_id="L-1", due_at=ny(3, 17), state=StepState.PENDING)
    assert result.calendar == "us-east"
    assert result.final is not None
    assert result.final.state is ActionState.PENDING


def test_seed_first_touch_at_risk_inside_the_warning_window(seed: SLAPolicy, lead: Lead) -> None:
    result = evaluate(lead, [], now=ny(3, 13), policies=[seed], calendar=CAL)
    assert result is not None
    assert result.step("first_touch").state is StepState.AT_RISK
    assert result.step("first_touch").remaining == 4 * H
    assert result.state == "at_risk"
    assert (
        evaluate(lead, [], now=ny(3, 12, 59), policies=[seed], calendar=CAL)
        .step("first_touch")
        .state
        is StepState.PENDING
    )


def test_seed_breached_first_touch_escalates_to_the_manager(seed: SLAPolicy, lead: Lead) -> None:
    result = evaluate(lead, [], now=ny(6, 12), policies=[seed], calendar=CAL)
    assert result is not None
    first = result.step("first_touch")
    assert first.state is StepState.BREACHED
    assert first.breached_at == ny(3, 17)
    assert first.overdue == 19 * H  # 8 h Wednesday and Thursday + 3 h Friday
    assert result.state == "breached"
    (escalation,) = result.escalations
    assert (escalation.step, escalation.to, escalation.owner_id) == (
        "first_touch",
        "manager",
        "u-ana",
    )
    # A late touch keeps the breach, records how late, and ends the escalation.
    late = evaluate(lead, [touch(1, ny(6, 13))], now=ny(6, 14), policies=[seed], calendar=CAL)
    assert late is not None
    assert late.step("first_touch").state is StepState.BREACHED
    assert late.step("first_touch").overdue == 20 * H
    assert late.step("first_touch").completed_at == ny(6, 13)
    assert late.escalations == ()


def test_seed_end_to_end_no_connect_recycles_to_nurture(seed: SLAPolicy, lead: Lead) -> None:
    touches = [
        touch(1, ny(3, 10)),  # Tuesday: first touch after 8 business hours
        touch(2, ny(6, 11), kind="email", outcome="sent"),
        touch(3, ny(10, 14), outcome="left_voicemail"),
        touch(4, ny(4, 9), by="u-bob"),  # not the owner: does not count
    ]
    result = evaluate(lead, touches, now=ny(13, 9), policies=[seed], calendar=CAL)
    assert result is not None
    first, attempts = result.steps
    assert first.state is StepState.MET
    assert (first.completed_at, first.response_business, first.response_wall) == (
        ny(3, 10),
        8 * H,
        24 * H,
    )
    assert attempts.state is StepState.MET
    assert attempts.completed_at == ny(10, 14)
    assert result.state == "met"
    assert result.final is not None
    assert (result.final.state, result.final.action, result.final.reason) == (
        ActionState.DUE,
        Disposition.RECYCLE,
        "not_ready_to_buy",
    )
    assert result.next_action is None
    assert result.clock.due_at is None
    # Before the cadence closes the recycle is the next action, not yet due.
    earlier = evaluate(lead, touches, now=ny(11, 9), policies=[seed], calendar=CAL)
    assert earlier is not None
    assert earlier.next_action is not None
    assert (earlier.next_action.action, earlier.next_action.due) == (
        Disposition.RECYCLE,
        attempts.due,
    )


def test_seed_a_live_conversation_cancels_the_recycle(seed: SLAPolicy, lead: Lead) -> None:
    touches = [touch(1, ny(3, 10)), touch(2, ny(4, 10), outcome="connected")]
    result = evaluate(lead, touches, now=ny(13, 9), policies=[seed], calendar=CAL)
    assert result is not None
    # A conversation ends the chase: the remaining attempts stop, with no escalation.
    attempts = result.step("follow_up_attempts")
    assert (attempts.state, attempts.stopped_because) == (StepState.STOPPED, "connected")
    assert attempts.stopped_at == ny(4, 10)
    assert attempts.done == 2
    assert result.final is not None
    assert (result.final.state, result.final.skipped_because) == (ActionState.SKIPPED, "connected")
    assert result.escalations == ()


def test_leaving_for_a_stop_stage_stops_open_steps(seed: SLAPolicy, lead: Lead) -> None:
    moved = transition(
        attrs.evolve(lead, stage="mql"), "disqualified", at=ny(3, 12), reason="student"
    )
    result = evaluate(moved, [touch(9, ny(4, 9))], now=ny(20, 9), policies=[seed], calendar=CAL)
    assert result is not None
    assert [s.state for s in result.steps] == [StepState.STOPPED, StepState.STOPPED]
    assert result.steps[0].stopped_at == ny(3, 12)
    assert result.state == "stopped"
    assert result.final is not None
    assert result.final.skipped_because == "stopped"
    assert result.results() == ()


def test_touches_after_now_and_of_other_leads_are_ignored(seed: SLAPolicy, lead: Lead) -> None:
    other = Touch(id="X", lead_id="L-2", kind="call", at=ny(2, 12), by="u-ana")
    future = touch(1, ny(4, 12))
    result = evaluate(lead, [other, future], now=ny(3, 12), policies=[seed], calendar=CAL)
    assert result is not None
    assert result.step("first_touch").state is StepState.PENDING
    assert result.step("first_touch").done == 0


def test_no_policy_started_means_no_evaluation(seed: SLAPolicy, lead: Lead) -> None:
    assert evaluate(lead, [], now=HANDOFF - H, policies=[seed], calendar=CAL) is None
    unassigned = attrs.evolve(lead, handed_off_at=None)
    assert evaluate(unassigned, [], now=ny(9, 9), policies=[seed], calendar=CAL) is None


def test_naive_now_is_refused(seed: SLAPolicy, lead: Lead) -> None:
    with pytest.raises(ValidationError, match=r"^now: .* naive"):
        evaluate(lead, [], now=datetime(2026, 3, 2, 12), policies=[seed], calendar=CAL)


def quote_policy(priority: int) -> SLAPolicy:
    return SLAPolicy.from_dict(
        {
            "name": "quote_request",
            "priority": priority,
            "trigger": {"activity": "quote_request"},
            "steps": [{"name": "call_back", "within_minutes": 90, "kinds": ["call"]}],
        }
    )


def test_priority_decides_which_policy_governs(seed: SLAPolicy, lead: Lead) -> None:
    quote = Activity(id="A-1", lead_id="L-1", kind="quote_request", occurred_at=ny(3, 16))
    urgent = quote_policy(10)
    result = evaluate(
        lead, [], now=ny(3, 16, 30), policies=[seed, urgent], calendar=CAL, activities=[quote]
    )
    assert result is not None
    assert result.policy == "quote_request"
    assert result.steps[0].due == ny(4, 9, 30)  # 1 h Tuesday, 30 min Wednesday
    chosen = select_policy(lead, [seed, quote_policy(-1)], now=ny(3, 16, 30), activities=[quote])
    assert chosen is not None
    assert chosen[0].name == "handoff_follow_up"
    # Equal priority: the most recently started clock governs.
    chosen = select_policy(lead, [seed, quote_policy(0)], now=ny(3, 16, 30), activities=[quote])
    assert chosen is not None
    assert chosen == (quote_policy(0), ny(3, 16))


def test_stage_entered_trigger_uses_the_latest_entry() -> None:
    policy = SLAPolicy.from_dict(
        {
            "name": "accept",
            "trigger": {"stage_entered": "mql"},
            "steps": [{"name": "accept_or_reject", "within_hours": 8}],
            "stop_stages": ["sal", "disqualified", "recycled"],
        }
    )
    lead = Lead(id="L-1", created_at=ny(1, 9))
    lead = transition(lead, "mql", at=ny(2, 9))
    result = evaluate(lead, [], now=ny(2, 12), policies=[policy], calendar=CAL)
    assert result is not None
    assert (result.started_at, result.step("accept_or_reject").due) == (ny(2, 9), ny(2, 17))
    accepted = transition(lead, "sal", at=ny(2, 15))
    stopped = evaluate(accepted, [], now=ny(3, 12), policies=[policy], calendar=CAL)
    assert stopped is not None
    assert stopped.state == "stopped"


def test_calendar_per_lead_through_a_resolver(seed: SLAPolicy, lead: Lead) -> None:
    sydney = BusinessCalendar.weekdays("Australia/Sydney", name="apac")
    resolver = CalendarResolver(
        default=CAL, by_owner={"u-ana": sydney}, owner_teams={"u-ana": "anz"}
    )
    result = evaluate(lead, [], now=ny(2, 11), policies=[seed], calendar=resolver)
    assert result is not None
    assert (result.calendar, result.team) == ("apac", "anz")
    assert result.step("first_touch").due == sydney.add_days(HANDOFF, 1)


def test_evaluate_many_and_adherence_rows(seed: SLAPolicy, lead: Lead) -> None:
    leads = [
        lead,
        attrs.evolve(lead, id="L-2", owner_id="u-bob", source="ads", properties={"team": "west"}),
        attrs.evolve(lead, id="L-3", handed_off_at=None),  # never handed off: left out
        attrs.evolve(lead, id="L-4"),
    ]
    touches = [
        touch(1, ny(2, 12)),  # L-1 first touch after 2 h
        Touch(
            id="T-2", lead_id="L-2", kind="call", at=ny(6, 10), by="u-bob"
        ),  # late: 32 business hours
        Touch(id="T-3", lead_id="L-4", kind="email", at=ny(3, 13), by="u-ana"),  # 11 h
    ]
    results = evaluate_many(leads, touches, now=ny(6, 12), policies=[seed], calendar=CAL)
    assert [r.lead_id for r in results] == ["L-1", "L-2", "L-4"]
    rows = adherence(results, by=("step", "owner"))
    first_ana = next(r for r in rows if r["step"] == "first_touch" and r["owner"] == "u-ana")
    assert (first_ana["met"], first_ana["breached"], first_ana["pending"]) == (2, 0, 0)
    assert first_ana["share_met"] == 1.0
    assert first_ana["median_response_hours"] == pytest.approx(6.5)
    assert first_ana["p90_response_hours"] == pytest.approx(10.1)
    first_bob = next(r for r in rows if r["step"] == "first_touch" and r["owner"] == "u-bob")
    assert (first_bob["breached"], first_bob["share_breached"]) == (1, 1.0)
    assert first_bob["median_response_hours"] == pytest.approx(32.0)
    by_team = adherence(results, by=("team",), teams={"u-bob": "enterprise"})
    assert [r["team"] for r in by_team] == ["east", "enterprise"]
    assert by_team[0]["steps"] == 4
    overall = adherence(results, by=())
    assert overall[0]["steps"] == 6
    assert overall[0]["pending"] == 3
    with pytest.raises(ValidationError, match="region"):
        adherence(results, by=("region",))
    flat = [row for r in results for row in r.results()]
    assert {(f.lead_id, f.step, f.state) for f in flat} >= {("L-2", "first_touch", "breached")}
    assert (
        next(f for f in flat if f.lead_id == "L-1" and f.step == "first_touch").response_hours
        == 2.0
    )


def test_policies_round_trip_through_plain_data(seed: SLAPolicy) -> None:
    assert seed == SLAPolicy.from_dict(seed.to_dict())
    quote = quote_policy(3)
    assert quote == SLAPolicy.from_dict(quote.to_dict())


GOOD_STEP = {"name": "first", "within_hours": 4}


@pytest.mark.parametrize(
    ("policy", "path", "problem"),
    [
        ({"trigger": "handoff", "steps": [GOOD_STEP]}, "policies[0].name", "required"),
        (
            {"name": "p", "trigger": "handof", "steps": [GOOD_STEP]},
            "policies[0].trigger.kind",
            "'handof'",
        ),
        (
            {"name": "p", "trigger": {"stage_entered": ""}, "steps": [GOOD_STEP]},
            "policies[0].trigger.stage",
            "non-empty",
        ),
        (
            {"name": "p", "trigger": {"activity": "Quote Request"}, "steps": [GOOD_STEP]},
            "policies[0].trigger.activity",
            "snake_case",
        ),
        ({"name": "p", "trigger": "handoff", "steps": []}, "policies[0].steps", "at least one"),
        (
            {"name": "p", "trigger": "handoff", "steps": [GOOD_STEP, GOOD_STEP]},
            "policies[0].steps",
            "more than one",
        ),
        (
            {"name": "p", "trigger": "handoff", "steps": [{"name": "first"}]},
            "policies[0].steps[0].within",
            "exactly one",
        ),
        (
            {"name": "p", "trigger": "handoff", "steps": [{**GOOD_STEP, "within_days": 2}]},
            "policies[0].steps[0].within",
            "exactly one",
        ),
        (
            {"name": "p", "trigger": "handoff", "steps": [{**GOOD_STEP, "count": 0}]},
            "policies[0].steps[0].count",
            ">= 1",
        ),
        (
            {"name": "p", "trigger": "handoff", "steps": [{**GOOD_STEP, "kinds": ["fax"]}]},
            "policies[0].steps[0].kinds",
            "'fax'",
        ),
        (
            {"name": "p", "trigger": "handoff", "steps": [{**GOOD_STEP, "escalate": "ceo"}]},
            "policies[0].steps[0].escalate",
            "'ceo'",
        ),
        (
            {"name": "p", "trigger": "handoff", "steps": [{**GOOD_STEP, "escalate": "queue:"}]},
            "policies[0].steps[0].escalate",
            "queue",
        ),
        (
            {"name": "p", "trigger": "handoff", "steps": [{**GOOD_STEP, "within_hours": "4"}]},
            "policies[0].steps[0].within_hours",
            "number",
        ),
        (
            {"name": "p", "trigger": "handoff", "steps": [{**GOOD_STEP, "wihtin": 3}]},
            "policies[0].steps[0].wihtin",
            "unknown key",
        ),
        (
            {
                "name": "p",
                "trigger": "handoff",
                "steps": [GOOD_STEP],
                "final": {"action": "delete"},
            },
            "policies[0].final.action",
            "'delete'",
        ),
        (
            {"name": "p", "trigger": "handoff", "steps": [GOOD_STEP], "priority": 1.5},
            "policies[0].priority",
            "whole number",
        ),
    ],
)
def test_bad_policies_name_the_path(policy: dict[str, object], path: str, problem: str) -> None:
    from leadflow.rules import policies_from_dict

    with pytest.raises(ConfigError, match=problem) as info:
        policies_from_dict({"policies": [policy]})
    assert info.value.path == path


def test_duplicate_policy_names_and_bad_toml_are_config_errors() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="already the name of policies") as info:
        loads_policies(
            text + "\n" + text.split("# The seed SLA")[0] + text[text.index("[[policies]]") :]
        )
    assert info.value.path == "policies[1].name"
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        loads_policies("[[policies]\n", source="sla.toml")
    assert info.value.path == "sla.toml"


def test_steps_can_be_built_in_python() -> None:
    step = Step(name="reply", within=2 * H, outcomes=["replied", "connected"], escalate="queue:sdr")
    assert step.escalate is not None
    assert (step.escalate.to, step.escalate.queue) == ("queue", "sdr")
    with pytest.raises(ValidationError, match="within"):
        Step(name="reply", within=timedelta(0))
    assert not step.matches(
        touch(1, HANDOFF, outcome="no_answer"), Lead(id="L-1", created_at=HANDOFF)
    )


def test_results_are_in_utc_safe_units(seed: SLAPolicy, lead: Lead) -> None:
    # Wall response time is elapsed time, not a wall-clock difference (DST-safe).
    over_dst = attrs.evolve(lead, handed_off_at=ny(6, 16))
    result = evaluate(over_dst, [touch(1, ny(9, 10))], now=ny(9, 12), policies=[seed], calendar=CAL)
    assert result is not None
    first = result.step("first_touch")
    assert first.response_wall == ny(9, 10).astimezone(UTC) - ny(6, 16).astimezone(UTC)
    assert first.response_wall == timedelta(hours=65)
    assert first.response_business == 2 * H


@pytest.mark.parametrize(
    ("extra", "path", "problem"),
    [
        ({"description": 3}, "policies[0].description", "non-empty"),
        (
            {"final": {"unless_connected": "yes"}},
            "policies[0].final.unless_connected",
            "true or false",
        ),
        ({"stop_stages": ["sql", ""]}, "policies[0].stop_stages", "stage name"),
    ],
)
def test_wrongly_typed_values_are_config_errors_not_type_errors(
    extra: dict[str, object], path: str, problem: str
) -> None:
    from leadflow.rules import policies_from_dict

    policy = {"name": "p", "trigger": "handoff", "steps": [GOOD_STEP], **extra}
    with pytest.raises(ConfigError, match=problem) as info:
        policies_from_dict({"policies": [policy]})
    assert info.value.path == path
    with pytest.raises(ConfigError, match="unknown key 'x'") as top:
        policies_from_dict({"policies": [policy], "x": 1})
    assert top.value.path == "x"


def test_deadlines_inside_the_repeated_hour_are_compared_as_instants() -> None:
    # 1 November 2026, New York: 01:00-02:00 happens twice. Due 01:40 the first time (EDT);
    # "now" is 01:20 the second time (EST), 40 minutes later in real time.
    around_the_clock = BusinessCalendar(zone="America/New_York", hours={"mon-sun": "00:00-24:00"})
    policy = SLAPolicy.from_dict(
        {"name": "fast", "trigger": "handoff", "steps": [{"name": "call", "within_minutes": 30}]}
    )
    handoff = datetime(2026, 11, 1, 1, 10, tzinfo=NY)
    lead = Lead(id="L-1", created_at=handoff, handed_off_at=handoff)
    now = datetime(2026, 11, 1, 1, 20, fold=1, tzinfo=NY)
    result = evaluate(lead, [], now=now, policies=[policy], calendar=around_the_clock)
    assert result is not None
    step = result.step("call")
    assert step.due.isoformat() == "2026-11-01T01:40:00-04:00"
    assert step.state is StepState.BREACHED
    assert step.overdue == timedelta(minutes=40)
    # A call at 01:30 the second time is after the deadline, however the wall clocks compare.
    late = touch(1, datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY))
    judged = evaluate(lead, [late], now=now + H, policies=[policy], calendar=around_the_clock)
    assert judged is not None
    assert judged.step("call").state is StepState.BREACHED
    assert judged.step("call").overdue == timedelta(minutes=50)


def test_a_lead_sales_moved_on_after_the_cadence_ran_out_is_not_recycled() -> None:
    """The final action is skipped once the lead has left the cadence, whenever it left."""
    from datetime import UTC, datetime, timedelta

    from leadflow.rules.sla import ActionState

    (policy,) = load_policies("examples/sla.toml")
    handoff = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    lead = Lead(id="L-1", created_at=handoff, stage="mql", handed_off_at=handoff, owner_id="u-1")
    later = handoff + timedelta(days=30)
    due = evaluate(lead, [], now=later, policies=[policy], calendar=CAL)
    assert due is not None and due.final is not None
    assert due.final.state is ActionState.DUE
    moved = transition(transition(lead, "sal", at=later), "sql", at=later)
    after = evaluate(moved, [], now=later + timedelta(hours=1), policies=[policy], calendar=CAL)
    assert after is not None and after.final is not None
    assert (after.final.state, after.final.skipped_because) == (ActionState.SKIPPED, "stopped")
