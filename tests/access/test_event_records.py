"""Records carried by events are judged like reads: row scope (with rules) and hidden fields."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from metacrm.access.event_records import python_record, readable_record, visible_values
from metacrm.access.policy import AccessPolicy
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes import default_registry
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document

LABEL = {"en": "L", "ru": "L"}
CHOICES = [{"value": "eu", "label": LABEL}, {"value": "us", "label": LABEL}]
DEAL = {"kind": "entity", "name": "deal", "version": 1, "label": LABEL, "plural_label": LABEL,
        "fields": [{"name": "title", "type": "text", "label": LABEL},
                   {"name": "amount", "type": "decimal", "label": LABEL},
                   {"name": "cost", "type": "money", "currency": "EUR", "label": LABEL},
                   {"name": "closes", "type": "date", "label": LABEL},
                   {"name": "region", "type": "picklist", "choices": CHOICES,
                    "label": LABEL}]}


def role(name: str, **body: Any) -> dict[str, Any]:
    return {"kind": "role", "name": name, "version": 1, "label": LABEL, **body}


ROLES = [
    role("seller", entities={"deal": {"read": "own", "fields": {"cost": "hidden"}}}),
    role("big_deals", entities={"deal": {
        "read": "all", "rules": [{"field": "amount", "op": "gte", "value": "1000"}]}}),
    role("fresh", entities={"deal": {
        "read": "all", "rules": [{"field": "created_at", "op": "gte",
                                  "value": {"$today": {"days": -1}}}]}}),
    role("boss", admin=True),
    role("nobody"),
]


@pytest.fixture(scope="module")
def policy() -> AccessPolicy:
    registry = default_registry()
    documents = [Document.from_body(b, source=f"{b['name']}.json", pack="t")
                 for b in (DEAL, *ROLES)]
    return AccessPolicy(compile_model(documents, registry), registry)


def subject(*roles: str, user: str = "u1") -> AccessSubject:
    return AccessSubject(user, user, roles)


def record(**values: Any) -> dict[str, Any]:
    return {"id": "r1", "version": 1, "owner": "u1", "created_by": "u1", "updated_by": "u1",
            "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:00:00Z",
            "title": "T", "amount": "10.00", "cost": {"amount": "3.00", "currency": "EUR"},
            "closes": "2024-06-30", "region": "eu", **values}


def test_a_json_record_reads_back_into_python_values(policy: AccessPolicy) -> None:
    values = python_record(policy.entity("deal"), policy.registry,
                           {**record(), "gone": "a field the entity no longer has"})
    assert values is not None
    assert values["amount"] == Decimal("10.00")
    assert values["created_at"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert str(values["closes"]) == "2024-06-30"
    assert "gone" not in values
    assert python_record(policy.entity("deal"), policy.registry,
                         record(amount="not a number")) is None


def test_row_scope_decides_who_may_read_the_record(policy: AccessPolicy) -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    mine = record()
    assert readable_record(policy, subject("seller"), "deal", mine)
    assert not readable_record(policy, subject("seller", user="u2"), "deal", mine)
    assert not readable_record(policy, subject("big_deals"), "deal", mine)
    assert readable_record(policy, subject("big_deals"), "deal", record(amount="1000"))
    assert readable_record(policy, subject("fresh"), "deal", mine, now=now)
    assert not readable_record(policy, subject("fresh"), "deal", mine,
                               now=datetime(2024, 5, 9, tzinfo=UTC))
    assert readable_record(policy, subject("boss", user="u9"), "deal", mine)
    assert not readable_record(policy, subject("nobody"), "deal", mine)


def test_a_record_whose_values_no_longer_fit_is_not_readable_under_rules(
    policy: AccessPolicy,
) -> None:
    broken = record(amount="ten thousand")
    assert not readable_record(policy, subject("big_deals"), "deal", broken)
    assert readable_record(policy, subject("boss"), "deal", broken), "admins read all"


def test_hidden_and_unknown_fields_are_left_out(policy: AccessPolicy) -> None:
    shown = visible_values(policy, subject("seller"), "deal", {**record(), "chain": {}})
    assert "cost" not in shown and "chain" not in shown
    assert shown["amount"] == "10.00" and shown["owner"] == "u1"
    assert "cost" in visible_values(policy, subject("boss"), "deal", record())
    assert visible_values(policy, subject("seller"), "deal", {"cost": None}) == {}
