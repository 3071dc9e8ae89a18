"""``leadflow report`` and ``leadflow demo`` over a real SQLite store: the files they write hold
the Python API's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.analytics import build_report, render_html
from leadflow.cli import main
from leadflow.cli.reporting import report_from_adapter
from leadflow.demo import demo_calendar, demo_policies, demo_scorecard
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
    assert (
        main(["report", "--store", str(store), "--out", str(out), "--now", now, "--demo-rules"])
        == 0
    )
    with SQLiteAdapter(store) as db:
        from_store = report_from_adapter(
            db,
            now=planted.now,
            policies=demo_policies(),
            calendar=demo_calendar(),
            scorecard=demo_scorecard(),
            half_life_strata=("source",),  # the command's default
        )
    assert out.read_text(encoding="utf-8") == render_html(from_store)
    # The store round trip loses nothing: the same tables as from the data in memory.
    in_memory = build_report(
        leads=planted.leads, touches=planted.touches, outcomes=planted.outcomes, now=planted.now
    )
    for table in ("rejections", "conversion", "closed_loop", "delay_buckets", "cohorts", "stuck"):
        assert getattr(from_store, table) == getattr(in_memory, table), table
    assert from_store.half_life == in_memory.half_life


def test_json_and_csv_with_given_policies_and_scorecard(
    store: Path, planted: Planted, tmp_path: Path
) -> None:
    now = planted.now.isoformat()
    args = ["report", "--store", str(store), "--now", now, "--policies", "examples/sla.toml"]
    args += ["--demo-rules"]  # the demo calendar, as report_from_adapter below
    args += ["--scorecard", "examples/scorecard.toml"]
    assert main([*args, "--format", "json", "--out", str(tmp_path / "r.json")]) == 0
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    with SQLiteAdapter(store) as db:
        report = report_from_adapter(
            db,
            now=planted.now,
            policies=load_policies("examples/sla.toml"),
            calendar=demo_calendar(),
            scorecard=load_scorecard("examples/scorecard.toml"),
            half_life_strata=("source",),  # the command's default
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
    out = str(tmp_path / "x.html")
    code = main(["report", "--store", str(store), "--out", out, "--now", "2026-03-01"])
    assert code == 2
    assert "--now: '2026-03-01' has no UTC offset" in capsys.readouterr().err
    missing = str(tmp_path / "missing.toml")
    assert main(["report", "--store", str(store), "--out", out, "--policies", missing]) == 2
    assert "missing.toml: no such file" in capsys.readouterr().err
    assert main(["report", "--store", str(tmp_path / "nope.db"), "--out", out]) == 2
    assert "nope.db: no such store" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()
    assert not Path(out).exists()


def test_demo_ends_by_writing_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, report = tmp_path / "demo.sqlite", tmp_path / "demo.html"
    code = main(["demo", "--leads", "300", "--store", str(store), "--report", str(report)])
    assert code == 0
    assert f"Feedback report: {report}" in capsys.readouterr().out
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert 'id="chart-funnel"' in page and 'id="chart-sla"' in page
    assert ">300</b><span>leads in the report" in page
