"""The score file job (``leadflow score --leads/--events``) on the polars engine.

Scope: :func:`prepare` says whether the polars engine (:mod:`leadflow.etl.engine`) can run a
job of :func:`leadflow.etl.pipeline.score_files` -- Parquet inputs whose columns it takes -- and
:meth:`PolarsJob.run` runs it with the results of the Arrow job, byte for byte: the same scores
(the engine's exact mode: the Arrow plan's exact level sums, see
:func:`leadflow.etl.plan._split_exact`), the same rows refused with the same row numbers, part
names and reasons in the same order (accounts, leads, events, then repeated lead ids), the same
repeated-id and ``dedupe="latest:<column>"`` resolution, the same summary counts.

The steps, each as the Arrow job does it:

* leads: every row through the contract (clean rows by the engine's cheap tests, the rest by
  :func:`~leadflow.etl.contract.validate`, numbered per part file); one row per id (a repeat
  refused, deferred, or the latest kept) -- applied to the scored rows, which carry the
  ``keep`` and ``dedupe`` columns;
* events: every row through the contract; a repeated event (``id`` and ``lead_id``) counted
  once, the first -- among all valid events, whatever their kind or time, before anything is
  counted (when the event ids strictly increase down the file no event can repeat and nothing
  is hashed; otherwise the keys are hashed to 64 bits and sorted, and only the rows of a hash
  seen twice are compared by key: :func:`leadflow.etl.engine._repeated_keys`); events of
  unknown kinds and of leads not in the leads file counted; the events the card counts reduced
  to the per-lead aggregate, streaming.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from leadflow.etl.contract import ACTIVITY, LEAD, ROW, ErrorSink, RowError
from leadflow.etl.engine import (
    _CARRY,
    _CLEAN_PLAIN,
    _Checked,
    _Engine,
    _file_source,
    _first_of_key,
    _metadata,
    _pl,
    _plain_text,
    _repeated_keys,
    _rising,
    _Source,
)
from leadflow.model import STANDARD_ACTIVITY_KINDS

if TYPE_CHECKING:
    from leadflow.etl.plan import ColumnarPlan

__all__ = ["PolarsJob", "prepare"]

#: Arrow types of a custom property the job can carry to the output (``keep``) or order by
#: (``dedupe``) as the Arrow job does.
_CARRIED = (
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_boolean,
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_timestamp,
    pa.types.is_date32,
)

_REPEATED_ID = (
    "duplicates an earlier row's id (the first is kept; or resolve with --dedupe latest:<column>)"
)


class PolarsJob:
    """A score file job checked and ready to run on the polars engine (see :func:`prepare`)."""

    def __init__(
        self,
        plan: ColumnarPlan,
        leads: _Checked,
        events: _Checked,
        *,
        latest: str | None,
        keep: tuple[str, ...],
        carried_types: dict[str, pa.DataType],
    ) -> None:
        self.plan = plan
        self.leads = leads
        self.events = events
        self.latest = latest
        self.keep = keep
        self.carry = tuple(dict.fromkeys([*keep, *([latest] if latest else [])]))
        self.carried_types = carried_types
        #: rows read (refused ones too), as the Arrow job counts them
        self.leads_read = _rows(leads.source)
        self.events_read = _rows(events.source)
        self.resolved = 0
        self.orphaned = 0
        self.unknown_kind = 0
        self.duplicate_events = 0

    def run(
        self, *, as_of: datetime, accounts: pa.Table | None, sink: ErrorSink, strict: bool
    ) -> tuple[pa.Table, pa.Table | None]:
        """Score the job's inputs: ``(scores, keep columns)`` -- the plan's output columns and
        the ``keep`` columns (typed as the Arrow job has them), one row per lead id, sorted by
        id. Refused rows go to *sink*; with *strict*, the first
        one raises (as the Arrow job, before the next input is read)."""
        pl = _pl()
        engine = _Engine(self.plan, as_of, exact=True)
        try:
            query = engine.leads(self.leads, self.carry)
            fixed = None
            if self.leads.tests:
                # the clean tests run once, in the scored columns' own pass: the rows that
                # fail one are read again, whole, only when there are any
                query = query.collect()
                if not query.get_column("__ok").all():
                    fixed = engine.fixed_leads(self.leads, sink, self.carry)
            _stop(strict, sink)
            aggregate, valid = self._events(engine, sink, strict)
            account_frame = None
            if accounts is not None:
                table = self.plan._conform_accounts(accounts, sink)
                account_frame = pl.from_arrow(table).unique(
                    subset=["account_id"], keep="first", maintain_order=True
                )
            found = engine.score(
                query,
                aggregate,
                account_frame,
                plain=_CLEAN_PLAIN,
                known=self.leads.source.distinct,
                carry=self.carry,
            ).filter(pl.col("__ok"))
            if fixed is not None:
                plain = _CLEAN_PLAIN if _plain_text(fixed, "email") else frozenset()
                again = engine.score(fixed, aggregate, account_frame, plain=plain, carry=self.carry)
                found = pl.concat([found, again], how="vertical_relaxed")
            self._count(valid, found.get_column("id"))
            found = self._one_row_per_id(found, sink)
        finally:
            _metadata.cache_clear()  # a file may change between runs
        names = [field.name for field in self.plan.output_schema]
        scored = found.select(names).to_arrow().cast(self.plan.output_schema)
        carried = {}
        for name in self.keep:
            values = found.get_column(f"{_CARRY}{name}").to_arrow()
            carried[name] = pa.chunked_array([values]).cast(self.carried_types[name])
        return scored, pa.table(carried) if carried else None

    # -- events ----------------------------------------------------------------------------------

    def _events(self, engine: _Engine, sink: ErrorSink, strict: bool) -> tuple[Any, Any]:
        """``(the per-lead aggregate, the valid events)`` -- each repeated event counted once
        (the valid events a lazy query, without the repeats)."""
        pl = _pl()
        check = self.events
        base = check.source.frame
        fixed = None
        if check.tests:
            numbered = base.with_row_index(ROW).filter(~check.clean)
            fixed = check.suspects(numbered, sink, "events")
        _stop(strict, sink)
        wanted = ["lead_id", "kind", "occurred_at"]
        keyed = "id" in check.columns
        if keyed:
            wanted.append("id")
        values = [v for v in check.values if v.meta.output_name() in wanted]
        scoring = None  # the events to score, when they differ from the valid ones
        clean = base.filter(check.clean) if check.tests else base
        kind = pl.col("kind").cast(pl.String)
        valid = None
        if keyed and not _rising(base, "id"):  # repeats are possible: found by key, in order
            # row numbers of the whole input, as the suspects have them
            numbered = base.with_row_index(ROW)
            if check.tests:
                numbered = numbered.filter(check.clean)
            parts = [numbered.select(*values, pl.col(ROW)).select(*wanted, ROW)]
            if fixed is not None:
                parts.append(fixed.lazy().select(*wanted, pl.col(ROW)))
            near = _repeated_keys(parts)  # the rows whose key may repeat, in row order
            dropped = None if near is None else near.filter(~_first_of_key()).get_column(ROW)
            if dropped is not None and dropped.len():
                self.duplicate_events = dropped.len()
                valid = pl.concat(parts, how="vertical_relaxed")
                # scores: the first of a repeated event among those that can count (a kind
                # the card reads, at or before the instant), as plan.score and score_lead
                counted = engine._counting(near.lazy().with_columns(kind)).collect()
                hidden = counted.sort(ROW).filter(~_first_of_key()).get_column(ROW)
                scoring = engine._counting(valid.with_columns(kind))
                if hidden.len():
                    scoring = scoring.filter(~pl.col(ROW).is_in(hidden.implode()))
                valid = valid.filter(~pl.col(ROW).is_in(dropped.implode()))
        if valid is None:  # clean rows as they are (the contract changes nothing in them but
            # the zone and unit of their instants: the fixed rows have them in microseconds UTC)
            at = next(v for v in check.values if v.meta.output_name() == "occurred_at")
            valid = clean.select(pl.col("lead_id").cast(pl.String), kind, at)
            if fixed is not None:
                more = fixed.lazy().select("lead_id", "kind", "occurred_at")
                valid = pl.concat([valid, more], how="vertical_relaxed")
        counting = (
            scoring
            if scoring is not None
            else engine._counting(valid.select("lead_id", kind.alias("kind"), "occurred_at"))
        )
        rows = counting.select("kind", "age", *(["__us"] if self.plan.counters else []), "lead_id")
        aggregate = engine._event_aggregates(rows, pack=True).collect(engine="streaming")
        if not engine.packed_fit(aggregate):  # a lead with more events than packed sums hold
            aggregate = engine._event_aggregates(rows).collect(engine="streaming")
        return aggregate, valid

    def _count(self, valid: Any, ids: Any) -> None:
        """Count the valid events of unknown kinds and those whose lead is not among *ids*
        (one more streaming pass: measured cheaper than sharing the aggregate's at 15M
        events)."""
        pl = _pl()
        known = sorted(STANDARD_ACTIVITY_KINDS | set(self.plan.kinds))
        # the file's dictionaries (a superset of its kinds) all known: no kind is unknown, and
        # the column is not read again (a quarter of this pass at 15M events)
        seen = self.events.source.distinct("kind")
        if seen is not None and set(seen) <= set(known):
            # orphans alone: a streaming anti-join (a valid event's lead id is never null)
            # measured ~0.1 s less CPU than is_in at 15M events
            lead = pl.col("lead_id").cast(pl.String)
            orphans = valid.select(lead).join(
                ids.rename("lead_id").to_frame().lazy(), on="lead_id", how="anti"
            )
            self.unknown_kind = 0
            self.orphaned = int(orphans.select(pl.len()).collect(engine="streaming").item())
            return
        found = valid.select(
            orphaned=(~pl.col("lead_id").cast(pl.String).is_in(ids.implode())).sum(),
            unknown=(~pl.col("kind").cast(pl.String).is_in(known)).sum(),
        ).collect(engine="streaming")
        self.unknown_kind = int(found.item(0, "unknown") or 0)
        self.orphaned = int(found.item(0, "orphaned") or 0)

    # -- leads -----------------------------------------------------------------------------------

    def _one_row_per_id(self, found: Any, sink: ErrorSink) -> Any:
        """One scored row per lead id, sorted by id: a repeated id refused (deferred, the
        first row kept) or, with ``latest``, the row with the greatest value kept (nulls
        oldest, ties: the first)."""
        pl = _pl()
        if _rising(self.leads.source.frame, "id"):  # no repeated id; row order is id order
            return found.sort("__i")
        if self.latest is None:
            found = found.sort("__i")
            first = found.get_column("id").is_first_distinct()
            if not first.all():
                sections = self.leads.source.sections or []
                for index, lead in found.filter(~first).select("__i", "id").iter_rows():
                    source, row = _place(sections, index)
                    sink.defer(
                        RowError(
                            source=source, row=row, id=lead, field="id", value=lead,
                            reason=_REPEATED_ID,
                        )
                    )  # fmt: skip
                found = found.filter(first)
            return found.sort("id")
        # (-0.0 and 0.0 tie in both sorts; nulls are oldest)
        found = found.sort(
            [pl.col("id"), pl.col(f"{_CARRY}{self.latest}"), pl.col("__i")],
            descending=[False, True, False],
            nulls_last=True,
        )
        first = found.get_column("id").is_first_distinct()
        self.resolved = int((~first).sum())
        return found.filter(first)


def prepare(
    plan: ColumnarPlan,
    leads: Any,
    events: Any,
    *,
    latest: str | None,
    keep: Sequence[str],
) -> PolarsJob | str:
    """A :class:`PolarsJob` for the file job's resolved inputs (``pipeline._Input``), or why
    the polars engine does not take them (the job then runs on the Arrow plan)."""
    try:
        import polars  # noqa: F401
    except ImportError:
        return "polars is not installed (pip install 'leadflow[etl]')"
    _metadata.cache_clear()
    lead_source = _file_source(leads.path, leads.rename)
    if isinstance(lead_source, str):
        return f"leads: {lead_source}"
    event_source = _file_source(events.path, events.rename)
    if isinstance(event_source, str):
        return f"events: {event_source}"
    lead_check = _Checked(lead_source, LEAD, leads.needed, required=frozenset(LEAD.required))
    if lead_check.problem:
        return f"leads {lead_check.problem}"
    keyed = "id" in event_source.frame.collect_schema().names()
    event_check = _Checked(
        event_source,
        ACTIVITY,
        events.needed,
        required=frozenset(ACTIVITY.required | ({"id"} if keyed else set())),
        identifiers=frozenset(STANDARD_ACTIVITY_KINDS | set(plan.kinds)),
    )
    if event_check.problem:
        return f"events {event_check.problem}"
    file_types = (
        _metadata(lead_source.parts[0]).schema.to_arrow_schema() if lead_source.parts else None
    )
    carried: dict[str, pa.DataType] = {}
    for name in dict.fromkeys([*keep, *([latest] if latest else [])]):
        kind = lead_check.columns.get(name)
        if kind is None and file_types is not None:  # a custom property: the file's own type
            kind = file_types.field(_file_name(leads.rename, name)).type
            if not any(test(kind) for test in _CARRIED):
                return f"leads column {name!r} of type {kind} (kept as it is by the Arrow path)"
        carried[name] = kind
    return PolarsJob(
        plan, lead_check, event_check, latest=latest, keep=tuple(keep), carried_types=carried
    )


def _file_name(renames: dict[str, str], name: str) -> str:
    return next(old for old, new in renames.items() if new == name)


def _rows(source: _Source) -> int:
    return source.sections[-1][1] if source.sections else 0


def _place(sections: list[tuple[int, int, str]], index: int) -> tuple[str, int]:
    """(part name, row in the part) of row *index* of the whole input."""
    for start, end, name in sections:
        if start <= index < end:
            return name, index - start
    raise IndexError(index)  # pragma: no cover - every row is in a part


def _stop(strict: bool, sink: ErrorSink) -> None:
    if strict and sink.errors:
        raise sink.errors[0].to_exception()
