"""The embedded store beyond the contract: schema, imports, state, two processes, crashes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from leadflow.adapters.sqlite import SCHEMA_VERSION, SQLiteAdapter
from leadflow.adapters.sqlite.migrations import MIGRATIONS
from leadflow.adapters.testing import sample_leads
from leadflow.errors import AdapterError, ConfigError, ValidationError
from leadflow.lifecycle import transition
from leadflow.model import Lead
from leadflow.outcomes import Outcome
from leadflow.ports import (
    Cursor,
    Entity,
    OutcomeWrite,
    RejectionWrite,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    WriteStatus,
)
from leadflow.reasons import reject

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


def test_new_store_is_at_the_current_schema_in_wal_mode(path: Path) -> None:
    with SQLiteAdapter(path) as store:
        conn = store.connection
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migrations_upgrade_an_old_store_and_keep_its_data(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0].statements():
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO leads (id, created_at, stage, properties, rev, seq) "
        "VALUES ('L-old', ?, 'inquiry', '{}', 1, 1)",
        (T0.isoformat(),),
    )
    conn.execute("UPDATE counters SET value = 1")
    conn.close()
    with SQLiteAdapter(path) as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        [page] = store.read_leads()
        assert [v.item.id for v in page.items] == ["L-old"]
        [result] = store.write([ScoreWrite(lead_id="L-old", score=5.0)])
        assert result.status is WriteStatus.APPLIED


def test_a_store_from_a_newer_leadflow_is_refused(path: Path) -> None:
    SQLiteAdapter(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(AdapterError, match="newer than this leadflow"):
        SQLiteAdapter(path)


def test_from_config_checks_its_settings(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        SQLiteAdapter.from_config({"path": str(path), "pagesize": 3})
    assert info.value.path == "pagesize"
    with pytest.raises(ConfigError, match="path"):
        SQLiteAdapter.from_config({})
    with pytest.raises(ValidationError, match="page_size"):
        SQLiteAdapter(path, page_size=0)


def test_store_keeps_the_state_crms_do_not(path: Path) -> None:
    with SQLiteAdapter(path) as store:
        [lead] = store.upsert(Entity.LEAD, sample_leads(1))
        moved = transition(lead, "mql", at=T0 + timedelta(hours=1), by="scoring")
        rejected, rejection = reject(moved, "no_budget", at=T0 + timedelta(days=1), by="u-ana")
        won = Outcome(
            lead_id=lead.id, kind="won", at=T0 + timedelta(days=90), amount="1200", currency="EUR"
        )
        results = store.write(
            [
                ScoreWrite(lead_id=lead.id, score=40.0, summary="fit 40"),
                ScoreWrite(lead_id=lead.id, score=75.0, summary="fit 40, intent 35"),
                StageWrite(lead_id=lead.id, change=moved.history[-1]),
                RejectionWrite(rejection=rejection, change=rejected.history[-1]),
                SLAWrite(lead_id=lead.id, due_at=T0 + timedelta(hours=4), state="met"),
                OutcomeWrite(outcome=won),
            ]
        )
        assert all(r.status is WriteStatus.APPLIED for r in results), [r.error for r in results]
    with SQLiteAdapter(path) as store:
        assert [s.score for s in store.score_history(lead.id)] == [40.0, 75.0]
        assert store.current_scores()[lead.id].summary == "fit 40, intent 35"
        assert store.rejections() == [rejection]
        assert store.outcomes() == [won]
        assert store.outcomes()[0].amount == Decimal("1200")
        assert store.sla_clocks()[lead.id].state == "met"
        [page] = store.read_leads()
        assert page.items[0].item == rejected
        assert store.counts()["stage_history"] == 2


def test_a_stage_change_from_the_wrong_stage_fails_alone(path: Path) -> None:
    with SQLiteAdapter(path) as store:
        a, b = store.upsert(Entity.LEAD, sample_leads(2))
        wrong = transition(Lead(id=a.id, created_at=T0, stage="sal"), "sql", at=T0)
        results = store.write(
            [
                ScoreWrite(lead_id=a.id, score=1.0),
                StageWrite(lead_id=a.id, change=wrong.history[-1]),
                ScoreWrite(lead_id=b.id, score=2.0),
            ]
        )
        assert [r.status.value for r in results] == ["applied", "failed", "applied"]
        assert "does not match lead" in (results[1].error or "")
        assert "'inquiry'" in (results[1].error or "")
        [page] = store.read_leads()
        assert {v.item.stage for v in page.items} == {"inquiry"}


def test_sync_cursors_are_kept_per_job_and_entity(path: Path) -> None:
    with SQLiteAdapter(path) as store:
        assert store.load_cursor("run:hubspot", "lead") is None
        store.save_cursor("run:hubspot", Cursor(entity="lead", token="17"))
        store.save_cursor("run:hubspot", Cursor(entity="lead", token="42"))
        store.save_cursor("run:other", Cursor(entity="lead", token="1"))
    with SQLiteAdapter(path) as store:
        assert store.load_cursor("run:hubspot", Entity.LEAD) == Cursor(entity="lead", token="42")
        with pytest.raises(ValidationError, match="not lead"):
            list(store.read_leads(Cursor(entity="touch", token="1")))
        with pytest.raises(ValidationError, match="change number"):
            list(store.read_leads(Cursor(entity="lead", token="2026-01-01|x")))


def test_csv_import_reports_bad_rows_and_keeps_good_ones(path: Path, tmp_path: Path) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(
        "id,email,created_at,employees,persona\n"
        "L-1,ada@example.com,2026-03-02T09:00:00+00:00,250,buyer\n"
        "L-2,not-an-email,2026-03-02T09:00:00+00:00,10,\n"
        "L-3,bob@example.com,2026-03-02T09:00:00,10,\n"
        "L-4,cy@example.com,2026-03-02T10:00:00Z,12.5,\n"
        "L-5,di@example.com,2026-03-02T11:00:00Z,,user,surplus\n"
        "L-6,ed@example.com,2026-03-02T12:00:00Z,7,\n",
        encoding="utf-8",
    )
    with SQLiteAdapter(path) as store:
        report = store.import_file("lead", source, batch_size=1, keep_good=True)
        assert report.imported == 2
        assert [(e.line, e.field) for e in report.errors] == [
            (3, "email"),
            (4, "created_at"),
            (5, "employees"),
            (6, ""),
        ]
        assert "not-an-email" in report.errors[0].message
        assert "naive" in report.errors[1].message
        assert "more values than the header" in str(report.errors[3])
        [page] = store.read_leads()
        leads = {v.item.id: v.item for v in page.items}
        assert sorted(leads) == ["L-1", "L-6"]
        assert leads["L-1"].properties["persona"] == "buyer"


def test_jsonl_import_reports_bad_lines(path: Path, tmp_path: Path) -> None:
    source = tmp_path / "touches.jsonl"
    good = {"id": "T-1", "lead_id": "L-1", "kind": "call", "at": "2026-03-02T10:00:00Z", "by": "u"}
    source.write_text(
        "\n".join(
            [
                json.dumps(good),
                "{broken",
                "[1, 2]",
                json.dumps({**good, "id": "T-2", "kind": "fax"}),
                "",
                json.dumps({**good, "id": "T-3", "outcome": "connected"}),
            ]
        )
        + "\n"
    )
    with SQLiteAdapter(path) as store:
        report = store.import_file(Entity.TOUCH, source, keep_good=True)
        assert report.imported == 2
        assert [(e.line, e.field) for e in report.errors] == [(2, ""), (3, ""), (4, "kind")]
        assert "not valid JSON" in report.errors[0].message
        assert "'fax'" in report.errors[2].message
        with pytest.raises(ConfigError, match="unknown file type"):
            store.import_file("lead", tmp_path / "x.xlsx")
        with pytest.raises(ConfigError, match="cannot read"):
            store.import_file("lead", tmp_path / "missing.csv")


def test_import_keeps_the_stored_history_and_handoff(path: Path, tmp_path: Path) -> None:
    # Importing a lead the store already holds must not wipe what only the store knows.
    handoff = T0 + timedelta(hours=2)
    with SQLiteAdapter(path) as store:
        [lead] = store.upsert(Entity.LEAD, sample_leads(1))
        moved = transition(lead, "mql", at=T0 + timedelta(hours=1), by="scoring")
        moved = transition(moved, "sal", at=handoff, by="rep")
        store.upsert(Entity.LEAD, [attrs.evolve(moved, handed_off_at=handoff)])
        source = tmp_path / "again.csv"
        source.write_text(
            "id,email,created_at,stage,title\n"
            f"{lead.id},ada@example.com,{lead.created_at.isoformat()},sal,CTO\n",
            encoding="utf-8",
        )
        report = store.import_file("lead", source)
        assert (report.imported, report.errors) == (1, ())
        kept = store.leads_by_id([lead.id])[lead.id]
        assert kept.title == "CTO"
        assert [c.to_stage for c in kept.history] == ["mql", "sal"]
        assert kept.history == moved.history
        assert kept.handed_off_at == handoff


WRITER = textwrap.dedent(
    """
    import sys, time
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.ports import ScoreWrite

    path, tag, batches, size, leads = sys.argv[1:6]
    stall = int(sys.argv[6]) if len(sys.argv) > 6 else -1


    class Stalling(list):
        # Stalls half-way through the batch's second pass: the apply loop, inside the
        # transaction, with half the writes applied - so a kill lands mid-batch for certain.
        passes = 0

        def __iter__(self):
            Stalling.passes += 1
            for i, item in enumerate(list.__iter__(self)):
                if Stalling.passes == 2 and i == len(self) // 2:
                    print("midway", flush=True)
                    time.sleep(120)
                yield item


    store = SQLiteAdapter(path, busy_timeout=60)
    ids = [f"L-{i:04d}" for i in range(int(leads))]
    for b in range(int(batches)):
        print(f"start {b}", flush=True)
        kind = Stalling if b == stall else list
        writes = kind(
            ScoreWrite(lead_id=ids[i % len(ids)], score=float(i), summary=f"{tag}-{b}")
            for i in range(int(size))
        )
        results = store.write(writes)
        assert all(r.status.value == "applied" for r in results), results[:3]
        print(f"done {b}", flush=True)
    store.close()
    """
)


def _seed_store(path: Path, leads: int) -> None:
    with SQLiteAdapter(path) as store:
        store.upsert(Entity.LEAD, sample_leads(leads))


def _batch_sizes(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT summary, COUNT(*) FROM scores GROUP BY summary"))
    finally:
        conn.close()


def test_two_processes_write_at_once(path: Path, tmp_path: Path) -> None:
    _seed_store(path, 50)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), tag, "8", "300", "50"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("p1", "p2")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.count("done") == 8
    sizes = _batch_sizes(path)
    assert sizes == {f"{tag}-{b}": 300 for tag in ("p1", "p2") for b in range(8)}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_a_writer_killed_mid_batch_loses_only_that_batch(path: Path, tmp_path: Path) -> None:
    _seed_store(path, 200)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    size = 2_000
    lines = []
    with subprocess.Popen(
        [sys.executable, str(script), str(path), "k", "5", str(size), "200", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline().strip()
            assert line, f"writer ended early: {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line)
            if line == "midway":
                break
        # The writer holds the write lock with 1,000 of batch 2's writes applied, uncommitted.
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert lines == ["start 0", "done 0", "start 1", "done 1", "start 2", "midway"]
    assert (tmp_path / "store.sqlite-wal").exists(), "the killed writer left its WAL behind"

    with SQLiteAdapter(path) as store:  # reopening recovers from the WAL
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert _batch_sizes(path) == {"k-0": size, "k-1": size}, "batch 2 left no trace"
        [result] = store.write([ScoreWrite(lead_id="L-0000", score=1.0, summary="after")])
        assert result.status is WriteStatus.APPLIED


def test_mirroring_keeps_the_stage_history_a_crm_does_not_have(path: Path) -> None:
    with SQLiteAdapter(path) as store:
        [lead] = store.upsert(Entity.LEAD, sample_leads(1))
        moved = transition(lead, "mql", at=T0 + timedelta(hours=1), by="scoring")
        assert store.write([StageWrite(lead_id=lead.id, change=moved.history[-1])])[0].ok
        from_crm = Lead(id=lead.id, created_at=lead.created_at, stage="mql", title="CTO")
        store.mirror(Entity.LEAD, [from_crm])
        kept = store.leads_by_id([lead.id])[lead.id]
        assert (kept.title, kept.history) == ("CTO", moved.history)
        # The stage changed in the CRM: the incoming record wins.
        store.mirror(Entity.LEAD, [Lead(id=lead.id, created_at=lead.created_at, stage="sal")])
        now = store.leads_by_id([lead.id])[lead.id]
        assert (now.stage, now.history) == ("sal", ())


def test_a_stage_write_stores_the_handoff_and_mirroring_keeps_it(path: Path) -> None:
    handoff = T0 + timedelta(hours=1)
    with SQLiteAdapter(path) as store:
        assert store.capabilities.handoff_time
        [lead] = store.upsert(Entity.LEAD, sample_leads(1))
        moved = transition(lead, "mql", at=handoff, by="scoring")
        write = StageWrite(lead_id=lead.id, change=moved.history[-1], handed_off_at=handoff)
        assert [r.status.value for r in store.write([write])] == ["applied"]
        assert [r.status.value for r in store.write([write])] == ["unchanged"]
        assert store.leads_by_id([lead.id])[lead.id].handed_off_at == handoff
        # A CRM that has no hand-off field sends none back: the stored one is kept...
        store.mirror(Entity.LEAD, [Lead(id=lead.id, created_at=lead.created_at, stage="mql")])
        assert store.leads_by_id([lead.id])[lead.id].handed_off_at == handoff
        # ...and one that has a hand-off field wins.
        later = handoff + timedelta(days=2)
        store.mirror(
            Entity.LEAD,
            [Lead(id=lead.id, created_at=lead.created_at, stage="mql", handed_off_at=later)],
        )
        assert store.leads_by_id([lead.id])[lead.id].handed_off_at == later


def test_a_file_that_is_no_database_or_a_locked_store_is_an_adapter_error(
    path: Path, tmp_path: Path
) -> None:
    other = tmp_path / "notes.sqlite"
    other.write_text("not a database\n")
    with pytest.raises(AdapterError, match="not a database"):
        SQLiteAdapter(other)
    store = SQLiteAdapter(path, busy_timeout=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(AdapterError, match="locked"):
            store.upsert(Entity.LEAD, sample_leads(1))
        with pytest.raises(AdapterError, match="locked"):
            SQLiteAdapter(path, busy_timeout=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        store.close()
    with SQLiteAdapter(path) as store:
        assert store.counts()["leads"] == 0
