"""Score files: leads and events in (Parquet or CSV), scores and an errors file out.

Scope: the file-to-file jobs behind ``leadflow score --leads ... --events ... --out ...`` and
``leadflow sla --leads ... --touches ... --out ...``. Every input row passes the input
contract (:mod:`leadflow.etl.contract`: the rules of the per-record ``Lead``/``Activity``
constructors, whatever the scorecard reads) before any engine sees it; refused rows go to the
errors file (``source,row,id,field,value,reason``) and the job carries on. Without an errors
file the first bad row raises.

Contract of a run:

* **columns** are matched to the contract's names exactly, else case-insensitively when only
  one column matches, or through ``columns={"title": "job_title"}``. A column the scorecard
  reads that the file lacks is a :class:`~leadflow.errors.ConfigError` naming it, with a
  did-you-mean.
* **duplicates**: a lead id seen before is refused (to the errors file, the first row kept),
  unless ``dedupe="latest:<column>"`` keeps each id's row with the greatest ``<column>``
  (ties: the first). An event (or touch) whose ``id`` and lead id repeat an earlier row's is
  counted once. Events for leads not in the leads file (*orphaned*) and events of kinds
  neither standard nor read by the card are counted in the summary.
* **reproducible**: the time is an argument; output rows are sorted by lead id, and each
  score is the same to the bit with any *partitions* and on either *engine* (behaviour sums
  are exact and order-free, see :mod:`leadflow.etl.plan`; the polars engine's exact mode
  keeps the same sums, see :mod:`leadflow.etl.engine`). The output is written to a temporary
  name and renamed when the job succeeds.
* **thresholds**: ``max_errors`` (``100`` rows, or ``"0.5%"`` of the rows read) fails the run
  with :class:`~leadflow.errors.TooManyRefusedError`, no output written (the errors file is).

Engines: Parquet inputs run on the polars engine (:mod:`leadflow.etl._polars_files`), the
rest on the Arrow plan, with the same bytes; see :func:`score_files`.

Memory: the leads (the columns the card reads) and the per-lead aggregate of the events are
held; the events stream. With ``partitions=N`` (the Arrow plan) both inputs are first split
into *N* Parquet files by a hash of the lead id (one pass each, one batch at a time), each
partition is scored alone, and the sorted partition results are merged; see docs/etl.md for
measured figures.

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

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadflow._validate import check_aware
from leadflow._version import __version__
from leadflow.errors import ConfigError, TooManyRefusedError, ValidationError
from leadflow.etl.contract import (
    ACCOUNT,
    ACTIVITY,
    LEAD,
    ROW,
    TOUCH,
    Entity,
    ErrorSink,
    KeyFilter,
    RowError,
    resolve_columns,
    validate,
)
from leadflow.etl.files import (
    TableWriter,
    input_parts,
    part_name,
    partition_by_key,
    read_batches,
    read_header,
)
from leadflow.etl.plan import ColumnarPlan, compile_scorecard
from leadflow.etl.sla import (
    SLA_LEAD_COLUMNS,
    SLA_OUTPUT_SCHEMA,
    SLA_TOUCH_COLUMNS,
    SLAPlan,
    conform_sla_leads,
    conform_touches,
)
from leadflow.model import STANDARD_ACTIVITY_KINDS
from leadflow.rules.scorecard import Category, Scorecard

__all__ = [
    "SLASummary",
    "ScoreSummary",
    "evaluate_sla_files",
    "parse_dedupe",
    "parse_max_errors",
    "score_files",
]

_PathLike = str | os.PathLike[str]
_TS = pa.timestamp("us", tz="UTC")
_KEY = "__key"
#: Which part file a validated row came from (its row number counts within that part).
_PART = "__part"
#: A validated row's place in the whole input (part files in order): "first" means lowest.
_SEQ = "__seq"
#: Helper columns of validated rows, dropped before an engine sees them.
_HELPERS = [ROW, _PART, _SEQ]


def _summary_dict(summary: ScoreSummary | SLASummary) -> dict[str, Any]:
    data = attrs.asdict(summary)
    data.update(rows_in=summary.rows_in, rows_out=summary.rows_out)
    data["output"] = str(summary.output)
    data["errors"] = None if summary.errors is None else str(summary.errors)
    return data


@attrs.frozen(kw_only=True)
class ScoreSummary:
    """What :func:`score_files` read, wrote and refused.

    ``rows_in`` counts every input row (leads and events, refused ones included);
    ``rows_out`` the scores written; ``rows_refused`` the rows in the errors file;
    ``duplicates_resolved`` the lead rows dropped by ``dedupe``; ``events_orphaned`` events
    whose lead is not in the leads file; ``events_unknown_kind`` events of a kind neither
    standard nor read by the card; ``events_duplicate`` repeated events (counted once).
    """

    leads_read: int
    events_read: int
    leads_scored: int
    rows_refused: int
    duplicates_resolved: int = 0
    events_orphaned: int = 0
    events_unknown_kind: int = 0
    events_duplicate: int = 0
    output: Path
    errors: Path | None

    @property
    def rows_in(self) -> int:
        """Input rows read (leads and events)."""
        return self.leads_read + self.events_read

    @property
    def rows_out(self) -> int:
        """Rows written."""
        return self.leads_scored

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (what ``leadflow score --json`` prints)."""
        return _summary_dict(self)


