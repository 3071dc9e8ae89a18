"""A BusinessCalendar in a long-running process stays small: its caches are bounded.

Before, every local date a calendar was asked about stayed in a dict on the instance for the
life of the process, and the timeline kept growing from the first instant asked about.
"""

from __future__ import annotations

import pickle
import warnings
from datetime import UTC, datetime, timedelta

import pytest

from leadflow.business_time import _LRU, DAY_CACHE_SIZE, BusinessCalendar

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_calendar_asked_about_decades_of_days_keeps_a_bounded_cache() -> None:
    cal = BusinessCalendar.weekdays("America/New_York", holidays=["2031-12-25"])
    for day in range(0, 25 * 366, 2):  # a job running every other day for 25 years
        cal.add(START + timedelta(days=day), timedelta(hours=20))
    assert len(cal._cache) <= DAY_CACHE_SIZE
    timeline = cal._timeline
    assert timeline is not None
    assert timeline.hi - timeline.lo <= 3 * DAY_CACHE_SIZE


def test_answers_do_not_depend_on_what_was_evicted() -> None:
    busy = BusinessCalendar.weekdays("Europe/Berlin", "09:00-12:30", "13:30-18:00")
    for day in range(0, 12 * 366, 3):
        busy.is_open(START + timedelta(days=day))
    for day in (0, 400, 2000, 4000):  # early days long evicted, late ones recent
        at = START + timedelta(days=day, hours=5)
        fresh = BusinessCalendar.weekdays("Europe/Berlin", "09:00-12:30", "13:30-18:00")
        assert busy.add(at, timedelta(hours=30)) == fresh.add(at, timedelta(hours=30))
        later = at + timedelta(days=9)
        assert busy.between(at, later) == fresh.between(at, later)


def test_the_day_cache_drops_the_least_recently_used() -> None:
    lru = _LRU(maxsize=3)
    for key in (1, 2, 3):
        lru.put(key, ((key, key),))
    assert lru.get(1) == ((1, 1),)  # 1 is now the most recently used
    lru.put(4, ())
    assert len(lru) == 3
    assert lru.get(2) is None, "the least recently used day went first"
    assert lru.get(1) == ((1, 1),)
    assert lru.get(4) == (), "a closed day is cached too"
    copy = pickle.loads(pickle.dumps(lru))
    assert (copy.maxsize, copy.get(3)) == (3, ((3, 3),))


def test_the_calendar_module_is_a_deprecated_alias_of_business_time() -> None:
    import leadflow.calendar as old

    with pytest.warns(
        DeprecationWarning, match=r"import BusinessCalendar from leadflow\.business_time"
    ):
        alias = old.BusinessCalendar
    assert alias is BusinessCalendar
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            old.no_such_name  # noqa: B018


def test_leadflow_itself_no_longer_imports_the_alias() -> None:
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "leadflow"
    users = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if (p.name != "calendar.py" and "leadflow.calendar import" in p.read_text(encoding="utf-8"))
        or "import leadflow.calendar\n" in p.read_text(encoding="utf-8")
    ]
    assert users == []
