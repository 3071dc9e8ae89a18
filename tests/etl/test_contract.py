"""The input contract: the same accept/refuse decisions as the per-record constructors."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.errors import ConfigError, LeadflowError, ValidationError
from leadflow.etl import compile_scorecard, score_files
from leadflow.etl.contract import LEAD, ErrorSink, resolve_columns, validate
from leadflow.etl.files import input_parts, read_batches
from leadflow.etl.synthetic import GeneratedFiles
from leadflow.model import Lead
from leadflow.rules.scorecard import load_scorecard

from .conftest import AS_OF, assert_same_scores

CARD = load_scorecard("examples/scorecard.toml")


def refused(values: dict[str, list[object]]) -> list[tuple[int, str]]:
    sink = ErrorSink(None)
    validate(pa.table(values), LEAD, source="t", errors=sink)
    return [(e.row, e.field) for e in sink.errors]


def test_numbers_are_parsed_strictly_in_text_and_in_float_columns() -> None:
    n = 9
    text = ["1,5", "5,000,000,00", "NaN", "inf", "1_000", "250.0", " 7 ", "1e999", "-0"]
    got = refused({"id": [f"L-{i}" for i in range(n)], "created_at": ["2026-01-05T10:00:00Z"] * n,
                   "employees": text})  # fmt: skip
    assert got == [(0, "employees"), (1, "employees"), (2, "employees"), (3, "employees"),
                   (4, "employees"), (7, "employees")]  # fmt: skip
    floats = pa.array([1.5, float("nan"), float("inf"), -2.0, None], pa.float64())
    got = refused({"id": list("abcde"), "created_at": ["2026-01-05T10:00:00Z"] * 5,
                   "annual_revenue": floats})  # fmt: skip
    assert got == [(1, "annual_revenue"), (2, "annual_revenue"), (3, "annual_revenue")]


def test_unsigned_integers_are_judged_as_integers() -> None:
    """A uint64 column: 2**63 - 1 fits int64 (through a float it rounded to 2**63 and was
    refused), 2**63 + 7 is out of range (it raised ArrowInvalid), and a float column may hold
    a large whole number as Python's float() does."""
    big = pa.array([2**63 - 1, 2**63 + 7, 12, None], pa.uint64())
    sink = ErrorSink(None)
    good = validate(
        pa.table({"id": list("abcd"), "created_at": ["2026-01-05T10:00:00Z"] * 4,
                  "employees": big, "annual_revenue": big}),
        LEAD, source="t", errors=sink,
    )  # fmt: skip
    assert [(e.row, e.field, e.reason) for e in sink.errors] == [
        (1, "employees", "is out of range")
    ]
    assert good.column("employees").to_pylist() == [2**63 - 1, 12, None]
    assert good.column("annual_revenue").to_pylist() == [float(2**63 - 1), 12.0, None]


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.from_regex(r"\A[ +\-0-9.,_eEinfaNI]{0,12}\Z"),
        st.floats(allow_nan=True).map(repr),
        st.integers(-(10**12), 10**12).map(str),
    ),
    st.sampled_from(["employees", "annual_revenue"]),
)
def test_number_text_agrees_with_lead_from_record(text: str, field: str) -> None:
    record = {"id": "L-1", "created_at": "2026-01-05T10:00:00Z", field: text}
    try:
        lead = Lead.from_record(record)
    except LeadflowError:
        lead = None
    sink = ErrorSink(None)
    good = validate(pa.table({k: [v] for k, v in record.items()}), LEAD, source="t", errors=sink)
    assert (good.num_rows == 1) == (lead is not None), text
    if lead is not None:
        assert good.column(field)[0].as_py() == getattr(lead, field)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T10:00:00.123456789Z", datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-05T10:00:00.1+01:00", datetime(2026, 1, 5, 9, 0, 0, 100000, tzinfo=UTC)),
        ("2026-01-05 10:00Z", datetime(2026, 1, 5, 10, tzinfo=UTC)),
        ("20260105T100000+0100", datetime(2026, 1, 5, 9, tzinfo=UTC)),
        ("2026-01-05T10:00:00,5Z", datetime(2026, 1, 5, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-01-05T10:00:00", None),
        ("2026-01-05", None),
        ("yesterday", None),
    ],
)
def test_timestamps_any_precision_with_an_offset(text: str, expected: datetime | None) -> None:
    sink = ErrorSink(None)
    good = validate(pa.table({"id": ["L-1"], "created_at": [text]}), LEAD, source="t", errors=sink)
    got = good.column("created_at")[0].as_py() if good.num_rows else None
    assert got == expected
    try:
        per_record = Lead.from_record({"id": "L-1", "created_at": text}).created_at
    except LeadflowError:
        per_record = None
    assert got == per_record


