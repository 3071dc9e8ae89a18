"""Which model field lives in which column, and how its value crosses into SQLite and back.

Scope: the explicit field-to-column table of the store's four entity tables. Nothing here looks
at a type hint: each column is written down once with its kind, and a test checks that every
field of :class:`~leadflow.model.Lead`, :class:`~leadflow.model.Account`,
:class:`~leadflow.model.Activity` and :class:`~leadflow.model.Touch` is either mapped here or
kept in a table of its own (a lead's ``history`` lives in ``stage_history``, its
``owner_history`` in ``owner_history``). Adding a model
field therefore means adding a row here *and* a migration that adds the column.

>>> LEADS.column("handed_off_at").kind
<Kind.DATETIME: 'datetime'>
>>> TABLES[Entity.TOUCH].table
'touches'
"""

from __future__ import annotations

import enum
import functools
import json
import math
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from leadflow.errors import ValidationError
from leadflow.model import Account, Activity, Lead, Touch
from leadflow.ports import Entity

__all__ = [
    "ACCOUNTS",
    "ACTIVITIES",
    "LEADS",
    "TABLES",
    "TOUCHES",
    "Column",
    "EntityTable",
    "Kind",
    "iso",
    "parse_instant",
]


class Kind(enum.Enum):
    """How a value is stored: the SQLite type and the conversion on the way in and out."""

    #: A string (enum members are stored by value).
    TEXT = "text"
    #: A whole number.
    INTEGER = "integer"
    #: A floating-point number.
    REAL = "real"
    #: An aware datetime, stored as ISO-8601 text with its offset.
    DATETIME = "datetime"
    #: A mapping of extra properties, stored as JSON text (keys sorted).
    JSON = "json"


def iso(value: datetime | None) -> str | None:
    """*value* as ISO-8601 text, or ``None``."""
    return value.isoformat() if value is not None else None


def parse_instant(value: str | None) -> datetime | None:
    """ISO-8601 text read from the store as a datetime, or ``None``."""
    return datetime.fromisoformat(value) if value is not None else None


@attrs.frozen(kw_only=True)
class Column:
    """One model field (*field*) stored in the column *name* as *kind*."""

    field: str
    name: str
    kind: Kind

    def to_sql(self, value: Any) -> Any:
        """The value to bind for *value*, the field's value on a model object."""
        if value is None:
            return None
        if self.kind is Kind.DATETIME:
            return value.isoformat()
        if self.kind is Kind.JSON:
            return json.dumps(dict(value), sort_keys=True)
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, Decimal):
            return str(value)
        return value

    def check(self, value: Any) -> None:
        """Refuse, naming the field, a value SQLite cannot store as this column's kind: an
        integer outside 64 bits, a number that is not finite, text with a lone surrogate."""
        if value is None:
            return
        if self.kind is Kind.INTEGER and isinstance(value, int) and not _INT64 <= value < -_INT64:
            raise ValidationError(self.field, _shown(value), _TOO_LARGE)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(self.field, value, "is not a finite number")
        if self.kind is Kind.JSON:
            for key, item in dict(value).items():
                name = f"{self.field}.{key}"
                _check_text(name, key)
                if isinstance(item, str):
                    _check_text(name, item)
                elif isinstance(item, float) and not math.isfinite(item):
                    raise ValidationError(name, item, "is not a finite number")
                elif isinstance(item, int) and not _INT64 <= item < -_INT64:
                    raise ValidationError(name, _shown(item), _TOO_LARGE)
        elif isinstance(value, str):
            _check_text(self.field, value)

    def from_sql(self, value: Any) -> Any:
        """The field's value for *value*, as read from the column."""
        if value is None:
            return {} if self.kind is Kind.JSON else None
        if self.kind is Kind.DATETIME:
            return datetime.fromisoformat(value)
        if self.kind is Kind.JSON:
            return json.loads(value)
        return value


#: The smallest 64-bit integer (SQLite's INTEGER range is ``[_INT64, -_INT64)``).
_INT64 = -(2**63)


_TOO_LARGE = "is too large: the store keeps 64-bit integers"


def _shown(value: int) -> object:
    """*value* for an error message (Python refuses to print integers of over 4,300 digits)."""
    return value if value.bit_length() < 10_000 else f"a {value.bit_length()}-bit integer"


