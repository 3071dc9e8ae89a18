"""Scoring inside Spark with the same :class:`~leadflow.etl.plan.ColumnarPlan`.

Scope: the PySpark integration (``pip install "leadflow[spark]"``). The plan is shipped to
the executors (it is frozen data that pickles) and runs there through ``mapInArrow``, on Arrow
batches, exactly as on one machine:

1. events: each executor reduces its batches to per-lead partial aggregates
   (``mapInArrow``); Spark's ``groupBy("lead_id")`` merges the partials (sums and maxima);
2. leads: each executor checks and types its batches (``mapInArrow``); Spark joins them to the
   aggregates by lead id;
3. scores: each executor evaluates the joined batches (``mapInArrow``).

Spark does the shuffles, so no sort order is needed. The result equals
:meth:`ColumnarPlan.score` on the same rows (sums may differ in the last bits, as Spark adds
partials in its own order). Invalid rows raise :class:`~leadflow.errors.ValidationError` in the
executor (Spark has no errors file); check the files first with ``leadflow score`` if needed.

Usage (``spark`` is your SparkSession; timestamps must be Spark ``TIMESTAMP`` columns)::

    from leadflow.etl import compile_scorecard
    from leadflow.etl.spark import score_dataframe
    from leadflow.rules import load_scorecard

    plan = compile_scorecard(load_scorecard("scorecard.toml"))
    scores = score_dataframe(plan, spark.read.parquet("leads/"), spark.read.parquet("events/"),
                             as_of=datetime(2026, 3, 2, tzinfo=timezone.utc))
    scores.write.parquet("scores/")
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from leadflow._validate import check_aware
from leadflow.errors import OptionalDependencyError, ValidationError
from leadflow.etl.files import ErrorSink, conform
from leadflow.etl.plan import EVENT_COLUMNS, ColumnarPlan

__all__ = ["score_dataframe", "spark_schema"]

#: Spark resolves dotted names as struct fields, so ``account.x`` travels as ``__account_x``.
_ACCOUNT = "__account_"


def _sql() -> Any:
    try:
        from pyspark.sql import functions, types
    except ImportError as exc:
        raise OptionalDependencyError("leadflow.etl.spark", "spark", "pyspark") from exc
    return functions, types


def spark_schema(schema: pa.Schema) -> Any:
    """The Spark ``StructType`` for an Arrow *schema* of strings, numbers, booleans, times."""
    _, types = _sql()
    mapping = {
        pa.string(): types.StringType(),
        pa.large_string(): types.StringType(),
        pa.float64(): types.DoubleType(),
        pa.int64(): types.LongType(),
        pa.bool_(): types.BooleanType(),
    }
    fields = []
    for field in schema:
        if pa.types.is_timestamp(field.type):
            kind = types.TimestampType()
        else:
            kind = mapping.get(field.type)
            if kind is None:
                raise ValidationError(f"schema.{field.name}", str(field.type), "has no Spark type")
        fields.append(types.StructField(field.name, kind, True))
    return types.StructType(fields)


class _Aggregate:
    """``mapInArrow`` function: events batches to per-lead partial aggregates."""

    def __init__(self, plan: ColumnarPlan, as_of_ts: float) -> None:
        self.plan = plan
        self.as_of_ts = as_of_ts

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for raw in batches:
            sink = ErrorSink(None)
            batch = conform(
                raw,
                EVENT_COLUMNS,
                required=set(EVENT_COLUMNS),
                source="events",
                row_offset=0,
                errors=sink,
            )
            if sink.errors:
                raise sink.errors[0].to_exception()
            yield from self.plan._aggregate_batch(batch, self.as_of_ts).to_batches()


class _Conform:
    """``mapInArrow`` function: raw leads (or accounts) batches to the typed columns."""

    def __init__(self, plan: ColumnarPlan, schema: pa.Schema, *, accounts: bool) -> None:
        self.plan = plan
        self.schema = schema
        self.accounts = accounts

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        spec = dict(self.plan.lead_columns)
        for raw in batches:
            sink = ErrorSink(None)
            if self.accounts:
                table = self.plan._conform_accounts(pa.Table.from_batches([raw]), sink)
                table = table.rename_columns(
                    [n.replace("account.", _ACCOUNT, 1) for n in table.column_names]
                )
            else:
                batch = conform(
                    raw,
                    spec,
                    required={"id", "created_at"},
                    source="leads",
                    row_offset=0,
                    errors=sink,
                )
                table = pa.Table.from_batches([batch])
            if sink.errors:
                raise sink.errors[0].to_exception()
            yield from table.select(self.schema.names).cast(self.schema).to_batches()


class _Evaluate:
    """``mapInArrow`` function: joined batches to scores."""

    def __init__(self, plan: ColumnarPlan, as_of_ts: float) -> None:
        self.plan = plan
        self.as_of_ts = as_of_ts

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            names = [
                "account." + n[len(_ACCOUNT) :] if n.startswith(_ACCOUNT) else n
                for n in batch.schema.names
            ]
            yield self.plan.evaluate(batch.rename_columns(names), as_of_ts=self.as_of_ts)


def score_dataframe(
    plan: ColumnarPlan, leads: Any, events: Any, *, as_of: datetime, accounts: Any = None
) -> Any:
    """Score the Spark DataFrames *leads* and *events* with *plan*; return a DataFrame.

    The result has :attr:`ColumnarPlan.output_schema`'s columns, one row per lead. *accounts*
    (a DataFrame with ``id``, ``name`` and the account fields the card reads) is joined
    through the leads' ``account_id``. Properties (columns the card reads as
    ``properties.<name>``) must be strings, numbers or booleans.
    """
    check_aware("as_of", as_of)
    functions, _ = _sql()
    as_of_ts = as_of.timestamp()
    aggregate_schema = pa.schema(list(plan.aggregate_columns))
    partial = events.select(*EVENT_COLUMNS).mapInArrow(
        _Aggregate(plan, as_of_ts), spark_schema(aggregate_schema)
    )
    merged = partial.groupBy("lead_id").agg(
        *[
            (functions.max if name.startswith("__t") else functions.sum)(name).alias(name)
            for name, _ in plan.aggregate_columns[1:]
        ]
    )
    lead_schema = pa.schema(
        [(name, kind or _arrow_type(leads, name)) for name, kind in plan.lead_columns]
    )
    present = set(leads.columns)
    wanted = [name for name, _ in plan.lead_columns if name in present]
    typed = leads.select(*wanted).mapInArrow(
        _Conform(plan, lead_schema, accounts=False), spark_schema(lead_schema)
    )
    if accounts is not None and plan.account_columns:
        account_schema = pa.schema(
            [("account_id", pa.string())]
            + [
                (f"{_ACCOUNT}{name}", kind or _arrow_type(accounts, name))
                for name, kind in plan.account_columns
            ]
        )
        needed = ["id", "name", *(n for n, _ in plan.account_columns if n in accounts.columns)]
        conformed = accounts.select(*dict.fromkeys(needed)).mapInArrow(
            _Conform(plan, account_schema, accounts=True), spark_schema(account_schema)
        )
        typed = typed.join(conformed, on="account_id", how="left")
    joined = typed.join(merged, typed["id"] == merged["lead_id"], "left").drop("lead_id")
    return joined.mapInArrow(_Evaluate(plan, as_of_ts), spark_schema(plan.output_schema))


def _arrow_type(frame: Any, name: str) -> pa.DataType:
    """The Arrow type of a property column of a Spark DataFrame (string when absent)."""
    if name not in frame.columns:
        return pa.string()
    kind = frame.schema[name].dataType.simpleString()
    return {
        "bigint": pa.int64(),
        "int": pa.int64(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
    }.get(kind, pa.string())
