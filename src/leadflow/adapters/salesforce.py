"""The Salesforce adapter: leadflow's port mapped onto Lead, Task, Account and CampaignMember.

Scope: reading Salesforce records into leadflow's model and writing leadflow's decisions back,
through the `simple-salesforce <https://github.com/simple-salesforce/simple-salesforce>`_ client
(``pip install "leadflow[salesforce]"``). The adapter builds no HTTP layer of its own: queries go
through ``query_all_iter``, sObject Collections through ``Salesforce.restful`` and Bulk API 2.0
through ``Salesforce.bulk2``; the adapter only configures the client's ``requests`` session (CA
bundle, timeout, a response hook that remembers ``Retry-After``).

* **Mapping is data** (:data:`DEFAULT_MAPPING`, a :class:`~leadflow.adapters.mapping.FieldMap`
  plus value tables), overridable per org with ``fields``/``stages`` (and value-table) settings,
  the convention every adapter follows: Lead standard fields, the
  ``Lead.Status`` picklist for the stages it can hold, and custom fields for what Salesforce has
  no place for (``Leadflow_Score__c``, ``Leadflow_Score_Summary__c``, ``Leadflow_Stage__c``,
  ``Leadflow_Reject_Code__c``, ``Leadflow_Reject_Note__c``, ``Leadflow_SLA_Due__c``,
  ``Leadflow_SLA_State__c``, ``Leadflow_Handoff__c``). Tasks are the :class:`~leadflow.model.Touch` es SLAs are judged on;
  campaign members are :class:`~leadflow.model.Activity` s.
* **Reads** are incremental on ``SystemModstamp`` with a ``(SystemModstamp, Id)`` keyset cursor
  (:class:`~leadflow.adapters.sync.KeysetToken`), ordered by both, selecting only mapped fields.
* **Writes** are batched: sObject Collections (200 records a call), Bulk API 2.0 when a batch
  has at least ``bulk_threshold`` records. Before writing, the current values and stamps of the
  batch's leads are read back; a lead changed since ``expected_version`` is reported as
  ``conflict`` (not overwritten), a lead that already holds the values as ``unchanged``.
* **Faults:** ``REQUEST_LIMIT_EXCEEDED``, 429 (honouring ``Retry-After``), 5xx and dropped
  connections are retried through :func:`~leadflow.adapters.sync.retry_call`, bounded in count
  and time; an expired session logs in again when the configuration holds credentials, else raises
  :class:`~leadflow.errors.AuthenticationError`. Every value put into SOQL goes through
  ``format_soql``; tokens never appear in reprs, logs or error messages.

>>> from leadflow.ports import WriteKind
>>> SalesforceAdapter.capabilities.can_write(WriteKind.SCORE), SalesforceAdapter.name
(True, 'salesforce')
>>> DEFAULT_MAPPING.fields.crm_field("writeback", "score")
'Leadflow_Score__c'
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar, cast
from urllib.parse import urlsplit

import attrs
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import SFBulk2Handler, SFBulk2Type
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceOperationError,
)
from simple_salesforce.format import format_soql

from leadflow.adapters.mapping import OVERRIDE_KEYS, FieldMap, override_from_settings
from leadflow.adapters.sync import (
    GIVE_UP,
    RETRY,
    Decision,
    KeysetToken,
    RetryPolicy,
    Secret,
    chunked,
    get_logger,
    parse_retry_after,
    redact,
    retry_after,
    retry_call,
    retry_policy,
)
from leadflow.errors import (
    AdapterError,
    AuthenticationError,
    ConfigError,
    RateLimitedError,
    TransientAdapterError,
    ValidationError,
)
from leadflow.lifecycle import WATERFALL
from leadflow.model import Account, Activity, Lead, OwnerChange, StageChange, Touch
from leadflow.outcomes import Outcome, OutcomeKind
from leadflow.ports import (
    Capabilities,
    Cursor,
    Entity,
    OutcomeWrite,
    Page,
    RecordError,
    RejectionWrite,
    ScoreWrite,
    SLAWrite,
    StageWrite,
    Versioned,
    Write,
    WriteKind,
    WriteResult,
    WriteStatus,
)
from leadflow.reasons import STANDARD_REASONS, ReasonCatalog, Rejection

__all__ = [
    "DEFAULT_MAPPING",
    "MAPPING_KEYS",
    "SalesforceAdapter",
    "SalesforceMapping",
]

T = TypeVar("T")

_log = get_logger("salesforce")

#: Salesforce record ids: 15 case-sensitive or 18 case-insensitive-safe characters.
_SF_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?", re.ASCII)  # use with fullmatch
#: An API version as Salesforce names them: ``59.0``.
_VERSION = re.compile(r"[1-9][0-9]{1,2}\.0", re.ASCII)
_LEAD_PREFIX = "00Q"
#: The entity each read sObject is mapped onto.
_SOBJECT_ENTITY = {
    "Lead": Entity.LEAD,
    "Account": Entity.ACCOUNT,
    "CampaignMember": Entity.ACTIVITY,
    "Task": Entity.TOUCH,
}

_WRITES: frozenset[WriteKind] = frozenset(
    {WriteKind.SCORE, WriteKind.STAGE, WriteKind.REJECTION, WriteKind.SLA}
)
#: The sObject Collections limit per call.
COLLECTION_LIMIT = 200
#: Ids per ``IN (...)`` of a read query: 400 quoted 18-character ids keep the GET request's URI
#: (about 28 encoded characters an id) well under Salesforce's 16,384-byte limit.
_IDS_PER_QUERY = 400


def _table(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            path, f"must be a table of Salesforce value = leadflow value, got {value!r}"
        )
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str) or not item:
            raise ConfigError(
                f"{path}.{key}", f"must map a string to a non-empty string, got {item!r}"
            )
        out[key] = item
    return out


_VALUE_TABLES = (
    "activity_kinds",
    "touch_kinds",
    "touch_outcomes",
    "reject_reasons",
    "loss_reasons",
)
_VALUES = ("rejected_statuses", "currency", "handoff_stage")
#: The adapter settings that override :data:`DEFAULT_MAPPING`: the field map's ``fields`` and
#: ``stages`` (:data:`~leadflow.adapters.mapping.OVERRIDE_KEYS`), the value tables, the
#: ``rejected_statuses`` list, the org's ``currency`` and the ``handoff_stage``.
MAPPING_KEYS = (*OVERRIDE_KEYS, *_VALUE_TABLES, *_VALUES)
#: The core fields the ``rejection`` and ``outcome`` entities of the field map may name.
_FEEDBACK_FIELDS = {
    "rejection": ("reason", "note"),
    "outcome": ("loss_reason", "competitor", "currency"),
}
#: Outcome kinds a loss reason may map to (``won`` comes from ``IsWon``, ``evaluating`` from an
#: open opportunity).
_LOSS_KINDS = frozenset(
    {OutcomeKind.LOST.value, OutcomeKind.COMPETITOR.value, OutcomeKind.NO_DECISION.value}
)


def _frozen(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class SalesforceMapping:
    """How Salesforce records map onto leadflow: a :class:`FieldMap` plus value tables.

    ``fields`` has the entities ``lead``, ``account``, ``activity`` (CampaignMember), ``touch``
    (Task) and ``writeback`` (the Lead fields leadflow writes: ``score``, ``score_summary``,
    ``recommendation``, ``stage``, ``status``, ``reject_code``, ``reject_note``, ``sla_due``,
    ``sla_state``); its stage map says which stages are mirrored into ``Lead.Status`` (a stage
    without a status leaves ``Status`` alone; ``Leadflow_Stage__c`` always holds the stage).
    ``touch_kinds`` maps ``Task.TaskSubtype`` to a :class:`~leadflow.model.TouchKind`,
    ``touch_outcomes`` maps ``Task.CallDisposition`` to a :class:`~leadflow.model.TouchOutcome`,
    ``activity_kinds`` maps ``CampaignMember.Status`` to an activity kind.

    What sales decided and what became of leads: a lead whose ``Status`` is one of
    ``rejected_statuses`` is rejected with the reject code its reason picklist
    (``fields.rejection.reason``) maps to through ``reject_reasons`` (a value that is already a
    leadflow code, or a code's label, needs no entry); an opportunity lost is an outcome of the
    kind its loss reason (``fields.outcome.loss_reason``) maps to through ``loss_reasons``
    (``lost``, ``competitor`` or ``no_decision``). A value neither table knows is reported, never
    guessed. ``currency`` is the org's currency (a multi-currency org maps
    ``fields.outcome.currency`` to ``CurrencyIsoCode`` instead); ``handoff_stage`` is the stage
    whose latest entry in the lead's history is its hand-off time.

    >>> m = DEFAULT_MAPPING.override({"fields": {"writeback": {"score": "Lead_Score__c"}},
    ...                               "touch_kinds": {"Video Call": "meeting"}})
    >>> m.fields.crm_field("writeback", "score"), m.touch_kinds["Video Call"]
    ('Lead_Score__c', 'meeting')
    >>> DEFAULT_MAPPING.override({"sobjects": {}})
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: sobjects: unknown key; expected one of activity_kinds, currency, fields, handoff_stage, loss_reasons, reject_reasons, rejected_statuses, stages, touch_kinds, touch_outcomes
    """

    fields: FieldMap
    touch_kinds: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    touch_outcomes: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    activity_kinds: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    reject_reasons: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    loss_reasons: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    rejected_statuses: tuple[str, ...] = ("Closed - Not Converted",)
    currency: str = "USD"
    handoff_stage: str = "mql"
    reasons: ReasonCatalog = STANDARD_REASONS

    def reject_code(self, value: str) -> str | None:
        """The leadflow reject code a reason picklist value stands for, or ``None``.

        >>> DEFAULT_MAPPING.reject_code("No budget this cycle"), DEFAULT_MAPPING.reject_code("x")
        ('no_budget', None)
        """
        code = self.reject_reasons.get(value)
        if code is None and value in self.reasons:
            code = value
        if code is None:
            code = next((c.code for c in self.reasons if c.label == value), None)
        return code

    def loss_kind(self, value: str | None) -> str | None:
        """The outcome kind a loss reason stands for (``lost`` for a blank one), or ``None``."""
        if value is None or not str(value).strip():
            return OutcomeKind.LOST.value
        return self.loss_reasons.get(str(value))

    def override(self, data: Mapping[str, Any]) -> SalesforceMapping:
        """A new mapping with *data* applied: ``fields``/``stages`` as for
        :func:`~leadflow.adapters.mapping.override_from_settings` (an unknown entity or
        write-back field is refused), the value tables merged key by key."""
        unknown = sorted(set(data) - set(MAPPING_KEYS))
        if unknown:
            raise ConfigError(
                unknown[0],
                f"unknown key; expected one of {', '.join(sorted(MAPPING_KEYS))}",
            )
        writeback = {*(rule.core for rule in self.fields.rules("writeback")), "recommendation"}
        changes: dict[str, Any] = {
            "fields": override_from_settings(
                self.fields, data, fixed={"writeback": writeback, **_FEEDBACK_FIELDS}
            )
        }
        for name in _VALUE_TABLES:
            if name in data:
                changes[name] = {**getattr(self, name), **_table(data[name], name)}
        for kind in changes.get("loss_reasons", {}).values():
            if kind not in _LOSS_KINDS:
                raise ConfigError(
                    "loss_reasons", f"{kind!r} is not one of {', '.join(sorted(_LOSS_KINDS))}"
                )
        if "rejected_statuses" in data:
            statuses = data["rejected_statuses"]
            if isinstance(statuses, str) or not all(
                isinstance(v, str) and v for v in statuses or ()
            ):
                raise ConfigError("rejected_statuses", "must be a list of Lead.Status values")
            changes["rejected_statuses"] = tuple(statuses)
        for name in ("currency", "handoff_stage"):
            if name in data:
                if not isinstance(data[name], str) or not data[name]:
                    raise ConfigError(name, f"must be a non-empty string, got {data[name]!r}")
                changes[name] = data[name]
        updated = attrs.evolve(self, **changes)
        for code in updated.reject_reasons.values():
            if code not in updated.reasons:
                raise ConfigError("reject_reasons", f"{code!r} is not a reject code")
        return updated


#: The mapping of a standard org with leadflow's custom fields created (see docs/salesforce.md).
DEFAULT_MAPPING = SalesforceMapping(
    fields=FieldMap.from_dict(
        {
            "fields": {
                "lead": {
                    "email": "Email",
                    "first_name": "FirstName",
                    "last_name": "LastName",
                    "title": "Title",
                    "company": "Company",
                    "industry": "Industry",
                    "annual_revenue": {"crm": "AnnualRevenue", "converter": "float"},
                    "employees": {"crm": "NumberOfEmployees", "converter": "int"},
                    "country": "Country",
                    "source": "LeadSource",
                    "owner_id": "OwnerId",
                    "account_id": "ConvertedAccountId",
                    "created_at": {"crm": "CreatedDate", "converter": "datetime"},
                },
                "writeback": {
                    "score": {"crm": "Leadflow_Score__c", "converter": "float"},
                    "score_summary": "Leadflow_Score_Summary__c",
                    "stage": "Leadflow_Stage__c",
                    "status": "Status",
                    "reject_code": "Leadflow_Reject_Code__c",
                    "reject_note": "Leadflow_Reject_Note__c",
                    "sla_due": {"crm": "Leadflow_SLA_Due__c", "converter": "datetime"},
                    "sla_state": "Leadflow_SLA_State__c",
                    "handoff": {"crm": "Leadflow_Handoff__c", "converter": "datetime"},
                    "is_converted": {"crm": "IsConverted", "converter": "bool"},
                },
                "account": {
                    "name": "Name",
                    "domain": "Website",
                    "industry": "Industry",
                    "annual_revenue": {"crm": "AnnualRevenue", "converter": "float"},
                    "employees": {"crm": "NumberOfEmployees", "converter": "int"},
                    "country": "BillingCountry",
                    "owner_id": "OwnerId",
                    "created_at": {"crm": "CreatedDate", "converter": "datetime"},
                },
                "touch": {
                    "lead_id": "WhoId",
                    "kind": "TaskSubtype",
                    "outcome": "CallDisposition",
                    "status": "Status",
                    "at": {"crm": "CreatedDate", "converter": "datetime"},
                    "by": "OwnerId",
                    "subject": "Subject",
                },
                "activity": {
                    "lead_id": "LeadId",
                    "kind": "Status",
                    "campaign": "CampaignId",
                    "responded": {"crm": "HasResponded", "converter": "bool"},
                    "occurred_at": {"crm": "CreatedDate", "converter": "datetime"},
                },
                # A rep's rejection: its reason picklist and note. Unset, they are the
                # write-back reject_code and reject_note fields (make Leadflow_Reject_Code__c a
                # picklist of your reasons, or name your own field here).
                "rejection": {},
                # What became of the opportunity a lead turned into: why it was lost, to whom.
                "outcome": {
                    "loss_reason": "Loss_Reason__c",
                    "competitor": "Competitor__c",
                },
            },
            # Stages mirrored into Lead.Status (the picklist of a standard org). Others (mql, sql,
            # recycled...) leave Status alone and live in Leadflow_Stage__c only.
            "stages": {
                "inquiry": "Open - Not Contacted",
                "sal": "Working - Contacted",
                "disqualified": "Closed - Not Converted",
                "aliases": {"Closed - Converted": "opportunity"},
            },
        }
    ),
    touch_kinds={
        "Call": "call",
        "Email": "email",
        "ListEmail": "email",
        "LinkedIn": "social",
        "Cadence": "task",
        "Task": "task",
    },
    touch_outcomes={
        "Attempted": "attempted",
        "No Answer": "no_answer",
        "Left Voicemail": "left_voicemail",
        "Sent": "sent",
        "Bounced": "bounced",
        "Replied": "replied",
        "Connected": "connected",
        "Meeting Booked": "meeting_booked",
        "Completed": "completed",
    },
    activity_kinds={
        "Visited": "web_visit",
        "Opened": "email_open",
        "Clicked": "email_click",
        "Downloaded": "content_download",
        "Registered": "webinar_registration",
        "Attended": "webinar_attended",
        "Attended Event": "event_attended",
        "Scanned": "trade_show_scan",
        "Responded": "form_submit",
        "Requested Demo": "demo_request",
        "Requested Quote": "quote_request",
    },
    loss_reasons={
        "Lost to Competitor": "competitor",
        "Competitor": "competitor",
        "No Decision": "no_decision",
        "No Decision / Non-Responsive": "no_decision",
        "Price": "lost",
        "No Budget": "lost",
        "Timing": "lost",
        "Features": "lost",
        "Other": "lost",
    },
    rejected_statuses=("Closed - Not Converted", "Unqualified"),
)


# -- errors ------------------------------------------------------------------------------------


def _sf_error_code(exc: BaseException) -> str | None:
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        code = content[0].get("errorCode")
        return str(code) if code is not None else None
    return None


def _sf_error_text(exc: BaseException) -> str:
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        first = content[0]
        return f"{first.get('errorCode')}: {first.get('message')}"
    status = getattr(exc, "status", None)
    if status is not None:
        return f"HTTP {status}: {str(content)[:200]}"
    return f"{type(exc).__name__}: {exc}"


def _is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, requests.ConnectionError | requests.Timeout)


# -- the adapter -------------------------------------------------------------------------------


class _Secrets:
    """The credentials of one adapter, kept out of every repr and masked in every message."""

    def __init__(self, values: Iterable[str | None]) -> None:
        self._values = tuple(Secret(v) for v in values if v)

    @property
    def values(self) -> tuple[Secret, ...]:
        """The secrets, wrapped (for :func:`~leadflow.adapters._sync.redact`)."""
        return self._values

    def scrub(self, text: str) -> str:
        result: str = redact(text, secrets=self._values)
        return result

    def __repr__(self) -> str:
        return f"<{len(self._values)} secrets>"


class SalesforceAdapter:
    """Reads leads, accounts, campaign members and tasks from Salesforce; writes decisions back.

    Build it with :meth:`from_config` (what ``leadflow.adapters.load("salesforce", ...)`` does);
    the constructor takes a ready client factory, for tests and for applications that build their
    own :class:`simple_salesforce.Salesforce`.

    ``connect`` returns a logged-in client; ``can_relogin`` says whether calling it again yields
    a fresh session (credentials in the configuration) or just the same expired token.

    A :attr:`~leadflow.ports.StageWrite.handed_off_at` is written to ``Leadflow_Handoff__c``
    (``capabilities.handoff_time``); a lead handed over in Salesforce itself (its stage or
    ``Status`` moved to ``handoff_stage`` by a rep or a flow) has the hand-off time of that
    change in ``LeadHistory``. Rejections and outcomes are read from the lead's history and the
    opportunities it became (see :meth:`read_rejections`, :meth:`read_outcomes`).
    """

    name: ClassVar[str] = "salesforce"
    #: How many leads' LeadHistory rows are remembered between reads (then forgotten at once).
    _HISTORY_CACHE_MAX: ClassVar[int] = 50_000
    capabilities: ClassVar[Capabilities] = Capabilities(
        reads=frozenset({*_SOBJECT_ENTITY.values(), Entity.REJECTION, Entity.OUTCOME}),
        writes=_WRITES,
        max_batch=COLLECTION_LIMIT,
        conflict_detection=True,
        transactional_batches=False,
        handoff_time=True,
    )

    def __init__(
        self,
        *,
        connect: Callable[[], Salesforce],
        can_relogin: bool = False,
        mapping: SalesforceMapping = DEFAULT_MAPPING,
        page_size: int = 2000,
        bulk_threshold: int = 10_000,
        bulk_poll_interval: float = 2.0,
        scan_threshold: int = 1_000,
        score_decimals: int = 2,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], object] = time.sleep,
        secrets: Iterable[str | None] = (),
        retry_after_of: Callable[[], float | None] = lambda: None,
        on_close: Callable[[], None] = lambda: None,
        pin: Callable[[str | None], None] = lambda _host: None,
        describe: str = "",
    ) -> None:
        for field, value, least in (
            ("page_size", page_size, 1),
            ("bulk_threshold", bulk_threshold, 1),
            ("scan_threshold", scan_threshold, 1),
            ("score_decimals", score_decimals, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(field, f"must be a whole number >= {least}, got {value!r}")
        if not isinstance(bulk_poll_interval, int | float) or bulk_poll_interval < 0:
            raise ConfigError(
                "bulk_poll_interval", f"must be seconds >= 0, got {bulk_poll_interval!r}"
            )
        self._connect = connect
        self._can_relogin = can_relogin
        self.mapping = mapping
        self.page_size = page_size
        self.bulk_threshold = bulk_threshold
        self.bulk_poll_interval = float(bulk_poll_interval)
        self.scan_threshold = scan_threshold
        self.score_decimals = score_decimals
        self.retry = retry if retry is not None else RetryPolicy(max_attempts=6, max_elapsed=120.0)
        self._sleep = sleep
        self._secrets = _Secrets(secrets)
        self._retry_after_of = retry_after_of
        self._on_close = on_close
        self._pin = pin
        self._describe = describe
        self._sf: Salesforce | None = None
        self._closed = False
        # lead id -> (the lead's SystemModstamp, its LeadHistory rows)
        self._history_cache: dict[str, tuple[str, list[Mapping[str, Any]]]] = {}

    def __repr__(self) -> str:
        return f"SalesforceAdapter({self._describe})" if self._describe else "SalesforceAdapter()"

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | None = None, /, **options: Any
    ) -> SalesforceAdapter:
        """Build the adapter and its simple-salesforce client from plain configuration.

        Connection (one of simple-salesforce's login forms):

        * ``instance_url`` + ``session_id`` (or ``access_token``): an OAuth access token. It
          cannot be renewed by the adapter; when it expires the adapter raises
          :class:`~leadflow.errors.AuthenticationError`.
        * ``username`` + ``password`` + ``security_token`` (optionally ``domain``: ``"login"``,
          ``"test"`` or a My Domain), or ``username`` + ``password`` + ``organizationId``, or
          ``username`` + ``password`` + ``consumer_key`` + ``consumer_secret``, or ``username`` +
          ``consumer_key`` + ``privatekey_file``/``privatekey`` (JWT), or ``consumer_key`` +
          ``consumer_secret`` + ``domain`` (client credentials): the adapter logs in again when
          the session expires.

        HTTP: ``version`` (API version, default simple-salesforce's), ``ca_bundle`` (a CA file
        to verify TLS with; when given, ``REQUESTS_CA_BUNDLE`` and proxy variables in the
        environment are ignored so they cannot override it), ``trust_env`` (default ``True``
        without a ``ca_bundle``), ``timeout`` (seconds per request, default 60), ``session`` (a
        ``requests.Session`` of your own).

        Mapping: ``fields``, ``stages``, ``touch_kinds``, ``touch_outcomes`` and
        ``activity_kinds`` tables override :data:`DEFAULT_MAPPING` (see
        :meth:`SalesforceMapping.override`), the same ``fields``/``stages`` convention as every
        adapter (:data:`~leadflow.adapters.mapping.OVERRIDE_KEYS`).

        Behaviour: ``page_size``,
        ``bulk_threshold``, ``bulk_poll_interval``, ``scan_threshold``, ``score_decimals``,
        ``retry`` (a :class:`~leadflow.adapters.sync.RetryPolicy` or a table of its fields).

        >>> SalesforceAdapter.from_config({"instance_url": "https://example.my.salesforce.com"})
        Traceback (most recent call last):
        ...
        leadflow.errors.ConfigError: salesforce: no login form matches the configuration (keys given: instance_url); give instance_url + session_id, or username + password + security_token, ...
        """
        settings: dict[str, Any] = {**(config or {}), **options}

        behaviour = {
            k: settings.pop(k)
            for k in (
                "page_size",
                "bulk_threshold",
                "bulk_poll_interval",
                "scan_threshold",
                "score_decimals",
            )
            if k in settings
        }
        if "mapping" in settings:
            raise ConfigError(
                "mapping",
                "is not a setting; put the overrides directly in the adapter's settings, "
                f"under {', '.join(MAPPING_KEYS)} (e.g. [adapters.salesforce.fields.writeback])",
            )
        mapping = DEFAULT_MAPPING.override(
            {k: settings.pop(k) for k in MAPPING_KEYS if k in settings}
        )
        retry = retry_policy(settings.pop("retry", None))
        sleep = settings.pop("sleep", time.sleep)
        if "access_token" in settings:
            token = settings.pop("access_token")
            settings.setdefault("session_id", token)
        session, own_session, last_retry_after, pin = _http_session(settings)
        login, can_relogin = _login_form(settings)
        secrets = [
            str(login[k])
            for k in ("session_id", "password", "security_token", "consumer_secret", "privatekey")
            if k in login
        ]
        where = login.get("instance_url") or login.get("instance") or login.get("domain", "login")

        def connect() -> Salesforce:
            return Salesforce(session=session, **login)

        def close() -> None:
            if own_session:
                session.close()

        return cls(
            connect=connect,
            can_relogin=can_relogin,
            mapping=mapping,
            retry=retry,
            sleep=sleep,
            secrets=secrets,
            retry_after_of=last_retry_after,
            on_close=close,
            pin=pin,
            describe=f"instance={where!r}, auth={'login' if can_relogin else 'token'}",
            **behaviour,
        )

    # -- calling Salesforce --------------------------------------------------------------------

    def _client(self) -> Salesforce:
        if self._closed:
            raise AdapterError("the adapter is closed", adapter=self.name)
        if self._sf is None:
            self._pin(None)  # logging in may talk to the login host
            self._sf = self._guarded("login", self._connect)
            # From here on every request stays on the instance the login named.
            self._pin(str(self._sf.sf_instance))
        return self._sf

    def _classify(self, exc: BaseException) -> Decision:
        if _is_connection_error(exc):
            return RETRY
        if isinstance(exc, SalesforceError):
            status = exc.status
            if status == 429 or _sf_error_code(exc) == "REQUEST_LIMIT_EXCEEDED":
                after = self._retry_after_of()
                return retry_after(after) if after is not None else RETRY
            if isinstance(status, int) and status >= 500:
                after = self._retry_after_of()
                return retry_after(after) if after is not None and status == 503 else RETRY
        return GIVE_UP

    def _guarded(self, describe: str, fn: Callable[[], T], policy: RetryPolicy | None = None) -> T:
        """Run *fn* with retries (*policy*, default the adapter's), and translate what escapes
        into leadflow's errors, with the adapter's secrets scrubbed from every message."""
        try:
            return retry_call(
                functools.partial(self._scrubbed, fn),
                policy=policy or self.retry,
                classify=self._classify,
                sleep=self._sleep,
                describe=f"salesforce {describe}",
            )
        except SalesforceExpiredSession:
            raise
        except SalesforceAuthenticationFailed as exc:
            raise AuthenticationError(
                self._secrets.scrub(f"login refused: {exc.code}: {exc.auth_message}"),
                adapter=self.name,
            ) from None
        except SalesforceError as exc:
            text = self._secrets.scrub(f"{describe} failed: {_sf_error_text(exc)}")
            if exc.status == 429 or _sf_error_code(exc) == "REQUEST_LIMIT_EXCEEDED":
                raise RateLimitedError(
                    text + " (rate limit still exceeded after retrying)",
                    adapter=self.name,
                    retry_after=self._retry_after_of(),
                ) from None
            if isinstance(exc.status, int) and exc.status >= 500:
                raise TransientAdapterError(text + " (after retrying)", adapter=self.name) from None
            raise AdapterError(text, adapter=self.name) from None
        except Exception as exc:
            if _is_connection_error(exc):
                raise TransientAdapterError(
                    self._secrets.scrub(
                        f"{describe} failed: connection error after retrying: {type(exc).__name__}"
                    ),
                    adapter=self.name,
                ) from None
            if isinstance(exc, requests.RequestException):  # a bad URL, too many redirects...
                raise AdapterError(
                    self._secrets.scrub(f"{describe} failed: {type(exc).__name__}: {exc}"),
                    adapter=self.name,
                ) from None
            raise

    def _scrubbed(self, fn: Callable[[], T]) -> T:
        """*fn*'s result; a Salesforce error it raises loses the adapter's secrets from the
        response body and URL it carries (the retry log prints it)."""
        try:
            return fn()
        except SalesforceError as exc:
            exc.content = redact(exc.content, secrets=self._secrets.values)
            exc.url = self._secrets.scrub(str(exc.url))
            raise

    def _call(
        self, describe: str, fn: Callable[[Salesforce], T], policy: RetryPolicy | None = None
    ) -> T:
        """Call *fn* with the client: retried (*policy*, default the adapter's), and logged in
        again once if the session expired."""
        relogged = False
        while True:
            client = self._client()
            try:
                return self._guarded(describe, functools.partial(fn, client), policy)
            except SalesforceExpiredSession:
                if relogged or not self._can_relogin:
                    raise AuthenticationError(
                        "the Salesforce session expired or is invalid (INVALID_SESSION_ID); "
                        + (
                            "logging in again did not help"
                            if relogged
                            else "configure a fresh access token, or username and password so "
                            "the adapter can log in again"
                        ),
                        adapter=self.name,
                    ) from None
                _log.info("salesforce session expired; logging in again")
                self._sf = None
                relogged = True

    def _query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Records of *soql* (already formatted with ``format_soql``), page by page.

        Each page fetch (the query, then each ``nextRecordsUrl``) is retried on its own, so a
        fault in the middle of a long read does not start it over.
        """
        first = self._call("query", lambda sf: sf.query(soql))
        result: Mapping[str, Any] = first
        while True:
            yield from result["records"]
            if result.get("done", True):
                return
            next_url = self._next_url(result.get("nextRecordsUrl"))

            def more(sf: Salesforce, url: str = next_url) -> Any:
                return sf.query_more(url, identifier_is_url=True)

            result = self._call("query more", more)

    def _next_url(self, value: Any) -> str:
        """A ``nextRecordsUrl`` the service handed back, if it is a query locator of this
        instance's API (``/services/data/vXX.X/query/<locator>-<offset>``); anything else —
        another host, another path, a user-info trick — is refused, never followed."""
        base = urlsplit(str(self._client().base_url)).path.rstrip("/")
        pattern = re.escape(base) + r"/query(?:All)?/[A-Za-z0-9]{15,18}-[0-9]{1,9}"
        if not isinstance(value, str) or not re.fullmatch(pattern, value, re.ASCII):
            shown = self._secrets.scrub(repr(value))[:200]
            _log.error("salesforce: refused nextRecordsUrl %s (not this instance's query)", shown)
            raise AdapterError(
                f"refused to follow nextRecordsUrl {shown}: not a query locator under "
                f"{base}/query/ on this instance",
                adapter=self.name,
            )
        return value

    # -- reads -----------------------------------------------------------------------------

    def _select(self, sobject: str, fields: Iterable[str]) -> str:
        names = ["Id", "SystemModstamp"]
        for name in fields:
            if name not in names:
                names.append(name)
        return f"SELECT {', '.join(names)} FROM {sobject}"

    def _read(
        self,
        entity: Entity,
        sobject: str,
        fields: Iterable[str],
        cursor: Cursor | None,
        build: Callable[[Sequence[Mapping[str, Any]]], Sequence[Any]],
    ) -> Iterator[Page[Any]]:
        """Records of *sobject* changed after *cursor*, oldest first, built a page at a time.

        The cursor is the second of the last record read and what was read in that second
        (:class:`_SecondCursor`): ``SystemModstamp`` has whole-second precision, so a record
        changed later in that same second may sort before the last one read. The read starts
        at that second inclusively and skips only the records it already holds there, by id
        and version. *build* maps a page of records (in order) to items, ``RecordError`` s or
        ``None`` (a record that is not one of leadflow's).
        """
        start: _SecondCursor | None = None
        if cursor is not None:
            if cursor.entity is not entity:
                raise ValidationError(
                    "cursor.entity", cursor.entity.value, f"is not a {entity.value} cursor"
                )
            if cursor.token is not None:
                start = _SecondCursor.decode(cursor.token)
        soql = self._select(sobject, fields)
        if start is not None:
            soql += format_soql(" WHERE SystemModstamp >= {}", start.stamp)
        soql += " ORDER BY SystemModstamp, Id"
        raw: list[Mapping[str, Any]] = []
        last = start
        for record in self._query(soql):
            stamp = _parse_stamp(record["SystemModstamp"]).replace(microsecond=0)
            seen = (str(record["Id"]), _digest(record))
            if start is not None and stamp <= start.stamp and seen in start.seen:
                continue
            last = _SecondCursor.after(last, stamp, seen)
            raw.append(record)
            if len(raw) >= self.page_size:
                yield self._page(entity, raw, build, last)
                raw = []
        if raw and last is not None:
            yield self._page(entity, raw, build, last)

    def _page(
        self,
        entity: Entity,
        records: Sequence[Mapping[str, Any]],
        build: Callable[[Sequence[Mapping[str, Any]]], Sequence[Any]],
        last: _SecondCursor,
    ) -> Page[Any]:
        batch: list[Versioned[Any]] = []
        errors: list[RecordError] = []
        for record, built in zip(records, build(records), strict=True):
            # one record may stand for several items (a lead's rejections) or none
            for item in built if isinstance(built, list) else [built]:
                if isinstance(item, RecordError):
                    errors.append(item)
                elif item is not None:
                    batch.append(Versioned(item=item, version=str(record["SystemModstamp"])))
        return Page(
            items=tuple(batch),
            cursor=Cursor(entity=entity, token=last.encode()),
            errors=tuple(errors),
        )

    def _skip(self, sobject: str, record: Mapping[str, Any], exc: ValidationError) -> RecordError:
        error = self._secrets.scrub(str(exc))
        _log.warning("skipped %s %s: %s", sobject, record.get("Id"), error)
        return RecordError(
            entity=_SOBJECT_ENTITY[sobject], record_id=str(record.get("Id")), error=error
        )

    @property
    def _wb(self) -> dict[str, str]:
        return {r.core: r.crm for r in self.mapping.fields.rules("writeback")}

    def _feedback_field(self, entity: str, core: str) -> str | None:
        """The CRM field of a ``rejection``/``outcome`` core field; a rejection's reason and
        note default to the write-back fields leadflow writes its own codes and notes to."""
        rule = next((r for r in self.mapping.fields.rules(entity) if r.core == core), None)
        if rule is None and entity == "rejection" and core in ("reason", "note"):
            return self._wb.get(f"reject_{'code' if core == 'reason' else 'note'}")
        return rule.crm if rule is not None else None

    def _lead_fields(self) -> list[str]:
        fields = [*self.mapping.fields.crm_fields("lead")]
        wb = self._wb
        fields += [wb[k] for k in ("stage", "status", "is_converted", "handoff") if k in wb]
        fields += [
            f for f in (self._feedback_field("rejection", c) for c in ("reason", "note")) if f
        ]
        return list(dict.fromkeys(fields))

    def _status_stage(self, status: Any) -> str | None:
        """The stage a ``Status`` value stands for (``None``: no mapped stage)."""
        if not status:
            return None
        try:
            return self.mapping.fields.stages.from_crm(str(status))
        except ValidationError:
            return None

    def _rejected_stage(self, reason: Any, status: Any) -> str:
        """The stage a lead rejected (``Status`` in ``rejected_statuses``) with *reason* is in:
        its code's disposition decides; without a known code, the status's own stage."""
        code = self.mapping.reject_code(str(reason)) if reason else None
        if code is not None:
            disposition = self.mapping.reasons[code].disposition.value
            stage = WATERFALL.recycled if disposition == "recycle" else WATERFALL.disqualified
            if stage is not None:
                return stage
        return self._status_stage(status) or str(WATERFALL.disqualified)

    def _field_stage(self, record: Mapping[str, Any]) -> str:
        """A lead's stage from its fields alone: a rejected ``Status`` (a rep's verdict), else
        ``Leadflow_Stage__c``, else conversion, else the ``Status`` mapping, else (no ``Status``)
        ``inquiry``. A ``Status`` the mapping does not know is a
        :class:`~leadflow.errors.ValidationError` (the read reports the lead), never a guess."""
        wb = self._wb
        status = record.get(wb["status"]) if "status" in wb else None
        stage = record.get(wb["stage"]) if "stage" in wb else None
        if status in self.mapping.rejected_statuses and stage not in _REJECTED_STAGES:
            reason_field = self._feedback_field("rejection", "reason")
            return self._rejected_stage(record.get(reason_field) if reason_field else None, status)
        if stage:
            return str(stage)
        if "is_converted" in wb and record.get(wb["is_converted"]):
            return "opportunity"
        mapped = self._status_stage(status)
        if status and mapped is None:  # reported on the page, never guessed
            raise ValidationError(
                wb["status"],
                status,
                "maps to no stage (add it under [adapters.salesforce.stages.aliases])",
            )
        return mapped or "inquiry"

    def _stage_history(
        self, record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
    ) -> list[tuple[StageChange, Any]]:
        """The lead's stage changes from its field history, each with the raw reason value it
        was made with (rejections only).

        Rows that share an instant and a user are one save. ``Leadflow_Stage__c`` moves the
        stage whenever it changes; a ``Status`` entering ``rejected_statuses`` is a rejection
        (the reason picklist's value at that save decides recycle or disqualify); other
        ``Status`` changes and the conversion move the stage only while leadflow's stage field
        is empty (as when reading the fields alone). A stage the fields hold but the history
        does not reach is appended at ``SystemModstamp`` with no author.
        """
        wb = self._wb
        stage_f, status_f = wb.get("stage"), wb.get("status")
        reason_f = self._feedback_field("rejection", "reason")
        stage_rows = [r for r in rows if r.get("Field") == stage_f]
        current = "inquiry"
        field_set = False
        if stage_rows and stage_rows[0].get("OldValue"):
            current, field_set = str(stage_rows[0]["OldValue"]), True
        elif not stage_rows and stage_f and record.get(stage_f):
            # unchanged while history was kept: it held its value all along
            current, field_set = str(record[stage_f]), True
        else:
            status_rows = [r for r in rows if r.get("Field") == status_f]
            if status_rows:
                current = self._past_status_stage(status_rows[0].get("OldValue")) or current
        reason: Any = None
        tracked_reason = any(r.get("Field") == reason_f for r in rows)
        out: list[tuple[StageChange, Any]] = []
        saves: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for row in rows:
            key = (str(row["CreatedDate"]), str(row.get("CreatedById") or ""))
            saves.setdefault(key, []).append(row)
        for (when, by), save in saves.items():
            target, reason, field_set = self._save_target(save, reason, field_set)
            if target is None or target == current:
                continue
            at = _parse_stamp(when)
            if out and at < out[-1][0].at:  # a clock skew between saves: keep the order
                at = out[-1][0].at
            rejected = target in _REJECTED_STAGES
            code = self.mapping.reject_code(str(reason)) if rejected and reason else None
            change = StageChange(
                from_stage=current, to_stage=target, at=at, by=by or None, reason=code
            )
            out.append((change, reason if rejected else None))
            current = target
        end = self._field_stage(record)
        if out and end != current:
            last = out[-1][0].at
            at = max(_parse_stamp(record["SystemModstamp"]), last)
            out.append((StageChange(from_stage=current, to_stage=end, at=at), None))
        if not tracked_reason and reason_f and record.get(reason_f) and out:
            # The reason field's history is not tracked: its value belongs to the last
            # change, if that is a rejection (the lead is still in it).
            change, _ = out[-1]
            if change.to_stage in _REJECTED_STAGES:
                raw = record[reason_f]
                out[-1] = (attrs.evolve(change, reason=self.mapping.reject_code(str(raw))), raw)
        return out

    def _save_target(
        self, save: Sequence[Mapping[str, Any]], reason: Any, field_set: bool
    ) -> tuple[str | None, Any, bool]:
        """The stage one save of history rows moves a lead to (``None``: it does not), the
        reason value after it, and whether leadflow's stage field is set after it."""
        stage_f, status_f = self._wb.get("stage"), self._wb.get("status")
        reason_f = self._feedback_field("rejection", "reason")
        target: str | None = None
        status: Any = None
        converted = False
        for row in save:
            field = row.get("Field")
            if field == reason_f:
                reason = row.get("NewValue")
            elif field == stage_f and row.get("NewValue"):
                target, field_set = str(row["NewValue"]), True
            elif field == status_f:
                status = row.get("NewValue")
            elif field == "leadConverted":
                converted = True
        if target is None and status in self.mapping.rejected_statuses:
            target = self._rejected_stage(reason, status)
        elif target is None and not field_set:
            target = "opportunity" if converted else self._past_status_stage(status)
        return target, reason, field_set

    def _past_status_stage(self, status: Any) -> str | None:
        """The stage a ``Status`` value in the lead's history stands for (``None``: no value).

        A value the mapping does not know is a :class:`~leadflow.errors.ValidationError` (the
        read reports the lead), as for the current ``Status``: skipping it would drop that move
        from the funnel and the SLA clock without a word. A rejected status (``Unqualified``,
        which no stage maps to) stands for the stage a rejection leads to.
        """
        if status in self.mapping.rejected_statuses:
            return self._rejected_stage(None, status)
        mapped = self._status_stage(status)
        if status and mapped is None:
            raise ValidationError(
                self._wb["status"],
                status,
                "in the lead's history maps to no stage "
                "(add it under [adapters.salesforce.stages.aliases])",
            )
        return mapped

    def lead_from_record(
        self, record: Mapping[str, Any], history: Sequence[Mapping[str, Any]] | None = None
    ) -> Lead:
        """A :class:`Lead` from a Lead record holding the mapped fields and, when given, its
        ``LeadHistory`` rows (oldest first): the stage history and the hand-off time (the
        latest entry into ``handoff_stage``) then come from the CRM."""
        core = self.mapping.fields.from_crm("lead", record)
        core["id"] = record["Id"]
        core["stage"] = self._field_stage(record)
        handoff_f = self._wb.get("handoff")
        if handoff_f and record.get(handoff_f):
            core["handed_off_at"] = _parse_stamp(record[handoff_f])
        lead = Lead.from_record(core)
        owners = _owner_history(lead, history or ())
        if owners:
            lead = attrs.evolve(lead, owner_history=owners)
        changes = tuple(c for c, _ in self._stage_history(record, history or ()))
        if not changes:
            return lead
        return attrs.evolve(
            lead,
            stage=changes[-1].to_stage,
            history=changes,
            handed_off_at=self._handoff(lead.handed_off_at, changes),
        )

    def _handoff(self, mine: datetime | None, changes: Sequence[StageChange]) -> datetime | None:
        """The lead's hand-off: leadflow's own (the instant its job decided it, in the hand-off
        field) unless the history shows the lead moved on after it and then entered the
        hand-off stage again — a hand-off made in Salesforce, the latest such entry; without
        leadflow's, the history's latest entry into the hand-off stage."""
        stage = self.mapping.handoff_stage
        if mine is None:
            return next((c.at for c in reversed(changes) if c.to_stage == stage), None)
        # The first move after leadflow's instant is its own save (or a move of the lead's
        # own); an entry into the hand-off stage after any move is a hand-off made again.
        after = [c for c in changes if c.at > mine]
        again = [c.at for c in after[1:] if c.to_stage == stage]
        return again[-1] if again else mine

    def _histories(
        self, records: Sequence[Mapping[str, Any]]
    ) -> dict[str, list[Mapping[str, Any]]]:
        """``LeadHistory`` rows of the tracked fields leadflow reads, per lead of *records*,
        oldest first (400 leads a query). Remembered for each lead's version
        (``SystemModstamp``), so reading leads and then their rejections in one run queries the
        history once, and a lead changed in between is queried again."""
        wb = self._wb
        names = [wb.get("stage"), wb.get("status"), self._feedback_field("rejection", "reason")]
        fields = sorted({n for n in names if n} | {"leadConverted", "Owner"})
        versions = {
            str(r["Id"]): str(r.get("SystemModstamp"))
            for r in records
            if _SF_ID.fullmatch(str(r["Id"]))
        }
        wanted = list(versions)
        found_all = {
            i: self._history_cache[i][1]
            for i in wanted
            if self._history_cache.get(i, ("", []))[0] == versions[i]
        }
        missing = [i for i in wanted if i not in found_all]
        for chunk in chunked(missing, _IDS_PER_QUERY):
            soql = format_soql(
                "SELECT LeadId, Field, OldValue, NewValue, CreatedDate, CreatedById "
                "FROM LeadHistory WHERE LeadId IN {} AND Field IN {} "
                "ORDER BY LeadId, CreatedDate, Id",
                list(chunk),
                fields,
            )
            try:
                rows = list(self._query(soql))
            except AuthenticationError:
                raise
            except AdapterError as exc:
                raise AdapterError(
                    f"cannot read LeadHistory ({exc}); the integration user needs read access "
                    "to Lead history and field history tracking on Lead.Status and "
                    "Leadflow_Stage__c (see docs/salesforce.md)",
                    adapter=self.name,
                ) from None
            found: dict[str, list[Mapping[str, Any]]] = {i: [] for i in chunk}
            for row in rows:
                found.setdefault(str(row["LeadId"]), []).append(row)
            fetched = {i: rows for i, rows in found.items() if i in versions}
            found_all.update(fetched)
            if len(self._history_cache) > self._HISTORY_CACHE_MAX:
                self._history_cache.clear()  # bounded; this call keeps what it fetched
            self._history_cache.update({i: (versions[i], rows) for i, rows in fetched.items()})
        return {i: list(found_all.get(i, ())) for i in wanted}

    def read_leads(self, cursor: Cursor | None = None) -> Iterator[Page[Lead]]:
        """Leads changed after *cursor* (all when ``None``), oldest change first, by page, each
        with its stage history and hand-off time from ``LeadHistory``."""
        self._history_cache.clear()
        fields = self._lead_fields()

        def build(records: Sequence[Mapping[str, Any]]) -> list[Lead | RecordError]:
            histories = self._histories(records)
            out: list[Lead | RecordError] = []
            for record in records:
                try:
                    out.append(self.lead_from_record(record, histories.get(str(record["Id"]))))
                except ValidationError as exc:
                    out.append(self._skip("Lead", record, exc))
            return out

        return self._read(Entity.LEAD, "Lead", fields, cursor, build)

    def read_rejections(self, cursor: Cursor | None = None) -> Iterator[Page[Rejection]]:
        """Rejections of leads changed after *cursor*, by page: every change of a lead's
        history into ``recycled`` or ``disqualified`` (a ``Status`` in ``rejected_statuses``,
        or leadflow's own stage field), with the code its reason picklist maps to and ``at`` /
        ``by`` from the ``LeadHistory`` row of that save.

        A rejection whose reason maps to no code, or that has no history row (field history
        tracking off), is a :class:`~leadflow.ports.RecordError` on the page, never a guess.
        """
        fields = self._lead_fields()
        note_f = self._feedback_field("rejection", "note")
        reason_f = self._feedback_field("rejection", "reason") or "reason"

        def one(record: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[Any]:
            lead_id = str(record["Id"])
            try:
                history = self._stage_history(record, rows)
                stage = self._field_stage(record)
            except ValidationError as exc:
                return [RecordError(entity=Entity.REJECTION, record_id=lead_id, error=str(exc))]
            if not history and stage in _REJECTED_STAGES:
                return [
                    RecordError(
                        entity=Entity.REJECTION,
                        record_id=lead_id,
                        error="rejected, but LeadHistory holds no change of its Status or "
                        "stage (enable field history tracking on Lead.Status and "
                        "Leadflow_Stage__c; see docs/salesforce.md)",
                    )
                ]
            out: list[Any] = []
            for i, (change, raw) in enumerate(history):
                if change.to_stage not in _REJECTED_STAGES:
                    continue
                code = change.reason
                problem = None
                if change.by is None:
                    problem = "its change has no LeadHistory row (who and when are unknown)"
                elif code is None:
                    problem = (
                        f"{reason_f} {raw!r} maps to no reject code (add it under "
                        "[adapters.salesforce.reject_reasons])"
                        if raw
                        else f"{reason_f} is empty: the rejection has no reason"
                    )
                if problem is not None or code is None or change.by is None:
                    out.append(
                        RecordError(
                            entity=Entity.REJECTION,
                            record_id=lead_id,
                            error=f"rejection at {change.at.isoformat()}: {problem}",
                        )
                    )
                    continue
                reason = self.mapping.reasons[code]
                note = record.get(note_f) if note_f and i == len(history) - 1 else None
                out.append(
                    Rejection(
                        lead_id=lead_id,
                        code=code,
                        disposition=reason.disposition,
                        at=change.at,
                        by=change.by,
                        note=str(note) if note else None,
                        from_stage=change.from_stage,
                        reengage_at=change.at + reason.reengage_after
                        if reason.reengage_after is not None
                        else None,
                    )
                )
            return out

        def build(records: Sequence[Mapping[str, Any]]) -> list[Any]:
            histories = self._histories(records)
            return [one(r, histories.get(str(r["Id"]), [])) for r in records]

        return self._read(Entity.REJECTION, "Lead", fields, cursor, build)

    def read_outcomes(self, cursor: Cursor | None = None) -> Iterator[Page[Outcome]]:
        """What became of leads: one outcome per lead and opportunity changed after *cursor*.

        An opportunity belongs to the lead converted into it (``Lead.ConvertedOpportunityId``)
        and to the leads converted into its contacts (``OpportunityContactRole``). Won
        (``IsWon``) carries ``Amount`` and the org's currency; closed and not won is the kind
        its loss reason maps to (``loss_reasons``; an unknown reason is reported); an open one
        is ``evaluating`` since it was created. A closed outcome's ``at`` is when the
        opportunity entered its closed stage (``OpportunityHistory``), else its ``CloseDate``.
        """
        loss_f = self._feedback_field("outcome", "loss_reason")
        rival_f = self._feedback_field("outcome", "competitor")
        money_f = self._feedback_field("outcome", "currency")
        fields = [
            "StageName",
            "IsClosed",
            "IsWon",
            "Amount",
            "CloseDate",
            "CreatedDate",
            "OwnerId",
            *(f for f in (loss_f, rival_f, money_f) if f),
        ]

        def build(records: Sequence[Mapping[str, Any]]) -> list[Any]:
            ids = [str(r["Id"]) for r in records if _SF_ID.fullmatch(str(r["Id"]))]
            leads = self._opportunity_leads(ids)
            closing = self._closing(
                [str(r["Id"]) for r in records if r.get("IsClosed")],
                {str(r["Id"]): r.get("StageName") for r in records},
            )
            return [self._outcomes(r, leads.get(str(r["Id"]), []), closing) for r in records]

        return self._read(Entity.OUTCOME, "Opportunity", fields, cursor, build)

    def _opportunity_leads(self, ids: Sequence[str]) -> dict[str, list[str]]:
        """The leads each opportunity belongs to: converted into it, or into its contacts."""
        out: dict[str, list[str]] = {}
        contacts: dict[str, list[str]] = {}
        for chunk in chunked(list(ids), _IDS_PER_QUERY):
            soql = format_soql(
                "SELECT Id, ConvertedOpportunityId FROM Lead WHERE ConvertedOpportunityId IN {}",
                list(chunk),
            )
            for row in self._query(soql):
                out.setdefault(str(row["ConvertedOpportunityId"]), []).append(str(row["Id"]))
            soql = format_soql(
                "SELECT OpportunityId, ContactId FROM OpportunityContactRole "
                "WHERE OpportunityId IN {}",
                list(chunk),
            )
            for row in self._query(soql):
                if row.get("ContactId") and _SF_ID.fullmatch(str(row["ContactId"])):
                    contacts.setdefault(str(row["ContactId"]), []).append(str(row["OpportunityId"]))
        for chunk in chunked(sorted(contacts), _IDS_PER_QUERY):
            soql = format_soql(
                "SELECT Id, ConvertedContactId FROM Lead WHERE ConvertedContactId IN {}",
                list(chunk),
            )
            for row in self._query(soql):
                for opp in contacts.get(str(row["ConvertedContactId"]), []):
                    mine = out.setdefault(opp, [])
                    if str(row["Id"]) not in mine:
                        mine.append(str(row["Id"]))
        return out

    def _closing(
        self, ids: Sequence[str], stages: Mapping[str, Any]
    ) -> dict[str, tuple[datetime, str | None]]:
        """When (and by whom) each closed opportunity entered the stage it is in now: the
        first row of the last run of ``OpportunityHistory`` rows in that stage."""
        out: dict[str, tuple[datetime, str | None]] = {}
        for chunk in chunked([i for i in ids if _SF_ID.fullmatch(i)], _IDS_PER_QUERY):
            soql = format_soql(
                "SELECT OpportunityId, StageName, CreatedDate, CreatedById "
                "FROM OpportunityHistory WHERE OpportunityId IN {} "
                "ORDER BY OpportunityId, CreatedDate, Id",
                list(chunk),
            )
            for row in self._query(soql):
                opp = str(row["OpportunityId"])
                if row.get("StageName") != stages.get(opp):
                    out.pop(opp, None)
                elif opp not in out:
                    by = row.get("CreatedById")
                    out[opp] = (_parse_stamp(row["CreatedDate"]), str(by) if by else None)
        return out

    def _outcomes(
        self,
        record: Mapping[str, Any],
        leads: Sequence[str],
        closing: Mapping[str, tuple[datetime, str | None]],
    ) -> list[Any]:
        opp = str(record["Id"])
        if not leads:
            return []
        loss_f = self._feedback_field("outcome", "loss_reason")
        rival_f = self._feedback_field("outcome", "competitor")
        money_f = self._feedback_field("outcome", "currency")
        values: dict[str, Any] = {"opportunity_id": opp}
        by = record.get("OwnerId")
        if record.get("IsWon"):
            values.update(kind=OutcomeKind.WON.value, amount=_money(record.get("Amount")))
        elif record.get("IsClosed"):
            reason = record.get(loss_f) if loss_f else None
            kind = self.mapping.loss_kind(reason)
            if kind is None:
                return [
                    RecordError(
                        entity=Entity.OUTCOME,
                        record_id=opp,
                        error=f"{loss_f} {reason!r} maps to no outcome kind (add it under "
                        "[adapters.salesforce.loss_reasons])",
                    )
                ]
            values["kind"] = kind
            if kind == OutcomeKind.LOST.value:
                values["reason"] = str(reason or record.get("StageName") or "Closed Lost")
            elif kind == OutcomeKind.COMPETITOR.value:
                rival = record.get(rival_f) if rival_f else None
                values["competitor"] = str(rival) if rival else None
        else:
            values.update(kind=OutcomeKind.EVALUATING.value, at=_parse_stamp(record["CreatedDate"]))
        if record.get("IsClosed"):
            when = closing.get(opp)
            if when is not None:
                values["at"], by = when[0], when[1] or by
            elif record.get("CloseDate"):
                day = date.fromisoformat(str(record["CloseDate"]))
                values["at"] = datetime(day.year, day.month, day.day, tzinfo=UTC)
            else:
                values["at"] = _parse_stamp(record["SystemModstamp"])
        if values.get("amount") is not None:
            values["currency"] = (record.get(money_f) if money_f else None) or self.mapping.currency
        out: list[Any] = []
        for lead_id in leads:
            try:
                out.append(Outcome(lead_id=lead_id, recorded_by=str(by) if by else None, **values))
            except ValidationError as exc:
                error = self._secrets.scrub(str(exc))
                out.append(RecordError(entity=Entity.OUTCOME, record_id=opp, error=error))
                break
        return out

    def read_accounts(self, cursor: Cursor | None = None) -> Iterator[Page[Account]]:
        """Accounts changed after *cursor*, by page."""

        def build(record: Mapping[str, Any]) -> Account | RecordError:
            core = self.mapping.fields.from_crm("account", record)
            core["id"] = record["Id"]
            try:
                return Account.from_record(core)
            except ValidationError as exc:
                return self._skip("Account", record, exc)

        return self._read(
            Entity.ACCOUNT,
            "Account",
            self.mapping.fields.crm_fields("account"),
            cursor,
            _each(build),
        )

    def read_activities(self, cursor: Cursor | None = None) -> Iterator[Page[Activity]]:
        """Campaign members of leads (a response, a registration, an attendance...), by page.

        ``CampaignMember.Status`` names the activity kind through ``activity_kinds``; a member
        whose status is not mapped is read as ``campaign_response`` when it responded and
        skipped when it did not (being added to a campaign is not an engagement). Members that
        are contacts, not leads, are skipped.
        """

        def build(record: Mapping[str, Any]) -> Activity | RecordError | None:
            core = self.mapping.fields.from_crm("activity", record)
            if not core.get("lead_id"):
                return None
            responded = bool(core.pop("responded", False))
            kind = self.mapping.activity_kinds.get(str(core.get("kind")))
            if kind is None:
                if not responded:
                    return None
                kind = "campaign_response"
            core.update(id=record["Id"], kind=kind)
            try:
                return Activity.from_record(core)
            except ValidationError as exc:
                return self._skip("CampaignMember", record, exc)

        return self._read(
            Entity.ACTIVITY,
            "CampaignMember",
            self.mapping.fields.crm_fields("activity"),
            cursor,
            _each(build),
        )

    def read_touches(self, cursor: Cursor | None = None) -> Iterator[Page[Touch]]:
        """Tasks on leads (calls, e-mails...) as :class:`Touch` es, by page.

        ``TaskSubtype`` gives the kind through ``touch_kinds`` (unknown subtypes are ``task``);
        ``CallDisposition`` gives the outcome through ``touch_outcomes``; without one, a
        completed task is ``sent`` (an e-mail) or ``completed``, an open one ``attempted``.
        Tasks on contacts or other records (``WhoId`` not a lead id) are skipped.
        """

        def build(record: Mapping[str, Any]) -> Touch | RecordError | None:
            core = self.mapping.fields.from_crm("touch", record)
            lead_id = core.get("lead_id")
            if (
                not isinstance(lead_id, str)
                or not _SF_ID.fullmatch(lead_id)
                or not lead_id.startswith(_LEAD_PREFIX)
            ):
                return None
            kind = self.mapping.touch_kinds.get(str(core.get("kind")), "task")
            status = core.pop("status", None)
            outcome = self.mapping.touch_outcomes.get(str(core.get("outcome")))
            if outcome is None:
                if status == "Completed":
                    outcome = "sent" if kind == "email" else "completed"
                else:
                    outcome = "attempted"
            core.update(id=record["Id"], kind=kind, outcome=outcome)
            try:
                return Touch.from_record(core)
            except ValidationError as exc:
                return self._skip("Task", record, exc)

        return self._read(
            Entity.TOUCH, "Task", self.mapping.fields.crm_fields("touch"), cursor, _each(build)
        )

    # -- writes ----------------------------------------------------------------------------

    def _changes(self, write: Write) -> dict[str, Any]:
        """The core write-back values of one write (``writeback`` entity names)."""
        if isinstance(write, ScoreWrite):
            if not math.isfinite(write.score):
                raise ValidationError("score", write.score, "is not a finite number")
            values: dict[str, Any] = {
                "score": round(write.score, self.score_decimals),
                "score_summary": write.summary or None,
            }
            if write.recommendation is not None:
                values["recommendation"] = write.recommendation
            return values
        if isinstance(write, StageWrite | RejectionWrite):
            stage = write.change.to_stage
            values = {"stage": stage}
            if stage in self.mapping.fields.stages.stages:
                values["status"] = self.mapping.fields.stages.to_crm(stage)
            if isinstance(write, RejectionWrite):
                values["reject_code"] = write.rejection.code
                values["reject_note"] = write.rejection.note or None
            elif write.handed_off_at is not None and "handoff" in self._wb:
                values["handoff"] = write.handed_off_at
            return values
        if isinstance(write, SLAWrite):
            return {"sla_due": write.due_at, "sla_state": write.state}
        raise ValidationError(
            "write", type(write).__name__, "is not a write the salesforce adapter supports"
        )

    def write(self, writes: Sequence[Write]) -> list[WriteResult]:
        """Apply *writes*; one result per write, in the same order.

        Writes to one lead in one call are merged into one record update (a later write's value
        for the same field wins) and share its result. The current stamps and values of the
        batch's leads are read first: a lead that already holds the values is ``unchanged``;
        else a lead whose stamp differs from a write's ``expected_version`` is a ``conflict``
        and is not written. Batches of fewer than ``bulk_threshold`` records go through sObject
        Collections, 200 a call; larger ones through one Bulk API 2.0 job.
        """
        plan = _Plan()
        for index, write in enumerate(writes):
            failure = self._add(plan, index, write)
            if failure is not None:
                plan.results[index] = WriteResult(
                    write=write, status=WriteStatus.FAILED, error=failure
                )
        outcome, to_write = self._judge(plan)
        outcome.update(self._send(plan, to_write))
        for lead_id, indices in plan.members.items():
            status, error = outcome[lead_id]
            for index in indices:
                write = writes[index]
                if status is WriteStatus.CONFLICT and write.expected_version is None:
                    # This write asked for no version check, so it is no conflict; it is not
                    # applied either, because the record update it was merged into was refused.
                    plan.results[index] = WriteResult(
                        write=write,
                        status=WriteStatus.FAILED,
                        error=f"not applied: another write to lead {lead_id} in this batch "
                        "conflicted",
                    )
                else:
                    plan.results[index] = WriteResult(write=write, status=status, error=error)
        return [r for r in plan.results if r is not None]

    def _send(
        self, plan: _Plan, to_write: dict[str, dict[str, Any]]
    ) -> dict[str, tuple[WriteStatus, str | None]]:
        """Send *to_write*; what happened to each lead.

        A call whose answer is lost (the connection dropped, a 5xx, a 429) may have been
        applied, so it is never simply sent again: after the back-off, the leads it carried are
        judged again against their current values — those that hold them now were applied by
        that call, those that still do not are sent again, those someone else changed meanwhile
        are conflicts — until the retry budget is spent (then they fail, and stay due).
        """
        outcome: dict[str, tuple[WriteStatus, str | None]] = {}
        sent: set[str] = set()
        start = time.monotonic()
        attempt = 0
        while to_write:
            attempt += 1
            sent |= set(to_write)
            if len(to_write) >= self.bulk_threshold:
                done, lost = self._write_bulk(to_write)
            else:
                done, lost = self._write_collections(to_write)
            outcome.update(done)
            if not lost:
                break
            wait = self._retry_after_of()
            wait = wait if wait is not None else self.retry.backoff(attempt)
            if (
                attempt >= self.retry.max_attempts
                or time.monotonic() - start + wait > self.retry.max_elapsed
            ):
                for lead_id, error in lost.items():
                    outcome[lead_id] = (WriteStatus.FAILED, f"{error} (after {attempt} attempts)")
                break
            _log.info(
                "salesforce: the answer for %d lead(s) was lost (%s); judging them again "
                "in %.2fs before sending what is still missing",
                len(lost),
                next(iter(lost.values())),
                wait,
            )
            self._sleep(wait)
            again = _Plan(
                per_lead={k: plan.per_lead[k] for k in lost},
                expected={k: plan.expected[k] for k in lost if k in plan.expected},
            )
            judged, to_write = self._judge(again)
            for lead_id, (status, why) in judged.items():
                # the lost call applied what the lead holds now
                held = status is WriteStatus.UNCHANGED and lead_id in sent
                outcome[lead_id] = (WriteStatus.APPLIED if held else status, why)
        return outcome

    def _add(self, plan: _Plan, index: int, write: Write) -> str | None:
        """Add *write* to *plan*; the reason it fails on its own, if it does."""
        plan.results.append(None)
        if isinstance(write, OutcomeWrite):
            return (
                "outcomes are not written to Salesforce (record them on the opportunity); "
                "capabilities.writes does not include 'outcome'"
            )
        lead_id = write.lead_id
        if not isinstance(lead_id, str) or not _SF_ID.fullmatch(lead_id):
            return f"lead id {lead_id!r} is not a Salesforce record id"
        try:
            crm = self.mapping.fields.to_crm("writeback", self._changes(write))
        except (ValidationError, ConfigError) as exc:
            return str(exc)
        plan.per_lead.setdefault(lead_id, {}).update(crm)
        plan.members.setdefault(lead_id, []).append(index)
        if write.expected_version is not None:
            plan.expected.setdefault(lead_id, set()).add(write.expected_version)
        return None

    def _judge(self, plan: _Plan) -> tuple[dict[str, _Outcome], dict[str, dict[str, Any]]]:
        """Compare the planned values with Salesforce's: outcomes decided, and what to write."""
        outcome: dict[str, _Outcome] = {}
        to_write: dict[str, dict[str, Any]] = {}
        try:
            current = self._current(list(plan.per_lead), plan.expected)
        except AuthenticationError:
            raise
        except AdapterError as exc:
            text = f"could not read the lead to check it before writing: {exc}"
            return dict.fromkeys(plan.per_lead, (WriteStatus.FAILED, text)), to_write
        for lead_id, crm in plan.per_lead.items():
            record = current.get(lead_id)
            versions = plan.expected.get(lead_id, set())
            if record is None:
                outcome[lead_id] = (
                    WriteStatus.FAILED,
                    f"lead {lead_id} was not found in Salesforce (deleted, merged, or not "
                    "visible to the integration user)",
                )
            elif all(_same(record.get(name), value) for name, value in crm.items()):
                outcome[lead_id] = (WriteStatus.UNCHANGED, None)
            elif any(not _same_stamp(v, record["SystemModstamp"]) for v in versions):
                outcome[lead_id] = (
                    WriteStatus.CONFLICT,
                    f"lead {lead_id} changed in Salesforce since it was read (SystemModstamp "
                    f"{record['SystemModstamp']}, expected {', '.join(sorted(versions))}); "
                    "not overwritten",
                )
            else:
                to_write[lead_id] = crm
        return outcome, to_write

    def _current(
        self, ids: Sequence[str], expected: Mapping[str, set[str]]
    ) -> dict[str, dict[str, Any]]:
        """Current stamp and write-back values of the leads *ids*, by id.

        Small batches are looked up by ``Id IN (...)`` (200 ids a query). When a batch has at
        least ``scan_threshold`` leads and every one carries an expected version, one query over
        ``SystemModstamp >= oldest expected version`` is cheaper (2000 records a page, against
        200 ids a query): records not seen there have not changed since they were read — but
        their values are still needed, so the scan stops once it has read more than twice the
        batch's size, and the ids it did not reach are looked up by id.
        """
        if not ids:
            return {}
        wanted = set(ids)
        columns = ["Id", "SystemModstamp", *self.mapping.fields.crm_fields("writeback")]
        select = f"SELECT {', '.join(dict.fromkeys(columns))} FROM Lead"
        found: dict[str, dict[str, Any]] = {}
        if len(ids) >= self.scan_threshold and all(expected.get(i) for i in ids):
            oldest = min(_parse_stamp(v) for i in ids for v in expected[i])
            soql = select + format_soql(" WHERE SystemModstamp >= {}", oldest)
            soql += " ORDER BY SystemModstamp, Id"
            budget = 2 * len(ids)
            for count, record in enumerate(self._query(soql), start=1):
                if record["Id"] in wanted:
                    found[record["Id"]] = dict(record)
                if count >= budget and len(found) < len(wanted):
                    break
        missing = [i for i in ids if i not in found]
        for chunk in chunked(missing, COLLECTION_LIMIT):
            # format_soql would turn an empty list into "IN ()", which is invalid SOQL; chunked
            # never yields an empty chunk.
            soql = select + format_soql(" WHERE Id IN {}", list(chunk))
            for record in self._query(soql):
                found[record["Id"]] = dict(record)
        return found

    def _write_collections(
        self, to_write: Mapping[str, Mapping[str, Any]]
    ) -> tuple[dict[str, _Outcome], dict[str, str]]:
        """sObject Collections updates, one try per call: the outcome of each lead answered,
        and the leads whose answer was lost (with the error), to be judged again."""
        outcome: dict[str, tuple[WriteStatus, str | None]] = {}
        lost: dict[str, str] = {}
        for chunk in chunked(list(to_write), COLLECTION_LIMIT):
            body = {
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": "Lead"}, "id": lead_id, **to_write[lead_id]}
                    for lead_id in chunk
                ],
            }
            try:
                saved = self._call(
                    "update leads (sObject Collections)",
                    lambda sf, body=body: sf.restful(  # type: ignore[misc]
                        "composite/sobjects", method="PATCH", json=body
                    ),
                    policy=_ONCE,
                )
            except AuthenticationError:
                raise
            except (TransientAdapterError, RateLimitedError) as exc:
                lost.update(dict.fromkeys(chunk, str(exc)))
                continue
            except AdapterError as exc:
                for lead_id in chunk:
                    outcome[lead_id] = (WriteStatus.FAILED, str(exc))
                continue
            if not isinstance(saved, list) or len(saved) != len(chunk):
                for lead_id in chunk:
                    outcome[lead_id] = (
                        WriteStatus.FAILED,
                        "Salesforce answered the update with an unexpected response",
                    )
                continue
            for lead_id, result in zip(chunk, saved, strict=True):
                if result.get("success"):
                    outcome[lead_id] = (WriteStatus.APPLIED, None)
                else:
                    errors = result.get("errors") or [{}]
                    text = "; ".join(
                        f"{e.get('statusCode')}: {e.get('message')}"
                        + (f" ({', '.join(e['fields'])})" if e.get("fields") else "")
                        for e in errors
                    )
                    outcome[lead_id] = (WriteStatus.FAILED, self._secrets.scrub(text))
        return outcome, lost

    def _write_bulk(
        self, to_write: Mapping[str, Mapping[str, Any]]
    ) -> tuple[dict[str, _Outcome], dict[str, str]]:
        """One Bulk API 2.0 job, tried once: outcomes per lead, and the leads of a job whose
        fate is unknown (the job call failed in a retryable way), to be judged again."""
        columns = sorted({name for values in to_write.values() for name in values})
        rows = [
            {"Id": lead_id, **{c: _csv_value(values.get(c), c in values) for c in columns}}
            for lead_id, values in to_write.items()
        ]
        wait = self.bulk_poll_interval

        def bulk(sf: Salesforce) -> SFBulk2Type:
            handler = cast(SFBulk2Handler, sf.bulk2)
            lead: SFBulk2Type = handler.Lead
            return lead

        def run(sf: Salesforce) -> list[str]:
            # One job per 100 MB of CSV (simple-salesforce splits larger uploads). Never sent
            # twice blindly: a failed try is judged again lead by lead (see _send).
            jobs = bulk(sf).update(records=rows, wait=wait)  # type: ignore[arg-type]
            return [str(job["job_id"]) for job in jobs]

        def fetch(job_id: str, successful: bool, sf: Salesforce) -> str:
            handle = bulk(sf)
            if successful:
                return handle.get_successful_records(job_id)
            return handle.get_failed_records(job_id)

        ok_csv: list[str] = []
        failed_csv: list[str] = []
        try:
            job_ids = self._call("update leads (Bulk API 2.0)", run, policy=_ONCE)
            for job_id in job_ids:
                ok = functools.partial(fetch, job_id, True)
                ok_csv.append(self._call("read Bulk API 2.0 results", ok))
                failed = functools.partial(fetch, job_id, False)
                failed_csv.append(self._call("read Bulk API 2.0 failures", failed))
        except AuthenticationError:
            raise
        except (TransientAdapterError, RateLimitedError) as exc:
            return {}, dict.fromkeys(to_write, str(exc))
        except AdapterError as exc:
            return dict.fromkeys(to_write, (WriteStatus.FAILED, str(exc))), {}
        except SalesforceOperationError as exc:
            text = self._secrets.scrub(f"Bulk API 2.0 job failed: {exc}")
            return dict.fromkeys(to_write, (WriteStatus.FAILED, text)), {}
        outcome: dict[str, tuple[WriteStatus, str | None]] = {}
        for row in (r for text in ok_csv for r in csv.DictReader(io.StringIO(text))):
            outcome[row.get("Id") or row.get("sf__Id") or ""] = (WriteStatus.APPLIED, None)
        for row in (r for text in failed_csv for r in csv.DictReader(io.StringIO(text))):
            outcome[row.get("Id") or row.get("sf__Id") or ""] = (
                WriteStatus.FAILED,
                self._secrets.scrub(row.get("sf__Error") or "failed in the Bulk API 2.0 job"),
            )
        for lead_id in to_write:
            outcome.setdefault(
                lead_id,
                (WriteStatus.FAILED, f"not processed by Bulk API 2.0 job {', '.join(job_ids)}"),
            )
        return {k: v for k, v in outcome.items() if k in to_write}, {}

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the HTTP session. Calling it twice is harmless."""
        if not self._closed:
            self._closed = True
            self._sf = None
            self._on_close()


# -- helpers -----------------------------------------------------------------------------------

#: The stages a rejection moves a lead to.
_REJECTED_STAGES = frozenset(s for s in (WATERFALL.recycled, WATERFALL.disqualified) if s)


def _money(value: Any) -> Decimal | None:
    """A currency field's value (JSON gives a float such as ``48000.0``) as the decimal it
    stands for: ``48000``, ``12.5``."""
    if value is None or isinstance(value, bool):
        return None
    amount = Decimal(str(value))
    return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount


def _each(build: Callable[[Mapping[str, Any]], Any]) -> Callable[[Sequence[Any]], list[Any]]:
    """A page builder from a record builder."""
    return lambda records: [build(r) for r in records]


def _digest(record: Mapping[str, Any]) -> str:
    """A short fingerprint of a record's values: its version within one second."""
    values = {k: v for k, v in record.items() if k != "attributes"}
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@attrs.frozen
class _SecondCursor:
    """Where a read stopped: the second of the last record read, and the ``(id, version)``
    of every record read in that second (``SystemModstamp`` is kept to the second).

    Tokens written before this class (``<stamp>|<id>``) are read as that second with nothing
    known read in it, so the whole second is read again: a few records may come twice, none
    is lost.
    """

    stamp: datetime
    seen: frozenset[tuple[str, str]] = frozenset()

    _PREFIX: ClassVar[str] = "s1|"

    @classmethod
    def after(
        cls, last: _SecondCursor | None, stamp: datetime, seen: tuple[str, str]
    ) -> _SecondCursor:
        """The cursor once a record with *stamp* and *seen* (id, version) has been read."""
        if last is not None and last.stamp == stamp:
            return cls(stamp=stamp, seen=last.seen | {seen})
        return cls(stamp=stamp, seen=frozenset({seen}))

    def encode(self) -> str:
        """The token a :class:`~leadflow.ports.Cursor` carries."""
        pairs = ",".join(f"{i}:{v}" for i, v in sorted(self.seen))
        return f"{self._PREFIX}{self.stamp.strftime('%Y-%m-%dT%H:%M:%SZ')}|{pairs}"

    @classmethod
    def decode(cls, token: str) -> _SecondCursor:
        """Read a token written by :meth:`encode` (or a ``KeysetToken``)."""
        if not isinstance(token, str) or not token.startswith(cls._PREFIX):
            legacy = KeysetToken.decode(token)
            return cls(stamp=legacy.stamp.replace(microsecond=0))
        stamp, sep, pairs = token[len(cls._PREFIX) :].partition("|")
        seen = set()
        for pair in filter(None, pairs.split(",")):
            ident, colon, version = pair.partition(":")
            if (
                not colon
                or not _SF_ID.fullmatch(ident)
                or not re.fullmatch(r"[0-9a-f]{10}", version)
            ):
                raise ValidationError("cursor.token", token, "is not a salesforce read position")
            seen.add((ident, version))
        try:
            when = _parse_stamp(stamp)
        except ValidationError:
            raise ValidationError("cursor.token", token, "has no ISO-8601 stamp") from None
        if not sep:
            raise ValidationError("cursor.token", token, "is not a salesforce read position")
        return cls(stamp=when.replace(microsecond=0), seen=frozenset(seen))


_Outcome = tuple[WriteStatus, str | None]

#: One try, no retry: for calls that change records, whose lost answers are judged again.
_ONCE = RetryPolicy(max_attempts=1)


@attrs.define
class _Plan:
    """A write call being prepared: per-write results so far, and the merged updates per lead."""

    results: list[WriteResult | None] = attrs.Factory(list)
    per_lead: dict[str, dict[str, Any]] = attrs.Factory(dict)
    expected: dict[str, set[str]] = attrs.Factory(dict)
    members: dict[str, list[int]] = attrs.Factory(dict)


def _http_session(
    settings: dict[str, Any],
) -> tuple[requests.Session, bool, Callable[[], float | None], Callable[[str | None], None]]:
    """The client's ``requests`` session (options popped from *settings*): CA bundle, trust_env,
    a default timeout on the transport adapter, a hook remembering ``Retry-After``, and the
    function that pins every later request to one host (``None`` unpins, for a login)."""
    ca_bundle = settings.pop("ca_bundle", None)
    trust_env = settings.pop("trust_env", ca_bundle is None)
    timeout = settings.pop("timeout", 60.0)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise ConfigError("timeout", f"must be seconds > 0, got {timeout!r}")
    given = settings.pop("session", None)
    if given is not None and not isinstance(given, requests.Session):
        raise ConfigError("session", f"must be a requests.Session, got {type(given).__name__}")
    session = given if given is not None else requests.Session()
    if ca_bundle is not None:
        session.verify = str(ca_bundle)
    # With trust_env on, REQUESTS_CA_BUNDLE in the environment overrides session.verify.
    session.trust_env = bool(trust_env)
    transport = _TimeoutAdapter(float(timeout), pool_maxsize=4)
    session.mount("https://", transport)
    last: dict[str, float | None] = {"value": None}

    def remember_retry_after(response: requests.Response, *_a: Any, **_k: Any) -> None:
        header = response.headers.get("Retry-After")
        if response.status_code in (429, 503) and header:
            last["value"] = parse_retry_after(header)
        elif response.status_code < 300:
            last["value"] = None

    session.hooks["response"].append(remember_retry_after)
    return session, given is None, lambda: last["value"], transport.pin


_LOGIN_KEYS = frozenset(
    {
        "username",
        "password",
        "security_token",
        "session_id",
        "instance",
        "instance_url",
        "organizationId",
        "version",
        "client_id",
        "domain",
        "consumer_key",
        "consumer_secret",
        "privatekey_file",
        "privatekey",
    }
)

# In simple-salesforce's order of precedence; the last two cannot log in again.
_LOGIN_FORMS = (
    ("username", "password", "security_token"),
    ("username", "password", "organizationId"),
    ("username", "password", "consumer_key", "consumer_secret"),
    ("username", "consumer_key", "privatekey_file"),
    ("username", "consumer_key", "privatekey"),
    ("consumer_key", "consumer_secret", "domain"),
    ("session_id", "instance_url"),
    ("session_id", "instance"),
)


def _login_form(settings: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The keyword arguments for ``Salesforce(...)`` and whether they allow logging in again."""
    unknown = sorted(set(settings) - _LOGIN_KEYS)
    if unknown:
        raise ConfigError(unknown[0], "unknown salesforce adapter option")
    login = {k: v for k, v in settings.items() if v is not None}
    matched = next((form for form in _LOGIN_FORMS if all(k in login for k in form)), None)
    if matched is None:
        raise ConfigError(
            "salesforce",
            "no login form matches the configuration (keys given: "
            f"{', '.join(sorted(login)) or 'none'}); give instance_url + session_id, or "
            "username + password + security_token, or another form listed in "
            "SalesforceAdapter.from_config",
        )
    if "version" in login:
        version = str(login["version"])
        if not _VERSION.fullmatch(version):
            raise ConfigError(
                "version", f"must be a Salesforce API version such as '59.0', got {version!r}"
            )
        login["version"] = version
    if matched[0] == "session_id":
        keep = ("session_id", "instance_url", "instance", "version")
        return {k: login[k] for k in keep if k in login}, False
    return login, True


def _parse_stamp(value: Any) -> datetime:
    """A Salesforce datetime (``2026-03-01T00:00:05.000+0000``) as an aware UTC datetime."""
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("SystemModstamp", value, "is not a Salesforce datetime") from None
    if parsed.tzinfo is None:
        raise ValidationError("SystemModstamp", value, "has no UTC offset")
    return parsed.astimezone(UTC)


def _same_stamp(a: str, b: Any) -> bool:
    try:
        return _parse_stamp(a) == _parse_stamp(b)
    except ValidationError:
        return bool(a == b)


def _same(current: Any, wanted: Any) -> bool:
    """Whether a stored Salesforce value already equals the value to write."""
    if current == "":
        current = None
    if wanted == "":
        wanted = None
    if current is None or wanted is None:
        return current is None and wanted is None
    if isinstance(wanted, bool) or isinstance(current, bool):
        return current is wanted
    if isinstance(wanted, int | float) and isinstance(current, int | float):
        return math.isclose(float(current), float(wanted), rel_tol=0, abs_tol=1e-9)
    if isinstance(wanted, str) and isinstance(current, str):
        if current == wanted:
            return True
        try:
            # datetimes: compare instants at the precision a datetime field stores (whole
            # seconds), or every clock sent with microseconds would be rewritten on every run
            a, b = _parse_stamp(current), _parse_stamp(wanted)
        except ValidationError:
            return False
        return a.replace(microsecond=0) == b.replace(microsecond=0)
    return bool(current == wanted)


def _csv_value(value: Any, present: bool) -> str:
    """A Bulk API 2.0 CSV cell: empty leaves a field alone, ``#N/A`` sets it to null."""
    if not present:
        return ""
    if value is None or value == "":
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _TimeoutAdapter(HTTPAdapter):
    """A transport adapter that gives every request a timeout (simple-salesforce's ``create``
    and ``update`` take none, and ``requests`` has no session-wide default)."""

    def __init__(self, timeout: float, **kwargs: Any) -> None:
        self._timeout = timeout
        self._host: str | None = None
        super().__init__(**kwargs)

    def pin(self, host: str | None) -> None:
        """Refuse, from now on, requests to any other ``host[:port]`` (``None``: any host)."""
        self._host = host.lower() if host else None

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        if self._host is not None:
            parts = urlsplit(str(request.url))
            if parts.netloc.lower() != self._host or not parts.path.startswith("/services/"):
                raise _ForeignURL(
                    f"refused a request to {parts.scheme}://{parts.hostname or '?'}"
                    f"{parts.path[:60]}: the service handed back a URL off its instance "
                    f"({self._host})"
                )
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


class _ForeignURL(requests.RequestException):
    """A URL the service handed back that leaves the instance: never requested."""


def _owner_history(lead: Lead, rows: Sequence[Mapping[str, Any]]) -> tuple[OwnerChange, ...]:
    """A lead's owner history from its ``LeadHistory`` rows of ``Owner``, oldest first.

    A lookup field's change leaves two rows (Salesforce's EntityHistory documentation): one with
    the names the UI shows and one with the ids only the API returns; only the id rows are read.
    The history starts with the first owner (the old value of the first change) from the lead's
    creation, so SLA credit before the first reassignment goes to them. A history that does not
    end with the lead's current owner (tracking switched on late, a queue) is not trusted: the
    lead then counts as its current owner's throughout, as before.
    """
    moves = [
        r
        for r in rows
        if r.get("Field") == "Owner" and _SF_ID.fullmatch(str(r.get("NewValue") or ""))
    ]
    if not moves:
        return ()
    first = moves[0].get("OldValue")
    start = lead.created_at
    changes = []
    if first and _SF_ID.fullmatch(str(first)) and start <= _parse_stamp(moves[0]["CreatedDate"]):
        changes.append(OwnerChange(owner_id=str(first), at=start))
    for row in moves:
        changes.append(
            OwnerChange(
                owner_id=str(row["NewValue"]),
                at=_parse_stamp(row["CreatedDate"]),
                by=str(row["CreatedById"]) if row.get("CreatedById") else None,
            )
        )
    if changes[-1].owner_id != lead.owner_id:
        return ()
    return tuple(changes)
