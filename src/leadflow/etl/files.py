"""Streaming file plumbing: read and write Parquet or CSV by record batches, check rows.

Scope: I/O for ETL jobs, in bounded memory. Readers yield :class:`pyarrow.RecordBatch` objects
of at most ``batch_size`` rows; :func:`conform` casts a raw batch to the columns a plan needs and
moves every row that would not make a valid :class:`leadflow.Lead` or :class:`leadflow.Activity`
(a missing id, a timestamp without a UTC offset, a negative head count, a malformed e-mail) to an
:class:`ErrorSink`, so good rows carry on and bad ones are reported with their row number, field
and value. :func:`partition_by_key` splits a file into hash partitions by lead id (an external
partitioning pass with bounded memory), so that each partition's leads and events can be scored
on their own.

>>> import pyarrow as pa
>>> sink = ErrorSink(None)
>>> raw = pa.record_batch({"id": ["L-1", "", "L-3"], "employees": ["250", "12", "-4"]})
>>> good = conform(raw, {"id": pa.string(), "employees": pa.int64()}, required={"id"},
...                source="leads.csv", row_offset=0, errors=sink)
>>> good.column("id").to_pylist(), good.column("employees").to_pylist()
(['L-1'], [250])
>>> [(e.row, e.field, e.value) for e in sink.errors]
[(1, 'id', ''), (2, 'employees', '-4')]
"""

from __future__ import annotations

import csv
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from leadflow._validate import _EMAIL, _IDENTIFIER
from leadflow.errors import ConfigError, ValidationError

__all__ = [
    "ErrorSink",
    "RowError",
    "TableWriter",
    "conform",
    "file_format",
    "partition_by_key",
    "read_batches",
]

#: Numeric fields that the domain model refuses when negative.
_NON_NEGATIVE = frozenset({"annual_revenue", "employees"})
#: String fields that the domain model keeps verbatim (no stripping): identifiers.
_VERBATIM = frozenset({"id", "lead_id"})
_UTC_US = pa.timestamp("us", tz="UTC")


def file_format(path: str | os.PathLike[str]) -> str:
    """``"parquet"`` or ``"csv"``, from the file name's suffix; anything else is refused."""
    suffix = Path(path).suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix == ".csv":
        return "csv"
    raise ConfigError(str(path), "unknown file type; use a .parquet or .csv file name")


def read_batches(
    path: str | os.PathLike[str],
    *,
    batch_size: int = 65_536,
    columns: Collection[str] | None = None,
    dictionary: Collection[str] = (),
) -> Iterator[pa.RecordBatch]:
    """Yield the rows of a Parquet or CSV file as record batches of at most *batch_size* rows.

    Only the *columns* that exist in the file are read (``None`` reads all); :func:`conform`
    then reports missing required ones. CSV cells are read as strings (empty ones as nulls) and
    typed by :func:`conform`, so that one malformed cell fails one row, not the file. Parquet
    string columns named in *dictionary* are read dictionary-encoded (much cheaper for
    repetitive columns such as an events file's ``lead_id`` and ``kind``).
    """
    if file_format(path) == "parquet":
        parquet = pq.ParquetFile(path, read_dictionary=list(dictionary) or None)
        names = parquet.schema_arrow.names
        wanted = None if columns is None else [c for c in names if c in columns]
        yield from parquet.iter_batches(batch_size=batch_size, columns=wanted)
        return
    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), None)
    if header is None:
        return
    include = header if columns is None else [c for c in header if c in columns]
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 22),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            include_columns=include,
            strings_can_be_null=True,
        ),
    )
    for batch in reader:
        for start in range(0, batch.num_rows, batch_size):
            yield batch.slice(start, batch_size)


@attrs.frozen(kw_only=True)
class RowError:
    """One refused input row: where it was, which field, which value, and why."""

    source: str
    row: int
    id: str | None
    field: str
    value: str | None
    reason: str

    def to_exception(self) -> ValidationError:
        """A :class:`~leadflow.errors.ValidationError` naming the file, row and field."""
        return ValidationError(
            f"{self.source} row {self.row}: {self.field}", self.value, self.reason
        )


