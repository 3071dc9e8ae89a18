"""Business calendars: working hours, an IANA time zone and holidays, and business-time arithmetic.

Scope: a :class:`BusinessCalendar` says when a team is at work — working hours per weekday (split
shifts allowed) as local wall-clock times in one IANA zone (:mod:`zoneinfo`), minus holidays given
as explicit local dates — and answers four questions about absolute instants:

* :meth:`~BusinessCalendar.is_open` — is the team at work at this instant?
* :meth:`~BusinessCalendar.next_open` — the first instant at or after this one when it is;
* :meth:`~BusinessCalendar.add` — the earliest instant by which a given amount of business time
  has elapsed (``add(at, 24 hours)`` is "24 business hours after *at*");
* :meth:`~BusinessCalendar.between` — how much business time lies between two instants.

Working hours are half-open local intervals ``[start, end)``; ``"24:00"`` as an end means midnight
at the end of the day. A day's hours are mapped onto absolute time through the zone's actual
offsets, so daylight-saving changes are exact: an interval that spans the skipped hour is an hour
shorter that day, one that spans the repeated hour is an hour longer, and a shift that starts
inside the skipped hour starts when the clocks resume. Holidays (and :mod:`leadflow.calendar_holidays`
for a country's public holidays) close the whole local date.

Naive datetimes are refused; results are in the calendar's zone. Time is always an argument.

>>> from datetime import datetime, timedelta
>>> from zoneinfo import ZoneInfo
>>> berlin = BusinessCalendar.from_dict({
...     "zone": "Europe/Berlin",
...     "hours": {"mon-fri": ["09:00-12:30", "13:30-18:00"]},
...     "holidays": ["2026-12-24", "2026-12-25", "2026-12-26", "2026-12-31", "2027-01-01"],
... })
>>> handoff = datetime(2026, 12, 23, 16, 0, tzinfo=ZoneInfo("Europe/Berlin"))
>>> berlin.add(handoff, timedelta(hours=12)).isoformat()  # 2 h on the 23rd, 8 h on the 28th
'2026-12-29T11:00:00+01:00'
>>> berlin.between(handoff, datetime(2026, 12, 29, 11, 0, tzinfo=ZoneInfo("Europe/Berlin")))
datetime.timedelta(seconds=43200)
>>> berlin.is_open(handoff), berlin.next_open(datetime(2026, 12, 23, 11, 45, tzinfo=ZoneInfo("UTC")))
(True, datetime.datetime(2026, 12, 23, 13, 30, tzinfo=zoneinfo.ZoneInfo(key='Europe/Berlin')))
"""

from __future__ import annotations

import itertools
import re
import tomllib
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from leadflow._files import read_text
from leadflow._validate import check_aware, check_keys
from leadflow.errors import ConfigError, ValidationError
from leadflow.model import Lead

__all__ = [
    "DAY_CACHE_SIZE",
    "WEEKDAYS",
    "BusinessCalendar",
    "CalendarChoice",
    "CalendarResolver",
    "calendar_for",
    "load_calendars",
]

#: Weekday keys in :meth:`BusinessCalendar.from_dict`, Monday first (``date.weekday()`` order).
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_US = timedelta(microseconds=1)
_DAY_S = 86_400
# Every real UTC offset lies within +/-16 hours (LMT included); the local day is searched in a
# UTC window this much wider on each side.
_MARGIN_S = 16 * 3600

#: One day's working hours: sorted, disjoint ``(start_minute, end_minute)`` pairs, 0..1440.
DayHours = tuple[tuple[int, int], ...]


