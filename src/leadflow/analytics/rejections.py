"""Why leads are rejected: counts and shares by reject code, source, campaign, owner and period.

Scope: the rejection report marketing and sales read together. Input is a list of
:class:`~leadflow.reasons.Rejection` records — kept by the application, or recovered from the
leads' stage histories with :func:`rejections_from_leads` (every history entry whose ``reason`` is
a code of the catalog is a rejection) — plus the leads, which supply each rejection's source,
campaign and owner.

Definitions:

* **source / campaign**: the rejected lead's ``source`` / ``campaign``; ``(none)`` when missing.
* **owner**: who rejected (``Rejection.by``), else the lead's ``owner_id``.
* **period**: the calendar period of the rejection's ``at`` (see :class:`Period`).
* **share** in :func:`rejection_counts`: grouped by ``code``, the row's count divided by all
  rejections that share the row's other dimensions (so with ``by=("source", "code")`` the shares
  of one source add up to 1); not grouped by ``code``, the row's count divided by all rejections
  counted.
* **SLA failures** (``sla_failure``): codes such as ``not_followed_up`` record sales' miss (nobody
  followed the lead up before the SLA cadence ran out), not a judgement about the lead. Grouped
  by ``code``, such rows say ``sla_failure=True`` and their shares are among the SLA failures,
  so the shares of sales' judgements add up to 1 on their own; :func:`top_reasons_by_source`
  lists judgements only.

>>> from datetime import datetime, timezone
>>> from leadflow.model import Lead
>>> from leadflow.reasons import reject
>>> at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
>>> leads, rejections = [], []
>>> for i, (source, code) in enumerate([("web", "no_budget"), ("web", "student"),
...                                      ("event", "no_budget")]):
...     lead, r = reject(Lead(id=f"L-{i}", created_at=at, stage="mql", source=source),
...                      code, at=at, by="u-sam")
...     leads.append(lead); rejections.append(r)
>>> [(r.source, r.code, r.count, r.share)
...  for r in rejection_counts(rejections, leads, by=("source", "code"))]
[('event', 'no_budget', 1, 1.0), ('web', 'no_budget', 1, 0.5), ('web', 'student', 1, 0.5)]
>>> rejections_from_leads(leads) == rejections
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo

import attrs

from leadflow._validate import check_aware
from leadflow.analytics._common import Period, Row, label, period_labeller, ratio
from leadflow.errors import ValidationError
from leadflow.model import Lead
from leadflow.reasons import STANDARD_REASONS, ReasonCatalog, Rejection

__all__ = [
    "DIMENSIONS",
    "OtherShare",
    "RejectionCount",
    "TopReason",
    "other_share",
    "rejection_counts",
    "rejections_from_leads",
    "top_reasons_by_source",
]

#: The dimensions :func:`rejection_counts` can group by.
DIMENSIONS = ("code", "source", "campaign", "owner", "period")

_OTHER = "other"


def rejections_from_leads(
    leads: Iterable[Lead], *, catalog: ReasonCatalog = STANDARD_REASONS
) -> list[Rejection]:
    """The rejections recorded in *leads*' histories: entries whose ``reason`` is a catalog code.

    ``by`` is the history entry's ``by`` (``"unknown"`` when it is missing); ``reengage_at`` is
    computed from the code's delay, as :func:`leadflow.reasons.reject` does. Ordered by lead, then
    time.
    """
    found: list[Rejection] = []
    for lead in leads:
        for change in lead.history:
            if change.reason is None or change.reason not in catalog:
                continue
            code = catalog[change.reason]
            delay = code.reengage_after
            found.append(
                Rejection(
                    lead_id=lead.id,
                    code=code.code,
                    disposition=code.disposition,
                    at=change.at,
                    by=change.by or "unknown",
                    note=change.note,
                    from_stage=change.from_stage,
                    reengage_at=change.at + delay if delay is not None else None,
                )
            )
    return found


@attrs.frozen(kw_only=True)
class RejectionCount(Row):
    """One cell of the rejection table; dimensions not grouped by are ``None``."""

    code: str | None
    source: str | None
    campaign: str | None
    owner: str | None
    period: str | None
    count: int
    share: float | None
    sla_failure: bool | None = None


@attrs.frozen(kw_only=True)
class TopReason(Row):
    """One of a source's most frequent reject codes (``rank`` 1 is the most frequent)."""

    source: str
    rank: int
    code: str
    label: str
    count: int
    share: float | None


@attrs.frozen(kw_only=True)
class OtherShare(Row):
    """How many of a source's rejections gave only the catch-all code ``other``.

    ``source`` is ``"(all)"`` on the total row. A high share means the catalog misses a reason
    sales keeps meeting (read the notes) or that sales avoids picking one.
    """

    source: str
    rejections: int
    other: int
    share: float | None


def _dimensions(
    rejection: Rejection,
    lead: Lead | None,
    wanted: Sequence[str],
    label_period: Callable[[datetime], str],
) -> tuple[str, ...]:
    values = []
    for dim in wanted:
        if dim == "code":
            values.append(rejection.code)
        elif dim == "source":
            values.append(label(lead.source if lead else None))
        elif dim == "campaign":
            values.append(label(lead.campaign if lead else None))
        elif dim == "owner":
            by = rejection.by if rejection.by != "unknown" else None
            values.append(label(by or (lead.owner_id if lead else None)))
        else:
            values.append(label_period(rejection.at))
    return tuple(values)


