"""The polars engine: a compiled scorecard and the input contract as lazy polars queries.

Scope: the default engine of :meth:`leadflow.etl.ColumnarPlan.score` for whole inputs --
Parquet files (a file, a directory of parts or a glob), Arrow tables, pandas or polars
DataFrames. It measured fastest of the engines tried (docs/etl.md, "Engines and the
benchmark"): polars reads the Parquet columns, checks them and scores them in parallel native
code, and Python only sees the rows that need a closer look.

Three queries: the events are reduced to one row of aggregates per lead (streaming, the kinds
filtered in the scan, one decay per distinct half-life); the event ids are checked for repeats
(below) while the leads are scanned, joined to the aggregates and scored in one query, which
keeps each lead's row number and whether it was clean; one sort by row number restores the
input order.

How the input contract stays exact without Python per row: each column gets a cheap *clean*
test that implies the contract would accept the value unchanged (a string whose first and last
characters are printable ASCII needs no stripping and is not blank; an e-mail in a strict
lower-case ASCII shape passes the model's check and its normalisation is the identity; a typed
timestamp or number needs no parsing). Most tests cost nothing on typed Parquet: the file's
statistics settle a column for the whole file (null counts; a number column's minimum, when a
negative value is refused; a text column's minimum and maximum, which bound its first
character: an identifier is then settled, another text column tested on its last character
only), and a column with small dictionaries (an event ``kind``, a ``country``) is judged once
per distinct value -- by the contract's own Arrow functions -- from its dictionary pages, read
alone (:mod:`leadflow.etl._dictionaries`). Rows that are not clean -- few, in real inputs -- are set
aside and sent through the Arrow contract (:func:`leadflow.etl.contract.validate`, or
:func:`~leadflow.etl.contract.conform` for events, as the Arrow plan does) with their row
numbers: refused ones reach the :class:`~leadflow.etl.contract.ErrorSink` with exactly the
row, id, field, value and reason the Arrow plan gives, in its order (events, accounts, leads);
the others come back normalised and are scored. A repeated event (same ``id`` and
``lead_id``) counts once, the first: when the ids of the events of the card's kinds are
strictly increasing (each compared with the one before, read in the scan's batches; the kind
test runs on the file's dictionaries, so only those rows' ids are decoded) no event that
counts can repeat and nothing is hashed -- a repeat of an event the card does not count
changes no score; otherwise the keys of the events that can count are hashed to 64 bits and
sorted (:func:`_repeated_keys`), only the rows of a hash seen twice are compared by key, and
only when one of them repeats an earlier row's key are the events de-duplicated (the lowest
row number kept) and the leads scored again.

Scores are ``score_lead``'s and the Arrow plan's (:mod:`leadflow.etl.plan`) numbers to
floating-point rounding: the same conditions, read the same way (string conditions other than
RE2-safe patterns are judged once per distinct value by the very functions the per-record path
uses), the same decay formula. By default (``plan.score``) not to the bit: behaviour sums are
ordinary parallel float sums, polars divides by a constant as a multiplication by its inverse
and its ``exp`` is the C library's, where the Arrow plan's sums are of numpy's; the two
engines agree to about 1e-12.

**Exact mode** (``score_polars(..., exact=True)``, what the score file job
:func:`leadflow.etl.pipeline.score_files` runs; :mod:`leadflow.etl._polars_files`) gives the
Arrow plan's numbers to the bit, so the job's output bytes do not depend on the engine or the
partitioning: each per-activity rule's terms are split into the Arrow plan's exactly summed
levels by the plan's own :func:`~leadflow.etl.plan._split_exact` (written once for numpy arrays
and polars expressions: a division by a power-of-two step is a multiplication by its exact
inverse; ``round`` ties to even, as ``np.round``), summed per lead (exact in any order) and
added in the plan's fixed order (the file job sums both levels of a rule as one integer of
whole steps where that is exact, :func:`_packed_step`); ages in days are the plan's own numpy
function (:func:`~leadflow.etl.plan._age_days`, true divisions) and decays numpy's ``exp``,
both run on the scan's batches; the rest of the arithmetic (``points * exp(age * rate)`` of a
counted condition, clamps, subtotals, totals in rule order) is the same sequence of IEEE
operations as the plan's. On the 15M events of the 1M-lead benchmark the file job's events
query costs about 0.3 s of CPU more than with plain sums (docs/etl.md). Spark executors run
the Arrow plan.

What this engine does not take (:func:`unsupported` says which, and ``score`` then runs the
Arrow plan): iterables of record batches (the Arrow plan streams them in bounded memory), CSV
inputs (read by :mod:`leadflow.etl.files`, which numbers unparseable lines), columns that need
text parsing (numbers or timestamps stored as text), naive or nanosecond timestamps,
timestamps in a time zone polars does not read (a fixed offset such as ``+05:30``), and
column types the contract does not know.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadflow._validate import _IDENTIFIER
from leadflow.etl.contract import ACTIVITY, LEAD, ROW, ErrorSink, _strip_strings, conform, validate
from leadflow.etl.plan import (
    _GAIN,
    _LEVELS,
    _age_days,
    _clamp_scalar,
    _grid,
    _level_names,
    _split_exact,
)
from leadflow.model import STANDARD_ACTIVITY_KINDS
from leadflow.rules.matching import comparable
from leadflow.rules.scorecard import (
    FREE_MAIL_DOMAINS,
    ActivityCount,
    AllOf,
    AnyOf,
    Category,
    Condition,
    Equals,
    FreeMailDomain,
    Missing,
    Not,
    OneOf,
    Present,
    Range,
    Regex,
    Signal,
    TitleKeywords,
)

if TYPE_CHECKING:
    from leadflow.etl.plan import ColumnarPlan

__all__ = ["score_polars", "unsupported"]

_DAY = 86400.0
_LN2 = math.log(2.0)
#: Printable ASCII, the characters a clean string may start and end with.
_EDGES = r"(?s)^[!-~](?:.*[!-~])?$"
#: An e-mail address that the model accepts unchanged (lower-case ASCII, one "@", a dotted
#: domain of letters, digits and inner hyphens): a strict subset of ``_validate._EMAIL``.
_CLEAN_EMAIL = (
    r"^[a-z0-9._%+\-]+@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)+$"
)
_VERBATIM = frozenset({"id", "lead_id"})
#: A column chunk whose dictionary page is at most this big has few distinct values.
_SMALL_DICTIONARY = 64 * 1024
_NON_NEGATIVE = frozenset({"annual_revenue", "employees"})


def _pl() -> Any:
    import polars

    return polars


# -- inputs ----------------------------------------------------------------------------------


class _Source:
    """One input as a polars LazyFrame, with what is known about its columns for free."""

    def __init__(
        self,
        frame: Any,
        stats: dict[str, tuple[Any, Any, int]] | None,
        parts: list[Path] | None = None,
        *,
        renames: Mapping[str, str] | None = None,
        sections: list[tuple[int, int, str]] | None = None,
    ) -> None:
        self.frame = frame
        #: the Parquet files read, for a file input
        self.parts = parts
        #: ``{contract name: file column}`` when the frame's columns were renamed
        self.file_names = {new: old for old, new in (renames or {}).items()}
        back = {old: new for new, old in self.file_names.items()} if renames else None
        #: ``{column: (min, max, nulls)}`` of string columns, from Parquet metadata
        self.stats = _renamed(stats or {}, back)
        #: ``{column: nulls}`` over the whole input, from Parquet metadata
        self.nulls = {} if parts is None else _renamed(_parquet_nulls(parts), back)
        #: ``(first row, end, name)`` of each part file, when refused rows are numbered and
        #: named per part (the file job's errors file); else by row of the whole input
        self.sections = sections
        self._distinct_values: dict[str, list[str] | None] = {}

    def distinct(self, name: str) -> list[str] | None:
        """:meth:`_distinct`, read once per column."""
        if name not in self._distinct_values:
            self._distinct_values[name] = self._distinct(name)
        return self._distinct_values[name]

    def _distinct(self, name: str) -> list[str] | None:
        """A superset of the distinct values of string column *name*, when that is cheap: the
        dictionaries of a Parquet column whose every chunk is dictionary-encoded with a small
        dictionary (read by Arrow without decoding the values), or a categorical column's
        categories; otherwise ``None``."""
        pl = _pl()
        schema = self.frame.collect_schema()
        if name not in schema.names():
            return None
        dtype = schema[name]
        if self.parts is None:
            if isinstance(dtype, pl.Enum):
                return [v for v in dtype.categories.to_list() if v is not None]
            if dtype == pl.Categorical:  # its categories are process-wide: the values present
                values = self.frame.select(pl.col(name).unique().cast(pl.String)).collect()
                return sorted(v for v in values.to_series().to_list() if v is not None)
            return None
        if dtype != pl.String:
            return None
        name = self.file_names.get(name, name)
        for part in self.parts:
            meta = _metadata(part)
            index = _column_index(meta, name)
            if index is None:  # e.g. renamed from properties.<name>
                return None
            for g in range(meta.num_row_groups):
                column = meta.row_group(g).column(index)
                if (
                    not column.has_dictionary_page
                    or column.dictionary_page_offset is None
                    or column.data_page_offset - column.dictionary_page_offset > _SMALL_DICTIONARY
                ):
                    return None
        from leadflow.etl._dictionaries import dictionary_values

        seen: set[str] = set()
        for part in self.parts:  # the dictionary pages alone, when they cover every page
            meta = _metadata(part)
            index = _column_index(meta, name)
            if index is None:  # checked above
                break
            for g in range(meta.num_row_groups):
                values = dictionary_values(part, meta.row_group(g).column(index))
                if values is None or not all(isinstance(v, str) for v in values):
                    break
                seen.update(v for v in values if isinstance(v, str))
            else:
                continue
            break
        else:
            return sorted(seen)
        seen = set()  # else Arrow decodes the chunks' indices to give their dictionaries
        for part in self.parts:
            parquet = pq.ParquetFile(part, read_dictionary=[name])
            for g in range(parquet.metadata.num_row_groups):
                for chunk in parquet.read_row_group(g, columns=[name]).column(0).chunks:
                    seen.update(v for v in chunk.dictionary.to_pylist() if v is not None)
        pa.default_memory_pool().release_unused()  # the indices read are not needed again
        return sorted(seen)


def _renamed(found: dict[str, Any], renames: Mapping[str, str] | None) -> dict[str, Any]:
    """*found* keyed by the new names of *renames* (``None``: as it is; others dropped)."""
    if renames is None:
        return found
    return {renames[k]: v for k, v in found.items() if k in renames}


def _file_source(path: str | os.PathLike[str], renames: Mapping[str, str]) -> _Source | str:
    """A Parquet file input read as the file job reads it -- the file columns that are keys of
    *renames*, named by its values; refused rows numbered and named per part file -- or why the
    polars engine does not take it."""
    pl = _pl()
    from leadflow.etl.files import file_format, input_parts, part_name

    parts = input_parts(path)
    if any(file_format(p) != "parquet" for p in parts):
        return "CSV input (read by the Arrow path, which numbers unparseable lines)"
    if len({_part_columns(p) for p in parts}) > 1:
        return "Parquet parts whose columns differ (the Arrow plan unifies them)"
    # every column: polars reads the whole file's schema, also of columns not selected
    zone = _unread_zone(_metadata(parts[0]).schema.to_arrow_schema())
    if zone:
        return zone
    sections = []
    start = 0
    for part in parts:
        rows = _metadata(part).num_rows
        sections.append((start, start + rows, part_name(path, part, parts)))
        start += rows
    frame = pl.scan_parquet([str(p) for p in parts]).select(list(renames)).rename(dict(renames))
    return _Source(frame, _parquet_stats(parts), parts, renames=renames, sections=sections)


def _source(data: Any) -> _Source | str:
    """*data* as a :class:`_Source`, or why the polars engine does not take it."""
    pl = _pl()
    if isinstance(data, str | os.PathLike):
        from leadflow.etl.files import file_format, input_parts

        parts = input_parts(data)
        if any(file_format(p) != "parquet" for p in parts):
            return "CSV input (read by the Arrow path, which numbers unparseable lines)"
        if len({_part_columns(p) for p in parts}) > 1:
            return "Parquet parts whose columns differ (the Arrow plan unifies them)"
        zone = _unread_zone(_metadata(parts[0]).schema.to_arrow_schema()) if parts else None
        if zone:
            return zone
        return _Source(pl.scan_parquet([str(p) for p in parts]), _parquet_stats(parts), parts)
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        data = pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, pa.Table):
        return _unread_zone(data.schema) or _Source(pl.from_arrow(data).lazy(), None)
    if module == "polars":
        return _Source(data.lazy(), None)
    return "an iterable of record batches (streamed by the Arrow plan in bounded memory)"


def _unread_zone(schema: pa.Schema) -> str | None:
    """Why the polars engine does not take *schema*: a timestamp
    column whose time zone polars does not read -- a fixed offset such as ``+05:30``, which
    Arrow keeps (polars reads IANA names only: it refuses the column, or panics scanning a
    Parquet file) -- or ``None``."""
    pl = _pl()
    for field in schema:
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if not pa.types.is_timestamp(kind) or kind.tz is None:
            continue
        try:
            pl.Series([], dtype=pl.Datetime(kind.unit, kind.tz))  # (no Arrow array: pandas)
        except pl.exceptions.PolarsError:
            return (
                f"column {field.name!r} in time zone {kind.tz!r}, which polars does not read "
                "(the Arrow plan does)"
            )
    return None


def _parquet_stats(parts: list[Path]) -> dict[str, tuple[Any, Any, int]]:
    """Whole-input minimum, maximum and null count of each string or number column whose every
    row group has statistics (others are left out; a chunk of nulls only has no bounds and
    counts its nulls)."""
    found: dict[str, tuple[Any, Any, int]] = {}
    missing: set[str] = set()
    a: Any
    b: Any
    low: Any
    high: Any
    for part in parts:
        meta = _metadata(part)
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                column = group.column(c)
                name = column.path_in_schema
                stats = column.statistics
                kind = _BOUNDED.get(column.physical_type)
                if (
                    stats is None
                    or stats.null_count is None
                    or kind is None
                    or stats.logical_type.type not in _PLAIN_LOGICAL  # e.g. timestamps: not
                    # read at all (Arrow converts those through pandas, imported for that)
                ):
                    missing.add(name)
                    continue
                nulls = stats.null_count
                if not stats.has_min_max:
                    if nulls != column.num_values:  # values without bounds
                        missing.add(name)
                    elif name in found:
                        a, b, n = found[name]
                        found[name] = (a, b, n + nulls)
                    else:
                        found[name] = (None, None, nulls)
                    continue
                low, high = stats.min, stats.max
                if type(low) is not kind or type(high) is not kind:
                    missing.add(name)  # e.g. binary, not text
                    continue
                if isinstance(low, float) and isinstance(high, float) and math.isnan(low + high):
                    missing.add(name)  # some writers put NaN there: it bounds nothing
                    continue
                if name in found and found[name][0] is not None:
                    a, b, n = found[name]
                    if type(a) is not kind:  # parts disagree on the column's type
                        missing.add(name)
                        continue
                    found[name] = (a if a <= low else low, b if b >= high else high, n + nulls)
                else:
                    found[name] = (low, high, nulls + (found[name][2] if name in found else 0))
    return {k: v for k, v in found.items() if k not in missing}


#: Parquet logical types whose statistics are plain text or numbers.
_PLAIN_LOGICAL = frozenset({"NONE", "STRING", "INT"})
#: Parquet physical types whose statistics bound a column, and the Python type of the bounds.
_BOUNDED: dict[str, type] = {
    "BYTE_ARRAY": str,
    "INT32": int,
    "INT64": int,
    "FLOAT": float,
    "DOUBLE": float,
}


def _part_columns(part: Path) -> frozenset[tuple[str, str]]:
    """The names and Arrow types of a Parquet file's columns, from its footer (polars
    refuses to scan parts that differ in them)."""
    schema = _metadata(part).schema.to_arrow_schema()
    return frozenset((field.name, str(field.type)) for field in schema)


def _column_index(meta: pq.FileMetaData, name: str) -> int | None:
    """The index of top-level column *name* among a Parquet file's columns (by its path: a
    struct's leaf of the same name is another column), or ``None``."""
    for index in range(meta.num_columns):
        if meta.schema.column(index).path == name:
            return index
    return None