def _parse_interval(where: str, text: object) -> tuple[int, int]:
    if isinstance(text, Sequence) and not isinstance(text, str) and len(text) == 2:
        start, end = text
        if (
            isinstance(start, int)
            and isinstance(end, int)
            and not isinstance(start, bool)
            and not isinstance(end, bool)
            and 0 <= start < end <= 1440
        ):
            return (start, end)
        raise ValidationError(where, text, "is not a (start_minute, end_minute) pair in 0..1440")
    if not isinstance(text, str):
        raise ValidationError(where, text, "is not an 'HH:MM-HH:MM' interval")
    match = _HHMM.match(text)
    if not match:
        raise ValidationError(where, text, "is not an 'HH:MM-HH:MM' interval")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValidationError(where, text, "has a time outside 00:00..24:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start >= end:
        raise ValidationError(
            where, text, "ends at or before it starts (split an overnight shift across two days)"
        )
    return (start, end)


def _day_keys(key: object) -> list[int]:
    if not isinstance(key, str):
        raise ValidationError("hours", key, f"is not a weekday key ({', '.join(WEEKDAYS)})")
    name = key.strip().lower()
    if "-" in name:
        first, last = (part.strip() for part in name.split("-", 1))
        if first in WEEKDAYS and last in WEEKDAYS:
            a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
            return list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]
    elif name in WEEKDAYS:
        return [WEEKDAYS.index(name)]
    raise ValidationError(
        "hours", key, f"is not a weekday key or range like 'mon-fri' ({', '.join(WEEKDAYS)})"
    )


def _normalise_day(where: str, spec: object) -> DayHours:
    if spec is None:
        return ()
    items: Iterable[object]
    if isinstance(spec, str):
        items = [s for s in spec.split(",") if s.strip()]
    elif isinstance(spec, Sequence) and len(spec) == 2 and all(isinstance(x, int) for x in spec):
        items = [spec]
    elif isinstance(spec, Iterable):
        items = spec
    else:
        raise ValidationError(where, spec, "is not a list of 'HH:MM-HH:MM' intervals")
    parsed = sorted(_parse_interval(f"{where}[{i}]", item) for i, item in enumerate(items))
    for (_s1, e1), (s2, _e2) in itertools.pairwise(parsed):
        if s2 < e1:
            raise ValidationError(where, spec, "has overlapping intervals")
    merged: list[tuple[int, int]] = []
    for start, end in parsed:
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _hours(value: object) -> tuple[DayHours, ...]:
    """Converter: a weekday mapping (``{"mon-fri": "09:00-17:00"}``) or 7 day specs."""
    if isinstance(value, Mapping):
        days: list[DayHours | None] = [None] * 7
        for key, spec in value.items():
            for index in _day_keys(key):
                if days[index] is not None:
                    raise ValidationError("hours", key, f"sets {WEEKDAYS[index]!r} twice")
                days[index] = _normalise_day(f"hours[{WEEKDAYS[index]!r}]", spec)
        return tuple(d or () for d in days)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 7:
        return tuple(_normalise_day(f"hours[{WEEKDAYS[i]!r}]", d) for i, d in enumerate(value))
    raise ValidationError(
        "hours", value, "is not a mapping of weekdays to intervals nor a sequence of 7 days"
    )


def _check_hours(_inst: object, _attr: attrs.Attribute[Any], value: tuple[DayHours, ...]) -> None:
    if not any(value):
        raise ValidationError("hours", value, "has no working hours on any weekday")


def _zone(value: object) -> str:
    if isinstance(value, ZoneInfo):
        value = value.key
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("zone", value, "is not an IANA time-zone name")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "zone", value, "is not a known IANA time-zone name (e.g. 'Europe/Berlin')"
        ) from None
    return value.strip()


def _holidays(value: object) -> frozenset[date]:
    if value is None:
        return frozenset()
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError("holidays", value, "is not a collection of dates")
    out: set[date] = set()
    for item in value:
        if isinstance(item, datetime):
            raise ValidationError("holidays", item, "is a datetime; give a local date")
        if isinstance(item, date):
            out.add(item)
        elif isinstance(item, str):
            try:
                out.add(date.fromisoformat(item.strip()))
            except ValueError:
                raise ValidationError("holidays", item, "is not an ISO date (YYYY-MM-DD)") from None
        else:
            raise ValidationError("holidays", item, "is not a date")
    return frozenset(out)


