"""``leadflow run --adapter salesforce --config ...`` end to end against the loopback emulator.

The real console script runs in a subprocess; its Salesforce adapter (the real simple-salesforce
client) reaches the emulator this test process serves on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from tests.emulators.salesforce import SalesforceEmulator
from tests.emulators.salesforce_seed import EmulatorSeeder

from leadflow.adapters.testing import (
    sample_accounts,
    sample_activities,
    sample_leads,
    sample_touches,
)
from leadflow.ports import Entity

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LEADFLOW = Path(sys.executable).with_name("leadflow")


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(ca=trustme.CA(), cert_dir=tmp_path, page_size=40) as emulator:
        yield emulator


def _run(config: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [
            str(LEADFLOW),
            "run",
            "--adapter",
            "salesforce",
            "--config",
            str(config),
            "--now",
            "2026-03-09T12:00:00+00:00",
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, report, done.stderr


def test_leadflow_run_against_salesforce(emu: SalesforceEmulator, tmp_path: Path) -> None:
    seed = EmulatorSeeder(emu)
    accounts = seed(Entity.ACCOUNT, sample_accounts(5))
    leads = seed(Entity.LEAD, sample_leads(60, accounts=accounts))
    seed(Entity.ACTIVITY, sample_activities(leads, per_lead=2))
    seed(Entity.TOUCH, sample_touches(leads[::2], per_lead=1))
    config = tmp_path / "leadflow.toml"
    config.write_text(
        f'store = "state.sqlite"\n'
        f'scorecard = "{EXAMPLES / "scorecard.toml"}"\n'
        f'sla = "{EXAMPLES / "sla.toml"}"\n'
        "[adapters.salesforce]\n"
        f'instance_url = "{emu.url}"\n'
        f'access_token = "{emu.session_id}"\n'
        f'ca_bundle = "{emu.ca_path}"\n'
    )
    code, report, stderr = _run(config)
    assert code == 0, stderr
    assert report["read"] == {"leads": 60, "accounts": 5, "activities": 120, "touches": 30}
    assert report["problems"] == []
    stored = [emu.get("Lead", lead.id) for lead in leads]
    assert all(r["Leadflow_Score__c"] is not None for r in stored), "every lead got its score"
    moved = report["writes"]["stage"]["applied"]
    assert moved > 0
    assert sum(r["Leadflow_Stage__c"] == "mql" for r in stored) == moved
    assert emu.session_id not in stderr + json.dumps(report)

    # Nothing changed in Salesforce since: a second run reads only what the first one wrote
    # back and applies nothing twice.
    again_code, again, stderr = _run(config)
    assert again_code == 0, stderr
    applied = sum(by.get("applied", 0) for by in again["writes"].values())
    assert applied == 0, again["writes"]
