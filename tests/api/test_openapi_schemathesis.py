"""schemathesis over every operation of the served document with EVERY check, including
`positive_data_acceptance` (a request the document calls valid must be accepted), and a
stateful phase that chains operations through the responses (issue 11).

What makes some valid-looking input acceptable is state no schema can state; the run supplies
that state instead of leaving the check out, each for a stated reason (`supply_state`):

* a cursor is issued by the server (`next_cursor`): positive cases leave it out;
* a file goes to a file field of the record's entity, which the one path for every entity
  cannot name: positive uploads leave the `field` part out (an attachment of the record);
* an Idempotency-Key is single-use: each positive case gets a fresh one;
* a reference names a record that exists: positive cases name one (a chain that deletes it
  gets a new one);
* a token's expiry lies in the future, a webhook's host resolves to a public address, its
  entity is one of the live model and its filter a criteria tree over that entity's fields
  (positive cases subscribe to `gadget` without a filter);
* a metadata document must fit the live documents it names (entities, fields, roles):
  positive puts send a role document the live model takes;
* If-Match names a version the client read: a stale one answers 412, which is the
  precondition failing, not the request refused — so 412 is an accepted answer; and as
  RFC 9110 (13.2.1) evaluates preconditions before the request content, a failing one
  answers 412 for an invalid body too, which refuses it as well as a 422 would;
* the document is one for every caller, and field security takes fields away per role:
  valid-looking input is judged for acceptance when the admin sends it (whose rights span
  the whole document); the clerk's requests (own scope, a hidden and a read-only field)
  go through every other check — their refusals are the access layer's, tested in tests/access.

Where validity is syntax, the document states it (tests/api/test_openapi_truthful.py checks
the two agree case by case). Bounded: EXAMPLES per operation and mode, derandomized, and a
short stateful run — well under a minute per database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_harness import Api, open_api
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.config._checks import (
    NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
    POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES,
)
from schemathesis.specs.openapi.checks import use_after_free
from test_openapi_served import DOCUMENTS

EXAMPLES = 3
STATEFUL_STEPS = 8
STATEFUL_EXAMPLES = 4
PUBLIC_HOOK_URL = "https://93.184.215.14/hooks/crm"
"""A public address written as such: no name to resolve on a machine without DNS."""
TOKEN_DELETING = "revoke_token"


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path, *DOCUMENTS) as api:
        yield api


class State:
    """Records that exist, for the references positive cases make."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.makers = [self._created(api, "maker", {"name": "Acme"}, headers)
                       for headers in (api.admin, api.clerk)]
        self.gadgets = [self._created(api, "gadget", {"title": "Anvil",
                                                      "maker": self.makers[index]}, headers)
                        for index, headers in enumerate((api.admin, api.clerk))]

    def replace_deleted_maker(self, path: str) -> None:
        """A chain may delete a maker the positive cases refer to: make a new one."""
        for index, headers in enumerate((self.api.admin, self.api.clerk)):
            if path == f"/api/v1/records/maker/{self.makers[index]}":
                self.makers[index] = self._created(self.api, "maker", {"name": "Acme"},
                                                   headers)

    @staticmethod
    def _created(api: Api, entity: str, values: dict[str, Any],
                 headers: dict[str, str]) -> str:
        response = api.client.post(f"/api/v1/records/{entity}", json=values, headers=headers)
        assert response.status_code == 201, response.get_json()
        record_id: str = response.get_json()["data"]["id"]
        return record_id