@attrs.frozen(kw_only=True)
class SLASummary:
    """What :func:`evaluate_sla_files` read, wrote and refused (see :class:`ScoreSummary`)."""

    leads_read: int
    touches_read: int
    leads_evaluated: int
    rows_written: int
    rows_refused: int
    duplicates_resolved: int = 0
    touches_orphaned: int = 0
    touches_duplicate: int = 0
    output: Path
    errors: Path | None

    @property
    def rows_in(self) -> int:
        """Input rows read (leads and touches)."""
        return self.leads_read + self.touches_read

    @property
    def rows_out(self) -> int:
        """Rows written (lead x step)."""
        return self.rows_written

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (what ``leadflow sla --json`` prints)."""
        return _summary_dict(self)


# -- options -------------------------------------------------------------------------------------


def parse_max_errors(value: str | int | None) -> tuple[int | None, float | None]:
    """``(rows, percent)`` from ``100`` or ``"0.5%"`` (``None``: no threshold).

    >>> parse_max_errors("250"), parse_max_errors("0.5%"), parse_max_errors(None)
    ((250, None), (None, 0.5), (None, None))
    """
    if value is None:
        return None, None
    text = str(value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)%|(\d+)", text)
    if match is None:
        raise ConfigError("--max-errors", f"{text!r} is not a row count (100) or a share (0.5%)")
    if match.group(1) is not None:
        percent = float(match.group(1))
        if percent > 100:
            raise ConfigError("--max-errors", f"{text!r} is more than 100%")
        return None, percent
    return int(match.group(2)), None


def parse_dedupe(value: str | None) -> str | None:
    """The column of ``"latest:<column>"`` (``None``: duplicates are refused).

    >>> parse_dedupe("latest:_loaded_at")
    '_loaded_at'
    """
    if value is None:
        return None
    kind, _, column = value.partition(":")
    if kind != "latest" or not column:
        raise ConfigError("--dedupe", f"{value!r} is not latest:<column>")
    return column


def _check_threshold(
    limit: str | int | None, refused: int, total: int, errors: _PathLike | None
) -> None:
    rows, percent = parse_max_errors(limit)
    if (rows is not None and refused > rows) or (
        percent is not None and total and 100.0 * refused / total > percent
    ):
        raise TooManyRefusedError(
            refused, total, str(limit), None if errors is None else os.fspath(errors)
        )


# -- inputs --------------------------------------------------------------------------------------


class _Input:
    """One input resolved against the contract: its renaming and its row counter."""

    def __init__(
        self,
        path: _PathLike,
        entity: Entity,
        *,
        needed: Mapping[str, Any],
        must: Iterable[str],
        columns: Mapping[str, str] | None,
        why: str,
    ) -> None:
        self.path = path
        self.entity = entity
        self.needed = dict(needed)
        header = read_header(path)
        wanted = [name for name, _ in entity.fields] + list(self.needed)
        must = set(must) | set(entity.required)
        mapping = dict(columns or {})
        # a property may be a plain column or "properties.<name>" (as Lead.from_record reads)
        for name, kind in self.needed.items():
            plain = any(h.casefold() == name.casefold() for h in header)
            if (
                kind is None
                and name not in mapping
                and f"properties.{name}" in header
                and not plain
            ):
                mapping[name] = f"properties.{name}"
        self.rename = resolve_columns(
            header, wanted, must=must, mapping=mapping, source=Path(path).name, why=why
        )
        for part in input_parts(path)[1:]:  # every part file must read the same columns
            other = resolve_columns(
                read_header(part), wanted, must=must, mapping=mapping, source=str(part), why=why
            )
            if other != self.rename:
                raise ConfigError(
                    str(part),
                    "its columns differ from the first part's "
                    f"({', '.join(sorted(other))} against {', '.join(sorted(self.rename))})",
                )
        self.rows = 0
        #: rows handed out so far: ``__seq``, the rows' order across part files
        self.seq = 0

    def batches(
        self, batch_size: int, sink: ErrorSink, strict: bool, dictionary: Sequence[str] = ()
    ) -> Iterator[pa.RecordBatch]:
        """Validated batches (with ``__row``), counting every row read, refused ones too."""
        lines = sink.lines
        parts = input_parts(self.path)
        for part in parts:
            source = part_name(self.path, part, parts)  # rows are numbered per part file
            for raw in read_batches(
                part,
                batch_size=batch_size,
                rename=self.rename,
                numbered=True,
                dictionary=dictionary,
                errors=None if strict else sink,
                source=source,
            ):
                self.rows += raw.num_rows
                good = validate(
                    raw.drop_columns([ROW]),
                    self.entity,
                    needed=self.needed,
                    source=source,
                    rows=raw.column(ROW),
                    errors=sink,
                )
                if strict and sink.errors:
                    raise sink.errors[0].to_exception()
                n = good.num_rows
                good = good.append_column(_PART, pa.array([source] * n, pa.string()))
                yield good.append_column(_SEQ, pa.array(np.arange(self.seq, self.seq + n)))
                self.seq += n
        self.rows += sink.lines - lines  # lines that did not parse are rows read too


def _name(path: _PathLike) -> str:
    return Path(path).name


def _canonical(name: str | None, entity: Entity) -> str | None:
    """*name*, or the contract field it names ignoring case (``Created_At``: ``created_at``)."""
    if name is None:
        return None
    for field, _ in entity.fields:
        if field.casefold() == name.casefold():
            return field
    return name


def _count(mask: pa.Array) -> int:
    return int(pc.sum(pc.fill_null(mask, False)).as_py() or 0)


def _validated_schema(needed: Mapping[str, Any]) -> pa.Schema:
    fields = [(name, kind or pa.string()) for name, kind in needed.items()]
    return pa.schema([*fields, (ROW, pa.int64()), (_PART, pa.string()), (_SEQ, pa.int64())])


# -- scoring -------------------------------------------------------------------------------------


def score_files(  # noqa: PLR0915 - the steps of one job, in order
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
    columns: Mapping[str, str] | None = None,
    dedupe: str | None = None,
    keep: Sequence[str] = (),
    provenance: bool = False,
    max_errors: str | int | None = None,
    engine: str = "auto",
) -> ScoreSummary:
    """Score the *leads* input with its *events* input as of *as_of*; write *out*.

    Inputs are files (``.parquet``/``.pq``, ``.csv``, ``.csv.gz``), directories of part files
    or globs. *accounts* (optional, ``id``, ``name`` and account fields) supplies
    ``account.*`` fields; it is read whole. *columns* maps contract names to file columns
    (``{"title": "job_title"}``); *dedupe* is ``"latest:<column>"`` (default: a repeated lead
    id is refused); *keep* names leads columns copied to the output as they are
    (``["tenant", "_loaded_at"]``); *provenance* adds ``as_of``, ``scorecard``,
    ``scorecard_sha256`` and ``leadflow_version`` columns; *max_errors* is a threshold (``100``
    or ``"0.5%"``). *partitions* > 1 splits the inputs by lead id into temporary files under
    *workdir* (the system temp directory by default) first. Returns a :class:`ScoreSummary`.

    *engine* ``"auto"`` (the default) runs the job on the polars engine
    (:mod:`leadflow.etl.engine` in its exact mode, measured fastest: docs/etl.md) when it
    takes the inputs -- Parquet files whose column types it reads, one partition -- and
    otherwise on the Arrow plan (CSV inputs, ``partitions`` > 1, Parquet parts whose columns
    differ, text-typed numbers or timestamps: the :mod:`leadflow.etl.engine` docstring lists
    what that engine does not take; a ``keep``/``dedupe`` column of a type it does not carry);
    ``"arrow"`` always runs the Arrow plan; ``"polars"`` insists on polars and raises
    :class:`~leadflow.errors.ConfigError` when it cannot. Both write the same bytes: the same
    scores to the bit, the same refused rows, the same summary.
    """
    check_aware("as_of", as_of)
    if engine not in {"auto", "arrow", "polars"}:
        raise ConfigError("engine", f"{engine!r} is not one of 'auto', 'arrow', 'polars'")
    if partitions < 1:
        raise ValidationError("partitions", partitions, "must be at least 1")
    plan = card if isinstance(card, ColumnarPlan) else compile_scorecard(card)
    latest = _canonical(parse_dedupe(dedupe), LEAD)
    keep = [name for name in (_canonical(k, LEAD) for k in keep) if name is not None]
    parse_max_errors(max_errors)
    strict = errors is None
    needed = dict(plan.lead_columns)
    if accounts is None:
        needed.pop("account_id", None)
    must = set(needed)
    for name in [*keep, *([latest] if latest else [])]:
        # a lead field is checked as its type (the contract checks every field it knows);
        # another column is a custom property, kept as it is
        needed.setdefault(name, LEAD.types.get(name))
        must.add(name)
    leads_in = _Input(
        leads, LEAD, needed=needed, must=must, columns=columns, why=" (read by the scorecard)"
    )
    event_needed = {"lead_id": pa.string(), "kind": pa.string(), "occurred_at": _TS}
    events_in = _Input(
        events, ACTIVITY, needed=event_needed, must=event_needed, columns=None, why=""
    )
    account_needed = {"id": pa.string(), "name": pa.string(), **dict(plan.account_columns)}
    accounts_in = (
        None
        if accounts is None
        else _Input(
            accounts, ACCOUNT, needed=account_needed, must=account_needed, columns=None,
            why=" (read by the scorecard)",
        )
    )  # fmt: skip
    fast = _polars_job(
        plan, leads_in, events_in, engine=engine, partitions=partitions, latest=latest, keep=keep
    )
    job = _ScoreJob(
        plan,
        as_of=as_of,
        latest=latest,
        keep=tuple(keep),
        provenance=provenance,
        accounts=None,
    )
    sink = ErrorSink(errors)
    target = Path(out)
    pending = target.with_name(f".partial.{target.name}")
    try:
        if accounts_in is not None:
            parts = list(accounts_in.batches(batch_size, sink, strict))
            if parts:
                job.accounts = pa.Table.from_batches(parts).drop_columns(_HELPERS)
        with _Rechunked(pending, plan) as writer:
            if fast is not None:
                scored, carried = fast.run(
                    as_of=as_of, accounts=job.accounts, sink=sink, strict=strict
                )
                leads_in.rows, events_in.rows = fast.leads_read, fast.events_read
                job.resolved, job.orphaned = fast.resolved, fast.orphaned
                job.unknown_kind, job.duplicate_events = fast.unknown_kind, fast.duplicate_events
                if scored.num_rows:
                    writer.write(job.finish(scored, carried, ordered=True))
            elif partitions == 1:
                lead_table = _table(
                    leads_in.batches(batch_size, sink, strict), _validated_schema(leads_in.needed)
                )
                result = job.run(
                    lead_table,
                    events_in.batches(batch_size, sink, strict, ("kind",)),
                    sink,
                    source=_name(leads),
                )
                if result.num_rows:
                    writer.write(result)
            else:
                _score_partitioned(
                    job, leads_in, events_in, writer, sink=sink, strict=strict,
                    partitions=partitions, batch_size=batch_size, workdir=workdir,
                )  # fmt: skip
            written = writer.rows
            if written == 0:
                writer.write(job.output_schema.empty_table())
        sink.flush()
        if strict and sink.errors:  # no errors file: a repeated id stops the job too
            raise sink.errors[0].to_exception()
        refused = sink.count
        _check_threshold(max_errors, refused, leads_in.rows + events_in.rows, errors)
        os.replace(pending, target)
    finally:
        sink.close()
        if pending.exists():
            pending.unlink()
    return ScoreSummary(
        leads_read=leads_in.rows,
        events_read=events_in.rows,
        leads_scored=written,
        rows_refused=refused,
        duplicates_resolved=job.resolved,
        events_orphaned=job.orphaned,
        events_unknown_kind=job.unknown_kind,
        events_duplicate=job.duplicate_events,
        output=target,
        errors=None if errors is None else Path(errors),
    )


class _Rechunked(TableWriter):
    """A :class:`TableWriter` that writes row groups of exactly :data:`_ROW_GROUP` rows (the
    last one shorter), so the bytes of a Parquet output do not depend on how the rows were
    computed (batches, partitions)."""

    def __init__(self, path: _PathLike, plan: ColumnarPlan) -> None:
        super().__init__(path, plain=_distinct_columns(plan))
        self._held: list[pa.Table] = []
        self._count = 0
        self.rows = 0
        #: rows handed out so far: ``__seq``, the rows' order across part files
        self.seq = 0

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        self._held.append(table)
        self._count += table.num_rows
        self.rows += table.num_rows
        if self._count >= _ROW_GROUP:
            self._drain(final=False)

    def _drain(self, *, final: bool) -> None:
        if not self._held:
            return
        table = pa.concat_tables(self._held).combine_chunks()
        cut = table.num_rows if final else table.num_rows - table.num_rows % _ROW_GROUP
        counted = self.rows
        for start in range(0, max(cut, 1 if final else 0), _ROW_GROUP):
            super().write(table.slice(start, min(_ROW_GROUP, cut - start)))
        self.rows = counted
        rest = table.slice(cut)
        self._held = [rest] if rest.num_rows else []
        self._count = rest.num_rows

    def close(self, schema: pa.Schema | None = None) -> None:
        """Write what is held, then close the file."""
        self._drain(final=True)
        super().close(schema)


#: Rows per row group of a score file.
_ROW_GROUP = 65_536


def _distinct_columns(plan: ColumnarPlan) -> frozenset[str]:
    """The score file's columns whose values are nearly all distinct: the id and every number
    a behaviour rule feeds. They are written without a Parquet dictionary: a row group of
    :data:`_ROW_GROUP` distinct values still fits the writer's dictionary page, so it would
    never fall back to plain pages -- at 1M leads the dictionaries cost 0.16-0.4 s of CPU and
    made the file a quarter larger (docs/etl.md). ``fit``, the fit rules' columns (a few sums of
    points), ``recommendation`` and the kept and provenance columns keep theirs."""
    behaviour = (rule for rule in plan.card.rules if rule.category is not Category.FIT)
    explained = {f"rule_{rule.id}" for rule in behaviour} if plan.explain else set()
    return frozenset({"id", "score", "behaviour", "interest", "intent", *explained})


def _table(batches: Iterable[pa.RecordBatch], schema: pa.Schema | None = None) -> pa.Table:
    parts = list(batches)
    if not parts:
        if schema is None:
            raise ValueError("no batches and no schema")  # pragma: no cover
        return schema.empty_table()
    return pa.Table.from_batches(parts)


def _one_row_per_id(
    table: pa.Table, latest: str | None, sink: ErrorSink, source: str
) -> tuple[pa.Table, int]:
    """``(table with one row per lead id, rows resolved away)``: a repeated id is refused to
    *sink* (deferred, the first row kept) or, with *latest*, the row with the greatest
    *latest* value is kept (nulls oldest, ties: the first)."""
    if table.num_rows == 0:
        return table, 0
    table = table.sort_by([(_SEQ, "ascending")])
    if latest is None:
        keep, dropped = KeyFilter("id").keep(table, table.column(_SEQ))
        if dropped:
            ids = table.column("id").to_pylist()
            rows = table.column(ROW).to_pylist()
            parts = table.column(_PART).to_pylist()
            for index in dropped:
                sink.defer(
                    RowError(
                        source=parts[index] or source,
                        row=rows[index],
                        id=ids[index],
                        field="id",
                        value=ids[index],
                        reason="duplicates an earlier row's id (the first is kept; "
                        "or resolve with --dedupe latest:<column>)",
                    )
                )
            table = table.filter(pa.array(keep))
        return table, 0
    # dictionary-encoded columns (pandas' category dtype) sorted by their values: Arrow's sort
    # does not take them
    keys = pa.table(
        {"id": _decoded(table.column("id")), "latest": _decoded(table.column(latest)),
         "seq": table.column(_SEQ)}
    )  # fmt: skip
    order = pc.sort_indices(
        keys,
        sort_keys=[("id", "ascending"), ("latest", "descending", "at_end"), ("seq", "ascending")],
    )
    ordered = table.take(order)
    ids = keys.column("id").take(order)
    first = np.ones(ordered.num_rows, dtype=bool)
    if ordered.num_rows > 1:
        same = pc.equal(ids.slice(1), ids.slice(0, ordered.num_rows - 1))
        first[1:] = ~pc.fill_null(same, False).to_numpy(zero_copy_only=False)
    kept = ordered.filter(pa.array(first)).sort_by([(_SEQ, "ascending")])
    return kept, int((~first).sum())


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """*column* with its dictionary, if any, decoded: its values."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


