"""``leadflow report`` over a real SQLite store: the files it writes hold the Python API's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.analytics import build_report, render_html
from leadflow.cli_report import main, report_from_adapter
from leadflow.ports import Entity, OutcomeWrite
from leadflow.rules.scorecard import load_scorecard
from leadflow.rules.sla import load_policies

from .planted import Planted, generate


@pytest.fixture(scope="module")
def planted() -> Planted:
    return generate(1500, seed=5)


@pytest.fixture
def store(tmp_path: Path, planted: Planted) -> Path:
    path = tmp_path / "leadflow.db"
    with SQLiteAdapter(path) as db:
        db.upsert(Entity.LEAD, planted.leads)
        db.upsert(Entity.TOUCH, planted.touches)
        results = db.write([OutcomeWrite(outcome=o) for o in planted.outcomes])
        assert all(r.ok for r in results)
    return path


def test_the_html_is_the_python_api_rendered(store: Path, planted: Planted, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    now = planted.now.isoformat()
    assert main(["report", "--store", str(store), "--out", str(out), "--now", now]) == 0
    expected = build_report(
        leads=planted.leads, touches=planted.touches, outcomes=planted.outcomes, now=planted.now
    )
    assert out.read_text(encoding="utf-8") == render_html(expected)


def test_json_and_csv_with_sla_policies(store: Path, planted: Planted, tmp_path: Path) -> None:
    now = planted.now.isoformat()
    args = ["report", "--store", str(store), "--now", now, "--sla", "examples/sla.toml"]
    args += ["--scorecard", "examples/scorecard.toml"]
    assert main([*args, "--format", "json", "--out", str(tmp_path / "r.json")]) == 0
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    with SQLiteAdapter(store) as db:
        report = report_from_adapter(
            db,
            now=planted.now,
            policies=load_policies("examples/sla.toml"),
            scorecard=load_scorecard("examples/scorecard.toml"),
        )
    assert data == json.loads(json.dumps(report.to_dict()))
    assert {r["key"] for r in data["sla_by_step"]} == {"first_touch", "follow_up_attempts"}
    assert sum(b["leads"] for b in data["score_bands"]) == len(planted.leads)  # all handed off
    assert main([*args, "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    funnel = (tmp_path / "csv" / "conversion.csv").read_text(encoding="utf-8").splitlines()
    assert funnel[0] == "from_stage,to_stage,reached_from,reached_to,rate"
    assert len(funnel) == 1 + len(report.conversion)


def test_bad_input_is_named(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "--store", str(store), "--out", str(tmp_path / "x"), "--now", "2026-03-01"])
    assert exc.value.code == 2
    assert "--now: '2026-03-01' has no UTC offset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--store", str(store), "--sla", str(tmp_path / "missing.toml")])
    assert "missing.toml: cannot be read: No such file or directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--store", str(tmp_path / "nope.db"), "--out", str(tmp_path / "y")])
    assert "--store: " in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()