@functools.lru_cache(maxsize=64)
def _metadata(part: Path) -> pq.FileMetaData:
    """A Parquet file's footer, read once per run (cleared when a run ends)."""
    return pq.ParquetFile(part).metadata


def _parquet_nulls(parts: list[Path]) -> dict[str, int]:
    """Whole-input null count of each column whose every row group has statistics."""
    found: dict[str, int] = {}
    missing: set[str] = set()
    for part in parts:
        meta = _metadata(part)
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                column = group.column(c)
                stats = column.statistics
                if stats is None or stats.null_count is None:
                    missing.add(column.path_in_schema)
                    continue
                found[column.path_in_schema] = found.get(column.path_in_schema, 0) + (
                    stats.null_count
                )
    return {k: v for k, v in found.items() if k not in missing}


def _dirty_values(values: list[str], *, names: bool) -> list[str]:
    """Those of *values* the contract would change (strip) or refuse (blank; with *names*, not
    a snake_case name) -- judged by the contract's own Arrow functions, except for values
    plainly clean: printable ASCII without spaces at either end (stripping keeps them, they
    are not blank) and, with *names*, matching the model's own name pattern. (Arrow's first
    array or scalar from Python objects imports pandas, ~46 MB resident, for nothing here.)"""
    unsure = [
        v
        for v in values
        if not (
            v
            and v.isascii()
            and v.isprintable()
            and v[0] != " "
            and v[-1] != " "
            and (not names or _IDENTIFIER.match(v))
        )
    ]
    if not unsure:
        return []
    raw = pa.array(unsure, pa.string())
    fine = pc.fill_null(pc.equal(_strip_strings(raw), raw), False)
    if names:
        fine = pc.and_(fine, pc.match_substring_regex(raw, _IDENTIFIER.pattern))
    return [v for v, ok in zip(unsure, fine.to_pylist(), strict=True) if not ok]


