"""Configuration the subcommands share: the run configuration file, rule files, stores, adapters.

Scope: turning paths and TOML tables into loaded objects — the ``--config`` file of ``run`` and
``report`` (:func:`run_config`), SLA policies, calendars and scorecards (the demo's where none is
given), the SQLite store, and installed adapters built from their settings. Errors are
:class:`~leadflow.errors.ConfigError` naming the file and key. It sits below the command modules
and above :mod:`leadflow.cli.base`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leadflow.cli.base import load_toml
from leadflow.errors import ConfigError
from leadflow.job import check_final_actions
from leadflow.rules._files import in_source

__all__ = [
    "DEFAULT_DEMO_STORE",
    "DEFAULT_STATE_STORE",
    "calendar_choice",
    "check_output",
    "is_demo_store",
    "load_adapter",
    "load_calendar",
    "open_store",
    "policies_and_calendar",
    "read_all",
    "rule_arguments",
    "run_calendar",
    "run_config",
    "scorecard_or_demo",
]


#: Where ``leadflow demo`` creates its store, and where ``sla``/``score``/``report`` read by default.
DEFAULT_DEMO_STORE = "leadflow-demo.sqlite"


#: Where ``leadflow run`` keeps its state (cursors, scores, SLA clocks) unless configured.
DEFAULT_STATE_STORE = "leadflow-state.sqlite"


_RULE_FILES = {
    "policies": ("SLA policies TOML", "the demo policy"),
    "calendar": ("business calendar TOML", "weekdays, New York"),
    "scorecard": ("scorecard TOML", "the demo scorecard"),
}


def rule_arguments(parser: argparse.ArgumentParser, *names: str, otherwise: str = "") -> None:
    """Add the rule-file options *names* (``policies``, ``calendar``, ``scorecard``) that
    ``sla``, ``score`` and ``report`` share; *otherwise* is appended to each default's help."""
    for name in names:
        what, default = _RULE_FILES[name]
        parser.add_argument(f"--{name}", type=Path, help=f"{what} (default: {default}{otherwise})")


def load_calendar(path: Path) -> Any:
    """A business calendar from a TOML file (``--calendar``)."""
    from leadflow.business_time import BusinessCalendar

    with in_source(str(path)):
        return BusinessCalendar.from_dict(load_toml(path))


def calendar_choice(path: Path) -> Any:
    """One calendar table, or named ``[calendars.*]`` with a ``[choose]`` table (a resolver)."""
    from leadflow.business_time import BusinessCalendar, CalendarResolver

    data = load_toml(path)
    with in_source(str(path)):
        if "calendars" in data:
            return CalendarResolver.from_dict(data)
        return BusinessCalendar.from_dict(data)


def policies_and_calendar(
    policies: Path | None, calendar: Path | None
) -> tuple[tuple[Any, ...], Any]:
    """``--policies`` and ``--calendar`` loaded, the demo's where one is not given."""
    from leadflow.demo import demo_calendar, demo_policies
    from leadflow.rules.sla import load_policies

    loaded = load_policies(policies) if policies is not None else demo_policies()
    check_final_actions(loaded)  # the same check `run` makes: a final action must be doable
    return loaded, load_calendar(calendar) if calendar is not None else demo_calendar()


def scorecard_or_demo(path: Path | None) -> Any:
    """``--scorecard`` loaded, or the demo's scorecard."""
    from leadflow.demo import demo_scorecard
    from leadflow.rules.scorecard import load_scorecard

    return load_scorecard(path) if path is not None else demo_scorecard()


def open_store(path: Path) -> Any:
    """The SQLite store at *path*, which must exist (a :class:`ConfigError` says how to make
    one)."""
    from leadflow.adapters.sqlite import SQLiteAdapter

    if not path.exists():
        hint = "create one with 'leadflow demo' or 'import'"
        state = path.parent / DEFAULT_STATE_STORE
        if path.name == DEFAULT_DEMO_STORE and state.exists():
            # import and run keep their store in ./leadflow-state.sqlite
            hint = f"'leadflow import' and 'run' wrote {state}: pass --store {state}"
        raise ConfigError(str(path), f"no such store; {hint}")
    return SQLiteAdapter(path)


def check_output(
    option: str,
    path: Path,
    *,
    directory: bool = False,
    inputs: Sequence[Path | None] = (),
    overwrite: bool = True,
) -> None:
    """Refuse, before any work is done, an output *path* that cannot be written or would
    destroy an input: a :class:`ConfigError` naming *option* (exit 2), never an ``OSError``
    after the job ran. *directory*: the output is a directory of files (CSV)."""
    for source in inputs:
        if source is not None and _same_path(source, path):
            raise ConfigError(
                f"{option} {path}", "is one of the command's inputs; choose another file"
            )
    if directory:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{option} {path}", "exists and is not a directory")
        parent = path.parent
    else:
        if path.is_dir():
            raise ConfigError(f"{option} {path}", "is a directory; give a file name")
        if path.exists() and not overwrite:
            raise ConfigError(f"{option} {path}", "exists; remove it or pass --force")
        parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}", f"no such directory {str(parent)!r}")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{option} {path}", f"directory {str(parent)!r} is not writable")


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def is_demo_store(path: Path) -> bool:
    """Whether *path* is a store ``leadflow demo`` made (its job ``demo`` ran there): the only
    store the demo's rules may judge without being asked to."""
    import sqlite3

    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT 1 FROM sync_cursors WHERE job = 'demo' LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return row is not None


