"""Shared fixtures for leadflow's own tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest


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
