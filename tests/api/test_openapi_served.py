"""The served OpenAPI document: valid, live with the metadata, and honest — a bounded
schemathesis run over every operation passes every check but one (see `EXCLUDED`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_harness import ADMIN_ROLE, GADGET, Api, entity, field, open_api, problem
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

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
EXAMPLES = 8
EXCLUDED = [positive_data_acceptance]
"""Every other schemathesis check runs (issue 11: not only 5xx and response schemas, but
also invalid input accepted, Allow headers, missing headers, ignored auth...). This one is
left out because what makes some valid-looking input acceptable is state no schema can
state: a cursor or ETag the server issued, a reference to a record that exists, an expiry
still in the future, a webhook host that resolves to a public address, fields hidden from
one role in a document shared by all (docs/api.md, "OpenAPI"). Where validity is syntax,
tests/api/test_openapi_truthful.py checks that the document and the server agree."""


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


def test_the_api_keeps_the_promises_of_its_document(api: Api) -> None:
    """Every operation, with generated valid and invalid requests, sent by an admin and by
    a clerk (own scope, a hidden and a read-only field), answers as documented and refuses
    what the document refuses; operations on one record also run against records that
    exist. Deterministic (derandomized) and bounded by EXAMPLES per operation and mode."""
    existing: dict[str, list[str]] = {"gadget": [], "maker": []}
    for headers in (api.admin, api.clerk):
        maker = _created(api, "maker", {"name": "Acme"}, headers)
        existing["maker"].append(maker)
        existing["gadget"].append(_created(api, "gadget", {"title": "Anvil", "maker": maker},
                                           headers))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.web.app,
                                            headers=api.admin)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in sorted(operations, key=lambda op: op.method == "delete"):
        for headers in (api.admin, api.clerk):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _exercise(operation.as_strategy(generation_mode=mode), headers)
            if "{id}" in operation.path:
                for record_id in existing[operation.path.split("/")[4]]:
                    _exercise(operation.as_strategy(path_parameters={"id": record_id}),
                              headers)


def _created(api: Api, entity: str, values: dict[str, Any], headers: dict[str, str]) -> str:
    response = api.client.post(f"/api/v1/records/{entity}", json=values, headers=headers)
    assert response.status_code == 201, response.get_json()
    record_id: str = response.get_json()["data"]["id"]
    return record_id


def _exercise(strategy: Any, headers: dict[str, str]) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

    run()
