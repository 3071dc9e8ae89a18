"""The in-memory adapter shown in docs/adapters.md passes the contract suite.

The adapter's code is taken from the page itself (the block after ``<!-- example:
memory_adapter.py -->``) and imported as a module, so the page cannot drift from what passes;
line numbers in tracebacks are the page's. The page's own test module runs too, in a separate
pytest session.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from leadflow import adapters
from leadflow.adapters.testing import AdapterContract, Seeder, read_all
from leadflow.errors import ConfigError
from leadflow.ports import Adapter, Entity, missing_members

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[2] / "docs" / "adapters.md"


def example(name: str) -> tuple[str, int]:
    """The code of the page's block marked ``<!-- example: name -->`` and its first line."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- example: {re.escape(name)} -->\n```python\n(.*?)```", text, re.S)
    assert found is not None, f"docs/adapters.md has no example block {name!r}"
    return found.group(1), text.count("\n", 0, found.start(1)) + 1


class _PageLoader(importlib.abc.SourceLoader):
    """Loads a module from a block of the page, keeping the page's line numbers."""

    def __init__(self, source: str, first_line: int) -> None:
        self.source = "\n" * (first_line - 1) + source

    def get_filename(self, fullname: str) -> str:
        return str(DOC)

    def get_data(self, path: str | bytes) -> bytes:
        return self.source.encode("utf-8")


def _load_example() -> ModuleType:
    source, first = example("memory_adapter.py")
    name = "leadflow_docs_memory_adapter"
    spec = importlib.util.spec_from_loader(name, _PageLoader(source, first))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


memory = _load_example()


def test_the_example_is_under_80_lines() -> None:
    source, _ = example("memory_adapter.py")
    assert len(source.splitlines()) < 80


def test_the_example_reads_only_what_it_declares() -> None:
    adapter = memory.MemoryAdapter()
    assert adapter.capabilities.reads == {Entity.LEAD, Entity.TOUCH}
    assert not hasattr(adapter, "read_accounts")
    assert not hasattr(adapter, "read_activities")
    assert missing_members(adapter) == []


def test_loading_the_example_by_name_refuses_an_unknown_setting() -> None:
    adapters.register("memory", memory.MemoryAdapter)
    try:
        assert adapters.load("memory", page_size=2).page_size == 2  # type: ignore[attr-defined]
        with pytest.raises(
            ConfigError, match=r"^page: unknown key 'page'; did you mean 'page_size'\?$"
        ):
            adapters.load("memory", page=2)
    finally:
        adapters.deregister("memory")


class TestDocsMemoryAdapter(AdapterContract):
    @pytest.fixture
    def adapter(self) -> Adapter:
        made: Adapter = memory.MemoryAdapter(page_size=4)
        return made

    @pytest.fixture
    def reopen(self) -> Callable[[], Adapter]:
        pytest.skip("an in-memory adapter does not survive a restart, by design")

    @pytest.fixture
    def seed(self, adapter: Any) -> Seeder:
        seeder: Seeder = adapter.put
        return seeder

    @pytest.fixture
    def seed_unreadable(self, adapter: Any) -> Callable[[Entity], str]:
        def put_unreadable(entity: Entity) -> str:
            adapter.put(entity, [{"id": "BAD-1", "created_at": "2026-03-02T09:00:00"}])
            return "BAD-1"

        return put_unreadable

    @pytest.fixture
    def config(self) -> Mapping[str, Any]:
        return {"page_size": 4}


def test_an_undeclared_entity_is_not_read(tmp_path: Path) -> None:
    from leadflow.errors import ValidationError

    with pytest.raises(ValidationError, match=r"not read by adapter 'memory'"):
        read_all(memory.MemoryAdapter(), Entity.ACCOUNT)


def test_the_pages_test_module_passes_against_the_pages_adapter(
    pytester: pytest.Pytester,
) -> None:
    adapter_code, _ = example("memory_adapter.py")
    test_code, _ = example("test_memory_adapter.py")
    pytester.makepyfile(memory_adapter=adapter_code, test_memory_adapter=test_code)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()[-3000:]
    assert outcomes.get("passed", 0) >= 20, result.stdout.str()[-3000:]


BROKEN = {
    "drops the hand-off time": (
        """
class Broken(MemoryAdapter):
    def _plan(self, write):
        if isinstance(write, StageWrite):
            write = attrs.evolve(write, handed_off_at=None)
        return super()._plan(write)
""",
        "test_handoff_time_is_stored_when_declared",
        "stores StageWrite.handed_off_at and reads it back as Lead.handed_off_at",
    ),
    "loses an unreadable record": (
        """
class Broken(MemoryAdapter):
    def put(self, entity, items):
        return super().put(entity, [i for i in items if not isinstance(i, dict)])
""",
        "test_unreadable_record_is_a_record_error",
        "is reported once as a RecordError on its page",
    ),
    "ignores unknown settings": (
        """
class Broken(MemoryAdapter):
    def __init__(self, page_size=10, **settings):
        super().__init__(page_size)
""",
        "test_unknown_config_key_is_refused",
        "Broken accepted 'no_such_setting'",
    ),
    "lets a stale version beat an unchanged write": (
        """
class Broken(MemoryAdapter):
    def write(self, writes):
        leads = self.rows[Entity.LEAD]
        stale = [w for w in writes if w.expected_version not in (None, str(leads[w.lead_id]["rev"]))]
        results = super().write([w for w in writes if w not in stale])
        done = {id(r.write): r for r in results}
        return [done.get(id(w)) or WriteResult(write=w, status="conflict", error="stale")
                for w in writes]
""",
        "test_reapplying_a_batch_changes_nothing",
        "an unchanged write must win over a stale expected_version",
    ),
}

BROKEN_TEST = """
import attrs
import pytest
from leadflow.adapters.testing import AdapterContract
from leadflow.ports import Entity, StageWrite, WriteResult
from memory_adapter import MemoryAdapter

{bug}

class TestBroken(AdapterContract):
    @pytest.fixture
    def adapter(self):
        return Broken(page_size=4)

    @pytest.fixture
    def seed(self, adapter):
        return adapter.put

    @pytest.fixture
    def seed_unreadable(self, adapter):
        def put_unreadable(entity):
            adapter.put(entity, [{{"id": "BAD-1", "created_at": "2026-03-02T09:00:00"}}])
            return "BAD-1"
        return put_unreadable

    @pytest.fixture
    def config(self):
        return {{"page_size": 4}}
"""


@pytest.mark.parametrize("bug", list(BROKEN))
def test_the_suite_fails_a_broken_adapter_and_says_why(pytester: pytest.Pytester, bug: str) -> None:
    code, test, words = BROKEN[bug]
    adapter_code, _ = example("memory_adapter.py")
    pytester.makepyfile(
        memory_adapter=adapter_code, test_broken=BROKEN_TEST.format(bug=code.strip())
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-k", test)
    out = result.stdout.str()
    assert result.parseoutcomes().get("failed", 0) >= 1, out[-3000:]
    assert words in out, out[-3000:]