def test_a_negative_head_count_is_refused_though_the_card_does_not_read_it() -> None:
    plan = compile_scorecard(CARD)
    assert "employees" not in dict(plan.lead_columns)
    leads = pa.table({"id": ["L-1", "L-2"], "created_at": [AS_OF, AS_OF], "employees": [-3, 10],
                      "title": ["VP", "VP"]})  # fmt: skip
    sink = ErrorSink(None)
    scores = plan.score(leads, pa.table({"lead_id": [], "kind": [], "occurred_at": []}),
                        as_of=AS_OF, errors=sink)  # fmt: skip
    assert scores.column("id").to_pylist() == ["L-2"]
    assert [(e.field, e.value) for e in sink.errors] == [("employees", "-3")]


def test_columns_match_ignoring_case_unless_ambiguous() -> None:
    assert resolve_columns(["ID", "Title"], ["id", "title"], source="f") == {
        "ID": "id",
        "Title": "title",
    }
    with pytest.raises(ConfigError, match="matches 'Title', 'TITLE' ignoring case"):
        resolve_columns(["id", "Title", "TITLE"], ["title"], source="f")
    with pytest.raises(ConfigError, match="--columns title=job: no column 'job'"):
        resolve_columns(["id", "job_title"], ["title"], mapping={"title": "job"}, source="f")


def test_bom_gz_ragged_lines_and_row_numbers_across_blocks(tmp_path: Path) -> None:
    """Row numbers count refused lines, across Arrow's 4 MiB read blocks (~12 MiB here)."""
    pad = "x" * 60
    lines = ["\ufeffid,title"] + [
        f"L-{i},{pad}" if i % 50_000 != 7 else f"L-{i}" for i in range(200_000)
    ]
    path = tmp_path / "leads.csv.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode(), compresslevel=1))
    sink = ErrorSink(None)
    table = pa.Table.from_batches(
        list(read_batches(path, batch_size=30_000, numbered=True, errors=sink))
    )
    assert table.column_names == ["id", "title", "__row"]
    ids = [int(i[2:]) for i in table.column("id").to_pylist()]
    assert ids == table.column("__row").to_pylist()
    assert [e.row for e in sink.errors] == [7, 50_007, 100_007, 150_007]
    assert "(line 9)" in sink.errors[0].reason
    with pytest.raises(ValidationError, match="has 1 field, expected 2"):
        list(read_batches(path))


def test_directories_and_globs_of_parts(tmp_path: Path) -> None:
    (tmp_path / "unload" / "day=1").mkdir(parents=True)
    for i in range(3):
        pq.write_table(
            pa.table({"id": [f"L-{i}"]}), tmp_path / "unload" / "day=1" / f"p{i}.parquet"
        )
    (tmp_path / "unload" / "_SUCCESS").write_text("")
    (tmp_path / "unload" / ".p0.parquet.crc").write_text("")
    assert [p.name for p in input_parts(tmp_path / "unload")] == [
        "p0.parquet",
        "p1.parquet",
        "p2.parquet",
    ]
    assert len(input_parts(str(tmp_path / "unload" / "*" / "p[12].parquet"))) == 2
    with pytest.raises(ConfigError, match="no file matches"):
        input_parts(str(tmp_path / "nothing-*.csv"))


def test_pandas_and_polars_frames_score_like_arrow() -> None:
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    plan = compile_scorecard(CARD)
    leads = pa.table({"id": ["L-1", "L-2"], "created_at": pa.array([AS_OF, AS_OF], pa.timestamp("us", tz="UTC")),
                      "title": ["VP Sales", "Intern"], "industry": ["Software", None]})  # fmt: skip
    events = pa.table({"id": ["E-1", "E-1"], "lead_id": ["L-1", "L-1"], "kind": ["quote_request"] * 2,
                       "occurred_at": pa.array([AS_OF, AS_OF], pa.timestamp("us", tz="UTC"))})  # fmt: skip
    expected = plan.score(leads, events, as_of=AS_OF)
    assert expected.column("score").to_pylist()[0] == 20 + 15 + 40  # the repeated event once
    assert plan.score(leads.to_pandas(), events.to_pandas(), as_of=AS_OF).equals(expected)
    assert plan.score(pl.from_arrow(leads), pl.from_arrow(events), as_of=AS_OF).equals(expected)
    assert isinstance(leads.to_pandas(), pd.DataFrame)


