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
:meth:`ColumnarPlan.score` on the same rows, to the bit: behaviour sums travel as exactly
summed levels, so Spark's order of addition does not matter. Rows are checked by the same
input contract as files (:mod:`leadflow.etl.contract`: every ``Lead``/``Activity`` column
present, whatever the card reads); an event repeated with the same ``id`` and ``lead_id`` counts
once (``dropDuplicates``). Invalid rows raise :class:`~leadflow.errors.ValidationError` in the
executor (Spark has no errors file); check the files first with ``leadflow score`` if needed.

SLA policies run the same way (:func:`evaluate_sla_dataframe`): executors check the touches and
leads batches (``mapInArrow``), Spark gathers each lead's touches into one list
(``groupBy("lead_id")`` with ``collect_list``) and joins them to the lead, and executors
evaluate the joined batches with the :class:`~leadflow.etl.sla.SLAPlan` (``mapInArrow``).

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
import pyarrow.compute as pc

from leadflow._validate import check_aware
from leadflow.errors import OptionalDependencyError, ValidationError
from leadflow.etl.contract import ACTIVITY, LEAD, TOUCH, Entity, ErrorSink, validate
from leadflow.etl.plan import EVENT_COLUMNS, ColumnarPlan
from leadflow.etl.sla import (
    SLA_LEAD_COLUMNS,
    SLA_OUTPUT_SCHEMA,
    SLA_TOUCH_COLUMNS,
    SLAPlan,
    conform_sla_leads,
    conform_touches,
)

