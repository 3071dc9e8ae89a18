"""The embedded store: leadflow's default adapter, one SQLite file (or ``:memory:``).

Scope: a real system of record on the standard library's :mod:`sqlite3` — for teams without a
CRM, and for the state CRMs do not keep: score and explanation history, stage history,
rejections, outcomes, SLA clocks, and the sync cursors of jobs that read other adapters.

Guarantees:

* **Versioned schema.** ``PRAGMA user_version`` records the schema version; opening a store
  applies the missing migrations in one transaction, and a store written by a newer leadflow is
  refused rather than misread.
* **A transaction per batch.** :meth:`SQLiteAdapter.write` applies a whole batch in one
  ``BEGIN IMMEDIATE`` transaction (each write in a savepoint, so a bad write fails alone): a
  process killed mid-batch leaves the batch entirely absent, never half-applied.
* **Two processes at once.** WAL journal mode (readers never block the writer) and a busy
  timeout: a second writer waits for the lock instead of failing.
* **Incremental reads.** Every change takes the next number of a store-wide change counter; a
  cursor is the last number read, so a reader resumes exactly after it.

The package is split by job, one reason to change per module:

* :mod:`~leadflow.adapters.sqlite.store` — the connection, transactions (the unit of work), the
  change counter, running migrations;
* :mod:`~leadflow.adapters.sqlite.migrations` — each migration's fixed SQL text;
* :mod:`~leadflow.adapters.sqlite.columns` — the explicit field-to-column table;
* :mod:`~leadflow.adapters.sqlite.records` — leads, accounts, activities, touches in and out;
* :mod:`~leadflow.adapters.sqlite.writes` — carrying out the job's writes;
* :mod:`~leadflow.adapters.sqlite.cursors` — jobs' sync cursors;
* :mod:`~leadflow.adapters.sqlite.queries` — score history, rejections, outcomes, SLA clocks;
* :mod:`~leadflow.adapters.sqlite.sources` — reading CSV and JSON-lines files, row by row;
* :mod:`~leadflow.adapters.sqlite.importer` — importing them, one transaction per file;
* :mod:`~leadflow.adapters.sqlite.adapter` — :class:`SQLiteAdapter`, the adapter over all of them.

>>> from datetime import datetime, timezone
>>> from leadflow.model import Lead
>>> from leadflow.ports import Entity, ScoreWrite
>>> store = SQLiteAdapter(":memory:")
>>> at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
>>> _ = store.upsert(Entity.LEAD, [Lead(id="L-1", email="ada@example.com", created_at=at)])
>>> [page] = store.read_leads()
>>> page.items[0].item.email, page.items[0].version, page.cursor.token
('ada@example.com', '1', '1')
>>> [r.status.value for r in store.write([ScoreWrite(lead_id="L-1", score=71.0)] * 2)]
['applied', 'unchanged']
>>> list(store.read_leads(page.cursor))[0].items[0].version
'2'
>>> store.close()
"""

from __future__ import annotations

from leadflow.adapters.sqlite.adapter import SQLiteAdapter
from leadflow.adapters.sqlite.importer import ImportKind, ImportReport, RowError
from leadflow.adapters.sqlite.migrations import SCHEMA_VERSION
from leadflow.adapters.sqlite.queries import ScoreRecord, SLAClock

__all__ = [
    "SCHEMA_VERSION",
    "ImportKind",
    "ImportReport",
    "RowError",
    "SLAClock",
    "SQLiteAdapter",
    "ScoreRecord",
]
