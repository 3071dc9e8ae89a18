"""End to end: ``leadflow run --adapter hubspot --config ...`` against the loopback HubSpot,
through the installed entry point and the real client; a second run writes nothing new."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from tests.adapters import hubspot_fixtures as fx
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.cli import main
from leadflow.demo import generate
from leadflow.ports import Entity

emulator = fx.emulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_leadflow_run_against_hubspot(
    emulator: HubSpotEmulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = generate(leads=120, seed=11)
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
    monkeypatch.setenv("LEADFLOW_E2E_HUBSPOT_TOKEN", emulator.token)
    config = tmp_path / "run.toml"
    config.write_text(
        f'store = "state.sqlite"\nscorecard = "{EXAMPLES / "scorecard.toml"}"\n'
        f'sla = "{EXAMPLES / "sla.toml"}"\n'
        f'[adapters.hubspot]\naccess_token_env = "LEADFLOW_E2E_HUBSPOT_TOKEN"\n'
        f'host = "{emulator.url}"\n'
    )
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
