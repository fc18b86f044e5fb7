"""Suggested articles on a ticket (API, record page) and the public portal: published
articles only, per language, "was this helpful" votes counted once per session, CSRF-checked
and rate-limited; drafts never reachable."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from kb_harness import Kb

from metacrm.knowledge.portal import VoteLimiter
from web_harness import PASSWORD

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def suggested(kb: Kb, ticket: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    response = kb.web.client.get(f"/api/v1/records/ticket/{ticket}/suggested-articles",
                                 headers=headers)
    if response.status_code != 200:
        return response.status_code, []
    return 200, [article["title"] for article in response.get_json()["data"]]


def test_a_ticket_suggests_published_articles_matching_its_subject(kb: Kb) -> None:
    kb.article("Printer drivers", "Install the printer driver from the vendor site.")
    kb.article("Printer secret draft", "Printers draft text.", published=False)
    kb.article("Принтер не печатает", "Проверьте драйвер принтера.", language="ru")
    ticket = kb.ticket("My printers stopped")
    assert suggested(kb, ticket, kb.agent) == (200, ["Printer drivers"])
    ru_ticket = kb.ticket("Не работают принтеры")
    assert suggested(kb, ru_ticket, kb.agent) == (200, ["Принтер не печатает"])


def test_suggestions_follow_the_callers_access(kb: Kb) -> None:
    kb.article("Scanner setup", "Scanners connect by USB.")
    ticket = kb.ticket("Scanner setup fails")
    assert suggested(kb, ticket, kb.outsider) == (200, [])  # may not read articles
    assert suggested(kb, "999999", kb.agent)[0] == 404
    response = kb.web.client.get(f"/api/v1/records/ticket/{ticket}/suggested-articles")
    assert response.status_code == 401
    bad = kb.web.client.get(f"/api/v1/records/ticket/{ticket}/suggested-articles?x=1",
                            headers=kb.agent)
    assert bad.status_code == 422
    assert bad.get_json()["errors"][0]["pointer"] == "/x"


def test_the_openapi_document_describes_suggestions(kb: Kb) -> None:
    document = kb.web.client.get("/api/v1/openapi.json", headers=kb.agent).get_json()
    path = document["paths"]["/api/v1/records/ticket/{id}/suggested-articles"]
    assert path["get"]["operationId"] == "ticket_suggested_articles"
    assert "SuggestedArticles" in document["components"]["schemas"]


def test_the_ticket_page_shows_the_suggestions_panel(kb: Kb) -> None:
    kb.article("Router reboot", "Reboot the router.")
    ticket = kb.ticket("Router keeps dropping")
    page = signed_in(kb, "agent").get(f"/app/r/ticket/{ticket}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Suggested articles" in html and "Router reboot" in html
    outsider = signed_in(kb, "outsider").get(f"/app/r/ticket/{ticket}")
    assert "Router reboot" not in outsider.get_data(as_text=True)


def signed_in(kb: Kb, username: str) -> FlaskClient:
    client = kb.web.app.test_client()
    token = _CSRF.search(client.get("/app/login").get_data(as_text=True))
    assert token
    response = client.post("/app/login", data={"csrf_token": token.group(1),
                                               "username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_the_portal_lists_and_searches_published_articles_per_language(kb: Kb) -> None:
    kb.article("Portal english guide", "How to renew contracts.")
    kb.article("Портальная инструкция", "Как продлить договор.", language="ru")
    kb.article("Portal hidden draft", "Contracts draft.", published=False)
    client = kb.web.app.test_client()
    english = client.get("/portal/kb?lang=en").get_data(as_text=True)
    assert "Portal english guide" in english
    assert "Портальная инструкция" not in english and "Portal hidden draft" not in english
    russian = client.get("/portal/kb?lang=ru", headers={"Accept-Language": "ru"})
    assert "Портальная инструкция" in russian.get_data(as_text=True)
    assert "База знаний" in russian.get_data(as_text=True)
    found = client.get("/portal/kb?lang=en&q=contract").get_data(as_text=True)
    assert "Portal english guide" in found and "Portal hidden draft" not in found
    assert "Портальная инструкция" in client.get(
        "/portal/kb?lang=ru&q=договоров").get_data(as_text=True)


def test_drafts_are_never_reachable_on_the_portal(kb: Kb) -> None:
    draft = kb.article("Unreleased feature", "Secret plans.", published=False)
    client = kb.web.app.test_client()
    page = client.get(f"/portal/kb/{draft}")
    assert page.status_code == 404
    assert "Secret plans" not in page.get_data(as_text=True)
    assert client.get("/portal/kb/not-an-id").status_code == 404
    assert "Unreleased" not in client.get("/portal/kb?q=unreleased").get_data(as_text=True)


def test_was_this_helpful_counts_once_per_session_and_needs_the_csrf_token(kb: Kb) -> None:
    article = kb.article("Vote on me", "Helpful text.")
    client = kb.web.app.test_client()
    page = client.get(f"/portal/kb/{article}")
    assert page.status_code == 200 and "Helpful text." in page.get_data(as_text=True)
    assert client.post(f"/portal/kb/{article}", data={"helpful": "yes"}).status_code == 400
    token = _CSRF.search(page.get_data(as_text=True))
    assert token
    data = {"csrf_token": token.group(1), "helpful": "yes"}
    assert client.post(f"/portal/kb/{article}", data=data).status_code == 302
    assert client.post(f"/portal/kb/{article}", data=data).status_code == 302  # not counted
    other = kb.web.app.test_client()
    other_page = other.get(f"/portal/kb/{article}").get_data(as_text=True)
    other_token = _CSRF.search(other_page)
    assert other_token
    other.post(f"/portal/kb/{article}",
               data={"csrf_token": other_token.group(1), "helpful": "no"})
    record = kb.record("kb_article", article)
    assert (record["helpful_count"], record["not_helpful_count"]) == (1, 1)


def test_votes_are_bounded_per_address() -> None:
    now = [0.0]
    limiter = VoteLimiter(limit=2, window=60, clock=lambda: now[0])
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")
    now[0] = 61
    assert limiter.allow("a")
