"""OpenAPI paths and schemas of messages and mailboxes (`metacrm.api.messages`): only when
the model has the `email` pack's `email_message` entity (else a send can never succeed)."""

from __future__ import annotations

from typing import Any

from metacrm.api.openapi_paths import errors, json_answer, json_body
from metacrm.api.openapi_schemas import ref
from metacrm.email.inbound_signature import HEADER
from metacrm.email.mailboxes import SECRET_KEYS
from metacrm.email.outbound import MAX_RECIPIENTS
from metacrm.kernel.ids import ID_PATTERN
from metacrm.metadata.model import CompiledModel

Schema = dict[str, Any]
MESSAGES_TAG = {"name": "messages", "description": "Email sent from records and received "
                                                   "in the CRM's mailboxes."}
_ADDRESSES = {"type": "array", "maxItems": MAX_RECIPIENTS,
              "items": {"type": "string", "format": "email"}}
_TEXT = {"type": ["string", "null"]}


def message_schemas() -> dict[str, Schema]:
    return {
        "MessageOrder": {
            "type": "object", "required": ["to"], "additionalProperties": False,
            "properties": {
                "channel": {"enum": ["email"], "default": "email"},
                "mailbox": {"type": "string", "description": "The mailbox sending it "
                                                             "(default: the first that can)."},
                "to": {**_ADDRESSES, "minItems": 1}, "cc": _ADDRESSES, "bcc": _ADDRESSES,
                "subject": {"type": "string", "description": "Required with `body`; "
                                                            "overrides the template's."},
                "body": {"type": "string", "description": "The text; or a `template`."},
                "template": {"type": "string", "description": "An email_template name, "
                                                             "rendered with the record."},
                "language": {"enum": ["en", "ru"], "description": "The template's variant "
                                                                 "(default: the record's "
                                                                 "preferred_language, else "
                                                                 "en)."},
                "attachments": {
                    "type": "array", "maxItems": 10, "items": {"type": "string"},
                    "description": "Ids of the record's attachments to send with it (e.g. "
                                   "its generated PDF; at most 20 MiB in all); the message "
                                   "keeps a copy of each."},
            }},
        "Mailbox": {
            "type": "object", "required": ["name", "address", "secrets_set"],
            "properties": {
                "name": {"type": "string"}, "address": {"type": "string", "format": "email"},
                "smtp_url": _TEXT, "imap_url": _TEXT, "folder": {"type": "string"},
                "create_leads": {"type": "boolean"}, "lead_source": _TEXT, "owner": _TEXT,
                "rate_per_hour": {"type": ["integer", "null"]},
                "secrets_set": {"type": "array", "items": {"enum": list(SECRET_KEYS)},
                                "description": "Which secrets are set (never their values)."},
            }},
        "MailboxSettings": {
            "type": "object", "required": ["address"], "additionalProperties": False,
            "properties": {
                "address": {"type": "string", "format": "email"},
                "smtp_url": {"type": ["string", "null"],
                             "description": "smtp[s]://[user@]host[:port][?starttls=true]"},
                "imap_url": {"type": ["string", "null"],
                             "description": "imap[s]://user@host[:port]"},
                "folder": {"type": "string", "maxLength": 255},
                "create_leads": {"type": "boolean"},
                "lead_source": _TEXT, "owner": _TEXT,
                "rate_per_hour": {"type": ["integer", "null"], "minimum": 1,
                                  "maximum": 1_000_000,
                                  "description": "At most this many mass-mailing messages "
                                                 "an hour through this mailbox."},
                **{key: {"type": ["string", "null"], "minLength": 1, "writeOnly": True,
                         "description": "A secret: stored sealed, never shown; null "
                                        "removes it, leaving it out keeps it."}
                   for key in SECRET_KEYS},
            }},
    }


def message_paths(model: CompiledModel) -> dict[str, Any]:
    if "email_message" not in model.entities:
        return {}
    tag = {"tags": ["messages"]}
    record_params = [
        {"name": "entity", "in": "path", "required": True,
         "schema": {"type": "string", "enum": sorted(model.entities)}},
        {"name": "record_id", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": ID_PATTERN}}]
    name = [{"name": "name", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"}}]
    data = {"type": "object", "required": ["data"],
            "properties": {"data": ref("email_message.record")}}
    return {
        "/api/v1/records/{entity}/{record_id}/messages": {"post": {
            **tag, "operationId": "send_message",
            "summary": "Send an email about a record (read the record, create email_message)",
            "description": "Stored as `queued` and sent by the job queue through the "
                           "mailbox's SMTP server; its `status` becomes `sent`, or `failed` "
                           "with the `error`. The Message-ID carries a signed token of the "
                           "record, so replies thread onto it.",
            "parameters": record_params,
            "requestBody": json_body(ref("MessageOrder")),
            "responses": {"202": json_answer("The message, queued (or already sent: inline "
                                             "queue).", data),
                          **errors("400", "401", "403", "404", "415", "422", "429")}}},
        "/api/v1/channels/email/inbound": {"post": {
            **tag, "operationId": "receive_email", "security": [],
            "summary": "Push one received email (a provider's inbound webhook)",
            "description": f"The body is the raw message; `{HEADER}: sha256=<hex HMAC-SHA256 "
                           "of the body under the mailbox's inbound_secret>` authenticates "
                           "it. Stored once per Message-ID, threaded and linked as polled "
                           "mail is.",
            "parameters": [{"name": "mailbox", "in": "query", "required": True,
                            "schema": {"type": "string"}},
                           {"name": HEADER, "in": "header", "required": True,
                            "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}}],
            "requestBody": {"required": True, "content": {"message/rfc822": {
                "schema": {"type": "string", "format": "binary"}}}},
            "responses": {"202": json_answer("Stored (or a duplicate).", {
                "type": "object", "required": ["data"], "properties": {"data": {
                    "type": "object", "required": ["id", "message_id", "duplicate"],
                    "properties": {"id": {"type": "string"}, "message_id": {"type": "string"},
                                   "duplicate": {"type": "boolean"}}}}}),
                **errors("400", "401", "422", "429")}}},
        "/api/v1/mailboxes": {"get": {
            **tag, "operationId": "list_mailboxes", "summary": "The mailboxes (administrators)",
            "responses": {"200": json_answer("The mailboxes.", {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "array", "items": ref("Mailbox")}}}),
                **errors("401", "403", "422", "429")}}},
        "/api/v1/mailboxes/{name}": {
            "put": {**tag, "operationId": "save_mailbox",
                    "summary": "Create or change a mailbox (administrators)",
                    "parameters": name, "requestBody": json_body(ref("MailboxSettings")),
                    "responses": {"200": json_answer("The mailbox.", {
                        "type": "object", "required": ["data"],
                        "properties": {"data": ref("Mailbox")}}),
                        **errors("400", "401", "403", "415", "422", "429")}},
            "delete": {**tag, "operationId": "delete_mailbox",
                       "summary": "Remove a mailbox (administrators)", "parameters": name,
                       "responses": {"204": {"description": "Removed."},
                                     **errors("401", "403", "404", "422", "429")}}},
    }
