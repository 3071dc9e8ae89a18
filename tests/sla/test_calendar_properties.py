"""Invariants of business-time arithmetic, checked with leadflow's own public strategies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.business_time import BusinessCalendar
from leadflow.testing.strategies import calendars, instants

US = timedelta(microseconds=1)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=300))
positive = st.timedeltas(min_value=US, max_value=timedelta(hours=300))


def u(at: datetime) -> datetime:
    return at.astimezone(UTC)


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
    # Compare in UTC: datetimes sharing a tzinfo compare by wall time, ignoring fold.
    assert u(calendar.add(at, small)) <= u(calendar.add(at, large))
    assert u(calendar.add(at, small)) >= u(at)


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
    assert u(opened) >= u(at)
    assert calendar.is_open(opened)
    assert timedelta(0) == calendar.between(at, opened)


@SETTINGS
@given(calendar=calendars())
def test_plain_data_round_trip(calendar: BusinessCalendar) -> None:
    assert calendar == BusinessCalendar.from_dict(calendar.to_dict())


def _utc_intervals(calendar: BusinessCalendar, day: date) -> list[tuple[datetime, datetime]]:
    return [(s.astimezone(UTC), e.astimezone(UTC)) for s, e in calendar.intervals(day)]


def reference_add(calendar: BusinessCalendar, at: datetime, delta: timedelta) -> datetime:
    """Walk the public per-day intervals one day at a time (an oracle independent of the
    timeline with running totals that ``add`` uses)."""
    t, remaining = at.astimezone(UTC), delta
    if not remaining:
        return t
    day = at.astimezone(calendar.tzinfo).date()
    while True:
        for s, e in _utc_intervals(calendar, day):
            if e <= t:
                continue
            start = max(s, t)
            if remaining <= e - start:
                return start + remaining
            remaining -= e - start
        day += timedelta(days=1)


def reference_between(calendar: BusinessCalendar, a: datetime, b: datetime) -> timedelta:
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    total, day = timedelta(0), a.astimezone(calendar.tzinfo).date()
    while day <= b.astimezone(calendar.tzinfo).date():
        for s, e in _utc_intervals(calendar, day):
            lo, hi = max(s, a), min(e, b)
            if lo < hi:
                total += hi - lo
        day += timedelta(days=1)
    return total


@SETTINGS
@given(
    calendar=calendars(),
    at=instants(),
    d=durations,
    gap=st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(days=40)),
)
def test_add_and_between_agree_with_a_day_by_day_walk(
    calendar: BusinessCalendar, at: datetime, d: timedelta, gap: timedelta
) -> None:
    # Compared as UTC instants: across zones, == is always False for a time inside a repeated
    # hour (fold=1, PEP 495), which the strategies now draw often.
    assert calendar.add(at, d).astimezone(UTC) == reference_add(calendar, at, d).astimezone(UTC)
    first, last = sorted((at, at + gap), key=lambda x: x.astimezone(UTC))
    assert calendar.between(first, last) == reference_between(calendar, first, last)
    assert calendar.is_open(at) == any(
        s <= at < e for s, e in _utc_intervals(calendar, at.astimezone(calendar.tzinfo).date())
    )
