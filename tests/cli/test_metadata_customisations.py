"""Admins' changes survive `metacrm init` and pack upgrades, and travel from a test
instance to production (`metadata export` + `apply --customisations`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_metadata_commands import WEBSITE, Workspace, company_document, label

from database_harness import postgres_schema, schema_url
from metacrm.fieldtypes import default_registry
from metacrm.metadata.documents import Document
from metacrm.services.metadata.service import MetadataService
from metacrm.storage.engine import create_database_engine

PHONE = {"name": "phone", "type": "phone", "label": label("Phone", "Телефон")}
REGION = {"name": "region", "type": "text", "label": label("Region", "Регион")}


@contextmanager
def metadata_service(workspace: Workspace) -> Iterator[MetadataService]:
    engine = create_database_engine(workspace.database_url)
    try:
        yield MetadataService(engine, default_registry())
    finally:
        engine.dispose()


def admin_changes(workspace: Workspace, change: Any) -> None:
    """What the designer does: read the live documents, change them, apply as the admin."""
    with metadata_service(workspace) as service:
        live = service.live()
        documents = [
            Document.from_body(change(json.loads(json.dumps(_plain(d.body)))), source=d.source,
                               pack=d.pack) if d.name == "company" else d
            for d in service.live_documents()
        ]
        assert service.apply(documents, author="admin", comment="designer",
                             expected_version=live.number) is not None


def _plain(value: Any) -> Any:
    if isinstance(value, dict | type({}.items())):
        return dict(value)
    return value


def company_fields(workspace: Workspace) -> list[str]:
    with metadata_service(workspace) as service:
        return [f.name for f in service.current_model().entity("company").fields]  # type: ignore[union-attr]


def add_field(field: dict[str, Any]) -> Any:
    def change(body: dict[str, Any]) -> dict[str, Any]:
        body["fields"] = [*body["fields"], field]
        return body
    return change


@pytest.fixture
def initialised(tmp_path: Path, isolated_database_url: str) -> Workspace:
    workspace = Workspace(tmp_path / "packs", isolated_database_url)
    workspace.write("company.json", company_document())
    assert workspace.run("init").exit_code == 0
    return workspace


def test_a_field_added_in_the_designer_survives_init(initialised: Workspace) -> None:
    admin_changes(initialised, add_field(REGION))
    result = initialised.run("init")
    assert result.exit_code == 0, result.output
    assert "region" in company_fields(initialised)
    assert "region" in initialised.columns("crm_company")


def test_init_merges_a_pack_upgrade_with_the_designer_change(initialised: Workspace) -> None:
    admin_changes(initialised, add_field(REGION))
    initialised.write("company.json", company_document(WEBSITE))   # the pack's new version
    plan = initialised.run("metadata", "plan")
    assert plan.exit_code == 0, plan.output
    assert "Customisations kept:" in plan.output and "changed entity company" in plan.output
    assert initialised.run("init").exit_code == 0
    assert company_fields(initialised) == ["title", "region", "website"]


def test_a_conflict_is_reported_and_nothing_applied_until_a_side_is_chosen(
        initialised: Workspace) -> None:
    def relabel(body: dict[str, Any]) -> dict[str, Any]:
        body["fields"][0]["label"]["en"] = "Company name"
        return body

    admin_changes(initialised, relabel)
    upgraded = company_document()
    upgraded["fields"][0]["label"]["en"] = "Legal name"
    initialised.write("company.json", upgraded)
    before = initialised.run("metadata", "history").output
    refused = initialised.run("init")
    assert refused.exit_code == 1
    assert "entity company /fields/0/label/en" in refused.output
    assert "'Company name'" in refused.output and "'Legal name'" in refused.output
    assert initialised.run("metadata", "history").output == before
    assert initialised.run("init", "--take", "admin").exit_code == 0
    with metadata_service(initialised) as service:
        company = service.current_model().entity("company")
        assert company is not None and company.field("title").label["en"] == "Company name"


@pytest.fixture
def second_database_url(tmp_path: Path, database_url: str) -> Iterator[str]:
    """Another empty database: the production instance the change is promoted to."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'production.db'}"
        return
    with postgres_schema(database_url) as schema:
        yield schema_url(database_url, schema)


def test_export_and_apply_reproduce_the_change_on_a_second_database(
        initialised: Workspace, tmp_path: Path, second_database_url: str) -> None:
    admin_changes(initialised, add_field(PHONE))
    exported = tmp_path / "exported"
    result = initialised.run("metadata", "export", str(exported))
    assert result.exit_code == 0, result.output
    assert json.loads((exported / "entity" / "company.json").read_text())["fields"][-1] == PHONE

    production = Workspace(tmp_path / "production", second_database_url)
    production.write("company.json", company_document())
    assert production.run("init").exit_code == 0
    planned = production.run("metadata", "plan", "--customisations", str(exported))
    assert planned.exit_code == 0 and "phone" in planned.output
    applied = production.run("metadata", "apply", "--customisations", str(exported))
    assert applied.exit_code == 0, applied.output
    assert "phone" in production.columns("crm_company")
    # On production the phone field is now a customisation too: the next init keeps it.
    assert production.run("init").exit_code == 0
    assert "phone" in company_fields(production)


def test_export_refuses_a_folder_holding_something_else(initialised: Workspace,
                                                        tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    result = initialised.run("metadata", "export", str(tmp_path / "notes"))
    assert result.exit_code == 1
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_a_broken_export_names_the_file_and_pointer(initialised: Workspace,
                                                    tmp_path: Path) -> None:
    admin_changes(initialised, add_field(PHONE))
    exported = tmp_path / "exported"
    assert initialised.run("metadata", "export", str(exported)).exit_code == 0
    broken = json.loads((exported / "entity" / "company.json").read_text())
    broken["fields"][-1]["type"] = 42
    (exported / "entity" / "company.json").write_text(json.dumps(broken))
    result = initialised.run("metadata", "apply", "--customisations", str(exported))
    assert result.exit_code == 1
    assert "company.json /fields/1/type" in result.output

