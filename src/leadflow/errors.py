"""Every exception leadflow raises, under one root: :class:`LeadflowError`.

Errors are part of the API. Each subclass carries the data that explains it as attributes
(the field and the value that were wrong, the stages of an illegal transition, the adapter
that failed), and its message says what was wrong and with which value, so that a log line
is enough to act on.

Catch :class:`LeadflowError` to handle anything leadflow raised; catch a subclass to handle one
kind of failure. Validation errors also subclass :class:`ValueError`, and lookup errors
:class:`LookupError`, so code written against the standard library keeps working.

>>> from leadflow.errors import LeadflowError, ValidationError
>>> err = ValidationError("email", "not-an-email", "is not a valid e-mail address")
>>> str(err)
"email: 'not-an-email' is not a valid e-mail address"
>>> isinstance(err, LeadflowError), err.field, err.value
(True, 'email', 'not-an-email')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "AdapterError",
    "AdapterNotFoundError",
    "AuthenticationError",
    "ConfigError",
    "DeliveryError",
    "DuplicateAdapterError",
    "HistoryOrderError",
    "IllegalTransitionError",
    "InsufficientDataError",
    "LeadflowError",
    "MissingExtraError",
    "NotFoundError",
    "OptionalDependencyError",
    "RateLimitedError",
    "TooManyRefusedError",
    "TransientAdapterError",
    "UnknownRejectCodeError",
    "UnknownStageError",
    "ValidationError",
]


def _short(value: Any, limit: int = 80) -> str:
    """``repr`` of a user value, cut to *limit* characters so messages stay one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LeadflowError(Exception):
    """The root of every error leadflow raises."""


class ValidationError(LeadflowError, ValueError):
    """A value did not pass validation.

    Attributes:
        field: dotted path of the offending field (``"email"``, ``"rules[3].when.field"``).
        value: the value that was refused.
        reason: what is wrong with it, as a phrase that follows the value.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {_short(value)} {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.value, self.reason))


class ConfigError(LeadflowError, ValueError):
    """A configuration (a file, a mapping, adapter settings) is malformed.

    Attributes:
        path: where in the configuration the problem is (``"rules[3].when"``), or ``""``.
        problem: what is wrong.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem))


