"""Moving the live metadata onto a new baseline in one transaction: packs installed,
upgraded and removed under admins' customisations — and a removed pack's fields coming back
with their data."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from test_metadata_service import columns, company, insert_company, label

from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.kernel.errors import MetadataConflict
from metacrm.metadata.documents import Document
from metacrm.services.metadata.service import MetadataService


def extension(*fields: dict[str, Any]) -> Document:
    body = {"kind": "entity_extension", "version": 1, "name": "crm_rating", "entity": "company",
            "fields": [{"label": label(f["name"]), **f} for f in fields]}
    return Document.from_body(body, source="rating/crm_rating.json", pack="rating")


RATING = {"name": "rating", "type": "integer"}


@pytest.fixture
def registry() -> FieldTypeRegistry:
    return default_registry()


@pytest.fixture
def service(engine: sa.Engine, registry: FieldTypeRegistry) -> MetadataService:
    service = MetadataService(engine, registry)
    service.initialize()
    return service


def ratings(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        return dict(connection.execute(sa.text("SELECT id, rating FROM crm_company")).all())


def test_a_pack_field_comes_back_with_its_data_after_uninstall_and_install(
        service: MetadataService, engine: sa.Engine) -> None:
    service.rebase_onto([company(), extension(RATING)], author="cli", comment="install")
    insert_company(engine, "c1", title="Acme", rating=5)

    removed = service.rebase_onto([company()], author="cli", comment="uninstall rating",
                                  confirm_destructive=True, archive_origin="pack rating")
    assert removed is not None and "rating" not in columns(engine)
    assert any(name.endswith("_rating") for name in columns(engine))  # archived, kept

    plan = service.plan_rebase([company(), extension(RATING)])
    assert "restore field company.rating" in plan.describe()
    again = service.rebase_onto([company(), extension(RATING)], author="cli", comment="again")
    assert again is not None and not again.plan.destructive
    assert ratings(engine) == {"c1": 5}
    assert not any(name.startswith("arch_") for name in columns(engine))


def test_a_field_that_comes_back_with_another_type_starts_empty(
        service: MetadataService, engine: sa.Engine) -> None:
    service.rebase_onto([company(), extension(RATING)], author="cli", comment="install")
    insert_company(engine, "c1", title="Acme", rating=5)
    service.rebase_onto([company()], author="cli", comment="uninstall", confirm_destructive=True,
                        archive_origin="pack rating")
    service.rebase_onto([company(), extension({"name": "rating", "type": "text"})],
                        author="cli", comment="reinstall, changed")
    assert ratings(engine) == {"c1": None}
    assert any(name.startswith("arch_") for name in columns(engine))  # the old data stays


def test_a_field_an_admin_removed_is_not_restorable(service: MetadataService,
                                                   engine: sa.Engine) -> None:
    service.rebase_onto([company(RATING)], author="cli", comment="install")
    insert_company(engine, "c1", title="Acme", rating=5)
    service.apply([company()], author="admin", confirm_destructive=True)
    service.apply([company(RATING)], author="admin")
    assert ratings(engine) == {"c1": None}


def test_within_runs_in_the_same_transaction(service: MetadataService,
                                             engine: sa.Engine) -> None:
    service.rebase_onto([company()], author="cli", comment="install")

    def failing_step(connection: sa.Connection, number: int) -> None:
        connection.execute(sa.text("INSERT INTO crm_company (id, version, created_at, "
                                   "updated_at, title) VALUES ('x', 1, CURRENT_TIMESTAMP, "
                                   "CURRENT_TIMESTAMP, 'written by the step')"))
        raise RuntimeError("the data migration failed")

    with pytest.raises(Exception, match="the data migration failed"):
        service.rebase_onto([company(), extension(RATING)], author="cli", comment="upgrade",
                            within=failing_step)
    assert "rating" not in columns(engine)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM crm_company")).scalar() == 0
    assert [v.number for v in service.history()] == [1]


def test_conflicts_refuse_and_take_resolves(service: MetadataService) -> None:
    service.rebase_onto([company()], author="cli", comment="install")
    service.apply([company(title="Company name")], author="admin")
    with pytest.raises(MetadataConflict) as refused:
        service.rebase_onto([company(title="Legal name")], author="cli", comment="upgrade")
    assert refused.value.status == 409
    assert [(e.source, e.pointer) for e in refused.value.errors] == [
        ("entity company", "/fields/0/label/en"), ("entity company", "/fields/0/label/ru")]
    service.rebase_onto([company(title="Legal name")], author="cli", comment="upgrade",
                        take="pack")
    assert service.current_model().entity("company").field("title").label["en"] == "Legal name"  # type: ignore[union-attr]
    assert service.customisations() == []


def writer_role(company_read: str) -> Document:
    body = {"kind": "role", "name": "writer", "version": 1, "label": label("Writer"),
            "entities": {"company": {"read": company_read}}}
    return Document.from_body(body, source="crm/writer.json", pack="crm")


def note_pack() -> list[Document]:
    note = {"kind": "entity", "name": "note", "version": 1, "label": label("Note"),
            "fields": [{"name": "body", "type": "text", "label": label("Body")}]}
    grant = {"kind": "role_grant", "name": "writer_notes", "version": 1, "role": "writer",
             "entities": {"note": {"read": "own", "create": "all"}}}
    return [Document.from_body(note, source="notes/note.json", pack="notes"),
            Document.from_body(grant, source="notes/writer_notes.json", pack="notes")]


def test_a_pack_s_role_grant_joins_an_admin_customised_role_and_leaves_with_the_pack(
        service: MetadataService) -> None:
    service.rebase_onto([company(), writer_role("own")], author="cli", comment="install")
    service.apply([company(), writer_role("all")], author="admin")  # the admin widens it

    service.rebase_onto([company(), writer_role("own"), *note_pack()], author="cli",
                        comment="install notes")
    role = service.current_model().roles["writer"]
    assert (role.entities["company"].read, role.entities["note"].read) == ("all", "own")
    assert [(c.kind, c.name, c.change) for c in service.customisations()] == [
        ("role", "writer", "changed")]

    service.rebase_onto([company(), writer_role("own")], author="cli",
                        comment="uninstall notes", confirm_destructive=True)
    role = service.current_model().roles["writer"]
    assert role.entities["company"].read == "all" and "note" not in role.entities
