"""Business-time arithmetic over arrays: many SLA deadlines from one calendar at once.

The array counterpart of :mod:`leadflow.business_time` (one instant at a time), for the ETL
extra (it needs numpy and pyarrow).

Scope: the array counterpart of :meth:`leadflow.business_time.BusinessCalendar.add`,
:meth:`~leadflow.business_time.BusinessCalendar.add_days` and
:meth:`~leadflow.business_time.BusinessCalendar.between`, for any calendar (split shifts, holidays,
daylight-saving changes) and exact to the microsecond -- not an approximation.

How: :meth:`BusinessTimeline.build` lays the calendar's open intervals over the span the inputs
need end to end, once, from the calendar's own per-date intervals
(:meth:`~leadflow.business_time.BusinessCalendar.intervals`, so every DST rule is the calendar's),
with the business time before and after each interval (cumulative sums). A deadline is then two
``numpy.searchsorted`` calls per input: the interval the start falls in (or the next one), and
the interval where the running total reaches start + delta. Local dates (for
:func:`add_business_days`) come from the zone's UTC offsets over the span, found once.

Instants are epoch microseconds (``int64``), ``datetime64[us]`` arrays (UTC) or Arrow
timestamp arrays; missing values (NaT, null) stay missing. Results are ``datetime64[us]`` (UTC)
or, for Arrow input, a ``timestamp("us", tz="UTC")`` array.

>>> import numpy as np
>>> from datetime import timedelta, timezone
>>> from leadflow.business_time import BusinessCalendar
>>> berlin = BusinessCalendar.from_dict({
...     "zone": "Europe/Berlin",
...     "hours": {"mon-fri": ["09:00-12:30", "13:30-18:00"]},
...     "holidays": ["2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"],
... })
>>> starts = np.array(["2026-12-23T15:00", "2026-03-27T16:00"], dtype="datetime64[us]")  # UTC
>>> add_business_time(berlin, starts, timedelta(hours=12))
array(['2026-12-29T10:00:00.000000', '2026-03-31T10:00:00.000000'],
      dtype='datetime64[us]')
>>> [berlin.add(s.item().replace(tzinfo=timezone.utc), timedelta(hours=12)).isoformat()
...  for s in starts]
['2026-12-29T11:00:00+01:00', '2026-03-31T12:00:00+02:00']
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadflow.business_time import BusinessCalendar
from leadflow.errors import ValidationError

__all__ = ["BusinessTimeline", "add_business_days", "add_business_time", "business_between"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_US = 86_400 * 1_000_000
_NAT = np.iinfo(np.int64).min  # numpy's NaT as int64
_SAMPLE_S = 6 * 3600  # UTC offsets are sampled this often, then transitions found by bisection
_FIRST_SPAN = 40  # days past the latest start built at first; doubled while too short
_TS = pa.timestamp("us", tz="UTC")


def _us(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


class BusinessTimeline:
    """A calendar's open intervals over the local dates ``[lo, hi)``, with running totals.

    ``starts``/``ends`` are the intervals (epoch microseconds, sorted, disjoint: a day that
    overlaps the previous one across a repeated hour is clipped, as the calendar does), ``cum``
    the business microseconds before each interval and ``cum_end`` those at its end.
    ``days``/``closes`` list each business day (a local date with working hours) and the end of
    its last interval, for :meth:`add_days`. Build it with :meth:`build`; it is never mutated.
    """

    __slots__ = (
        "calendar",
        "closes",
        "cum",
        "cum_end",
        "days",
        "ends",
        "hi",
        "lo",
        "offset_at",
        "offsets",
        "starts",
    )

    def __init__(self, calendar: BusinessCalendar, lo: int, hi: int) -> None:
        self.calendar, self.lo, self.hi = calendar, lo, hi
        starts: list[int] = []
        ends: list[int] = []
        days: list[int] = []
        closes: list[int] = []
        last_end: int | None = None
        for ordinal in range(lo, hi):
            pieces = calendar.intervals(date.fromordinal(ordinal))
            if not pieces:
                continue
            days.append(ordinal)
            closes.append(_us(pieces[-1][1]))
            for start, end in pieces:
                s, e = _us(start), _us(end)
                if last_end is not None and s < last_end:  # a fold across local midnight
                    s = last_end
                if s >= e:
                    continue
                starts.append(s)
                ends.append(e)
                last_end = e
        self.starts = np.asarray(starts, dtype=np.int64)
        self.ends = np.asarray(ends, dtype=np.int64)
        lengths = self.ends - self.starts
        self.cum_end = np.cumsum(lengths, dtype=np.int64)
        self.cum = self.cum_end - lengths
        self.days = np.asarray(days, dtype=np.int64)
        self.closes = np.asarray(closes, dtype=np.int64)
        self.offset_at, self.offsets = _offsets(calendar, lo, hi)

    @classmethod
    def build(cls, calendar: BusinessCalendar, first: datetime, last: datetime) -> BusinessTimeline:
        """A timeline covering the local dates of *first* (less two days) to *last* (plus a
        margin); :func:`add_business_time` and friends extend it as they need."""
        if not isinstance(calendar, BusinessCalendar):
            raise ValidationError("calendar", calendar, "is not a BusinessCalendar")
        zone = calendar.tzinfo
        lo = first.astimezone(zone).toordinal() - 2
        hi = last.astimezone(zone).toordinal() + _FIRST_SPAN
        return cls(calendar, lo, hi)

    def wider(self) -> BusinessTimeline:
        """The same calendar over twice the span (at least ``_FIRST_SPAN`` days more)."""
        return BusinessTimeline(
            self.calendar, self.lo, self.hi + max(_FIRST_SPAN, self.hi - self.lo)
        )

    # -- the questions, on arrays ----------------------------------------------------------------

    def add(self, t: np.ndarray, delta: np.ndarray) -> np.ndarray | None:
        """``calendar.add`` for each (t, delta) in microseconds; ``None`` if the span is short."""
        i = np.searchsorted(self.ends, t, side="right")  # first interval ending after t
        if i.size and int(i.max()) >= len(self.ends):
            return None
        started = np.maximum(t - self.starts[i], 0)
        target = self.cum[i] + started + delta
        j = np.searchsorted(self.cum_end, target, side="left")
        if j.size and int(j.max()) >= len(self.cum_end):
            return None
        out = self.starts[j] + (target - self.cum[j])
        return np.where(delta == 0, t, out)

    def business_before(self, t: np.ndarray) -> np.ndarray | None:
        """Business microseconds from the timeline's start to each *t*; ``None`` if short."""
        i = np.searchsorted(self.ends, t, side="right")
        if i.size and int(i.max()) >= len(self.ends):
            return None
        return self.cum[i] + np.maximum(t - self.starts[i], 0)

    def local_ordinal(self, t: np.ndarray) -> np.ndarray:
        """The local date (proleptic ordinal) of each instant *t*."""
        k = np.searchsorted(self.offset_at, t, side="right") - 1
        local = t + self.offsets[np.maximum(k, 0)]
        return np.asarray(local // _DAY_US + _EPOCH_ORDINAL, dtype=np.int64)

    def add_days(self, t: np.ndarray, days: np.ndarray) -> np.ndarray | None:
        """``calendar.add_days`` for each (t, days); ``None`` if the span is short."""
        k = np.searchsorted(self.days, self.local_ordinal(t), side="right") + days - 1
        if k.size and int(k.max()) >= len(self.closes):
            return None
        return np.asarray(self.closes[k], dtype=np.int64)


def _offsets(calendar: BusinessCalendar, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """The zone's UTC offsets over the local dates ``[lo, hi)``: transition instants (µs, the
    first preceded by the span's start) and the offset (µs) in force from each."""
    zone = calendar.tzinfo

    def offset(seconds: int) -> int:
        found = datetime.fromtimestamp(seconds, zone).utcoffset()
        return 0 if found is None else int(found.total_seconds())

    first = (lo - _EPOCH_ORDINAL) * 86_400 - 2 * 86_400
    last = (hi - _EPOCH_ORDINAL) * 86_400 + 2 * 86_400
    at = [first]
    values = [offset(first)]
    previous = first
    for sample in range(first + _SAMPLE_S, last + _SAMPLE_S, _SAMPLE_S):
        value = offset(sample)
        if value != values[-1]:
            a, b = previous, sample  # offset(a) == values[-1] != offset(b): bisect to 1 s
            while b - a > 1:
                mid = (a + b) // 2
                if offset(mid) == values[-1]:
                    a = mid
                else:
                    b = mid
            at.append(b)
            values.append(offset(b))
        previous = sample
    return (
        np.asarray(at, dtype=np.int64) * 1_000_000,
        np.asarray(values, dtype=np.int64) * 1_000_000,
    )


# -- inputs and outputs ----------------------------------------------------------------------------


def _as_micros(values: Any) -> tuple[np.ndarray, bool]:
    """(int64 microseconds with NaT for missing, whether the input was Arrow)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        if not pa.types.is_timestamp(values.type):
            raise ValidationError("instants", values.type, "is not an Arrow timestamp array")
        if values.type.tz is None:
            raise ValidationError("instants", values.type, "has no time zone (naive instants)")
        micros = pc.cast(values, pa.timestamp("us", tz=values.type.tz)).cast(pa.int64())
        return np.asarray(pc.fill_null(micros, _NAT).to_numpy(zero_copy_only=False)), True
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.astype("datetime64[us]").view(np.int64), False
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64, copy=False), False
    raise ValidationError(
        "instants", array.dtype, "is not datetime64, int64 microseconds or an Arrow timestamp"
    )


def _as_delta(delta: Any, n: int) -> np.ndarray:
    if isinstance(delta, timedelta):
        micros = np.full(n, delta // timedelta(microseconds=1), dtype=np.int64)
    else:
        array = np.asarray(delta)
        if np.issubdtype(array.dtype, np.timedelta64):
            micros = array.astype("timedelta64[us]").view(np.int64)
        elif np.issubdtype(array.dtype, np.integer):
            micros = array.astype(np.int64)
        else:
            raise ValidationError("delta", delta, "is not a timedelta or an array of them")
        micros = np.broadcast_to(micros, (n,))
    if micros.size and int(micros.min()) < 0:
        raise ValidationError("delta", delta, "is negative; business time only runs forward")
    return micros


def _output(micros: np.ndarray, missing: np.ndarray, arrow: bool) -> Any:
    result = np.where(missing, _NAT, micros).view("datetime64[us]")
    if arrow:
        return pa.array(result, type=pa.timestamp("us")).cast(_TS)
    return result


def _run(
    calendar: BusinessCalendar,
    values: Any,
    step: Any,
) -> Any:
    t, arrow = _as_micros(values)
    missing = t == _NAT
    valid = t[~missing]
    if valid.size == 0:
        return _output(np.zeros_like(t), missing, arrow)
    first = _EPOCH + timedelta(microseconds=int(valid.min()))
    last = _EPOCH + timedelta(microseconds=int(valid.max()))
    timeline = BusinessTimeline.build(calendar, first, last)
    safe = np.where(missing, valid[0], t)
    while True:
        found = step(timeline, safe)
        if found is not None:
            return _output(found, missing, arrow)
        timeline = timeline.wider()


def add_business_time(calendar: BusinessCalendar, instants: Any, delta: Any) -> Any:
    """``calendar.add(at, delta)`` for every instant, as one array computation.

    *delta* is a :class:`~datetime.timedelta` (the same for all) or an array of
    ``timedelta64`` / int64 microseconds, one per instant. Exact: equal, instant for instant,
    to :meth:`~leadflow.business_time.BusinessCalendar.add`.
    """
    t, _ = _as_micros(instants)
    micros = _as_delta(delta, len(t))
    return _run(calendar, instants, lambda timeline, safe: timeline.add(safe, micros))


def add_business_days(calendar: BusinessCalendar, instants: Any, days: Any) -> Any:
    """``calendar.add_days(at, days)`` for every instant: the close of the *days*-th business
    day after each instant's local date (*days*: an int >= 1 or an int array)."""
    t, _ = _as_micros(instants)
    counts = np.broadcast_to(np.asarray(days, dtype=np.int64), (len(t),))
    if counts.size and int(counts.min()) < 1:
        raise ValidationError("days", days, "must be whole numbers >= 1")
    return _run(calendar, instants, lambda timeline, safe: timeline.add_days(safe, counts))


def business_between(calendar: BusinessCalendar, starts: Any, ends: Any) -> np.ndarray:
    """``calendar.between(start, end)`` for each pair, as ``timedelta64[us]`` (NaT where either
    is missing; negative where the end is first)."""
    a, _ = _as_micros(starts)
    b, _ = _as_micros(ends)
    missing = (a == _NAT) | (b == _NAT)
    both = np.concatenate([a[~missing], b[~missing]])
    if both.size == 0:
        return np.full(len(a), _NAT, dtype=np.int64).view("timedelta64[us]")
    first = _EPOCH + timedelta(microseconds=int(both.min()))
    last = _EPOCH + timedelta(microseconds=int(both.max()))
    timeline = BusinessTimeline.build(calendar, first, last)
    sa, sb = np.where(missing, both[0], a), np.where(missing, both[0], b)
    while True:
        before_a, before_b = timeline.business_before(sa), timeline.business_before(sb)
        if before_a is not None and before_b is not None:
            return np.where(missing, _NAT, before_b - before_a).view("timedelta64[us]")
        timeline = timeline.wider()