def _to_us(name: str, at: datetime) -> int:
    check_aware(name, at)
    return (at - _EPOCH) // _US


def _check_delta(name: str, value: object) -> timedelta:
    if not isinstance(value, timedelta):
        raise ValidationError(name, value, "is not a timedelta")
    if value < timedelta(0):
        raise ValidationError(name, value, "is negative; business time only runs forward")
    return value


_CHUNK_DAYS = 35  # the first days of a calendar's timeline; it then grows geometrically
#: Local dates whose open intervals a calendar keeps (least recently used ones are dropped).
DAY_CACHE_SIZE = 4 * 366
#: A timeline spanning more days than this is rebuilt around the instant asked about once that
#: instant is this far from its start, so a long-running process does not keep every day since.
_MAX_SPAN_DAYS = 4 * 366
_FAR_US = 2 * 366 * _DAY_S * 1_000_000  # beyond this past the timeline, start a new one


class _Timeline:
    """Open intervals of the local dates ``[lo, hi)`` laid end to end (epoch microseconds),
    with the business time before (``cum``) and after (``cum_end``) each. Never mutated."""

    __slots__ = ("cum", "cum_end", "ends", "far", "hi", "lo", "lo_safe", "starts")

    def __init__(
        self,
        lo: int,
        hi: int,
        *,
        starts: list[int],
        ends: list[int],
        cum: list[int],
        cum_end: list[int],
    ) -> None:
        self.lo, self.hi = lo, hi
        self.starts, self.ends, self.cum, self.cum_end = starts, ends, cum, cum_end
        # Any instant from here on has a local date >= lo in every zone (offsets < 16 h).
        self.lo_safe = ((lo - _EPOCH_ORDINAL) * _DAY_S + _MARGIN_S) * 1_000_000
        self.far = (hi - _EPOCH_ORDINAL) * _DAY_S * 1_000_000 + _FAR_US


class _LRU:
    """A bounded map of day ordinals to open intervals; the least recently used go first.

    Safe to share between threads without a lock: a lost race recomputes a day (the values are
    pure) or evicts one entry too many, never corrupts the map. Pickles as plain data.
    """

    __slots__ = ("_data", "maxsize")

    def __init__(self, maxsize: int = DAY_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self._data: dict[int, tuple[tuple[int, int], ...]] = {}

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: int) -> tuple[tuple[int, int], ...] | None:
        value = self._data.pop(key, None)
        if value is not None:
            self._data[key] = value  # now the most recently used
        return value

    def put(self, key: int, value: tuple[tuple[int, int], ...]) -> None:
        self._data[key] = value
        while len(self._data) > self.maxsize:
            try:
                oldest = next(iter(self._data))
            except (StopIteration, RuntimeError):  # emptied or changed by another thread
                break
            self._data.pop(oldest, None)


