"""Report rows out: CSV and JSON.

Scope: turn any sequence of report rows (the frozen records of :mod:`leadflow.analytics`, or plain
dicts) into CSV or JSON text, or write them to a file. Values are written as :meth:`to_dict` gives
them: datetimes as ISO-8601 text, enums as their values; ``None`` is an empty CSV cell and JSON
``null``. The CSV header is the first row's fields; every row must have the same fields.

>>> from leadflow.analytics.funnel import StageEntries
>>> rows = [StageEntries(stage="mql", period="2026-03", entries=12)]
>>> print(rows_to_csv(rows), end="")
stage,period,entries
mql,2026-03,12
>>> rows_to_json(rows)
'[{"stage": "mql", "period": "2026-03", "entries": 12}]'
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from leadflow.errors import ValidationError

__all__ = ["rows_to_csv", "rows_to_dicts", "rows_to_json", "write_csv", "write_json"]


class _HasToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def rows_to_dicts(rows: Iterable[_HasToDict | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each row as a plain dict (``to_dict()`` for records, a copy for mappings)."""
    out = []
    for index, row in enumerate(rows):
        if isinstance(row, Mapping):
            out.append(dict(row))
        elif hasattr(row, "to_dict"):
            out.append(row.to_dict())
        else:
            raise ValidationError(f"rows[{index}]", row, "is neither a report row nor a mapping")
    return out


def rows_to_csv(rows: Iterable[_HasToDict | Mapping[str, Any]]) -> str:
    """The rows as CSV text with a header line (empty text for no rows)."""
    dicts = rows_to_dicts(rows)
    if not dicts:
        return ""
    header = list(dicts[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for index, row in enumerate(dicts):
        if list(row) != header:
            raise ValidationError(f"rows[{index}]", sorted(row), f"has other fields than {header}")
        writer.writerow(["" if v is None else _cell(v) for v in row.values()])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return value


def rows_to_json(
    rows: Iterable[_HasToDict | Mapping[str, Any]], *, indent: int | None = None
) -> str:
    """The rows as a JSON array of objects."""
    return json.dumps(rows_to_dicts(rows), indent=indent, ensure_ascii=False)


def write_csv(rows: Iterable[_HasToDict | Mapping[str, Any]], path: str | Path) -> Path:
    """Write :func:`rows_to_csv` to *path* (UTF-8); returns the path."""
    target = Path(path)
    target.write_text(rows_to_csv(rows), encoding="utf-8", newline="")
    return target


def write_json(rows: Iterable[_HasToDict | Mapping[str, Any]], path: str | Path) -> Path:
    """Write :func:`rows_to_json` (indented) to *path* (UTF-8); returns the path."""
    target = Path(path)
    target.write_text(rows_to_json(rows, indent=2) + "\n", encoding="utf-8")
    return target
