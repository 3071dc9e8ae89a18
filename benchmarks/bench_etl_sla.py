"""Benchmark: the columnar SLA plan against the per-record rules, in the same run.

Generates (seeded) leads handed off over the three weeks before ``now`` with 0-5 touches each,
builds both representations once (``Lead``/``Touch`` objects, and Arrow tables), then times

(a) ``per-record``: :func:`leadflow.rules.sla.evaluate_many` over the objects;
(b) ``columnar``: :meth:`leadflow.etl.sla.SLAPlan.evaluate` over the Arrow tables (row checks
    included);

with ``examples/sla.toml`` and the calendar resolver of ``examples/calendars.toml``. The
columnar result is checked against the per-record one (same lead x step states and due
instants) before any time is reported. Prints leads/s and the ratio, plus CPU seconds (steadier
than wall time on a shared machine) and the load average. Not run by pytest::

    python benchmarks/bench_etl_sla.py                 # 100k leads
    python benchmarks/bench_etl_sla.py --leads 20000   # quicker
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from leadflow.business_time import load_calendars
from leadflow.etl.sla import compile_sla
from leadflow.model import Lead, Touch, TouchKind, TouchOutcome
from leadflow.rules.sla import evaluate_many, load_policies

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


def generate(n: int, seed: int) -> tuple[list[Lead], list[Touch]]:
    rnd = random.Random(seed)
    owners = ["u-ana", "u-bob", "u-lena", "u-mia", None]
    kinds, outcomes = list(TouchKind), list(TouchOutcome)
    leads: list[Lead] = []
    touches: list[Touch] = []
    for i in range(n):
        created = NOW - timedelta(days=rnd.uniform(2, 25))
        handoff = None if rnd.random() < 0.1 else created + timedelta(hours=rnd.uniform(0, 72))
        lead = Lead(
            id=f"L-{i}", created_at=created, owner_id=rnd.choice(owners), handed_off_at=handoff,
            source=rnd.choice(["web", "event", None]),
            country=rnd.choice(["US", "DE", "AU", "FR", None]),
        )  # fmt: skip
        leads.append(lead)
        for k in range(rnd.randrange(6)):
            touches.append(
                Touch(
                    id=f"T-{i}-{k}",
                    lead_id=lead.id,
                    kind=rnd.choice(kinds),
                    at=(handoff or created) + timedelta(hours=rnd.uniform(-5, 300)),
                    by=rnd.choice(owners[:-1]),
                    outcome=rnd.choice(outcomes),
                )
            )
    rnd.shuffle(touches)
    return leads, touches


def tables(leads: list[Lead], touches: list[Touch]) -> tuple[pa.Table, pa.Table]:
    lead_table = pa.table(
        {
            "id": [x.id for x in leads],
            "created_at": pa.array([x.created_at for x in leads], TS),
            "owner_id": [x.owner_id for x in leads],
            "handed_off_at": pa.array([x.handed_off_at for x in leads], TS),
            "source": [x.source for x in leads],
            "country": [x.country for x in leads],
        }
    )
    touch_table = pa.table(
        {
            "id": [t.id for t in touches],
            "lead_id": [t.lead_id for t in touches],
            "kind": [t.kind.value for t in touches],
            "at": pa.array([t.at for t in touches], TS),
            "by": [t.by for t in touches],
            "outcome": [t.outcome.value for t in touches],
        }
    )
    return lead_table, touch_table


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return result, best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260311)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per approach")
    args = parser.parse_args()

    policies = load_policies(ROOT / "examples" / "sla.toml")
    calendar = load_calendars(ROOT / "examples" / "calendars.toml")
    plan = compile_sla(policies, calendar)
    leads, touches = generate(args.leads, args.seed)
    lead_table, touch_table = tables(leads, touches)
    print(f"{len(leads):,} leads, {len(touches):,} touches, now {NOW.isoformat()}")

    evaluations, rec_wall, rec_cpu = timed(
        lambda: evaluate_many(leads, touches, now=NOW, policies=policies, calendar=calendar),
        args.repeat,
    )
    result, col_wall, col_cpu = timed(
        lambda: plan.evaluate(lead_table, touch_table, now=NOW), args.repeat
    )
    expected = [
        (e.lead_id, s.step, s.state.value, s.due.astimezone(UTC))
        for e in evaluations
        for s in e.steps
    ]
    got = list(
        zip(
            result.column("lead_id").to_pylist(),
            result.column("step").to_pylist(),
            result.column("state").to_pylist(),
            result.column("due_at").to_pylist(),
            strict=True,
        )
    )
    if got != expected:
        raise SystemExit("columnar result differs from the per-record result")
    print(f"checked: {len(got):,} lead x step rows identical")
    print(f"{'approach':<12} {'wall s':>8} {'leads/s':>10} {'cpu s':>8} {'ratio':>7}")
    for name, wall, cpu in (("per-record", rec_wall, rec_cpu), ("columnar", col_wall, col_cpu)):
        print(
            f"{name:<12} {wall:>8.2f} {len(leads) / wall:>10,.0f} {cpu:>8.2f} "
            f"{rec_wall / wall:>6.2f}x"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
