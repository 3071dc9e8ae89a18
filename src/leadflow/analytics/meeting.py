"""The monthly meeting's tables: rejection *rates* beside SLA adherence, trends, pipeline and
revenue by source, and the nurtured leads due to re-engage now.

Scope: the questions the two teams bring to the table, each a plain list of rows.

* :func:`rejection_rates` — per source or per rep (``owner``): leads handed off, how many sales
  rejected, and the **rate** (rejected ÷ handed off; a count alone rewards the rep who got fewer
  leads), with the SLA adherence of the same group beside it so "the leads are rubbish" and "you
  never called them" are read together.
* :func:`trends` — per period: leads created, handed off, rejected, the rejection rate and the
  SLA adherence (the report draws them as charts).
* :func:`pipeline` — per source or campaign: leads, how many reached an opportunity, deals won and
  the revenue won (per currency), deals lost and lost to a competitor.
* :func:`reengage_due` — recycled leads whose rejection set a re-engagement date that has come:
  the nurture list marketing should work now.

>>> from datetime import datetime, timedelta, timezone
>>> from leadflow.lifecycle import transition
>>> from leadflow.model import Lead
>>> from leadflow.reasons import reject
>>> t0 = datetime(2026, 1, 5, 9, tzinfo=timezone.utc)
>>> lead = transition(Lead(id="L-1", created_at=t0, source="webinar"), "mql", at=t0)
>>> lead, r = reject(lead, "not_ready_to_buy", at=t0 + timedelta(days=1), by="u-ana")
>>> [(row.lead_id, row.code) for row in reengage_due([lead], [r], now=t0 + timedelta(days=200))]
[('L-1', 'not_ready_to_buy')]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal

import attrs

from leadflow.analytics._common import Period, Row, label, period_labeller, ratio, reached
from leadflow.analytics.sla_report import SLAResultLike
from leadflow.errors import ValidationError
from leadflow.lifecycle import WATERFALL, Lifecycle, Stage
from leadflow.model import Lead
from leadflow.outcomes import Outcome, OutcomeKind
from leadflow.reasons import Rejection

__all__ = [
    "PipelineRow",
    "RejectionRate",
    "ReengageDue",
    "TrendRow",
    "pipeline",
    "reengage_due",
    "rejection_rates",
    "trends",
]

_GROUPS = ("source", "owner", "campaign")


def _key(lead: Lead | None, by: str) -> str:
    if lead is None:
        return label(None)
    return label(getattr(lead, "owner_id" if by == "owner" else by))


def _check_by(by: str, allowed: Sequence[str]) -> None:
    if by not in allowed:
        raise ValidationError("by", by, f"is not one of {', '.join(allowed)}")


def _adherence(results: Iterable[SLAResultLike]) -> tuple[int, int]:
    met = breached = 0
    for r in results:
        met += r.state == "met"
        breached += r.state == "breached"
    return met, breached


@attrs.frozen(kw_only=True)
class RejectionRate(Row):
    """One source's or rep's hand-offs, rejections and rejection rate, with its SLA adherence."""

    by: str
    key: str
    handed_off: int
    rejected: int
    rate: float | None
    sla_met: int
    sla_breached: int
    sla_adherence: float | None


def rejection_rates(
    leads: Iterable[Lead],
    rejections: Iterable[Rejection],
    sla_results: Iterable[SLAResultLike] = (),
    *,
    by: str = "source",
) -> list[RejectionRate]:
    """Rejections ÷ leads handed off per ``source``, ``owner`` (the rep) or ``campaign``, most
    hand-offs first. A rejection counts for the group of its lead; adherence is met ÷ (met +
    breached) of the same group's SLA steps."""
    _check_by(by, _GROUPS)
    index = {lead.id: lead for lead in leads}
    handed: defaultdict[str, int] = defaultdict(int)
    for lead in index.values():
        if lead.handed_off_at is not None:
            handed[_key(lead, by)] += 1
    rejected: defaultdict[str, set[str]] = defaultdict(set)
    for r in rejections:
        rejected[_key(index.get(r.lead_id), by)].add(r.lead_id)
    sla: defaultdict[str, list[SLAResultLike]] = defaultdict(list)
    for result in sla_results:
        key = label(result.owner if by == "owner" else getattr(result, by, None))
        if by == "campaign":
            key = _key(index.get(result.lead_id), by)
        sla[key].append(result)
    rows = []
    for key in set(handed) | set(rejected):
        met, breached = _adherence(sla.get(key, ()))
        rows.append(
            RejectionRate(
                by=by,
                key=key,
                handed_off=handed[key],
                rejected=len(rejected[key]),
                rate=ratio(len(rejected[key]), handed[key]),
                sla_met=met,
                sla_breached=breached,
                sla_adherence=ratio(met, met + breached),
            )
        )
    rows.sort(key=lambda r: (-r.handed_off, -r.rejected, r.key))
    return rows


@attrs.frozen(kw_only=True)
class TrendRow(Row):
    """One period: leads created and handed off, rejections, their rate, SLA adherence."""

    period: str
    created: int
    handed_off: int
    rejected: int
    rejection_rate: float | None
    sla_met: int
    sla_breached: int
    sla_adherence: float | None


