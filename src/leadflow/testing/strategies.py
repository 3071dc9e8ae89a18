"""Hypothesis strategies for leadflow's values, for property-testing your own rules.

Scope: every public function returns a typed ``SearchStrategy[T]`` that builds *valid* leadflow
values — timezone-aware instants, leads, accounts, activities and touches, business calendars
with odd hours, daylight-saving zones and holiday runs, SLA policies, and whole lead histories
(a lead, its stage history, its touches and activities, and an instant to judge it at) — so a
test states only the property it checks. Importing this module needs ``hypothesis`` (install
``leadflow[test]``); ``import leadflow`` never imports it.

>>> from datetime import timedelta
>>> from hypothesis import given, settings
>>> from leadflow.rules import evaluate, load_policies
>>> policies = load_policies("examples/sla.toml")
>>> @settings(max_examples=20, deadline=None)
... @given(history=lead_histories(), calendar=calendars())
... def test_first_touch_is_due_by_the_close_of_the_next_business_day(history, calendar):
...     result = evaluate(history.lead, history.touches, as_of=history.now,
...                       policies=policies, calendar=calendar)
...     if result is not None:
...         due = result.step("first_touch").due
...         assert due == calendar.add_days(result.started_at, 1)
>>> test_first_touch_is_due_by_the_close_of_the_next_business_day()
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import strategies as st

from leadflow.business_time import WEEKDAYS, BusinessCalendar
from leadflow.lifecycle import reassign, transition
from leadflow.model import (
    STANDARD_ACTIVITY_KINDS,
    Account,
    Activity,
    Lead,
    Touch,
    TouchKind,
    TouchOutcome,
)
from leadflow.reasons import Disposition
from leadflow.rules.sla import (
    FinalAction,
    Performer,
    SLAPolicy,
    Step,
    Trigger,
    TriggerKind,
)

__all__ = [
    "DEFAULT_TRIGGERS",
    "INTERESTING_ZONES",
    "LeadHistory",
    "SLAScenario",
    "accounts",
    "activities",
    "calendars",
    "dst_changes",
    "instants",
    "lead_histories",
    "leads",
    "sla_policies",
    "sla_scenarios",
    "touches",
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


@functools.cache
def dst_changes(zone: str) -> tuple[datetime, ...]:
    """The UTC instants in 2024-2028 at which *zone*'s offset from UTC changes (empty for a zone
    without daylight saving), to the minute."""
    tz = ZoneInfo(zone)
    out: list[datetime] = []
    at = datetime(2024, 1, 1, tzinfo=UTC)
    end = datetime(2029, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    while at < end:
        if at.astimezone(tz).utcoffset() != (at + step).astimezone(tz).utcoffset():
            low, high = at, at + step
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                if mid.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
                    low = mid
                else:
                    high = mid
            out.append(high.replace(second=0, microsecond=0))
        at += step
    return tuple(out)


@st.composite
def _instants(
    draw: st.DrawFn, min_value: datetime, max_value: datetime, zones: tuple[str, ...], near: float
) -> datetime:
    zone = draw(st.sampled_from(zones))
    tz = ZoneInfo(zone)
    low = min_value.replace(tzinfo=tz).astimezone(UTC)
    high = max_value.replace(tzinfo=tz).astimezone(UTC)
    changes = [c for c in dst_changes(zone) if low <= c <= high]
    if changes and draw(st.floats(0, 1)) < near:
        # Within two days either side of one of the zone's clock changes, to the minute.
        at = draw(st.sampled_from(changes)) + timedelta(
            minutes=draw(st.integers(-48 * 60, 48 * 60))
        )
        return min(max(at, low), high).astimezone(tz)
    return draw(
        st.datetimes(
            min_value=min_value, max_value=max_value, timezones=st.just(tz), allow_imaginary=False
        )
    )


def instants(
    *,
    min_value: datetime = _MIN_DAY,
    max_value: datetime = _MAX_DAY,
    zones: tuple[str, ...] = INTERESTING_ZONES,
    near_dst: float = 0.35,
) -> st.SearchStrategy[datetime]:
    """Timezone-aware instants between two naive wall times, in one of *zones*.

    A share *near_dst* of them falls within two days of one of the zone's daylight-saving
    changes (:func:`dst_changes`), where SLA arithmetic breaks. Never an imaginary time (one
    inside a skipped DST hour); repeated-hour times come with both ``fold`` values.
    """
    return _instants(min_value, max_value, tuple(zones), near_dst)


@st.composite
def _day_hours(draw: st.DrawFn, max_shifts: int) -> list[str]:
    count = draw(st.integers(min_value=0, max_value=max_shifts))
    cuts = sorted(draw(st.sets(st.integers(0, 1440), min_size=2 * count, max_size=2 * count)))
    return [
        f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"
        for a, b in zip(cuts[::2], cuts[1::2], strict=True)
    ]


@st.composite
def _holiday_runs(
    draw: st.DrawFn, first: date, last: date, max_runs: int, anchors: Sequence[date] = ()
) -> list[date]:
    days: list[date] = []
    span = (last - first).days
    for _ in range(draw(st.integers(0, max_runs))):
        if bool(anchors) and draw(st.booleans()):
            # Where the leads cluster (around clock changes): holidays on the leads' own dates.
            start = draw(st.sampled_from(anchors)) + timedelta(days=draw(st.integers(-3, 3)))
        else:
            start = first + timedelta(days=draw(st.integers(0, span)))
        length = draw(st.integers(1, 12))
        days.extend(start + timedelta(days=i) for i in range(length))
    return days


def _change_dates(zones: Sequence[str]) -> tuple[date, ...]:
    return tuple(sorted({c.date() for z in zones for c in dst_changes(z)}))


@st.composite
def _calendars(
    draw: st.DrawFn, zones: tuple[str, ...], max_shifts: int, max_holiday_runs: int
) -> BusinessCalendar:
    hours: dict[str, list[str]] = {day: draw(_day_hours(max_shifts)) for day in WEEKDAYS}
    if not any(hours.values()):
        day = draw(st.sampled_from(WEEKDAYS))
        hours[day] = draw(_day_hours(max_shifts).filter(bool))
    zone = draw(st.sampled_from(zones))
    holidays = draw(
        _holiday_runs(
            _MIN_DAY.date(), _MAX_DAY.date(), max_holiday_runs, _change_dates(INTERESTING_ZONES)
        )
    )
    return BusinessCalendar(zone=zone, hours=hours, holidays=holidays)


def calendars(
    *,
    zones: tuple[str, ...] = INTERESTING_ZONES,
    max_shifts: int = 3,
    max_holiday_runs: int = 4,
) -> st.SearchStrategy[BusinessCalendar]:
    """Business calendars with odd hours, split shifts, DST zones and runs of holidays.

    Each weekday gets up to *max_shifts* intervals at arbitrary minutes (``"00:00-24:00"``
    included); at least one weekday is open. Holidays come as up to *max_holiday_runs* runs of
    1-12 consecutive dates in 2024-2028 (the range :func:`instants` draws from by default), half
    of them starting within three days of a daylight-saving change — where :func:`instants`
    puts a third of its instants, so holidays often fall on a lead's own dates.
    """
    return _calendars(zones, max_shifts, max_holiday_runs)


# -- domain values ------------------------------------------------------------------------------

_ID = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)
_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyzAEIOUÀÉÖßøñŁ", min_size=1, max_size=12)
_WORD = st.sampled_from(
    ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Soylent"]
)
_TITLES = st.sampled_from(
    [
        "VP Engineering",
        "Head of IT",
        "CTO",
        "Procurement Manager",
        "Student",
        "Marketing Intern",
        "Director of Operations",
        "Software Engineer",
    ]
)
_COUNTRIES = st.sampled_from(["US", "DE", "AU", "GB", "IN", "NZ", "BR", "JP", "FR"])
_SOURCES = st.sampled_from(["webinar", "ads", "organic", "trade_show", "referral", "content"])


def _emails() -> st.SearchStrategy[str]:
    local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12)
    local = local.filter(lambda x: x[0].isalnum())
    domain = st.sampled_from(["example.com", "acme.io", "gmail.com", "corp.example.co.uk"])
    return st.builds(lambda a, b: f"{a}@{b}", local, domain)


def leads(
    *,
    created: st.SearchStrategy[datetime] | None = None,
    owners: Sequence[str] = ("u-ana", "u-bob", "u-cy"),
) -> st.SearchStrategy[Lead]:
    """Leads with plausible contact, firmographic and ownership fields (no stage history).

    *created* draws ``created_at`` (default :func:`instants`); ``owner_id`` is one of *owners*
    or ``None``.
    """
    return st.builds(
        Lead,
        id=_ID.map(lambda x: f"L-{x}"),
        created_at=created if created is not None else instants(),
        email=st.none() | _emails(),
        first_name=st.none() | _NAME,
        last_name=st.none() | _NAME,
        title=st.none() | _TITLES,
        company=st.none() | _WORD,
        annual_revenue=st.none() | st.floats(min_value=0, max_value=1e11, allow_nan=False),
        employees=st.none() | st.integers(min_value=0, max_value=500_000),
        country=st.none() | _COUNTRIES,
        source=st.none() | _SOURCES,
        owner_id=st.none() | st.sampled_from(tuple(owners)),
    )


def accounts() -> st.SearchStrategy[Account]:
    """Companies with a name, a domain and firmographics."""
    return st.builds(
        Account,
        id=_ID.map(lambda x: f"A-{x}"),
        name=_WORD,
        domain=st.none() | _WORD.map(lambda w: f"{w.lower()}.example"),
        industry=st.none() | st.sampled_from(["software", "retail", "finance", "education"]),
        annual_revenue=st.none() | st.floats(min_value=0, max_value=1e11, allow_nan=False),
        employees=st.none() | st.integers(min_value=0, max_value=500_000),
        country=st.none() | _COUNTRIES,
    )


def activities(
    *,
    lead_id: str | None = None,
    kinds: Sequence[str] = tuple(sorted(STANDARD_ACTIVITY_KINDS)),
    at: st.SearchStrategy[datetime] | None = None,
) -> st.SearchStrategy[Activity]:
    """Marketing activities of one of *kinds*, for *lead_id* (drawn when ``None``)."""
    return st.builds(
        Activity,
        id=_ID.map(lambda x: f"A-{x}"),
        lead_id=st.just(lead_id) if lead_id is not None else _ID.map(lambda x: f"L-{x}"),
        kind=st.sampled_from(tuple(kinds)),
        occurred_at=at if at is not None else instants(),
        channel=st.none() | st.sampled_from(["email", "web", "event", "paid"]),
    )


def touches(
    *,
    lead_id: str | None = None,
    by: Sequence[str] = ("u-ana", "u-bob", "u-cy"),
    at: st.SearchStrategy[datetime] | None = None,
) -> st.SearchStrategy[Touch]:
    """Sales touches of any kind and outcome, by one of *by*, for *lead_id* (drawn if ``None``)."""
    return st.builds(
        Touch,
        id=_ID.map(lambda x: f"T-{x}"),
        lead_id=st.just(lead_id) if lead_id is not None else _ID.map(lambda x: f"L-{x}"),
        kind=st.sampled_from(tuple(TouchKind)),
        at=at if at is not None else instants(),
        by=st.sampled_from(tuple(by)),
        outcome=st.sampled_from(tuple(TouchOutcome)),
    )


# -- SLA policies -------------------------------------------------------------------------------


@st.composite
def _steps(draw: st.DrawFn, index: int, floor: int) -> Step:
    if draw(st.booleans()):
        window: dict[str, Any] = {
            "within": timedelta(minutes=draw(st.integers(min_value=15, max_value=80 * 60)))
        }
    else:
        window = {"within_days": draw(st.integers(min_value=1, max_value=10))}
    escalate = draw(
        st.none()
        | st.sampled_from(["owner", "manager"])
        | st.sampled_from(["queue:sdr", "queue:inside-sales"])
    )
    return Step(
        name=f"step_{index}",
        count=draw(st.integers(min_value=floor, max_value=floor + 1)),
        # Half the steps accept any kind / any outcome, as most real policies do.
        kinds=draw(st.just(frozenset()) | st.sets(st.sampled_from(tuple(TouchKind)), min_size=1)),
        outcomes=draw(
            st.just(frozenset()) | st.sets(st.sampled_from(tuple(TouchOutcome)), min_size=1)
        ),
        by=draw(st.sampled_from(tuple(Performer))),
        warn=timedelta(minutes=draw(st.integers(min_value=0, max_value=8 * 60))),
        escalate=escalate,
        **window,
    )


@st.composite
def _policies(draw: st.DrawFn, triggers: Sequence[Trigger], max_steps: int) -> SLAPolicy:
    steps: list[Step] = []
    floor = 1
    for index in range(draw(st.integers(min_value=1, max_value=max_steps))):
        step = draw(_steps(index, floor))
        steps.append(step)
        floor = step.count
    final = draw(
        st.none()
        | st.builds(
            FinalAction,
            action=st.sampled_from(tuple(Disposition)),
            reason=st.sampled_from(["not_ready_to_buy", "no_response"]),
            unless_connected=st.booleans(),
        )
    )
    return SLAPolicy(
        name=draw(st.sampled_from(["inbound", "handoff", "quote", "demo", "recycle_watch"]))
        + f"_{draw(st.integers(0, 99))}",
        trigger=draw(st.sampled_from(tuple(triggers))),
        steps=steps,
        final=final,
        priority=draw(st.integers(min_value=-3, max_value=3)),
        description=draw(st.none() | st.text(min_size=1, max_size=40).filter(str.strip)),
    )


#: Triggers :func:`sla_policies` draws from by default; they match what :func:`lead_histories`
#: produces (hand-offs, MQL and SAL entries, demo and quote requests).
DEFAULT_TRIGGERS: tuple[Trigger, ...] = (
    Trigger(kind=TriggerKind.HANDOFF),
    Trigger(kind=TriggerKind.STAGE_ENTERED, stage="mql"),
    Trigger(kind=TriggerKind.STAGE_ENTERED, stage="sal"),
    Trigger(kind=TriggerKind.ACTIVITY, activity="quote_request"),
    Trigger(kind=TriggerKind.ACTIVITY, activity="demo_request"),
)


def sla_policies(
    *, triggers: Sequence[Trigger] = DEFAULT_TRIGGERS, max_steps: int = 3
) -> st.SearchStrategy[SLAPolicy]:
    """SLA policies with 1..*max_steps* steps (counts never decrease from step to step),
    windows in business minutes or days, warning windows, escalations and an optional final
    action, started by one of *triggers*."""
    return _policies(tuple(triggers), max_steps)


# -- lead histories -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class LeadHistory:
    """A lead with everything that happened to it, and an instant ``now`` to judge it at.

    ``touches`` and ``activities`` are sorted by time; some may fall after ``now`` (evaluation
    must ignore them), and the lead's stage history follows :data:`~leadflow.lifecycle.WATERFALL`.
    """

    lead: Lead
    touches: tuple[Touch, ...]
    activities: tuple[Activity, ...]
    now: datetime


_PATHS: tuple[tuple[str, ...], ...] = (
    (),
    ("mql",),
    ("mql", "sal"),
    ("mql", "sal"),
    ("mql", "sal"),
    ("mql", "sal", "sql"),
    ("mql", "sal", "recycled"),
    ("mql", "sal", "disqualified"),
    ("mql", "recycled", "mql", "sal"),
    ("mql", "sal", "sql", "opportunity", "won"),
)


def _after(start: datetime, elapsed: timedelta) -> datetime:
    """The instant *elapsed* after *start* (real time, not wall-clock arithmetic: adding to an
    aware datetime moves its wall clock, so across a DST gap a later offset could land on an
    earlier instant), in *start*'s zone."""
    return (start.astimezone(UTC) + elapsed).astimezone(start.tzinfo)


