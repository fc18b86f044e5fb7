"""`metacrm pack ...` and `metacrm init` as an operator uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from metacrm.cli.main import main
from metacrm.fieldtypes import default_registry
from metacrm.metadata.loader import load_documents
from metacrm.services.metadata.service import MetadataService
from metacrm.storage.engine import create_database_engine
from packs_harness import entity, field, manifest, write_pack

SETTINGS = {"type": "object", "properties": {
    "greeting": {"type": "string", "default": "hello"},
    "api_key": {"type": "string", "writeOnly": True}}}


class Shell:
    def __init__(self, tmp_path: Path, database_url: str, metadata_path: Path | None) -> None:
        self.database_url = database_url
        self.env = {"METACRM_DATABASE_URL": database_url,
                    "METACRM_INSTANCE_PATH": str(tmp_path / "instance"),
                    "METACRM_SECRET_KEY": "cli-test-secret"}
        if metadata_path is not None:
            self.env["METACRM_METADATA_PATH"] = str(metadata_path)

    def run(self, *args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env, input=stdin,
                                  catch_exceptions=False)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        engine = create_database_engine(self.database_url)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(sa.text(sql))]
        finally:
            engine.dispose()


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    return tmp_path / "packs"


@pytest.fixture
def shell(tmp_path: Path, isolated_database_url: str, roots: Path) -> Shell:
    roots.mkdir()
    return Shell(tmp_path, isolated_database_url, roots)


def test_install_list_settings_uninstall(shell: Shell, tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "downloads", manifest("greeter", settings=SETTINGS),
                        entity("greeting_card", field("text", "textarea")))

    planned = shell.run("pack", "plan", "install", str(folder))
    assert planned.exit_code == 0, planned.output
    assert "install greeter 1.0.0" in planned.output
    assert "create table crm_greeting_card" in planned.output
    assert shell.query("SELECT count(*) FROM metacrm_packs") == [(0,)]

    installed = shell.run("pack", "install", str(folder), "--set", "greeting=hi")
    assert installed.exit_code == 0, installed.output
    listed = shell.run("pack", "list").output
    assert any(line.split()[:5] == ["greeter", "1.0.0", "1.0.0", "installed", "path"]
               for line in listed.splitlines()), listed

    secret = shell.run("pack", "settings", "greeter", "--set-secret", "api_key",
                       stdin="top-secret-value\n")
    assert secret.exit_code == 0, secret.output
    assert secret.output.splitlines() == ["greeting = hi", "api_key = set"]
    assert "top-secret-value" not in str(shell.query("SELECT * FROM metacrm_pack_settings"))

    removed = shell.run("pack", "uninstall", "greeter", "--keep-data")
    assert removed.exit_code == 0, removed.output
    assert "crm_greeting_card archived as arch_v2_crm_greeting_card" in removed.output
    assert shell.query("SELECT count(*) FROM metacrm_pack_settings") == [(0,)]


def test_errors_are_file_pointer_lines_and_exit_code_1(shell: Shell, roots: Path) -> None:
    write_pack(roots, manifest("greeter", version="one", settings=SETTINGS))

    result = shell.run("pack", "install", "greeter")

    assert result.exit_code == 1
    assert f"{roots / 'greeter' / 'pack.json'} /version: 'one' is not a semantic version" \
        in result.output


def test_a_bad_setting_is_refused_and_nothing_installed(shell: Shell, roots: Path) -> None:
    write_pack(roots, manifest("greeter", settings=SETTINGS), entity("greeting_card"))

    result = shell.run("pack", "install", "greeter", "--set", "greeting=[1]")

    assert result.exit_code == 1
    assert "greeter /greeting: [1] is not of type 'string'" in result.output
    assert shell.query("SELECT count(*) FROM metacrm_packs") == [(0,)]


def test_init_installs_the_packs_then_upgrades_them(shell: Shell, roots: Path) -> None:
    write_pack(roots, manifest("crm"), entity("account"))

    first = shell.run("init")
    assert first.exit_code == 0, first.output
    assert "Packs: install crm 1.0.0." in first.output
    write_pack(roots, manifest("crm", "1.1.0"), entity("account", field("code")))
    second = shell.run("init")

    assert second.exit_code == 0, second.output
    assert "upgrade crm 1.0.0 -> 1.1.0" in second.output
    assert shell.query("SELECT name, version FROM metacrm_packs") == [("crm", "1.1.0")]


def test_init_keeps_installed_extension_packs(shell: Shell, roots: Path,
                                              tmp_path: Path) -> None:
    write_pack(roots, manifest("crm"), entity("account"))
    extension = write_pack(tmp_path / "ext", manifest("audit_log"), entity("audit_note"))
    assert shell.run("init").exit_code == 0
    assert shell.run("pack", "install", str(extension)).exit_code == 0

    again = shell.run("init")

    assert again.exit_code == 0, again.output
    assert sorted(shell.query("SELECT name FROM metacrm_packs")) == [("audit_log",), ("crm",)]
    assert shell.query("SELECT count(*) FROM crm_audit_note") == [(0,)]


def test_init_adopts_a_database_set_up_before_packs_existed(shell: Shell, roots: Path) -> None:
    pack = roots / "crm"
    pack.mkdir()
    (pack / "account.json").write_text(json.dumps(entity("account")), encoding="utf-8")
    engine = create_database_engine(shell.database_url)
    try:  # what `metacrm init` did before packs: apply the documents as they are
        MetadataService(engine, default_registry()).apply(load_documents([roots]),
                                                          author="cli")
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO crm_account (id, title, created_at, updated_at, version) VALUES "
                "('0190a1b2-0000-7000-8000-000000000001', 'kept', :now, :now, 1)"),
                {"now": "2026-01-01 00:00:00"})
    finally:
        engine.dispose()
    (pack / "pack.json").write_text(json.dumps(manifest("crm")), encoding="utf-8")

    result = shell.run("init")

    assert result.exit_code == 0, result.output
    assert "Packs: install crm 1.0.0." in result.output
    assert shell.query("SELECT title FROM crm_account") == [("kept",)]
    assert shell.query("SELECT name, version FROM metacrm_packs") == [("crm", "1.0.0")]


def test_init_installs_the_shipped_packs(tmp_path: Path, isolated_database_url: str) -> None:
    shell = Shell(tmp_path, isolated_database_url, None)

    result = shell.run("init")

    assert result.exit_code == 0, result.output
    assert ("Packs: install contacts 1.0.0, install service 1.0.0, install tasks 1.0.0, "
            "install activities 1.0.0, install knowledge 1.0.0, install sales 1.0.0, "
            "install email 1.0.0, install marketing 1.0.0, install service_email 1.0.0."
            in result.output)
    assert sorted(shell.query("SELECT name FROM metacrm_packs")) == [
        ("activities",), ("contacts",), ("email",), ("knowledge",), ("marketing",),
        ("sales",), ("service",), ("service_email",), ("tasks",)]
    refused = shell.run("pack", "uninstall", "tasks")
    assert refused.exit_code == 1
    assert "sales 1.0.0 depends on tasks >=1.0" in refused.output
    assert shell.run("pack", "uninstall", "service_email").exit_code == 0
    assert shell.run("pack", "uninstall", "marketing").exit_code == 0  # it depends on email
    assert shell.run("pack", "uninstall", "email").exit_code == 0  # it depends on sales
    removed = shell.run("pack", "uninstall", "sales")
    assert removed.exit_code == 0, removed.output
    assert "remove field task.deal" in removed.output
    assert shell.run("pack", "install", "sales").exit_code == 0


def test_a_secret_is_not_accepted_on_the_command_line(shell: Shell, roots: Path) -> None:
    write_pack(roots, manifest("greeter", settings=SETTINGS), entity("greeting_card"))

    refused = shell.run("pack", "install", "greeter", "--set", "api_key=visible-in-history")

    assert refused.exit_code == 1
    assert "greeter /api_key: not accepted on the command line" in refused.output
    assert shell.query("SELECT count(*) FROM metacrm_packs") == [(0,)]
    assert shell.run("pack", "install", "greeter").exit_code == 0
    again = shell.run("pack", "settings", "greeter", "--set", "api_key=visible")
    assert again.exit_code == 1
    assert shell.run("pack", "settings", "greeter").output.splitlines() == [
        "greeting = hello", "api_key = not set"]


def test_a_pack_installed_from_a_folder_upgrades_from_that_folder(shell: Shell,
                                                                  tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "downloads", manifest("greeter"), entity("greeting_card"))
    assert shell.run("pack", "install", str(folder)).exit_code == 0
    write_pack(tmp_path / "downloads", manifest("greeter", "1.1.0"),
               entity("greeting_card", field("sender")))

    listed = shell.run("pack", "list").output
    upgraded = shell.run("pack", "upgrade", "greeter")

    assert any(line.split()[:5] == ["greeter", "1.0.0", "1.1.0", "upgrade", "available"]
               for line in listed.splitlines()), listed
    assert upgraded.exit_code == 0, upgraded.output
    assert "add field greeting_card.sender" in upgraded.output
    assert shell.query("SELECT version FROM metacrm_packs") == [("1.1.0",)]
