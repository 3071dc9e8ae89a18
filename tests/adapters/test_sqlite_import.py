"""Importing files into the store: a file lands whole or not at all, and bad input is named.

Each malformed input gets a refusal naming its line and field, never an exception escaping as a
bug; events (stage changes, rejections, outcomes) are imported like the job's writes.
"""

from __future__ import annotations

import codecs
import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadflow.adapters.sqlite import ImportKind, SQLiteAdapter
from leadflow.adapters.sqlite.importer import MAX_DEPTH, write_refused
from leadflow.adapters.testing import sample_leads
from leadflow.model import Lead
from leadflow.ports import Entity

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
HEADER = "id,email,created_at,employees\n"


def _row(i: int, email: str | None = None, employees: str = "10") -> str:
    return f"L-{i:04d},{email or f'p{i}@example.com'},2026-03-02T09:00:00Z,{employees}\n"


@pytest.fixture
def store(tmp_path: Path) -> SQLiteAdapter:
    adapter = SQLiteAdapter(tmp_path / "store.sqlite", now=NOW)
    yield adapter  # type: ignore[misc]
    adapter.close()


def _lead_count(store: SQLiteAdapter) -> int:
    return store.counts()["leads"]


# -- all or nothing --------------------------------------------------------------------------


def test_one_bad_row_in_a_thousand_stores_nothing_by_default(
    store: SQLiteAdapter, tmp_path: Path
) -> None:
    source = tmp_path / "leads.csv"
    rows = [_row(i) for i in range(1, 1001)]
    rows[999] = _row(1000, email="not-an-email")
    source.write_text(HEADER + "".join(rows), encoding="utf-8")
    report = store.import_file("lead", source, batch_size=100)
    assert (report.rows, report.imported, report.committed, report.ok) == (1000, 0, False, False)
    [error] = report.errors
    assert (error.file, error.line, error.field) == (str(source), 1001, "email")
    assert str(error).startswith(f"{source}: line 1001: email: 'not-an-email'")
    assert _lead_count(store) == 0, "nothing from a refused file is stored"