# -- the contract's clean tests ----------------------------------------------------------------


def _starts_printable(stats: tuple[Any, Any, int] | None) -> bool:
    """Statistics prove every non-null value starts with printable ASCII (so is not empty)."""
    return stats is not None and stats[0] is not None and stats[0] >= "!" and stats[1] < "\x7f"


def _ids_clean(stats: tuple[Any, Any, int] | None, required: bool) -> bool:
    """Statistics prove every value starts with printable ASCII (not blank), and no nulls."""
    if stats is None:
        return False
    low, high, nulls = stats
    if low is None:  # nothing but nulls
        return not required
    return (nulls == 0 or not required) and low >= "!" and high < "\x7f"


def _text_test(
    name: str, col: Any, *, required: bool, source: _Source, identifiers: frozenset[str]
) -> tuple[Any, Any]:
    """``(clean test or None, value)`` of a text column (see :func:`_column_plan`)."""
    pl = _pl()
    if name in _VERBATIM:
        if not required or _ids_clean(source.stats.get(name), required):
            return None, col
        return col.str.contains(r"^[!-~]").fill_null(False), col
    distinct = None if name == "email" else source.distinct(name)
    if distinct is not None:  # few values: each judged once, exactly, by the contract
        dirty = _dirty_values(distinct, names=bool(identifiers))
        test = ~col.is_in(dirty) if dirty else None
        if required and source.nulls.get(name) != 0:
            test = col.is_not_null() if test is None else test & col.is_not_null()
        return (None if test is None else test.fill_null(not required)), col
    if name == "email":
        test = col.str.contains(_CLEAN_EMAIL)
    elif identifiers:  # the standard kinds and the card's are valid names
        test = col.is_in(sorted(identifiers))
    elif _starts_printable(source.stats.get(name)):
        # the statistics settle the first character: only the last one is looked at
        test = col.str.slice(-1).is_between(pl.lit("!"), pl.lit("~"))
    else:
        test = col.str.contains(_EDGES)
    return (test.fill_null(False) if required else test.fill_null(True)), col


def _column_plan(
    name: str,
    dtype: Any,
    target: Any,
    *,
    required: bool,
    source: _Source,
    identifiers: frozenset[str],
) -> tuple[Any, Any] | str:
    """``(clean test or None, expression of the value)`` for one column, or why not."""
    pl = _pl()
    col = pl.col(name)
    is_text = dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    if is_text and dtype != pl.String:
        col = col.cast(pl.String)
    if target is None:  # a custom property: "" means absent, a float must be finite
        if dtype == pl.String:
            return col.is_null() | (col.str.len_bytes() > 0), col
        if dtype.is_float():
            return col.is_null() | col.is_finite(), col
        return None, col
    if pa.types.is_string(target):
        if not is_text:
            return f"column {name!r} of type {dtype} (not text)"
        return _text_test(name, col, required=required, source=source, identifiers=identifiers)
    if pa.types.is_timestamp(target):
        if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
            return f"column {name!r} of type {dtype} (not a time-zone-aware timestamp)"
        if dtype.time_unit == "ns":
            return f"column {name!r} in nanoseconds (truncated by the Arrow path)"
        value = col.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        nulls = required and source.nulls.get(name) != 0
        return (col.is_not_null() if nulls else None), value
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        if not dtype.is_numeric() or dtype.is_decimal():
            return f"column {name!r} of type {dtype} (not a number)"
        # the file's statistics bound the column (NaN aside: writers leave it out of them)
        bounds = source.stats.get(name)
        bounded = bounds is not None
        low, high = (None, None) if bounds is None else bounds[:2]
        test = None
        if dtype.is_float():
            test = col.is_finite()
            if pa.types.is_integer(target):
                test = test & (col.floor() == col) & (col.abs() < 2.0**63)
        elif (
            dtype == pl.UInt64
            and pa.types.is_integer(target)
            and (not bounded or (high is not None and high >= 2**63))
        ):
            test = col < 2**63
        if name in _NON_NEGATIVE and (not bounded or (low is not None and low < 0)):
            test = (col >= 0) if test is None else test & (col >= 0)
        if test is not None:
            test = test.fill_null(not required)
        elif required and source.nulls.get(name) != 0:
            test = col.is_not_null()
        kind = pl.Int64 if pa.types.is_integer(target) else pl.Float64
        return test, col.cast(kind, strict=False)  # rows that are not clean: set aside
    return f"column {name!r} of type {target}"


def _columns(
    names: list[str], entity: Any, needed: Mapping[str, Any], required: frozenset[str]
) -> dict[str, Any]:
    """The columns :func:`~leadflow.etl.contract.validate` checks, in its order."""
    columns: dict[str, Any] = dict(needed)
    for name, kind in entity.fields:
        if name in names or name in required:
            columns.setdefault(name, kind)
        elif name in columns and columns[name] is None:
            columns[name] = kind
    return columns


class _Checked:
    """An input's contract as polars expressions: clean rows, their values, the rest."""

    def __init__(
        self,
        source: _Source,
        entity: Any,
        needed: Mapping[str, Any],
        *,
        required: frozenset[str],
        identifiers: frozenset[str] = frozenset(),
        whole: bool = True,
    ) -> None:
        pl = _pl()
        self.source = source
        self.entity = entity
        self.schema = source.frame.collect_schema()
        self.names = list(self.schema.names())
        self.needed = dict(needed)
        self.required = required
        #: whole: every column of the record type (validate); else only *needed* (conform)
        self.whole = whole
        self.columns = _columns(self.names, entity, needed, required) if whole else dict(needed)
        self.problem: str | None = None
        tests: dict[str, Any] = {}
        values: list[Any] = []
        for name, target in self.columns.items():
            if name not in self.names:
                if name in required:
                    from leadflow.errors import ConfigError

                    raise ConfigError(entity.name + "s", f"missing required column {name!r}")
                kind = target or pa.string()
                values.append(pl.lit(None, dtype=_pl_type(kind)).alias(name))
                continue
            plan = _column_plan(
                name,
                self.schema[name],
                target,
                required=name in required,
                source=source,
                identifiers=identifiers if name == "kind" else frozenset(),
            )
            if isinstance(plan, str):
                self.problem = plan
                return
            test, value = plan
            if test is not None:
                tests[name] = test
            values.append(value.alias(name))
        self.tests = tests
        self.clean = self.clean_but()
        self.values = values

    def clean_but(self, *skip: str) -> Any:
        """The clean test of a row, leaving out the tests of the columns *skip*."""
        pl = _pl()
        tests = [test for name, test in self.tests.items() if name not in skip]
        return pl.all_horizontal(tests) if tests else pl.lit(True)

    def suspects(self, frame: Any, sink: ErrorSink, source: str) -> Any:
        """The rows of *frame* (with ``__row``) that are not clean, through the Arrow
        contract: refused ones to *sink*, the rest returned normalised as a polars frame."""
        pl = _pl()
        raw = frame.select(*self.names, ROW).collect()
        if raw.height == 0:
            return None
        rows = raw.get_column(ROW).to_numpy()
        table = raw.drop(ROW).to_arrow()
        table = table.cast(pa.schema([_arrow_field(f) for f in table.schema]))
        if self.whole and self.source.sections is not None:
            good = self._by_part(table, rows, sink)
        elif self.whole:
            good = validate(
                table, self.entity, needed=self.needed, source=source, errors=sink, rows=rows
            )
        else:
            batch = table.combine_chunks().to_batches()[0] if table.num_rows else None
            if batch is None:
                return None
            good = conform(
                batch,
                self.columns,
                required=self.required,
                source=source,
                row_offset=0,
                errors=sink,
                id_column=self.entity.key,
                rows=rows,
            )
        good = good.select([*self.columns, ROW])
        # the contract keeps a dictionary column encoded: text again, as the clean rows' values
        return pl.from_arrow(good).with_columns(
            pl.col(pl.Categorical).cast(pl.String), pl.col(ROW).cast(pl.UInt32)
        )

    def _by_part(self, table: pa.Table, rows: Any, sink: ErrorSink) -> pa.Table:
        """:func:`validate` part file by part file, rows numbered and named as the file job's
        Arrow path names them (from 0 in each part); ``__row`` counts over the whole input."""
        assert self.source.sections is not None
        found = []
        for start, end, name in self.source.sections:
            first, last = np.searchsorted(rows, [start, end])
            if first == last:
                continue
            good = validate(
                table.slice(first, last - first),
                self.entity,
                needed=self.needed,
                source=name,
                errors=sink,
                rows=rows[first:last] - start,
            )
            found.append(
                good.set_column(
                    good.schema.get_field_index(ROW),
                    ROW,
                    pc.add(good.column(ROW), pa.scalar(start, pa.int64())),
                )
            )
        return pa.Table.from_batches(found)  # every row is in a part: never empty


