"""Same input, same bytes: sorted by id, exact behaviour sums, any --partitions, any batch size."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from leadflow.etl import compile_scorecard, score_files
from leadflow.etl.plan import _split_exact
from leadflow.etl.synthetic import GeneratedFiles
from leadflow.rules.scorecard import load_scorecard

from .conftest import AS_OF

CARD = load_scorecard("examples/scorecard.toml")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".csv.gz"])
def test_same_bytes_with_any_partitions_and_batch_size(
    small_files: GeneratedFiles, tmp_path: Path, suffix: str
) -> None:
    digests = set()
    for i, (partitions, batch_size) in enumerate(
        [(1, 262_144), (1, 37), (2, 50), (8, 64), (1, 262_144)]
    ):
        out = tmp_path / f"scores-{i}{suffix}"
        score_files(CARD, small_files.leads, small_files.events, out, as_of=AS_OF,
                    partitions=partitions, batch_size=batch_size, workdir=tmp_path)  # fmt: skip
        digests.add(digest(out))
    assert len(digests) == 1


def test_output_is_sorted_by_id(small_files: GeneratedFiles, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    score_files(CARD, small_files.leads, small_files.events, out, as_of=AS_OF, partitions=3,
                workdir=tmp_path)  # fmt: skip
    ids = pq.read_table(out).column("id").to_pylist()
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 300


def test_behaviour_sums_do_not_depend_on_batching(small_files: GeneratedFiles) -> None:
    plan = compile_scorecard(CARD)
    events = pq.read_table(small_files.events)
    whole = plan.aggregate(events, as_of=AS_OF, threads=1)
    shuffled = events.take(np.random.default_rng(3).permutation(events.num_rows))
    pieces = plan.aggregate(shuffled.to_batches(max_chunksize=7), as_of=AS_OF, threads=2)
    key = [("lead_id", "ascending")]
    assert whole.sort_by(key).equals(pieces.sort_by(key))


def test_exact_levels_add_up_to_the_terms() -> None:
    terms = np.random.default_rng(5).random(10_000) * 40 * 0.5 ** np.arange(10_000) % 40
    parts = _split_exact(terms, 40.0)
    forward = [float(np.sum(p)) for p in parts]
    backward = [float(np.sum(p[::-1])) for p in parts]
    assert forward == backward
    assert abs(sum(forward) - math.fsum(terms.tolist())) <= 1e-12


@pytest.mark.parametrize("points", [2.2e-313, -5e-324, 1e-308, 3.0])
def test_exact_levels_hold_for_subnormal_points(points: float) -> None:
    """A card's points as small as a subnormal float made a grid step of 0.0 (a division by
    zero, inf and nan levels); the levels still add up to the decayed terms."""
    terms = points * np.exp(-np.linspace(0.0, 3.0, 50))
    with np.errstate(all="raise"):
        parts = _split_exact(terms, points)
    total = sum(math.fsum(p.tolist()) for p in parts)
    assert all(np.isfinite(p).all() for p in parts)
    assert math.isclose(total, math.fsum(terms.tolist()), rel_tol=1e-12, abs_tol=1e-323)
