"""Reading export files into numbered records, refusing what is malformed line by line.

Scope: CSV (a header row, then one record per row) and JSON lines (one object per line) as
``(line, record)`` pairs, where a record that cannot be read is a :class:`RowError` naming its
line and field. A file that cannot be read on at all (UTF-16, NUL bytes, a CSV field over the
:mod:`csv` module's size limit, a header naming a column twice) raises :class:`Unreadable`
with the one :class:`RowError` that says why. Nothing here knows what the records mean.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = [
    "CSV_SUFFIXES",
    "JSONL_SUFFIXES",
    "MAX_DEPTH",
    "Row",
    "RowError",
    "Unreadable",
    "csv_rows",
    "jsonl_rows",
]

#: How deeply a JSON line may nest objects and arrays (leadflow's records are flat: a record,
#: and at most a ``properties`` object under it).
MAX_DEPTH = 32

#: File suffixes read as CSV and as JSON lines.
CSV_SUFFIXES = frozenset({".csv"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})


@attrs.frozen(kw_only=True)
class RowError:
    """One refused row: the file, its 1-based line, the field, the value and what was wrong."""

    line: int
    field: str
    value: Any
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: line {self.line}" if self.file else f"line {self.line}"
        return f"{where}: {self.message}"

    @property
    def reason(self) -> str:
        """What was wrong (the message)."""
        return self.message


class Unreadable(Exception):
    """The file cannot be read on: its rows cannot be trusted."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


#: A numbered row: its line and its record, or why it could not be read.
Row = tuple[int, Mapping[str, Any] | RowError]


_NOT_UTF8 = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16",
    codecs.BOM_UTF16_BE: "UTF-16",
}


def _check_encoding(head: bytes) -> None:
    """Refuse a file whose first bytes show it is not UTF-8 text."""
    for bom, name in _NOT_UTF8.items():  # UTF-32 first: its LE mark starts like UTF-16's
        if head.startswith(bom):
            raise Unreadable(
                RowError(
                    line=1,
                    field="",
                    value=name,
                    message=f"the file is {name} text; leadflow reads UTF-8: save it as UTF-8",
                )
            )
    if b"\x00" in head:
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        raise Unreadable(
            RowError(
                line=line,
                field="",
                value=None,
                message="holds NUL bytes: the file is UTF-16 or binary, not UTF-8 text",
            )
        )


def _text_problem(value: str, raw_ok: bool) -> str | None:
    """Why *value* (decoded with ``surrogateescape``) is not storable text, or ``None``."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        if not raw_ok and "\udc80" <= bad <= "\udcff":
            byte = ord(bad) - 0xDC00
            return f"is not valid UTF-8 (byte 0x{byte:02x}); save the file as UTF-8"
        return f"holds a lone surrogate ({bad!r}), which is not text"
    return None


class _Tracked:
    """The lines a CSV reader consumes, kept until its record is done (to find a field)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.pending: list[str] = []

    def __iter__(self) -> _Tracked:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.pending.append(line)
        return line


def _oversized_field(raw: str, header: list[str], limit: int) -> tuple[str, int]:
    """Which column of the CSV record *raw* is over *limit* characters, and its length.

    A scan of the default dialect (``,`` between fields, ``"`` around them, ``""`` inside),
    rather than a second :mod:`csv` reader, whose size limit is process-wide.
    """
    index, length, quoted, i, n = 0, 0, False, 0, len(raw)
    while i < n:
        ch = raw[i]
        if quoted:
            if ch == '"' and i + 1 < n and raw[i + 1] == '"':
                length += 1
                i += 1
            elif ch == '"':
                quoted = False
            else:
                length += 1
        elif ch == '"':
            quoted = True
        elif ch == "," or ch in "\r\n":
            if length > limit:
                break
            if ch != ",":
                break
            index, length = index + 1, 0
        else:
            length += 1
        i += 1
    if length <= limit:
        return "", len(raw)
    name = header[index] if index < len(header) else f"column {index + 1}"
    return name, length


def csv_rows(path: Path) -> Iterator[Row]:
    """The records of the CSV file *path*, numbered by the line each starts on.

    The first row is the header (a name per column, none twice); blank lines are skipped; a
    row with more or fewer values than the header, or a value that is not UTF-8 text, is a
    :class:`RowError`. A UTF-8 byte-order mark is skipped. Raises :class:`Unreadable` for a
    file that is not UTF-8 text, or a field over the :mod:`csv` module's size limit.
    """
    with path.open("rb") as raw:
        _check_encoding(raw.read(4096))
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        tracked = _Tracked(handle)
        reader = csv.reader(tracked)
        limit = csv.field_size_limit()
        header: list[str] = []
        start = 1
        while True:
            start = reader.line_num + 1
            tracked.pending.clear()
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    name, size = _oversized_field("".join(tracked.pending), header, limit)
                    message = (
                        f"is {size:,} characters, over the CSV field limit ({limit:,}); "
                        "the rest of the file was not read"
                    )
                else:
                    name, message = (
                        "",
                        f"is not valid CSV: {exc}; the rest of the file was not read",
                    )
                raise Unreadable(
                    RowError(
                        line=start, field=name, value=None, message=f"{name or 'row'} {message}"
                    )
                ) from None
            if not header:
                header = _csv_header(row, start)
                continue
            if not row or row == [""]:
                continue
            yield start, _csv_record(row, header, start)