def _arrow_field(field: pa.Field) -> pa.Field:
    """polars' Arrow export (string views, large strings) as the contract's types."""
    kind = field.type
    if pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
        return pa.field(field.name, pa.string())
    if pa.types.is_dictionary(kind):
        return pa.field(field.name, pa.dictionary(kind.index_type, pa.string()))
    return field


def _pl_type(kind: pa.DataType) -> Any:
    pl = _pl()
    if pa.types.is_timestamp(kind):
        return pl.Datetime("us", "UTC")
    if pa.types.is_integer(kind):
        return pl.Int64
    if pa.types.is_floating(kind):
        return pl.Float64
    return pl.String


# -- the engine ----------------------------------------------------------------------------------


def unsupported(plan: ColumnarPlan, leads: Any, events: Any, accounts: Any = None) -> str | None:
    """Why the polars engine would not score these inputs (``None``: it would)."""
    try:
        import polars  # noqa: F401
    except ImportError:
        return "polars is not installed (pip install 'leadflow[etl]')"
    for data in (leads, events):
        found = _source(data)
        if isinstance(found, str):
            return found
    return None


def score_polars(
    plan: ColumnarPlan,
    leads: Any,
    events: Any,
    *,
    as_of: datetime,
    accounts: pa.Table | None = None,
    errors: ErrorSink | None = None,
    exact: bool = False,
) -> pa.Table | str:
    """Score *leads* with their *events* on polars; or, when an input or a column is not one
    this engine takes (see the module docstring), say which -- the caller then runs the Arrow
    plan.

    With *exact*, the scores are the Arrow plan's to the bit (the exact level sums of
    :func:`leadflow.etl.plan._split_exact`, numpy's ``exp`` and true divisions for ages; see
    the module docstring); else to about 1e-12, faster.

    Same inputs, errors and result as :meth:`~leadflow.etl.ColumnarPlan.score`.
    """
    pl = _pl()
    _metadata.cache_clear()  # a file may have changed since the last run
    lead_source, event_source = _source(leads), _source(events)
    if isinstance(lead_source, str):
        return lead_source
    if isinstance(event_source, str):
        return event_source
    sink = ErrorSink(None) if errors is None else errors
    lead_source.frame = _plain_properties(lead_source.frame)
    lead_check = _Checked(
        lead_source, LEAD, dict(plan.lead_columns), required=frozenset(LEAD.required)
    )
    event_names = event_source.frame.collect_schema().names()
    keyed = "id" in event_names
    event_needed: dict[str, Any] = {
        "lead_id": pa.string(),
        "kind": pa.string(),
        "occurred_at": pa.timestamp("us", tz="UTC"),
    }
    event_check = _Checked(
        event_source,
        ACTIVITY,
        {**event_needed, **({"id": pa.string()} if keyed else {})},
        required=frozenset({*event_needed, *(["id"] if keyed else [])}),
        identifiers=frozenset(STANDARD_ACTIVITY_KINDS | set(plan.kinds)),
        whole=False,  # as the Arrow plan: the columns scoring reads (and the id)
    )
    if lead_check.problem or event_check.problem:
        return (
            f"leads {lead_check.problem}" if lead_check.problem else f"events {event_check.problem}"
        )
    engine = _Engine(plan, as_of, exact=exact)
    # events first, as the Arrow plan does: their refused rows come first in the errors
    aggregate = engine.aggregate(event_check, sink, keyed)
    if errors is None and sink.errors:
        raise sink.errors[0].to_exception()
    with ThreadPoolExecutor(1, thread_name_prefix="leadflow-ids") as pool:
        # strictly increasing event ids cannot repeat (no hashing needed): checked while the
        # leads are read and scored; only when they are not is the aggregate made again by
        # key and the leads scored again
        checked = keyed and not engine.deduplicated_already
        # only the ids of events of the card's kinds: a repeat can change a score only if
        # both copies count, and a subsequence of increasing ids increases (the kind test is
        # on the file's dictionaries, and only those rows' ids are decoded)
        counting = event_source.frame.filter(engine._card_kinds())
        rising = pool.submit(_rising, counting, "id") if checked else None
        account_frame = None
        if accounts is not None:  # before the leads, as the Arrow plan: errors in that order
            table = plan._conform_accounts(accounts, sink)  # the one accounts conformer
            if errors is None and sink.errors:
                raise sink.errors[0].to_exception()
            account_frame = pl.from_arrow(table).unique(
                subset=["account_id"], keep="first", maintain_order=True
            )
        query = engine.leads(lead_check)
        fixed: list[Any] = []  # the leads set aside, through the Arrow contract (once)

        def scores(aggregate: Any) -> Any:
            found = engine.score(
                query, aggregate, account_frame, plain=_CLEAN_PLAIN, known=lead_source.distinct
            )
            if found.get_column("__ok").all():
                return found
            if not fixed:
                fixed.append(engine.fixed_leads(lead_check, sink))
            found = found.filter(pl.col("__ok"))
            if fixed[0] is None:
                return found
            plain = _CLEAN_PLAIN if _plain_text(fixed[0], "email") else frozenset()
            again = engine.score(fixed[0], aggregate, account_frame, plain=plain)
            return pl.concat([found, again], how="vertical_relaxed")

        result = scores(aggregate)
        if errors is None and sink.errors:
            raise sink.errors[0].to_exception()
        if rising is not None and not rising.result():
            once = engine.deduplicated(event_check)
            if once is not None:  # an event that counts repeats: scored without the repeats
                result = scores(once)
    result = result.sort("__i").drop("__i", "__ok")
    _metadata.cache_clear()  # a file may change between runs
    return result.to_arrow().cast(plan.output_schema)


#: The subtotals of a score, in the output's order.
_SUBTOTALS = ("fit", "behaviour", "interest", "intent")
#: Prefix of a leads column carried through scoring (the file job's ``keep``, ``dedupe``).
_CARRY = "__carry."
#: Columns whose clean test admits only ASCII text without line breaks (see _CLEAN_EMAIL).
_CLEAN_PLAIN = frozenset({"email"})


def _plain_text(frame: Any, name: str) -> bool:
    """Whether column *name* of *frame* (if any) holds only ASCII text without line breaks."""
    if name not in frame.columns:
        return True
    return all(v.isascii() and "\n" not in v for v in frame.get_column(name).drop_nulls())


