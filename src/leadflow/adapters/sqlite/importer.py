"""Importing exports (CSV, JSON lines) into the store: a file lands whole, or not at all.

Scope: reading a file of flat records, turning each into a leadflow value, and storing the
good ones — records (leads, accounts, activities, touches) the way
:meth:`~leadflow.adapters.sqlite.SQLiteAdapter.mirror` stores records read from a CRM, and
events (stage changes, rejections, outcomes) as the job's writes, so a team without a CRM
adapter can feed the feedback loop from exports.

Guarantees:

* **One transaction per file.** By default a file is all or nothing: if any row is refused,
  nothing from the file is stored (``committed`` is false) and every refused row is reported.
  With ``keep_good=True`` the good rows are stored (still in one transaction) and the refused
  ones reported; no mode ever stores part of a file and then fails.
* **Every refusal names its line and field.** A row that does not validate, a duplicate of an
  earlier row's id (never silently last-wins), text that is not UTF-8 or holds a lone
  surrogate, a number the store cannot keep (beyond 64 bits, a 5,000-digit JSON number, not
  finite), JSON nested deeper than :data:`MAX_DEPTH`: each becomes a :class:`RowError`.
* **A file that cannot be read is refused whole**, in every mode, with one :class:`RowError`
  saying why: UTF-16 or other non-UTF-8 encodings detected up front (a UTF-8 byte-order mark is
  accepted and skipped), NUL bytes, a CSV field over the :mod:`csv` module's size limit, a
  header naming a column twice. (``unreadable`` is then true.)
* **An empty file says so** (``empty`` is true): no rows, nothing stored.
* **Re-importing is harmless.** Records are upserted; an event the store already holds is
  counted as ``unchanged``, not stored twice.

File formats (one record per CSV row under a header, or one JSON object per line):

========================  ==============================================================
kind                      fields
========================  ==============================================================
``lead`` ... ``touch``    the model's fields (``Lead.from_record``); others become properties
``stage_change``          ``lead_id``, ``from_stage``, ``to_stage``, ``at`` (required);
                          ``by``, ``reason``, ``note``, ``handed_off_at``
``rejection``             ``lead_id``, ``code`` (a reject code), ``at``, ``by`` (required);
                          ``note``. The lead moves to recycled/disqualified as the code says.
``outcome``               ``lead_id``, ``kind``, ``at`` (required); ``amount``, ``currency``,
                          ``reason``, ``competitor``, ``opportunity_id``, ``recorded_by``
========================  ==============================================================
"""

from __future__ import annotations

import csv
import enum
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
from dateutil.parser import isoparse

from leadflow._validate import check_aware
from leadflow.adapters.sqlite import records
from leadflow.adapters.sqlite.columns import TABLES, iso
from leadflow.adapters.sqlite.sources import (
    CSV_SUFFIXES,
    JSONL_SUFFIXES,
    MAX_DEPTH,
    Row,
    RowError,
    Unreadable,
    csv_rows,
    jsonl_rows,
)
from leadflow.adapters.sqlite.store import Store
from leadflow.adapters.sqlite.writes import apply_batch
from leadflow.errors import (
    ConfigError,
    IllegalTransitionError,
    LeadflowError,
    UnknownRejectCodeError,
    ValidationError,
)
from leadflow.model import StageChange
from leadflow.outcomes import Outcome
from leadflow.ports import Entity, OutcomeWrite, RejectionWrite, StageWrite, Write, WriteStatus
from leadflow.reasons import STANDARD_REASONS, ReasonCatalog, reject

__all__ = [
    "MAX_DEPTH",
    "ImportKind",
    "ImportReport",
    "RowError",
    "import_file",
    "import_rows",
    "write_refused",
]


class ImportKind(enum.StrEnum):
    """What a file holds: one of the four records, or one of the three events."""

    LEAD = "lead"
    ACCOUNT = "account"
    ACTIVITY = "activity"
    TOUCH = "touch"
    STAGE_CHANGE = "stage_change"
    REJECTION = "rejection"
    OUTCOME = "outcome"

    @property
    def entity(self) -> Entity | None:
        """The record entity, or ``None`` for an event kind."""
        known = {entity.value: entity for entity in TABLES}
        return known.get(self.value)


def _kind(value: Any) -> ImportKind:
    try:
        return ImportKind(value)
    except ValueError:
        known = ", ".join(k.value for k in ImportKind)
        raise ValidationError("kind", value, f"is not an import kind; known: {known}") from None


