"""Re-running the job is safe (issue 13): the same inputs and ``now`` write nothing the second
time, and a run killed with SIGKILL at any point ends, once re-run, where an unkilled run ends.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.demo import demo_calendar, demo_policies, demo_scorecard, generate
from leadflow.job import Job, run, scorecard_scorer
from leadflow.ports import Entity

SRC = Path(__file__).resolve().parents[1] / "src"

# The job as ``leadflow run --adapter sqlite`` runs it on a store that is also the adapter,
# in a child process that SIGKILLs itself just before its N-th SQL statement (0: never).
DRIVER = textwrap.dedent(
    """
    import os, signal, sqlite3, sys

    store_path, kill_at, leads, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    real_connect = sqlite3.connect
    count = 0

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)

        def trace(_statement):
            global count
            count += 1
            if count == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        conn.set_trace_callback(trace)
        return conn

    sqlite3.connect = connect

    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.demo import demo_calendar, demo_policies, demo_scorecard, generate
    from leadflow.job import Job, run, scorecard_scorer

    now = generate(leads=leads, seed=seed).now
    job = Job(name="nightly", now=now, scorer=scorecard_scorer(demo_scorecard()),
              policies=demo_policies(), calendar=demo_calendar(), batch_size=7)
    store = SQLiteAdapter(store_path)
    report = run(job, store, cursors=store, history=store)
    store.close()
    print(count, report.applied)
    """
)

LEADS, SEED = 30, 11


def _seed_store(path: Path, *, leads: int = LEADS, seed: int = SEED) -> None:
    data = generate(leads=leads, seed=seed)
    store = SQLiteAdapter(path)
    for entity, items in [
        (Entity.ACCOUNT, data.accounts),
        (Entity.LEAD, data.leads),
        (Entity.ACTIVITY, data.activities),
        (Entity.TOUCH, data.touches),
    ]:
        store.upsert(entity, items)
    store.close()


def _drive(driver: Path, store: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, str(driver), str(store), str(kill_at), str(LEADS), str(SEED)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


_VOLATILE = {
    "rev",
    "seq",
    "token",
    "recorded_at",
}  # bookkeeping (versions, cursors), SQLite's clock


def _state(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            # counters and sync_cursors are bookkeeping: where the next read resumes, which moves
            # as a run reads the store's own writes (a re-run reads the rejections it wrote).
            if r[0] not in {"counters", "sqlite_sequence", "sync_cursors"}
        ]
        out: dict[str, list[tuple[object, ...]]] = {}
        for table in sorted(tables):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            keep = [c for c in cols if c not in _VOLATILE]
            rows = conn.execute(f"SELECT {', '.join(keep)} FROM {table}").fetchall()
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        conn.close()


def test_a_second_run_writes_nothing_even_for_leads_the_sla_recycled() -> None:
    data = generate(leads=400, seed=3)
    store = SQLiteAdapter(":memory:")
    for entity, items in [
        (Entity.ACCOUNT, data.accounts),
        (Entity.LEAD, data.leads),
        (Entity.ACTIVITY, data.activities),
        (Entity.TOUCH, data.touches),
    ]:
        store.upsert(entity, items)
    job = Job(
        name="nightly",
        now=data.now,
        scorer=scorecard_scorer(demo_scorecard()),
        policies=demo_policies(),
        calendar=demo_calendar(),
    )
    first = run(job, store, cursors=store, history=store)
    assert first.sla.get("final_actions", 0) > 0, "the demo has cadences that ran out"
    recycled = [
        lead
        for lead in store.leads_by_id([d.id for d in data.leads]).values()
        if lead.history and lead.history[-1].by == "leadflow-sla"
    ]
    assert recycled
    second = run(job, store, cursors=store, history=store)
    assert (second.applied, second.recommendations) == (0, {})
    after = store.leads_by_id([lead.id for lead in recycled])
    assert all(after[lead.id] == lead for lead in recycled)  # still resting in nurture
    store.close()


@pytest.mark.slow
def test_a_run_killed_at_any_point_ends_like_one_never_killed(tmp_path: Path) -> None:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    reference = tmp_path / "reference.db"
    _seed_store(reference)
    done = _drive(driver, reference, 0)
    assert done.returncode == 0, done.stderr
    statements, applied = map(int, done.stdout.split())
    assert applied > 0
    expected = _state(reference)
    again = _drive(driver, reference, 0)
    assert again.returncode == 0, again.stderr
    assert int(again.stdout.split()[1]) == 0  # the unkilled re-run writes nothing
    assert _state(reference) == expected

    kill_points = sorted(
        {1, 2, 5, 9, *(statements * i // 14 for i in range(1, 14)), statements - 1}
    )
    for kill_at in kill_points:
        store = tmp_path / f"killed-{kill_at}.db"
        _seed_store(store)
        killed = _drive(driver, store, kill_at)
        assert killed.returncode == -signal.SIGKILL, (kill_at, killed.stdout, killed.stderr)
        rerun = _drive(driver, store, 0)
        assert rerun.returncode == 0, (kill_at, rerun.stderr)
        assert _state(store) == expected, f"killed before SQL statement {kill_at} of {statements}"
