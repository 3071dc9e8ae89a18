"""Putting leadflow records into the Salesforce emulator "behind the adapter's back".

Scope: test support. The contract suite's ``seed`` hook stores leads, accounts, activities and
touches as Salesforce records (Lead, Account, CampaignMember, Task), the way users and other
integrations would have created them, and returns them with the ids Salesforce assigned. Field
names come from the adapter's default mapping, so a round trip checks the mapping both ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import requests
from tests.emulators.salesforce import SalesforceEmulator

from leadflow.adapters.salesforce import DEFAULT_MAPPING, SalesforceAdapter, SalesforceMapping
from leadflow.model import Account, Activity, Lead, Touch
from leadflow.ports import Entity

__all__ = ["EmulatorSeeder", "make_adapter", "route_login"]


def _reverse(table: dict[str, str] | Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for crm, core in table.items():
        out.setdefault(core, crm)
    return out


class EmulatorSeeder:
    """``seed(entity, items) -> stored items`` for :class:`AdapterContract` over the emulator."""

    def __init__(self, emu: SalesforceEmulator, mapping: SalesforceMapping = DEFAULT_MAPPING):
        self.emu = emu
        self.mapping = mapping

    def __call__(self, entity: Entity, items: Sequence[Any]) -> list[Any]:
        return [self._one(entity, item) for item in items]

    def _store(self, sobject: str, item: Any, fields: dict[str, Any], created: Any) -> str:
        if item.id in self.emu.records[sobject]:
            self.emu.edit(sobject, item.id, fields)
            return str(item.id)
        return self.emu.insert(sobject, fields, created=created)

    def _one(self, entity: Entity, item: Any) -> Any:
        fields = self.mapping.fields
        values = attrs.asdict(item, recurse=False)
        if entity is Entity.LEAD:
            assert isinstance(item, Lead)
            crm = fields.to_crm("lead", {k: v for k, v in values.items() if k != "created_at"})
            crm[fields.crm_field("writeback", "stage")] = item.stage
            status = (
                fields.stages.to_crm(item.stage)
                if item.stage in fields.stages.stages
                else "Open - Not Contacted"
            )
            crm[fields.crm_field("writeback", "status")] = status
            return attrs.evolve(item, id=self._store("Lead", item, crm, item.created_at))
        if entity is Entity.ACCOUNT:
            assert isinstance(item, Account)
            crm = fields.to_crm("account", {k: v for k, v in values.items() if k != "created_at"})
            return attrs.evolve(item, id=self._store("Account", item, crm, item.created_at))
        if entity is Entity.ACTIVITY:
            assert isinstance(item, Activity)
            crm = {
                "LeadId": item.lead_id,
                "CampaignId": item.campaign,
                "Status": _reverse(self.mapping.activity_kinds)[item.kind],
                "HasResponded": True,
            }
            return attrs.evolve(item, id=self._store("CampaignMember", item, crm, item.occurred_at))
        assert isinstance(item, Touch)
        crm = {
            "WhoId": item.lead_id,
            "TaskSubtype": _reverse(self.mapping.touch_kinds)[item.kind.value],
            "CallDisposition": _reverse(self.mapping.touch_outcomes)[item.outcome.value],
            "Status": "Completed",
            "OwnerId": item.by,
            "Subject": item.subject,
        }
        return attrs.evolve(item, id=self._store("Task", item, crm, item.at))


def make_adapter(emu: SalesforceEmulator, **options: Any) -> SalesforceAdapter:
    """An adapter built through ``from_config`` for the emulator, with a token (no re-login),
    a CA bundle, and no real sleeping between retries unless ``sleep`` is given."""
    config: dict[str, Any] = {
        "instance_url": emu.url,
        "session_id": emu.session_id,
        "ca_bundle": str(emu.ca_path),
        "timeout": 10,
        "retry": {"max_attempts": 5, "max_elapsed": 30.0, "base_delay": 0.0, "jitter": 0.0},
        "sleep": lambda _seconds: None,
        "bulk_poll_interval": 0.0,
    }
    config.update(options)
    return SalesforceAdapter.from_config(config)


class _RouteToEmulator(requests.adapters.HTTPAdapter):
    """Sends requests for ``https://login.salesforce.com`` to the emulator instead.

    Test plumbing, like a hosts-file entry: simple-salesforce's login functions always call
    ``https://{domain}.salesforce.com``, so a password-login client needs this route to reach
    127.0.0.1. The client's code runs unchanged; only the destination of the socket differs.
    """

    def __init__(self, target: str) -> None:
        super().__init__()
        self._target = target

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        assert request.url is not None
        request.url = request.url.replace("https://login.salesforce.com", self._target, 1)
        return super().send(request, **kwargs)


def route_login(session: requests.Session, emu: SalesforceEmulator) -> requests.Session:
    """Mount :class:`_RouteToEmulator` for the login host on *session*."""
    session.mount("https://login.salesforce.com/", _RouteToEmulator(emu.url))
    return session


#: The reject code leadflow's history rows leave in the reason field, and the status a rejected
#: lead has in Salesforce.
_REJECTED_STATUS = "Closed - Not Converted"


def seed_org(
    emu: SalesforceEmulator, store: Any, mapping: SalesforceMapping = DEFAULT_MAPPING
) -> dict[str, str]:
    """Put everything *store* (a :class:`~leadflow.adapters.sqlite.SQLiteAdapter`) holds into
    the emulator as a Salesforce org holding the same facts would: accounts; leads with
    ``Leadflow_Stage__c``, the hand-off field and, for every stage change, the ``LeadHistory``
    rows the save left (a rejection also moves ``Status`` to "Closed - Not Converted" and sets
    the reason field); campaign members; tasks; and for every outcome the opportunity the lead
    was converted into, closed at the outcome's instant (won with its amount, lost with its
    loss reason, lost to a competitor with the competitor's name). Returns store id → org id.
    """
    from leadflow.ports import read_all

    fields = mapping.fields
    ids: dict[str, str] = {}
    for account in read_all(store, Entity.ACCOUNT):
        values = attrs.asdict(account, recurse=False)
        crm = fields.to_crm("account", {k: v for k, v in values.items() if k != "created_at"})
        ids[account.id] = emu.insert("Account", crm, created=account.created_at)
    rejected = {r.lead_id for r in read_all(store, Entity.REJECTION)}
    stage_f = fields.crm_field("writeback", "stage")
    code_f = fields.crm_field("writeback", "reject_code")
    for lead in read_all(store, Entity.LEAD):
        values = attrs.asdict(lead, recurse=False)
        skip = {"created_at", "account_id", "handed_off_at"}
        crm = fields.to_crm("lead", {k: v for k, v in values.items() if k not in skip})
        crm["ConvertedAccountId"] = ids.get(lead.account_id or "")
        crm[stage_f] = lead.stage
        crm["Leadflow_Handoff__c"] = (
            lead.handed_off_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            if lead.handed_off_at
            else None
        )
        rid = emu.insert("Lead", crm, created=lead.created_at)
        ids[lead.id] = rid
        status, code = "Open - Not Contacted", None
        for change in lead.history:
            by = change.by or "005000000000003AAA"
            emu.add_history(rid, stage_f, change.from_stage, change.to_stage, at=change.at, by=by)
            if change.reason and lead.id in rejected:
                emu.add_history(rid, code_f, code, change.reason, at=change.at, by=by)
                emu.add_history(rid, "Status", status, _REJECTED_STATUS, at=change.at, by=by)
                code, status = change.reason, _REJECTED_STATUS
            elif status == _REJECTED_STATUS:  # taken up again: open once more
                emu.add_history(rid, "Status", status, "Open - Not Contacted", at=change.at, by=by)
                status = "Open - Not Contacted"
        emu.records["Lead"][rid].update({"Status": status, code_f: code})
    for activity in read_all(store, Entity.ACTIVITY):
        emu.insert(
            "CampaignMember",
            {
                "LeadId": ids[activity.lead_id],
                "CampaignId": activity.campaign,
                "Status": _reverse(mapping.activity_kinds).get(activity.kind, activity.kind),
                "HasResponded": True,
            },
            created=activity.occurred_at,
        )
    for touch in read_all(store, Entity.TOUCH):
        emu.insert(
            "Task",
            {
                "WhoId": ids[touch.lead_id],
                "TaskSubtype": _reverse(mapping.touch_kinds)[touch.kind.value],
                "CallDisposition": _reverse(mapping.touch_outcomes)[touch.outcome.value],
                "Status": "Completed",
                "OwnerId": touch.by,
                "Subject": touch.subject,
            },
            created=touch.at,
        )
    for outcome in read_all(store, Entity.OUTCOME):
        lead_id = ids[outcome.lead_id]
        who = outcome.recorded_by or "005000000000003AAA"
        opened = next(
            (c.at for c in _history(store, outcome.lead_id) if c.to_stage == "opportunity"),
            outcome.at,
        )
        opp = emu.convert(lead_id, {"Name": f"Deal {lead_id}"}, at=opened, by=who)
        close: dict[str, Any] = {"CloseDate": outcome.at.date().isoformat()}
        if outcome.kind.value == "won":
            close["Amount"] = float(outcome.amount or 0)
            emu.close_opportunity(opp, "Closed Won", at=outcome.at, by=who, **close)
        elif outcome.kind.value == "competitor":
            close.update(Loss_Reason__c="Lost to Competitor", Competitor__c=outcome.competitor)
            emu.close_opportunity(opp, "Closed Lost", at=outcome.at, by=who, **close)
        else:
            close["Loss_Reason__c"] = outcome.reason
            emu.close_opportunity(opp, "Closed Lost", at=outcome.at, by=who, **close)
    return ids


def _history(store: Any, lead_id: str) -> tuple[Any, ...]:
    lead = store.leads_by_id([lead_id]).get(lead_id)
    return lead.history if lead is not None else ()
