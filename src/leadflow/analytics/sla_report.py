"""SLA adherence: met / breached / pending per policy step, owner, team, source and period.

Scope: the report marketing pushes to field sales. It counts SLA results — one per lead and policy
step — and summarises the response times, in business hours, of the steps that were met or
breached late. A result is anything with the attributes of :class:`SLAResultLike`: the SLA rules
produce them as :class:`leadflow.rules.sla.StepResult` rows (``Evaluation.results()``).

Definitions:

* **share_met** = met / (met + breached + pending), the share of all *judged* steps that were met;
* **adherence** = met / (met + breached), the share of *decided* steps that were met: pending steps
  are not decided yet and are left out;
* **response hours**: business hours from the step's start to the action that closed it (met, or
  breached but done late), median and 90th percentile.

These are :class:`leadflow.rules.sla.AdherenceFigures`, the one definition that ``leadflow sla``
and the ``leadflow demo`` summary print too; here the shares are rounded to 6 places like every
report ratio.
* **period**: the calendar period of the step's due time;
* **policy / step**: the SLA policy's name and the step's name (``first_touch``).

>>> from datetime import datetime, timezone
>>> from leadflow.rules.sla import StepResult
>>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
>>> def result(lead_id, state, hours):
...     return StepResult(lead_id=lead_id, policy="inbound", step="first_touch", state=state,
...                       detail=state, due_at=at, response_hours=hours, owner="u-1",
...                       team="east", source="web")
>>> results = [result("A", "met", 1.5), result("B", "breached", 9.0)]
>>> row = sla_adherence(results, by="owner")[0]
>>> row.key, row.met, row.breached, row.share_met, row.adherence, row.median_hours
('u-1', 1, 1, 0.5, 0.5, 5.25)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Protocol

import attrs

from leadflow.analytics._common import Period, Row, label, period_labeller
from leadflow.errors import ValidationError
from leadflow.rules.sla import AdherenceFigures

__all__ = [
    "OpenStep",
    "open_steps",
    "SLA_DIMENSIONS",
    "SLA_STATES",
    "SLAAdherence",
    "SLAResultLike",
    "sla_adherence",
]

#: What :func:`sla_adherence` can group by.
SLA_DIMENSIONS = ("policy", "step", "owner", "team", "source", "period")

#: The states a result may be in, as the SLA rules report them for adherence.
SLA_STATES = ("met", "breached", "pending")


class SLAResultLike(Protocol):
    """What the report reads from an SLA result (any object with these attributes)."""

    @property
    def lead_id(self) -> str: ...
    @property
    def policy(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def response_hours(self) -> float | None: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def team(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...


@attrs.frozen(kw_only=True)
class SLAAdherence(Row):
    """Adherence for one value (``key``) of one dimension.

    ``share_met`` is met / (met + breached + pending) and ``adherence`` met / (met + breached),
    as defined by :class:`leadflow.rules.sla.AdherenceFigures`.
    """

    dimension: str
    key: str
    met: int
    breached: int
    pending: int
    share_met: float | None
    adherence: float | None
    median_hours: float | None
    p90_hours: float | None


def sla_adherence(
    results: Iterable[SLAResultLike],
    *,
    by: str = "step",
    period: Period | str = Period.MONTH,
    tz: tzinfo = UTC,
) -> list[SLAAdherence]:
    """Met / breached / pending and response hours per value of dimension *by*, sorted by key."""
    if by not in SLA_DIMENSIONS:
        raise ValidationError("by", by, f"is not a dimension; choose from {SLA_DIMENSIONS}")
    counts: defaultdict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SLA_STATES, 0))
    hours: defaultdict[str, list[float]] = defaultdict(list)
    label_period = period_labeller(period, tz=tz)
    for index, result in enumerate(results):
        state = str(result.state)
        if state not in SLA_STATES:
            raise ValidationError(
                f"results[{index}].state", result.state, f"is not one of {SLA_STATES}"
            )
        key = label_period(result.due_at) if by == "period" else label(getattr(result, by))
        counts[key][state] += 1
        if state != "pending" and result.response_hours is not None:
            hours[key].append(float(result.response_hours))
    rows = []
    for key in sorted(counts):
        c = counts[key]
        figures = AdherenceFigures.of(
            met=c["met"], breached=c["breached"], pending=c["pending"], response_hours=hours[key]
        )
        rows.append(
            SLAAdherence(
                dimension=by,
                key=key,
                met=c["met"],
                breached=c["breached"],
                pending=c["pending"],
                share_met=_rounded(figures.share_met),
                adherence=_rounded(figures.adherence),
                median_hours=figures.median_response_hours,
                p90_hours=figures.p90_response_hours,
            )
        )
    return rows


def _rounded(share: float | None) -> float | None:
    """A share rounded to 6 places, as every report ratio is (see ``_common.ratio``)."""
    return None if share is None else round(share, 6)


@attrs.frozen(kw_only=True)
class OpenStep(Row):
    """An SLA step someone can still act on: breached, at risk, or pending (due later)."""

    lead_id: str
    policy: str
    step: str
    owner: str | None
    state: str
    due_at: datetime


def open_steps(results: Iterable[SLAResultLike]) -> list[OpenStep]:
    """The steps still to act on, most urgent first (breached, at risk, pending; then by due
    time). ``at risk`` is read from a result's ``detail`` when it has one (an
    :class:`~leadflow.rules.sla.StepResult`); met and stopped steps are left out."""
    rank = {"breached": 0, "at_risk": 1, "pending": 2}
    rows = []
    for r in results:
        detail = getattr(r, "detail", None)
        state = str(getattr(detail, "value", detail) or r.state)
        if state not in rank:
            continue
        rows.append(
            OpenStep(
                lead_id=r.lead_id,
                policy=r.policy,
                step=r.step,
                owner=r.owner,
                state=state,
                due_at=r.due_at,
            )
        )
    rows.sort(key=lambda o: (rank[o.state], o.due_at, o.lead_id, o.step))
    return rows
