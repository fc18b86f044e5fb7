"""OpenAPI path item and schemas of a ticket's SLA clocks (`api.service_desk`), listed
when the model has tickets (the service pack)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import READ_ERRORS, RECORD_ID, RECORDS, errors, json_answer
from metacrm.api.openapi_schemas import english, ref
from metacrm.metadata.model import SLA_METRICS, CompiledModel
from metacrm.service_desk.clocks import TICKET

Schema = dict[str, Any]
MINUTES = {"type": "number"}


def service_desk_schemas(model: CompiledModel) -> dict[str, Schema]:
    """`SlaClock` and `TicketClocks` (none without tickets)."""
    if model.entity(TICKET) is None:
        return {}
    return {
        "SlaClock": {
            "type": "object", "additionalProperties": False,
            "description": "One target's clock in business time (docs/service.md).",
            "required": ["target_minutes", "elapsed_minutes", "paused_minutes",
                         "remaining_minutes", "due", "paused", "breached", "met_at"],
            "properties": {
                "target_minutes": MINUTES, "elapsed_minutes": MINUTES,
                "paused_minutes": MINUTES,
                "remaining_minutes": {"type": "number",
                                      "description": "Negative once breached."},
                "due": {"type": ["string", "null"], "format": "date-time",
                        "description": "Null while paused, and once met in time."},
                "paused": {"type": "boolean"}, "breached": {"type": "boolean"},
                "met_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "TicketClocks": {
            "type": "object", "additionalProperties": False,
            "required": ["policy", "calendar", "clocks"],
            "properties": {
                "policy": {"type": ["string", "null"]},
                "calendar": {"type": ["string", "null"]},
                "clocks": {"type": "object", "additionalProperties": False,
                           "properties": {metric: ref("SlaClock") for metric in SLA_METRICS}},
            },
        },
    }


def service_desk_paths(model: CompiledModel) -> dict[str, Any]:
    entity = model.entity(TICKET)
    if entity is None:
        return {}
    return {f"{RECORDS}/{TICKET}/{{id}}/sla": {"parameters": [RECORD_ID], "get": {
        "operationId": "ticket_sla_clocks", "tags": [english(entity.plural_label) or TICKET],
        "summary": "The SLA clocks of a ticket, measured now",
        "description": "First response and resolution: due, remaining, paused, breached. "
                       "See docs/service.md.",
        "responses": {"200": json_answer("The clocks.", ref("TicketClocks")),
                      **errors(*READ_ERRORS)},
    }}}