class ErrorSink:
    """Where refused rows go: a CSV file written as errors arrive, or a list when *path* is None.

    The CSV has the columns ``source,row,id,field,value,reason``; ``row`` counts data rows from
    0 in the input file. Use it as a context manager to close the file.
    """

    FIELDS = ("source", "row", "id", "field", "value", "reason")

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.errors: list[RowError] = []
        self.count = 0
        self._handle = None if path is None else open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = None if self._handle is None else csv.writer(self._handle)
        if self._writer is not None:
            self._writer.writerow(self.FIELDS)

    def add(self, error: RowError) -> None:
        """Record one refused row."""
        self.count += 1
        if self._writer is None:
            self.errors.append(error)
        else:
            self._writer.writerow(
                [error.source, error.row, error.id, error.field, error.value, error.reason]
            )

    def close(self) -> None:
        """Flush and close the file, if any."""
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TableWriter:
    """Append record batches to a Parquet or CSV file; the schema is the first batch's.

    >>> import tempfile, pathlib, pyarrow as pa
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
    >>> with TableWriter(path) as out:
    ...     out.write(pa.record_batch({"id": ["L-1"], "score": [12.5]}))
    >>> path.read_text().splitlines()
    ['"id","score"', '"L-1",12.5']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.format = file_format(path)
        self.rows = 0
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        """Append *data*, whose schema must equal the first batch's."""
        if self._writer is None:
            if self.format == "parquet":
                self._writer = pq.ParquetWriter(self.path, data.schema)
            else:
                self._writer = pacsv.CSVWriter(self.path, data.schema)
        if isinstance(data, pa.RecordBatch):
            self._writer.write_batch(data)
        else:
            self._writer.write_table(data)
        self.rows += data.num_rows

    def close(self, schema: pa.Schema | None = None) -> None:
        """Close the file; with nothing written, write an empty file with *schema* (if given)."""
        if self._writer is None and schema is not None:
            self.write(schema.empty_table())
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- conform ----------------------------------------------------------------------------------


def _strip_strings(arr: pa.Array) -> pa.Array:
    stripped = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


def _normalise_emails(arr: pa.Array) -> pa.Array:
    """Lower-case and drop a ``mailto:`` prefix, as :class:`leadflow.Lead` does."""
    arr = pc.utf8_lower(arr)
    if pc.any(pc.starts_with(arr, "mailto:")).as_py():
        arr = pc.replace_substring_regex(arr, r"^mailto:", "")
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _valid_emails(arr: pa.Array) -> pa.Array:
    """Whether each address passes the domain model's e-mail check (null stays null).

    Arrow's RE2 and Python's ``re`` agree on ASCII text; the few non-ASCII addresses are
    checked with Python's ``re`` so that ``\\s`` means the same Unicode spaces as per record.
    """
    ok = pc.match_substring_regex(arr, _EMAIL.pattern)
    unusual = np.flatnonzero(
        pc.fill_null(pc.invert(pc.string_is_ascii(arr)), False).to_numpy(zero_copy_only=False)
    )
    if len(unusual) == 0:
        return ok
    values = ok.to_pylist()
    texts = arr.to_pylist()
    for index in unusual.tolist():
        values[index] = _EMAIL.match(texts[index]) is not None
    return pa.array(values, type=pa.bool_())


def _cast_one(value: Any, source_type: pa.DataType, target: pa.DataType) -> str | None:
    """Why one value does not cast to *target* (``None`` when it does)."""
    try:
        pa.array([value], type=source_type).cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
        if pa.types.is_timestamp(target):
            return "is not an ISO-8601 timestamp with a UTC offset"
        if pa.types.is_integer(target):
            return "is not a whole number"
        return "is not a number" if pa.types.is_floating(target) else f"is not a {target}"
    return None


