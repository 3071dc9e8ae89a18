"""Scoring: evaluating a :class:`~leadflow.rules.scorecard.Scorecard` as of an instant.

Scope: pure functions of (card, lead, account, activities, ``as_of``) — no clock, no I/O.
:func:`score_lead` scores one lead, :func:`score_many` streams a large batch with bounded memory,
:func:`score_account` rolls a company's contacts up into an account score with its buying
committee, intent and trend, and :func:`apply_recommendation` turns a recommendation into a
lifecycle move through :func:`leadflow.lifecycle.transition`.

Decay: each activity's points are multiplied by ``0.5 ** (age_days / half_life_days)``, where the
age is measured back from ``as_of``; activities after ``as_of`` are ignored. Fit points do not decay.

Exactness: a result's ``total`` is ``math.fsum`` of its contributions' ``points`` — the correctly
rounded sum, the same whatever the order — so the explanation always adds up to the score.

>>> from datetime import datetime, timedelta, timezone
>>> from leadflow.model import Activity, Lead
>>> from leadflow.rules.scorecard import Rule, Scorecard, TitleKeywords
>>> card = Scorecard(name="tiny", half_life_days=30, rules=[
...     Rule(id="vp", label="VP title", category="fit", points=20,
...          when=TitleKeywords(keywords=["VP"])),
...     Rule(id="quote", label="quote request", category="behaviour", signal="intent",
...          points=40, activities=["quote_request"]),
... ])
>>> now = datetime(2026, 3, 31, tzinfo=timezone.utc)
>>> lead = Lead(id="L-1", title="VP Sales", created_at=now - timedelta(days=90))
>>> quote = Activity(id="A-1", lead_id="L-1", kind="quote_request",
...                  occurred_at=now - timedelta(days=30))
>>> result = score_lead(card, lead, [quote], as_of=now)
>>> result.total
40.0
>>> result.explain()
'+20 VP title, +20 quote request 30 days ago (half-life 30 d)'
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from leadflow._validate import check_aware
from leadflow.errors import LeadflowError, ValidationError
from leadflow.lifecycle import WATERFALL, Lifecycle, Stage, transition
from leadflow.model import Account, Activity, Lead
from leadflow.rules.scorecard import (
    FREE_MAIL_DOMAINS,
    ActivityCount,
    AllOf,
    AnyOf,
    Category,
    Condition,
    Equals,
    FreeMailDomain,
    Missing,
    Not,
    OneOf,
    Present,
    Range,
    Regex,
    Rule,
    Scorecard,
    Signal,
    TitleKeywords,
    iter_conditions,
)

__all__ = [
    "AccountScore",
    "Contribution",
    "Recommendation",
    "ScoreResult",
    "Trend",
    "apply_recommendation",
    "recommend",
    "score_account",
    "score_lead",
    "score_many",
]

_DAY = 86400.0
_T = TypeVar("_T", bound=attrs.AttrsInstance)
_LN2 = math.log(2.0)


class Recommendation(enum.StrEnum):
    """What a score says to do next.

    * ``nurture``: not yet — keep marketing to them.
    * ``mql``: hand to sales as a marketing-qualified lead.
    * ``sql_ready``: high score with an intent signal; ready for sales to qualify.
    * ``sales_winnable``: a designation, not a stage — a target-fit account with sustained
      engagement from several people, worth working before anyone raises a hand.
    """

    NURTURE = "nurture"
    MQL = "mql"
    SQL_READY = "sql_ready"
    SALES_WINNABLE = "sales_winnable"


class Trend(enum.StrEnum):
    """An account's engagement now compared with one trend window earlier."""

    RISING = "rising"
    STEADY = "steady"
    COOLING = "cooling"


@attrs.frozen(kw_only=True)
class Contribution:
    """What one rule added to a score, and why.

    ``raw_points`` is before decay and cap (a per-activity rule's points times its activities);
    ``points`` is what it adds to the total. ``evidence`` holds the ids of the activities behind
    it, in the order they were given; ``age_days`` is the age of the newest of them and ``half_life_days`` the decay applied
    (both ``None`` for fit rules). ``capped`` says the rule's cap cut it.
    """

    rule_id: str
    label: str
    category: Category
    signal: Signal | None
    raw_points: float
    points: float
    evidence: tuple[str, ...] = ()
    age_days: float | None = None
    half_life_days: float | None = None
    capped: bool = False

    def explain(self) -> str:
        """One fragment of :meth:`ScoreResult.explain`, e.g. ``+8 webinar today (half-life 30 d)``."""
        text = f"{_signed(self.points)} {self.label}"
        if self.age_days is not None:
            count = len(self.evidence)
            when = _ago(self.age_days)
            text += f" x{count}, latest {when}" if count > 1 else f" {when}"
            if self.half_life_days is not None:
                text += f" (half-life {_number(self.half_life_days)} d)"
        if self.capped:
            text += " [capped]"
        return text


