"""The public kit for adapter authors: applying write batches, cursors, retries, secrets.

Scope: CRM-neutral helpers every adapter needs, and that leadflow's own adapters (``sqlite``,
Salesforce, HubSpot) are built from. Nothing here knows a particular system, and nothing reads a
real clock or sleeps unless the caller lets it (the ``sleep`` and ``clock`` of
:func:`retry_call` are arguments, so tests run instantly). The rules these helpers implement are
the ones :mod:`leadflow.ports` states and :mod:`leadflow.adapters.testing` checks.

Writing back:

* :func:`apply_batch`: the three rules of a write batch in one place — a write the record already
  holds is ``unchanged`` (whatever its ``expected_version`` says), else a write whose
  ``expected_version`` differs from the version the lead had *when the batch began* is a
  ``conflict``, else it is applied; a write that raises fails alone. One result per write, in
  order. :func:`judge_write` is the same decision for one write, for adapters that send the
  accepted writes in bulk themselves.
* :func:`apply_change`: a :class:`~leadflow.model.StageChange` applied to a
  :class:`~leadflow.model.Lead` (idempotent, so ``apply_change(lead, c) == lead`` says whether
  the lead already holds it).
* :func:`chunked`: split writes into batches no larger than the system accepts.

Reading:

* :func:`paginate`: records, and the records that could not be read, in read order, cut into
  pages whose cursor resumes after each page.
* :func:`sequence_after`: the position a change-counter cursor stands at (``0`` for "from the
  start").
* :class:`KeysetToken`: a ``(modified stamp, id)`` keyset cursor token, encoded as
  ``"<ISO-8601 UTC>|<id>"`` — records are read in ``(stamp, id)`` order and a page resumes
  strictly after the last pair it returned, so records sharing a stamp are neither skipped nor
  read twice.

Configuration, retries, secrets:

* :func:`check_keys`: refuse an unknown configuration key, naming it and the closest known one.
* :class:`RetryPolicy` and :func:`retry_call`: bounded attempts *and* bounded total time,
  exponential backoff with jitter from an injectable :class:`random.Random`, and a server's
  ``Retry-After`` honoured. The adapter's ``classify(exc)`` returns a :class:`Decision`:
  :data:`GIVE_UP`, :data:`RETRY` (back off) or :func:`retry_after` (wait what the server said).
  :func:`retry_policy` reads a ``retry`` setting.
* :class:`Secret`, :func:`redact`, :data:`log` and :func:`get_logger`: tokens, passwords and
  session ids never reach a repr, a log line or an error message.

>>> import random
>>> policy = RetryPolicy(max_attempts=4, base_delay=1.0, rng=random.Random(7))
>>> slept = []
>>> calls = iter([ConnectionError("reset"), ConnectionError("reset"), "ok"])
>>> def flaky():
...     outcome = next(calls)
...     if isinstance(outcome, Exception):
...         raise outcome
...     return outcome
>>> retry_call(flaky, policy=policy, classify=lambda exc: RETRY, sleep=slept.append,
...            clock=lambda: 0.0)
'ok'
>>> len(slept), all(0 <= s <= 2.0 for s in slept)
(2, True)
"""

from __future__ import annotations

import html
import json
import logging
import operator
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

import attrs
from dateutil.parser import isoparse

from leadflow import _validate as v
from leadflow._validate import check_aware, check_keys
from leadflow.errors import ConfigError, LeadflowError, ValidationError
from leadflow.model import apply_change
from leadflow.ports import (
    Cursor,
    Entity,
    Page,
    RecordError,
    Versioned,
    Write,
    WriteResult,
    WriteStatus,
)

__all__ = [
    "GIVE_UP",
    "RETRY",
    "Decision",
    "KeysetToken",
    "RetryPolicy",
    "Secret",
    "apply_batch",
    "apply_change",
    "check_keys",
    "chunked",
    "get_logger",
    "judge_write",
    "log",
    "paginate",
    "parse_retry_after",
    "redact",
    "retry_after",
    "retry_call",
    "retry_policy",
    "sequence_after",
]

