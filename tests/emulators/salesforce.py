"""A Salesforce REST emulator: HTTPS on 127.0.0.1, in-memory records, fault switches.

Scope: the part of the Salesforce REST API that leadflow's Salesforce adapter (and the real
simple-salesforce client under it) uses, answered in Salesforce's own shapes:

* SOQL ``GET /services/data/vXX.X/query?q=...`` and ``GET .../query/01g...-2000`` (query more).
  Shapes from "Query" and "Execute a SOQL Query" in the REST API Developer Guide:
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.md and
  https://developer.salesforce.com/docs/platform/api-rest/guide/dome-query.html
  (``totalSize``, ``done``, ``nextRecordsUrl``, ``records[].attributes.{type,url}``).
  The SOQL subset: ``SELECT f, ... FROM Obj [WHERE c AND c ...] [ORDER BY f [ASC|DESC], ...]
  [LIMIT n]`` with ``c`` one of ``f op literal`` (``= != < <= > >=``) or ``f IN (literal, ...)``.
  Anything else (``OR``, a stray quote, an unknown escape, an unknown field) is refused with
  ``MALFORMED_QUERY`` / ``INVALID_FIELD`` — so a badly escaped value shows up as a failure, never
  as a silently widened query. String literals are compared *after* unescaping.
* sObject Collections update, ``PATCH /services/data/vXX.X/composite/sobjects``: up to 200
  records, ``allOrNone`` false by default, one SaveResult per record in order
  (``{"id", "success", "errors": [{"statusCode", "message", "fields"}]}``). From "Update Records
  Using sObject Collections":
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-update.html
  and the SaveResult reference (``sforce_api_calls_update_saveresult.htm``).
* Bulk API 2.0 ingest jobs (``POST /jobs/ingest``, ``PUT /jobs/ingest/ID/batches`` with CSV,
  ``PATCH /jobs/ingest/ID`` ``{"state": "UploadComplete"}``, ``GET /jobs/ingest/ID``,
  ``GET .../successfulResults|failedResults|unprocessedrecords``). Job states from "Job States":
  https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_bulk_v2/bulk_api_2_job_states.htm
  and "Upload Complete": https://developer.salesforce.com/docs/platform/api-asynch/guide/close-job.html
  In the CSV an empty cell leaves a field alone and ``#N/A`` sets it to null.
* Errors as ``[{"message": ..., "errorCode": ...}]`` with the HTTP statuses of "Status Codes and
  Error Responses": https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
  (401 ``INVALID_SESSION_ID``; 403 ``REQUEST_LIMIT_EXCEEDED``; 400 ``MALFORMED_QUERY``).
* SOAP ``login()`` (``POST /services/Soap/u/XX.X``) so username/password clients can log in again.

Every write bumps ``SystemModstamp`` (and ``LastModifiedDate``) from a logical clock that advances
one second per write request, so stamps are deterministic and never read the wall clock. Date/Time
fields keep whole seconds.

Field history and opportunities (read-only through the API, as in a real org):

* ``LeadHistory`` (``LeadId``, ``Field``, ``OldValue``, ``NewValue``, ``CreatedDate``,
  ``CreatedById``): a row per change of a tracked field (:attr:`SalesforceEmulator.tracked`,
  Setup's field history tracking), written by the API's saves and :meth:`SalesforceEmulator.edit`;
  ``Field`` is ``"Owner"`` for ``OwnerId`` and ``"leadConverted"`` for a conversion.
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_objects_leadhistory.htm
* ``Opportunity`` (``StageName``, ``IsClosed``, ``IsWon``, ``Amount``, ``CloseDate``, plus the
  custom ``Loss_Reason__c`` and ``Competitor__c``), created by :meth:`SalesforceEmulator.convert`
  (which sets the lead's ``Converted*`` fields; ``ConvertedDate`` holds no time) and closed by
  :meth:`SalesforceEmulator.close_opportunity`; ``OpportunityHistory`` gets a row per change of
  stage, amount or close date (every org keeps it).
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_objects_opportunityhistory.htm
* ``OpportunityContactRole`` (``OpportunityId``, ``ContactId``).
  https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-opportunitycontactrole.html

:attr:`SalesforceEmulator.writes` counts the API's saves per record id: a record saved twice for
one intended write shows as 2.

Fault switches: :meth:`SalesforceEmulator.inject` queues faults for the next matching requests —
``"429"`` (with ``Retry-After``), ``"limit"`` (403 ``REQUEST_LIMIT_EXCEEDED``), ``"503"``,
``"drop"`` (close the socket without answering), ``"drop_after"`` (apply the request, then close
the socket without answering — the nastiest case for idempotency), ``"slow"`` (answer after
``retry_after`` seconds), ``"expire"`` (the session expires just before this request);
:meth:`expire_session` makes every token issued so far answer 401 ``INVALID_SESSION_ID``; :attr:`validation_errors` names record ids
whose updates fail with ``FIELD_CUSTOM_VALIDATION_EXCEPTION``; ``"500"`` (a 500 whose body quotes
the session), ``"echo"`` (a 400 echoing the ``Authorization`` header) and ``"badjson"`` (a page that
is not JSON, quoting the session) test that secrets echoed by a service never leak. Attribute
switches: ``same_second`` (every save lands in the current second), ``page_sizes`` (pages shorter
than the batch size, "the returned batch can include fewer records than the limit":
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.md) and
``next_url`` (a ``nextRecordsUrl`` pointing elsewhere).
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import re
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape as xml_escape

import attrs
import trustme

__all__ = ["DEFAULT_LEAD_STATUSES", "Fault", "SalesforceEmulator", "SoqlError"]

API_VERSION = "59.0"
EPOCH = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)

#: The Lead.Status picklist of a standard org.
DEFAULT_LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)

# Field types per sObject. Custom fields are added by the constructor (like creating them in
# Setup); writing or selecting a field that is not here is refused, as Salesforce does.
_STANDARD: dict[str, dict[str, str]] = {
    "Lead": {
        "Id": "id",
        "FirstName": "string",
        "LastName": "string",
        "Email": "string",
        "Title": "string",
        "Company": "string",
        "Industry": "string",
        "AnnualRevenue": "double",
        "NumberOfEmployees": "int",
        "Country": "string",
        "LeadSource": "string",
        "Status": "picklist",
        "Rating": "string",
        "OwnerId": "reference",
        "IsConverted": "boolean",
        "ConvertedAccountId": "reference",
        "ConvertedContactId": "reference",
        "ConvertedOpportunityId": "reference",
        "ConvertedDate": "date",
        "LastModifiedById": "reference",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Task": {
        "Id": "id",
        "WhoId": "reference",
        "WhatId": "reference",
        "Subject": "string",
        "TaskSubtype": "string",
        "Status": "string",
        "CallDisposition": "string",
        "ActivityDate": "date",
        "CompletedDateTime": "datetime",
        "OwnerId": "reference",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "Account": {
        "Id": "id",
        "Name": "string",
        "Website": "string",
        "Industry": "string",
        "AnnualRevenue": "double",
        "NumberOfEmployees": "int",
        "BillingCountry": "string",
        "OwnerId": "reference",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "LeadHistory": {
        "Id": "id",
        "LeadId": "reference",
        "Field": "picklist",
        "DataType": "picklist",
        "OldValue": "anyType",
        "NewValue": "anyType",
        "IsDeleted": "boolean",
        "CreatedById": "reference",
        "CreatedDate": "datetime",
    },
    "Opportunity": {
        "Id": "id",
        "Name": "string",
        "AccountId": "reference",
        "StageName": "picklist",
        "IsClosed": "boolean",
        "IsWon": "boolean",
        "Amount": "double",
        "CloseDate": "date",
        "OwnerId": "reference",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "OpportunityHistory": {
        "Id": "id",
        "OpportunityId": "reference",
        "StageName": "picklist",
        "Amount": "double",
        "CloseDate": "date",
        "IsDeleted": "boolean",
        "CreatedById": "reference",
        "CreatedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "OpportunityContactRole": {
        "Id": "id",
        "OpportunityId": "reference",
        "ContactId": "reference",
        "Role": "picklist",
        "IsPrimary": "boolean",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
    "CampaignMember": {
        "Id": "id",
        "LeadId": "reference",
        "ContactId": "reference",
        "CampaignId": "reference",
        "Status": "string",
        "HasResponded": "boolean",
        "FirstRespondedDate": "date",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
        "SystemModstamp": "datetime",
    },
}

LEADFLOW_CUSTOM_FIELDS: dict[str, str] = {
    "Leadflow_Score__c": "double",
    "Leadflow_Score_Summary__c": "textarea",
    "Leadflow_Stage__c": "string",
    "Leadflow_Reject_Code__c": "string",
    "Leadflow_Reject_Note__c": "textarea",
    "Leadflow_SLA_Due__c": "datetime",
    "Leadflow_SLA_State__c": "string",
    "Leadflow_Handoff__c": "datetime",
}

#: Custom fields of a typical org's Opportunity: why a deal was lost, and to whom.
OPPORTUNITY_CUSTOM_FIELDS: dict[str, str] = {
    "Loss_Reason__c": "picklist",
    "Competitor__c": "string",
}

#: The Opportunity.StageName picklist of a standard org: (name, IsClosed, IsWon).
OPPORTUNITY_STAGES = (
    ("Prospecting", False, False),
    ("Qualification", False, False),
    ("Proposal/Price Quote", False, False),
    ("Negotiation/Review", False, False),
    ("Closed Won", True, True),
    ("Closed Lost", True, False),
)

#: The fields whose changes the org's field history tracking records (Setup > Field History
#: Tracking): Lead.Status, the stage and reject code leadflow writes, and the owner.
DEFAULT_TRACKED = frozenset({"Status", "Leadflow_Stage__c", "Leadflow_Reject_Code__c", "OwnerId"})


def _user_name(user_id: Any) -> Any:
    """The display name the org shows for a user id (the name row of a lookup's history)."""
    return None if user_id is None else f"User {str(user_id)[-6:]}"


#: The user the API session acts as (CreatedById of the history rows its writes leave).
INTEGRATION_USER = "005000000000001AAA"

_KEY_PREFIX = {
    "Lead": "00Q",
    "Task": "00T",
    "Account": "001",
    "CampaignMember": "00v",
    "LeadHistory": "017",
    "Opportunity": "006",
    "OpportunityHistory": "008",
    "OpportunityContactRole": "00K",
    "Contact": "003",
}
_READ_ONLY = {
    "Id",
    "CreatedDate",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "IsConverted",
    "ConvertedDate",
    "ConvertedOpportunityId",
    "ConvertedContactId",
    "ConvertedAccountId",
}
#: History objects: written by the org itself, never through the API.
_HISTORY = {"LeadHistory", "OpportunityHistory"}


def format_stamp(at: datetime) -> str:
    """Salesforce's JSON datetime form, to the millisecond: ``2026-03-01T00:00:05.000+0000``."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def stored_stamp(at: datetime) -> str:
    """A datetime as a datetime field holds it: whole seconds (the milliseconds are dropped)."""
    return format_stamp(at.astimezone(UTC).replace(microsecond=0))


def _parse_datetime(text: str) -> datetime:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    m = re.fullmatch(r"(.*[+-]\d\d)(\d\d)", text)
    if m and ":" not in text[-5:]:
        text = f"{m.group(1)}:{m.group(2)}"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"datetime {text!r} has no offset")
    return value


# -- SOQL ---------------------------------------------------------------------------------------


class SoqlError(Exception):
    """A query the emulator refuses: carries Salesforce's ``errorCode``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_DATETIME_LITERAL = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:?\d\d)", re.ASCII
)
_DATE_LITERAL = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)
_NUMBER = re.compile(r"-?\d+(\.\d+)?", re.ASCII)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "ORDER", "BY", "ASC", "DESC", "LIMIT", "IN"}
_REFUSED_KEYWORDS = {"OR", "NOT", "LIKE", "INCLUDES", "EXCLUDES", "GROUP", "HAVING", "OFFSET"}