def _number(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _signed(value: float) -> str:
    text = _number(value)
    if text in ("0", "-0"):
        return "+0" if value >= 0 else "-0"
    return text if text.startswith("-") else "+" + text


def _ago(age_days: float) -> str:
    if age_days < 1:
        return "today"
    days = int(age_days)
    return "1 day ago" if days == 1 else f"{days} days ago"


@attrs.frozen(kw_only=True)
class ScoreResult:
    """A lead's score as of an instant, with the contributions that make it up.

    ``total`` is ``math.fsum`` of the contributions' points; ``fit``, ``behaviour``, ``interest``
    and ``intent`` are the same sums over the matching contributions. A result from scoring
    builds its per-activity :class:`Contribution` objects when ``contributions`` is first read
    (totals are final before that), so a batch that keeps only totals does not pay for them.
    """

    lead_id: str
    scorecard: str
    as_of: datetime
    total: float
    fit: float
    behaviour: float
    interest: float
    intent: float
    contributions: tuple[Contribution, ...]
    recommendation: Recommendation

    @property
    def has_intent(self) -> bool:
        """Whether an intent-signal rule added positive points."""
        return any(c.signal is Signal.INTENT and c.points > 0 for c in self.contributions)

    def explain(self) -> str:
        """A short human-readable breakdown, in the card's rule order.

        For example ``+20 VP title, +31.4 quote request 3 days ago (half-life 30 d), -10
        free-mail domain``; ``"no rule matched"`` when nothing contributed.
        """
        if not self.contributions:
            return "no rule matched"
        return ", ".join(c.explain() for c in self.contributions)


# A per-activity rule's contribution before it is built: (the rule's _Head, points, evidence ids,
# age of the newest activity, capped, number of activities). Building a Contribution costs more
# than computing it, and a batch job that writes only totals never reads one, so scoring keeps
# these and builds them when ``ScoreResult.contributions`` is first read.
# _Head: what a per-activity rule's contributions share, taken from the rule once per card —
# (rule id, label, category, signal, points per activity, half-life in days).
_Head = tuple[str, str, Category, Signal | None, float, float]
_Part = tuple[_Head, float, list[str], float, bool, int]


class _Deferred:
    """A result's contributions in card order, some still as :data:`_Part` tuples."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Contribution | _Part]) -> None:
        self.parts = parts

    def build(self) -> tuple[Contribution, ...]:
        make = _new_contribution
        built: list[Contribution] = []
        for part in self.parts:
            if isinstance(part, Contribution):
                built.append(part)
                continue
            head, points, ids, newest, capped, count = part
            rule_id, label, category, signal, per_activity, half_life = head
            # Positional, in Contribution's field order (rule_id, label, category, signal,
            # raw_points, points, evidence, age_days, half_life_days, capped).
            built.append(
                make(
                    rule_id,
                    label,
                    category,
                    signal,
                    per_activity * count,
                    points,
                    tuple(ids),
                    newest,
                    half_life,
                    capped,
                )
            )
        return tuple(built)


class _ContributionsSlot:
    """``ScoreResult.contributions``: the slot attrs made for it, building deferred values on read.

    It wraps the slot, so whatever reads the attribute (``==``, ``hash``, ``repr``,
    ``attrs.asdict``, ``attrs.evolve``, pickling) sees a built tuple, and the built tuple replaces
    the deferred one so it is built once. Only scoring stores a :class:`_Deferred`.
    """

    __slots__ = ("_get", "_set")

    def __init__(self, slot: Any) -> None:
        self._get = slot.__get__
        self._set = slot.__set__

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self._get(instance)
        if value.__class__ is _Deferred:
            value = value.build()
            self._set(instance, value)
        return value

    def __set__(self, instance: object, value: Any) -> None:
        self._set(instance, value)


type.__setattr__(
    ScoreResult, "contributions", _ContributionsSlot(ScoreResult.__dict__["contributions"])
)


def _slot_init(cls: type[_T]) -> Callable[..., _T]:
    """A constructor for the frozen attrs class *cls* that sets its slots directly.

    attrs' ``__init__`` for a frozen slotted class sets each field by name through
    ``object.__setattr__``; setting the slot descriptors directly gives the same object at about
    half the cost, which counts once per scored lead and contribution. Every field must be
    passed, by keyword or in field order. That is only the same object while *cls* has no validator, converter or post-init
    hook, so this refuses such a class. Only attrs field names (identifiers) enter the source.
    """
    fields = attrs.fields(cls)
    if hasattr(cls, "__attrs_post_init__") or any(
        f.validator is not None or f.converter is not None or not f.name.isidentifier()
        for f in fields
    ):  # pragma: no cover - guards a future change to the classes below
        raise TypeError(f"{cls.__name__} needs its own __init__")
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def make({', '.join(f.name for f in fields)}):", "    self = _new(_cls)"]
    for i, f in enumerate(fields):
        namespace[f"_set{i}"] = cls.__dict__[f.name].__set__
        lines.append(f"    _set{i}(self, {f.name})")
    lines.append("    return self")
    exec(compile("\n".join(lines), f"<leadflow {cls.__name__} maker>", "exec"), namespace)
    make: Callable[..., _T] = namespace["make"]
    return make


_new_result = _slot_init(ScoreResult)
_new_contribution = _slot_init(Contribution)


def recommend(result: ScoreResult, account_score: AccountScore | None = None) -> Recommendation:
    """The recommendation for a lead, upgraded to *sales-winnable* by its account's roll-up.

    A lead that is SQL-ready stays SQL-ready; otherwise a lead at a sales-winnable account is
    ``sales_winnable`` even below the MQL threshold (that is the point of the designation).
    """
    if result.recommendation is Recommendation.SQL_READY:
        return Recommendation.SQL_READY
    if account_score is not None and account_score.sales_winnable:
        return Recommendation.SALES_WINNABLE
    return result.recommendation


# -- compiling a card into closures ------------------------------------------------------------
#
# A card is compiled once (and cached) into a plan. Fit rules on fields alone become one generated
# function (see _Source); per-activity rules become plan entries fed by a single pass over a lead's
# activities (activity kind -> the rules that count it); the remaining rules become closures over
# the activities grouped by kind. Scoring a lead is one pass over its activities, one call for the
# field-only fit rules and one pass over the plan.

# Activities read by activity conditions, grouped by kind: (age in days, activity), at or before
# as_of only.
_Groups = dict[str, list[tuple[float, Activity]]]
_Test = Callable[[Lead, Account | None], bool]
_Evidence = Callable[[Lead, Account | None, _Groups], list[tuple[float, Activity]] | None]
_RuleFn = Callable[[Lead, Account | None, _Groups], Contribution | None]

_FIT, _INTEREST, _INTENT = 0, 1, 2  # which subtotal a rule's points go to
_PER_ACTIVITY, _GENERIC = 1, 2  # kinds of plan step


def _norm(value: Any) -> Any:
    """Comparable form: strings case-folded and stripped, numbers as float, bools tagged."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value.strip().casefold())
    return ("o", value)


_NUMBER_TYPES = frozenset({int, float})


class _Source:
    """Python source for field conditions, compiled into one function.

    Field conditions become one boolean expression over local variables that hold the field
    values, each read once. Only names this class makes and attribute names checked against the
    model's fields are written into the source; every user value (strings, numbers, patterns,
    property names) is passed in the namespace, never interpolated.
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "_norm": _norm,
            "_NUMBER": _NUMBER_TYPES,
            "str": str,
            "int": int,
            "float": float,
            "bool": bool,
            "isinstance": isinstance,
        }
        self.reads: dict[str, str] = {}
        self.prologue: list[str] = []

    def const(self, value: Any) -> str:
        name = f"_c{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def field(self, field: str) -> str:
        var = self.reads.get(field)
        if var is not None:
            return var
        var = f"_f{len(self.reads)}"
        if field.startswith("account.properties."):
            key = self.const(field[len("account.properties.") :])
            line = f"{var} = None if account is None else account.properties.get({key})"
        elif field.startswith("account."):
            attr = field[len("account.") :]
            if not attr.isidentifier():  # pragma: no cover - field names are validated
                raise ValueError(field)
            line = f"{var} = None if account is None else account.{attr}"
        elif field.startswith("properties."):
            key = self.const(field[len("properties.") :])
            line = f"{var} = lead.properties.get({key})"
        else:
            if not field.isidentifier():  # pragma: no cover - field names are validated
                raise ValueError(field)
            line = f"{var} = lead.{field}"
        self.reads[field] = var
        self.prologue.append(line)
        return var

    def expr(self, condition: Condition) -> str:
        if isinstance(condition, Equals | OneOf):
            values = [condition.value] if isinstance(condition, Equals) else condition.values
            v = self.field(condition.field)
            targets = frozenset(_norm(x) for x in values)
            texts = self.const(frozenset(t[1] for t in targets if t[0] == "s"))
            every = self.const(targets)
            return (
                f"(({v}.strip().casefold() in {texts}) if {v}.__class__ is str "
                f"else ({v} is not None and _norm({v}) in {every}))"
            )
        if isinstance(condition, Range):
            v = self.field(condition.field)
            low = self.const(-math.inf if condition.min is None else condition.min)
            high = self.const(math.inf if condition.max is None else condition.max)
            exact = f"{v}.__class__ in _NUMBER"  # the fast path; subclasses (numpy) below
            subclass = f"(isinstance({v}, (int, float)) and not isinstance({v}, bool))"
            return f"(({exact} or {subclass}) and {low} <= {v} <= {high})"
        if isinstance(condition, Regex | TitleKeywords):
            v = self.field(condition.field)
            if isinstance(condition, Regex):
                pattern = re.compile(condition.pattern)
            else:
                pattern = condition.pattern()
            search = self.const(pattern.search)
            return (
                f"({v} is not None and "
                f"{search}({v} if {v}.__class__ is str else str({v})) is not None)"
            )
        if isinstance(condition, Missing):
            return f"({self.field(condition.field)} is None)"
        if isinstance(condition, Present):
            return f"({self.field(condition.field)} is not None)"
        if isinstance(condition, FreeMailDomain):
            domains = FREE_MAIL_DOMAINS if condition.domains is None else condition.domains
            return f"({self.field('email_domain')} in {self.const(frozenset(domains))})"
        if isinstance(condition, AllOf):
            return "(" + " and ".join(self.expr(c) for c in condition.conditions) + ")"
        if isinstance(condition, AnyOf):
            return "(" + " or ".join(self.expr(c) for c in condition.conditions) + ")"
        if isinstance(condition, Not):
            return f"(not {self.expr(condition.condition)})"
        raise TypeError(f"not a field condition: {condition!r}")  # pragma: no cover

    def build(self, name: str, params: str, body: list[str]) -> Any:
        lines = [f"def {name}({params}):"]
        lines += [f"    {line}" for line in self.prologue]
        lines += [f"    {line}" for line in body] or ["    pass"]
        namespace = dict(self.namespace)
        exec(compile("\n".join(lines), f"<leadflow scorecard {name}>", "exec"), namespace)
        return namespace[name]


def _compile_test(condition: Condition) -> _Test:
    """A predicate for a condition tree with no activity condition in it."""
    source = _Source()
    expr = source.expr(condition)
    test: _Test = source.build("_test", "lead, account", [f"return bool({expr})"])
    return test


def _compile_fixed_fit(
    steps: Sequence[tuple[Condition, Contribution]],
) -> Callable[[Lead, Account | None, list[Contribution | _Part], list[float]], None]:
    """One function that evaluates every field-only fit rule, appending what matched."""
    source = _Source()
    body = []
    for condition, contribution in steps:
        expr = source.expr(condition)
        fixed, points = source.const(contribution), source.const(contribution.points)
        body += [f"if {expr}:", f"    out.append({fixed})", f"    points.append({points})"]
    built: Callable[[Lead, Account | None, list[Contribution | _Part], list[float]], None]
    built = source.build("_fit", "lead, account, out, points", body)
    return built


def _reads_activities(condition: Condition) -> bool:
    return any(isinstance(c, ActivityCount) for _, c in iter_conditions(condition))


def _compile_evidence(condition: Condition) -> _Evidence:
    """For a tree that may read activities: ``None`` if it fails, else its evidence.

    Evidence is the activities that satisfied its activity conditions (an empty list when it
    holds on fields alone, or through a ``not``).
    """
    if not _reads_activities(condition):
        test = _compile_test(condition)
        return lambda lead, account, _groups: [] if test(lead, account) else None
    if isinstance(condition, ActivityCount):
        kinds, at_least, window = condition.kinds, condition.at_least, condition.within_days

        if len(kinds) == 1:  # the usual case: no list to merge into
            (only,) = kinds

            def count_one(_lead: Lead, _account: Account | None, groups: _Groups) -> Any:
                found = groups.get(only)
                if found is None or len(found) < at_least:  # too few even before the window
                    return None
                if window is None:
                    return list(found)  # a copy, like every other evidence list
                found = [item for item in found if item[0] <= window]
                return found if len(found) >= at_least else None

            return count_one

        def count(_lead: Lead, _account: Account | None, groups: _Groups) -> Any:
            found: list[tuple[float, Activity]] = []
            for kind in kinds:
                items = groups.get(kind)
                if items:
                    found.extend(items)
            if len(found) < at_least:  # too few even before the window: skip filtering
                return None
            if window is not None:
                found = [item for item in found if item[0] <= window]
            return found if len(found) >= at_least else None

        return count
    if isinstance(condition, AllOf):
        parts = [_compile_evidence(c) for c in condition.conditions]

        def every(lead: Lead, account: Account | None, groups: _Groups) -> Any:
            evidence: list[tuple[float, Activity]] = []
            for part in parts:
                found = part(lead, account, groups)
                if found is None:
                    return None
                evidence.extend(found)
            return evidence

        return every
    if isinstance(condition, AnyOf):
        parts = [_compile_evidence(c) for c in condition.conditions]

        def some(lead: Lead, account: Account | None, groups: _Groups) -> Any:
            evidence: list[tuple[float, Activity]] | None = None
            for part in parts:
                found = part(lead, account, groups)
                if found is not None:
                    evidence = found if evidence is None else evidence + found
            return evidence

        return some
    if isinstance(condition, Not):
        inner = _compile_evidence(condition.condition)
        return lambda lead, account, groups: [] if inner(lead, account, groups) is None else None
    raise TypeError(f"not a condition: {condition!r}")  # pragma: no cover


def _clamp(value: float, cap: float | None) -> tuple[float, bool]:
    if cap is None or -cap <= value <= cap:
        return value, False
    return (cap if value > 0 else -cap), True


def _unique_ids(items: Iterable[tuple[float, Activity]]) -> tuple[str, ...]:
    """Activity ids in the order given, each once."""
    return tuple(dict.fromkeys(a.id for _, a in items))


def _subtotal(rule: Rule) -> int:
    if rule.category is Category.FIT:
        return _FIT
    return _INTENT if rule.signal is Signal.INTENT else _INTEREST


def _half_life(rule: Rule, card: Scorecard) -> float:
    return rule.half_life_days if rule.half_life_days is not None else card.half_life_days


def _compile_rule(rule: Rule, card: Scorecard) -> _RuleFn:
    """A closure scoring *rule* from a lead, its account and its activities grouped by kind."""
    points, cap = rule.points, rule.cap
    common: dict[str, Any] = {
        "rule_id": rule.id,
        "label": rule.label,
        "category": rule.category,
        "signal": rule.signal,
    }
    if rule.category is Category.FIT:
        assert rule.when is not None  # checked by Rule
        clamped, was_capped = _clamp(points, cap)
        if not _reads_activities(rule.when):
            test = _compile_test(rule.when)
            fixed = Contribution(raw_points=points, points=clamped, capped=was_capped, **common)
            return lambda lead, account, _groups: fixed if test(lead, account) else None
        gate = _compile_evidence(rule.when)

        def fit_with_activities(lead: Lead, account: Account | None, groups: _Groups) -> Any:
            found = gate(lead, account, groups)
            if found is None:
                return None
            return Contribution(
                raw_points=points,
                points=clamped,
                capped=was_capped,
                evidence=_unique_ids(found),
                **common,
            )

        return fit_with_activities

    half_life = _half_life(rule, card)
    rate = -_LN2 / half_life
    exp, fsum = math.exp, math.fsum

    if rule.activities:
        kinds, window = rule.activities, rule.within_days
        when = None if rule.when is None else _compile_evidence(rule.when)

        def per_activity(lead: Lead, account: Account | None, groups: _Groups) -> Any:
            if when is not None and when(lead, account, groups) is None:
                return None
            found = [item for kind in kinds for item in groups.get(kind, ())]
            if window is not None:
                found = [item for item in found if item[0] <= window]
            if not found:
                return None
            decayed, was_capped = _clamp(fsum([points * exp(age * rate) for age, _ in found]), cap)
            return Contribution(
                raw_points=points * len(found),
                points=decayed,
                capped=was_capped,
                evidence=tuple(a.id for _, a in found),
                age_days=min(age for age, _ in found),
                half_life_days=half_life,
                **common,
            )

        return per_activity

    assert rule.when is not None  # checked by Rule
    condition = _compile_evidence(rule.when)

    def once(lead: Lead, account: Account | None, groups: _Groups) -> Any:
        found = condition(lead, account, groups)
        if not found:  # fails, or holds without any activity behind it: nothing was done
            return None
        newest = min(age for age, _ in found)
        decayed, was_capped = _clamp(points * exp(newest * rate), cap)
        return Contribution(
            raw_points=points,
            points=decayed,
            capped=was_capped,
            evidence=_unique_ids(found),
            age_days=newest,
            half_life_days=half_life,
            **common,
        )

    return once


@attrs.frozen
class _Compiled:
    card: Scorecard
    fixed_fit: Callable[[Lead, Account | None, list[Contribution | _Part], list[float]], None]
    order: Mapping[str, int] | None
    plan: tuple[tuple[Any, ...], ...]
    # what the activity pass starts from, one item per plan step: None for a per-activity rule
    # (until an activity counts), True for any other rule (always evaluated)
    blank: tuple[bool | None, ...]
    # activity kind -> ((plan slot, window, points, decay rate per day) of the per-activity rules
    # counting it, whether activity conditions read it)
    routes: Mapping[str, tuple[tuple[tuple[int, float, float, float], ...], bool]]
    account_fit: tuple[_RuleFn, ...]


_COMPANY_FIELDS = frozenset({"company", "industry", "annual_revenue", "employees", "country"})


def _company_only(rule: Rule) -> bool:
    """Whether a fit rule reads only company fields (so it judges the account, not a person)."""
    if rule.category is not Category.FIT or rule.when is None:
        return False
    for _, c in iter_conditions(rule.when):
        if isinstance(c, ActivityCount | FreeMailDomain):
            return False
        field = getattr(c, "field", None)
        if field is not None and not (field in _COMPANY_FIELDS or field.startswith("account.")):
            return False
    return True


@functools.lru_cache(maxsize=64)
def _compile(card: Scorecard) -> _Compiled:
    plan: list[tuple[Any, ...]] = []
    fixed: list[tuple[Condition, Contribution]] = []
    routes: dict[str, list[tuple[int, float, float, float]]] = {}
    grouped: set[str] = set()
    in_order = True
    for rule in card.rules:
        if rule.when is not None:
            for _, c in iter_conditions(rule.when):
                if isinstance(c, ActivityCount):
                    grouped.update(c.kinds)
        subtotal = _subtotal(rule)
        when = rule.when
        if rule.category is Category.FIT and when is not None and not _reads_activities(when):
            clamped, was_capped = _clamp(rule.points, rule.cap)
            contribution = Contribution(
                rule_id=rule.id,
                label=rule.label,
                category=rule.category,
                signal=None,
                raw_points=rule.points,
                points=clamped,
                capped=was_capped,
            )
            fixed.append((when, contribution))
            in_order = in_order and not plan
            continue
        if rule.category is Category.BEHAVIOUR and rule.activities:
            slot = len(plan)
            window = math.inf if rule.within_days is None else rule.within_days
            half_life = _half_life(rule, card)
            rate = -_LN2 / half_life  # decay per day of age, computed once per rule
            for kind in rule.activities:
                routes.setdefault(kind, []).append((slot, window, rule.points, rate))
            gate = None if rule.when is None else _compile_evidence(rule.when)
            head = (rule.id, rule.label, rule.category, rule.signal, rule.points, half_life)
            plan.append((_PER_ACTIVITY, head, gate, subtotal, rule.cap))
            continue
        plan.append((_GENERIC, _compile_rule(rule, card), subtotal))
    return _Compiled(
        card=card,
        fixed_fit=_compile_fixed_fit(fixed),
        order=None if in_order else {r.id: i for i, r in enumerate(card.rules)},
        plan=tuple(plan),
        blank=tuple(None if step[0] == _PER_ACTIVITY else True for step in plan),
        routes={
            kind: (tuple(routes.get(kind, ())), kind in grouped) for kind in {*routes, *grouped}
        },
        account_fit=tuple(_compile_rule(r, card) for r in card.rules if _company_only(r)),
    )


# What the activity pass gathers for one per-activity rule: the decayed points of each activity
# it counts, their ids (both in the order given) and the age in days of the newest of them.
_Bucket = list[Any]  # [list[float], list[str], float]


def _route(
    compiled: _Compiled, lead_id: str, activities: Iterable[Activity], as_of_ts: float
) -> tuple[list[Any], _Groups]:
    """One pass over a lead's activities.

    Per-activity rules get, by plan slot, a :data:`_Bucket` with the decayed points and ids of
    the activities they count (``None`` when nothing counted; decay is applied here, once per
    activity and rule, so nothing is revisited later); activity conditions get the activities
    they read, grouped by kind.
    """
    routes = compiled.routes
    exp = math.exp
    slots: list[Any] = list(compiled.blank)
    groups: _Groups = {}
    for activity in activities:
        if activity.lead_id != lead_id:
            raise ValidationError(
                "activities",
                activity.id,
                f"belongs to lead {activity.lead_id!r}, not to {lead_id!r}",
            )
        kind = activity.kind
        if kind not in routes:  # a kind the card does not read (most of them, usually)
            continue
        age = (as_of_ts - activity.occurred_at.timestamp()) / _DAY
        if age < 0:
            continue
        counted, in_group = routes[kind]
        for slot, window, points, rate in counted:
            if age <= window:
                bucket = slots[slot]
                if bucket is None:
                    slots[slot] = [[points * exp(age * rate)], [activity.id], age]
                else:
                    bucket[0].append(points * exp(age * rate))
                    bucket[1].append(activity.id)
                    if age < bucket[2]:  # noqa: PLR1730 - cheaper than a min() call per activity
                        bucket[2] = age
        if in_group:
            items = groups.get(kind)
            if items is None:
                groups[kind] = [(age, activity)]
            else:
                items.append((age, activity))
    return slots, groups


def _distinct(activities: Iterable[Activity]) -> Iterator[Activity]:
    """*activities* without repeats: an activity id seen before counts once (the first)."""
    seen: set[str] = set()
    for activity in activities:
        if activity.id not in seen:
            seen.add(activity.id)
            yield activity


def _result(
    compiled: _Compiled,
    lead: Lead,
    account: Account | None,
    activities: Iterable[Activity],
    *,
    as_of: datetime,
    as_of_ts: float,
) -> ScoreResult:
    if account is not None and lead.account_id is not None and account.id != lead.account_id:
        raise ValidationError(
            "account", account.id, f"is not the account of lead {lead.id!r} ({lead.account_id!r})"
        )
    slots, groups = _route(compiled, lead.id, _distinct(activities), as_of_ts)
    contributions: list[Contribution | _Part] = []
    deferred = False
    subtotals: tuple[list[float], list[float], list[float]] = ([], [], [])
    compiled.fixed_fit(lead, account, contributions, subtotals[_FIT])
    fsum = math.fsum
    plan = compiled.plan
    for slot, found in enumerate(slots):
        if found is None:  # a per-activity rule that counted nothing
            continue
        step = plan[slot]
        if found is True:  # any other rule: evaluate it
            contribution = step[1](lead, account, groups)
            if contribution is not None:
                contributions.append(contribution)
                subtotals[step[2]].append(contribution.points)
            continue
        _, head, gate, subtotal, cap = step
        if gate is not None and gate(lead, account, groups) is None:
            continue
        values, ids, newest = found
        value = fsum(values)
        capped = cap is not None and not -cap <= value <= cap
        if capped:
            value = cap if value > 0 else -cap
        contributions.append((head, value, ids, newest, capped, len(values)))
        deferred = True
        subtotals[subtotal].append(value)
    if compiled.order is not None:  # field-only fit rules ran first; restore the card's order
        order = compiled.order
        contributions.sort(
            key=lambda c: order[c.rule_id if isinstance(c, Contribution) else c[0][0]]
        )
    fit, interest, intent = subtotals
    behaviour = interest + intent
    # fsum is exact then rounded once, so it does not depend on order: total == fsum(points).
    total = fsum(fit + behaviour)
    thresholds = compiled.card.thresholds
    if total >= thresholds.sql_ready and (
        not thresholds.sql_ready_requires_intent or any(p > 0 for p in intent)
    ):
        recommendation = Recommendation.SQL_READY
    elif total >= thresholds.mql:
        recommendation = Recommendation.MQL
    else:
        recommendation = Recommendation.NURTURE
    return _new_result(
        lead_id=lead.id,
        scorecard=compiled.card.name,
        as_of=as_of,
        total=total,
        fit=fsum(fit) if fit else 0.0,
        behaviour=fsum(behaviour) if behaviour else 0.0,
        interest=fsum(interest) if interest else 0.0,
        intent=fsum(intent) if intent else 0.0,
        # Built on first read (see _ContributionsSlot); the points above are already final.
        contributions=_Deferred(contributions) if deferred else tuple(contributions),
        recommendation=recommendation,
    )


def score_lead(
    card: Scorecard,
    lead: Lead,
    activities: Iterable[Activity],
    *,
    as_of: datetime,
    account: Account | None = None,
) -> ScoreResult:
    """Score *lead* with *card* as of *as_of* (timezone-aware), given its *activities*.

    *account* (the lead's company) supplies ``account.*`` fields. Every activity must belong to
    the lead; activities after *as_of* are ignored; kinds the card does not read are skipped.
    Raises :class:`~leadflow.errors.ValidationError` for a naive *as_of*, another lead's activity
    or another company's account.
    """
    check_aware("as_of", as_of)
    compiled = _compile(card)
    return _result(compiled, lead, account, activities, as_of=as_of, as_of_ts=as_of.timestamp())


def score_many(
    card: Scorecard,
    pairs: Iterable[tuple[Lead, Iterable[Activity]]],
    *,
    as_of: datetime,
    accounts: Mapping[str, Account] | None = None,
    on_error: Callable[[Lead, LeadflowError], None] | None = None,
) -> Iterator[ScoreResult]:
    """Score a stream of ``(lead, activities)`` pairs lazily, one result per pair in order.

    Holds one pair at a time, so an ETL job can score more leads than fit in memory. *accounts*
    maps account ids to accounts for ``account.*`` fields. A pair that cannot be scored raises,
    unless *on_error* is given: then it is called with the lead and the error, and the stream
    goes on without a result for that lead.

    >>> from datetime import datetime, timezone
    >>> from leadflow.model import Lead
    >>> from leadflow.rules.scorecard import Rule, Scorecard, FreeMailDomain
    >>> card = Scorecard(name="t", rules=[Rule(id="free_mail", category="fit", points=-10,
    ...                                        when=FreeMailDomain())])
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> pairs = ((Lead(id=f"L-{i}", email=e, created_at=at), [])
    ...          for i, e in enumerate(["a@gmail.com", "b@acme.io"]))
    >>> [r.total for r in score_many(card, pairs, as_of=at)]
    [-10.0, 0.0]
    """
    check_aware("as_of", as_of)
    compiled = _compile(card)
    as_of_ts = as_of.timestamp()
    lookup = accounts or {}
    for lead, activities in pairs:
        account = lookup.get(lead.account_id) if lead.account_id is not None else None
        try:
            yield _result(compiled, lead, account, activities, as_of=as_of, as_of_ts=as_of_ts)
        except LeadflowError as exc:
            if on_error is None:
                raise
            on_error(lead, exc)


# -- accounts ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AccountScore:
    """A company-wide roll-up of its contacts' engagement as of an instant.

    * ``fit``: the card's fit rules that read only company fields, judged on the account.
    * ``engagement``: the sum of every contact's behaviour points (decayed).
    * ``engaged_contacts``: contacts with positive behaviour points — the buying committee.
    * ``intent_contacts``: contacts with an intent signal.
    * ``previous_engagement`` / ``trend``: engagement one trend window earlier, and whether it
      has been rising, steady or cooling since.
    * ``sales_winnable``: target fit, enough engaged people, enough engagement, not cooling.
    """

    account_id: str
    scorecard: str
    as_of: datetime
    fit: float
    engagement: float
    total: float
    engaged_contacts: tuple[str, ...]
    intent_contacts: tuple[str, ...]
    previous_engagement: float
    trend: Trend
    sales_winnable: bool
    contacts: tuple[ScoreResult, ...]

    @property
    def intent(self) -> bool:
        """Whether any contact showed intent."""
        return bool(self.intent_contacts)


def _trend(now: float, before: float, tolerance: float) -> Trend:
    if now > before * (1 + tolerance) and now > before:
        return Trend.RISING
    if now < before * (1 - tolerance) and now < before:
        return Trend.COOLING
    return Trend.STEADY


def score_account(
    card: Scorecard,
    account: Account,
    contacts: Iterable[tuple[Lead, Sequence[Activity]]],
    *,
    as_of: datetime,
) -> AccountScore:
    """Roll *account*'s contacts up into an :class:`AccountScore` as of *as_of*.

    *contacts* are ``(lead, activities)`` pairs for the people at the account (each lead's
    ``account_id`` must be the account's or empty). The trend compares engagement now with
    engagement ``card.trend_window_days`` earlier (activities after that instant not yet
    counted); a relative change within ``card.trend_tolerance`` is steady.
    """
    check_aware("as_of", as_of)
    compiled = _compile(card)
    before = as_of - timedelta(days=card.trend_window_days)
    now_ts, before_ts = as_of.timestamp(), before.timestamp()
    results: list[ScoreResult] = []
    earlier: list[float] = []
    for lead, activities in contacts:
        acts = list(activities)
        results.append(_result(compiled, lead, account, acts, as_of=as_of, as_of_ts=now_ts))
        earlier.append(
            _result(compiled, lead, account, acts, as_of=before, as_of_ts=before_ts).behaviour
        )
    engagement = math.fsum(r.behaviour for r in results)
    previous = math.fsum(earlier)
    engaged = tuple(sorted(r.lead_id for r in results if r.behaviour > 0))
    intent = tuple(sorted(r.lead_id for r in results if r.has_intent))
    stand_in = Lead(
        id=account.id,
        created_at=as_of,
        company=account.name,
        industry=account.industry,
        annual_revenue=account.annual_revenue,
        employees=account.employees,
        country=account.country,
        account_id=account.id,
    )
    fit_parts = [rule(stand_in, account, {}) for rule in compiled.account_fit]
    fit = math.fsum(c.points for c in fit_parts if c is not None)
    trend = _trend(engagement, previous, card.trend_tolerance)
    t = card.thresholds
    winnable = (
        fit >= t.winnable_fit
        and len(engaged) >= t.winnable_contacts
        and engagement >= t.winnable_engagement
        and trend is not Trend.COOLING
    )
    return AccountScore(
        account_id=account.id,
        scorecard=card.name,
        as_of=as_of,
        fit=fit,
        engagement=engagement,
        total=math.fsum([fit, engagement]),
        engaged_contacts=engaged,
        intent_contacts=intent,
        previous_engagement=previous,
        trend=trend,
        sales_winnable=winnable,
        contacts=tuple(results),
    )


# -- acting on a recommendation ----------------------------------------------------------------


def apply_recommendation(
    lead: Lead,
    result: ScoreResult,
    *,
    at: datetime,
    by: str | None,
    lifecycle: Lifecycle = WATERFALL,
    account_score: AccountScore | None = None,
) -> Lead:
    """The lead after acting on its recommendation, through :func:`~leadflow.lifecycle.transition`.

    * ``nurture``: no move (scoring never demotes; sales recycles with a reject code).
    * ``mql`` and ``sales_winnable``: to ``mql`` if the lifecycle allows it from the lead's stage
      (from ``inquiry`` or ``recycled``); *sales-winnable* is recorded in the note — it is a
      designation, not a stage.
    * ``sql_ready``: to ``sql`` if allowed (sales accepted it: ``sal``), else to ``mql`` if
      allowed; scoring never skips sales' acceptance.

    A lead already at or past the target is returned unchanged. With *account_score*, the
    recommendation is :func:`recommend`'s (so a lead at a sales-winnable account is handed over).

    >>> from datetime import datetime, timezone
    >>> from leadflow.model import Lead
    >>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> lead = Lead(id="L-1", created_at=at)
    >>> result = ScoreResult(lead_id="L-1", scorecard="t", as_of=at, total=62.0, fit=62.0,
    ...                      behaviour=0.0, interest=0.0, intent=0.0, contributions=(),
    ...                      recommendation=Recommendation.MQL)
    >>> moved = apply_recommendation(lead, result, at=at, by="scoring")
    >>> moved.stage, moved.history[-1].note
    ('mql', 'scorecard t: mql at 62')
    """
    if result.lead_id != lead.id:
        raise ValidationError(
            "result", result.lead_id, f"is a score for another lead than {lead.id!r}"
        )
    recommendation = recommend(result, account_score)
    if recommendation is Recommendation.NURTURE:
        return lead
    targets = (
        [Stage.SQL.value, Stage.MQL.value]
        if recommendation is Recommendation.SQL_READY
        else [Stage.MQL.value]
    )
    lifecycle.check_stage(lead.stage)
    for target in targets:
        if target in lifecycle.stages and lifecycle.allows(lead.stage, target):
            note = (
                f"scorecard {result.scorecard}: {recommendation.value} at {_number(result.total)}"
            )
            return transition(lead, target, at=at, by=by, note=note, lifecycle=lifecycle)
    return lead
