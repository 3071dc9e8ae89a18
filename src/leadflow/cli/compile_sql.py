"""``leadflow compile-sql``: print a scorecard as one SQL query for a database or warehouse
(``leadflow[etl]``: :func:`leadflow.etl.sql.compile_scorecard_sql`, built with sqlglot).

``leadflow compile-sql --card scorecard.toml --dialect snowflake > score_leads.sql`` gives a
query ready to drop into a dbt model: it reads tables ``leads``, ``events`` (and ``accounts``
when the card reads account fields; ``--leads-table`` etc. rename them) and scores as of
``CURRENT_TIMESTAMP``, or a named parameter (``--as-of-param as_of``), or a fixed instant
(``--as-of 2026-03-02T09:00:00Z``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from leadflow.cli.base import Exit, Output, parse_now
from leadflow.errors import ConfigError, OptionalDependencyError

__all__ = ["compile_sql", "compile_sql_arguments"]

_TESTED = "duckdb, spark, postgres, snowflake, bigquery"


def compile_sql_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``leadflow compile-sql``."""
    parser.add_argument("--card", "--scorecard", dest="card", type=Path, required=True,
                        help="the scorecard TOML file")  # fmt: skip
    parser.add_argument(
        "--dialect",
        default="duckdb",
        help=f"any sqlglot dialect (tested: {_TESTED}; default: duckdb)",
    )
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--as-of", help="score as of this ISO-8601 instant (a literal)")
    when.add_argument(
        "--as-of-param",
        metavar="NAME",
        help="score as of a bound query parameter NAME (default: CURRENT_TIMESTAMP)",
    )
    parser.add_argument("--leads-table", default="leads", help="leads table (default: leads)")
    parser.add_argument("--events-table", default="events", help="events table (default: events)")
    parser.add_argument(
        "--accounts-table", default="accounts", help="accounts table (default: accounts)"
    )
    parser.add_argument("--compact", action="store_true", help="one line instead of indented SQL")


def compile_sql(args: argparse.Namespace, out: Output) -> int:
    """Print the compiled query (``--json``: a document with the dialect and the SQL)."""
    try:
        from leadflow.etl.sql import compile_scorecard_sql
    except ImportError as exc:
        raise OptionalDependencyError("leadflow compile-sql", "etl", "sqlglot") from exc
    from leadflow.rules.scorecard import load_scorecard

    if not args.card.exists():
        raise ConfigError(str(args.card), "no such file")
    card = load_scorecard(args.card)
    as_of = parse_now(args.as_of, "--as-of") if args.as_of else args.as_of_param
    sql = compile_scorecard_sql(
        card,
        args.dialect,
        as_of=as_of,
        leads=args.leads_table,
        events=args.events_table,
        accounts=args.accounts_table,
        pretty=not args.compact,
    )
    out.text(sql + ";")
    out.data({"scorecard": card.name, "dialect": args.dialect, "sql": sql})
    return Exit.OK
