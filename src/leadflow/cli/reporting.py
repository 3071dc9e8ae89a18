"""Building and writing the feedback report from any adapter, for ``report`` and ``demo``.

Scope: the outer layer between :mod:`leadflow.analytics` and the command line. It reads every
lead and touch through the :class:`~leadflow.ports.Adapter` protocol; rejections and outcomes come
from the adapter's ``read_rejections`` / ``read_outcomes`` when it reads them (the SQLite store,
the Salesforce adapter), else rejections are recovered from the stage histories and outcomes are
left out. With SLA
policies it evaluates them (:func:`leadflow.rules.sla.evaluate_many`) for the adherence tables.
Then it writes the report as a self-contained HTML page, JSON, or a directory of CSV files.

Everything here takes ``now`` as an argument; which adapter and rules to read is decided by the
command (:mod:`leadflow.cli.report`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from leadflow._validate import utc
from leadflow.analytics import build_report, business_hours, render_html, write_csv
from leadflow.analytics.report import FeedbackReport
from leadflow.analytics.validity import scores_at_handoff
from leadflow.business_time import BusinessCalendar
from leadflow.errors import ValidationError
from leadflow.lifecycle import as_of
from leadflow.model import Account, Activity, Lead, Touch, by_lead
from leadflow.outcomes import Outcome
from leadflow.ports import Adapter, Entity, RecordError, read_pages, readable
from leadflow.reasons import Rejection
from leadflow.rules.scorecard import Scorecard
from leadflow.rules.sla import SLAPolicy, evaluate_many

__all__ = [
    "DEFAULT_REPORT",
    "FORMATS",
    "report_from_adapter",
    "write_demo_report",
    "write_report",
]


#: Where ``leadflow report`` (and ``leadflow demo``) write the HTML page by default.
DEFAULT_REPORT = "leadflow-report.html"


#: What ``--format`` accepts: one HTML file, one JSON file, or a directory of CSV files.
FORMATS = ("html", "json", "csv")


def _all(pages: Iterable[Any], problems: list[RecordError] | None = None) -> list[Any]:
    """The items of *pages*; the records they could not read are added to *problems*."""
    items: list[Any] = []
    for page in pages:
        items += [versioned.item for versioned in page.items]
        if problems is not None:
            problems += page.errors
    return items


#: How many of the records a report left out its note names, per entity.
_SHOWN_PROBLEMS = 5


def _left_out(name: str, problems: Sequence[RecordError]) -> list[str]:
    """One note per entity whose records the adapter read but could not map (an unmapped
    picklist value, a missing field history...): the report's numbers leave out what could
    not be mapped, and the report itself says so, not only a log line."""
    by_entity: dict[Entity, list[RecordError]] = {}
    for problem in dict.fromkeys(problems):  # a table read twice reports its problems once
        by_entity.setdefault(problem.entity, []).append(problem)
    notes = []
    for entity, found in by_entity.items():
        shown = "; ".join(f"{p.record_id}: {p.error}" for p in found[:_SHOWN_PROBLEMS])
        if len(found) > _SHOWN_PROBLEMS:
            shown += f"; and {len(found) - _SHOWN_PROBLEMS} more"
        noun = entity.value if len(found) == 1 else f"{entity.value}s"
        notes.append(
            f"left out where they could not be mapped: {len(found)} {noun} read from "
            f"{name} ({shown})"
        )
    return notes


def report_from_adapter(
    adapter: Adapter,
    *,
    now: datetime,
    policies: Sequence[SLAPolicy] = (),
    calendar: BusinessCalendar | None = None,
    use_business_hours: bool = False,
    scorecard: Scorecard | None = None,
    title: str = "Sales & marketing feedback report",
    **options: Any,
) -> FeedbackReport:
    """Read everything the report needs from *adapter* and build it as of *now*.

    *options* go to :func:`~leadflow.analytics.build_report` as they are
    (``half_life_strata``, ``closed_loop_months``, ``rejected_between``, ``validity_segments``);
    accounts read from the adapter are passed along for ``account.<field>`` segments.

    *calendar* (default: weekdays 09:00-17:00 UTC) is used for SLA evaluation and, with
    *use_business_hours*, for first-response delays. With *scorecard*, leads are scored as of
    their hand-off (from the adapter's activities and accounts) for the score-validity tables.
    """
    can_read = adapter.capabilities.can_read
    problems: list[RecordError] = []
    # As of *now*: leads as they stood then, touches made by then (build_report does the same
    # to rejections and outcomes), so a report for a past instant is not changed by later rows.
    leads: list[Lead] = [
        lead
        for lead in (as_of(lead, now) for lead in _all(read_pages(adapter, Entity.LEAD), problems))
        if lead is not None
    ]
    touches: list[Touch] = [
        touch
        for touch in (
            _all(read_pages(adapter, Entity.TOUCH), problems) if can_read(Entity.TOUCH) else []
        )
        if utc(touch.at) <= utc(now)  # instants: wall clocks in one zone ignore fold
    ]
    # What sales decided and what became of the leads, when the adapter reads them (the store,
    # a CRM); else rejections are recovered from the stage histories and outcomes left out.
    rejections: list[Rejection] | None = (
        _all(read_pages(adapter, Entity.REJECTION), problems)
        if readable(adapter, Entity.REJECTION)
        else None
    )
    outcomes: list[Outcome] = (
        _all(read_pages(adapter, Entity.OUTCOME), problems)
        if readable(adapter, Entity.OUTCOME)
        else []
    )
    cal = (
        calendar if calendar is not None else BusinessCalendar.weekdays("UTC", name="weekdays-utc")
    )
    sla_results = []
    if policies:
        mine = by_lead(touches)
        evaluations = evaluate_many(
            [(lead, mine.get(lead.id, [])) for lead in leads],
            as_of=now,
            policies=policies,
            calendar=cal,
        )
        sla_results = [result for ev in evaluations for result in ev.results()]
    scored = None
    if scorecard is not None:
        activities: list[Activity] = (
            _all(read_pages(adapter, Entity.ACTIVITY), problems)
            if can_read(Entity.ACTIVITY)
            else []
        )
        accounts: list[Account] = (
            _all(read_pages(adapter, Entity.ACCOUNT), problems) if can_read(Entity.ACCOUNT) else []
        )
        scored = scores_at_handoff(
            scorecard, leads, activities, accounts={a.id: a for a in accounts}
        )
    if options.get("validity_segments") and "accounts" not in options:
        options["accounts"] = (
            {a.id: a for a in _all(read_pages(adapter, Entity.ACCOUNT))}
            if can_read(Entity.ACCOUNT)
            else {}
        )
    built = build_report(
        **options,
        leads=leads,
        scores=scored.scores if scored else None,
        rule_hits=scored.rule_hits if scored else None,
        points=scored.points if scored else None,
        touches=touches,
        outcomes=outcomes,
        rejections=rejections or None,
        sla_results=sla_results,
        now=now,
        title=title,
        elapsed=business_hours(cal) if use_business_hours else None,
    )
    left_out = _left_out(adapter.name, problems)
    return attrs.evolve(built, notes=(*built.notes, *left_out)) if left_out else built


def write_report(report: FeedbackReport, out: str | Path, *, fmt: str = "html") -> list[Path]:
    """Write *report* to *out* as ``html`` or ``json`` (a file) or ``csv`` (a directory, one
    file per table); returns the files written."""
    target = Path(out)
    if fmt == "html":
        target.write_text(render_html(report), encoding="utf-8")
        return [target]
    if fmt == "json":
        target.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        return [target]
    if fmt == "csv":
        target.mkdir(parents=True, exist_ok=True)
        return [write_csv(rows, target / f"{name}.csv") for name, rows in report.tables().items()]
    raise ValidationError("format", fmt, f"is not one of {', '.join(FORMATS)}")


def write_demo_report(store: Path, out: Path, *, now: datetime) -> Path:
    """The report ``leadflow demo`` ends with: the demo store with the demo's SLA, calendar and
    scorecard, as of the demo's *now*, as HTML at *out*."""
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.demo import demo_calendar, demo_policies, demo_scorecard

    with SQLiteAdapter(store) as adapter:
        built = report_from_adapter(
            adapter,
            now=now,
            policies=demo_policies(),
            calendar=demo_calendar(),
            scorecard=demo_scorecard(),
            title="leadflow demo: sales & marketing feedback report",
        )
    (path,) = write_report(built, out, fmt="html")
    return path
