"""Time the test suite per directory and database: wall clock and CPU of each pytest run.

    python bench/test_suite.py tests/web tests/api                 # SQLite and PostgreSQL
    python bench/test_suite.py tests/identity --db postgres
    python bench/test_suite.py tests/automation --db postgres -m "not no_database"   # as CI

Each (directory, database) pair is one `pytest -q DIR` in a subprocess, one after the
other; the CPU column is the pytest process's user + system time (PostgreSQL's own work is
not in it), which a loaded machine disturbs less than the wall clock. Figures and the
full-size command are in bench/README.md ("Test suite").
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def run(path: str, database: str, marks: str | None = None) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and pytest's summary line of one run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "platform")}
    env.pop("METACRM_TEST_DATABASE_URL", None)
    if database == "postgres":
        env["METACRM_TEST_DATABASE_URL"] = POSTGRES_URL
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603  # our interpreter, paths from the command line
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         *(["-m", marks] if marks else []), path],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = result.stdout.strip().splitlines()
    return wall, cpu, lines[-1] if lines else f"exit status {result.returncode}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="test directories or files")
    parser.add_argument("--db", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default both)")
    parser.add_argument("-m", dest="marks", default=None,
                        help="pytest's -m, e.g. 'not no_database' (what .ci/run's PostgreSQL "
                             "run deselects)")
    args = parser.parse_args()
    print("| path | database | wall s | CPU s | pytest |")
    print("| --- | --- | --- | --- | --- |")
    for path in args.paths:
        for database in args.db.split(","):
            wall, cpu, summary = run(path, database, args.marks)
            print(f"| {path} | {database} | {wall:.0f} | {cpu:.0f} | {summary} |", flush=True)


if __name__ == "__main__":
    main()
