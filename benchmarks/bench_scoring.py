"""Benchmark: score 100k leads x ~15 activities with the example scorecard.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/bench_scoring.py [--leads 100000] [--chunk 10000] [--seed 7]
                                                 [--repeat 3]

It compares ``leadflow.rules.score_many`` with a naive pure-Python scorer of the same card (the
card's plain dict, interpreted rule by rule, looping over every activity for every rule),
measured in the same run on the same generated data, and checks that both give the same totals.
Data is generated in chunks from a seeded generator, so memory stays bounded; only scoring is
timed, in CPU time of this process (the machine may be shared), with the garbage collector off,
keeping the fastest of ``--repeat`` runs of each chunk. Target: at least 5x the naive scorer per record on one core.

``score_many`` builds a result's ``Contribution`` objects when ``contributions`` is first read
(a batch that keeps totals never pays for them), while the naive scorer always builds its
contribution dicts; so it is also timed with every result's contributions read, and both
ratios are printed.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow.model import Account, Activity, Lead
from leadflow.rules import FREE_MAIL_DOMAINS, load_scorecard, score_many

CARD_PATH = Path(__file__).resolve().parents[1] / "examples" / "scorecard.toml"
AS_OF = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)

TITLES = [
    "VP Sales",
    "Director of IT",
    "Engineer",
    "Chief Data Officer",
    "Student",
    "Analyst",
    "Head of Procurement",
    "Marketing Manager",
    "CEO",
    None,
]
INDUSTRIES = ["Software", "Retail", "Healthcare", "Manufacturing", "Education", None]
DOMAINS = ["gmail.com", "acme.io", "example.com", "uni.edu", "corp.net", "outlook.com"]
KINDS = [
    "web_visit",
    "pricing_page_visit",
    "email_open",
    "email_click",
    "content_download",
    "case_study_download",
    "webinar_registration",
    "webinar_attended",
    "demo_request",
    "quote_request",
    "form_submit",
]
WEIGHTS = [30, 8, 25, 10, 6, 4, 4, 3, 1, 1, 3]


def make_accounts(rng: random.Random, n: int = 1000) -> dict[str, Account]:
    return {
        f"A-{i}": Account(
            id=f"A-{i}",
            name=f"Company {i}",
            industry=rng.choice(INDUSTRIES),
            annual_revenue=rng.choice([None, rng.uniform(1e6, 5e9)]),
        )
        for i in range(n)
    }


def make_chunk(rng: random.Random, start: int, size: int) -> list[tuple[Lead, list[Activity]]]:
    rows = []
    created = AS_OF - timedelta(days=400)
    for i in range(start, start + size):
        lead_id = f"L-{i}"
        lead = Lead(
            id=lead_id,
            created_at=created,
            email=f"p{i}@{rng.choice(DOMAINS)}",
            title=rng.choice(TITLES),
            industry=rng.choice(INDUSTRIES),
            annual_revenue=rng.choice([None, rng.uniform(1e6, 5e9)]),
            account_id=f"A-{rng.randrange(1000)}",
        )
        n = max(0, int(rng.gauss(15, 4)))
        kinds = rng.choices(KINDS, WEIGHTS, k=n)
        acts = [
            Activity(
                id=f"{lead_id}-{j}",
                lead_id=lead_id,
                kind=kind,
                occurred_at=AS_OF - timedelta(seconds=rng.uniform(0, 180 * 86400)),
            )
            for j, kind in enumerate(kinds)
        ]
        rows.append((lead, acts))
    return rows


# -- the naive scorer: the card as a dict, interpreted per lead, every activity per rule -------


def naive_value(field: str, lead: Lead, account: Account | None) -> Any:
    if field.startswith("account.properties."):
        return None if account is None else account.properties.get(field.split(".", 2)[2])
    if field.startswith("account."):
        return None if account is None else getattr(account, field.split(".", 1)[1])
    if field.startswith("properties."):
        return lead.properties.get(field.split(".", 1)[1])
    return getattr(lead, field)


def naive_norm(value: Any) -> Any:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value.strip().casefold())
    return ("o", value)


def naive_condition(
    cond: dict[str, Any], lead: Lead, account: Account | None, acts: list[Activity], as_of: datetime
) -> list[Activity] | None:
    """None if the condition fails, else the activities behind it (possibly none)."""
    if "all" in cond:
        found: list[Activity] = []
        for child in cond["all"]:
            sub = naive_condition(child, lead, account, acts, as_of)
            if sub is None:
                return None
            found += sub
        return found
    if "any" in cond:
        result: list[Activity] | None = None
        for child in cond["any"]:
            sub = naive_condition(child, lead, account, acts, as_of)
            if sub is not None:
                result = sub if result is None else result + sub
        return result
    if "not" in cond:
        return [] if naive_condition(cond["not"], lead, account, acts, as_of) is None else None
    if "activity" in cond:
        matched = []
        for a in acts:
            age = (as_of - a.occurred_at).total_seconds() / 86400
            if (
                a.kind in cond["activity"]
                and age >= 0
                and (cond.get("within_days") is None or age <= cond["within_days"])
            ):
                matched.append(a)
        return matched if len(matched) >= cond.get("at_least", 1) else None
    if "free_mail" in cond:
        domains = cond.get("domains") or FREE_MAIL_DOMAINS
        return [] if lead.email_domain in domains else None
    if "keywords" in cond:
        value = naive_value(cond.get("field", "title"), lead, account)
        words = "|".join(re.escape(k) for k in cond["keywords"])
        hit = value is not None and re.search(rf"(?<!\w)(?:{words})(?!\w)", str(value), re.I)
        return [] if hit else None
    value = naive_value(cond["field"], lead, account)
    if "equals" in cond:
        ok = value is not None and naive_norm(value) == naive_norm(cond["equals"])
    elif "in" in cond:
        ok = value is not None and naive_norm(value) in [naive_norm(v) for v in cond["in"]]
    elif "min" in cond or "max" in cond:
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and cond.get("min", -math.inf) <= value <= cond.get("max", math.inf)
        )
    elif "regex" in cond:
        ok = value is not None and re.search(cond["regex"], str(value)) is not None
    elif "missing" in cond:
        ok = value is None
    else:
        ok = value is not None
    return [] if ok else None


def naive_base(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule": rule["id"],
        "label": rule.get("label", rule["id"].replace("_", " ")),
        "category": rule["category"],
        "signal": rule.get("signal"),
    }


def naive_score(
    card: dict[str, Any], lead: Lead, acts: list[Activity], account: Account | None, as_of: datetime
) -> dict[str, Any]:
    """The same result as ``score_lead`` (totals, subtotals, contributions, recommendation)."""
    contributions = []
    for rule in card["rules"]:
        points = rule["points"]
        cap = rule.get("cap", math.inf)
        half_life = rule.get("half_life_days", card["half_life_days"])
        if rule["category"] == "fit":
            if naive_condition(rule["when"], lead, account, acts, as_of) is not None:
                value = max(-cap, min(cap, points))
                contributions.append(
                    {
                        **naive_base(rule),
                        "raw_points": points,
                        "points": value,
                        "capped": value != points,
                    }
                )
            continue
        if "activities" in rule:
            if "when" in rule and naive_condition(rule["when"], lead, account, acts, as_of) is None:
                continue
            earned, evidence, ages = [], [], []
            for a in acts:
                if a.kind not in rule["activities"]:
                    continue
                age = (as_of - a.occurred_at).total_seconds() / 86400
                if age < 0 or ("within_days" in rule and age > rule["within_days"]):
                    continue
                earned.append(points * 0.5 ** (age / half_life))
                evidence.append(a.id)
                ages.append(age)
            if evidence:
                raw = math.fsum(earned)
                value = max(-cap, min(cap, raw))
                contributions.append(
                    {
                        **naive_base(rule),
                        "raw_points": points * len(evidence),
                        "points": value,
                        "capped": value != raw,
                        "evidence": evidence,
                        "age_days": min(ages),
                        "half_life_days": half_life,
                    }
                )
            continue
        found = naive_condition(rule["when"], lead, account, acts, as_of)
        if found:
            newest = min((as_of - a.occurred_at).total_seconds() / 86400 for a in found)
            raw = points * 0.5 ** (newest / half_life)
            value = max(-cap, min(cap, raw))
            contributions.append(
                {
                    **naive_base(rule),
                    "raw_points": points,
                    "points": value,
                    "capped": value != raw,
                    "evidence": [a.id for a in found],
                    "age_days": newest,
                    "half_life_days": half_life,
                }
            )
    total = math.fsum(c["points"] for c in contributions)
    intent = [c["points"] for c in contributions if c["signal"] == "intent"]
    thresholds = card["thresholds"]
    if total >= thresholds["sql_ready"] and (
        not thresholds["sql_ready_requires_intent"] or any(p > 0 for p in intent)
    ):
        recommendation = "sql_ready"
    elif total >= thresholds["mql"]:
        recommendation = "mql"
    else:
        recommendation = "nurture"
    return {
        "lead_id": lead.id,
        "total": total,
        "fit": math.fsum(c["points"] for c in contributions if c["category"] == "fit"),
        "behaviour": math.fsum(c["points"] for c in contributions if c["category"] != "fit"),
        "interest": math.fsum(c["points"] for c in contributions if c["signal"] == "interest"),
        "intent": math.fsum(intent),
        "recommendation": recommendation,
        "contributions": contributions,
    }


def chunks(
    args: argparse.Namespace, rng: random.Random
) -> Iterator[list[tuple[Lead, list[Activity]]]]:
    for start in range(0, args.leads, args.chunk):
        yield make_chunk(rng, start, min(args.chunk, args.leads - start))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=3, help="time each chunk this often, keep the fastest"
    )
    args = parser.parse_args()

    card = load_scorecard(CARD_PATH)
    card_dict = card.to_dict()
    rng = random.Random(args.seed)
    accounts = make_accounts(rng)
    fast_s = naive_s = read_s = 0.0
    n_leads = n_acts = 0
    worst = 0.0
    for rows in chunks(args, rng):
        n_leads += len(rows)
        n_acts += sum(len(a) for _, a in rows)
        # Like timeit: the garbage collector is off while timing and the fastest of --repeat
        # runs counts (noise only ever adds time); CPU time of this process, not wall time, so
        # other work on a shared machine counts less. Both scorers alike, interleaved.
        best_fast = best_naive = best_read = math.inf
        for _ in range(args.repeat):
            gc.collect()
            gc.disable()
            t = time.process_time()
            fast = list(score_many(card, rows, as_of=AS_OF, accounts=accounts))
            best_fast = min(best_fast, time.process_time() - t)
            t = time.process_time()
            read = list(score_many(card, rows, as_of=AS_OF, accounts=accounts))
            explained = [r.contributions for r in read]
            best_read = min(best_read, time.process_time() - t)
            t = time.process_time()
            naive = [
                naive_score(card_dict, lead, acts, accounts.get(lead.account_id or ""), AS_OF)
                for lead, acts in rows
            ]
            best_naive = min(best_naive, time.process_time() - t)
            gc.enable()
        fast_s += best_fast
        naive_s += best_naive
        read_s += best_read
        assert explained == [f.contributions for f in fast]
        for f, n in zip(fast, naive, strict=True):
            assert f.lead_id == n["lead_id"]
            worst = max(worst, abs(f.total - n["total"]))
            assert [c.rule_id for c in f.contributions] == [c["rule"] for c in n["contributions"]]
            for c, d in zip(f.contributions, n["contributions"], strict=True):
                assert list(c.evidence) == d.get("evidence", []), (c, d)
                worst = max(worst, abs(c.points - d["points"]))
            assert f.recommendation.value == n["recommendation"]
    assert worst < 1e-9, worst
    print(
        f"leads: {n_leads:,}  activities: {n_acts:,} ({n_acts / n_leads:.1f}/lead)  "
        f"card: {card.name!r} ({len(card.rules)} rules)"
    )
    print(f"leadflow score_many : {n_leads / fast_s:>10,.0f} leads/s  ({fast_s:6.2f} s CPU)")
    print(f"  + contributions read: {n_leads / read_s:>8,.0f} leads/s  ({read_s:6.2f} s CPU)")
    print(f"naive dict-and-loop : {n_leads / naive_s:>10,.0f} leads/s  ({naive_s:6.2f} s CPU)")
    print(
        f"ratio               : {naive_s / fast_s:.2f}x  (target >= 5x; totals and points agree"
        f" to {worst:.1e})"
    )
    print(f"ratio, contributions read: {naive_s / read_s:.2f}x")


if __name__ == "__main__":
    main()
