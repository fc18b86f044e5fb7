"""`metacrm demo`: its own SQLite database in the instance folder, the packs, the demo data
and the logins, then the app served like `metacrm serve`."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from pathlib import Path

import httpx
from click.testing import CliRunner

from metacrm.cli.main import main
from process_harness import DEADLINE, METACRM, PLATFORM, free_port, wait_until

SEED_README = PLATFORM.parent / "seed" / "README.md"

LOGINS = [
    ("admin", "admin", "-"),
    ("maria", "sales_manager", "North"),
    ("ivan", "sales_rep", "North"),
    ("olga", "sales_rep", "North"),
    ("sam", "sales_manager", "South"),
    ("lee", "sales_rep", "South"),
]


def shell_env(instance: Path) -> dict[str, str]:
    """A shell with only the instance folder set (no METACRM_DATABASE_URL)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("METACRM_")}
    return {**env, "PYTHONPATH": str(PLATFORM), "METACRM_INSTANCE_PATH": str(instance)}


def assert_lists_the_logins(output: str, url: str) -> None:
    assert f"open {url}" in output
    for username, role, team in LOGINS:
        assert any(line.split() == [username, "demo-password", role, team]
                   for line in output.splitlines()), (username, output)


def test_demo_creates_its_database_prints_the_logins_and_serves(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    env = shell_env(instance)

    first = subprocess.run([*METACRM, "demo", "--no-serve"], env=env, capture_output=True,
                           text=True, timeout=DEADLINE * 2, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert (instance / "demo.db").is_file()
    assert not (instance / "metacrm.db").exists()
    assert "Demo data loaded in" in first.stdout
    assert f"({readme_counts()})." in first.stdout  # the totals seed/README.md states
    with sqlite3.connect(instance / "mail-outbox.db") as outbox:
        kept = outbox.execute("SELECT recipients, subject FROM metacrm_mail_outbox "
                              "ORDER BY subject").fetchall()
    with sqlite3.connect(instance / "demo.db") as database:
        failed = database.execute("SELECT count(*) FROM metacrm_automation_runs "
                                  "WHERE status <> 'ok'").fetchone()[0]
    assert len(kept) == 5 and failed == 0  # the triggers' mail kept, none failing
    assert all(to.endswith('@demo.metacrm.example"]') for to, _subject in kept)
    assert "/app/admin/outbox" in first.stdout
    assert_lists_the_logins(first.stdout, "http://127.0.0.1:5000/app/")

    port = free_port()
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen([*METACRM, "demo", "--port", str(port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{base}/app/"), what="the demo server")
        login = httpx.post(f"{base}/api/v1/security/login", json={
            "username": "ivan", "password": "demo-password", "provider": "db"})
        assert login.status_code == 200
        deals = httpx.get(f"{base}/api/v1/records/deal?limit=1", headers={
            "Authorization": f"Bearer {login.json()['access_token']}"})
        assert deals.status_code == 200
        assert deals.json()["meta"]["count"] == 15  # the North team's deals
    finally:
        server.terminate()
        server.wait(timeout=30)
    output = (tmp_path / "serve.log").read_text()
    assert "the demo data was not loaded again" in output
    assert_lists_the_logins(output, f"http://127.0.0.1:{port}/app/")


def readme_counts() -> str:
    """The totals line of seed/README.md (after its `demo-counts` marker)."""
    found = re.search(r"<!-- demo-counts[^>]*-->\s*`([^`]+)`", SEED_README.read_text())
    assert found, "seed/README.md states no demo counts"
    return found.group(1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 302  # to the login page
    except httpx.TransportError:
        return False


def test_reset_starts_from_an_empty_demo_database(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "demo.db").write_text("not a database")

    result = subprocess.run([*METACRM, "demo", "--reset", "--no-serve"],
                            env=shell_env(instance), capture_output=True, text=True,
                            timeout=DEADLINE * 2, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Demo data loaded in" in result.stdout


def test_demo_uses_the_database_the_environment_names(
    isolated_database_url: str, tmp_path: Path,
) -> None:
    env = {"METACRM_DATABASE_URL": isolated_database_url,
           "METACRM_INSTANCE_PATH": str(tmp_path / "instance")}
    runner = CliRunner()

    refused = runner.invoke(main, ["demo", "--reset", "--no-serve"], env=env)
    assert refused.exit_code == 1
    assert "--reset only deletes the demo's own SQLite database" in refused.output

    loaded = runner.invoke(main, ["demo", "--no-serve"], env=env, catch_exceptions=False)
    assert loaded.exit_code == 0, loaded.output
    assert "Demo data loaded in" in loaded.output
    assert not (tmp_path / "instance" / "demo.db").exists()
