"""The feedback report read from HubSpot equals the one read from the demo store.

The demo's data (kept to the whole seconds the store and HubSpot both hold) is loaded into the
embedded store as ``leadflow demo`` loads it, and into the loopback HubSpot emulator as a portal
holding the same facts would (``seed_portal``: the lifecycle stage and lead status property
histories with each change's instant and author, reps' rejections as ``hs_lead_status`` plus a
reason, conversions and e-mail engagement, calls and e-mails, closed deals). The report built
from each — the funnel, rejection reasons with who and when, SLA adherence per owner from the
hand-off times and the owner at the time (a fifth of the handed-off leads were reassigned after
the hand-off), what became of rejected leads, score validity — is the same, number for number.
Only the ids differ (HubSpot numbers its records, owners and users): they are renamed back
before comparing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from tests.adapters.test_salesforce_report import _seconds
from tests.emulators.hubspot import HubSpotEmulator
from tests.emulators.hubspot_seed import (
    CAMPAIGN_PROPERTY,
    COMPETITOR_PROPERTY,
    EMAIL_KINDS,
    People,
    seed_portal,
)

from leadflow.adapters.hubspot import HubSpotAdapter
from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.cli.reporting import report_from_adapter
from leadflow.demo import (
    OWNERS,
    DemoData,
    demo_calendar,
    demo_policies,
    demo_scorecard,
    generate,
)
from leadflow.model import OwnerChange
from leadflow.ports import Entity, read_all


def _settings(emu: HubSpotEmulator, kinds: set[str]) -> dict[str, Any]:
    """The adapter settings a portal like the seeded one needs: where the campaign is kept,
    which conversions are which activity kinds, where the competitor's name is."""
    return {
        "access_token": emu.token,
        "host": emu.url,
        "fields": {"lead": {"campaign": CAMPAIGN_PROPERTY}},
        "activities": {"conversion_kinds": {k: k for k in sorted(kinds - set(EMAIL_KINDS))}},
        "outcomes": {"competitor_property": COMPETITOR_PROPERTY},
        # This portal does not limit searches (test_hubspot_limits.py checks the pacing at
        # HubSpot's five a second); pace at 50 so the test does not wait seconds.
        "search_rate": 50,
    }


def _reassigned(data: DemoData) -> DemoData:
    """*data* with every fifth handed-off lead first held by another rep, who had it until
    three hours after the hand-off (then it was reassigned to its owner): SLA credit per owner
    then depends on the owner history."""
    reps = sorted(OWNERS)
    leads = []
    for n, lead in enumerate(data.leads):
        if lead.handed_off_at is not None and n % 5 == 0:
            before = reps[(reps.index(lead.owner_id or "u-ana") + 1) % len(reps)]
            history = (
                OwnerChange(owner_id=before, at=lead.created_at),
                OwnerChange(
                    owner_id=lead.owner_id, at=lead.handed_off_at + timedelta(hours=3), by="u-fay"
                ),
            )
            leads.append(attrs.evolve(lead, owner_history=history))
        else:
            leads.append(lead)
    return attrs.evolve(data, leads=tuple(leads))


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    data = _reassigned(_seconds(generate(leads=240, seed=11)))
    assert sum(1 for lead in data.leads if lead.owner_history) >= 15
    store = SQLiteAdapter(tmp_path_factory.mktemp("store") / "demo.sqlite", now=data.now)
    for entity, items in (
        (Entity.ACCOUNT, data.accounts),
        (Entity.LEAD, data.leads),
        (Entity.ACTIVITY, data.activities),
        (Entity.TOUCH, data.touches),
    ):
        store.upsert(entity, items)
    assert all(r.ok for r in store.write([*data.rejections, *data.outcomes]))
    people = People()
    with HubSpotEmulator() as emu:
        ids = seed_portal(emu, store, people)
        kinds = {a.kind for a in read_all(store, Entity.ACTIVITY)}
        settings = _settings(emu, kinds)
        adapter = HubSpotAdapter.from_config(settings)
        names = {**{v: k for k, v in ids.items()}, **people.names()}
        yield data, store, adapter, names, settings
        adapter.close()
    store.close()


