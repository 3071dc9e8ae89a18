"""Small descriptive statistics shared by the SLA rules and the reports (private).

Scope: one definition of a quantile, so that the SLA adherence rows of :mod:`leadflow.rules.sla`
and the reports of :mod:`leadflow.analytics` quote the same median and 90th percentile for the
same numbers. Pure standard library; part of the core.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from leadflow.errors import ValidationError

__all__ = ["quantile"]


def quantile(values: Iterable[float], q: float) -> float | None:
    """The *q*-quantile of *values* by linear interpolation between order statistics.

    This is the "type 7" definition (R's default, numpy's default,
    ``statistics.quantiles(method="inclusive")``): position ``q * (n - 1)`` in the sorted values,
    rounded to 10 decimal places so that sums of floats do not leak into reports. ``None`` for no
    values.

    >>> quantile([1, 2, 3, 4], 0.5), quantile([4, 3, 2, 1], 0.9), quantile([], 0.5)
    (2.5, 3.7, None)
    """
    if not 0.0 <= q <= 1.0:
        raise ValidationError("q", q, "must be between 0 and 1")
    ordered = sorted(values)
    if not ordered:
        return None
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    frac = pos - low
    return round(ordered[low] + (ordered[high] - ordered[low]) * frac, 10)
