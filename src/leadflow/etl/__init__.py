"""Scoring at ETL scale: columnar plans over Arrow batches, streaming files, and Spark.

Scope: the optional ``etl`` extra (``pip install "leadflow[etl]"``, which brings pyarrow).
Importing :mod:`leadflow` never imports this package; importing this package without pyarrow
raises :class:`~leadflow.errors.OptionalDependencyError` naming the install command.

* :mod:`leadflow.etl.contract` -- the input contract every path shares: raw Arrow columns to
  rows valid by the per-record ``Lead``/``Activity``/``Touch`` rules (whatever a plan reads) and
  refused rows, column resolution with a did-you-mean, duplicate keys; engine-independent.
* :func:`compile_scorecard` / :class:`ColumnarPlan` (:mod:`leadflow.etl.plan`) -- a scorecard
  compiled once and evaluated over Parquet files, Arrow tables, DataFrames or record batches;
  ``plan.score`` runs on the polars engine (:mod:`leadflow.etl.engine`: the scorecard and the
  input contract as lazy polars queries) and keeps the Arrow plan for what polars does not take
  (iterables of batches, CSV, text-typed columns), for ``leadflow score`` and for Spark.
* :func:`score_files` (:mod:`leadflow.etl.pipeline`) -- leads and events files in, scores and an
  errors file out, in bounded memory; what ``leadflow score`` runs.
* :func:`compile_sla` / :class:`SLAPlan` (:mod:`leadflow.etl.sla`) -- SLA policies compiled
  once and evaluated over Arrow tables, one row per lead x step; :func:`evaluate_sla_files`
  runs it on files (``leadflow sla --leads ... --touches ...``).
* :func:`leadflow.etl.sql.compile_scorecard_sql` -- a scorecard as one SQL query (built with
  sqlglot) for DuckDB, Spark SQL, PostgreSQL, Snowflake, BigQuery and any other sqlglot
  dialect; imported from its module, so ``import leadflow.etl`` does not load sqlglot.
* :mod:`leadflow.etl.business_time` -- business-calendar arithmetic over arrays (SLA deadlines).
* :mod:`leadflow.etl.spark` -- the same plans inside Spark (``pip install "leadflow[spark]"``).
* :mod:`leadflow.etl.files` -- streaming readers and writers for Parquet, CSV and ``.csv.gz``
  files, directories and globs of part files, and hash partitioning of leads and events by
  lead id.
* :mod:`leadflow.etl.synthetic` -- a seeded generator of leads and events files for tests and
  benchmarks.
"""

from __future__ import annotations

from leadflow.errors import OptionalDependencyError

try:
    import pyarrow  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a venv without the extra
    raise OptionalDependencyError("leadflow.etl", "etl", "pyarrow") from exc

from leadflow.etl.contract import validate
from leadflow.etl.files import ErrorSink, RowError, TableWriter, read_batches
from leadflow.etl.pipeline import ScoreSummary, SLASummary, evaluate_sla_files, score_files
from leadflow.etl.plan import ColumnarPlan, compile_scorecard
from leadflow.etl.sla import SLAPlan, compile_sla

__all__ = [
    "ColumnarPlan",
    "ErrorSink",
    "RowError",
    "SLAPlan",
    "SLASummary",
    "ScoreSummary",
    "TableWriter",
    "compile_scorecard",
    "compile_sla",
    "evaluate_sla_files",
    "read_batches",
    "score_files",
    "validate",
]
