"""`metacrm team`: teams exist before users join them with `user create --team`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from metacrm.cli.main import main


def test_teams_are_created_under_their_parent_and_listed(
    tmp_path: Path, isolated_database_url: str
) -> None:
    env = {"METACRM_DATABASE_URL": isolated_database_url,
           "METACRM_INSTANCE_PATH": str(tmp_path / "instance")}
    runner = CliRunner()

    assert runner.invoke(main, ["team", "create", "sales"], env=env).exit_code == 0
    made = runner.invoke(main, ["team", "create", "sales_east", "--parent", "sales"], env=env)
    assert made.exit_code == 0
    assert "under 'sales'" in made.output

    listing = runner.invoke(main, ["team", "list"], env=env).output.splitlines()
    assert "sales_east\tsales\tsales_east" in listing


def test_an_unknown_parent_or_a_taken_name_is_refused(
    tmp_path: Path, isolated_database_url: str
) -> None:
    env = {"METACRM_DATABASE_URL": isolated_database_url,
           "METACRM_INSTANCE_PATH": str(tmp_path / "instance")}
    runner = CliRunner()
    orphan = runner.invoke(main, ["team", "create", "east", "--parent", "nowhere"], env=env)
    assert orphan.exit_code == 1
    assert "/parent" in orphan.output

    runner.invoke(main, ["team", "create", "east"], env=env)
    again = runner.invoke(main, ["team", "create", "east"], env=env)
    assert again.exit_code == 1
    assert "already exists" in again.output
