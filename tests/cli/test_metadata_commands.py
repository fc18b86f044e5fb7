"""The `metacrm` command as an admin uses it: validate, init, plan, apply, history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from metacrm.cli.main import main
from metacrm.storage.engine import create_database_engine


def label(en: str, ru: str) -> dict[str, str]:
    return {"en": en, "ru": ru}


def company_document(*extra_fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "entity",
        "version": 1,
        "name": "company",
        "label": label("Company", "Компания"),
        "plural_label": label("Companies", "Компании"),
        "fields": [
            {"name": "title", "type": "text", "label": label("Name", "Название"), "required": True},
            *extra_fields,
        ],
    }


WEBSITE = {"name": "website", "type": "url", "label": label("Website", "Сайт")}


class Workspace:
    """A pack root on disk plus the environment the command runs with."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.pack = root / "crm"
        self.pack.mkdir(parents=True)
        self.database_url = database_url
        self.env = {
            "METACRM_DATABASE_URL": database_url,
            "METACRM_METADATA_PATH": str(root),
            "METACRM_INSTANCE_PATH": str(root / "instance"),
        }

    def write(self, name: str, document: dict[str, Any] | str) -> Path:
        path = self.pack / name
        text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
        path.write_text(text, encoding="utf-8")
        return path

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=False)

    def columns(self, table: str) -> set[str]:
        engine = create_database_engine(self.database_url)
        try:
            return {c["name"] for c in sa.inspect(engine).get_columns(table)}
        finally:
            engine.dispose()

    def execute(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        engine = create_database_engine(self.database_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(sql), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()


@pytest.fixture
def workspace(tmp_path: Path, isolated_database_url: str) -> Workspace:
    return Workspace(tmp_path / "packs", isolated_database_url)


def test_validate_names_file_and_pointer_of_every_error(workspace: Workspace) -> None:
    broken = company_document({"name": "size", "type": "integr", "label": label("Size", "Размер")})
    broken_path = workspace.write("company.json", broken)
    bad_json_path = workspace.write("person.json", '{"kind": "entity",')

    result = workspace.run("metadata", "validate")

    assert result.exit_code == 1
    assert str(broken_path) in result.output
    assert "/fields/1/type" in result.output
    assert str(bad_json_path) in result.output  # both files reported, not the first only


def test_validate_accepts_the_shipped_packs() -> None:
    result = CliRunner().invoke(main, ["metadata", "validate"], env={"METACRM_METADATA_PATH": ""})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")


def test_adding_a_field_adds_a_real_column_and_keeps_rows(workspace: Workspace) -> None:
    workspace.write("company.json", company_document())
    assert workspace.run("init").exit_code == 0
    workspace.execute(
        "INSERT INTO crm_company (id, created_at, updated_at, version, title)"
        " VALUES ('c1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 'Acme')"
    )

    workspace.write("company.json", company_document(WEBSITE))
    plan = workspace.run("metadata", "plan")
    assert plan.exit_code == 0
    assert "website" in plan.output
    applied = workspace.run("metadata", "apply", "--comment", "add website")

    assert applied.exit_code == 0, applied.output
    assert "website" in workspace.columns("crm_company")
    assert [tuple(r) for r in workspace.execute("SELECT id, title FROM crm_company")] == [
        ("c1", "Acme")
    ]
    history = workspace.run("metadata", "history")
    assert history.output.index("add website") < history.output.index("metacrm init")


def test_removing_a_field_needs_confirmation_and_keeps_the_data(workspace: Workspace) -> None:
    workspace.write("company.json", company_document(WEBSITE))
    workspace.run("init")
    workspace.execute(
        "INSERT INTO crm_company (id, created_at, updated_at, version, title, website)"
        " VALUES ('c1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 'Acme', 'https://acme.test')"
    )
    workspace.write("company.json", company_document())

    refused = workspace.run("metadata", "apply")
    assert refused.exit_code == 1
    assert "website" in refused.output
    assert "--confirm-destructive" in refused.output
    assert "website" in workspace.columns("crm_company")  # nothing applied

    confirmed = workspace.run("metadata", "apply", "--confirm-destructive")
    assert confirmed.exit_code == 0, confirmed.output
    columns = workspace.columns("crm_company")
    assert "website" not in columns
    archived = [c for c in columns if c.startswith("arch_") and c.endswith("website")]
    assert len(archived) == 1
    kept = workspace.execute(f"SELECT {archived[0]} FROM crm_company WHERE id = 'c1'")
    assert kept[0][0] == "https://acme.test"


def test_init_twice_is_a_no_op(workspace: Workspace) -> None:
    workspace.write("company.json", company_document())
    assert workspace.run("init").exit_code == 0
    second = workspace.run("init")
    assert second.exit_code == 0
    assert "up to date" in second.output
    assert workspace.run("metadata", "history").output.count("metacrm init") == 1


def test_init_creates_every_system_table_the_web_app_needs(workspace: Workspace) -> None:
    workspace.write("company.json", company_document())
    assert workspace.run("init").exit_code == 0
    engine = create_database_engine(workspace.database_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "metacrm_metadata_versions", "metacrm_audit", "metacrm_outbox", "metacrm_teams",
        "metacrm_idempotency_keys", "crm_company",
    } <= tables


def test_plan_and_apply_check_trigger_actions_like_the_web_api(workspace: Workspace) -> None:
    workspace.write("company.json", company_document())
    workspace.write("greet.json", {
        "kind": "trigger", "version": 1, "name": "greet", "label": label("Greet", "Привет"),
        "entity": "company", "event": "created",
        "actions": [{"type": "set_fields", "params": {"values": {"titel": "x"}}},
                    {"type": "send_telegram"}],
    })

    for command in (("metadata", "plan"), ("metadata", "apply"), ("init",)):
        result = workspace.run(*command)

        assert result.exit_code == 1, command
        assert "/actions/0/params/values/titel" in result.output
        assert "send_telegram" in result.output
    assert "No metadata version applied yet" in workspace.run("metadata", "history").output
