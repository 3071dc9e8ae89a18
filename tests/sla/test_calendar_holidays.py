"""Country holidays from the optional ``holidays`` package (the ``holidays`` extra)."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadflow.business_time import BusinessCalendar
from leadflow.calendar_holidays import country_holidays, with_country_holidays
from leadflow.errors import OptionalDependencyError, ValidationError


def test_nsw_easter_run_closes_the_sydney_calendar() -> None:
    sydney = with_country_holidays(
        BusinessCalendar.weekdays("Australia/Sydney"), "AU", subdiv="NSW", years=[2026]
    )
    assert {
        date(2026, 4, 3),
        date(2026, 4, 4),
        date(2026, 4, 5),
        date(2026, 4, 6),
    } <= sydney.holidays
    thursday = datetime(2026, 4, 2, 16, 0, tzinfo=ZoneInfo("Australia/Sydney"))
    assert sydney.add(thursday, timedelta(hours=2)).isoformat() == "2026-04-07T10:00:00+10:00"


def test_us_holidays_span_year_ends() -> None:
    days = country_holidays("US", years=[2026, 2027])
    assert date(2026, 12, 25) in days
    assert date(2027, 1, 1) in days


def test_unknown_country_and_subdivision_name_the_value() -> None:
    with pytest.raises(ValidationError, match=r"^country: 'XX'"):
        country_holidays("XX", years=[2026])
    with pytest.raises(ValidationError, match=r"^subdiv: 'ZZ'"):
        country_holidays("AU", subdiv="ZZ", years=[2026])


def test_without_the_extra_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry in sys.modules makes ``import holidays`` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "holidays", None)
    with pytest.raises(
        OptionalDependencyError, match=r'pip install "leadflow\[holidays\]"'
    ) as info:
        country_holidays("US", years=[2026])
    assert isinstance(info.value, ImportError)
    assert (info.value.extra, info.value.missing) == ("holidays", "holidays")