@attrs.frozen(kw_only=True)
class ImportReport:
    """What importing one file (or one stream of rows) did.

    ``rows`` rows were read; ``imported`` were stored and ``unchanged`` were already held;
    ``errors`` are the refused rows. ``committed`` says whether the good rows were stored
    (false when a file that must land whole had a refused row, or could not be read).
    """

    kind: ImportKind = attrs.field(converter=_kind)
    imported: int
    errors: tuple[RowError, ...] = ()
    rows: int = 0
    unchanged: int = 0
    committed: bool = True
    unreadable: bool = False
    file: str | None = None

    @property
    def entity(self) -> ImportKind:
        """What was imported (an alias of :attr:`kind`)."""
        return self.kind

    @property
    def empty(self) -> bool:
        """Whether the file held no rows at all."""
        return self.rows == 0 and not self.unreadable

    @property
    def refused(self) -> int:
        """How many rows were refused."""
        return len(self.errors)

    @property
    def ok(self) -> bool:
        """Whether every row was stored (or already held)."""
        return not self.errors and self.committed


class _Rollback(Exception):
    """Leaves the file's transaction without committing it."""


# -- building values -----------------------------------------------------------------------


def _text(record: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    raw = record.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise ValidationError(name, raw, "is required but missing")
        return None
    if not isinstance(raw, str):
        raise ValidationError(name, raw, "is not text")
    return raw.strip()


def _instant(record: Mapping[str, Any], name: str, *, required: bool = False) -> datetime | None:
    text = _text(record, name, required=required)
    if text is None:
        return None
    try:
        value = isoparse(text)
    except (ValueError, OverflowError):
        raise ValidationError(name, text, "is not an ISO-8601 timestamp") from None
    return check_aware(name, value)


def _required_instant(record: Mapping[str, Any], name: str) -> datetime:
    value = _instant(record, name)
    if value is None:
        raise ValidationError(name, record.get(name), "is required but missing")
    return value


def _only(record: Mapping[str, Any], known: frozenset[str], what: str) -> None:
    for key in record:
        if key not in known:
            raise ValidationError(
                str(key),
                record[key],
                f"is not a field of {what} (fields: {', '.join(sorted(known))})",
            )


_STAGE_FIELDS = frozenset(
    {"lead_id", "from_stage", "to_stage", "at", "by", "reason", "note", "handed_off_at"}
)
_REJECTION_FIELDS = frozenset({"lead_id", "code", "at", "by", "note"})
_OUTCOME_FIELDS = frozenset(
    {
        "lead_id",
        "kind",
        "at",
        "expected_by",
        "amount",
        "currency",
        "reason",
        "competitor",
        "opportunity_id",
        "recorded_by",
    }
)


def _stage_write(record: Mapping[str, Any]) -> StageWrite:
    _only(record, _STAGE_FIELDS, "a stage change")
    lead_id = _text(record, "lead_id", required=True)
    change = StageChange(
        from_stage=_text(record, "from_stage", required=True) or "",
        to_stage=_text(record, "to_stage", required=True) or "",
        at=_required_instant(record, "at"),
        by=_text(record, "by"),
        reason=_text(record, "reason"),
        note=_text(record, "note"),
    )
    return StageWrite(
        lead_id=lead_id or "", change=change, handed_off_at=_instant(record, "handed_off_at")
    )


@attrs.frozen(kw_only=True)
class _RejectionRow:
    """A rejection as read: judged against the lead's stage when it is stored."""

    lead_id: str
    code: str
    at: datetime
    by: str
    note: str | None


def _rejection_row(record: Mapping[str, Any]) -> _RejectionRow:
    _only(record, _REJECTION_FIELDS, "a rejection")
    return _RejectionRow(
        lead_id=_text(record, "lead_id", required=True) or "",
        code=_text(record, "code", required=True) or "",
        at=_required_instant(record, "at"),
        by=_text(record, "by", required=True) or "",
        note=_text(record, "note"),
    )


def _outcome_write(record: Mapping[str, Any]) -> OutcomeWrite:
    _only(record, _OUTCOME_FIELDS, "an outcome")
    amount = record.get("amount")
    if isinstance(amount, str) and not amount.strip():
        amount = None
    if isinstance(amount, float):
        amount = repr(amount)
    outcome = Outcome(
        lead_id=_text(record, "lead_id", required=True) or "",
        kind=_text(record, "kind", required=True) or "",
        at=_required_instant(record, "at"),
        amount=amount,
        currency=_text(record, "currency"),
        reason=_text(record, "reason"),
        competitor=_text(record, "competitor"),
        opportunity_id=_text(record, "opportunity_id"),
        recorded_by=_text(record, "recorded_by"),
        expected_by=_instant(record, "expected_by"),
    )
    return OutcomeWrite(outcome=outcome)


def _key(kind: ImportKind, value: Any) -> tuple[Any, ...]:
    """What makes two rows of one file the same record (reported as a duplicate)."""
    if kind.entity is not None:
        return (value.id,)
    if isinstance(value, StageWrite):
        c = value.change
        return (value.lead_id, c.from_stage, c.to_stage, c.at)
    if isinstance(value, _RejectionRow):
        return (value.lead_id, value.code, value.at)
    o = value.outcome
    return (o.lead_id, o.kind, o.at, o.opportunity_id)


def _describe(kind: ImportKind, key: tuple[Any, ...]) -> tuple[str, Any]:
    if kind.entity is not None:
        return "id", key[0]
    return "lead_id", key[0]


def _build(kind: ImportKind, record: Mapping[str, Any]) -> Any:
    entity = kind.entity
    if entity is not None:
        table = TABLES[entity]
        value = table.model.from_record(record)
        table.check(value)
        return value
    if kind is ImportKind.STAGE_CHANGE:
        return _stage_write(record)
    if kind is ImportKind.REJECTION:
        return _rejection_row(record)
    return _outcome_write(record)


def _refusal(line: int, exc: Exception) -> RowError:
    if isinstance(exc, ValidationError):
        return RowError(line=line, field=exc.field, value=exc.value, message=str(exc))
    if isinstance(exc, ConfigError):
        return RowError(line=line, field=exc.path, value=None, message=str(exc))
    if isinstance(exc, UnknownRejectCodeError):
        return RowError(line=line, field="code", value=exc.code, message=f"code: {exc}")
    return RowError(line=line, field="", value=None, message=" ".join(str(exc).split()))


# -- storing --------------------------------------------------------------------------------


@attrs.define
class _Tally:
    imported: int = 0
    unchanged: int = 0
    errors: list[RowError] = attrs.Factory(list)


def _store_records(
    conn: sqlite3.Connection, entity: Entity, batch: list[Any], stamp: str | None
) -> None:
    if entity is Entity.LEAD:
        batch = records.keep_store_state(conn, batch)
    for item in batch:
        records.upsert(conn, entity, item, stamp=stamp)


class _Held(Exception):
    """The store already holds this event."""


def _event_write(conn: sqlite3.Connection, value: Any, catalog: ReasonCatalog) -> Write:
    if isinstance(value, StageWrite | OutcomeWrite):
        return value
    leads = records.by_ids(conn, Entity.LEAD, "id", [value.lead_id])
    if not leads:
        raise ValidationError("lead_id", value.lead_id, "is not a lead in the store")
    held = conn.execute(
        "SELECT 1 FROM rejections WHERE lead_id = ? AND code = ? AND at = ?",
        (value.lead_id, value.code, iso(value.at)),
    ).fetchone()
    if held is not None:
        raise _Held
    moved, rejection = reject(
        leads[0], value.code, at=value.at, by=value.by, note=value.note, catalog=catalog
    )
    return RejectionWrite(rejection=rejection, change=moved.history[-1])


def _store_event(
    conn: sqlite3.Connection,
    line: int,
    value: Any,
    tally: _Tally,
    *,
    now: datetime | None,
    catalog: ReasonCatalog,
) -> None:
    try:
        write = _event_write(conn, value, catalog)
    except _Held:
        tally.unchanged += 1
        return
    except (LeadflowError, ValueError) as exc:
        if isinstance(exc, IllegalTransitionError):
            exc = ValidationError("lead_id", value.lead_id, f"cannot be rejected: {exc}")
        tally.errors.append(_refusal(line, exc))
        return
    [result] = apply_batch(conn, [write], now=now)
    if result.status is WriteStatus.APPLIED:
        tally.imported += 1
    elif result.status is WriteStatus.UNCHANGED:
        tally.unchanged += 1
    else:
        error = result.error or "was not stored"
        field = "lead_id" if error.startswith("no lead") else ""
        if error.startswith("change."):
            field = error.split(":", 1)[0].removeprefix("change.")
        tally.errors.append(RowError(line=line, field=field, value=write.lead_id, message=error))


def import_rows(
    store: Store,
    kind: ImportKind | Entity | str,
    rows: Iterable[Row],
    *,
    keep_good: bool = False,
    batch_size: int = 500,
    now: datetime | None = None,
    catalog: ReasonCatalog = STANDARD_REASONS,
    file: str | None = None,
) -> ImportReport:
    """Store what numbered *rows* (``(line, record)``; a record may be a :class:`RowError`)
    hold, as *kind*, in one transaction; see the module's guarantees.

    *batch_size* is how many records are upserted at a time inside the transaction; *now*
    stamps the rows events add (``recorded_at``); *catalog* holds the reject codes a
    rejection may use; *file* names the source in each :class:`RowError`.
    """
    kind = _kind(kind)
    tally = _Tally()
    seen: dict[tuple[Any, ...], int] = {}
    count = 0
    unreadable = False
    committed = False
    stamp = iso(now)
    try:
        with store.transaction() as conn:
            batch: list[Any] = []
            try:
                for line, record in rows:
                    count += 1
                    value = _take(kind, line, record, seen, tally)
                    if value is _REFUSED or (tally.errors and not keep_good):
                        continue  # refused, or the file is refused: only look for errors
                    if kind.entity is None:
                        _store_event(conn, line, value, tally, now=now, catalog=catalog)
                        continue
                    batch.append(value)
                    if len(batch) >= batch_size:
                        _store_records(conn, kind.entity, batch, stamp)
                        tally.imported += len(batch)
                        batch.clear()
            except Unreadable as exc:
                tally.errors.append(exc.error)
                unreadable = True
            if unreadable or (tally.errors and not keep_good):
                raise _Rollback
            if batch and kind.entity is not None:
                _store_records(conn, kind.entity, batch, stamp)
                tally.imported += len(batch)
            committed = True
    except _Rollback:
        tally.imported = tally.unchanged = 0
    errors = tuple(attrs.evolve(e, file=file) if file else e for e in tally.errors)
    return ImportReport(
        kind=kind,
        imported=tally.imported,
        unchanged=tally.unchanged,
        errors=errors,
        rows=count,
        committed=committed,
        unreadable=unreadable,
        file=file,
    )


#: What :func:`_take` returns for a refused row.
_REFUSED = object()


def _take(
    kind: ImportKind,
    line: int,
    record: Mapping[str, Any] | RowError,
    seen: dict[tuple[Any, ...], int],
    tally: _Tally,
) -> Any:
    """One row's value, or :data:`_REFUSED` with its refusal added to *tally*."""
    if isinstance(record, RowError):
        tally.errors.append(record)
        return _REFUSED
    try:
        value = _build(kind, record)
    except (LeadflowError, ValueError, TypeError, OverflowError) as exc:
        tally.errors.append(_refusal(line, exc))
        return _REFUSED
    key = _key(kind, value)
    first = seen.setdefault(key, line)
    if first != line:
        field, shown = _describe(kind, key)
        tally.errors.append(
            RowError(
                line=line,
                field=field,
                value=shown,
                message=f"{field}: {shown!r} is a duplicate of line {first} "
                "(a file holds each record once)",
            )
        )
        return _REFUSED
    return value


def import_file(
    store: Store,
    kind: ImportKind | Entity | str,
    path: str | os.PathLike[str],
    *,
    keep_good: bool = False,
    batch_size: int = 500,
    now: datetime | None = None,
    catalog: ReasonCatalog = STANDARD_REASONS,
) -> ImportReport:
    """Import the ``.csv`` file (a header row, then one record per row) or JSON-lines file
    (``.jsonl``/``.ndjson``, one object per line) at *path*; see :func:`import_rows`.

    A file of another type, or one that cannot be opened, is a
    :class:`~leadflow.errors.ConfigError` naming it.
    """
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix not in CSV_SUFFIXES | JSONL_SUFFIXES:
        raise ConfigError(str(source), "unknown file type; expected .csv, .jsonl or .ndjson")
    try:
        with source.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(str(source), f"cannot read: {exc.strerror or exc}") from None
    rows = csv_rows(source) if suffix in CSV_SUFFIXES else jsonl_rows(source)
    return import_rows(
        store,
        kind,
        rows,
        keep_good=keep_good,
        batch_size=batch_size,
        now=now,
        catalog=catalog,
        file=str(source),
    )


def write_refused(path: str | os.PathLike[str], errors: Iterable[RowError]) -> int:
    """Write *errors* to *path*: JSON lines for ``.jsonl``/``.ndjson``, else CSV with the
    columns ``file, line, field, reason, value``. Returns how many were written."""
    target = Path(path)
    count = 0
    with target.open("w", encoding="utf-8", newline="") as out:
        if target.suffix.lower() in JSONL_SUFFIXES:
            for error in errors:
                row = {
                    "file": error.file,
                    "line": error.line,
                    "field": error.field,
                    "reason": error.message,
                    "value": _plain(error.value),
                }
                out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                count += 1
        else:
            writer = csv.writer(out)
            writer.writerow(["file", "line", "field", "reason", "value"])
            for error in errors:
                value = "" if error.value is None else _plain(error.value)
                writer.writerow([error.file or "", error.line, error.field, error.message, value])
                count += 1
    return count


def _plain(value: Any) -> Any:
    """*value* as written to an errors file: text, a number, or its ``str``."""
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)
