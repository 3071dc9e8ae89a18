"""Instructions per lead of ``score_many`` and of the lean scorer, counted by valgrind.

Run on demand (valgrind must be installed; about a minute):

    .venv/bin/python benchmarks/bench_scoring_instructions.py [--leads 2500]

CPU time on a shared machine moves with the load by 5-10% between runs; the number of machine
instructions executed does not (it is what ``valgrind --tool=cachegrind`` counts, with the hash
seed fixed). Each scorer runs in a child under valgrind twice, on 500 and on ``--leads`` leads of
``bench_scoring``'s generated data, and the same child doing no scoring is counted the same way;
the difference divided by the extra leads is the scorer's instructions per lead. Instructions
are not time (cache misses and branches weigh differently), so this complements
``bench_scoring.py``, whose CPU-time ratio is the one the target is about.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(which: str, n: int) -> None:
    import gc
    import random

    sys.path.insert(0, str(HERE))
    import bench_scoring as b

    from leadflow.rules import load_scorecard, score_many

    card = load_scorecard(b.CARD_PATH)
    rng = random.Random(7)
    accounts = b.make_accounts(rng)
    rows = b.make_chunk(rng, 0, n)
    lean_card = b.lean_prepare(card.to_dict())
    as_of_ts = b.AS_OF.timestamp()
    # warm both (the card's preparation, first calls) before counting starts to matter
    list(score_many(card, rows[:5], as_of=b.AS_OF, accounts=accounts))
    b.lean_score(lean_card, rows[0][0], rows[0][1], None, as_of_ts)
    gc.collect()
    gc.disable()  # as in bench_scoring: the collector is off while scoring
    if which == "score_many":
        list(score_many(card, rows, as_of=b.AS_OF, accounts=accounts))
    elif which == "lean":
        [b.lean_score(lean_card, x, a, accounts.get(x.account_id or ""), as_of_ts) for x, a in rows]


def count(which: str, n: int) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            which,
            str(n),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=2500)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    small = 500
    extra = args.leads - small
    if extra <= 0:
        raise SystemExit("--leads must be more than 500")
    nothing = count("nothing", args.leads) - count("nothing", small)
    per = {
        which: (count(which, args.leads) - count(which, small) - nothing) / extra
        for which in ("score_many", "lean")
    }
    print("| scorer | instructions/lead | vs the lean scorer |")
    print("| --- | ---: | ---: |")
    print(f"| `score_many` | {per['score_many']:,.0f} | {per['lean'] / per['score_many']:.2f}x |")
    print(f"| lean dict-and-loop | {per['lean']:,.0f} | 1x |")


if __name__ == "__main__":
    main()
