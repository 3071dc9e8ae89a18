""":class:`SQLiteAdapter`: the embedded store as a leadflow adapter (the ``sqlite`` entry point).

Scope: the :class:`~leadflow.ports.Adapter` protocol (``read_*``, ``write``, ``capabilities``,
``from_config``, ``close``) and the store's other roles for the job — its cursor store and its
history — as one object over a :class:`~leadflow.adapters.sqlite.store.Store`. Each method
delegates to the module that owns the job: :mod:`~leadflow.adapters.sqlite.records` (entities),
:mod:`~leadflow.adapters.sqlite.writes` (writes), :mod:`~leadflow.adapters.sqlite.cursors`,
:mod:`~leadflow.adapters.sqlite.queries` (reports) and
:mod:`~leadflow.adapters.sqlite.importer` (files).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from leadflow._validate import check_aware
from leadflow.adapters.sqlite import cursors, feedback, importer, queries, records
from leadflow.adapters.sqlite.columns import iso
from leadflow.adapters.sqlite.store import Store
from leadflow.adapters.sqlite.writes import apply_batch
from leadflow.errors import ConfigError, ValidationError
from leadflow.model import Account, Activity, Lead, Touch
from leadflow.outcomes import Outcome
from leadflow.ports import Capabilities, Cursor, Entity, Page, Write, WriteKind, WriteResult
from leadflow.reasons import STANDARD_REASONS, ReasonCatalog, Rejection

__all__ = ["SQLiteAdapter"]


class SQLiteAdapter:
    """The embedded store at *path* (a file, created when missing, or ``":memory:"``).

    *page_size* is how many records a read yields per page; *busy_timeout* is how many seconds a
    writer waits for another process's lock before giving up. *now* is the instant rows written
    through this adapter are stamped with (``recorded_at``): the job's ``now``, since the
    adapter protocol's :meth:`write` takes no time. Without it (and without ``write(...,
    now=...)``) rows are stamped ``NULL``; the store never reads a clock.
    """

    name = "sqlite"
    capabilities = Capabilities(
        reads=frozenset(Entity),
        writes=frozenset(WriteKind),
        max_batch=10_000,
        conflict_detection=True,
        transactional_batches=True,
        handoff_time=True,
    )

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        page_size: int = 500,
        busy_timeout: float = 30.0,
        now: datetime | None = None,
    ) -> None:
        self.now = check_aware("now", now) if now is not None else None
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValidationError("page_size", page_size, "must be a whole number >= 1")
        self.page_size = page_size
        self.store = Store(path, busy_timeout=busy_timeout)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SQLiteAdapter:
        """Build from a config table: ``path`` (required), ``page_size``, ``busy_timeout``."""
        known = {"path", "page_size", "busy_timeout"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(unknown[0], f"unknown sqlite setting; known: {sorted(known)}")
        if "path" not in config:
            raise ConfigError("path", "is required: the store's file (or ':memory:')")
        return cls(
            config["path"],
            page_size=config.get("page_size", 500),
            busy_timeout=config.get("busy_timeout", 30.0),
        )

    def __repr__(self) -> str:
        return f"SQLiteAdapter({self.path!r})"

    @property
    def path(self) -> str:
        """The store's file (or ``":memory:"``)."""
        return self.store.path

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (for reports that query the store directly)."""
        return self.store.connection

    def close(self) -> None:
        """Close the connection; calling it twice is harmless."""
        self.store.close()

    def __enter__(self) -> SQLiteAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- putting records in --------------------------------------------------------------------

    def upsert(self, entity: Entity | str, items: Iterable[Any]) -> list[Any]:
        """Insert or replace *items* of *entity* in one transaction; returns them as stored.

        A replaced record gets a new version and is read again by incremental reads. For
        leads, the stored stage history is replaced by the item's.
        """
        entity = Entity(entity)
        if entity in feedback.LOGS:
            return self.mirror(entity, items)
        stored = records.check_items(entity, items)
        with self.store.transaction() as conn:
            for item in stored:
                records.upsert(conn, entity, item, stamp=iso(self.now))
        return stored

    def mirror(self, entity: Entity | str, items: Iterable[Any]) -> list[Any]:
        """:meth:`upsert` records read from another system, keeping what only the store knows.

        CRMs do not keep a lead's stage history; when an incoming lead carries none and is
        still in the stage the stored history ends in, the stored history is kept. Nor do they
        all keep the hand-off time: an incoming lead without ``handed_off_at`` keeps the stored
        one (which the job recorded with the stage change that handed it over). Rejections and
        outcomes read from a CRM are recorded once each (:func:`~leadflow.adapters.sqlite.
        feedback.mirror`).
        """
        entity = Entity(entity)
        if entity in feedback.LOGS:
            with self.store.transaction() as conn:
                return feedback.mirror(conn, entity, list(items), stamp=iso(self.now))
        stored = records.check_items(entity, items)
        with self.store.transaction() as conn:
            if entity is Entity.LEAD:
                stored = records.keep_store_state(conn, stored)
            for item in stored:
                records.upsert(conn, entity, item, stamp=iso(self.now))
        return stored

    def import_records(
        self,
        kind: importer.ImportKind | Entity | str,
        rows: Iterable[Mapping[str, Any]],
        *,
        keep_good: bool = False,
        batch_size: int = 500,
        first_line: int = 1,
        now: datetime | None = None,
        catalog: ReasonCatalog = STANDARD_REASONS,
    ) -> importer.ImportReport:
        """Store flat records as *kind* (a record entity, or ``stage_change``, ``rejection``,
        ``outcome``) in one transaction; lines count from *first_line*.

        All or nothing by default: one refused row and nothing is stored, every refused row
        is reported (line, field, value, message). With *keep_good* the good rows are stored.
        Records are stored as :meth:`mirror` stores them (an imported lead keeps the stored
        stage history and hand-off time it does not carry); events as the job's writes,
        stamped with *now* (default: the adapter's ``now``). See
        :mod:`leadflow.adapters.sqlite.importer`.
        """
        return importer.import_rows(
            self.store,
            kind,
            enumerate(rows, start=first_line),
            keep_good=keep_good,
            batch_size=batch_size,
            now=now if now is not None else self.now,
            catalog=catalog,
        )

    def import_file(
        self,
        kind: importer.ImportKind | Entity | str,
        path: str | os.PathLike[str],
        *,
        keep_good: bool = False,
        batch_size: int = 500,
        now: datetime | None = None,
        catalog: ReasonCatalog = STANDARD_REASONS,
    ) -> importer.ImportReport:
        """Import a ``.csv`` file (a header row, then one record per row) or a JSON-lines file
        (``.jsonl``/``.ndjson``, one object per line) in one transaction; see
        :meth:`import_records`. Errors carry the file and the line number in it; a file that
        cannot be read (UTF-16, a CSV field over the size limit...) is refused whole."""
        return importer.import_file(
            self.store,
            kind,
            path,
            keep_good=keep_good,
            batch_size=batch_size,
            now=check_aware("now", now) if now is not None else self.now,
            catalog=catalog,
        )

    # -- reading -------------------------------------------------------------------------------

    def read_leads(self, cursor: Cursor | None = None) -> Iterator[Page[Lead]]:
        """Leads changed after *cursor*, in change order, with their stage history."""
        return records.read_pages(self.connection, Entity.LEAD, cursor, self.page_size)

    def read_accounts(self, cursor: Cursor | None = None) -> Iterator[Page[Account]]:
        """Accounts changed after *cursor*."""
        return records.read_pages(self.connection, Entity.ACCOUNT, cursor, self.page_size)

    def read_activities(self, cursor: Cursor | None = None) -> Iterator[Page[Activity]]:
        """Activities stored or changed after *cursor*."""
        return records.read_pages(self.connection, Entity.ACTIVITY, cursor, self.page_size)

    def read_touches(self, cursor: Cursor | None = None) -> Iterator[Page[Touch]]:
        """Touches stored or changed after *cursor*."""
        return records.read_pages(self.connection, Entity.TOUCH, cursor, self.page_size)

    def read_rejections(self, cursor: Cursor | None = None) -> Iterator[Page[Rejection]]:
        """Rejections recorded after *cursor*, in the order recorded, by page."""
        return feedback.read_pages(self.connection, Entity.REJECTION, cursor, self.page_size)

    def read_outcomes(self, cursor: Cursor | None = None) -> Iterator[Page[Outcome]]:
        """Outcomes recorded after *cursor*, in the order recorded, by page."""
        return feedback.read_pages(self.connection, Entity.OUTCOME, cursor, self.page_size)

    # -- writing ---------------------------------------------------------------------------------

    def write(self, writes: Sequence[Write], *, now: datetime | None = None) -> list[WriteResult]:
        """Apply *writes* in one transaction; one result per write, in order.

        A write the lead already reflects is ``unchanged``; one whose ``expected_version``
        differs from the lead's version at the start of the batch is a ``conflict``; one that
        cannot be applied (no such lead, a stage change that does not start from the lead's
        stage) is ``failed`` with the reason, and rolled back alone. Rows added are stamped
        with *now* (default: the adapter's ``now``).
        """
        stamp = check_aware("now", now) if now is not None else self.now
        with self.store.transaction() as conn:
            return apply_batch(conn, writes, now=stamp)

    # -- the job's history and cursor store ----------------------------------------------------

    def leads_by_id(self, ids: Iterable[str]) -> dict[str, Lead]:
        """The stored leads among *ids*, with their stage history."""
        return {lead.id: lead for lead in records.by_ids(self.connection, Entity.LEAD, "id", ids)}

    def accounts_by_id(self, ids: Iterable[str]) -> dict[str, Account]:
        """The stored accounts among *ids*."""
        found = records.by_ids(self.connection, Entity.ACCOUNT, "id", ids)
        return {account.id: account for account in found}

    def leads_at_accounts(self, account_ids: Iterable[str]) -> list[Lead]:
        """Every stored lead at the accounts *account_ids* (the people an account rolls up)."""
        return records.by_ids(self.connection, Entity.LEAD, "account_id", account_ids)

    def activities_for(self, lead_ids: Iterable[str]) -> list[Activity]:
        """Every stored activity of the leads *lead_ids*."""
        return records.by_ids(self.connection, Entity.ACTIVITY, "lead_id", lead_ids)

    def touches_for(self, lead_ids: Iterable[str]) -> list[Touch]:
        """Every stored touch of the leads *lead_ids*."""
        return records.by_ids(self.connection, Entity.TOUCH, "lead_id", lead_ids)

    def open_sla_leads(self) -> list[str]:
        """Leads whose SLA clock is still running (neither met nor stopped)."""
        return queries.open_sla_leads(self.connection)

    def save_cursor(self, job: str, cursor: Cursor) -> None:
        """Remember *cursor* for *job* (e.g. ``"run:salesforce"``), replacing the last one."""
        with self.store.transaction() as conn:
            cursors.save_cursor(conn, job, cursor)

    def load_cursor(self, job: str, entity: Entity | str) -> Cursor | None:
        """The cursor last saved for *job* and *entity*, or ``None``."""
        return cursors.load_cursor(self.connection, job, Entity(entity))

    # -- the state CRMs don't keep ---------------------------------------------------------------

    def score_history(self, lead_id: str) -> list[queries.ScoreRecord]:
        """Every score written for *lead_id*, oldest first."""
        return queries.score_history(self.connection, lead_id)

    def current_scores(self) -> dict[str, queries.ScoreRecord]:
        """The latest score of every scored lead."""
        return queries.current_scores(self.connection)

    def rejections(self) -> list[Rejection]:
        """Every recorded rejection, in the order recorded."""
        return queries.rejections(self.connection)

    def outcomes(self) -> list[Outcome]:
        """Every recorded outcome, in the order recorded."""
        return queries.outcomes(self.connection)

    def sla_clocks(self) -> dict[str, queries.SLAClock]:
        """Every lead's current SLA clock."""
        return queries.sla_clocks(self.connection)

    def counts(self) -> dict[str, int]:
        """Rows per table, e.g. for a summary."""
        return queries.counts(self.connection)
