"""The store's schema, as the migrations that build it: fixed SQL, written once, in order.

Scope: the text of every migration. Migration *n* takes a store from schema version ``n - 1``
to ``n`` (``PRAGMA user_version`` holds the version); :class:`~leadflow.adapters.sqlite.store.Store`
applies the missing ones in one transaction when it opens a file.

Rules for this module (the ones Alembic and Django follow):

* **A migration is never edited once released.** Stores in the field have already run it;
  changing its text changes nothing for them and makes new stores differ from upgraded ones.
* **Nothing here is generated from the model.** A new model field gets a row in
  :mod:`leadflow.adapters.sqlite.columns` *and* a new migration appended here that adds its
  column (``ALTER TABLE ... ADD COLUMN``), so existing stores gain it too.
* **No wall clock.** No default reads SQLite's clock (``CURRENT_TIMESTAMP``,
  ``datetime('now')``): rows are stamped with the job's ``now``, passed in.

To add one, append a :class:`Migration` to :data:`MIGRATIONS` with the next number; statements
are separated by ``;`` at the end of a line.

>>> [m.number for m in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
True
"""

from __future__ import annotations

import attrs

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration"]


@attrs.frozen(kw_only=True)
class Migration:
    """Migration *number*: what it is for (*summary*) and its fixed SQL text (*sql*)."""

    number: int
    summary: str
    sql: str

    def statements(self) -> list[str]:
        """The SQL statements, in order (the text split at ``;`` ending a line)."""
        return [s.strip() for s in self.sql.split(";\n") if s.strip()]


#: 1 (leadflow 0.1): the entities, the change counter, and a lead's stage history.
_V1 = """\
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters VALUES ('seq', 0);
CREATE TABLE leads (
    id TEXT PRIMARY KEY,
    created_at TEXT,
    email TEXT,
    first_name TEXT,
    last_name TEXT,
    title TEXT,
    company TEXT,
    industry TEXT,
    annual_revenue REAL,
    employees INTEGER,
    country TEXT,
    source TEXT,
    campaign TEXT,
    owner_id TEXT,
    account_id TEXT,
    handed_off_at TEXT,
    stage TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    rev INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX leads_seq ON leads(seq);
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT,
    domain TEXT,
    industry TEXT,
    annual_revenue REAL,
    employees INTEGER,
    country TEXT,
    owner_id TEXT,
    created_at TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    rev INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_seq ON accounts(seq);
CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    lead_id TEXT,
    kind TEXT,
    occurred_at TEXT,
    account_id TEXT,
    channel TEXT,
    campaign TEXT,
    content TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    rev INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX activities_seq ON activities(seq);
CREATE TABLE touches (
    id TEXT PRIMARY KEY,
    lead_id TEXT,
    kind TEXT,
    at TEXT,
    by TEXT,
    outcome TEXT,
    subject TEXT,
    rev INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX touches_seq ON touches(seq);
CREATE TABLE stage_history (
    lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL, from_stage TEXT NOT NULL, to_stage TEXT NOT NULL,
    at TEXT NOT NULL, by TEXT, reason TEXT, note TEXT,
    PRIMARY KEY (lead_id, pos)
);
CREATE INDEX activities_lead ON activities(lead_id);
CREATE INDEX touches_lead ON touches(lead_id);
CREATE INDEX leads_account ON leads(account_id);
"""

#: 2 (leadflow 0.1): the state CRMs do not keep, and jobs' sync cursors.
_V2 = """\
CREATE TABLE scores (
    lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, score REAL NOT NULL, summary TEXT NOT NULL,
    recommendation TEXT,
    recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (lead_id, seq)
);
CREATE TABLE rejections (
    lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    code TEXT NOT NULL, disposition TEXT NOT NULL, at TEXT NOT NULL, by TEXT NOT NULL,
    note TEXT, from_stage TEXT NOT NULL, reengage_at TEXT, seq INTEGER NOT NULL
);
CREATE INDEX rejections_lead ON rejections(lead_id);
CREATE TABLE outcomes (
    lead_id TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL, amount TEXT,
    currency TEXT, reason TEXT, competitor TEXT, opportunity_id TEXT, recorded_by TEXT,
    seq INTEGER NOT NULL
);
CREATE INDEX outcomes_lead ON outcomes(lead_id);
CREATE TABLE sla_clocks (
    lead_id TEXT PRIMARY KEY REFERENCES leads(id) ON DELETE CASCADE,
    due_at TEXT, state TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE sync_cursors (
    job TEXT NOT NULL, entity TEXT NOT NULL, token TEXT,
    PRIMARY KEY (job, entity)
);
"""

#: 3: rows are stamped with the job's ``now`` (``recorded_at``), never SQLite's clock. SQLite
#: cannot drop a column default, so ``scores`` is rebuilt without its wall-clock default (its
#: rows and their stamps kept); the other tables the job writes gain a ``recorded_at`` column,
#: ``NULL`` for rows recorded before it existed or without a ``now``.
_V3 = """\
CREATE TABLE scores_v3 (
    lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, score REAL NOT NULL, summary TEXT NOT NULL,
    recommendation TEXT,
    recorded_at TEXT,
    PRIMARY KEY (lead_id, seq)
);
INSERT INTO scores_v3 (lead_id, seq, score, summary, recommendation, recorded_at)
    SELECT lead_id, seq, score, summary, recommendation, recorded_at FROM scores;
DROP TABLE scores;
ALTER TABLE scores_v3 RENAME TO scores;
ALTER TABLE stage_history ADD COLUMN recorded_at TEXT;
ALTER TABLE rejections ADD COLUMN recorded_at TEXT;
ALTER TABLE outcomes ADD COLUMN recorded_at TEXT;
ALTER TABLE sla_clocks ADD COLUMN recorded_at TEXT;
"""

#: 4: a lead's owner history (who held it from when), so SLA credit follows the owner at the
#: time of each touch; leads stored before it have none (their current owner counts throughout).
_V4 = """\
CREATE TABLE owner_history (
    lead_id TEXT NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL, owner_id TEXT, at TEXT NOT NULL, by TEXT,
    PRIMARY KEY (lead_id, pos)
);
"""

#: 5: an ``expects_to_buy`` outcome's date (``Outcome.expected_by``), for the closed loop's
#: "expects to buy by <date>".
_V5 = """\
ALTER TABLE outcomes ADD COLUMN expected_by TEXT;
"""

#: Every migration, in order.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(number=1, summary="entities and stage history", sql=_V1),
    Migration(number=2, summary="scores, rejections, outcomes, SLA clocks, sync cursors", sql=_V2),
    Migration(number=3, summary="recorded_at stamped with the job's now, not the clock", sql=_V3),
    Migration(number=4, summary="owner history", sql=_V4),
    Migration(number=5, summary="expected_by of an expects_to_buy outcome", sql=_V5),
)

#: The schema version this leadflow writes (the number of the last migration).
SCHEMA_VERSION = len(MIGRATIONS)