def _report(adapter: Any, now: Any) -> dict[str, Any]:
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


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """*value* (plain data) with every HubSpot id (keys too) replaced by the store's name."""
    if isinstance(value, dict):
        return {_renamed(k, names): _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def test_the_portal_holds_the_stores_history_rejections_and_outcomes(
    both: tuple[Any, ...],
) -> None:
    _data, store, adapter, names, _settings = both

    def rejections(source: Any) -> list[Any]:
        return sorted(
            [
                *_renamed([r.lead_id, r.code, r.at.isoformat(), r.by, r.from_stage], names),
                r.disposition.value,
            ]
            for r in read_all(source, Entity.REJECTION)
        )

    assert rejections(store), "the demo has rejections"
    assert rejections(adapter) == rejections(store)

    def outcomes(source: Any) -> list[Any]:
        return sorted(
            [
                *_renamed([o.lead_id, o.recorded_by], names),
                *(o.kind.value, o.at.isoformat(), str(o.amount), o.reason, o.competitor),
            ]
            for o in read_all(source, Entity.OUTCOME)
        )

    assert outcomes(adapter) == outcomes(store)
    mine = {names[lead.id]: lead for lead in read_all(adapter, Entity.LEAD)}
    leads = read_all(store, Entity.LEAD)
    assert len(mine) == len(leads)
    for lead in leads:
        got = mine[lead.id]
        assert [
            (c.from_stage, c.to_stage, c.at, names.get(c.by or "", c.by), c.reason)
            for c in got.history
        ] == [(c.from_stage, c.to_stage, c.at, c.by, c.reason) for c in lead.history], lead.id
        assert (got.stage, got.handed_off_at) == (lead.stage, lead.handed_off_at), lead.id
        assert names.get(got.owner_id or "") == lead.owner_id
        assert [
            (names.get(c.owner_id or ""), c.at, names.get(c.by or "")) for c in got.owner_history
        ] == [(c.owner_id, c.at, c.by) for c in lead.owner_history], lead.id

    def activities(source: Any) -> list[Any]:
        return sorted(
            (names.get(a.lead_id, a.lead_id), a.kind, a.occurred_at)
            for a in read_all(source, Entity.ACTIVITY)
        )

    assert activities(adapter) == activities(store)


def test_the_report_from_hubspot_equals_the_demo_stores(both: tuple[Any, ...]) -> None:
    data, store, adapter, names, _settings = both
    expected = _report(store, data.now)
    got = _renamed(_report(adapter, data.now), names)
    assert expected["rejections"], "the report has rejections to compare"
    assert expected["closed_loop"], "and what became of them"
    assert got == expected


def test_sla_credit_per_owner_needs_the_owner_history(both: tuple[Any, ...]) -> None:
    """Read without ``hubspot_owner_id``'s history, every touch counts for the current owner
    and SLA adherence per owner no longer matches: the equality above rests on that history."""
    data, store, _adapter, names, settings = both
    expected = _report(store, data.now)
    blind = HubSpotAdapter.from_config({**settings, "owner_history": False})
    try:
        got = _renamed(_report(blind, data.now), names)
    finally:
        blind.close()
    assert got["sla_by_owner"] != expected["sla_by_owner"]
    assert got["conversion"] == expected["conversion"], "the rest is read as before"


def _toml(settings: dict[str, Any]) -> str:
    """*settings* as an ``[adapters.hubspot]`` TOML table (strings and nested tables only)."""
    lines: list[str] = []

    def table(path: str, values: dict[str, Any]) -> None:
        lines.append(f"[{path}]")
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        lines.extend(
            f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items() if k not in nested
        )
        for key, inner in nested.items():
            table(f"{path}.{key}", inner)

    table("adapters.hubspot", settings)
    return "\n".join(lines) + "\n"


def test_leadflow_report_and_run_read_them_from_hubspot(
    both: tuple[Any, ...], tmp_path: Path
) -> None:
    """``leadflow report --adapter hubspot --config ...`` gives the numbers ``leadflow report
    --store`` gives over the demo store; ``leadflow run`` mirrors the portal's rejections and
    outcomes into its state store."""
    from leadflow.cli import main
    from leadflow.job import Job, run

    data, store, adapter, names, settings = both
    examples = Path(__file__).resolve().parents[2] / "examples"
    config = tmp_path / "leadflow.toml"
    config.write_text(_toml(settings), encoding="utf-8")
    calendar = tmp_path / "calendar.toml"
    calendar.write_text('zone = "UTC"\nhours = { mon-fri = "09:00-17:00" }\n')
    rules = [
        *("--policies", str(examples / "sla.toml")),
        *("--scorecard", str(examples / "scorecard.toml")),
        *("--calendar", str(calendar)),
    ]
    common = ["--format", "json", "--now", data.now.isoformat(), *rules]
    from_store, from_portal = tmp_path / "store.json", tmp_path / "portal.json"
    assert main(["report", "--store", store.path, "--out", str(from_store), *common]) == 0
    portal = ["report", "--adapter", "hubspot", "--config", str(config)]
    assert main([*portal, "--out", str(from_portal), *common]) == 0
    expected = json.loads(from_store.read_text(encoding="utf-8"))
    got = _renamed(json.loads(from_portal.read_text(encoding="utf-8")), names)
    assert expected["rejections_total"] > 0
    # Open steps due at the same instant (the close of a business day) are ordered by lead id,
    # which differs between the portal and the store before renaming: compare them as sets.
    for report in (got, expected):
        report["sla_open"] = sorted(report["sla_open"], key=lambda r: json.dumps(r, sort_keys=True))
    assert got == expected

    state = SQLiteAdapter(tmp_path / "state.sqlite")
    report = run(
        Job(name="nightly", now=data.now, dry_run=True),
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
    state.close()
