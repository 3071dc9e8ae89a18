"""Fixtures shared by the HubSpot adapter tests: the loopback emulator, adapters talking to it
through the real hubspot-api-client, and a seeder that puts core records into the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import pytest
from hubspot import HubSpot
from tests.emulators.hubspot import HubSpotEmulator

from leadflow.adapters.hubspot import DEFAULT_FIELDS, DEFAULT_TOUCHES, HubSpotAdapter
from leadflow.adapters.hubspot_feedback import ActivityRules, OutcomeRules, RejectionRules
from leadflow.adapters.mapping import override_from_settings
from leadflow.adapters.sync import RetryPolicy, Secret

__all__ = ["DEFAULT_TOUCHES", "FAST_RETRY", "emulator", "make_adapter", "seed_into", "slept"]
from leadflow.model import Account, Activity, Lead, Touch
from leadflow.ports import Entity

CUSTOM = (
    "leadflow_reject_reason",
    "leadflow_score",
    "leadflow_score_summary",
    "leadflow_reject_code",
    "leadflow_reject_note",
    "leadflow_sla_due",
    "leadflow_sla_state",
    "leadflow_stage_change",
    "leadflow_handoff_at",
)
_TYPE_OF_KIND = {rule.kind.value: object_type for object_type, rule in DEFAULT_TOUCHES.items()}

#: Retries in tests: real back-off arithmetic, but sleeping is recorded, not done.
FAST_RETRY = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05, max_elapsed=30.0)


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator() as emu:
        emu.define_property("contacts", *CUSTOM)
        yield emu


@pytest.fixture
def slept() -> list[float]:
    """The waits the adapter asked for (its ``sleep``), in order."""
    return []


@pytest.fixture
def make_adapter(
    emulator: HubSpotEmulator, slept: list[float]
) -> Iterator[Callable[..., HubSpotAdapter]]:
    built: list[HubSpotAdapter] = []

    def make(**config: Any) -> HubSpotAdapter:
        """An adapter over the real client, configured like ``from_config`` but with fast,
        recorded retries (``sleep`` appends to ``slept``) and unpaced searches."""
        HubSpotAdapter.from_config(
            {"access_token": emulator.token, "host": emulator.url, **config}
        ).close()  # the same settings must pass from_config's checks
        adapter = HubSpotAdapter(
            HubSpot(access_token=emulator.token, host=emulator.url, retry=False),
            host=emulator.url,
            fields=override_from_settings(DEFAULT_FIELDS, config),
            retry=FAST_RETRY,
            timeout=config.get("timeout", 5),
            page_size=config.get("page_size", 200),
            associations=config.get("associations", True),
            **{
                k: config[k]
                for k in ("recheck_window", "recheck_max_seen", "owner_history")
                if k in config
            },
            # Pacing searches is sleeping too: off unless a test asks for it.
            search_rate=config.get("search_rate", 0),
            rejections=RejectionRules.from_config(config.get("rejections", {})),
            outcomes=OutcomeRules.from_config(config.get("outcomes", {})),
            activities=ActivityRules.from_config(config.get("activities", {})),
            secrets=(Secret(emulator.token),),
            sleep=slept.append,
        )
        built.append(adapter)
        return adapter

    yield make
    for adapter in built:
        adapter.close()


def seed_into(emulator: HubSpotEmulator) -> Callable[[Entity, Sequence[Any]], list[Any]]:
    """A contract-suite seeder: core records become HubSpot records (or update existing ones)."""

    def upsert(object_type: str, item_id: str, props: dict[str, Any]) -> str:
        if item_id.isdigit() and item_id in _ids(emulator, object_type):
            emulator.touch(object_type, item_id, **props)
            return item_id
        return emulator.seed(object_type, [props])[0]

    def seed(entity: Entity, items: Sequence[Any]) -> list[Any]:
        stored: list[Any] = []
        for item in items:
            if isinstance(item, Account):
                props = DEFAULT_FIELDS.to_crm("account", attrs.asdict(item, recurse=False))
                new_id = upsert("companies", item.id, props)
            elif isinstance(item, Lead):
                props = DEFAULT_FIELDS.to_crm("lead", attrs.asdict(item, recurse=False))
                lifecycle, _, status = DEFAULT_FIELDS.stages.to_crm(item.stage).partition(":")
                props["lifecyclestage"] = lifecycle
                props["hs_lead_status"] = status or None
                # HubSpot's lifecycle date-entered stamps, as the lead's history set them.
                first = item.history[0].from_stage if item.history else item.stage
                path = [(item.created_at, first)] + [(c.at, c.to_stage) for c in item.history]
                previous = None
                for at, stage in path:
                    stage_lifecycle = DEFAULT_FIELDS.stages.to_crm(stage).partition(":")[0]
                    if stage_lifecycle != previous:  # hs_lead_status moves date nothing
                        props[f"hs_v2_date_entered_{stage_lifecycle}"] = at
                    previous = stage_lifecycle
                if item.history and item.history[-1].reason:
                    # A rejection made in HubSpot: the rep's reason beside the status.
                    props["leadflow_reject_reason"] = item.history[-1].reason
                new_id = upsert("contacts", item.id, props)
                if item.account_id and item.account_id.isdigit():
                    emulator.associate("contacts", new_id, "companies", item.account_id)
            elif isinstance(item, Touch):
                object_type = _TYPE_OF_KIND[item.kind.value]
                rule = DEFAULT_TOUCHES[object_type]
                props = {
                    "hs_timestamp": item.at,
                    "hubspot_owner_id": item.by,
                    rule.subject: item.subject,
                }
                for name, table in rule.outcomes:
                    value = next((raw for raw, outcome in table if outcome is item.outcome), None)
                    if value is not None:
                        props[name] = value
                        break
                parts = item.id.split("/")
                raw_id = parts[1] if len(parts) == 3 and parts[0] == object_type else item.id
                new_id = upsert(object_type, raw_id, props)
                if raw_id != new_id:
                    emulator.associate(object_type, new_id, "contacts", item.lead_id)
                stored.append(attrs.evolve(item, id=f"{object_type}/{new_id}/{item.lead_id}"))
                continue
            elif isinstance(item, Activity):
                # A conversion HubSpot recorded at occurred_at: the contact's
                # recent_conversion_event_name took the kind's name then.
                emulator.touch(
                    "contacts",
                    item.lead_id,
                    at=item.occurred_at,
                    recent_conversion_event_name=item.kind,
                )
                at_ms = round(item.occurred_at.timestamp() * 1000)
                new_id = f"{item.lead_id}/recent_conversion_event_name/{at_ms}"
            else:
                raise TypeError(f"cannot seed {entity}: {item!r}")
            stored.append(attrs.evolve(item, id=new_id))
        return stored

    return seed


def _ids(emulator: HubSpotEmulator, object_type: str) -> set[str]:
    return set(emulator._objects[object_type])
