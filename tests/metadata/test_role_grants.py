"""Role grants: a pack adds rights to a role another pack ships, merged at compilation."""

from __future__ import annotations

from typing import Any

from metadata_builders import (
    as_documents,
    compile_errors,
    compiled,
    document,
    entity,
    field,
    find,
    pipeline,
    transition,
)

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.metadata.compiler import compile_model

RIGHTS = {"read": "own", "create": "all", "update": "none", "delete": "none",
          "export": "none"}


def rep(**entities: Any) -> dict[str, Any]:
    return document("role", "rep", entities={
        "deal": {"read": "team", "create": "all", "update": "own", "delete": "none",
                 "export": "none"}, **entities}, transitions={"deal_flow": ["win"]})


def grant(name: str = "rep_email", role: str = "rep", **extra: Any) -> dict[str, Any]:
    return document("role_grant", name, role=role, **({"entities": {"email": RIGHTS}} | extra))


def world(*more: dict[str, Any]) -> list[dict[str, Any]]:
    return [entity("deal", field("title"), field("stage", "state", pipeline="deal_flow")),
            entity("email", field("subject")),
            pipeline("deal_flow", "deal", transitions=[
                transition("win", ["open"], "done"), transition("lose", ["open"], "done")]),
            *more]


def test_a_grant_adds_its_entity_to_the_role(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, *world(rep(), grant()))

    role = model.roles["rep"]
    assert (role.entities["email"].read, role.entities["email"].create) == ("own", "all")
    assert role.entities["deal"].update == "own"  # the role's own rights stay
    assert role.source.file == "test/rep.json"


def test_without_the_grant_the_role_has_no_such_right(registry: FieldTypeRegistry) -> None:
    """What uninstalling the granting pack amounts to: its grant is gone, so are the rights."""
    model = compiled(registry, *world(rep()))

    assert "email" not in model.roles["rep"].entities


def test_grant_transitions_add_to_the_role_s_own(registry: FieldTypeRegistry) -> None:
    model = compiled(registry, *world(rep(), grant(transitions={"deal_flow": ["lose"]})))

    assert model.roles["rep"].transitions["deal_flow"] == ("win", "lose")


def test_a_grant_shares_a_dashboard_of_another_pack_with_the_role(
        registry: FieldTypeRegistry) -> None:
    report = document("report", "r", entity="deal", metrics=[{"op": "count"}])
    shared = document("dashboard", "d", shared_with={"roles": ["boss"]},
                      widgets=[{"report": "r"}])
    everyone = document("dashboard", "e", widgets=[{"report": "r"}])
    boss = document("role", "boss", entities={"deal": RIGHTS})
    model = compiled(registry, *world(rep(), boss, report, shared, everyone,
                                      grant(dashboards=["d", "e"])))

    assert model.dashboards["d"].shared_with["roles"] == ("boss", "rep")
    assert not model.dashboards["e"].shared_with  # shared with everybody stays so


def test_an_unknown_role_entity_field_or_dashboard_is_reported_at_the_grant(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, *world(
        rep(),
        grant("to_nobody", role="repp"),
        grant("bad_entity", entities={"emial": RIGHTS}),
        grant("bad_field", entities={"email": RIGHTS | {"fields": {"subjct": "hidden"}}}),
        grant("bad_board", entities={"email": RIGHTS}, dashboards=["nope"])))

    assert find(errors, "test/to_nobody.json", "/role").message == (
        "unknown role 'repp' (did you mean 'rep'?)")
    assert "unknown entity 'emial'" in find(errors, "test/bad_entity.json",
                                            "/entities/emial").message
    assert "subjct" in find(errors, "test/bad_field.json",
                            "/entities/email/fields/subjct").message
    assert "unknown dashboard 'nope'" in find(errors, "test/bad_board.json",
                                              "/dashboards/0").message
    assert all(not e.source.endswith("rep.json") for e in errors)  # the role itself is fine


def test_a_grant_changing_the_role_s_own_rights_names_both_documents(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, *world(rep(email=RIGHTS | {"read": "all"}), grant()))

    message = find(errors, "test/rep_email.json", "/entities/email").message
    assert "role 'rep' (test/rep.json) already sets other rights for 'email'" in message


def test_the_same_rights_the_role_already_has_are_no_contradiction(
        registry: FieldTypeRegistry) -> None:
    """The same rights, even spelled with their defaults (an absent action is none)."""
    spelled = RIGHTS | {"import": "none", "rules": [], "fields": {}}
    model = compiled(registry, *world(rep(email=spelled), grant()))

    assert model.roles["rep"].entities["email"].read == "own"


def test_two_grants_disagreeing_on_an_entity_name_both_documents(
        registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, *world(
        rep(), grant("a_grant"), grant("b_grant", entities={"email": RIGHTS | {"read": "all"}})))

    message = find(errors, "test/b_grant.json", "/entities/email").message
    assert "role grant 'a_grant' (test/a_grant.json) already grants other rights" in message


def test_an_administrator_role_takes_no_grant(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, *world(
        document("role", "admin", admin=True), grant(role="admin")))

    assert "administrator role" in find(errors, "test/rep_email.json", "/role").message


def test_a_grant_of_another_pack_merges_into_an_admin_customised_role(
        registry: FieldTypeRegistry) -> None:
    """The role document an admin changed (the layer `init` keeps) is what the grant joins:
    the admin's change and the grant both hold."""
    customised = rep(deal={"read": "all", "create": "all", "update": "all", "delete": "none",
                           "export": "none"})
    documents = [*as_documents(*world(customised), pack="sales"),
                 *as_documents(grant(), pack="email")]

    role = compile_model(documents, registry).roles["rep"]

    assert (role.entities["deal"].read, role.entities["email"].read) == ("all", "own")


def test_a_malformed_grant_is_a_schema_error(registry: FieldTypeRegistry) -> None:
    errors = compile_errors(registry, *world(
        rep(), document("role_grant", "empty", role="rep"),
        grant("bad_scope", entities={"email": RIGHTS | {"read": "mine"}})))

    assert {e.source for e in errors} == {"test/empty.json", "test/bad_scope.json"}
