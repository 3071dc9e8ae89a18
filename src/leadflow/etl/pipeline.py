"""Score files: leads and events in (Parquet or CSV), scores and an errors file out.

Scope: the file-to-file job behind ``leadflow score --leads ... --events ... --out ...``. It
streams both inputs by record batches, so memory does not grow with the number of events:

1. the events are reduced to one row of aggregates per lead (any order is fine);
2. the leads are scored batch by batch against those aggregates and written out.

What grows is the aggregate: one row per distinct lead with relevant events. When that is too
much for one machine, pass ``partitions=N``: both files are first split into *N* Parquet
files by a hash of the lead id (one pass each, one batch in memory at a time), then each
partition is scored alone, so memory is about 1/N. Rows that are not valid leads or events go
to the errors file (``source,row,id,field,value,reason``) and the job carries on; without an
errors file the first bad row raises.

>>> import tempfile, pathlib
>>> from datetime import datetime, timezone
>>> from leadflow.etl.synthetic import generate
>>> from leadflow.rules import load_scorecard
>>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> work = pathlib.Path(tempfile.mkdtemp())
>>> files = generate(work, leads=200, seed=1, as_of=at)
>>> summary = score_files(load_scorecard("examples/scorecard.toml"), files.leads, files.events,
...                       work / "scores.csv", as_of=at, errors=work / "errors.csv")
>>> summary.leads_read, summary.leads_scored, summary.rows_refused
(200, 200, 0)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import attrs
import pyarrow as pa

from leadflow._validate import check_aware
from leadflow.errors import ValidationError
from leadflow.etl.files import ErrorSink, TableWriter, conform, partition_by_key, read_batches
from leadflow.etl.plan import EVENT_COLUMNS, ColumnarPlan, compile_scorecard
from leadflow.etl.sla import (
    SLA_LEAD_COLUMNS,
    SLA_OUTPUT_SCHEMA,
    SLA_TOUCH_COLUMNS,
    SLAPlan,
    conform_sla_leads,
    conform_touches,
)
from leadflow.rules.scorecard import Scorecard

__all__ = ["SLASummary", "ScoreSummary", "evaluate_sla_files", "score_files"]

_PathLike = str | os.PathLike[str]


@attrs.frozen(kw_only=True)
class ScoreSummary:
    """What :func:`score_files` read, wrote and refused."""

    leads_read: int
    events_read: int
    leads_scored: int
    rows_refused: int
    output: Path
    errors: Path | None


class _Counted:
    """Wraps a batch iterator, counting rows as they pass."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self.batches = batches
        self.rows = 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in self.batches:
            self.rows += batch.num_rows
            yield batch


def score_files(
    card: Scorecard | ColumnarPlan,
    leads: _PathLike,
    events: _PathLike,
    out: _PathLike,
    *,
    as_of: datetime,
    errors: _PathLike | None = None,
    accounts: _PathLike | None = None,
    partitions: int = 1,
    batch_size: int = 262_144,
    workdir: _PathLike | None = None,
) -> ScoreSummary:
    """Score the *leads* file with its *events* file as of *as_of*; write *out*.

    File types follow the names (``.parquet``/``.pq`` or ``.csv``). *accounts* (optional, a
    file with ``id``, ``name`` and account fields) supplies ``account.*`` fields; it is read
    whole. *partitions* > 1 splits the inputs by lead id into temporary files under *workdir*
    (the system temp directory by default) first. Returns a :class:`ScoreSummary`.
    """
    check_aware("as_of", as_of)
    if partitions < 1:
        raise ValidationError("partitions", partitions, "must be at least 1")
    plan = card if isinstance(card, ColumnarPlan) else compile_scorecard(card)
    sink = ErrorSink(errors)
    leads_in = _Counted(read_batches(leads, batch_size=batch_size, columns=_lead_names(plan)))
    events_in = _Counted(
        read_batches(events, batch_size=batch_size, columns=EVENT_COLUMNS, dictionary=("kind",))
    )
    account_table = None
    if accounts is not None:
        account_table = pa.Table.from_batches(list(read_batches(accounts)))
    leads_name, events_name = Path(leads).name, Path(events).name
    try:
        with TableWriter(out) as writer:
            if partitions == 1:
                aggregate = plan.aggregate(
                    events_in, as_of=as_of, errors=_strict(sink, errors), source=events_name
                )
                for scored in plan.score_batches(
                    leads_in,
                    aggregate,
                    as_of=as_of,
                    accounts=account_table,
                    errors=_strict(sink, errors),
                    source=leads_name,
                ):
                    writer.write(scored)
            else:
                _score_partitioned(
                    plan,
                    leads_in,
                    events_in,
                    writer,
                    as_of=as_of,
                    sink=sink,
                    strict=errors is None,
                    names=(leads_name, events_name),
                    accounts=account_table,
                    partitions=partitions,
                    workdir=workdir,
                )
            written = writer.rows
            if written == 0:
                writer.write(plan.output_schema.empty_table())
    finally:
        sink.close()
    return ScoreSummary(
        leads_read=leads_in.rows,
        events_read=events_in.rows,
        leads_scored=written,
        rows_refused=sink.count,
        output=Path(out),
        errors=None if errors is None else Path(errors),
    )


