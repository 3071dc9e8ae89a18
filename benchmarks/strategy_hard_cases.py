"""How often the public SLA strategies generate the cases that break SLA code.

A generated case (a lead history, a calendar and a policy) is *hard* when the policy's window —
from the clock's start to the last step's due time — spans a daylight-saving change of the
calendar's zone or one of its holidays, or when the hand-off falls within 48 hours of such a
change. Run from the repository root:

    PYTHONPATH=src python benchmarks/strategy_hard_cases.py [examples]

It prints the share for ``lead_histories()`` and ``calendars()`` drawn independently (how most
tests use them) and, when the module has it, for the coupled ``sla_scenarios()``.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.business_time import BusinessCalendar
from leadflow.rules import SLAPolicy, Trigger, TriggerKind, evaluate
from leadflow.testing import strategies as S


def _offsets_change(cal: BusinessCalendar, start: datetime, end: datetime) -> bool:
    tz = cal.tzinfo
    at = start.astimezone(UTC)
    first = at.astimezone(tz).utcoffset()
    stop = end.astimezone(UTC)
    while at <= stop:
        if at.astimezone(tz).utcoffset() != first:
            return True
        at += timedelta(hours=6)
    return stop.astimezone(tz).utcoffset() != first


def classify(history: S.LeadHistory, calendar: BusinessCalendar, policy: SLAPolicy) -> set[str]:
    result = evaluate(
        history.lead,
        history.touches,
        as_of=history.now,
        policies=[policy],
        calendar=calendar,
        activities=history.activities,
    )
    if result is None:
        return {"not started"}
    start = result.started_at
    end = max((s.due for s in result.steps), key=lambda d: d.astimezone(UTC))
    tags = set()
    if _offsets_change(calendar, start, end):
        tags.add("window spans DST")
    if _offsets_change(calendar, start - timedelta(hours=48), start + timedelta(hours=48)):
        tags.add("hand-off near DST")
    tz = calendar.tzinfo
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    while day <= last:
        if day in calendar.holidays:
            tags.add("window spans holiday")
            break
        day += timedelta(days=1)
    return tags or {"plain"}


def measure(cases: st.SearchStrategy, n: int) -> Counter[str]:
    counts: Counter[str] = Counter()

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=["generate"],
    )
    @given(case=cases)
    def run(case):
        history, calendar, policy = case
        tags = classify(history, calendar, policy)
        counts["cases"] += 1
        for tag in tags:
            counts[tag] += 1
        if tags & {"window spans DST", "hand-off near DST", "window spans holiday"}:
            counts["hard"] += 1

    run()
    return counts


def report(name: str, counts: Counter[str]) -> None:
    started = counts["cases"] - counts["not started"]
    print(f"{name}: {counts['cases']} cases, {started} with a started clock")
    for tag in ("hard", "window spans DST", "hand-off near DST", "window spans holiday"):
        print(
            f"  {tag:<22} {counts[tag] / counts['cases']:6.1%} of all cases"
            f"  ({counts[tag] / max(started, 1):6.1%} of started)"
        )


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    handoff = S.sla_policies(triggers=[Trigger(kind=TriggerKind.HANDOFF)])
    report(
        "lead_histories() x calendars()",
        measure(st.tuples(S.lead_histories(), S.calendars(), handoff), n),
    )
    if hasattr(S, "sla_scenarios"):
        report(
            "sla_scenarios()",
            measure(
                st.tuples(S.sla_scenarios(), handoff).map(
                    lambda p: (p[0].history, p[0].calendar, p[1])
                ),
                n,
            ),
        )
