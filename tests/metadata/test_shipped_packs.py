"""The packs shipped in metadata/ compile with the real field types and cover them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.metadata.compiler import load_model
from metacrm.metadata.model import CompiledModel

METADATA = Path(__file__).resolve().parents[2] / "metadata"


@pytest.fixture(scope="module")
def model(registry: FieldTypeRegistry) -> CompiledModel:
    return load_model([METADATA], registry)


def test_contacts_and_sales_compile_cleanly(model: CompiledModel) -> None:
    packs = {name: entity.pack for name, entity in model.entities.items()}

    assert packs["person"] == packs["company"] == "contacts"
    assert {packs[name] for name in ("lead", "deal")} == {"sales"}
    assert model.pipelines["deal_pipeline"].entity == "deal"


def test_every_field_type_is_used(model: CompiledModel, registry: FieldTypeRegistry) -> None:
    used = {f.type for entity in model.entities.values() for f in entity.fields}

    assert set(registry.names()) <= used


def test_every_on_delete_rule_is_used(model: CompiledModel) -> None:
    rules = {f.option("on_delete") for entity in model.entities.values()
             for f in entity.fields if f.type == "reference"}

    assert {"restrict", "set_null", "cascade"} <= rules


def test_every_entity_has_a_list_and_a_form_view(model: CompiledModel) -> None:
    layouts = {(view.entity, view.type) for view in model.views.values()}

    assert {(name, kind) for name in model.entities for kind in ("list", "form")} <= layouts


def test_labels_exist_in_english_and_russian(model: CompiledModel) -> None:
    labelled = [entity.label for entity in model.entities.values()]
    labelled += [f.label for entity in model.entities.values() for f in entity.fields]
    labelled += [s.label for p in model.pipelines.values() for s in p.states]

    assert all(label.get("en") and label.get("ru") for label in labelled)


def test_roles_cover_scopes_and_administration(model: CompiledModel) -> None:
    rep, manager, admin = (model.roles[n] for n in ("sales_rep", "sales_manager", "admin"))

    assert {rep.entities["deal"].update, rep.entities["deal"].read} == {"own", "team"}
    assert manager.transitions["deal_pipeline"] == ("*",)
    assert admin.admin and not rep.admin


def test_deals_by_stage_sums_the_amount(model: CompiledModel) -> None:
    report = model.reports["deals_by_stage"]

    assert report.group_by == ("stage",)
    assert [(m["op"], m["field"]) for m in report.metrics] == [("count", None),
                                                               ("sum", "amount")]


def test_a_task_reminds_its_owner_of_the_due_time_or_date_until_it_is_finished(
        model: CompiledModel) -> None:
    by_date, by_time = model.entities["task"].reminders
    finished = {"field": "status", "op": "in", "value": ["done", "cancelled"]}

    assert (by_date.field, by_date.to) == ("due_date", ("owner",))
    assert by_date.unless == {"or": [finished, {"field": "due_at", "op": "is_null",
                                                "value": False}]}
    assert (by_time.field, by_time.to, by_time.unless) == ("due_at", ("owner",), finished)


def test_the_email_packs_grant_the_sales_and_service_roles_their_mail(
        model: CompiledModel) -> None:
    roles = model.roles
    scopes = {name: (roles[name].entities["email_message"].read,
                     roles[name].entities["email_message"].create)
              for name in ("sales_rep", "sales_manager", "service_agent", "service_manager")}

    assert scopes == {"sales_rep": ("own", "all"), "sales_manager": ("all", "all"),
                      "service_agent": ("own", "all"), "service_manager": ("all", "all")}
    assert "service_mail_agent" in model.dashboards["service_overview"].shared_with["roles"]
    assert "email_message" not in roles["knowledge_reader"].entities


def test_sales_without_the_email_pack_has_no_email_rights(registry: FieldTypeRegistry) -> None:
    packs = [METADATA / name for name in ("contacts", "tasks", "activities", "sales")]

    role = load_model(packs, registry).roles["sales_rep"]

    assert "email_message" not in role.entities and "deal" in role.entities
