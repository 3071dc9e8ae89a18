"""Shared fixtures for leadflow's own tests."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings

# CI (CI=true) replays the same examples every run, so a green check means the same thing on
# every machine and a rare counterexample found while developing is never a random red build;
# developers' runs stay random and keep exploring. No deadlines anywhere: speed is measured in
# benchmarks/, not asserted by timing a test on a shared machine.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def t0() -> datetime:
    """A fixed, timezone-aware instant: tests never read the clock."""
    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600-lead store made by ``leadflow demo`` (read-only for the tests that share it)."""
    from leadflow.cli import Exit, main

    where = tmp_path_factory.mktemp("small-demo")
    path = where / "demo.sqlite"
    code = main(["demo", "--quiet", "--leads", "600", "--store", str(path),
                 "--report", str(where / "report.html")])  # fmt: skip
    assert code == Exit.OK
    return path