@attrs.frozen(kw_only=True)
class BusinessCalendar:
    """Working hours per weekday in one IANA zone, minus holidays.

    Attributes:
        zone: IANA time-zone name the hours are wall-clock times in (``"Australia/Sydney"``).
        hours: seven tuples (Monday first) of sorted, disjoint ``(start, end)`` minute pairs
            (0..1440); build it from strings with a mapping such as
            ``{"mon-fri": ["09:00-12:00", "13:00-17:00"], "sat": "10:00-14:00"}``.
        holidays: local dates on which the calendar is closed all day.
        name: an optional label (``"emea-sales"``), shown in evaluations.

    Per-date open intervals are computed once and cached on the instance, and laid end to end
    in a timeline with running totals of business time, so :meth:`add`, :meth:`between`,
    :meth:`is_open` and :meth:`next_open` are two binary searches rather than a walk over days.
    Both are bounded, so a calendar in a long-running process does not grow with every day it
    is asked about: the per-date cache keeps the :data:`DAY_CACHE_SIZE` most recently used
    dates, and the timeline is rebuilt around the instant asked about once it would span more
    than about four years. A timeline is replaced, never mutated in place, so a calendar can be
    shared across threads.
    """

    zone: str = attrs.field(converter=_zone)
    hours: tuple[DayHours, ...] = attrs.field(converter=_hours, validator=_check_hours)
    holidays: frozenset[date] = attrs.field(factory=frozenset, converter=_holidays)
    name: str | None = None
    _tz: ZoneInfo = attrs.field(init=False, repr=False, eq=False, hash=False)
    _cache: _LRU = attrs.field(init=False, repr=False, eq=False, hash=False, factory=_LRU)
    _timeline: _Timeline | None = attrs.field(
        init=False, repr=False, eq=False, hash=False, default=None
    )

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_tz", ZoneInfo(self.zone))

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def weekdays(
        cls,
        zone: str,
        *shifts: str,
        holidays: Iterable[date | str] = (),
        name: str | None = None,
    ) -> Self:
        """Monday-to-Friday hours (``"09:00-17:00"`` by default; several shifts allowed).

        >>> BusinessCalendar.weekdays("America/New_York").hours[0]
        ((540, 1020),)
        """
        spec = list(shifts) or ["09:00-17:00"]
        return cls(zone=zone, hours={"mon-fri": spec}, holidays=holidays, name=name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "") -> Self:
        """Build a calendar from plain data (a parsed TOML table or JSON object).

        Keys: ``zone`` (required), ``hours`` (required; weekday or range such as ``"mon-fri"`` to
        an interval string or list of them), ``holidays`` (ISO dates), ``name``. Problems raise
        :class:`~leadflow.errors.ConfigError` naming the key under *path*.

        >>> BusinessCalendar.from_dict({"zone": "Mars/Olympus", "hours": {"mon": "09:00-17:00"}})
        Traceback (most recent call last):
        ...
        leadflow.errors.ConfigError: zone: 'Mars/Olympus' is not a known IANA time-zone name (e.g. 'Europe/Berlin')
        """
        prefix = f"{path}." if path else ""
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"a calendar must be a table, got {data!r}")
        check_keys(data, path, ("zone", "hours", "holidays", "name"))
        for key in ("zone", "hours"):
            if key not in data:
                raise ConfigError(f"{prefix}{key}", "is required")
        try:
            return cls(
                zone=data["zone"],
                hours=data["hours"],
                holidays=data.get("holidays", ()),
                name=data.get("name"),
            )
        except ValidationError as err:
            raise ConfigError(f"{prefix}{err.field}", f"{err.value!r} {err.reason}") from None

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal calendar."""
        hours: dict[str, list[str]] = {}
        for index, day in enumerate(self.hours):
            if day:
                hours[WEEKDAYS[index]] = [
                    f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in day
                ]
        data: dict[str, Any] = {
            "zone": self.zone,
            "hours": hours,
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }
        if self.name is not None:
            data["name"] = self.name
        return data

    def with_holidays(self, dates: Iterable[date | str]) -> Self:
        """A copy with *dates* added to the holidays."""
        return attrs.evolve(self, holidays=self.holidays | _holidays(dates))

    @property
    def tzinfo(self) -> ZoneInfo:
        """The calendar's zone as a :class:`zoneinfo.ZoneInfo`."""
        return self._tz

    # -- the per-date open intervals ------------------------------------------------------------

    def _offset(self, utc_seconds: int) -> int:
        off = datetime.fromtimestamp(utc_seconds, self._tz).utcoffset()
        return 0 if off is None else int(off.total_seconds())

    def _day(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        """Open intervals of one local date, as absolute epoch microseconds."""
        cached = self._cache.get(ordinal)
        if cached is not None:
            return cached
        day = date.fromordinal(ordinal)
        local_hours = () if day in self.holidays else self.hours[day.weekday()]
        result: tuple[tuple[int, int], ...] = ()
        if local_hours:
            wall0 = (ordinal - _EPOCH_ORDINAL) * _DAY_S  # local midnight, as if it were UTC
            lo, hi = wall0 - _MARGIN_S, wall0 + _DAY_S + _MARGIN_S
            off_lo, off_hi = self._offset(lo), self._offset(hi)
            segments: list[tuple[int, int, int]]
            if off_lo == off_hi:
                segments = [(lo, hi, off_lo)]
            else:  # one transition in the window: find its first second by bisection
                a, b = lo, hi
                while b - a > 1:
                    mid = (a + b) // 2
                    if self._offset(mid) == off_lo:
                        a = mid
                    else:
                        b = mid
                segments = [(lo, b, off_lo), (b, hi, self._offset(b))]
            pieces: list[tuple[int, int]] = []
            for start_min, end_min in local_hours:
                ls, le = wall0 + start_min * 60, wall0 + end_min * 60
                for u0, u1, off in segments:
                    a0, b0 = max(ls, u0 + off), min(le, u1 + off)
                    if a0 < b0:
                        pieces.append((a0 - off, b0 - off))
            pieces.sort()
            merged: list[tuple[int, int]] = []
            for s, e in pieces:
                if merged and s <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], e))
                else:
                    merged.append((s, e))
            result = tuple((s * 1_000_000, e * 1_000_000) for s, e in merged)
        self._cache.put(ordinal, result)
        return result

    def _ordinal(self, at: datetime) -> int:
        return at.astimezone(self._tz).toordinal()

    def _from_us(self, us: int) -> datetime:
        seconds, micro = divmod(us, 1_000_000)
        local = datetime.fromtimestamp(seconds, self._tz)  # sets fold in a repeated hour
        return local.replace(microsecond=micro) if micro else local

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of local date *day*, as ``(start, end)`` aware datetimes.

        >>> from datetime import date
        >>> ny = BusinessCalendar.weekdays("America/New_York", "00:00-04:00")
        >>> [(s.isoformat(), e.isoformat()) for s, e in ny.intervals(date(2026, 3, 9))]
        [('2026-03-09T00:00:00-04:00', '2026-03-09T04:00:00-04:00')]
        """
        if not isinstance(day, date) or isinstance(day, datetime):
            raise ValidationError("day", day, "is not a date")
        return [(self._from_us(s), self._from_us(e)) for s, e in self._day(day.toordinal())]

    # -- the four questions ---------------------------------------------------------------------

    def _build(self, lo: int, hi: int, base: _Timeline | None = None) -> _Timeline:
        """A timeline of the days ``[lo, hi)``, or *base* extended to *hi*."""
        if base is not None:
            starts, ends = list(base.starts), list(base.ends)
            cum, cum_end = list(base.cum), list(base.cum_end)
            first, lo = base.hi, base.lo
        else:
            starts, ends, cum, cum_end = [], [], [], []
            first = lo
        total = cum_end[-1] if cum_end else 0
        last_end = ends[-1] if ends else None
        for ordinal in range(first, hi):
            for day_start, e in self._day(ordinal):
                # Clip a day that overlaps the previous one (a fold across local midnight).
                s = day_start if last_end is None else max(day_start, last_end)
                if s >= e:
                    continue
                starts.append(s)
                ends.append(e)
                cum.append(total)
                total += e - s
                cum_end.append(total)
                last_end = e
        timeline = _Timeline(lo, hi, starts=starts, ends=ends, cum=cum, cum_end=cum_end)
        object.__setattr__(self, "_timeline", timeline)
        return timeline

    def _grow(self, timeline: _Timeline) -> _Timeline:
        """*timeline* extended forward by as many days as it spans (amortised linear cost)."""
        return self._build(
            timeline.lo, timeline.hi + max(_CHUNK_DAYS, timeline.hi - timeline.lo), timeline
        )

    def _covering(self, t: int, at: datetime) -> _Timeline:
        """A timeline that holds every open interval ending after instant *t*, so far."""
        timeline = self._timeline
        if timeline is not None and timeline.lo_safe <= t <= timeline.far:
            if timeline.hi - timeline.lo <= _MAX_SPAN_DAYS:
                return timeline
            ordinal = self._ordinal(at)
            if ordinal - timeline.lo <= _MAX_SPAN_DAYS:
                return timeline
            return self._build(ordinal - 31, ordinal + _CHUNK_DAYS)  # long grown: start afresh
        ordinal = self._ordinal(at)
        if timeline is not None and t < timeline.lo_safe and ordinal > timeline.lo - 2 * 366:
            # A little earlier than what is built: rebuild from there (a month of margin) up
            # to the same end, so callers going back in time rebuild rarely.
            return self._build(ordinal - 31, timeline.hi)
        return self._build(ordinal - 1, ordinal + _CHUNK_DAYS)

    def _after(self, t: int, at: datetime) -> tuple[_Timeline, int]:
        """The timeline and the index of the first open interval that ends after *t*."""
        timeline = self._covering(t, at)
        while True:
            index = bisect_right(timeline.ends, t)
            if index < len(timeline.ends):
                return timeline, index
            timeline = self._grow(timeline)

    # -- the four questions ---------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether *at* falls inside working hours (intervals are half-open: the closing instant
        is closed)."""
        t = _to_us("at", at)
        timeline, i = self._after(t, at)
        return timeline.starts[i] <= t

    def next_open(self, at: datetime) -> datetime:
        """*at* itself when open, else the start of the next open interval."""
        t = _to_us("at", at)
        timeline, i = self._after(t, at)
        start = timeline.starts[i]
        return at.astimezone(self._tz) if start <= t else self._from_us(start)

    def add(self, at: datetime, delta: timedelta) -> datetime:
        """The earliest instant by which *delta* of business time has elapsed since *at*.

        ``add(at, timedelta(0))`` is *at*. For a positive *delta* the result lies in an open
        interval or is its closing instant, and ``between(at, add(at, d)) == d``; adding is
        additive: ``add(add(at, a), b) == add(at, a + b)``. Negative deltas are refused.
        """
        t = _to_us("at", at)
        remaining = _check_delta("delta", delta) // _US
        if remaining == 0:
            return at.astimezone(self._tz)
        timeline, i = self._after(t, at)
        start = timeline.starts[i]
        target = timeline.cum[i] + (t - start if t > start else 0) + remaining
        while True:
            j = bisect_left(timeline.cum_end, target)
            if j < len(timeline.cum_end):
                return self._from_us(timeline.starts[j] + target - timeline.cum[j])
            timeline = self._grow(timeline)

    def add_days(self, at: datetime, days: int) -> datetime:
        """The closing instant of the *days*-th business day after the local date of *at*.

        A business day is a local date with working hours left after holidays; the date *at*
        falls on is not counted, so a Monday 10:00 hand-off "within 1 business day" is due at
        Tuesday's close, and a Saturday one at Monday's close.
        """
        check_aware("at", at)
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValidationError("days", days, "must be a whole number >= 1")
        ordinal = self._ordinal(at)
        while days:
            ordinal += 1
            if self._day(ordinal):
                days -= 1
        return self._from_us(self._day(ordinal)[-1][1])

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time in ``[start, end)``; negative when *end* is before *start*."""
        a, b = _to_us("start", start), _to_us("end", end)
        if b < a:
            return -self.between(end, start)
        timeline, i = self._after(a, start)
        # Extend (never rebuild) until *end* is covered too, so both share one origin.
        while (j := bisect_right(timeline.ends, b)) >= len(timeline.ends):
            timeline = self._grow(timeline)
        first = timeline.cum[i] + max(a - timeline.starts[i], 0)
        second = timeline.cum[j] + max(b - timeline.starts[j], 0)
        return timedelta(microseconds=second - first)

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"BusinessCalendar({label}{self.zone!r}, "
            f"{self.to_dict()['hours']!r}, {len(self.holidays)} holidays)"
        )


# -- choosing a calendar per lead --------------------------------------------------------------


def _calendar_map(value: Mapping[str, BusinessCalendar] | None) -> dict[str, BusinessCalendar]:
    mapping = dict(value or {})
    for key, calendar in mapping.items():
        if not isinstance(calendar, BusinessCalendar):
            raise ValidationError(f"calendars[{key!r}]", calendar, "is not a BusinessCalendar")
    return mapping


def _owner_teams(value: Mapping[str, str] | None) -> dict[str, str]:
    return dict(value or {})


def _is_calendar(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, BusinessCalendar):
        raise ValidationError(attribute.name, value, "is not a BusinessCalendar")


_ORDER = ("owner", "team", "region")


def _check_order(_inst: object, _attr: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    for item in value:
        if item not in _ORDER:
            raise ValidationError("order", item, f"is not one of {', '.join(map(repr, _ORDER))}")


@attrs.frozen(kw_only=True)
class CalendarResolver:
    """Chooses a lead's calendar: its owner's, its owner's team's, or its own region's.

    *order* says which is tried first; the first that has a calendar wins, else *default*.
    A lead's team is ``owner_teams[lead.owner_id]``, or its ``team`` property; its region is its
    ``region`` property, or its ``country``. A resolver is callable, so it can be passed wherever
    a calendar chooser ``Callable[[Lead], BusinessCalendar]`` is expected.

    >>> from datetime import datetime, timezone
    >>> from leadflow.model import Lead
    >>> emea = BusinessCalendar.weekdays("Europe/Berlin", name="emea")
    >>> apac = BusinessCalendar.weekdays("Australia/Sydney", name="apac")
    >>> choose = CalendarResolver(default=emea, by_region={"AU": apac}, order=("region", "owner"))
    >>> at = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> choose(Lead(id="L-1", created_at=at, country="AU")).name
    'apac'
    >>> choose(Lead(id="L-2", created_at=at, country="FR")).name
    'emea'
    """

    default: BusinessCalendar = attrs.field(validator=_is_calendar)
    by_owner: dict[str, BusinessCalendar] = attrs.field(factory=dict, converter=_calendar_map)
    by_team: dict[str, BusinessCalendar] = attrs.field(factory=dict, converter=_calendar_map)
    by_region: dict[str, BusinessCalendar] = attrs.field(factory=dict, converter=_calendar_map)
    owner_teams: dict[str, str] = attrs.field(factory=dict, converter=_owner_teams)
    order: tuple[str, ...] = attrs.field(default=_ORDER, converter=tuple, validator=_check_order)

    def team_of(self, lead: Lead) -> str | None:
        """The lead's team: its owner's team, or its ``team`` property."""
        if lead.owner_id is not None and lead.owner_id in self.owner_teams:
            return self.owner_teams[lead.owner_id]
        team = lead.properties.get("team")
        return team if isinstance(team, str) else None

    def for_lead(self, lead: Lead) -> BusinessCalendar:
        """The calendar that governs *lead*."""
        for choice in self.order:
            found: BusinessCalendar | None = None
            if choice == "owner" and lead.owner_id is not None:
                found = self.by_owner.get(lead.owner_id)
            elif choice == "team":
                team = self.team_of(lead)
                found = self.by_team.get(team) if team is not None else None
            elif choice == "region":
                region = lead.properties.get("region")
                key = region if isinstance(region, str) else lead.country
                found = self.by_region.get(key) if key is not None else None
            if found is not None:
                return found
        return self.default

    def __call__(self, lead: Lead) -> BusinessCalendar:
        return self.for_lead(lead)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Calendars and the choice between them from plain data (a parsed TOML file).

        ``calendars`` maps names to calendar tables (see :meth:`BusinessCalendar.from_dict`;
        the key is the name unless the table gives one); ``choose`` names the ``default`` and
        maps owners, teams and regions to calendar names (``by_owner``, ``by_team``,
        ``by_region``), owners to teams (``owner_teams``), and gives the ``order``.

        >>> choose = CalendarResolver.from_dict({
        ...     "calendars": {"emea": {"zone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}},
        ...                   "apac": {"zone": "Australia/Sydney", "hours": {"mon-fri": "09:00-17:00"}}},
        ...     "choose": {"default": "emea", "by_region": {"AU": "apac"}},
        ... })
        >>> choose.default.name, choose.by_region["AU"].zone
        ('emea', 'Australia/Sydney')
        """
        if not isinstance(data, Mapping):
            raise ConfigError("", f"calendar settings must be a table, got {data!r}")
        check_keys(data, "", ("calendars", "choose"))
        tables = data.get("calendars")
        if not isinstance(tables, Mapping) or not tables:
            raise ConfigError("calendars", "must be a table of named calendars")
        calendars: dict[str, BusinessCalendar] = {}
        for name, table in tables.items():
            where = f"calendars.{name}"
            if not isinstance(table, Mapping):
                raise ConfigError(where, f"a calendar must be a table, got {table!r}")
            calendars[name] = BusinessCalendar.from_dict({"name": name, **table}, path=where)
        choose = data.get("choose", {})
        if not isinstance(choose, Mapping):
            raise ConfigError("choose", f"must be a table, got {choose!r}")
        check_keys(
            choose,
            "choose",
            ("default", "order", "by_owner", "by_team", "by_region", "owner_teams"),
        )

        def named(where: str, name: object) -> BusinessCalendar:
            if not isinstance(name, str) or name not in calendars:
                raise ConfigError(
                    where, f"{name!r} is not a calendar; calendars: {', '.join(calendars)}"
                )
            return calendars[name]

        if "default" not in choose and len(calendars) > 1:
            raise ConfigError("choose.default", "is required when there is more than one calendar")
        default = named("choose.default", choose.get("default", next(iter(calendars))))
        maps: dict[str, dict[str, BusinessCalendar]] = {}
        for key in ("by_owner", "by_team", "by_region"):
            table = choose.get(key, {})
            if not isinstance(table, Mapping):
                raise ConfigError(f"choose.{key}", f"must be a table, got {table!r}")
            maps[key] = {str(k): named(f"choose.{key}.{k}", n) for k, n in table.items()}
        owner_teams = choose.get("owner_teams", {})
        if not isinstance(owner_teams, Mapping):
            raise ConfigError("choose.owner_teams", f"must be a table, got {owner_teams!r}")
        try:
            return cls(
                default=default,
                order=choose.get("order", _ORDER),
                owner_teams={str(k): str(t) for k, t in owner_teams.items()},
                **maps,
            )
        except ValidationError as err:
            raise ConfigError(f"choose.{err.field}", f"{err.value!r} {err.reason}") from None


def load_calendars(path: str | PathLike[str]) -> CalendarResolver:
    """Read named calendars and the choice between them from a TOML file.

    See :meth:`CalendarResolver.from_dict` for the layout; a file with a single calendar and
    no ``[choose]`` table gives a resolver that always picks it. A missing or unreadable file,
    or one that is not UTF-8 text, is a :class:`~leadflow.errors.ConfigError` naming it (read
    by :func:`leadflow._files.read_text`, as every configuration file).
    """
    file = Path(path)
    try:
        data = tomllib.loads(read_text(file))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(file), f"is not valid TOML: {exc}") from None
    return CalendarResolver.from_dict(data)


#: What SLA evaluation accepts as a calendar: one calendar, or a chooser per lead.
CalendarChoice = BusinessCalendar | Callable[[Lead], BusinessCalendar]


def calendar_for(choice: CalendarChoice, lead: Lead) -> BusinessCalendar:
    """The calendar *choice* gives for *lead* (itself when it is a calendar)."""
    if isinstance(choice, BusinessCalendar):
        return choice
    found = choice(lead)
    if not isinstance(found, BusinessCalendar):
        raise ValidationError(
            "calendar", found, f"chosen for lead {lead.id!r} is not a BusinessCalendar"
        )
    return found