class _ScoreJob:
    """What is done to one partition's (or the whole input's) validated rows."""

    def __init__(
        self,
        plan: ColumnarPlan,
        *,
        as_of: datetime,
        latest: str | None,
        keep: tuple[str, ...],
        provenance: bool,
        accounts: pa.Table | None,
    ) -> None:
        self.plan = plan
        self.as_of = as_of
        self.latest = latest
        self.keep = keep
        self.provenance = provenance
        self.accounts = accounts
        self.resolved = 0
        self.orphaned = 0
        self.unknown_kind = 0
        self.duplicate_events = 0
        self.known_kinds = sorted(STANDARD_ACTIVITY_KINDS | set(plan.kinds))
        self.card_hash = hashlib.sha256(
            json.dumps(plan.card.to_dict(), sort_keys=True, default=str).encode()
        ).hexdigest()

    @property
    def output_schema(self) -> pa.Schema:
        fields = list(self.plan.output_schema)
        fields += [pa.field(name, pa.string()) for name in self.keep]
        if self.provenance:
            fields += [
                pa.field("as_of", _TS),
                pa.field("scorecard", pa.string()),
                pa.field("scorecard_sha256", pa.string()),
                pa.field("leadflow_version", pa.string()),
            ]
        return pa.schema(fields)

    def leads(self, table: pa.Table, sink: ErrorSink, source: str) -> pa.Table:
        """One row per lead id (see :func:`_one_row_per_id`)."""
        table, resolved = _one_row_per_id(table, self.latest, sink, source)
        self.resolved += resolved
        return table

    def events(
        self, batches: Iterable[pa.RecordBatch], lead_ids: pa.Array
    ) -> Iterator[pa.RecordBatch]:
        """Events counted (orphaned, unknown kinds, repeated) and the events to score.

        A repeated event (``lead_id`` and ``id``) is counted, and left out of the other counts,
        whatever its kind or time; for the scores, the first of the repeats among the events
        that can count (a kind the card reads, at or before the instant) is kept -- as
        ``plan.score`` and ``score_lead`` keep it, so a repeat under another kind or in the
        future does not hide it.
        """
        repeats = KeyFilter(_KEY)
        counted = KeyFilter(_KEY)  # among the events that can count, for the scores
        for given in batches:
            batch = given
            if batch.num_rows == 0:
                continue
            kinds = batch.column("kind")
            if pa.types.is_dictionary(kinds.type):
                kinds = kinds.cast(pa.string())
            unknown = pc.invert(pc.is_in(kinds, value_set=pa.array(self.known_kinds, pa.string())))
            if "id" in batch.schema.names and batch.column("id").null_count < batch.num_rows:
                key = pc.binary_join_element_wise(
                    batch.column("lead_id").cast(pa.string()),
                    batch.column("id").cast(pa.string()),
                    "\x1f",
                )
                keyed = batch.append_column(_KEY, key)
                can = self.plan._counts(batch, self.as_of)
                scoring = keyed.filter(can)
                first, _ = counted.keep(scoring, scoring.column(_SEQ))
                scoring = scoring.filter(pa.array(first))
                keep, dropped = repeats.keep(keyed, batch.column(_SEQ))
                if dropped:
                    self.duplicate_events += len(dropped)
                    batch = batch.filter(pa.array(keep))
                    unknown = unknown.filter(pa.array(keep))
            else:
                scoring = batch
            self.unknown_kind += _count(unknown)
            lead_of = batch.column("lead_id").cast(pa.string())
            self.orphaned += _count(pc.invert(pc.is_in(lead_of, value_set=lead_ids)))
            yield scoring.select(["lead_id", "kind", "occurred_at"])

    def run(
        self, lead_table: pa.Table, event_batches: Iterable[pa.RecordBatch], sink: ErrorSink,
        *, source: str | None = None,
    ) -> pa.Table:  # fmt: skip
        """Scores of one partition's leads, sorted by id."""
        leads = self.leads(lead_table, sink, source or "leads")
        ids = (
            _decoded(leads.column("id")).combine_chunks()
            if leads.num_rows
            else pa.array([], pa.string())
        )
        aggregate = self.plan.aggregate(self.events(event_batches, ids), as_of=self.as_of)
        if leads.num_rows == 0:
            return self.output_schema.empty_table()
        scored = pa.Table.from_batches(
            list(
                self.plan.score_batches(
                    leads.drop_columns(_HELPERS),
                    aggregate,
                    as_of=self.as_of,
                    accounts=self.accounts,
                )
            ),
            schema=self.plan.output_schema,
        )
        return self.finish(scored, leads)

    def finish(
        self, scored: pa.Table, leads: pa.Table | None, *, ordered: bool = False
    ) -> pa.Table:
        """*scored* (the plan's output, one row per lead) with the ``keep`` columns of *leads*
        (the same rows, in the same order) as text and the provenance columns, sorted by id
        (*ordered*: they are already)."""
        for name in self.keep:
            if leads is not None:  # None only without keep columns
                scored = scored.append_column(name, leads.column(name).cast(pa.string()))
        if self.provenance:
            n = scored.num_rows
            scored = scored.append_column("as_of", pa.array([self.as_of] * n, _TS))
            scored = scored.append_column("scorecard", pa.array([self.plan.card.name] * n))
            scored = scored.append_column("scorecard_sha256", pa.array([self.card_hash] * n))
            scored = scored.append_column("leadflow_version", pa.array([__version__] * n))
        return scored if ordered else scored.sort_by([("id", "ascending")])


