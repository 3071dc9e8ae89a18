"""The input contract: raw Arrow columns in, validated rows and refused rows out.

Scope: the one step every engine sits behind (columnar plans, the file pipeline, Spark, a
compiled SQL query): it knows nothing about scorecards. A raw batch is checked against the
whole record type it holds -- :data:`LEAD`, :data:`ACTIVITY`, :data:`TOUCH` or :data:`ACCOUNT`
-- by the rules of :meth:`leadflow.Lead.from_record` and the attrs validators behind it,
whichever columns a plan goes on to read:

* numbers by :data:`leadflow._validate.NUMBER_PATTERN` (no thousands separators: ``"1,5"`` and
  ``"5,000,000,00"`` are refused, not guessed at), finite only (``NaN``/``inf`` refused, in text
  or in a float column), whole numbers for integer fields, ranges (a negative head count or
  revenue is refused even when the scorecard never reads it);
* timestamps in any ISO-8601 form :func:`dateutil.parser.isoparse` reads, with any fractional
  precision (nanoseconds are truncated to microseconds, as ``isoparse`` does), and an offset:
  naive ones are refused;
* identifiers non-blank and kept verbatim, other strings stripped (blank means missing),
  e-mails normalised and checked, activity kinds snake_case, touch kinds and outcomes members
  of :class:`~leadflow.model.TouchKind` / :class:`~leadflow.model.TouchOutcome`.

Every refused row goes to an :class:`ErrorSink` once, with its row number, the field, the
value and why; good rows carry on. :func:`resolve_columns` maps a file's header onto these
names (exactly, then case-insensitively when unambiguous, or through an explicit mapping),
and names a missing column with a did-you-mean. :class:`KeyFilter` refuses duplicate keys
(the first row kept).

>>> import pyarrow as pa
>>> sink = ErrorSink(None)
>>> raw = pa.record_batch({"id": ["L-1", "L-2", "L-3", "L-4"],
...     "created_at": ["2026-03-02T09:00:00.123456789Z", "2026-03-02T09:00:00",
...                    "2026-03-02 10:00+01:00", "2026-03-02T09:00:00Z"],
...     "employees": ["250", "12", "1,5", "-4"]})
>>> good = validate(raw, LEAD, source="leads.csv", errors=sink)
>>> good.column("id").to_pylist(), good.column("employees").to_pylist()
(['L-1'], [250])
>>> [(e.row, e.field, e.value) for e in sink.errors]
[(1, 'created_at', '2026-03-02T09:00:00'), (2, 'employees', '1,5'), (3, 'employees', '-4')]
"""

from __future__ import annotations

import csv
import difflib
import os
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dateutil.parser import isoparse

from leadflow._validate import _EMAIL, _IDENTIFIER, NUMBER_PATTERN
from leadflow.errors import ConfigError, ValidationError
from leadflow.model import TouchKind, TouchOutcome

__all__ = [
    "ACCOUNT",
    "ACTIVITY",
    "LEAD",
    "TOUCH",
    "Entity",
    "ErrorSink",
    "KeyFilter",
    "RowError",
    "conform",
    "resolve_columns",
    "validate",
]

_TS = pa.timestamp("us", tz="UTC")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Numeric fields that the domain model refuses when negative.
_NON_NEGATIVE = frozenset({"annual_revenue", "employees"})
#: String fields that the domain model keeps verbatim (no stripping): identifiers.
_VERBATIM = frozenset({"id", "lead_id"})


@attrs.frozen(kw_only=True)
class Entity:
    """One record type's columns as the contract checks them.

    ``fields`` maps each column the record type knows to its Arrow type; ``required`` must be
    present and non-blank; ``key`` is the column that names the row in the errors file;
    ``enums`` lists the allowed values of enumerated columns.
    """

    name: str
    fields: tuple[tuple[str, pa.DataType], ...]
    required: frozenset[str]
    key: str
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def types(self) -> dict[str, pa.DataType]:
        """``fields`` as a dict."""
        return dict(self.fields)


def _s(*names: str) -> tuple[tuple[str, pa.DataType], ...]:
    return tuple((name, pa.string()) for name in names)


