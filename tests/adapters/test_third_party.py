"""The example third-party adapter is found through its own entry point and passes the contract.

``.ci/run`` installs ``examples/third_party_adapter`` (a separate distribution) into the test
venv and sets ``LEADFLOW_REQUIRE_EXAMPLE=1``, so there the tests below must run; in a dev venv
without it they are skipped with the install command as the reason.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadflow import adapters
from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.ports import Adapter, Entity

INSTALL = "pip install ./examples/third_party_adapter"

if "jsonfile" not in adapters.available():
    if os.environ.get("LEADFLOW_REQUIRE_EXAMPLE") == "1":
        raise RuntimeError(f"the example adapter is not installed; run: {INSTALL}")
    pytest.skip(f"example adapter not installed; run: {INSTALL}", allow_module_level=True)


def test_discovered_through_its_own_distribution() -> None:
    info = adapters.available()["jsonfile"]
    assert info.distribution == "leadflow-jsonfile"
    assert info.target == "leadflow_jsonfile:JsonFileAdapter"
    assert not info.duplicated
    caps = info.capabilities()
    assert caps is not None
    assert caps.can_read(Entity.TOUCH)


def _example_tests() -> Any:
    """The example's own contract test module (examples/third_party_adapter/tests), which
    adapter authors copy: run here through the entry point, so the template stays true."""
    path = (
        Path(__file__).resolve().parents[2] / "examples/third_party_adapter/tests/test_contract.py"
    )
    spec = importlib.util.spec_from_file_location("leadflow_jsonfile_contract_tests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestJsonFileAdapterThroughEntryPoint(_example_tests().TestJsonFileAdapter):  # type: ignore[misc]
    """The example's contract tests and fixtures (``seed``, ``seed_unreadable``, ``config``),
    with the adapter built by ``leadflow.adapters.load`` as a user's program builds it."""

    @pytest.fixture
    def adapter(self, tmp_path: Path) -> Iterator[Adapter]:
        adapter = adapters.load("jsonfile", path=str(tmp_path / "crm.json"), page_size=3)
        yield adapter
        adapter.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Callable[[], Adapter]:
        return lambda: adapters.load("jsonfile", path=str(tmp_path / "crm.json"), page_size=3)


def test_leadflow_run_against_the_third_party_adapter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``leadflow run --adapter jsonfile``: read from it, mirror into the state store, write back;
    a second run writes nothing new."""
    import json

    from leadflow.cli import main
    from leadflow.demo import generate

    data = generate(leads=120, seed=11)
    crm = tmp_path / "crm.json"
    adapter: Any = adapters.load("jsonfile", path=str(crm))
    adapter.put(Entity.ACCOUNT, data.accounts)
    adapter.put(Entity.LEAD, data.leads)
    adapter.put(Entity.ACTIVITY, data.activities)
    adapter.put(Entity.TOUCH, data.touches)
    examples = Path(__file__).resolve().parents[2] / "examples"
    config = tmp_path / "run.toml"
    config.write_text(
        f'store = "state.sqlite"\nscorecard = "{examples / "scorecard.toml"}"\n'
        f'sla = "{examples / "sla.toml"}"\n[adapters.jsonfile]\npath = "{crm}"\n'
    )
    argv = ["run", "--adapter", "jsonfile", "--config", str(config), "--now", "2026-03-02T09:00Z"]
    assert main([*argv, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["read"]["leads"] == 120
    assert first["writes"]["score"] == {"applied": 120}
    stored = json.loads(crm.read_text())
    assert len(stored["scores"]) == 120, "the scores went to the third-party system"
    assert (tmp_path / "state.sqlite").exists(), "cursors and the mirror live in the state store"
    assert first["recorded"] == {"applied": first["applied"]}, "the store keeps the history"
    with SQLiteAdapter(tmp_path / "state.sqlite") as state:
        assert len(state.current_scores()) == 120
        open_clocks = state.open_sla_leads()
    assert open_clocks, "the SLA clocks the CRM holds are known locally too"
    assert main([*argv, "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["applied"] == 0, (second["writes"], first["writes"])
    assert second["read"]["leads"] > 0, "leads written back are read again, and left unchanged"
    later = [*argv[:-1], "2026-03-20T09:00Z", "--json"]
    assert main(later) == 0
    third = json.loads(capsys.readouterr().out)
    assert third["judged"] >= len(open_clocks), "open clocks are judged again as time passes"


def test_leadflow_report_from_the_third_party_adapter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``leadflow report --adapter jsonfile --config run.toml``: the same configuration as
    ``run`` (a relative ``path`` is relative to the file); the report is the Python API's."""
    import json

    from leadflow.business_time import BusinessCalendar
    from leadflow.cli import main
    from leadflow.cli.reporting import report_from_adapter
    from leadflow.demo import generate
    from leadflow.rules.scorecard import load_scorecard
    from leadflow.rules.sla import load_policies

    data = generate(leads=150, seed=3)
    crm = tmp_path / "crm.json"
    adapter: Any = adapters.load("jsonfile", path=str(crm))
    for entity, items in (
        (Entity.ACCOUNT, data.accounts),
        (Entity.LEAD, data.leads),
        (Entity.ACTIVITY, data.activities),
        (Entity.TOUCH, data.touches),
    ):
        adapter.put(entity, items)
    examples = Path(__file__).resolve().parents[2] / "examples"
    config = tmp_path / "run.toml"
    config.write_text(
        f'scorecard = "{examples / "scorecard.toml"}"\nsla = "{examples / "sla.toml"}"\n'
        '[adapters.jsonfile]\npath = "crm.json"\n'
    )
    out = tmp_path / "report.json"
    argv = ["report", "--adapter", "jsonfile", "--config", str(config), "--format", "json"]
    assert main([*argv, "--out", str(out), "--now", data.now.isoformat()]) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    source = adapters.load("jsonfile", path=str(crm))
    try:
        expected = report_from_adapter(
            source,
            now=data.now,
            policies=load_policies(examples / "sla.toml"),
            calendar=BusinessCalendar.weekdays("UTC"),
            scorecard=load_scorecard(examples / "scorecard.toml"),
            half_life_strata=("source",),  # the command's default
        )
    finally:
        source.close()
    assert json.loads(json.dumps(expected.to_dict())) == written
    assert len(data.leads) == written["leads"]
    assert written["sla_by_step"], "the run's SLA policies were evaluated"
    assert sum(row["leads"] for row in written["score_bands"]) > 0, "and its scorecard used"
