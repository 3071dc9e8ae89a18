"""Benchmark: score 100k leads x ~15 activities with the example scorecard.

Run on demand (not part of the test suite):

    .venv/bin/python benchmarks/bench_scoring.py [--leads 100000] [--chunk 10000] [--seed 7]
                                                 [--repeat 3]

It compares ``leadflow.rules.score_many`` with the scorer a competent developer would write
without leadflow: the card's plain dict (regular expressions compiled once) interpreted per
lead, with the lead's activities grouped by kind once and each rule evaluated once. Both are
measured in the same run on the same generated data, and the benchmark checks that they agree:
totals, subtotals, every contribution's points and evidence, recommendations. Both build every
contribution (``score_many`` its ``Contribution`` objects, the lean scorer dicts).

Data is generated in chunks from a seeded generator, so memory stays bounded; only scoring is
timed, in CPU time of this process (the machine may be shared), with the garbage collector off,
keeping the fastest of ``--repeat`` runs of each chunk. Target: ``score_many`` at least 2x the
lean scorer per record on one core. Volume beyond that is the columnar path's job
(``leadflow.etl``, see ``benchmarks/bench_etl.py``).
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
TARGET = 2.0  # score_many per record against the lean scorer, in the same run

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


# -- the lean scorer: what a competent developer writes without leadflow ----------------------
#
# The card as its plain dict (regular expressions compiled once, by lean_prepare), interpreted
# per lead: the lead's activities grouped by kind (with their age) once, each rule evaluated once. It builds every
# contribution (as a dict), like ``score_many`` builds its ``Contribution`` objects.


def lean_prepare(node: Any) -> Any:
    """A copy of the card's plain dict with each regular expression compiled once, under
    ``"pattern"``, and each ``in`` list as a set of comparable values, under ``"in_set"``."""
    if isinstance(node, list):
        return [lean_prepare(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: lean_prepare(value) for key, value in node.items()}
    if "keywords" in out:
        words = "|".join(re.escape(k.strip()) for k in out["keywords"])
        out["pattern"] = re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)
    elif "regex" in out:
        out["pattern"] = re.compile(out["regex"])
    elif "in" in out:
        out["in_set"] = {lean_norm(v) for v in out["in"]}
    return out


def lean_value(field: str, lead: Lead, account: Account | None) -> Any:
    if field.startswith("account.properties."):
        return None if account is None else account.properties.get(field.split(".", 2)[2])
    if field.startswith("account."):
        return None if account is None else getattr(account, field.split(".", 1)[1])
    if field.startswith("properties."):
        return lead.properties.get(field.split(".", 1)[1])
    return getattr(lead, field)


def lean_norm(value: Any) -> Any:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value.strip().casefold())
    return ("o", value)


Aged = tuple[float, Activity]  # (age in days at as_of, activity)


def lean_condition(
    cond: dict[str, Any], lead: Lead, account: Account | None, by_kind: dict[str, list[Aged]]
) -> list[Aged] | None:
    """None if the condition fails, else the activities behind it (possibly none)."""
    if "all" in cond:
        found: list[Aged] = []
        for child in cond["all"]:
            sub = lean_condition(child, lead, account, by_kind)
            if sub is None:
                return None
            found += sub
        return found
    if "any" in cond:
        result: list[Aged] | None = None
        for child in cond["any"]:
            sub = lean_condition(child, lead, account, by_kind)
            if sub is not None:
                result = sub if result is None else result + sub
        return result
    if "not" in cond:
        return [] if lean_condition(cond["not"], lead, account, by_kind) is None else None
    if "activity" in cond:
        window = cond.get("within_days", math.inf)
        matched = [x for k in cond["activity"] for x in by_kind.get(k, ()) if x[0] <= window]
        return matched if len(matched) >= cond.get("at_least", 1) else None
    if "free_mail" in cond:
        domains = cond.get("domains") or FREE_MAIL_DOMAINS
        return [] if lead.email_domain in domains else None
    if "keywords" in cond:
        value = lean_value(cond.get("field", "title"), lead, account)
        return [] if value is not None and cond["pattern"].search(str(value)) else None
    value = lean_value(cond["field"], lead, account)
    if "equals" in cond:
        ok = value is not None and lean_norm(value) == lean_norm(cond["equals"])
    elif "in" in cond:
        ok = value is not None and lean_norm(value) in cond["in_set"]
    elif "min" in cond or "max" in cond:
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and cond.get("min", -math.inf) <= value <= cond.get("max", math.inf)
        )
    elif "regex" in cond:
        ok = value is not None and cond["pattern"].search(str(value)) is not None
    elif "missing" in cond:
        ok = value is None
    else:
        ok = value is not None
    return [] if ok else None


def lean_base(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule": rule["id"],
        "label": rule.get("label", rule["id"].replace("_", " ")),
        "category": rule["category"],
        "signal": rule.get("signal"),
    }


def lean_score(
    card: dict[str, Any], lead: Lead, acts: list[Activity], account: Account | None, as_of: float
) -> dict[str, Any]:
    """The same result as ``score_lead`` (totals, subtotals, contributions, recommendation).

    *as_of* is a POSIX timestamp. Activities are grouped by kind once, in the order given; a
    repeated activity id counts once (the first). (``score_lead`` looks for repeats only among
    the activities that can count -- kinds the card reads, at or before *as_of* -- which gives
    the same results here: the generated ids do not repeat.)
    """
    by_kind: dict[str, list[Aged]] = {}
    ids: set[str] = set()
    for a in acts:
        if a.lead_id != lead.id:
            raise ValueError(f"activity {a.id} belongs to another lead")
        if a.id in ids:
            continue
        ids.add(a.id)
        age = (as_of - a.occurred_at.timestamp()) / 86400
        if age >= 0:
            by_kind.setdefault(a.kind, []).append((age, a))
    contributions = []
    for rule in card["rules"]:
        points = rule["points"]
        cap = rule.get("cap", math.inf)
        half_life = rule.get("half_life_days", card["half_life_days"])
        if rule["category"] == "fit":
            if lean_condition(rule["when"], lead, account, by_kind) is not None:
                value = max(-cap, min(cap, points))
                contributions.append(
                    {
                        **lean_base(rule),
                        "raw_points": points,
                        "points": value,
                        "capped": value != points,
                    }
                )
            continue
        if "activities" in rule:
            if "when" in rule and lean_condition(rule["when"], lead, account, by_kind) is None:
                continue
            window = rule.get("within_days", math.inf)
            found = [x for k in rule["activities"] for x in by_kind.get(k, ()) if x[0] <= window]
            if found:
                raw = math.fsum(points * 0.5 ** (age / half_life) for age, _ in found)
                value = max(-cap, min(cap, raw))
                contributions.append(
                    {
                        **lean_base(rule),
                        "raw_points": points * len(found),
                        "points": value,
                        "capped": value != raw,
                        "evidence": [a.id for _, a in found],
                        "age_days": min(age for age, _ in found),
                        "half_life_days": half_life,
                    }
                )
            continue
        found = lean_condition(rule["when"], lead, account, by_kind)
        if found:
            newest = min(age for age, _ in found)
            raw = points * 0.5 ** (newest / half_life)
            value = max(-cap, min(cap, raw))
            contributions.append(
                {
                    **lean_base(rule),
                    "raw_points": points,
                    "points": value,
                    "capped": value != raw,
                    "evidence": list(dict.fromkeys(a.id for _, a in found)),
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
    lean_card = lean_prepare(card.to_dict())
    as_of_ts = AS_OF.timestamp()
    rng = random.Random(args.seed)
    accounts = make_accounts(rng)
    fast_s = lean_s = 0.0
    n_leads = n_acts = n_parts = 0
    worst = 0.0
    for rows in chunks(args, rng):
        n_leads += len(rows)
        n_acts += sum(len(a) for _, a in rows)
        # Like timeit: the garbage collector is off while timing and the fastest of --repeat
        # runs counts (noise only ever adds time); CPU time of this process, not wall time, so
        # other work on a shared machine counts less. Both scorers alike, interleaved.
        best_fast = best_lean = math.inf
        for _ in range(args.repeat):
            gc.collect()
            gc.disable()
            t = time.process_time()
            fast = list(score_many(card, rows, as_of=AS_OF, accounts=accounts))
            best_fast = min(best_fast, time.process_time() - t)
            t = time.process_time()
            lean = [
                lean_score(lean_card, lead, acts, accounts.get(lead.account_id or ""), as_of_ts)
                for lead, acts in rows
            ]
            best_lean = min(best_lean, time.process_time() - t)
            gc.enable()
        fast_s += best_fast
        lean_s += best_lean
        for f, n in zip(fast, lean, strict=True):
            assert f.lead_id == n["lead_id"]
            assert f.recommendation.value == n["recommendation"]
            for name in ("total", "fit", "behaviour", "interest", "intent"):
                worst = max(worst, abs(getattr(f, name) - n[name]))
            assert [c.rule_id for c in f.contributions] == [c["rule"] for c in n["contributions"]]
            n_parts += len(f.contributions)
            for c, d in zip(f.contributions, n["contributions"], strict=True):
                assert list(c.evidence) == d.get("evidence", []), (c, d)
                assert c.capped == d["capped"], (c, d)
                worst = max(worst, abs(c.points - d["points"]), abs(c.raw_points - d["raw_points"]))
    assert worst < 1e-9, worst
    ratio = lean_s / fast_s
    print(
        f"leads: {n_leads:,}  activities: {n_acts:,} ({n_acts / n_leads:.1f}/lead)  "
        f"contributions: {n_parts / n_leads:.1f}/lead  card: {card.name!r} ({len(card.rules)} rules)"
    )
    print()
    print("| scorer | leads/s | CPU s | vs the lean scorer |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| `score_many` | {n_leads / fast_s:,.0f} | {fast_s:.2f} | {ratio:.2f}x |")
    print(f"| lean dict-and-loop | {n_leads / lean_s:,.0f} | {lean_s:.2f} | 1x |")
    print()
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(
        f"target >= {TARGET:g}x: {verdict}; totals, subtotals and points agree to {worst:.1e}, "
        "contributions, evidence and recommendations are equal"
    )


if __name__ == "__main__":
    main()