@attrs.frozen
class _Tok:
    kind: str  # word, kw, str, num, dt, date, op, punct
    value: Any


def _tokenize(soql: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(soql)
    while i < n:
        ch = soql[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            out, i = [], i + 1
            while True:
                if i >= n:
                    raise SoqlError("MALFORMED_QUERY", "unterminated string literal")
                c = soql[i]
                if c == "\\":
                    if i + 1 >= n or soql[i + 1] not in _ESCAPES:
                        raise SoqlError(
                            "MALFORMED_QUERY", f"invalid escape sequence at position {i}"
                        )
                    out.append(_ESCAPES[soql[i + 1]])
                    i += 2
                elif c == "'":
                    i += 1
                    break
                else:
                    out.append(c)
                    i += 1
            tokens.append(_Tok("str", "".join(out)))
        elif ch in "(),":
            tokens.append(_Tok("punct", ch))
            i += 1
        elif ch in "=!<>":
            for op in ("!=", "<=", ">=", "=", "<", ">"):
                if soql.startswith(op, i):
                    tokens.append(_Tok("op", op))
                    i += len(op)
                    break
            else:
                raise SoqlError("MALFORMED_QUERY", f"unexpected {ch!r} at position {i}")
        elif m := _DATETIME_LITERAL.match(soql, i):
            tokens.append(_Tok("dt", _parse_datetime(m.group(0))))
            i = m.end()
        elif m := _DATE_LITERAL.match(soql, i):
            tokens.append(_Tok("date", m.group(0)))
            i = m.end()
        elif m := _NUMBER.match(soql, i):
            tokens.append(_Tok("num", float(m.group(0))))
            i = m.end()
        elif m := _WORD.match(soql, i):
            word = m.group(0)
            upper = word.upper()
            if upper in _REFUSED_KEYWORDS:
                raise SoqlError("MALFORMED_QUERY", f"unsupported keyword {word!r}")
            if upper in _KEYWORDS:
                tokens.append(_Tok("kw", upper))
            elif upper in {"TRUE", "FALSE", "NULL"}:
                tokens.append(_Tok("lit", {"TRUE": True, "FALSE": False, "NULL": None}[upper]))
            else:
                tokens.append(_Tok("word", word))
            i = m.end()
        else:
            raise SoqlError("MALFORMED_QUERY", f"unexpected {ch!r} at position {i}")
    return tokens


@attrs.frozen
class Query:
    """A parsed SOQL query of the supported subset."""

    sobject: str
    fields: tuple[str, ...]
    where: tuple[tuple[str, str, Any], ...]  # (field, op, value); op "IN" takes a tuple
    order: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int | None


class _Parser:
    def __init__(self, tokens: list[_Tok], schema: dict[str, dict[str, str]]) -> None:
        self.toks = tokens
        self.pos = 0
        self.schema = schema

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, kind: str, value: Any = None) -> _Tok:
        tok = self.peek()
        if tok is None or tok.kind != kind or (value is not None and tok.value != value):
            found = "end of query" if tok is None else repr(tok.value)
            want = value if value is not None else kind
            raise SoqlError("MALFORMED_QUERY", f"expected {want}, found {found}")
        self.pos += 1
        return tok

    def at(self, kind: str, value: Any = None) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind and (value is None or tok.value == value)

    def field(self, fields: dict[str, str], sobject: str) -> str:
        name = self.take("word").value
        canonical = {f.lower(): f for f in fields}.get(name.lower())
        if canonical is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")
        return canonical

    def literal(self) -> Any:
        tok = self.peek()
        if tok is None or tok.kind not in {"str", "num", "dt", "date", "lit"}:
            found = "end of query" if tok is None else repr(tok.value)
            raise SoqlError("MALFORMED_QUERY", f"expected a literal value, found {found}")
        self.pos += 1
        return tok.value

    def parse(self) -> Query:
        self.take("kw", "SELECT")
        names = [self.take("word").value]
        while self.at("punct", ","):
            self.pos += 1
            names.append(self.take("word").value)
        self.take("kw", "FROM")
        sobject = self.take("word").value
        if sobject not in self.schema:
            raise SoqlError("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        fields = self.schema[sobject]
        lookup = {f.lower(): f for f in fields}
        selected = []
        for name in names:
            if name.lower() not in lookup:
                raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")
            selected.append(lookup[name.lower()])
        where: list[tuple[str, str, Any]] = []
        if self.at("kw", "WHERE"):
            self.pos += 1
            while True:
                name = self.field(fields, sobject)
                if self.at("kw", "IN"):
                    self.pos += 1
                    self.take("punct", "(")
                    values = [self.literal()]
                    while self.at("punct", ","):
                        self.pos += 1
                        values.append(self.literal())
                    self.take("punct", ")")
                    where.append((name, "IN", tuple(values)))
                else:
                    op = self.take("op").value
                    where.append((name, op, self.literal()))
                if not self.at("kw", "AND"):
                    break
                self.pos += 1
        order: list[tuple[str, bool]] = []
        if self.at("kw", "ORDER"):
            self.pos += 1
            self.take("kw", "BY")
            while True:
                name = self.field(fields, sobject)
                desc = False
                if self.at("kw", "ASC") or self.at("kw", "DESC"):
                    desc = self.take("kw").value == "DESC"
                order.append((name, desc))
                if not self.at("punct", ","):
                    break
                self.pos += 1
        limit = None
        if self.at("kw", "LIMIT"):
            self.pos += 1
            number = self.take("num").value
            limit = int(number)
        if self.peek() is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected {self.peek().value!r}")  # type: ignore[union-attr]
        return Query(
            sobject=sobject,
            fields=tuple(selected),
            where=tuple(where),
            order=tuple(order),
            limit=limit,
        )


def parse_soql(soql: str, schema: dict[str, dict[str, str]]) -> Query:
    """Parse *soql* against *schema*, refusing anything outside the supported subset."""
    return _Parser(_tokenize(soql), schema).parse()


def _comparable(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return _parse_datetime(value) if isinstance(value, str) else value
    if kind in {"double", "int"}:
        return float(value)
    return value


def _matches(record: dict[str, Any], types: dict[str, str], cond: tuple[str, str, Any]) -> bool:
    name, op, literal = cond
    kind = types[name]
    left = _comparable(kind, record.get(name))
    if op == "IN":
        return left in {_comparable(kind, v) for v in literal}
    right = _comparable(kind, literal)
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    return bool(
        {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    )


# -- the server --------------------------------------------------------------------------------


@attrs.define
class Fault:
    """A fault to inject into the next request whose path contains ``match``."""

    kind: str  # "429", "limit", "503", "500", "drop", "drop_after", "slow", "expire", ...
    times: int = 1
    match: str = ""
    retry_after: int = 1
    after: int = 0  # matching requests to let through before failing


@attrs.define
class _Job:
    id: str
    sobject: str
    operation: str
    state: str = "Open"
    csv_data: str = ""
    successful: list[dict[str, str]] = attrs.Factory(list)
    failed: list[tuple[dict[str, str], str]] = attrs.Factory(list)
    columns: list[str] = attrs.Factory(list)


class SalesforceEmulator:
    """An in-memory Salesforce org served over HTTPS on 127.0.0.1 (port chosen by the OS).

    Use as a context manager; :attr:`url` is the instance URL, :attr:`ca_path` the PEM file of
    the test CA that signed its certificate, :attr:`session_id` a valid access token.
    """

    def __init__(
        self,
        *,
        ca: trustme.CA,
        cert_dir: Path,
        page_size: int = 2000,
        custom_fields: dict[str, str] | None = None,
        lead_statuses: tuple[str, ...] = DEFAULT_LEAD_STATUSES,
        username: str = "integration@example.com",
        password: str = "s3cret-password",
        security_token: str = "TOKEN123",
        tracked: frozenset[str] = DEFAULT_TRACKED,
    ) -> None:
        self.page_size = page_size
        self.lead_statuses = lead_statuses
        self.schema = {k: dict(v) for k, v in _STANDARD.items()}
        self.schema["Lead"].update(
            LEADFLOW_CUSTOM_FIELDS if custom_fields is None else custom_fields
        )
        self.schema["Opportunity"].update(OPPORTUNITY_CUSTOM_FIELDS)
        self.records: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in self.schema}
        self.faults: list[Fault] = []
        self.validation_errors: set[str] = set()
        #: Lead fields whose changes leave a LeadHistory row (field history tracking).
        self.tracked = set(tracked)
        #: Records changed through the API, per record id: the duplicate-write detector.
        self.writes: Counter[str] = Counter()
        #: Switches: every write shares the current second (``same_second``); pages shorter
        #: than the page size (``page_sizes`` cycles through the sizes of successive pages);
        #: a ``nextRecordsUrl`` replaced with this text (``next_url``, e.g. another host).
        self.same_second = False
        self.page_sizes: tuple[int, ...] = ()
        self.next_url: str | None = None
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []
        self.queries: list[str] = []  # the SOQL of every query request, decoded
        self.credentials = (username, password + security_token)
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._tick = 0
        self._tokens = {"00D000000000001!AQ4AQemulatedsessiontoken0001"}
        self.session_id = next(iter(self._tokens))
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._jobs: dict[str, _Job] = {}
        self._ca = ca
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = cert_dir / "emulator-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(self._ssl)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> SalesforceEmulator:
        """Bind 127.0.0.1 on a free port and serve in a daemon thread."""
        emulator = self

        class Handler(_Handler):
            emu = emulator

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = self._ssl.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SalesforceEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The instance URL, ``https://127.0.0.1:PORT``."""
        assert self._server is not None, "start() the emulator first"
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    # -- org state, as an admin or a user in the UI would change it --

    def now(self) -> datetime:
        """The logical clock: one second per write request since :data:`EPOCH`."""
        return EPOCH + timedelta(seconds=self._tick)

    def _advance(self) -> str:
        if not self.same_second or self._tick == 0:
            self._tick += 1
        return format_stamp(self.now())

    def new_id(self, sobject: str) -> str:
        """An 18-character id with the sObject's key prefix, increasing with creation order."""
        return f"{_KEY_PREFIX[sobject]}{next(self._ids):012d}AAA"

    def insert(
        self, sobject: str, fields: dict[str, Any], *, created: datetime | None = None
    ) -> str:
        """Create a record as a user would; returns its id."""
        with self._lock:
            unknown = set(fields) - set(self.schema[sobject])
            if unknown:
                raise KeyError(f"no such field(s) on {sobject}: {sorted(unknown)}")
            stamp = self._advance()
            rid = self.new_id(sobject)
            record = dict.fromkeys(self.schema[sobject])
            record.update(fields)
            if "IsConverted" in record and record["IsConverted"] is None:
                record["IsConverted"] = False
            if "HasResponded" in record and record["HasResponded"] is None:
                record["HasResponded"] = False
            record.update(
                Id=rid,
                CreatedDate=format_stamp(created) if created else stamp,
                LastModifiedDate=stamp,
                SystemModstamp=stamp,
            )
            self.records[sobject][rid] = record
            return rid

    def edit(
        self, sobject: str, rid: str, fields: dict[str, Any], *, by: str = "005000000000002AAA"
    ) -> None:
        """Change a record as user *by* in the UI would (bumps SystemModstamp, leaves field
        history for tracked fields)."""
        with self._lock:
            stamp = self._advance()
            record = self.records[sobject][rid]
            self._track(sobject, record, fields, stamp, by)
            record.update(fields, LastModifiedDate=stamp, SystemModstamp=stamp)
            if sobject == "Lead" and "LastModifiedById" in record:
                record["LastModifiedById"] = by

    def _track(
        self, sobject: str, record: dict[str, Any], changes: dict[str, Any], stamp: str, by: str
    ) -> None:
        """The history rows the org writes for *changes* to *record* (before they apply)."""
        if sobject == "Lead":
            for name, value in changes.items():
                if name in self.tracked and record.get(name) != value:
                    if name == "OwnerId":
                        # A lookup field's change is two rows: one with the names the UI shows,
                        # one with the ids only the API returns (Salesforce's EntityHistory docs).
                        self.add_history(
                            record["Id"],
                            "Owner",
                            _user_name(record.get(name)),
                            _user_name(value),
                            at=_parse_datetime(stamp),
                            by=by,
                        )
                    self.add_history(
                        record["Id"],
                        "Owner" if name == "OwnerId" else name,
                        record.get(name),
                        value,
                        at=_parse_datetime(stamp),
                        by=by,
                    )
        if sobject == "Opportunity" and any(
            k in changes and changes[k] != record.get(k)
            for k in ("StageName", "Amount", "CloseDate")
        ):
            after = {**record, **changes}
            self.insert_raw(
                "OpportunityHistory",
                {
                    "OpportunityId": record["Id"],
                    "StageName": after.get("StageName"),
                    "Amount": after.get("Amount"),
                    "CloseDate": after.get("CloseDate"),
                    "IsDeleted": False,
                    "CreatedById": by,
                },
                at=_parse_datetime(stamp),
            )

    def insert_raw(self, sobject: str, fields: dict[str, Any], *, at: datetime) -> str:
        """Store a record stamped *at* without moving the clock (history rows, back-dated data)."""
        with self._lock:
            rid = self.new_id(sobject)
            record = dict.fromkeys(self.schema[sobject])
            record.update(fields, Id=rid, CreatedDate=stored_stamp(at))
            if "SystemModstamp" in record:
                record.update(SystemModstamp=stored_stamp(at), LastModifiedDate=stored_stamp(at))
            self.records[sobject][rid] = record
            return rid

    def add_history(
        self, lead_id: str, field: str, old: Any, new: Any, *, at: datetime, by: str
    ) -> str:
        """A LeadHistory row: *field* of lead *lead_id* changed from *old* to *new* at *at* by
        user *by* (``Field`` is ``"leadConverted"`` for a conversion, ``"Owner"`` for OwnerId)."""
        return self.insert_raw(
            "LeadHistory",
            {
                "LeadId": lead_id,
                "Field": field,
                "DataType": "Text",
                "OldValue": old,
                "NewValue": new,
                "IsDeleted": False,
                "CreatedById": by,
            },
            at=at,
        )

    def convert(
        self,
        lead_id: str,
        opportunity: dict[str, Any],
        *,
        at: datetime,
        by: str,
        contact_id: str | None = None,
    ) -> str:
        """Convert a lead as "Convert" in the UI does: an opportunity (with *opportunity*'s
        fields, created *at*), the lead's ``Converted*`` fields, ``Status`` "Closed - Converted"
        and a ``leadConverted`` history row. Returns the opportunity's id."""
        with self._lock:
            opp = self.insert_raw("Opportunity", {"OwnerId": by, **opportunity}, at=at)
            record = self.records["Opportunity"][opp]
            stage = record.get("StageName") or "Prospecting"
            closed, won = next((c, w) for n, c, w in OPPORTUNITY_STAGES if n == stage)
            record.update(StageName=stage, IsClosed=closed, IsWon=won)
            self.insert_raw(
                "OpportunityHistory",
                {
                    "OpportunityId": opp,
                    "StageName": stage,
                    "Amount": record.get("Amount"),
                    "CloseDate": record.get("CloseDate"),
                    "IsDeleted": False,
                    "CreatedById": by,
                },
                at=at,
            )
            lead = self.records["Lead"][lead_id]
            contact = contact_id or self.new_id("Contact")
            self.add_history(lead_id, "leadConverted", None, None, at=at, by=by)
            if "Status" in self.tracked and lead.get("Status") != "Closed - Converted":
                self.add_history(
                    lead_id, "Status", lead.get("Status"), "Closed - Converted", at=at, by=by
                )
            stamp = self._advance()
            lead.update(
                IsConverted=True,
                Status="Closed - Converted",
                ConvertedDate=at.astimezone(UTC).date().isoformat(),
                ConvertedOpportunityId=opp,
                ConvertedContactId=contact,
                LastModifiedDate=stamp,
                SystemModstamp=stamp,
            )
            return opp

    def close_opportunity(
        self, opp_id: str, stage: str, *, at: datetime, by: str, **fields: Any
    ) -> None:
        """Move an opportunity to *stage* at *at* (``Closed Won``/``Closed Lost``...), with
        more *fields* (``Amount``, ``Loss_Reason__c``...): an OpportunityHistory row at *at*."""
        with self._lock:
            record = self.records["Opportunity"][opp_id]
            closed, won = next((c, w) for n, c, w in OPPORTUNITY_STAGES if n == stage)
            changes = {"StageName": stage, "IsClosed": closed, "IsWon": won, **fields}
            after = {**record, **changes}
            self.insert_raw(
                "OpportunityHistory",
                {
                    "OpportunityId": opp_id,
                    "StageName": stage,
                    "Amount": after.get("Amount"),
                    "CloseDate": after.get("CloseDate"),
                    "IsDeleted": False,
                    "CreatedById": by,
                },
                at=at,
            )
            stamp = self._advance()
            record.update(changes, LastModifiedDate=stamp, SystemModstamp=stamp)

    def get(self, sobject: str, rid: str) -> dict[str, Any]:
        """A copy of a stored record."""
        with self._lock:
            return dict(self.records[sobject][rid])

    # -- switches --

    def inject(
        self, kind: str, *, times: int = 1, match: str = "", retry_after: int = 1, after: int = 0
    ) -> None:
        """Fail *times* requests whose path contains *match* with *kind*, after letting the
        first *after* of them through."""
        if kind not in {
            "429",
            "limit",
            "503",
            "500",
            "drop",
            "drop_after",
            "slow",
            "expire",
            "badjson",
            "echo",
        }:
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self.faults.append(
                Fault(kind=kind, times=times, match=match, retry_after=retry_after, after=after)
            )

    def expire_session(self) -> None:
        """Every token issued so far stops working (401 INVALID_SESSION_ID)."""
        with self._lock:
            self._tokens.clear()

    def reset_counts(self) -> None:
        """Forget the request counter and log."""
        with self._lock:
            self.calls.clear()
            self.log.clear()
            self.queries.clear()

    @property
    def total_calls(self) -> int:
        """Requests served (faulted ones included), login excluded."""
        return sum(n for k, n in self.calls.items() if k != "login")

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.match in path:
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- the API --

    def login(self, body: str) -> tuple[int, str]:
        """SOAP login: a new session for the configured username and password+token."""
        user = re.search(r"<n1:username>(.*?)</n1:username>", body, re.S)
        pwd = re.search(r"<n1:password>(.*?)</n1:password>", body, re.S)
        from xml.sax.saxutils import unescape

        given = (unescape(user.group(1)) if user else "", unescape(pwd.group(1)) if pwd else "")
        if given != self.credentials:
            fault = (
                '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
                'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
                "<faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username,"
                " password, security token; or user locked out.</faultstring><detail>"
                "<sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>"
                "<sf:exceptionMessage>Invalid username, password, security token; or user locked"
                " out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
                "</soapenv:Body></soapenv:Envelope>"
            )
            return 500, fault
        with self._lock:
            token = f"00D000000000001!AQ4AQemulatedsessiontoken{next(self._ids):04d}"
            self._tokens.add(token)
            self.session_id = token
        server = f"{self.url}/services/Soap/u/{API_VERSION}/00D000000000001"
        return 200, (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
            f"<serverUrl>{xml_escape(server)}</serverUrl>"
            f"<sessionId>{xml_escape(token)}</sessionId>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )

    def authorised(self, header: str | None) -> bool:
        """Whether an ``Authorization: Bearer`` header carries a live token."""
        if not header or not header.startswith("Bearer "):
            return False
        with self._lock:
            return header.removeprefix("Bearer ") in self._tokens

    def query(self, soql: str) -> dict[str, Any]:
        """Run *soql*; the first page and a ``nextRecordsUrl`` when there is more."""
        parsed = parse_soql(soql, self.schema)
        with self._lock:
            types = self.schema[parsed.sobject]
            rows = [
                r
                for r in self.records[parsed.sobject].values()
                if all(_matches(r, types, c) for c in parsed.where)
            ]
            for name, desc in reversed(parsed.order):
                rows.sort(
                    key=lambda r, n=name: (
                        (r[n] is not None, _comparable(types[n], r[n]) or 0)
                        if types[n] in {"double", "int", "datetime"}
                        else (r[n] is not None, r[n] or "")
                    ),
                    reverse=desc,
                )
            if parsed.limit is not None:
                rows = rows[: parsed.limit]
            out = [self._shape(parsed.sobject, r, parsed.fields) for r in rows]
            return self._page(out, total=len(out), offset=0, locator=None)

    def query_more(self, locator: str, offset: int) -> dict[str, Any]:
        """The page of a query locator that starts at *offset*."""
        with self._lock:
            rows = self._cursors.get(locator)
            if rows is None or offset > len(rows):
                raise SoqlError("INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._page(rows, total=len(rows), offset=offset, locator=locator)

    def _page(
        self, rows: list[dict[str, Any]], *, total: int, offset: int, locator: str | None
    ) -> dict[str, Any]:
        size = self.page_size
        if self.page_sizes:  # "the returned batch can include fewer records than the limit"
            size = self.page_sizes[(offset // max(1, min(self.page_sizes))) % len(self.page_sizes)]
        end = offset + size
        page: dict[str, Any] = {"totalSize": total, "done": end >= total}
        if end < total:
            if locator is None:
                locator = f"01g{next(self._ids):012d}AAA"
                self._cursors[locator] = rows
            page["nextRecordsUrl"] = self.next_url or (
                f"/services/data/v{API_VERSION}/query/{locator}-{end}"
            )
        page["records"] = rows[offset:end]
        return page

    def _shape(
        self, sobject: str, record: dict[str, Any], fields: tuple[str, ...]
    ) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/v{API_VERSION}/sobjects/{sobject}/{record['Id']}",
            }
        }
        for name in fields:
            shaped[name] = record.get(name)
        return shaped

    def _apply(
        self, sobject: str, rid: str, changes: dict[str, Any], stamp: str
    ) -> dict[str, Any] | None:
        """Validate and apply one record's update; an error dict when it fails (nothing kept)."""
        types = self.schema.get(sobject)
        if types is None:
            return {
                "statusCode": "INVALID_TYPE",
                "message": f"sObject type '{sobject}' is not supported.",
                "fields": [],
            }
        record = self.records[sobject].get(rid)
        if record is None:
            return {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}
        lookup = {f.lower(): f for f in types}
        normalised: dict[str, Any] = {}
        for key, given in changes.items():
            value = given
            name = lookup.get(key.lower())
            if name is None:
                return {
                    "statusCode": "INVALID_FIELD",
                    "message": f"No such column '{key}' on sobject of type {sobject}",
                    "fields": [key],
                }
            if name in _READ_ONLY or sobject in _HISTORY:
                return {
                    "statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "message": f"Unable to create/update fields: {name}.",
                    "fields": [name],
                }
            kind = types[name]
            if value is not None:
                try:
                    if kind in {"double", "int"}:
                        if isinstance(value, bool) or not isinstance(value, (int, float)):
                            raise ValueError
                    elif kind == "datetime":  # kept to the second, as datetime fields are
                        value = stored_stamp(_parse_datetime(str(value)))
                    elif kind == "boolean":
                        if not isinstance(value, bool):
                            raise ValueError
                    elif not isinstance(value, str):
                        raise ValueError
                except ValueError:
                    return {
                        "statusCode": "INVALID_TYPE_ON_FIELD_IN_RECORD",
                        "message": f"{name}: value not of required type: {value!r}",
                        "fields": [name],
                    }
            if sobject == "Lead" and name == "Status" and value not in self.lead_statuses:
                return {
                    "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    "message": f"Status: bad value for restricted picklist field: {value}",
                    "fields": ["Status"],
                }
            normalised[name] = value
        if rid in self.validation_errors:
            return {
                "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "message": "Leads in review cannot be changed by integrations",
                "fields": [],
            }
        self._track(sobject, record, normalised, stamp, INTEGRATION_USER)
        record.update(normalised, LastModifiedDate=stamp, SystemModstamp=stamp)
        if "LastModifiedById" in record:
            record["LastModifiedById"] = INTEGRATION_USER
        self.writes[rid] += 1
        return None

    def update_collection(self, body: Any) -> tuple[int, Any]:
        """PATCH composite/sobjects: per-record SaveResults (allOrNone false) or a 400."""
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            return 400, [
                {"message": "Invalid JSON: records is required", "errorCode": "JSON_PARSER_ERROR"}
            ]
        records = body["records"]
        if len(records) > 200:
            return 400, [
                {
                    "message": "record limit reached. cannot submit more than 200 records into this call",
                    "errorCode": "EXCEEDED_ID_LIMIT",
                }
            ]
        all_or_none = bool(body.get("allOrNone", False))
        with self._lock:
            stamp = self._advance()
            snapshot = (
                {k: {i: dict(r) for i, r in v.items()} for k, v in self.records.items()}
                if all_or_none
                else None
            )
            results: list[dict[str, Any]] = []
            for raw in records:
                fields = dict(raw)
                attributes = fields.pop("attributes", None) or {}
                sobject = attributes.get("type")
                rid = fields.pop("id", None) or fields.pop("Id", None)
                if not sobject or not rid:
                    error = {
                        "statusCode": "MALFORMED_ID",
                        "message": "id and attributes.type are required",
                        "fields": [],
                    }
                else:
                    error = self._apply(sobject, rid, fields, stamp)
                if error is None:
                    results.append({"id": rid, "success": True, "errors": []})
                else:
                    results.append({"success": False, "errors": [error]})
            if all_or_none and snapshot is not None and not all(r["success"] for r in results):
                self.records = snapshot
                results = [
                    r
                    if not r["success"]
                    else {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
                                "fields": [],
                            }
                        ],
                    }
                    for r in results
                ]
            return 200, results

    # Bulk API 2.0

    def create_job(self, body: Any) -> tuple[int, Any]:
        """POST jobs/ingest."""
        if not isinstance(body, dict) or body.get("object") not in self.schema:
            return 400, [{"message": "Invalid object", "errorCode": "INVALIDENTITY"}]
        if body.get("operation") != "update" or body.get("contentType", "CSV") != "CSV":
            return 400, [
                {"message": "only CSV update jobs are emulated", "errorCode": "FEATURENOTENABLED"}
            ]
        with self._lock:
            job = _Job(
                id=f"750{next(self._ids):012d}AAA", sobject=body["object"], operation="update"
            )
            self._jobs[job.id] = job
            return 200, self._job_info(job)

    def _job_info(self, job: _Job) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.sobject,
            "createdById": "005000000000001AAA",
            "createdDate": format_stamp(self.now()),
            "systemModstamp": format_stamp(self.now()),
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(API_VERSION),
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }
        if job.state in {"JobComplete", "Failed"}:
            info["numberRecordsProcessed"] = len(job.successful) + len(job.failed)
            info["numberRecordsFailed"] = len(job.failed)
        return info

    def upload_job(self, job_id: str, data: str) -> tuple[int, Any]:
        """PUT jobs/ingest/ID/batches."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return 404, [
                    {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
                ]
            if job.state != "Open":
                return 409, [{"message": f"Job is {job.state}", "errorCode": "INVALIDJOBSTATE"}]
            job.csv_data = data
            return 201, None

    def set_job_state(self, job_id: str, body: Any) -> tuple[int, Any]:
        """PATCH jobs/ingest/ID: UploadComplete processes the data; Aborted aborts."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return 404, [
                    {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
                ]
            state = body.get("state") if isinstance(body, dict) else None
            if state == "Aborted":
                job.state = "Aborted"
                return 200, self._job_info(job)
            if state != "UploadComplete" or job.state != "Open":
                return 400, [
                    {
                        "message": f"cannot move job from {job.state} to {state}",
                        "errorCode": "INVALIDJOBSTATE",
                    }
                ]
            job.state = "UploadComplete"
            info = self._job_info(job)
            self._process(job)
            return 200, info

    def _process(self, job: _Job) -> None:
        reader = csv.DictReader(io.StringIO(job.csv_data))
        job.columns = list(reader.fieldnames or [])
        stamp = self._advance()
        for row in reader:
            rid = row.get("Id") or row.get("id") or ""
            changes = {
                k: (None if v == "#N/A" else v)
                for k, v in row.items()
                if k.lower() != "id" and v != ""
            }
            types = self.schema[job.sobject]
            lookup = {f.lower(): f for f in types}
            for key, value in list(changes.items()):
                name = lookup.get(key.lower())
                if name and value is not None and types[name] in {"double", "int"}:
                    with contextlib.suppress(ValueError):
                        changes[key] = float(value) if types[name] == "double" else int(value)
                if name and value is not None and types[name] == "boolean":
                    changes[key] = value.lower() == "true"
            error = self._apply(job.sobject, rid, changes, stamp)
            if error is None:
                job.successful.append(row)
            else:
                job.failed.append(
                    (row, f"{error['statusCode']}:{error['message']}:{','.join(error['fields'])}")
                )
        job.state = "JobComplete"

    def job(self, job_id: str) -> tuple[int, Any]:
        """GET jobs/ingest/ID."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return 404, [
                    {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
                ]
            return 200, self._job_info(job)

    def job_results(self, job_id: str, which: str) -> tuple[int, Any]:
        """GET successfulResults / failedResults / unprocessedrecords as CSV text."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return 404, [
                    {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
                ]
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            if which == "successfulResults":
                writer.writerow(["sf__Id", "sf__Created", *job.columns])
                for row in job.successful:
                    writer.writerow([row.get("Id", ""), "false", *(row[c] for c in job.columns)])
            elif which == "failedResults":
                writer.writerow(["sf__Id", "sf__Error", *job.columns])
                for row, error in job.failed:
                    writer.writerow([row.get("Id", ""), error, *(row[c] for c in job.columns)])
            elif which.lower() == "unprocessedrecords":
                writer.writerow(job.columns)
            else:
                return 404, [
                    {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
                ]
            return 200, buffer.getvalue()


class _QuietServer(ThreadingHTTPServer):
    """No tracebacks on stderr when a client hangs up (a timeout, a test's dropped socket)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


_QUERY_MORE = re.compile(r"/services/data/v[\d.]+/query/(01g\w+)-(\d+)")
_JOB = re.compile(r"/services/data/v[\d.]+/jobs/ingest/(\w+)(?:/(\w+))?/?")


class _Handler(BaseHTTPRequestHandler):
    emu: SalesforceEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(
        self,
        status: int,
        payload: Any,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        if payload is None:
            body = b""
        elif isinstance(payload, str) and content_type != "application/json":
            body = payload.encode()
        else:
            body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type};charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Sforce-Limit-Info", f"api-usage={self.emu.total_calls}/15000")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, method: str) -> None:
        emu = self.emu
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path = split.path
        kind = self._kind(method, path)
        with emu._lock:
            emu.calls[kind] += 1
            emu.log.append((method, path))
        if kind == "login":
            status, xml = emu.login(raw.decode())
            self._send(status, xml, content_type="text/xml")
            return
        fault = emu._next_fault(path)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.retry_after)  # answer only after the client's timeout
        if fault is not None and fault.kind == "expire":
            emu.expire_session()
        if fault is not None and fault.kind == "drop":
            self._drop()
            return
        if fault is not None and fault.kind == "429":
            self._send(
                429,
                [{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                headers={"Retry-After": str(fault.retry_after)},
            )
            return
        if fault is not None and fault.kind == "limit":
            self._send(
                403,
                [
                    {
                        "message": "TotalRequests Limit exceeded.",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                    }
                ],
            )
            return
        if fault is not None and fault.kind == "503":
            self._send(503, [{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}])
            return
        auth = self.headers.get("Authorization") or ""
        if fault is not None and fault.kind == "500":  # an error page quoting the session
            session = auth.removeprefix("Bearer ")
            self._send(
                500, [{"message": f"Internal error in session {session}", "errorCode": "UNKNOWN"}]
            )
            return
        if fault is not None and fault.kind == "echo":  # a 400 that echoes the header back
            self._send(
                400,
                [{"message": f"Bad header value: {auth}", "errorCode": "INVALID_HEADER_VALUE"}],
            )
            return
        if fault is not None and fault.kind == "badjson":  # a proxy's page, not JSON
            self._send(
                200,
                f"<html>gateway error; session {auth.removeprefix('Bearer ')}</html>",
                content_type="text/html",
            )
            return
        if not emu.authorised(self.headers.get("Authorization")):
            self._send(
                401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
            )
            return
        try:
            status, payload, ctype = self._route(method, path, split.query, raw)
        except SoqlError as exc:
            status, payload, ctype = (
                400,
                [{"message": exc.message, "errorCode": exc.code}],
                "application/json",
            )
        except ValueError as exc:
            status, payload, ctype = (
                400,
                [{"message": str(exc), "errorCode": "JSON_PARSER_ERROR"}],
                "application/json",
            )
        if fault is not None and fault.kind == "drop_after":
            self._drop()
            return
        self._send(status, payload, content_type=ctype)

    @staticmethod
    def _kind(method: str, path: str) -> str:
        if "/services/Soap/u/" in path:
            return "login"
        if _QUERY_MORE.fullmatch(path):
            return "query_more"
        if path.rstrip("/").endswith("/query"):
            return "query"
        if path.rstrip("/").endswith("/composite/sobjects"):
            return "collections"
        if "/jobs/ingest" in path:
            return f"bulk2_{method.lower()}"
        return "other"

    def _route(self, method: str, path: str, query: str, raw: bytes) -> tuple[int, Any, str]:
        emu = self.emu
        json_type = "application/json"
        if method == "GET" and path.rstrip("/").endswith("/query"):
            soql = parse_qs(query).get("q", [""])[0]
            with emu._lock:
                emu.queries.append(soql)
            return 200, emu.query(soql), json_type
        if method == "GET" and (m := _QUERY_MORE.fullmatch(path)):
            return 200, emu.query_more(m.group(1), int(m.group(2))), json_type
        if method == "PATCH" and path.rstrip("/").endswith("/composite/sobjects"):
            status, payload = emu.update_collection(json.loads(raw or b"null"))
            return status, payload, json_type
        if method == "POST" and path.rstrip("/").endswith("/jobs/ingest"):
            status, payload = emu.create_job(json.loads(raw or b"null"))
            return status, payload, json_type
        if m := _JOB.fullmatch(path):
            job_id, sub = m.group(1), m.group(2)
            if method == "PUT" and sub == "batches":
                status, payload = emu.upload_job(job_id, raw.decode("utf-8"))
                return status, payload, json_type
            if method == "PATCH" and sub is None:
                status, payload = emu.set_job_state(job_id, json.loads(raw or b"null"))
                return status, payload, json_type
            if method == "GET" and sub is None:
                status, payload = emu.job(job_id)
                return status, payload, json_type
            if method == "GET" and sub is not None:
                status, payload = emu.job_results(job_id, sub)
                return status, payload, "text/csv" if status == 200 else json_type
        return (
            404,
            [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}],
            json_type,
        )


@contextlib.contextmanager
def running(ca: trustme.CA, cert_dir: Path, **options: Any) -> Iterator[SalesforceEmulator]:
    """Start an emulator for the duration of a ``with`` block."""
    emu = SalesforceEmulator(ca=ca, cert_dir=cert_dir, **options)
    with emu:
        yield emu