def _csv_header(row: list[str], line: int) -> list[str]:
    header = [name.strip() for name in row]
    seen: set[str] = set()
    for index, name in enumerate(header):
        problem = _text_problem(name, raw_ok=False)
        if problem is not None or not name:
            message = f"the header's column {index + 1} {problem or 'has no name'}"
            raise Unreadable(RowError(line=line, field=name, value=name, message=message))
        if name in seen:
            raise Unreadable(
                RowError(
                    line=line,
                    field=name,
                    value=name,
                    message=f"the header names column {name!r} twice",
                )
            )
        seen.add(name)
    return header


def _csv_record(row: list[str], header: list[str], line: int) -> Mapping[str, Any] | RowError:
    if len(row) > len(header):
        return RowError(
            line=line, field="", value=row[len(header) :], message="has more values than the header"
        )
    if len(row) < len(header):
        return RowError(line=line, field="", value=None, message="has fewer values than the header")
    for name, value in zip(header, row, strict=True):
        problem = _text_problem(value, raw_ok=False)
        if problem is not None:
            return RowError(
                line=line, field=name, value=_visible(value), message=f"{name}: {problem}"
            )
    return dict(zip(header, row, strict=True))


def _visible(value: str) -> str:
    """*value* with undecodable bytes and surrogates shown as escapes (printable, storable)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")[:80]


@attrs.frozen
class _BadNumber:
    """A JSON number the store cannot keep, as written."""

    text: str

    def describe(self) -> str:
        digits = sum(ch.isdigit() for ch in self.text)
        shown = self.text if len(self.text) <= 24 else f"{self.text[:12]}...({digits} digits)"
        return shown


def _parse_int(text: str) -> Any:
    if len(text) > 20:  # beyond 64 bits for certain; int() of 4,300+ digits would raise
        return _BadNumber(text)
    return int(text)


def _parse_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text)


def _parse_constant(text: str) -> Any:
    return _BadNumber(text)


def _too_deep(text: str, limit: int) -> str | None:
    """The top-level key under which *text* nests deeper than *limit*, or ``None``."""
    if text.count("{") + text.count("[") <= limit:
        return None
    depth, key, i, n = 0, "", 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if depth == 1:
                k = j + 1
                while k < n and text[k] in " \t\r\n":
                    k += 1
                if k < n and text[k] == ":":
                    key = text[i + 1 : j]
            i = j + 1
            continue
        if ch in "[{":
            depth += 1
            if depth > limit:
                return key
        elif ch in "]}":
            depth -= 1
        i += 1
    return None


def _json_problem(value: Any, name: str, raw_ok: bool) -> tuple[str, Any, str] | None:
    """The first field of a parsed JSON value that cannot be stored: (field, value, why)."""
    if isinstance(value, _BadNumber):
        return (
            name,
            value.describe(),
            "is a number the store cannot keep (64-bit integers, finite numbers)",
        )
    if isinstance(value, str):
        problem = _text_problem(value, raw_ok)
        return (name, _visible(value), problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{name}.{key}" if name else str(key)
            problem = _text_problem(str(key), raw_ok)
            if problem:
                return _visible(path), _visible(str(key)), f"(a key) {problem}"
            found = _json_problem(item, path, raw_ok)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _json_problem(item, f"{name}[{index}]", raw_ok)
            if found:
                return found
    return None


def jsonl_rows(path: Path) -> Iterator[Row]:
    """The objects of the JSON-lines file *path*, numbered by line (blank lines skipped).

    A line that is not a JSON object, nests deeper than :data:`MAX_DEPTH`, holds a number the
    store cannot keep, bytes that are not UTF-8 or a lone surrogate is a :class:`RowError`
    naming the field. Raises :class:`Unreadable` for a UTF-16/UTF-32 file or NUL bytes.
    """
    with path.open("rb") as handle:
        _check_encoding(handle.read(4096))
        handle.seek(0)
        for line, raw in enumerate(handle, start=1):
            data = raw.removeprefix(codecs.BOM_UTF8) if line == 1 else raw
            if data.strip():
                yield line, _jsonl_record(data, line)


def _jsonl_record(raw: bytes, line: int) -> Mapping[str, Any] | RowError:
    text = raw.decode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
        raw_ok = True
    except UnicodeDecodeError:
        raw_ok = False
    deep = _too_deep(text, MAX_DEPTH)
    if deep is not None:
        return RowError(
            line=line,
            field=_visible(deep),
            value=None,
            message=f"{_visible(deep) or 'the line'}: nests deeper than {MAX_DEPTH} levels",
        )
    try:
        data = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except json.JSONDecodeError as exc:
        return RowError(
            line=line,
            field="",
            value=_visible(text.strip()),
            message=f"not valid JSON: {exc.msg} (column {exc.colno})",
        )
    except (ValueError, RecursionError) as exc:
        return RowError(line=line, field="", value=None, message=f"not valid JSON: {exc}")
    if not isinstance(data, dict):
        shown = data.describe() if isinstance(data, _BadNumber) else data
        return RowError(line=line, field="", value=shown, message="not a JSON object")
    found = _json_problem(data, "", raw_ok)
    if found is not None:
        field, value, problem = found
        return RowError(line=line, field=field, value=value, message=f"{field}: {problem}")
    return data
