"""SLA on files: ``evaluate_sla_files`` and ``leadflow sla --leads/--touches/--out``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from leadflow.business_time import load_calendars
from leadflow.cli import main
from leadflow.etl import compile_sla, evaluate_sla_files
from leadflow.rules.sla import load_policies

from .sla_helpers import expected_rows, leads_table, touches_table, utc_rows
from .test_sla import NOW, random_data

POLICIES = "examples/sla.toml"
CALENDARS = "examples/calendars.toml"


def _write(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".csv":
        # CSV carries text: instants as ISO-8601 with their offset
        columns = {
            name: (
                pa.array([None if v is None else v.isoformat() for v in col.to_pylist()])
                if pa.types.is_timestamp(col.type)
                else col
            )
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
        pacsv.write_csv(pa.table(columns), path)
    else:
        pq.write_table(table, path, row_group_size=70)
    return path


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_files_equal_per_record(tmp_path: Path, suffix: str) -> None:
    from leadflow.rules.sla import evaluate_many

    plan = compile_sla(load_policies(POLICIES), load_calendars(CALENDARS))
    leads, touches = random_data(7, n=250)
    lead_file = _write(leads_table(leads), tmp_path / f"leads{suffix}")
    touch_file = _write(touches_table(touches), tmp_path / f"touches{suffix}")
    out = tmp_path / f"sla{suffix}"
    summary = evaluate_sla_files(
        plan, lead_file, touch_file, out, now=NOW, errors=tmp_path / "e.csv", batch_size=64
    )
    evaluations = evaluate_many(
        leads, touches, now=NOW, policies=plan.policies, calendar=plan.calendar
    )
    # rows come sorted by lead id (a stable order a pipeline can key on), steps in policy order
    expected = sorted(expected_rows(evaluations), key=lambda r: r["lead_id"])
    written = pq.read_table(out) if suffix == ".parquet" else None
    if written is not None:
        assert utc_rows(written.to_pylist()) == expected
    else:
        text = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
        assert [(r["lead_id"], r["step"], r["state"]) for r in text] == [
            (r["lead_id"], r["step"], r["state"]) for r in expected
        ]
    assert summary.leads_read == 250
    assert summary.touches_read == len(touches)
    assert summary.leads_evaluated == len(evaluations)
    assert summary.rows_written == len(expected)
    assert summary.rows_refused == 0


def test_bad_rows_are_written_to_the_errors_file(tmp_path: Path) -> None:
    plan = compile_sla(load_policies(POLICIES), load_calendars(CALENDARS))
    leads, touches = random_data(8, n=40)
    lead_file = _write(leads_table(leads), tmp_path / "leads.csv")
    touch_file = _write(touches_table(touches), tmp_path / "touches.csv")
    rows = list(csv.DictReader(touch_file.read_text(encoding="utf-8").splitlines()))
    rows[3]["kind"] = "carrier_pigeon"
    rows[5]["at"] = "2026-03-02T10:00:00"  # no offset
    good = [r for i, r in enumerate(rows) if i not in (3, 5)]
    with touch_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    errors = tmp_path / "errors.csv"
    summary = evaluate_sla_files(plan, lead_file, touch_file, tmp_path / "o.parquet", now=NOW,
                                 errors=errors, batch_size=16)  # fmt: skip
    refused = list(csv.DictReader(errors.read_text(encoding="utf-8").splitlines()))
    assert sorted((r["source"], r["row"], r["field"], r["value"]) for r in refused) == [
        ("touches.csv", "3", "kind", "carrier_pigeon"),
        ("touches.csv", "5", "at", "2026-03-02T10:00:00"),
    ]
    assert summary.rows_refused == 2
    clean = tmp_path / "clean.csv"
    with clean.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(good)
    again = evaluate_sla_files(plan, lead_file, clean, tmp_path / "c.parquet", now=NOW)
    assert pq.read_table(tmp_path / "o.parquet").equals(pq.read_table(tmp_path / "c.parquet"))
    assert again.rows_refused == 0


def test_sla_command_file_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = compile_sla(load_policies(POLICIES), load_calendars(CALENDARS))
    leads, touches = random_data(9, n=60)
    lead_file = _write(leads_table(leads), tmp_path / "leads.parquet")
    touch_file = _write(touches_table(touches), tmp_path / "touches.parquet")
    out = tmp_path / "sla.parquet"
    code = main(
        ["sla", "--json", "--leads", str(lead_file), "--touches", str(touch_file),
         "--out", str(out), "--errors", str(tmp_path / "e.csv"), "--policies", POLICIES,
         "--calendar", CALENDARS, "--now", NOW.isoformat()]
    )  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["leads_read"] == 60 and report["rows_refused"] == 0
    expected = plan.evaluate(pq.read_table(lead_file), pq.read_table(touch_file), now=NOW)
    order = sorted(range(expected.num_rows), key=lambda i: expected.column("lead_id")[i].as_py())
    assert pq.read_table(out).equals(expected.take(order))
    assert report["rows_written"] == expected.num_rows


def test_sla_file_mode_needs_its_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sla", "--leads", str(tmp_path / "l.csv"), "--policies", POLICIES])
    assert code != 0
    assert "--touches: is required with --leads" in capsys.readouterr().err
