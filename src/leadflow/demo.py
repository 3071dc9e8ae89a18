"""A realistic, seeded sample dataset for ``leadflow demo``: same seed, same data, every time.

Scope: a pure generator. :func:`generate` returns plain domain values — accounts, leads with
their stage histories, marketing activities, sales touches, and the rejections and outcomes to
record — for a fictional B2B software company over the 120 days before ``now``. Nothing is
written anywhere; the CLI stores the result through an adapter.

The data has the texture of the real fight: sources differ in quality (events and webinars
convert, purchased lists and content syndication mostly do not), some reps follow leads up
within the hour and some after days, sales rejects leads with reason codes (students, bad
contact data, no budget, not ready), and some rejected leads later turn out to have bought from
a competitor.

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
from leadflow.calendar import BusinessCalendar
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
    "DemoData",
    "demo_calendar",
    "demo_policies",
    "demo_scorecard",
    "generate",
]

#: The instant the demo data is "as of" (fixed, so the demo is reproducible).
DEMO_NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

#: Sales reps: id → (team, typical hours to first touch).
OWNERS: dict[str, tuple[str, float]] = {
    "u-ana": ("east", 1.5),
    "u-ben": ("east", 6.0),
    "u-cho": ("east", 20.0),
    "u-dev": ("west", 2.0),
    "u-eli": ("west", 40.0),
    "u-fay": ("west", 4.0),
}

# source → (quality 0..1, campaigns)
_SOURCES: dict[str, tuple[float, tuple[str, ...]]] = {
    "webinar": (0.70, ("wb-pipeline-q1", "wb-security-101")),
    "event": (0.65, ("ev-saastr", "ev-berlin-summit")),
    "partner": (0.60, ("pt-referrals",)),
    "organic": (0.50, ("seo-blog", "seo-docs")),
    "paid_search": (0.40, ("ppc-brand", "ppc-generic")),
    "content_syndication": (0.25, ("cs-whitepaper",)),
    "purchased_list": (0.10, ("list-q4",)),
}
_SOURCE_WEIGHTS = (18, 12, 6, 20, 22, 14, 8)
_INDUSTRIES = ("software", "finance", "manufacturing", "healthcare", "retail", "education")
_COUNTRIES = ("US", "US", "US", "DE", "GB", "FR", "NL")
_TITLES = (
    ("VP Engineering", 0.9),
    ("CTO", 0.95),
    ("Head of IT", 0.8),
    ("Director of Operations", 0.7),
    ("IT Manager", 0.6),
    ("Software Engineer", 0.35),
    ("Marketing Coordinator", 0.2),
    ("Student", 0.02),
    ("Intern", 0.05),
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
        employees = int(min(200_000, rng.lognormvariate(5.0, 1.6))) + 5
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

    def person(self, i: int, account: Account) -> tuple[Lead, float, bool]:
        """A new lead at *account*, its hidden quality, and whether it used a free-mail address."""
        rng = self.rng
        source = rng.choices(tuple(_SOURCES), weights=_SOURCE_WEIGHTS)[0]
        source_quality, campaigns = _SOURCES[source]
        title, title_fit = rng.choice(_TITLES)
        created = self.now - timedelta(days=rng.uniform(0.2, 120), minutes=rng.randint(0, 59))
        personal = rng.random() < 0.12
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        domain = rng.choice(("gmail.com", "outlook.com")) if personal else account.domain
        quality = max(0.0, min(1.0, 0.45 * source_quality + 0.45 * title_fit + rng.gauss(0, 0.12)))
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
            campaign=rng.choice(campaigns),
            owner_id=account.owner_id or "u-ana",
            account_id=account.id,
        )
        return lead, quality, personal

    def engage(self, i: int, lead: Lead, quality: float) -> None:
        """Marketing activity: more, and more intent, from better leads."""
        rng = self.rng
        count = rng.randint(0, 3) + int(quality * rng.randint(2, 10))
        for j in range(count):
            roll = rng.random()
            kinds = (
                _HIGH_INTENT
                if roll < quality * 0.35
                else _MID_INTENT
                if roll < 0.55
                else _LOW_INTENT
            )
            at = lead.created_at + timedelta(hours=rng.uniform(0, 24 * 30))
            if at >= self.now:
                continue
            self.activities.append(
                Activity(
                    id=f"ACT-{i:05d}-{j:02d}",
                    lead_id=lead.id,
                    kind=rng.choice(kinds),
                    occurred_at=at,
                    account_id=lead.account_id,
                    channel=rng.choice(("web", "email", "event")),
                    campaign=lead.campaign,
                )
            )

    def follow_up(self, i: int, lead: Lead, handoff: datetime) -> tuple[datetime, bool, bool]:
        """Sales' touches after the hand-off, each rep at their own pace: the first touch's
        time, whether anyone connected, and whether any touch happened before ``now``."""
        rng = self.rng
        owner = lead.owner_id or "u-ana"
        first_touch = handoff + timedelta(hours=rng.expovariate(1 / OWNERS[owner][1]))
        attempts = rng.choice((1, 1, 2, 3, 3, 4))
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
        """Sales rejects *lead* with *code*; some recycled leads later buy elsewhere."""
        rng = self.rng
        owner = lead.owner_id or "u-ana"
        if lead.stage == "mql" and rng.random() < 0.5:
            lead = transition(lead, "sal", at=decided - timedelta(hours=2), by=owner)
        self.leads.append(lead)
        moved, rejection = reject(lead, code, at=decided, by=owner)
        self.rejections.append(RejectionWrite(rejection=rejection, change=moved.history[-1]))
        if code in ("not_ready_to_buy", "no_budget") and rng.random() < 0.2:
            later = decided + timedelta(days=rng.uniform(20, 90))
            if later < self.now:
                self.outcomes.append(
                    OutcomeWrite(
                        outcome=Outcome(
                            lead_id=lead.id,
                            kind="competitor",
                            at=later,
                            competitor=rng.choice(_COMPETITORS),
                            recorded_by=owner,
                        )
                    )
                )

    def work(self, i: int, lead: Lead, decided: datetime) -> None:
        """Sales accepts *lead* and works it towards an opportunity, sometimes to a close."""
        rng = self.rng
        owner = lead.owner_id or "u-ana"
        lead = transition(lead, "sal", at=decided, by=owner)
        step = decided
        for stage in ("sql", "opportunity"):
            step += timedelta(days=rng.uniform(2, 15))
            if step >= self.now or rng.random() > 0.75:
                break
            lead = transition(lead, stage, at=step, by=owner)
        if lead.stage == "opportunity":
            closed = step + timedelta(days=rng.uniform(10, 40))
            if closed < self.now:
                won = rng.random() < 0.45
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
        lead, quality, personal = self.person(i, account)
        self.engage(i, lead, quality)
        if quality + rng.gauss(0, 0.1) < 0.5:
            self.leads.append(lead)
            return
        handoff = lead.created_at + timedelta(hours=rng.uniform(2, 72))
        if handoff >= self.now:
            self.leads.append(lead)
            return
        lead = attrs.evolve(lead, handed_off_at=handoff)
        lead = transition(lead, "mql", at=handoff, by="marketing-automation")
        first_touch, connected, touched = self.follow_up(i, lead, handoff)
        decided = first_touch + timedelta(days=rng.uniform(1, 6))
        if decided >= self.now or not touched:
            self.leads.append(lead)
            return
        bad_contact = personal and rng.random() < 0.5
        if lead.title in ("Student", "Intern"):
            self.turn_down(lead, "student", decided)
        elif bad_contact:
            self.turn_down(lead, "bad_contact_data", decided)
        elif quality < 0.45 or not connected:
            code = rng.choice(("not_ready_to_buy", "no_budget", "wrong_function", "no_response"))
            self.turn_down(lead, code, decided)
        else:
            self.work(i, lead, decided)


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
    return DemoData(
        now=now,
        accounts=tuple(accounts),
        leads=tuple(builder.leads),
        activities=tuple(builder.activities),
        touches=tuple(builder.touches),
        rejections=tuple(builder.rejections),
        outcomes=tuple(builder.outcomes),
    )


#: The demo's SLA, as data (the same cadence as ``examples/sla.toml``): first touch within 24
#: business hours of hand-off, three attempts within eight business days, then back to nurture.
DEMO_SLA: dict[str, Any] = {
    "policies": [
        {
            "name": "handoff_follow_up",
            "trigger": {"stage_entered": "mql"},
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
    "thresholds": {"mql": 50, "sql_ready": 80, "sql_ready_requires_intent": True},
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
