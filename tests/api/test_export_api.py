"""GET /api/v1/records/<entity>/export: CSV and XLSX of the records the caller may read and
export, with the list's filter, sort and fields, display or raw values, formula-escaped."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, Api, entity, field, labels, open_api, problem
from openpyxl import load_workbook

from database_harness import postgres_schema, schema_url
from web_harness import role

DOCUMENTS: list[dict[str, Any]] = [
    entity("company", field("name", "text", required=True), title="{name}"),
    entity("gizmo", field("name", "text", required=True, indexed=True),
           field("size", "picklist", choices=[{"value": "s", "label": labels("Small")},
                                              {"value": "l", "label": labels("Large")}]),
           field("price", "money", currency="USD"),
           field("maker", "reference", entity="company"),
           field("units", "integer", indexed=True)),
    ADMIN_ROLE,
    role("clerk", entities={
        "gizmo": {"read": "all", "create": "all", "export": "own"},
        "company": {"read": "all", "create": "all"}}),
    role("browser", entities={"gizmo": {"read": "all"}}),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("export")
    url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 'test.db'}"
    if url.startswith("postgresql"):
        with postgres_schema(url) as schema, \
                open_api(schema_url(url, schema), root, *DOCUMENTS) as api:
            _seed(api)
            yield api
    else:
        with open_api(url, root, *DOCUMENTS) as api:
            _seed(api)
            yield api


def _make(api: Api, entity_name: str, headers: dict[str, str], **values: Any) -> str:
    response = api.client.post(f"/api/v1/records/{entity_name}", json=values, headers=headers)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["data"]["id"])


def _seed(api: Api) -> None:
    acme = _make(api, "company", api.clerk, name="Acme")
    _make(api, "gizmo", api.clerk, name="=HYPERLINK(\"x\")", size="s",
          price={"amount": "10.50", "currency": "USD"}, maker=acme, units=3)
    _make(api, "gizmo", api.clerk, name="Bolt", size="l", units=7)
    _make(api, "gizmo", api.admin, name="Admin's", units=1)


def rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def test_csv_has_display_values_only_of_exportable_records_escaped(api: Api) -> None:
    response = api.client.get("/api/v1/records/gizmo/export?sort=units"
                              "&fields=name&fields=size&fields=price&fields=maker",
                              headers=api.clerk)

    assert response.mimetype == "text/csv"
    assert rows(response) == [
        ["name", "size", "price", "price (currency)", "maker"],
        ["'=HYPERLINK(\"x\")", "Small", "10.50", "USD", "Acme"],
        ["Bolt", "Large", "", "", ""],
    ]


def test_raw_csv_has_ids_and_codes_and_the_filter_applies(api: Api) -> None:
    response = api.client.get("/api/v1/records/gizmo/export?raw=1&filter[units][gt]=5"
                              "&fields=name&fields=size", headers=api.admin)

    table = rows(response)
    assert table[0] == ["id", "name", "size"]
    assert [row[1:] for row in table[1:]] == [["Bolt", "l"]]


def test_xlsx_holds_typed_cells_and_text_never_becomes_a_formula(api: Api) -> None:
    response = api.client.get("/api/v1/records/gizmo/export?format=xlsx&sort=units"
                              "&fields=name&fields=units", headers=api.admin)

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.get_data())).active
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [
        ["name", "units"], ["Admin's", 1], ["=HYPERLINK(\"x\")", 3], ["Bolt", 7]]
    assert sheet["A3"].data_type == "s"


def test_without_the_export_right_the_answer_is_403(api: Api) -> None:
    browser = api.user("bea", "browser")

    problem(api.client.get("/api/v1/records/gizmo/export", headers=browser), 403)


@pytest.mark.parametrize(("query", "pointer"), [
    ("format=pdf", "/format"), ("raw=maybe", "/raw"), ("fields=nope", "/fields/0"),
    ("sort=nope", "/sort/0"),
])
def test_bad_parameters_are_problems(api: Api, query: str, pointer: str) -> None:
    response = api.client.get(f"/api/v1/records/gizmo/export?{query}", headers=api.admin)

    assert pointer in {e["pointer"] for e in problem(response, 422)["errors"]}


def test_control_characters_are_dropped_from_xlsx_cells_not_refused() -> None:
    from metacrm.services.export.files import write_xlsx

    out = io.BytesIO()
    write_xlsx(out, "gizmo", ["name"], [["bell\x07 and =1+1"]])

    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet["A2"].value == "bell and =1+1"
    assert sheet["A2"].data_type == "s"
