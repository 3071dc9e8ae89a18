"""leadflow's adapter contract suite, run against the JSON-file adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from leadflow_jsonfile import JsonFileAdapter

from leadflow.adapters.testing import AdapterContract, Seeder
from leadflow.ports import Entity


class TestJsonFileAdapter(AdapterContract):
    @pytest.fixture
    def adapter(self, tmp_path: Path) -> Iterator[JsonFileAdapter]:
        adapter = JsonFileAdapter(tmp_path / "crm.json", page_size=4)
        yield adapter
        adapter.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Callable[[], JsonFileAdapter]:
        return lambda: JsonFileAdapter(tmp_path / "crm.json", page_size=4)

    @pytest.fixture
    def seed(self, adapter: JsonFileAdapter) -> Seeder:
        return adapter.put

    @pytest.fixture
    def seed_unreadable(self, adapter: JsonFileAdapter) -> Callable[[Entity], str]:
        """A lead record the model refuses (an e-mail address without ``@``), as another
        program may have written it into the file."""

        def put_unreadable(entity: Entity) -> str:
            assert entity is Entity.LEAD
            record = {
                "id": "BAD-1",
                "email": "not-an-address",
                "history": [],
                "created_at": "2026-03-02T09:00:00+00:00",
            }
            adapter.put(entity, [record])
            return "BAD-1"

        return put_unreadable

    @pytest.fixture
    def config(self, tmp_path: Path) -> dict[str, Any]:
        return {"path": str(tmp_path / "built.json")}
