"""An SLA clock as a state machine: time passes and touches arrive in any order.

Every step may only move forward: pending -> at risk -> breached as time passes, anything but a
met step to met (or, for a live conversation, to stopped) when a touch arrives, and nothing ever
leaves ``met``; a step leaves ``breached`` only for ``met`` or ``stopped``, and only because a
(back-dated) touch arrived, never because time passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from leadflow.business_time import BusinessCalendar
from leadflow.model import Touch, TouchKind, TouchOutcome
from leadflow.rules import Evaluation, SLAPolicy, StepState, Trigger, TriggerKind, evaluate
from leadflow.testing.strategies import LeadHistory, calendars, lead_histories, sla_policies

S = StepState
# The history may hold touches dated after the first ``now``: time passing reveals them.
BY_TIME = {
    S.PENDING: {S.PENDING, S.AT_RISK, S.BREACHED, S.STOPPED, S.MET},
    S.AT_RISK: {S.AT_RISK, S.BREACHED, S.STOPPED, S.MET},
    S.BREACHED: {S.BREACHED},
    S.MET: {S.MET},
    S.STOPPED: {S.STOPPED},
}


class SLAClock(RuleBasedStateMachine):
    history: LeadHistory
    policies: list[SLAPolicy]
    calendar: BusinessCalendar
    now: datetime
    touches: list[Touch]
    last: Evaluation | None
    moved_by: str

    @initialize(
        history=lead_histories(max_touches=3),
        policies=st.lists(
            sla_policies(triggers=[Trigger(kind=TriggerKind.HANDOFF)]),
            min_size=1,
            max_size=2,
            unique_by=lambda p: p.name,
        ),
        calendar=calendars(max_holiday_runs=2),
    )
    def start(
        self, history: LeadHistory, policies: list[SLAPolicy], calendar: BusinessCalendar
    ) -> None:
        self.history, self.policies, self.calendar = history, policies, calendar
        self.now = history.now
        self.touches = list(history.touches)
        self.last = self.judge()
        self.moved_by = "start"

    def judge(self) -> Evaluation | None:
        return evaluate(
            self.history.lead,
            self.touches,
            now=self.now,
            policies=self.policies,
            calendar=self.calendar,
            activities=self.history.activities,
        )

    @rule(hours=st.integers(min_value=0, max_value=120))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        self.check("time", self.judge())

    @rule(
        back=st.integers(min_value=0, max_value=200),
        kind=st.sampled_from(tuple(TouchKind)),
        outcome=st.sampled_from(tuple(TouchOutcome)),
        by_owner=st.booleans(),
    )
    def a_touch_is_logged(
        self, back: int, kind: TouchKind, outcome: TouchOutcome, by_owner: bool
    ) -> None:
        lead = self.history.lead
        by = (lead.owner_id or "u-ana") if by_owner else "u-sdr"
        self.touches.append(
            Touch(
                id=f"T-{len(self.touches)}",
                lead_id=lead.id,
                kind=kind,
                outcome=outcome,
                by=by,
                at=self.now - timedelta(hours=back),  # logged now, possibly back-dated
            )
        )
        self.check("touch", self.judge())

    def check(self, cause: str, result: Evaluation | None) -> None:
        previous, self.last, self.moved_by = self.last, result, cause
        if previous is None:
            return
        assert result is not None  # a started hand-off clock never disappears
        assert (result.policy, result.started_at) == (previous.policy, previous.started_at)
        for old, new in zip(previous.steps, result.steps, strict=True):
            # A touch may meet a step or, when it is a live conversation, end the chase
            # (stopped); it never undoes a met step.
            by_touch = {S.MET} if old.state is S.MET else {old.state, S.MET, S.STOPPED}
            allowed = BY_TIME[old.state] if cause == "time" else by_touch
            assert new.state in allowed, (cause, old, new)
            if cause == "touch" and new.state is S.STOPPED and old.state is not S.STOPPED:
                assert new.stopped_because == "connected", (cause, old, new)
            assert new.done >= old.done

    @invariant()
    def met_steps_stay_met_with_their_evidence(self) -> None:
        if self.last is None:
            return
        for status in self.last.steps:
            if status.state is S.MET:
                assert status.completed_at is not None
                done = status.completed_at.astimezone(UTC)  # wall-time comparisons ignore fold
                assert done <= status.due.astimezone(UTC)
                assert done <= self.now.astimezone(UTC)


TestSLAClock = SLAClock.TestCase
TestSLAClock.settings = settings(max_examples=40, stateful_step_count=12, deadline=None)
