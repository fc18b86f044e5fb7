"""The PostgreSQL run of `.ci/run` keeps only the browser tests marked `postgres_too`
(browser_runs.py), and every browser test carries the `browser` marker the SQLite run —
the README's `pytest` — does not filter on: a test dropped by a marker typo would never run
on PostgreSQL, or a wrong expression would run none there. Checked by collecting
tests/browser with the expression `.ci/run` passes, read from `.ci/run` itself."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSER = ROOT / "tests" / "browser"
ON_BOTH = {"test_browser_import_wizard.py", "test_browser_designer.py"}


def postgres_run_expression() -> str:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    found = re.search(r'run_tests -m "([^"]+)"', script)
    assert found, ".ci/run's PostgreSQL run no longer passes -m"
    return found.group(1)


def collected(*arguments: str) -> set[str]:
    """The test ids `pytest --collect-only` prints for tests/browser."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("METACRM_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         *arguments, str(BROWSER)],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    assert result.returncode in (0, 5), result.stdout + result.stderr
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_postgres_runs_only_the_browser_tests_that_depend_on_the_database() -> None:
    everything = collected()
    on_postgres = collected("-m", postgres_run_expression())
    modules = {Path(test.split("::")[0]).name for test in everything}
    assert len(modules) == len(list(BROWSER.glob("test_*.py")))  # every module collects
    assert collected("-m", "not browser") == set()  # each is marked: the SQLite run has all
    assert on_postgres
    assert {Path(test.split("::")[0]).name for test in on_postgres} == ON_BOTH
    assert on_postgres == {test for test in everything
                           if Path(test.split("::")[0]).name in ON_BOTH}