def trends(
    leads: Iterable[Lead],
    rejections: Iterable[Rejection],
    sla_results: Iterable[SLAResultLike] = (),
    *,
    period: Period | str = Period.MONTH,
    tz: tzinfo = UTC,
) -> list[TrendRow]:
    """Per period (in time order): rejections are counted in the period they were made and
    divided by the hand-offs of the same period; SLA steps in the period they were due."""
    key = period_labeller(period, tz=tz)
    created: defaultdict[str, int] = defaultdict(int)
    handed: defaultdict[str, int] = defaultdict(int)
    for lead in leads:
        created[key(lead.created_at)] += 1
        if lead.handed_off_at is not None:
            handed[key(lead.handed_off_at)] += 1
    rejected: defaultdict[str, int] = defaultdict(int)
    for r in rejections:
        rejected[key(r.at)] += 1
    sla: defaultdict[str, list[SLAResultLike]] = defaultdict(list)
    for result in sla_results:
        sla[key(result.due_at)].append(result)
    rows = []
    for p in sorted(set(created) | set(handed) | set(rejected) | set(sla)):
        met, breached = _adherence(sla.get(p, ()))
        rows.append(
            TrendRow(
                period=p,
                created=created[p],
                handed_off=handed[p],
                rejected=rejected[p],
                rejection_rate=ratio(rejected[p], handed[p]),
                sla_met=met,
                sla_breached=breached,
                sla_adherence=ratio(met, met + breached),
            )
        )
    return rows


@attrs.frozen(kw_only=True)
class PipelineRow(Row):
    """Pipeline and revenue of one source or campaign."""

    by: str
    key: str
    leads: int
    opportunities: int
    won: int
    revenue_won: str
    lost: int
    lost_to_competitor: int


def pipeline(
    leads: Iterable[Lead],
    outcomes: Iterable[Outcome],
    *,
    by: str = "source",
    opportunity_stages: Sequence[str] = (Stage.OPPORTUNITY, Stage.WON, Stage.LOST),
) -> list[PipelineRow]:
    """Per ``source`` or ``campaign``: leads, opportunities (reached an opportunity stage or has
    an outcome of ours), deals won with their revenue per currency, lost, lost to a competitor.
    Each lead's latest outcome decides (a won deal that was once ``evaluating`` counts once)."""
    _check_by(by, ("source", "campaign"))
    index = {lead.id: lead for lead in leads}
    latest: dict[str, Outcome] = {}
    for outcome in outcomes:
        if outcome.lead_id not in latest or outcome.at >= latest[outcome.lead_id].at:
            latest[outcome.lead_id] = outcome
    groups: defaultdict[str, list[Lead]] = defaultdict(list)
    for lead in index.values():
        groups[_key(lead, by)].append(lead)
    rows = []
    for key, members in groups.items():
        won = lost = competitor = opportunities = 0
        revenue: defaultdict[str, Decimal] = defaultdict(Decimal)
        for lead in members:
            o = latest.get(lead.id)
            if reached(lead, opportunity_stages) or (o is not None and o.kind.is_ours):
                opportunities += 1
            if o is None:
                continue
            if o.kind is OutcomeKind.WON:
                won += 1
                if o.amount is not None and o.currency is not None:
                    revenue[o.currency] += o.amount
            elif o.kind is OutcomeKind.LOST:
                lost += 1
            elif o.kind is OutcomeKind.COMPETITOR:
                competitor += 1
        rows.append(
            PipelineRow(
                by=by,
                key=key,
                leads=len(members),
                opportunities=opportunities,
                won=won,
                revenue_won="; ".join(f"{revenue[c]:f} {c}" for c in sorted(revenue)),
                lost=lost,
                lost_to_competitor=competitor,
            )
        )
    rows.sort(key=lambda r: (-r.won, -r.opportunities, -r.leads, r.key))
    return rows


@attrs.frozen(kw_only=True)
class ReengageDue(Row):
    """A recycled lead whose re-engagement date has come."""

    lead_id: str
    code: str
    rejected_at: datetime
    reengage_at: datetime
    owner: str
    source: str


def reengage_due(
    leads: Iterable[Lead] | Mapping[str, Lead],
    rejections: Iterable[Rejection],
    *,
    now: datetime,
    lifecycle: Lifecycle = WATERFALL,
) -> list[ReengageDue]:
    """Leads still in the recycled stage whose latest rejection's ``reengage_at`` is at or before
    *now*, longest-waiting first."""
    index = leads if isinstance(leads, Mapping) else {lead.id: lead for lead in leads}
    latest: dict[str, Rejection] = {}
    for r in rejections:
        if r.lead_id not in latest or r.at >= latest[r.lead_id].at:
            latest[r.lead_id] = r
    rows = []
    for lead_id, r in latest.items():
        lead = index.get(lead_id)
        if lead is None or lead.stage != lifecycle.recycled:
            continue
        if r.reengage_at is None or r.reengage_at > now:
            continue
        rows.append(
            ReengageDue(
                lead_id=lead_id,
                code=r.code,
                rejected_at=r.at,
                reengage_at=r.reengage_at,
                owner=label(lead.owner_id),
                source=label(lead.source),
            )
        )
    rows.sort(key=lambda row: (row.reengage_at, row.lead_id))
    return rows
