"""Generated leads, accounts and activities as domain objects and as Arrow tables, and the
expected scores from :func:`leadflow.rules.scoring.score_lead`, for the compiled-SQL tests."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pyarrow as pa

from leadflow.model import STANDARD_ACTIVITY_KINDS, Account, Activity, Lead
from leadflow.rules.scorecard import Scorecard
from leadflow.rules.scoring import score_lead

AS_OF = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")

TITLES = ["VP Sales", "Director of IT", "Student", "Engineer", "CEO", "Head of Growth",
          "svp marketing", "Vice President, Ops", "Chief Executive", None]  # fmt: skip
INDUSTRIES = ["Software", "Retail", "Healthcare", "financial services", " Manufacturing", None]
COUNTRIES = ["US", "DE", "FR", "us", None]
EMAILS = ["ada@gmail.com", "bo@example.com", "cy@uni.edu", "di@corp.io", "ed@ex.org", None]
NAMES = ["Ada", "Bo", None]
PERSONAS = ["buyer", "Champion", "a|b", None]


@attrs.frozen
class Data:
    leads: list[Lead]
    accounts: dict[str, Account]
    activities: dict[str, list[Activity]]


def generate(n: int, seed: int, kinds: Sequence[str] = (), *, events_per_lead: int = 6) -> Data:
    """*n* leads (a third without an account), up to *events_per_lead* activities each over the
    200 days before :data:`AS_OF` and a few after it, of the standard kinds and *kinds*."""
    rnd = random.Random(seed)
    all_kinds = sorted(STANDARD_ACTIVITY_KINDS | set(kinds))
    accounts = {
        f"A-{i}": Account(
            id=f"A-{i}",
            name=rnd.choice(["Example Ltd", "Acme", "Globex"]),
            domain=rnd.choice(["example.com", "acme.io", None]),
            industry=rnd.choice(INDUSTRIES),
            annual_revenue=rnd.choice([None, 0.0, 4.5e8, 7.5e8, 2e10]),
            employees=rnd.choice([None, 10, 900, 12_000]),
            country=rnd.choice(COUNTRIES),
        )
        for i in range(max(1, n // 4))
    }
    leads: list[Lead] = []
    activities: dict[str, list[Activity]] = {}
    for i in range(n):
        lead = Lead(
            id=f"L-{i}",
            created_at=AS_OF - timedelta(days=400),
            email=rnd.choice(EMAILS),
            first_name=rnd.choice(NAMES),
            last_name=rnd.choice(NAMES),
            title=rnd.choice(TITLES),
            company=rnd.choice(["Acme", "Initech", None]),
            industry=rnd.choice(INDUSTRIES),
            annual_revenue=rnd.choice([None, 0.0, 1e6, 6e8, 1e10, rnd.uniform(0, 1e10)]),
            employees=rnd.choice([None, 0, 50, 250, 5000, rnd.randrange(100_000)]),
            country=rnd.choice(COUNTRIES),
            source=rnd.choice(["webinar", "ads", None]),
            account_id=None if rnd.random() < 0.33 else rnd.choice(sorted(accounts)),
            properties={"persona": p} if (p := rnd.choice(PERSONAS)) is not None else {},
        )
        leads.append(lead)
        found = []
        for k in range(rnd.randrange(events_per_lead + 1)):
            seconds = rnd.choice([rnd.uniform(0, 200 * 86400.0), rnd.randrange(0, 60) * 86400.0])
            if rnd.random() < 0.05:
                seconds = -rnd.uniform(0, 5 * 86400.0)  # after as_of: ignored
            at = AS_OF - timedelta(seconds=seconds)
            at = at.replace(microsecond=at.microsecond // 1000 * 1000)
            found.append(
                Activity(
                    id=f"E-{i}-{k}", lead_id=lead.id, kind=rnd.choice(all_kinds), occurred_at=at
                )
            )
        activities[lead.id] = found
    return Data(leads=leads, accounts=accounts, activities=activities)


def lead_table(data: Data) -> pa.Table:
    leads = data.leads
    return pa.table(
        {
            "id": pa.array([x.id for x in leads], pa.string()),
            "created_at": pa.array([x.created_at for x in leads], TS),
            **{
                name: pa.array([getattr(x, name) for x in leads], pa.string())
                for name in (
                    "email",
                    "first_name",
                    "last_name",
                    "title",
                    "company",
                    "industry",
                    "country",
                    "source",
                    "campaign",
                    "owner_id",
                    "account_id",
                    "stage",
                )
            },
            "annual_revenue": pa.array([x.annual_revenue for x in leads], pa.float64()),
            "employees": pa.array([x.employees for x in leads], pa.int64()),
            "handed_off_at": pa.array([x.handed_off_at for x in leads], TS),
            "persona": pa.array([x.properties.get("persona") for x in leads], pa.string()),
        }
    )


def account_table(data: Data) -> pa.Table:
    accounts = list(data.accounts.values())
    return pa.table(
        {
            "id": pa.array([a.id for a in accounts], pa.string()),
            **{
                name: pa.array([getattr(a, name) for a in accounts], pa.string())
                for name in ("name", "domain", "industry", "country", "owner_id")
            },
            "annual_revenue": pa.array([a.annual_revenue for a in accounts], pa.float64()),
            "employees": pa.array([a.employees for a in accounts], pa.int64()),
            "created_at": pa.array([a.created_at for a in accounts], TS),
        }
    )


def event_table(data: Data) -> pa.Table:
    events = [a for acts in data.activities.values() for a in acts]
    return pa.table(
        {
            "id": pa.array([a.id for a in events], pa.string()),
            "lead_id": pa.array([a.lead_id for a in events], pa.string()),
            "kind": pa.array([a.kind for a in events], pa.string()),
            "occurred_at": pa.array([a.occurred_at for a in events], TS),
        }
    )


def expected(card: Scorecard, data: Data, as_of: datetime = AS_OF) -> dict[str, dict[str, Any]]:
    """``score_lead`` for every lead, with the scale of its terms (for the tolerance)."""
    out = {}
    for lead in data.leads:
        account = None if lead.account_id is None else data.accounts[lead.account_id]
        result = score_lead(card, lead, data.activities[lead.id], as_of=as_of, account=account)
        scale = 1.0 + math.fsum(abs(c.points) for c in result.contributions)
        out[lead.id] = {
            "score": result.total,
            "fit": result.fit,
            "behaviour": result.behaviour,
            "interest": result.interest,
            "intent": result.intent,
            "recommendation": result.recommendation.value,
            "scale": scale,
        }
    return out


def compare(card: Scorecard, want: dict[str, dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Every lead once, the same numbers to 1e-9 (relative to the size of the terms) and the
    same recommendation -- unless the score lies within that tolerance of a threshold."""
    assert sorted(want) == sorted(r["id"] for r in rows)
    t = card.thresholds
    for row in rows:
        exp = want[row["id"]]
        tol = 1e-9 * exp["scale"]
        for key in ("score", "fit", "behaviour", "interest", "intent"):
            assert math.isclose(exp[key], row[key], rel_tol=0, abs_tol=tol), (
                row["id"],
                key,
                exp,
                row,
            )
        near = min(abs(exp["score"] - t.mql), abs(exp["score"] - t.sql_ready)) <= tol
        if not near:
            assert exp["recommendation"] == row["recommendation"], (row["id"], exp, row)
