"""OpenAPI paths of a mailing's actions and progress (`api.mailings`) and of the public
tracking routes (`api.mailing_links`), listed when the model has mailings (the marketing
pack)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import (
    BODY_ERRORS,
    READ_ERRORS,
    RECORDS,
    errors,
    json_answer,
    on_record,
    operation,
)
from metacrm.api.openapi_schemas import english, ref
from metacrm.marketing.mailings.ledger import MAILING
from metacrm.metadata.model import CompiledModel

Schema = dict[str, Any]
COUNT = {"type": "integer", "minimum": 0}
COUNTERS = ("recipients_count", "sent_count", "skipped_count", "failed_count",
            "bounced_count", "complained_count", "opened_count", "clicked_count",
            "done_count")
ACTIONS = {
    "send": ("mailing_send_now", "Send a draft mailing now", None),
    "pause": ("mailing_pause", "Pause a scheduled or sending mailing", None),
    "resume": ("mailing_resume", "Resume a paused mailing where it stopped", None),
    "cancel": ("mailing_cancel", "Cancel a mailing; rows not sent become skipped", None),
    "schedule": ("mailing_schedule", "Schedule a draft mailing", {
        "type": "object", "required": ["at"], "additionalProperties": False,
        "properties": {"at": {"type": "string", "format": "date-time"}}}),
}
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}


def mailing_schemas(model: CompiledModel) -> dict[str, Schema]:
    if model.entity(MAILING) is None:
        return {}
    return {"MailingProgress": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "status", "percent", "ab_winner", *COUNTERS],
        "properties": {"id": {"type": "string"}, "status": {"type": "string"},
                       "percent": {"type": "integer", "minimum": 0, "maximum": 100},
                       "ab_winner": {"type": ["string", "null"], "enum": ["a", "b", None]},
                       "skipped_by_reason": {
                           "type": "object", "additionalProperties": COUNT,
                           "description": "Skipped rows per `skip_reason` (no_consent, "
                                          "list_unsubscribed, unsubscribed, opted_out, "
                                          "bounced, complained, blocked, no_email, "
                                          "duplicate, cancelled); reasons that occur only."},
                       **{name: COUNT for name in COUNTERS}}}}


def mailing_paths(model: CompiledModel) -> dict[str, Any]:
    entity = model.entity(MAILING)
    if entity is None:
        return {}
    tags = [english(entity.plural_label) or MAILING]
    base = f"{RECORDS}/{MAILING}/{{id}}"
    single = json_answer("The mailing after the action.", ref(f"{MAILING}.single"))
    paths: dict[str, Any] = {}
    for action, (operation_id, summary, body) in ACTIONS.items():
        paths[f"{base}/{action}"] = on_record("post", operation(
            operation_id, tags, summary, single, (*READ_ERRORS, *BODY_ERRORS, "409"),
            description="See docs/marketing.md, \"Mass mailings\".", body=body))
    paths[f"{base}/test"] = on_record("post", operation(
        "mailing_send_test", tags, "Send the mailing to one address now (nothing is recorded)",
        json_answer("Sent.", {
            "type": "object", "required": ["sent_to", "message_id"],
            "properties": {"sent_to": {"type": "string"}, "message_id": {"type": "string"}}}),
        (*READ_ERRORS, *BODY_ERRORS, "502"),
        description="502 when the sender mailbox's SMTP server refuses the message or "
                    "cannot be reached; `errors` give its answer.",
        body={"type": "object", "required": ["address"], "additionalProperties": False,
              "properties": {"address": {"type": "string", "format": "email"}}}))
    paths[f"{base}/progress"] = on_record("get", operation(
        "mailing_progress", tags, "The mailing's status and counters, counted now",
        json_answer("The progress.", ref("MailingProgress")), READ_ERRORS))
    public = {"security": [], "tags": tags}
    paths["/m/u/{token}"] = {"parameters": [TOKEN], "post": {
        **public, "operationId": "mailing_one_click_unsubscribe",
        "summary": "RFC 8058 one-click unsubscribe from the mailing's list",
        "responses": {"200": {"description": "Unsubscribed."}, **errors("404")}}}
    paths["/m/o/{token}"] = {"parameters": [TOKEN], "get": {
        **public, "operationId": "mailing_open_pixel",
        "summary": "The open-tracking pixel (a 1x1 GIF whatever the token)",
        "responses": {"200": {"description": "A GIF image.",
                              "content": {"image/gif": {}}}}}}
    paths["/m/c/{token}"] = {"parameters": [TOKEN], "get": {
        **public, "operationId": "mailing_click",
        "summary": "A tracked click: redirects only to the mailing's own recorded link",
        "responses": {"302": {"description": "To the link.", "headers": {
            "Location": {"schema": {"type": "string", "format": "uri"}}}},
            **errors("404")}}}
    return paths
