"""Benchmark: "first touch due = hand-off + 24 business hours" for many hand-offs.

1,000,000 hand-offs (by default) spread over 2026 in six time zones, each with its country's
public holidays (2025-2027, from the ``holidays`` extra) and one calendar with a split shift,
through :meth:`leadflow.business_time.BusinessCalendar.add`; beside the classic approach of stepping
business minutes with ``dateutil.rrule`` (minutely occurrences inside working hours, skipping
holidays), measured on a sample in the same run. The sample's deadlines are checked to agree.

Run on demand (not part of pytest):

    .venv/bin/python benchmarks/bench_sla.py            # 1M hand-offs, 2,000-deadline sample
    .venv/bin/python benchmarks/bench_sla.py --n 100000 --sample 500
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from dateutil import rrule

from leadflow.business_time import BusinessCalendar
from leadflow.calendar_holidays import with_country_holidays

YEARS = (2025, 2026, 2027)
WINDOW = timedelta(hours=24)


def calendars() -> list[BusinessCalendar]:
    specs = [
        ("America/New_York", "US", None, ["09:00-17:00"]),
        ("Europe/Berlin", "DE", "BE", ["09:00-12:30", "13:30-18:00"]),
        ("Australia/Sydney", "AU", "NSW", ["08:30-16:30"]),
        ("Asia/Kolkata", "IN", None, ["09:30-18:30"]),
        ("America/Sao_Paulo", "BR", None, ["08:00-17:00"]),
        ("Asia/Tokyo", "JP", None, ["09:00-18:00"]),
    ]
    return [
        with_country_holidays(
            BusinessCalendar.weekdays(zone, *shifts, name=country), country, years=YEARS, subdiv=sub
        )
        for zone, country, sub, shifts in specs
    ]


def rrule_deadline(calendar: BusinessCalendar, at: datetime, minutes: int) -> datetime:
    """The baseline: step minutely occurrences in working hours until *minutes* have passed."""
    local = at.astimezone(calendar.tzinfo).replace(tzinfo=None)
    hours = sorted(
        {m // 60 for day in calendar.hours for start, end in day for m in range(start, end)}
    )
    rule = rrule.rrule(
        rrule.MINUTELY,
        dtstart=local.replace(second=0, microsecond=0),
        byweekday=[d for d in range(7) if calendar.hours[d]],
        byhour=hours,
    )
    counted = 0
    for occurrence in rule:
        if occurrence < local or occurrence.date() in calendar.holidays:
            continue
        minute = occurrence.hour * 60 + occurrence.minute
        if not any(s <= minute < e for s, e in calendar.hours[occurrence.weekday()]):
            continue
        counted += 1
        if counted == minutes:
            end = occurrence + timedelta(minutes=1)
            return end.replace(tzinfo=calendar.tzinfo)
    raise AssertionError("unreachable: rrule is unbounded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="hand-offs for leadflow")
    parser.add_argument("--sample", type=int, default=2_000, help="hand-offs for rrule")
    parser.add_argument("--seed", type=int, default=20260302)
    args = parser.parse_args()

    cals = calendars()
    rng = random.Random(args.seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    minutes_in_year = 365 * 24 * 60
    # Whole-minute hand-offs so the minute-stepping baseline computes the same deadlines.
    handoffs = [start + timedelta(minutes=rng.randrange(minutes_in_year)) for _ in range(args.n)]
    which = [rng.randrange(len(cals)) for _ in range(args.n)]
    print(f"{args.n:,} hand-offs in {len(cals)} zones: {', '.join(c.zone for c in cals)}")
    print(f"holidays per calendar (2025-2027): {', '.join(str(len(c.holidays)) for c in cals)}")

    t0, c0 = time.perf_counter(), time.process_time()
    deadlines = [cals[c].add(h, WINDOW) for c, h in zip(which, handoffs, strict=True)]
    leadflow_s, leadflow_cpu = time.perf_counter() - t0, time.process_time() - c0
    leadflow_rate = args.n / leadflow_s

    sample = range(min(args.sample, args.n))
    t0, c0 = time.perf_counter(), time.process_time()
    baseline = [rrule_deadline(cals[which[i]], handoffs[i], 24 * 60) for i in sample]
    rrule_s, rrule_cpu = time.perf_counter() - t0, time.process_time() - c0
    rrule_rate = len(sample) / rrule_s

    agree = sum(baseline[i] == deadlines[i] for i in sample)
    print(
        f"leadflow BusinessCalendar.add: {args.n:,} deadlines in {leadflow_s:.2f} s wall "
        f"({leadflow_cpu:.2f} s CPU) = {leadflow_rate:,.0f} deadlines/s"
    )
    print(
        f"dateutil.rrule minute stepping: {len(sample):,} deadlines in {rrule_s:.2f} s wall "
        f"({rrule_cpu:.2f} s CPU) = {rrule_rate:,.0f} deadlines/s"
    )
    print(f"ratio: leadflow is {leadflow_rate / rrule_rate:,.0f}x the rrule rate (wall clock)")
    print(f"sample agreement: {agree}/{len(sample)} deadlines identical")
    if agree != len(sample):
        raise SystemExit("deadlines disagree with the rrule baseline")


if __name__ == "__main__":
    main()
