"""The SLA clocks of a ticket: `GET /api/v1/records/ticket/<id>/sla`.

-> `{"policy", "calendar", "clocks": {"first_response" | "resolution": {target_minutes,
elapsed_minutes, paused_minutes, remaining_minutes, due, paused, breached, met_at}}}`,
measured now. The ticket is read with the caller's scope and field security (404 when they
may not read it; no clocks when its SLA fields are hidden from them). Thin: the rules are
`metacrm.service_desk`'s.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.filter_parsing import escape
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.service_desk.clocks import NO_CLOCKS, TICKET

service_desk_api = Blueprint("metacrm_service_desk", __name__,
                             url_prefix=f"{API_PREFIX}/records")


@service_desk_api.get(f"/{TICKET}/<record_id>/sla")
def ticket_clocks(record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(TICKET)
    if request.args:
        raise ValidationFailed("invalid request", [
            ErrorDetail(f"unknown parameter {name!r}; this operation takes none",
                        f"/{escape(name)}") for name in request.args])
    clocks = web_runtime().services.service_desk.of(subject, record_id)
    return jsonify(clocks.as_json() if clocks is not None else NO_CLOCKS)
