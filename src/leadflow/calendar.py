"""Deprecated alias of :mod:`leadflow.business_time`, kept for one release.

A module named ``calendar`` shadows the standard library's :mod:`calendar` for a script run
from the directory that holds it, so business calendars live in :mod:`leadflow.business_time`.
``from leadflow.calendar import BusinessCalendar`` still works and returns the same objects, with
a :class:`DeprecationWarning` naming the new module; it will be removed in the next release.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from leadflow import business_time

if TYPE_CHECKING:
    from leadflow.business_time import (
        WEEKDAYS,
        BusinessCalendar,
        CalendarChoice,
        CalendarResolver,
        calendar_for,
        load_calendars,
    )

__all__ = [
    "WEEKDAYS",
    "BusinessCalendar",
    "CalendarChoice",
    "CalendarResolver",
    "calendar_for",
    "load_calendars",
]


def __getattr__(name: str) -> Any:
    if name in business_time.__all__:
        warnings.warn(
            f"leadflow.calendar is deprecated; import {name} from leadflow.business_time "
            "(leadflow.calendar shadowed the standard library's calendar module)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(business_time, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
