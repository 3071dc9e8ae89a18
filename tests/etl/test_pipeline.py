"""score_files: file to file in bounded memory, bad rows to the errors file, partitions."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from leadflow.errors import ValidationError
from leadflow.etl import compile_scorecard, score_files
from leadflow.etl.synthetic import GeneratedFiles
from leadflow.rules.scorecard import load_scorecard

from .conftest import AS_OF

CARD = load_scorecard("examples/scorecard.toml")


def scores_by_id(path: Path) -> dict[str, tuple[float, str]]:
    table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
    return {row["id"]: (float(row["score"]), row["recommendation"]) for row in table.to_pylist()}


def test_files_score_like_the_in_memory_plan(small_files: GeneratedFiles, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    summary = score_files(CARD, small_files.leads, small_files.events, out, as_of=AS_OF,
                          batch_size=64)  # fmt: skip
    assert (summary.leads_read, summary.leads_scored, summary.rows_refused) == (300, 300, 0)
    assert summary.events_read == small_files.event_rows
    expected = compile_scorecard(CARD).score(
        pq.read_table(small_files.leads), pq.read_table(small_files.events), as_of=AS_OF
    )
    got = scores_by_id(out)
    for row in expected.to_pylist():
        assert got[row["id"]][0] == pytest.approx(row["score"], abs=1e-9)
        assert got[row["id"]][1] == row["recommendation"]


def test_partitioned_run_equals_single_pass(small_files: GeneratedFiles, tmp_path: Path) -> None:
    single, parted = tmp_path / "one.parquet", tmp_path / "parts.csv"
    score_files(CARD, small_files.leads, small_files.events, single, as_of=AS_OF)
    summary = score_files(CARD, small_files.leads, small_files.events, parted, as_of=AS_OF,
                          partitions=5, batch_size=50, workdir=tmp_path)  # fmt: skip
    assert summary.leads_scored == 300
    one, many = scores_by_id(single), scores_by_id(parted)
    assert one.keys() == many.keys()
    for lead_id, (score, recommendation) in one.items():
        assert many[lead_id][0] == pytest.approx(score, abs=1e-9)
        assert many[lead_id][1] == recommendation
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("leadflow-")] == []


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("partitions", [1, 2])
def test_bad_rows_go_to_the_errors_file_and_good_rows_continue(
    tmp_path: Path, partitions: int
) -> None:
    leads = write_csv(
        tmp_path / "leads.csv",
        ["id", "created_at", "title", "email", "annual_revenue", "industry"],
        [
            ["L-1", "2026-01-05T10:00:00Z", "VP Sales", "ann@example.com", "250", ""],
            ["L-2", "2026-01-05T10:00:00", "CEO", "bo@example.com", "10", ""],
            ["L-3", "2026-01-05T10:00:00+02:00", "Intern", "cy@gmail.com", "lots", ""],
            ["L-4", "2026-01-05T10:00:00+02:00", "Director", "", "", ""],
        ],
    )
    events = write_csv(
        tmp_path / "events.csv",
        ["id", "lead_id", "kind", "occurred_at"],
        [
            ["E-1", "L-1", "quote_request", "2026-02-28T09:00:00Z"],
            ["E-2", "L-1", "demo_request", "yesterday"],
            ["E-3", "", "demo_request", "2026-02-28T09:00:00Z"],
            ["E-4", "L-4", "webinar_attended", "2026-02-20T09:00:00-05:00"],
        ],
    )
    out, errors = tmp_path / "scores.csv", tmp_path / "errors.csv"
    summary = score_files(CARD, leads, events, out, as_of=AS_OF, errors=errors,
                          partitions=partitions, workdir=tmp_path)  # fmt: skip
    assert summary.rows_refused == 4
    assert sorted(scores_by_id(out)) == ["L-1", "L-4"]
    with errors.open() as handle:
        rows = sorted(
            (r["source"], r["row"], r["field"], r["value"]) for r in csv.DictReader(handle)
        )
    assert rows == [
        ("events.csv", "1", "occurred_at", "yesterday"),
        ("events.csv", "2", "lead_id", ""),
        ("leads.csv", "1", "created_at", "2026-01-05T10:00:00"),
        ("leads.csv", "2", "annual_revenue", "lots"),
    ]
    assert scores_by_id(out)["L-1"][0] == pytest.approx(20 + 40 * 0.5 ** (2 / 30), abs=1e-9)


def test_without_an_errors_file_the_first_bad_row_raises(tmp_path: Path) -> None:
    header = ["id", "created_at", "title", "industry", "annual_revenue", "email"]
    leads = write_csv(tmp_path / "leads.csv", header, [["L-1", "2026-01-05", "", "", "", ""]])
    events = write_csv(tmp_path / "events.csv", ["id", "lead_id", "kind", "occurred_at"], [])
    with pytest.raises(ValidationError, match=r"leads\.csv row 0: created_at: '2026-01-05'"):
        score_files(CARD, leads, events, tmp_path / "out.parquet", as_of=AS_OF)


def test_empty_inputs_give_an_empty_output_with_the_schema(tmp_path: Path) -> None:
    plan = compile_scorecard(CARD)
    leads, events = tmp_path / "leads.parquet", tmp_path / "events.parquet"
    columns = {name: pa.array([], kind) for name, kind in plan.lead_columns}
    pq.write_table(pa.table(columns), leads)
    pq.write_table(pa.table({"lead_id": pa.array([], pa.string()), "kind": pa.array([], pa.string()),
                             "occurred_at": pa.array([], pa.timestamp("us", tz="UTC"))}), events)  # fmt: skip
    summary = score_files(plan, leads, events, tmp_path / "out.parquet", as_of=AS_OF)
    assert summary.leads_scored == 0
    assert pq.read_schema(tmp_path / "out.parquet") == plan.output_schema
