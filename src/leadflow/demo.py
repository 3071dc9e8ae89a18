"""A realistic, seeded sample dataset for ``leadflow demo``: same seed, same data, every time.

Scope: a pure generator. :func:`generate` returns plain domain values — accounts, leads with
their stage histories, marketing activities, sales touches, and the rejections and outcomes to
record — for a fictional B2B software company over the 120 days before ``now``. Nothing is
written anywhere; the CLI stores the result through an adapter.

The data plants **known truths** for the feedback report to find (``tests/test_demo_planted.py``
checks that the public analytics recover each one):

1. **Speed to lead.** A handed-off lead's chance to reach ``sql`` is its own base rate times
   ``2 ** (-delay / PLANTED_HALF_LIFE_HOURS)``, the delay being the wall-clock hours from hand-off
   to the first sales touch. Base rates do not depend on who answers, so
   :func:`leadflow.analytics.response.estimate_half_life` recovers the half-life.
2. **The scorecard predicts.** The base rate rises with fit (title, target industry, company size;
   students, interns and free-mail addresses never convert) and with intent (leads that asked for
   a demo, a trial or pricing convert more), and intent shows up as activities before the
   hand-off, so :mod:`leadflow.analytics.validity` sees conversion rise across score bands and a
   positive score slope. Won deals, too, come more often from better leads.
3. **Reasons differ by source** (:data:`REASON_MIX`): purchased lists fail on contact data and
   function, content syndication on students, trade shows on "not ready to buy" — and of the
   trade-show leads rejected as not ready, half (:data:`PLANTED_TRADE_SHOW_REAL_BUYERS`) were real
   buyers who came back within weeks to buy, from us or from a competitor (the seed study).
4. **Reps differ in speed** (:data:`OWNERS`): some answer within the hour, some after days, so SLA
   adherence differs by owner — and, through (1), so does their conversion.
5. **Buying committees.** A few target accounts (:data:`PLANTED_SURGING_ACCOUNTS` of them) have
   several people attending webinars and reading case studies in the last two weeks, none of whom has asked for
   anything yet: the account roll-up calls them *sales-winnable*.

>>> data = generate(leads=200, seed=3)
>>> len(data.leads), len({a.id for a in data.accounts}) > 10
(200, True)
>>> generate(leads=200, seed=3) == data
True
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from leadflow._validate import check_aware
from leadflow.business_time import BusinessCalendar
from leadflow.errors import ValidationError
from leadflow.lifecycle import transition
from leadflow.model import Account, Activity, Lead, Touch
from leadflow.outcomes import Outcome
from leadflow.ports import OutcomeWrite, RejectionWrite
from leadflow.reasons import reject
from leadflow.rules.scorecard import Scorecard
from leadflow.rules.sla import SLAPolicy, policies_from_dict

__all__ = [
    "DEMO_NOW",
    "DEMO_SCORECARD",
    "DEMO_SLA",
    "OWNERS",
    "PLANTED_HALF_LIFE_HOURS",
    "PLANTED_SURGING_ACCOUNTS",
    "PLANTED_TRADE_SHOW_REAL_BUYERS",
    "REASON_MIX",
    "DemoData",
    "demo_calendar",
    "demo_policies",
    "demo_scorecard",
    "generate",
]

#: The instant the demo data is "as of" (fixed, so the demo is reproducible).
DEMO_NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

#: Planted: a lead's chance to reach ``sql`` halves for every this many wall-clock hours sales
#: waits before the first touch after hand-off.
PLANTED_HALF_LIFE_HOURS = 36.0

#: Planted: the share of trade-show leads rejected as ``not_ready_to_buy`` that later bought.
PLANTED_TRADE_SHOW_REAL_BUYERS = 0.5

#: Planted: how many target accounts show a buying committee engaging (1 per this many leads,
#: at least one).
PLANTED_SURGING_ACCOUNTS = 150

#: Sales reps: id → (team, mean wall-clock hours to first touch after hand-off).
OWNERS: dict[str, tuple[str, float]] = {
    "u-ana": ("east", 1.5),
    "u-ben": ("east", 8.0),
    "u-cho": ("east", 24.0),
    "u-dev": ("west", 3.0),
    "u-eli": ("west", 60.0),
    "u-fay": ("west", 5.0),
}

# source → (typical intent 0..1, campaigns, weight)
_SOURCES: dict[str, tuple[float, tuple[str, ...], int]] = {
    "webinar": (0.55, ("wb-pipeline-q1", "wb-security-101"), 18),
    "trade_show": (0.15, ("ts-saastr", "ts-berlin-summit"), 14),
    "partner": (0.60, ("pt-referrals",), 6),
    "organic": (0.45, ("seo-blog", "seo-docs"), 20),
    "paid_search": (0.40, ("ppc-brand", "ppc-generic"), 20),
    "content_syndication": (0.10, ("cs-whitepaper",), 14),
    "purchased_list": (0.05, ("list-q4",), 8),
}
#: Trade shows happen on a day: campaign → days before ``now`` (badge scans arrive over 2 days).
_TRADE_SHOWS = {"ts-saastr": 104.0, "ts-berlin-summit": 68.0}

#: Planted: why sales turns down a handed-off lead that did not convert, by source (weights).
#: Students, interns and bad contact data are decided by the lead itself before this mix.
REASON_MIX: dict[str, tuple[tuple[str, int], ...]] = {
    "webinar": (("not_ready_to_buy", 4), ("no_budget", 3), ("wrong_function", 2), ("no_need", 2)),
    "trade_show": (("not_ready_to_buy", 12), ("no_budget", 2), ("wrong_function", 1)),
    "partner": (("no_budget", 4), ("existing_customer", 3), ("not_ready_to_buy", 2)),
    "organic": (("no_need", 3), ("not_ready_to_buy", 3), ("too_junior", 2), ("no_budget", 2)),
    "paid_search": (("no_need", 4), ("too_junior", 3), ("no_budget", 3), ("not_ready_to_buy", 2)),
    "content_syndication": (("wrong_function", 5), ("too_junior", 4), ("no_need", 3)),
    "purchased_list": (("wrong_function", 5), ("outside_target_market", 4), ("no_need", 2)),
}
_TARGET_INDUSTRIES = ("software", "finance", "manufacturing", "healthcare")
_INDUSTRIES = (*_TARGET_INDUSTRIES, "retail", "education")
_COUNTRIES = ("US", "US", "US", "DE", "GB", "FR", "NL")
_TITLES = (
    ("VP Engineering", 0.9),
    ("CTO", 0.95),
    ("Head of IT", 0.8),
    ("Director of Operations", 0.7),
    ("IT Manager", 0.5),
    ("Software Engineer", 0.3),
    ("Marketing Coordinator", 0.15),
    ("Student", 0.0),
    ("Intern", 0.0),
)
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Linus", "Margaret", "Tim")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Hamilton")
_LOW_INTENT = ("web_visit", "email_open", "email_click", "content_download")
_MID_INTENT = ("webinar_registration", "webinar_attended", "case_study_download", "event_attended")
_HIGH_INTENT = ("pricing_page_visit", "demo_request", "contact_request", "free_trial")
_COMPETITORS = ("Acme CRM Tools", "Globex Pipeline", "Initech Leads")


@attrs.frozen(kw_only=True)
class DemoData:
    """The generated dataset: values to store, then the rejections and outcomes to record."""

    now: datetime
    accounts: tuple[Account, ...]
    leads: tuple[Lead, ...]
    activities: tuple[Activity, ...]
    touches: tuple[Touch, ...]
    rejections: tuple[RejectionWrite, ...]
    outcomes: tuple[OutcomeWrite, ...]


def _accounts(rng: random.Random, count: int, now: datetime) -> list[Account]:
    out = []
    for i in range(count):
        employees = int(min(200_000, rng.lognormvariate(5.5, 1.6))) + 5
        out.append(
            Account(
                id=f"A-{i:04d}",
                name=f"{rng.choice(_LAST)} {rng.choice(('Systems', 'Labs', 'Group', 'GmbH'))} {i}",
                domain=f"account{i}.example.com",
                industry=rng.choice(_INDUSTRIES),
                employees=employees,
                annual_revenue=float(round(employees * rng.uniform(80_000, 250_000), -3)),
                country=rng.choice(_COUNTRIES),
                owner_id=rng.choice(tuple(OWNERS)),
                created_at=now - timedelta(days=rng.randint(200, 900)),
            )
        )
    return out


@attrs.frozen(kw_only=True)
class _Person:
    """A lead and the hidden truths about it the generator plants."""

    lead: Lead
    fit: float  # 0..1: title, target industry, company size
    intent: float  # 0..1: how close to buying
    unreachable: bool  # a free-mail address that bounces


@attrs.define
class _Builder:
    """Accumulates the generated records; one method per stage of a lead's life."""

    rng: random.Random
    now: datetime
    leads: list[Lead] = attrs.Factory(list)
    activities: list[Activity] = attrs.Factory(list)
    touches: list[Touch] = attrs.Factory(list)
    rejections: list[RejectionWrite] = attrs.Factory(list)
    outcomes: list[OutcomeWrite] = attrs.Factory(list)

    def person(self, i: int, account: Account) -> _Person:
        """A new lead at *account*, with its hidden fit and intent."""
        rng = self.rng
        source = rng.choices(tuple(_SOURCES), weights=[w for _, _, w in _SOURCES.values()])[0]
        typical_intent, campaigns, _ = _SOURCES[source]
        campaign = rng.choice(campaigns)
        title, title_fit = rng.choice(_TITLES)
        if campaign in _TRADE_SHOWS:
            days = _TRADE_SHOWS[campaign] - rng.uniform(0, 2)
        else:
            days = rng.uniform(0.2, 120)
        created = self.now - timedelta(days=days, minutes=rng.randint(0, 59))
        personal = rng.random() < 0.12
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        domain = rng.choice(("gmail.com", "outlook.com")) if personal else account.domain
        fit = (
            0.55 * title_fit
            + 0.25 * (account.industry in _TARGET_INDUSTRIES)
            + 0.20 * ((account.employees or 0) >= 500)
        )
        if title_fit == 0.0:
            fit = 0.0
        intent = max(0.0, min(1.0, typical_intent + rng.gauss(0, 0.2)))
        lead = Lead(
            id=f"L-{i:05d}",
            created_at=created,
            email=f"{first}.{last}{i}@{domain}".lower(),
            first_name=first,
            last_name=last,
            title=title,
            company=account.name,
            industry=account.industry,
            annual_revenue=account.annual_revenue,
            employees=account.employees,
            country=account.country,
            source=source,
            campaign=campaign,
            owner_id=account.owner_id or "u-ana",
            account_id=account.id,
        )
        return _Person(
            lead=lead, fit=fit, intent=intent, unreachable=personal and rng.random() < 0.5
        )

    def engage(self, i: int, who: _Person, start: datetime, end: datetime, first: int) -> int:
        """Marketing activity between *start* and *end*: more, and more intent, from leads
        closer to buying. Returns the next free activity number."""
        rng = self.rng
        lead = who.lead
        count = 1 + int(who.intent * rng.uniform(2, 8))
        if lead.campaign in _TRADE_SHOWS:
            count = max(1, count - 1)
        j = first
        for _ in range(count):
            roll = rng.random()
            kinds = (
                _HIGH_INTENT
                if roll < who.intent * 0.45
                else _MID_INTENT
                if roll < 0.55
                else _LOW_INTENT
            )
            at = start + (end - start) * rng.random()
            if at >= self.now:
                continue
            self.activity(i, j, lead, rng.choice(kinds), at)
            j += 1
        if lead.campaign in _TRADE_SHOWS:
            self.activity(i, j, lead, "event_attended", lead.created_at)
            j += 1
        return j

    def activity(self, i: int, j: int, lead: Lead, kind: str, at: datetime) -> None:
        """Record one marketing activity."""
        self.activities.append(
            Activity(
                id=f"ACT-{i:05d}-{j:02d}",
                lead_id=lead.id,
                kind=kind,
                occurred_at=at,
                account_id=lead.account_id,
                channel="event" if kind == "event_attended" else self.rng.choice(("web", "email")),
                campaign=lead.campaign,
            )
        )

    def follow_up(self, i: int, lead: Lead, handoff: datetime) -> tuple[datetime, bool, bool]:
        """Sales' touches after the hand-off, each rep at their own pace: the first touch's
        time, whether anyone connected, and whether any touch happened before ``now``."""
        rng = self.rng
        owner = lead.owner_id or "u-ana"
        first_touch = handoff + timedelta(hours=rng.expovariate(1 / OWNERS[owner][1]))
        attempts = rng.choice((1, 2, 3, 3, 4))
        connected = touched = False
        at = first_touch
        for k in range(attempts):
            if at >= self.now:
                break
            outcome = rng.choice(("no_answer", "left_voicemail", "sent", "connected", "replied"))
            connected = connected or outcome in ("connected", "replied")
            touched = True
            self.touches.append(
                Touch(
                    id=f"T-{i:05d}-{k}",
                    lead_id=lead.id,
                    kind="call"
                    if outcome in ("no_answer", "left_voicemail", "connected")
                    else "email",
                    at=at,
                    by=owner,
                    outcome=outcome,
                    subject=f"Follow-up {k + 1}",
                )
            )
            at += timedelta(hours=rng.uniform(20, 70))
        return first_touch, connected, touched

    def turn_down(self, lead: Lead, code: str, decided: datetime) -> None:
        """Sales rejects *lead* with *code*; trade-show leads "not ready" often buy later."""
        rng = self.rng
        owner = lead.owner_id or "u-ana"
        if lead.stage == "mql" and rng.random() < 0.5:
            lead = transition(lead, "sal", at=decided - timedelta(hours=2), by=owner)
        self.leads.append(lead)
        moved, rejection = reject(lead, code, at=decided, by=owner)
        self.rejections.append(RejectionWrite(rejection=rejection, change=moved.history[-1]))
        if code not in ("not_ready_to_buy", "no_budget"):
            return
        share = PLANTED_TRADE_SHOW_REAL_BUYERS if lead.source == "trade_show" else 0.08
        if rng.random() >= share:
            return
        later = decided + timedelta(days=rng.uniform(14, 50))
        if later >= self.now:
            return
        ours = lead.source == "trade_show" and rng.random() < 0.4
        self.outcomes.append(
            OutcomeWrite(
                outcome=Outcome(
                    lead_id=lead.id,
                    kind="won" if ours else "competitor",
                    at=later,
                    amount=Decimal(rng.randrange(12_000, 120_000, 500)) if ours else None,
                    currency="USD" if ours else None,
                    competitor=None if ours else rng.choice(_COMPETITORS),
                    recorded_by=owner,
                )
            )
        )

    def work(self, i: int, lead: Lead, decided: datetime, base: float) -> None:
        """Sales accepts *lead*, qualifies it (``sql``) and works it, sometimes to a close;
        better leads (*base*) win more often."""
        rng = self.rng
        owner = lead.owner_id or "u-ana"
        lead = transition(lead, "sal", at=decided, by=owner)
        step = decided + timedelta(days=rng.uniform(1, 5))
        if step < self.now:
            lead = transition(lead, "sql", at=step, by=owner)
            step += timedelta(days=rng.uniform(2, 10))
            if step < self.now and rng.random() < 0.8:
                lead = transition(lead, "opportunity", at=step, by=owner)
        if lead.stage == "opportunity":
            closed = step + timedelta(days=rng.uniform(10, 40))
            if closed < self.now:
                won = rng.random() < min(0.9, max(0.05, 2.0 * base - 0.75))
                lead = transition(lead, "won" if won else "lost", at=closed, by=owner)
                amount = Decimal(rng.randrange(12_000, 180_000, 500))
                self.outcomes.append(
                    OutcomeWrite(
                        outcome=Outcome(
                            lead_id=lead.id,
                            kind="won" if won else "lost",
                            at=closed,
                            amount=amount if won else None,
                            currency="USD" if won else None,
                            reason=None if won else rng.choice(("price", "timing", "features")),
                            opportunity_id=f"OPP-{i:05d}",
                            recorded_by=owner,
                        )
                    )
                )
        self.leads.append(lead)

    def live(self, i: int, account: Account) -> None:
        """One lead's whole story up to ``now``."""
        rng = self.rng
        who = self.person(i, account)
        lead = who.lead
        handoff = lead.created_at + timedelta(hours=rng.uniform(2, 72))
        # Marketing hands over engaged, fitting leads, and every trade-show badge scan.
        ready = 0.5 * who.fit + 0.5 * who.intent + rng.gauss(0, 0.1) >= 0.4
        if handoff >= self.now or not (ready or lead.source == "trade_show"):
            self.engage(i, who, lead.created_at, lead.created_at + timedelta(days=30), 0)
            self.leads.append(lead)
            return
        self.engage(i, who, lead.created_at, handoff, 0)
        lead = attrs.evolve(lead, handed_off_at=handoff)
        lead = transition(lead, "mql", at=handoff, by="marketing-automation")
        first_touch, connected, touched = self.follow_up(i, lead, handoff)
        decided = first_touch + timedelta(days=rng.uniform(1, 4))
        if decided >= self.now or not touched:
            self.leads.append(lead)
            return
        # Planted truths (1) and (2): base rate from fit and intent, halved per half-life.
        base = (
            0.0 if who.unreachable or who.fit == 0.0 else 0.05 + 0.45 * who.fit + 0.45 * who.intent
        )
        delay = (first_touch - handoff) / timedelta(hours=1)
        if rng.random() < base * 2 ** (-delay / PLANTED_HALF_LIFE_HOURS):
            self.work(i, lead, decided, base)
        elif lead.title in ("Student", "Intern"):
            self.turn_down(lead, "student", decided)
        elif who.unreachable:
            self.turn_down(lead, "bad_contact_data", decided)
        elif not connected and rng.random() < 0.5:
            self.turn_down(lead, "no_response", decided)
        elif rng.random() < 0.85:
            codes, weights = zip(*REASON_MIX[lead.source or "organic"], strict=True)
            self.turn_down(lead, rng.choices(codes, weights=weights)[0], decided)
        else:
            self.leads.append(transition(lead, "sal", at=decided, by=lead.owner_id))

    def committee(self, account: Account, people: list[Lead]) -> None:
        """Planted truth (5): several people at *account* reading up in the last two weeks."""
        rng = self.rng
        for n, lead in enumerate(people[:5]):
            for j in range(rng.randint(3, 5)):
                at = self.now - timedelta(days=rng.uniform(0.5, 14), minutes=rng.randint(0, 59))
                if at <= lead.created_at:
                    continue
                kind = rng.choice(("webinar_attended", "case_study_download"))
                self.activity(int(lead.id[2:]), 90 + 5 * n + j, lead, kind, at)


