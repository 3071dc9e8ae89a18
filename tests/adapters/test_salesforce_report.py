"""The feedback report read from Salesforce equals the one read from the demo store.

The demo's data (kept to the whole seconds Salesforce keeps) is loaded into the embedded store as
``leadflow demo`` loads it, and into the loopback Salesforce emulator as an org holding the same
facts would (``seed_org``: field history, converted and closed opportunities, campaign members,
tasks). The report built from each — rejection reasons with who and when, SLA adherence from the
hand-off times, what became of rejected leads, score validity — is the same, number for number.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from tests.adapters.parity import (
    assert_cli_reports_equal,
    assert_run_mirrors_the_loop,
    renamed,
    report_json,
    seconds,
)
from tests.emulators.salesforce import LEADFLOW_CUSTOM_FIELDS, SalesforceEmulator
from tests.emulators.salesforce_seed import make_adapter, seed_org

from leadflow.adapters.salesforce import DEFAULT_MAPPING
from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.demo import generate
from leadflow.ports import Entity, read_all


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Any]]:
    data = seconds(generate(leads=240, seed=11))
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


def test_the_report_from_salesforce_equals_the_demo_stores(both: tuple[Any, Any, Any]) -> None:
    data, store, adapter = both
    expected = report_json(store, data.now)
    ids = {lead.email: lead.id for lead in read_all(store, Entity.LEAD)}
    names = {lead.id: ids[lead.email] for lead in read_all(adapter, Entity.LEAD)}
    got = renamed(report_json(adapter, data.now), names)
    assert expected["rejections"], "the report has rejections to compare"
    assert expected["closed_loop"], "and what became of them"
    assert got == expected


def test_leadflow_report_and_run_read_them_from_salesforce(
    both: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    """``leadflow report --adapter salesforce --config ...`` gives the numbers ``leadflow report
    --store`` gives over the demo store; ``leadflow run`` mirrors the org's rejections and
    outcomes into its state store."""

    data, store, adapter = both
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
    ids = {lead.email: lead.id for lead in read_all(store, Entity.LEAD)}
    names = {lead.id: ids[lead.email] for lead in read_all(adapter, Entity.LEAD)}
    assert_cli_reports_equal(
        store, "salesforce", config, names=names, now=data.now, tmp_path=tmp_path
    )
    assert_run_mirrors_the_loop(adapter, data.now, tmp_path)