def _polars_job(
    plan: ColumnarPlan,
    leads: _Input,
    events: _Input,
    *,
    engine: str,
    partitions: int,
    latest: str | None,
    keep: Sequence[str],
) -> Any:
    """The job ready to run on the polars engine (``_polars_files.PolarsJob``), or ``None``
    for the Arrow plan; *engine* ``"polars"`` raises when polars cannot run it."""
    if engine == "arrow":
        return None
    why: str
    if partitions > 1:  # partitions bound the Arrow plan's memory; polars streams the events
        why = "partitions > 1 (the Arrow plan's way to bound its memory)"
    else:
        from leadflow.etl._polars_files import prepare

        found = prepare(plan, leads, events, latest=latest, keep=keep)
        if not isinstance(found, str):
            return found
        why = found
    if engine == "polars":
        raise ConfigError("engine", f"the polars engine cannot run this job: {why}")
    return None


def _score_partitioned(
    job: _ScoreJob,
    leads: _Input,
    events: _Input,
    writer: _Rechunked,
    *,
    sink: ErrorSink,
    strict: bool,
    partitions: int,
    batch_size: int,
    workdir: _PathLike | None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="leadflow-partitions-", dir=workdir) as tmp:
        lead_parts = partition_by_key(
            leads.batches(batch_size, sink, strict), "id", partitions, tmp, "leads"
        )
        event_parts = partition_by_key(
            (
                b.select(
                    [
                        c
                        for c in ("id", "lead_id", "kind", "occurred_at", *_HELPERS)
                        if c in b.schema.names
                    ]
                )
                for b in events.batches(batch_size, sink, strict, ("kind",))
            ),
            "lead_id",
            partitions,
            tmp,
            "events",
        )
        scored: list[Path] = []
        for i, (lead_part, event_part) in enumerate(zip(lead_parts, event_parts, strict=True)):
            lead_table = (
                pq.read_table(lead_part)
                if lead_part.exists()
                else _validated_schema({"id": pa.string()}).empty_table()
            )
            event_batches: Iterable[pa.RecordBatch] = (
                pq.ParquetFile(event_part).iter_batches(batch_size) if event_part.exists() else ()
            )
            result = job.run(lead_table, event_batches, sink, source=_name(leads.path))
            path = Path(tmp) / f"scored-{i:04d}.parquet"
            pq.write_table(result, path)
            scored.append(path)
        for batch in _merge_sorted(scored, "id", batch_size):
            writer.write(batch)


