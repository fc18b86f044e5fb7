"""The `no_database` marker (database_free.py) picks exactly the tests that cannot reach the
suite's database: .ci/run's PostgreSQL run deselects them, so a test wrongly marked would
never run on PostgreSQL. Checked on a small suite of its own, collected by a real pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

CONFTEST = f"""
import os, sys
sys.path.insert(0, {str(TESTS)!r})
import pytest
from database_free import mark_database_free

def pytest_configure(config):
    config.addinivalue_line("markers", "no_database: reaches no suite database")

def pytest_collection_modifyitems(config, items):
    mark_database_free(items, [config.rootpath])

@pytest.fixture
def database_url(tmp_path):
    return os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{{tmp_path}}/t.db"

@pytest.fixture
def engine(database_url):
    return database_url

@pytest.fixture
def app(engine):
    return engine
"""

SUITE = {
    "conftest.py": CONFTEST,
    "suite_url.py": (
        "import os\n"
        "def suite_url():\n"
        "    return os.environ.get('METACRM_TEST_DATABASE_URL')\n"),
    "test_fixtures.py": (
        "import pytest\n"
        "@pytest.fixture\n"
        "def own_sqlite(tmp_path):\n    return f'sqlite:///{tmp_path}/own.db'\n"
        "def test_pure():\n    assert 1 + 1 == 2\n"
        "def test_own_sqlite(own_sqlite):\n    assert own_sqlite\n"
        "def test_url(database_url):\n    assert database_url\n"
        "def test_app_through_engine(app):\n    assert app\n"),
    "test_module_fixture.py": (
        "import os, pytest\n"
        "@pytest.fixture(scope='module')\n"
        "def shared():\n    return os.environ.get('METACRM_TEST_DATABASE_URL')\n"
        "def test_shared(shared):\n    assert shared or True\n"),
    "test_helper.py": (
        "from suite_url import suite_url\n"
        "def test_through_a_helper():\n    assert suite_url() or True\n"),
    "test_dynamic.py": (
        "import pytest\n"
        "@pytest.mark.parametrize('name', ['engine'])\n"
        "def test_chosen_at_run_time(request, name):\n"
        "    assert request.getfixturevalue(name)\n"),
    # Two conftest.py files are both modules named `conftest`: each fixture is judged by
    # its own file.
    "area/conftest.py": (
        "import os, pytest\n"
        "class Holder:\n    def url(self):\n        return os.environ.get('X')\n"
        "@pytest.fixture\n"
        "def area_db():\n    return os.environ.get('METACRM_TEST_DATABASE_URL')\n"),
    "area/test_area.py": "def test_area(area_db):\n    assert area_db or True\n",
    "pure/conftest.py": (
        "import pytest\n"
        "class Numbers:\n    def one(self):\n        return 1\n"
        "@pytest.fixture\n"
        "def numbers():\n    return Numbers()\n"),
    "pure/test_pure_area.py": "def test_numbers(numbers):\n    assert numbers.one() == 1\n",
}


def collected(root: Path, *options: str) -> set[str]:
    result = subprocess.run(  # our interpreter, on files this test wrote
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--rootdir", str(root), *options, str(root)],
        cwd=root, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_only_tests_that_cannot_reach_the_suite_database_are_marked(tmp_path: Path) -> None:
    for name, text in SUITE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")

    assert collected(tmp_path, "-m", "no_database") == {
        "test_fixtures.py::test_pure",
        "test_fixtures.py::test_own_sqlite",
        "pure/test_pure_area.py::test_numbers",
    }
    assert len(collected(tmp_path, "-m", "not no_database")) == 6