def test_keep_good_stores_the_good_rows_and_reports_every_refused_one(
    store: SQLiteAdapter, tmp_path: Path
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(
        HEADER + _row(1) + _row(2, email="x@") + _row(3, employees="many") + _row(4),
        encoding="utf-8",
    )
    report = store.import_file("lead", source, keep_good=True)
    assert (report.imported, report.committed, report.refused) == (2, True, 2)
    assert [(e.line, e.field) for e in report.errors] == [(3, "email"), (4, "employees")]
    assert sorted(store.leads_by_id(["L-0001", "L-0002", "L-0003", "L-0004"])) == [
        "L-0001",
        "L-0004",
    ]
    errors = tmp_path / "refused.csv"
    assert write_refused(errors, report.errors) == 2
    with errors.open(newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert [(r["file"], r["line"], r["field"]) for r in written] == [
        (str(source), "3", "email"),
        (str(source), "4", "employees"),
    ]
    assert "not a valid e-mail" in written[0]["reason"]
    jsonl = tmp_path / "refused.jsonl"
    write_refused(jsonl, report.errors)
    assert [json.loads(x)["line"] for x in jsonl.read_text().splitlines()] == [3, 4]


def test_a_failure_while_storing_rolls_the_whole_file_back(
    store: SQLiteAdapter, tmp_path: Path
) -> None:
    # Two stage changes apply inside the file's transaction, the third does not fit its
    # lead: the first two are rolled back with the file.
    leads = tmp_path / "leads.csv"
    leads.write_text(HEADER + "".join(_row(i) for i in range(1, 1001)), encoding="utf-8")
    assert store.import_file("lead", leads, batch_size=100).imported == 1000
    changes = tmp_path / "changes.csv"
    changes.write_text(
        "lead_id,from_stage,to_stage,at\n"
        "L-0001,inquiry,mql,2026-03-03T09:00:00Z\n"
        "L-0002,inquiry,mql,2026-03-03T09:00:00Z\n"
        "L-0003,sal,sql,2026-03-03T09:00:00Z\n",
        encoding="utf-8",
    )
    report = store.import_file(ImportKind.STAGE_CHANGE, changes)
    assert (report.imported, report.committed) == (0, False)
    [error] = report.errors
    assert (error.line, error.field) == (4, "from_stage")
    assert "does not match lead 'L-0003'" in error.message
    assert {lead.stage for lead in store.leads_by_id(["L-0001", "L-0002"]).values()} == {"inquiry"}


def test_duplicate_ids_are_reported_not_last_wins(store: SQLiteAdapter, tmp_path: Path) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(
        HEADER + _row(1) + _row(2) + _row(1, email="other@example.com"), encoding="utf-8"
    )
    report = store.import_file("lead", source)
    [error] = report.errors
    assert (error.line, error.field, error.value) == (4, "id", "L-0001")
    assert "duplicate of line 2" in error.message
    assert _lead_count(store) == 0
    kept = store.import_file("lead", source, keep_good=True)
    assert (kept.imported, kept.refused) == (2, 1)
    assert store.leads_by_id(["L-0001"])["L-0001"].email == "p1@example.com", "the first wins"


@pytest.mark.parametrize(
    "content", ["", HEADER, "\ufeff" + HEADER, "\n\n"], ids=["zero", "header", "bom", "blank"]
)
def test_an_empty_file_says_so(store: SQLiteAdapter, tmp_path: Path, content: str) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(content, encoding="utf-8")
    report = store.import_file("lead", source)
    assert (report.empty, report.rows, report.imported, report.errors) == (True, 0, 0, ())
    empty = tmp_path / "leads.jsonl"
    empty.write_text(content.replace(HEADER, ""), encoding="utf-8")
    assert store.import_file("lead", empty).empty


# -- malformed input -------------------------------------------------------------------------


def _refusal(store: SQLiteAdapter, path: Path, kind: str = "lead") -> tuple[int, str, str]:
    report = store.import_file(kind, path)
    assert not report.committed
    assert report.errors, report
    error = report.errors[0]
    assert error.file == str(path)
    assert "\n" not in str(error)
    return error.line, error.field, error.message


def test_a_utf16_file_is_refused_whole(store: SQLiteAdapter, tmp_path: Path) -> None:
    for name, encoding in (("bom.csv", "utf-16"), ("le.csv", "utf-16-le"), ("x.jsonl", "utf-16")):
        source = tmp_path / name
        text = (HEADER + _row(1)) if name.endswith(".csv") else '{"id": "L-1"}\n'
        source.write_text(text, encoding=encoding)
        report = store.import_file("lead", source)
        assert report.unreadable, name
        [error] = report.errors
        assert error.line == 1
        assert "UTF-16" in error.message
    assert _lead_count(store) == 0


def test_non_utf8_bytes_name_the_line_and_field(store: SQLiteAdapter, tmp_path: Path) -> None:
    source = tmp_path / "leads.csv"
    source.write_bytes(
        (HEADER + _row(1)).encode()
        + "L-2,m\xfcller@example.com,2026-03-02T09:00:00Z,3\n".encode("latin-1")
    )
    line, field, message = _refusal(store, source)
    assert (line, field) == (3, "email")
    assert "not valid UTF-8 (byte 0xfc)" in message
    jsonl = tmp_path / "leads.jsonl"
    jsonl.write_bytes(
        b'{"id": "L-1", "created_at": "2026-03-02T09:00:00Z", "title": "Gesch\xe4ft"}\n'
    )
    line, field, message = _refusal(store, jsonl)
    assert (line, field) == (1, "title")
    assert "not valid UTF-8 (byte 0xe4)" in message


def test_a_utf8_bom_is_accepted(store: SQLiteAdapter, tmp_path: Path) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_bytes(codecs.BOM_UTF8 + (HEADER + _row(1)).encode())
    jsonl = tmp_path / "more.jsonl"
    record = {"id": "L-2", "created_at": "2026-03-02T09:00:00Z"}
    jsonl.write_bytes(codecs.BOM_UTF8 + json.dumps(record).encode() + b"\n")
    assert store.import_file("lead", csv_file).imported == 1
    assert store.import_file("lead", jsonl).imported == 1
    assert sorted(store.leads_by_id(["L-0001", "L-2"])) == ["L-0001", "L-2"]


def test_a_csv_field_over_the_size_limit_is_named(store: SQLiteAdapter, tmp_path: Path) -> None:
    source = tmp_path / "leads.csv"
    huge = "x" * (csv.field_size_limit() + 10)
    source.write_text(
        "id,email,created_at,notes\n"
        "L-1,a@example.com,2026-03-02T09:00:00Z,fine\n"
        f'L-2,b@example.com,2026-03-02T09:00:00Z,"{huge}"\n'
        "L-3,c@example.com,2026-03-02T09:00:00Z,fine\n",
        encoding="utf-8",
    )
    report = store.import_file("lead", source, keep_good=True)
    assert report.unreadable and not report.committed, "a file read only in part never lands"
    [error] = report.errors
    assert (error.line, error.field) == (3, "notes")
    assert "over the CSV field limit" in error.message
    assert _lead_count(store) == 0


@pytest.mark.parametrize(
    ("value", "field", "phrase"),
    [
        ("9" * 5000, "employees", "cannot keep"),
        ("9" * 30, "employees", "cannot keep"),
        ("1e400", "annual_revenue", "cannot keep"),
        ("NaN", "annual_revenue", "cannot keep"),
        ("9" * 20, "employees", "64-bit"),
    ],
    ids=["5000-digits", "30-digits", "1e400", "nan", "int64"],
)
def test_numbers_the_store_cannot_keep_are_refused(
    store: SQLiteAdapter, tmp_path: Path, value: str, field: str, phrase: str
) -> None:
    source = tmp_path / "leads.jsonl"
    source.write_text(
        f'{{"id": "L-1", "created_at": "2026-03-02T09:00:00Z", "{field}": {value}}}\n',
        encoding="utf-8",
    )
    line, got, message = _refusal(store, source)
    assert (line, got) == (1, field)
    assert phrase in message


def test_a_huge_integer_in_csv_or_properties_is_refused(
    store: SQLiteAdapter, tmp_path: Path
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(HEADER + _row(1, employees="9" * 40), encoding="utf-8")
    line, field, _ = _refusal(store, source)
    assert (line, field) == (2, "employees")
    props = tmp_path / "props.jsonl"
    props.write_text(
        '{"id": "L-1", "created_at": "2026-03-02T09:00:00Z", "visits": 99999999999999999999}\n',
        encoding="utf-8",
    )
    line, field, _ = _refusal(store, props)
    assert (line, field) == (1, "properties.visits")


def test_deeply_nested_json_is_refused_naming_the_field(
    store: SQLiteAdapter, tmp_path: Path
) -> None:
    source = tmp_path / "leads.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    source.write_text(
        '{"id": "L-1", "created_at": "2026-03-02T09:00:00Z"}\n'
        f'{{"id": "L-2", "properties": {deep}}}\n',
        encoding="utf-8",
    )
    line, field, message = _refusal(store, source)
    assert (line, field) == (2, "properties")
    assert f"deeper than {MAX_DEPTH}" in message


def test_a_lone_surrogate_is_refused_naming_the_field(store: SQLiteAdapter, tmp_path: Path) -> None:
    source = tmp_path / "leads.jsonl"
    source.write_text(
        '{"id": "L-1", "created_at": "2026-03-02T09:00:00Z", "title": "CTO \\ud800"}\n',
        encoding="utf-8",
    )
    line, field, message = _refusal(store, source)
    assert (line, field) == (1, "title")
    assert "lone surrogate" in message
    # Through the library, too: the store refuses it with a ValidationError, not a crash.
    from leadflow.errors import ValidationError

    with pytest.raises(ValidationError, match="title"):
        store.upsert(Entity.LEAD, [Lead(id="L-9", created_at=T0, title="x\udc80")])


def test_broken_csv_structure_and_headers(store: SQLiteAdapter, tmp_path: Path) -> None:
    twice = tmp_path / "twice.csv"
    twice.write_text("id,email,email\nL-1,a@example.com,b@example.com\n", encoding="utf-8")
    report = store.import_file("lead", twice, keep_good=True)
    assert report.unreadable
    assert (report.errors[0].line, report.errors[0].field) == (1, "email")
    nul = tmp_path / "nul.csv"
    nul.write_bytes(HEADER.encode() + b"L-1,a@example.com\x00,2026-03-02T09:00:00Z,1\n")
    assert store.import_file("lead", nul).unreadable


# -- events: stage changes, rejections, outcomes ---------------------------------------------


def _seed(store: SQLiteAdapter) -> list[Lead]:
    return store.upsert(Entity.LEAD, sample_leads(3))


def test_stage_changes_rejections_and_outcomes_feed_the_loop(
    store: SQLiteAdapter, tmp_path: Path
) -> None:
    a, b, c = _seed(store)
    changes = tmp_path / "changes.csv"
    changes.write_text(
        "lead_id,from_stage,to_stage,at,by,handed_off_at\n"
        f"{a.id},inquiry,mql,2026-03-03T09:00:00Z,marketing,2026-03-03T09:00:00Z\n"
        f"{b.id},inquiry,mql,2026-03-03T10:00:00Z,marketing,\n"
        f"{c.id},inquiry,mql,2026-03-03T11:00:00Z,marketing,\n",
        encoding="utf-8",
    )
    report = store.import_file("stage_change", changes)
    assert (report.imported, report.errors) == (3, ())
    leads = store.leads_by_id([a.id, b.id])
    assert leads[a.id].stage == "mql"
    assert leads[a.id].handed_off_at == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)

    rejections = tmp_path / "rejections.jsonl"
    rows = [
        {"lead_id": b.id, "code": "no_budget", "at": "2026-03-04T09:00:00Z", "by": "u-ana"},
        {"lead_id": c.id, "code": "not_ready_to_buy", "at": "2026-03-04T10:00:00Z", "by": "u-bo"},
    ]
    rejections.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = store.import_file("rejection", rejections)
    assert (report.imported, report.errors) == (2, ())
    assert [(r.lead_id, r.code, r.by) for r in store.rejections()] == [
        (b.id, "no_budget", "u-ana"),
        (c.id, "not_ready_to_buy", "u-bo"),
    ]
    assert store.leads_by_id([b.id])[b.id].stage == "recycled"

    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(
        "lead_id,kind,at,amount,currency,opportunity_id\n"
        f"{a.id},won,2026-05-01T09:00:00Z,1200.50,EUR,O-1\n"
        f"{b.id},lost,2026-05-02T09:00:00Z,,,O-2\n",
        encoding="utf-8",
    )
    report = store.import_file("outcome", outcomes, keep_good=True)
    assert report.imported == 1
    [error] = report.errors
    assert (error.line, error.field) == (3, "reason")  # a lost outcome needs its reason
    [won] = store.outcomes()
    assert (won.lead_id, str(won.amount), won.opportunity_id) == (a.id, "1200.50", "O-1")

    # Stamped with the import's now, not a clock.
    stamps = {
        table: {r[0] for r in store.connection.execute(f"SELECT recorded_at FROM {table}")}
        for table in ("stage_history", "rejections", "outcomes")
    }
    assert stamps == {t: {NOW.isoformat()} for t in stamps}

    # Importing the same files again stores nothing twice.
    again = [
        store.import_file(k, p) for k, p in (("stage_change", changes), ("rejection", rejections))
    ]
    assert [(r.imported, r.unchanged, r.errors) for r in again] == [(0, 3, ()), (0, 2, ())]
    assert store.counts()["rejections"] == 2


def test_event_rows_that_cannot_apply_are_refused_naming_the_field(
    store: SQLiteAdapter, tmp_path: Path
) -> None:
    a, _, _ = _seed(store)
    source = tmp_path / "rejections.csv"
    source.write_text(
        "lead_id,code,at,by\n"
        f"{a.id},no_such_code,2026-03-04T09:00:00Z,u\n"
        "L-missing,no_budget,2026-03-04T09:00:00Z,u\n"
        f"{a.id},no_budget,2026-03-04T09:00:00,u\n"
        f"{a.id},no_budget,2026-03-04T09:00:00Z,\n"
        f"{a.id},no_budget,2026-03-04T09:00:00Z,u\n",
        encoding="utf-8",
    )
    report = store.import_file("rejection", source, keep_good=True)
    assert [(e.line, e.field) for e in report.errors] == [
        (2, "code"),
        (3, "lead_id"),
        (4, "at"),
        (5, "by"),
    ]
    assert report.imported == 1
    unknown = tmp_path / "outcomes.jsonl"
    unknown.write_text(
        json.dumps({"lead_id": a.id, "kind": "won", "at": "2026-05-01T09:00:00Z", "colour": "red"})
        + "\n",
        encoding="utf-8",
    )
    line, field, message = _refusal(store, unknown, "outcome")
    assert (line, field) == (1, "colour")
    assert "is not a field of an outcome" in message


def test_an_unknown_kind_is_refused(store: SQLiteAdapter, tmp_path: Path) -> None:
    from leadflow.errors import ValidationError

    with pytest.raises(ValidationError, match="import kind"):
        store.import_records("opportunity", [])
    assert store.import_records("lead", []).empty
    later = T0 + timedelta(days=1)
    report = store.import_records(
        "lead", [{"id": "L-1", "created_at": later.isoformat()}], first_line=10
    )
    assert (report.imported, report.file) == (1, None)
