"""The long fuzz run of the readers (issue 14): at least 10,000 generated and mutated inputs
under the promises of tests/fuzz/harness.py. The README quotes its last result.

    .venv/bin/python -m tests.fuzz.run_long [--inputs 10000] [--seed 14]

Exit 0 when every input kept the promises; otherwise the failing input is printed
(hypothesis shrinks it first) and the exit code is 1."""
from __future__ import annotations

import argparse
import platform
import sys
import time

from hypothesis import HealthCheck, given, seed, settings, strategies as st

from tests.fuzz.harness import TARGETS

# share of the inputs per target: openpyxl is the slowest by far, so workbooks get fewer
SHARES = {"record files": 0.6, "csv folders": 0.2, "zipped submissions": 0.15, "workbooks": 0.05}


def _counting(body, count: dict):
    def counted(data):
        count["n"] += 1
        body(data)
    return counted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, seed {args.seed}, {args.inputs} inputs")
    failed = 0
    for name, body in TARGETS.items():
        count = {"n": 0}
        counted = _counting(body, count)

        examples = max(1, round(args.inputs * SHARES[name]))
        test = seed(args.seed)(settings(max_examples=examples, deadline=None, database=None,
                                        suppress_health_check=list(HealthCheck))(given(st.data())(counted)))
        start = time.monotonic()
        try:
            test()
            verdict = "ok"
        except Exception as exc:                   # a broken promise: report it, go on
            failed += 1
            verdict = f"FAILED: {type(exc).__name__}: {str(exc)[:2000]}"
        print(f"{name}: {count['n']} inputs in {time.monotonic() - start:.0f} s: {verdict}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
