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
from tests.adapters.parity import (
    assert_cli_reports_equal,
    assert_run_mirrors_the_loop,
    renamed,
    report_json,
    seconds,
)
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
from leadflow.demo import (
    OWNERS,
    DemoData,
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
    data = _reassigned(seconds(generate(leads=240, seed=11)))
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


def test_the_portal_holds_the_stores_history_rejections_and_outcomes(
    both: tuple[Any, ...],
) -> None:
    _data, store, adapter, names, _settings = both

    def rejections(source: Any) -> list[Any]:
        return sorted(
            [
                *renamed([r.lead_id, r.code, r.at.isoformat(), r.by, r.from_stage], names),
                r.disposition.value,
            ]
            for r in read_all(source, Entity.REJECTION)
        )

    assert rejections(store), "the demo has rejections"
    assert rejections(adapter) == rejections(store)

    def outcomes(source: Any) -> list[Any]:
        return sorted(
            [
                *renamed([o.lead_id, o.recorded_by], names),
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
    expected = report_json(store, data.now)
    got = renamed(report_json(adapter, data.now), names)
    assert expected["rejections"], "the report has rejections to compare"
    assert expected["closed_loop"], "and what became of them"
    assert got == expected


def test_sla_credit_per_owner_needs_the_owner_history(both: tuple[Any, ...]) -> None:
    """Read without ``hubspot_owner_id``'s history, every touch counts for the current owner
    and SLA adherence per owner no longer matches: the equality above rests on that history."""
    data, store, _adapter, names, settings = both
    expected = report_json(store, data.now)
    blind = HubSpotAdapter.from_config({**settings, "owner_history": False})
    try:
        got = renamed(report_json(blind, data.now), names)
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

    data, store, adapter, names, settings = both
    config = tmp_path / "leadflow.toml"
    config.write_text(_toml(settings), encoding="utf-8")
    assert_cli_reports_equal(store, "hubspot", config, names=names, now=data.now, tmp_path=tmp_path)
    assert_run_mirrors_the_loop(adapter, data.now, tmp_path)
