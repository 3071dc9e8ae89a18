"""Benchmark the feedback report (run on demand: ``python benchmarks/bench_analytics.py``).

Measures, in one run on the same data (the planted generator of tests/analytics, 20 000 leads):

* ``fit_decay`` on delays recorded to the minute (the likelihood groups non-conversions by
  distinct delay) against the same delays with sub-second jitter, so that every delay is distinct
  and grouping saves nothing: the baseline;
* ``build_report`` (every table) and ``render_html``.

Prints best-of-N wall-clock times and the ratio against the baseline.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.analytics.planted import generate

from leadflow.analytics import build_report, first_responses, fit_decay, render_html


def best_of(n: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    data = generate(20_000, seed=8)
    answered = [r for r in first_responses(data.leads, data.touches) if r.delay_hours is not None]
    delays = [r.delay_hours or 0.0 for r in answered]
    converted = [r.converted for r in answered]
    rng = random.Random(1)
    jittered = [d + rng.uniform(0, 1e-4) for d in delays]
    print(f"{len(delays)} answered leads, {len(set(delays))} distinct minute delays")
    grouped = best_of(3, lambda: fit_decay(delays, converted))
    baseline = best_of(3, lambda: fit_decay(jittered, converted))
    print(f"fit_decay, delays to the minute (grouped) : {grouped * 1000:8.1f} ms")
    print(f"fit_decay, all delays distinct (baseline): {baseline * 1000:8.1f} ms")
    print(f"  ratio baseline / grouped: {baseline / grouped:.1f}x")
    report = build_report(
        leads=data.leads,
        touches=data.touches,
        outcomes=data.outcomes,
        sla_results=data.sla,
        now=data.now,
    )
    build = best_of(
        3,
        lambda: build_report(
            leads=data.leads,
            touches=data.touches,
            outcomes=data.outcomes,
            sla_results=data.sla,
            now=data.now,
        ),
    )
    html = best_of(5, lambda: render_html(report))
    print(f"build_report, 20 000 leads (all tables)  : {build * 1000:8.1f} ms")
    print(f"render_html                              : {html * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
