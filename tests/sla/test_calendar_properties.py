"""Invariants of business-time arithmetic, checked with leadflow's own public strategies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.calendar import BusinessCalendar
from leadflow.testing.strategies import calendars, instants

US = timedelta(microseconds=1)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=300))
positive = st.timedeltas(min_value=US, max_value=timedelta(hours=300))

SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(calendar=calendars(), at=instants(), a=durations, b=durations)
def test_add_is_additive(
    calendar: BusinessCalendar, at: datetime, a: timedelta, b: timedelta
) -> None:
    assert calendar.add(at, a + b) == calendar.add(calendar.add(at, a), b)


@SETTINGS
@given(calendar=calendars(), at=instants(), a=durations, b=durations)
def test_add_is_monotone(
    calendar: BusinessCalendar, at: datetime, a: timedelta, b: timedelta
) -> None:
    small, large = sorted((a, b))
    assert calendar.add(at, small) <= calendar.add(at, large)
    assert calendar.add(at, small) >= at


@SETTINGS
@given(calendar=calendars(), at=instants(), d=positive)
def test_a_deadline_lies_in_working_hours(
    calendar: BusinessCalendar, at: datetime, d: timedelta
) -> None:
    due = calendar.add(at, d)
    # Inside an open interval, or exactly at its close.
    assert calendar.is_open(due - US)


@SETTINGS
@given(calendar=calendars(), at=instants(), d=durations)
def test_business_time_between_start_and_deadline_is_what_was_added(
    calendar: BusinessCalendar, at: datetime, d: timedelta
) -> None:
    assert d == calendar.between(at, calendar.add(at, d))


@SETTINGS
@given(calendar=calendars(), a=instants(), b=instants())
def test_between_is_antisymmetric_and_bounded_by_wall_time(
    calendar: BusinessCalendar, a, b
) -> None:
    forward = calendar.between(a, b)
    assert -forward == calendar.between(b, a)
    assert abs(forward) <= abs(b.astimezone(UTC) - a.astimezone(UTC))


@SETTINGS
@given(calendar=calendars(), at=instants())
def test_next_open_is_open_and_nothing_before_it_is(
    calendar: BusinessCalendar, at: datetime
) -> None:
    opened = calendar.next_open(at)
    assert opened >= at
    assert calendar.is_open(opened)
    assert timedelta(0) == calendar.between(at, opened)


@SETTINGS
@given(calendar=calendars())
def test_plain_data_round_trip(calendar: BusinessCalendar) -> None:
    assert calendar == BusinessCalendar.from_dict(calendar.to_dict())
