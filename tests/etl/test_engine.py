"""The polars engine (the default of ``plan.score``): score_lead's numbers, and the Arrow plan's
refused rows -- the same row, id, field, value and reason -- on clean and dirty inputs."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.errors import ConfigError, ValidationError
from leadflow.etl import compile_scorecard
from leadflow.etl.contract import ErrorSink, RowError
from leadflow.etl.engine import unsupported
from leadflow.etl.synthetic import GeneratedFiles
from leadflow.rules.scorecard import Scorecard

from ..rules.strategies import scorecards  # noqa: TID252 - the scorecard tests' own strategies
from .conftest import AS_OF, activity_table, assert_same_scores, repeated_ids
from .sql_data import account_table, compare, event_table, expected, generate, lead_table
from .test_sql import CARD as EVERY_CONDITION
from .test_sql import SEED as SEED_CARD

TS = pa.timestamp("us", tz="UTC")


def both(
    plan: Any, leads: Any, events: Any, **kwargs: Any
) -> tuple[pa.Table, list[RowError], pa.Table, list[RowError]]:
    """(polars scores, polars errors, Arrow scores, Arrow errors) for the same inputs."""
    fast_sink, slow_sink = ErrorSink(None), ErrorSink(None)
    fast = plan.score(leads, events, as_of=AS_OF, errors=fast_sink, engine="polars", **kwargs)
    slow = plan.score(leads, events, as_of=AS_OF, errors=slow_sink, engine="arrow", **kwargs)
    return fast, fast_sink.errors, slow, slow_sink.errors


# -- the numbers -------------------------------------------------------------------------------


def test_every_kind_of_condition_matches_score_lead() -> None:
    data = generate(500, seed=5, events_per_lead=10)
    plan = compile_scorecard(EVERY_CONDITION)
    scores = plan.score(
        lead_table(data), event_table(data), as_of=AS_OF, accounts=account_table(data),
        engine="polars",
    )  # fmt: skip
    compare(EVERY_CONDITION, expected(EVERY_CONDITION, data), scores.to_pylist())
    assert scores.column("id").to_pylist() == [lead.id for lead in data.leads]  # input order


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(card=scorecards(), seed=st.integers(0, 10_000), explain=st.booleans())
def test_generated_scorecards_match_score_lead(card: Scorecard, seed: int, explain: bool) -> None:
    data = generate(40, seed=seed, kinds=card.kinds)
    plan = compile_scorecard(card, explain=explain)
    sink = ErrorSink(None)
    scores = plan.score(
        lead_table(data), event_table(data), as_of=AS_OF, accounts=account_table(data),
        errors=sink, engine="polars",
    )  # fmt: skip
    compare(card, expected(card, data), scores.to_pylist())
    assert sink.errors == []


def test_parquet_paths_are_scored_like_the_tables(small_files: GeneratedFiles) -> None:
    plan = compile_scorecard(SEED_CARD)
    from_files = plan.score(small_files.leads, small_files.events, as_of=AS_OF)
    tables = pq.read_table(small_files.leads), pq.read_table(small_files.events)
    assert_same_scores(from_files, plan.score(*tables, as_of=AS_OF, engine="arrow"))
    assert from_files.num_rows == small_files.lead_rows


# -- the contract on dirty inputs ----------------------------------------------------------------


def dirty_leads(data: Any) -> pa.Table:
    """The generated leads with one problem (or one thing to normalise) every few rows."""
    table = lead_table(data)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    n = table.num_rows
    edits: list[tuple[str, Any]] = [
        ("id", ""),  # blank id
        ("id", "   "),
        ("title", "  VP Sales  "),  # stripped, then scored
        ("title", "Vicé President"),  # non-ASCII: checked through the Arrow contract
        ("email", "MAILTO:Ada@GMail.com"),  # normalised to ada@gmail.com (free mail)
        ("email", "not-an-address"),
        ("email", "a@b"),
        ("employees", -4),
        ("annual_revenue", float("nan")),
        ("annual_revenue", float("inf")),
        ("annual_revenue", -1.0),
        ("created_at", None),
        ("industry", "   "),  # blank: missing
        ("country", "\tUS\n"),
        ("persona", ""),  # a custom property: "" means absent
    ]
    for i, (name, value) in enumerate(edits):
        columns[name][(7 * i + 3) % n] = value
    types = {f.name: f.type for f in table.schema}
    return pa.table({name: pa.array(values, types[name]) for name, values in columns.items()})


def dirty_events(data: Any, *, shuffle: bool) -> pa.Table:
    table = event_table(data)
    rows = table.to_pylist()
    if shuffle:  # ids no longer rising: repeats are found by key
        rows = rows[::-1]
    edits: list[tuple[str, Any]] = [
        ("lead_id", ""),
        ("lead_id", " "),
        ("kind", "  quote_request "),  # stripped: counts
        ("kind", "Quote Request"),  # not snake_case
        ("kind", None),
        ("occurred_at", None),
        ("id", ""),
        ("id", "\t"),
    ]
    for i, (name, value) in enumerate(edits):
        rows[(11 * i + 5) % len(rows)][name] = value
    # repeated events (same id and lead): counted once, not refused
    rows += [dict(rows[k]) for k in (1, 2, 3, 40)]
    rows.insert(10, dict(rows[30]))
    return pa.Table.from_pylist(rows, schema=table.schema)


@pytest.mark.parametrize("shuffle", [False, True])
def test_dirty_inputs_give_the_arrow_plans_scores_and_errors(shuffle: bool) -> None:
    data = generate(120, seed=11, events_per_lead=8)
    plan = compile_scorecard(EVERY_CONDITION)
    leads, events = dirty_leads(data), dirty_events(data, shuffle=shuffle)
    accounts = account_table(data).to_pylist()
    accounts[1]["name"] = " "  # refused: an account needs a name
    accounts[2]["annual_revenue"] = -5.0
    accounts = pa.Table.from_pylist(accounts, schema=account_table(data).schema)
    fast, fast_errors, slow, slow_errors = both(plan, leads, events, accounts=accounts)
    assert fast_errors == slow_errors
    assert [e.source for e in fast_errors].count("accounts") == 2
    assert {e.field for e in fast_errors} >= {
        "id", "email", "employees", "annual_revenue", "created_at", "lead_id", "kind",
        "occurred_at",
    }  # fmt: skip
    assert_same_scores(fast, slow)
    assert fast.num_rows == leads.num_rows - sum(e.source == "leads" for e in fast_errors)


def test_dirty_parquet_files_give_the_arrow_plans_scores_and_errors(tmp_path: Path) -> None:
    data = generate(120, seed=12, events_per_lead=8)
    plan = compile_scorecard(SEED_CARD, explain=True)
    leads, events = tmp_path / "leads.parquet", tmp_path / "events.parquet"
    pq.write_table(dirty_leads(data), leads, row_group_size=50)
    # several row groups: statistics of the later ones show the blank lead ids
    pq.write_table(dirty_events(data, shuffle=False), events, row_group_size=100)
    fast, fast_errors, slow, slow_errors = both(plan, leads, events)
    assert fast_errors == slow_errors != []
    assert_same_scores(fast, slow)


def test_repeated_events_count_once_whatever_their_order() -> None:
    data = generate(30, seed=13, events_per_lead=6)
    plan = compile_scorecard(SEED_CARD)
    leads, events = lead_table(data), event_table(data)
    once = plan.score(leads, events, as_of=AS_OF, engine="polars")
    doubled = pa.concat_tables([events, events])  # each id repeats: ids no longer rising
    assert_same_scores(plan.score(leads, doubled, as_of=AS_OF, engine="polars"), once)
    interleaved = doubled.take(pa.array([i // 2 + (i % 2) * events.num_rows
                                         for i in range(doubled.num_rows)]))  # fmt: skip
    assert_same_scores(plan.score(leads, interleaved, as_of=AS_OF, engine="polars"), once)
    # the same id on another lead is another event
    other = events.set_column(
        events.column_names.index("lead_id"), "lead_id",
        pa.array([data.leads[0].id] * events.num_rows),
    )  # fmt: skip
    more = plan.score(leads, pa.concat_tables([events, other]), as_of=AS_OF, engine="polars")
    assert more.column("behaviour")[0].as_py() >= once.column("behaviour")[0].as_py()


def test_without_a_sink_the_first_refused_row_raises() -> None:
    data = generate(20, seed=14)
    plan = compile_scorecard(SEED_CARD)
    events = dirty_events(data, shuffle=False)
    with pytest.raises(ValidationError) as fast:
        plan.score(lead_table(data), events, as_of=AS_OF, engine="polars")
    with pytest.raises(ValidationError) as slow:
        plan.score(lead_table(data), events, as_of=AS_OF, engine="arrow")
    assert str(fast.value) == str(slow.value)


# -- what falls back to the Arrow plan ---------------------------------------------------------


def test_text_typed_columns_fall_back_to_the_arrow_plan() -> None:
    data = generate(30, seed=15)
    plan = compile_scorecard(SEED_CARD)
    leads = lead_table(data)
    as_text = leads.set_column(
        leads.column_names.index("employees"), "employees",
        pa.array([None if v is None else f"{v}" for v in leads.column("employees").to_pylist()]),
    )  # fmt: skip
    events = event_table(data)
    assert_same_scores(
        plan.score(as_text, events, as_of=AS_OF),
        plan.score(as_text, events, as_of=AS_OF, engine="arrow"),
    )
    with pytest.raises(ConfigError, match=r"polars engine cannot score.*'employees'.*not a number"):
        plan.score(as_text, events, as_of=AS_OF, engine="polars")


def test_iterables_of_batches_and_csv_stay_on_the_arrow_plan(tmp_path: Path) -> None:
    data = generate(10, seed=16)
    plan = compile_scorecard(SEED_CARD)
    leads, events = lead_table(data), event_table(data)
    batches = iter(events.to_batches(max_chunksize=7))
    assert "iterable" in (unsupported(plan, leads, batches) or "")
    import pyarrow.csv as pacsv

    pacsv.write_csv(leads, tmp_path / "leads.csv")
    assert "CSV" in (unsupported(plan, tmp_path / "leads.csv", events) or "")
    assert unsupported(plan, leads, events) is None
    with pytest.raises(ConfigError, match="engine"):
        plan.score(leads, events, as_of=AS_OF, engine="duckdb")


def test_naive_timestamps_are_refused_as_before() -> None:
    data = generate(5, seed=17)
    plan = compile_scorecard(SEED_CARD)
    leads = lead_table(data)
    naive = leads.set_column(
        leads.column_names.index("created_at"), "created_at",
        leads.column("created_at").cast(pa.timestamp("us")),
    )  # fmt: skip
    with pytest.raises(ValidationError, match="time zone"):
        plan.score(naive, event_table(data), as_of=datetime(2026, 3, 2, tzinfo=UTC))


def test_a_fixed_offset_time_zone_is_scored_by_the_arrow_plan(tmp_path: Path) -> None:
    # polars reads IANA zone names only; Arrow also keeps fixed offsets such as "+05:30"
    data = generate(20, seed=18)
    plan = compile_scorecard(SEED_CARD)
    events = event_table(data)
    at = events.column_names.index("occurred_at")
    events = events.set_column(at, "occurred_at", events.column(at).cast(
        pa.timestamp("us", tz="+05:30")))  # fmt: skip
    leads = lead_table(data)
    want = plan.score(leads, event_table(data), as_of=AS_OF, engine="arrow")
    path = tmp_path / "events.parquet"
    pq.write_table(events, path)
    for data_in in (events, path, events.to_pandas()):
        assert "'+05:30'" in (unsupported(plan, leads, data_in) or "")
        assert plan.score(leads, data_in, as_of=AS_OF).equals(want)
    with pytest.raises(ConfigError, match="'occurred_at' in time zone"):
        plan.score(leads, events, as_of=AS_OF, engine="polars")


def test_custom_properties_in_a_parquet_file(tmp_path: Path) -> None:
    data = generate(60, seed=18)
    leads = lead_table(data)
    renamed = leads.rename_columns(
        ["properties.persona" if n == "persona" else n for n in leads.column_names]
    )
    pq.write_table(renamed, tmp_path / "leads.parquet")
    pq.write_table(event_table(data), tmp_path / "events.parquet")
    plan = compile_scorecard(EVERY_CONDITION)
    fast, fast_errors, slow, slow_errors = both(
        plan, tmp_path / "leads.parquet", tmp_path / "events.parquet",
        accounts=account_table(data),
    )  # fmt: skip
    assert fast_errors == slow_errors == []
    assert_same_scores(fast, slow)
    compare(EVERY_CONDITION, expected(EVERY_CONDITION, data), fast.to_pylist())


def test_a_kind_read_by_rules_with_different_half_lives() -> None:
    from leadflow.rules.scorecard import Rule

    card = Scorecard(
        name="two-rates",
        rules=[
            Rule(id="fast", category="behaviour", signal="interest", points=5,
                 half_life_days=3, activities=["webinar_attended"]),
            Rule(id="slow", category="behaviour", signal="interest", points=2,
                 half_life_days=60, activities=["webinar_attended", "content_download"]),
            Rule(id="other", category="behaviour", signal="intent", points=9,
                 half_life_days=7, activities=["demo_request"]),
        ],
    )  # fmt: skip
    data = generate(80, seed=19, events_per_lead=10)
    plan = compile_scorecard(card, explain=True)
    scores = plan.score(lead_table(data), event_table(data), as_of=AS_OF, engine="polars")
    compare(card, expected(card, data), scores.to_pylist())
    assert any(v not in (None, 0.0) for v in scores.column("rule_fast").to_pylist())


# -- what the Parquet statistics settle ------------------------------------------------------------


def lead_tests(path: Path) -> set[str]:
    """The lead columns the polars engine tests row by row for this file (the others are
    settled by the file's statistics or dictionaries)."""
    from leadflow.etl.contract import LEAD
    from leadflow.etl.engine import _Checked, _source

    source = _source(path)
    assert not isinstance(source, str)
    plan = compile_scorecard(SEED_CARD)
    check = _Checked(source, LEAD, dict(plan.lead_columns), required=frozenset(LEAD.required))
    return set(check.tests)


@pytest.mark.parametrize("statistics", [True, False])
def test_statistics_settle_non_negative_numbers(tmp_path: Path, statistics: bool) -> None:
    data = generate(60, seed=20)
    leads = lead_table(data)
    clean, dirty = tmp_path / "clean.parquet", tmp_path / "dirty.parquet"
    pq.write_table(leads, clean, row_group_size=20, write_statistics=statistics)
    employees = leads.column("employees").to_pylist()
    employees[37] = -4  # in the second row group
    negative = leads.set_column(
        leads.column_names.index("employees"), "employees", pa.array(employees, pa.int64())
    )
    pq.write_table(negative, dirty, row_group_size=20, write_statistics=statistics)
    # a non-negative minimum in every row group: the column is not read to be checked
    assert ("employees" in lead_tests(clean)) is not statistics
    assert "employees" in lead_tests(dirty)
    plan = compile_scorecard(SEED_CARD)
    fast, fast_errors, slow, slow_errors = both(plan, dirty, event_table(data))
    assert [(e.row, e.field, e.value) for e in fast_errors] == [(37, "employees", "-4")]
    assert fast_errors == slow_errors
    assert_same_scores(fast, slow)


def test_a_repeated_event_the_card_does_not_count_is_not_looked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the ids of events of the card's kinds are compared: a repeat elsewhere cannot
    change a score, so it does not send the events through de-duplication by key."""
    from leadflow.etl import engine

    data = generate(30, seed=21, events_per_lead=6)
    plan = compile_scorecard(SEED_CARD)
    leads, events = lead_table(data), event_table(data)
    rows = [{**r, "id": f"E{i:06d}"} for i, r in enumerate(events.to_pylist())]  # rising
    events = pa.Table.from_pylist(rows, schema=events.schema)
    once = plan.score(leads, events, as_of=AS_OF, engine="polars")
    ignored = next(i for i, r in enumerate(rows) if r["kind"] not in plan.kinds)
    counted = next(i for i, r in enumerate(rows) if r["kind"] in plan.kinds)
    calls: list[int] = []
    real = engine._Engine.deduplicated

    def counting_calls(self: Any, check: Any) -> Any:
        calls.append(1)
        return real(self, check)

    monkeypatch.setattr(engine._Engine, "deduplicated", counting_calls)
    # the ignored event again, at the end: ids no longer rise, but not among counted events
    again = pa.Table.from_pylist([*rows, rows[ignored]], schema=events.schema)
    assert_same_scores(plan.score(leads, again, as_of=AS_OF, engine="polars"), once)
    assert calls == []
    # a counted event again: found, and counted once
    again = pa.Table.from_pylist([*rows, rows[counted]], schema=events.schema)
    assert_same_scores(plan.score(leads, again, as_of=AS_OF, engine="polars"), once)
    assert calls == [1]


def test_trailing_blanks_found_when_statistics_settle_the_first_character(
    tmp_path: Path,
) -> None:
    """Without dictionaries, a text column whose statistics show every value starting with
    printable ASCII is tested on its last character only: trailing blanks and non-ASCII
    endings still go through the contract (stripped, then scored as the Arrow plan does)."""
    from leadflow.rules.scorecard import Regex, Rule

    card = Scorecard(
        name="ends-with",
        rules=[Rule(id="soft", category="fit", points=7, when=Regex(field="industry",
                                                                    pattern="ware$"))],
    )  # fmt: skip
    industries = ["software ", "software\t", "hardwaré", "x", "software", None, "Retail"]
    n = len(industries)
    leads = pa.table({
        "id": [f"L-{i}" for i in range(n)],
        "created_at": pa.array([AS_OF] * n, TS),
        "industry": pa.array(industries, pa.string()),
    })  # fmt: skip
    path = tmp_path / "leads.parquet"
    pq.write_table(leads, path, use_dictionary=False)
    assert "industry" in lead_tests(path)
    events = pa.table({"id": ["E-1"], "lead_id": ["L-0"], "kind": ["web_visit"],
                       "occurred_at": pa.array([AS_OF], TS)})  # fmt: skip
    plan = compile_scorecard(card)
    fast, fast_errors, slow, slow_errors = both(plan, path, events)
    assert fast_errors == slow_errors == []
    assert_same_scores(fast, slow)
    assert fast.column("fit").to_pylist() == [7.0, 7.0, 0.0, 0.0, 7.0, 0.0, 0.0]


def test_scoring_clean_parquet_files_never_imports_pandas(small_files: GeneratedFiles) -> None:
    """Arrow imports pandas (~46 MB resident) on its first array or scalar made from Python
    objects; neither importing leadflow.etl nor scoring clean Parquet files needs one."""
    import subprocess
    import sys

    import leadflow

    script = (
        "import sys\n"
        "from datetime import datetime, timezone\n"
        "from leadflow.etl import compile_scorecard\n"
        "from leadflow.rules.scorecard import load_scorecard\n"
        "imported = 'pandas' in sys.modules\n"
        "plan = compile_scorecard(load_scorecard('examples/scorecard.toml'))\n"
        f"plan.score({str(small_files.leads)!r}, {str(small_files.events)!r},\n"
        "           as_of=datetime(2026, 3, 2, 9, tzinfo=timezone.utc))\n"
        "print(imported, 'pandas' in sys.modules)\n"
    )
    root = Path(leadflow.__file__).resolve().parents[2]
    env = {"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["False", "False"]


def test_unsigned_numbers_past_int64_are_refused_as_before(tmp_path: Path) -> None:
    data = generate(20, seed=23)
    leads = lead_table(data)
    employees = [5] * leads.num_rows
    employees[4] = 2**63 + 7  # bounded by the statistics above 2**63: tested row by row
    path = tmp_path / "leads.parquet"
    pq.write_table(
        leads.set_column(
            leads.column_names.index("employees"), "employees", pa.array(employees, pa.uint64())
        ),
        path,
    )
    plan = compile_scorecard(SEED_CARD)
    fast, fast_errors, slow, slow_errors = both(plan, path, event_table(data))
    assert [(e.row, e.field) for e in fast_errors] == [(4, "employees")]
    assert fast_errors == slow_errors
    assert_same_scores(fast, slow)


def test_dictionary_encoded_columns_of_a_table() -> None:
    """A dictionary-encoded Arrow column (polars: Categorical) or an Enum is judged from the
    values present: polars 2 has no ``cat.get_categories`` (scoring such a table raised)."""
    import polars as pl

    n = 6
    leads = pa.table({
        "id": [f"L-{i}" for i in range(n)],
        "created_at": pa.array([AS_OF] * n, TS),
        "industry": pa.array(["Software ", "", " Software", "Retail", None, "Software"])
        .dictionary_encode(),
    })  # fmt: skip
    kinds = pa.array(["demo_request", " quote_request", "Web", "", "quote_request"])
    events = pa.table({
        "id": [f"E-{i}" for i in range(5)], "lead_id": ["L-0", "L-1", "L-0", "L-2", "L-3"],
        "kind": kinds.dictionary_encode(), "occurred_at": pa.array([AS_OF] * 5, TS),
    })  # fmt: skip
    plan = compile_scorecard(SEED_CARD)
    fast, fast_errors, slow, slow_errors = both(plan, leads, events)
    assert [(e.row, e.field) for e in fast_errors] == [(2, "kind"), (3, "kind")]
    assert fast_errors == slow_errors
    assert_same_scores(fast, slow)
    enum = pl.Enum(["demo_request", " quote_request", "Web", "", "quote_request", "unused"])
    as_enum = pl.from_arrow(events).with_columns(pl.col("kind").cast(pl.String).cast(enum))
    fast, fast_errors, slow, slow_errors = both(plan, leads, as_enum)
    assert fast_errors == slow_errors
    assert_same_scores(fast, slow)


def test_a_nan_minimum_in_the_statistics_settles_nothing(tmp_path: Path) -> None:
    """Some writers (parquet-cpp before PARQUET-1225's fix) put NaN in a float column's
    statistics; Arrow passes it on. A NaN minimum is not "not negative": the negative
    revenue below was scored instead of refused."""
    import struct

    data = generate(10, seed=24)
    leads = lead_table(data)
    revenue = [1.0e9] * leads.num_rows
    revenue[3] = -5.0
    index = leads.column_names.index("annual_revenue")
    path = tmp_path / "leads.parquet"
    pq.write_table(leads.set_column(index, "annual_revenue", pa.array(revenue)), path)
    raw = path.read_bytes()
    footer = len(raw) - 8 - struct.unpack("<I", raw[-8:-4])[0]
    lying = raw[footer:].replace(struct.pack("<d", -5.0), struct.pack("<d", float("nan")))
    path.write_bytes(raw[:footer] + lying)
    stats = pq.ParquetFile(path).metadata.row_group(0).column(index).statistics
    assert stats.min != stats.min  # NaN, as such a writer leaves it
    plan = compile_scorecard(SEED_CARD)
    fast, fast_errors, slow, slow_errors = both(plan, path, event_table(data))
    assert [(e.row, e.field) for e in fast_errors] == [(3, "annual_revenue")]
    assert fast_errors == slow_errors
    assert_same_scores(fast, slow)


@pytest.mark.parametrize("change", ["missing", "extra", "float", "dictionary"])
def test_parts_whose_schemas_differ_are_scored_as_by_the_arrow_plan(
    tmp_path: Path, change: str
) -> None:
    """A directory whose Parquet parts disagree on their columns (one lacks a column, has
    one more, or types it differently) is read by the Arrow plan, which unifies them: polars
    raised ColumnNotFoundError or SchemaError (asked for by name, a ConfigError says why)."""
    data = generate(20, seed=25)
    leads = lead_table(data)
    first, second = leads.slice(0, 10), leads.slice(10)
    if change == "missing":
        second = second.drop_columns(["industry"])
    elif change == "extra":
        second = second.append_column("notes", pa.array(["x"] * second.num_rows))
    elif change == "float":
        index = second.column_names.index("employees")
        second = second.set_column(
            index, "employees", second.column("employees").cast(pa.float64())
        )
    else:
        index = second.column_names.index("industry")
        second = second.set_column(index, "industry", second.column("industry").dictionary_encode())
    parts = tmp_path / "leads"
    parts.mkdir()
    pq.write_table(first, parts / "part-0.parquet")
    pq.write_table(second, parts / "part-1.parquet")
    plan = compile_scorecard(SEED_CARD)
    events = event_table(data)
    assert "differ" in (unsupported(plan, parts, events) or "")
    default_sink, slow_sink = ErrorSink(None), ErrorSink(None)
    default = plan.score(parts, events, as_of=AS_OF, errors=default_sink)
    slow = plan.score(parts, events, as_of=AS_OF, errors=slow_sink, engine="arrow")
    assert default_sink.errors == slow_sink.errors
    assert_same_scores(default, slow)
    with pytest.raises(ConfigError, match="differ"):
        plan.score(parts, events, as_of=AS_OF, engine="polars")


def test_a_nested_column_of_the_same_name_is_not_the_columns_dictionary(tmp_path: Path) -> None:
    """A struct column with a leaf named like a lead column (``extra.industry``) before it:
    the dictionary read is the top-level column's, found by its path (the leaf's was taken,
    so " Software" was judged clean, not stripped, and missed the target-industry rule)."""
    n = 4
    extra = pa.array([{"industry": "Retail"}] * n, pa.struct([("industry", pa.string())]))
    leads = pa.table({
        "extra": extra,
        "id": [f"L-{i}" for i in range(n)],
        "created_at": pa.array([AS_OF] * n, TS),
        "industry": ["Software ", " Software", "Software", "Retail"],
    })  # fmt: skip
    path = tmp_path / "leads.parquet"
    pq.write_table(leads, path)
    events = pa.table({"id": ["E-1"], "lead_id": ["L-0"], "kind": ["web_visit"],
                       "occurred_at": pa.array([AS_OF], TS)})  # fmt: skip
    plan = compile_scorecard(SEED_CARD)
    fast, fast_errors, slow, slow_errors = both(plan, path, events)
    assert fast_errors == slow_errors == []
    assert_same_scores(fast, slow)
    assert fast.column("fit").to_pylist() == [15.0, 15.0, 15.0, 0.0]


def test_dictionary_encoded_event_ids_are_keyed_by_the_arrow_plan() -> None:
    """Event ids dictionary-encoded (as a categorical export gives them): the Arrow plan
    joined them into the repeat key uncast and raised ArrowNotImplementedError."""
    data = generate(10, seed=26, events_per_lead=4)
    plan = compile_scorecard(SEED_CARD)
    leads, events = lead_table(data), event_table(data)
    repeated = pa.concat_tables([events, events.slice(0, 3)])  # three events twice
    index = repeated.column_names.index("id")
    encoded = repeated.set_column(index, "id", repeated.column("id").dictionary_encode())
    fast, fast_errors, slow, slow_errors = both(plan, leads, encoded)
    assert fast_errors == slow_errors == []
    assert_same_scores(fast, slow)
    assert_same_scores(slow, plan.score(leads, events, as_of=AS_OF, engine="arrow"))


def test_dictionary_encoded_lead_text_with_values_to_fix() -> None:
    """Dictionary-encoded lead columns with values the contract strips or refuses score as
    their plain text does: the polars engine's repaired rows came back Categorical (an
    InvalidOperationError), the Arrow plan split a dictionary e-mail column (no kernel)."""
    data = generate(12, seed=27)
    leads = lead_table(data)
    emails = leads.column("email").to_pylist()
    emails[1], emails[2] = "  Someone@Example.COM ", "not-an-address"
    titles = leads.column("title").to_pylist()
    titles[3] = " VP Sales "
    plain = leads.set_column(
        leads.column_names.index("email"), "email", pa.array(emails, pa.string())
    ).set_column(leads.column_names.index("title"), "title", pa.array(titles, pa.string()))
    encoded = plain
    for name in ("email", "title"):
        index = encoded.column_names.index(name)
        encoded = encoded.set_column(index, name, encoded.column(name).dictionary_encode())
    plan = compile_scorecard(SEED_CARD)
    events = event_table(data)
    fast, fast_errors, slow, slow_errors = both(plan, encoded, events)
    _, _, expected_scores, expected_errors = both(plan, plain, events)
    assert fast_errors == slow_errors == expected_errors
    assert [(e.row, e.field) for e in fast_errors] == [(2, "email")]
    assert_same_scores(fast, expected_scores)
    assert_same_scores(slow, expected_scores)


def test_a_repeated_id_counts_as_the_columnar_paths_count_it() -> None:
    """score_lead and both engines agree on which of a repeated activity id counts: the first
    among the activities that can count (a kind the card reads, at or before the instant) --
    a repeat under a kind nothing reads, or dated after the instant, does not hide it."""
    from datetime import timedelta

    from leadflow.model import Lead
    from leadflow.rules import score_lead

    day = timedelta(days=1)
    who = Lead(id="L-1", created_at=AS_OF - 90 * day)
    acts = repeated_ids()
    result = score_lead(SEED_CARD, who, acts, as_of=AS_OF)
    assert {c.rule_id: c.evidence for c in result.contributions} == {
        "quote_request": ("E1",),
        "demo_request": ("E2",),
        "case_study": ("E3",),
    }
    leads = pa.table({"id": ["L-1"], "created_at": pa.array([who.created_at], TS)})
    events = activity_table(acts)
    plan = compile_scorecard(SEED_CARD)
    for engine in ("polars", "arrow"):
        (row,) = plan.score(leads, events, as_of=AS_OF, engine=engine).to_pylist()
        assert row["behaviour"] == pytest.approx(result.behaviour, rel=1e-12), engine


@pytest.mark.parametrize("points", [1.5e308, -1.5e308])
def test_points_near_the_float_maximum_sum_to_infinity_on_every_path(points: float) -> None:
    """Two activities of a rule worth 1.5e308 points: the exact sum overflows a float. The
    columnar paths give an infinite score; score_lead, score_many and score_account did raise
    OverflowError from math.fsum (not a LeadflowError, so on_error could not catch it)."""
    from datetime import timedelta

    from leadflow.model import Account, Activity, Lead
    from leadflow.rules import score_account, score_lead
    from leadflow.rules.scorecard import Rule

    card = Scorecard(name="huge", rules=[
        Rule(id="visits", category="behaviour", signal="interest", points=points,
             activities=["web_visit"], half_life_days=1e9),
    ])  # fmt: skip
    day = timedelta(days=1)
    who = Lead(id="L-1", created_at=AS_OF - 9 * day, account_id="A-1")
    acts = [
        Activity(id=f"E{i}", lead_id="L-1", kind="web_visit", occurred_at=AS_OF - day)
        for i in range(2)
    ]
    result = score_lead(card, who, acts, as_of=AS_OF)
    assert result.behaviour == result.total == math.copysign(math.inf, points)
    account = score_account(card, Account(id="A-1", name="Acme"), [(who, acts)], as_of=AS_OF)
    assert account.engagement == math.copysign(math.inf, points)
    leads = pa.table({"id": ["L-1"], "created_at": pa.array([who.created_at], TS)})
    events = activity_table(acts)
    plan = compile_scorecard(card)
    for engine in ("polars", "arrow"):
        (row,) = plan.score(leads, events, as_of=AS_OF, engine=engine).to_pylist()
        assert row["behaviour"] == result.behaviour, engine