def _plain_properties(frame: Any) -> Any:
    """``properties.<name>`` columns renamed ``<name>`` (as :meth:`leadflow.Lead.from_record`)."""
    names = frame.collect_schema().names()
    renames = {
        n: n[len("properties.") :]
        for n in names
        if n.startswith("properties.") and n[len("properties.") :] not in names
    }
    return frame.rename(renames) if renames else frame


class _Engine:
    """One scoring run: the plan, the instant, and the expressions built from them.

    With *exact*, the numbers are the Arrow plan's to the bit (see :func:`score_polars`).
    """

    def __init__(self, plan: ColumnarPlan, as_of: datetime, *, exact: bool = False) -> None:
        self.plan = plan
        self.as_of = as_of
        self.as_of_ts = as_of.timestamp()
        self.exact = exact
        #: counting events that passed the Arrow contract after failing a clean test
        self.fixed_events: Any = None
        #: whether aggregate() de-duplicated the events by key already
        self.deduplicated_already = False
        #: ``{rule index: grid step}`` of the rules whose level sums the last events
        #: aggregate holds packed (:func:`_packed_step`)
        self.packed: dict[int, float] = {}
        #: the rules whose positive terms the aggregate counts (``__h``): only in exact mode,
        #: where a term below the levels' finest step drops out of the sum; a plain sum of
        #: positive terms is positive whenever one of them is
        self.hits = plan._intent_hits if exact else frozenset()

    # -- events --------------------------------------------------------------------------------

    def _event_aggregates(self, frame: Any, *, count: bool = False, pack: bool = False) -> Any:
        """Per-lead sums, counts and newest times of counting events (``age`` computed);
        with *count*, ``__n`` counts each group's rows. With *pack* (exact mode), the level
        sums of the rules :func:`_packed_step` takes are one integer sum each, and ``__m``
        counts each lead's rows: the aggregate holds them exactly while no lead has more
        than :data:`_PACKED_EVENTS` (the caller checks, see :meth:`packed_fit`)."""
        pl = _pl()
        kind, age = pl.col("kind"), pl.col("age")
        aggs: list[Any] = [pl.len().alias("__n")] if count else []
        frame, decay = self._decays(frame)
        shared: dict[int, list[Any]] = {}
        self.packed = {}
        if self.exact:
            frame, shared = self._shared_levels(frame, decay, pack=pack)
        if self.packed:
            aggs.append(pl.len().alias("__m"))
        hits = self.hits
        for rule in self.plan.per_activity:
            mask = _is_kind(kind, rule.kinds)
            if rule.window is not None:
                mask = mask & (age <= rule.window)
            term = rule.points * decay[rule.rate]
            if rule.index in self.packed:  # both levels in one integer (see _packed_step)
                (level,) = shared[rule.index]
                aggs.append(pl.when(mask).then(level).otherwise(0).sum().alias(f"__s{rule.index}"))
            elif self.exact:  # the Arrow plan's levels, each an exact sum (any order)
                levels = shared[rule.index]
                for name, level in zip(_level_names(rule.index), levels, strict=True):
                    aggs.append(pl.when(mask).then(level).otherwise(0.0).sum().alias(name))
            else:
                aggs.append(pl.when(mask).then(term).otherwise(0.0).sum().alias(f"__s{rule.index}"))
            if self.plan.explain:
                aggs.append(mask.sum().cast(pl.Int64).alias(f"__n{rule.index}"))
            if rule.index in hits:  # positive terms (see ColumnarPlan._intent_hits)
                hit = mask & (term > 0.0)
                aggs.append(hit.sum().cast(pl.Int64).alias(f"__h{rule.index}"))
        for counter in self.plan.counters:
            mask = (
                kind.is_in(list(counter.kinds))
                if len(counter.kinds) > 1
                else kind == counter.kinds[0]
            )
            if counter.window is not None:
                mask = mask & (age <= counter.window)
            aggs.append(mask.sum().cast(pl.Int64).alias(f"__c{counter.index}"))
            # when/then, not filter: an elementwise input the streaming group-by reduces as
            # it goes (a filter inside the aggregation measured ~0.3 s CPU more at 15M events)
            aggs.append(pl.when(mask).then(pl.col("__us")).max().alias(f"__t{counter.index}"))
        return frame.group_by("lead_id").agg(*aggs)

    def _shared_levels(
        self, frame: Any, decay: dict[float, Any], *, pack: bool = False
    ) -> tuple[Any, dict[int, list[Any]]]:
        """*frame* with the exact levels (:func:`~leadflow.etl.plan._split_exact`) of the
        per-activity rules as columns, and ``{rule index: its levels}``; split
        once per group of rules on the same grid whose kinds do not overlap: each event's term
        is its own rule's (a rule's sums read only its kinds' rows), so the levels are that
        rule's to the bit, and a card of many rules splits each term a few times, not once
        per rule. With *pack*, a group whose grid :func:`_packed_step` takes has one column,
        the term as a whole number of the finer step (an Int64), as its rules' one level
        (recorded in :attr:`packed`)."""
        pl = _pl()
        groups: list[list[Any]] = []
        for rule in self.plan.per_activity:
            for group in groups:
                if _grid(group[0].points) == _grid(rule.points) and not any(
                    set(other.kinds) & set(rule.kinds) for other in group
                ):
                    group.append(rule)
                    break
            else:
                groups.append([rule])
        found: dict[int, list[Any]] = {}
        columns = []
        for number, group in enumerate(groups):
            *head, last = group
            term: Any = last.points * decay[last.rate]
            for rule in reversed(head):
                chosen = _is_kind(pl.col("kind"), rule.kinds)
                term = pl.when(chosen).then(rule.points * decay[rule.rate]).otherwise(term)
            frame = frame.with_columns(term.alias(f"__term{number}"))
            step = _packed_step(group[0].points) if pack else None
            if step is not None:
                scaled = pl.col(f"__term{number}") * (1.0 / step)  # a power of two: exact
                columns.append(_round_even(scaled).cast(pl.Int64).alias(f"__p{number}"))
                for rule in group:
                    found[rule.index] = [pl.col(f"__p{number}")]
                    self.packed[rule.index] = step
                continue
            levels = _split_exact(
                pl.col(f"__term{number}"),
                group[0].points,
                round_even=_round_even,
                clip=lambda values, bound: values.clip(-bound, bound),
            )
            names = [f"__l{number}_{k}" for k in range(len(levels))]
            columns += [level.alias(name) for level, name in zip(levels, names, strict=True)]
            for rule in group:
                found[rule.index] = [pl.col(name) for name in names]
        return frame.with_columns(*columns), found

    def packed_fit(self, aggregate: Any) -> bool:
        """Whether the events *aggregate* (collected) holds its packed sums exactly: no lead
        has more than :data:`_PACKED_EVENTS` counting events (else an Int64 sum might
        overflow; the caller aggregates again without *pack*)."""
        if not self.packed or aggregate.height == 0:
            return True
        return bool(aggregate.get_column("__m").max() <= _PACKED_EVENTS)

    def _decays(self, frame: Any) -> tuple[Any, dict[float, Any]]:
        """*frame* with each event's decay, and ``{rate: decay expression}``. When every kind
        decays at one rate (the usual card), one column holds each event's own decay -- one
        ``exp`` per event; otherwise one column per distinct rate."""
        pl = _pl()
        kind, age = pl.col("kind"), pl.col("age")
        rate_of: dict[str, set[float]] = {}
        for rule in self.plan.per_activity:
            for name in rule.kinds:
                rate_of.setdefault(name, set()).add(rule.rate)
        rates = sorted({r for found in rate_of.values() for r in found})
        if len(rates) <= 1 or any(len(found) > 1 for found in rate_of.values()):
            names = {rate: f"__d{i}" for i, rate in enumerate(rates)}
            columns = [self._exp(age * rate).alias(name) for rate, name in names.items()]
            return frame.with_columns(*columns), {r: pl.col(n) for r, n in names.items()}
        # the most common rate is the default; kinds at other rates are named
        by_rate: dict[float, list[str]] = {}
        for name, found in rate_of.items():
            by_rate.setdefault(next(iter(found)), []).append(name)
        common = max(by_rate, key=lambda r: len(by_rate[r]))
        chosen: Any = pl.lit(common)
        for rate, kinds in by_rate.items():
            if rate != common:
                which = kind == kinds[0] if len(kinds) == 1 else kind.is_in(sorted(kinds))
                chosen = pl.when(which).then(pl.lit(rate)).otherwise(chosen)
        frame = frame.with_columns(self._exp(age * chosen).alias("__d"))
        return frame, {rate: pl.col("__d") for rate in rates}

    def _exp(self, expr: Any) -> Any:
        """``exp`` of *expr*: polars' own, or in exact mode numpy's (the Arrow plan's sums are
        made of numpy's bits, which differ from the C library's in the last place)."""
        if not self.exact:
            return expr.exp()
        pl = _pl()
        return expr.map_batches(_numpy_exp, return_dtype=pl.Float64, is_elementwise=True)

    def _age(self, micros: Any) -> Any:
        """Ages in days of POSIX microseconds *micros* (an expression), as of the instant;
        in exact mode by the Arrow plan's own numpy function."""
        pl = _pl()
        if not self.exact:
            return (self.as_of_ts - micros.cast(pl.Float64) / 1e6) / _DAY
        return micros.map_batches(
            functools.partial(_numpy_age, self.as_of_ts),
            return_dtype=pl.Float64,
            is_elementwise=True,
        )

    def _card_kinds(self) -> Any:
        """Whether an event's ``kind`` is one the card reads (an expression: a filter the
        Parquet scan applies, on the file's dictionaries)."""
        pl = _pl()
        return pl.col("kind").cast(pl.String).is_in(list(self.plan.kinds))

    def _counting(self, frame: Any) -> Any:
        """Events a card can count (its kinds, at or before the instant), with ``age``: the
        kinds first (a filter the scan applies), then the instant."""
        pl = _pl()
        return self._aged(frame.filter(self._card_kinds())).filter(pl.col("age") >= 0.0)

    def _aged(self, frame: Any) -> Any:
        pl = _pl()
        us = pl.col("occurred_at").dt.epoch("us")
        if self.exact:
            return frame.with_columns(__us=us).with_columns(age=self._age(pl.col("__us")))
        return frame.with_columns(__us=us, age=(self.as_of_ts - us / 1e6) / _DAY)

    def aggregate(self, check: _Checked, sink: ErrorSink, keyed: bool) -> Any:
        """The events aggregate (a polars DataFrame), refused events to *sink*.

        One pass over the input: rows that are not clean are grouped under a null lead id
        (whose row of the aggregate counts them and is dropped), clean rows that count under
        their lead id; nothing else passes the filter.
        """
        pl = _pl()
        base = check.source.frame
        ok = check.clean
        kind = pl.col("kind").cast(pl.String)
        lead = pl.col("lead_id").cast(pl.String)
        # scan-level filter first (column tests only), then the instant
        if check.tests:  # rows that are not clean go to a null lead id, counted there
            rows = (
                self._aged(base.filter(self._card_kinds() | ~ok))
                .filter((pl.col("age") >= 0.0) | ~ok)
                .with_columns(pl.when(ok).then(lead).alias("lead_id"))
            )
        else:  # every row is clean (the statistics and dictionaries say so): no test at all
            rows = self._counting(base).with_columns(lead.alias("lead_id"))
        rows = rows.select(
            kind.alias("kind"), "age", *(["__us"] if self.plan.counters else []), "lead_id"
        )
        agg = self._event_aggregates(rows, count=bool(check.tests)).collect(engine="streaming")
        fixed = None
        if check.tests:
            suspects = agg.filter(pl.col("lead_id").is_null())
            agg = agg.filter(pl.col("lead_id").is_not_null()).drop("__n")
            if suspects.height and suspects.get_column("__n").item():
                numbered = base.with_row_index(ROW).filter(~ok)
                fixed = check.suspects(numbered, sink, "events")
        more = None if fixed is None else self._counting(fixed.lazy()).collect()
        self.fixed_events = more if more is not None and more.height else None
        if keyed and self.fixed_events is not None:
            self.deduplicated_already = True
            once = self.deduplicated(check)
            if once is not None:
                return once
        if more is not None and more.height:
            extra = self._event_aggregates(more.lazy()).collect()
            agg = self._combine(pl.concat([agg, extra], how="vertical_relaxed"))
        return agg

    def deduplicated(self, check: _Checked) -> Any:
        """The events aggregate counting a repeated (id, lead_id) once, the first -- the
        clean counting rows and the normalised suspects in row order -- or ``None`` when no
        event that counts repeats another's key (the aggregate without the check stands)."""
        pl = _pl()
        more = self.fixed_events
        numbered = self._counting(
            check.source.frame.with_row_index(ROW)
            .filter(check.clean)
            .select(*check.values, pl.col(ROW))
        )
        suspects = [more.lazy()] if more is not None else []
        parts = [numbered, *suspects]
        # hashed: the clean rows of the card's kinds, whatever their time (the kind test
        # is the scan's; an instant and its age are not computed for this pass)
        key = [v for v in check.values if v.meta.output_name() in ("lead_id", "id")]
        clean = check.source.frame.filter(check.clean).filter(self._card_kinds()).select(*key)
        keys = [clean, *suspects]
        near = _repeated_keys(parts, keys)  # the rows whose key may repeat, in row order
        hidden = None if near is None else near.filter(~_first_of_key()).get_column(ROW)
        if hidden is None or hidden.is_empty():
            return None
        rows = pl.concat(parts, how="vertical_relaxed")
        rows = rows.filter(~pl.col(ROW).is_in(hidden.implode()))
        return self._event_aggregates(rows).collect(engine="streaming")

    def _combine(self, frame: Any) -> Any:
        pl = _pl()
        aggs = []
        for name in frame.columns[1:]:
            aggs.append(pl.col(name).max() if name.startswith("__t") else pl.col(name).sum())
        return frame.group_by("lead_id").agg(*aggs)

    # -- leads ---------------------------------------------------------------------------------

    def leads(self, check: _Checked, carry: tuple[str, ...] = ()) -> Any:
        """The leads as a lazy query: the columns the card reads, ``__i`` (the row number) and
        ``__ok`` (the row passed its clean tests; the others are set aside after scoring);
        each column of *carry* also as ``__carry.<name>``."""
        wanted = [name for name, _ in self.plan.lead_columns]
        values = [v for v in check.values if v.meta.output_name() in wanted]
        carried = [
            v.alias(f"{_CARRY}{v.meta.output_name()}")
            for v in check.values
            if v.meta.output_name() in carry
        ]
        return check.source.frame.with_row_index("__i").select(
            *values, *carried, "__i", check.clean.alias("__ok")
        )

    def fixed_leads(self, check: _Checked, sink: ErrorSink, carry: tuple[str, ...] = ()) -> Any:
        """The leads that failed a clean test, through the Arrow contract (refused ones to
        *sink*): the good ones normalised, as :meth:`leads` gives them, or ``None``."""
        pl = _pl()
        numbered = check.source.frame.with_row_index(ROW).filter(~check.clean)
        fixed = check.suspects(numbered, sink, "leads")
        if fixed is None or fixed.height == 0:
            return None
        wanted = [name for name, _ in self.plan.lead_columns]
        return fixed.select(
            *wanted,
            *[pl.col(name).alias(f"{_CARRY}{name}") for name in carry],
            pl.col(ROW).cast(pl.UInt32).alias("__i"),
            pl.lit(True).alias("__ok"),
        )

    # -- scoring -------------------------------------------------------------------------------

    def score(
        self,
        leads: Any,
        aggregate: Any,
        accounts: Any,
        *,
        plain: frozenset[str],
        known: Any = None,
        carry: tuple[str, ...] = (),
    ) -> Any:
        """Scores of the *leads* query (with ``__i`` and ``__ok``), unordered, keeping those
        two columns. *plain* names columns of ASCII text without line breaks; *known* gives a
        superset of a column's distinct values when that is cheap (see :class:`_Fields`);
        the ``__carry.<name>`` columns of *carry* are kept too."""
        pl = _pl()
        # joins that keep no order (cheaper by half); the caller sorts by row once
        leads = leads.lazy()
        frame = leads.join(aggregate.lazy(), left_on="id", right_on="lead_id", how="left")
        sources = [leads]
        if accounts is not None and "account_id" in leads.collect_schema().names():
            frame = frame.join(accounts.lazy(), on="account_id", how="left")
            sources.append(accounts.lazy())
        fields = _Fields(frame, sources, plain, known)
        n_rules = len(self.plan.card.rules)
        exprs: dict[str, Any] = {}
        zero = pl.lit(0.0)
        totals = {"fit": zero, "behaviour": zero, "interest": zero, "intent": zero}
        total = zero
        has_intent = pl.lit(False)
        explained = []
        for index in range(n_rules):
            rule = self.plan.card.rules[index]
            applies, points = self._rule(index, fields)
            value = pl.when(applies).then(points).otherwise(0.0)
            exprs[f"__v{index}"] = value
            v = pl.col(f"__v{index}")
            total = total + v
            if rule.category is Category.FIT:
                totals["fit"] = totals["fit"] + v
            else:
                totals["behaviour"] = totals["behaviour"] + v
            if rule.signal is Signal.INTEREST:
                totals["interest"] = totals["interest"] + v
            elif rule.signal is Signal.INTENT:
                totals["intent"] = totals["intent"] + v
                if index in self.hits:
                    shown = pl.col(f"__h{index}").fill_null(0) > 0
                    if rule.when is not None:
                        shown = shown & self._evidence(rule.when, fields)[0]
                else:
                    shown = applies & _at_least(points, 0.0, strict=True)
                has_intent = has_intent | shown
            if self.plan.explain:
                explained.append(
                    pl.when(applies).then(points).otherwise(None).alias(f"rule_{rule.id}")
                )
        t = self.plan.card.thresholds
        staged = frame.lazy().with_columns(
            *[v.cast(pl.Float64).alias(k) for k, v in exprs.items()],
            *explained,
            has_intent.alias("__intent"),
        )
        sql_ready = _at_least(total, t.sql_ready)
        if t.sql_ready_requires_intent:
            sql_ready = sql_ready & pl.col("__intent")
        recommendation = (
            pl.when(sql_ready)
            .then(pl.lit("sql_ready"))
            .when(_at_least(total, t.mql))
            .then(pl.lit("mql"))
            .otherwise(pl.lit("nurture"))
        )
        out = staged.select(
            pl.col("id"),
            self._sum(total).alias("score"),
            *[self._sum(totals[name]).alias(name) for name in _SUBTOTALS],
            recommendation.alias("recommendation"),
            *[pl.col(f"rule_{r.id}") for r in self.plan.card.rules if self.plan.explain],
            *[pl.col(f"{_CARRY}{name}") for name in carry],
            pl.col("__i"),
            pl.col("__ok"),
        )
        return out.collect()

    def _sum(self, expr: Any) -> Any:
        """A total (a sum from 0.0, rule by rule) as a Float64; in exact mode never -0.0: the
        Arrow plan's running sum starts at +0.0, so it never is, where polars may take
        ``0.0 + x`` for ``x`` (a rule of -0.0 points then totals -0.0)."""
        pl = _pl()
        expr = expr.cast(pl.Float64)
        return pl.when(expr == 0.0).then(0.0).otherwise(expr) if self.exact else expr

    def _rule(self, index: int, fields: _Fields) -> tuple[Any, Any]:
        pl = _pl()
        rule = self.plan.card.rules[index]
        if rule.category is Category.FIT:
            assert rule.when is not None
            holds, _ = self._evidence(rule.when, fields)
            return holds, pl.lit(_clamp_scalar(rule.points, rule.cap))
        half_life = (
            rule.half_life_days
            if rule.half_life_days is not None
            else self.plan.card.half_life_days
        )
        rate = -_LN2 / half_life
        if rule.activities:
            spec = next(r for r in self.plan.per_activity if r.index == index)
            if spec.index in self.packed:  # the exact sum of both levels, rounded once
                whole = pl.col(f"__s{spec.index}").fill_null(0).cast(pl.Float64)
                total = whole * self.packed[spec.index]
            elif self.exact:  # the exact level sums, added in the Arrow plan's fixed order
                first, *rest = (pl.col(n).fill_null(0.0) for n in _level_names(spec.index))
                total = first
                for level in rest:
                    total = total + level
            else:
                total = pl.col(f"__s{spec.index}").fill_null(0.0)
            if self.plan.explain:
                applies = pl.col(f"__n{spec.index}").fill_null(0) > 0
            else:
                applies = total != 0.0
            if rule.when is not None:
                gate, _ = self._evidence(rule.when, fields)
                applies = applies & gate
            return applies, _clamp(total, rule.cap)
        assert rule.when is not None
        holds, newest = self._evidence(rule.when, fields)
        applies = holds & newest.is_finite()
        safe_age = pl.when(applies).then(newest).otherwise(0.0)
        # exp: polars' and Arrow's (the Arrow plan's here) are both the C library's
        return applies, _clamp(rule.points * (safe_age * rate).exp(), rule.cap)

    def _evidence(self, condition: Condition, fields: _Fields) -> tuple[Any, Any]:
        """(holds, age in days of the newest evidence or +inf), as :mod:`leadflow.etl.plan`."""
        pl = _pl()
        inf = pl.lit(math.inf)
        if isinstance(condition, ActivityCount):
            counter = next(
                c
                for c in self.plan.counters
                if c.kinds == condition.kinds and c.window == condition.within_days
            )
            holds = pl.col(f"__c{counter.index}").fill_null(0) >= condition.at_least
            age = self._age(pl.col(f"__t{counter.index}"))
            return holds, pl.when(holds).then(age.fill_null(math.inf)).otherwise(inf)
        if isinstance(condition, AllOf | AnyOf):
            parts = [self._evidence(c, fields) for c in condition.conditions]
            holds = parts[0][0]
            for part_holds, _ in parts[1:]:
                holds = (holds & part_holds) if isinstance(condition, AllOf) else holds | part_holds
            newest = inf
            for part_holds, part_age in parts:
                candidate = (
                    part_age
                    if isinstance(condition, AllOf)
                    else pl.when(part_holds).then(part_age).otherwise(inf)
                )
                newest = pl.min_horizontal(newest, candidate)
            return holds, newest
        if isinstance(condition, Not):
            inner, _ = self._evidence(condition.condition, fields)
            return ~inner, inf
        return fields.test(condition), inf