def _check_text(field: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = value[exc.start]
        raise ValidationError(
            field, value, f"holds a lone surrogate ({bad!r}), which is not text"
        ) from None


def _col(field: str, kind: Kind = Kind.TEXT) -> Column:
    return Column(field=field, name=field, kind=kind)


@attrs.frozen(kw_only=True)
class EntityTable:
    """The table *table* holding the entity *entity*, values of *model*, in *columns*.

    Every entity table also has the bookkeeping columns ``rev`` (the record's version, from 1)
    and ``seq`` (the store-wide change number of its last change), which no model field maps to.
    """

    entity: Entity
    table: str
    model: type[Any]
    columns: tuple[Column, ...]
    #: Model fields stored elsewhere (a lead's ``history`` in ``stage_history``).
    kept_elsewhere: frozenset[str] = frozenset()

    def column(self, field: str) -> Column:
        """The column of model field *field*."""
        for column in self.columns:
            if column.field == field:
                return column
        raise KeyError(field)

    def check(self, item: Any) -> None:
        """Refuse (:class:`~leadflow.errors.ValidationError` naming the field) a value of
        *item* the store cannot keep; see :meth:`Column.check`."""
        for column in self.columns:
            column.check(getattr(item, column.field))

    @functools.cached_property
    def upsert_sql(self) -> str:
        """The statement that inserts a record or replaces the one with its id, binding the
        columns in order and then the change number; a replacement bumps ``rev``."""
        names = [c.name for c in self.columns]
        updates = ", ".join(f"{c} = excluded.{c}" for c in names if c != "id")
        return (
            f"INSERT INTO {self.table} ({', '.join(names)}, rev, seq) "
            f"VALUES ({', '.join('?' for _ in names)}, 1, ?) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}, rev = {self.table}.rev + 1, "
            "seq = excluded.seq"
        )

    def values(self, item: Any) -> dict[str, Any]:
        """Column name → value to bind, for the model object *item*."""
        return {c.name: c.to_sql(getattr(item, c.field)) for c in self.columns}

    def fields(self, row: sqlite3.Row) -> dict[str, Any]:
        """Model field → value, for a row read from the table."""
        return {c.field: c.from_sql(row[c.name]) for c in self.columns}


#: ``leads``: one row per lead (its stage history is in ``stage_history``).
LEADS = EntityTable(
    entity=Entity.LEAD,
    table="leads",
    model=Lead,
    columns=(
        _col("id"),
        _col("created_at", Kind.DATETIME),
        _col("email"),
        _col("first_name"),
        _col("last_name"),
        _col("title"),
        _col("company"),
        _col("industry"),
        _col("annual_revenue", Kind.REAL),
        _col("employees", Kind.INTEGER),
        _col("country"),
        _col("source"),
        _col("campaign"),
        _col("owner_id"),
        _col("account_id"),
        _col("handed_off_at", Kind.DATETIME),
        _col("stage"),
        _col("properties", Kind.JSON),
    ),
    kept_elsewhere=frozenset({"history", "owner_history"}),
)

#: ``accounts``: one row per account.
ACCOUNTS = EntityTable(
    entity=Entity.ACCOUNT,
    table="accounts",
    model=Account,
    columns=(
        _col("id"),
        _col("name"),
        _col("domain"),
        _col("industry"),
        _col("annual_revenue", Kind.REAL),
        _col("employees", Kind.INTEGER),
        _col("country"),
        _col("owner_id"),
        _col("created_at", Kind.DATETIME),
        _col("properties", Kind.JSON),
    ),
)

#: ``activities``: marketing activities (behaviour signals).
ACTIVITIES = EntityTable(
    entity=Entity.ACTIVITY,
    table="activities",
    model=Activity,
    columns=(
        _col("id"),
        _col("lead_id"),
        _col("kind"),
        _col("occurred_at", Kind.DATETIME),
        _col("account_id"),
        _col("channel"),
        _col("campaign"),
        _col("content"),
        _col("properties", Kind.JSON),
    ),
)

#: ``touches``: sales touches (calls, e-mails, meetings).
TOUCHES = EntityTable(
    entity=Entity.TOUCH,
    table="touches",
    model=Touch,
    columns=(
        _col("id"),
        _col("lead_id"),
        _col("kind"),
        _col("at", Kind.DATETIME),
        _col("by"),
        _col("outcome"),
        _col("subject"),
    ),
)

#: The entity tables, by entity.
TABLES: Mapping[Entity, EntityTable] = {t.entity: t for t in (LEADS, ACCOUNTS, ACTIVITIES, TOUCHES)}
