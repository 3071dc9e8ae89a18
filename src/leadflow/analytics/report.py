"""The monthly feedback report: every table of :mod:`leadflow.analytics` in one value.

Scope: :func:`build_report` runs each report over the same data and returns a
:class:`FeedbackReport` — plain rows, nothing rendered. :func:`leadflow.analytics.html.render_html`
draws the HTML page from that value alone, so every number on the page is a field of a row here,
and :meth:`FeedbackReport.tables` hands the same rows to :mod:`leadflow.analytics.export`.

Time is an argument: *now* is the instant the report describes (stuck leads are measured to it).
A report as of a past instant reads the data as it stood then: leads created later, stage and
owner changes, touches, rejections and outcomes recorded later do not count
(:func:`leadflow.lifecycle.as_of`).

>>> from datetime import datetime, timezone
>>> from leadflow.model import Lead
>>> now = datetime(2026, 3, 31, tzinfo=timezone.utc)
>>> report = build_report(leads=[Lead(id="L-1", created_at=now)], now=now)
>>> sorted(report.tables())[:4]
['closed_loop', 'closed_loop_by_source', 'closed_loop_headline', 'cohorts']
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import attrs

from leadflow._validate import check_aware
from leadflow._validate import utc as _utc
from leadflow.analytics._common import Period, Row
from leadflow.analytics.closed_loop import (
    ClosedLoopHeadline,
    ClosedLoopRow,
    closed_loop,
    closed_loop_headline,
)
from leadflow.analytics.funnel import (
    FUNNEL_PATH,
    CohortRow,
    ConversionRow,
    StageEntries,
    StageTime,
    StuckLead,
    cohorts,
    stage_conversion,
    stage_entries,
    stuck_leads,
    time_in_stage_stats,
)
from leadflow.analytics.meeting import (
    PipelineRow,
    ReengageDue,
    RejectionRate,
    TrendRow,
    pipeline,
    reengage_due,
    rejection_rates,
    trends,
)
from leadflow.analytics.rejections import (
    OtherShare,
    RejectionCount,
    TopReason,
    other_share,
    rejection_counts,
    rejections_from_leads,
    top_reasons_by_source,
)
from leadflow.analytics.response import (
    CONVERTED_STAGES,
    DecayPoint,
    DelayBucket,
    FirstResponse,
    HalfLife,
    HalfLifeComparison,
    clock_of,
    compare_half_lives,
    conversion_by_delay,
    decay_curve,
    estimate_half_life,
    first_responses,
)
from leadflow.analytics.sla_report import (
    OpenStep,
    SLAAdherence,
    SLAResultLike,
    open_steps,
    sla_adherence,
)
from leadflow.analytics.validity import (
    SCORE_BANDS,
    PointSuggestion,
    ScoreBand,
    SegmentValidity,
    check_segment,
    conversion_by_score_band,
    segment_value,
    suggest_points,
    validity_by_segment,
)
from leadflow.errors import InsufficientDataError, ValidationError
from leadflow.lifecycle import WATERFALL, Lifecycle, as_of
from leadflow.model import Account, Lead, Touch
from leadflow.outcomes import Outcome
from leadflow.reasons import STANDARD_REASONS, ReasonCatalog, Rejection

__all__ = ["FeedbackReport", "build_report"]

#: Finer delay buckets for the observed points of the decay chart (hours).
_DECAY_EDGES = (0.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 36.0, 48.0, 72.0, 96.0)


@attrs.frozen(kw_only=True)
class FeedbackReport:
    """Every table of the feedback report. Optional parts are empty when their inputs are missing.

    ``half_life`` is ``None`` when it cannot be estimated; ``notes`` then says why.
    """

    title: str
    now: datetime
    period: str
    leads: int
    rejections_total: int
    rejections: tuple[RejectionCount, ...]
    rejections_by_campaign: tuple[RejectionCount, ...]
    rejections_by_owner: tuple[RejectionCount, ...]
    rejections_by_period: tuple[RejectionCount, ...]
    top_reasons: tuple[TopReason, ...]
    other_share: tuple[OtherShare, ...]
    stage_entries: tuple[StageEntries, ...]
    conversion: tuple[ConversionRow, ...]
    time_in_stage: tuple[StageTime, ...]
    stuck: tuple[StuckLead, ...]
    stuck_after_hours: float
    cohorts: tuple[CohortRow, ...]
    closed_loop: tuple[ClosedLoopRow, ...]
    delay_buckets: tuple[DelayBucket, ...]
    decay_observed: tuple[DelayBucket, ...]
    half_life: HalfLife | None
    decay_curve: tuple[DecayPoint, ...]
    #: The half-life adjusted for the report's ``half_life_strata`` (a shared decay, a baseline
    #: per stratum), beside the crude one; ``None`` without strata or data.
    half_life_adjusted: HalfLife | None = None
    half_life_comparison: HalfLifeComparison | None = None
    #: SLA steps someone can still act on (breached, at risk, pending), most urgent first: the
    #: per-owner digests of ``leadflow report --send`` are cut from it.
    sla_open: tuple[OpenStep, ...] = ()
    #: The monthly meeting: rejection rate (rejections ÷ hand-offs) beside SLA adherence per
    #: source and per rep, trends per period, pipeline and revenue by source and campaign, and
    #: the recycled leads due to re-engage now.
    rejection_rate_by_source: tuple[RejectionRate, ...] = ()
    rejection_rate_by_owner: tuple[RejectionRate, ...] = ()
    trends: tuple[TrendRow, ...] = ()
    pipeline_by_source: tuple[PipelineRow, ...] = ()
    pipeline_by_campaign: tuple[PipelineRow, ...] = ()
    reengage_due: tuple[ReengageDue, ...] = ()
    #: Score validity per segment (pooled row first), for each of ``validity_segments``.
    validity_by_segment: tuple[SegmentValidity, ...] = ()
    #: Fates of rejected leads per source (all reject codes together).
    closed_loop_by_source: tuple[ClosedLoopRow, ...] = ()
    #: The closed loop in one number (``None`` when nothing was rejected).
    closed_loop_headline: ClosedLoopHeadline | None = None
    score_bands: tuple[ScoreBand, ...] = ()
    point_suggestions: tuple[PointSuggestion, ...] = ()
    sla_by_step: tuple[SLAAdherence, ...] = ()
    sla_by_period: tuple[SLAAdherence, ...] = ()
    sla_by_owner: tuple[SLAAdherence, ...] = ()
    sla_by_team: tuple[SLAAdherence, ...] = ()
    sla_by_source: tuple[SLAAdherence, ...] = ()
    notes: tuple[str, ...] = ()

    def tables(self) -> dict[str, list[Row]]:
        """Every table by name (for CSV/JSON export); ``half_life`` is a one-row table."""
        out: dict[str, list[Row]] = {}
        for field in attrs.fields(FeedbackReport):
            value = getattr(self, field.name)
            if isinstance(value, tuple) and field.name != "notes":
                out[field.name] = list(value)
        out["half_life"] = [self.half_life] if self.half_life is not None else []
        out["half_life_adjusted"] = (
            [self.half_life_adjusted] if self.half_life_adjusted is not None else []
        )
        out["closed_loop_headline"] = (
            [self.closed_loop_headline] if self.closed_loop_headline is not None else []
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        """The whole report as JSON-ready plain data."""
        data: dict[str, Any] = {
            "title": self.title,
            "now": self.now.isoformat(),
            "period": self.period,
            "leads": self.leads,
            "rejections_total": self.rejections_total,
            "stuck_after_hours": self.stuck_after_hours,
            "notes": list(self.notes),
        }
        for name, rows in self.tables().items():
            data[name] = [r.to_dict() for r in rows]
        # one document, not a one-row table (tables() has it as one for CSV)
        data["closed_loop_headline"] = (
            self.closed_loop_headline.to_dict() if self.closed_loop_headline is not None else None
        )
        data["half_life_comparison"] = (
            self.half_life_comparison.to_dict() if self.half_life_comparison is not None else None
        )
        return data


def build_report(
    *,
    leads: Iterable[Lead],
    now: datetime,
    touches: Iterable[Touch] = (),
    outcomes: Iterable[Outcome] = (),
    rejections: Iterable[Rejection] | None = None,
    scores: Mapping[str, float] | None = None,
    rule_hits: Mapping[str, Collection[str]] | None = None,
    points: Mapping[str, float] | None = None,
    sla_results: Iterable[SLAResultLike] = (),
    title: str = "Sales & marketing feedback report",
    period: Period | str = Period.MONTH,
    tz: tzinfo = UTC,
    stuck_after: timedelta = timedelta(days=3),
    path: Sequence[str] = FUNNEL_PATH,
    converted_stages: Sequence[str] = CONVERTED_STAGES,
    elapsed: Callable[[datetime, datetime], float] | None = None,
    catalog: ReasonCatalog = STANDARD_REASONS,
    lifecycle: Lifecycle = WATERFALL,
    half_life_strata: Sequence[str] = (),
    closed_loop_months: int = 12,
    rejected_between: tuple[datetime, datetime] | None = None,
    validity_segments: Sequence[str] = (),
    accounts: Mapping[str, Account] | None = None,
) -> FeedbackReport:
    """Run every report over the data and collect the rows.

    *rejections* default to those recorded in the leads' histories
    (:func:`~leadflow.analytics.rejections.rejections_from_leads`). Score validity needs *scores*
    (and, for point suggestions, *rule_hits* and *points*); the SLA tables need *sla_results*.

    *half_life_strata* names the dimensions the half-life is adjusted for — lead fields
    (``"source"``, ``"industry"``, ...) or ``"score_band"`` (the score bands of *scores*). With
    them the report holds the crude and the adjusted half-life side by side, and a note when they
    disagree beyond their intervals. The closed loop counts what happened within
    *closed_loop_months* of each rejection; its headline covers the rejections made in
    *rejected_between* (``(start, end)``; default: all). With *scores*, *validity_segments*
    (lead fields, ``properties.<key>``, ``account.<field>`` with *accounts*) adds score validity
    per segment, and a note for each segment whose pattern differs from the pooled one. Every
    half-life carries its clock: wall-clock hours, or the
    label of *elapsed* (``business hours (<calendar>)`` for
    :func:`~leadflow.analytics.response.business_hours`).
    """
    check_aware("now", now)
    # As of *now*: what was recorded later does not count (a report for a past instant).
    lead_list = [lead for lead in (as_of(lead, now) for lead in leads) if lead is not None]
    index = {lead.id: lead for lead in lead_list}
    instant = _utc(now)
    touches = [touch for touch in touches if _utc(touch.at) <= instant]
    outcome_list = [outcome for outcome in outcomes if _utc(outcome.at) <= instant]
    rejection_list = (
        [rejection for rejection in rejections if _utc(rejection.at) <= instant]
        if rejections is not None
        else rejections_from_leads(lead_list, catalog=catalog)
    )
    notes: list[str] = []
    responses = first_responses(
        lead_list, touches, converted_stages=converted_stages, elapsed=elapsed
    )
    clock = clock_of(elapsed)
    half_life: HalfLife | None
    try:
        half_life = estimate_half_life(responses, clock=clock)
    except InsufficientDataError as exc:
        half_life = None
        notes.append(_why_no_half_life(exc, responses))
    adjusted: HalfLife | None = None
    comparison: HalfLifeComparison | None = None
    if half_life_strata and half_life is not None:
        strata = _strata(lead_list, half_life_strata, scores)
        try:
            adjusted = estimate_half_life(
                responses, clock=clock, strata=strata, adjusted_for=half_life_strata
            )
        except InsufficientDataError as exc:
            notes.append(f"adjusted {exc}")
        else:
            comparison = compare_half_lives(half_life, adjusted)
            if comparison.warning:
                notes.append(comparison.warning)
    answered = [r.delay_hours for r in responses if r.delay_hours is not None]
    horizon = max(_DECAY_EDGES[-1], min(max(answered, default=0.0), 168.0))
    curve = decay_curve(half_life, max_hours=horizon) if half_life is not None else []
    sla_list = list(sla_results)
    grain = Period(period)
    by_segment: list[SegmentValidity] = []
    if scores:
        for segment in validity_segments:
            rows = validity_by_segment(lead_list, scores, segment, accounts=accounts)
            by_segment.extend(rows)
            notes.extend(f"score validity: {r.warning}" for r in rows if r.warning)
    return FeedbackReport(
        title=title,
        now=now,
        period=grain.value,
        leads=len(lead_list),
        rejections_total=len(rejection_list),
        rejections=tuple(rejection_counts(rejection_list, index, by=("source", "code"))),
        rejections_by_campaign=tuple(
            rejection_counts(rejection_list, index, by=("campaign", "code"))
        ),
        rejections_by_owner=tuple(rejection_counts(rejection_list, index, by=("owner",))),
        rejections_by_period=tuple(
            rejection_counts(rejection_list, index, by=("period",), period=grain, tz=tz)
        ),
        top_reasons=tuple(top_reasons_by_source(rejection_list, index, catalog=catalog)),
        other_share=tuple(other_share(rejection_list, index)),
        stage_entries=tuple(stage_entries(lead_list, period=grain, tz=tz, lifecycle=lifecycle)),
        conversion=tuple(stage_conversion(lead_list, path=path)),
        time_in_stage=tuple(time_in_stage_stats(lead_list, lifecycle=lifecycle)),
        stuck=tuple(stuck_leads(lead_list, now=now, threshold=stuck_after, lifecycle=lifecycle)),
        stuck_after_hours=stuck_after / timedelta(hours=1),
        cohorts=tuple(cohorts(lead_list, path=path, period=grain, tz=tz)),
        closed_loop=tuple(
            closed_loop(
                rejection_list,
                index,
                outcome_list,
                lifecycle=lifecycle,
                window_months=closed_loop_months,
            )
        ),
        validity_by_segment=tuple(by_segment),
        rejection_rate_by_source=tuple(
            rejection_rates(lead_list, rejection_list, sla_list, by="source")
        ),
        rejection_rate_by_owner=tuple(
            rejection_rates(lead_list, rejection_list, sla_list, by="owner")
        ),
        trends=tuple(trends(lead_list, rejection_list, sla_list, period=grain, tz=tz)),
        pipeline_by_source=tuple(pipeline(lead_list, outcome_list, by="source")),
        pipeline_by_campaign=tuple(pipeline(lead_list, outcome_list, by="campaign")),
        reengage_due=tuple(reengage_due(index, rejection_list, now=now, lifecycle=lifecycle)),
        sla_open=tuple(open_steps(sla_list)),
        closed_loop_by_source=tuple(
            closed_loop(
                rejection_list,
                index,
                outcome_list,
                by=("source",),
                lifecycle=lifecycle,
                window_months=closed_loop_months,
            )
        ),
        closed_loop_headline=(
            closed_loop_headline(
                rejection_list,
                index,
                outcome_list,
                window_months=closed_loop_months,
                period=rejected_between,
                now=now,
                lifecycle=lifecycle,
            )
            if rejection_list
            else None
        ),
        delay_buckets=tuple(conversion_by_delay(responses)),
        decay_observed=tuple(conversion_by_delay(responses, edges=_DECAY_EDGES)),
        half_life=half_life,
        decay_curve=tuple(curve),
        half_life_adjusted=adjusted,
        half_life_comparison=comparison,
        score_bands=tuple(
            conversion_by_score_band(lead_list, scores, converted_stages=converted_stages)
            if scores
            else ()
        ),
        point_suggestions=tuple(
            suggest_points(scores, rule_hits, points, outcome_list)
            if scores and rule_hits is not None and points
            else ()
        ),
        sla_by_step=tuple(sla_adherence(sla_list, by="step")),
        sla_by_period=tuple(sla_adherence(sla_list, by="period", period=grain, tz=tz)),
        sla_by_owner=tuple(sla_adherence(sla_list, by="owner")),
        sla_by_team=tuple(sla_adherence(sla_list, by="team")),
        sla_by_source=tuple(sla_adherence(sla_list, by="source")),
        notes=tuple(notes),
    )


def _strata(
    leads: Sequence[Lead], dims: Sequence[str], scores: Mapping[str, float] | None
) -> dict[str, str]:
    """Lead id → stratum label over *dims*: lead fields (read as
    :func:`~leadflow.analytics.validity.segment_value` reads a segment), or ``score_band`` from
    *scores*."""
    for dim in dims:
        if dim == "score_band":
            if not scores:
                raise ValidationError("half_life_strata", dim, "needs scores")
        elif dim.startswith("account."):
            raise ValidationError("half_life_strata", dim, "must be a lead field or 'score_band'")
        else:
            check_segment(dim)
    out = {}
    for lead in leads:
        parts = []
        for dim in dims:
            if dim == "score_band":
                score = (scores or {}).get(lead.id)
                band = max(
                    (low for low in SCORE_BANDS if score is not None and score >= low), default=None
                )
                parts.append("-" if band is None else f">={band:g}")
            else:
                parts.append(segment_value(lead, dim))
        out[lead.id] = " / ".join(parts)
    return out


def _why_no_half_life(exc: InsufficientDataError, responses: Sequence[FirstResponse]) -> str:
    """The note for a missing half-life, saying what is really missing: "no lead converted" was
    printed when converted leads merely had no touch after hand-off."""
    converted = [r for r in responses if r.converted]
    unanswered = [r for r in converted if r.delay_hours is None]
    if converted and len(unanswered) == len(converted):
        return (
            f"half-life: {len(converted)} handed-off leads converted, but none has a recorded "
            "touch after hand-off, so there is no response time to fit (import the touches)"
        )
    if not responses:
        return "half-life: no lead was handed off (no hand-off instant to measure from)"
    return str(exc)