#: Counting events of one lead that packed level sums hold (:func:`_packed_step`): each term is
#: at most 2**53 steps, so an Int64 sum of 1,023 of them cannot overflow.
_PACKED_EVENTS = 1023


def _packed_step(points: float) -> float | None:
    """The finer grid step of a rule of *points* when its two exact levels
    (:func:`~leadflow.etl.plan._split_exact`) can be summed as one integer, else ``None``.

    With two levels and an unclamped grid, the steps are ``s0 = 2**27 * s1`` and a term ``t``
    (at most ``|points| < 2**53 * s1``) splits into ``q0 * s0 + q1 * s1`` with ``q0 =
    round(t / s0)`` and ``q1 = round(t / s1 - q0 * 2**27)`` (every step exact: powers of two,
    and ``t - q0 * s0`` is a float). Rounding ties to even commutes with subtracting the even
    integer ``q0 * 2**27``, so ``q0 * 2**27 + q1 = round(t / s1)``: one integer of at most
    2**53 per term. A lead's two level sums ``S0 + S1`` are then exactly ``P * s1`` with ``P``
    the Int64 sum of those integers (exact up to :data:`_PACKED_EVENTS` terms), and the
    Arrow plan's total ``fl(S0 + S1)`` is ``fl(P) * s1``: both round the same real number
    once, and a power of two scales without rounding while ``P * s1`` stays a normal float
    (the grids this takes: from ``2**-1022`` to ``2**63 * s1 < 2**1024``). Half the
    aggregate columns, and no second level per term (measured ~0.4 s less CPU for the events
    query at 15M events)."""
    grid = _grid(points)
    if not points or _LEVELS != 2 or grid[0] - grid[1] != _GAIN:
        return None  # zero points, or a grid clamped at the smallest subnormal
    if not -1022 <= grid[1] <= 1023 - 63:
        return None
    return math.ldexp(1.0, grid[1])


