"""Property tests of the lifecycle: replay, refusal of illegal steps, append-only ordered history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.errors import HistoryOrderError, IllegalTransitionError, ValidationError
from leadflow.lifecycle import WATERFALL, replay, transition
from leadflow.model import Account, Activity, Lead, StageChange, Touch

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def legal_walks(draw: st.DrawFn) -> tuple[Lead, list[tuple[str, timedelta]]]:
    """A lead and a sequence of (target, gap) steps that the waterfall allows."""
    stage = WATERFALL.initial
    steps: list[tuple[str, timedelta]] = []
    for _ in range(draw(st.integers(0, 12))):
        targets = WATERFALL.targets(stage)
        if not targets:
            break
        stage = draw(st.sampled_from(targets))
        steps.append(
            (stage, draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))))
        )
    return Lead(id="L-1", created_at=T0), steps


def _walk(lead: Lead, steps: list[tuple[str, timedelta]]) -> Lead:
    at = lead.created_at
    for target, gap in steps:
        at += gap
        lead = transition(lead, target, at=at)
    return lead


@given(legal_walks())
def test_any_legal_sequence_replays_to_the_same_stage(
    walk: tuple[Lead, list[tuple[str, timedelta]]],
) -> None:
    lead, steps = walk
    final = _walk(lead, steps)
    assert replay(final.history) == final.stage
    assert [c.to_stage for c in final.history] == [t for t, _ in steps]


@given(legal_walks(), st.sampled_from(list(WATERFALL.stages)))
def test_illegal_step_is_refused_and_leaves_lead_unchanged(
    walk: tuple[Lead, list[tuple[str, timedelta]]], target: str
) -> None:
    lead, steps = walk
    current = _walk(lead, steps)
    if WATERFALL.allows(current.stage, target):
        return
    before = current
    with pytest.raises(IllegalTransitionError) as info:
        transition(current, target, at=current.history[-1].at if current.history else T0)
    assert info.value.allowed == WATERFALL.targets(current.stage)
    assert current == before and current.history == before.history


@given(legal_walks())
def test_history_is_append_only_and_time_ordered(
    walk: tuple[Lead, list[tuple[str, timedelta]]],
) -> None:
    lead, steps = walk
    at = lead.created_at
    for target, gap in steps:
        at += gap
        moved = transition(lead, target, at=at)
        assert moved.history[: len(lead.history)] == lead.history
        assert len(moved.history) == len(lead.history) + 1
        lead = moved
    assert all(a.at <= b.at for a, b in zip(lead.history, lead.history[1:], strict=False))


@given(
    legal_walks(), st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=365))
)
def test_a_change_dated_before_the_last_is_refused(
    walk: tuple[Lead, list[tuple[str, timedelta]]], back: timedelta
) -> None:
    lead, steps = walk
    current = _walk(lead, steps)
    if not current.history or WATERFALL.is_terminal(current.stage):
        return
    target = WATERFALL.targets(current.stage)[0]
    with pytest.raises(HistoryOrderError):
        transition(current, target, at=current.history[-1].at - back)


naive = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1))


@given(naive)
def test_every_naive_datetime_is_refused_everywhere(when: datetime) -> None:
    constructors = [
        ("created_at", lambda: Lead(id="L", created_at=when)),
        ("handed_off_at", lambda: Lead(id="L", created_at=T0, handed_off_at=when)),
        ("created_at", lambda: Account(id="A", name="Acme", created_at=when)),
        ("occurred_at", lambda: Activity(id="E", lead_id="L", kind="web_visit", occurred_at=when)),
        ("at", lambda: Touch(id="T", lead_id="L", kind="call", by="u", at=when)),
        ("at", lambda: StageChange(from_stage="inquiry", to_stage="mql", at=when)),
        ("at", lambda: transition(Lead(id="L", created_at=T0), "mql", at=when)),
    ]
    for field, build in constructors:
        with pytest.raises(ValidationError) as info:
            build()
        assert info.value.field == field
        assert info.value.value == when
