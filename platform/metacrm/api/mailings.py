"""Actions on a mailing (`metacrm.marketing.mailings`), beside its records API:

* `POST /api/v1/records/mailing/<id>/test` `{"address"}` — send it to one address now;
* `POST .../schedule` `{"at": RFC 3339}` — schedule a draft; `POST .../send` — send now;
* `POST .../pause`, `.../resume`, `.../cancel`;
* `GET .../progress` — status and counters, counted now.

Actions that change the mailing answer `{"data": <the mailing>}`, as the records API does.

Each needs the right to update the mailing (progress: to read it); the rules are the
service's, this module only parses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.filter_parsing import escape
from metacrm.api.problems import json_body
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.marketing.mailings.ledger import MAILING

mailings_api = Blueprint("metacrm_mailings", __name__, url_prefix=f"{API_PREFIX}/records")


def _no_parameters() -> None:
    if request.args:
        raise ValidationFailed("invalid request", [
            ErrorDetail(f"unknown parameter {name!r}; this operation takes none",
                        f"/{escape(name)}") for name in request.args])


def _body(*allowed: str) -> dict[str, Any]:
    if not request.get_data(cache=True):
        return {}
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationFailed("invalid request", [ErrorDetail("must be a JSON object", "")])
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationFailed("invalid request", [
            ErrorDetail(f"unknown property {name!r}", f"/{escape(name)}") for name in unknown])
    return body


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationFailed("invalid schedule", [ErrorDetail(
            "a date and time with an offset, such as 2026-12-24T09:00:00Z", "/at")])
    return moment


@mailings_api.post(f"/{MAILING}/<record_id>/<action>")
def mailing_action(record_id: str, action: str) -> Response:
    _, subject = request_subject()
    live_entity(MAILING)
    _no_parameters()
    service = web_runtime().services.mailings
    if action == "test":
        body = _body("address")
        return jsonify(service.send_test(subject, record_id, body.get("address")))
    if action == "schedule":
        body = _body("at")
        if body.get("at") is None:
            raise ValidationFailed("invalid schedule", [ErrorDetail("when to send", "/at")])
        return jsonify({"data": service.schedule(subject, record_id, _moment(body.get("at")))})
    _body()
    if action == "send":
        return jsonify({"data": service.schedule(subject, record_id, None)})
    if action == "pause":
        return jsonify({"data": service.pause(subject, record_id)})
    if action == "resume":
        return jsonify({"data": service.resume(subject, record_id)})
    if action == "cancel":
        return jsonify({"data": service.cancel(subject, record_id)})
    raise NotFound(f"a mailing has no action {action!r}")


@mailings_api.get(f"/{MAILING}/<record_id>/progress")
def mailing_progress(record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(MAILING)
    _no_parameters()
    return jsonify(web_runtime().services.mailings.progress(subject, record_id))
