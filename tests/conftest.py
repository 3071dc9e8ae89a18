"""Shared fixtures for leadflow's own tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest


@pytest.fixture
def t0() -> datetime:
    """A fixed, timezone-aware instant: tests never read the clock."""
    return datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
