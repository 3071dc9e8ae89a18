"""The closed loop: what became of rejected and recycled leads later, by reject code and source.

Scope: the report no CRM gives out of the box. For each rejection, everything that happened to the
lead *after* it — before the lead's next rejection, which starts a new story, and, with a window,
within ``window_months`` of the rejection — decides its **fate**, the furthest the lead got, in
this order of precedence:

1. ``won`` — a ``won`` :class:`~leadflow.outcomes.Outcome`: the lead bought from us;
2. ``competitor`` — a ``competitor`` outcome: a real buyer who bought elsewhere;
3. ``opportunity`` — *our* pipeline: the lead reached the ``opportunity`` stage, or a ``lost`` or
   ``evaluating`` outcome of ours was recorded (a sales conversation with us happened);
4. ``evaluating_others`` — an ``evaluating_others`` outcome: in an active purchase in which we are
   not a candidate (kept apart from our pipeline: it is somebody else's);
5. ``expects_to_buy`` — an ``expects_to_buy`` outcome: the buyer expects to buy by a date;
6. ``reengaged`` — the lead came back into the funnel (a history entry out of the ``recycled``
   stage to anything but ``disqualified``);
7. ``no_decision`` — a ``no_decision`` outcome;
8. ``not_in_market`` — a ``not_in_market`` outcome;
9. ``nothing_yet`` — nothing heard.

A rejection whose fate is one of the first five **bought or is buying**: a real buyer, who was
worth a sales conversation after all. :func:`closed_loop` counts fates per reject code and/or
source, with the real-buyer share and the revenue that went to competitors;
:func:`closed_loop_headline` puts the whole loop in one number — "of N leads rejected in period P,
X% bought or are buying within W months (Y% from a competitor, Z% from us)".

>>> from datetime import datetime, timedelta, timezone
>>> from decimal import Decimal
>>> from leadflow.lifecycle import transition
>>> from leadflow.model import Lead
>>> from leadflow.outcomes import Outcome
>>> from leadflow.reasons import reject
>>> t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
>>> a, ra = reject(Lead(id="A", created_at=t0, stage="mql"), "not_ready_to_buy", at=t0, by="u")
>>> b, rb = reject(Lead(id="B", created_at=t0, stage="mql"), "not_ready_to_buy", at=t0, by="u")
>>> b = transition(b, "mql", at=t0 + timedelta(days=95))
>>> won = Outcome(lead_id="A", kind="won", at=t0 + timedelta(days=200),
...               amount=Decimal(9000), currency="EUR")
>>> row = closed_loop([ra, rb], [a, b], [won])[0]
>>> row.code, row.rejected, row.won, row.reengaged, row.real_buyers, row.real_buyer_share
('not_ready_to_buy', 2, 1, 1, 1, 0.5)
>>> closed_loop_headline([ra, rb], [a, b], [won], window_months=12).sentence
'Of 2 leads rejected, 50% bought or are buying within 12 months (0% from a competitor, 50% from us).'
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import attrs
from dateutil.relativedelta import relativedelta

from leadflow.analytics._common import Row, label, ratio
from leadflow.errors import ValidationError
from leadflow.lifecycle import WATERFALL, Lifecycle, Stage
from leadflow.model import Lead
from leadflow.outcomes import Outcome, OutcomeKind
from leadflow.reasons import Rejection

__all__ = [
    "BUYING",
    "ClosedLoopHeadline",
    "ClosedLoopRow",
    "Fate",
    "RejectionFate",
    "closed_loop",
    "closed_loop_headline",
    "rejection_fates",
]


class Fate(enum.StrEnum):
    """What became of a rejected lead, most valuable first."""

    WON = "won"
    COMPETITOR = "competitor"
    OPPORTUNITY = "opportunity"
    EVALUATING_OTHERS = "evaluating_others"
    EXPECTS_TO_BUY = "expects_to_buy"
    REENGAGED = "reengaged"
    NO_DECISION = "no_decision"
    NOT_IN_MARKET = "not_in_market"
    NOTHING_YET = "nothing_yet"


#: The fates of a lead that bought or is buying — from us or from anybody else.
BUYING = frozenset(
    {Fate.WON, Fate.COMPETITOR, Fate.OPPORTUNITY, Fate.EVALUATING_OTHERS, Fate.EXPECTS_TO_BUY}
)
_FROM_US = frozenset({Fate.WON, Fate.OPPORTUNITY})
_ELSEWHERE = frozenset({Fate.COMPETITOR, Fate.EVALUATING_OTHERS})
_PRECEDENCE = {fate: i for i, fate in enumerate(Fate)}
_OUTCOME_FATE = {
    OutcomeKind.WON: Fate.WON,
    OutcomeKind.COMPETITOR: Fate.COMPETITOR,
    OutcomeKind.LOST: Fate.OPPORTUNITY,
    OutcomeKind.EVALUATING: Fate.OPPORTUNITY,
    OutcomeKind.EVALUATING_OTHERS: Fate.EVALUATING_OTHERS,
    OutcomeKind.EXPECTS_TO_BUY: Fate.EXPECTS_TO_BUY,
    OutcomeKind.NO_DECISION: Fate.NO_DECISION,
    OutcomeKind.NOT_IN_MARKET: Fate.NOT_IN_MARKET,
}


@attrs.frozen(kw_only=True)
class RejectionFate(Row):
    """The fate of one rejection and when it was first known (``None`` for ``nothing_yet``).

    ``lost_amount``/``lost_currency``: the deal another vendor won or is working on, when the
    outcome recorded its amount (``competitor`` and ``evaluating_others`` fates).
    """

    lead_id: str
    code: str
    rejected_at: datetime
    fate: Fate
    fate_at: datetime | None
    source: str
    lost_amount: Decimal | None = None
    lost_currency: str | None = None


@attrs.frozen(kw_only=True)
class ClosedLoopRow(Row):
    """Fates of the rejections with one reject code (and source, when grouped by source)."""

    code: str | None
    source: str | None
    rejected: int
    won: int
    competitor: int
    opportunity: int
    evaluating_others: int
    expects_to_buy: int
    reengaged: int
    no_decision: int
    not_in_market: int
    nothing_yet: int
    real_buyers: int
    real_buyer_share: float | None
    #: Deal amounts that went (or are going) to other vendors, per currency ("48000 EUR; 900 USD"),
    #: and how many such fates recorded no amount.
    revenue_lost: str
    revenue_lost_unknown: int


def rejection_fates(
    rejections: Iterable[Rejection],
    leads: Iterable[Lead] | Mapping[str, Lead] = (),
    outcomes: Iterable[Outcome] = (),
    *,
    lifecycle: Lifecycle = WATERFALL,
    opportunity_stage: str = Stage.OPPORTUNITY,
    window_months: int | None = None,
) -> list[RejectionFate]:
    """The fate of every rejection (see the module docstring for the rules), in input order.

    With *window_months*, only what happened within that many months of the rejection counts.
    """
    _check_window(window_months)
    index = leads if isinstance(leads, Mapping) else {lead.id: lead for lead in leads}
    by_lead: defaultdict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_lead[outcome.lead_id].append(outcome)
    listed = list(rejections)
    rejected_at: defaultdict[str, list[datetime]] = defaultdict(list)
    for rejection in listed:
        rejected_at[rejection.lead_id].append(rejection.at)
    rows = []
    for rejection in listed:
        later = [t for t in rejected_at[rejection.lead_id] if t > rejection.at]
        until = min(later) if later else None
        if window_months is not None:
            closes = rejection.at + relativedelta(months=window_months)
            until = closes if until is None else min(until, closes)
        lead = index.get(rejection.lead_id)
        events: list[tuple[Fate, datetime]] = []
        deals: dict[tuple[Fate, datetime], Outcome] = {}
        for outcome in by_lead.get(rejection.lead_id, ()):
            if outcome.at >= rejection.at and (until is None or outcome.at < until):
                events.append((_OUTCOME_FATE[outcome.kind], outcome.at))
                deals.setdefault((_OUTCOME_FATE[outcome.kind], outcome.at), outcome)
        if lead is not None:
            for change in lead.history:
                if change.at <= rejection.at or (until is not None and change.at >= until):
                    continue
                if change.to_stage == opportunity_stage:
                    events.append((Fate.OPPORTUNITY, change.at))
                elif (
                    change.from_stage == lifecycle.recycled
                    and change.to_stage != lifecycle.disqualified
                ):
                    events.append((Fate.REENGAGED, change.at))
        if events:
            best = min(_PRECEDENCE[f] for f, _ in events)
            fate = list(Fate)[best]
            fate_at: datetime | None = min(at for f, at in events if f is fate)
        else:
            fate, fate_at = Fate.NOTHING_YET, None
        deal = deals.get((fate, fate_at)) if fate_at is not None and fate in _ELSEWHERE else None
        rows.append(
            RejectionFate(
                lead_id=rejection.lead_id,
                code=rejection.code,
                rejected_at=rejection.at,
                fate=fate,
                fate_at=fate_at,
                source=label(lead.source if lead else None),
                lost_amount=deal.amount if deal is not None else None,
                lost_currency=deal.currency if deal is not None else None,
            )
        )
    return rows


def _check_window(window_months: int | None) -> None:
    if window_months is not None and (
        isinstance(window_months, bool) or not isinstance(window_months, int) or window_months < 1
    ):
        raise ValidationError(
            "window_months", window_months, "must be a whole number of months >= 1"
        )


def _money(fates: Sequence[RejectionFate]) -> tuple[str, int]:
    totals: defaultdict[str, Decimal] = defaultdict(Decimal)
    unknown = 0
    for f in fates:
        if f.fate not in _ELSEWHERE:
            continue
        if f.lost_amount is None or f.lost_currency is None:
            unknown += 1
        else:
            totals[f.lost_currency] += f.lost_amount
    return "; ".join(f"{totals[c]:f} {c}" for c in sorted(totals)), unknown


def closed_loop(
    rejections: Iterable[Rejection],
    leads: Iterable[Lead] | Mapping[str, Lead] = (),
    outcomes: Iterable[Outcome] = (),
    *,
    by_source: bool = False,
    by: Sequence[str] | None = None,
    lifecycle: Lifecycle = WATERFALL,
    window_months: int | None = None,
) -> list[ClosedLoopRow]:
    """Fates counted per reject code (the default), per ``("source",)``, or per
    ``("code", "source")`` (also *by_source*), most rejections first; with *window_months*, only
    what happened within that many months of each rejection counts."""
    dims = tuple(by) if by is not None else (("code", "source") if by_source else ("code",))
    if not dims or set(dims) - {"code", "source"}:
        raise ValidationError("by", by, "must name 'code', 'source' or both")
    fates = rejection_fates(
        rejections, leads, outcomes, lifecycle=lifecycle, window_months=window_months
    )
    groups: defaultdict[tuple[str | None, str | None], list[RejectionFate]] = defaultdict(list)
    for f in fates:
        key = (f.code if "code" in dims else None, f.source if "source" in dims else None)
        groups[key].append(f)
    rows = []
    for (code, source), members in groups.items():
        c = Counter(f.fate for f in members)
        total = len(members)
        real = sum(c[f] for f in BUYING)
        lost, unknown = _money(members)
        rows.append(
            ClosedLoopRow(
                code=code,
                source=source,
                rejected=total,
                won=c[Fate.WON],
                competitor=c[Fate.COMPETITOR],
                opportunity=c[Fate.OPPORTUNITY],
                evaluating_others=c[Fate.EVALUATING_OTHERS],
                expects_to_buy=c[Fate.EXPECTS_TO_BUY],
                reengaged=c[Fate.REENGAGED],
                no_decision=c[Fate.NO_DECISION],
                not_in_market=c[Fate.NOT_IN_MARKET],
                nothing_yet=c[Fate.NOTHING_YET],
                real_buyers=real,
                real_buyer_share=ratio(real, total),
                revenue_lost=lost,
                revenue_lost_unknown=unknown,
            )
        )
    rows.sort(key=lambda r: (-r.rejected, r.code or "", r.source or ""))
    return rows


@attrs.frozen(kw_only=True)
class ClosedLoopHeadline(Row):
    """The closed loop in one number: of ``rejected`` leads rejected in the period, the share
    that bought or are buying within ``window_months`` of their rejection, split into bought or
    buying from a competitor (``competitor`` + ``evaluating_others``), from us (``won`` +
    ``opportunity``), and expecting to buy (``expects_to_buy``).

    ``complete`` is the number of rejections whose whole window lies before ``now`` (the others
    can still change); without *now* it is ``None``.
    """

    period_start: datetime | None
    period_end: datetime | None
    window_months: int
    rejected: int
    buying: int
    buying_share: float | None
    from_competitor: int
    from_competitor_share: float | None
    bought_from_competitor: int
    evaluating_others: int
    from_us: int
    from_us_share: float | None
    expects_to_buy: int
    expects_to_buy_share: float | None
    revenue_lost: str
    complete: int | None
    sentence: str


def _share_text(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def closed_loop_headline(
    rejections: Iterable[Rejection],
    leads: Iterable[Lead] | Mapping[str, Lead] = (),
    outcomes: Iterable[Outcome] = (),
    *,
    window_months: int = 12,
    period: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
    lifecycle: Lifecycle = WATERFALL,
) -> ClosedLoopHeadline:
    """ "Of N leads rejected in *period*, X% bought or are buying within *window_months* months
    (Y% from a competitor, Z% from us)" — see :class:`ClosedLoopHeadline`.

    *period* is ``(start, end)``: rejections at or after start and before end (default: all).
    """
    _check_window(window_months)
    chosen = list(rejections)
    if period is not None:
        start, end = period
        if not start < end:
            raise ValidationError("period", period, "must be (start, end) with start before end")
        chosen = [r for r in chosen if start <= r.at < end]
    fates = rejection_fates(
        chosen, leads, outcomes, lifecycle=lifecycle, window_months=window_months
    )
    n = len(fates)
    c = Counter(f.fate for f in fates)
    buying = sum(c[f] for f in BUYING)
    elsewhere = sum(c[f] for f in _ELSEWHERE)
    ours = sum(c[f] for f in _FROM_US)
    lost, _ = _money(fates)
    complete = (
        None
        if now is None
        else sum(1 for f in fates if f.rejected_at + relativedelta(months=window_months) <= now)
    )
    where = (
        f" from {period[0].date().isoformat()} to before {period[1].date().isoformat()}"
        if period is not None
        else ""
    )
    sentence = (
        f"Of {n} leads rejected{where}, {_share_text(ratio(buying, n))} bought or are buying "
        f"within {window_months} months ({_share_text(ratio(elsewhere, n))} from a competitor, "
        f"{_share_text(ratio(ours, n))} from us)."
    )
    if c[Fate.EXPECTS_TO_BUY]:
        sentence = sentence[:-2] + (
            f"; {_share_text(ratio(c[Fate.EXPECTS_TO_BUY], n))} expect to buy)."
        )
    if complete is not None and complete < n:
        # Right-censored: what became of the rest can still change before their window closes.
        sentence += (
            f" The {window_months}-month window has closed for {complete} of them; "
            "the others can still buy."
        )
    return ClosedLoopHeadline(
        period_start=period[0] if period else None,
        period_end=period[1] if period else None,
        window_months=window_months,
        rejected=n,
        buying=buying,
        buying_share=ratio(buying, n),
        from_competitor=elsewhere,
        from_competitor_share=ratio(elsewhere, n),
        bought_from_competitor=c[Fate.COMPETITOR],
        evaluating_others=c[Fate.EVALUATING_OTHERS],
        from_us=ours,
        from_us_share=ratio(ours, n),
        expects_to_buy=c[Fate.EXPECTS_TO_BUY],
        expects_to_buy_share=ratio(c[Fate.EXPECTS_TO_BUY], n),
        revenue_lost=lost,
        complete=complete,
        sentence=sentence,
    )