def _merge_sorted(paths: list[Path], key: str, batch_size: int) -> Iterator[pa.Table]:
    """The rows of Parquet files each sorted by *key*, merged in *key* order, batch by batch.

    Keys are unique across the files (a lead id lives in one partition), so the merged order
    is the same as one sort of all rows.
    """
    readers = [pq.ParquetFile(p).iter_batches(batch_size) for p in paths]
    held: list[pa.Table | None] = [None] * len(readers)

    def refill(i: int) -> None:
        while held[i] is None or held[i].num_rows == 0:  # type: ignore[union-attr]
            batch = next(readers[i], None)
            if batch is None:
                held[i] = None
                return
            held[i] = pa.Table.from_batches([batch])

    for i in range(len(readers)):
        refill(i)
    while any(t is not None for t in held):
        live = [t for t in held if t is not None]
        # everything up to the smallest "last key" of the held batches can go out now
        frontier = min(t.column(key)[-1].as_py() for t in live)
        out: list[pa.Table] = []
        for i, table in enumerate(held):
            if table is None:
                continue
            take = int(pc.sum(pc.less_equal(table.column(key), frontier)).as_py() or 0)
            if take:
                out.append(table.slice(0, take))
                held[i] = table.slice(take)
                refill(i)
        yield pa.concat_tables(out).sort_by([(key, "ascending")])