#: :class:`leadflow.Lead` (``properties`` are any other columns, ``history`` is not read).
LEAD = Entity(
    name="lead",
    fields=(
        ("id", pa.string()),
        ("created_at", _TS),
        *_s("email", "first_name", "last_name", "title", "company", "industry"),
        ("annual_revenue", pa.float64()),
        ("employees", pa.int64()),
        *_s("country", "source", "campaign", "owner_id", "account_id"),
        ("handed_off_at", _TS),
        ("stage", pa.string()),
    ),
    required=frozenset({"id", "created_at"}),
    key="id",
)
#: :class:`leadflow.Activity`. Its ``id`` is optional in a file (without it, duplicate events
#: cannot be told apart); when the column is there, it must not be blank.
ACTIVITY = Entity(
    name="activity",
    fields=(
        *_s("id", "lead_id", "kind"),
        ("occurred_at", _TS),
        *_s("account_id", "channel", "campaign", "content"),
    ),
    required=frozenset({"lead_id", "kind", "occurred_at"}),
    key="lead_id",
)
#: :class:`leadflow.Touch` (``outcome`` absent or blank means ``attempted``).
TOUCH = Entity(
    name="touch",
    fields=(*_s("id", "lead_id", "kind"), ("at", _TS), *_s("by", "outcome", "subject")),
    required=frozenset({"id", "lead_id", "kind", "at", "by"}),
    key="lead_id",
    enums=(
        ("kind", tuple(k.value for k in TouchKind)),
        ("outcome", tuple(o.value for o in TouchOutcome)),
    ),
)
#: :class:`leadflow.Account`.
ACCOUNT = Entity(
    name="account",
    fields=(
        *_s("id", "name", "domain", "industry"),
        ("annual_revenue", pa.float64()),
        ("employees", pa.int64()),
        *_s("country", "owner_id"),
        ("created_at", _TS),
    ),
    required=frozenset({"id", "name"}),
    key="id",
)


