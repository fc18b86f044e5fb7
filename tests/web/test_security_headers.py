"""Security headers (issue 11 F3): every response of every route carries them; pages get a
Content-Security-Policy without inline scripts; cookies are Secure and HSTS is sent over
HTTPS; proxy headers count only when the proxy is trusted."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from screen_harness import Browser, Screens, entity, field, open_screens
from werkzeug.test import TestResponse

from metacrm.settings import REPOSITORY_ROOT
from web_harness import PASSWORD, Web, open_web, role

GADGET = entity("gadget", field("title", required=True))
CLERK = role("clerk", entities={"gadget": {"read": "all", "create": "all", "update": "all"}})

SKIPPED_ENDPOINT_PARTS = (".delete", ".action", ".logout", "LocaleView", "download")
"""GET routes that change something (FAB deletes and actions, logout, the language)."""

_SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_STYLE = re.compile(r"<style\b([^>]*)>", re.IGNORECASE)
_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


@pytest.fixture
def screens(isolated_database_url: str, tmp_path: Path) -> Iterator[Screens]:
    with open_screens(isolated_database_url, tmp_path, GADGET, CLERK) as screens:
        yield screens


def assert_protected(response: TestResponse, where: str) -> None:
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") == "same-origin", where
    policy = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy, where
    if response.mimetype != "text/html":
        return
    scripts = re.search(r"script-src ([^;]*)", policy)
    assert scripts is not None and "'unsafe-inline'" not in scripts.group(1), where
    assert "unsafe-eval" not in policy, where
    nonce = re.search(r"'nonce-([^']+)'", policy)
    page = response.get_data(as_text=True)
    for attributes in (*_SCRIPT.findall(page), *_STYLE.findall(page)):
        if "src=" in attributes:
            continue
        assert nonce is not None and f'nonce="{nonce.group(1)}"' in attributes, (
            where, attributes)
    assert not _HANDLER.search(page), (where, _HANDLER.search(page))
    assert "javascript:" not in page.lower(), where


def walk(browser: Browser, screens: Screens, values: dict[str, str]) -> tuple[int, list[str]]:
    """GET every GET route of the app (arguments from `values`); how many answered an
    HTML page, and which routes were visited."""
    pages, visited = 0, []
    for rule in screens.web.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or any(
                part in rule.endpoint for part in SKIPPED_ENDPOINT_PARTS):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", values.get(name, "x"), path)
        response = browser.get(path, buffered=True)
        assert_protected(response, f"{rule.endpoint} {path} {response.status_code}")
        visited.append(rule.endpoint)
        if response.status_code == 200 and response.mimetype == "text/html":
            pages += 1
    return pages, visited


def test_every_route_answers_with_the_security_headers(screens: Screens) -> None:
    admin = screens.user("root", "boss")
    created = admin.post("/app/r/gadget/new", {"title": "Widget"})
    assert created.status_code == 302
    record_id = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    values = {"entity": "gadget", "record_id": record_id, "name": "gadget",
              "field_name": "title", "role_name": "clerk", "entity_name": "gadget",
              "number": "1", "pk": "1", "kind": "entity", "webhook_id": str(uuid.uuid4()),
              "group_by": "0"}

    pages, visited = walk(admin, screens, values)

    assert pages >= 30, pages  # the walk reached the real screens, not only error pages
    assert {"web_home.home", "web_list.list_page", "web_record.record_page",
            "web_board.board", "UserDBModelView.list", "metacrm_docs.swagger_page"
            } <= set(visited)
    anonymous = screens.anonymous()
    for path in ("/app/login", "/app/", "/no-such-page", "/app/static/metacrm.js",
                 "/api/v1/tokens"):
        assert_protected(anonymous.get(path, buffered=True), path)


def test_each_page_gets_its_own_nonce(screens: Screens) -> None:
    visitor = screens.anonymous()

    first, second = (visitor.get("/app/login").headers["Content-Security-Policy"]
                     for _ in range(2))

    assert "'nonce-" in first and first != second


TEMPLATE_ROOTS = (REPOSITORY_ROOT / "ui" / "templates", REPOSITORY_ROOT / "ui" / "swagger")


@pytest.mark.parametrize("path", sorted(
    path for root in TEMPLATE_ROOTS for path in root.rglob("*.html")), ids=str)
def test_templates_hold_no_inline_script_handlers_or_javascript_urls(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for attributes in (*_SCRIPT.findall(text), *_STYLE.findall(text)):
        assert "src=" in attributes or "csp_nonce()" in attributes, attributes
    assert not _HANDLER.search(text)
    assert "javascript:" not in text.lower()


def login_response(web: Web, **environ: str) -> TestResponse:
    client = web.app.test_client()
    client.environ_base.update(environ)
    page = client.get("/app/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    return client.post("/app/login", data={"csrf_token": token.group(1), "username": "ann",
                                           "password": PASSWORD})


def session_cookie(response: TestResponse) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie")
               if value.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_over_plain_http_cookies_are_not_secure_and_no_hsts(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with open_web(isolated_database_url, tmp_path) as web:
        web.create_user("ann", "clerk")
        response = login_response(web, HTTP_X_FORWARDED_PROTO="https")  # untrusted header

        assert response.status_code == 302
        assert "Secure" not in session_cookie(response)
        assert "Strict-Transport-Security" not in response.headers


def test_with_https_set_cookies_are_secure_and_hsts_is_sent(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with open_web(isolated_database_url, tmp_path, settings_changes={"https": True}) as web:
        web.create_user("ann", "clerk")
        response = login_response(web)

        assert response.status_code == 302
        assert "; Secure" in session_cookie(response)
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_behind_a_trusted_proxy_its_https_and_client_address_count(
    isolated_database_url: str, tmp_path: Path
) -> None:
    with open_web(isolated_database_url, tmp_path,
                  settings_changes={"trusted_proxies": 1, "rate_limit": "100000 per minute"}
                  ) as web:
        web.create_user("ann", "clerk")
        response = login_response(web, HTTP_X_FORWARDED_PROTO="https",
                                  HTTP_X_FORWARDED_FOR="203.0.113.7")
        assert "; Secure" in session_cookie(response)
        assert "Strict-Transport-Security" in response.headers
        guard = web.identity.login_guard
        assert guard is not None
        for _ in range(8):
            guard.failed("ann", "203.0.113.9")

        assert login_response(web, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
        assert login_response(web, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 302
