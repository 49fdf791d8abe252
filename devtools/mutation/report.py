"""`make mutation`'s verdict: mutmut's results less the mutants listed as equivalent, and the share killed.

Usage: python devtools/mutation/report.py RESULTS_FILE [--min PERCENT]
RESULTS_FILE is `mutmut results --all true` (one `name: status` per line). Exits 1 below the minimum, or when a
mutant listed as equivalent no longer exists (the list must stay true to the code).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

EQUIVALENT = Path(__file__).with_name("equivalent.txt")


def equivalent_mutants() -> set[str]:
    """Names in equivalent.txt: one per line, `name  # why it cannot be told apart`."""
    names = set()
    for line in EQUIVALENT.read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.add(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("results", type=Path)
    parser.add_argument("--min", type=float, default=90.0)
    args = parser.parse_args(argv)
    statuses: dict[str, str] = {}
    for line in args.results.read_text().splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            statuses[name] = status
    equivalent = equivalent_mutants()
    stale = sorted(equivalent - set(statuses))
    counted = {n: s for n, s in statuses.items() if n not in equivalent}
    by_status = Counter(counted.values())
    killed = by_status["killed"] + by_status["timeout"]
    score = 100.0 * killed / len(counted) if counted else 0.0
    print(f"mutants: {len(statuses)}, listed equivalent: {len(equivalent) - len(stale)}, counted: {len(counted)}")
    print("by status: " + ", ".join(f"{s} {n}" for s, n in sorted(by_status.items())))
    for name, status in sorted(counted.items()):
        if status not in ("killed", "timeout"):
            print(f"  {status}: {name}")
    print(f"killed: {killed} of {len(counted)} = {score:.1f}% (minimum {args.min:.0f}%)")
    if stale:
        print("equivalent.txt names mutants that no longer exist: " + ", ".join(stale))
        return 1
    return 0 if score >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