def test_max_errors_and_summary(tmp_path: Path) -> None:
    from leadflow.errors import TooManyRefusedError

    leads = tmp_path / "leads.csv"
    leads.write_text("id,created_at,title,industry,annual_revenue,email\n"
                     "L-1,2026-01-05T10:00:00Z,VP,,,\nL-2,2026-01-05,VP,,,\nL-1,2026-01-05T10:00:00Z,VP,,,\n")  # fmt: skip
    events = tmp_path / "events.csv"
    events.write_text("lead_id,kind,occurred_at\nL-9,quote_request,2026-01-05T10:00:00Z\n")
    out = tmp_path / "s.csv"
    with pytest.raises(TooManyRefusedError, match="2 of 4 input rows refused"):
        score_files(CARD, leads, events, out, as_of=AS_OF, errors=tmp_path / "e.csv",
                    max_errors="1")  # fmt: skip
    assert not out.exists()
    summary = score_files(CARD, leads, events, out, as_of=AS_OF, errors=tmp_path / "e.csv",
                          max_errors="50%")  # fmt: skip
    assert (summary.rows_in, summary.rows_out, summary.rows_refused) == (4, 1, 2)
    assert summary.events_orphaned == 1


def test_without_an_errors_file_a_repeated_lead_id_stops_the_job(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("id,created_at,title,industry,annual_revenue,email\n"
                     "L-1,2026-01-05T10:00:00Z,Intern,,,\nL-1,2026-01-06T10:00:00Z,CEO,,,\n")  # fmt: skip
    events = tmp_path / "events.csv"
    events.write_text("lead_id,kind,occurred_at\n")
    with pytest.raises(ValidationError, match="row 1: id: 'L-1' duplicates an earlier row"):
        score_files(CARD, leads, events, tmp_path / "s.csv", as_of=AS_OF)
    summary = score_files(CARD, leads, events, tmp_path / "s.csv", as_of=AS_OF,
                          dedupe="latest:created_at")  # fmt: skip
    assert (summary.rows_out, summary.duplicates_resolved) == (1, 1)
    assert '"L-1",20,20' in (tmp_path / "s.csv").read_text()  # the newer row: CEO, 20 points


def test_every_part_file_must_have_the_columns(tmp_path: Path) -> None:
    parts = tmp_path / "leads"
    parts.mkdir()
    header = "id,created_at,title,industry,annual_revenue,email\n"
    (parts / "p0.csv").write_text(header + "L-1,2026-01-05T10:00:00Z,VP,,,\n")
    (parts / "p1.csv").write_text("id,created_at,industry,annual_revenue,email\n")
    events = tmp_path / "events.csv"
    events.write_text("lead_id,kind,occurred_at\n")
    with pytest.raises(ConfigError, match=r"p1\.csv: missing column 'title'"):
        score_files(CARD, parts, events, tmp_path / "s.csv", as_of=AS_OF)


def test_a_cell_that_is_not_utf8_fails_its_row_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(b"id,title\nL-1,VP\nL-2,D\xe9cideur\nL-3,CTO\n")
    sink = ErrorSink(None)
    table = pa.Table.from_batches(list(read_batches(path, numbered=True, errors=sink)))
    assert table.column("id").to_pylist() == ["L-1", "L-3"]
    assert table.column("__row").to_pylist() == [0, 2]
    assert [(e.row, e.field, e.reason) for e in sink.errors] == [
        (1, "title", "is not valid UTF-8 text")
    ]


def test_file_mode_reads_accounts_like_the_in_memory_plan(
    small_files: GeneratedFiles, tmp_path: Path
) -> None:
    from .conftest import make_accounts

    plan = compile_scorecard(CARD)
    leads, events = pq.read_table(small_files.leads), pq.read_table(small_files.events)
    accounts = make_accounts(leads)
    pq.write_table(accounts, tmp_path / "accounts.parquet")
    out = tmp_path / "s.parquet"
    score_files(plan, small_files.leads, small_files.events, out, as_of=AS_OF,
                accounts=tmp_path / "accounts.parquet", partitions=2, workdir=tmp_path)  # fmt: skip
    # the file job scores on the Arrow plan: to the bit like the in-memory Arrow plan
    expected = plan.score(leads, events, as_of=AS_OF, accounts=accounts, engine="arrow")
    assert pq.read_table(out).equals(expected.sort_by("id"))
    # the default (polars) engine reads the accounts the same way, to float rounding
    assert_same_scores(plan.score(leads, events, as_of=AS_OF, accounts=accounts), expected)
    assert expected.column("fit") != plan.score(leads, events, as_of=AS_OF).column(
        "fit"
    )  # the accounts matter here