__all__ = ["evaluate_sla_dataframe", "score_dataframe", "spark_schema"]

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
            batch = validate(raw, ACTIVITY, needed=EVENT_COLUMNS, source="events", errors=sink)
            batch = batch.select(list(EVENT_COLUMNS))
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
                batch = validate(raw, LEAD, needed=spec, source="leads", errors=sink)
                table = pa.Table.from_batches([batch.select(list(spec))])
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
    plan: ColumnarPlan,
    leads: Any,
    events: Any,
    *,
    as_of: datetime,
    accounts: Any = None,
    dedupe: str | None = None,
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
    leads = _one_per_id(leads, dedupe)
    aggregate_schema = pa.schema(list(plan.aggregate_columns))
    if "id" in events.columns:  # an event repeated (same id and lead) counts once
        events = events.dropDuplicates(["lead_id", "id"])
    partial = events.select(*_contract_columns(events, ACTIVITY)).mapInArrow(
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
    wanted += [name for name in _contract_columns(leads, LEAD) if name not in wanted]
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


def _one_per_id(leads: Any, dedupe: str | None) -> Any:
    """*leads* with one row per id: a repeated id raises (Spark has no errors file) unless
    *dedupe* (``"latest:<column>"``) keeps each id's row with the greatest column."""
    from leadflow.etl.pipeline import parse_dedupe

    functions, _ = _sql()
    column = parse_dedupe(dedupe)
    if column is None:
        repeated = leads.groupBy("id").count().filter("count > 1").limit(1).collect()
        if repeated:
            raise ValidationError(
                "id", repeated[0]["id"], "is the id of more than one lead row; pass "
                "dedupe='latest:<column>' to keep the newest, or remove the repeats",
            )  # fmt: skip
        return leads
    from pyspark.sql import Window

    order = Window.partitionBy("id").orderBy(functions.col(column).desc_nulls_last())
    ranked = leads.withColumn("__n", functions.row_number().over(order))
    return ranked.filter("__n = 1").drop("__n")


def _contract_columns(frame: Any, entity: Entity) -> list[str]:
    """The columns of *frame* the input contract checks (every field of *entity* present), so
    a row is refused in Spark by the same rules as in a file, whatever the card reads."""
    return [name for name, _ in entity.fields if name in frame.columns]


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


# -- SLA ---------------------------------------------------------------------------------------

_TOUCHES = "__touches"


class _ConformSLA:
    """``mapInArrow`` function: raw leads or touches batches to the plan's typed columns."""

    def __init__(self, touches: bool) -> None:
        self.touches = touches

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for raw in batches:
            sink = ErrorSink(None)
            entity, columns = (
                (TOUCH, SLA_TOUCH_COLUMNS) if self.touches else (LEAD, SLA_LEAD_COLUMNS)
            )
            checked = validate(raw, entity, needed=columns, source=entity.name, errors=sink)
            table = pa.Table.from_batches([checked.select(list(columns))])
            check = conform_touches if self.touches else conform_sla_leads
            typed = check(table, sink)
            if sink.errors:
                raise sink.errors[0].to_exception()
            yield from typed.to_batches()


class _EvaluateSLA:
    """``mapInArrow`` function: leads joined with their touches (a list column) to SLA rows."""

    def __init__(self, plan: SLAPlan, now: datetime) -> None:
        self.plan = plan
        self.now = now

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        touch_fields = [(n, t) for n, t in SLA_TOUCH_COLUMNS.items() if n != "lead_id"]
        touch_schema = pa.schema(list(SLA_TOUCH_COLUMNS.items()))
        for batch in batches:
            nested = batch.column(_TOUCHES)
            leads = pa.Table.from_batches([batch.drop_columns([_TOUCHES])])
            parents = pc.list_parent_indices(nested)
            flat = pc.list_flatten(nested)
            columns = {"lead_id": leads.column("id").take(parents)}
            for name, kind in touch_fields:
                columns[name] = pc.struct_field(flat, name).cast(kind)
            touches = pa.table(columns).select(touch_schema.names).cast(touch_schema)
            result = self.plan.evaluate_typed(leads, touches, now=self.now)
            yield from result.to_batches()


def evaluate_sla_dataframe(
    plan: SLAPlan, leads: Any, touches: Any, *, now: datetime, dedupe: str | None = None
) -> Any:
    """Judge the Spark DataFrames *leads* and *touches* with *plan* at *now*; return a DataFrame.

    The result has :data:`~leadflow.etl.sla.SLA_OUTPUT_SCHEMA`'s columns, one row per lead x
    step, equal to :meth:`SLAPlan.evaluate` on the same rows (in Spark's order). A repeated
    lead id raises :class:`~leadflow.errors.ValidationError` unless *dedupe* is
    ``"latest:<column>"``; a repeated touch (same ``id`` and ``lead_id``) counts once. Invalid
    rows raise :class:`~leadflow.errors.ValidationError` in the
    executor; check the files first with ``leadflow sla --leads ... --errors ...`` if needed.
    """
    check_aware("now", now)
    functions, _ = _sql()
    touch_schema = pa.schema(list(SLA_TOUCH_COLUMNS.items()))
    lead_schema = pa.schema(list(SLA_LEAD_COLUMNS.items()))
    leads = _one_per_id(leads, dedupe)
    if "id" in touches.columns and "lead_id" in touches.columns:
        touches = touches.dropDuplicates(["lead_id", "id"])
    typed_touches = touches.select(*_contract_columns(touches, TOUCH))
    typed_touches = typed_touches.mapInArrow(_ConformSLA(True), spark_schema(touch_schema))
    lead_names = [c for c in SLA_LEAD_COLUMNS if c in leads.columns]
    lead_names += [c for c in _contract_columns(leads, LEAD) if c not in lead_names]
    typed_leads = leads.select(*lead_names)
    typed_leads = typed_leads.mapInArrow(_ConformSLA(False), spark_schema(lead_schema))
    fields = [n for n in SLA_TOUCH_COLUMNS if n != "lead_id"]
    gathered = typed_touches.groupBy("lead_id").agg(
        functions.collect_list(functions.struct(*fields)).alias(_TOUCHES)
    )
    joined = typed_leads.join(gathered, typed_leads["id"] == gathered["lead_id"], "left").drop(
        "lead_id"
    )
    joined = joined.withColumn(
        _TOUCHES,
        functions.coalesce(_TOUCHES, functions.array().cast(gathered.schema[_TOUCHES].dataType)),
    )
    return joined.mapInArrow(_EvaluateSLA(plan, now), spark_schema(SLA_OUTPUT_SCHEMA))
