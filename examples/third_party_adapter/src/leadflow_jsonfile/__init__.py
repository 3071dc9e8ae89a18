"""A leadflow adapter over one JSON file: the adapter-author guide's worked example.

Scope: everything the :class:`leadflow.ports.Adapter` port asks for, in the plainest form —
records in a JSON document, a global change counter as the cursor, a per-record revision as the
version — so an author can see every obligation in one screen of code. Not built for size or for
concurrent writers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from leadflow.adapters.mapping import FieldMap
from leadflow.adapters.sync import apply_batch, check_keys
from leadflow.errors import ConfigError, ValidationError
from leadflow.model import Account, Activity, Lead, StageChange, Touch
from leadflow.ports import (
    Capabilities,
    Cursor,
    Entity,
    OutcomeWrite,
    Page,
    RecordError,
    ScoreWrite,
    SLAWrite,
    Versioned,
    Write,
    WriteKind,
    WriteResult,
)

__all__ = ["JsonFileAdapter"]

_CLASSES: dict[Entity, type[Any]] = {
    Entity.LEAD: Lead,
    Entity.ACCOUNT: Account,
    Entity.ACTIVITY: Activity,
    Entity.TOUCH: Touch,
}
_FIELDS = FieldMap.default()


def _empty() -> dict[str, Any]:
    return {"seq": 0, **{e.value: {} for e in _CLASSES}, "scores": {}, "sla": {}, "outcomes": []}


class JsonFileAdapter:
    """Leads, accounts, activities and touches in one JSON file at *path*."""

    name = "jsonfile"
    capabilities = Capabilities(
        reads=frozenset(_CLASSES), writes=frozenset(WriteKind), max_batch=50
    )

    def __init__(self, path: str | os.PathLike[str], page_size: int = 10) -> None:
        self.path = Path(path)
        self.page_size = page_size
        self._data = json.loads(self.path.read_text()) if self.path.exists() else _empty()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JsonFileAdapter:
        """Build from ``{"path": ..., "page_size": ...}`` (a TOML table); other keys are refused."""
        check_keys(config, "", ["path", "page_size"])
        if "path" not in config:
            raise ConfigError("path", "is required: the JSON file to keep records in")
        return cls(config["path"], int(config.get("page_size", 10)))

    # -- seeding (how tests and imports put records in) ------------------------------------

    def put(self, entity: Entity, items: Sequence[Any]) -> list[Any]:
        """Insert or replace *items*; each change gets a new revision and change number.

        An item is a model object, or a plain mapping: a record as another program wrote it,
        stored as it is (so a test can put one the model refuses).
        """
        table = self._data[Entity(entity).value]
        for item in items:
            record = dict(item) if isinstance(item, Mapping) else _dump(Entity(entity), item)
            old = table.get(record["id"])
            table[record["id"]] = {
                "rev": old["rev"] + 1 if old else 1,
                "seq": self._next_seq(),
                "record": record,
            }
        self._save()
        return list(items)

    # -- reading ---------------------------------------------------------------------------

    def _read(self, entity: Entity, cursor: Cursor | None) -> Iterator[Page[Any]]:
        after = int(cursor.token) if cursor is not None and cursor.token else 0
        rows = sorted(
            (row for row in self._data[entity.value].values() if row["seq"] > after),
            key=lambda row: row["seq"],
        )
        for start in range(0, len(rows), self.page_size):
            chunk = rows[start : start + self.page_size]
            items: list[Versioned[Any]] = []
            errors: list[RecordError] = []
            for r in chunk:  # a record the model refuses is reported, and the read goes on
                try:
                    items.append(Versioned(item=_load(entity, r["record"]), version=str(r["rev"])))
                except ValidationError as exc:
                    errors.append(
                        RecordError(entity=entity, record_id=str(r["record"]["id"]), error=str(exc))
                    )
            yield Page(
                items=tuple(items),
                cursor=Cursor(entity=entity, token=str(chunk[-1]["seq"])),
                errors=tuple(errors),
            )

    def read_leads(self, cursor: Cursor | None = None) -> Iterator[Page[Lead]]:
        return self._read(Entity.LEAD, cursor)

    def read_accounts(self, cursor: Cursor | None = None) -> Iterator[Page[Account]]:
        return self._read(Entity.ACCOUNT, cursor)

    def read_activities(self, cursor: Cursor | None = None) -> Iterator[Page[Activity]]:
        return self._read(Entity.ACTIVITY, cursor)

    def read_touches(self, cursor: Cursor | None = None) -> Iterator[Page[Touch]]:
        return self._read(Entity.TOUCH, cursor)

    # -- writing ---------------------------------------------------------------------------

    def write(self, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply *writes* by the port's rules (unchanged first, then conflict against the
        batch's start, then apply: :func:`leadflow.adapters.sync.apply_batch`); one result per
        write, and the file saved once."""
        leads = self._data[Entity.LEAD.value]

        def version_of(lead_id: str) -> str | None:
            row = leads.get(lead_id)
            return None if row is None else str(row["rev"])

        def apply(write: Write) -> str:
            row = leads[write.lead_id]
            change = self._planner(write, row)
            assert change is not None  # apply_batch applies only what does not hold yet
            change()
            row["rev"] += 1
            row["seq"] = self._next_seq()
            return str(row["rev"])

        results = apply_batch(
            writes,
            version_of=version_of,
            holds=lambda write: self._planner(write, leads[write.lead_id]) is None,
            apply=apply,
        )
        self._save()
        return results

    def _planner(self, write: Write, row: dict[str, Any]) -> Callable[[], None] | None:
        """What applying *write* would do, or ``None`` when the record already holds it."""
        record = row["record"]
        if isinstance(write, ScoreWrite):
            value = [write.score, write.summary, write.recommendation]
            if self._data["scores"].get(write.lead_id) == value:
                return None
            return lambda: self._data["scores"].__setitem__(write.lead_id, value)
        if isinstance(write, SLAWrite):
            due = write.due_at.isoformat() if write.due_at else None
            if self._data["sla"].get(write.lead_id) == [due, write.state]:
                return None
            return lambda: self._data["sla"].__setitem__(write.lead_id, [due, write.state])
        if isinstance(write, OutcomeWrite):
            entry = _jsonable(attrs.asdict(write.outcome))
            if entry in self._data["outcomes"]:
                return None
            return lambda: self._data["outcomes"].append(entry)
        change = _jsonable(attrs.asdict(write.change))
        if change in record["history"]:
            return None

        def move() -> None:
            record["stage"] = write.change.to_stage
            record["history"].append(change)

        return move

    def _next_seq(self) -> int:
        self._data["seq"] += 1
        return int(self._data["seq"])

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, sort_keys=True))
        tmp.replace(self.path)  # atomic: a crash leaves the old file or the new one

    def close(self) -> None:
        """Nothing to release: every write is saved when it returns."""


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else str(value)

    return dict(json.loads(json.dumps(data, default=plain)))


def _dump(entity: Entity, item: Any) -> dict[str, Any]:
    record = _FIELDS.to_crm(entity.value, attrs.asdict(item, recurse=False))
    if entity is Entity.LEAD:
        record["history"] = [_jsonable(attrs.asdict(c)) for c in item.history]
    if hasattr(item, "properties"):
        record["properties"] = dict(item.properties)
    return record


def _load(entity: Entity, record: dict[str, Any]) -> Any:
    values = _FIELDS.from_crm(entity.value, record)
    if entity is Entity.LEAD:
        values["history"] = [StageChange(**_changes(c)) for c in record["history"]]
    if "properties" in record:
        values["properties"] = record["properties"]
    return _CLASSES[entity](**values)


def _changes(change: dict[str, Any]) -> dict[str, Any]:
    return {**change, "at": datetime.fromisoformat(change["at"])}
