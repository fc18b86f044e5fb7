"""The OpenAPI document: generated from the compiled model, valid OpenAPI 3.1, and true to
what the API sends and accepts. (The served document and a schemathesis run over it are in
test_openapi_served.py.)"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from metacrm.api.openapi import build_openapi, cached_openapi
from metacrm.fieldtypes import FieldTypeRegistry, default_registry
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import load_documents
from metacrm.metadata.model import CompiledModel
from metacrm.settings import DEFAULT_METADATA_PATH


def _labels(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def _field(name: str, type_: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": _labels(name), **options}


def _ticket(*extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "entity", "name": "ticket", "version": 1, "label": _labels("Ticket"),
        "fields": [
            _field("subject", "text", required=True, indexed=True),
            _field("number", "auto_number", prefix="T-"),
            _field("price", "money", currency="EUR", indexed=True),
            _field("rate", "decimal", scale=3),
            _field("due", "datetime"),
            _field("priority", "picklist", required=True, default="low", choices=[
                {"value": "low", "label": _labels("Low")},
                {"value": "high", "label": _labels("High")}]),
            _field("internal", "textarea", read_only=True),
            _field("customer", "reference", entity="customer"),
            *extra,
        ],
    }


CUSTOMER = {"kind": "entity", "name": "customer", "version": 1, "label": _labels("Customer"),
            "fields": [_field("name", "text")]}


@pytest.fixture(scope="module")
def registry() -> FieldTypeRegistry:
    return default_registry()


def model_of(registry: FieldTypeRegistry, *bodies: dict[str, Any]) -> CompiledModel:
    documents = [Document.from_body(b, source=f"{b['name']}.json", pack="test") for b in bodies]
    return compile_model(documents, registry)


@pytest.fixture(scope="module")
def document(registry: FieldTypeRegistry) -> dict[str, Any]:
    return build_openapi(model_of(registry, _ticket(), CUSTOMER), registry, version_number=7)


def resolver_schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A JSON Schema that validates like component `name`, with its references resolvable."""
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


def check(document: dict[str, Any], name: str, value: Any) -> None:
    jsonschema.validate(value, resolver_schema(document, name),
                        cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.FormatChecker())


def test_the_shipped_packs_give_a_valid_openapi_31_document(registry: FieldTypeRegistry) -> None:
    model = compile_model(load_documents([DEFAULT_METADATA_PATH]), registry)
    generated = build_openapi(model, registry, version_number=1)
    validate(generated)
    assert generated["openapi"] == "3.1.0"
    for entity in model.entities:
        assert f"/api/v1/records/{entity}" in generated["paths"]
        assert f"{entity}.record" in generated["components"]["schemas"]


def test_small_model_document_is_valid(document: dict[str, Any]) -> None:
    validate(document)
    assert document["info"]["version"] == "1+metadata.7"
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerJWT"]["bearerFormat"] == "JWT"
    assert schemes["personalToken"]["scheme"] == "bearer"


def test_a_record_as_the_api_sends_it_fits_the_record_schema(document: dict[str, Any]) -> None:
    record = {
        "id": "0190f5a8-1c2b-7d3e-8f40-123456789abc", "version": 3,
        "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-02T10:00:00.5Z",
        "created_by": "1", "updated_by": None, "owner": "1",
        "subject": "Printer on fire", "number": "T-000001",
        "price": {"amount": "12.50", "currency": "EUR"}, "rate": "0.125",
        "due": None, "priority": "high", "internal": None, "customer": None,
    }
    check(document, "ticket.record", record)
    with pytest.raises(jsonschema.ValidationError):
        check(document, "ticket.record", {**record, "price": 12.5})  # money is an object
    with pytest.raises(jsonschema.ValidationError):
        check(document, "ticket.record", {**record, "secret": 1})  # nothing undeclared


