"""End to end: ``leadflow run --adapter hubspot --config ...`` against the loopback HubSpot,
through the installed entry point and the real client; a second run writes nothing new."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from tests.adapters import hubspot_fixtures as fx
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.adapters.hubspot import HubSpotAdapter
from leadflow.business_time import BusinessCalendar
from leadflow.cli import main
from leadflow.cli.reporting import report_from_adapter
from leadflow.demo import generate
from leadflow.ports import Entity
from leadflow.rules.scorecard import load_scorecard
from leadflow.rules.sla import load_policies


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    """The portal's clock an hour before the runs' ``--now``: HubSpot stamps a write (and the
    lifecycle date-entered a recycle sets) when it applies it, before the next run starts."""
    with HubSpotEmulator(clock_start=datetime(2026, 3, 2, 8, 0, tzinfo=UTC)) as emu:
        emu.define_property("contacts", *fx.CUSTOM)
        yield emu


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _seed(emulator: HubSpotEmulator, leads: int) -> dict[str, str]:
    """Accounts, leads and touches of a demo company in the emulator; demo id → contact id."""
    data = generate(leads=leads, seed=11)
    seed = fx.seed_into(emulator)
    accounts = seed(Entity.ACCOUNT, data.accounts)
    account_ids = {a.id: s.id for a, s in zip(data.accounts, accounts, strict=True)}
    leads = seed(
        Entity.LEAD,
        [attrs.evolve(lead, account_id=account_ids.get(lead.account_id)) for lead in data.leads],
    )
    lead_ids = {a.id: s.id for a, s in zip(data.leads, leads, strict=True)}
    mapped_kinds = {rule.kind for rule in fx.DEFAULT_TOUCHES.values()}
    seed(
        Entity.TOUCH,
        [
            attrs.evolve(touch, lead_id=lead_ids[touch.lead_id])
            for touch in data.touches
            if touch.kind in mapped_kinds
        ],
    )
    return lead_ids


def _config(
    emulator: HubSpotEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = ""
) -> Path:
    monkeypatch.setenv("LEADFLOW_E2E_HUBSPOT_TOKEN", emulator.token)
    config = tmp_path / "run.toml"
    config.write_text(
        f'store = "state.sqlite"\nscorecard = "{EXAMPLES / "scorecard.toml"}"\n'
        f'sla = "{EXAMPLES / "sla.toml"}"\n'
        f'[adapters.hubspot]\naccess_token_env = "LEADFLOW_E2E_HUBSPOT_TOKEN"\n'
        f'host = "{emulator.url}"\n{extra}'
    )
    return config


def test_leadflow_run_against_hubspot(
    emulator: HubSpotEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lead_ids = _seed(emulator, 120)
    config = _config(emulator, tmp_path, monkeypatch)
    argv = ["run", "--adapter", "hubspot", "--config", str(config), "--now", "2026-03-02T09:00Z"]

    assert main([*argv, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["read"]["leads"] == 120
    assert first["writes"]["score"] == {"applied": 120}
    scored = [emulator.get("contacts", i).get("leadflow_score") for i in lead_ids.values()]
    assert all(s not in (None, "") for s in scored), "every score reached HubSpot"
    assert emulator.token not in json.dumps(first)

    updates = emulator.calls["POST /crm/v3/objects/{type}/batch/update"]
    assert main([*argv, "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["applied"] == 0, (second["writes"], first["writes"])
    assert emulator.calls["POST /crm/v3/objects/{type}/batch/update"] == updates


def test_leadflow_report_reads_hubspot_through_the_run_configuration(
    emulator: HubSpotEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``leadflow report --adapter hubspot --config run.toml``: the adapter built as ``run``
    builds it, the run's SLA policies and scorecard; the file holds what the Python API builds
    from the same adapter."""
    lead_ids = _seed(emulator, 80)
    config = _config(emulator, tmp_path, monkeypatch)
    out = tmp_path / "report.json"
    argv = ["report", "--adapter", "hubspot", "--config", str(config), "--now", "2026-03-02T09:00Z"]
    assert main([*argv, "--format", "json", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["written"] == [str(out)]
    written = json.loads(out.read_text(encoding="utf-8"))

    adapter = HubSpotAdapter.from_config(access_token=emulator.token, host=emulator.url)
    try:
        expected = report_from_adapter(
            adapter,
            now=datetime(2026, 3, 2, 9, tzinfo=UTC),
            policies=load_policies(EXAMPLES / "sla.toml"),
            calendar=BusinessCalendar.weekdays("UTC"),
            scorecard=load_scorecard(EXAMPLES / "scorecard.toml"),
            half_life_strata=("source",),  # the command's default
        )
    finally:
        adapter.close()
    assert json.loads(json.dumps(expected.to_dict())) == written
    assert len(lead_ids) == written["leads"]
    stuck = {row["lead_id"] for row in written["stuck"]}
    assert stuck, "leads waiting in a stage are listed"
    assert stuck <= set(lead_ids.values()), "by their HubSpot contact ids"


def test_a_bad_field_override_names_the_file_and_the_key(
    emulator: HubSpotEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(
        emulator, tmp_path, monkeypatch, '[adapters.hubspot.fields.lead]\nTitel = "jobtitle"\n'
    )
    before = emulator.total_calls
    for command in ("run", "report"):
        assert main([command, "--adapter", "hubspot", "--config", str(config)]) == 2
        err = capsys.readouterr().err
        assert f"{config}: adapters.hubspot.fields.lead.Titel: " in err, err
    assert emulator.total_calls == before, "nothing was sent"
    report = ["report", "--config", str(config)]
    assert main([*report, "--adapter", "hubspot", "--store", str(tmp_path / "s.db")]) == 2
    assert "--store: give --store or --config, not both" in capsys.readouterr().err
    assert main(["report", "--adapter", "hubspot"]) == 2
    assert "--adapter: needs --config FILE" in capsys.readouterr().err


def test_writes_hubspot_refused_stay_due_until_applied(
    emulator: HubSpotEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch HubSpot refuses as a whole fails only the contact holding the bad value; that
    contact's writes stay due: the next run sends them again though nothing about it changed
    in HubSpot, and once HubSpot takes them they are not sent again."""
    lead_ids = _seed(emulator, 60)
    bad = sorted(lead_ids.values())[7]
    emulator.whole_batch_errors = True
    emulator.reject("contacts", bad, 'leadflow_score: "-" is not a valid number')
    config = _config(emulator, tmp_path, monkeypatch)
    argv = ["run", "--adapter", "hubspot", "--config", str(config), "--now", "2026-03-02T09:00Z"]

    assert main([*argv, "--json"]) == 1
    first = json.loads(capsys.readouterr().out)
    assert {p["lead_id"] for p in first["problems"]} == {bad}
    assert emulator.get("contacts", bad).get("leadflow_score") in (None, "")
    scored = [i for i in lead_ids.values() if emulator.get("contacts", i).get("leadflow_score")]
    assert len(scored) == len(lead_ids) - 1, "the rest of each refused batch was applied"

    assert main([*argv, "--json"]) == 1, "still refused: still due"
    again = json.loads(capsys.readouterr().out)
    assert {p["lead_id"] for p in again["problems"]} == {bad}

    emulator.accept("contacts", bad)  # the portal admin fixed the property's validation
    updates = emulator.writes.copy()
    assert main([*argv, "--json"]) == 0
    third = json.loads(capsys.readouterr().out)
    assert third["problems"] == []
    assert emulator.get("contacts", bad).get("leadflow_score") not in (None, "")
    assert emulator.writes[("contacts", bad)] > updates[("contacts", bad)]

    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == 0, "applied once, not due again"


def test_leadflow_run_mirrors_hubspot_rejections_outcomes_and_activities(
    emulator: HubSpotEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What sales decided in HubSpot reaches the state store through ``leadflow run``: the
    rep's rejection with who and when, the deal's outcome, the conversions."""
    from decimal import Decimal

    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.ports import read_all

    rejected, buyer = emulator.seed(
        "contacts",
        [
            {
                "email": f"{n}@example.com",
                "lifecyclestage": "marketingqualifiedlead",
                "hs_lead_status": "OPEN",
                "createdate": "2026-02-01T00:00:00Z",
            }
            for n in ("rejected", "buyer")
        ],
    )
    at = datetime(2026, 2, 20, 15, 0, tzinfo=UTC)
    emulator.touch(
        "contacts",
        rejected,
        by_user=31,
        at=at,
        hs_lead_status="UNQUALIFIED",
        leadflow_reject_reason="no_budget",
    )
    emulator.touch("contacts", buyer, at=at, recent_conversion_event_name="Request a demo")
    [deal] = emulator.seed(
        "deals",
        [
            {
                "hs_is_closed": "true",
                "hs_is_closed_won": "true",
                "amount": "12000",
                "closedate": "2026-02-25T00:00:00Z",
            }
        ],
    )
    emulator.associate("deals", deal, "contacts", buyer)
    config = _config(emulator, tmp_path, monkeypatch)
    argv = ["run", "--adapter", "hubspot", "--config", str(config), "--now", "2026-03-02T09:00Z"]
    main([*argv, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["read"]["rejections"] == 1
    assert report["read"]["outcomes"] == 1
    assert report["read"]["activities"] == 1

    store = SQLiteAdapter(tmp_path / "state.sqlite")
    try:
        rejections = [r for r in read_all(store, Entity.REJECTION) if r.lead_id == rejected]
        [outcome] = read_all(store, Entity.OUTCOME)
        lead = store.leads_by_id([rejected])[rejected]
    finally:
        store.close()
    # the rep's verdict, read once; leadflow's SLA does not reject the lead a second time
    [rejection] = rejections
    assert (lead.stage, lead.history[-1].reason, lead.history[-1].at) == (
        "recycled",
        "no_budget",
        at,
    )
    assert (rejection.lead_id, rejection.code, rejection.by, rejection.at) == (
        rejected,
        "no_budget",
        "31",
        at,
    )
    assert (outcome.lead_id, outcome.kind.value, outcome.amount, outcome.opportunity_id) == (
        buyer,
        "won",
        Decimal("12000"),
        deal,
    )
