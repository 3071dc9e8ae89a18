"""The feedback report read from Salesforce equals the one read from the demo store.

The demo's data (kept to the whole seconds Salesforce keeps) is loaded into the embedded store as
``leadflow demo`` loads it, and into the loopback Salesforce emulator as an org holding the same
facts would (``seed_org``: field history, converted and closed opportunities, campaign members,
tasks). The report built from each — rejection reasons with who and when, SLA adherence from the
hand-off times, what became of rejected leads, score validity — is the same, number for number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
import trustme
from tests.emulators.salesforce import LEADFLOW_CUSTOM_FIELDS, SalesforceEmulator
from tests.emulators.salesforce_seed import make_adapter, seed_org

from leadflow.adapters.salesforce import DEFAULT_MAPPING
from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.cli.reporting import report_from_adapter
from leadflow.demo import demo_calendar, demo_policies, demo_scorecard, generate
from leadflow.ports import Entity, read_all


def _seconds(value: Any) -> Any:
    """*value* with every datetime in it (nested attrs values, tuples) cut to whole seconds."""
    if isinstance(value, datetime):
        return value.replace(microsecond=0)
    if isinstance(value, tuple):
        return tuple(_seconds(v) for v in value)
    if attrs.has(type(value)):
        changes = {
            f.name: _seconds(getattr(value, f.name))
            for f in attrs.fields(type(value))
            if (f.init and isinstance(getattr(value, f.name), datetime | tuple))
            or attrs.has(type(getattr(value, f.name)))
        }
        return attrs.evolve(value, **changes) if changes else value
    return value


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Any]]:
    data = _seconds(generate(leads=240, seed=11))
    store = SQLiteAdapter(tmp_path_factory.mktemp("store") / "demo.sqlite", now=data.now)
    for entity, items in (
        (Entity.ACCOUNT, data.accounts),
        (Entity.LEAD, data.leads),
        (Entity.ACTIVITY, data.activities),
        (Entity.TOUCH, data.touches),
    ):
        store.upsert(entity, items)
    assert all(r.ok for r in store.write([*data.rejections, *data.outcomes]))
    # The org keeps each lead's campaign in a custom field the mapping names; activity kinds
    # and loss reasons are its own picklist values, mapped as data.
    custom = {**LEADFLOW_CUSTOM_FIELDS, "Lead_Campaign__c": "string"}
    mapping = DEFAULT_MAPPING.override({"fields": {"lead": {"campaign": "Lead_Campaign__c"}}})
    with SalesforceEmulator(
        ca=trustme.CA(),
        cert_dir=tmp_path_factory.mktemp("sf"),
        page_size=500,
        custom_fields=custom,
    ) as emu:
        seed_org(emu, store, mapping)
        kinds = {a.kind for a in read_all(store, Entity.ACTIVITY)}
        reasons = {o.reason for o in read_all(store, Entity.OUTCOME) if o.reason}
        adapter = make_adapter(
            emu,
            fields={"lead": {"campaign": "Lead_Campaign__c"}},
            activity_kinds={k: k for k in kinds},
            loss_reasons=dict.fromkeys(reasons, "lost"),
        )
        yield data, store, adapter
        adapter.close()
    store.close()


def _report(adapter: Any, now: datetime) -> dict[str, Any]:
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


def test_the_org_holds_the_stores_rejections_and_outcomes(both: tuple[Any, Any, Any]) -> None:
    _data, store, adapter = both
    ids = {lead.email: lead.id for lead in read_all(store, Entity.LEAD)}
    sf_ids = {lead.email: lead.id for lead in read_all(adapter, Entity.LEAD)}
    to_store = {sf_ids[e]: ids[e] for e in ids}

    def rejections(source: Any, lead_id: Any) -> list[Any]:
        return sorted(
            (lead_id(r.lead_id), r.code, r.at, r.by, r.from_stage, r.disposition)
            for r in read_all(source, Entity.REJECTION)
        )

    assert rejections(adapter, to_store.__getitem__) == rejections(store, str)

    def outcomes(source: Any, lead_id: Any) -> list[Any]:
        return sorted(
            (lead_id(o.lead_id), o.kind.value, o.at, o.amount, o.reason, o.competitor)
            for o in read_all(source, Entity.OUTCOME)
        )

    assert outcomes(adapter, to_store.__getitem__) == outcomes(store, str)
    sf_leads = {to_store[lead.id]: lead for lead in read_all(adapter, Entity.LEAD)}
    for lead in read_all(store, Entity.LEAD):
        mine = sf_leads[lead.id]
        assert [(c.from_stage, c.to_stage, c.at, c.by) for c in mine.history] == [
            (c.from_stage, c.to_stage, c.at, c.by) for c in lead.history
        ], lead.id
        assert (mine.stage, mine.handed_off_at) == (lead.stage, lead.handed_off_at)


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """*value* (plain data) with every Salesforce record id replaced by the store's."""
    if isinstance(value, dict):
        return {k: _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def test_the_report_from_salesforce_equals_the_demo_stores(both: tuple[Any, Any, Any]) -> None:
    data, store, adapter = both
    expected = _report(store, data.now)
    ids = {lead.email: lead.id for lead in read_all(store, Entity.LEAD)}
    names = {lead.id: ids[lead.email] for lead in read_all(adapter, Entity.LEAD)}
    got = _renamed(_report(adapter, data.now), names)
    assert expected["rejections"], "the report has rejections to compare"
    assert expected["closed_loop"], "and what became of them"
    assert got == expected


def test_leadflow_report_and_run_read_them_from_salesforce(
    both: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    """``leadflow report --adapter salesforce --config ...`` gives the numbers ``leadflow report
    --store`` gives over the demo store; ``leadflow run`` mirrors the org's rejections and
    outcomes into its state store."""
    from leadflow.cli import main
    from leadflow.job import Job, run

    data, store, adapter = both
    examples = Path(__file__).resolve().parents[2] / "examples"
    kinds = {a.kind for a in read_all(store, Entity.ACTIVITY)}
    reasons = {o.reason for o in read_all(store, Entity.OUTCOME) if o.reason}
    client = adapter._client()
    config = tmp_path / "leadflow.toml"
    config.write_text(
        "[adapters.salesforce]\n"
        f'instance_url = "https://{client.sf_instance}"\n'
        f'access_token = "{client.session_id}"\n'
        f'ca_bundle = "{client.session.verify}"\n'
        '[adapters.salesforce.fields.lead]\ncampaign = "Lead_Campaign__c"\n'
        "[adapters.salesforce.activity_kinds]\n"
        + "".join(f'{k} = "{k}"\n' for k in sorted(kinds))
        + "[adapters.salesforce.loss_reasons]\n"
        + "".join(f'{r} = "lost"\n' for r in sorted(reasons))
    )
    calendar = tmp_path / "calendar.toml"
    calendar.write_text('zone = "UTC"\nhours = { mon-fri = "09:00-17:00" }\n')
    rules = [
        *("--policies", str(examples / "sla.toml")),
        *("--scorecard", str(examples / "scorecard.toml")),
        *("--calendar", str(calendar)),
    ]
    common = ["--format", "json", "--now", data.now.isoformat(), *rules]
    from_store, from_org = tmp_path / "store.json", tmp_path / "org.json"
    assert main(["report", "--store", store.path, "--out", str(from_store), *common]) == 0
    org = ["report", "--adapter", "salesforce", "--config", str(config)]
    assert main([*org, "--out", str(from_org), *common]) == 0
    expected = json.loads(from_store.read_text(encoding="utf-8"))
    ids = {lead.email: lead.id for lead in read_all(store, Entity.LEAD)}
    names = {lead.id: ids[lead.email] for lead in read_all(adapter, Entity.LEAD)}
    got = _renamed(json.loads(from_org.read_text(encoding="utf-8")), names)
    assert expected["rejections_total"] > 0
    # Open steps due at the same instant (the close of a business day) are ordered by lead id,
    # which differs between the org and the store before renaming: compare them as sets.
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
