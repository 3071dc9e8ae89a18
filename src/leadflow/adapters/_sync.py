"""Sync machinery every CRM adapter shares: retries, batching, keyset cursors, redacted logging.

Scope: CRM-neutral helpers for talking to a remote system of record; nothing here knows
Salesforce or HubSpot, and nothing reads a real clock or sleeps unless the caller lets it (the
``sleep`` and ``clock`` of :func:`retry_call` are arguments, so tests run instantly).

* :class:`RetryPolicy` and :func:`retry_call`: bounded attempts *and* bounded total time,
  exponential backoff with jitter from an injectable :class:`random.Random`, and a server's
  ``Retry-After`` honoured. The adapter's ``classify(exc)`` returns a :class:`Decision`:
  :data:`GIVE_UP`, :data:`RETRY` (back off) or :func:`retry_after` (wait what the server said).
* :func:`chunked`: split writes into batches no larger than the system accepts.
* :class:`KeysetToken`: a ``(modified stamp, id)`` keyset cursor token, encoded as
  ``"<ISO-8601 UTC>|<id>"`` — records are read in ``(stamp, id)`` order and a page resumes
  strictly after the last pair it returned, so records sharing a stamp are neither skipped nor
  read twice.
* :func:`redact` and :data:`log`: tokens, passwords and session ids never reach a log line.

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

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
from dateutil.parser import isoparse

from leadflow._validate import check_aware
from leadflow.errors import ConfigError, ValidationError

__all__ = [
    "GIVE_UP",
    "RETRY",
    "Decision",
    "KeysetToken",
    "RetryPolicy",
    "Secret",
    "chunked",
    "get_logger",
    "log",
    "parse_retry_after",
    "redact",
    "retry_after",
    "retry_call",
    "retry_policy",
]

T = TypeVar("T")

#: The logger every adapter logs through. Its filter runs :func:`redact` over each message.
log = logging.getLogger("leadflow.adapters")


# -- retries ----------------------------------------------------------------------------------


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(attribute.name, value, "must be a number > 0")


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValidationError(attribute.name, value, "must be a number >= 0")


def _fraction(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError(attribute.name, value, "must be a number between 0 and 1")


def _at_least_one(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(attribute.name, value, "must be a whole number >= 1")


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

    max_attempts: int = attrs.field(default=5, validator=_at_least_one)
    max_elapsed: float = attrs.field(default=60.0, validator=_positive)
    base_delay: float = attrs.field(default=0.5, validator=_non_negative)
    max_delay: float = attrs.field(default=30.0, validator=_non_negative)
    multiplier: float = attrs.field(default=2.0, validator=_positive)
    jitter: float = attrs.field(default=1.0, validator=_fraction)
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
    leadflow.errors.ConfigError: retry.max_atempts: unknown key; expected one of base_delay, jitter, max_attempts, max_delay, max_elapsed, multiplier
    """
    if spec is None or isinstance(spec, RetryPolicy):
        return spec
    if not isinstance(spec, Mapping):
        raise ConfigError(path, f"must be a table of RetryPolicy fields, got {spec!r}")
    known = sorted(a.name for a in attrs.fields(RetryPolicy) if a.name != "rng")
    for key in spec:
        if key not in known:
            raise ConfigError(f"{path}.{key}", f"unknown key; expected one of {', '.join(known)}")
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


# -- keyset cursors ---------------------------------------------------------------------------


def _utc(value: Any) -> datetime:
    return check_aware("stamp", value).astimezone(UTC)


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

    stamp: datetime = attrs.field(converter=_utc)
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
        return (self.stamp, self.id) < (check_aware("stamp", stamp).astimezone(UTC), ident)

    @classmethod
    def last_of(cls, rows: Sequence[tuple[datetime, str]]) -> KeysetToken | None:
        """The position after the greatest ``(stamp, id)`` in *rows* (``None`` if empty)."""
        if not rows:
            return None
        stamp, ident = max((check_aware("stamp", s).astimezone(UTC), i) for s, i in rows)
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


def _redact_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
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
