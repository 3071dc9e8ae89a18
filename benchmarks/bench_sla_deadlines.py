"""Benchmark: 1M SLA deadlines on a New York weekday calendar with holidays, three ways.

(a) ``per-item``: :meth:`leadflow.business_time.BusinessCalendar.add`, one call per deadline (the
    path ``compile_sla`` used before);
(b) ``vectorized``: :func:`leadflow.etl.business_time.add_business_time` over the int64
    microsecond array (what ``compile_sla`` uses now; any calendar);
(c) ``numpy``: a hand-written ``numpy.busday_offset`` computation that is exact for *this*
    calendar only (one 09:00-17:00 shift, no DST change inside working hours): UTC to local
    through the zone's transitions, roll to the next working moment, whole business days with
    ``busday_offset`` and the rest within the day.

All three results are checked equal, instant for instant, before any time is printed. The
inputs (datetime objects for (a), the int64 array for (b) and (c)) are built before timing.
Prints the best of *--repeat* runs for (b) and (c) (one run of (a)), wall and CPU seconds,
and the ratios. Not run by pytest::

    python benchmarks/bench_sla_deadlines.py                  # 1M deadlines
    python benchmarks/bench_sla_deadlines.py --n 200000       # quicker
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from leadflow.business_time import BusinessCalendar
from leadflow.etl.business_time import add_business_time

HOLIDAYS = [
    "2026-01-01", "2026-01-19", "2026-02-16", "2026-05-25", "2026-06-19", "2026-07-03",
    "2026-09-07", "2026-10-12", "2026-11-11", "2026-11-26", "2026-12-25", "2027-01-01",
    "2027-01-18", "2027-02-15",
]  # fmt: skip
CALENDAR = BusinessCalendar.weekdays("America/New_York", "09:00-17:00", holidays=HOLIDAYS)
DELTA = timedelta(hours=20)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000


def transitions() -> tuple[np.ndarray, np.ndarray]:
    """New York's UTC offsets over 2025-2028 (instants in µs, offsets in µs): a constant table
    any hand-written job would carry."""
    zone = CALENDAR.tzinfo
    at, off = [], []
    t = datetime(2025, 1, 1, tzinfo=UTC)
    while t.year < 2029:
        value = t.astimezone(zone).utcoffset()
        assert value is not None
        if not off or value // timedelta(microseconds=1) != off[-1]:
            at.append((t - EPOCH) // timedelta(microseconds=1))
            off.append(value // timedelta(microseconds=1))
        t += timedelta(hours=1)  # New York changes on the hour
    return np.array(at, dtype=np.int64), np.array(off, dtype=np.int64)


TRANS_AT, TRANS_OFF = transitions()
HOLIDAY_DAYS = np.array(HOLIDAYS, dtype="datetime64[D]")


def numpy_baseline(t: np.ndarray, delta_us: int) -> np.ndarray:
    """Exact for a single 09:00-17:00 weekday shift in New York; not a general calendar."""
    day_us, open_us, close_us = 86_400 * US, 9 * 3600 * US, 17 * 3600 * US
    shift = close_us - open_us
    local = t + TRANS_OFF[np.searchsorted(TRANS_AT, t, side="right") - 1]
    day = (local // day_us).astype("datetime64[D]")
    tod = local % day_us
    bus = np.is_busday(day, holidays=HOLIDAY_DAYS)
    late = ~bus | (tod >= close_us)
    elapsed = np.where(late, 0, np.maximum(tod - open_us, 0))
    day = np.where(
        late, np.busday_offset(day, bus.astype(np.int64), roll="forward", holidays=HOLIDAY_DAYS),
        day,
    )  # fmt: skip
    total = elapsed + delta_us
    whole, rest = np.divmod(total, shift)
    ends = (rest == 0) & (whole > 0)  # the earliest instant: the close, not the next opening
    whole, rest = np.where(ends, whole - 1, whole), np.where(ends, shift, rest)
    due_day = np.busday_offset(day, whole, holidays=HOLIDAY_DAYS)
    local_due = due_day.astype(np.int64) * day_us + open_us + rest
    guess = local_due + 5 * 3600 * US  # standard time first; working hours never straddle a change
    offset = TRANS_OFF[np.searchsorted(TRANS_AT, guess, side="right") - 1]
    return local_due - offset


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return result, best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    first = (datetime(2026, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
    t = first + rng.integers(0, 365 * 86_400, args.n, dtype=np.int64) * US
    delta_us = DELTA // timedelta(microseconds=1)
    objects = [EPOCH + timedelta(microseconds=int(x)) for x in t]

    vec, vec_wall, vec_cpu = timed(
        lambda: add_business_time(CALENDAR, t, DELTA).view(np.int64), args.repeat
    )
    base, np_wall, np_cpu = timed(lambda: numpy_baseline(t, delta_us), args.repeat)
    items, item_wall, item_cpu = timed(lambda: [CALENDAR.add(x, DELTA) for x in objects], 1)
    per_item = np.array([(x - EPOCH) // timedelta(microseconds=1) for x in items], np.int64)
    assert np.array_equal(vec, per_item), "vectorized != BusinessCalendar.add"
    assert np.array_equal(vec, base), "vectorized != numpy baseline"

    print(f"{args.n:,} deadlines, +{DELTA} on {CALENDAR!r}; load {os.getloadavg()[0]:.2f}")
    print(f"{'path':<12}{'wall s':>9}{'CPU s':>9}{'x numpy (CPU)':>15}")
    for name, wall, cpu in (
        ("numpy", np_wall, np_cpu),
        ("vectorized", vec_wall, vec_cpu),
        ("per-item", item_wall, item_cpu),
    ):
        print(f"{name:<12}{wall:>9.3f}{cpu:>9.3f}{cpu / np_cpu:>15.2f}")
    print(
        f"vectorized: {vec_cpu / np_cpu:.2f}x numpy, {item_cpu / vec_cpu:.1f}x faster than per-item"
        " (CPU); all three results identical"
    )


if __name__ == "__main__":
    main()
