"""The automation API (admins only): the runs log and the dry run of a trigger.

* `GET /api/v1/automation/runs?trigger=&record_id=&status=&limit=&cursor=` — runs, newest
  first: `{"data": [...], "meta": {"next_cursor": ...}}`;
* `POST /api/v1/automation/triggers/<name>/test` with `{"record_id": "...", "previous":
  {...}}` — what the trigger would do on that record, changing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX
from metacrm.api.context import api_services, request_subject
from metacrm.api.problems import json_body
from metacrm.automation.service import DEFAULT_RUNS_LIMIT, AutomationService
from metacrm.kernel.errors import ErrorDetail, ValidationFailed

automation_api = Blueprint("metacrm_automation", __name__,
                           url_prefix=f"{API_PREFIX}/automation")

RUNS_PARAMETERS = ("trigger", "record_id", "status", "limit", "cursor")
TEST_KEYS = ("record_id", "previous")
MAX_PARAMETER_LENGTH = 255


def _automation() -> AutomationService:
    return api_services().services.automation


@automation_api.get("/runs")
def list_runs() -> Response:
    _, subject = request_subject()
    automation = _automation()
    automation.require_admin(subject)
    values = _runs_parameters()
    limit = _limit(values.pop("limit", None))
    runs, next_cursor = automation.runs(subject, limit=limit, **values)
    return jsonify({"data": [run.to_json() for run in runs],
                    "meta": {"next_cursor": next_cursor}})


@automation_api.post("/triggers/<name>/test")
def test_trigger(name: str) -> Response:
    _, subject = request_subject()
    automation = _automation()
    automation.require_admin(subject)
    body = json_body()
    if not isinstance(body, Mapping):
        raise ValidationFailed("invalid trigger test", [ErrorDetail("must be an object", "")])
    unknown = [ErrorDetail(f"unknown key; known: {', '.join(TEST_KEYS)}", f"/{key}")
               for key in body if key not in TEST_KEYS]
    if unknown:
        raise ValidationFailed("invalid trigger test", unknown)
    return jsonify({"data": automation.test(subject, name, body.get("record_id"),
                                            body.get("previous"))})


def _runs_parameters() -> dict[str, Any]:
    errors = [ErrorDetail(f"unknown parameter; use: {', '.join(RUNS_PARAMETERS)}", f"/{name}")
              for name in request.args if name not in RUNS_PARAMETERS]
    values: dict[str, Any] = {}
    for name in RUNS_PARAMETERS:
        given = request.args.getlist(name)
        if len(given) > 1:
            errors.append(ErrorDetail("is given more than once", f"/{name}"))
        elif given and (len(given[0]) > MAX_PARAMETER_LENGTH or "\x00" in given[0]):
            errors.append(ErrorDetail(f"must be at most {MAX_PARAMETER_LENGTH} characters "
                                      "without NUL", f"/{name}"))
        elif given and given[0]:
            values[name] = given[0]
    if errors:
        raise ValidationFailed("invalid runs listing", errors)
    return values


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_RUNS_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
        raise ValidationFailed("invalid runs listing",
                               [ErrorDetail("must be a whole number", "/limit")])
    return int(raw)
