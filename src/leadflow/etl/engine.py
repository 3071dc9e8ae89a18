"""Scoring on DuckDB: a :class:`~leadflow.etl.plan.ColumnarPlan`'s card run as compiled SQL.

Scope: :func:`score_duckdb` gives what :meth:`ColumnarPlan.score
<leadflow.etl.plan.ColumnarPlan.score>` gives -- the same columns, rows in input order, the
same row checks with the same errors sink (bad rows refused, or the first one raised) -- but
computes the scores in DuckDB, in-process, from the query :mod:`leadflow.etl.sql` compiles.

How: events are checked batch by batch (:func:`~leadflow.etl.files.conform`) and streamed into
DuckDB as an Arrow stream, which reduces them to one row of aggregates per lead (the first
query of :func:`~leadflow.etl.sql.split_queries`) in a temporary table; then the leads are
checked and streamed the same way into the scoring query. Memory is DuckDB's hash tables plus
a batch in flight, as with the Arrow plan; errors come in the same order (events, then leads).

DuckDB is an optional dependency (the ``etl`` extra); :func:`duckdb_available` says whether it
is installed. docs/etl.md has the measurements behind the choice of engine.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from leadflow._validate import check_aware
from leadflow.errors import OptionalDependencyError
from leadflow.etl.files import ErrorSink, conform
from leadflow.etl.plan import EVENT_COLUMNS, ColumnarPlan
from leadflow.etl.sql import ColumnKind, split_queries

__all__ = ["duckdb_available", "score_duckdb"]

_ROW = "__row"


def duckdb_available() -> bool:
    """Whether DuckDB (and sqlglot) can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in ("duckdb", "sqlglot"))


def _batches(data: Any) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pa.Table):
        yield from data.to_batches()
    elif isinstance(data, pa.RecordBatch):
        yield data
    else:
        yield from data


def _kind(arrow_type: pa.DataType) -> ColumnKind:
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "number"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return "text"


class _Checked:
    """Conformed batches of one input; in strict mode (no sink given) it stops at the first
    bad batch and keeps the error to raise once DuckDB has finished reading."""

    def __init__(self, strict: bool, sink: ErrorSink) -> None:
        self.strict, self.sink = strict, sink
        self.failed = False

    def run(
        self,
        data: Any,
        columns: dict[str, Any],
        *,
        required: set[str],
        source: str,
        id_column: str,
        numbered: bool = False,
    ) -> Iterator[pa.RecordBatch]:
        offset = out = 0
        for raw in _batches(data):
            if self.failed:
                return
            batch = conform(
                _plain_properties(raw), columns, required=required, source=source,
                row_offset=offset, errors=self.sink, id_column=id_column,
            )  # fmt: skip
            offset += raw.num_rows
            if self.strict and self.sink.errors:
                self.failed = True
                return
            if numbered:
                batch = batch.append_column(
                    _ROW, pa.array(np.arange(out, out + batch.num_rows, dtype=np.int64))
                )
                out += batch.num_rows
            yield batch

    def raise_first(self) -> None:
        if self.strict and self.sink.errors:
            raise self.sink.errors[0].to_exception()


def _plain_properties(batch: pa.RecordBatch) -> pa.RecordBatch:
    names = batch.schema.names
    if not any(n.startswith("properties.") for n in names):
        return batch
    renamed = [
        n[len("properties.") :]
        if n.startswith("properties.") and n[len("properties.") :] not in names
        else n
        for n in names
    ]
    return batch.rename_columns(renamed)


def _stream(first: pa.RecordBatch | None, rest: Iterator[pa.RecordBatch], schema: pa.Schema) -> Any:
    """One Arrow stream of *first* and *rest*, every batch cast to *schema* (a stream whose
    batches differ from its declared schema is undefined behaviour for its reader)."""
    batches: Iterable[pa.RecordBatch] = rest if first is None else itertools.chain([first], rest)
    return pa.RecordBatchReader.from_batches(
        schema, (b if b.schema == schema else b.cast(schema) for b in batches)
    )


