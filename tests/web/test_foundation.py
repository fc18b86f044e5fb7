"""The screens' shell: sign in, navigation by read access, language, CSRF, error pages."""

from __future__ import annotations

import re
from pathlib import Path

from screen_harness import entity, field, open_screens

from web_harness import role

GADGET = entity("gadget", field("title", required=True))
SECRET = entity("secret", field("code"))
CLERK = role("clerk", entities={"gadget": {"read": "own", "create": "all"}})


def test_sign_in_shows_only_entities_the_role_may_read(isolated_database_url: str,
                                                       tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, SECRET, CLERK) as screens:
        clerk = screens.user("ann", "clerk")
        page = clerk.text("/app/")
        assert 'data-nav-entity="gadget"' in page
        assert 'data-nav-entity="secret"' not in page
        assert "/app/admin/" not in page
        admin = screens.user("root", "boss")
        page = admin.text("/app/")
        assert 'data-nav-entity="secret"' in page and "/app/admin/" in page


def test_anonymous_visitors_go_to_the_login_page_and_come_back(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        screens.web.create_user("ann", "clerk")
        visitor = screens.anonymous()
        response = visitor.get("/app/")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/app/login?next=/app/")
        refused = visitor.client.post("/app/login", data={
            "csrf_token": visitor.csrf(), "username": "ann", "password": "wrong"})
        assert refused.status_code == 401
        assert "Wrong username or password" in refused.get_data(as_text=True)
        accepted = visitor.client.post("/app/login", data={
            "csrf_token": visitor.csrf(), "username": "ann", "password":
            "correct horse battery", "next": "https://evil.example/"})
        assert accepted.headers["Location"] == "/app/"  # no open redirect


def test_a_post_without_the_csrf_token_is_refused(isolated_database_url: str,
                                                  tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        clerk = screens.user("ann", "clerk")
        response = clerk.client.post("/app/language", data={"language": "ru"})
        assert response.status_code == 400
        assert "Reload the page" in response.get_data(as_text=True)
        assert 'lang="en"' in clerk.text("/app/")


def test_each_user_keeps_their_language(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        ann = screens.user("ann", "clerk")
        assert ann.post("/app/language", {"language": "ru", "next": "/app/"}).status_code == 302
        page = ann.text("/app/")
        assert 'lang="ru"' in page and "Выйти" in page
        again = screens.sign_in("ann")  # a new session of the same user: saved choice
        assert "Выйти" in again.text("/app/")
        bob = screens.user("bob", "clerk")
        assert "Sign out" in bob.text("/app/")


def test_the_site_root_opens_the_crm_and_user_admin_keeps_its_frame(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        admin = screens.user("root", "boss")
        assert admin.get("/").headers["Location"] == "/app/"
        assert admin.get("/users/list/").headers["Location"] == "/app/admin/users"
        users = admin.text("/app/admin/users")
        assert 'id="sidebar"' in users and 'href="/app/"' in users and "root" in users
        clerk = screens.user("ann", "clerk")
        assert clerk.get("/app/admin/users").status_code == 403


def test_the_start_page_counts_all_and_own_records_in_scope(isolated_database_url: str,
                                                           tmp_path: Path) -> None:
    team_clerk = role("clerk", entities={"gadget": {"read": "all", "create": "all"}})
    with open_screens(isolated_database_url, tmp_path, GADGET, team_clerk) as screens:
        ann, bob = screens.user("ann", "clerk"), screens.user("bob", "clerk")
        for browser, titles in ((ann, ("Ann one", "Ann two")), (bob, ("Bob one",))):
            for title in titles:
                response = browser.post("/app/r/gadget/new", {"title": title})
                assert response.status_code == 302, response.get_data(as_text=True)[:300]
        page = ann.text("/app/")
        row = page[page.index('data-home-entity="gadget"'):]
        assert re.search(r"data-count-all><a [^>]*>3<", row)
        assert re.search(r"data-count-mine><a [^>]*>2<", row)
        mine = re.search(r'data-count-mine><a href="([^"]+)"', row)
        assert mine is not None
        listed = ann.text(mine.group(1).replace("&amp;", "&"))
        assert "Ann one" in listed and "Ann two" in listed and "Bob one" not in listed
