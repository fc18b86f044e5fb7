"""Articles are found by the global search (`GET /api/v1/search`) with stemming in English
and Russian, on SQLite (FTS5 + Snowball) and PostgreSQL (english + russian tsvectors)."""

from __future__ import annotations

from kb_harness import Kb


def found(kb: Kb, text: str) -> list[str]:
    response = kb.web.client.get("/api/v1/search", headers=kb.agent,
                                 query_string={"q": text, "entity": "kb_article"})
    assert response.status_code == 200, response.get_json()
    return [hit["title"] for group in response.get_json()["data"] for hit in group["hits"]]


def test_russian_inflections_find_the_article(kb: Kb) -> None:
    kb.article("Как продлить договор", "Договор продлевается в личном кабинете.",
               language="ru")
    assert found(kb, "договоров") == ["Как продлить договор"]
    assert found(kb, "продлении договора") == ["Как продлить договор"]


def test_english_inflections_find_the_article(kb: Kb) -> None:
    kb.article("Renewing a contract", "Each contract renews from the billing page.")
    assert "Renewing a contract" in found(kb, "contracts")
    assert "Renewing a contract" in found(kb, "renewal")


def test_the_body_is_searched(kb: Kb) -> None:
    kb.article("Password help", "Resetting forgotten passwords takes a minute.")
    assert found(kb, "forgotten password") == ["Password help"]


def test_a_user_without_the_knowledge_base_finds_no_articles(kb: Kb) -> None:
    kb.article("Exporting invoices", "Invoices export as PDF.")
    response = kb.web.client.get("/api/v1/search", headers=kb.outsider,
                                 query_string={"q": "invoices"})
    assert response.status_code == 200
    assert [g["entity"] for g in response.get_json()["data"]] == []
