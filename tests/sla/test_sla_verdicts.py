"""SLA verdicts a sales manager signs off on (issue 13).

Credit follows the owner at the time, a conversation ends the chase, a lead nobody followed up
is sales' miss, escalations close when the lead leaves the cadence, windows say what they mean,
and lifecycle times compare as instants.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.business_time import BusinessCalendar
from leadflow.errors import ConfigError, HistoryOrderError, ValidationError
from leadflow.lifecycle import reassign, transition
from leadflow.model import Lead, OwnerChange, StageChange, Touch
from leadflow.reasons import STANDARD_REASONS, Disposition
from leadflow.rules import (
    ActionState,
    SLAPolicy,
    Step,
    StepState,
    adherence,
    evaluate,
    evaluate_many,
    load_policies,
    loads_policies,
)
from leadflow.testing.strategies import SLAScenario, sla_policies, sla_scenarios

NY = ZoneInfo("America/New_York")
CAL = BusinessCalendar.weekdays("America/New_York", name="us-east")
HANDOFF = datetime(2026, 3, 2, 10, 0, tzinfo=NY)  # Monday

POLICY = SLAPolicy.from_dict(
    {
        "name": "inbound",
        "trigger": "handoff",
        "steps": [
            {
                "name": "first_touch",
                "within": "8 business hours",
                "by": "owner",
                "escalate": "manager",
            },
            {
                "name": "attempts",
                "within": "5 business days",
                "count": 3,
                "by": "owner",
                "escalate": "queue:inside-sales",
            },
        ],
        "final": {"action": "recycle", "reason": "not_ready_to_buy"},
    }
)


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=NY)


def lead(owner: str = "u-ana") -> Lead:
    return Lead(
        id="L-1",
        created_at=HANDOFF - timedelta(days=3),
        owner_id=owner,
        handed_off_at=HANDOFF,
        stage="mql",
    )


def touch(n: int, at: datetime, *, by: str = "u-ana", outcome: str = "no_answer") -> Touch:
    return Touch(id=f"T-{n}", lead_id="L-1", kind="call", at=at, by=by, outcome=outcome)


def judge(the_lead: Lead, touches: list[Touch], at: datetime) -> tuple[StepState, ...]:
    result = evaluate(the_lead, touches, as_of=at, policies=[POLICY], calendar=CAL)
    assert result is not None
    return tuple(s.state for s in result.steps)


# -- credit follows the owner at the time ----------------------------------------------------


def test_owner_history_is_validated_and_ordered() -> None:
    t0 = HANDOFF
    with pytest.raises(ValidationError, match="owner_history"):
        Lead(
            id="L-1",
            created_at=t0,
            owner_id="u-ana",
            owner_history=[
                OwnerChange(owner_id="u-bob", at=t0 + timedelta(hours=2)),
                OwnerChange(owner_id="u-ana", at=t0 + timedelta(hours=1)),
            ],
        )
    with pytest.raises(ValidationError, match="owner_id"):
        Lead(
            id="L-1",
            created_at=t0,
            owner_id="u-ana",
            owner_history=[OwnerChange(owner_id="u-bob", at=t0)],
        )
    with pytest.raises(ValidationError, match="naive"):
        OwnerChange(owner_id="u-bob", at=datetime(2026, 3, 2, 9, 0))
    moved = reassign(lead(), "u-bob", at=ny(3, 9), by="u-boss")
    with pytest.raises(ValidationError, match="earlier than the last owner change"):
        reassign(moved, "u-cy", at=ny(3, 8))


def test_an_on_time_touch_stays_met_and_credited_when_the_lead_is_reassigned() -> None:
    call = touch(1, ny(2, 11), by="u-ana")
    moved = reassign(lead(), "u-bob", at=ny(3, 9), by="u-boss")
    result = evaluate(moved, [call], as_of=ny(4, 12), policies=[POLICY], calendar=CAL)
    assert result is not None
    first = result.step("first_touch")
    assert (first.state, first.owner_id) == (StepState.MET, "u-ana")
    # The per-owner report credits the rep who made the call, not the new owner.
    rows = {(r["owner"], r["step"]): r for r in adherence([result], by=("owner", "step"))}
    assert rows[("u-ana", "first_touch")]["met"] == 1
    assert ("u-bob", "first_touch") not in rows
    assert next((r.step, r.owner) for r in result.results()) == ("first_touch", "u-ana")
    # So does the analytics report read from the flat results.
    from leadflow.analytics.sla_report import sla_adherence

    report = {(r.key): r for r in sla_adherence(result.results(), by="owner")}
    assert (report["u-ana"].met, report["u-ana"].breached) == (1, 0)
    assert report["u-bob"].met == 0
    # Reassigning back changes nothing either.
    back = reassign(moved, "u-ana", at=ny(4, 9))
    assert judge(back, [call], ny(4, 12))[0] is StepState.MET


def test_a_breach_counts_against_the_owner_who_held_the_lead_when_it_fell_due() -> None:
    moved = reassign(lead(), "u-bob", at=ny(4, 9), by="u-boss")  # after first_touch fell due
    result = evaluate(moved, [], as_of=ny(4, 12), policies=[POLICY], calendar=CAL)
    assert result is not None
    first = result.step("first_touch")
    assert (first.state, first.owner_id) == (StepState.BREACHED, "u-ana")
    owners = {r["owner"]: r for r in adherence([result], by=("owner",))}
    assert owners["u-ana"]["breached"] == 1
    assert owners["u-bob"]["breached"] == 0
    # Escalations go to whoever must act now.
    assert [e.owner_id for e in result.escalations] == ["u-bob", "u-bob"][: len(result.escalations)]


def test_a_touch_counts_for_the_owner_of_its_moment() -> None:
    moved = reassign(lead(), "u-bob", at=ny(2, 12), by="u-boss")
    # Ana's call after she lost the lead does not count; Bob's does.
    assert judge(moved, [touch(1, ny(2, 13), by="u-ana")], ny(2, 14))[0] is StepState.PENDING
    assert judge(moved, [touch(1, ny(2, 13), by="u-bob")], ny(2, 14))[0] is StepState.MET


@settings(max_examples=60, deadline=None)
@given(
    scenario=sla_scenarios(reassign_owner=True),
    policies=st.lists(sla_policies(), min_size=1, max_size=2, unique_by=lambda p: p.name),
    to=st.sampled_from(["u-ana", "u-bob", "u-cy", "u-new", None]),
    after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
)
def test_reassigning_never_turns_met_into_breached(
    scenario: SLAScenario,
    policies: list[SLAPolicy],
    to: str | None,
    after: timedelta,
    later: timedelta,
) -> None:
    history, calendar = scenario.history, scenario.calendar
    kwargs = {"policies": policies, "calendar": calendar, "activities": history.activities}
    before = evaluate(history.lead, history.touches, as_of=history.now, **kwargs)  # type: ignore[arg-type]
    at = history.now + after
    if history.lead.owner_history and history.lead.owner_history[-1].at.astimezone(UTC) > at:
        return  # reassignments happen after the last one
    moved = reassign(history.lead, to, at=at, by="u-boss")
    judged = evaluate(moved, history.touches, as_of=at + later, **kwargs)  # type: ignore[arg-type]
    if before is None:
        return
    assert judged is not None
    if (judged.policy, judged.started_at) != (before.policy, before.started_at):
        return  # time passing started another clock: a new cycle, judged afresh
    for old, new in zip(before.steps, judged.steps, strict=True):
        if old.state is StepState.MET:
            assert (new.state, new.completed_at, new.owner_id) == (
                StepState.MET,
                old.completed_at,
                old.owner_id,
            )
        if old.state is StepState.BREACHED:
            assert new.state is StepState.BREACHED
            assert new.owner_id == old.owner_id  # a breach stays with who had the lead then


# -- a conversation ends the chase -----------------------------------------------------------


def test_a_conversation_stops_the_remaining_attempts_without_escalation() -> None:
    touches = [touch(1, ny(2, 11)), touch(2, ny(3, 10), outcome="meeting_booked")]
    result = evaluate(lead(), touches, as_of=ny(12, 9), policies=[POLICY], calendar=CAL)
    assert result is not None
    first, attempts = result.steps
    assert first.state is StepState.MET
    assert (attempts.state, attempts.stopped_because, attempts.stopped_at) == (
        StepState.STOPPED,
        "connected",
        ny(3, 10),
    )
    assert result.escalations == ()
    assert result.next_action is None
    assert result.final is not None and result.final.state is ActionState.SKIPPED
    # A policy may keep chasing after a conversation if it says so.
    keep = attrs.evolve(POLICY, stop_on_connect=False)
    chased = evaluate(lead(), touches, as_of=ny(12, 9), policies=[keep], calendar=CAL)
    assert chased is not None and chased.step("attempts").state is StepState.BREACHED
    assert loads_policies(_toml(stop_on_connect="false"))[0].stop_on_connect is False


def _toml(**extra: str) -> str:
    lines = ["[[policies]]", 'name = "p"', 'trigger = "handoff"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    lines += ["[[policies.steps]]", 'name = "first"', 'within = "1 business day"']
    return "\n".join(lines) + "\n"


# -- never followed up is sales' miss ---------------------------------------------------------


def test_a_lead_nobody_touched_is_recycled_as_not_followed_up() -> None:
    result = evaluate(lead(), [], as_of=ny(12, 9), policies=[POLICY], calendar=CAL)
    assert result is not None and result.final is not None
    final = result.final
    assert (final.state, final.action, final.reason, final.untouched) == (
        ActionState.DUE,
        Disposition.RECYCLE,
        "not_followed_up",
        True,
    )
    code = STANDARD_REASONS["not_followed_up"]
    assert (code.disposition, code.sla_failure) == (Disposition.RECYCLE, True)
    assert not STANDARD_REASONS["not_ready_to_buy"].sla_failure
    # Even a policy that disqualifies at the end sends an untouched lead to nurture.
    harsh = attrs.evolve(
        POLICY, final=attrs.evolve(POLICY.final, action="disqualify", reason="no_response")
    )
    out = evaluate(lead(), [], as_of=ny(12, 9), policies=[harsh], calendar=CAL)
    assert out is not None and out.final is not None
    assert (out.final.action, out.final.reason) == (Disposition.RECYCLE, "not_followed_up")
    # A lead that was worked keeps the policy's own reason.
    worked = evaluate(
        lead(), [touch(1, ny(2, 11))], as_of=ny(12, 9), policies=[POLICY], calendar=CAL
    )
    assert worked is not None and worked.final is not None
    assert (worked.final.reason, worked.final.untouched) == ("not_ready_to_buy", False)


def test_the_rejection_report_shows_not_followed_up_apart_from_sales_judgements() -> None:
    from leadflow.analytics.rejections import rejection_counts, top_reasons_by_source
    from leadflow.reasons import reject

    at = ny(12, 9)
    leads, rejections = [], []
    for i, code in enumerate(["not_followed_up", "not_followed_up", "no_budget", "student"]):
        moved, record = reject(
            Lead(id=f"L-{i}", created_at=HANDOFF, stage="mql", source="web"), code, at=at, by="x"
        )
        leads.append(moved)
        rejections.append(record)
    rows = {r.code: r for r in rejection_counts(rejections, leads, by=("code",))}
    assert rows["not_followed_up"].sla_failure is True
    assert rows["no_budget"].sla_failure is False
    # Shares of sales' judgements are among judgements; SLA failures are counted apart.
    assert (rows["no_budget"].share, rows["student"].share) == (0.5, 0.5)
    assert rows["not_followed_up"].share == 1.0
    assert "not_followed_up" not in {r.code for r in top_reasons_by_source(rejections, leads)}


# -- escalations close ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "reason"), [("recycled", "no_budget"), ("disqualified", "student"), ("sal", None)]
)
def test_escalations_close_when_the_lead_leaves_the_cadence(stage: str, reason: str | None) -> None:
    breached = evaluate(lead(), [], as_of=ny(4, 9), policies=[POLICY], calendar=CAL)
    assert breached is not None and [e.step for e in breached.escalations] == ["first_touch"]
    moved = transition(lead(), stage, at=ny(4, 10), reason=reason)
    if stage == "sal":  # converted: on to SQL
        moved = transition(moved, "sql", at=ny(4, 11))
    after = evaluate(moved, [], as_of=ny(4, 12), policies=[POLICY], calendar=CAL)
    assert after is not None
    assert after.step("first_touch").state is StepState.BREACHED  # the verdict stays
    assert after.escalations == ()  # but nobody is asked to act on it any more


# -- windows say what they mean ---------------------------------------------------------------


def test_windows_with_explicit_units() -> None:
    friday = datetime(2026, 3, 6, 15, 0, tzinfo=NY)

    def due(window: str) -> datetime:
        return Step(name="s", **Step.parse_window(window)).due(friday, CAL)

    assert due("1 business day") == datetime(2026, 3, 9, 17, 0, tzinfo=NY)  # next business day
    assert due("4 business hours") == datetime(2026, 3, 9, 11, 0, tzinfo=NY)
    assert due("24 hours") == datetime(2026, 3, 7, 15, 0, tzinfo=NY)  # wall clock
    assert due("90 minutes") == friday + timedelta(minutes=90)
    assert due("2 Business Days") == datetime(2026, 3, 10, 17, 0, tzinfo=NY)
    # Over a DST change a wall-clock window counts real hours.
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=NY)
    wall = Step(name="s", **Step.parse_window("24 hours")).due(saturday, CAL)
    assert wall.astimezone(UTC) - saturday.astimezone(UTC) == timedelta(hours=24)
    for bad in ["1.5 business days", "0 hours", "3 weeks", "soon", "-1 hours"]:
        with pytest.raises(ValidationError, match="within"):
            Step.parse_window(bad)


def test_policy_files_take_explicit_units_and_keep_within_hours() -> None:
    (policy,) = loads_policies(_toml())
    assert (policy.steps[0].within_days, policy.steps[0].window) == (1, "1 business day")
    for window, field, value in [
        ('"4 business hours"', "within", timedelta(hours=4)),
        ('"24 hours"', "within_elapsed", timedelta(hours=24)),
    ]:
        (p,) = loads_policies(_toml().replace('"1 business day"', window))
        assert getattr(p.steps[0], field) == value
        assert loads_policies(_dump(p)) == (p,)
    legacy = _toml().replace('within = "1 business day"', "within_hours = 24")
    assert loads_policies(legacy)[0].steps[0].within == timedelta(hours=24)
    with pytest.raises(ConfigError, match=r"steps\[0\]\.within: '3 weeks'"):
        loads_policies(_toml().replace('"1 business day"', '"3 weeks"'))
    with pytest.raises(ConfigError, match=r"steps\[0\]\.within"):
        loads_policies(_toml().replace('"1 business day"', "7"))
    for huge in ["within_hours = 1e20", "within_minutes = 1e300", "within_days = 100000000"]:
        with pytest.raises(ConfigError, match=r"steps\[0\]\.within"):
            loads_policies(_toml().replace('within = "1 business day"', huge))


def _dump(policy: SLAPolicy) -> str:
    from leadflow.rules import dump_policies

    return dump_policies([policy])


def test_the_example_policy_says_first_touch_within_one_business_day() -> None:
    (policy,) = load_policies("examples/sla.toml")
    first = policy.steps[0]
    assert (first.name, first.window, first.by.value) == ("first_touch", "1 business day", "owner")
    monday = datetime(2026, 3, 2, 10, 0, tzinfo=NY)
    assert first.due(monday, CAL) == datetime(2026, 3, 3, 17, 0, tzinfo=NY)


# -- one name for the instant, one input shape ------------------------------------------------


def test_as_of_everywhere_with_now_kept_as_an_alias() -> None:
    the_lead, touches = lead(), [touch(1, ny(2, 11))]
    new = evaluate(the_lead, touches, as_of=ny(4, 9), policies=[POLICY], calendar=CAL)
    old = evaluate(the_lead, touches, now=ny(4, 9), policies=[POLICY], calendar=CAL)
    assert new == old
    assert new is not None and new.as_of == new.now == ny(4, 9)
    with pytest.raises(ValidationError, match="as_of"):
        evaluate(the_lead, touches, policies=[POLICY], calendar=CAL)
    with pytest.raises(ValidationError, match="only as_of"):
        evaluate(the_lead, touches, as_of=ny(4, 9), now=ny(4, 9), policies=[POLICY], calendar=CAL)
    # evaluate_many takes what score_many takes: one (lead, evidence) tuple per lead.
    pairs = evaluate_many([(the_lead, touches)], as_of=ny(4, 9), policies=[POLICY], calendar=CAL)
    legacy = evaluate_many([the_lead], touches, now=ny(4, 9), policies=[POLICY], calendar=CAL)
    assert pairs == legacy == [new]
    with pytest.raises(ValidationError, match="items"):
        evaluate_many([the_lead], as_of=ny(4, 9), policies=[POLICY], calendar=CAL)


# -- lifecycle times compare as instants ------------------------------------------------------


def test_transition_orders_changes_inside_a_repeated_hour_by_instant() -> None:
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NY)  # EDT, 05:30 UTC
    second = datetime(2026, 11, 1, 1, 15, fold=1, tzinfo=NY)  # EST, 06:15 UTC: later
    assert second.astimezone(UTC) > first.astimezone(UTC)
    start = Lead(id="L-1", created_at=first - timedelta(days=1))
    moved = transition(transition(start, "mql", at=first), "sal", at=second)
    assert [c.to_stage for c in moved.history] == ["mql", "sal"]
    # And the other way round: 01:45 EDT (05:45 UTC) is before 01:15 EST.
    with pytest.raises(HistoryOrderError):
        transition(transition(start, "mql", at=second), "sal", at=first.replace(minute=45))
    # A lead built from such a history is accepted too.
    history = (
        StageChange(from_stage="inquiry", to_stage="mql", at=first),
        StageChange(from_stage="mql", to_stage="sal", at=second),
    )
    assert Lead(id="L-2", created_at=start.created_at, stage="sal", history=history).stage == "sal"