def read_all(store: Any, reader: str) -> list[Any]:
    """Every record of *store*'s ``reader`` method (``"read_leads"``, ...), all pages."""
    return [v.item for page in getattr(store, reader)() for v in page.items]


_RUN_KEYS = {"store", "sla", "scorecard", "calendar", "adapters", "batch_size"}


def run_config(path: Path, adapter: str) -> dict[str, Any]:
    """The ``--config`` file of ``leadflow run`` (and ``leadflow report``), resolved.

    Returns ``store``, ``sla`` and ``scorecard`` (paths relative to the file, or ``None``),
    ``calendar`` (a table or ``None``), ``batch_size``, and ``settings``: the
    ``[adapters.<adapter>]`` table, an adapter ``path`` made relative to the file too.
    """
    config = load_toml(path)
    unknown = sorted(set(config) - _RUN_KEYS)
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]}", f"unknown key; expected {sorted(_RUN_KEYS)}")
    for key in ("store", "sla", "scorecard"):
        if key in config and (not isinstance(config[key], str) or not config[key].strip()):
            raise ConfigError(
                f"{path}: {key}", f"must be a file path (a string), got {config[key]!r}"
            )
    if "calendar" in config and not isinstance(config["calendar"], dict):
        raise ConfigError(
            f"{path}: calendar", f"must be a [calendar] table, got {config['calendar']!r}"
        )
    batch_size = config.get("batch_size", 500)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"{path}: batch_size", f"must be a positive integer, got {batch_size!r}")
    base = path.parent
    resolved: dict[str, Any] = {
        "store": base / config.get("store", DEFAULT_STATE_STORE),
        "sla": base / config["sla"] if "sla" in config else None,
        "scorecard": base / config["scorecard"] if "scorecard" in config else None,
        "calendar": config.get("calendar"),
        "batch_size": batch_size,
        "source": path,
    }
    # Named files must be there and the store's directory must exist, said here with the
    # config file and key (not later as a bare path, or as a store that cannot be opened).
    for key in ("sla", "scorecard"):
        if resolved[key] is not None and not resolved[key].is_file():
            raise ConfigError(f"{path}: {key}", f"no such file {str(resolved[key])!r}")
    if not resolved["store"].parent.is_dir():
        raise ConfigError(f"{path}: store", f"no such directory {str(resolved['store'].parent)!r}")
    tables = config.get("adapters", {})
    settings = tables.get(adapter, {}) if isinstance(tables, dict) else None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: adapters.{adapter}", "must be a table of adapter settings")
    settings = dict(settings)
    if "path" in settings and not isinstance(settings["path"], str):
        raise ConfigError(
            f"{path}: adapters.{adapter}.path",
            f"must be a file path (a string), got {settings['path']!r}",
        )
    where = settings.get("path")
    if isinstance(where, str) and where != ":memory:" and not Path(where).is_absolute():
        settings["path"] = str(base / where)  # like the store: relative to the config file
    resolved["settings"] = settings
    return resolved


def run_calendar(config: dict[str, Any]) -> Any:
    """The business calendar of a :func:`run_config`: its ``[calendar]`` table, else weekdays
    in UTC."""
    from leadflow.business_time import BusinessCalendar

    if config["calendar"] is None:
        return BusinessCalendar.weekdays("UTC")
    source = config.get("source")
    # The error names the configuration file: ``leadflow.toml: calendar.zone: ...``.
    return BusinessCalendar.from_dict(
        config["calendar"], path=f"{source}: calendar" if source is not None else "calendar"
    )


def load_adapter(name: str, settings: dict[str, Any], *, source: Path | None = None) -> Any:
    """Build the installed adapter *name* from *settings* (the ``[adapters.<name>]`` table of
    the configuration file *source*).

    A :class:`ConfigError` from the adapter is raised again with a path that says where the
    setting is: ``leadflow.toml: adapters.hubspot.fields.leads: unknown entity; ...``.
    """
    from leadflow import adapters as registry

    table = f"{source}: adapters.{name}" if source is not None else f"adapters.{name}"
    try:
        return registry.load(name, **settings)
    except ConfigError as exc:
        inner = exc.path if exc.path and exc.path != name else ""
        raise ConfigError(f"{table}.{inner}" if inner else table, exc.problem) from None
    except (TypeError, ValueError) as exc:
        # A setting of the wrong type reaches the adapter's constructor as data, not as a bug.
        raise ConfigError(table, f"a setting has the wrong type or value: {exc}") from None
