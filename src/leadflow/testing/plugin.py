"""An opt-in pytest plugin: fixtures for testing your own SLA policies and business calendars.

Scope: fixtures and ini options, nothing else. Enable it in your root ``conftest.py``::

    pytest_plugins = ["leadflow.testing.plugin"]

It is not registered through the ``pytest11`` entry point on purpose: a library's plugin loaded
into every suite of every project that installs leadflow would add fixtures and ini options
nobody asked for. Importing it imports only pytest; leadflow's rules, calendars and hypothesis
load when a fixture is first used.

Ini options (``pyproject.toml`` ``[tool.pytest.ini_options]`` or ``pytest.ini``), paths relative
to the rootdir:

* ``leadflow_sla_policies`` — your policies file (``[[policies]]`` tables);
* ``leadflow_calendar`` — a TOML file holding one calendar (``zone``, ``hours``, ``holidays``).

Fixtures:

* ``leadflow_now`` — a fixed, timezone-aware instant (override it to choose your own): tests
  never read the clock;
* ``leadflow_calendar`` — the calendar from ``leadflow_calendar``, else Monday to Friday
  09:00-17:00 UTC;
* ``leadflow_policies`` — the policies from ``leadflow_sla_policies`` (a test using it fails with
  a clear message when the option is not set); a malformed file fails with the
  :class:`~leadflow.errors.ConfigError` naming the key;
* ``leadflow_evaluate`` — :func:`leadflow.rules.evaluate` bound to those policies and calendar:
  ``leadflow_evaluate(lead, touches, as_of=..., activities=...)`` (``now=`` is accepted as the
  deprecated alias of ``as_of``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from leadflow.business_time import BusinessCalendar
    from leadflow.model import Activity, Lead, Touch
    from leadflow.rules.sla import Evaluation, SLAPolicy

__all__ = [
    "leadflow_calendar",
    "leadflow_evaluate",
    "leadflow_now",
    "leadflow_policies",
    "pytest_addoption",
    "pytest_report_header",
]

_POLICIES = "leadflow_sla_policies"
_CALENDAR = "leadflow_calendar"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Declare the ini options."""
    parser.addini(_POLICIES, "leadflow: path of the SLA policies TOML file", default="")
    parser.addini(_CALENDAR, "leadflow: path of a business-calendar TOML file", default="")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which policies and calendar the fixtures load."""
    policies = config.getini(_POLICIES) or "(not set)"
    calendar = config.getini(_CALENDAR) or "(default: Mon-Fri 09:00-17:00 UTC)"
    return [f"leadflow: sla policies {policies}; calendar {calendar}"]


def _path(config: pytest.Config, name: str) -> Path | None:
    value = str(config.getini(name)).strip()
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else Path(config.rootpath) / path


@pytest.fixture
def leadflow_now() -> datetime:
    """A fixed, timezone-aware instant (Monday 2 March 2026, 09:00 UTC); override to change."""
    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def leadflow_calendar(pytestconfig: pytest.Config) -> BusinessCalendar:
    """The calendar from the ``leadflow_calendar`` ini file, else Mon-Fri 09:00-17:00 UTC."""
    from leadflow.business_time import BusinessCalendar

    path = _path(pytestconfig, _CALENDAR)
    if path is None:
        return BusinessCalendar.weekdays("UTC", name="default")
    from leadflow.errors import ConfigError

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from None
    return BusinessCalendar.from_dict(data, path=str(path))


@pytest.fixture(scope="session")
def leadflow_policies(pytestconfig: pytest.Config) -> tuple[SLAPolicy, ...]:
    """The policies from the ``leadflow_sla_policies`` ini file."""
    from leadflow.rules.sla import load_policies

    path = _path(pytestconfig, _POLICIES)
    if path is None:
        pytest.fail(
            f"the leadflow_policies fixture needs the {_POLICIES!r} ini option "
            "(the path of your SLA policies TOML file)",
            pytrace=False,
        )
    return load_policies(path)


@pytest.fixture
def leadflow_evaluate(
    leadflow_policies: tuple[SLAPolicy, ...], leadflow_calendar: BusinessCalendar
) -> Callable[..., Evaluation | None]:
    """``evaluate`` bound to the configured policies and calendar."""
    from leadflow.rules.sla import evaluate

    def bound(
        lead: Lead,
        touches: Iterable[Touch] = (),
        *,
        as_of: datetime | None = None,
        now: datetime | None = None,
        activities: Iterable[Activity] = (),
        **overrides: Any,
    ) -> Evaluation | None:
        options: dict[str, Any] = {
            "policies": leadflow_policies,
            "calendar": leadflow_calendar,
            **overrides,
        }
        return evaluate(lead, touches, as_of=as_of, now=now, activities=activities, **options)

    return bound
