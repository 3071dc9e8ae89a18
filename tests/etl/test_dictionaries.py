"""Parquet dictionary pages read without the rows: the values Arrow finds, or ``None``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadflow.etl._dictionaries import _page_header, dictionary_values

KINDS = ["web_visit", "email_open", None, "demo_request", "webinar_attended", "ünïcode_kind"]


def column_values(path: Path, column: int = 0) -> list[list[Any] | None]:
    meta = pq.ParquetFile(path).metadata
    return [
        dictionary_values(path, meta.row_group(g).column(column))
        for g in range(meta.num_row_groups)
    ]


def arrow_dictionaries(path: Path) -> list[set[Any]]:
    parquet = pq.ParquetFile(path, read_dictionary=["kind"])
    found = []
    for g in range(parquet.metadata.num_row_groups):
        chunk = parquet.read_row_group(g, columns=["kind"]).column(0).combine_chunks()
        found.append({v for v in chunk.dictionary.to_pylist() if v is not None})
    return found


@pytest.mark.parametrize("compression", ["NONE", "SNAPPY", "GZIP", "ZSTD", "BROTLI", "LZ4"])
@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_the_dictionary_arrow_reads(tmp_path: Path, compression: str, version: str) -> None:
    path = tmp_path / "events.parquet"
    kinds = [KINDS[(i * 7) % len(KINDS)] for i in range(5000)]
    # several row groups, several data pages per chunk
    pq.write_table(
        pa.table({"kind": kinds}), path, compression=compression, data_page_version=version,
        row_group_size=2000, data_page_size=512,
    )  # fmt: skip
    found = column_values(path)
    assert [set(v or ()) for v in found] == arrow_dictionaries(path)
    assert all(v is not None for v in found)


def test_a_chunk_that_fell_back_to_plain_pages_has_no_dictionary_answer(tmp_path: Path) -> None:
    path = tmp_path / "ids.parquet"
    ids = [f"E{i:010d}" for i in range(20_000)]  # the dictionary outgrows its page limit
    pq.write_table(pa.table({"id": ids}), path, dictionary_pagesize_limit=4096)
    assert column_values(path) == [None]
    pq.write_table(pa.table({"id": ids}), path, use_dictionary=False)
    assert column_values(path) == [None]


def test_long_values_with_page_statistics(tmp_path: Path) -> None:
    path = tmp_path / "long.parquet"
    values = ["a" * 3000, "b" * 3000, None, "c"] * 50  # page headers longer than a first read
    pq.write_table(pa.table({"kind": values}), path)
    header = pq.ParquetFile(path).metadata.row_group(0).column(0)
    assert header.data_page_offset - header.dictionary_page_offset > 0
    assert column_values(path) == [["a" * 3000, "b" * 3000, "c"]]


def test_not_text_or_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "binary.parquet"
    pq.write_table(pa.table({"b": pa.array([b"\xff\xfe", b"ok"] * 10, pa.binary())}), path)
    assert column_values(path) == [[b"\xff\xfe", "ok"]]
    pq.write_table(pa.table({"n": list(range(10)) * 3}), path)
    assert column_values(path) == [None]  # not a byte array column


def test_headers_that_do_not_parse() -> None:
    from leadflow.etl._dictionaries import _Malformed, _Truncated

    with pytest.raises(_Truncated):
        _page_header(b"\x15\x04")  # a field, then nothing
    with pytest.raises(_Malformed):
        _page_header(b"\x00")  # an empty struct: no page type or sizes
    with pytest.raises(_Malformed):
        _page_header(b"\x1d")  # field type 13 does not exist


def test_a_truncated_file_answers_none(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table({"kind": KINDS * 100}), path)
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    data = path.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(data[: column.data_page_offset + 3])  # inside the first data page header
    assert dictionary_values(cut, column) is None
