"""Putting what an embedded store holds into the HubSpot emulator as a portal holding the same
facts would hold them.

Scope: test support for the report-parity test. People get HubSpot's numeric ids — an owner id
(``hubspot_owner_id`` on contacts, companies, engagements and deals) and a user id
(``updatedByUserId`` in property histories) per person; changes nobody signed as a person
(``marketing-automation``) are a workflow's (``sourceType`` ``AUTOMATION_PLATFORM``). Every stage
change is left in the ``lifecyclestage`` / ``hs_lead_status`` property histories at its instant
and by its author, as the CRM UI and workflows leave them; a rep's rejection sets
``hs_lead_status`` to ``UNQUALIFIED`` with the reason beside it (the lifecycle stage is left
where it was); a reassignment is a change of ``hubspot_owner_id`` at its instant, by the user who
made it; marketing activity is the contact's conversion and e-mail engagement history;
outcomes are deals associated with the contact.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import attrs
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.adapters.hubspot import DEFAULT_FIELDS, DEFAULT_TOUCHES
from leadflow.adapters.mapping import FieldMap
from leadflow.ports import Entity, read_all

__all__ = ["CAMPAIGN_PROPERTY", "COMPETITOR_PROPERTY", "EMAIL_KINDS", "People", "seed_portal"]

#: The custom contact property the parity portal keeps each lead's campaign in.
CAMPAIGN_PROPERTY = "leadflow_campaign"
#: The custom deal property naming the competitor a deal was lost to.
COMPETITOR_PROPERTY = "leadflow_competitor"
#: Activity kinds HubSpot records as e-mail engagement (the rest are form conversions).
EMAIL_KINDS = {
    "email_open": "hs_email_last_open_date",
    "email_click": "hs_email_last_click_date",
    "email_reply": "hs_email_last_reply_date",
}
#: Authors that are automation, not people.
_AUTOMATION = frozenset({"marketing-automation"})
_TYPE_OF_KIND = {rule.kind.value: object_type for object_type, rule in DEFAULT_TOUCHES.items()}


@attrs.define
class People:
    """The portal's owners and users: each person leadflow names gets an owner id and a user id."""

    owners: dict[str, str] = attrs.Factory(dict)
    users: dict[str, int] = attrs.Factory(dict)
    _next: Iterator[int] = attrs.Factory(lambda: itertools.count(1))

    def owner(self, name: str | None) -> str | None:
        """The HubSpot owner id of *name*."""
        if not name:
            return None
        self._add(name)
        return self.owners[name]

    def author(self, name: str | None) -> dict[str, Any]:
        """``touch`` keywords recording a change made by *name* (a user, or a workflow)."""
        if not name:
            return {}
        if name in _AUTOMATION:
            return {"source": ("AUTOMATION_PLATFORM", name)}
        self._add(name)
        return {"by_user": self.users[name]}

    def names(self) -> dict[str, str]:
        """Every owner id and user id (as text) → the person's leadflow name."""
        out = {owner: name for name, owner in self.owners.items()}
        out.update({str(user): name for name, user in self.users.items()})
        return out

    def _add(self, name: str) -> None:
        if name not in self.owners:
            n = next(self._next)
            self.owners[name] = str(61_000_000 + n)
            self.users[name] = 82_000_000 + n


def _fields() -> FieldMap:
    return DEFAULT_FIELDS.override({"fields": {"lead": {"campaign": CAMPAIGN_PROPERTY}}})


