"""The example third-party adapter is found through its own entry point and passes the contract.

``.ci/run`` installs ``examples/third_party_adapter`` (a separate distribution) into the test
venv and sets ``LEADFLOW_REQUIRE_EXAMPLE=1``, so there the tests below must run; in a dev venv
without it they are skipped with the install command as the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadflow import adapters
from leadflow.adapters.testing import AdapterContract, Seeder
from leadflow.ports import Adapter, Entity

INSTALL = "pip install ./examples/third_party_adapter"

if "jsonfile" not in adapters.available():
    if os.environ.get("LEADFLOW_REQUIRE_EXAMPLE") == "1":
        raise RuntimeError(f"the example adapter is not installed; run: {INSTALL}")
    pytest.skip(f"example adapter not installed; run: {INSTALL}", allow_module_level=True)


def test_discovered_through_its_own_distribution() -> None:
    info = adapters.available()["jsonfile"]
    assert info.distribution == "leadflow-jsonfile"
    assert info.target == "leadflow_jsonfile:JsonFileAdapter"
    assert not info.duplicated
    caps = info.capabilities()
    assert caps is not None
    assert caps.can_read(Entity.TOUCH)


class TestJsonFileAdapterThroughEntryPoint(AdapterContract):
    @pytest.fixture
    def adapter(self, tmp_path: Path) -> Iterator[Adapter]:
        adapter = adapters.load("jsonfile", path=str(tmp_path / "crm.json"), page_size=3)
        yield adapter
        adapter.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Callable[[], Adapter]:
        return lambda: adapters.load("jsonfile", path=str(tmp_path / "crm.json"), page_size=3)

    @pytest.fixture
    def seed(self, adapter: Any) -> Seeder:
        seeder: Seeder = adapter.put
        return seeder