def _cast(name: str, arr: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Cast *arr* to *target*; rows that do not cast become nulls and are returned as errors."""
    source_type = arr.type
    if pa.types.is_timestamp(source_type) and pa.types.is_timestamp(target):
        if source_type.tz is None:
            raise ValidationError(
                name,
                str(source_type),
                "is a timestamp column without a time zone; leadflow refuses naive datetimes "
                "(store UTC instants, or cast the column with a time zone first)",
            )
        return arr.cast(target, safe=False), []
    work = arr
    if pa.types.is_string(source_type) or pa.types.is_large_string(source_type):
        work = _strip_strings(arr.cast(pa.string()))
        if pa.types.is_integer(target) or pa.types.is_floating(target):
            work = pc.replace_substring_regex(work, r"[,_]", "")
            if pa.types.is_integer(target):
                # "250.0" is a whole number for Lead.from_record too.
                work = pc.replace_substring_regex(work, r"^([+-]?\d+)\.0*$", r"\1")
    if work.type == target:
        return work, []
    try:
        return work.cast(target), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
        pass
    values = work.to_pylist()
    bad: list[tuple[int, str]] = []
    for index, value in enumerate(values):
        if value is not None:
            reason = _cast_one(value, work.type, target)
            if reason is not None:
                bad.append((index, reason))
                values[index] = None
    return pa.array(values, type=work.type).cast(target), bad


def _field_checks(name: str, arr: pa.Array) -> tuple[pa.Array, list[tuple[pa.Array, str]]]:
    """The domain model's per-field checks: (normalised values, [(bad-row mask, reason)])."""
    if name in _NON_NEGATIVE:
        return arr, [(pc.less(arr, 0), "must not be negative")]
    if name == "email":
        arr = _normalise_emails(arr)
        return arr, [(pc.invert(_valid_emails(arr)), "is not a valid e-mail address")]
    if name == "kind":  # few distinct kinds: check each once
        kinds = pc.unique(arr).drop_null()
        wrong = kinds.filter(pc.invert(pc.match_substring_regex(kinds, _IDENTIFIER.pattern)))
        if len(wrong) == 0:
            return arr, []
        return arr, [
            (
                pc.is_in(arr, value_set=wrong),
                "must be a lower-case snake_case name (e.g. 'quote_request')",
            )
        ]
    return arr, []


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _blank(arr: pa.Array) -> pa.Array:
    """Null, empty or only white space."""
    blank = pc.or_(pc.equal(pc.binary_length(arr), 0), pc.utf8_is_space(arr))
    return pc.or_kleene(pc.is_null(arr), blank)


def _conform_dictionary(
    name: str, raw: pa.DictionaryArray, *, required: bool
) -> tuple[pa.Array, list[tuple[pa.Array, str]]]:
    """:func:`conform` for a dictionary-encoded string column: checks run once per value."""
    values = raw.dictionary.cast(pa.string())
    indices = raw.indices
    problems: list[tuple[pa.Array, str]] = []
    if name in _VERBATIM:
        if required:
            blank = pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values))
            problems.append(
                (
                    pc.or_kleene(pc.is_null(indices), blank.take(indices)),
                    "must be a non-empty string",
                )
            )
        return pa.DictionaryArray.from_arrays(indices, values), problems
    values = _strip_strings(values)
    if required:
        problems.append(
            (
                pc.or_kleene(pc.is_null(indices), pc.is_null(values).take(indices)),
                "is required but missing",
            )
        )
    values, checks = _field_checks(name, values)
    problems += [(mask.take(indices), reason) for mask, reason in checks]
    return pa.DictionaryArray.from_arrays(indices, values), problems