T = TypeVar("T")

#: The logger every adapter logs through. Its filter runs :func:`redact` over each message.
log = logging.getLogger("leadflow.adapters")


# -- retries ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How long and how often to retry a call that failed in a retryable way.

    A call is tried at most ``max_attempts`` times, and never past ``max_elapsed`` seconds since
    the first try: a wait that would cross that line is not started. Back-off before retry *n*
    (1-based) is ``min(max_delay, base_delay * multiplier ** (n - 1))``, of which a ``jitter``
    fraction is randomised ("full jitter" at 1.0) with ``rng``. A server's ``Retry-After`` replaces
    the back-off (it is not shortened, but still bounded by ``max_elapsed``).

    >>> policy = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.0)
    >>> [policy.backoff(n) for n in range(1, 6)]
    [0.5, 1.0, 2.0, 4.0, 4.0]
    """

    max_attempts: int = attrs.field(default=5, validator=v.positive_int)
    max_elapsed: float = attrs.field(default=60.0, validator=v.positive)
    base_delay: float = attrs.field(default=0.5, validator=v.non_negative)
    max_delay: float = attrs.field(default=30.0, validator=v.non_negative)
    multiplier: float = attrs.field(default=2.0, validator=v.positive)
    jitter: float = attrs.field(default=1.0, validator=v.fraction)
    rng: random.Random = attrs.field(factory=random.Random, eq=False, repr=False)

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number *retry* (1 for the first retry)."""
        if retry < 1:
            raise ValidationError("retry", retry, "must be >= 1")
        ceiling = min(self.max_delay, self.base_delay * self.multiplier ** (retry - 1))
        fixed = ceiling * (1.0 - self.jitter)
        return fixed + self.rng.uniform(0.0, ceiling - fixed) if self.jitter else ceiling


def retry_policy(spec: Any, *, path: str = "retry") -> RetryPolicy | None:
    """The ``retry`` setting of an adapter: ``None`` (the adapter's default), a
    :class:`RetryPolicy`, or a table of its fields; anything else is a
    :class:`~leadflow.errors.ConfigError` naming the key at *path*.

    >>> retry_policy({"max_attempts": 3, "jitter": 0.0}).max_attempts
    3
    >>> retry_policy({"max_atempts": 3})
    Traceback (most recent call last):
    ...
    leadflow.errors.ConfigError: retry.max_atempts: unknown key 'max_atempts'; did you mean 'max_attempts'?
    """
    if spec is None or isinstance(spec, RetryPolicy):
        return spec
    if not isinstance(spec, Mapping):
        raise ConfigError(path, f"must be a table of RetryPolicy fields, got {spec!r}")
    check_keys(spec, path, (a.name for a in attrs.fields(RetryPolicy) if a.name != "rng"))
    return RetryPolicy(**spec)


@attrs.frozen(kw_only=True)
class Decision:
    """What to do about one failed call: give up, or retry (after ``after`` seconds if set)."""

    retry: bool
    after: float | None = None


#: Do not retry; the exception propagates unchanged.
GIVE_UP = Decision(retry=False)
#: Retry after the policy's back-off.
RETRY = Decision(retry=True)