def _index(leads: Iterable[Lead]) -> dict[str, Lead]:
    return {lead.id: lead for lead in leads}


def rejection_counts(
    rejections: Iterable[Rejection],
    leads: Iterable[Lead] | Mapping[str, Lead] = (),
    *,
    by: Sequence[str] = ("code",),
    period: Period | str = Period.MONTH,
    tz: tzinfo = UTC,
    start: datetime | None = None,
    end: datetime | None = None,
    catalog: ReasonCatalog = STANDARD_REASONS,
) -> list[RejectionCount]:
    """Count rejections grouped by the dimensions *by* (any of :data:`DIMENSIONS`).

    Grouped by ``code``, each row says whether its code is an SLA failure (*catalog*'s
    ``sla_failure``) and shares are taken within judgements and within SLA failures apart.

    Only rejections with ``start <= at < end`` count when the bounds are given (aware instants;
    a naive one is a :class:`~leadflow.errors.ValidationError`). Rows are sorted by the grouped
    dimensions in the order of :data:`DIMENSIONS`, then by descending count.
    """
    if start is not None:
        check_aware("start", start)
    if end is not None:
        check_aware("end", end)
    wanted = tuple(by)
    for dim in wanted:
        if dim not in DIMENSIONS:
            raise ValidationError("by", dim, f"is not a dimension; choose from {DIMENSIONS}")
    if not wanted:
        raise ValidationError("by", by, "must name at least one dimension")
    index = leads if isinstance(leads, Mapping) else _index(leads)
    order = [d for d in DIMENSIONS if d in wanted]
    label_period = period_labeller(period, tz=tz)
    counts: Counter[tuple[str, ...]] = Counter()
    for rejection in rejections:
        if (start is not None and rejection.at < start) or (
            end is not None and rejection.at >= end
        ):
            continue
        counts[_dimensions(rejection, index.get(rejection.lead_id), order, label_period)] += 1
    code_pos = order.index("code") if "code" in order else None

    def failure(key: tuple[str, ...]) -> bool | None:
        if code_pos is None:
            return None
        return key[code_pos] in catalog and catalog[key[code_pos]].sla_failure

    totals: Counter[tuple[object, ...]] = Counter()
    for key, n in counts.items():
        totals[(*_without(key, code_pos), failure(key))] += n
    rows = []
    for key, n in counts.items():
        values = dict(zip(order, key, strict=True))
        rows.append(
            RejectionCount(
                code=values.get("code"),
                source=values.get("source"),
                campaign=values.get("campaign"),
                owner=values.get("owner"),
                period=values.get("period"),
                count=n,
                share=ratio(n, totals[(*_without(key, code_pos), failure(key))]),
                sla_failure=failure(key),
            )
        )
    rows.sort(
        key=lambda r: (
            *(getattr(r, d) for d in order if d != "code"),
            -r.count,
            r.code or "",
        )
    )
    return rows


def _without(key: tuple[str, ...], pos: int | None) -> tuple[str, ...]:
    return () if pos is None else key[:pos] + key[pos + 1 :]


def top_reasons_by_source(
    rejections: Iterable[Rejection],
    leads: Iterable[Lead] | Mapping[str, Lead] = (),
    *,
    n: int = 3,
    catalog: ReasonCatalog = STANDARD_REASONS,
) -> list[TopReason]:
    """The *n* most frequent reject codes of each source, with their share of its rejections.

    Only sales' judgements about the leads: SLA failures (``not_followed_up``) are left out.
    Ties are broken by code, so the result is stable.
    """
    if n < 1:
        raise ValidationError("n", n, "must be at least 1")
    rows: list[TopReason] = []
    counts = [
        row
        for row in rejection_counts(rejections, leads, by=("code", "source"), catalog=catalog)
        if not row.sla_failure
    ]
    by_source: dict[str, list[RejectionCount]] = {}
    for row in counts:
        by_source.setdefault(row.source or "", []).append(row)
    for source in sorted(by_source):
        ranked = sorted(by_source[source], key=lambda r: (-r.count, r.code or ""))
        for rank, row in enumerate(ranked[:n], start=1):
            code = row.code or ""
            rows.append(
                TopReason(
                    source=source,
                    rank=rank,
                    code=code,
                    label=catalog[code].label if code in catalog else code,
                    count=row.count,
                    share=row.share,
                )
            )
    return rows


def other_share(
    rejections: Iterable[Rejection], leads: Iterable[Lead] | Mapping[str, Lead] = ()
) -> list[OtherShare]:
    """The share of rejections coded only ``other``, per source and in total (first row)."""
    index = leads if isinstance(leads, Mapping) else _index(leads)
    total: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for rejection in rejections:
        lead = index.get(rejection.lead_id)
        source = label(lead.source if lead else None)
        total[source] += 1
        other[source] += rejection.code == _OTHER
    rows = [
        OtherShare(
            source="(all)",
            rejections=sum(total.values()),
            other=sum(other.values()),
            share=ratio(sum(other.values()), sum(total.values())),
        )
    ]
    rows.extend(
        OtherShare(source=s, rejections=total[s], other=other[s], share=ratio(other[s], total[s]))
        for s in sorted(total)
    )
    return rows
