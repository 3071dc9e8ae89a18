"""ETL refuses bad arguments with leadflow's ValidationError, naming the field and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadflow.errors import ValidationError

from .conftest import AS_OF

pa = pytest.importorskip("pyarrow")


def test_a_negative_lead_count_is_a_validation_error(tmp_path: Path) -> None:
    from leadflow.etl.synthetic import generate

    with pytest.raises(ValidationError, match="leads: -1 must not be negative") as info:
        generate(tmp_path, leads=-1, seed=1, as_of=AS_OF)
    assert (info.value.field, info.value.value) == ("leads", -1)


def test_a_column_spark_cannot_hold_is_a_validation_error() -> None:
    pytest.importorskip("pyspark", reason="the spark extra is not installed")
    from leadflow.etl.spark import spark_schema

    schema = pa.schema([("id", pa.string()), ("tags", pa.list_(pa.string()))])
    with pytest.raises(ValidationError, match=r"schema\.tags: 'list<item: string>' has no Spark"):
        spark_schema(schema)
