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
