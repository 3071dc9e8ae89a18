"""Streaming file plumbing: read and write Parquet or CSV by record batches.

Scope: I/O for ETL jobs, in bounded memory. An input is a file (``.parquet``/``.pq``,
``.csv``, ``.csv.gz``), a directory of part files (a Spark or warehouse unload, a Parquet
dataset; names starting with ``_`` or ``.`` such as ``_SUCCESS`` are skipped) or a glob
(``"unload/part-*.csv.gz"``); :func:`input_parts` lists the parts, in name order. Readers
yield :class:`pyarrow.RecordBatch` objects of at most ``batch_size`` rows, CSV cells as
strings (the contract types them, :mod:`leadflow.etl.contract`), a UTF-8 byte-order mark
ignored. A CSV line that cannot be parsed (too few or too many fields) is a refused row in the
:class:`ErrorSink` with its line number, and reading carries on; with ``numbered=True`` each
batch carries the data-row number of each row (a ``__row`` column), counting refused lines.
:func:`partition_by_key` splits a file into hash partitions by lead id (an external
partitioning pass with bounded memory), so that each partition's leads and events can be
scored on their own.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "leads.csv"
>>> _ = path.write_bytes(b"\\xef\\xbb\\xbfID,Title\\nL-1,VP\\nL-2\\nL-3,CTO\\n")
>>> sink = ErrorSink(None)
>>> batches = read_batches(path, rename={"ID": "id", "Title": "title"}, numbered=True,
...                        errors=sink)
>>> pa.Table.from_batches(list(batches)).to_pydict()
{'id': ['L-1', 'L-3'], 'title': ['VP', 'CTO'], '__row': [0, 2]}
>>> [(e.row, e.field, e.reason) for e in sink.errors]
[(1, '(line)', 'has 1 field, expected 2 (line 3)')]
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from leadflow.errors import ConfigError, ValidationError
from leadflow.etl.contract import ROW, ErrorSink, RowError, conform

__all__ = [
    "ErrorSink",
    "RowError",
    "TableWriter",
    "conform",
    "file_format",
    "input_parts",
    "part_name",
    "partition_by_key",
    "read_batches",
    "read_header",
]

_UTC_US = pa.timestamp("us", tz="UTC")
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv"}


def file_format(path: str | os.PathLike[str]) -> str:
    """``"parquet"`` or ``"csv"``, from the file name's suffix; anything else is refused."""
    name = Path(path).name.lower()
    for suffix, kind in _SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    raise ConfigError(
        str(path), "unknown file type; use a .parquet, .csv or .csv.gz file, a directory or a glob"
    )


def input_parts(path: str | os.PathLike[str]) -> list[Path]:
    """The files an input names: itself, a directory's data files, or a glob's matches.

    A directory is searched recursively (Hive-style ``key=value`` folders too); files whose
    name starts with ``_`` or ``.`` (``_SUCCESS``, ``.crc``) and files of other types are
    skipped. Parts come in path order, so a run reads them the same way every time.
    """
    text = os.fspath(path)
    target = Path(text)
    if target.is_dir():
        parts = sorted(
            p
            for p in target.rglob("*")
            if p.is_file()
            and not any(q.startswith(("_", ".")) for q in p.relative_to(target).parts)
            and any(p.name.lower().endswith(s) for s in _SUFFIXES)
        )
        if not parts:
            raise ConfigError(text, "no .parquet, .csv or .csv.gz files in this directory")
        return parts
    if any(c in text for c in "*?[") and not target.exists():
        parts = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not parts:
            raise ConfigError(text, "no file matches this pattern")
        for part in parts:
            file_format(part)
        return parts
    file_format(target)
    if not target.exists():
        raise ConfigError(text, "no such file")
    return [target]


def part_name(path: str | os.PathLike[str], part: Path, parts: Sequence[Path]) -> str:
    """How the errors file names *part* of input *path*: the file name for a one-file input,
    the path inside the directory for a directory, the path for a glob's match."""
    if len(parts) == 1:
        return part.name
    root = Path(path)
    return part.relative_to(root).as_posix() if root.is_dir() else part.as_posix()


def read_header(path: str | os.PathLike[str]) -> list[str]:
    """The column names of a file (its first part, for a directory or a glob)."""
    first = input_parts(path)[0]
    if file_format(first) == "parquet":
        return list(pq.ParquetFile(first).schema_arrow.names)
    with _open_text(first) as handle:
        return next(csv.reader(handle), None) or []


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig", errors="replace")
    return open(path, newline="", encoding="utf-8-sig", errors="replace")


