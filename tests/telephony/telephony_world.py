"""The shipped packs, a Twilio-compatible API on loopback (`twilio_harness`) and users, for
the telephony tests: one world per module (building it is the expensive part)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from database_harness import postgres_schema, schema_url
from metacrm.api import RUNTIME_KEY
from metacrm.automation.subject import automation_subject
from metacrm.composition import Services
from metacrm.fieldtypes import default_registry
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.metadata.loader import read_documents
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import TelephonyNumber, TelephonySettings
from metacrm.storage.engine import create_database_engine
from twilio_harness import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, sign, twilio_server
from web_harness import PASSWORD, Web, bearer, open_web

METADATA = Path(__file__).resolve().parents[2] / "metadata"
PUBLIC_URL = "https://crm.ourco.example"
SALES_NUMBER = "+12025550143"
SUPPORT_NUMBER = "+12025550144"
"""The CRM's numbers; strangers texting or calling the support number make no lead."""


def apply_shipped_packs(database_url: str) -> None:
    documents, errors = read_documents([METADATA])
    assert errors == []
    engine = create_database_engine(database_url)
    try:
        MetadataService(engine, default_registry()).apply(documents, author="test")
    finally:
        engine.dispose()


class World:
    def __init__(self, web: Web, twilio: FakeTwilio) -> None:
        self.web = web
        self.twilio = twilio
        with web.app.app_context():
            state = identity_state()
            model = state.metadata.live().model
            self.user_ids = {
                username: str(create_user(state.appbuilder, model, username=username,
                                          role=role_name, password=PASSWORD,
                                          email=f"{username}@ourco.example").id)
                for username, role_name in (("root", "admin"), ("rita", "sales_rep"),
                                            ("sam", "sales_rep"), ("max", "sales_manager"),
                                            ("val", "service_agent"))}
        self.root = bearer(web.login("root", PASSWORD))
        self.rita = bearer(web.login("rita", PASSWORD))
        self.sam = bearer(web.login("sam", PASSWORD))
        self.headers = {name: bearer(web.login(name, PASSWORD))
                        for name in ("root", "rita", "sam", "max", "val")}
        self.acme = self.create("company", name="Acme", owner=self.user_ids["rita"])
        self.pat = self.create("person", first_name="Pat", last_name="Lee",
                               mobile="+14155552671", company=self.acme["id"],
                               owner=self.user_ids["rita"])
        self.deal = self.create("deal", title="Acme rollout", company=self.acme["id"],
                                contact=self.pat["id"], owner=self.user_ids["rita"])

    @property
    def services(self) -> Services:
        services: Services = self.web.app.extensions[RUNTIME_KEY].services
        return services

    @property
    def client(self) -> FlaskClient:
        return self.web.client

    def admin(self) -> Any:
        return automation_subject(self.services.records.runtime().model, "test_setup")

    def create(self, entity: str, **values: Any) -> dict[str, Any]:
        return self.services.records.create(self.admin(), entity, values)

    def list(self, entity: str, field: str, value: Any) -> list[dict[str, Any]]:
        return self.services.records.list(self.admin(), entity, criteria={
            "field": field, "op": "eq", "value": value}, limit=100).records

    def get(self, entity: str, record_id: str) -> dict[str, Any]:
        return self.services.records.get(self.admin(), entity, record_id)

    def call(self, method: str, path: str, headers: dict[str, str], status: int,
             body: Any = None) -> Any:
        response = self.client.open(f"/api/v1{path}", method=method, json=body,
                                    headers=headers)
        assert response.status_code == status, (path, response.get_json())
        return response.get_json()

    def webhook(self, path: str, form: Mapping[str, str], *,
                signature: str | None = "sign") -> TestResponse:
        """POST `form` as the provider does; `signature="sign"` signs it with the account's
        token, None leaves the header out, anything else is sent as it is."""
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = sign(AUTH_TOKEN, PUBLIC_URL + path, form)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.client.post(path, data=urlencode(form), headers=headers,
                                content_type="application/x-www-form-urlencoded")

    def timeline(self, entity: str, record_id: str, kind: str,
                 headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
        page = self.call("GET", f"/records/{entity}/{record_id}/timeline?kind={kind}",
                         headers or self.root, 200)
        return list(page["data"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("telephony")
    with ExitStack() as stack:
        url = os.environ.get("METACRM_TEST_DATABASE_URL") or f"sqlite:///{root / 't.db'}"
        if url.startswith("postgresql"):
            url = schema_url(url, stack.enter_context(postgres_schema(url)))
        apply_shipped_packs(url)
        twilio = stack.enter_context(twilio_server())
        telephony = TelephonySettings(ACCOUNT_SID, AUTH_TOKEN, (
            TelephonyNumber(SALES_NUMBER), TelephonyNumber(SUPPORT_NUMBER, create_leads=False)),
            api_base=twilio.url)
        web = stack.enter_context(open_web(url, root / "app", roles=(),
                                           settings_changes={"telephony": telephony,
                                                             "public_url": PUBLIC_URL},
                                           RATELIMIT_ENABLED=False))
        yield World(web, twilio)
