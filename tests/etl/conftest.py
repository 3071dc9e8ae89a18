"""Fixtures for the ETL tests: generated files and one local-mode Spark session."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadflow.model import Activity

pytest.importorskip("pyarrow", reason="the etl extra is not installed")

from leadflow.etl.synthetic import GeneratedFiles, generate

AS_OF = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> GeneratedFiles:
    """300 leads with about 8 events each, as a Parquet pair."""
    return generate(
        tmp_path_factory.mktemp("gen"),
        leads=300,
        seed=11,
        as_of=AS_OF,
        events_per_lead=8,
        batch_size=70,
    )


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local-mode SparkSession shared by the whole test session (it takes seconds to start)."""
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is not installed")
    if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
        pytest.skip("Spark needs a Java runtime")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("leadflow-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def assert_same_scores(actual: Any, expected: Any, tol: float = 1e-9) -> None:
    """Same ids in the same order, same recommendations, numbers within *tol* (the polars
    engine and the Arrow plan agree to float rounding, not to the bit)."""
    assert actual.schema == expected.schema
    assert actual.column("id").to_pylist() == expected.column("id").to_pylist()
    for name in actual.column_names:
        left, right = actual.column(name).to_pylist(), expected.column(name).to_pylist()
        if name in {"id", "recommendation"}:
            assert left == right, name
            continue
        for a, b in zip(left, right, strict=True):
            assert (a is None) == (b is None), name
            if a is not None:
                assert abs(a - b) <= tol, (name, a, b)


def make_accounts(leads: Any) -> Any:
    """An accounts table for the leads' account ids, with firmographics that vary by id."""
    import pyarrow as pa

    ids = sorted({a for a in leads.column("account_id").to_pylist() if a is not None})
    industries = ["Software", "Retail", None, "Healthcare", "Education"]
    return pa.table(
        {
            "id": ids,
            "name": [f"Company {i}" for i in ids],
            "industry": [industries[int(i[1:]) % 5] for i in ids],
            "annual_revenue": [
                None if int(i[1:]) % 3 == 0 else float(int(i[1:]) % 7) * 2.0e8 for i in ids
            ],
        }
    )


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL server on 127.0.0.1 for this session (see ``postgres_server``),
    skipped -- saying why -- only when the PostgreSQL binaries are not installed."""
    from .postgres_server import find_binaries, running_server

    bin_dir = find_binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl; apt-get install postgresql)")
    with running_server(bin_dir) as server:
        yield server


def repeated_ids() -> list[Activity]:
    """One lead's activities with repeated ids: E1 first under a kind no card reads, E2 first
    after :data:`AS_OF`, E3 a true copy, E4 of an unread kind -- what the paths must count
    alike (the first of a repeat among the activities that can count)."""
    day = timedelta(days=1)

    def act(id: str, kind: str, days_ago: float) -> Activity:
        return Activity(id=id, lead_id="L-1", kind=kind, occurred_at=AS_OF - days_ago * day)

    return [
        act("E1", "web_visit", 1),
        act("E1", "quote_request", 2),
        act("E2", "demo_request", -1),
        act("E2", "demo_request", 3),
        act("E3", "case_study_download", 1),
        act("E3", "case_study_download", 1),
        act("E4", "email_open", 1),
    ]


def activity_table(acts: list[Activity]) -> Any:
    """*acts* as an events table (``id``, ``lead_id``, ``kind``, ``occurred_at`` in UTC)."""
    import pyarrow as pa

    return pa.table(
        {
            "id": [a.id for a in acts],
            "lead_id": [a.lead_id for a in acts],
            "kind": [a.kind for a in acts],
            "occurred_at": pa.array([a.occurred_at for a in acts], pa.timestamp("us", tz="UTC")),
        }
    )