def _lead_names(plan: ColumnarPlan) -> set[str]:
    names = {name for name, _ in plan.lead_columns}
    names |= {f"properties.{name}" for name, kind in plan.lead_columns if kind is None}
    return names


def _strict(sink: ErrorSink, path: _PathLike | None) -> ErrorSink | None:
    """``None`` (raise on the first bad row) when the caller gave no errors file."""
    return None if path is None else sink


def _score_partitioned(
    plan: ColumnarPlan,
    leads: _Counted,
    events: _Counted,
    writer: TableWriter,
    *,
    as_of: datetime,
    sink: ErrorSink,
    strict: bool,
    names: tuple[str, str],
    accounts: pa.Table | None,
    partitions: int,
    workdir: _PathLike | None,
) -> None:
    leads_name, events_name = names
    spec = dict(plan.lead_columns)

    def checked_leads() -> Iterator[pa.RecordBatch]:
        offset = 0
        for raw in leads:
            good = conform(
                raw, spec, required={"id", "created_at"}, source=leads_name,
                row_offset=offset, errors=sink,
            )  # fmt: skip
            offset += raw.num_rows
            _raise_if(strict, sink)
            yield good

    def checked_events() -> Iterator[pa.RecordBatch]:
        offset = 0
        for raw in events:
            good = conform(
                raw, EVENT_COLUMNS, required=set(EVENT_COLUMNS), source=events_name,
                row_offset=offset, errors=sink, id_column="lead_id",
            )  # fmt: skip
            offset += raw.num_rows
            _raise_if(strict, sink)
            yield good

    with tempfile.TemporaryDirectory(prefix="leadflow-partitions-", dir=workdir) as tmp:
        lead_parts = partition_by_key(checked_leads(), "id", partitions, tmp, "leads")
        event_parts = partition_by_key(checked_events(), "lead_id", partitions, tmp, "events")
        for lead_part, event_part in zip(lead_parts, event_parts, strict=True):
            if not lead_part.exists():
                continue
            aggregate = plan.aggregate(read_batches(event_part), as_of=as_of)
            for scored in plan.score_batches(
                read_batches(lead_part), aggregate, as_of=as_of, accounts=accounts
            ):
                writer.write(scored)


def _raise_if(strict: bool, sink: ErrorSink) -> None:
    if strict and sink.errors:
        raise sink.errors[0].to_exception()


# -- SLA ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SLASummary:
    """What :func:`evaluate_sla_files` read, wrote and refused."""

    leads_read: int
    touches_read: int
    leads_evaluated: int
    rows_written: int
    rows_refused: int
    output: Path
    errors: Path | None


