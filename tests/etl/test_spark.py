"""The Spark integration: the same plan inside Spark gives the single-machine result.

One local-mode session serves the whole module (see conftest.py); it needs pyspark and Java.
"""

from __future__ import annotations

import pickle
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadflow.etl.plan import compile_scorecard
from leadflow.etl.synthetic import GeneratedFiles
from leadflow.rules.scorecard import load_scorecard

from .conftest import AS_OF, make_accounts

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


def by_id(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in table.to_pylist()}


def test_spark_scores_equal_single_machine_scores(spark: Any, small_files: GeneratedFiles) -> None:
    from leadflow.etl.spark import score_dataframe

    plan = compile_scorecard(load_scorecard("examples/scorecard.toml"), explain=True)
    plan = pickle.loads(pickle.dumps(plan))  # what Spark does to ship it
    leads = pq.read_table(small_files.leads)
    events = pq.read_table(small_files.events)
    accounts = make_accounts(leads)
    # Spark runs the Arrow plan on its executors: it equals the single-machine Arrow plan to
    # the bit (the default polars engine agrees to float rounding: tests/etl/test_engine.py)
    local = by_id(plan.score(leads, events, as_of=AS_OF, accounts=accounts, engine="arrow"))

    result = score_dataframe(
        plan,
        spark.createDataFrame(leads).repartition(2),
        spark.createDataFrame(events).repartition(2),
        as_of=AS_OF,
        accounts=spark.createDataFrame(accounts),
    )
    remote = by_id(result.toArrow())

    assert set(remote) == set(local)
    assert len(remote) == leads.num_rows
    numeric = [n for n in plan.output_schema.names if n not in {"id", "recommendation"}]
    for lead_id, row in local.items():
        other = remote[lead_id]
        assert other["recommendation"] == row["recommendation"], lead_id
        for name in numeric:
            if row[name] is None:
                assert other[name] is None, (lead_id, name)
            else:
                # behaviour sums are exact levels: Spark's order of addition does not matter
                assert other[name] == row[name], (lead_id, name)
    recommendations = {row["recommendation"] for row in local.values()}
    assert {"nurture", "mql", "sql_ready"} <= recommendations  # the data exercises every branch


def test_spark_sla_equals_single_machine_sla(spark: Any) -> None:
    from leadflow.business_time import load_calendars
    from leadflow.etl.sla import compile_sla
    from leadflow.etl.spark import evaluate_sla_dataframe
    from leadflow.rules.sla import load_policies

    from .sla_helpers import leads_table, touches_table, utc_rows
    from .test_sla import NOW, random_data

    plan = compile_sla(
        load_policies("examples/sla.toml"), load_calendars("examples/calendars.toml")
    )
    plan = pickle.loads(pickle.dumps(plan))
    leads_list, touches_list = random_data(21, n=200)
    leads, touches = leads_table(leads_list), touches_table(touches_list)
    local = plan.evaluate(leads, touches, now=NOW)
    result = evaluate_sla_dataframe(
        plan,
        spark.createDataFrame(leads).repartition(2),
        spark.createDataFrame(touches).repartition(3),
        now=NOW,
    ).toArrow()

    def key(row: dict[str, Any]) -> tuple[str, str]:
        return row["lead_id"], row["step"]

    assert result.schema.names == local.schema.names
    got = sorted(utc_rows(result.to_pylist()), key=key)
    want = sorted(utc_rows(local.to_pylist()), key=key)
    assert len(got) == local.num_rows > 300
    assert got == want


def test_spark_applies_the_input_contract(spark: Any, small_files: GeneratedFiles) -> None:
    """Same rules as files: the whole Lead checked (the card does not read employees),
    a repeated lead id refused unless deduplicated, a repeated event counted once."""
    from leadflow.etl.spark import score_dataframe

    plan = compile_scorecard(load_scorecard("examples/scorecard.toml"))
    assert "employees" not in dict(plan.lead_columns)
    leads = pq.read_table(small_files.leads).slice(0, 40)
    events = pq.read_table(small_files.events)
    events = events.filter(pa.compute.is_in(events.column("lead_id"), leads.column("id")))
    local = by_id(plan.score(leads, events, as_of=AS_OF, engine="arrow"))

    repeated = pa.concat_tables([events, events.slice(0, 25)])  # exported twice
    remote = by_id(
        score_dataframe(plan, spark.createDataFrame(leads), spark.createDataFrame(repeated),
                        as_of=AS_OF).toArrow()
    )  # fmt: skip
    assert {k: v["score"] for k, v in remote.items()} == {k: v["score"] for k, v in local.items()}

    twice = pa.concat_tables([leads, leads.slice(3, 1)])
    with pytest.raises(Exception, match="more than one lead row"):
        score_dataframe(plan, spark.createDataFrame(twice), spark.createDataFrame(events),
                        as_of=AS_OF)  # fmt: skip
    deduped = score_dataframe(plan, spark.createDataFrame(twice), spark.createDataFrame(events),
                              as_of=AS_OF, dedupe="latest:created_at").toArrow()  # fmt: skip
    assert sorted(deduped.column("id").to_pylist()) == sorted(local)

    employees = pa.array([-4] + [10] * (leads.num_rows - 1), pa.int64())
    if "employees" in leads.column_names:
        negative = leads.set_column(leads.column_names.index("employees"), "employees", employees)
    else:
        negative = leads.append_column("employees", employees)
    with pytest.raises(Exception, match="must not be negative"):
        score_dataframe(plan, spark.createDataFrame(negative), spark.createDataFrame(events),
                        as_of=AS_OF).toArrow()  # fmt: skip
