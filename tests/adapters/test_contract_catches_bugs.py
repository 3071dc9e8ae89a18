"""The contract suite fails adapters that break the contract (it is not a suite that cannot fail).

Each case runs the suite in a separate pytest session (pytester) against the sqlite adapter with
one deliberate bug, and checks which contract tests fail.
"""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

HEADER = textwrap.dedent(
    """
    import pytest
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.adapters.testing import AdapterContract
    from leadflow.ports import Cursor, WriteResult, WriteStatus

    {bug}

    class TestBroken(AdapterContract):
        @pytest.fixture
        def adapter(self, tmp_path):
            adapter = Broken(tmp_path / "s.sqlite", page_size=3)
            yield adapter
            adapter.close()

        @pytest.fixture
        def reopen(self, tmp_path):
            return lambda: Broken(tmp_path / "s.sqlite", page_size=3)

        @pytest.fixture
        def seed(self, adapter):
            return adapter.upsert
    """
)

BUGS = {
    "ignores the cursor": (
        """
class Broken(SQLiteAdapter):
    def read_leads(self, cursor=None):
        return super().read_leads(None)

    def read_touches(self, cursor=None):
        return super().read_touches(None)
""",
        {"test_incremental_read_returns_only_new_records", "test_cursor_survives_a_restart"},
    ),
    "re-applies what is already there": (
        """
from leadflow.adapters.sqlite import writes as _writes

_writes._holds = lambda conn, write: False


class Broken(SQLiteAdapter):
    pass
""",
        {"test_reapplying_a_batch_changes_nothing"},
    ),
    "never reports a conflict": (
        """
class Broken(SQLiteAdapter):
    def write(self, writes):
        writes = [w if not hasattr(w, "expected_version") or type(w).__name__ == "OutcomeWrite"
                  else __import__("attrs").evolve(w, expected_version=None) for w in writes]
        return super().write(writes)
""",
        {"test_conflict_is_reported_not_overwritten"},
    ),
    "drops a failed write's result": (
        """
class Broken(SQLiteAdapter):
    def write(self, writes):
        return [r for r in super().write(writes) if r.status is not WriteStatus.FAILED]
""",
        {"test_write_to_a_missing_lead_fails_alone"},
    ),
}


@pytest.mark.parametrize("bug", list(BUGS))
def test_suite_catches(pytester: pytest.Pytester, bug: str) -> None:
    code, must_fail = BUGS[bug]
    pytester.makepyfile(test_broken=HEADER.format(bug=textwrap.dedent(code)))
    selected = " or ".join(sorted(must_fail))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-k", selected)
    failed = {
        line.split("::")[-1].split("[")[0].split(" ")[0]
        for line in result.outlines
        if line.startswith("FAILED")
    }
    assert must_fail <= failed, result.stdout.str()[-3000:]