class UnknownStageError(LeadflowError, LookupError):
    """A stage name that the lifecycle in use does not define."""

    def __init__(self, stage: str, known: Iterable[str]) -> None:
        self.stage = stage
        self.known = tuple(known)
        super().__init__(f"unknown stage {stage!r}; known stages: {', '.join(self.known)}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.stage, self.known))


class IllegalTransitionError(LeadflowError):
    """A stage change the lifecycle does not allow.

    Attributes:
        from_stage: the stage the lead is in.
        to_stage: the stage that was asked for.
        allowed: the stages reachable from ``from_stage`` in one step.
    """

    def __init__(self, from_stage: str, to_stage: str, allowed: Iterable[str]) -> None:
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.allowed = tuple(allowed)
        targets = ", ".join(self.allowed) if self.allowed else "none (it is terminal)"
        super().__init__(
            f"cannot move from {from_stage!r} to {to_stage!r}; allowed from {from_stage!r}: "
            f"{targets}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.from_stage, self.to_stage, self.allowed))


class HistoryOrderError(ValidationError):
    """A stage change dated before the change it follows (histories are time-ordered).

    The one error for a history out of order, wherever it is found: a :class:`Lead` built with
    one, :func:`~leadflow.lifecycle.transition`, :func:`~leadflow.lifecycle.replay`, an adapter
    recording a change. A :class:`ValidationError` of the field ``history``; ``at`` is the
    change's instant and ``last`` that of the change before it.
    """

    def __init__(self, at: Any, last: Any) -> None:
        self.at = at
        self.last = last
        super().__init__(
            "history",
            at,
            f"is earlier than the last recorded change at {last.isoformat()}; "
            "history is append-only and time-ordered",
        )
        self.args = (
            f"history: stage change at {at.isoformat()} is earlier than the last recorded "
            f"change at {last.isoformat()}; history is append-only and time-ordered",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.at, self.last))


class UnknownRejectCodeError(LeadflowError, LookupError):
    """A rejection with a code the reason catalog does not define."""

    def __init__(self, code: str, known: Iterable[str]) -> None:
        self.code = code
        self.known = tuple(known)
        super().__init__(f"unknown reject code {code!r}; known codes: {', '.join(self.known)}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.known))


class AdapterError(LeadflowError):
    """A failure in or around an adapter (a CRM, the embedded store).

    Attributes:
        adapter: the adapter's registered name (``"salesforce"``), or ``""``.
    """

    def __init__(self, message: str, *, adapter: str = "") -> None:
        self.adapter = adapter
        super().__init__(f"{adapter}: {message}" if adapter else message)


class DeliveryError(AdapterError):
    """Pushing a report failed: the SMTP server or the webhook refused or could not be reached.

    Attributes:
        adapter: the channel, ``"smtp"`` or ``"webhook"``. The message never holds a password
        or a webhook URL.
    """


class AdapterNotFoundError(AdapterError, LookupError):
    """No adapter is registered under the requested name."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = tuple(available)
        listed = ", ".join(self.available) or "none"
        super().__init__(f"no adapter named {name!r}; installed adapters: {listed}")


class DuplicateAdapterError(AdapterError):
    """Two installed distributions register an adapter under the same name."""

    def __init__(self, name: str, providers: Iterable[str]) -> None:
        self.name = name
        self.providers = tuple(providers)
        super().__init__(
            f"adapter name {name!r} is registered by more than one distribution: "
            f"{', '.join(self.providers)}; uninstall one of them"
        )


class AuthenticationError(AdapterError):
    """The CRM refused the credentials (expired session, revoked token). Not retried."""


class RateLimitedError(AdapterError):
    """The CRM's rate limit was still exceeded after the retry budget was spent.

    Attributes:
        retry_after: seconds the CRM asked to wait, when it said.
    """

    def __init__(self, message: str, *, adapter: str = "", retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message, adapter=adapter)


class TransientAdapterError(AdapterError):
    """A failure worth retrying (5xx, dropped connection) that outlasted the retry budget."""


class OptionalDependencyError(LeadflowError, ImportError):
    """A core feature's optional dependency (an extra, such as ``holidays``) is not installed.

    Attributes:
        feature: what needed it (``"country holidays"``).
        extra: the leadflow extra that installs it; missing: the package that is missing.
    """

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        self.feature = feature
        self.extra = extra
        self.missing = missing
        super().__init__(
            f"{feature} needs the {missing!r} package, which is not installed; "
            f'install it with: pip install "leadflow[{extra}]"'
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.feature, self.extra, self.missing))


class MissingExtraError(AdapterError, OptionalDependencyError):
    """An adapter's optional dependency is not installed: the adapter flavour of
    :class:`OptionalDependencyError` (catch that one for any missing extra).

    The message names the ``pip install "leadflow[extra]"`` command that fixes it.

    Attributes:
        adapter: the adapter's registered name; feature: ``"the '<name>' adapter"``;
        extra: the leadflow extra that installs it; missing: the package that is missing.

    >>> err = MissingExtraError("hubspot", "hubspot", "hubspot")
    >>> print(err)
    the 'hubspot' adapter needs the 'hubspot' package, which is not installed; install it with: pip install "leadflow[hubspot]"
    >>> isinstance(err, AdapterError), isinstance(err, OptionalDependencyError)
    (True, True)
    """

    def __init__(self, name: str, extra: str, missing: str) -> None:
        OptionalDependencyError.__init__(self, f"the {name!r} adapter", extra, missing)
        self.adapter = name

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.adapter, self.extra, self.missing))


class InsufficientDataError(LeadflowError, ValueError):
    """A statistic cannot be estimated from the data given (too few rows, no variation).

    Attributes:
        statistic: what was being estimated (``"half-life"``).
        reason: what is missing, as a phrase.
    """

    def __init__(self, statistic: str, reason: str) -> None:
        self.statistic = statistic
        self.reason = reason
        super().__init__(f"cannot estimate the {statistic}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.statistic, self.reason))


class NotFoundError(LeadflowError, LookupError):
    """A lookup by name found nothing: no step of that name in an SLA evaluation, no rule of
    that id in a scorecard.

    Attributes:
        what: the kind of thing looked up (``"step"``, ``"rule"``).
        name: the name asked for; known: the names there are.

    >>> err = NotFoundError("step", "frist_touch", ["first_touch"])
    >>> print(err)
    no step named 'frist_touch'; known: first_touch
    >>> isinstance(err, LookupError)
    True
    """

    def __init__(self, what: str, name: str, known: Iterable[str]) -> None:
        self.what = what
        self.name = name
        self.known = tuple(known)
        super().__init__(f"no {what} named {name!r}; known: {', '.join(self.known) or 'none'}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.what, self.name, self.known))


class TooManyRefusedError(LeadflowError):
    """A job refused more input rows than its threshold allows (``--max-errors``).

    Attributes:
        refused: rows refused; total: rows read; limit: the threshold as given (``"100"``,
        ``"0.5%"``); errors: where the refused rows were written (or ``None``).

    >>> print(TooManyRefusedError(12, 1000, "1%", "errors.csv"))
    12 of 1,000 input rows refused (1.2%), more than --max-errors 1%; see errors.csv
    """

    def __init__(self, refused: int, total: int, limit: str, errors: str | None) -> None:
        self.refused = refused
        self.total = total
        self.limit = limit
        self.errors = errors
        share = 100.0 * refused / total if total else 100.0
        where = "" if errors is None else f"; see {errors}"
        super().__init__(
            f"{refused:,} of {total:,} input rows refused ({share:.3g}%), "
            f"more than --max-errors {limit}{where}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.refused, self.total, self.limit, self.errors))
