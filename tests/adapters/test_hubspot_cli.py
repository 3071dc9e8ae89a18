"""End to end: ``leadflow run --adapter hubspot --config ...`` against the loopback HubSpot,
through the installed entry point and the real client; a second run writes nothing new."""

from __future__ import annotations

import json
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

emulator = fx.emulator

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