def generate(*, leads: int = 3000, seed: int = 7, now: datetime = DEMO_NOW) -> DemoData:
    """A dataset of *leads* leads (and ~1/8 as many accounts), reproducible from *seed*."""
    check_aware("now", now)
    if isinstance(leads, bool) or not isinstance(leads, int) or leads < 1:
        raise ValidationError("leads", leads, "must be a whole number >= 1")
    rng = random.Random(seed)
    accounts = _accounts(rng, max(3, leads // 8), now)
    builder = _Builder(rng=rng, now=now)
    for i in range(leads):
        builder.live(i, rng.choice(accounts))
    people: dict[str, list[Lead]] = {}
    for lead in builder.leads:
        if lead.stage in ("inquiry", "recycled") and lead.account_id is not None:
            people.setdefault(lead.account_id, []).append(lead)
    targets = [
        a
        for a in accounts
        if a.industry in _TARGET_INDUSTRIES
        and (a.employees or 0) >= 500
        and len(people.get(a.id, ())) >= 3
    ]
    for account in rng.sample(
        targets, min(len(targets), max(1, leads // PLANTED_SURGING_ACCOUNTS))
    ):
        builder.committee(account, people[account.id])
    return DemoData(
        now=now,
        accounts=tuple(accounts),
        leads=tuple(builder.leads),
        activities=tuple(builder.activities),
        touches=tuple(builder.touches),
        rejections=tuple(builder.rejections),
        outcomes=tuple(builder.outcomes),
    )


#: The demo's SLA, as data (the same trigger and cadence as ``examples/sla.toml``): first touch
#: within 24 business hours of the hand-off to sales (``Lead.handed_off_at``, which ``leadflow run``
#: stamps when scoring moves a lead to ``mql``), three attempts within eight business days, then
#: back to nurture.
DEMO_SLA: dict[str, Any] = {
    "policies": [
        {
            "name": "handoff_follow_up",
            "trigger": "handoff",
            "steps": [
                {
                    "name": "first_touch",
                    "within_hours": 24,
                    "warn_hours": 4,
                    "count": 1,
                    "by": "owner",
                    "escalate": "manager",
                },
                {
                    "name": "follow_up_attempts",
                    "within_days": 8,
                    "count": 3,
                    "by": "owner",
                    "kinds": ["call", "email", "sms", "social"],
                    "escalate": "queue:inside-sales",
                },
            ],
            "final": {"action": "recycle", "reason": "no_response", "unless_connected": True},
        }
    ]
}


def demo_policies() -> tuple[SLAPolicy, ...]:
    """The demo's SLA policies (:data:`DEMO_SLA`)."""
    return policies_from_dict(DEMO_SLA)


def demo_calendar() -> BusinessCalendar:
    """The demo sales team's calendar: weekdays 09:00-17:00 in New York."""
    return BusinessCalendar.weekdays("America/New_York", name="sales-us")


#: The demo's scorecard, as data (the shape of ``examples/scorecard.toml``, tuned to the demo's
#: titles, industries and activity kinds).
DEMO_SCORECARD: dict[str, Any] = {
    "name": "demo",
    "description": "VP+ at a mid-size or larger company in a target industry, weighted by intent.",
    "half_life_days": 30,
    "thresholds": {
        "mql": 50,
        "sql_ready": 80,
        "sql_ready_requires_intent": True,
        # the card's company-level fit tops out at 25 (target industry + 500+ employees)
        "winnable_fit": 25,
        "winnable_engagement": 100,
    },
    "rules": [
        {
            "id": "vp_or_above",
            "label": "VP+ title",
            "category": "fit",
            "points": 20,
            "when": {"keywords": ["VP", "Vice President", "Chief", "CTO", "CIO", "CEO"]},
        },
        {
            "id": "head_or_director",
            "label": "Head / Director title",
            "category": "fit",
            "points": 12,
            "when": {"keywords": ["Head of", "Director"]},
        },
        {
            "id": "target_industry",
            "label": "target industry",
            "category": "fit",
            "points": 15,
            "when": {
                "field": "account.industry",
                "in": ["software", "finance", "manufacturing", "healthcare"],
            },
        },
        {
            "id": "mid_size_or_larger",
            "label": "500+ employees",
            "category": "fit",
            "points": 10,
            "when": {"field": "account.employees", "min": 500},
        },
        {
            "id": "student",
            "label": "student or intern",
            "category": "fit",
            "points": -30,
            "when": {"keywords": ["Student", "Intern"]},
        },
        {
            "id": "free_mail",
            "label": "free-mail domain",
            "category": "fit",
            "points": -10,
            "when": {"free_mail": True},
        },
        {
            "id": "demo_request",
            "label": "demo request",
            "category": "behaviour",
            "signal": "intent",
            "points": 35,
            "cap": 50,
            "activities": ["demo_request"],
        },
        {
            "id": "contact_request",
            "label": "contact request",
            "category": "behaviour",
            "signal": "intent",
            "points": 25,
            "cap": 40,
            "activities": ["contact_request"],
        },
        {
            "id": "free_trial",
            "label": "free trial",
            "category": "behaviour",
            "signal": "intent",
            "points": 30,
            "cap": 30,
            "activities": ["free_trial"],
        },
        {
            "id": "pricing_interest",
            "label": "2+ pricing visits in 14 days",
            "category": "behaviour",
            "signal": "intent",
            "points": 15,
            "half_life_days": 7,
            "when": {"activity": ["pricing_page_visit"], "at_least": 2, "within_days": 14},
        },
        {
            "id": "webinar",
            "label": "webinar",
            "category": "behaviour",
            "signal": "interest",
            "points": 8,
            "cap": 20,
            "activities": ["webinar_attended"],
        },
        {
            "id": "case_study",
            "label": "case-study download",
            "category": "behaviour",
            "signal": "interest",
            "points": 10,
            "cap": 25,
            "activities": ["case_study_download"],
        },
        {
            "id": "content",
            "label": "content download",
            "category": "behaviour",
            "signal": "interest",
            "points": 4,
            "cap": 12,
            "activities": ["content_download"],
        },
        {
            "id": "email_click",
            "label": "e-mail click",
            "category": "behaviour",
            "signal": "interest",
            "points": 2,
            "cap": 10,
            "half_life_days": 14,
            "activities": ["email_click"],
        },
    ],
}


def demo_scorecard() -> Scorecard:
    """The demo's scorecard (:data:`DEMO_SCORECARD`)."""
    return Scorecard.from_dict(DEMO_SCORECARD)