def retry_after(seconds: float) -> Decision:
    """Retry after exactly *seconds* (what a server's ``Retry-After`` asked for).

    >>> retry_after(3)
    Decision(retry=True, after=3.0)
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ValidationError("retry_after", seconds, "must be a number of seconds >= 0")
    return Decision(retry=True, after=float(seconds))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    An HTTP date needs *now* (time is an argument); unparseable values give ``None``.

    >>> parse_retry_after("7"), parse_retry_after(None), parse_retry_after("soon")
    (7.0, None, None)
    >>> parse_retry_after("Mon, 02 Mar 2026 09:00:30 GMT",
    ...                   now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    30.0
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    if now is None:
        return None
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - check_aware("now", now)).total_seconds())


def retry_call(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    classify: Callable[[BaseException], Decision],
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    describe: str = "call",
) -> T:
    """Call *fn* until it returns, *classify* says give up, or *policy*'s budget is spent.

    When the budget runs out, the last exception propagates with a note saying how many
    attempts were made; the adapter turns it into its own error
    (:class:`~leadflow.errors.RateLimitedError`, :class:`~leadflow.errors.TransientAdapterError`).
    Each retry is logged at INFO through :data:`log` (redacted).
    """
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            decision = classify(exc)
            if not decision.retry:
                raise
            if attempt >= policy.max_attempts:
                exc.add_note(f"leadflow: gave up after {attempt} attempts (max_attempts)")
                raise
            wait = decision.after if decision.after is not None else policy.backoff(attempt)
            elapsed = clock() - start
            if elapsed + wait > policy.max_elapsed:
                exc.add_note(
                    f"leadflow: gave up after {attempt} attempts: waiting {wait:.1f}s more "
                    f"would pass the {policy.max_elapsed:.0f}s budget"
                )
                raise
            log.info(
                "%s failed (%s: %s); retry %d in %.2fs",
                describe,
                type(exc).__name__,
                exc,
                attempt,
                wait,
            )
            sleep(wait)


# -- applying a batch of writes ---------------------------------------------------------------


def judge_write(
    write: Write,
    *,
    holds: bool,
    version_at_start: str,
    version_now: str | None = None,
    same_version: Callable[[str, str], bool] = operator.eq,
) -> WriteResult | None:
    """The result of *write* when it is decided without applying it, else ``None`` (apply it).

    *holds* says whether the record already holds the write's values; *version_at_start* is the
    version the lead had when the batch began (not after earlier writes of the same batch).
    Unchanged wins: a write the record holds is ``unchanged`` (with *version_now*, the record's
    current version) whatever its ``expected_version`` says; otherwise an ``expected_version``
    that is not *same_version* as *version_at_start* is a ``conflict``. This is the decision
    :func:`apply_batch` makes per write, for adapters that send the accepted writes in bulk.

    >>> from leadflow.ports import ScoreWrite
    >>> stale = ScoreWrite(lead_id="L-1", score=70.0, expected_version="3")
    >>> judge_write(stale, holds=True, version_at_start="4").status.value
    'unchanged'
    >>> judge_write(stale, holds=False, version_at_start="4").error
    "lead 'L-1' changed since it was read (version 4 when the batch began, expected 3); not overwritten"
    >>> judge_write(stale, holds=False, version_at_start="3") is None
    True
    """
    if holds:
        now = version_at_start if version_now is None else version_now
        return WriteResult(write=write, status=WriteStatus.UNCHANGED, version=now)
    expected = write.expected_version
    if expected is not None and not same_version(expected, version_at_start):
        return WriteResult(
            write=write,
            status=WriteStatus.CONFLICT,
            error=f"lead {write.lead_id!r} changed since it was read (version "
            f"{version_at_start} when the batch began, expected {expected}); not overwritten",
        )
    return None


def apply_batch(
    writes: Sequence[Write],
    *,
    version_of: Callable[[str], str | None],
    holds: Callable[[Write], bool],
    apply: Callable[[Write], str],
    same_version: Callable[[str, str], bool] = operator.eq,
    failures: tuple[type[Exception], ...] = (LeadflowError,),
) -> list[WriteResult]:
    """Apply *writes* by the port's rules; one :class:`~leadflow.ports.WriteResult` per write,
    in order.

    The callables are the adapter's; this function holds the order of the rules:

    1. ``version_of(lead_id)`` is asked for every lead of the batch *before anything is
       applied* (the version each had when the batch began; ``None`` when there is no such
       lead, which fails that lead's writes);
    2. for each write, in order: if ``holds(write)`` (the record already holds its values) it
       is ``unchanged``, whatever its ``expected_version`` says — so re-applying a batch is
       harmless; else an ``expected_version`` that differs from the version at the batch's
       start is a ``conflict`` and nothing is written (several writes to one lead in one
       batch therefore do not conflict with each other); else ``apply(write)`` applies it and
       returns the lead's new version;
    3. an exception of one of *failures* (any :class:`~leadflow.errors.LeadflowError` by
       default) raised by ``holds`` or ``apply`` makes that write ``failed`` with the message;
       the others still apply. Undo a half-applied write inside ``apply`` (a savepoint) before
       raising. Other exceptions propagate.

    >>> from leadflow.ports import ScoreWrite
    >>> scores, versions = {}, {"L-1": 1}
    >>> def apply(write):
    ...     scores[write.lead_id] = write.score
    ...     versions[write.lead_id] += 1
    ...     return str(versions[write.lead_id])
    >>> def version_of(lead_id):
    ...     return str(versions[lead_id]) if lead_id in versions else None
    >>> def holds(write):
    ...     return scores.get(write.lead_id) == write.score
    >>> batch = [ScoreWrite(lead_id="L-1", score=70.0, expected_version="1"),
    ...          ScoreWrite(lead_id="L-9", score=10.0)]
    >>> [(r.status.value, r.version or r.error) for r in apply_batch(
    ...     batch, version_of=version_of, holds=holds, apply=apply)]
    [('applied', '2'), ('failed', "no lead 'L-9'")]
    >>> [r.status.value for r in apply_batch(batch[:1], version_of=version_of, holds=holds,
    ...                                      apply=apply)]
    ['unchanged']
    """
    at_start: dict[str, str | None] = {}
    for write in writes:
        if write.lead_id not in at_start:
            at_start[write.lead_id] = version_of(write.lead_id)
    results: list[WriteResult] = []
    for write in writes:
        start = at_start[write.lead_id]
        if start is None:
            results.append(
                WriteResult(
                    write=write, status=WriteStatus.FAILED, error=f"no lead {write.lead_id!r}"
                )
            )
            continue
        try:
            decided = judge_write(
                write,
                holds=holds(write),
                version_at_start=start,
                version_now=version_of(write.lead_id),
                same_version=same_version,
            )
            if decided is None:
                decided = WriteResult(write=write, status=WriteStatus.APPLIED, version=apply(write))
        except failures as exc:
            decided = WriteResult(write=write, status=WriteStatus.FAILED, error=str(exc))
        results.append(decided)
    return results


# -- batching ---------------------------------------------------------------------------------


def chunked(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    """*items* in consecutive tuples of at most *size* (the last may be shorter).

    >>> list(chunked("abcde", 2))
    [('a', 'b'), ('c', 'd'), ('e',)]
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValidationError("size", size, "must be a whole number >= 1")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield tuple(batch)
            batch = []
    if batch:
        yield tuple(batch)


# -- reading by page -----------------------------------------------------------------------------


def paginate(
    entity: Entity,
    rows: Iterable[tuple[str, Versioned[T] | RecordError]],
    *,
    page_size: int,
) -> Iterator[Page[T]]:
    """*rows* cut into :class:`~leadflow.ports.Page` objects of at most *page_size* rows.

    Each row is ``(token, record)``: the cursor token of the position *after* that row (a change
    counter, an encoded :class:`KeysetToken`) and the record read there, or the
    :class:`~leadflow.ports.RecordError` saying why it could not be read (it goes on the page's
    ``errors``, and the cursor still moves past it). Each page's cursor holds the token of its
    last row, so a reader resumes exactly after the page it processed. Rows must come in read
    order; nothing is yielded for no rows.

    >>> from leadflow.ports import Entity, RecordError, Versioned
    >>> rows = [("1", Versioned(item="a", version="1")),
    ...         ("2", RecordError(entity=Entity.LEAD, record_id="b", error="bad e-mail")),
    ...         ("3", Versioned(item="c", version="1"))]
    >>> pages = list(paginate(Entity.LEAD, rows, page_size=2))
    >>> [([v.item for v in p.items], len(p.errors), p.cursor.token) for p in pages]
    [(['a'], 1, '2'), (['c'], 0, '3')]
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ValidationError("page_size", page_size, "must be a whole number >= 1")
    for chunk in chunked(rows, page_size):
        yield Page(
            items=tuple(r for _, r in chunk if isinstance(r, Versioned)),
            errors=tuple(r for _, r in chunk if isinstance(r, RecordError)),
            cursor=Cursor(entity=entity, token=chunk[-1][0]),
        )


def sequence_after(cursor: Cursor | None, entity: Entity) -> int:
    """The change-counter position *cursor* resumes after: ``0`` for ``None`` (from the start).

    For systems that number every change (a global sequence, a ``rowid``): read the rows whose
    number is greater, in order, and use each row's number as its :func:`paginate` token. A
    cursor of another entity, or whose token is not a whole number, is a
    :class:`~leadflow.errors.ValidationError`.

    >>> sequence_after(None, Entity.LEAD), sequence_after(Cursor(entity="lead", token="42"), Entity.LEAD)
    (0, 42)
    >>> sequence_after(Cursor(entity="touch", token="42"), Entity.LEAD)
    Traceback (most recent call last):
    ...
    leadflow.errors.ValidationError: cursor.entity: <Entity.TOUCH: 'touch'> is a cursor for touch, not lead
    """
    if cursor is None or cursor.token is None:
        if cursor is not None and cursor.entity is not entity:
            raise ValidationError(
                "cursor.entity", cursor.entity, f"is a cursor for {cursor.entity}, not {entity}"
            )
        return 0
    if cursor.entity is not entity:
        raise ValidationError(
            "cursor.entity", cursor.entity, f"is a cursor for {cursor.entity}, not {entity}"
        )
    token = cursor.token
    if not token.isdigit():
        raise ValidationError("cursor.token", token, "is not a change number")
    return int(token)


# -- keyset cursors ---------------------------------------------------------------------------


def _stamp(value: Any) -> datetime:
    return v.utc(value, "stamp")


@attrs.frozen(kw_only=True, order=True)
class KeysetToken:
    """A keyset cursor position: the ``(stamp, id)`` of the last record read.

    Tokens order like the records they point at, so ``KeysetToken(...) < other`` says which is
    further along; :meth:`precedes` tells whether a record comes after the position.

    >>> at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    >>> token = KeysetToken(stamp=at, id="00Q5|x")
    >>> token.encode()
    '2026-03-01T12:00:00.000000Z|00Q5|x'
    >>> KeysetToken.decode(token.encode()) == token
    True
    >>> token.precedes(at, "00Q6"), token.precedes(at, "00Q4")
    (True, False)
    """

    stamp: datetime = attrs.field(converter=_stamp)
    id: str = attrs.field()

    @id.validator
    def _check_id(self, _attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, str) or not value:
            raise ValidationError("id", value, "must be a non-empty string")

    def encode(self) -> str:
        """The token string stored in a :class:`~leadflow.ports.Cursor`."""
        return f"{self.stamp.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z|{self.id}"

    @classmethod
    def decode(cls, token: str) -> KeysetToken:
        """Read a token written by :meth:`encode`; anything else is a ``ValidationError``."""
        stamp, sep, ident = token.partition("|") if isinstance(token, str) else ("", "", "")
        if not sep or not ident:
            raise ValidationError("cursor.token", token, "is not a '<stamp>|<id>' keyset token")
        try:
            when = isoparse(stamp)
        except (ValueError, OverflowError):
            raise ValidationError("cursor.token", token, "has no ISO-8601 stamp") from None
        if when.tzinfo is None:
            raise ValidationError("cursor.token", token, "has a stamp without a UTC offset")
        return cls(stamp=when, id=ident)

    def precedes(self, stamp: datetime, ident: str) -> bool:
        """Whether a record with *stamp* and *ident* comes strictly after this position."""
        return (self.stamp, self.id) < (v.utc(stamp, "stamp"), ident)

    @classmethod
    def last_of(cls, rows: Sequence[tuple[datetime, str]]) -> KeysetToken | None:
        """The position after the greatest ``(stamp, id)`` in *rows* (``None`` if empty)."""
        if not rows:
            return None
        stamp, ident = max((v.utc(s, "stamp"), i) for s, i in rows)
        return cls(stamp=stamp, id=ident)


# -- secrets and logging ----------------------------------------------------------------------


@attrs.frozen(repr=False)
class Secret:
    """A credential that never shows itself: ``repr``/``str`` print ``Secret('***')``.

    >>> token = Secret("00Dxx!AQ4AQ.secret")
    >>> token, f"{token}", token.reveal()[:5]
    (Secret('***'), "Secret('***')", '00Dxx')
    """

    _value: str = attrs.field(alias="value")

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it (an HTTP header)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


_SENSITIVE_KEY = re.compile(
    r"(pass(word|wd)?$|secret|token|authori[sz]ation|api[_-]?key|session[_-]?id|"
    r"(^|[_-])sid($|[_-])|cookie|private[_-]?key)",
    re.IGNORECASE,
)
_TEXT_PATTERNS = (
    # Authorization: Bearer abc / OAuth abc
    re.compile(r"(?i)\b(bearer|oauth)\s+[A-Za-z0-9._~+/=!\-]+"),
    # key=value and "key": "value" forms for sensitive keys
    re.compile(
        r"(?i)([\"']?(?:access_token|refresh_token|client_secret|password|api_?key|"
        r"session_?id|security_?token|token|secret)[\"']?\s*[:=]\s*[\"']?)([^\"'&\s,}]+)"
    ),
    # Salesforce session ids: 00D + 12 chars + "!" + payload
    re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]+"),
)
_MASK = "***"


def _echoed_forms(secret: str) -> list[str]:
    """*secret* and the forms a service echoing it may give it: JSON-escaped (a quote, a
    backslash, non-ASCII), a Python repr, percent-encoded, XML/HTML-escaped; longest first."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
        html.escape(secret),
        html.escape(secret, quote=False),
    }
    return sorted(forms, key=len, reverse=True)