# -- SLA -----------------------------------------------------------------------------------------


def evaluate_sla_files(  # noqa: PLR0915 - the steps of one job, in order
    plan: SLAPlan,
    leads: _PathLike,
    touches: _PathLike,
    out: _PathLike,
    *,
    now: datetime,
    errors: _PathLike | None = None,
    batch_size: int = 262_144,
    columns: Mapping[str, str] | None = None,
    dedupe: str | None = None,
    max_errors: str | int | None = None,
) -> SLASummary:
    """Judge the *leads* input with its *touches* input at *now*; write one row per lead x step.

    Rows pass the input contract first (:data:`~leadflow.etl.contract.LEAD` and
    :data:`~leadflow.etl.contract.TOUCH`), duplicates as in :func:`score_files` (a repeated
    lead id is refused unless *dedupe*; a repeated touch is counted once); touches of leads
    not in the leads input are counted as orphaned. Output rows are sorted by lead id (steps in
    policy order). Bad rows go to *errors* (``source,row,id,field,value,reason``); without it
    the first one raises :class:`~leadflow.errors.ValidationError`.

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
    latest = _canonical(parse_dedupe(dedupe), LEAD)
    parse_max_errors(max_errors)
    strict = errors is None
    lead_needed: dict[str, Any] = dict(SLA_LEAD_COLUMNS)
    if latest:
        lead_needed.setdefault(latest, None)
    leads_in = _Input(
        leads, LEAD, needed=lead_needed,
        must={"id", "created_at", "handed_off_at", *([latest] if latest else [])},
        columns=columns, why=" (read by the SLA policies)",
    )  # fmt: skip
    touches_in = _Input(
        touches, TOUCH, needed=dict(SLA_TOUCH_COLUMNS), must=TOUCH.required, columns=None, why=""
    )
    sink = ErrorSink(errors)
    target = Path(out)
    pending = target.with_name(f".partial.{target.name}")
    duplicates = orphaned = evaluated = written = 0
    try:
        lead_table = _table(
            leads_in.batches(batch_size, sink, strict), _validated_schema(lead_needed)
        )
        lead_table, resolved = _one_row_per_id(lead_table, latest, sink, _name(leads))
        lead_table = lead_table.sort_by([("id", "ascending")])
        ids = lead_table.column("id").combine_chunks()
        repeats = KeyFilter(_KEY)
        typed: list[pa.Table] = []
        for given in touches_in.batches(batch_size, sink, strict):
            batch = given
            if batch.num_rows == 0:
                continue
            key = pc.binary_join_element_wise(batch.column("lead_id"), batch.column("id"), "\x1f")
            keep, dropped = repeats.keep(batch.append_column(_KEY, key), batch.column(_SEQ))
            duplicates += len(dropped)
            if dropped:
                batch = batch.filter(pa.array(keep))
            orphaned += _count(pc.invert(pc.is_in(batch.column("lead_id"), value_set=ids)))
            typed.append(
                conform_touches(
                    pa.Table.from_batches([batch]).select(list(SLA_TOUCH_COLUMNS)),
                    sink,
                    source=_name(touches),
                )
            )
        touch_table = (
            pa.concat_tables(typed)
            if typed
            else pa.schema(list(SLA_TOUCH_COLUMNS.items())).empty_table()
        )
        with TableWriter(pending) as writer:
            sla_leads = conform_sla_leads(
                lead_table.select(list(SLA_LEAD_COLUMNS)), sink, source=_name(leads)
            )
            for start in range(0, max(sla_leads.num_rows, 1), batch_size):
                part = sla_leads.slice(start, batch_size)
                if part.num_rows == 0:
                    break
                result = plan.evaluate_typed(part, touch_table, now=now)
                evaluated += len(pc.unique(result.column("lead_id")))
                if result.num_rows:
                    writer.write(_stable_by(result, "lead_id"))
            written = writer.rows
            if written == 0:
                writer.write(SLA_OUTPUT_SCHEMA.empty_table())
        sink.flush()
        if strict and sink.errors:  # no errors file: a repeated id stops the job too
            raise sink.errors[0].to_exception()
        refused = sink.count
        _check_threshold(max_errors, refused, leads_in.rows + touches_in.rows, errors)
        os.replace(pending, target)
    finally:
        sink.close()
        if pending.exists():
            pending.unlink()
    return SLASummary(
        leads_read=leads_in.rows,
        touches_read=touches_in.rows,
        leads_evaluated=evaluated,
        rows_written=written,
        rows_refused=refused,
        duplicates_resolved=resolved,
        touches_orphaned=orphaned,
        touches_duplicate=duplicates,
        output=target,
        errors=None if errors is None else Path(errors),
    )


def _stable_by(table: pa.Table, key: str) -> pa.Table:
    order = pc.sort_indices(
        table.append_column("__i", pa.array(np.arange(table.num_rows))),
        sort_keys=[(key, "ascending"), ("__i", "ascending")],
    )
    return table.take(order)
