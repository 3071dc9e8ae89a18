"""Invariants of SLA evaluation, checked with leadflow's own public strategies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import event, given, settings
from hypothesis import strategies as st

from leadflow.business_time import BusinessCalendar
from leadflow.model import TouchKind, TouchOutcome
from leadflow.rules import (
    SLAPolicy,
    StepState,
    Trigger,
    TriggerKind,
    adherence,
    dump_policies,
    evaluate,
    evaluate_many,
    loads_policies,
)
from leadflow.testing.strategies import (
    LeadHistory,
    calendars,
    lead_histories,
    sla_policies,
    touches,
)


def u(at: datetime) -> datetime:
    """UTC: datetimes sharing a tzinfo compare by wall time, ignoring fold."""
    return at.astimezone(UTC)


SETTINGS = settings(max_examples=80, deadline=None)
policy_lists = st.lists(sla_policies(), min_size=1, max_size=3, unique_by=lambda p: p.name)
handoff_policies = st.lists(
    sla_policies(triggers=[Trigger(kind=TriggerKind.HANDOFF)]),
    min_size=1,
    max_size=3,
    unique_by=lambda p: p.name,
)


@SETTINGS
@given(
    history=lead_histories(),
    policies=handoff_policies | policy_lists,
    calendar=calendars(),
    data=st.data(),
)
def test_touches_only_ever_turn_a_step_met_or_end_the_chase(
    history: LeadHistory, policies: list[SLAPolicy], calendar: BusinessCalendar, data: st.DataObject
) -> None:
    lead = history.lead
    kwargs = {"now": history.now, "policies": policies, "calendar": calendar}
    before = evaluate(lead, history.touches, activities=history.activities, **kwargs)  # type: ignore[arg-type]
    extra = data.draw(
        touches(
            lead_id=lead.id,
            by=("u-ana", "u-bob", "u-cy", "u-sdr"),
            at=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=25)).map(
                lambda d: lead.created_at + d
            ),
        ).map(lambda t: attrs.evolve(t, id="T-extra"))
    )
    if before is not None and data.draw(st.booleans()):
        # Half the time, a touch that satisfies an open step's criteria inside its window.
        policy = next(p for p in policies if p.name == before.policy)
        step = data.draw(st.sampled_from(policy.steps))
        status = before.step(step.name)
        if status.state is not StepState.MET and u(status.due) > u(before.started_at):
            window = min(u(status.due), u(history.now)) - u(before.started_at)
            extra = attrs.evolve(
                extra,
                at=before.started_at
                + data.draw(
                    st.timedeltas(min_value=timedelta(0), max_value=max(window, timedelta(0)))
                ),
                kind=data.draw(st.sampled_from(sorted(step.kinds) or list(TouchKind))),
                outcome=data.draw(st.sampled_from(sorted(step.outcomes) or list(TouchOutcome))),
                by=lead.owner_id or "u-ana",
            )
    # The same touch repeated (up to three times, distinct ids) can satisfy a step's count.
    copies = [
        attrs.evolve(extra, id=f"{extra.id}-{i}") for i in range(data.draw(st.integers(1, 3)))
    ]
    after = evaluate(lead, (*history.touches, *copies), activities=history.activities, **kwargs)  # type: ignore[arg-type]
    if before is None:
        assert after is None
        return
    assert after is not None
    assert (after.policy, after.started_at) == (before.policy, before.started_at)
    for old, new in zip(before.steps, after.steps, strict=True):
        event(f"{old.state} -> {new.state}")
        if old.state is StepState.MET:
            assert new.state is StepState.MET, (old, new)
        elif new.state is StepState.STOPPED and old.state is not StepState.STOPPED:
            # A live conversation ends the chase: steps not met by then stop.
            assert extra.outcome.is_connect and new.stopped_because == "connected", (old, new)
        else:
            assert new.state in (old.state, StepState.MET), (old, new)
        assert new.done >= old.done
        if old.state is StepState.MET:
            assert new.completed_at is not None
            assert old.completed_at is not None
            assert u(new.completed_at) <= u(old.completed_at)


@SETTINGS
@given(
    history=lead_histories(),
    policies=handoff_policies,
    calendar=calendars(),
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
)
def test_a_later_now_never_unbreaches_nor_unmeets_a_step(
    history: LeadHistory,
    policies: list[SLAPolicy],
    calendar: BusinessCalendar,
    later: timedelta,
) -> None:
    def at(now):  # type: ignore[no-untyped-def]
        return evaluate(
            history.lead,
            history.touches,
            now=now,
            policies=policies,
            calendar=calendar,
            activities=history.activities,
        )

    first, second = at(history.now), at(history.now + later)
    if first is None:
        return
    assert second is not None
    # Hand-off policies share one clock, so both instants judge the same cycle.
    assert (second.policy, second.started_at) == (first.policy, first.started_at)
    for old, new in zip(first.steps, second.steps, strict=True):
        event(f"{old.state} -> {new.state}")
        if old.state is StepState.BREACHED:
            assert new.state is StepState.BREACHED
            assert new.overdue is not None
            assert old.overdue is not None
            assert new.overdue >= old.overdue or new.completed_at is not None
        if old.state is StepState.MET:
            assert new == old
        if old.state in (StepState.PENDING, StepState.AT_RISK) and new.state in (
            StepState.PENDING,
            StepState.AT_RISK,
        ):
            assert new.remaining is not None
            assert old.remaining is not None
            assert new.remaining <= old.remaining


@SETTINGS
@given(history=lead_histories(), policies=policy_lists, calendar=calendars())
def test_step_statuses_agree_with_the_calendar(
    history: LeadHistory, policies: list[SLAPolicy], calendar: BusinessCalendar
) -> None:
    result = evaluate(
        history.lead,
        history.touches,
        now=history.now,
        policies=policies,
        calendar=calendar,
        activities=history.activities,
    )
    if result is None:
        return
    policy = next(p for p in policies if p.name == result.policy)
    for step, status in zip(policy.steps, result.steps, strict=True):
        assert status.due == step.due(result.started_at, calendar)
        if status.completed_at is not None:
            assert status.response_business == calendar.between(
                result.started_at, status.completed_at
            )
            assert (status.state is StepState.MET) == (u(status.completed_at) <= u(status.due))
        if status.state is StepState.BREACHED and status.completed_at is None:
            assert u(history.now) > u(status.due)
            assert status.overdue == calendar.between(status.due, history.now)
        if status.state in (StepState.PENDING, StepState.AT_RISK):
            assert status.remaining == calendar.between(history.now, status.due)
            assert status.done < status.required
    if result.next_action is not None:
        assert u(result.next_action.due) >= u(result.started_at)


@settings(max_examples=30, deadline=None)
@given(
    histories=st.lists(lead_histories(), max_size=6, unique_by=lambda h: h.lead.id),
    policies=policy_lists,
    calendar=calendars(),
)
def test_batch_equals_one_by_one_and_adherence_adds_up(
    histories: list[LeadHistory], policies: list[SLAPolicy], calendar: BusinessCalendar
) -> None:
    if not histories:
        return
    now = max(h.now for h in histories)
    leads = [h.lead for h in histories]
    all_touches = [t for h in histories for t in h.touches]
    all_activities = [a for h in histories for a in h.activities]
    batch = evaluate_many(
        leads,
        all_touches,
        now=now,
        policies=policies,
        calendar=calendar,
        activities=all_activities,
    )
    single = [
        evaluate(
            h.lead,
            h.touches,
            now=now,
            policies=policies,
            calendar=calendar,
            activities=h.activities,
        )
        for h in histories
    ]
    assert batch == [r for r in single if r is not None]
    for row in adherence(batch, by=("step", "owner", "team", "source")):
        assert row["met"] + row["breached"] + row["pending"] + row["stopped"] == row["steps"]
        shares = [row["share_met"], row["share_breached"], row["share_pending"]]
        if row["share_met"] is not None:
            assert abs(sum(shares) - 1.0) < 1e-9
        if row["median_response_hours"] is not None:
            assert row["median_response_hours"] <= row["p90_response_hours"] + 1e-9


@SETTINGS
@given(policy=sla_policies())
def test_policies_round_trip_through_plain_data(policy: SLAPolicy) -> None:
    assert policy == SLAPolicy.from_dict(policy.to_dict())


@SETTINGS
@given(policies=st.lists(sla_policies(), min_size=1, max_size=3, unique_by=lambda p: p.name))
def test_policies_round_trip_through_toml(policies: list[SLAPolicy]) -> None:
    assert tuple(policies) == loads_policies(dump_policies(policies))
