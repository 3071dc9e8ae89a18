"""``score_files`` on the polars engine: the Arrow job's output bytes, errors file and summary.

Every test runs the same job twice -- ``engine="arrow"`` (the Arrow plan, as before) and
``engine="polars"`` -- and compares the output files byte for byte, the errors files byte for
byte, and the summaries.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.errors import ConfigError, TooManyRefusedError, ValidationError
from leadflow.etl import compile_scorecard, score_files
from leadflow.etl.engine import score_polars
from leadflow.etl.plan import ColumnarPlan
from leadflow.etl.synthetic import GeneratedFiles
from leadflow.rules.scorecard import Category, Rule, Scorecard, Thresholds, TitleKeywords

from ..rules.strategies import scorecards  # noqa: TID252 - the scorecard tests' own strategies
from .conftest import AS_OF, activity_table, repeated_ids
from .sql_data import account_table, event_table, generate, lead_table
from .test_engine import dirty_events, dirty_leads
from .test_sql import CARD as EVERY_CONDITION
from .test_sql import SEED as SEED_CARD


def run(plan: ColumnarPlan, leads: Path, events: Path, out: Path, **kwargs: Any) -> Any:
    """(output bytes, errors bytes, summary without its paths) of one job."""
    errors = out.with_name(out.name + ".errors.csv")
    summary = score_files(plan, leads, events, out, as_of=AS_OF, errors=errors, **kwargs)
    data = summary.to_dict()
    del data["output"], data["errors"]
    return out.read_bytes(), errors.read_bytes(), data


def same_job(
    plan: ColumnarPlan, leads: Path, events: Path, tmp_path: Path, *, suffix: str = ".parquet",
    arrow: dict[str, Any] | None = None, **kwargs: Any,
) -> dict[str, Any]:  # fmt: skip
    """Run the job on both engines; assert the same bytes and summary; return the summary."""
    slow = run(plan, leads, events, tmp_path / f"arrow{suffix}", engine="arrow",
               **{**kwargs, **(arrow or {})})  # fmt: skip
    fast = run(plan, leads, events, tmp_path / f"polars{suffix}", engine="polars", **kwargs)
    assert fast[2] == slow[2]
    assert fast[1] == slow[1]  # the errors file
    assert fast[0] == slow[0]  # the output file
    summary: dict[str, Any] = fast[2]
    return summary


def write(table: pa.Table, path: Path, **kwargs: Any) -> Path:
    pq.write_table(table, path, **kwargs)
    return path


def dirty_files(tmp_path: Path, *, seed: int, shuffle: bool, n: int = 120) -> tuple[Path, Path]:
    data = generate(n, seed=seed, events_per_lead=8)
    leads = write(dirty_leads(data), tmp_path / "leads.parquet", row_group_size=50)
    events = write(dirty_events(data, shuffle=shuffle), tmp_path / "events.parquet",
                   row_group_size=100)  # fmt: skip
    return leads, events


# -- fixed cases ---------------------------------------------------------------------------------


def test_clean_files_give_the_same_bytes(small_files: GeneratedFiles, tmp_path: Path) -> None:
    summary = same_job(compile_scorecard(SEED_CARD), small_files.leads, small_files.events,
                       tmp_path)  # fmt: skip
    assert summary["leads_scored"] == small_files.lead_rows


@pytest.mark.parametrize("shuffle", [False, True])
def test_dirty_files_give_the_same_bytes_errors_and_summary(tmp_path: Path, shuffle: bool) -> None:
    # shuffled: event ids no longer rise down the file, so repeats are found by key
    leads, events = dirty_files(tmp_path, seed=12, shuffle=shuffle)
    summary = same_job(compile_scorecard(SEED_CARD, explain=True), leads, events, tmp_path)
    assert summary["rows_refused"] > 0
    assert summary["events_duplicate"] == 5


def test_accounts_explain_and_every_kind_of_condition(tmp_path: Path) -> None:
    data = generate(150, seed=5, events_per_lead=10)
    leads = write(dirty_leads(data), tmp_path / "leads.parquet")
    events = write(dirty_events(data, shuffle=False), tmp_path / "events.parquet")
    rows = account_table(data).to_pylist()
    rows[1]["name"] = " "  # refused: an account needs a name
    accounts = write(pa.Table.from_pylist(rows, schema=account_table(data).schema),
                     tmp_path / "accounts.parquet")  # fmt: skip
    plan = compile_scorecard(EVERY_CONDITION, explain=True)
    summary = same_job(plan, leads, events, tmp_path, accounts=accounts)
    assert summary["rows_refused"] > 1


def test_only_columns_of_few_values_get_a_parquet_dictionary(tmp_path: Path) -> None:
    # ids and behaviour numbers are nearly all distinct: a dictionary of them costs time and
    # bytes; fit sums, recommendations, kept and provenance columns repeat and keep theirs
    leads, events = repeated_leads(tmp_path)
    plan = compile_scorecard(SEED_CARD, explain=True)
    same_job(plan, leads, events, tmp_path, dedupe="latest:created_at", keep=["title"],
             provenance=True)  # fmt: skip
    meta = pq.ParquetFile(tmp_path / "polars.parquet").metadata
    encoded = {}
    for group in range(meta.num_row_groups):
        for i in range(meta.num_columns):
            column = meta.row_group(group).column(i)
            coded = "RLE_DICTIONARY" in column.encodings
            assert encoded.setdefault(column.path_in_schema, coded) == coded
    behaviour = {f"rule_{r.id}" for r in SEED_CARD.rules if r.category is not Category.FIT}
    fit = {f"rule_{r.id}" for r in SEED_CARD.rules if r.category is Category.FIT}
    assert behaviour and fit
    plain = {"id", "score", "behaviour", "interest", "intent", *behaviour}
    assert {name for name, coded in encoded.items() if not coded} == plain
    assert all(encoded[name] for name in ["fit", "recommendation", "title", "as_of", *fit])


def test_orphans_unknown_kinds_and_repeats_of_another_kind(tmp_path: Path) -> None:
    data = generate(60, seed=21, events_per_lead=6)
    table = event_table(data)
    rows = table.to_pylist()
    extra = [
        {**rows[0], "id": "X-1", "lead_id": "L-NOT-THERE"},  # orphaned
        {**rows[1], "id": "X-2", "kind": "smoke_signal"},  # unknown kind
        {**rows[2], "id": "X-3", "kind": "web_visit"},  # its repeat below counts as this
        {**rows[2], "id": "X-3", "kind": "quote_request"},
        {**rows[3], "id": "X-4", "occurred_at": AS_OF.replace(year=2027)},  # after as_of
        {**rows[3], "id": "X-4", "kind": "demo_request"},
    ]
    events = write(pa.Table.from_pylist(rows + extra, schema=table.schema),
                   tmp_path / "events.parquet")  # fmt: skip
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    summary = same_job(compile_scorecard(SEED_CARD), leads, events, tmp_path)
    assert (summary["events_orphaned"], summary["events_unknown_kind"]) == (1, 1)
    assert summary["events_duplicate"] == 2


def repeated_leads(tmp_path: Path) -> tuple[Path, Path]:
    data = generate(80, seed=22, events_per_lead=5)
    table = lead_table(data)
    rows = table.to_pylist()
    later = [dict(rows[k]) for k in (3, 7, 7, 9)]
    later[0]["created_at"] = None  # refused, so not a repeat
    later[1]["created_at"] = rows[7]["created_at"].replace(year=2025)  # older: not kept
    later[2]["title"] = "Chief Everything"  # same created_at: a tie, the first is kept
    later[3]["created_at"] = rows[9]["created_at"].replace(month=12, year=2025)
    leads = write(pa.Table.from_pylist(rows + later, schema=table.schema),
                  tmp_path / "leads.parquet", row_group_size=30)  # fmt: skip
    events = write(event_table(data), tmp_path / "events.parquet")
    return leads, events


def test_repeated_lead_ids_are_refused_as_before(tmp_path: Path) -> None:
    leads, events = repeated_leads(tmp_path)
    summary = same_job(compile_scorecard(SEED_CARD), leads, events, tmp_path)
    assert summary["rows_refused"] == 4  # one missing created_at, three repeated ids


def test_dedupe_latest_keep_and_provenance(tmp_path: Path) -> None:
    leads, events = repeated_leads(tmp_path)
    summary = same_job(
        compile_scorecard(SEED_CARD), leads, events, tmp_path,
        dedupe="latest:created_at", keep=["title", "employees", "created_at", "company"],
        provenance=True,
    )  # fmt: skip
    assert summary["duplicates_resolved"] == 3


def test_dedupe_latest_on_a_custom_column_with_nulls_and_ties(tmp_path: Path) -> None:
    data = generate(40, seed=23, events_per_lead=4)
    table = lead_table(data)
    rows = table.to_pylist()
    for i, row in enumerate(rows):
        row["_loaded_at"] = [None, 3, 1][i % 3]
    rows += [{**rows[k], "_loaded_at": v} for k, v in ((0, 2), (1, None), (2, 1), (5, 7))]
    schema = table.schema.append(pa.field("_loaded_at", pa.int64()))
    leads = write(pa.Table.from_pylist(rows, schema=schema), tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    summary = same_job(compile_scorecard(SEED_CARD), leads, events, tmp_path,
                       dedupe="latest:_loaded_at", keep=["_loaded_at"])  # fmt: skip
    assert summary["duplicates_resolved"] == 4


def test_csv_output_and_renamed_columns(tmp_path: Path) -> None:
    data = generate(70, seed=24, events_per_lead=5)
    table = lead_table(data)
    renamed = table.rename_columns(
        ["job_title" if n == "title" else "ID" if n == "id" else n for n in table.column_names]
    )
    leads = write(renamed, tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    same_job(compile_scorecard(SEED_CARD, explain=True), leads, events, tmp_path,
             suffix=".csv", columns={"title": "job_title"})  # fmt: skip


def test_parts_are_numbered_and_named_per_file_in_the_errors(tmp_path: Path) -> None:
    data = generate(90, seed=25, events_per_lead=6)
    leads_dir, events_dir = tmp_path / "leads", tmp_path / "events"
    leads_dir.mkdir()
    events_dir.mkdir()
    dirty = dirty_leads(data)
    for i in range(3):
        write(dirty.slice(30 * i, 30), leads_dir / f"part-{i}.parquet")
    events = dirty_events(data, shuffle=True)
    write(events.slice(0, 40), events_dir / "a.parquet")  # errors in both parts
    write(events.slice(40), events_dir / "b.parquet")
    same_job(compile_scorecard(SEED_CARD), leads_dir, events_dir, tmp_path)
    errors = (tmp_path / "polars.parquet.errors.csv").read_text()
    assert "part-1.parquet" in errors and "b.parquet" in errors


def test_partitions_give_the_same_bytes_as_one_pass_on_polars(tmp_path: Path) -> None:
    leads, events = dirty_files(tmp_path, seed=26, shuffle=True, n=200)
    plan = compile_scorecard(SEED_CARD, explain=True)
    # the Arrow plan in 3 partitions against polars in one pass
    same_job(plan, leads, events, tmp_path, arrow={"partitions": 3})
    auto = run(plan, leads, events, tmp_path / "auto.parquet", partitions=3)
    assert auto[0] == (tmp_path / "polars.parquet").read_bytes()


def test_without_an_errors_file_the_first_refused_row_raises_the_same(tmp_path: Path) -> None:
    leads, events = dirty_files(tmp_path, seed=27, shuffle=False)
    plan = compile_scorecard(SEED_CARD)
    raised = []
    for engine in ("arrow", "polars"):
        out = tmp_path / f"{engine}.parquet"
        with pytest.raises(ValidationError) as caught:
            score_files(plan, leads, events, out, as_of=AS_OF, engine=engine)
        raised.append(str(caught.value))
        assert not out.exists() and not (tmp_path / f".partial.{out.name}").exists()
    assert raised[0] == raised[1]


def test_a_repeated_lead_id_without_an_errors_file_raises_the_same(tmp_path: Path) -> None:
    leads, events = repeated_leads(tmp_path)
    table = pq.read_table(leads)
    clean = table.filter(pa.compute.is_valid(table.column("created_at")))
    write(clean, leads)
    raised = []
    for engine in ("arrow", "polars"):
        with pytest.raises(ValidationError) as caught:
            score_files(compile_scorecard(SEED_CARD), leads, events,
                        tmp_path / f"{engine}.parquet", as_of=AS_OF, engine=engine)  # fmt: skip
        raised.append(str(caught.value))
    assert raised[0] == raised[1]


def test_too_many_refused_rows_fail_both_the_same(tmp_path: Path) -> None:
    leads, events = dirty_files(tmp_path, seed=28, shuffle=False)
    plan = compile_scorecard(SEED_CARD)
    found = []
    for engine in ("arrow", "polars"):
        errors = tmp_path / f"{engine}.errors.csv"
        with pytest.raises(TooManyRefusedError) as caught:
            score_files(plan, leads, events, tmp_path / f"{engine}.parquet", as_of=AS_OF,
                        errors=errors, max_errors="1%", engine=engine)  # fmt: skip
        found.append((str(caught.value).replace(engine, "*"), errors.read_bytes()))
        assert not (tmp_path / f"{engine}.parquet").exists()
    assert found[0] == found[1]


# -- which engine runs --------------------------------------------------------------------------


def test_csv_inputs_and_partitions_run_on_the_arrow_plan(tmp_path: Path) -> None:
    data = generate(30, seed=29)
    leads = tmp_path / "leads.csv"
    lead_table(data).to_pandas().to_csv(leads, index=False)
    events = write(event_table(data), tmp_path / "events.parquet")
    plan = compile_scorecard(SEED_CARD)
    with pytest.raises(ConfigError, match="CSV"):
        score_files(plan, leads, events, tmp_path / "p.parquet", as_of=AS_OF, engine="polars")
    auto = score_files(plan, leads, events, tmp_path / "a.parquet", as_of=AS_OF)
    assert auto.leads_scored == 30
    pq_leads = write(lead_table(data), tmp_path / "leads.parquet")
    with pytest.raises(ConfigError, match="partitions"):
        score_files(plan, pq_leads, events, tmp_path / "p.parquet", as_of=AS_OF,
                    engine="polars", partitions=2)  # fmt: skip
    with pytest.raises(ConfigError, match="engine"):
        score_files(plan, pq_leads, events, tmp_path / "p.parquet", as_of=AS_OF, engine="duck")


def test_auto_runs_clean_parquet_on_polars(
    small_files: GeneratedFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadflow.etl.plan as plan_module

    def no_arrow(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the Arrow plan ran")

    monkeypatch.setattr(plan_module.ColumnarPlan, "score_batches", no_arrow)
    summary = score_files(compile_scorecard(SEED_CARD), small_files.leads, small_files.events,
                          tmp_path / "out.parquet", as_of=AS_OF)  # fmt: skip
    assert summary.leads_scored == small_files.lead_rows


# -- the exact mode and plan.score's default ------------------------------------------------------


def test_exact_mode_gives_the_arrow_plans_bits(tmp_path: Path) -> None:
    data = generate(400, seed=30, events_per_lead=12)
    plan = compile_scorecard(EVERY_CONDITION, explain=True)
    leads, events, accounts = lead_table(data), event_table(data), account_table(data)
    slow = plan.score(leads, events, as_of=AS_OF, accounts=accounts, engine="arrow")
    exact = score_polars(plan, leads, events, as_of=AS_OF, accounts=accounts, exact=True)
    assert isinstance(exact, pa.Table)
    for name in slow.column_names:
        a = slow.column(name).to_numpy(zero_copy_only=False)
        b = exact.column(name).to_numpy(zero_copy_only=False)
        if a.dtype == np.float64:
            assert a.view(np.int64).tolist() == b.view(np.int64).tolist(), name
        else:
            assert a.tolist() == b.tolist(), name


def test_plan_score_by_default_stays_on_the_plain_sums(
    small_files: GeneratedFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadflow.etl.engine as engine_module

    def no_split(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the exact split ran")

    monkeypatch.setattr(engine_module, "_split_exact", no_split)
    plan = compile_scorecard(SEED_CARD)
    scores = plan.score(small_files.leads, small_files.events, as_of=AS_OF)
    assert scores.num_rows == small_files.lead_rows


@pytest.mark.parametrize("points", [40.0, 3.0e-310, -7.5, 1.0e300, 1.7e308, 2.0e-300])
def test_exact_mode_with_tiny_and_huge_points(tmp_path: Path, points: float) -> None:
    card = Scorecard(name="odd", rules=[
        Rule(id="quote", category="behaviour", signal="intent", points=points,
             activities=["quote_request"], half_life_days=3.0),
        Rule(id="demo", category="behaviour", signal="interest", points=points / 3,
             activities=["demo_request", "quote_request"], within_days=20),
    ])  # fmt: skip
    data = generate(60, seed=31, kinds=card.kinds, events_per_lead=9)
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    same_job(compile_scorecard(card, explain=True), leads, events, tmp_path)


@pytest.mark.parametrize("cap", [None, 5.0])
def test_a_rule_or_score_that_is_nan_gets_the_arrow_plans_result(
    tmp_path: Path, cap: float | None
) -> None:
    # rules of +-1.7e308 points overflow to +-inf and total NaN (as in score_lead). Arrow's
    # comparisons take NaN as false (nurture, no intent); polars orders NaN above every
    # number. (The largest float's rule, capped or not, is finite: see the top-binade test.)
    from datetime import timedelta

    card = Scorecard(name="nan", rules=[
        Rule(id="up", category="behaviour", signal="intent", points=1.7e308,
             activities=["quote_request"]),
        Rule(id="down", category="behaviour", signal="intent", points=-1.7e308,
             activities=["demo_request"]),
        Rule(id="edge", category="behaviour", signal="intent", points=-1.7976931348623157e308,
             activities=["rfp"], cap=cap),
    ], thresholds=Thresholds(mql=-1.0, sql_ready=1.0))  # fmt: skip
    leads = write(pa.table({
        "id": ["L-1", "L-2", "L-3"],
        "created_at": pa.array([AS_OF - timedelta(days=400)] * 3, pa.timestamp("us", tz="UTC")),
    }), tmp_path / "leads.parquet")  # fmt: skip
    kinds = ["quote_request"] * 2 + ["demo_request"] * 2 + ["rfp", "quote_request"]
    events = write(pa.table({
        "id": [f"A-{i}" for i in range(6)],
        "lead_id": ["L-1"] * 4 + ["L-2", "L-3"],
        "kind": kinds,
        "occurred_at": pa.array([AS_OF] * 6, pa.timestamp("us", tz="UTC")),
    }), tmp_path / "events.parquet")  # fmt: skip
    for explain in (False, True):
        same_job(compile_scorecard(card, explain=explain), leads, events, tmp_path)
    scores = pq.read_table(tmp_path / "polars.parquet").to_pylist()
    # inf + -inf: NaN for score_lead too, which recommends nurture (nan >= 80 is false)
    assert math.isnan(scores[0]["score"])
    assert scores[0]["recommendation"] == "nurture"


@pytest.mark.parametrize("points", [1.7976931348623157e308, -1.7976931348623157e308])
def test_points_in_the_top_binade_give_score_leads_number_not_nan(
    tmp_path: Path, points: float
) -> None:
    # the exact levels' first step is 2**998 for points in [2**1023, 2**1024): a term of the
    # largest float rounds to 2**26 steps, 2**1024, which overflows (the sum was NaN)
    from datetime import timedelta

    from leadflow.model import Activity, Lead
    from leadflow.rules.scoring import score_lead

    card = Scorecard(name="top", rules=[
        Rule(id="quote", category="behaviour", signal="intent", points=points,
             activities=["quote_request"]),
        Rule(id="demo", category="behaviour", signal="interest", points=points,
             activities=["demo_request"], cap=5.0, half_life_days=2.0),
    ])  # fmt: skip
    created = AS_OF - timedelta(days=9)
    when = [AS_OF, AS_OF, AS_OF - timedelta(days=1), AS_OF - timedelta(seconds=1)]
    events = [
        Activity(id="E-0", lead_id="L-0", kind="quote_request", occurred_at=when[0]),
        Activity(id="E-1", lead_id="L-1", kind="demo_request", occurred_at=when[1]),
        Activity(id="E-2", lead_id="L-2", kind="quote_request", occurred_at=when[2]),
        Activity(id="E-3", lead_id="L-3", kind="quote_request", occurred_at=when[3]),
    ]
    leads = write(pa.table({
        "id": [f"L-{i}" for i in range(4)],
        "created_at": pa.array([created] * 4, pa.timestamp("us", tz="UTC")),
    }), tmp_path / "leads.parquet")  # fmt: skip
    event_file = write(pa.table({
        "id": [e.id for e in events],
        "lead_id": [e.lead_id for e in events],
        "kind": [e.kind for e in events],
        "occurred_at": pa.array(when, pa.timestamp("us", tz="UTC")),
    }), tmp_path / "events.parquet")  # fmt: skip
    same_job(compile_scorecard(card, explain=True), leads, event_file, tmp_path)
    rows = pq.read_table(tmp_path / "polars.parquet").to_pylist()
    for row in rows:
        lead = Lead(id=row["id"], created_at=created)
        want = score_lead(card, lead, [e for e in events if e.lead_id == lead.id], as_of=AS_OF)
        assert math.isclose(want.total, row["score"], rel_tol=1e-12), (row, want.total)
        assert want.recommendation.value == row["recommendation"]


# -- generated dirty data -------------------------------------------------------------------------


EDITS = ["repeat", "orphan", "kind", "late", "blank", "stale"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 10_000),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(EDITS)), max_size=12),
)
def test_generated_dirty_data_gives_the_same_bytes(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    flags: tuple[bool, bool, bool],
    edits: list[tuple[int, str]],
) -> None:
    shuffle, explain, dedupe = flags
    tmp_path = tmp_path_factory.mktemp("gen")
    data = generate(50, seed=seed, events_per_lead=6)
    leads = dirty_leads(data)
    table = dirty_events(data, shuffle=shuffle)
    rows = table.to_pylist()
    lead_rows = leads.to_pylist()
    for at, edit in edits:
        row = dict(rows[at % len(rows)])
        if edit == "repeat":
            rows.insert((at * 7) % len(rows), row)
        elif edit == "orphan":
            rows.append({**row, "lead_id": f"L-GONE-{at}"})
        elif edit == "kind":
            rows.append({**row, "id": f"K-{at}", "kind": "carrier_pigeon"})
        elif edit == "late":
            rows.append({**row, "id": f"T-{at}", "occurred_at": AS_OF.replace(year=2030)})
        elif edit == "blank":
            lead_rows.append({**lead_rows[at % len(lead_rows)], "title": "  "})
        else:  # a repeated lead id, older
            lead_rows.append({**lead_rows[at % len(lead_rows)], "employees": at})
    leads_path = write(pa.Table.from_pylist(lead_rows, schema=leads.schema),
                       tmp_path / "leads.parquet", row_group_size=40)  # fmt: skip
    events_path = write(pa.Table.from_pylist(rows, schema=table.schema),
                        tmp_path / "events.parquet", row_group_size=64)  # fmt: skip
    same_job(compile_scorecard(SEED_CARD, explain=explain), leads_path, events_path, tmp_path,
             dedupe="latest:employees" if dedupe else None)  # fmt: skip


def test_keeping_a_lead_field_checks_it_as_that_field(tmp_path: Path) -> None:
    # employees is not read by the card: kept, it is still a head count (a negative one is
    # refused), not a custom property taken as it is (which made the Arrow job raise later)
    data = generate(20, seed=33)
    table = lead_table(data)
    employees = table.column("employees").to_pylist()
    employees[4] = -4
    table = table.set_column(table.column_names.index("employees"), "employees",
                             pa.array(employees, pa.int64()))  # fmt: skip
    leads = write(table, tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    summary = same_job(compile_scorecard(SEED_CARD), leads, events, tmp_path,
                       keep=["employees"], dedupe="latest:employees")  # fmt: skip
    assert summary["rows_refused"] == 1


def test_a_non_finite_custom_float_is_refused_by_both(tmp_path: Path) -> None:
    data = generate(20, seed=32)
    table = lead_table(data).append_column(
        "score_hint", pa.array([math.nan] + [1.0] * 19, pa.float64())
    )
    leads = write(table, tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    summary = same_job(compile_scorecard(SEED_CARD), leads, events, tmp_path,
                       keep=["score_hint"])  # fmt: skip
    assert summary["rows_refused"] == 1


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(card=scorecards(), seed=st.integers(0, 10_000), explain=st.booleans())
def test_generated_scorecards_give_the_same_bytes(
    tmp_path_factory: pytest.TempPathFactory, card: Scorecard, seed: int, explain: bool
) -> None:
    tmp_path = tmp_path_factory.mktemp("card")
    data = generate(40, seed=seed, kinds=card.kinds, events_per_lead=8)
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    accounts = write(account_table(data), tmp_path / "accounts.parquet")
    same_job(compile_scorecard(card, explain=explain), leads, events, tmp_path,
             accounts=accounts)  # fmt: skip


def test_events_without_ids_empty_leads_and_dictionary_encoded_columns(tmp_path: Path) -> None:
    data = generate(50, seed=34, events_per_lead=6)
    events = event_table(data)
    plan = compile_scorecard(SEED_CARD, explain=True)
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    # without ids, repeats cannot be told apart: every row counts
    no_ids = write(pa.concat_tables([events, events]).drop_columns(["id"]),
                   tmp_path / "no-ids.parquet")  # fmt: skip
    (tmp_path / "a").mkdir()
    assert same_job(plan, leads, no_ids, tmp_path / "a")["events_duplicate"] == 0
    # kinds and lead ids stored as dictionaries (categorical)
    encoded = events.set_column(
        events.column_names.index("kind"), "kind", events.column("kind").dictionary_encode()
    )
    encoded = encoded.set_column(
        encoded.column_names.index("lead_id"), "lead_id",
        encoded.column("lead_id").dictionary_encode(),
    )  # fmt: skip
    (tmp_path / "b").mkdir()
    same_job(plan, leads, write(encoded, tmp_path / "encoded.parquet"), tmp_path / "b")
    # no leads at all: every event is orphaned, the output has the schema and no rows
    empty = write(lead_table(data).slice(0, 0), tmp_path / "empty.parquet")
    (tmp_path / "c").mkdir()
    summary = same_job(plan, empty, write(events, tmp_path / "events.parquet"), tmp_path / "c")
    assert (summary["leads_scored"], summary["events_orphaned"]) == (0, events.num_rows)


def test_rising_event_ids_with_rows_to_fix_and_to_refuse(tmp_path: Path) -> None:
    # ids rise down the file (no repeat is possible), yet some rows fail a clean test
    data = generate(40, seed=35, events_per_lead=6)
    rows = sorted(event_table(data).to_pylist(), key=lambda row: str(row["id"]))
    rows[3]["kind"] = "  quote_request "  # stripped by the contract, then counted
    rows[5]["lead_id"] = ""  # refused
    rows[8]["kind"] = "Demo Request"  # refused: not snake_case
    events = write(pa.Table.from_pylist(rows, schema=event_table(data).schema),
                   tmp_path / "events.parquet")  # fmt: skip
    ids = pq.read_table(events).column("id").to_pylist()
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    summary = same_job(compile_scorecard(SEED_CARD), leads, events, tmp_path)
    assert summary["rows_refused"] == 2


def test_a_property_column_named_properties_dot(tmp_path: Path) -> None:
    data = generate(60, seed=36, events_per_lead=5)
    table = dirty_leads(data)
    table = table.rename_columns(
        ["properties.persona" if n == "persona" else n for n in table.column_names]
    )
    leads = write(table, tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    accounts = write(account_table(data), tmp_path / "accounts.parquet")
    same_job(compile_scorecard(EVERY_CONDITION, explain=True), leads, events, tmp_path,
             accounts=accounts, keep=["persona"])  # fmt: skip


def test_a_rule_of_minus_zero_points_totals_plus_zero(tmp_path: Path) -> None:
    # the Arrow plan's running sums start at +0.0 and never become -0.0; polars may take
    # 0.0 + x for x, so a -0.0 rule made a -0.0 subtotal (found by generated scorecards)
    card = Scorecard(name="zero", rules=[
        Rule(id="vp", category="fit", points=-0.0, when=TitleKeywords(keywords=["VP"])),
        Rule(id="quote", category="behaviour", signal="intent", points=-0.0,
             activities=["quote_request"]),
    ])  # fmt: skip
    data = generate(60, seed=37, events_per_lead=5)
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    same_job(compile_scorecard(card, explain=True), leads, events, tmp_path, suffix=".csv")
    same_job(compile_scorecard(card), leads, events, tmp_path)


@pytest.mark.parametrize("explain", [False, True])
def test_an_intent_term_below_the_exact_grid_still_shows_intent(
    tmp_path: Path, explain: bool
) -> None:
    # a demo request 400 days old at a 7-day half-life adds 20 * 2**-57 points: below the
    # exact levels' finest step (the sum is 0.0), but score_lead (and the compiled SQL) count
    # it as an intent signal, so a lead at 90 points is sql_ready, not mql
    from datetime import timedelta

    from leadflow.model import Activity, Lead
    from leadflow.rules.scoring import score_lead

    card = Scorecard(name="old-intent", rules=[
        Rule(id="demo", category="behaviour", signal="intent", points=20.0,
             activities=["demo_request"], half_life_days=7.0),
        Rule(id="gated", category="behaviour", signal="intent", points=20.0,
             activities=["rfp"], half_life_days=7.0,
             when=TitleKeywords(keywords=["VP"])),
        Rule(id="visit", category="behaviour", signal="interest", points=90.0,
             activities=["web_visit"]),
    ])  # fmt: skip
    created = AS_OF - timedelta(days=500)
    leads = [Lead(id=f"L-{i}", created_at=created, title=title)
             for i, title in enumerate(["Engineer", "VP Sales", "Engineer", "Engineer"])]  # fmt: skip
    old, now = AS_OF - timedelta(days=400), AS_OF
    events = [
        Activity(id="E-0", lead_id="L-0", kind="demo_request", occurred_at=old),
        Activity(id="E-1", lead_id="L-0", kind="web_visit", occurred_at=now),
        Activity(id="E-2", lead_id="L-1", kind="rfp", occurred_at=old),  # gate holds
        Activity(id="E-3", lead_id="L-1", kind="web_visit", occurred_at=now),
        Activity(id="E-4", lead_id="L-2", kind="rfp", occurred_at=old),  # gate fails
        Activity(id="E-5", lead_id="L-2", kind="web_visit", occurred_at=now),
        Activity(id="E-6", lead_id="L-3", kind="web_visit", occurred_at=now),  # no intent
    ]
    lead_file = write(pa.table({
        "id": [x.id for x in leads],
        "created_at": pa.array([created] * len(leads), pa.timestamp("us", tz="UTC")),
        "title": [x.title for x in leads],
    }), tmp_path / "leads.parquet")  # fmt: skip
    event_file = write(pa.table({
        "id": [e.id for e in events],
        "lead_id": [e.lead_id for e in events],
        "kind": [e.kind for e in events],
        "occurred_at": pa.array([e.occurred_at for e in events], pa.timestamp("us", tz="UTC")),
    }), tmp_path / "events.parquet")  # fmt: skip
    plan = compile_scorecard(card, explain=explain)
    same_job(plan, lead_file, event_file, tmp_path)
    want = [
        score_lead(card, lead, [e for e in events if e.lead_id == lead.id], as_of=AS_OF)
        for lead in leads
    ]
    assert [w.recommendation.value for w in want] == ["sql_ready", "sql_ready", "mql", "mql"]
    rows = pq.read_table(tmp_path / "polars.parquet").to_pylist()
    assert [w.recommendation.value for w in want] == [r["recommendation"] for r in rows]
    split = tmp_path / "split.parquet"
    score_files(plan, lead_file, event_file, split, as_of=AS_OF, engine="arrow", partitions=3,
                workdir=tmp_path)  # fmt: skip
    assert [r["recommendation"] for r in rows] == [
        r["recommendation"] for r in pq.read_table(split).to_pylist()
    ]
    for exact in (False, True):
        found = score_polars(plan, pq.read_table(lead_file), pq.read_table(event_file),
                             as_of=AS_OF, exact=exact)  # fmt: skip
        assert isinstance(found, pa.Table)
        assert [r["recommendation"] for r in rows] == found.column("recommendation").to_pylist()
    assert [r["recommendation"] for r in rows] == plan.score(
        pq.read_table(lead_file), pq.read_table(event_file), as_of=AS_OF, engine="arrow"
    ).column("recommendation").to_pylist()


def test_rules_on_one_grid_sharing_a_kind(tmp_path: Path) -> None:
    # 40 and 35 points split on the same grid; their kinds overlap, so each keeps its own split
    card = Scorecard(name="shared", rules=[
        Rule(id="quote", category="behaviour", signal="intent", points=40,
             activities=["quote_request", "demo_request"], half_life_days=5.0),
        Rule(id="demo", category="behaviour", signal="interest", points=35,
             activities=["quote_request"], within_days=40),
        Rule(id="web", category="behaviour", signal="interest", points=36,
             activities=["web_visit"]),
    ])  # fmt: skip
    data = generate(80, seed=38, kinds=card.kinds, events_per_lead=10)
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    same_job(compile_scorecard(card, explain=True), leads, events, tmp_path)


def test_a_lead_with_more_events_than_packed_sums_hold(tmp_path: Path) -> None:
    # the polars job sums both exact levels of a rule as one Int64 of whole steps: at most
    # 2**53 per event, so 1,500 events of 63 points (63/64 of 2**53 steps each) overflow it;
    # the job then sums the levels as floats, as the Arrow plan does
    from datetime import timedelta

    card = Scorecard(name="busy", rules=[
        Rule(id="quote", category="behaviour", signal="intent", points=63.0,
             activities=["quote_request"]),
        Rule(id="demo", category="behaviour", signal="interest", points=5.0,
             activities=["demo_request"]),
    ])  # fmt: skip
    leads = write(pa.table({
        "id": ["L-1", "L-2"],
        "created_at": pa.array([AS_OF - timedelta(days=400)] * 2, pa.timestamp("us", tz="UTC")),
    }), tmp_path / "leads.parquet")  # fmt: skip
    n = 1_500
    when = [AS_OF - timedelta(seconds=1 + i) for i in range(n)] + [AS_OF - timedelta(days=3)]
    events = write(pa.table({
        "id": [f"A-{i:05d}" for i in range(n + 1)],
        "lead_id": ["L-1"] * n + ["L-2"],
        "kind": ["quote_request"] * (n - 1) + ["demo_request", "quote_request"],
        "occurred_at": pa.array(when, pa.timestamp("us", tz="UTC")),
    }), tmp_path / "events.parquet")  # fmt: skip
    same_job(compile_scorecard(card), leads, events, tmp_path)
    scores = pq.read_table(tmp_path / "polars.parquet").to_pylist()
    assert 63.0 * (n - 1) * 0.999 < scores[0]["score"] < 63.0 * (n - 1) + 5.0


def test_dedupe_latest_ties_minus_zero_with_zero(tmp_path: Path) -> None:
    # Arrow's sort takes -0.0 and 0.0 as equal: a tie, so the first row is kept
    data = generate(10, seed=39, events_per_lead=3)
    table = lead_table(data)
    rows = table.to_pylist()
    for row in rows:
        row["_weight"] = 1.0
    rows[2]["_weight"] = -0.0
    rows.append({**rows[2], "_weight": 0.0, "title": "Chief Executive Officer"})
    schema = table.schema.append(pa.field("_weight", pa.float64()))
    leads = write(pa.Table.from_pylist(rows, schema=schema), tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    summary = same_job(compile_scorecard(SEED_CARD), leads, events, tmp_path,
                       dedupe="latest:_weight", keep=["_weight", "title"])  # fmt: skip
    assert summary["duplicates_resolved"] == 1


def test_a_repeated_event_id_is_scored_as_score_lead_scores_it(tmp_path: Path) -> None:
    """The summary counts every repeated event (``lead_id``, ``id``) whatever its kind or
    time; the scores keep the first of the repeats that can count (a kind the card reads, at
    or before the instant) -- as ``plan.score`` and ``score_lead`` do -- so a repeat under a
    kind nothing reads, or dated after the instant, hides nothing. Both engines, CSV too."""
    from datetime import timedelta

    from leadflow.model import Lead
    from leadflow.rules import score_lead

    day = timedelta(days=1)
    who = Lead(id="L-1", created_at=AS_OF - 90 * day)
    acts = repeated_ids()
    expected = score_lead(SEED_CARD, who, acts, as_of=AS_OF)
    assert expected.intent > 0  # the quote and the demo request count
    ts = pa.timestamp("us", tz="UTC")
    leads = write(
        pa.table(
            {
                "id": ["L-1"],
                "created_at": pa.array([who.created_at], ts),
                **{name: pa.array([None], pa.string()) for name in ("title", "industry",
                                                                     "email", "account_id")},
                "annual_revenue": pa.array([None], pa.float64()),
            }
        ),
        tmp_path / "leads.parquet",
    )  # fmt: skip
    table = activity_table(acts)
    events = write(table, tmp_path / "events.parquet")
    plan = compile_scorecard(SEED_CARD)
    summary = same_job(plan, leads, events, tmp_path)
    assert summary["events_duplicate"] == 3
    (row,) = pq.read_table(tmp_path / "polars.parquet").to_pylist()
    assert row["behaviour"] == pytest.approx(expected.behaviour, rel=1e-12)
    assert row["intent"] == pytest.approx(expected.intent, rel=1e-12)
    (direct,) = plan.score(leads, events, as_of=AS_OF).to_pylist()
    assert direct["behaviour"] == pytest.approx(expected.behaviour, rel=1e-12)
    for partitions in (1, 3):  # the Arrow plan's paths: CSV, and partitioned
        csv_events = tmp_path / "events.csv"
        pa.csv.write_csv(table, csv_events)
        out = tmp_path / f"csv-{partitions}.parquet"
        score_files(plan, leads, csv_events, out, as_of=AS_OF, partitions=partitions,
                    errors=tmp_path / "e.csv")  # fmt: skip
        (row,) = pq.read_table(out).to_pylist()
        assert row["behaviour"] == pytest.approx(expected.behaviour, rel=1e-12), partitions


def test_without_rising_ids_a_repeat_is_a_repeated_lead_and_id(tmp_path: Path) -> None:
    """Event ids that do not rise down the file: repeats are looked for by key (hashes of
    ``lead_id`` and ``id``, then the keys themselves). The same id under two leads is two
    events; a copy counts once (the first in row order), wherever it is in the file. Both
    engines the same bytes, and ``plan.score`` as ``score_lead``."""
    from datetime import timedelta

    from leadflow.model import Activity, Lead
    from leadflow.rules import score_lead

    day = timedelta(days=1)

    def act(id: str, lead: str, kind: str, days_ago: float) -> Activity:
        return Activity(id=id, lead_id=lead, kind=kind, occurred_at=AS_OF - days_ago * day)

    acts = [
        act("E9", "L-1", "quote_request", 2),
        act("E1", "L-2", "quote_request", 1),
        act("E1", "L-1", "demo_request", 3),  # E1 again, another lead: not a repeat
        act("E5", "L-2", "webinar_attended", 4),
        act("E9", "L-1", "quote_request", 2),  # a copy of the first row
        act("E5", "L-2", "webinar_attended", 4),  # and of the fourth
    ]
    who = [Lead(id=f"L-{n}", created_at=AS_OF - 90 * day) for n in (1, 2)]
    ts = pa.timestamp("us", tz="UTC")
    none = pa.array([None, None], pa.string())
    leads = write(
        pa.table({
            "id": [lead.id for lead in who],
            "created_at": pa.array([lead.created_at for lead in who], ts),
            **dict.fromkeys(("title", "industry", "email", "account_id"), none),
            "annual_revenue": pa.array([None, None], pa.float64()),
        }),
        tmp_path / "leads.parquet",
    )  # fmt: skip
    events = write(activity_table(acts), tmp_path / "events.parquet")
    plan = compile_scorecard(SEED_CARD)
    summary = same_job(plan, leads, events, tmp_path)
    assert summary["events_duplicate"] == 2
    once = acts[:4]
    expected = {
        lead.id: score_lead(SEED_CARD, lead, [a for a in once if a.lead_id == lead.id],
                            as_of=AS_OF)
        for lead in who
    }  # fmt: skip
    counted_twice = [*once, act("E9-copy", "L-1", "quote_request", 2)]
    twice = score_lead(SEED_CARD, who[0], [a for a in counted_twice if a.lead_id == "L-1"],
                       as_of=AS_OF)  # fmt: skip
    assert twice.intent != expected["L-1"].intent  # counted twice, the copy changes the score
    for row in [*pq.read_table(tmp_path / "polars.parquet").to_pylist(),
                *plan.score(leads, events, as_of=AS_OF).to_pylist()]:  # fmt: skip
        want = expected[row["id"]]
        assert row["score"] == pytest.approx(want.total, rel=1e-12), row
        assert row["intent"] == pytest.approx(want.intent, rel=1e-12), row


def test_a_fixed_offset_time_zone_runs_on_the_arrow_plan(tmp_path: Path) -> None:
    # Arrow keeps a zone such as "+05:30"; polars reads IANA names only (scanning such a
    # Parquet file panicked, an exception no caller catches): auto falls back to the Arrow plan
    data = generate(40, seed=31)
    table = event_table(data)
    at = table.column_names.index("occurred_at")
    table = table.set_column(at, "occurred_at",
                             table.column(at).cast(pa.timestamp("ms", tz="+05:30")))  # fmt: skip
    events = write(table, tmp_path / "events.parquet")
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    plan = compile_scorecard(SEED_CARD)
    auto = run(plan, leads, events, tmp_path / "auto.parquet")
    arrow = run(plan, leads, events, tmp_path / "arrow.parquet", engine="arrow")
    assert auto == arrow
    with pytest.raises(ConfigError, match=r"'occurred_at' in time zone '\+05:30'"):
        score_files(plan, leads, events, tmp_path / "p.parquet", as_of=AS_OF, engine="polars")
    # a column the job does not read: polars still reads its type from the file
    table = lead_table(data)
    stamps = table.column("created_at").cast(pa.timestamp("us", tz="+05:30"))
    leads = write(table.append_column("loaded_at", stamps), tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    auto = run(plan, leads, events, tmp_path / "auto.parquet")
    assert auto == run(plan, leads, events, tmp_path / "arrow.parquet", engine="arrow")


@pytest.mark.parametrize("ids", ["rising", "none"])
def test_events_in_another_zone_with_rows_to_fix(tmp_path: Path, ids: str) -> None:
    # the rows fixed by the Arrow contract come back in microseconds UTC; the clean rows
    # were concatenated with them as the file has them (a zone, milliseconds): polars failed
    data = generate(30, seed=32, events_per_lead=6)
    rows = event_table(data).to_pylist()
    rows[4]["kind"] = "  web_visit "  # fixed by the Arrow contract
    rows[7]["lead_id"] = ""  # refused
    table = pa.Table.from_pylist(rows, schema=event_table(data).schema)
    at = table.column_names.index("occurred_at")
    table = table.set_column(at, "occurred_at",
                             table.column(at).cast(pa.timestamp("ms", tz="Asia/Kolkata")))  # fmt: skip
    if ids == "rising":
        table = table.set_column(0, "id", pa.array([f"E{k:05d}" for k in range(len(rows))]))
    else:
        table = table.drop_columns(["id"])
    events = write(table, tmp_path / "events.parquet")
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    summary = same_job(compile_scorecard(SEED_CARD), leads, events, tmp_path)
    assert summary["rows_refused"] == 1


def test_dedupe_latest_on_dictionary_encoded_columns(tmp_path: Path) -> None:
    # dictionary-encoded Parquet columns (as pandas' category dtype writes): the Arrow job's
    # sort refused them, and its orphan count dictionary-encoded lead ids (ArrowTypeError, a
    # crash), where the polars job took their text
    data = generate(30, seed=33, events_per_lead=3)
    rows = lead_table(data).to_pylist()
    rows += [{**rows[2], "title": "Zookeeper"}, {**rows[4], "title": "Aardvark keeper"},
             {**rows[6], "title": None}]  # fmt: skip
    table = pa.Table.from_pylist(rows, schema=lead_table(data).schema)
    for name in ("id", "title", "persona"):
        at = table.column_names.index(name)
        table = table.set_column(at, name, pc.dictionary_encode(table.column(at)))
    leads = write(table, tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    plan = compile_scorecard(SEED_CARD)
    summary = same_job(plan, leads, events, tmp_path, dedupe="latest:title", keep=["title"])
    assert summary["duplicates_resolved"] == 3
    split = run(plan, leads, events, tmp_path / "split.parquet", engine="arrow", partitions=3,
                dedupe="latest:title", keep=["title"])  # fmt: skip
    assert split[0] == (tmp_path / "polars.parquet").read_bytes()
    kept = {r["id"]: r["title"] for r in pq.read_table(tmp_path / "polars.parquet").to_pylist()}
    assert kept[rows[2]["id"]] == max("Zookeeper", rows[2]["title"] or "")
    assert kept[rows[6]["id"]] == rows[6]["title"]  # a null is the oldest
    # a custom property kept as it is: the Arrow job runs it (auto), sorted by its text
    _, _, found = run(plan, leads, events, tmp_path / "persona.parquet", dedupe="latest:persona")
    assert found["duplicates_resolved"] == 3


def test_dictionary_encoded_account_ids(tmp_path: Path) -> None:
    # the accounts' id is the join key: dictionary-encoded, the Arrow plan's lookup and the
    # polars join both refused it (ArrowTypeError, SchemaError), whichever engine ran
    data = generate(40, seed=34, events_per_lead=3)
    table = account_table(data)
    table = table.set_column(0, "id", pc.dictionary_encode(table.column("id")))
    accounts = write(table, tmp_path / "accounts.parquet")
    leads = write(lead_table(data), tmp_path / "leads.parquet")
    events = write(event_table(data), tmp_path / "events.parquet")
    plan = compile_scorecard(EVERY_CONDITION)
    same_job(plan, leads, events, tmp_path, accounts=accounts)
    plain = write(account_table(data), tmp_path / "plain.parquet")
    want = run(plan, leads, events, tmp_path / "plain-out.parquet", accounts=plain)
    assert (tmp_path / "polars.parquet").read_bytes() == want[0]
    for engine in ("arrow", "polars"):
        found = plan.score(lead_table(data), event_table(data), as_of=AS_OF, accounts=table,
                           engine=engine)  # fmt: skip
        assert found.equals(plan.score(lead_table(data), event_table(data), as_of=AS_OF,
                                       accounts=account_table(data), engine=engine))  # fmt: skip
