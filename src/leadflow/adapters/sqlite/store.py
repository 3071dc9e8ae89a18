"""The store file itself: the connection, transactions, the change counter and migrations.

Scope: plumbing every other module of :mod:`leadflow.adapters.sqlite` shares, and nothing
about entities, writes or reports. A :class:`Store` opens the SQLite file (or ``:memory:``),
switches a file to WAL journal mode (readers never block the writer) with a busy timeout (a
second writer waits for the lock instead of failing), and brings its schema up to
:data:`~leadflow.adapters.sqlite.migrations.SCHEMA_VERSION` in one transaction. A store written
by a newer leadflow is refused rather than misread.

:meth:`Store.transaction` is the unit of work: ``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back
when the block raises, so a process killed inside it leaves nothing behind.

>>> store = Store(":memory:")
>>> with store.transaction() as conn:
...     next_seq(conn), next_seq(conn)
(1, 2)
>>> store.close()
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator

from leadflow.adapters.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION
from leadflow.errors import AdapterError

__all__ = ["Store", "next_seq"]


class Store:
    """An open store at *path*: a file (created when missing) or ``":memory:"``.

    *busy_timeout* is how many seconds a writer waits for another process's lock.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = str(path)
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise AdapterError(f"cannot open {self.path!r}: {exc}", adapter="sqlite") from None
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise AdapterError(
                f"cannot open {self.path!r}: {exc} (is it a leadflow store?)", adapter="sqlite"
            ) from None
        except BaseException:
            self.close()
            raise

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection; :class:`~leadflow.errors.AdapterError` once closed."""
        if self._conn is None:
            raise AdapterError("the store is closed", adapter="sqlite")
        return self._conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One unit of work: everything done in the block commits together or not at all."""
        conn = self.connection
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                exc, sqlite3.IntegrityError
            ):
                raise self._unusable(exc) from exc
            raise

    def _unusable(self, exc: sqlite3.DatabaseError) -> AdapterError:
        """Locked past the busy timeout, read-only, disk full, not a database: the store
        cannot be used, which is no bug in the caller."""
        return AdapterError(f"{self.path!r}: {exc}", adapter="sqlite")

    def migrate(self) -> None:
        """Apply the migrations the file has not had yet, in one transaction."""
        with self.transaction() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise AdapterError(
                    f"{self.path!r} has schema version {version}, newer than this leadflow's "
                    f"{SCHEMA_VERSION}; upgrade leadflow to open it",
                    adapter="sqlite",
                )
            for migration in MIGRATIONS[version:]:
                for statement in migration.statements():
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {int(migration.number)}")

    def close(self) -> None:
        """Close the connection; calling it twice is harmless."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def next_seq(conn: sqlite3.Connection) -> int:
    """Take the next number of the store-wide change counter (inside a transaction)."""
    row = conn.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
    ).fetchone()
    return int(row[0])
