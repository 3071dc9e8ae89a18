"""What the report-parity tests of every CRM adapter share.

A CRM emulator seeded with the demo store's data must give the report the store gives: through
``report_from_adapter`` and through ``leadflow report --adapter NAME --config FILE``; and
``leadflow run`` must mirror the CRM's rejections and outcomes into its state store.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.cli.reporting import report_from_adapter
from leadflow.demo import demo_calendar, demo_policies, demo_scorecard
from leadflow.ports import Adapter, Entity, read_all

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def seconds(value: Any) -> Any:
    """*value* with every datetime in it (nested attrs values, tuples) cut to whole seconds."""
    if isinstance(value, datetime):
        return value.replace(microsecond=0)
    if isinstance(value, tuple):
        return tuple(seconds(v) for v in value)
    if attrs.has(type(value)):
        changes = {
            f.name: seconds(getattr(value, f.name))
            for f in attrs.fields(type(value))
            if (f.init and isinstance(getattr(value, f.name), datetime | tuple))
            or attrs.has(type(getattr(value, f.name)))
        }
        return attrs.evolve(value, **changes) if changes else value
    return value


def report_json(adapter: Adapter, now: datetime) -> dict[str, Any]:
    """The demo rules' report over *adapter* as of *now*, as plain JSON data."""
    built = report_from_adapter(
        adapter,
        now=now,
        policies=demo_policies(),
        calendar=demo_calendar(),
        scorecard=demo_scorecard(),
        half_life_strata=("source",),
    )
    data: dict[str, Any] = json.loads(json.dumps(built.to_dict(), default=str))
    return data


def renamed(value: Any, names: dict[str, str]) -> Any:
    """*value* (plain data) with every CRM id in it (keys too) replaced by the store's."""
    if isinstance(value, dict):
        return {renamed(k, names): renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [renamed(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def assert_cli_reports_equal(
    store: SQLiteAdapter,
    adapter_name: str,
    config: Path,
    *,
    names: dict[str, str],
    now: datetime,
    tmp_path: Path,
) -> None:
    """``leadflow report --store`` and ``leadflow report --adapter NAME --config`` (JSON, the
    example rules, a UTC weekday calendar) give the same report once the CRM's ids are named as
    the store's."""
    from leadflow.cli import main

    calendar = tmp_path / "calendar.toml"
    calendar.write_text('zone = "UTC"\nhours = { mon-fri = "09:00-17:00" }\n')
    rules = [
        *("--policies", str(EXAMPLES / "sla.toml")),
        *("--scorecard", str(EXAMPLES / "scorecard.toml")),
        *("--calendar", str(calendar)),
    ]
    common = ["--format", "json", "--now", now.isoformat(), *rules]
    from_store, from_crm = tmp_path / "store.json", tmp_path / f"{adapter_name}.json"
    assert main(["report", "--store", str(store.path), "--out", str(from_store), *common]) == 0
    crm = ["report", "--adapter", adapter_name, "--config", str(config)]
    assert main([*crm, "--out", str(from_crm), *common]) == 0
    expected = json.loads(from_store.read_text(encoding="utf-8"))
    got = renamed(json.loads(from_crm.read_text(encoding="utf-8")), names)
    assert expected["rejections_total"] > 0
    # Open steps due at the same instant (the close of a business day) are ordered by lead id,
    # which differs between the CRM and the store before renaming: compare them as sets.
    for report in (got, expected):
        report["sla_open"] = sorted(report["sla_open"], key=lambda r: json.dumps(r, sort_keys=True))
    assert got == expected


def assert_run_mirrors_the_loop(adapter: Adapter, now: datetime, tmp_path: Path) -> None:
    """``leadflow run`` (dry) reads every rejection and outcome the CRM holds and mirrors them,
    as the CRM gives them, into its state store."""
    from leadflow.job import Job, run

    state = SQLiteAdapter(tmp_path / "state.sqlite")
    try:
        report = run(
            Job(name="nightly", now=now, dry_run=True),
            adapter,
            cursors=state,
            history=state,
            mirror=state.mirror,
            record=state.write,
        )
        made = read_all(adapter, Entity.REJECTION)
        became = read_all(adapter, Entity.OUTCOME)
        assert (report.read["rejections"], report.read["outcomes"]) == (len(made), len(became))
        assert sorted(map(repr, state.rejections())) == sorted(map(repr, made))
        assert sorted(map(repr, state.outcomes())) == sorted(map(repr, became))
    finally:
        state.close()
