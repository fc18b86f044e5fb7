"""Role metadata interpreted at runtime: scopes, unions, admin roles, field security."""

from __future__ import annotations

from typing import Any

import pytest

from metacrm.access.policy import AccessPolicy
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes import default_registry
from metacrm.kernel.errors import NotFound
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document

LABEL = {"en": "L", "ru": "L"}
DEAL = {"kind": "entity", "name": "deal", "version": 1, "label": LABEL, "plural_label": LABEL,
        "fields": [{"name": n, "type": "text", "label": LABEL}
                   for n in ("title", "cost", "notes", "code")]}
NOTE = {"kind": "entity", "name": "note", "version": 1, "label": LABEL, "plural_label": LABEL,
        "fields": [{"name": "text", "type": "text", "label": LABEL}]}


def role(name: str, **body: Any) -> dict[str, Any]:
    return {"kind": "role", "name": name, "version": 1, "label": LABEL, **body}


ROLES = [
    role("seller", entities={"deal": {
        "read": "own", "create": "own", "update": "own",
        "rules": [{"field": "title", "op": "ne", "value": "x"}],
        "fields": {"cost": "hidden", "notes": "read_only"}}}),
    role("viewer", entities={"deal": {"read": "all", "fields": {"cost": "hidden",
                                                                "code": "hidden"}}}),
    role("editor", entities={"deal": {"read": "team", "update": "team",
                                      "fields": {"notes": "hidden"}}}),
    role("intake", entities={"deal": {"create": "all", "fields": {"code": "hidden"}}}),
    role("boss", admin=True, entities={"deal": {"read": "own"}}),
]


@pytest.fixture(scope="module")
def policy() -> AccessPolicy:
    registry = default_registry()
    documents = [Document.from_body(b, source=f"{b['name']}.json", pack="t")
                 for b in (DEAL, NOTE, *ROLES)]
    return AccessPolicy(compile_model(documents, registry), registry)


def subject(*roles: str) -> AccessSubject:
    return AccessSubject("u1", "u1", roles)


def test_each_operation_gets_the_roles_scope_and_rules(policy: AccessPolicy) -> None:
    read = policy.scope(subject("seller"), "deal", "read")
    assert (read.allowed, read.widest, read.roles) == (True, "own", ("seller",))
    assert read.grants[0].rules == ({"field": "title", "op": "ne", "value": "x"},)
    assert not policy.scope(subject("seller"), "deal", "delete").allowed
    assert policy.scope(subject("seller"), "deal", "delete").widest == "none"


def test_several_roles_unite_their_grants(policy: AccessPolicy) -> None:
    read = policy.scope(subject("seller", "editor"), "deal", "read")
    assert read.widest == "team"
    assert sorted(read.roles) == ["editor", "seller"]
    assert not read.unrestricted
    assert policy.scope(subject("seller", "viewer"), "deal", "read").unrestricted


def test_a_role_not_listing_an_entity_and_unknown_roles_grant_nothing(
    policy: AccessPolicy,
) -> None:
    assert not policy.scope(subject("seller"), "note", "read").allowed
    assert not policy.scope(subject("ghost"), "deal", "read").allowed
    with pytest.raises(NotFound):
        policy.scope(subject("seller"), "nothing", "read")


def test_admin_roles_get_all_on_everything_and_every_field(policy: AccessPolicy) -> None:
    boss = subject("boss")
    for entity in ("deal", "note"):
        for operation in ("read", "create", "update", "delete", "export"):
            scope = policy.scope(boss, entity, operation)
            assert scope.unrestricted and scope.grants[0].admin
    assert policy.field_access(boss, "deal").hidden == frozenset()
    # the flag on the subject alone decides nothing: roles do
    assert not policy.scope(AccessSubject("u", "u", (), is_admin=True), "deal", "read").allowed


def test_a_field_is_hidden_only_when_every_reading_role_hides_it(policy: AccessPolicy) -> None:
    assert policy.field_access(subject("seller"), "deal").hidden == {"cost"}
    assert policy.field_access(subject("viewer"), "deal").hidden == {"cost", "code"}
    assert policy.field_access(subject("seller", "viewer"), "deal").hidden == {"cost"}
    assert policy.field_access(subject("seller", "editor"), "deal").hidden == frozenset()
    # no role reads: the roles granting anything decide (a create-only role fills fields in)
    assert policy.field_access(subject("intake"), "deal").hidden == {"code"}
    assert policy.field_access(subject("ghost"), "deal").hidden == {
        "title", "cost", "notes", "code"}


def test_read_only_follows_the_roles_that_may_write(policy: AccessPolicy) -> None:
    seller = policy.field_access(subject("seller"), "deal")
    assert seller.read_only == {"cost", "notes"}
    assert seller.read_only_on_create == {"cost", "notes"}
    both = policy.field_access(subject("seller", "editor"), "deal")
    # cost: the editor may write it; notes: read-only for the seller, hidden for the editor
    assert both.read_only == {"notes"}
    viewer = policy.field_access(subject("viewer"), "deal")
    assert viewer.read_only == {"title", "cost", "notes", "code"}  # no role updates
    assert policy.field_access(subject("intake"), "deal").read_only_on_create == {"code"}


def test_the_visible_entity_lacks_hidden_fields(policy: AccessPolicy) -> None:
    visible = policy.visible_entity(subject("viewer"), "deal")
    assert visible.field_names == ("title", "notes")
    assert visible.field("cost") is None
    assert policy.visible_entity(subject("boss"), "deal").field_names == (
        "title", "cost", "notes", "code")
