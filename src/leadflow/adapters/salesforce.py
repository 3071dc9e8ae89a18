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
  ``Leadflow_SLA_State__c``). Tasks are the :class:`~leadflow.model.Touch` es SLAs are judged on;
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
import io
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar, cast

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
from leadflow.model import Account, Activity, Lead, Touch
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

__all__ = [
    "DEFAULT_MAPPING",
    "MAPPING_KEYS",
    "SalesforceAdapter",
    "SalesforceMapping",
]

T = TypeVar("T")

_log = get_logger("salesforce")

#: Salesforce record ids: 15 case-sensitive or 18 case-insensitive-safe characters.
_SF_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
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


_VALUE_TABLES = ("activity_kinds", "touch_kinds", "touch_outcomes")
#: The adapter settings that override :data:`DEFAULT_MAPPING`: the field map's ``fields`` and
#: ``stages`` (:data:`~leadflow.adapters.mapping.OVERRIDE_KEYS`) plus the three value tables.
MAPPING_KEYS = (*OVERRIDE_KEYS, *_VALUE_TABLES)


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

    >>> m = DEFAULT_MAPPING.override({"fields": {"writeback": {"score": "Lead_Score__c"}},
    ...                               "touch_kinds": {"Video Call": "meeting"}})
    >>> m.fields.crm_field("writeback", "score"), m.touch_kinds["Video Call"]
    ('Lead_Score__c', 'meeting')
    >>> DEFAULT_MAPPING.override({"sobjects": {}})
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: sobjects: unknown key; expected one of activity_kinds, fields, stages, touch_kinds, touch_outcomes
    """

    fields: FieldMap
    touch_kinds: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    touch_outcomes: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    activity_kinds: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)

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
            "fields": override_from_settings(self.fields, data, fixed={"writeback": writeback})
        }
        for name in _VALUE_TABLES:
            if name in data:
                changes[name] = {**getattr(self, name), **_table(data[name], name)}
        return attrs.evolve(self, **changes)


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

    The default mapping has no Lead field for the hand-off time, so a
    :attr:`~leadflow.ports.StageWrite.handed_off_at` is not written (``capabilities.handoff_time``
    is false): the stage change is, and the job's record in the embedded store keeps the hand-off.
    """

    name: ClassVar[str] = "salesforce"
    capabilities: ClassVar[Capabilities] = Capabilities(
        reads=frozenset(Entity),
        writes=_WRITES,
        max_batch=COLLECTION_LIMIT,
        conflict_detection=True,
        transactional_batches=False,
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
        self._describe = describe
        self._sf: Salesforce | None = None
        self._closed = False

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
        session, own_session, last_retry_after = _http_session(settings)
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
            describe=f"instance={where!r}, auth={'login' if can_relogin else 'token'}",
            **behaviour,
        )

    # -- calling Salesforce --------------------------------------------------------------------

    def _client(self) -> Salesforce:
        if self._closed:
            raise AdapterError("the adapter is closed", adapter=self.name)
        if self._sf is None:
            self._sf = self._guarded("login", self._connect)
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

    def _guarded(self, describe: str, fn: Callable[[], T]) -> T:
        """Run *fn* with retries, and translate what escapes into leadflow's errors."""
        try:
            return retry_call(
                fn,
                policy=self.retry,
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

    def _call(self, describe: str, fn: Callable[[Salesforce], T]) -> T:
        """Call *fn* with the client: retried, and logged in again once if the session expired."""
        relogged = False
        while True:
            client = self._client()
            try:
                return self._guarded(describe, functools.partial(fn, client))
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
            next_url = str(result["nextRecordsUrl"])

            def more(sf: Salesforce, url: str = next_url) -> Any:
                return sf.query_more(url, identifier_is_url=True)

            result = self._call("query more", more)

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
        build: Callable[[Mapping[str, Any]], Any],
    ) -> Iterator[Page[Any]]:
        token: KeysetToken | None = None
        if cursor is not None:
            if cursor.entity is not entity:
                raise ValidationError(
                    "cursor.entity", cursor.entity.value, f"is not a {entity.value} cursor"
                )
            if cursor.token is not None:
                token = KeysetToken.decode(cursor.token)
        soql = self._select(sobject, fields)
        if token is not None:
            # >= on the stamp (Salesforce compares whole seconds) and the exact (stamp, id)
            # keyset applied below: records sharing a stamp are neither skipped nor repeated.
            soql += format_soql(" WHERE SystemModstamp >= {}", token.stamp)
        soql += " ORDER BY SystemModstamp, Id"
        batch: list[Versioned[Any]] = []
        errors: list[RecordError] = []
        last: KeysetToken | None = token
        for record in self._query(soql):
            stamp = _parse_stamp(record["SystemModstamp"])
            rid = str(record["Id"])
            if token is not None and not token.precedes(stamp, rid):
                continue
            last = KeysetToken(stamp=stamp, id=rid)
            item = build(record)
            if isinstance(item, RecordError):
                errors.append(item)
            elif item is not None:
                batch.append(Versioned(item=item, version=str(record["SystemModstamp"])))
            if len(batch) + len(errors) >= self.page_size:
                yield Page(
                    items=tuple(batch),
                    cursor=Cursor(entity=entity, token=last.encode()),
                    errors=tuple(errors),
                )
                batch, errors = [], []
        if (batch or errors) and last is not None:
            yield Page(
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

    def lead_from_record(self, record: Mapping[str, Any]) -> Lead:
        """A :class:`Lead` from a Lead record holding the mapped fields."""
        fields = self.mapping.fields
        core = fields.from_crm("lead", record)
        core["id"] = record["Id"]
        wb = {r.core: r.crm for r in fields.rules("writeback")}
        stage = record.get(wb["stage"]) if "stage" in wb else None
        if not stage:
            status = record.get(wb["status"]) if "status" in wb else None
            converted = record.get(wb["is_converted"]) if "is_converted" in wb else False
            if converted:
                stage = "opportunity"
            elif status:
                try:
                    stage = fields.stages.from_crm(str(status))
                except ValidationError:
                    _log.warning(
                        "lead %s: Status %r maps to no stage; reading it as 'inquiry' (add it "
                        "under [adapters.salesforce.stages.aliases])",
                        record["Id"],
                        status,
                    )
        core["stage"] = stage or "inquiry"
        return Lead.from_record(core)

    def read_leads(self, cursor: Cursor | None = None) -> Iterator[Page[Lead]]:
        """Leads changed after *cursor* (all when ``None``), oldest change first, by page."""
        fields = [*self.mapping.fields.crm_fields("lead")]
        wb = {r.core: r.crm for r in self.mapping.fields.rules("writeback")}
        fields += [wb[k] for k in ("stage", "status", "is_converted") if k in wb]

        def build(record: Mapping[str, Any]) -> Lead | RecordError:
            try:
                return self.lead_from_record(record)
            except ValidationError as exc:
                return self._skip("Lead", record, exc)

        return self._read(Entity.LEAD, "Lead", fields, cursor, build)

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
            Entity.ACCOUNT, "Account", self.mapping.fields.crm_fields("account"), cursor, build
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
            build,
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
            if not isinstance(lead_id, str) or not lead_id.startswith(_LEAD_PREFIX):
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
            Entity.TOUCH, "Task", self.mapping.fields.crm_fields("touch"), cursor, build
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
        if len(to_write) >= self.bulk_threshold:
            outcome.update(self._write_bulk(to_write))
        else:
            outcome.update(self._write_collections(to_write))
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

    def _add(self, plan: _Plan, index: int, write: Write) -> str | None:
        """Add *write* to *plan*; the reason it fails on its own, if it does."""
        plan.results.append(None)
        if isinstance(write, OutcomeWrite):
            return (
                "outcomes are not written to Salesforce (record them on the opportunity); "
                "capabilities.writes does not include 'outcome'"
            )
        lead_id = write.lead_id
        if not isinstance(lead_id, str) or not _SF_ID.match(lead_id):
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
    ) -> dict[str, tuple[WriteStatus, str | None]]:
        outcome: dict[str, tuple[WriteStatus, str | None]] = {}
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
                )
            except AuthenticationError:
                raise
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
        return outcome

    def _write_bulk(
        self, to_write: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, tuple[WriteStatus, str | None]]:
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
            # One job per 100 MB of CSV (simple-salesforce splits larger uploads). Retried as a
            # whole: an update job re-applies the same values harmlessly.
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
            job_ids = self._call("update leads (Bulk API 2.0)", run)
            for job_id in job_ids:
                ok = functools.partial(fetch, job_id, True)
                ok_csv.append(self._call("read Bulk API 2.0 results", ok))
                failed = functools.partial(fetch, job_id, False)
                failed_csv.append(self._call("read Bulk API 2.0 failures", failed))
        except AuthenticationError:
            raise
        except AdapterError as exc:
            return dict.fromkeys(to_write, (WriteStatus.FAILED, str(exc)))
        except SalesforceOperationError as exc:
            text = self._secrets.scrub(f"Bulk API 2.0 job failed: {exc}")
            return dict.fromkeys(to_write, (WriteStatus.FAILED, text))
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
        return {k: v for k, v in outcome.items() if k in to_write}

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the HTTP session. Calling it twice is harmless."""
        if not self._closed:
            self._closed = True
            self._sf = None
            self._on_close()


# -- helpers -----------------------------------------------------------------------------------

_Outcome = tuple[WriteStatus, str | None]


@attrs.define
class _Plan:
    """A write call being prepared: per-write results so far, and the merged updates per lead."""

    results: list[WriteResult | None] = attrs.Factory(list)
    per_lead: dict[str, dict[str, Any]] = attrs.Factory(dict)
    expected: dict[str, set[str]] = attrs.Factory(dict)
    members: dict[str, list[int]] = attrs.Factory(dict)


def _http_session(
    settings: dict[str, Any],
) -> tuple[requests.Session, bool, Callable[[], float | None]]:
    """The client's ``requests`` session (options popped from *settings*): CA bundle, trust_env,
    a default timeout on the transport adapter, and a hook remembering ``Retry-After``."""
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
    session.mount("https://", _TimeoutAdapter(float(timeout), pool_maxsize=4))
    last: dict[str, float | None] = {"value": None}

    def remember_retry_after(response: requests.Response, *_a: Any, **_k: Any) -> None:
        header = response.headers.get("Retry-After")
        if response.status_code in (429, 503) and header:
            last["value"] = parse_retry_after(header)
        elif response.status_code < 300:
            last["value"] = None

    session.hooks["response"].append(remember_retry_after)
    return session, given is None, lambda: last["value"]


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
            # datetimes: compare instants at Salesforce's millisecond precision
            a, b = _parse_stamp(current), _parse_stamp(wanted)
        except ValidationError:
            return False
        return a.replace(microsecond=a.microsecond // 1000 * 1000) == b.replace(
            microsecond=b.microsecond // 1000 * 1000
        )
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
        super().__init__(**kwargs)

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)