def conform(
    batch: pa.RecordBatch,
    columns: Mapping[str, pa.DataType | None],
    *,
    required: Collection[str],
    source: str,
    row_offset: int,
    errors: ErrorSink,
    id_column: str = "id",
) -> pa.RecordBatch:
    """Return *batch* cast to *columns* (in that order), without the rows that are not valid.

    Each refused row goes to *errors* once, with the first problem found: a *required* column
    that is null or blank; a value that does not cast (``"12 people"`` as an integer, a
    timestamp without an offset); a negative ``annual_revenue`` or ``employees``; a malformed
    ``email``; an activity ``kind`` that is not snake_case. Strings are stripped and blank ones
    become null, as :meth:`leadflow.Lead.from_record` does; e-mails are lower-cased. Absent
    optional columns are filled with nulls; an absent required column is a
    :class:`~leadflow.errors.ConfigError` naming the file.
    """
    n = batch.num_rows
    ids = batch.column(id_column) if id_column in batch.schema.names else None
    bad = np.zeros(n, dtype=bool)
    raw_values: dict[str, list[Any]] = {}
    found: dict[int, RowError] = {}

    def refuse(index: int, name: str, reason: str) -> None:
        if bad[index]:
            return
        bad[index] = True
        if name not in raw_values:
            raw_values[name] = batch.column(name).to_pylist()
        raw = raw_values[name][index]
        found[index] = RowError(
            source=source,
            row=row_offset + index,
            id=None if ids is None else _text(ids[index].as_py()),
            field=name,
            value=None if raw is None else str(raw),
            reason=reason,
        )

    def refuse_mask(mask: pa.Array, name: str, reason: str) -> None:
        hits = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))
        for index in hits.tolist():
            refuse(index, name, reason)

    arrays: list[pa.Array] = []
    for name, target in columns.items():
        if name not in batch.schema.names:
            if name in required:
                raise ConfigError(source, f"missing required column {name!r}")
            arrays.append(pa.nulls(n, type=target or pa.string()))
            continue
        raw = batch.column(name)
        if pa.types.is_dictionary(raw.type) and target is not None and pa.types.is_string(target):
            arr, problems = _conform_dictionary(name, raw, required=name in required)
            for mask, reason in problems:
                refuse_mask(mask, name, reason)
            arrays.append(arr)
            continue
        if target is None:  # a custom property: kept as it is, "" meaning absent
            if pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type):
                raw = pc.if_else(pc.equal(raw, ""), pa.scalar(None, raw.type), raw)
            arrays.append(raw)
            continue
        if name in _VERBATIM and pa.types.is_string(target):
            arr = raw.cast(pa.string())
            if name in required:
                refuse_mask(_blank(arr), name, "must be a non-empty string")
            arrays.append(arr)
            continue
        arr, cast_errors = _cast(name, raw, target)
        for index, reason in cast_errors:
            refuse(index, name, reason)
        if name in required:
            refuse_mask(pc.is_null(arr), name, "is required but missing")
        arr, checks = _field_checks(name, arr)
        for mask, reason in checks:
            refuse_mask(mask, name, reason)
        arrays.append(arr)
    for index in sorted(found):
        errors.add(found[index])
    result = pa.record_batch(arrays, names=list(columns))
    if bad.any():
        result = result.filter(pa.array(~bad))
    return result


# -- partitioning -----------------------------------------------------------------------------

_WEIGHTS = np.random.default_rng(20260302).integers(1, 1 << 20, size=64).astype(np.float64)


def _partition_ids(arr: pa.Array, partitions: int) -> np.ndarray:
    """A stable partition number in ``[0, partitions)`` for each string of *arr*."""
    arr = arr.cast(pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    arr = pc.fill_null(arr, "")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    lengths = np.diff(offsets)
    owner = np.repeat(np.arange(n), lengths)
    position = np.arange(len(data)) - np.repeat(offsets[:-1] - offsets[0], lengths)
    sums = np.bincount(owner, weights=data * _WEIGHTS[position % 64], minlength=n)
    mixed = (sums.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(29)
    return (mixed % np.uint64(partitions)).astype(np.int64)


def partition_by_key(
    batches: Iterable[pa.RecordBatch],
    key: str,
    partitions: int,
    directory: str | os.PathLike[str],
    prefix: str,
) -> list[Path]:
    """Write *batches* into *partitions* Parquet files by a hash of column *key*; return them.

    Rows with the same key always land in the same partition number, whichever file they come
    from, so partition ``i`` of the leads and partition ``i`` of the events can be joined alone.
    Memory is one batch at a time; every partition file is written (possibly empty).
    """
    if partitions < 1:
        raise ValidationError("partitions", partitions, "must be at least 1")
    out = Path(directory)
    paths = [out / f"{prefix}-{i:04d}.parquet" for i in range(partitions)]
    writers: list[pq.ParquetWriter | None] = [None] * partitions
    schema: pa.Schema | None = None
    try:
        for batch in batches:
            schema = batch.schema
            parts = _partition_ids(batch.column(key), partitions)
            order = np.argsort(parts, kind="stable")
            bounds = np.searchsorted(parts[order], np.arange(partitions + 1))
            ordered = batch.take(pa.array(order))
            for i in range(partitions):
                if bounds[i + 1] > bounds[i]:
                    writer = writers[i]
                    if writer is None:
                        writer = writers[i] = pq.ParquetWriter(paths[i], batch.schema)
                    writer.write_batch(ordered.slice(bounds[i], bounds[i + 1] - bounds[i]))
    finally:
        for writer in writers:
            if writer is not None:
                writer.close()
    for path, writer in zip(paths, writers, strict=True):
        if writer is None and schema is not None:
            pq.write_table(schema.empty_table(), path)
    return paths
