"""The DuckDB engine gives what the Arrow plan gives: the same scores, rows in the same order,
the same refused rows, the same first error."""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
import pytest

from leadflow.errors import ValidationError
from leadflow.etl.engine import duckdb_available, score_duckdb
from leadflow.etl.files import ErrorSink, read_batches
from leadflow.etl.plan import EVENT_COLUMNS, compile_scorecard
from leadflow.rules.scorecard import Equals, Range, Rule, Scorecard

from .conftest import AS_OF
from .sql_data import account_table, event_table, generate, lead_table
from .test_sql import CARD, SEED


def same(arrow: pa.Table, duck: pa.Table) -> None:
    assert arrow.schema == duck.schema
    assert arrow.column("id").to_pylist() == duck.column("id").to_pylist()
    assert arrow.column("recommendation").to_pylist() == duck.column("recommendation").to_pylist()
    for name in arrow.column_names:
        if name in ("id", "recommendation"):
            continue
        for a, b in zip(arrow.column(name).to_pylist(), duck.column(name).to_pylist(), strict=True):
            assert (a is None) == (b is None), name
            if a is not None:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (name, a, b)


@pytest.mark.parametrize("explain", [False, True])
def test_the_same_table_as_the_arrow_plan(explain: bool) -> None:
    assert duckdb_available()
    data = generate(700, seed=21, events_per_lead=9)
    leads = lead_table(data).rename_columns(
        [("properties.persona" if n == "persona" else n) for n in lead_table(data).column_names]
    )
    for card in (SEED, CARD):
        plan = compile_scorecard(card, explain=explain)
        kwargs = {"as_of": AS_OF, "accounts": account_table(data)}
        arrow = plan.score(leads.to_batches(max_chunksize=100), event_table(data), **kwargs)
        duck = score_duckdb(plan, leads.to_batches(max_chunksize=100), event_table(data), **kwargs)
        same(arrow, duck)


def test_bad_rows_go_to_the_sink_or_raise_like_the_arrow_plan() -> None:
    data = generate(50, seed=22)
    leads = lead_table(data)
    bad_leads = pa.table({**{n: leads.column(n) for n in leads.column_names},
                          "annual_revenue": pa.array(["12"] * 49 + ["lots"])})  # fmt: skip
    events = event_table(data)
    bad_events = pa.concat_tables([
        events.cast(pa.schema([(f.name, pa.string() if f.name == "occurred_at" else f.type)
                               for f in events.schema])),
        pa.table({"id": ["E-x"], "lead_id": ["L-1"], "kind": ["Not Snake"],
                  "occurred_at": ["2026-01-01T00:00:00+00:00"]}),
    ])  # fmt: skip
    plan = compile_scorecard(SEED)
    sinks = ErrorSink(None), ErrorSink(None)
    arrow = plan.score(bad_leads, bad_events, as_of=AS_OF, errors=sinks[0])
    duck = score_duckdb(plan, bad_leads, bad_events, as_of=AS_OF, errors=sinks[1])
    same(arrow, duck)
    assert sinks[0].errors == sinks[1].errors
    assert len(sinks[0].errors) == 2 and duck.num_rows == 49
    with pytest.raises(ValidationError) as first:
        plan.score(bad_leads, bad_events, as_of=AS_OF)
    with pytest.raises(ValidationError) as second:
        score_duckdb(plan, bad_leads, bad_events, as_of=AS_OF)
    assert str(first.value) == str(second.value)


def test_no_leads_and_no_events() -> None:
    plan = compile_scorecard(SEED)
    empty_leads = pa.table({"id": pa.array([], pa.string()),
                            "created_at": pa.array([], pa.timestamp("us", tz="UTC"))})  # fmt: skip
    empty_events = pa.table({"lead_id": pa.array([], pa.string()), "kind": pa.array([], pa.string()),
                             "occurred_at": pa.array([], pa.timestamp("us", tz="UTC"))})  # fmt: skip
    out = score_duckdb(plan, empty_leads, empty_events, as_of=AS_OF)
    assert (out.schema, out.num_rows) == (plan.output_schema, 0)


def test_files_read_in_batches_with_a_dictionary_encoded_kind(small_files: Any) -> None:
    plan = compile_scorecard(SEED)

    def inputs() -> tuple[Any, Any]:
        leads = read_batches(small_files.leads, columns=dict(plan.lead_columns), batch_size=64)
        events = read_batches(
            small_files.events, columns=EVENT_COLUMNS, dictionary=("kind",), batch_size=500
        )
        return leads, events

    arrow = plan.score(*inputs(), as_of=AS_OF, errors=ErrorSink(None))
    duck = score_duckdb(plan, *inputs(), as_of=AS_OF, errors=ErrorSink(None))
    same(arrow, duck)
    assert duck.num_rows > 250


def test_custom_properties_are_compared_as_the_types_they_hold() -> None:
    card = Scorecard(name="props", rules=[
        Rule(id="seats", category="fit", points=5, when=Range(field="properties.seats", min=10)),
        Rule(id="vip", category="fit", points=7, when=Equals(field="properties.vip", value=True)),
        Rule(id="tier", category="fit", points=3, when=Equals(field="properties.tier", value=2)),
    ])  # fmt: skip
    at = pa.array([AS_OF] * 4, pa.timestamp("us", tz="UTC"))
    leads = pa.table({
        "id": ["a", "b", "c", "d"], "created_at": at,
        "properties.seats": pa.array([5, 10, None, 50], pa.int64()),
        "properties.vip": pa.array([True, False, None, True]),
        "properties.tier": pa.array([2.0, 1.0, 2.0, None]),
    })  # fmt: skip
    events = pa.table({"lead_id": pa.array([], pa.string()), "kind": pa.array([], pa.string()),
                       "occurred_at": pa.array([], pa.timestamp("us", tz="UTC"))})  # fmt: skip
    plan = compile_scorecard(card)
    arrow = plan.score(leads, events, as_of=AS_OF)
    duck = score_duckdb(plan, leads, events, as_of=AS_OF)
    same(arrow, duck)
    assert duck.column("score").to_pylist() == [10.0, 5.0, 3.0, 12.0]
