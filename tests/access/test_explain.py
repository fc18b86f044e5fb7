"""Explanations: which role, scope and rule grant or deny each operation and field."""

from __future__ import annotations

from typing import Any

import pytest

from metacrm.access.policy import AccessPolicy
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes import default_registry
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document

LABEL = {"en": "L", "ru": "L"}
DEAL = {"kind": "entity", "name": "deal", "version": 1, "label": LABEL, "plural_label": LABEL,
        "fields": [{"name": "title", "type": "text", "label": LABEL},
                   {"name": "amount", "type": "integer", "label": LABEL},
                   {"name": "cost", "type": "integer", "label": LABEL},
                   {"name": "code", "type": "auto_number", "label": LABEL}]}
SMALL = {"field": "amount", "op": "lt", "value": 100}


def role(name: str, **body: Any) -> dict[str, Any]:
    return {"kind": "role", "name": name, "version": 1, "label": LABEL, **body}


@pytest.fixture(scope="module")
def policy() -> AccessPolicy:
    registry = default_registry()
    bodies = [DEAL,
              role("junior", entities={"deal": {"read": "team", "update": "own",
                                                "rules": [SMALL],
                                                "fields": {"cost": "hidden"}}}),
              role("viewer", entities={"deal": {"read": "all",
                                                "fields": {"cost": "hidden",
                                                           "amount": "read_only"}}}),
              role("root", admin=True)]
    documents = [Document.from_body(b, source=f"{b['name']}.json", pack="t") for b in bodies]
    return AccessPolicy(compile_model(documents, registry), registry)


def test_operations_name_the_roles_scopes_and_rules(policy: AccessPolicy) -> None:
    why = policy.explain(AccessSubject("u1", "u1", ("junior", "ghost")), "deal")
    read, delete = why["operations"]["read"], why["operations"]["delete"]
    assert (read["allowed"], read["scope"], read["granted_by"]) == (True, "team", ["junior"])
    assert read["grants"][0]["rules"] == [SMALL]
    assert (delete["allowed"], delete["scope"], delete["granted_by"]) == (False, "none", [])
    assert {r["role"]: r["known"] for r in why["roles"]} == {"ghost": False, "junior": True}


def test_a_record_shows_which_owner_check_or_rule_keeps_it_out(policy: AccessPolicy) -> None:
    junior = AccessSubject("u1", "u1", ("junior",), team_ids=("t",),
                           team_user_ids=("u1", "u2"))
    teammates_big_deal = {"id": "r1", "owner": "u2", "amount": 500, "title": "x"}
    why = policy.explain(junior, "deal", teammates_big_deal)
    assert why["record_id"] == "r1"
    read = why["operations"]["read"]["grants"][0]["record"]
    assert read == {"inside": False, "owner_matches": True,
                    "failed_rule": {"index": 0, "rule": SMALL}}
    update = why["operations"]["update"]
    assert update["record_inside"] is False
    assert update["grants"][0]["record"]["owner_matches"] is False  # own: u2 is not u1
    small = policy.explain(junior, "deal", {**teammates_big_deal, "amount": 5})
    assert small["operations"]["read"]["allowed"] is True
    assert small["operations"]["update"]["allowed"] is False


def test_fields_say_visible_hidden_or_read_only_and_who_decides(policy: AccessPolicy) -> None:
    fields = policy.explain(AccessSubject("u1", "u1", ("junior", "viewer")), "deal")["fields"]
    assert fields["cost"]["access"] == "hidden"
    assert sorted(fields["cost"]["decided_by"]) == ["junior", "viewer"]
    assert fields["amount"] == {
        "access": "visible", "decided_by": ["junior", "viewer"],
        "reason": "visible through junior, viewer; writable through junior"}
    assert fields["code"]["note"].startswith("the field itself is read-only")
    viewer_only = policy.explain(AccessSubject("u1", "u1", ("viewer",)), "deal")["fields"]
    assert viewer_only["amount"]["access"] == "read_only"


def test_admin_roles_explain_themselves(policy: AccessPolicy) -> None:
    why = policy.explain(AccessSubject("u1", "u1", ("root",)), "deal", {"id": "r", "owner": None})
    assert why["admin_roles"] == ["root"]
    assert all(op["allowed"] and op["granted_by"] == ["root"]
               for op in why["operations"].values())
    assert {f["access"] for f in why["fields"].values()} == {"visible"}