# -- refused rows -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RowError:
    """One refused input row: where it was, which field, which value, and why.

    ``row`` counts data rows from 0 in the input file (a CSV line that could not be parsed
    counts too); ``field`` is ``"(line)"`` for such a line, whose text is the ``value``.
    """

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
    0 in the input file. Rows refused for a duplicate key are found late (a partition at a
    time), so they are held back (:meth:`defer`) and written at :meth:`close` in file order:
    the errors file is then the same whatever the partitioning. Every row is flushed as it is
    written, so a job that stops later leaves a complete errors file behind. Use it as a
    context manager to close the file.
    """

    FIELDS = ("source", "row", "id", "field", "value", "reason")

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.errors: list[RowError] = []
        self.count = 0
        #: CSV lines that could not be parsed (also in ``count``).
        self.lines = 0
        self._deferred: list[RowError] = []
        self._handle = None if path is None else open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = None if self._handle is None else csv.writer(self._handle)
        if self._writer is not None:
            self._writer.writerow(self.FIELDS)

    def add(self, error: RowError) -> None:
        """Record one refused row."""
        self.count += 1
        if error.field == "(line)":
            self.lines += 1
        if self._writer is None:
            self.errors.append(error)
        else:
            self._writer.writerow(
                [error.source, error.row, error.id, error.field, error.value, error.reason]
            )

    def defer(self, error: RowError) -> None:
        """Record one refused row, written in (source, row) order at :meth:`close`."""
        self._deferred.append(error)

    @property
    def refused(self) -> int:
        """Rows refused so far, deferred ones included."""
        return self.count + len(self._deferred)

    def flush(self) -> None:
        """Write the deferred rows (in file order) and flush the file."""
        deferred, self._deferred = self._deferred, []
        for error in sorted(deferred, key=lambda e: (e.source, e.row)):
            self.add(error)
        if self._handle is not None and not self._handle.closed:
            self._handle.flush()

    def close(self) -> None:
        """Write what is deferred, then flush and close the file, if any."""
        if self._handle is not None and not self._handle.closed:
            self.flush()
            self._handle.close()
        elif self._handle is None:
            self.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- columns ------------------------------------------------------------------------------------


def resolve_columns(
    available: Iterable[str],
    wanted: Iterable[str],
    *,
    must: Collection[str] = (),
    mapping: Mapping[str, str] | None = None,
    source: str,
    why: str = "",
) -> dict[str, str]:
    """``{file column: contract name}`` for each of *wanted* found among *available*.

    A name matches exactly, else case-insensitively when only one column matches; *mapping*
    (``{"title": "job_title"}``, from ``--columns title=job_title``) names the file column for
    a contract name explicitly. A name in *must* that is not found raises
    :class:`~leadflow.errors.ConfigError` naming it, with the closest file column as a
    did-you-mean; *why* says who reads it ("read by the scorecard").

    >>> resolve_columns(["ID", "Created_At", "job_title"], ["id", "created_at", "title"],
    ...                 must=["id"], mapping={"title": "job_title"}, source="leads.csv")
    {'ID': 'id', 'Created_At': 'created_at', 'job_title': 'title'}
    >>> resolve_columns(["id", "job_title"], ["title"], must=["title"], source="leads.csv",
    ...                 why=" (read by the scorecard)")
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: leads.csv: missing column 'title' (read by the scorecard); did you mean 'job_title'? (map it with --columns title=job_title)
    """
    header = list(available)
    folded: dict[str, list[str]] = {}
    for name in header:
        folded.setdefault(name.casefold(), []).append(name)
    mapping = dict(mapping or {})
    found: dict[str, str] = {}
    for name in dict.fromkeys(wanted):
        column: str | None = None
        if name in mapping:
            target = mapping[name]
            column = _match(target, header, folded, source)
            if column is None:
                raise ConfigError(
                    source,
                    f"--columns {name}={target}: no column {target!r}"
                    + _did_you_mean(target, header, mapped=None),
                )
        elif name not in mapping.values():
            column = _match(name, header, folded, source)
        if column is None:
            if name in must:
                raise ConfigError(
                    source, f"missing column {name!r}{why}" + _did_you_mean(name, header, name)
                )
            continue
        if column in found:
            raise ConfigError(
                source, f"column {column!r} would be both {found[column]!r} and {name!r}"
            )
        found[column] = name
    return found


def _match(name: str, header: list[str], folded: dict[str, list[str]], source: str) -> str | None:
    if name in header:
        return name
    matches = folded.get(name.casefold(), [])
    if len(matches) > 1:
        raise ConfigError(
            source,
            f"column {name!r} matches {', '.join(map(repr, matches))} ignoring case; "
            f"name one with --columns {name}=<column>",
        )
    return matches[0] if matches else None


def _did_you_mean(name: str, header: list[str], mapped: str | None) -> str:
    lowered = {h.casefold(): h for h in header}
    close = difflib.get_close_matches(name.casefold(), list(lowered), n=1, cutoff=0.5)
    if not close:
        contains = [h for h in header if name.casefold() in h.casefold()]
        close = [contains[0].casefold()] if contains else []
    if not close:
        return f"; the file has {', '.join(map(repr, header[:12]))}"
    guess = lowered[close[0]]
    hint = "" if mapped is None else f" (map it with --columns {mapped}={guess})"
    return f"; did you mean {guess!r}?{hint}"


# -- duplicates ---------------------------------------------------------------------------------


class KeyFilter:
    """Refuses rows whose key was seen before (in this filter's life): the first row is kept.

    Memory is one Python string per distinct key. Use one filter per input (or per partition,
    when the input is partitioned by that key).
    """

    def __init__(self, key: str, *, reason: str = "duplicates an earlier row's id") -> None:
        self.key = key
        self.reason = reason
        self._seen: set[str] = set()

    def keep(self, table: pa.Table | pa.RecordBatch, rows: Any) -> tuple[np.ndarray, list[int]]:
        """``(mask of rows to keep, positions of the refused ones)``.

        *rows* are the rows' numbers in the input: the first of equal keys is the one with the
        lowest number. Work is vectorised: the batch's keys are hashed once by Arrow, and only
        its distinct keys meet the Python set.
        """
        n = table.num_rows
        keep = np.ones(n, dtype=bool)
        if n == 0:
            return keep, []
        numbers = np.asarray(rows)
        order = np.argsort(numbers, kind="stable")
        column = table.column(self.key)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        keys = column.take(pa.array(order))
        encoded = pc.dictionary_encode(keys)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        _, first = np.unique(codes, return_index=True)
        repeated = np.ones(n, dtype=bool)
        repeated[first] = False  # in input order: later copies within the batch
        distinct = encoded.dictionary.to_pylist()
        clash = self._seen.intersection(distinct)
        if clash:  # seen in an earlier batch: every copy here goes
            repeated |= pc.is_in(keys, value_set=pa.array(sorted(clash))).to_numpy(
                zero_copy_only=False
            )
        self._seen.update(distinct)
        dropped = np.sort(order[repeated])
        keep[dropped] = False
        return keep, dropped.tolist()


# -- validating ---------------------------------------------------------------------------------


def validate(
    batch: pa.RecordBatch | pa.Table,
    entity: Entity,
    *,
    needed: Mapping[str, pa.DataType | None] | None = None,
    source: str,
    errors: ErrorSink,
    rows: Any = None,
    row_offset: int = 0,
) -> pa.RecordBatch:
    """Check *batch* (columns already named as the contract names them) against *entity*.

    Every column of *entity* present in *batch* is typed and checked, whether or not a plan
    reads it; *needed* adds columns a plan reads (a ``None`` type: a custom property, kept as
    it is), filled with nulls when absent. Returns the good rows with the *needed* columns
    first, then the other checked ones; a ``__row`` column holds each row's number (from
    *rows*, else counted from *row_offset*). Refused rows go to *errors*.
    """
    if isinstance(batch, pa.Table):
        batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else _empty_batch(batch)
    names = batch.schema.names
    columns: dict[str, pa.DataType | None] = dict(needed or {})
    for name, kind in entity.fields:
        if name in names or name in entity.required:
            columns.setdefault(name, kind)
        elif name in columns and columns[name] is None:
            columns[name] = kind
    numbers = (
        np.arange(row_offset, row_offset + batch.num_rows, dtype=np.int64)
        if rows is None
        else np.asarray(rows, dtype=np.int64)
    )
    good = conform(
        batch,
        columns,
        required=entity.required | ({"id"} if entity is ACTIVITY and "id" in names else set()),
        source=source,
        row_offset=row_offset,
        errors=errors,
        id_column=entity.key,
        rows=numbers,
        enums=dict(entity.enums),
        identifiers=("kind",) if entity is ACTIVITY else (),
    )
    return good


def _empty_batch(table: pa.Table) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([], type=f.type) for f in table.schema], schema=table.schema
    )


ROW = "__row"

_TS_FAST = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})$"
).pattern


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


def _cast_timestamps(arr: pa.Array) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Text to UTC microseconds: the common shapes through Arrow, the rest through ``isoparse``
    once per distinct value (so both paths accept exactly what the per-record path does)."""
    # isoparse keeps the first six fractional digits; so do we (nanoseconds are truncated).
    work = pc.replace_substring_regex(arr, r"([.,]\d{6})\d+", r"\1")
    work = pc.replace_substring_regex(work, r"^(.{19}),", r"\1.")
    fast = pc.fill_null(pc.match_substring_regex(work, _TS_FAST), True)
    if pc.all(fast).as_py():
        return work.cast(_TS), []
    quick = pc.if_else(fast, work, pa.scalar(None, pa.string())).cast(_TS)
    slow = pc.if_else(fast, pa.scalar(None, pa.string()), arr)
    encoded = slow.dictionary_encode()
    parsed: list[int | None] = []
    reasons: list[str | None] = []
    for text in encoded.dictionary.to_pylist():
        try:
            at = isoparse(text)
        except (ValueError, OverflowError):
            parsed.append(None)
            reasons.append("is not an ISO-8601 timestamp")
            continue
        if at.tzinfo is None or at.utcoffset() is None:
            parsed.append(None)
            reasons.append("has no UTC offset (naive timestamps are refused)")
            continue
        parsed.append(_micros(at))
        reasons.append(None)
    values = pa.array(parsed, pa.int64()).take(encoded.indices).cast(_TS)
    why = pa.array(reasons, pa.string()).take(encoded.indices)
    bad = np.flatnonzero(pc.fill_null(pc.is_valid(why), False).to_numpy(zero_copy_only=False))
    texts = why.to_pylist() if len(bad) else []
    return pc.coalesce(quick, values), [(i, texts[i]) for i in bad.tolist()]