def supply_state(case: Any, state: State) -> None:
    """Give a positive case the state the document cannot state (see the module notes)."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return
    if case.query:
        case.query.pop("cursor", None)
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    path = case.operation.path
    body = case.body if isinstance(case.body, dict) else None
    if body is not None:
        body.pop("cursor", None)
    if path.startswith("/api/v1/records/gadget") and body is not None:
        for values in (body.get("records") or [body]) if isinstance(body.get("records"),
                                                                     list) else [body]:
            if isinstance(values, dict) and values.get("maker") is not None:
                values["maker"] = state.makers[0]
    if path.endswith("/attachments") and body is not None:
        body.pop("field", None)
    if path == "/api/v1/tokens" and body is not None and body.get("expires_at") is not None:
        body["expires_at"] = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    if path.startswith("/api/v1/webhooks") and body is not None:
        if "url" in body:
            body["url"] = PUBLIC_HOOK_URL
        if body.get("entity") is not None:
            body["entity"] = "gadget"
        if "filter" in body:
            body["filter"] = None
    if path.endswith("/merge") and body is not None and body.get("ids"):
        body["survivor"] = body["ids"][0]  # one of ids: a rule no schema can state
        body.pop("values", None)  # the entity's fields, as for PATCH
    if path == "/api/v1/reports/run" and body is not None:
        body["report"] = {"entity": "gadget", "group_by": ["maker"],
                          "metrics": [{"op": "count"}]}  # a report must name real fields
    if path.startswith("/api/v1/reports/") and body is not None:
        body.pop("parameters", None)  # teams, owners and time zones that exist
    if path == "/api/v1/calendar" and case.query is not None:
        # a range: `to` after `from`, at most 62 days later (relations no schema states)
        case.query.update({"from": "2026-03-01T00:00:00Z", "to": "2026-03-08"})
    if path == "/api/v1/meta/{kind}/{name}" and case.method.upper() == "PUT":
        name = f"st_{uuid.uuid4().hex[:8]}"
        case.path_parameters = {"kind": "role", "name": name}
        case.body = {"kind": "role", "name": name, "version": 1,
                     "label": {"en": "Generated", "ru": "Сгенерированная"}}


def loaded(api: Api) -> Any:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api.web.app,
                                            headers=api.admin)
    checks = schema.config.checks
    checks.positive_data_acceptance.expected_statuses = [
        *POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES, "412"]
    checks.negative_data_rejection.expected_statuses = [
        *NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "412"]
    return schema


def test_every_operation_passes_every_check(api: Api) -> None:
    """Generated valid and invalid requests of every operation, by an admin and by a clerk
    (own scope, a hidden and a read-only field), answer as documented: valid ones are
    accepted, invalid ones refused, responses match their schemas."""
    state = State(api)
    schema = loaded(api)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in sorted(operations, key=lambda op: op.method == "delete"):
        for headers in (api.admin, api.clerk):
            excluded = [] if headers is api.admin else [positive_data_acceptance]
            # invalid requests are refused before anyone's rights are read: the admin's
            # negative cases stand for both
            modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if headers is api.admin \
                else (GenerationMode.POSITIVE,)
            for mode in modes:
                _exercise(operation.as_strategy(generation_mode=mode), headers, state,
                          excluded=excluded)
            if "{id}" in operation.path:
                records = {"gadget": state.gadgets, "maker": state.makers}
                for record_id in records[operation.path.split("/")[4]]:
                    _exercise(operation.as_strategy(path_parameters={"id": record_id}),
                              headers, state, excluded=excluded)


def _exercise(strategy: Any, headers: dict[str, str], state: State, *,
              excluded: list[Any]) -> None:
    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        supply_state(case, state)
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    run()


def test_chained_operations_keep_the_documents_promises(api: Api) -> None:
    """The stateful phase: operations chained through what earlier responses returned
    (ids, cursors), every check on each step; revoking tokens is left out (it would revoke
    nothing of the run's own credentials, but its chains only repeat the list)."""
    state = State(api)
    schema = loaded(api).exclude(operation_id=TOKEN_DELETING)
    credentials = api.admin["Authorization"]

    @schema.auth()
    class AdminCredentials:
        """The admin's bearer token on every step (the auth checks take it out again)."""

        def get(self, case: Any, context: Any) -> str:
            return credentials

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": data}

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            supply_state(case, state)
            return {}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            if case.method.upper() == "DELETE" and response.status_code < 300:
                state.replace_deleted_maker(case.formatted_path)

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            """Every check, but a deleted record's history is not "still available" by
            mistake: its trail stays readable to an all-scope reader (docs/api.md,
            History; access.scoped_reads.history), which the admin here is."""
            excluded = [use_after_free] if case.path.endswith("/history") else []
            case.validate_response(response, additional_checks=additional_checks,
                                   excluded_checks=excluded, transport_kwargs=kwargs or None,
                                   recorder=self.recorder)

    run_state_machine_as_test(Machine, settings=settings(
        max_examples=STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS, deadline=None,
        database=None, derandomize=True, suppress_health_check=list(HealthCheck)))