def _is_kind(kind: Any, kinds: tuple[str, ...]) -> Any:
    """Whether *kind* (an expression) is one of *kinds*."""
    return kind.is_in(list(kinds)) if len(kinds) > 1 else kind == kinds[0]


def _numpy_age(as_of_ts: float, micros: Any) -> Any:
    """:func:`leadflow.etl.plan._age_days` over a polars Series (nulls stay null)."""
    pl = _pl()
    values = micros.cast(pl.Float64).to_numpy()
    return pl.Series(micros.name, _age_days(values, as_of_ts), nan_to_null=True)


def _numpy_exp(values: Any) -> Any:
    """numpy's ``exp`` over a polars Series (nulls stay null)."""
    pl = _pl()
    return pl.Series(values.name, np.exp(values.to_numpy()), nan_to_null=True)


def _round_even(expr: Any) -> Any:
    """To a whole number, ties to even, as ``np.round`` (for :func:`_split_exact`)."""
    return expr.round(0, mode="half_to_even")


def _clamp(values: Any, cap: float | None) -> Any:
    """*values* within ``[-cap, cap]``, NaN to ``cap`` as the Arrow plan's
    ``max_element_wise(min_element_wise(values, cap), -cap)`` (Arrow's element-wise minimum
    and maximum pass over NaN; polars' ``clip`` keeps it)."""
    if cap is None:
        return values
    return _pl().when(values.is_nan()).then(cap).otherwise(values.clip(-cap, cap))