def _micros(at: datetime) -> int:
    delta = at.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _cast_numbers(arr: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Text to numbers by :data:`~leadflow._validate.NUMBER_PATTERN`; the rest refused."""
    shaped = pc.fill_null(pc.match_substring_regex(arr, NUMBER_PATTERN), True)
    bad: list[tuple[int, str]] = []
    for index in np.flatnonzero(~shaped.to_numpy(zero_copy_only=False)).tolist():
        bad.append((index, "is not a number (digits, '.', an exponent; no separators)"))
    numbers = pc.if_else(shaped, arr, pa.scalar(None, pa.string())).cast(pa.float64())
    more, numbers = _check_numbers(numbers, target)
    return numbers, bad + more


def _check_numbers(
    numbers: pa.Array, target: pa.DataType
) -> tuple[list[tuple[int, str]], pa.Array]:
    """Refuse non-finite values (and fractions, for an integer *target*); cast to *target*."""
    bad: list[tuple[int, str]] = []
    if pa.types.is_floating(numbers.type):
        finite = pc.fill_null(pc.is_finite(numbers), True).to_numpy(zero_copy_only=False)
        hits = np.flatnonzero(~finite)
        bad += [(i, "is not a finite number") for i in hits.tolist()]
        if len(hits):
            numbers = pc.if_else(pa.array(finite), numbers, pa.scalar(None, numbers.type))
        if pa.types.is_integer(target):
            whole = pc.fill_null(pc.equal(pc.floor(numbers), numbers), True)
            small = pc.fill_null(pc.less(pc.abs(numbers), 2.0**63), True)
            fine = pc.and_(whole, small).to_numpy(zero_copy_only=False)
            whole_np = whole.to_numpy(zero_copy_only=False)
            bad += [
                (i, "is not a whole number" if not whole_np[i] else "is out of range")
                for i in np.flatnonzero(~fine).tolist()
            ]
            numbers = pc.if_else(pa.array(fine), numbers, pa.scalar(None, numbers.type))
    return bad, numbers.cast(target)


def _cast_integers(arr: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Integers to the contract's integer type (int64), compared as integers (through a float,
    2**63 - 1 would round up to 2**63): an unsigned value past int64's range is refused."""
    if not pa.types.is_uint64(arr.type):
        return arr.cast(target), []
    big = pc.fill_null(pc.greater(arr, pa.scalar(2**63 - 1, pa.uint64())), False)
    hits = np.flatnonzero(big.to_numpy(zero_copy_only=False))
    if len(hits):
        arr = pc.if_else(big, pa.scalar(None, arr.type), arr)
    return arr.cast(target), [(i, "is out of range") for i in hits.tolist()]


def _cast(name: str, arr: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[tuple[int, str]]]:
    """Cast *arr* to *target*; rows that do not cast become nulls and are returned as errors."""
    source_type = arr.type
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(source_type):
        if source_type.tz is None:
            raise ValidationError(
                name,
                str(source_type),
                "is a timestamp column without a time zone; leadflow refuses naive datetimes "
                "(store UTC instants, or cast the column with a time zone first)",
            )
        return arr.cast(target, safe=False), []
    if pa.types.is_dictionary(source_type):
        arr, source_type = arr.cast(source_type.value_type), source_type.value_type
    if pa.types.is_string(source_type) or pa.types.is_large_string(source_type):
        work = _strip_strings(arr.cast(pa.string()))
        if pa.types.is_timestamp(target):
            return _cast_timestamps(work)
        if pa.types.is_integer(target) or pa.types.is_floating(target):
            return _cast_numbers(work, target)
        return work.cast(target), []
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        if pa.types.is_boolean(source_type) or not (
            pa.types.is_integer(source_type)
            or pa.types.is_floating(source_type)
            or pa.types.is_decimal(source_type)
        ):
            refused = np.flatnonzero(pc.is_valid(arr).to_numpy(zero_copy_only=False))
            return pa.nulls(len(arr), target), [(i, "is not a number") for i in refused.tolist()]
        if pa.types.is_integer(source_type) and pa.types.is_integer(target):
            return _cast_integers(arr, target)
        # a float may round a large integer, as Python's float() does (not an error)
        bad, numbers = _check_numbers(arr.cast(pa.float64(), safe=False), target)
        return numbers, bad
    try:
        return arr.cast(target), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        refused = np.flatnonzero(pc.is_valid(arr).to_numpy(zero_copy_only=False))
        reason = f"is not a {target} ({exc})"
        return pa.nulls(len(arr), target), [(i, reason) for i in refused.tolist()]


def _field_checks(
    name: str,
    arr: pa.Array,
    enums: Mapping[str, Collection[str]],
    identifiers: Collection[str],
) -> tuple[pa.Array, list[tuple[pa.Array, str]]]:
    """The domain model's per-field checks: (normalised values, [(bad-row mask, reason)])."""
    if name in _NON_NEGATIVE:
        return arr, [(pc.less(arr, 0), "must not be negative")]
    if name == "email":
        arr = _normalise_emails(arr)
        return arr, [(pc.invert(_valid_emails(arr)), "is not a valid e-mail address")]
    if name in enums:
        allowed = pa.array(sorted(enums[name]), pa.string())
        choices = ", ".join(repr(x) for x in enums[name])
        return arr, [(pc.invert(pc.is_in(arr, value_set=allowed)), f"is not one of {choices}")]
    if name in identifiers:  # few distinct kinds: check each once
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
    name: str,
    raw: pa.DictionaryArray,
    *,
    required: bool,
    enums: Mapping[str, Collection[str]],
    identifiers: Collection[str],
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
    values, checks = _field_checks(name, values, enums, identifiers)
    problems += [(mask.take(indices), reason) for mask, reason in checks]
    return pa.DictionaryArray.from_arrays(indices, values), problems


def conform(  # noqa: PLR0915 - one pass over the columns, each check in line
    batch: pa.RecordBatch,
    columns: Mapping[str, pa.DataType | None],
    *,
    required: Collection[str],
    source: str,
    row_offset: int,
    errors: ErrorSink,
    id_column: str = "id",
    rows: Any = None,
    enums: Mapping[str, Collection[str]] | None = None,
    identifiers: Collection[str] = ("kind",),
) -> pa.RecordBatch:
    """Return *batch* cast to *columns* (in that order), without the rows that are not valid.

    The typing step under :func:`validate`, for a given set of columns. Each refused row goes
    to *errors* once, with the first problem found: a *required* column that is null or blank;
    a value that does not cast (``"12 people"`` as an integer, ``"1,5"``, ``NaN``, a timestamp
    without an offset); a negative ``annual_revenue`` or ``employees``; a malformed ``email``;
    a kind that is not snake_case (*identifiers*) or not among *enums*. Strings are stripped
    and blank ones become null, as :meth:`leadflow.Lead.from_record` does; e-mails are
    lower-cased. Absent optional columns are filled with nulls; an absent required column is a
    :class:`~leadflow.errors.ConfigError` naming the file. Row numbers are *rows* (an array,
    one per row) or counted from *row_offset*; with *rows*, the result has a ``__row`` column.
    """
    n = batch.num_rows
    enums = enums or {}
    numbers = (
        np.arange(row_offset, row_offset + n, dtype=np.int64)
        if rows is None
        else np.asarray(rows, dtype=np.int64)
    )
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
            row=int(numbers[index]),
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
            arr, problems = _conform_dictionary(
                name, raw, required=name in required, enums=enums, identifiers=identifiers
            )
            for mask, reason in problems:
                refuse_mask(mask, name, reason)
            arrays.append(arr)
            continue
        if target is None:  # a custom property: kept as it is, "" meaning absent
            if pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type):
                raw = pc.if_else(pc.equal(raw, ""), pa.scalar(None, raw.type), raw)
            elif pa.types.is_floating(raw.type):  # as freeze_map: a property is finite
                refuse_mask(pc.invert(pc.is_finite(raw)), name, "is not a finite number")
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
        arr, checks = _field_checks(name, arr, enums, identifiers)
        for mask, reason in checks:
            refuse_mask(mask, name, reason)
        arrays.append(arr)
    for index in sorted(found):
        errors.add(found[index])
    names = list(columns)
    if rows is not None and ROW not in columns:
        arrays.append(pa.array(numbers, pa.int64()))
        names.append(ROW)
    result = pa.record_batch(arrays, names=names)
    if bad.any():
        result = result.filter(pa.array(~bad))
    return result
