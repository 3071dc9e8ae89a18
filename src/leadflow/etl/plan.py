"""Columnar scoring: a scorecard compiled once into a plan that scores Arrow batches.

Scope: :func:`compile_scorecard` turns a :class:`~leadflow.rules.scorecard.Scorecard` into a
:class:`ColumnarPlan` -- plain frozen data that pickles cleanly (so Spark can ship it to its
workers) and does no I/O. The plan evaluates

* fit rules as vector predicates over a batch of leads (string predicates run once per distinct
  value, with the very functions the per-record path uses, so they agree exactly);
* behaviour rules as grouped, decayed sums over the events, joined to the leads by lead id;
* recommendations as vector thresholds;

and returns the same numbers as :func:`leadflow.rules.scoring.score_lead` (to floating-point
rounding) with the same recommendations. Behaviour sums are exact and independent of the order
and grouping of the events (each is kept as a few exactly summed levels, see
``_split_exact``), so a score is the same to the bit whether the events came in one batch, in
many, in partitions or through Spark.

Events are reduced to one row of aggregates per lead (:meth:`ColumnarPlan.aggregate`), batch by
batch, in memory proportional to the number of distinct leads with relevant events -- not to the
number of events -- and in any order. Leads are then scored batch by batch
(:meth:`ColumnarPlan.score_batches`). For more leads than fit in memory, split leads and events
by the same hash of the lead id (:func:`leadflow.etl.files.partition_by_key`, or Spark's
``groupBy``) and score each partition alone.

>>> from datetime import datetime, timezone
>>> import pyarrow as pa
>>> from leadflow.rules.scorecard import Rule, Scorecard, TitleKeywords
>>> card = Scorecard(name="tiny", rules=[
...     Rule(id="vp", category="fit", points=20, when=TitleKeywords(keywords=["VP"])),
...     Rule(id="quote", category="behaviour", signal="intent", points=40,
...          activities=["quote_request"]),
... ])
>>> at = datetime(2026, 3, 31, tzinfo=timezone.utc)
>>> leads = pa.table({"id": ["L-1", "L-2"], "title": ["VP Sales", "Intern"],
...                   "created_at": pa.array([at, at], pa.timestamp("us", tz="UTC"))})
>>> events = pa.table({"id": ["A-1"], "lead_id": ["L-1"], "kind": ["quote_request"],
...                    "occurred_at": pa.array([datetime(2026, 3, 1, tzinfo=timezone.utc)],
...                                            pa.timestamp("us", tz="UTC"))})
>>> scores = compile_scorecard(card).score(leads, events, as_of=at)
>>> scores.select(["id", "score", "recommendation"]).to_pylist()
[{'id': 'L-1', 'score': 40.0, 'recommendation': 'nurture'}, {'id': 'L-2', 'score': 0.0, 'recommendation': 'nurture'}]
"""

from __future__ import annotations

import math
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadflow._validate import check_aware
from leadflow.errors import ConfigError
from leadflow.etl.contract import LEAD, ErrorSink, KeyFilter, conform, validate
from leadflow.rules.matching import comparable
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
    Scorecard,
    Signal,
    TitleKeywords,
    iter_conditions,
)

__all__ = ["EVENT_COLUMNS", "ColumnarPlan", "compile_scorecard"]

_TS = pa.timestamp("us", tz="UTC")
_DAY = 86400.0
_LN2 = math.log(2.0)
#: "No activity" in a newest-time column while aggregating (stored as null in results).
_NO_TIME = np.iinfo(np.int64).min
#: Leads batches smaller than twice this are evaluated on one thread.
_MIN_SLICE = 65_536
#: Partial aggregates are merged once they hold this many rows, bounding memory.
_COMPACT_ROWS = 250_000

#: Columns of an events (activities) table that scoring reads, with their types; all are
#: required. (An event's own id is not needed for a score, so it is not read.)
EVENT_COLUMNS: dict[str, pa.DataType] = {
    "lead_id": pa.string(),
    "kind": pa.string(),
    "occurred_at": _TS,
}

_LEAD_TYPES: dict[str, pa.DataType] = {
    "annual_revenue": pa.float64(),
    "employees": pa.int64(),
    "created_at": _TS,
    "handed_off_at": _TS,
}
_ACCOUNT_TYPES: dict[str, pa.DataType] = {
    "annual_revenue": pa.float64(),
    "employees": pa.int64(),
    "created_at": _TS,
}


@attrs.frozen(kw_only=True)
class _PerActivity:
    """A behaviour rule with ``activities``: a decayed sum over its kinds (column ``s<i>``)."""

    index: int
    kinds: tuple[str, ...]
    points: float
    rate: float
    window: float | None


@attrs.frozen(kw_only=True)
class _Counter:
    """One distinct :class:`ActivityCount`: a count and the newest time (``c<i>``/``t<i>``)."""

    index: int
    kinds: tuple[str, ...]
    window: float | None


