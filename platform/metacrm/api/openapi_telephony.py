"""OpenAPI paths and schemas of SMS and calls (`metacrm.api.telephony`): only when the
model has the activities pack's `sms_message` and `call` entities."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import errors, json_answer, json_body
from metacrm.api.openapi_schemas import ref
from metacrm.kernel.ids import ID_PATTERN
from metacrm.metadata.model import CompiledModel
from metacrm.telephony.outbound import MAX_BODY
from metacrm.telephony.twilio_signature import HEADER

Schema = dict[str, Any]
TELEPHONY_TAG = {"name": "telephony", "description": "SMS and calls through a "
                                                     "Twilio-compatible provider."}
_NUMBER = {"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$",
           "description": "An international number (E.164)."}


def telephony_schemas() -> dict[str, Schema]:
    return {
        "SmsOrder": {
            "type": "object", "required": ["channel", "to", "body"],
            "additionalProperties": False,
            "properties": {
                "channel": {"const": "sms"},
                "to": {"oneOf": [_NUMBER, {"type": "array", "items": _NUMBER,
                                           "minItems": 1, "maxItems": 1}]},
                "body": {"type": "string", "minLength": 1, "maxLength": MAX_BODY},
                "from": {**_NUMBER, "description": "One of the CRM's numbers (default: "
                                                   "the first)."},
            }},
        "CallOrder": {
            "type": "object", "required": ["agent"], "additionalProperties": False,
            "properties": {
                "agent": {**_NUMBER, "description": "The phone rung first (the caller)."},
                "to": {**_NUMBER, "description": "Dialled once the agent answers (default: "
                                                 "the record's mobile, else phone)."},
                "from": {**_NUMBER, "description": "One of the CRM's numbers (caller id)."},
            }},
    }


def _webhook(operation: str, summary: str, description: str, answer: Schema) -> Schema:
    return {"post": {
        "tags": ["telephony"], "operationId": operation, "security": [], "summary": summary,
        "description": description + f" Authenticated by `{HEADER}`: base64 HMAC-SHA1, "
                                     "under the account's auth token, of the public URL "
                                     "and the form parameters sorted by name.",
        "parameters": [{"name": HEADER, "in": "header", "required": True,
                        "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
            "schema": {"type": "object", "additionalProperties": {"type": "string"}}}}},
        "responses": {**answer, **errors("401", "404", "422", "429")}}}


def telephony_paths(model: CompiledModel) -> dict[str, Any]:
    if "sms_message" not in model.entities or "call" not in model.entities:
        return {}
    twiml = {"200": {"description": "TwiML for the provider.",
                     "content": {"text/xml": {"schema": {"type": "string"}}}}}
    done = {"204": {"description": "Applied (or about no message the CRM sent)."}}
    return {
        "/api/v1/records/{entity}/{record_id}/calls": {"post": {
            "tags": ["telephony"], "operationId": "place_call",
            "summary": "Click-to-call: ring the agent, then dial the record's number",
            "description": "Read the record, create `call`. The provider rings `agent` and "
                           "bridges to `to`; the call is logged on the record.",
            "parameters": [
                {"name": "entity", "in": "path", "required": True,
                 "schema": {"type": "string", "enum": sorted(model.entities)}},
                {"name": "record_id", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": ID_PATTERN}}],
            "requestBody": json_body(ref("CallOrder")),
            "responses": {"202": json_answer("The logged call.", {
                "type": "object", "required": ["data"],
                "properties": {"data": ref("call.record")}}),
                **errors("400", "401", "403", "404", "415", "422", "429", "502")}}},
        "/api/v1/channels/sms/inbound": _webhook(
            "receive_sms", "An SMS to one of the CRM's numbers (the provider's webhook)",
            "Stored once per MessageSid on the sender's record (by number), else on a new "
            "lead when the number allows it.", twiml),
        "/api/v1/channels/sms/status": _webhook(
            "sms_status", "A sent SMS's status callback",
            "The message's status (and error) follow.", done),
        "/api/v1/channels/voice/inbound": _webhook(
            "receive_call", "A call to one of the CRM's numbers (the provider's webhook)",
            "Logged once per CallSid on the caller's record, else on a new lead; forwarded "
            "(`<Dial>`) to the phone of that record's owner when they keep one on their "
            "profile, else the caller is told they will be called back.", twiml),
        "/api/v1/channels/voice/forwarded": _webhook(
            "forwarded_call", "The forwarded dial of an inbound call ended",
            "Hangs up when the person answered (`DialCallStatus` completed), else tells "
            "the caller they will be called back.", twiml),
        "/api/v1/channels/voice/status": _webhook(
            "call_status", "A call's final status callback",
            "The call's duration and outcome follow.", done),
    }