def _at_least(values: Any, bound: float, *, strict: bool = False) -> Any:
    """``values >= bound`` (``>`` with *strict*), false for NaN as in Arrow (and Python):
    polars orders NaN above every number, so its own comparison would be true."""
    found = values > bound if strict else values >= bound
    return found & values.is_not_nan()


class _Fields:
    """Field conditions over the joined leads (a LazyFrame), read as the Arrow plan reads them.

    *sources* are the DataFrames joined (leads, accounts): a condition judged once per distinct
    value reads the distinct values of the one that holds its column, without the join.
    *plain* names columns known to hold only ASCII text without line breaks.
    """

    def __init__(
        self, frame: Any, sources: list[Any], plain: frozenset[str], known: Any = None
    ) -> None:
        self.frame = frame
        self.sources = sources
        self.plain = plain
        self.known = known
        self.columns = set(frame.collect_schema().names())
        self._seen: dict[str, Any] = {}

    def field(self, field: str) -> Any:
        pl = _pl()
        if field == "email_domain":
            email = self.field("email")  # checked: exactly one "@"
            return email.str.slice(email.str.find("@", literal=True) + 1)
        if field == "full_name":
            first, last = self.field("first_name"), self.field("last_name")
            both = first + pl.lit(" ") + last
            return pl.coalesce(both, first, last)
        if field.startswith("account.properties."):
            return self._named(f"account.{field[len('account.properties.') :]}")
        if field.startswith("properties."):
            return self._named(field[len("properties.") :])
        return self._named(field)

    def _named(self, name: str) -> Any:
        pl = _pl()
        if name in self.columns:
            return pl.col(name)
        return pl.lit(None, dtype=pl.String)

    def _dtype(self, expr: Any) -> Any:
        return self.frame.select(expr).collect_schema().dtypes()[0]

    def _distinct(self, expr: Any) -> Any:
        """The distinct non-null values of *expr*, from the smallest frame that has them."""
        pl = _pl()
        key = str(expr)
        if key not in self._seen:
            roots = set(expr.meta.root_names())
            values = None
            if self.known is not None and expr.meta.is_column() and len(roots) == 1:
                values = self.known(next(iter(roots)))  # from the file's dictionaries
            if values is not None:
                self._seen[key] = pl.Series(values, dtype=pl.String)
            else:
                frame = next(
                    (f for f in self.sources if roots <= set(f.collect_schema().names())),
                    self.frame,
                )
                query = frame.select(expr.unique().drop_nulls())
                self._seen[key] = query.collect().to_series()
        return self._seen[key]

    def _per_value(self, expr: Any, test: Any) -> Any:
        """*test* once per distinct non-null value, spread back over the rows (null: False)."""
        pl = _pl()
        distinct = self._distinct(expr)
        hits = [v for v in distinct.to_list() if test(v)]
        if not hits:
            return pl.lit(False)
        return expr.is_in(pl.Series(hits, dtype=distinct.dtype).implode()).fill_null(False)

    def test(self, condition: Condition) -> Any:
        pl = _pl()
        if isinstance(condition, FreeMailDomain):
            domains = (
                FREE_MAIL_DOMAINS if condition.domains is None else frozenset(condition.domains)
            )
            return self.field("email_domain").is_in(sorted(domains)).fill_null(False)
        if isinstance(condition, Missing):
            return self.field(condition.field).is_null()
        if isinstance(condition, Present):
            return self.field(condition.field).is_not_null()
        if not isinstance(condition, Equals | OneOf | Range | Regex | TitleKeywords):
            raise TypeError(f"not a field condition: {condition!r}")  # pragma: no cover
        values = self.field(condition.field)
        if isinstance(condition, Equals | OneOf):
            wanted = (
                {comparable(condition.value)}
                if isinstance(condition, Equals)
                else {comparable(v) for v in condition.values}
            )
            return self._per_value(values, lambda v: comparable(v) in wanted)
        if isinstance(condition, Range):
            dtype = self._dtype(values)
            if not dtype.is_numeric() or dtype.is_decimal():
                return pl.lit(False)
            hit = pl.lit(True)
            if condition.min is not None:
                hit = hit & (values >= condition.min)
            if condition.max is not None:
                hit = hit & (values <= condition.max)
            return hit.fill_null(False)
        from leadflow.etl.plan import _re2_safe

        text = self._dtype(values) == pl.String
        if isinstance(condition, Regex) and text and _re2_safe(condition.pattern):
            fast = values.str.contains(condition.pattern).fill_null(False)
            if condition.field in self.plain:
                return fast
            search = re.compile(condition.pattern).search
            usual = values.str.len_bytes() == values.str.len_chars()
            usual = usual & ~values.str.contains("\n", literal=True)
            slow = self._per_value(
                pl.when(usual).then(None).otherwise(values), lambda v: search(v) is not None
            )
            return pl.when(usual.fill_null(True)).then(fast).otherwise(slow)
        search = (
            re.compile(condition.pattern).search
            if isinstance(condition, Regex)
            else condition.pattern().search
        )
        return self._per_value(
            values, lambda v: search(v if isinstance(v, str) else str(v)) is not None
        )


def _rising(frame: Any, name: str) -> bool:
    """Whether column *name* of *frame* is strictly increasing, so that no value repeats: each
    value compared with the one before it, no hashing; read in the scan's own batches
    (bounded memory, nothing re-chunked)."""
    pl = _pl()
    value = pl.col(name).cast(pl.String)
    previous: Any = None
    for batch in frame.select(value.alias(name)).collect_batches():
        if batch.height == 0:
            continue
        found = batch.select(
            rising=(value > value.shift(1)).all(),
            nulls=value.null_count(),
            first=value.first(),
            last=value.last(),
        ).row(0, named=True)
        if found["nulls"] or found["rising"] is False:
            return False
        if previous is not None and not found["first"] > previous:
            return False
        previous = found["last"]
    return True


def _key_hash() -> Any:
    """64 bits of an event's key (``lead_id``, ``id``): equal keys give equal hashes (the
    two columns' hashes under different seeds, combined)."""
    pl = _pl()
    lead = pl.col("lead_id").cast(pl.String).hash(seed=1)
    return lead ^ pl.col("id").cast(pl.String).hash(seed=2)


def _repeated_keys(parts: list[Any], keys: list[Any] | None = None) -> Any:
    """The rows of *parts* (lazy frames with ``lead_id``, ``id`` and the row number), in row
    order, whose key may repeat another row's -- every repeat and its first copy, and the
    rare rows whose key only shares a 64-bit hash (:func:`_key_hash`) with another's -- or
    ``None`` when no key repeats. *keys*, when given, are cheaper frames whose rows include
    those of *parts* (the same values): the hashes are taken from them.

    The keys' hashes are sorted and compared with their neighbours: no hash table of the
    keys' strings (at 15M events 1.3 s of CPU, against 6.4 s for keeping the first row of each
    key by the strings; docs/etl.md), and only the rows of a hash seen twice are read
    again, whole, to be compared by key."""
    pl = _pl()
    hashes = pl.concat([frame.select(_key_hash().alias("__h")) for frame in keys or parts])
    ordered = hashes.collect().to_series().sort()
    if ordered.len() < 2:
        return None
    same = ordered.slice(1) == ordered.slice(0, ordered.len() - 1)
    twice = ordered.slice(1).filter(same).unique()
    del ordered, same
    if twice.is_empty():
        return None
    again = [part.filter(_key_hash().is_in(twice.implode())) for part in parts]
    return pl.concat(again, how="vertical_relaxed").collect().sort(ROW)


def _first_of_key() -> Any:
    """True for a row whose (``lead_id``, ``id``) no earlier row has (rows in row order)."""
    pl = _pl()
    return pl.struct(pl.col("lead_id"), pl.col("id")).is_first_distinct()
