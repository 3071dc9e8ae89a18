"""The port's values: cursors, write operations, results, capabilities."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from leadflow.errors import ValidationError
from leadflow.model import StageChange
from leadflow.ports import (
    READERS,
    Capabilities,
    Cursor,
    Entity,
    OutcomeReader,
    Page,
    RejectionReader,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    Versioned,
    WriteKind,
    WriteResult,
    WriteStatus,
    missing_members,
    read_all,
    read_pages,
    readable,
)


def test_cursor_round_trips_through_json() -> None:
    cursor = Cursor(entity="touch", token='2026-01-01T00:00:00Z|"odd"')
    assert cursor.entity is Entity.TOUCH
    assert Cursor.from_json(cursor.to_json()) == cursor
    with pytest.raises(ValidationError, match="cursor"):
        Cursor.from_json("{not json")
    with pytest.raises(ValidationError) as info:
        Cursor(entity="opportunity")
    assert info.value.field == "entity"


def test_writes_carry_their_kind(t0: datetime) -> None:
    change = StageChange(from_stage="inquiry", to_stage="mql", at=t0)
    assert ScoreWrite(lead_id="L-1", score=42.0).kind is WriteKind.SCORE
    assert StageWrite(lead_id="L-1", change=change, expected_version="3").kind is WriteKind.STAGE
    with pytest.raises(ValidationError, match="due_at"):
        SLAWrite(lead_id="L-1", due_at=datetime(2026, 1, 1), state="pending")


def test_write_result_status(t0: datetime) -> None:
    write = ScoreWrite(lead_id="L-1", score=1.0)
    assert WriteResult(write=write, status="unchanged").ok
    assert not WriteResult(write=write, status=WriteStatus.CONFLICT, error="modified since read").ok
    with pytest.raises(ValidationError):
        WriteResult(write=write, status="dropped")


def test_capabilities_to_dict() -> None:
    caps = Capabilities(reads={Entity.LEAD}, writes={WriteKind.SCORE}, max_batch=100)
    assert caps.can_read(Entity.LEAD) and not caps.can_read(Entity.TOUCH)
    assert caps.to_dict() == {
        "reads": ["lead"],
        "writes": ["score"],
        "max_batch": 100,
        "conflict_detection": True,
        "transactional_batches": False,
        "handoff_time": False,
    }


def test_a_stage_write_carries_an_optional_aware_handoff_time(t0: datetime) -> None:
    change = StageChange(from_stage="inquiry", to_stage="mql", at=t0)
    assert StageWrite(lead_id="L-1", change=change).handed_off_at is None
    assert StageWrite(lead_id="L-1", change=change, handed_off_at=t0).handed_off_at == t0
    with pytest.raises(ValidationError) as caught:
        StageWrite(lead_id="L-1", change=change, handed_off_at=datetime(2026, 1, 1))
    assert caught.value.field == "handed_off_at"


class _Leads:
    """An adapter that reads leads only, and one from before rejections existed."""

    name = "leads-only"
    capabilities = Capabilities(reads={Entity.LEAD}, writes=(), max_batch=1)

    def read_leads(self, cursor: object = None) -> Iterator[Page[object]]:
        yield Page(items=(Versioned(item="a", version="1"),), cursor=Cursor(entity="lead"))
        yield Page(items=(Versioned(item="b", version="1"),), cursor=Cursor(entity="lead"))

    def write(self, writes: object) -> list[WriteResult]:
        return []

    def close(self) -> None:
        pass


class _Declares:
    """Declares leads and touches, implements only what it is given."""

    name = "partial"
    capabilities = Capabilities(reads={Entity.LEAD, Entity.TOUCH}, writes=())

    def read_leads(self, cursor: Cursor | None = None) -> object:
        return iter(())

    def write(self, writes: object) -> list[object]:
        return []

    def close(self) -> None:
        pass


class _Everything(_Leads):
    name = "old"
    capabilities = Capabilities(reads=set(Entity), writes=(), max_batch=1)


def test_rejections_and_outcomes_are_read_only_from_adapters_that_have_them() -> None:
    assert {Entity.REJECTION: "read_rejections", Entity.OUTCOME: "read_outcomes"}.items() <= (
        READERS.items()
    )
    leads = _Leads()
    assert read_all(leads, Entity.LEAD) == ["a", "b"]  # type: ignore[arg-type]
    assert readable(leads, "lead") and not readable(leads, Entity.REJECTION)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="'rejection' is not read by adapter 'leads-only'"):
        read_pages(leads, Entity.REJECTION)  # type: ignore[arg-type]
    # Declared (reads=every entity, as adapters written before rejections existed say) but
    # without a reader: not readable, and reading it names the missing method.
    old = _Everything()
    assert not readable(old, Entity.OUTCOME)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="has no read_outcomes"):
        read_pages(old, Entity.OUTCOME)  # type: ignore[arg-type]
    assert "read_outcomes" not in missing_members(old), "an adapter from before still loads"


def test_an_adapter_with_the_readers_satisfies_the_reading_protocols() -> None:
    from leadflow.adapters.sqlite import SQLiteAdapter

    with SQLiteAdapter(":memory:") as store:
        assert isinstance(store, RejectionReader) and isinstance(store, OutcomeReader)
        assert readable(store, Entity.REJECTION) and readable(store, Entity.OUTCOME)
    assert not isinstance(_Leads(), RejectionReader)


def test_missing_members_are_the_base_ones_and_the_declared_readers() -> None:
    from leadflow.ports import Adapter, missing_members

    partial = _Declares()
    assert missing_members(partial) == ["read_touches"]
    assert isinstance(partial, Adapter), "the protocol itself asks for no reader"
    assert missing_members(object()) == ["name", "capabilities", "write", "close"]

    class WrongCapabilities(_Declares):
        capabilities = ("lead",)  # type: ignore[assignment]

    assert missing_members(WrongCapabilities()) == ["capabilities"]


def test_read_pages_asks_only_for_declared_entities() -> None:
    from leadflow.ports import read_pages

    assert list(read_pages(_Declares(), Entity.LEAD)) == []  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="'account' is not read by adapter 'partial'"):
        read_pages(_Declares(), "account")  # type: ignore[arg-type]
