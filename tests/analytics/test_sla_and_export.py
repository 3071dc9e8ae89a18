"""SLA adherence rows, and rows out as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from leadflow.analytics import (
    rows_to_csv,
    rows_to_json,
    sla_adherence,
    write_csv,
    write_json,
)
from leadflow.analytics.funnel import StageEntries
from leadflow.errors import ValidationError
from leadflow.rules.sla import StepResult, StepState

T0 = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)


def _results() -> list[StepResult]:
    spec = [
        ("first_touch", "met", 0, 1.0, "u-1"),
        ("first_touch", "met", 0, 3.0, "u-1"),
        ("first_touch", "breached", 5, 12.0, "u-2"),
        ("first_touch", "pending", 5, None, "u-2"),
        ("second_attempt", "breached", 5, None, None),
    ]
    return [
        StepResult(
            lead_id=f"L{i}",
            policy="inbound",
            step=step,
            state=state,
            detail=StepState(state),
            due_at=T0 + timedelta(days=d),
            response_hours=h,
            owner=owner,
            team="east",
            source="web",
        )
        for i, (step, state, d, h, owner) in enumerate(spec)
    ]


def test_adherence_leaves_pending_out() -> None:
    rows = sla_adherence(_results(), by="step")
    assert [(r.key, r.met, r.breached, r.pending, r.adherence, r.median_hours) for r in rows] == [
        ("first_touch", 2, 1, 1, 0.666667, 3.0),
        ("second_attempt", 0, 1, 0, 0.0, None),
    ]
    by_owner = sla_adherence(_results(), by="owner")
    assert [r.key for r in by_owner] == ["(none)", "u-1", "u-2"]
    by_period = sla_adherence(_results(), by="period")
    assert [(r.key, r.met + r.breached + r.pending) for r in by_period] == [
        ("2026-03", 2),
        ("2026-04", 3),
    ]
    with pytest.raises(ValidationError, match="by: 'region'"):
        sla_adherence(_results(), by="region")


def test_an_unknown_state_is_named() -> None:
    results = _results()
    results[1] = attrs.evolve(results[1], state="late")
    with pytest.raises(ValidationError, match=r"results\[1\]\.state: 'late' is not one of"):
        sla_adherence(results)


def test_csv_and_json_carry_the_same_rows(tmp_path: Path) -> None:
    rows = sla_adherence(_results(), by="step")
    parsed = list(csv.DictReader(io.StringIO(rows_to_csv(rows))))
    assert parsed[1]["median_hours"] == ""  # None is an empty cell
    assert [r["key"] for r in parsed] == ["first_touch", "second_attempt"]
    assert json.loads(rows_to_json(rows)) == [r.to_dict() for r in rows]
    assert write_csv(rows, tmp_path / "a.csv").read_text(encoding="utf-8") == rows_to_csv(rows)
    assert (
        json.loads(write_json(rows, tmp_path / "a.json").read_text(encoding="utf-8"))[0]["met"] == 2
    )
    assert rows_to_csv([]) == ""


def test_mixed_rows_are_refused() -> None:
    rows = [StageEntries(stage="mql", period="2026-03", entries=1), {"other": 1}]
    with pytest.raises(ValidationError, match=r"rows\[1\]"):
        rows_to_csv(rows)
    with pytest.raises(ValidationError, match=r"rows\[0\]"):
        rows_to_csv([object()])  # type: ignore[list-item]
