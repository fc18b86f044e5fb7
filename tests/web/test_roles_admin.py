"""Roles admin inside the CRM (`/app/admin/roles`): roles are metadata documents; creating,
renaming and deleting one applies a metadata version and FAB's role table follows; a role
users hold is deleted only by moving them to another; permissions live in the matrix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from screen_harness import Screens, entity, field, open_screens

from metacrm.identity.bridge import identity_state
from web_harness import role

GADGET = entity("gadget", field("title"))
REP = role("rep", entities={"gadget": {"read": "own", "create": "all"}})
MANAGER = role("manager", entities={"gadget": {"read": "all"}})
SERVICE = role("pack_test")  # the service role of the pack "test" the harness applies as
PAGE = "/app/admin/roles"


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, GADGET, REP, MANAGER,
                      SERVICE) as opened:
        yield opened


def fab_role_names(screens: Screens) -> set[str]:
    with screens.web.app.app_context():
        sm = identity_state().appbuilder.sm
        names = {found.name for found in sm.get_all_roles()}
        sm.session.commit()
        return names


def live_roles(screens: Screens) -> set[str]:
    return set(screens.web.identity.metadata.live().model.roles)


def flashes(page: str) -> str:
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', page))


def test_reps_and_managers_get_403_on_every_role_admin_page(screens: Screens) -> None:
    screens.user("root", "boss")
    for name, role_name in (("ann", "rep"), ("max", "manager")):
        browser = screens.user(name, role_name)
        assert browser.get(PAGE).status_code == 403
        for path in (PAGE, f"{PAGE}/rep/label", f"{PAGE}/rep/delete"):
            response = browser.post(path, {"name": "forged", "label_en": "F", "label_ru": "F",
                                           "reassign": "manager"})
            assert response.status_code == 403, (role_name, path)
    assert {"rep", "manager"} <= live_roles(screens) and "forged" not in live_roles(screens)


def test_an_admin_creates_renames_and_deletes_a_role(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    page = admin.text(PAGE)
    assert 'data-role="rep"' in page and 'data-role="pack_test"' not in page
    made = admin.post(PAGE, {"name": "auditor", "label_en": "Auditor", "label_ru": "Аудитор"})
    assert made.status_code == 302
    assert "auditor" in live_roles(screens) and "auditor" in fab_role_names(screens)
    assert "permission matrix" in flashes(admin.text(PAGE))
    assert 'data-role-choice="auditor"' in admin.text("/app/admin/users/new")
    assert 'data-role="auditor"' in admin.text("/app/admin/permissions")
    taken = admin.post(PAGE, {"name": "auditor", "label_en": "A", "label_ru": "A"})
    assert taken.status_code == 422 and 'data-field-error="name"' in taken.get_data(
        as_text=True)
    bad = admin.post(PAGE, {"name": "Bad Name", "label_en": "", "label_ru": "x"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'data-field-error="name"' in body and 'data-field-error="label_en"' in body
    reserved = admin.post(PAGE, {"name": "pack_x", "label_en": "P", "label_ru": "P"})
    assert reserved.status_code == 422
    renamed = admin.post(f"{PAGE}/auditor/label", {"label_en": "Inspector",
                                                   "label_ru": "Инспектор"})
    assert renamed.status_code == 302
    assert "Inspector" in admin.text(PAGE)
    assert admin.post(f"{PAGE}/auditor/delete").status_code == 302
    assert "auditor" not in live_roles(screens)
    assert "auditor" not in fab_role_names(screens)
    assert admin.post(f"{PAGE}/pack_test/delete").status_code == 404


def test_a_held_role_is_deleted_only_by_moving_its_users(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    ann = screens.user("ann", "rep")
    refused = admin.post(f"{PAGE}/rep/delete")
    assert refused.status_code == 302
    assert "1 user holds this role" in flashes(admin.text(PAGE))
    assert "rep" in live_roles(screens) and ann.get("/app/").status_code == 200
    moved = admin.post(f"{PAGE}/rep/delete", {"reassign": "manager"})
    assert moved.status_code == 302
    assert "rep" not in live_roles(screens) and "rep" not in fab_role_names(screens)
    users = admin.text("/app/admin/users")
    row = re.search(r'<tr data-user="ann".*?</tr>', users, re.S)
    assert row is not None and 'data-user-role="manager"' in row.group(0)
    assert ann.get("/app/").status_code == 302  # the role she held went: her session ended


def test_the_only_admin_role_cannot_be_deleted(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    assert 'data-role-delete="boss"' not in admin.text(PAGE)  # not offered, and refused:
    assert admin.post(f"{PAGE}/boss/delete", {"reassign": "rep"}).status_code == 302
    assert "only administrator role" in flashes(admin.text(PAGE))
    assert "boss" in live_roles(screens)


def test_a_role_other_metadata_names_stays_with_the_reason(isolated_database_url: str,
                                                           tmp_path: Path) -> None:
    deal = entity("deal", field("title"), field("stage", "state", pipeline="deal_flow"))
    flow = {"kind": "pipeline", "name": "deal_flow", "version": 1,
            "label": {"en": "Flow", "ru": "Поток"}, "entity": "deal",
            "states": [{"name": "open", "label": {"en": "Open", "ru": "Открыта"}},
                       {"name": "won", "label": {"en": "Won", "ru": "Выиграна"},
                        "category": "won"}],
            "transitions": [{"name": "win", "label": {"en": "Win", "ru": "Выиграть"},
                             "from": ["open"], "to": "won", "roles": ["closer"]}]}
    with open_screens(isolated_database_url, tmp_path, deal, flow, role("closer")) as screens:
        admin = screens.user("root", "boss")
        assert admin.post(f"{PAGE}/closer/delete").status_code == 302
        assert "Other metadata names this role" in flashes(admin.text(PAGE))
        assert "closer" in live_roles(screens) and "closer" in fab_role_names(screens)
