"""SLA adherence: met / breached / pending per policy step, owner, team, source and period.

Scope: the report marketing pushes to field sales. It counts SLA results — one per lead and policy
step — and summarises the response times, in business hours, of the steps that were met or
breached late. A result is anything with the attributes of :class:`SLAResultLike`: the SLA rules
produce them as :class:`leadflow.rules.sla.StepResult` rows (``Evaluation.results()``).

Definitions:

* **adherence** = met / (met + breached): pending steps are not judged yet and are left out;
* **response hours**: business hours from the step's start to the action that closed it (met, or
  breached but done late); median and 90th percentile use :func:`~leadflow.analytics._common.quantile`;
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
>>> row.key, row.met, row.breached, row.adherence, row.median_hours
('u-1', 1, 1, 0.5, 5.25)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Protocol

import attrs

from leadflow.analytics._common import Period, Row, label, period_labeller, quantile, ratio
from leadflow.errors import ValidationError

__all__ = ["SLA_DIMENSIONS", "SLA_STATES", "SLAAdherence", "SLAResultLike", "sla_adherence"]

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
    """Adherence for one value (``key``) of one dimension."""

    dimension: str
    key: str
    met: int
    breached: int
    pending: int
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
        rows.append(
            SLAAdherence(
                dimension=by,
                key=key,
                met=c["met"],
                breached=c["breached"],
                pending=c["pending"],
                adherence=ratio(c["met"], c["met"] + c["breached"]),
                median_hours=quantile(hours[key], 0.5),
                p90_hours=quantile(hours[key], 0.9),
            )
        )
    return rows
