"""Teams admin: for administrators only; the hierarchy is built, renamed, moved and staffed
through the directory, and the `team` access scope follows at once."""

from __future__ import annotations

import re
from pathlib import Path

from screen_harness import entity, field, open_screens

import metacrm.web.teams_admin  # noqa: F401  (makes the teams blueprint)
from web_harness import role

GADGET = entity("gadget", field("title"))
PAGE = "/app/admin/teams"
LEAD = role("lead", entities={"gadget": {"read": "team", "create": "all"}})
CLERK = role("clerk", entities={"gadget": {"read": "own", "create": "all"}})


def user_id(page: str, name: str) -> str:
    found = re.search(rf'<option value="(\d+)">{name}</option>', page)
    assert found, f"{name} not in the picker"
    return found.group(1)


def test_only_administrators_reach_the_teams_page(isolated_database_url: str,
                                                 tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        clerk = screens.user("ann", "clerk")
        assert clerk.get(PAGE).status_code == 403
        forced = clerk.post(PAGE, {"name": "mine"})
        assert forced.status_code == 403
        admin = screens.user("root", "boss")
        assert "mine" not in admin.text(PAGE)
        assert screens.anonymous().get(PAGE).status_code == 302


def test_an_admin_builds_teams_and_the_team_scope_follows(isolated_database_url: str,
                                                         tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, LEAD, CLERK) as screens:
        admin = screens.user("root", "boss")
        lena = screens.user("lena", "lead")
        bob = screens.user("bob", "clerk")
        made = bob.client.post("/api/v1/records/gadget", json={"title": "Bob's gadget"})
        assert made.status_code == 201
        listed = lena.client.get("/api/v1/records/gadget").get_json()["data"]
        assert listed == []  # no team yet: the team scope covers only her own
        assert "No teams yet." in admin.text(PAGE)
        assert admin.post(PAGE, {"name": "sales", "label": "Sales"}).status_code == 302
        assert admin.post(PAGE, {"name": "east", "parent": "sales"}).status_code == 302
        page = admin.text(PAGE)
        assert re.search(r'data-team="sales".*data-team="east"', page, re.S)  # nested
        assert admin.post(f"{PAGE}/sales/members",
                          {"user_id": user_id(page, "lena")}).status_code == 302
        assert admin.post(f"{PAGE}/east/members",
                          {"user_id": user_id(page, "bob")}).status_code == 302
        listed = lena.client.get("/api/v1/records/gadget").get_json()["data"]
        assert [r["title"] for r in listed] == ["Bob's gadget"]  # sub-team member's record
        page = admin.text(PAGE)
        assert re.search(r'data-member="\d+">bob', page)
        # rename, refusals beside the field, removing a member narrows the scope again
        assert admin.post(f"{PAGE}/east/label", {"label": "East coast"}).status_code == 302
        assert "East coast" in admin.text(PAGE)
        taken = admin.post(PAGE, {"name": "east"})
        assert taken.status_code == 422
        assert 'data-field-error="name"' in taken.get_data(as_text=True)
        bad = admin.post(PAGE, {"name": "-bad/"})
        assert bad.status_code == 422 and "starting with a letter" in bad.get_data(as_text=True)
        loop = admin.post(f"{PAGE}/sales/parent", {"parent": "east"})
        assert loop.status_code == 302
        assert "cannot move under itself" in admin.text(PAGE)
        assert admin.post(f"{PAGE}/east/members/{user_id(page, 'bob')}/remove"
                          ).status_code == 302
        assert lena.client.get("/api/v1/records/gadget").get_json()["data"] == []
        assert admin.post(f"{PAGE}/sales/delete").status_code == 302
        assert "Move or delete its sub-teams first." in admin.text(PAGE)
        assert admin.post(f"{PAGE}/east/delete").status_code == 302
        assert 'data-team="east"' not in admin.text(PAGE)
