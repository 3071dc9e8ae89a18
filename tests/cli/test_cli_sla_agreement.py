"""The demo's numbers agree with the commands it suggests (issue 13): the job's SLA line and
``leadflow sla`` for the same instant count the same leads in each state, and the adherence
table's columns add up (a ``stopped`` column)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadflow.cli import main
from leadflow.cli.base import Exit


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == Exit.OK, out
    data: dict[str, object] = json.loads(out)
    return data


def test_the_demo_the_job_and_leadflow_sla_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "demo.sqlite"
    demo = _json(capsys, "demo", "--store", str(store), "--leads", "600")
    as_of = str(demo["as_of"])
    run = demo["run"]
    assert isinstance(run, dict)
    job_states = {k: v for k, v in run["sla"].items() if k != "final_actions"}
    assert run["sla"].get("final_actions", 0) > 0, "the demo has cadences that ran out"
    sla = _json(capsys, "sla", "--store", str(store), "--now", as_of, "--by", "owner,step")
    assert sla["states"] == job_states
    assert demo["sla_leads_by_state"] == job_states
    for row in sla["adherence"]:  # type: ignore[attr-defined]
        assert row["steps"] == row["met"] + row["breached"] + row["pending"] + row["stopped"]
    assert any(row["stopped"] for row in sla["adherence"])  # type: ignore[attr-defined]
    # The table printed shows the stopped column too.
    assert main(["sla", "--store", str(store), "--now", as_of]) == Exit.OK
    header = capsys.readouterr().out.splitlines()[1].split()
    assert header[:6] == ["owner", "steps", "met", "breached", "pending", "stopped"]
