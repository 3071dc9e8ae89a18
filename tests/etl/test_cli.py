"""``leadflow score`` in file mode: one command from a Parquet pair to a scores file."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from leadflow.cli import main
from leadflow.etl import compile_scorecard
from leadflow.etl.synthetic import GeneratedFiles
from leadflow.rules.scorecard import load_scorecard

from .conftest import AS_OF


def test_score_command_writes_the_plans_scores(
    small_files: GeneratedFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, errors = tmp_path / "scores.parquet", tmp_path / "errors.csv"
    code = main(
        [
            "score", "--json", "--leads", str(small_files.leads),
            "--events", str(small_files.events), "--out", str(out), "--errors", str(errors),
            "--card", "examples/scorecard.toml", "--as-of", AS_OF.isoformat(), "--explain",
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["leads_scored"] == report["leads_read"] == 300
    assert report["rows_refused"] == 0
    written = pq.read_table(out)
    expected = compile_scorecard(load_scorecard("examples/scorecard.toml"), explain=True).score(
        pq.read_table(small_files.leads), pq.read_table(small_files.events), as_of=AS_OF
    )
    assert written.schema == expected.schema
    assert (
        written.column("recommendation").to_pylist()
        == expected.column("recommendation").to_pylist()
    )
    assert pacsv.read_csv(errors).num_rows == 0


def test_score_command_engines_write_the_same_bytes(
    small_files: GeneratedFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = {}
    for engine in ("arrow", "polars", "auto"):
        out = tmp_path / f"{engine}.parquet"
        code = main(
            [
                "score", "--json", "--leads", str(small_files.leads),
                "--events", str(small_files.events), "--out", str(out),
                "--card", "examples/scorecard.toml", "--as-of", AS_OF.isoformat(),
                "--engine", engine,
            ]
        )  # fmt: skip
        assert code == 0
        written[engine] = out.read_bytes()
    capsys.readouterr()
    assert written["arrow"] == written["polars"] == written["auto"]


def test_file_mode_needs_its_options(
    small_files: GeneratedFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["score", "--leads", str(small_files.leads), "--card", "examples/scorecard.toml"])
    assert code != 0
    assert "--events: is required with --leads" in capsys.readouterr().err


def test_naive_as_of_is_refused(
    small_files: GeneratedFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["score", "--leads", str(small_files.leads), "--events", str(small_files.events),
         "--out", str(tmp_path / "o.csv"), "--card", "examples/scorecard.toml",
         "--as-of", "2026-03-02T09:00:00"]
    )  # fmt: skip
    assert code != 0
    assert "has no UTC offset" in capsys.readouterr().err
