"""The compiled scorecard SQL runs on a real PostgreSQL server and in Spark SQL and gives
score_lead's numbers."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from leadflow.etl.sql import compile_scorecard_sql
from leadflow.rules.scorecard import Scorecard

from .postgres_server import Server
from .sql_data import (
    AS_OF,
    Data,
    account_table,
    compare,
    event_table,
    expected,
    generate,
    lead_table,
)
from .test_sql import CARD, SEED

_PG_TYPES = {
    pa.string(): "text",
    pa.float64(): "double precision",
    pa.int64(): "bigint",
    pa.timestamp("us", tz="UTC"): "timestamptz",
}


def load_postgres(conn: Any, name: str, table: pa.Table) -> None:
    columns = ", ".join(f'"{f.name}" {_PG_TYPES[f.type]}' for f in table.schema)
    conn.execute(f'DROP TABLE IF EXISTS "{name}"')
    conn.execute(f'CREATE TABLE "{name}" ({columns})')
    names = ", ".join(f'"{n}"' for n in table.column_names)
    with conn.cursor().copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
        for row in table.to_pylist():
            copy.write_row(list(row.values()))


def run_postgres(
    server: Server, sql: str, data: Data, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (test extra)")
    with psycopg.connect(server.conninfo, autocommit=True) as conn:
        load_postgres(conn, "leads", lead_table(data))
        load_postgres(conn, "events", event_table(data))
        load_postgres(conn, "accounts", account_table(data))
        cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
        cursor.execute(sql, params)
        return list(cursor.fetchall())


@pytest.mark.parametrize("card", [SEED, CARD], ids=["seed", "every-condition"])
def test_postgres_matches_score_lead(postgres: Server, card: Scorecard) -> None:
    data = generate(300, seed=8, events_per_lead=8)
    rows = run_postgres(postgres, compile_scorecard_sql(card, "postgres", as_of=AS_OF), data)
    compare(card, expected(card, data), rows)


def test_postgres_with_the_as_of_parameter(postgres: Server) -> None:
    data = generate(50, seed=9)
    sql = compile_scorecard_sql(SEED, "postgres", as_of="as_of")
    rows = run_postgres(postgres, sql, data, {"as_of": AS_OF})
    compare(SEED, expected(SEED, data), rows)


def test_spark_sql_matches_score_lead(spark: Any) -> None:
    data = generate(120, seed=10, events_per_lead=8)
    for name, table in (("leads", lead_table(data)), ("events", event_table(data)),
                        ("accounts", account_table(data))):  # fmt: skip
        spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)
    rows = [
        r.asDict() for r in spark.sql(compile_scorecard_sql(CARD, "spark", as_of=AS_OF)).collect()
    ]
    compare(CARD, expected(CARD, data), rows)