def read_batches(
    path: str | os.PathLike[str],
    *,
    batch_size: int = 65_536,
    columns: Collection[str] | None = None,
    dictionary: Collection[str] = (),
    rename: Mapping[str, str] | None = None,
    numbered: bool = False,
    errors: ErrorSink | None = None,
    source: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Yield the rows of an input (see :func:`input_parts`) as batches of at most *batch_size*.

    Only the *columns* that exist in the file are read (``None`` reads all; with *rename*,
    the file columns that are its keys, renamed to its values). CSV cells are read as strings
    (empty ones as nulls) and typed by the contract, so that one malformed cell fails one row,
    not the file; a line with the wrong number of fields goes to *errors* (without a sink, it
    raises :class:`~leadflow.errors.ValidationError`). Parquet string columns named in
    *dictionary* are read dictionary-encoded (much cheaper for repetitive columns such as an
    events file's ``lead_id`` and ``kind``). With *numbered*, each batch ends with a ``__row``
    column: the row's number in its part file, from 0. *source* names a one-file input in
    errors (default: :func:`part_name`).
    """
    parts = input_parts(path)
    for part in parts:
        yield from _read_part(
            part,
            source=source
            if source is not None and len(parts) == 1
            else part_name(path, part, parts),
            batch_size=batch_size,
            columns=columns,
            dictionary=dictionary,
            rename=rename,
            numbered=numbered,
            errors=errors,
        )


def _read_part(
    path: Path,
    *,
    source: str,
    batch_size: int,
    columns: Collection[str] | None,
    dictionary: Collection[str],
    rename: Mapping[str, str] | None,
    numbered: bool,
    errors: ErrorSink | None,
) -> Iterator[pa.RecordBatch]:
    if file_format(path) == "parquet":
        parquet = pq.ParquetFile(path, read_dictionary=_dictionary_columns(dictionary, rename))
        names = parquet.schema_arrow.names
        wanted = _wanted(names, columns, rename)
        offset = 0
        for batch in parquet.iter_batches(batch_size=batch_size, columns=wanted):
            yield _finish(
                batch, rename, np.arange(offset, offset + batch.num_rows) if numbered else None
            )
            offset += batch.num_rows
        return
    with _open_text(path) as handle:
        header = next(csv.reader(handle), None)
    if header is None:
        return
    include = _wanted(header, columns, rename)
    skipped: list[int] = []
    stopped: list[RowError] = []

    def ragged(row: Any) -> str:
        line = row.number  # 1-based, the header being line 1 (None if unknown)
        index = (line - 2) if line is not None else len(skipped)
        skipped.append(index)
        error = RowError(
            source=source,
            row=index,
            id=None,
            field="(line)",
            value=row.text,
            reason=(
                f"has {row.actual_columns} field{'s' if row.actual_columns != 1 else ''}, "
                f"expected {row.expected_columns}" + ("" if line is None else f" (line {line})")
            ),
        )
        if errors is None:  # strict: stop; raised below, once Arrow has given up
            stopped.append(error)
            return "error"
        errors.add(error)
        return "skip"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 22, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=ragged),
            convert_options=pacsv.ConvertOptions(
                # bytes first: a cell that is not UTF-8 fails its row, not the file (below)
                column_types=dict.fromkeys(header, pa.binary()),
                include_columns=include,
                strings_can_be_null=True,
                # only an empty cell is missing: "NaN", "NULL", "N/A" are text the contract
                # judges, as Lead.from_record does (Arrow's default list would make them nulls)
                null_values=[""],
            ),
        )
        emitted = 0
        for raw in reader:
            all_numbers = _row_numbers(emitted, raw.num_rows, skipped)
            emitted += raw.num_rows
            batch, kept = _utf8(raw, all_numbers, source, errors)
            numbers = kept if numbered else None
            for start in range(0, batch.num_rows, batch_size):
                part = None if numbers is None else numbers[start : start + batch_size]
                yield _finish(batch.slice(start, batch_size), rename, part)
    except pa.ArrowInvalid as exc:
        if stopped:
            raise stopped[0].to_exception() from None
        raise ConfigError(source, f"cannot be read as CSV: {exc}") from None


def _utf8(
    batch: pa.RecordBatch, numbers: np.ndarray, source: str, errors: ErrorSink | None
) -> tuple[pa.RecordBatch, np.ndarray]:
    """*batch*'s byte columns as text; a row with a cell that is not UTF-8 is refused."""
    columns: list[pa.Array] = []
    bad = np.zeros(batch.num_rows, dtype=bool)
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        try:
            columns.append(column.cast(pa.string()))
            continue
        except pa.ArrowInvalid:
            pass
        values = column.to_pylist()
        text: list[str | None] = []
        for index, value in enumerate(values):
            try:
                text.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                text.append(None)
                if not bad[index]:
                    bad[index] = True
                    error = RowError(
                        source=source,
                        row=int(numbers[index]),
                        id=None,
                        field=name,
                        value=value.decode("utf-8", "replace"),
                        reason="is not valid UTF-8 text",
                    )
                    if errors is None:
                        raise error.to_exception() from None
                    errors.add(error)
        columns.append(pa.array(text, pa.string()))
    result = pa.record_batch(columns, names=batch.schema.names)
    if bad.any():
        return result.filter(pa.array(~bad)), numbers[~bad]
    return result, numbers


def _row_numbers(emitted: int, n: int, skipped: list[int]) -> np.ndarray:
    """Data-row numbers of good rows ``emitted .. emitted + n``, the refused lines counted."""
    good = np.arange(emitted, emitted + n, dtype=np.int64)
    if not skipped:
        return good
    gaps = np.sort(np.asarray(skipped, dtype=np.int64))
    shifted = gaps - np.arange(len(gaps))
    return good + np.searchsorted(shifted, good, side="right")


def _dictionary_columns(
    dictionary: Collection[str], rename: Mapping[str, str] | None
) -> list[str] | None:
    if rename is not None:
        back = {v: k for k, v in rename.items()}
        dictionary = [back.get(name, name) for name in dictionary]
    return list(dictionary) or None


def _wanted(
    names: list[str], columns: Collection[str] | None, rename: Mapping[str, str] | None
) -> list[str] | None:
    if rename is not None:
        return [c for c in names if c in rename]
    return None if columns is None else [c for c in names if c in columns]


def _finish(
    batch: pa.RecordBatch, rename: Mapping[str, str] | None, numbers: np.ndarray | None
) -> pa.RecordBatch:
    if rename is not None:
        batch = batch.rename_columns([rename.get(n, n) for n in batch.schema.names])
    if numbers is not None:
        batch = batch.append_column(ROW, pa.array(numbers, pa.int64()))
    return batch


class TableWriter:
    """Append record batches to a Parquet or CSV file; the schema is the first batch's.

    >>> import tempfile, pathlib, pyarrow as pa
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
    >>> with TableWriter(path) as out:
    ...     out.write(pa.record_batch({"id": ["L-1"], "score": [12.5]}))
    >>> path.read_text().splitlines()
    ['"id","score"', '"L-1",12.5']

    A Parquet file gets a dictionary for every column (pyarrow's default) but those named in
    *plain*: columns whose values are nearly all distinct, such as ids, where a dictionary
    costs time and bytes and saves nothing.

    >>> import pyarrow.parquet as pq
    >>> path = path.with_suffix(".parquet")
    >>> with TableWriter(path, plain=["id"]) as out:
    ...     out.write(pa.record_batch({"id": ["L-1", "L-2"], "recommendation": ["mql", "mql"]}))
    >>> group = pq.ParquetFile(path).metadata.row_group(0)
    >>> ["RLE_DICTIONARY" in group.column(i).encodings for i in range(2)]
    [False, True]
    """

    def __init__(self, path: str | os.PathLike[str], *, plain: Collection[str] = ()) -> None:
        self.path = Path(path)
        self.format = file_format(path)
        #: columns a Parquet file stores without a dictionary
        self.plain = frozenset(plain)
        self.rows = 0
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        self._stream: Any = None

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        """Append *data*, whose schema must equal the first batch's."""
        if self._writer is None:
            if self.format == "parquet":
                names = data.schema.names
                coded = [name for name in names if name not in self.plain]
                dictionary = coded if len(coded) < len(names) else True
                self._writer = pq.ParquetWriter(self.path, data.schema, use_dictionary=dictionary)
            else:
                sink: Any = self.path
                if self.path.name.lower().endswith(".gz"):  # .csv.gz: a gzip stream
                    sink = self._stream = pa.CompressedOutputStream(str(self.path), "gzip")
                self._writer = pacsv.CSVWriter(sink, data.schema)
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
        if self._stream is not None:
            self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
