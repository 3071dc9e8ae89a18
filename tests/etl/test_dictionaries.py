"""Parquet dictionary pages read without the rows: the values Arrow finds, or ``None``."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
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


class _Hung(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Fail, rather than hang, when the block runs longer than *seconds*."""

    def stop(signum: int, frame: Any) -> None:  # not TimeoutError: an OSError, caught
        raise _Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _zigzag_varint(value: int) -> bytes:
    n, out = (value << 1) ^ (value >> 63), bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes([*out, n])


def _header(kind: int, uncompressed: int, compressed: int, field: int, *inner: int) -> bytes:
    """A Thrift compact page header: type and sizes (i32 fields 1-3), then the struct in
    *field* (7: a dictionary page, 5: a data page) holding the i32 values *inner*."""
    i32 = b"".join(b"\x15" + _zigzag_varint(v) for v in (kind, uncompressed, compressed))
    body = b"".join(b"\x15" + _zigzag_varint(v) for v in inner)
    return i32 + bytes([(field - 3) << 4 | 12]) + body + b"\x00\x00"


def _chunk(tmp_path: Path, data: bytes, num_values: int, compression: str = "UNCOMPRESSED") -> Any:
    """A file holding *data* as one column chunk, and the chunk's metadata as Arrow gives it."""
    from types import SimpleNamespace

    path = tmp_path / "chunk.bin"
    path.write_bytes(data)
    column = SimpleNamespace(
        compression=compression, file_path="", has_dictionary_page=True,
        dictionary_page_offset=0, physical_type="BYTE_ARRAY", total_compressed_size=len(data),
        num_values=num_values,
    )  # fmt: skip
    return path, column


def _dictionary_page(values: list[bytes], uncompressed: int | None = None) -> bytes:
    body = b"".join(len(v).to_bytes(4, "little") + v for v in values)
    size = len(body) if uncompressed is None else uncompressed
    return _header(2, size, len(body), 7, len(values), 0) + body


def test_hand_built_chunks(tmp_path: Path) -> None:
    page = _dictionary_page([b"web_visit", b"demo_request"])
    data_page = _header(0, 3, 3, 5, 10, 8, 3, 3) + b"\x01\x02\x03"
    assert dictionary_values(*_chunk(tmp_path, page + data_page, 10)) == [
        "web_visit", "demo_request"
    ]  # fmt: skip


def test_a_page_size_that_points_back_answers_none(tmp_path: Path) -> None:
    """A hostile page header whose compressed size is minus its own length would read the
    same header again and again (the reader looped forever)."""
    page = _dictionary_page([b"web_visit"])
    back = _header(1, 0, 0, 5)  # an index page...
    back = _header(1, 0, -len(back), 5)  # ...whose size points back at itself
    assert len(back) == len(_header(1, 0, 0, 5))
    with _deadline(10):
        assert dictionary_values(*_chunk(tmp_path, page + back + b"\x00" * 8, 10)) is None
        negative = _header(2, 9, -4, 7, 1, 0) + b"\x00" * 16  # a dictionary page
        assert dictionary_values(*_chunk(tmp_path, negative, 10)) is None


def test_hostile_headers_answer_none_not_a_crash_or_a_hang(tmp_path: Path) -> None:
    from leadflow.etl._dictionaries import _Malformed

    with pytest.raises(_Malformed):
        _page_header(b"\x1c" * 1024)  # structs nested a thousand deep (was RecursionError)
    deep = b"\x1c" * 5000  # past the first read, then the file ends
    assert dictionary_values(*_chunk(tmp_path, deep, 10)) is None
    # a map of 2**62 booleans (in a container each is a byte, per the compact protocol) in
    # a header that ends after ten: was 2**62 turns reading nothing
    hostile = b"\x4b" + b"\xff" * 8 + b"\x3f" + b"\x11" + b"\x00" * 10
    with _deadline(10):
        assert dictionary_values(*_chunk(tmp_path, hostile, 10)) is None


@pytest.mark.parametrize("compression", ["GZIP", "SNAPPY", "ZSTD"])
@pytest.mark.parametrize("uncompressed", [-1, 1, 2**40])
def test_a_dictionary_page_of_the_wrong_size_answers_none(
    tmp_path: Path, compression: str, uncompressed: int
) -> None:
    """A dictionary page that does not decompress to its stated size: no answer (the codec's
    OSError or MemoryError escaped)."""
    body = b"".join(len(v).to_bytes(4, "little") + v for v in (b"web_visit", b"demo_request"))
    packed = pa.Codec(compression.lower()).compress(body).to_pybytes()
    page = _header(2, uncompressed, len(packed), 7, 2, 0) + packed
    data_page = _header(0, 3, 3, 5, 10, 8, 3, 3) + b"\x01\x02\x03"
    assert dictionary_values(*_chunk(tmp_path, page + data_page, 10, compression)) is None
    page = _header(2, len(body), len(packed), 7, 2, 0) + packed  # the true size: read
    found = dictionary_values(*_chunk(tmp_path, page + data_page, 10, compression))
    assert found == ["web_visit", "demo_request"]


def test_a_header_claiming_a_huge_field_is_not_read_to_the_end_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header whose binary field claims 2 GiB is malformed past Arrow's own page-header
    limit (16 MiB), not read on to the end of a large file (it was: the read grew 64-fold
    until the file ran out, the whole file in memory)."""
    from leadflow.etl import _dictionaries

    hostile = b"\x48" + b"\x80\x80\x80\x80\x08"  # field 4, binary, 2**31 bytes long
    path, column = _chunk(tmp_path, hostile, 10)
    with open(path, "r+b") as file:
        file.truncate(40 << 20)  # a 40 MiB file (sparse)
    reads: list[int] = []
    real_open = open

    def watched(*args: Any, **kwargs: Any) -> Any:
        file = real_open(*args, **kwargs)
        read = file.read

        def counted(size: int = -1) -> bytes:
            data = read(size)
            reads.append(len(data))
            return data

        file.read = counted
        return file

    monkeypatch.setattr(_dictionaries, "open", watched, raising=False)
    assert dictionary_values(path, column) is None
    assert max(reads) <= 16 << 20
