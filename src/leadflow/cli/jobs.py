"""Running the job and printing what it did, for ``run`` and ``demo``; the adherence table that
``sla`` and ``demo`` print.

Scope: the shared layer between the command modules and :mod:`leadflow.cli.config`: it opens the
state store, loads the adapter, calls :func:`leadflow.job.run`, and formats a
:class:`~leadflow.job.RunReport` and adherence rows for the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from leadflow.cli.base import Output
from leadflow.cli.config import load_adapter

__all__ = [
    "adherence_table",
    "print_run_report",
    "run_job",
    "scorer_from",
]


def _same_file(a: Any, b: Path) -> bool:
    try:
        return a is not None and str(a) != ":memory:" and Path(a).resolve() == b.resolve()
    except OSError:
        return False


def run_job(
    *,
    adapter_name: str,
    settings: dict[str, Any],
    store_path: Path,
    job_name: str,
    now: datetime,
    policies: tuple[Any, ...],
    calendar: Any,
    scorer: Any,
    batch_size: int,
    dry_run: bool,
    out: Output,
    source: Path | None = None,
) -> Any:
    """Load the adapter (settings from the configuration file *source*), open the state store,
    run the job; returns the :class:`RunReport`."""
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.job import Job
    from leadflow.job import run as run_the_job

    job = Job(
        name=job_name,
        now=now,
        scorer=scorer,
        policies=policies,
        calendar=calendar,
        batch_size=batch_size,
        dry_run=dry_run,
    )
    shared = adapter_name == "sqlite" and _same_file(settings.get("path"), store_path)
    store = SQLiteAdapter(store_path, now=now)  # rows are stamped with the job's now
    try:
        if shared:
            return run_the_job(job, store, cursors=store, history=store, progress=out.progress)
        adapter = load_adapter(adapter_name, settings, source=source)
        try:
            return run_the_job(
                job,
                adapter,
                cursors=store,
                history=store,
                mirror=store.mirror,
                record=store.write,
                progress=out.progress,
            )
        finally:
            adapter.close()
    finally:
        store.close()


def print_run_report(out: Output, report: Any) -> None:
    """Print a :class:`~leadflow.job.RunReport`: what was read, judged, scored and written, and
    the first problems and skipped steps (``--json`` has them all)."""
    out.text(
        f"Job {report.job!r} as of {report.now.isoformat()}"
        f"{' (dry run: nothing written)' if report.dry_run else ''}"
    )
    read = ", ".join(f"{n} {k}" for k, n in report.read.items()) or "nothing new"
    out.text(f"  read:      {read}")
    out.text(f"  judged:    {report.judged} leads")
    if report.scores:
        recs = ", ".join(f"{n} to {k}" for k, n in sorted(report.recommendations.items()))
        out.text(
            f"  scored:    {report.scores.get('scored', 0)} leads; stage moves: {recs or 'none'}; "
            f"sales-winnable accounts: {report.scores.get('sales_winnable_accounts', 0)}"
        )
    if report.sla:
        out.text(
            "  SLA:       leads by state after the run: "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.sla.items()))
        )
    for kind, statuses in report.writes.items():
        out.text(
            f"  write {kind:<10} " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items()))
        )
    if not report.writes:
        out.text("  writes:    none")
    out.text(f"  applied:   {report.applied} changes")
    for problem in report.problems[:20]:
        out.text(
            f"  ! {problem.write.kind.value} for {problem.write.lead_id}: "
            f"{problem.status.value}: {problem.error}"
        )
    if len(report.problems) > 20:
        out.text(f"  ... and {len(report.problems) - 20} more problems (use --json for all)")
    for skipped in report.skipped[:20]:
        out.text(f"  ! {skipped.step} not done for {skipped.record_id}: {skipped.error}")
    if len(report.skipped) > 20:
        out.text(f"  ... and {len(report.skipped) - 20} more not done (use --json for all)")


def scorer_from(path: Path | None) -> Any:
    """The job's scorer for the scorecard file *path* (``None``: the job scores nothing)."""
    from leadflow.job import scorecard_scorer
    from leadflow.rules.scorecard import load_scorecard

    return scorecard_scorer(load_scorecard(path)) if path is not None else None


def adherence_table(out: Output, rows: Sequence[dict[str, Any]], by: Sequence[str]) -> None:
    """Print adherence *rows* grouped *by* the given dimensions, with the HTML report's columns."""
    # The column names and definitions are those of the HTML report (AdherenceFigures).
    head = " / ".join(by)
    out.text(
        f"  {head:<28} {'steps':>6} {'met':>6} {'breached':>9} {'pending':>8} {'stopped':>8} "
        f"{'share met':>10} {'adherence':>10} {'median h':>9}"
    )
    for row in rows:
        label = " / ".join(str(row.get(dim) or "-") for dim in by)
        median = row.get("median_response_hours")
        out.text(
            f"  {label:<28} {row['steps']:>6} {row['met']:>6} {row['breached']:>9} "
            f"{row['pending']:>8} {row['stopped']:>8} {_share(row['share_met']):>10} "
            f"{_share(row['adherence']):>10} "
            f"{(f'{median:.1f}' if median is not None else '-'):>9}"
        )
    out.text(
        "  steps = met + breached + pending + stopped (the chase ended first: never judged); "
        "share met = met / (met + breached + pending); "
        "adherence = met / (met + breached), as in the HTML report"
    )


def _share(value: float | None) -> str:
    """A share as the HTML report prints it (one decimal), ``-`` when there is none."""
    return "-" if value is None else f"{value:.1%}"