def seed_portal(emu: HubSpotEmulator, store: Any, people: People) -> dict[str, str]:
    """Put everything *store* (a :class:`~leadflow.adapters.sqlite.SQLiteAdapter`) holds into
    *emu* (see the module docstring). Returns store id → HubSpot id for accounts and leads."""
    fields = _fields()
    stages = fields.stages
    # People are numbered in the order of their names, so rows a report sorts by owner id come
    # in the order the store's rows (sorted by name) do.
    named: set[str] = set()
    for lead in read_all(store, Entity.LEAD):
        named.update(c.by for c in lead.history if c.by and c.by not in _AUTOMATION)
        named.add(lead.owner_id or "")
        named.update(c.owner_id or "" for c in lead.owner_history)
        named.update(c.by or "" for c in lead.owner_history)
    named.update(a.owner_id or "" for a in read_all(store, Entity.ACCOUNT))
    named.update(t.by or "" for t in read_all(store, Entity.TOUCH))
    named.update(o.recorded_by or "" for o in read_all(store, Entity.OUTCOME))
    for name in sorted(named - {""}):
        people.owner(name)
    emu.define_property("contacts", CAMPAIGN_PROPERTY, "leadflow_reject_reason")
    emu.define_property("deals", COMPETITOR_PROPERTY)
    ids: dict[str, str] = {}
    for account in read_all(store, Entity.ACCOUNT):
        props = fields.to_crm("account", attrs.asdict(account, recurse=False))
        props["hubspot_owner_id"] = people.owner(account.owner_id)
        [ids[account.id]] = emu.seed("companies", [props])
    rejected = {r.lead_id for r in read_all(store, Entity.REJECTION)}
    for lead in read_all(store, Entity.LEAD):
        values = attrs.asdict(lead, recurse=False)
        props = fields.to_crm("lead", {k: v for k, v in values.items() if k != "account_id"})
        # Owned from creation by the first owner of its owner history (or its owner).
        first_owner = lead.owner_history[0].owner_id if lead.owner_history else lead.owner_id
        props["hubspot_owner_id"] = people.owner(first_owner)
        first = lead.history[0].from_stage if lead.history else lead.stage
        lifecycle, _, status = stages.to_crm(first).partition(":")
        props.update(lifecyclestage=lifecycle, hs_lead_status=status or None)
        [cid] = emu.seed("contacts", [props])
        ids[lead.id] = cid
        if lead.account_id in ids:
            emu.associate("contacts", cid, "companies", ids[lead.account_id])
        for reassigned in lead.owner_history[1:]:
            emu.touch(
                "contacts",
                cid,
                at=reassigned.at,
                hubspot_owner_id=people.owner(reassigned.owner_id) or "",
                **people.author(reassigned.by),
            )
        for change in lead.history:
            who = people.author(change.by)
            if change.reason and lead.id in rejected:
                # A rep turning the lead down: the status and the reason, nothing else.
                emu.touch(
                    "contacts",
                    cid,
                    at=change.at,
                    hs_lead_status="UNQUALIFIED",
                    leadflow_reject_reason=change.reason,
                    **who,
                )
                status = "UNQUALIFIED"
                continue
            new_lifecycle, _, new_status = stages.to_crm(change.to_stage).partition(":")
            moved: dict[str, str] = {}
            if new_lifecycle != lifecycle:
                moved["lifecyclestage"] = lifecycle = new_lifecycle
            if new_status and new_status != status:
                moved["hs_lead_status"] = status = new_status
            emu.touch("contacts", cid, at=change.at, **moved, **who)
    for activity in read_all(store, Entity.ACTIVITY):
        cid = ids[activity.lead_id]
        if activity.kind in EMAIL_KINDS:
            emu.touch(
                "contacts",
                cid,
                at=activity.occurred_at,
                **{EMAIL_KINDS[activity.kind]: activity.occurred_at},
            )
        else:
            # The conversion's name: the form's, with the page it was on.
            emu.touch(
                "contacts",
                cid,
                at=activity.occurred_at,
                recent_conversion_event_name=f"{activity.kind} ({activity.id})",
            )
    for touch in read_all(store, Entity.TOUCH):
        object_type = _TYPE_OF_KIND[touch.kind.value]
        rule = DEFAULT_TOUCHES[object_type]
        props = {
            "hs_timestamp": touch.at,
            "hubspot_owner_id": people.owner(touch.by),
            rule.subject: touch.subject,
        }
        for name, table in rule.outcomes:
            value = next((raw for raw, outcome in table if outcome is touch.outcome), None)
            if value is not None:
                props[name] = value
                break
        [engagement] = emu.seed(object_type, [props])
        emu.associate(object_type, engagement, "contacts", ids[touch.lead_id])
    for outcome in read_all(store, Entity.OUTCOME):
        props = {
            "dealname": f"Deal for {ids[outcome.lead_id]}",
            "hubspot_owner_id": people.owner(outcome.recorded_by),
            "closedate": outcome.at,
            "hs_is_closed": "true",
            "hs_is_closed_won": "true" if outcome.kind.value == "won" else "false",
        }
        if outcome.kind.value == "won":
            props.update(amount=str(outcome.amount), deal_currency_code=outcome.currency)
        elif outcome.kind.value == "competitor":
            props.update(closed_lost_reason="Lost to competitor")
            props[COMPETITOR_PROPERTY] = outcome.competitor
        else:
            props["closed_lost_reason"] = outcome.reason
        [deal] = emu.seed("deals", [props])
        emu.associate("deals", deal, "contacts", ids[outcome.lead_id])
    return ids
