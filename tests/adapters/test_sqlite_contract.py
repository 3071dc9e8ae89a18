"""The embedded store passes the adapter contract suite, loaded through its entry point."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadflow import adapters
from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.adapters.testing import AdapterContract, Seeder
from leadflow.ports import Adapter, Entity


def _unreadable_lead(conn: sqlite3.Connection) -> str:
    """A lead row the model refuses (a malformed e-mail, a naive date), as another tool or an
    older leadflow may have written it."""
    seq = conn.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO leads (id, created_at, email, stage, properties, rev, seq) "
        "VALUES ('UR-bad', '2026-03-02T09:00:00', 'not-an-email', 'inquiry', '{}', 1, ?)",
        (seq,),
    )
    return "UR-bad"


class TestSQLiteAdapter(AdapterContract):
    @pytest.fixture
    def adapter(self, tmp_path: Path) -> Iterator[Adapter]:
        adapter = adapters.load("sqlite", path=str(tmp_path / "store.sqlite"), page_size=4)
        yield adapter
        adapter.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Callable[[], Adapter]:
        return lambda: SQLiteAdapter(tmp_path / "store.sqlite", page_size=4)

    @pytest.fixture
    def seed(self, tmp_path: Path) -> Iterator[Seeder]:
        # A second connection: records arrive behind the adapter's back, as from another process.
        other = SQLiteAdapter(tmp_path / "store.sqlite")

        def seed(entity: Entity, items: Any) -> list[Any]:
            return other.upsert(entity, items)

        yield seed
        other.close()

    @pytest.fixture
    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "built.sqlite"), "page_size": 4}

    @pytest.fixture
    def seed_unreadable(self, tmp_path: Path) -> Callable[[Entity], str]:
        def seed(entity: Entity) -> str:
            assert entity is Entity.LEAD
            conn = sqlite3.connect(tmp_path / "store.sqlite", isolation_level=None)
            try:
                return _unreadable_lead(conn)
            finally:
                conn.close()

        return seed


class TestSQLiteInMemory(AdapterContract):
    """``:memory:`` has no second connection, so seeding goes through the adapter itself."""

    @pytest.fixture
    def adapter(self) -> Iterator[SQLiteAdapter]:
        adapter = SQLiteAdapter(":memory:", page_size=3)
        yield adapter
        adapter.close()

    @pytest.fixture
    def reopen(self) -> Callable[[], Adapter]:
        pytest.skip("an in-memory store does not survive a restart, by design")

    @pytest.fixture
    def seed(self, adapter: SQLiteAdapter) -> Seeder:
        return adapter.upsert

    @pytest.fixture
    def config(self) -> dict[str, Any]:
        return {"path": ":memory:", "page_size": 3}

    @pytest.fixture
    def seed_unreadable(self, adapter: SQLiteAdapter) -> Callable[[Entity], str]:
        return lambda _entity: _unreadable_lead(adapter.connection)
