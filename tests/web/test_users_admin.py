"""Users admin inside the CRM (`/app/admin/users`): administrators list, create, edit,
deactivate and delete accounts; FAB's tables follow; a deactivated user's open session ends
at once; nobody removes themselves or the last administrator; only admins get in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from screen_harness import Browser, Screens, entity, field, open_screens

from metacrm.identity.bridge import identity_state
from web_harness import PASSWORD, role

GADGET = entity("gadget", field("title"))
REP = role("rep", label={"en": "Sales rep", "ru": "Менеджер по продажам"},
           entities={"gadget": {"read": "own", "create": "all"}})
MANAGER = role("manager", entities={"gadget": {"read": "all", "update": "all"}})
SERVICE = role("pack_test")  # the service role of the pack "test" the harness applies as
PAGE = "/app/admin/users"


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, GADGET, REP, MANAGER,
                      SERVICE) as opened:
        yield opened


def user_id(screens: Screens, username: str) -> int:
    with screens.web.app.app_context():
        found = identity_state().appbuilder.sm.find_user(username=username)
        assert found is not None, username
        return int(found.id)


def fab_roles(screens: Screens, username: str) -> set[str]:
    with screens.web.app.app_context():
        sm = identity_state().appbuilder.sm
        user = sm.find_user(username=username)
        names = {role.name for role in user.roles} if user is not None else set()
        sm.session.commit()
        return names


def flashes(browser: Browser, path: str = PAGE) -> str:
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', browser.text(path)))


def test_reps_and_managers_get_403_on_every_user_admin_page(screens: Screens) -> None:
    screens.user("root", "boss")
    target = user_id(screens, "root")
    for name, role_name in (("ann", "rep"), ("max", "manager")):
        browser = screens.user(name, role_name)
        for path in (PAGE, f"{PAGE}/new", f"{PAGE}/{target}"):
            assert browser.get(path).status_code == 403, (role_name, path)
        for path in (f"{PAGE}/new", f"{PAGE}/{target}", f"{PAGE}/{target}/deactivate",
                     f"{PAGE}/{target}/activate", f"{PAGE}/{target}/delete"):
            assert browser.post(path, {"username": "x", "roles": "rep"}).status_code == 403
    assert fab_roles(screens, "root") == {"boss"}  # nothing forged went through
    assert screens.anonymous().get(PAGE).status_code == 302


def test_an_admin_creates_a_user_who_can_sign_in_with_role_and_team(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    assert admin.post("/app/admin/teams", {"name": "east"}).status_code == 302
    form = admin.text(f"{PAGE}/new")
    assert 'data-role-choice="rep"' in form and "Sales rep" in form
    assert 'data-role-choice="pack_test"' not in form  # a pack's service role
    made = admin.post(f"{PAGE}/new", {
        "username": "zoe", "first_name": "Zoe", "last_name": "Kim", "email": "zoe@example.com",
        "password": "initial-pass", "roles": "rep", "teams": "east"})
    assert made.status_code == 302 and made.headers["Location"].endswith(PAGE)
    listing = admin.text(PAGE)
    row = re.search(r'<tr data-user="zoe".*?</tr>', listing, re.S)
    assert row is not None
    assert "Zoe Kim" in row.group(0) and "Sales rep" in row.group(0) and "east" in row.group(0)
    assert "never" in row.group(0)  # last sign-in
    assert fab_roles(screens, "zoe") == {"rep"}
    zoe = Browser(screens.web.app.test_client())
    signed = zoe.client.post("/app/login", data={"csrf_token": zoe.csrf(), "username": "zoe",
                                                 "password": "initial-pass"})
    assert signed.status_code == 302
    assert zoe.client.post("/api/v1/records/gadget", json={"title": "Z"}).status_code == 201
    assert "never" not in re.search(r'<tr data-user="zoe".*?</tr>', admin.text(PAGE),
                                    re.S).group(0)  # type: ignore[union-attr]
    assert admin.text(f"{PAGE}?q=KIM").count('<tr data-user="') == 1
    assert '<tr data-user="zoe"' not in admin.text(f"{PAGE}?status=inactive")


def test_bad_input_comes_back_beside_its_field_and_nothing_is_created(
        screens: Screens) -> None:
    admin = screens.user("root", "boss")
    bad = admin.post(f"{PAGE}/new", {"username": "with space", "first_name": "",
                                     "email": "nope", "password": "short",
                                     "roles": "pack_test"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    for name in ("username", "first_name", "email", "roles"):
        assert f'data-field-error="{name}"' in page, name
    assert 'value="with space"' in page  # typed values kept
    short = admin.post(f"{PAGE}/new", {"username": "sam", "first_name": "Sam",
                                       "password": "short", "roles": "rep"})
    assert short.status_code == 422 and 'data-field-error="password"' in short.get_data(
        as_text=True)
    taken = admin.post(f"{PAGE}/new", {"username": "ROOT", "first_name": "R",
                                       "password": "long-enough", "roles": "rep"})
    assert taken.status_code == 409
    assert "A user with this login exists already." in taken.get_data(as_text=True)
    long = admin.post(f"{PAGE}/new", {"username": "x" * 65, "first_name": "y" * 200,
                                      "password": "long-enough", "roles": "rep"})
    assert long.status_code == 422
    assert '<tr data-user="sam"' not in admin.text(PAGE)


def test_deactivating_ends_the_open_session_and_activating_lets_them_back(
        screens: Screens) -> None:
    admin = screens.user("root", "boss")
    ann = screens.user("ann", "rep")
    assert ann.get("/app/").status_code == 200
    target = user_id(screens, "ann")
    assert admin.post(f"{PAGE}/{target}/deactivate").status_code == 302
    assert "deactivated" in flashes(admin)
    assert ann.get("/app/").status_code == 302  # the open session ended at once
    assert 'data-user-status="inactive"' in admin.text(f"{PAGE}?status=inactive")
    assert admin.post(f"{PAGE}/{target}/activate").status_code == 302
    assert screens.sign_in("ann").get("/app/").status_code == 200


def test_editing_changes_roles_teams_and_password(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    ann = screens.user("ann", "manager")
    target = user_id(screens, "ann")
    edit = admin.text(f"{PAGE}/{target}")
    assert 'value="ann"' in edit
    saved = admin.post(f"{PAGE}/{target}", {
        "username": "ann", "first_name": "Ann", "last_name": "Lee", "email": "",
        "roles": "rep", "active": "yes", "password": ""})
    assert saved.status_code == 302
    assert fab_roles(screens, "ann") == {"rep"}
    assert ann.get("/app/").status_code == 302  # a role taken away ends her session
    assert screens.sign_in("ann").get("/app/").status_code == 200  # password unchanged
    assert admin.post(f"{PAGE}/{target}", {
        "username": "ann", "first_name": "Ann", "roles": "rep", "active": "yes",
        "password": "a-new-password"}).status_code == 302
    fresh = Browser(screens.web.app.test_client())
    old = fresh.client.post("/app/login", data={"csrf_token": fresh.csrf(), "username": "ann",
                                                "password": PASSWORD})
    assert old.status_code != 302


def test_nobody_removes_themselves_or_the_last_administrator(screens: Screens) -> None:
    root = screens.user("root", "boss")
    me = user_id(screens, "root")
    assert root.post(f"{PAGE}/{me}/deactivate").status_code == 302
    assert "You cannot deactivate your own account." in flashes(root)
    assert root.post(f"{PAGE}/{me}/delete").status_code == 302
    assert "You cannot delete your own account." in flashes(root)
    assert root.get("/app/").status_code == 200
    second = screens.user("eve", "boss")
    assert second.post(f"{PAGE}/{me}/deactivate").status_code == 302  # another admin remains
    eve = user_id(screens, "eve")
    stripped = second.post(f"{PAGE}/{eve}", {"username": "eve", "first_name": "Eve",
                                              "roles": "rep", "active": "yes"})
    assert stripped.status_code == 409
    assert "last active administrator" in stripped.get_data(as_text=True)
    assert fab_roles(screens, "eve") == {"boss"}


def test_deleting_a_user_removes_them_from_fab_and_their_teams(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    assert admin.post("/app/admin/teams", {"name": "east"}).status_code == 302
    assert admin.post(f"{PAGE}/new", {"username": "bob", "first_name": "Bob",
                                      "password": "initial-pass", "roles": "rep",
                                      "teams": "east"}).status_code == 302
    target = user_id(screens, "bob")
    assert admin.post(f"{PAGE}/{target}/delete").status_code == 302
    assert "deleted" in flashes(admin)
    assert '<tr data-user="bob"' not in admin.text(PAGE)
    with screens.web.app.app_context():
        assert identity_state().appbuilder.sm.find_user(username="bob") is None
    assert 'data-member="' not in admin.text("/app/admin/teams")


def test_fab_stock_user_and_role_pages_lead_to_the_crm_pages(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    for path, target in (("/users/list/", PAGE), ("/users/add", PAGE),
                         ("/users/edit/1", PAGE), ("/roles/list/", "/app/admin/roles"),
                         ("/roles/add", "/app/admin/roles"),
                         ("/users/userinfo/", "/app/account/profile")):
        response = admin.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == target, path
    start = admin.text("/app/")
    assert 'href="/app/admin/users"' in start and 'href="/app/admin/roles"' in start
    assert "/users/list/" not in start
