"""Business time over arrays agrees with the calendar, instant for instant, and with the
day-by-day oracle of the calendar's own property tests (split shifts, holidays, DST)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.business_time import BusinessCalendar
from leadflow.errors import ValidationError
from leadflow.etl.business_time import add_business_days, add_business_time, business_between
from leadflow.testing.strategies import calendars, instants

# the calendar's own day-by-day oracle, shared rather than copied
from ..sla.test_calendar_properties import reference_add, reference_between  # noqa: TID252

US = timedelta(microseconds=1)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=300))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime) -> int:
    return (at - EPOCH) // US


def as_datetimes(values: np.ndarray) -> list[datetime]:
    return [EPOCH + timedelta(microseconds=int(x)) for x in values.view(np.int64)]


@settings(max_examples=120, deadline=None)
@given(
    calendar=calendars(),
    starts=st.lists(instants(), min_size=1, max_size=6),
    deltas=st.lists(durations, min_size=6, max_size=6),
)
def test_add_agrees_with_the_day_by_day_oracle_and_the_calendar(
    calendar: BusinessCalendar, starts: list[datetime], deltas: list[timedelta]
) -> None:
    deltas = deltas[: len(starts)]
    t = np.array([micros(s) for s in starts], dtype=np.int64)
    d = np.array([x // US for x in deltas], dtype=np.int64)
    got = as_datetimes(add_business_time(calendar, t, d))
    oracle = [
        reference_add(calendar, s, x).astimezone(UTC) for s, x in zip(starts, deltas, strict=True)
    ]
    per_item = [calendar.add(s, x).astimezone(UTC) for s, x in zip(starts, deltas, strict=True)]
    assert oracle == got
    assert per_item == got


@settings(max_examples=80, deadline=None)
@given(
    calendar=calendars(),
    starts=st.lists(instants(), min_size=1, max_size=6),
    days=st.integers(1, 15),
)
def test_add_days_equals_the_calendar(
    calendar: BusinessCalendar, starts: list[datetime], days: int
) -> None:
    t = np.array([micros(s) for s in starts], dtype=np.int64)
    got = as_datetimes(add_business_days(calendar, t, days))
    assert [calendar.add_days(s, days).astimezone(UTC) for s in starts] == got


@settings(max_examples=80, deadline=None)
@given(
    calendar=calendars(),
    at=instants(),
    gaps=st.lists(
        st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(days=40)),
        min_size=1,
        max_size=5,
    ),
)
def test_between_agrees_with_the_oracle(
    calendar: BusinessCalendar, at: datetime, gaps: list[timedelta]
) -> None:
    # Elapsed time, not wall-clock arithmetic: `at + gap` on the second occurrence of a repeated
    # hour (fold=1) drops the fold and lands an hour earlier even for a zero gap.
    ends = [at.astimezone(UTC) + g for g in gaps]
    a = np.array([micros(at)] * len(gaps), dtype=np.int64)
    b = np.array([micros(end) for end in ends], dtype=np.int64)
    got = business_between(calendar, a, b)
    expected = []
    for gap, end in zip(gaps, ends, strict=True):
        first, last = sorted((at, end), key=lambda x: x.astimezone(UTC))
        size = reference_between(calendar, first, last)
        expected.append(size if gap >= timedelta(0) else -size)
    assert expected == [timedelta(microseconds=int(x)) for x in got.view(np.int64)]


def test_split_shifts_holidays_and_dst_in_one_array() -> None:
    sydney = BusinessCalendar.from_dict(
        {
            "zone": "Australia/Sydney",
            "hours": {"mon-thu": ["08:30-12:00", "13:00-17:30"], "fri": "09:00-15:00"},
            "holidays": ["2026-04-03", "2026-04-06", "2026-10-05"],
        }
    )
    base = datetime(2026, 3, 30, tzinfo=UTC)  # DST ends 5 April, begins 4 October
    starts = [base + timedelta(hours=7 * k + 0.25) for k in range(1200)]
    got = as_datetimes(
        add_business_time(
            sydney, np.array([micros(s) for s in starts]), timedelta(hours=13, minutes=5)
        )
    )
    assert [sydney.add(s, timedelta(hours=13, minutes=5)) for s in starts] == got


def test_arrow_in_arrow_out_with_nulls_and_datetime64() -> None:
    ny = BusinessCalendar.weekdays("America/New_York", holidays=["2026-07-03"])
    at = datetime(2026, 7, 2, 20, 0, tzinfo=UTC)  # Thursday 16:00 in New York
    arrow = pa.array([at, None], pa.timestamp("us", tz="UTC"))
    out = add_business_time(ny, arrow, timedelta(hours=2))
    assert out.type == pa.timestamp("us", tz="UTC")
    assert [ny.add(at, timedelta(hours=2)), None] == out.to_pylist()
    as_np = np.array([np.datetime64("2026-07-02T20:00"), np.datetime64("NaT")], "datetime64[us]")
    result = add_business_time(ny, as_np, timedelta(hours=2))
    assert np.isnat(result[1])
    assert result[0] == np.datetime64("2026-07-06T14:00", "us")  # Monday 10:00 EDT
    with pytest.raises(ValidationError, match="negative"):
        add_business_time(ny, as_np, timedelta(hours=-1))
    with pytest.raises(ValidationError, match="naive"):
        add_business_time(ny, pa.array([datetime(2026, 7, 2)]), timedelta(hours=1))


def test_a_long_delta_grows_the_span() -> None:
    cal = BusinessCalendar.weekdays("Europe/Berlin", holidays=[date(2026, 12, 24)])
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    big = timedelta(hours=8 * 400)
    got = as_datetimes(add_business_time(cal, np.array([micros(at)]), big))
    assert [cal.add(at, big)] == got
