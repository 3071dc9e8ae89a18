"""Streaming readers and writers, per-row validation, hash partitioning, the generator."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.errors import ConfigError, ValidationError
from leadflow.etl.files import (
    ErrorSink,
    TableWriter,
    _partition_ids,
    conform,
    partition_by_key,
    read_batches,
)
from leadflow.etl.synthetic import EVENTS_SCHEMA, LEADS_SCHEMA, GeneratedFiles, generate
from leadflow.model import Lead

from .conftest import AS_OF

LEAD_COLUMNS = {
    "id": pa.string(),
    "created_at": pa.timestamp("us", tz="UTC"),
    "email": pa.string(),
    "employees": pa.int64(),
    "annual_revenue": pa.float64(),
    "title": pa.string(),
}


def test_generator_is_seeded_and_batched(tmp_path: Path) -> None:
    one = generate(tmp_path / "a", leads=120, seed=3, as_of=AS_OF, batch_size=50)
    two = generate(tmp_path / "b", leads=120, seed=3, as_of=AS_OF, batch_size=50)
    assert pq.read_table(one.leads).equals(pq.read_table(two.leads))
    assert pq.read_table(one.events).equals(pq.read_table(two.events))
    assert pq.read_schema(one.leads) == LEADS_SCHEMA
    assert pq.read_schema(one.events) == EVENTS_SCHEMA
    assert one.lead_rows == 120
    assert pq.read_metadata(one.events).num_rows == one.event_rows
    assert pq.ParquetFile(one.leads).metadata.num_row_groups == 3
    other = generate(tmp_path / "c", leads=120, seed=4, as_of=AS_OF, batch_size=50)
    assert not pq.read_table(one.events).equals(pq.read_table(other.events))


def test_generated_leads_are_valid_domain_records(small_files: GeneratedFiles) -> None:
    for row in pq.read_table(small_files.leads).to_pylist()[:100]:
        lead = Lead.from_record({k: v for k, v in row.items() if v is not None})
        assert lead.id == row["id"]
    events = pq.read_table(small_files.events)
    lead_ids = set(pq.read_table(small_files.leads).column("id").to_pylist())
    assert set(events.column("lead_id").to_pylist()) <= lead_ids
    # Unsorted on purpose: scoring must not rely on order.
    ids = events.column("lead_id").to_pylist()
    assert ids != sorted(ids)


def test_read_batches_bounds_batch_size(small_files: GeneratedFiles) -> None:
    batches = list(read_batches(small_files.events, batch_size=100))
    assert all(b.num_rows <= 100 for b in batches)
    assert sum(b.num_rows for b in batches) == small_files.event_rows
    only = next(read_batches(small_files.leads, columns={"id", "title", "nope"}))
    assert only.schema.names == ["id", "title"]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_rows_with_errors_are_reported_and_good_rows_continue(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "leads.csv",
        [
            {
                "id": "L-1",
                "created_at": "2026-01-05T10:00:00+01:00",
                "email": " Ada@Example.com ",
                "employees": "1200",
                "annual_revenue": "5e8",
                "title": " VP Sales ",
            },
            {
                "id": "L-2",
                "created_at": "2026-01-05T10:00:00",
                "email": "",
                "employees": "",
                "annual_revenue": "",
                "title": "",
            },
            {
                "id": "",
                "created_at": "2026-01-05T10:00:00Z",
                "email": "",
                "employees": "",
                "annual_revenue": "",
                "title": "",
            },
            {
                "id": "L-4",
                "created_at": "2026-01-05T10:00:00Z",
                "email": "not-an-email",
                "employees": "",
                "annual_revenue": "",
                "title": "",
            },
            {
                "id": "L-5",
                "created_at": "2026-01-05T10:00:00Z",
                "email": "",
                "employees": "12.5",
                "annual_revenue": "-1",
                "title": "",
            },
            {
                "id": "L-6",
                "created_at": "2026-01-05T10:00:00Z",
                "email": "",
                "employees": "250.0",
                "annual_revenue": "",
                "title": "CEO",
            },
        ],
    )
    errors_path = tmp_path / "errors.csv"
    with ErrorSink(errors_path) as sink:
        good = [
            conform(
                b,
                LEAD_COLUMNS,
                required={"id", "created_at"},
                source="leads.csv",
                row_offset=0,
                errors=sink,
            )
            for b in read_batches(path)
        ]
    table = pa.Table.from_batches(good)
    assert table.column("id").to_pylist() == ["L-1", "L-6"]
    first = table.slice(0, 1).to_pylist()[0]
    assert first["email"] == "ada@example.com"
    assert first["employees"] == 1200
    assert first["title"] == "VP Sales"
    assert first["created_at"].isoformat() == "2026-01-05T09:00:00+00:00"
    assert table.column("employees").to_pylist()[1] == 250
    with errors_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["row"], r["id"], r["field"]) for r in rows] == [
        ("1", "L-2", "created_at"),
        ("2", "", "id"),
        ("3", "L-4", "email"),
        ("4", "L-5", "employees"),
    ]
    assert rows[0]["value"] == "2026-01-05T10:00:00"
    assert "UTC offset" in rows[0]["reason"]
    assert rows[3]["reason"] == "is not a whole number"


def test_naive_timestamp_column_is_refused_naming_it() -> None:
    batch = pa.record_batch({"id": ["L-1"], "created_at": pa.array([0], type=pa.timestamp("us"))})
    with pytest.raises(ValidationError, match=r"created_at.*without a time zone"):
        conform(
            batch,
            {"id": pa.string(), "created_at": pa.timestamp("us", tz="UTC")},
            required={"id"},
            source="x",
            row_offset=0,
            errors=ErrorSink(None),
        )


def test_missing_required_column_names_the_file() -> None:
    batch = pa.record_batch({"title": ["CEO"]})
    with pytest.raises(ConfigError, match=r"leads\.parquet: missing required column .id."):
        conform(
            batch,
            {"id": pa.string(), "title": pa.string()},
            required={"id"},
            source="leads.parquet",
            row_offset=0,
            errors=ErrorSink(None),
        )


def test_absent_optional_columns_are_null() -> None:
    batch = pa.record_batch({"id": ["L-1"]})
    out = conform(
        batch,
        {"id": pa.string(), "industry": pa.string()},
        required={"id"},
        source="x",
        row_offset=0,
        errors=ErrorSink(None),
    )
    assert out.to_pylist() == [{"id": "L-1", "industry": None}]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_table_writer_round_trips(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"out{suffix}"
    batch = pa.record_batch({"id": ["L-1", "L-2"], "score": [1.5, -2.0]})
    with TableWriter(path) as out:
        out.write(batch)
        out.write(batch)
    back = pa.Table.from_batches(list(read_batches(path)))
    assert back.column("id").to_pylist() == ["L-1", "L-2"] * 2
    assert [float(x) for x in back.column("score").to_pylist()] == [1.5, -2.0] * 2


def test_unknown_file_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown file type"):
        TableWriter(tmp_path / "out.xlsx")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(max_size=12), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=0, max_value=5),
)
def test_partition_of_a_key_does_not_depend_on_its_neighbours(
    keys: list[str], partitions: int, cut: int
) -> None:
    whole = _partition_ids(pa.array(keys), partitions)
    alone = [int(_partition_ids(pa.array([k]), partitions)[0]) for k in keys]
    sliced = _partition_ids(pa.array(keys).slice(min(cut, len(keys))), partitions)
    assert whole.tolist() == alone
    assert sliced.tolist() == alone[min(cut, len(keys)) :]
    assert all(0 <= p < partitions for p in alone)


def test_partition_files_split_leads_and_events_consistently(
    small_files: GeneratedFiles, tmp_path: Path
) -> None:
    leads = partition_by_key(
        read_batches(small_files.leads, batch_size=64), "id", 4, tmp_path, "leads"
    )
    events = partition_by_key(
        read_batches(small_files.events, batch_size=500), "lead_id", 4, tmp_path, "events"
    )
    assert len(leads) == len(events) == 4
    total_leads = 0
    for lead_part, event_part in zip(leads, events, strict=True):
        ids = set(pq.read_table(lead_part).column("id").to_pylist())
        event_ids = set(pq.read_table(event_part).column("lead_id").to_pylist())
        total_leads += len(ids)
        assert event_ids <= ids
        assert ids  # 300 keys over 4 partitions: none is empty
    assert total_leads == 300


def test_dictionary_encoded_columns_are_checked_once_per_value() -> None:
    lead_ids = pa.array(["L-1", "", "L-1", None, "L-2"]).dictionary_encode()
    kinds = pa.array([" quote_request ", "web_visit", "Bad Kind", "web_visit", None])
    batch = pa.record_batch({"lead_id": lead_ids, "kind": kinds.dictionary_encode()})
    sink = ErrorSink(None)
    out = conform(batch, {"lead_id": pa.string(), "kind": pa.string()},
                  required={"lead_id", "kind"}, source="events", row_offset=10, errors=sink,
                  id_column="lead_id")  # fmt: skip
    assert pa.types.is_dictionary(out.column("lead_id").type)
    assert out.column("kind").to_pylist() == ["quote_request"]
    assert [(e.row, e.field, e.value) for e in sink.errors] == [
        (11, "lead_id", ""),
        (12, "kind", "Bad Kind"),
        (13, "lead_id", None),
        (14, "kind", None),
    ]


def test_parquet_columns_can_be_read_dictionary_encoded(small_files: GeneratedFiles) -> None:
    batch = next(read_batches(small_files.events, dictionary=("lead_id", "kind")))
    assert pa.types.is_dictionary(batch.schema.field("lead_id").type)
    assert pa.types.is_string(batch.schema.field("occurred_at").type) is False
