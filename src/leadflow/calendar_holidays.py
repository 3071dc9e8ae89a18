"""Public holidays of a country (and subdivision) for business calendars, from ``holidays``.

Scope: one function that turns the optional `holidays <https://pypi.org/project/holidays/>`_
package's country calendars into the explicit dates a :class:`~leadflow.business_time.BusinessCalendar`
holds, so the core stays free of the dependency and a calendar stays plain, comparable data.
Install it with ``pip install "leadflow[holidays]"``; without it these functions raise
:class:`~leadflow.errors.OptionalDependencyError` saying so. ``holidays`` is imported on first
use, never when leadflow is imported.

>>> from leadflow.business_time import BusinessCalendar
>>> sydney = with_country_holidays(
...     BusinessCalendar.weekdays("Australia/Sydney"), "AU", subdiv="NSW", years=[2026]
... )
>>> from datetime import date
>>> date(2026, 4, 6) in sydney.holidays  # Easter Monday
True
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from leadflow.business_time import BusinessCalendar
from leadflow.errors import OptionalDependencyError, ValidationError

__all__ = ["country_holidays", "with_country_holidays"]


def _holidays_module() -> Any:
    try:
        import holidays
    except ImportError:
        raise OptionalDependencyError("country holidays", "holidays", "holidays") from None
    return holidays


def country_holidays(
    country: str, *, years: Iterable[int], subdiv: str | None = None
) -> frozenset[date]:
    """The public holidays of *country* (ISO 3166 code) and *subdiv* in *years*, as dates.

    Unknown countries or subdivisions raise :class:`~leadflow.errors.ValidationError` naming
    the value.
    """
    years = sorted(set(years))
    for year in years:
        if isinstance(year, bool) or not isinstance(year, int):
            raise ValidationError("years", year, "is not a year")
    module = _holidays_module()
    try:
        table = module.country_holidays(country, subdiv=subdiv, years=years)
    except NotImplementedError as exc:
        field, value = ("subdiv", subdiv) if "subdiv" in str(exc).lower() else ("country", country)
        raise ValidationError(
            field, value, f"is not known to the holidays package: {exc}"
        ) from None
    return frozenset(table.keys())


def with_country_holidays(
    calendar: BusinessCalendar,
    country: str,
    *,
    years: Iterable[int],
    subdiv: str | None = None,
) -> BusinessCalendar:
    """A copy of *calendar* with *country*'s public holidays in *years* added."""
    return calendar.with_holidays(country_holidays(country, years=years, subdiv=subdiv))