def score_duckdb(
    plan: ColumnarPlan,
    leads: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
    events: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
    *,
    as_of: datetime,
    accounts: pa.Table | None = None,
    errors: ErrorSink | None = None,
    threads: int | None = None,
    sources: tuple[str, str] = ("leads", "events"),
) -> pa.Table:
    """:meth:`ColumnarPlan.score <leadflow.etl.plan.ColumnarPlan.score>`, computed by DuckDB.

    Same inputs, same output schema (:attr:`~leadflow.etl.plan.ColumnarPlan.output_schema`,
    ``rule.<id>`` columns with ``explain``), rows in the leads' order. *threads* caps DuckDB's
    worker threads (default: DuckDB's, the CPU count).
    """
    check_aware("as_of", as_of)
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise OptionalDependencyError("the DuckDB engine", "etl", "duckdb") from exc
    sink = ErrorSink(None) if errors is None else errors
    checked = _Checked(errors is None, sink)
    config: dict[str, str | bool | int | float | list[str]] = {}
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    try:
        con.execute("SET TimeZone = 'UTC'")
        spec = dict(plan.lead_columns)
        accounts_in = None if accounts is None else accounts.schema.empty_table()
        # the query text needs the leads' schema (property types), not their rows
        schema = pa.schema([(n, k or pa.string()) for n, k in spec.items()] + [(_ROW, pa.int64())])
        # 1. events, checked and streamed -> one row of aggregates per lead, a temporary table
        aggregate_sql, score_sql = _queries(plan, as_of, schema, accounts=accounts_in)
        events_in = checked.run(
            events, dict(EVENT_COLUMNS), required=set(EVENT_COLUMNS), source=sources[1],
            id_column="lead_id",
        )  # fmt: skip
        first = next(events_in, None)  # conform may keep a dictionary-encoded kind
        event_schema = pa.schema(list(EVENT_COLUMNS.items())) if first is None else first.schema
        con.register("events", _stream(first, events_in, event_schema))
        con.execute(f"CREATE TEMPORARY TABLE agg AS {aggregate_sql}")
        con.unregister("events")
        checked.raise_first()
        # 2. accounts (checked whole, as the Arrow plan does), then the leads, streamed
        account_table = None if accounts is None else _accounts(plan, accounts, sink)
        leads_in = checked.run(
            leads, spec, required={"id", "created_at"}, source=sources[0], id_column="id",
            numbered=True,
        )  # fmt: skip
        first = next(leads_in, None)
        checked.raise_first()
        if first is not None and _kinds(plan, first.schema, account_table) != _kinds(
            plan, schema, accounts_in
        ):  # a custom property holds another type than assumed: compile for what it holds
            _, score_sql = _queries(plan, as_of, first.schema, accounts=account_table)
        schema = schema if first is None else first.schema
        con.register("leads", _stream(first, leads_in, schema))
        if account_table is not None:
            con.register("accounts", account_table)
        result = con.sql(score_sql).to_arrow_table()
        checked.raise_first()
    finally:
        con.close()
    result = result.drop_columns([_ROW])
    return result.rename_columns(plan.output_schema.names).cast(plan.output_schema)


def _kinds(
    plan: ColumnarPlan, schema: pa.Schema, accounts: pa.Table | None
) -> dict[str, ColumnKind]:
    """What each custom property column holds, from the Arrow types."""
    kinds: dict[str, ColumnKind] = {}
    for name, kind in plan.lead_columns:
        if kind is None and name in schema.names:
            kinds[f"properties.{name}"] = _kind(schema.field(name).type)
    if accounts is not None:
        for name, kind in plan.account_columns:
            if kind is None and name in accounts.schema.names:
                kinds[f"account.properties.{name}"] = _kind(accounts.schema.field(name).type)
    return kinds


def _queries(
    plan: ColumnarPlan, as_of: datetime, schema: pa.Schema, *, accounts: pa.Table | None
) -> tuple[str, str]:
    """The aggregate and the scoring query, for leads of *schema* (custom properties are
    compared as the types they hold)."""
    kinds = _kinds(plan, schema, accounts)
    aggregate, scores = split_queries(
        plan.card, dialect="duckdb", as_of=as_of, leads="leads", events="events",
        aggregate="agg", accounts=None if accounts is None else "accounts",
        column_kinds=kinds, explain=plan.explain, carry=(_ROW,),
    )  # fmt: skip
    scores = scores.order_by(exp.column(_ROW, "s", quoted=True))
    return aggregate.sql(dialect="duckdb"), scores.sql(dialect="duckdb")


def _accounts(plan: ColumnarPlan, accounts: pa.Table, sink: ErrorSink) -> pa.Table:
    """The accounts the plan reads, checked as the Arrow plan checks them, with plain names."""
    table: pa.Table = plan._conform_accounts(accounts, sink)
    names = ["id" if n == "account_id" else n.removeprefix("account.") for n in table.column_names]
    return table.rename_columns(names)