@attrs.frozen(kw_only=True)
class ColumnarPlan:
    """A scorecard compiled for columnar evaluation; build it with :func:`compile_scorecard`.

    ``lead_columns`` maps each leads column the plan reads to its Arrow type (``None`` for a
    custom property, read as it is); ``explain`` adds one ``rule_<id>`` column per rule holding
    its contribution (null when it did not apply).
    """

    card: Scorecard
    explain: bool = False
    lead_columns: tuple[tuple[str, Any], ...]
    account_columns: tuple[tuple[str, Any], ...]
    per_activity: tuple[_PerActivity, ...]
    counters: tuple[_Counter, ...]
    kinds: tuple[str, ...]

    # -- events ------------------------------------------------------------------------------

    def aggregate(
        self,
        events: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
        *,
        as_of: datetime,
        errors: ErrorSink | None = None,
        source: str = "events",
        threads: int | None = None,
    ) -> pa.Table:
        """Reduce *events* to one row per lead id with the behaviour aggregates the plan needs.

        Rows that are not valid activities go to *errors* (or raise, without a sink); events
        after *as_of* and kinds the card does not read are skipped. Order does not matter.
        *threads* (default: the CPU count) batches are reduced at a time.
        """
        check_aware("as_of", as_of)
        as_of_ts = as_of.timestamp()
        sink = ErrorSink(None) if errors is None else errors
        parts: list[pa.Table] = []
        held = 0
        offset = 0
        workers = _workers(threads)
        # Batches are checked here, in order (so errors come in file order), and reduced on
        # worker threads (Arrow and numpy release the GIL) while the next batch is read; at
        # most workers + 1 batches are in flight, and partials are merged in input order.
        with ThreadPoolExecutor(workers, thread_name_prefix="leadflow-etl") as pool:
            pending: deque[Future[pa.Table]] = deque()

            def collect(limit: int) -> None:
                nonlocal parts, held
                while len(pending) > limit:
                    part = pending.popleft().result()
                    parts.append(part)
                    held += part.num_rows
                    if held > _COMPACT_ROWS and len(parts) > 1:
                        parts = [self._combine(parts)]
                        held = parts[0].num_rows

            repeats = KeyFilter("__key")
            for raw in _batches(events):
                keyed = "id" in raw.schema.names
                batch = conform(
                    raw,
                    {**EVENT_COLUMNS, "id": pa.string()} if keyed else EVENT_COLUMNS,
                    required={*EVENT_COLUMNS, "id"} if keyed else set(EVENT_COLUMNS),
                    source=source,
                    row_offset=offset,
                    errors=sink,
                    id_column="lead_id",
                )
                offset += raw.num_rows
                _raise_first(errors, sink)
                if keyed:  # an event repeated (same id, same lead) counts once: the first
                    # (only events that can count are keyed: a repeat of another changes nothing)
                    batch = batch.filter(self._counts(batch, as_of))
                    key = pc.binary_join_element_wise(
                        batch.column("lead_id").cast(pa.string()),
                        batch.column("id").cast(pa.string()),
                        "\x1f",
                    )
                    keep, dropped = repeats.keep(
                        batch.append_column("__key", key), np.arange(batch.num_rows)
                    )
                    batch = batch.drop_columns(["id"])
                    if dropped:
                        batch = batch.filter(pa.array(keep))
                pending.append(pool.submit(self._aggregate_batch, batch, as_of_ts))
                collect(workers)
            collect(0)
        return self._combine(parts)

    def _counts(self, batch: pa.RecordBatch, as_of: datetime) -> pa.Array:
        """Which events can change a score: a kind the card reads, at or before *as_of*."""
        kinds = batch.column("kind")
        if pa.types.is_dictionary(kinds.type):
            kinds = kinds.cast(pa.string())
        wanted = pc.is_in(kinds, value_set=pa.array(self.kinds, pa.string()))
        past = pc.less_equal(batch.column("occurred_at"), pa.scalar(as_of, _TS))
        return pc.fill_null(pc.and_(wanted, past), False)

    def _empty_aggregate(self) -> pa.Table:
        fields = [pa.field("lead_id", pa.string())]
        hits = self._intent_hits
        for rule in self.per_activity:
            fields += [pa.field(name, pa.float64()) for name in _level_names(rule.index)]
            if self.explain:
                fields.append(pa.field(f"__n{rule.index}", pa.int64()))
            if rule.index in hits:
                fields.append(pa.field(f"__h{rule.index}", pa.int64()))
        for counter in self.counters:
            fields += [
                pa.field(f"__c{counter.index}", pa.int64()),
                pa.field(f"__t{counter.index}", pa.int64()),
            ]
        return pa.schema(fields).empty_table()

    def _aggregate_batch(self, batch: pa.RecordBatch, as_of_ts: float) -> pa.Table:
        """Per-lead partial aggregates of one conformed events batch.

        The lead ids of the events that count are dictionary-encoded once, and the sums,
        counts and maxima are numpy ``bincount``/``maximum.at`` over the codes.
        """
        if not self.kinds or batch.num_rows == 0:
            return self._empty_aggregate()
        kinds = _dictionary(batch.column("kind"))
        kind_names = kinds.dictionary.to_pylist()
        kind_codes = kinds.indices.to_numpy(zero_copy_only=False)
        micros = batch.column("occurred_at").cast(pa.int64()).to_numpy(zero_copy_only=False)
        age = _age_days(micros, as_of_ts)
        wanted = np.array([k in self.kinds for k in kind_names] + [False], dtype=bool)
        keep = wanted[kind_codes] & (age >= 0.0)
        if not keep.any():
            return self._empty_aggregate()
        # Hash only the lead ids of the events that count (often under half of them).
        leads = _dictionary(batch.column("lead_id").filter(pa.array(keep)))
        codes = leads.indices.to_numpy(zero_copy_only=False)
        kind_codes, micros, age = kind_codes[keep], micros[keep], age[keep]
        groups = len(leads.dictionary)
        columns: dict[str, Any] = {}
        decays: dict[float, Any] = {}
        hits = self._intent_hits
        for rule in self.per_activity:
            mask = self._mask(kind_names, kind_codes, age, rule.kinds, rule.window)
            decay = decays.get(rule.rate)
            if decay is None:
                decay = decays[rule.rate] = _decay(age, rule.rate)
            terms = rule.points * decay[mask]
            for name, part in zip(
                _level_names(rule.index), _split_exact(terms, rule.points), strict=True
            ):
                columns[name] = np.bincount(codes[mask], weights=part, minlength=groups)
            if self.explain:  # only explanations tell "no activity" from "0 points"
                columns[f"__n{rule.index}"] = np.bincount(codes[mask], minlength=groups)
            if rule.index in hits:  # see _intent_hits
                hit = codes[mask][terms > 0.0]
                columns[f"__h{rule.index}"] = np.bincount(hit, minlength=groups)
        for counter in self.counters:
            mask = self._mask(kind_names, kind_codes, age, counter.kinds, counter.window)
            columns[f"__c{counter.index}"] = np.bincount(codes[mask], minlength=groups)
            newest = np.full(groups, _NO_TIME, dtype=np.int64)
            np.maximum.at(newest, codes[mask], micros[mask])
            columns[f"__t{counter.index}"] = newest
        seen = np.flatnonzero(np.bincount(codes, minlength=groups))
        return self._table(leads.dictionary.cast(pa.string()).take(pa.array(seen)), columns, seen)

    def _table(self, lead_ids: pa.Array, columns: dict[str, Any], rows: Any) -> pa.Table:
        """An aggregate table from numpy columns, keeping *rows*; no activity means null time."""
        arrays: dict[str, pa.Array] = {"lead_id": lead_ids}
        for field in list(self._empty_aggregate().schema)[1:]:
            name = field.name
            values = columns[name][rows]
            if name.startswith("__t"):
                arrays[name] = pa.array(values, type=pa.int64(), mask=values == _NO_TIME)
            else:
                arrays[name] = pa.array(values, type=field.type)
        return pa.table(arrays)

    @staticmethod
    def _mask(
        kind_names: list[str],
        kind_codes: Any,
        age: Any,
        kinds: tuple[str, ...],
        window: float | None,
    ) -> Any:
        by_code = np.array([k in kinds for k in kind_names] + [False], dtype=bool)
        mask = by_code[kind_codes]
        if window is not None:
            mask &= age <= window
        return mask

    def _combine(self, parts: list[pa.Table]) -> pa.Table:
        if not parts:
            return self._empty_aggregate()
        table = pa.concat_tables(parts)
        if len(parts) == 1:
            return table
        leads = _dictionary(table.column("lead_id").combine_chunks())
        codes = leads.indices.to_numpy(zero_copy_only=False)
        groups = len(leads.dictionary)
        columns: dict[str, Any] = {}
        for name in table.column_names[1:]:
            column = table.column(name)
            if name.startswith("__t"):
                values = pc.fill_null(column, _NO_TIME).to_numpy()
                newest = np.full(groups, _NO_TIME, dtype=np.int64)
                np.maximum.at(newest, codes, values)
                columns[name] = newest
            elif pa.types.is_floating(column.type):
                columns[name] = np.bincount(codes, weights=column.to_numpy(), minlength=groups)
            else:
                columns[name] = np.bincount(
                    codes, weights=column.to_numpy().astype(np.float64), minlength=groups
                ).astype(np.int64)
        return self._table(leads.dictionary, columns, np.arange(groups))

    # -- leads -------------------------------------------------------------------------------

    def score_batches(
        self,
        leads: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
        aggregate: pa.Table,
        *,
        as_of: datetime,
        accounts: pa.Table | None = None,
        errors: ErrorSink | None = None,
        source: str = "leads",
        threads: int | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Score *leads* batch by batch against an :meth:`aggregate` of their events.

        Yields output batches with the rows in input order (large batches are split and
        evaluated on *threads* worker threads, by default the CPU count): ``id``, ``score``,
        ``fit``, ``behaviour``, ``interest``, ``intent``, ``recommendation`` and, with
        ``explain``, one ``rule_<id>`` column per rule. Invalid rows go to *errors* (or raise
        the first one's :class:`~leadflow.errors.ValidationError` when no sink is given).
        """
        check_aware("as_of", as_of)
        sink = ErrorSink(None) if errors is None else errors
        spec = dict(self.lead_columns)
        account_table = None if accounts is None else self._conform_accounts(accounts, sink)
        offset = 0
        for raw in map(_plain_properties, _batches(leads)):
            batch = validate(
                raw, LEAD, needed=spec, source=source, row_offset=offset, errors=sink
            ).select(list(spec))
            offset += raw.num_rows
            _raise_first(errors, sink)
            yield from self._score_batch(
                batch, aggregate, account_table, as_of.timestamp(), _workers(threads)
            )

    def score(
        self,
        leads: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch] | Any,
        events: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch] | Any,
        *,
        as_of: datetime,
        accounts: pa.Table | None = None,
        errors: ErrorSink | None = None,
        threads: int | None = None,
        engine: str = "auto",
    ) -> pa.Table:
        """Score *leads* with their *events* as of *as_of*; one output row per valid lead.

        *leads* and *events* are Parquet inputs (a path: a file, a directory of parts or a
        glob), Arrow tables, record batches, iterables of batches, or pandas or polars
        DataFrames. An event whose ``id`` and ``lead_id`` repeat an earlier one counts once.

        *accounts* (optional, with an ``id`` column) supplies the ``account.*`` fields through
        the leads' ``account_id``. See :meth:`score_batches` for the output columns.

        *engine* ``"auto"`` (the default) scores whole inputs on the polars engine
        (:mod:`leadflow.etl.engine`, measured fastest) and falls back to this Arrow plan for
        what that engine does not take (iterables of batches, CSV, text-typed number or
        timestamp columns; :func:`leadflow.etl.engine.unsupported` says why); ``"arrow"``
        always runs the Arrow plan (*threads* worker threads, by default the CPU count; the
        polars engine uses polars' own thread pool); ``"polars"`` insists on polars and
        raises :class:`~leadflow.errors.ConfigError` when it cannot.
        """
        if engine not in {"auto", "arrow", "polars"}:
            raise ConfigError("engine", f"{engine!r} is not one of 'auto', 'arrow', 'polars'")
        check_aware("as_of", as_of)
        _workers(threads)  # a bad thread count is refused whichever engine runs
        if engine != "arrow":
            from leadflow.etl.engine import score_polars, unsupported

            why = unsupported(self, leads, events)
            if why is None:
                result = score_polars(
                    self, leads, events, as_of=as_of, accounts=accounts, errors=errors
                )
                if isinstance(result, pa.Table):
                    return result
                why = result
            if engine == "polars":
                raise ConfigError("engine", f"the polars engine cannot score this input: {why}")
        if isinstance(leads, str | os.PathLike):
            leads = _read_path(leads, errors)
        if isinstance(events, str | os.PathLike):
            events = _read_path(events, errors, dictionary=("kind",))
        aggregate = self.aggregate(events, as_of=as_of, errors=errors, threads=threads)
        batches = list(
            self.score_batches(
                leads, aggregate, as_of=as_of, accounts=accounts, errors=errors, threads=threads
            )
        )
        return pa.Table.from_batches(batches, schema=self.output_schema)

    @property
    def output_schema(self) -> pa.Schema:
        """The schema of :meth:`score`'s result."""
        fields = [
            pa.field("id", pa.string()),
            pa.field("score", pa.float64()),
            pa.field("fit", pa.float64()),
            pa.field("behaviour", pa.float64()),
            pa.field("interest", pa.float64()),
            pa.field("intent", pa.float64()),
            pa.field("recommendation", pa.string()),
        ]
        if self.explain:
            fields += [pa.field(f"rule_{rule.id}", pa.float64()) for rule in self.card.rules]
        return pa.schema(fields)

    def _conform_accounts(self, accounts: pa.Table, sink: ErrorSink) -> pa.Table:
        spec: dict[str, Any] = {"id": pa.string(), "name": pa.string()}
        spec.update(dict(self.account_columns))
        batches = [
            conform(b, spec, required={"id", "name"}, source="accounts", row_offset=0, errors=sink)
            for b in _batches(accounts)
        ]
        table = pa.Table.from_batches(batches) if batches else _conformed_schema(spec).empty_table()
        key = table.column("id")
        if pa.types.is_dictionary(key.type):  # the join key as text (a category dtype's codes
            # are the file's own; the leads' account_id is text)
            table = table.set_column(table.column_names.index("id"), "id", key.cast(pa.string()))
        if "domain" in spec:
            table = table.set_column(
                table.column_names.index("domain"), "domain", _lower_domain(table.column("domain"))
            )
        names = ["account_id" if n == "id" else f"account.{n}" for n in table.column_names]
        return table.rename_columns(names)

    def _score_batch(
        self,
        batch: pa.RecordBatch,
        aggregate: pa.Table,
        accounts: pa.Table | None,
        as_of_ts: float,
        workers: int,
    ) -> Iterator[pa.RecordBatch]:
        table = pa.Table.from_batches([batch])
        table = _lookup(table, "id", aggregate, "lead_id")
        if accounts is not None and "account_id" in table.column_names:
            table = _lookup(table, "account_id", accounts, "account_id")
        if workers == 1 or table.num_rows < 2 * _MIN_SLICE:
            yield self.evaluate(table, as_of_ts=as_of_ts)
            return
        size = max(_MIN_SLICE, -(-table.num_rows // workers))
        slices = [table.slice(start, size) for start in range(0, table.num_rows, size)]
        with ThreadPoolExecutor(workers, thread_name_prefix="leadflow-etl") as pool:
            yield from pool.map(lambda part: self.evaluate(part, as_of_ts=as_of_ts), slices)

    @property
    def _intent_hits(self) -> frozenset[int]:
        """Indexes of the per-activity intent rules of positive points whose aggregate also
        counts each lead's positive terms (``__h<i>``), when a recommendation needs intent.

        Such a rule shows intent (:func:`leadflow.rules.scoring.score_lead`: its sum is
        positive) whenever one of its terms is, also a term below the exact levels' finest
        step (:func:`_split_exact` drops it: a 400-day-old demo request at a 7-day
        half-life), whose sum here is 0.0."""
        if not self.card.thresholds.sql_ready_requires_intent:
            return frozenset()
        rules = self.card.rules
        return frozenset(
            spec.index
            for spec in self.per_activity
            if rules[spec.index].signal is Signal.INTENT and spec.points > 0.0
        )

    @property
    def aggregate_columns(self) -> tuple[tuple[str, pa.DataType], ...]:
        """The columns of :meth:`aggregate`'s result, ``lead_id`` first."""
        return tuple((f.name, f.type) for f in self._empty_aggregate().schema)

    def evaluate(self, table: pa.Table | pa.RecordBatch, *, as_of_ts: float) -> pa.RecordBatch:
        """Score leads already joined to their aggregates (missing aggregate columns: none).

        *table* holds conformed lead columns, the :attr:`aggregate_columns` (null where a lead
        has no events) and any ``account.*`` columns. This is the step an engine that does its
        own join (Spark) calls; *as_of_ts* is ``as_of.timestamp()``.
        """
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        n = table.num_rows
        frame = _Frame(table, n, as_of_ts)
        zero = pa.array(np.zeros(n))
        totals = {"fit": zero, "interest": zero, "intent": zero, "behaviour": zero}
        total = zero
        has_intent = pa.array(np.zeros(n, dtype=bool))
        explained: list[pa.Array] = []
        hits = self._intent_hits
        for index, rule in enumerate(self.card.rules):
            applies, points = self._rule(index, frame)
            value = pc.if_else(applies, points, 0.0)
            total = pc.add(total, value)
            if rule.category is Category.FIT:
                totals["fit"] = pc.add(totals["fit"], value)
            else:
                totals["behaviour"] = pc.add(totals["behaviour"], value)
            if rule.signal is Signal.INTEREST:
                totals["interest"] = pc.add(totals["interest"], value)
            elif rule.signal is Signal.INTENT:
                totals["intent"] = pc.add(totals["intent"], value)
                if index in hits:  # see _intent_hits
                    shown = pc.greater(frame.int_column(f"__h{index}"), 0)
                    if rule.when is not None:
                        shown = pc.and_(shown, self._evidence(rule.when, frame)[0])
                else:
                    shown = pc.and_(applies, pc.greater(points, 0.0))
                has_intent = pc.or_(has_intent, shown)
            if self.explain:
                explained.append(pc.if_else(applies, points, pa.scalar(None, pa.float64())))
        t = self.card.thresholds
        sql_ready = pc.greater_equal(total, t.sql_ready)
        if t.sql_ready_requires_intent:
            sql_ready = pc.and_(sql_ready, has_intent)
        recommendation = pc.if_else(
            sql_ready,
            "sql_ready",
            pc.if_else(pc.greater_equal(total, t.mql), "mql", "nurture"),
        )
        columns = [
            table.column("id").combine_chunks(),
            total,
            totals["fit"],
            totals["behaviour"],
            totals["interest"],
            totals["intent"],
            recommendation,
            *explained,
        ]
        return pa.record_batch(columns, schema=self.output_schema)

    def _rule(self, index: int, frame: _Frame) -> tuple[pa.Array, pa.Array]:
        """Whether rule *index* contributes for each lead, and how many points."""
        rule = self.card.rules[index]
        n = frame.rows
        if rule.category is Category.FIT:
            assert rule.when is not None
            holds, _ = self._evidence(rule.when, frame)
            return holds, pa.array(np.full(n, _clamp_scalar(rule.points, rule.cap)))
        half_life = (
            rule.half_life_days if rule.half_life_days is not None else self.card.half_life_days
        )
        rate = -_LN2 / half_life
        if rule.activities:
            spec = next(r for r in self.per_activity if r.index == index)
            first, *rest = (frame.float_column(name) for name in _level_names(spec.index))
            total = first
            for level in rest:  # the exact level sums, added in one fixed order
                total = pc.add(total, level)
            if self.explain:
                applies = pc.greater(frame.int_column(f"__n{spec.index}"), 0)
            else:  # a sum of non-zero terms: zero only when there were none (or it cancels)
                applies = pc.not_equal(total, 0.0)
            if rule.when is not None:
                gate, _ = self._evidence(rule.when, frame)
                applies = pc.and_(applies, gate)
            return applies, _clamp(total, rule.cap)
        assert rule.when is not None
        holds, newest = self._evidence(rule.when, frame)
        applies = pc.and_(holds, pc.is_finite(newest))
        safe_age = pc.if_else(applies, newest, 0.0)
        points = _clamp(pc.multiply(rule.points, pc.exp(pc.multiply(safe_age, rate))), rule.cap)
        return applies, points

    def _evidence(self, condition: Condition, frame: _Frame) -> tuple[pa.Array, pa.Array]:
        """(holds, age in days of the newest evidence activity or +inf when there is none)."""
        n = frame.rows
        if isinstance(condition, ActivityCount):
            counter = next(c for c in self.counters if _same_counter(c, condition))
            holds = pc.greater_equal(frame.int_column(f"__c{counter.index}"), condition.at_least)
            newest = frame.column(f"__t{counter.index}")
            age = pc.divide(
                pc.subtract(frame.as_of_ts, pc.divide(newest.cast(pa.float64()), 1e6)), _DAY
            )
            age = pc.if_else(holds, pc.fill_null(age, math.inf), math.inf)
            return holds, age
        if isinstance(condition, AllOf | AnyOf):
            parts = [self._evidence(c, frame) for c in condition.conditions]
            combine = pc.and_ if isinstance(condition, AllOf) else pc.or_
            holds = parts[0][0]
            for part_holds, _ in parts[1:]:
                holds = combine(holds, part_holds)
            newest = pa.array(np.full(n, math.inf))
            for part_holds, part_age in parts:
                candidate = (
                    part_age
                    if isinstance(condition, AllOf)
                    else (pc.if_else(part_holds, part_age, math.inf))
                )
                newest = pc.min_element_wise(newest, candidate)
            return holds, newest
        if isinstance(condition, Not):
            inner, _ = self._evidence(condition.condition, frame)
            return pc.invert(inner), pa.array(np.full(n, math.inf))
        return _field_test(condition, frame), pa.array(np.full(n, math.inf))


# -- compiling ----------------------------------------------------------------------------------


def compile_scorecard(card: Scorecard, *, explain: bool = False) -> ColumnarPlan:
    """Compile *card* into a :class:`ColumnarPlan` (pure: reads no file, no clock).

    With *explain*, the plan's results carry one ``rule_<id>`` column per rule.
    """
    if not isinstance(card, Scorecard):
        raise ConfigError("card", f"expected a Scorecard, got {type(card).__name__}")
    lead_fields: dict[str, Any] = {"id": pa.string(), "created_at": _TS}
    account_fields: dict[str, Any] = {}
    per_activity: list[_PerActivity] = []
    counters: list[_Counter] = []
    kinds: set[str] = set()
    for index, rule in enumerate(card.rules):
        kinds |= rule.kinds
        if rule.when is not None:
            for _, condition in iter_conditions(rule.when):
                if isinstance(condition, ActivityCount):
                    window = condition.within_days
                    if not any(_same_counter(c, condition) for c in counters):
                        counters.append(
                            _Counter(index=len(counters), kinds=condition.kinds, window=window)
                        )
                elif isinstance(condition, FreeMailDomain):
                    lead_fields["email"] = pa.string()
                elif not isinstance(condition, AllOf | AnyOf | Not):
                    _need_field(condition.field, lead_fields, account_fields)
        if rule.category is Category.BEHAVIOUR and rule.activities:
            half_life = rule.half_life_days or card.half_life_days
            per_activity.append(
                _PerActivity(
                    index=index,
                    kinds=rule.activities,
                    points=rule.points,
                    rate=-_LN2 / half_life,
                    window=rule.within_days,
                )
            )
    if account_fields:
        lead_fields["account_id"] = pa.string()
    return ColumnarPlan(
        card=card,
        explain=explain,
        lead_columns=tuple(lead_fields.items()),
        account_columns=tuple(account_fields.items()),
        per_activity=tuple(per_activity),
        counters=tuple(counters),
        kinds=tuple(sorted(kinds)),
    )


def _need_field(field: str, lead: dict[str, Any], account: dict[str, Any]) -> None:
    if field.startswith("account.properties."):
        account[field[len("account.properties.") :]] = None
    elif field.startswith("account."):
        name = field[len("account.") :]
        account[name] = _ACCOUNT_TYPES.get(name, pa.string())
    elif field.startswith("properties."):
        lead[field[len("properties.") :]] = None
    elif field == "email_domain":
        lead["email"] = pa.string()
    elif field == "full_name":
        lead["first_name"] = pa.string()
        lead["last_name"] = pa.string()
    else:
        lead[field] = _LEAD_TYPES.get(field, pa.string())


def _same_counter(counter: _Counter, condition: ActivityCount) -> bool:
    return counter.kinds == condition.kinds and counter.window == condition.within_days


# -- evaluating fields ---------------------------------------------------------------------------


class _Frame:
    """A joined batch: lead columns, ``account.*`` columns and the events aggregates."""

    def __init__(self, table: pa.Table, rows: int, as_of_ts: float) -> None:
        self.table = table
        self.rows = rows
        self.as_of_ts = as_of_ts

    def column(self, name: str) -> pa.Array:
        if name in self.table.column_names:
            return self.table.column(name).combine_chunks()
        return pa.nulls(self.rows, pa.int64())

    def int_column(self, name: str) -> pa.Array:
        return pc.fill_null(self.column(name).cast(pa.int64()), 0)

    def float_column(self, name: str) -> pa.Array:
        return pc.fill_null(self.column(name).cast(pa.float64()), 0.0)

    def field(self, field: str) -> pa.Array:
        """The values a condition on *field* reads, as the per-record path's getter would."""
        if field == "email_domain":
            email = self.field("email")  # checked: exactly one "@" (the model's e-mail rule)
            if pa.types.is_dictionary(email.type):  # no split kernel for a dictionary
                email = email.cast(pa.string())
            return pc.list_element(pc.split_pattern(email, "@", max_splits=1), 1)
        if field == "full_name":
            first, last = self.field("first_name"), self.field("last_name")
            both = pc.binary_join_element_wise(first, last, " ")  # null unless both are set
            return pc.coalesce(both, first, last)
        if field.startswith("account.properties."):
            return self._named(f"account.{field[len('account.properties.') :]}")
        if field.startswith("properties."):
            return self._named(field[len("properties.") :])
        return self._named(field)

    def _named(self, name: str) -> pa.Array:
        if name in self.table.column_names:
            return self.table.column(name).combine_chunks()
        return pa.nulls(self.rows, pa.string())


def _per_value(values: pa.Array, test: Callable[[Any], bool]) -> pa.Array:
    """*test* applied once per distinct non-null value, spread back over the rows (null: False)."""
    if values.null_count == len(values):
        return pa.array(np.zeros(len(values), dtype=bool))
    encoded = values.dictionary_encode()
    verdicts = pa.array([test(v) for v in encoded.dictionary.to_pylist()], type=pa.bool_())
    return pc.fill_null(verdicts.take(encoded.indices), False)


def _field_test(condition: Condition, frame: _Frame) -> pa.Array:
    n = frame.rows
    if isinstance(condition, FreeMailDomain):
        domains = FREE_MAIL_DOMAINS if condition.domains is None else frozenset(condition.domains)
        hit = pc.is_in(frame.field("email_domain"), value_set=pa.array(sorted(domains)))
        return pc.fill_null(hit, False)
    if isinstance(condition, Missing):
        return pc.is_null(frame.field(condition.field))
    if isinstance(condition, Present):
        return pc.is_valid(frame.field(condition.field))
    if not isinstance(condition, Equals | OneOf | Range | Regex | TitleKeywords):
        raise TypeError(f"not a field condition: {condition!r}")  # pragma: no cover
    values = frame.field(condition.field)
    if isinstance(condition, Equals | OneOf):
        wanted = (
            {comparable(condition.value)}
            if isinstance(condition, Equals)
            else {comparable(v) for v in condition.values}
        )
        return _per_value(values, lambda v: comparable(v) in wanted)
    if isinstance(condition, Range):
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
            return pa.array(np.zeros(n, dtype=bool))
        hit = pa.array(np.ones(n, dtype=bool))
        if condition.min is not None:
            hit = pc.and_(hit, pc.greater_equal(values, condition.min))
        if condition.max is not None:
            hit = pc.and_(hit, pc.less_equal(values, condition.max))
        return pc.fill_null(hit, False)
    if isinstance(condition, Regex) and _re2_safe(condition.pattern):
        return _regex_fast(values, condition.pattern)
    if isinstance(condition, Regex | TitleKeywords):
        search = (
            re.compile(condition.pattern).search
            if isinstance(condition, Regex)
            else condition.pattern().search
        )
        return _per_value(values, lambda v: search(v if isinstance(v, str) else str(v)) is not None)
    raise TypeError(f"not a field condition: {condition!r}")  # pragma: no cover


#: Patterns whose meaning is the same in RE2 (Arrow) and Python's ``re`` on ASCII text without
#: line breaks: literals, escaped punctuation, ``. ^ $ | * + ? {m,n}``, groups ``( )``/``(?: )``,
#: bracket classes, and a leading ``(?i)``. No ``\\w \\s \\b``, look-arounds or back-references.
_RE2_SAFE = re.compile(
    r"(?:\(\?i\))?(?:\(\?:|[A-Za-z0-9 _@,/'%&=<>!~#\-]|\\[.\-+*?()\[\]{}|^$/@]|[.^$|()*+?{}\[\]])*"
)


def _re2_safe(pattern: str) -> bool:
    return _RE2_SAFE.fullmatch(pattern) is not None and "(?" not in pattern.replace(
        "(?:", ""
    ).removeprefix("(?i)")


def _regex_fast(values: pa.Array, pattern: str) -> pa.Array:
    """``re.search(pattern, value)`` per row: RE2 for plain ASCII text, Python for the rest."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return _per_value(values, lambda v: re.search(pattern, str(v)) is not None)
    hits = pc.fill_null(pc.match_substring_regex(values, pattern), False)
    unusual = pc.fill_null(
        pc.or_(pc.invert(pc.string_is_ascii(values)), pc.match_substring(values, "\n")), False
    )
    if not pc.any(unusual).as_py():
        return hits
    search = re.compile(pattern).search
    slow = _per_value(
        pc.if_else(unusual, values, pa.scalar(None, values.type)),
        lambda v: search(v) is not None,
    )
    return pc.if_else(unusual, slow, hits)


def _clamp_scalar(value: float, cap: float | None) -> float:
    if cap is None or -cap <= value <= cap:
        return value
    return cap if value > 0 else -cap


def _clamp(values: pa.Array, cap: float | None) -> pa.Array:
    if cap is None:
        return values
    return pc.max_element_wise(pc.min_element_wise(values, cap), -cap)


# -- exact sums ----------------------------------------------------------------------------

#: Behaviour sums are split into this many levels, each a sum of terms rounded to a grid fine
#: enough for every partial sum to be exact (see :func:`_split_exact`). Two leave each term
#: exact to within half a unit in the last place of ``|points|`` (a third level was measured
#: to cost the polars file job ~7% more CPU and ~10% more memory for precision nobody reads).
_LEVELS = 2
#: Bits each level adds below the one before: levels stay exact for up to 2**26 events per
#: lead and rule.
_GAIN = 27


def _level_names(index: int) -> list[str]:
    return [f"__s{index}"] + [f"__s{index}_{k}" for k in range(1, _LEVELS)]


_FINEST = -1074  # the exponent of the smallest subnormal float64, 2**-1074


def _split_exact(
    terms: Any,
    points: float,
    *,
    round_even: Callable[[Any], Any] = np.round,
    clip: Callable[[Any, float], Any] = lambda values, bound: np.clip(values, -bound, bound),
) -> list[Any]:
    """*terms* (each at most ``|points|`` in size) split into :data:`_LEVELS` parts whose sums
    are exact in float64 whatever the order or grouping of the additions.

    Level *k* holds each term rounded to a multiple of ``2**(top - 53 - k * _GAIN)``, where
    ``2**top`` bounds the sum of 2**26 terms: every partial sum of such multiples is a float, so
    summing is exact -- by batch, by partition, in Spark, in any order -- and a lead's
    behaviour score is the same to the bit however its events were split. What is left below
    the last grid (at most ``|points| * 2**-53``, float64's own rounding of a term) is dropped.

    *terms* is a numpy array (the Arrow plan) or a polars expression (the polars engine's exact
    mode, :mod:`leadflow.etl.engine`); *round_even* rounds to a whole number, ties to even
    (``np.round``; polars' ``Expr.round``). The arithmetic is written so that both give the
    same bits: a division by a grid step is a multiplication by its exact inverse (see
    :func:`_inverse_factors`; polars turns a division by a constant into that anyway).

    Points in the top binade (``2**1023 <= |points| < 2**1024``): a term within half a first
    step of ``2**1024`` would round to ``2**26`` first steps, which overflow; *clip* (``(values,
    bound)`` to ``[-bound, bound]``) keeps it at ``2**26 - 1`` and the second level takes the
    rest (at most ``2**27`` of its steps: exact), so the largest float's term is itself.
    """
    parts: list[Any] = []
    rest = terms
    for exponent in _grid(points):
        scaled = rest
        for factor in _inverse_factors(exponent):
            scaled = scaled * factor
        step = math.ldexp(1.0, exponent)
        whole = round_even(scaled)
        if not parts and exponent + _GAIN - 1 >= 1024:  # 2**26 first steps overflow
            whole = clip(whole, math.ldexp(1.0, _GAIN - 1) - 1.0)
        part = whole * step
        parts.append(part)
        rest = rest - part
    return parts


def _grid(points: float) -> tuple[int, ...]:
    """The exponents of the steps of :func:`_split_exact`'s levels for a rule of *points*
    (rules whose points have the same binary exponent share them)."""
    top = math.frexp(abs(points))[1] + 27 if points else 0
    # Never finer than the smallest subnormal (every float is a multiple of it): a card's
    # tiny points (2.2e-313) would otherwise make a grid of 0.0 and divide by it.
    return tuple(max(top - 53 - k * _GAIN, _FINEST) for k in range(_LEVELS))


def _inverse_factors(exponent: int) -> list[float]:
    """Powers of two whose product is ``2**-exponent``, each a float: multiplying by them in
    turn is exactly a division by ``2**exponent`` (scaling by a power of two rounds at most
    once, at the end), also where ``2**-exponent`` itself is too large for a float."""
    if -exponent <= 1023:
        return [math.ldexp(1.0, -exponent)]
    half = -exponent // 2
    return [math.ldexp(1.0, half), math.ldexp(1.0, -exponent - half)]


def _age_days(micros: Any, as_of_ts: float) -> Any:
    """Ages in days of instants given as POSIX microseconds (a numpy array), as of *as_of_ts*:
    POSIX seconds as floats, then days. One home for the Arrow plan and the polars engine's
    exact mode (which runs it on numpy too: polars would divide by a constant as a
    multiplication by its inverse, not to the bit), so those two agree to the bit. The
    per-record path (:mod:`leadflow.rules.scoring`) divides the exact microsecond difference
    instead; the two differ by at most one unit in the last place of the seconds (2.4e-7 s
    today), and not at all at a window's edge of whole seconds while both instants lie between
    2004 and 2038 (their seconds, in one binade of floats, then round alike)."""
    return (as_of_ts - micros / 1e6) / _DAY


def _decay(age: Any, rate: float) -> Any:
    """``exp(age * rate)`` with numpy's ``exp`` (the bits the Arrow plan's sums are made of)."""
    return np.exp(age * rate)


# -- helpers ---------------------------------------------------------------------------------------


def _plain_properties(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``properties.<name>`` columns renamed ``<name>``, as :meth:`leadflow.Lead.from_record`."""
    names = batch.schema.names
    if not any(n.startswith("properties.") for n in names):
        return batch
    renamed = [
        n[len("properties.") :]
        if n.startswith("properties.") and n[len("properties.") :] not in names
        else n
        for n in names
    ]
    return batch.rename_columns(renamed)


def _workers(threads: int | None) -> int:
    if threads is None:
        return os.cpu_count() or 1
    if threads < 1:
        raise ConfigError("threads", f"must be at least 1, got {threads!r}")
    return threads


def _lookup(table: pa.Table, key: str, other: pa.Table, other_key: str) -> pa.Table:
    """*table* with *other*'s columns appended, matched on ``key == other_key`` (left join:
    the first match, or nulls). Keeps *table*'s row order; builds one hash of *other*'s keys.
    """
    if other.num_rows == 0:
        positions = pa.nulls(table.num_rows, pa.int32())
    else:
        positions = pc.index_in(table.column(key), value_set=other.column(other_key))
    for name in other.column_names:
        if name != other_key:
            table = table.append_column(name, other.column(name).take(positions))
    return table


def _dictionary(values: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    """*values* as a dictionary array (encoding it when it is not already)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        return values
    return pc.dictionary_encode(values)


def _batches(data: Any) -> Iterator[pa.RecordBatch]:
    """Record batches of an Arrow table or batch, a pandas or polars DataFrame (converted
    through Arrow: polars and pandas' Arrow-backed columns without a copy), or an iterable of
    batches."""
    if isinstance(data, pa.Table):
        yield from data.to_batches()
    elif isinstance(data, pa.RecordBatch):
        yield data
    elif type(data).__module__.split(".")[0] in {"pandas", "polars"} or hasattr(
        data, "__arrow_c_stream__"
    ):
        yield from _frame_table(data).to_batches()
    else:
        yield from data


def _read_path(
    path: str | os.PathLike[str], errors: ErrorSink | None, dictionary: tuple[str, ...] = ()
) -> Iterator[pa.RecordBatch]:
    """The batches of a file input, for the Arrow plan (numbered from 0 across its parts)."""
    from leadflow.etl.files import read_batches

    return read_batches(path, batch_size=1 << 20, dictionary=dictionary, errors=errors)


def _frame_table(data: Any) -> pa.Table:
    """A DataFrame as an Arrow table (pandas: without its index; NaN in a float column is
    pandas' missing value, so it arrives as a null)."""
    if type(data).__module__.split(".")[0] == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    return pa.table(data)


def _raise_first(given: ErrorSink | None, sink: ErrorSink) -> None:
    if given is None and sink.errors:
        raise sink.errors[0].to_exception()


def _conformed_schema(spec: dict[str, Any]) -> pa.Schema:
    return pa.schema([(name, kind or pa.string()) for name, kind in spec.items()])


def _lower_domain(values: pa.ChunkedArray) -> pa.Array:
    """``Account.domain``'s converter, vectorised: lower-case, no scheme, no www., no path."""
    text = pc.utf8_lower(values.combine_chunks())
    text = pc.replace_substring_regex(text, r"^https://", "")
    text = pc.replace_substring_regex(text, r"^http://", "")
    text = pc.replace_substring_regex(text, r"^www\.", "")
    return pc.replace_substring_regex(text, r"/.*$", "")
