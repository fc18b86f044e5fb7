"""A pack's routes are part of the API's contract: listed in the OpenAPI document (which
follows packs being loaded and unloaded) and their declared request schema enforced
before the pack's handler runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from pack_harness import open_world, write_pack

QUOTES = '''
from metacrm.extension import ExtResponse

CALLS = []

QUOTE = {"type": "object", "required": ["amount"], "additionalProperties": False,
         "properties": {"amount": {"type": "number", "minimum": 0},
                        "currency": {"enum": ["EUR", "USD"]}}}

def install(ctx):
    def quote(request):
        CALLS.append(request.json())
        return ExtResponse(status=201, json={"id": request.path_params["deal"], "ok": True})

    ctx.route("deals/<deal>/quote", ["POST"], quote, summary="Quote a deal",
              request_schema=QUOTE,
              response_schema={"type": "object", "properties": {"id": {"type": "string"}}})
    ctx.route("ping", ["GET"], lambda request: "pong", public=True)
'''

BROKEN = '''
def install(ctx):
    ctx.route("x", ["POST"], lambda request: None, request_schema={"type": "no-such-type"})
'''


def test_pack_routes_appear_in_the_openapi_document_while_the_pack_is_loaded(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        world.host.sync([write_pack(tmp_path, "quoter", QUOTES)])

        document = world.client.get("/api/v1/openapi.json", headers=world.clerk).get_json()

        validate(document)
        post = document["paths"]["/api/v1/ext/quoter/deals/{deal}/quote"]["post"]
        assert post["summary"] == "Quote a deal"
        assert post["tags"] == ["ext:quoter"]
        assert post["parameters"] == [{"name": "deal", "in": "path", "required": True,
                                       "schema": {"type": "string"}}]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body["required"] == ["amount"]
        ping = document["paths"]["/api/v1/ext/quoter/ping"]["get"]
        assert ping["security"] == []
        assert {"name": "ext:quoter", "description": "Routes of the extension pack `quoter`."
                } in document["tags"]

        world.host.sync([write_pack(tmp_path, "broken", BROKEN)])  # quoter unloaded
        after = world.client.get("/api/v1/openapi.json", headers=world.clerk).get_json()
        assert not any(path.startswith("/api/v1/ext/") for path in after["paths"])
        assert "request_schema is not a valid JSON Schema" in world.host.failures["broken"]


@pytest.mark.parametrize(("body", "pointer"), [
    ({"currency": "EUR"}, ""),  # amount missing: the object itself
    ({"amount": -5}, "/amount"),
    ({"amount": 5, "currency": "RUB"}, "/currency"),
    ({"amount": 5, "rebate": 1}, ""),
])
def test_a_body_breaking_the_route_schema_is_refused_before_the_handler(
        isolated_database_url: str, tmp_path: Path, body: dict[str, Any], pointer: str) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        spec = write_pack(tmp_path, "quoter", QUOTES)
        world.host.sync([spec])
        module = __import__(str(spec.module))

        refused = world.client.post("/api/v1/ext/quoter/deals/d1/quote", json=body,
                                    headers=world.clerk)
        assert refused.status_code == 422
        assert [error["pointer"] for error in refused.get_json()["errors"]] == [pointer]
        not_json = world.client.post("/api/v1/ext/quoter/deals/d1/quote", data=b"{",
                                     headers={**world.clerk, "Content-Type": "application/json"})
        assert not_json.status_code == 400
        assert module.CALLS == []

        accepted = world.client.post("/api/v1/ext/quoter/deals/d1/quote",
                                     json={"amount": 5, "currency": "USD"}, headers=world.clerk)
        assert (accepted.status_code, accepted.get_json()) == (201, {"id": "d1", "ok": True})
        assert module.CALLS == [{"amount": 5, "currency": "USD"}]
