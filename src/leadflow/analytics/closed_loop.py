"""The closed loop: what became of rejected and recycled leads later, by reject code.

Scope: the report no CRM gives out of the box. For each rejection, everything that happened to the
lead *after* it — and before the lead's next rejection, which starts a new story — decides its
**fate**, the furthest the lead got, in this order of precedence:

1. ``won`` — a ``won`` :class:`~leadflow.outcomes.Outcome`;
2. ``competitor`` — a ``competitor`` outcome: a real buyer who bought elsewhere;
3. ``opportunity`` — the lead reached the ``opportunity`` stage, or a ``lost`` or ``evaluating``
   outcome was recorded (a sales conversation happened);
4. ``reengaged`` — the lead came back into the funnel (a history entry out of the ``recycled``
   stage to anything but ``disqualified``);
5. ``no_decision`` — a ``no_decision`` outcome;
6. ``nothing_yet`` — nothing heard.

A rejection whose fate is ``won``, ``competitor`` or ``opportunity`` was a **real buyer**: the
lead was worth a sales conversation after all. :func:`closed_loop` counts fates per reject code
(optionally per source too) and reports that share.

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
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from leadflow.analytics._common import Row, label, ratio
from leadflow.lifecycle import WATERFALL, Lifecycle, Stage
from leadflow.model import Lead
from leadflow.outcomes import Outcome, OutcomeKind
from leadflow.reasons import Rejection

__all__ = ["ClosedLoopRow", "Fate", "RejectionFate", "closed_loop", "rejection_fates"]


class Fate(enum.StrEnum):
    """What became of a rejected lead, most valuable first."""

    WON = "won"
    COMPETITOR = "competitor"
    OPPORTUNITY = "opportunity"
    REENGAGED = "reengaged"
    NO_DECISION = "no_decision"
    NOTHING_YET = "nothing_yet"


_REAL_BUYER = frozenset({Fate.WON, Fate.COMPETITOR, Fate.OPPORTUNITY})
_PRECEDENCE = {fate: i for i, fate in enumerate(Fate)}
_OUTCOME_FATE = {
    OutcomeKind.WON: Fate.WON,
    OutcomeKind.COMPETITOR: Fate.COMPETITOR,
    OutcomeKind.LOST: Fate.OPPORTUNITY,
    OutcomeKind.EVALUATING: Fate.OPPORTUNITY,
    OutcomeKind.NO_DECISION: Fate.NO_DECISION,
}


@attrs.frozen(kw_only=True)
class RejectionFate(Row):
    """The fate of one rejection and when it was first known (``None`` for ``nothing_yet``)."""

    lead_id: str
    code: str
    rejected_at: datetime
    fate: Fate
    fate_at: datetime | None
    source: str


@attrs.frozen(kw_only=True)
class ClosedLoopRow(Row):
    """Fates of the rejections with one reject code (and source, when grouped by source)."""

    code: str
    source: str | None
    rejected: int
    won: int
    competitor: int
    opportunity: int
    reengaged: int
    no_decision: int
    nothing_yet: int
    real_buyers: int
    real_buyer_share: float | None


def rejection_fates(
    rejections: Iterable[Rejection],
    leads: Iterable[Lead] | Mapping[str, Lead] = (),
    outcomes: Iterable[Outcome] = (),
    *,
    lifecycle: Lifecycle = WATERFALL,
    opportunity_stage: str = Stage.OPPORTUNITY,
) -> list[RejectionFate]:
    """The fate of every rejection (see the module docstring for the rules), in input order."""
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
        lead = index.get(rejection.lead_id)
        events: list[tuple[Fate, datetime]] = []
        for outcome in by_lead.get(rejection.lead_id, ()):
            if outcome.at >= rejection.at and (until is None or outcome.at < until):
                events.append((_OUTCOME_FATE[outcome.kind], outcome.at))
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
        rows.append(
            RejectionFate(
                lead_id=rejection.lead_id,
                code=rejection.code,
                rejected_at=rejection.at,
                fate=fate,
                fate_at=fate_at,
                source=label(lead.source if lead else None),
            )
        )
    return rows


def closed_loop(
    rejections: Iterable[Rejection],
    leads: Iterable[Lead] | Mapping[str, Lead] = (),
    outcomes: Iterable[Outcome] = (),
    *,
    by_source: bool = False,
    lifecycle: Lifecycle = WATERFALL,
) -> list[ClosedLoopRow]:
    """Fates counted per reject code (and per source with *by_source*), most rejections first."""
    fates = rejection_fates(rejections, leads, outcomes, lifecycle=lifecycle)
    counts: defaultdict[tuple[str, str | None], Counter[Fate]] = defaultdict(Counter)
    for f in fates:
        counts[(f.code, f.source if by_source else None)][f.fate] += 1
    rows = []
    for (code, source), c in counts.items():
        total = sum(c.values())
        real = sum(c[f] for f in _REAL_BUYER)
        rows.append(
            ClosedLoopRow(
                code=code,
                source=source,
                rejected=total,
                won=c[Fate.WON],
                competitor=c[Fate.COMPETITOR],
                opportunity=c[Fate.OPPORTUNITY],
                reengaged=c[Fate.REENGAGED],
                no_decision=c[Fate.NO_DECISION],
                nothing_yet=c[Fate.NOTHING_YET],
                real_buyers=real,
                real_buyer_share=ratio(real, total),
            )
        )
    rows.sort(key=lambda r: (-r.rejected, r.code, r.source or ""))
    return rows