def evaluate_sla_files(
    plan: SLAPlan,
    leads: _PathLike,
    touches: _PathLike,
    out: _PathLike,
    *,
    now: datetime,
    errors: _PathLike | None = None,
    batch_size: int = 262_144,
) -> SLASummary:
    """Judge the *leads* file with its *touches* file at *now*; write one row per lead x step.

    The touches are read first, checked batch by batch and kept (only the six columns
    :data:`~leadflow.etl.sla.SLA_TOUCH_COLUMNS`); the leads are then streamed by batches and
    evaluated against them, so memory grows with the touches file, not the leads file. Bad
    rows go to *errors* (``source,row,id,field,value,reason``); without it the first one
    raises :class:`~leadflow.errors.ValidationError`.

    >>> import tempfile, pathlib
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> from datetime import datetime, timezone
    >>> from leadflow.business_time import BusinessCalendar
    >>> from leadflow.etl.sla import compile_sla
    >>> from leadflow.rules.sla import load_policies
    >>> work = pathlib.Path(tempfile.mkdtemp())
    >>> pq.write_table(pa.table({"id": ["L-1", "L-2"], "owner_id": ["u-ana", "u-bob"],
    ...     "created_at": ["2026-03-02T09:00:00Z"] * 2,
    ...     "handed_off_at": ["2026-03-02T10:00:00Z", "2026-03-02T10:00:00"]}), work / "leads.pq")
    >>> pq.write_table(pa.table({"id": ["T-1"], "lead_id": ["L-1"], "kind": ["call"],
    ...     "at": ["2026-03-02T11:00:00Z"], "by": ["u-ana"]}), work / "touches.pq")
    >>> plan = compile_sla(load_policies("examples/sla.toml"), BusinessCalendar.weekdays("UTC"))
    >>> summary = evaluate_sla_files(plan, work / "leads.pq", work / "touches.pq",
    ...     work / "sla.csv", now=datetime(2026, 3, 4, tzinfo=timezone.utc),
    ...     errors=work / "errors.csv")
    >>> summary.leads_evaluated, summary.rows_written, summary.rows_refused
    (1, 2, 1)
    """
    check_aware("now", now)
    sink = ErrorSink(errors)
    strict = errors is None
    leads_name, touches_name = Path(leads).name, Path(touches).name
    touches_in = _Counted(
        read_batches(touches, batch_size=batch_size, columns=set(SLA_TOUCH_COLUMNS))
    )
    leads_in = _Counted(read_batches(leads, batch_size=batch_size, columns=set(SLA_LEAD_COLUMNS)))
    evaluated = 0
    try:
        typed: list[pa.Table] = []
        for raw in touches_in:
            offset = touches_in.rows - raw.num_rows
            batch = pa.Table.from_batches([raw])
            typed.append(conform_touches(batch, sink, source=touches_name, row_offset=offset))
            _raise_if(strict, sink)
        touch_table = (
            pa.concat_tables(typed)
            if typed
            else conform_touches(_empty(SLA_TOUCH_COLUMNS), sink, source=touches_name)
        )
        with TableWriter(out) as writer:
            for raw in leads_in:
                offset = leads_in.rows - raw.num_rows
                batch = pa.Table.from_batches([raw])
                good = conform_sla_leads(batch, sink, source=leads_name, row_offset=offset)
                _raise_if(strict, sink)
                result = plan.evaluate_typed(good, touch_table, now=now)
                evaluated += len(set(result.column("lead_id").to_pylist()))
                writer.write(result)
            written = writer.rows
            if written == 0:
                writer.write(SLA_OUTPUT_SCHEMA.empty_table())
    finally:
        sink.close()
    return SLASummary(
        leads_read=leads_in.rows,
        touches_read=touches_in.rows,
        leads_evaluated=evaluated,
        rows_written=written,
        rows_refused=sink.count,
        output=Path(out),
        errors=None if errors is None else Path(errors),
    )


def _empty(columns: dict[str, pa.DataType]) -> pa.Table:
    return pa.schema(list(columns.items())).empty_table()
