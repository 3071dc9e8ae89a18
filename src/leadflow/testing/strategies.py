"""Hypothesis strategies for leadflow's values, for property-testing your own rules.

Scope: every public function returns a typed ``SearchStrategy[T]`` that builds *valid* leadflow
values — timezone-aware instants, business calendars with odd hours, daylight-saving zones and
holiday runs — so a test states only the property it checks. Importing this module needs
``hypothesis`` (install ``leadflow[test]``); ``import leadflow`` never imports it.

>>> from hypothesis import given, settings
>>> from datetime import timedelta
>>> @settings(max_examples=20, deadline=None)
... @given(calendar=calendars(), at=instants())
... def test_add_lands_in_hours(calendar, at):
...     due = calendar.add(at, timedelta(hours=3))
...     assert calendar.is_open(due - timedelta(microseconds=1))
>>> test_add_lands_in_hours()
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from leadflow.calendar import WEEKDAYS, BusinessCalendar

__all__ = [
    "INTERESTING_ZONES",
    "calendars",
    "instants",
]

#: Zones that exercise the arithmetic: daylight saving in both hemispheres, offsets of 30 and 45
#: minutes, a 30-minute DST shift (Lord Howe), a zone that skips midnight (Santiago), and UTC.
INTERESTING_ZONES: tuple[str, ...] = (
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Santiago",
    "America/St_Johns",
    "Europe/Berlin",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
)

# Naive on purpose: hypothesis bounds are wall times; the zone is drawn separately.
_MIN_DAY = datetime(2024, 1, 1)  # noqa: DTZ001
_MAX_DAY = datetime(2028, 12, 31)  # noqa: DTZ001


def instants(
    *,
    min_value: datetime = _MIN_DAY,
    max_value: datetime = _MAX_DAY,
    zones: tuple[str, ...] = INTERESTING_ZONES,
) -> st.SearchStrategy[datetime]:
    """Timezone-aware instants between two naive wall times, in one of *zones*.

    Never an imaginary time (one inside a skipped DST hour); repeated-hour times come with both
    ``fold`` values.
    """
    return st.datetimes(
        min_value=min_value,
        max_value=max_value,
        timezones=st.sampled_from([ZoneInfo(z) for z in zones]),
        allow_imaginary=False,
    )


@st.composite
def _day_hours(draw: st.DrawFn, max_shifts: int) -> list[str]:
    count = draw(st.integers(min_value=0, max_value=max_shifts))
    cuts = sorted(draw(st.sets(st.integers(0, 1440), min_size=2 * count, max_size=2 * count)))
    return [
        f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"
        for a, b in zip(cuts[::2], cuts[1::2], strict=True)
    ]


@st.composite
def _holiday_runs(draw: st.DrawFn, first: date, last: date, max_runs: int) -> list[date]:
    days: list[date] = []
    span = (last - first).days
    for _ in range(draw(st.integers(0, max_runs))):
        start = first + timedelta(days=draw(st.integers(0, span)))
        length = draw(st.integers(1, 12))
        days.extend(start + timedelta(days=i) for i in range(length))
    return days


@st.composite
def _calendars(
    draw: st.DrawFn, zones: tuple[str, ...], max_shifts: int, max_holiday_runs: int
) -> BusinessCalendar:
    hours: dict[str, list[str]] = {day: draw(_day_hours(max_shifts)) for day in WEEKDAYS}
    if not any(hours.values()):
        day = draw(st.sampled_from(WEEKDAYS))
        hours[day] = draw(_day_hours(max_shifts).filter(bool))
    holidays = draw(_holiday_runs(_MIN_DAY.date(), _MAX_DAY.date(), max_holiday_runs))
    return BusinessCalendar(zone=draw(st.sampled_from(zones)), hours=hours, holidays=holidays)


def calendars(
    *,
    zones: tuple[str, ...] = INTERESTING_ZONES,
    max_shifts: int = 3,
    max_holiday_runs: int = 4,
) -> st.SearchStrategy[BusinessCalendar]:
    """Business calendars with odd hours, split shifts, DST zones and runs of holidays.

    Each weekday gets up to *max_shifts* intervals at arbitrary minutes (``"00:00-24:00"``
    included); at least one weekday is open. Holidays come as up to *max_holiday_runs* runs of
    1-12 consecutive dates in 2024-2028 (the range :func:`instants` draws from by default).
    """
    return _calendars(zones, max_shifts, max_holiday_runs)