def _redact_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            for form in _echoed_forms(secret):
                text = text.replace(form, _MASK)
    text = _TEXT_PATTERNS[0].sub(lambda m: f"{m.group(1)} {_MASK}", text)
    text = _TEXT_PATTERNS[1].sub(lambda m: f"{m.group(1)}{_MASK}", text)
    return _TEXT_PATTERNS[2].sub(_MASK, text)


def redact(value: Any, *, secrets: Iterable[str | Secret] = ()) -> Any:
    """*value* with credentials masked as ``***``: safe to log or put in an exception message.

    Strings lose bearer tokens, ``key=value`` credentials, Salesforce session ids and any of
    *secrets*; mappings lose the values of sensitive keys (``password``, ``*token*``,
    ``Authorization``...), recursively; sequences are redacted item by item.

    >>> redact({"username": "ada", "password": "hunter2", "nested": {"access_token": "x"}})
    {'username': 'ada', 'password': '***', 'nested': {'access_token': '***'}}
    >>> redact("GET /q?access_token=abc123&x=1 Authorization: Bearer eyJhbGci")
    'GET /q?access_token=***&x=1 Authorization: Bearer ***'
    >>> redact("login failed for s3cr3t", secrets=["s3cr3t"])
    'login failed for ***'
    """
    plain = [s.reveal() if isinstance(s, Secret) else s for s in secrets]
    if isinstance(value, Secret):
        return _MASK
    if isinstance(value, str):
        return _redact_text(value, plain)
    if isinstance(value, Mapping):
        return {
            k: (
                _MASK
                if isinstance(k, str) and _SENSITIVE_KEY.search(k) and v is not None
                else redact(v, secrets=plain)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(v, secrets=plain) for v in value)
    return value


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redact_text(record.getMessage(), ())
        record.args = None
        return True


def get_logger(suffix: str) -> logging.Logger:
    """A child of :data:`log` (``leadflow.adapters.<suffix>``) with the same redacting filter.

    Logger filters do not apply to records of child loggers, so adapters that want their own
    logger name take it from here rather than from :func:`logging.getLogger`.
    """
    logger = log.getChild(suffix)
    if not any(isinstance(f, _RedactFilter) for f in logger.filters):
        logger.addFilter(_RedactFilter())
    return logger


if not any(isinstance(f, _RedactFilter) for f in log.filters):
    log.addFilter(_RedactFilter())
