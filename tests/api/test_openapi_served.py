"""The served OpenAPI document: valid, live with the metadata, served with Swagger UI. Its
honesty — schemathesis over every operation with every check — is
tests/api/test_openapi_schemathesis.py, which uses the metadata of this module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_harness import ADMIN_ROLE, GADGET, Api, entity, field, open_api, problem
from openapi_spec_validator import validate

from metacrm.api.docs import CONTENT_SECURITY_POLICY
from web_harness import role

MAKER = entity("maker", field("name", "text", required=True, indexed=True),
               search_fields=["name"])
GADGET_WITH_MAKER = {**GADGET, "fields": [
    *GADGET["fields"], field("maker", "reference", entity="maker"),
    field("tags", "multi_picklist", choices=[{"value": "new", "label": {"en": "N", "ru": "N"}}]),
    field("made_at", "datetime", indexed=True),
    field("notes", "textarea"),
    field("code", "auto_number", prefix="G-"),
]}
EVERYTHING = {"read": "all", "create": "all", "update": "all", "delete": "all", "export": "all"}
OWN = {**EVERYTHING, "read": "own", "update": "own", "delete": "own",
       "fields": {"weight": "hidden", "units": "read_only"}}
DOCUMENTS = (MAKER, GADGET_WITH_MAKER, ADMIN_ROLE,
             role("clerk", entities={"gadget": OWN, "maker": EVERYTHING}))


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path, *DOCUMENTS) as api:
        yield api


def test_the_served_document_is_valid_and_follows_the_metadata(api: Api) -> None:
    problem(api.client.get("/api/v1/openapi.json"), 401)
    first = api.client.get("/api/v1/openapi.json", headers=api.clerk)
    assert first.status_code == 200
    validate(first.get_json())
    assert "/api/v1/records/gadget" in first.get_json()["paths"]
    unchanged = api.client.get("/api/v1/openapi.json",
                               headers={**api.clerk, "If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304

    api.put_meta(entity("ticket", field("subject", "text")))
    second = api.client.get("/api/v1/openapi.json",
                            headers={**api.clerk, "If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200
    assert "/api/v1/records/ticket" in second.get_json()["paths"]
    assert second.get_json()["info"]["version"] == "1+metadata.2"


def test_swagger_ui_is_served_from_vendored_files(api: Api) -> None:
    page = api.client.get("/api/v1/docs")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = page.get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in html
    assert "/api/v1/openapi.json" in html
    assert "http" not in html.replace("http-equiv", "")  # nothing from elsewhere
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js"):
        response = api.client.get(f"/api/v1/docs/assets/{asset}")
        assert response.status_code == 200 and response.get_data()
        response.close()
    assert api.client.get("/api/v1/docs/assets/index.html").status_code == 404
