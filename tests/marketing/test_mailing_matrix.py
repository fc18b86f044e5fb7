"""The permission matrix of mailing paths: who may read recipient rows (records API list
and get), a mailing's progress, and act on it; and the public tracking routes, which
answer the same to everyone and name nothing for a bad token."""

from __future__ import annotations

from typing import Any

import pytest
from mailing_world import MailingWorld, world

from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from web_harness import PASSWORD, bearer

__all__ = ["world"]


@pytest.fixture(scope="module")
def seeded(world: MailingWorld) -> dict[str, Any]:
    with world.web.app.app_context():
        state = identity_state()
        model = state.metadata.live().model
        for username, role_name in (("max", "marketer"), ("ola", "sales_rep")):
            create_user(state.appbuilder, model, username=username, role=role_name,
                        password=PASSWORD, email=f"{username}@ourco.example")
    people = world.persons("matrix", 3)
    world.grant(people)
    mailing = world.mailing(world.segment("matrix", "Matrix"))
    world.send(mailing["id"])
    system = world.services.records.runtime().system
    with world.services.engine.connect() as conn:
        rows = system.query(conn, "mailing_recipient", limit=10, criteria={
            "field": "mailing", "op": "eq", "value": mailing["id"]}).records
    return {"mailing": mailing["id"], "recipient": str(rows[0]["id"]),
            "headers": {"root": world.root, "mia": world.mia,
                        "max": bearer(world.web.login("max", PASSWORD)),
                        "ola": bearer(world.web.login("ola", PASSWORD))}}


# user -> (recipient rows listed, recipient get, progress, pause a mia's mailing)
MATRIX = {
    "root": (3, 200, 200, 409),   # may act; a sent mailing cannot be paused
    "mia": (3, 200, 200, 409),
    "max": (3, 200, 200, 403),    # a marketer reads all mailings, changes only their own
    "ola": (None, 403, 403, 403),  # no rights on mailings
}


@pytest.mark.parametrize("user", sorted(MATRIX))
def test_mailing_read_and_action_paths(world: MailingWorld, seeded: dict[str, Any],
                                       user: str) -> None:
    listed, got, progress, pause = MATRIX[user]
    headers = seeded["headers"][user]
    client = world.web.client
    mailing = seeded["mailing"]
    answer = client.get("/api/v1/records/mailing_recipient", headers=headers)
    if listed is None:
        assert answer.status_code == 403
    else:
        assert answer.status_code == 200, answer.get_json()
        assert len(answer.get_json()["data"]) == listed
    assert client.get(f"/api/v1/records/mailing_recipient/{seeded['recipient']}",
                      headers=headers).status_code == got
    assert client.get(f"/api/v1/records/mailing/{mailing}/progress",
                      headers=headers).status_code == progress
    assert client.post(f"/api/v1/records/mailing/{mailing}/pause",
                       headers=headers).status_code == pause


@pytest.mark.parametrize("path, method, status", [
    ("/m/o/not-a-token", "GET", 200),
    ("/m/c/not-a-token", "GET", 404),
    ("/m/u/not-a-token", "GET", 404),
    ("/m/u/not-a-token", "POST", 404),
])
def test_public_routes_refuse_bad_tokens_to_everyone(world: MailingWorld,
                                                     seeded: dict[str, Any], path: str,
                                                     method: str, status: int) -> None:
    for headers in ({}, seeded["headers"]["root"]):
        answer = world.web.client.open(path, method=method, headers=headers)
        assert answer.status_code == status
        if status == 200:
            assert answer.headers["Content-Type"] == "image/gif"