@st.composite
def _lead_histories(
    draw: st.DrawFn,
    *,
    owners: tuple[str, ...],
    max_touches: int,
    span: timedelta,
    zones: tuple[str, ...],
    reassign_owner: bool,
) -> LeadHistory:
    # The anchor is the hand-off when there is one (else the creation): instants() puts a third
    # of them within two days of a clock change, so hand-offs land where SLA maths breaks.
    anchor = draw(instants(max_value=datetime(2028, 6, 30), zones=zones))  # noqa: DTZ001
    lead_id = f"L-{draw(_ID)}"
    owner = None if draw(st.integers(0, 9)) == 0 else draw(st.sampled_from(owners))
    span_minutes = int(span / timedelta(minutes=1))

    def offset() -> timedelta:
        return timedelta(minutes=draw(st.integers(min_value=0, max_value=span_minutes)))

    path = draw(st.sampled_from(_PATHS))
    moments = sorted(offset() for _ in path)
    handoff: timedelta | None = next(
        (m for stage, m in zip(path, moments, strict=True) if stage == "sal"), None
    )
    if handoff is None and draw(st.integers(0, 3)) == 0:
        handoff = offset()
    created = _after(anchor, -handoff) if handoff is not None else anchor
    lead = Lead(
        id=lead_id,
        created_at=created,
        owner_id=owner,
        source=draw(st.none() | _SOURCES),
        country=draw(st.none() | _COUNTRIES),
        properties={"team": draw(st.sampled_from(["east", "west", "apac"]))},
    )
    for stage, moment in zip(path, moments, strict=True):
        lead = transition(lead, stage, at=_after(created, moment), by=owner)
    lead = attrs.evolve(
        lead, handed_off_at=_after(created, handoff) if handoff is not None else None
    )
    if reassign_owner and owner is not None and draw(st.integers(0, 3)) == 0:
        # Owners change: a quarter of the owned leads are reassigned once along the way.
        lead = reassign(
            lead, draw(st.sampled_from(owners)), at=_after(created, offset()), by="u-manager"
        )
    people = (*owners, "u-sdr")
    made = [
        draw(touches(lead_id=lead_id, by=people, at=st.just(_after(created, offset()))))
        for _ in range(draw(st.integers(min_value=0, max_value=max_touches)))
    ]
    made = [attrs.evolve(t, id=f"T-{i}") for i, t in enumerate(made)]
    acts = [
        draw(
            activities(
                lead_id=lead_id,
                kinds=("quote_request", "demo_request", "web_visit", "case_study_download"),
                at=st.just(_after(created, offset())),
            )
        )
        for _ in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    acts = [attrs.evolve(a, id=f"A-{i}") for i, a in enumerate(acts)]
    now = _after(created, offset() + timedelta(days=draw(st.integers(min_value=0, max_value=20))))
    return LeadHistory(
        lead=lead,
        touches=tuple(sorted(made, key=lambda t: t.at.astimezone(UTC))),
        activities=tuple(sorted(acts, key=lambda a: a.occurred_at.astimezone(UTC))),
        now=now,
    )


def lead_histories(
    *,
    owners: Sequence[str] = ("u-ana", "u-bob", "u-cy"),
    max_touches: int = 8,
    span: timedelta = timedelta(days=21),
    zones: Sequence[str] = INTERESTING_ZONES,
    reassign_owner: bool = False,
) -> st.SearchStrategy[LeadHistory]:
    """Whole lead histories: a lead moved along a lifecycle path (handed off on entering SAL,
    sometimes handed off without it, sometimes never), up to *max_touches* touches by its owner
    or others, a few activities (quote and demo requests among them), all within *span* of its
    creation, and an instant ``now`` to evaluate at.

    The hand-off is drawn by :func:`instants` in one of *zones*, so a third of hand-offs fall
    within two days of a daylight-saving change. With *reassign_owner*, a quarter of the owned
    leads change owner once (``Lead.owner_history``)."""
    return _lead_histories(
        owners=tuple(owners),
        max_touches=max_touches,
        span=span,
        zones=tuple(zones),
        reassign_owner=reassign_owner,
    )


@attrs.frozen(kw_only=True)
class SLAScenario:
    """A lead history and the business calendar to judge it with, drawn together so the hard
    cases meet: the hand-off near a clock change *of the calendar's zone*, holidays on the
    lead's own dates."""

    history: LeadHistory
    calendar: BusinessCalendar


@st.composite
def _sla_scenarios(draw: st.DrawFn, max_touches: int, reassign_owner: bool) -> SLAScenario:
    calendar = draw(calendars(max_holiday_runs=2))
    history = draw(
        lead_histories(
            max_touches=max_touches, zones=(calendar.zone,), reassign_owner=reassign_owner
        )
    )
    lead = history.lead
    anchor = lead.handed_off_at or lead.created_at
    if draw(st.booleans()):
        # A holiday on the lead's own dates: the hand-off's day or one of the next few.
        first = anchor.astimezone(calendar.tzinfo).date()
        days = [
            first + timedelta(days=draw(st.integers(0, 6))) for _ in range(draw(st.integers(1, 3)))
        ]
        calendar = calendar.with_holidays(days)
    return SLAScenario(history=history, calendar=calendar)


def sla_scenarios(
    *, max_touches: int = 8, reassign_owner: bool = True
) -> st.SearchStrategy[SLAScenario]:
    """A lead history with the calendar to judge it by (:class:`SLAScenario`), coupled so that
    most cases are hard: the history's instants are in the calendar's zone, a third of the
    hand-offs fall within two days of its clock changes, half the calendars get holidays on the
    lead's own dates, and a quarter of the owned leads are reassigned once."""
    return _sla_scenarios(max_touches, reassign_owner)
