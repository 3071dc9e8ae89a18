"""SLA adherence: met / breached / pending per policy step, owner, team, source and period.

Scope: the report marketing pushes to field sales. It counts SLA results — one per lead and policy
step — and summarises the response times, in business hours, of the steps that were met or
breached late. A result is anything with the attributes of :class:`SLAResultLike` (the SLA rules
produce them; tests and other systems can build :class:`SLAResult` directly).

Definitions:

* **adherence** = met / (met + breached): pending steps are not judged yet and are left out;
* **response hours**: business hours from the step's start to the action that closed it (met, or
  breached but done late); median and 90th percentile use :func:`~leadflow.analytics._common.quantile`;
* **period**: the calendar period of the step's due time.

>>> from datetime import datetime, timezone
>>> at = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
>>> results = [SLAResult(lead_id="A", step="first_touch", state="met", due_at=at,
...                      response_hours=1.5, owner="u-1", team="east", source="web"),
...            SLAResult(lead_id="B", step="first_touch", state="breached", due_at=at,
...                      response_hours=9.0, owner="u-1", team="east", source="web")]
>>> row = sla_adherence(results, by="owner")[0]
>>> row.key, row.met, row.breached, row.adherence, row.median_hours
('u-1', 1, 1, 0.5, 5.25)
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

import attrs

from leadflow import _validate as v
from leadflow.analytics._common import Period, Row, label, period_key, quantile, ratio
from leadflow.errors import ValidationError

__all__ = [
    "SLA_DIMENSIONS",
    "SLAAdherence",
    "SLAResult",
    "SLAResultLike",
    "SLAState",
    "sla_adherence",
]

#: What :func:`sla_adherence` can group by.
SLA_DIMENSIONS = ("step", "owner", "team", "source", "period")


class SLAState(enum.StrEnum):
    """Where one SLA step stands."""

    MET = "met"
    BREACHED = "breached"
    PENDING = "pending"


class SLAResultLike(Protocol):
    """What the report reads from an SLA result (any object with these attributes)."""

    @property
    def lead_id(self) -> str: ...
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


def _state(value: Any) -> Any:
    return v.coerce_enum(SLAState, value)


@attrs.frozen(kw_only=True)
class SLAResult:
    """One lead's result for one SLA policy step."""

    lead_id: str = attrs.field(validator=v.non_empty)
    step: str = attrs.field(validator=v.non_empty)
    state: SLAState = attrs.field(converter=_state, validator=v.member_of(SLAState))
    due_at: datetime = attrs.field(validator=v.aware)
    response_hours: float | None = attrs.field(default=None, validator=v.optional_non_negative)
    owner: str | None = None
    team: str | None = None
    source: str | None = None


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
    counts: defaultdict[str, dict[str, int]] = defaultdict(lambda: {s.value: 0 for s in SLAState})
    hours: defaultdict[str, list[float]] = defaultdict(list)
    for result in results:
        state = SLAState(str(result.state))
        if by == "period":
            key = period_key(result.due_at, period, tz=tz)
        else:
            key = label(getattr(result, by))
        counts[key][state.value] += 1
        if state is not SLAState.PENDING and result.response_hours is not None:
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
