"""``leadflow run`` and ``demo`` stamp what they record with the job's instant, never a clock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.adapters.testing import sample_leads
from leadflow.cli import Exit, main
from leadflow.ports import Entity

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = "2026-04-01T12:00:00+00:00"


def _stamps(path: Path, table: str) -> set[str | None]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute(f"SELECT recorded_at FROM {table}")}
    finally:
        conn.close()


def test_run_stamps_the_rows_it_records_with_its_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "s.sqlite"
    with SQLiteAdapter(store) as adapter:
        adapter.upsert(Entity.LEAD, sample_leads(20))
    config = tmp_path / "run.toml"
    config.write_text(
        f'store = "{store}"\nscorecard = "{EXAMPLES / "scorecard.toml"}"\n'
        f'[adapters.sqlite]\npath = "{store}"\n'
    )
    code = main(["run", "--config", str(config), "--now", NOW, "--quiet"])
    assert code == Exit.OK, capsys.readouterr()
    assert _stamps(store, "scores") == {NOW}
    assert len(SQLiteAdapter(store).current_scores()) == 20


def test_demo_stamps_its_history_with_the_demo_instant(tmp_path: Path) -> None:
    from leadflow.demo import generate

    store = tmp_path / "demo.sqlite"
    assert main(["demo", "--store", str(store), "--leads", "40", "--quiet"]) == Exit.OK
    now = generate(leads=40, seed=7).now.isoformat()
    for table in ("scores", "rejections", "outcomes", "sla_clocks"):
        stamps = _stamps(store, table)
        assert stamps <= {now}, (table, stamps)
    assert _stamps(store, "scores") == {now}
