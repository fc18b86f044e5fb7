"""Imports run the entity's duplicate rules on every row: a `block` rule fails a row that
duplicates a stored record or an earlier row of the file (its error names the match), a
`warn` rule lists the row in the warnings and imports it; an upsert of a record is not its
own duplicate; matches the importer may not read are counted, never named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api
from test_imports_api import URL, started, upload

from database_harness import postgres_schema, schema_url
from web_harness import role

CONTACT = entity("contact", field("name", required=True), field("email", "email"),
                 title_field="name")
BY_EMAIL = {"kind": "duplicate_rule", "name": "contact_by_email", "version": 1,
            "label": labels("By email"), "entity": "contact", "action": "block",
            "conditions": [{"field": "email", "normalise": ["email"]}]}
BY_NAME = {"kind": "duplicate_rule", "name": "contact_by_name", "version": 1,
           "label": labels("By name"), "entity": "contact", "action": "warn",
           "conditions": [{"field": "name", "normalise": ["case_spaces"]}]}
RIGHTS = {"read": "own", "create": "all", "update": "own", "import": "all"}
ROLES = (ADMIN_ROLE, role("importer", entities={"contact": RIGHTS}),
         role("clerk", entities={"contact": RIGHTS}))
MAPPING = {"columns": {"name": "name", "email": "email"}}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("import_duplicates")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    with ExitStack() as stack:
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        api = stack.enter_context(open_api(url, root, CONTACT, BY_EMAIL, BY_NAME, *ROLES))
        api.importer = api.user("ivan", "importer")
        yield api


def make(api: Api, headers: dict[str, str], **values: Any) -> dict[str, Any]:
    response = api.client.post("/api/v1/records/contact", json=values, headers=headers)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json()["data"])


def status_of(api: Api, data: dict[str, Any]) -> dict[str, Any]:
    response = api.client.get(f"{URL}/{data['id']}", headers=api.importer)
    return dict(response.get_json()["data"])


def emails(api: Api) -> list[str]:
    response = api.client.get("/api/v1/records/contact?limit=500", headers=api.admin)
    return sorted(r["email"] for r in response.get_json()["data"])


def test_rows_duplicating_stored_records_or_earlier_rows_are_blocked_or_warned(
        api: Api) -> None:
    mine = make(api, api.importer, name="Anna Lee", email="anna@example.com")
    make(api, api.admin, name="Secret", email="secret@example.com")  # ivan cannot read it
    content = ("name,email\n"
               "Boris,ANNA@Example.com\n"         # 2: blocked by Anna (stored)
               "Vera,vera@example.com\n"          # 3: imported
               "Vera Again,vera@example.com\n"    # 4: blocked by row 3
               "anna   lee,anna.lee@example.com\n"  # 5: warned (name of Anna), imported
               "Someone,secret@example.com\n")    # 6: blocked by a record ivan cannot see
    data = started(upload(api, api.importer, content.encode(), entity="contact",
                          mapping=MAPPING))

    status = status_of(api, data)
    assert status["counts"]["created"] == 2 and status["counts"]["failed"] == 3
    reasons = {error["row"]: error["reason"] for error in status["errors"]}
    assert f"duplicates Anna Lee ({mine['id']}) under rule contact_by_email" in reasons[2]
    assert reasons[4] == ("duplicates an earlier row of the file under rule "
                          "contact_by_email (row 3)")
    assert reasons[6] == "a duplicate exists that you cannot see"
    assert "Secret" not in " ".join(reasons.values())
    assert [(w["row"], w["reason"]) for w in status["warnings"]] == [
        (5, f"may duplicate Anna Lee ({mine['id']}) under rule contact_by_name")]
    assert emails(api) == ["anna.lee@example.com", "anna@example.com",
                           "secret@example.com", "vera@example.com"]


def test_an_upsert_is_not_its_own_duplicate(api: Api) -> None:
    make(api, api.importer, name="Olga", email="olga@example.com")
    data = started(upload(api, api.importer, b"name,email\nOlga Petrova,olga@example.com\n",
                          entity="contact", mode="upsert", key="email", mapping=MAPPING))
    assert status_of(api, data)["counts"]["updated"] == 1
    assert status_of(api, data)["errors"] == []
