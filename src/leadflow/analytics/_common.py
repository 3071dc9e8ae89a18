"""Helpers shared by the report modules (private): periods, quantiles, labels, row records.

Scope: the small, pure pieces every report needs — the calendar period an instant falls in, the
label used for a missing dimension, and the ``to_dict`` every report row offers. The quantile is
:func:`leadflow._stats.quantile`, the one the SLA rules use too, re-exported here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

import attrs

from leadflow._stats import quantile
from leadflow._validate import check_aware
from leadflow.errors import ValidationError
from leadflow.model import Lead

__all__ = [
    "NONE_LABEL",
    "Period",
    "Row",
    "label",
    "period_key",
    "period_labeller",
    "quantile",
    "ratio",
    "reached",
]

#: The label a report uses for a lead with no value in a dimension (no source, no owner...).
NONE_LABEL = "(none)"


class Period(enum.StrEnum):
    """The calendar grain a report groups instants by."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def period_key(at: datetime, period: Period | str, *, tz: tzinfo = UTC) -> str:
    """The label of the *period* that aware instant *at* falls in, seen in time zone *tz*.

    Labels sort chronologically: ``2026-03-02``, ``2026-W10`` (ISO week), ``2026-03``, ``2026-Q1``,
    ``2026``.

    >>> at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    >>> [period_key(at, p) for p in Period]
    ['2026-03-02', '2026-W10', '2026-03', '2026-Q1', '2026']
    """
    return period_labeller(period, tz=tz)(at)


def period_labeller(period: Period | str, *, tz: tzinfo = UTC) -> Callable[[datetime], str]:
    """:func:`period_key` with the period and zone checked once, for labelling many instants."""
    try:
        grain = Period(period)
    except ValueError:
        allowed = ", ".join(p.value for p in Period)
        raise ValidationError("period", period, f"is not one of {allowed}") from None

    def labelled(at: datetime) -> str:
        if not isinstance(at, datetime) or at.utcoffset() is None:
            check_aware("at", at)
        local: date = at.astimezone(tz).date()
        if grain is Period.DAY:
            return local.isoformat()
        if grain is Period.WEEK:
            year, week, _ = local.isocalendar()
            return f"{year}-W{week:02d}"
        if grain is Period.MONTH:
            return f"{local.year}-{local.month:02d}"
        if grain is Period.QUARTER:
            return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
        return f"{local.year}"

    return labelled


def ratio(numerator: int | float, denominator: int | float) -> float | None:
    """``numerator / denominator`` rounded to 6 places, or ``None`` when the denominator is 0."""
    return None if not denominator else round(numerator / denominator, 6)


def label(value: str | None) -> str:
    """*value*, or :data:`NONE_LABEL` when it is missing."""
    return value if value else NONE_LABEL


def reached(lead: Lead, stages: Iterable[str]) -> bool:
    """Whether *lead*'s current stage or any stage in its history is one of *stages*."""
    wanted = set(stages)
    if lead.stage in wanted:
        return True
    return any(c.to_stage in wanted or c.from_stage in wanted for c in lead.history)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@attrs.frozen(kw_only=True)
class Row:
    """Base of every report row: a frozen record whose :meth:`to_dict` is JSON-ready plain data."""

    def to_dict(self) -> dict[str, Any]:
        """The row's fields in declaration order; datetimes as ISO text, enums as their values."""
        return {a.name: _plain(getattr(self, a.name)) for a in attrs.fields(type(self))}
