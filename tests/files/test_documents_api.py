"""Documents from templates: requested over the API (202), rendered to PDF in the job queue,
kept as an immutable attachment, read back with a PDF text extractor — in Russian and in
English, with the lines, the totals, the amount in words and the page numbers."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import pytest
from files_harness import ADMIN_ROLE, Api, labels, module_api, problem
from pypdf import PdfReader

from web_harness import role

OFFER = {"kind": "entity", "name": "offer", "version": 1, "label": labels("Offer"),
         "title_field": "number",
         "fields": [{"name": "number", "type": "text", "label": labels("Number"),
                     "required": True},
                    {"name": "issued_on", "type": "date", "label": labels("Issued on")},
                    {"name": "total", "type": "money", "label": labels("Total"),
                     "currency": "RUB"}]}
OFFER_LINE = {"kind": "entity", "name": "offer_line", "version": 1, "label": labels("Line"),
              "fields": [{"name": "offer", "type": "reference", "label": labels("Offer"),
                          "entity": "offer", "on_delete": "cascade"},
                         {"name": "position", "type": "integer", "label": labels("No")},
                         {"name": "product", "type": "text", "label": labels("Product")},
                         {"name": "quantity", "type": "decimal", "label": labels("Qty"),
                          "scale": 2},
                         {"name": "amount", "type": "money", "label": labels("Amount"),
                          "currency": "RUB"}]}
LINES = [{"name": "lines", "entity": "offer_line", "field": "offer", "sort": ["position"]}]
BODY = """
<h1>{{ document.label }} № {{ record.number }}</h1>
<p>{{ record.issued_on | date('long') }}</p>
<table>{% for line in lines %}
<tr><td>{{ line.position }}</td><td>{{ line.product }}</td>
<td>{{ line.quantity | number(2) }}</td><td>{{ line.amount | money }}</td></tr>
{% endfor %}</table>
<p class="total">{{ record.total | money }}</p>
<p>{{ record.total | in_words | capitalise }}</p>
"""
FOOTER = 'Page <span class="page-number"></span> / <span class="page-count"></span>'


def template(name: str, language: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "document_template", "name": name, "version": 1,
            "label": {"en": "Quote", "ru": "Коммерческое предложение"},
            "entity": "offer", "language": language, "body": BODY, "footer": FOOTER,
            "header": "<b>ООО «Ромашка»</b>", "related": LINES,
            "file_name": "{{ document.label }} {{ record.number }}",
            "page": {"size": "A4", "margin_mm": 18}, **extra}


REP = role("rep", entities={
    "offer": {"read": "own", "create": "all", "update": "own", "delete": "own",
              "export": "none"},
    "offer_line": {"read": "all", "create": "all", "update": "all", "delete": "all",
                   "export": "none"}})


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client = api.client
        self.rep = api.user("rita", "rep")
        self.bob = api.user("bob", "rep")
        self.offer = self.create("offer", {"number": "Q-7", "issued_on": "2026-12-07",
                                           "total": {"amount": "1234.50", "currency": "RUB"}})
        for position, (product, quantity, amount) in enumerate(
                [("Ноутбук", "2", "1000.00"), ("Мышь беспроводная", "1", "234.50")], 1):
            self.create("offer_line", {"offer": self.offer, "position": position,
                                       "product": product, "quantity": quantity,
                                       "amount": {"amount": amount, "currency": "RUB"}})
        self.base = f"/api/v1/records/offer/{self.offer}"

    def create(self, entity: str, values: dict[str, Any]) -> str:
        response = self.client.post(f"/api/v1/records/{entity}", json=values,
                                    headers=self.rep)
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["data"]["id"])

    def generate(self, name: str) -> dict[str, Any]:
        response = self.client.post(f"{self.base}/documents", json={"template": name},
                                    headers=self.rep)
        assert response.status_code == 202, response.get_json()
        status = self.client.get(response.headers["Location"], headers=self.rep)
        assert status.status_code == 200
        data: dict[str, Any] = status.get_json()["data"]
        return data

    def pdf_text(self, attachment: dict[str, Any]) -> tuple[str, bytes]:
        content = self.client.get(f"{self.base}/attachments/{attachment['id']}/content",
                                  headers=self.rep)
        assert content.status_code == 200
        reader = PdfReader(io.BytesIO(content.data))
        return "\n".join(page.extract_text() for page in reader.pages), content.data


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("documents")
    with module_api(root, ADMIN_ROLE, REP, OFFER, OFFER_LINE, template("quote_ru", "ru"),
                    template("quote_en", "en"), clerk_role="rep") as api:
        yield World(api)


def test_a_russian_quote_pdf_shows_lines_totals_words_and_page_numbers(world: World) -> None:
    request = world.generate("quote_ru")
    assert request["status"] == "done", request
    attachment = request["attachment"]
    assert attachment["id"] == request["id"]
    assert attachment["content_type"] == "application/pdf"
    assert attachment["template"] == "quote_ru"
    assert attachment["name"] == "Коммерческое предложение Q-7.pdf"
    text, data = world.pdf_text(attachment)
    assert attachment["sha256"] == hashlib.sha256(data).hexdigest()
    flat = " ".join(text.split())
    for expected in ("Коммерческое предложение № Q-7", "7 декабря 2026 г.", "Ноутбук",
                     "Мышь беспроводная", "2,00", "1 000,00 ₽", "234,50 ₽", "1 234,50 ₽",
                     "Одна тысяча двести тридцать четыре рубля, пятьдесят копеек",
                     "ООО «Ромашка»", "Page 1 / 1"):
        assert expected in flat, (expected, flat)


def test_an_english_template_formats_for_english(world: World) -> None:
    request = world.generate("quote_en")
    text, _ = world.pdf_text(request["attachment"])
    flat = " ".join(text.split())
    for expected in ("Quote № Q-7", "December 7, 2026", "RUB1,234.50",
                     "One thousand, two hundred and thirty-four roubles, fifty kopeks"):
        assert expected in flat, (expected, flat)


def test_the_document_is_listed_audited_and_cannot_be_deleted(world: World) -> None:
    request = world.generate("quote_ru")
    listed = world.client.get(f"{world.base}/attachments", headers=world.rep).get_json()
    assert request["id"] in [item["id"] for item in listed["data"]]
    document = problem(world.client.delete(f"{world.base}/attachments/{request['id']}",
                                           headers=world.rep), 409)
    assert "generated document" in document["detail"]
    history = world.client.get(f"{world.base}/history", headers=world.rep).get_json()["data"]
    assert any(entry["action"] == "attached" and entry["new"]["attachment"] == request["id"]
               and entry["new"]["template"] == "quote_ru" for entry in history)


def test_an_unknown_template_or_one_of_another_entity_is_named(world: World) -> None:
    response = world.client.post(f"{world.base}/documents", json={"template": "nope"},
                                 headers=world.rep)
    document = problem(response, 422)
    assert document["errors"][0]["pointer"] == "/template"
    assert "quote_en, quote_ru" in document["errors"][0]["message"]
    response = world.client.post(f"{world.base}/documents", json={"name": "quote_ru"},
                                 headers=world.rep)
    problem(response, 422)


def test_a_template_error_at_render_time_fails_the_request_with_the_reason(
        world: World) -> None:
    broken = template("quote_broken", "ru", body="{{ 1 / 0 }}")
    assert world.client.put("/api/v1/meta/document_template/quote_broken", json=broken,
                            headers=world.api.admin).status_code == 200
    request = world.generate("quote_broken")
    assert request["status"] == "failed"
    assert "ZeroDivisionError" in request["error"]


def test_a_template_naming_an_unknown_field_is_refused_when_saved(world: World) -> None:
    broken = template("quote_typo", "ru", body="{{ record.totl }}")
    response = world.client.put("/api/v1/meta/document_template/quote_typo", json=broken,
                                headers=world.api.admin)
    document = problem(response, 422)
    assert any("totl" in error["message"] and error["pointer"] == "/body"
               for error in document["errors"]), document


def test_an_admin_previews_a_template_on_a_real_record(world: World) -> None:
    response = world.client.post(f"{world.base}/documents/preview",
                                 json={"template": "quote_ru"}, headers=world.api.admin)
    assert response.status_code == 200, response.get_json()
    data = response.get_json()["data"]
    assert "Мышь беспроводная" in data["html"]
    assert data["file_name"] == "Коммерческое предложение Q-7.pdf"
    problem(world.client.post(f"{world.base}/documents/preview",
                              json={"template": "quote_ru"}, headers=world.rep), 403)


@pytest.mark.parametrize("path", ["request", "status", "preview"])
def test_a_rep_outside_the_record_scope_gets_nothing(world: World, path: str) -> None:
    done = world.generate("quote_ru")
    client, bob = world.client, world.bob
    response = {
        "request": lambda: client.post(f"{world.base}/documents",
                                       json={"template": "quote_ru"}, headers=bob),
        "status": lambda: client.get(f"{world.base}/documents/{done['id']}", headers=bob),
        "preview": lambda: client.post(f"{world.base}/documents/preview",
                                       json={"template": "quote_ru"}, headers=bob),
    }[path]()
    assert response.status_code in (403, 404) if path == "preview" else \
        response.status_code == 404
    problem(client.get(f"{world.base}/attachments/{done['id']}/content", headers=bob), 404)
