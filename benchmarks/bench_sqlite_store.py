"""Embedded store throughput, against plain sqlite3 measured in the same run.

Run on demand (not by pytest): ``python benchmarks/bench_sqlite_store.py [--leads N]``.

* writes: ``SQLiteAdapter.write`` of score writes in batches of 1,000 (each write checked for
  "unchanged" and conflicts, in a savepoint, its lead's version bumped) against the floor: one
  ``executemany`` INSERT of the same rows per batch in plain sqlite3;
* reads: ``read_leads`` building validated ``Lead`` values page by page against a plain
  ``SELECT *`` fetching the same rows as tuples.

The ratios say what the adapter's guarantees cost over the raw database on this machine.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from leadflow.adapters.sqlite import SQLiteAdapter
from leadflow.demo import generate
from leadflow.ports import Entity, ScoreWrite


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=5000)
    args = parser.parse_args()
    data = generate(leads=args.leads, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        store = SQLiteAdapter(path, page_size=500)
        store.upsert(Entity.LEAD, data.leads)
        ids = [lead.id for lead in data.leads]
        counter = iter(range(10**9))

        def adapter_writes() -> None:
            n = next(counter)
            writes = [ScoreWrite(lead_id=i, score=float(n), summary=f"run {n}") for i in ids]
            for start in range(0, len(writes), 1000):
                store.write(writes[start : start + 1000])

        raw = sqlite3.connect(Path(tmp) / "raw.sqlite", isolation_level=None)
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("CREATE TABLE scores (lead_id TEXT, seq INTEGER, score REAL, summary TEXT)")

        def raw_writes() -> None:
            n = next(counter)
            rows = [(i, n, float(n), f"run {n}") for i in ids]
            for start in range(0, len(rows), 1000):
                raw.execute("BEGIN IMMEDIATE")
                raw.executemany(
                    "INSERT INTO scores VALUES (?, ?, ?, ?)", rows[start : start + 1000]
                )
                raw.execute("COMMIT")

        def adapter_reads() -> None:
            assert sum(len(p.items) for p in store.read_leads()) == len(ids)

        def raw_reads() -> None:
            assert len(raw_store.execute("SELECT * FROM leads").fetchall()) == len(ids)

        raw_store = sqlite3.connect(path)
        results = {
            "write (score writes)": (_best(adapter_writes), _best(raw_writes)),
            "read (leads)": (_best(adapter_reads), _best(raw_reads)),
        }
        store.close()
        raw.close()
        raw_store.close()
    print(f"{args.leads} leads; best of 3; baseline = plain sqlite3 in the same run")
    for name, (ours, base) in results.items():
        print(
            f"{name:<22} adapter {len(ids) / ours:>10,.0f}/s   sqlite3 {len(ids) / base:>10,.0f}/s"
            f"   ratio {ours / base:5.1f}x the baseline's time"
        )


if __name__ == "__main__":
    main()
