"""``leadflow compile-sql`` prints the compiled scorecard query (the golden files are its
output) and refuses what it cannot compile with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadflow.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "etl" / "golden"
CARD = ROOT / "examples" / "scorecard.toml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("dialect", ["duckdb", "spark", "postgres", "snowflake", "bigquery"])
def test_prints_the_golden_query(capsys: pytest.CaptureFixture[str], dialect: str) -> None:
    code, out, err = run(capsys, "compile-sql", "--card", str(CARD), "--dialect", dialect)
    assert (code, err) == (0, "")
    assert (GOLDEN / f"seed.{dialect}.sql").read_text(encoding="utf-8") == out


def test_as_of_options_tables_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "compile-sql", "--card", str(CARD), "--dialect", "postgres",
                       "--as-of-param", "as_of", "--leads-table", "crm.leads", "--json")  # fmt: skip
    doc = json.loads(out)
    assert (code, doc["dialect"], doc["scorecard"]) == (0, "postgres", "seed")
    assert "%(as_of)s" in doc["sql"] and "crm.leads" in doc["sql"]
    code, out, _ = run(capsys, "compile-sql", "--card", str(CARD), "--as-of",
                       "2026-03-02T09:00:00Z", "--compact")  # fmt: skip
    assert code == 0 and "2026-03-02 09:00:00+00:00" in out and out.count("\n") == 1


def test_refusals_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "compile-sql", "--card", str(CARD), "--dialect", "nosuch")
    assert code == 2 and "dialect" in err
    code, _, err = run(capsys, "compile-sql", "--card", str(tmp_path / "missing.toml"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "compile-sql", "--card", str(CARD), "--as-of", "2026-03-02")
    assert code == 2 and "offset" in err
