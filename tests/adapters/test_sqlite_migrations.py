"""The store's schema: fixed migrations, an explicit column table, and upgrading old stores.

The fixture ``fixtures/store_v2_leadflow_0_1.sql`` is a store written by leadflow 0.1 (schema
version 2), dumped once and frozen; these tests open it with the current code.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from leadflow.adapters.sqlite import SCHEMA_VERSION, SQLiteAdapter
from leadflow.adapters.sqlite.columns import TABLES, Kind
from leadflow.adapters.sqlite.migrations import MIGRATIONS
from leadflow.adapters.testing import sample_leads
from leadflow.errors import ValidationError
from leadflow.lifecycle import transition
from leadflow.outcomes import Outcome
from leadflow.ports import (
    Cursor,
    Entity,
    OutcomeWrite,
    RejectionWrite,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    WriteStatus,
)
from leadflow.reasons import reject

FIXTURE = Path(__file__).parent / "fixtures" / "store_v2_leadflow_0_1.sql"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)

#: SHA-256 of each migration's text. A released migration is never edited: stores in the field
#: have run it already. Append a new migration instead (and add its hash here).
FROZEN = {
    1: "c7c6c0eaeb429359782e071b16a381659211dc98f82c6a770cd12427444f7b8d",
    2: "44d8a8f9d4fa4f10aff3408d1d8233a88b63840687990b10a5163c57d1a63036",
    3: "db589a87c039489a88f0599891b40c751828d6a06728fe34f5852b232920cc56",
    4: "943e31a555a068f522cf9a2e029cb38d948d3038aad6b31e8d7212a479891f51",
    5: "25c837f28ca63a119c9ea8fc782e44ad5e41c6b60d49740fbc05f67f87abce2b",
}

#: The columns each table the job writes gained after 0.1.
STAMPED = ("scores", "stage_history", "rejections", "outcomes", "sla_clocks")


def _old_store(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    conn.close()
    return path


def _columns(conn: sqlite3.Connection, table: str) -> dict[str, sqlite3.Row]:
    return {r[1]: r for r in conn.execute(f"PRAGMA table_info({table})")}


def test_released_migrations_are_never_edited() -> None:
    assert sorted(FROZEN) == [m.number for m in MIGRATIONS], "add the new migration's hash"
    for migration in MIGRATIONS:
        digest = hashlib.sha256(migration.sql.encode()).hexdigest()
        assert FROZEN[migration.number] == digest, f"migration {migration.number} was edited"


def test_the_fixture_is_a_0_1_store() -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(FIXTURE.read_text(encoding="utf-8"))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert "recorded_at" not in _columns(conn, "rejections")
    conn.close()


def test_a_store_from_leadflow_0_1_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    path = _old_store(tmp_path / "old.sqlite")
    with SQLiteAdapter(path) as store:
        conn = store.connection
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # New columns are there; the wall-clock default is gone.
        for table in STAMPED:
            assert "recorded_at" in _columns(conn, table), table
        assert _columns(conn, "scores")["recorded_at"]["dflt_value"] is None

        # Old rows, intact.
        leads = store.leads_by_id(["L-1", "L-2"])
        ada, bob = leads["L-1"], leads["L-2"]
        assert (ada.email, ada.title, ada.employees, ada.annual_revenue) == (
            "ada@example.com",
            "CTO",
            250,
            1.5e7,
        )
        assert dict(ada.properties) == {"persona": "buyer"}
        assert ada.stage == "mql"
        assert ada.handed_off_at == T0 + timedelta(hours=3)
        assert [(c.from_stage, c.to_stage, c.by) for c in ada.history] == [
            ("inquiry", "mql", "scoring")
        ]
        assert bob.stage == "recycled"
        assert [c.to_stage for c in bob.history] == ["mql", "recycled"]
        assert dict(store.accounts_by_id(["A-1"])["A-1"].properties) == {"tier": "gold"}
        assert [a.kind for a in store.activities_for(["L-1"])] == ["webinar_attended"]
        assert [t.outcome.value for t in store.touches_for(["L-1"])] == ["connected"]
        scores = store.score_history("L-1")
        assert [(s.score, s.recommendation) for s in scores] == [(40.0, None), (75.0, "mql")]
        # 0.1 stamped scores with SQLite's clock; the stamps are kept as they were.
        assert scores[0].recorded_at == datetime(2026, 12, 3, 15, 50, 25, 344000, tzinfo=UTC)
        [rejection] = store.rejections()
        assert (rejection.lead_id, rejection.code, rejection.note) == (
            "L-2",
            "no_budget",
            "next year",
        )
        [outcome] = store.outcomes()
        assert (outcome.kind.value, outcome.amount) == ("won", Decimal("1200.50"))
        clock = store.sla_clocks()["L-1"]
        assert (clock.state, clock.due_at, clock.recorded_at) == (
            "met",
            T0 + timedelta(hours=8),
            None,
        )
        assert store.load_cursor("run:hubspot", Entity.LEAD) == Cursor(
            entity="lead", token="1700000000000|42"
        )
        assert store.counts() == {
            "leads": 2,
            "accounts": 1,
            "activities": 1,
            "touches": 1,
            "stage_history": 3,
            "scores": 2,
            "rejections": 1,
            "outcomes": 1,
            "sla_clocks": 1,
        }

        # The same writes the 0.1 job made are recognised as already held.
        [same] = store.write(
            [
                ScoreWrite(
                    lead_id="L-1", score=75.0, summary="fit 40, intent 35", recommendation="mql"
                )
            ]
        )
        assert same.status is WriteStatus.UNCHANGED
        # New writes continue the change counter and are stamped with the job's now.
        assert list(store.read_leads(Cursor(entity="lead", token="12"))) == []
    with SQLiteAdapter(path, now=NOW) as store:
        [result] = store.write([ScoreWrite(lead_id="L-1", score=80.0)])
        assert (result.status, result.version) == (WriteStatus.APPLIED, "6")
        assert store.score_history("L-1")[-1].recorded_at == NOW
        [page] = store.read_leads(Cursor(entity="lead", token="12"))
        assert [v.item.id for v in page.items] == ["L-1"]


def test_a_new_store_reads_no_clock(tmp_path: Path) -> None:
    with SQLiteAdapter(tmp_path / "new.sqlite") as store:
        schema = " ".join(
            r[0] for r in store.connection.execute("SELECT sql FROM sqlite_master") if r[0]
        ).lower()
    for clock in ("'now'", "current_timestamp", "current_date", "current_time"):
        assert clock not in schema


def test_rows_are_stamped_with_the_jobs_now_never_the_clock(tmp_path: Path) -> None:
    with SQLiteAdapter(tmp_path / "s.sqlite", now=NOW) as store:
        a, b = store.upsert(Entity.LEAD, sample_leads(2))
        moved = transition(a, "mql", at=T0 + timedelta(hours=1), by="scoring")
        mql_b = transition(b, "mql", at=T0 + timedelta(hours=1), by="scoring")
        rejected, rejection = reject(mql_b, "no_budget", at=T0 + timedelta(days=1), by="u")
        later = NOW + timedelta(days=1)
        results = store.write(
            [
                ScoreWrite(lead_id=a.id, score=50.0),
                StageWrite(lead_id=a.id, change=moved.history[-1]),
                SLAWrite(lead_id=a.id, due_at=T0 + timedelta(hours=5), state="pending"),
                StageWrite(lead_id=b.id, change=mql_b.history[-1]),
                RejectionWrite(rejection=rejection, change=rejected.history[-1]),
            ]
        )
        assert all(r.ok for r in results), results
        won = Outcome(lead_id=a.id, kind="lost", at=T0 + timedelta(days=30), reason="price")
        assert store.write([OutcomeWrite(outcome=won)], now=later)[0].ok
        conn = store.connection
        stamps = {
            table: {r[0] for r in conn.execute(f"SELECT recorded_at FROM {table}")}
            for table in STAMPED
        }
        assert stamps == {
            "scores": {NOW.isoformat()},
            "stage_history": {NOW.isoformat()},
            "rejections": {NOW.isoformat()},
            "outcomes": {later.isoformat()},
            "sla_clocks": {NOW.isoformat()},
        }
        # Re-storing a lead keeps the stamps of the history it already had.
        store.upsert(Entity.LEAD, [attrs.evolve(store.leads_by_id([a.id])[a.id], title="CTO")])
        assert {r[0] for r in conn.execute("SELECT recorded_at FROM stage_history")} == {
            NOW.isoformat()
        }
    with SQLiteAdapter(tmp_path / "s.sqlite") as store:  # no now: no stamp, no clock
        store.write([ScoreWrite(lead_id=a.id, score=51.0)])
        assert store.score_history(a.id)[-1].recorded_at is None
    with pytest.raises(ValidationError, match="naive"):
        SQLiteAdapter(":memory:", now=datetime(2026, 3, 2, 9, 0))


def test_every_model_field_has_a_column_and_every_column_a_field(tmp_path: Path) -> None:
    sql_types = {
        Kind.TEXT: "TEXT",
        Kind.INTEGER: "INTEGER",
        Kind.REAL: "REAL",
        Kind.DATETIME: "TEXT",
        Kind.JSON: "TEXT",
    }
    with SQLiteAdapter(tmp_path / "s.sqlite") as store:
        for table in TABLES.values():
            fields = {f.name for f in attrs.fields(table.model)}
            mapped = {c.field for c in table.columns}
            assert fields == mapped | table.kept_elsewhere, table.table
            actual = {
                name: row["type"] for name, row in _columns(store.connection, table.table).items()
            }
            expected = {c.name: sql_types[c.kind] for c in table.columns}
            assert {**expected, "rev": "INTEGER", "seq": "INTEGER"} == actual, table.table
