"""Importing flat records (CSV, JSON lines) into the store.

Scope: turning rows of a file into model values with their ``from_record`` constructors,
reporting every refused row (line, field, value, message), and storing the good ones the way
:meth:`~leadflow.adapters.sqlite.SQLiteAdapter.mirror` stores records read from a CRM (an
imported lead keeps the stage history and hand-off time the store holds and it does not carry).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from leadflow.adapters.sqlite import records
from leadflow.adapters.sqlite.columns import TABLES
from leadflow.adapters.sqlite.store import Store
from leadflow.errors import ConfigError, LeadflowError, ValidationError
from leadflow.ports import Entity

__all__ = ["ImportReport", "RowError", "import_file", "import_rows"]


@attrs.frozen(kw_only=True)
class RowError:
    """One refused row of an import: where (1-based line), which field, what was wrong."""

    line: int
    field: str
    value: Any
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@attrs.frozen(kw_only=True)
class ImportReport:
    """What an import did: rows stored, and each refused row with its error."""

    entity: Entity
    imported: int
    errors: tuple[RowError, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every row was imported."""
        return not self.errors


def _store(store: Store, entity: Entity, items: list[Any]) -> int:
    with store.transaction() as conn:
        if entity is Entity.LEAD:
            items = records.keep_store_state(conn, items)
        for item in items:
            records.upsert(conn, entity, item)
    return len(items)


def import_rows(
    store: Store,
    entity: Entity,
    rows: Iterable[tuple[int, Mapping[str, Any] | RowError]],
    *,
    batch_size: int,
) -> ImportReport:
    """Build *entity* values from numbered *rows* and store the good ones, *batch_size* per
    transaction; a row that does not validate is reported and skipped."""
    cls = TABLES[entity].model
    errors: list[RowError] = []
    good: list[Any] = []
    imported = 0
    for line, row in rows:
        if isinstance(row, RowError):
            errors.append(row)
            continue
        try:
            good.append(cls.from_record(row))
        except ValidationError as exc:
            errors.append(RowError(line=line, field=exc.field, value=exc.value, message=str(exc)))
        except LeadflowError as exc:
            errors.append(RowError(line=line, field="", value=None, message=str(exc)))
        if len(good) >= batch_size:
            imported += _store(store, entity, good)
            good = []
    if good:
        imported += _store(store, entity, good)
    return ImportReport(entity=entity, imported=imported, errors=tuple(errors))


def import_file(
    store: Store, entity: Entity, path: str | os.PathLike[str], *, batch_size: int
) -> ImportReport:
    """Import a ``.csv`` file (a header row, then one record per row) or a JSON-lines file
    (``.jsonl``/``.ndjson``, one object per line); errors carry the line number in the file."""
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix not in {".csv", ".jsonl", ".ndjson"}:
        raise ConfigError(str(source), "unknown file type; expected .csv, .jsonl or .ndjson")
    try:
        with source.open(newline="" if suffix == ".csv" else None, encoding="utf-8-sig") as f:
            rows = _csv_rows(f) if suffix == ".csv" else _jsonl_rows(f)
            return import_rows(store, entity, rows, batch_size=batch_size)
    except OSError as exc:
        raise ConfigError(str(source), f"cannot read: {exc.strerror or exc}") from None


def _csv_rows(handle: Iterable[str]) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    reader = csv.DictReader(handle)
    for row in reader:
        line = reader.line_num
        if None in row:
            yield (
                line,
                RowError(
                    line=line, field="", value=row[None], message="has more values than the header"
                ),
            )
            continue
        if any(v is None for v in row.values()):
            yield (
                line,
                RowError(
                    line=line, field="", value=None, message="has fewer values than the header"
                ),
            )
            continue
        yield line, row


def _jsonl_rows(handle: Iterable[str]) -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
    for line, text in enumerate(handle, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield (
                line,
                RowError(
                    line=line,
                    field="",
                    value=text.strip()[:80],
                    message=f"not valid JSON: {exc.msg}",
                ),
            )
            continue
        if not isinstance(data, dict):
            yield line, RowError(line=line, field="", value=data, message="not a JSON object")
            continue
        yield line, data
