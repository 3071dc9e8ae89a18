"""A scorecard compiled to one SQL query, for DuckDB, Spark SQL, PostgreSQL and warehouses.

Scope: :func:`compile_scorecard_sql` turns a :class:`~leadflow.rules.scorecard.Scorecard` into a
single ``SELECT`` over a leads table and an events (activities) table -- and an accounts table
when the card reads ``account.*`` fields -- that gives, per lead, the same ``score``, ``fit``,
``behaviour``, ``interest``, ``intent`` and ``recommendation`` as
:func:`leadflow.rules.scoring.score_lead` (to floating-point rounding: the database's ``SUM`` is
not :func:`math.fsum`). The query is built as :mod:`sqlglot` expressions -- every value of the
card is a literal that sqlglot quotes for the dialect, never spliced text -- and rendered for
any sqlglot dialect; DuckDB, Spark SQL, PostgreSQL, Snowflake and BigQuery are tested.

The query, step by step (common table expressions):

* ``ev``: the events of the kinds the card reads, with their age in days at the as-of instant
  (from epoch microseconds, the arithmetic :func:`~leadflow.rules.scoring.score_lead` does);
  events after the as-of instant are left out;
* ``agg``: one row per lead id -- per behaviour rule with ``activities`` the sum of
  ``points * 0.5 ** (age / half_life)`` (written ``EXP(age * -ln 2 / half_life)``) over its
  kinds and window, and the count; per activity condition the count in its window and the
  newest age;
* ``scored``: the leads (``LEFT JOIN agg``, and the accounts on ``account_id``), one ``CASE``
  column per rule: fit conditions as boolean expressions, caps as ``CASE`` clamps, the decay of a
  rule gated by activity conditions from the age of its newest evidence;
* the final ``SELECT``: the subtotals and the recommendation (``sql_ready`` needs an intent rule
  with positive points when the thresholds say so).

Inputs: leads with ``id`` and the fields the card reads as columns (custom properties as a column
named after the property; ``email_domain`` and ``full_name`` are derived from ``email`` and
``first_name``/``last_name``); events with ``lead_id``, ``kind`` and ``occurred_at`` (a timestamp
with time zone, or UTC); accounts with ``id`` and the account fields (``domain`` stored
normalised, as :class:`~leadflow.model.Account` does: lower case, no scheme, no ``www.``).

The as-of instant: a :class:`~datetime.datetime` becomes a timestamp literal; a string names a
query parameter, written in the dialect's style (``$as_of`` in DuckDB, ``%(as_of)s`` for
psycopg, ``:as_of`` in Spark and Snowflake, ``@as_of`` in BigQuery); ``None`` means
``CURRENT_TIMESTAMP`` -- the usual choice in a dbt model that scores "now".

What is the same as Python and what is not, honestly: text comparisons (``equals``, ``in``) use
``LOWER(TRIM(...))`` where Python uses ``str.strip().casefold()`` -- the same for text whose
case folding does not change its length (not ``ß``) and without tabs or line breaks at the
edges (the model strips those on the way in). Regular expressions are run by the database: a
``regex`` condition must keep to the syntax all engines share (literals, classes, ``. ^ $ | *
+ ? {m,n}``, groups, a leading ``(?i)``); other patterns are refused with a
:class:`~leadflow.errors.ConfigError`. ``keywords`` become an equivalent pattern without
look-arounds; "a word character" is Unicode-aware in DuckDB, BigQuery and Spark and follows the
database's locale in PostgreSQL and Snowflake.

>>> from leadflow.rules.scorecard import Rule, Scorecard, TitleKeywords
>>> card = Scorecard(name="tiny", rules=[
...     Rule(id="vp", category="fit", points=20, when=TitleKeywords(keywords=["VP"])),
...     Rule(id="quote", category="behaviour", signal="intent", points=40,
...          activities=["quote_request"]),
... ])
>>> sql = compile_scorecard_sql(card, dialect="postgres", as_of="as_of")
>>> print(sql.splitlines()[0])
WITH ev AS (
>>> "%(as_of)s" in sql, "CURRENT_TIMESTAMP" in compile_scorecard_sql(card, dialect="snowflake")
(True, True)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

import attrs
import sqlglot
from sqlglot import exp
from sqlglot.tokens import Tokenizer

from leadflow._validate import check_aware
from leadflow.errors import ConfigError
from leadflow.rules.scorecard import (
    FREE_MAIL_DOMAINS,
    NUMERIC_FIELDS,
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
    "SQL_DIALECTS",
    "ColumnKind",
    "compile_scorecard_sql",
    "scorecard_query",
    "split_queries",
]

#: The dialects the test suite runs or parses back (any other sqlglot dialect is accepted).
SQL_DIALECTS: tuple[str, ...] = ("duckdb", "spark", "postgres", "snowflake", "bigquery")

#: What a column holds, for the comparisons a condition makes.
ColumnKind = Literal["text", "number", "boolean", "timestamp"]

_LN2 = math.log(2.0)
_NO_AGE = 1e308  # "no evidence" in a newest-age column (never NULL, so LEAST needs no care)
_TIMESTAMPS = frozenset({"created_at", "handed_off_at", "account.created_at"})
_RE2_DIALECTS = frozenset({"duckdb", "bigquery"})
_JAVA_DIALECTS = frozenset({"spark", "spark2", "databricks", "hive"})
#: Patterns every engine reads alike (RE2, Java, POSIX ARE): literals, escaped punctuation,
#: ``. ^ $ | * + ? {m,n}``, groups ``( )``/``(?: )`` and bracket classes.
_PORTABLE = re.compile(
    r"(?:\(\?:|[A-Za-z0-9 _@,/'%&=<>!~#\-:;\"]|\\[.\-+*?()\[\]{}|^$/@]|[.^$|()*+?{}\[\]])*"
)
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*){0,2}")
_SQL_TYPES = {
    "text": exp.DataType.Type.TEXT,
    "number": exp.DataType.Type.DOUBLE,
    "boolean": exp.DataType.Type.BOOLEAN,
    "timestamp": exp.DataType.Type.TIMESTAMPTZ,
}
_META = frozenset(".^$|?*+()[]{}\\")


def _quote(name: str) -> bool:
    """Quote a column name only when it must be: unquoted names follow the warehouse's own
    case rules (Snowflake folds them to upper case, as it folded the table's columns); a name
    that is not a plain identifier, or is an SQL keyword, is quoted."""
    return _PLAIN.fullmatch(name) is None or name.upper() in Tokenizer.KEYWORDS


def _col(name: str, table: str) -> exp.Column:
    return exp.Column(
        this=exp.to_identifier(name, quoted=_quote(name)), table=exp.to_identifier(table)
    )


def _double(value: float) -> exp.Expr:
    """A float literal typed as a double in every dialect (never a decimal)."""
    if value < 0:
        return exp.Neg(this=_double(-value))
    return exp.cast(exp.Literal.number(repr(float(value))), exp.DataType.Type.DOUBLE)


def _string(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _and(parts: list[exp.Expr]) -> exp.Expr:
    if not parts:
        return exp.true()
    return exp.and_(*[exp.paren(p, copy=False) for p in parts], copy=False)


def _or(parts: list[exp.Expr]) -> exp.Expr:
    if not parts:
        return exp.false()
    return exp.or_(*[exp.paren(p, copy=False) for p in parts], copy=False)


def _in(value: exp.Expr, options: list[exp.Expr]) -> exp.Expr:
    if not options:
        return exp.false()
    if len(options) == 1:
        return exp.EQ(this=value, expression=options[0])
    return exp.In(this=value, expressions=options)


@attrs.frozen(kw_only=True)
class _Counter:
    """One distinct :class:`ActivityCount` (kinds, window): columns ``c<i>`` and ``a<i>``."""

    index: int
    kinds: tuple[str, ...]
    window: float | None


class _Builder:
    """Builds the query for one card and dialect."""

    def __init__(
        self,
        card: Scorecard,
        dialect: str,
        as_of: exp.Expr,
        kinds: Mapping[str, ColumnKind],
    ) -> None:
        self.card = card
        self.dialect = dialect
        self.as_of = as_of
        self.kinds = kinds
        self.counters: list[_Counter] = []
        self.reads_accounts = False
        self.has_accounts = True

    # -- fields -----------------------------------------------------------------------------------

    def kind_of(self, field: str) -> ColumnKind:
        if field in self.kinds:
            return self.kinds[field]
        if field in NUMERIC_FIELDS:
            return "number"
        if field in _TIMESTAMPS:
            return "timestamp"
        return "text"

    def column(self, field: str) -> exp.Expr:
        if field.startswith("account."):
            if not self.has_accounts:  # no accounts table: every account field is missing
                kind = self.kind_of(field)
                return exp.cast(exp.null(), _SQL_TYPES[kind])
            self.reads_accounts = True
            name = field[len("account.") :]
            name = name.removeprefix("properties.")
            return _col(name, "a")
        if field.startswith("properties."):
            return _col(field[len("properties.") :], "l")
        if field == "email_domain":
            email = _col("email", "l")
            after = exp.Substring(
                this=email.copy(),
                start=exp.Add(
                    this=exp.StrPosition(this=email.copy(), substr=_string("@")),
                    expression=exp.Literal.number(1),
                ),
            )
            return exp.Case(ifs=[exp.If(this=self._blank(email), true=exp.null())], default=after)
        if field == "full_name":
            first = _col("first_name", "l")
            last = _col("last_name", "l")
            both = exp.DPipe(
                this=exp.DPipe(this=first.copy(), expression=_string(" ")),
                expression=last.copy(),
            )
            return exp.Case(
                ifs=[
                    exp.If(
                        this=_and([exp.not_(self._blank(first)), exp.not_(self._blank(last))]),
                        true=both,
                    ),
                    exp.If(this=exp.not_(self._blank(first)), true=first.copy()),
                    exp.If(this=exp.not_(self._blank(last)), true=last.copy()),
                ],
                default=exp.null(),
            )
        return _col(field, "l")

    @staticmethod
    def _blank(value: exp.Expr) -> exp.Expr:
        return _or([exp.Is(this=value.copy(), expression=exp.null()), exp.EQ(
            this=value.copy(), expression=_string("")
        )])  # fmt: skip

    # -- conditions -------------------------------------------------------------------------------

    def test(self, condition: Condition, where: str) -> exp.Expr:
        """A boolean expression (never NULL) for a condition without activity conditions."""
        if isinstance(condition, AllOf):
            return _and([self.test(c, where) for c in condition.conditions])
        if isinstance(condition, AnyOf):
            return _or([self.test(c, where) for c in condition.conditions])
        if isinstance(condition, Not):
            return exp.not_(exp.paren(self.test(condition.condition, where)))
        if isinstance(condition, FreeMailDomain):
            domains = FREE_MAIL_DOMAINS if condition.domains is None else condition.domains
            domain = self.column("email_domain")
            return _and(
                [
                    exp.not_(exp.Is(this=domain.copy(), expression=exp.null())),
                    _in(domain, [_string(d) for d in sorted(set(domains))]),
                ]
            )
        if isinstance(condition, Missing | Present):
            column = self.column(condition.field)
            null = exp.Is(this=column, expression=exp.null())
            return null if isinstance(condition, Missing) else exp.not_(null)
        if isinstance(condition, ActivityCount):  # pragma: no cover - routed to evidence()
            raise TypeError(condition)
        column = self.column(condition.field)
        present = exp.not_(exp.Is(this=column.copy(), expression=exp.null()))
        kind = self.kind_of(condition.field)
        if isinstance(condition, Equals | OneOf):
            values = (condition.value,) if isinstance(condition, Equals) else condition.values
            return _and([present, self._equals(column, kind, values)])
        if isinstance(condition, Range):
            if kind != "number":
                return exp.false()
            value = exp.cast(column, exp.DataType.Type.DOUBLE)
            parts: list[exp.Expr] = [present]
            if condition.min is not None:
                parts.append(exp.GTE(this=value.copy(), expression=_double(condition.min)))
            if condition.max is not None:
                parts.append(exp.LTE(this=value.copy(), expression=_double(condition.max)))
            return _and(parts)
        if isinstance(condition, Regex | TitleKeywords):
            if kind == "timestamp":
                raise ConfigError(
                    where, f"a pattern on the timestamp field {condition.field!r} has no SQL form"
                )
            text = column if kind == "text" else exp.cast(column, exp.DataType.Type.TEXT)
            if isinstance(condition, Regex):
                pattern, insensitive = _portable(condition.pattern, where)
            else:
                pattern, insensitive = self._keywords(condition), True
            return _and([present, self._search(text, pattern, insensitive)])
        raise TypeError(f"not a condition: {condition!r}")  # pragma: no cover

    def _equals(
        self, column: exp.Expr, kind: ColumnKind, values: tuple[str | int | float | bool, ...]
    ) -> exp.Expr:
        """Python's comparison (strings stripped and case-folded, numbers as floats, booleans
        only equal to booleans) for a column that holds one kind of value."""
        if kind == "text":
            # SQL has LOWER, not casefold: list both forms of each value, so a lead whose
            # lower-case text is either one matches ("straße" and "STRASSE" for "Straße"). No
            # text matches that Python would refuse (casefold(lower(x)) == casefold(x)).
            texts = sorted(
                {
                    f(v.strip())
                    for v in values
                    if isinstance(v, str)
                    for f in (str.casefold, str.lower)
                }
            )
            folded = exp.Lower(this=exp.Trim(this=column))
            return _in(folded, [_string(t) for t in texts])
        if kind == "number":
            numbers = sorted(
                {float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)}
            )
            value = exp.cast(column, exp.DataType.Type.DOUBLE)
            return _in(value, [_double(n) for n in numbers])
        if kind == "boolean":
            flags = sorted({v for v in values if isinstance(v, bool)})
            return _in(column, [exp.Boolean(this=f) for f in flags])
        return exp.false()

    def _keywords(self, condition: TitleKeywords) -> str:
        """``(?<!\\w)(?:k1|k2)(?!\\w)`` without look-arounds: a non-word character or an end
        on each side (the same yes/no answer for a search)."""
        if self.dialect in _RE2_DIALECTS:
            word = r"\pL\pN_"
        elif self.dialect in _JAVA_DIALECTS:
            word = r"\p{L}\p{N}_"
        else:
            word = "[:alnum:]_"
        words = "|".join(
            "".join("\\" + ch if ch in _META else ch for ch in k.strip())
            for k in condition.keywords
        )
        return f"(^|[^{word}])({words})([^{word}]|$)"

    def _search(self, text: exp.Expr, pattern: str, insensitive: bool) -> exp.Expr:
        """``re.search(pattern, text)`` in the dialect (a match anywhere, not the whole text)."""
        d = self.dialect
        if d == "snowflake":  # REGEXP_LIKE matches the whole string there; REGEXP_INSTR searches
            found = exp.Anonymous(
                this="REGEXP_INSTR",
                expressions=[
                    text,
                    _string(pattern),
                    exp.Literal.number(1),
                    exp.Literal.number(1),
                    exp.Literal.number(0),
                    _string("i" if insensitive else "c"),
                ],
            )
            return exp.GT(this=found, expression=exp.Literal.number(0))
        if d == "postgres":
            if insensitive:
                return exp.RegexpILike(this=text, expression=_string(pattern))
            return exp.RegexpLike(this=text, expression=_string(pattern))
        if d == "duckdb" and insensitive:
            return exp.RegexpLike(this=text, expression=_string(pattern), flag=_string("i"))
        prefix = "(?i)" if insensitive else ""
        return exp.RegexpLike(this=text, expression=_string(prefix + pattern))

    # -- activity evidence ---------------------------------------------------------------------------

    def counter(self, condition: ActivityCount) -> _Counter:
        for counter in self.counters:
            if counter.kinds == condition.kinds and counter.window == condition.within_days:
                return counter
        counter = _Counter(
            index=len(self.counters), kinds=condition.kinds, window=condition.within_days
        )
        self.counters.append(counter)
        return counter

    def evidence(self, condition: Condition, where: str) -> tuple[exp.Expr, list[exp.Expr]]:
        """(holds, the ages of the evidence that may make it hold, each NULL-free:
        :data:`_NO_AGE` when that part gave none)."""
        if not any(isinstance(c, ActivityCount) for _, c in iter_conditions(condition)):
            return self.test(condition, where), []
        if isinstance(condition, ActivityCount):
            counter = self.counter(condition)
            count = exp.Coalesce(
                this=exp.column(f"c{counter.index}", "g"), expressions=[exp.Literal.number(0)]
            )
            holds = exp.GTE(this=count, expression=exp.Literal.number(condition.at_least))
            age = exp.Coalesce(
                this=exp.column(f"a{counter.index}", "g"), expressions=[_double(_NO_AGE)]
            )
            return holds, [
                exp.Case(ifs=[exp.If(this=holds.copy(), true=age)], default=_double(_NO_AGE))
            ]
        if isinstance(condition, AllOf):
            parts = [self.evidence(c, where) for c in condition.conditions]
            return _and([h for h, _ in parts]), [a for _, ages in parts for a in ages]
        if isinstance(condition, AnyOf):
            parts = [self.evidence(c, where) for c in condition.conditions]
            ages: list[exp.Expr] = [
                exp.Case(ifs=[exp.If(this=h.copy(), true=a)], default=_double(_NO_AGE))
                for h, part_ages in parts
                for a in part_ages
            ]
            return _or([h for h, _ in parts]), ages
        if isinstance(condition, Not):
            inner, _ = self.evidence(condition.condition, where)
            return exp.not_(exp.paren(inner)), []
        raise TypeError(f"not a condition: {condition!r}")  # pragma: no cover

    # -- rules -------------------------------------------------------------------------------------

    def rule(self, index: int, rule: Rule) -> tuple[exp.Expr, exp.Expr]:
        """(whether the rule applies to a lead, the points it adds then)."""
        where = f"rules[{index}].when"
        if rule.category is Category.FIT:
            assert rule.when is not None  # checked by Rule
            holds, _ = self.evidence(rule.when, where)
            return holds, _double(_clamped(rule.points, rule.cap))
        half_life = rule.half_life_days or self.card.half_life_days
        rate = -_LN2 / half_life
        if rule.activities:
            total = exp.Coalesce(this=exp.column(f"s{index}", "g"), expressions=[_double(0.0)])
            # a SUM over no matching event is NULL: not NULL means some activity counted
            applies = exp.not_(exp.Is(this=exp.column(f"s{index}", "g"), expression=exp.null()))
            gate = [] if rule.when is None else [self.evidence(rule.when, where)[0]]
            return _and([applies, *gate]), _clamp(total, rule.cap)
        assert rule.when is not None  # checked by Rule
        holds, ages = self.evidence(rule.when, where)
        if not ages:
            return exp.false(), _double(0.0)
        newest = ages[0] if len(ages) == 1 else exp.Least(this=ages[0], expressions=ages[1:])
        found = exp.LT(this=newest.copy(), expression=_double(_NO_AGE))
        decayed = exp.Mul(
            this=_double(rule.points),
            expression=exp.Exp(this=exp.Mul(this=newest, expression=_double(rate))),
        )
        return _and([holds, found]), _clamp(decayed, rule.cap)

    # -- the query ---------------------------------------------------------------------------------

    def epoch_seconds(self, value: exp.Expr) -> exp.Expr:
        """POSIX seconds as a double, from whole microseconds (Python's ``timestamp()``)."""
        d = self.dialect
        micros: exp.Expr
        if d == "postgres":
            micros = exp.cast(
                exp.Mul(
                    this=exp.Extract(this=exp.var("EPOCH"), expression=value),
                    expression=exp.Literal.number(1_000_000),
                ),
                exp.DataType.Type.BIGINT,
            )
        elif d == "snowflake":
            micros = exp.Anonymous(
                this="DATE_PART", expressions=[exp.var("EPOCH_MICROSECOND"), value]
            )
        else:
            micros = exp.UnixMicros(this=value)
        return exp.Div(
            this=exp.cast(micros, exp.DataType.Type.DOUBLE),
            expression=_double(1_000_000.0),
        )

    def aggregate(self, events: exp.Table) -> tuple[exp.Select, exp.Select]:
        """(``ev``: the events that count with their age; one row per lead id of ``ev`` with the
        sums, counts and newest ages the rules read). Call after :meth:`score`, which finds
        the activity conditions."""
        card = self.card
        read_kinds = sorted({k for r in card.rules for k in r.kinds})
        age = exp.Div(
            this=exp.paren(
                exp.Sub(
                    this=exp.paren(self.epoch_seconds(self.as_of.copy())),
                    expression=exp.paren(self.epoch_seconds(exp.column("occurred_at", "e"))),
                )
            ),
            expression=_double(86400.0),
        )
        ev = (
            exp.select(
                exp.alias_(exp.column("lead_id", "e"), "lead_id"),
                exp.alias_(exp.column("kind", "e"), "kind"),
                exp.alias_(age, "age"),
            )
            .from_(_aliased(events, "e"))
            .where(_in(exp.column("kind", "e"), [_string(k) for k in read_kinds]))
        )
        aggregates: list[exp.Expr] = [exp.column("lead_id")]
        for index, rule in enumerate(card.rules):
            if rule.category is not Category.BEHAVIOUR or not rule.activities:
                continue
            matches = self._matches(rule.activities, rule.within_days)
            rate = -_LN2 / (rule.half_life_days or card.half_life_days)
            decayed = exp.Mul(
                this=_double(rule.points),
                expression=exp.Exp(this=exp.Mul(this=exp.column("age"), expression=_double(rate))),
            )
            aggregates.append(exp.alias_(exp.Sum(this=_only(matches, decayed)), f"s{index}"))
        for counter in self.counters:
            matches = self._matches(counter.kinds, counter.window)
            aggregates.append(
                exp.alias_(exp.Count(this=_only(matches, exp.Literal.number(1))),
                           f"c{counter.index}")
            )  # fmt: skip
            aggregates.append(
                exp.alias_(
                    exp.Coalesce(
                        this=exp.Min(this=_only(matches.copy(), exp.column("age"))),
                        expressions=[_double(_NO_AGE)],
                    ),
                    f"a{counter.index}",
                )
            )
        agg = (
            exp.select(*aggregates)
            .from_("ev")
            .where(exp.GTE(this=exp.column("age"), expression=_double(0.0)))
            .group_by(exp.column("lead_id"))
        )
        return ev, agg

    def score(
        self,
        leads: exp.Table,
        aggregate: exp.Table,
        accounts: exp.Table | None,
        *,
        explain: bool = False,
        carry: tuple[str, ...] = (),
    ) -> tuple[exp.Select, exp.Select]:
        """(``scored``: the rules' points per lead of *leads* joined to an :meth:`aggregate`, a
        table or CTE; the final SELECT over ``scored``)."""
        card = self.card
        columns: list[exp.Expr] = [exp.alias_(_col("id", "l"), "id")]
        columns += [exp.alias_(_col(c, "l"), c, quoted=_quote(c)) for c in carry]
        for i, rule in enumerate(card.rules):
            applies, points = self.rule(i, rule)
            columns.append(exp.alias_(_when(applies, points), f"r{i}"))
            if explain:
                columns.append(exp.alias_(_only(applies.copy(), points.copy()), f"x{i}"))
        scored = exp.select(*columns).from_(_aliased(leads, "l"))
        scored = scored.join(
            _aliased(aggregate, "g"),
            on=exp.EQ(this=exp.column("lead_id", "g"), expression=_col("id", "l")),
            join_type="left",
        )
        if self.reads_accounts and accounts is not None:
            scored = scored.join(
                _aliased(accounts, "a"),
                on=exp.EQ(
                    this=_col("id", "a"),
                    expression=_col("account_id", "l"),
                ),
                join_type="left",
            )

        def total(pick: list[int]) -> exp.Expr:
            if not pick:
                return _double(0.0)
            out: exp.Expr = exp.column(f"r{pick[0]}", "s")
            for i in pick[1:]:
                out = exp.Add(this=out, expression=exp.column(f"r{i}", "s"))
            return out

        rules = card.rules
        fit = [i for i, r in enumerate(rules) if r.category is Category.FIT]
        interest = [i for i, r in enumerate(rules) if r.signal is Signal.INTEREST]
        intent = [i for i, r in enumerate(rules) if r.signal is Signal.INTENT]
        behaviour = [i for i, r in enumerate(rules) if r.category is Category.BEHAVIOUR]
        t = card.thresholds
        score = total(list(range(len(rules))))
        sql_ready: list[exp.Expr] = [exp.GTE(this=score.copy(), expression=_double(t.sql_ready))]
        if t.sql_ready_requires_intent:
            sql_ready.append(
                _or([exp.GT(this=exp.column(f"r{i}", "s"), expression=_double(0.0))
                     for i in intent])
            )  # fmt: skip
        recommendation = exp.Case(
            ifs=[
                exp.If(this=_and(sql_ready), true=_string("sql_ready")),
                exp.If(
                    this=exp.GTE(this=score.copy(), expression=_double(t.mql)), true=_string("mql")
                ),
            ],
            default=_string("nurture"),
        )
        outputs: list[exp.Expr] = [exp.alias_(exp.column("id", "s"), "id")]
        outputs += [exp.alias_(_col(c, "s"), c, quoted=_quote(c)) for c in carry]
        outputs += [
            exp.alias_(score, "score"),
            exp.alias_(total(fit), "fit"),
            exp.alias_(total(behaviour), "behaviour"),
            exp.alias_(total(interest), "interest"),
            exp.alias_(total(intent), "intent"),
            exp.alias_(recommendation, "recommendation"),
        ]
        if explain:
            outputs += [
                exp.alias_(exp.column(f"x{i}", "s"), f"rule.{rule.id}", quoted=True)
                for i, rule in enumerate(rules)
            ]
        final = exp.select(*outputs).from_(_aliased(exp.to_table("scored"), "s"))
        return scored, final

    def _matches(self, kinds: tuple[str, ...], window: float | None) -> exp.Expr:
        parts = [_in(exp.column("kind"), [_string(k) for k in kinds])]
        if window is not None:
            parts.append(exp.LTE(this=exp.column("age"), expression=_double(window)))
        return _and(parts)


def _aliased(table: exp.Table, alias: str) -> exp.Table:
    """A copy of *table* with the alias *alias*."""
    out = table.copy()
    out.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return out


def _when(condition: exp.Expr, value: exp.Expr) -> exp.Expr:
    """*value* when *condition* holds, else 0.0."""
    return exp.Case(ifs=[exp.If(this=condition, true=value)], default=_double(0.0))


def _only(condition: exp.Expr, value: exp.Expr) -> exp.Expr:
    """*value* when *condition* holds, else NULL (what aggregates skip)."""
    return exp.Case(ifs=[exp.If(this=condition, true=value)])


def _clamped(points: float, cap: float | None) -> float:
    if cap is None or -cap <= points <= cap:
        return points
    return cap if points > 0 else -cap


def _clamp(value: exp.Expr, cap: float | None) -> exp.Expr:
    """``score_lead``'s cap: the value when ``-cap <= value <= cap``, else +-cap."""
    if cap is None:
        return value
    return exp.Case(
        ifs=[
            exp.If(this=exp.GT(this=value.copy(), expression=_double(cap)), true=_double(cap)),
            exp.If(this=exp.LT(this=value.copy(), expression=_double(-cap)), true=_double(-cap)),
        ],
        default=value,
    )


def _portable(pattern: str, where: str) -> tuple[str, bool]:
    """(the pattern without a leading ``(?i)``, whether it ignores case), or a ConfigError."""
    insensitive = pattern.startswith("(?i)")
    body = pattern.removeprefix("(?i)")
    if _PORTABLE.fullmatch(body) is None or "(?" in body.replace("(?:", ""):
        raise ConfigError(
            where,
            f"regex {pattern!r} uses syntax SQL engines do not share (keep to literals, "
            r"classes, . ^ $ | * + ? {m,n}, groups and a leading (?i); no \w \d \s \b or "
            "look-arounds)",
        )
    return body, insensitive


def _as_of(value: datetime | str | None) -> exp.Expr:
    if value is None:
        return exp.CurrentTimestamp()
    if isinstance(value, str):
        if value.strip().upper() in ("CURRENT_TIMESTAMP", "NOW", "NOW()"):
            return exp.CurrentTimestamp()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ConfigError("as_of", f"{value!r} is not a parameter name")
        return exp.Placeholder(this=value)
    check_aware("as_of", value)
    text = value.astimezone(UTC).isoformat(sep=" ")
    return exp.cast(_string(text), exp.DataType.build("TIMESTAMPTZ"))


def _tables(dialect: str, **names: str | None) -> dict[str, exp.Table]:
    """The named tables, checked (a dialect sqlglot knows, dotted identifiers only)."""
    try:
        sqlglot.Dialect.get_or_raise(dialect)
    except ValueError as exc:
        raise ConfigError("dialect", f"{dialect!r}: {exc}") from None
    tables = {}
    for key, table_name in names.items():
        if table_name is None:
            continue
        if not isinstance(table_name, str) or not _TABLE.fullmatch(table_name):
            raise ConfigError(
                key, f"{table_name!r} is not a table name (name, schema.name or db.schema.name)"
            )
        tables[key] = exp.to_table(table_name, dialect=dialect)
    return tables


def _kinds(card: Scorecard, column_kinds: Mapping[str, ColumnKind] | None) -> dict[str, ColumnKind]:
    kinds = dict(column_kinds or {})
    for field, kind in kinds.items():
        if kind not in ("text", "number", "boolean", "timestamp"):
            raise ConfigError(
                f"column_kinds.{field}", f"{kind!r} is not text, number, boolean or timestamp"
            )
    for rule in card.rules:  # a property that a range reads holds numbers, unless told
        if rule.when is not None:
            for _, c in iter_conditions(rule.when):
                if isinstance(c, Range) and c.field not in kinds:
                    kinds[c.field] = "number"
    return kinds


def scorecard_query(
    card: Scorecard,
    *,
    dialect: str = "duckdb",
    as_of: datetime | str | None = None,
    leads: str = "leads",
    events: str = "events",
    accounts: str | None = "accounts",
    column_kinds: Mapping[str, ColumnKind] | None = None,
    explain: bool = False,
    carry: Sequence[str] = (),
) -> exp.Select:
    """The query :func:`compile_scorecard_sql` renders, as a sqlglot expression tree (to embed
    in a larger query, or to transform further). Arguments as for
    :func:`compile_scorecard_sql`."""
    if not isinstance(card, Scorecard):
        raise ConfigError("card", f"expected a Scorecard, got {type(card).__name__}")
    tables = _tables(dialect, leads=leads, events=events, accounts=accounts)
    kinds = _kinds(card, column_kinds)
    builder = _Builder(card, dialect, _as_of(as_of), kinds)
    builder.has_accounts = accounts is not None
    scored, final = builder.score(
        tables["leads"], exp.to_table("agg"), tables.get("accounts"), explain=explain,
        carry=tuple(carry),
    )  # fmt: skip
    ev, agg = builder.aggregate(tables["events"])
    # one query: WITH ev AS (...), agg AS (...), scored AS (...) SELECT ...
    return final.with_("ev", as_=ev).with_("agg", as_=agg).with_("scored", as_=scored)


def split_queries(
    card: Scorecard,
    *,
    dialect: str = "duckdb",
    as_of: datetime | str | None = None,
    leads: str = "leads",
    events: str = "events",
    aggregate: str = "agg",
    accounts: str | None = "accounts",
    column_kinds: Mapping[str, ColumnKind] | None = None,
    explain: bool = False,
    carry: Sequence[str] = (),
) -> tuple[exp.Select, exp.Select]:
    """The query of :func:`scorecard_query` in two steps, for an engine that runs them apart:
    (the per-lead aggregate of *events*, the scores of *leads* joined to the table *aggregate*
    that holds the first query's result)."""
    if not isinstance(card, Scorecard):
        raise ConfigError("card", f"expected a Scorecard, got {type(card).__name__}")
    tables = _tables(dialect, leads=leads, events=events, accounts=accounts, aggregate=aggregate)
    builder = _Builder(card, dialect, _as_of(as_of), _kinds(card, column_kinds))
    builder.has_accounts = accounts is not None
    scored, final = builder.score(
        tables["leads"], tables["aggregate"], tables.get("accounts"), explain=explain,
        carry=tuple(carry),
    )  # fmt: skip
    ev, agg = builder.aggregate(tables["events"])
    return agg.with_("ev", as_=ev), final.with_("scored", as_=scored)


def compile_scorecard_sql(
    card: Scorecard,
    dialect: str = "duckdb",
    *,
    as_of: datetime | str | None = None,
    leads: str = "leads",
    events: str = "events",
    accounts: str | None = "accounts",
    column_kinds: Mapping[str, ColumnKind] | None = None,
    explain: bool = False,
    carry: Sequence[str] = (),
    pretty: bool = True,
) -> str:
    """One SQL query that scores every lead of *leads* with *card*, in *dialect*.

    The result has one row per lead: ``id``, ``score``, ``fit``, ``behaviour``, ``interest``,
    ``intent``, ``recommendation`` -- :func:`~leadflow.rules.scoring.score_lead`'s numbers (to
    1e-9) and recommendation. *as_of*: ``None`` (or ``"CURRENT_TIMESTAMP"``) for the database's
    ``CURRENT_TIMESTAMP``, a parameter name (``"as_of"``) for a bound parameter, or an aware
    :class:`~datetime.datetime` for a literal.
    *leads*, *events* and *accounts* name the tables (``"analytics.leads"`` works); with
    *accounts* ``None`` there is no accounts table and every ``account.*`` field is missing.
    *column_kinds* says what a custom property column holds (``{"properties.seats":
    "number"}``; a property a ``range`` reads is a number, any other text by default).
    *explain* adds a ``rule.<id>`` column per rule (its points, NULL when it did not apply);
    *carry* names leads columns to pass through after ``id`` (``["owner_id"]``).

    >>> from leadflow.rules.scorecard import Rule, Scorecard, Equals
    >>> card = Scorecard(name="us", rules=[
    ...     Rule(id="us", category="fit", points=10, when=Equals(field="country", value="US"))])
    >>> print(compile_scorecard_sql(card, "duckdb"))  # doctest: +ELLIPSIS
    WITH ev AS (
    ...
      CASE
        WHEN (
          NOT l.country IS NULL
        ) AND (
          LOWER(TRIM(l.country)) = 'us'
        )
        THEN CAST(10.0 AS DOUBLE)
        ELSE CAST(0.0 AS DOUBLE)
      END AS r0
    ...
    """
    query = scorecard_query(
        card,
        dialect=dialect,
        as_of=as_of,
        leads=leads,
        events=events,
        accounts=accounts,
        column_kinds=column_kinds,
        explain=explain,
        carry=carry,
    )
    return query.sql(dialect=dialect, pretty=pretty)