def test_system_and_read_only_fields_are_read_only(document: dict[str, Any]) -> None:
    properties = document["components"]["schemas"]["ticket.record"]["properties"]
    for name in ("id", "created_at", "created_by", "updated_at", "updated_by", "version"):
        assert properties[name]["readOnly"] is True
    assert properties["number"]["readOnly"] is True  # auto-number
    assert properties["internal"]["readOnly"] is True  # read_only field
    create = document["components"]["schemas"]["ticket.create"]
    assert "number" not in create["properties"]
    assert "internal" not in create["properties"]
    assert "id" not in create["properties"]


def test_create_requires_required_fields_without_default(document: dict[str, Any]) -> None:
    check(document, "ticket.create", {"subject": "Hi", "price": {"amount": "1.00",
                                                                 "currency": "EUR"}})
    with pytest.raises(jsonschema.ValidationError):
        check(document, "ticket.create", {"price": None})  # subject missing
    with pytest.raises(jsonschema.ValidationError):
        check(document, "ticket.create", {"subject": None})  # required: no null
    check(document, "ticket.patch", {"rate": None})
    with pytest.raises(jsonschema.ValidationError):
        check(document, "ticket.patch", {"number": "T-1"})


def test_list_parameters_follow_fields_and_operators(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/records/ticket"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert "filter[price][gt]" in parameters
    assert "filter[subject][contains]" in parameters
    assert "filter[subject][gt]" not in parameters  # text has no order
    assert "filter[owner][eq]" in parameters  # system columns filter too
    assert parameters["filter[priority][in]"]["schema"]["items"]["enum"] == ["low", "high"]
    assert parameters["filter[due][is_null]"]["schema"] == {"type": "boolean"}
    sort = set(parameters["sort"]["schema"]["items"]["enum"])
    assert {"subject", "-subject", "price", "id", "-created_at"} <= sort
    assert "rate" not in sort  # not indexed
    assert parameters["include"]["schema"]["items"]["enum"] == ["customer"]
    assert parameters["limit"]["schema"]["maximum"] == 500


def test_errors_are_problem_documents(document: dict[str, Any]) -> None:
    patch = document["paths"]["/api/v1/records/ticket/{id}"]["patch"]["responses"]
    assert {"400", "401", "403", "404", "409", "412", "415", "422", "429"} <= set(patch)
    problem = document["components"]["responses"]["Problem412"]["content"]
    assert problem["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"}


def test_the_document_follows_the_metadata(registry: FieldTypeRegistry) -> None:
    before = model_of(registry, _ticket(), CUSTOMER)
    after = model_of(registry, _ticket(_field("channel", "email")), CUSTOMER)
    first, _ = cached_openapi(before, registry, version_number=1)
    again, _ = cached_openapi(before, registry, version_number=1)
    second, _ = cached_openapi(after, registry, version_number=2)
    assert again is first
    assert "channel" not in first["components"]["schemas"]["ticket.record"]["properties"]
    assert "channel" in second["components"]["schemas"]["ticket.record"]["properties"]
    assert second["info"]["version"] == "1+metadata.2"


def test_an_empty_model_still_documents_the_metadata_api(registry: FieldTypeRegistry) -> None:
    generated = build_openapi(CompiledModel(), registry, version_number=0)
    validate(generated)
    assert "/api/v1/meta/{kind}/{name}" in generated["paths"]
    assert not any(path.startswith("/api/v1/records/") for path in generated["paths"])



def test_tokens_and_metadata_concurrency_are_documented(registry: FieldTypeRegistry) -> None:
    generated = build_openapi(CompiledModel(), registry, version_number=3)
    paths = generated["paths"]
    assert set(paths["/api/v1/tokens"]) == {"get", "post"}
    assert "delete" in paths["/api/v1/tokens/{token_id}"]
    created = paths["/api/v1/tokens"]["post"]["responses"]["201"]
    assert "Location" in created["headers"]
    document = paths["/api/v1/meta/{kind}/{name}"]
    assert "ETag" in document["get"]["responses"]["200"]["headers"]
    for operation in (document["put"], document["delete"],
                      paths["/api/v1/meta/versions/{number}/restore"]["post"]):
        assert "If-Match" in [p["name"] for p in operation["parameters"]]
        assert "412" in operation["responses"]
        assert "ETag" in operation["responses"]["200"]["headers"]
