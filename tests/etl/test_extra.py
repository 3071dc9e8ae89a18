"""Without pyarrow, importing leadflow.etl says which extra to install; leadflow still imports."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> subprocess.CompletedProcess[str]:
    # sys.modules[name] = None makes "import name" fail, as if it were not installed.
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_missing_pyarrow_names_the_extra() -> None:
    result = run(
        "import sys; sys.modules['pyarrow'] = None\n"
        "import leadflow\n"
        "from leadflow.errors import AdapterError, OptionalDependencyError\n"
        "try:\n"
        "    import leadflow.etl\n"
        "except OptionalDependencyError as exc:\n"
        "    print(exc, isinstance(exc, AdapterError))\n"
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "leadflow[etl]"' in result.stdout
    assert "'pyarrow'" in result.stdout
    assert result.stdout.rstrip().endswith("False")  # not an adapter error: ETL is no adapter


def test_missing_pyspark_names_the_spark_extra() -> None:
    result = run(
        "import sys; sys.modules['pyspark'] = None; sys.modules['pyspark.sql'] = None\n"
        "from leadflow.errors import OptionalDependencyError\n"
        "from leadflow.etl.spark import spark_schema\n"
        "import pyarrow as pa\n"
        "try:\n"
        "    spark_schema(pa.schema([('id', pa.string())]))\n"
        "except OptionalDependencyError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "leadflow[spark]"' in result.stdout
