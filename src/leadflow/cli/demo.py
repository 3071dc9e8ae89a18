"""``leadflow demo``: create a seeded sample store, run the whole job on it, print a summary and
write the feedback report — the first command a newcomer runs, no CRM account needed."""

from __future__ import annotations

import argparse
import sqlite3
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadflow.cli.base import Exit, Output
from leadflow.cli.config import DEFAULT_DEMO_STORE, read_all
from leadflow.cli.jobs import adherence_table, print_run_report, run_job
from leadflow.cli.reporting import write_demo_report
from leadflow.errors import ConfigError

__all__ = [
    "demo",
    "demo_arguments",
]


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow demo``."""
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(DEFAULT_DEMO_STORE),
        help=f"where to create the demo store (default: ./{DEFAULT_DEMO_STORE})",
    )
    parser.add_argument("--leads", type=int, default=3000, help="how many leads (default 3000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
    parser.add_argument(
        "--report", type=Path, default=Path("leadflow-report.html"), help="feedback report file"
    )


def _is_leadflow_store(path: Path) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return {"leads", "counters", "sync_cursors"} <= names


def _fresh_store(path: Path, out: Output) -> None:
    if not path.exists():
        return
    if not _is_leadflow_store(path):
        raise ConfigError(str(path), "exists and is not a leadflow store; pass another --store")
    out.text(f"Replacing the demo store {path}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def demo(args: argparse.Namespace, out: Output) -> int:
    """Create a seeded sample store and run the whole job on it, then summarise."""
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.demo import demo_calendar, demo_policies, demo_scorecard, generate
    from leadflow.job import scorecard_scorer
    from leadflow.ports import Entity, Write

    if args.leads < 1:
        raise ConfigError("--leads", f"must be at least 1, got {args.leads}")
    _fresh_store(args.store, out)
    data = generate(leads=args.leads, seed=args.seed)
    with SQLiteAdapter(args.store, now=data.now) as store:
        for entity, name, items in (
            (Entity.ACCOUNT, "accounts", data.accounts),
            (Entity.LEAD, "leads", data.leads),
            (Entity.ACTIVITY, "activities", data.activities),
            (Entity.TOUCH, "touches", data.touches),
        ):
            for start in range(0, len(items), 1000):
                store.upsert(entity, items[start : start + 1000])
                out.progress(f"storing {name}", min(start + 1000, len(items)), len(items))
        history: list[Write] = [*data.rejections, *data.outcomes]
        recorded = store.write(history)
        refused = [r for r in recorded if not r.ok]
        if refused:
            raise ConfigError("demo", f"the generated history was refused: {refused[0].error}")
    report = run_job(
        adapter_name="sqlite",
        settings={"path": str(args.store)},
        store_path=args.store,
        job_name="demo",
        now=data.now,
        policies=demo_policies(),
        calendar=demo_calendar(),
        scorer=scorecard_scorer(demo_scorecard()),
        batch_size=1000,
        dry_run=False,
        out=out,
    )
    out.progress.done()
    summary = _demo_summary(args.store, data, report)
    summary["report"] = str(write_demo_report(args.store, args.report, now=data.now))
    out.data(summary)
    _print_demo(out, args.store, summary, report)
    out.text(f"Feedback report: {summary['report']} (open it in a browser)")
    return Exit.OK if report.ok else Exit.PARTIAL


def _demo_summary(path: Path, data: Any, report: Any) -> dict[str, Any]:
    from leadflow.adapters.sqlite import SQLiteAdapter
    from leadflow.demo import demo_calendar, demo_policies
    from leadflow.model import by_lead
    from leadflow.rules.sla import adherence, evaluate_many

    with SQLiteAdapter(path) as store:
        counts = store.counts()
        leads = read_all(store, "read_leads")
        touches = read_all(store, "read_touches")
        rejections = store.rejections()
        outcomes = store.outcomes()
        scores = sorted(store.current_scores().values(), key=lambda s: (-s.score, s.lead_id))
    mine = by_lead(touches)
    evaluations = evaluate_many(
        [(lead, mine.get(lead.id, [])) for lead in leads],
        as_of=data.now,
        policies=demo_policies(),
        calendar=demo_calendar(),
    )
    by_source: dict[str, Counter[str]] = {}
    for lead in leads:
        by_source.setdefault(lead.source or "-", Counter())[lead.stage] += 1
    rejected_ids = {r.lead_id for r in rejections}
    won = [o for o in outcomes if o.kind.value == "won"]
    return {
        "store": str(path),
        "as_of": data.now.isoformat(),
        "counts": counts,
        "stages": dict(Counter(lead.stage for lead in leads).most_common()),
        "sources": {
            s: {
                "leads": sum(c.values()),
                "won": c.get("won", 0),
                "rejected": c.get("recycled", 0) + c.get("disqualified", 0),
            }
            for s, c in sorted(by_source.items(), key=lambda kv: -sum(kv[1].values()))
        },
        "reject_reasons": dict(Counter(r.code for r in rejections).most_common()),
        "rejected_then_bought_elsewhere": sum(
            1 for o in outcomes if o.kind.value == "competitor" and o.lead_id in rejected_ids
        ),
        "rejected_then_bought_from_us": sum(
            1 for o in outcomes if o.kind.value == "won" and o.lead_id in rejected_ids
        ),
        "won": {"deals": len(won), "amount": str(sum((o.amount or 0) for o in won))},
        "sla_by_owner": adherence(evaluations, by=("owner",)),
        "sla_leads_by_state": dict(sorted(Counter(e.state for e in evaluations).items())),
        "sales_winnable_accounts": report.scores.get("sales_winnable_accounts", 0),
        "top_scores": [
            {
                "lead_id": s.lead_id,
                "score": s.score,
                "recommendation": s.recommendation,
                "explanation": s.summary,
            }
            for s in scores[:5]
        ],
        "run": report.to_dict(),
    }


def _print_demo(out: Output, path: Path, summary: dict[str, Any], report: Any) -> None:
    counts = summary["counts"]
    out.text(f"leadflow demo: a seeded sample company, as of {summary['as_of']}")
    out.text(
        f"  store: {path}  ({counts['leads']} leads, {counts['accounts']} accounts, "
        f"{counts['activities']} activities, {counts['touches']} touches, "
        f"{counts['rejections']} rejections, {counts['outcomes']} outcomes)"
    )
    out.text()
    out.text("Funnel by source (leads / won / rejected):")
    for source, row in summary["sources"].items():
        out.text(f"  {source:<22} {row['leads']:>6} {row['won']:>6} {row['rejected']:>9}")
    out.text()
    out.text("Why sales rejected leads:")
    for code, n in summary["reject_reasons"].items():
        out.text(f"  {code:<22} {n:>6}")
    out.text(
        f"  rejected leads that later bought: {summary['rejected_then_bought_from_us']} from us, "
        f"{summary['rejected_then_bought_elsewhere']} from a competitor"
    )
    amount = f"{float(summary['won']['amount']):,.0f}"
    out.text(f"  won: {summary['won']['deals']} deals, {amount} USD")
    out.text()
    out.text(
        "SLA adherence by owner, steps counted for the owner of their moment "
        "(first touch within 24 business hours, 3 attempts in 8 days):"
    )
    adherence_table(out, summary["sla_by_owner"], ("owner",))
    states = ", ".join(f"{k} {v}" for k, v in summary["sla_leads_by_state"].items())
    out.text(
        f"  leads by SLA state: {states} (what `leadflow sla` prints for this instant, and the "
        "run's SLA line below without its final actions)"
    )
    out.text()
    out.text(
        f"Sales-winnable accounts: {summary['sales_winnable_accounts']} (target-fit accounts where "
        "several people engage and engagement is not cooling; their leads go to sales now)"
    )
    out.text()
    out.text("Top scored leads, with the scorecard's explanation:")
    for row in summary["top_scores"]:
        out.text(
            f"  {row['lead_id']}  {row['score']:>5.1f}  {row['recommendation']:<10} "
            f"{row['explanation']}"
        )
    out.text()
    print_run_report(out, report)
    out.text()
    # The follow-ups judge the data as of the demo's instant, not today's clock (on which every
    # demo lead would have decayed to nurture and every open SLA clock breached).
    as_of = datetime.fromisoformat(summary["as_of"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out.text(
        f"Next: leadflow sla --store {path} --now {as_of} --by owner,step   |   "
        f"leadflow score --store {path} --now {as_of}   |   leadflow adapters"
    )
