"""Volumes and the funnel: stage entries per period, conversion, time in stage, stuck leads, cohorts.

Scope: what the stage histories say about flow through the lifecycle. Every figure is derived from
``Lead.created_at`` and ``Lead.history`` through :func:`leadflow.lifecycle.stage_spans`.

Definitions:

* a lead **enters** a stage when a history entry moves it there; it enters its first stage at
  ``created_at``;
* a lead **reached** a stage if it ever entered it;
* **conversion** from stage A to the next stage B of a path: leads that reached both, divided by
  leads that reached A;
* **time in stage**: the length of each *completed* span in the stage (a stage re-entered counts
  once per visit); open spans are still running and are reported by :func:`stuck_leads` instead;
* a lead is **stuck** when its current, non-terminal stage has lasted longer than the threshold
  at ``now``;
* a **cohort** is the set of leads handed off (``Lead.handed_off_at``) in one period.

>>> from datetime import datetime, timedelta, timezone
>>> from leadflow.lifecycle import transition
>>> from leadflow.model import Lead
>>> t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
>>> a = transition(Lead(id="A", created_at=t0), "mql", at=t0 + timedelta(hours=2))
>>> a = transition(a, "sal", at=t0 + timedelta(hours=6))
>>> b = transition(Lead(id="B", created_at=t0), "mql", at=t0 + timedelta(hours=4))
>>> [(r.from_stage, r.to_stage, r.reached_from, r.reached_to, r.rate)
...  for r in stage_conversion([a, b])][:2]
[('inquiry', 'mql', 2, 2, 1.0), ('mql', 'sal', 2, 1, 0.5)]
>>> [(r.stage, r.visits, r.median_hours) for r in time_in_stage_stats([a, b])]
[('inquiry', 2, 3.0), ('mql', 1, 4.0)]
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo

import attrs

from leadflow._validate import check_aware
from leadflow.analytics._common import Period, Row, label, period_labeller, quantile, ratio
from leadflow.errors import ValidationError
from leadflow.lifecycle import WATERFALL, Lifecycle, Stage, stage_spans
from leadflow.model import Lead

__all__ = [
    "FUNNEL_PATH",
    "CohortRow",
    "ConversionRow",
    "StageEntries",
    "StageTime",
    "StuckLead",
    "cohorts",
    "stage_conversion",
    "stage_entries",
    "stuck_leads",
    "time_in_stage_stats",
]

#: The main path of the :data:`~leadflow.lifecycle.WATERFALL`, top of the funnel first.
FUNNEL_PATH: tuple[str, ...] = tuple(
    s.value
    for s in (
        Stage.INQUIRY,
        Stage.MQL,
        Stage.SAL,
        Stage.SQL,
        Stage.OPPORTUNITY,
        Stage.WON,
    )
)

_HOUR = timedelta(hours=1)


@attrs.frozen(kw_only=True)
class StageEntries(Row):
    """How many times leads entered ``stage`` during ``period``."""

    stage: str
    period: str
    entries: int


@attrs.frozen(kw_only=True)
class ConversionRow(Row):
    """Conversion from one stage of the path to the next."""

    from_stage: str
    to_stage: str
    reached_from: int
    reached_to: int
    rate: float | None


@attrs.frozen(kw_only=True)
class StageTime(Row):
    """Time spent per completed visit of ``stage``, in hours (median and 90th percentile)."""

    stage: str
    visits: int
    median_hours: float | None
    p90_hours: float | None


@attrs.frozen(kw_only=True)
class StuckLead(Row):
    """A lead whose current stage has lasted longer than the threshold."""

    lead_id: str
    stage: str
    since: datetime
    hours: float
    threshold_hours: float
    owner: str
    source: str


@attrs.frozen(kw_only=True)
class CohortRow(Row):
    """Of the leads handed off in ``cohort``, how many reached ``stage`` (by any time)."""

    cohort: str
    stage: str
    handed_off: int
    reached: int
    share: float | None


def _entries(lead: Lead) -> list[tuple[str, datetime]]:
    return [(span.stage, span.start) for span in stage_spans(lead)]


def stage_entries(
    leads: Iterable[Lead],
    *,
    period: Period | str = Period.MONTH,
    tz: tzinfo = UTC,
    lifecycle: Lifecycle = WATERFALL,
) -> list[StageEntries]:
    """Entries into each stage per period, ordered by period, then by the lifecycle's stages."""
    counts: Counter[tuple[str, str]] = Counter()
    label_period = period_labeller(period, tz=tz)
    for lead in leads:
        for stage, at in _entries(lead):
            counts[(label_period(at), stage)] += 1
    order = {s: i for i, s in enumerate(lifecycle.stages)}
    keys = sorted(counts, key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
    return [StageEntries(stage=s, period=p, entries=counts[(p, s)]) for p, s in keys]


def stage_conversion(
    leads: Iterable[Lead], *, path: Sequence[str] = FUNNEL_PATH
) -> list[ConversionRow]:
    """Stage-to-stage conversion along *path* (default :data:`FUNNEL_PATH`)."""
    if len(path) < 2:
        raise ValidationError("path", path, "must name at least two stages")
    reached: Counter[tuple[str, str]] = Counter()
    single: Counter[str] = Counter()
    steps = list(itertools.pairwise(path))
    for lead in leads:
        seen = {stage for stage, _ in _entries(lead)}
        for stage in path:
            single[stage] += stage in seen
        for a, b in steps:
            reached[(a, b)] += a in seen and b in seen
    return [
        ConversionRow(
            from_stage=a,
            to_stage=b,
            reached_from=single[a],
            reached_to=reached[(a, b)],
            rate=ratio(reached[(a, b)], single[a]),
        )
        for a, b in steps
    ]


def time_in_stage_stats(
    leads: Iterable[Lead], *, lifecycle: Lifecycle = WATERFALL
) -> list[StageTime]:
    """Median and 90th-percentile hours per completed stage visit, in the lifecycle's order."""
    hours: defaultdict[str, list[float]] = defaultdict(list)
    for lead in leads:
        for span in stage_spans(lead):
            if span.end is not None:
                hours[span.stage].append(max(span.end - span.start, timedelta()) / _HOUR)
    order = {s: i for i, s in enumerate(lifecycle.stages)}
    return [
        StageTime(
            stage=stage,
            visits=len(values),
            median_hours=quantile(values, 0.5),
            p90_hours=quantile(values, 0.9),
        )
        for stage, values in sorted(hours.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
    ]


def stuck_leads(
    leads: Iterable[Lead],
    *,
    now: datetime,
    threshold: timedelta | Mapping[str, timedelta],
    lifecycle: Lifecycle = WATERFALL,
) -> list[StuckLead]:
    """Leads whose current non-terminal stage has lasted longer than *threshold* at *now*.

    *threshold* is one duration for every stage, or a mapping of stage to duration (stages not in
    it are not checked). The lifecycle's ``recycled`` stage is nurture, not a queue, and is never
    reported. Longest-waiting first.
    """
    check_aware("now", now)
    limits = threshold if isinstance(threshold, Mapping) else None
    rows = []
    for lead in leads:
        stage = lead.stage
        if stage == lifecycle.recycled or (
            stage in lifecycle.stages and lifecycle.is_terminal(stage)
        ):
            continue
        limit = limits.get(stage) if limits is not None else threshold
        if not isinstance(limit, timedelta):
            continue
        since = lead.history[-1].at if lead.history else lead.created_at
        if now - since > limit:
            rows.append(
                StuckLead(
                    lead_id=lead.id,
                    stage=stage,
                    since=since,
                    hours=round((now - since) / _HOUR, 3),
                    threshold_hours=round(limit / _HOUR, 3),
                    owner=label(lead.owner_id),
                    source=label(lead.source),
                )
            )
    rows.sort(key=lambda r: (-r.hours, r.lead_id))
    return rows


def cohorts(
    leads: Iterable[Lead],
    *,
    path: Sequence[str] = FUNNEL_PATH,
    period: Period | str = Period.MONTH,
    tz: tzinfo = UTC,
) -> list[CohortRow]:
    """For each hand-off period, how many of its leads reached each stage of *path*.

    Leads never handed off (``handed_off_at`` is ``None``) belong to no cohort.
    """
    size: Counter[str] = Counter()
    reached: Counter[tuple[str, str]] = Counter()
    label_period = period_labeller(period, tz=tz)
    for lead in leads:
        if lead.handed_off_at is None:
            continue
        cohort = label_period(lead.handed_off_at)
        size[cohort] += 1
        seen = {stage for stage, _ in _entries(lead)}
        for stage in path:
            reached[(cohort, stage)] += stage in seen
    return [
        CohortRow(
            cohort=cohort,
            stage=stage,
            handed_off=size[cohort],
            reached=reached[(cohort, stage)],
            share=ratio(reached[(cohort, stage)], size[cohort]),
        )
        for cohort in sorted(size)
        for stage in path
    ]
