"""Messages over HTTP (the email feature does the work; other channels their features).

* `POST /api/v1/records/<entity>/<id>/messages` `{"channel": "email", "to": [...], "cc",
  "bcc", "subject", "body" | "template", "language", "mailbox"}` -> 202 `{"data": <the
  email_message record>}`: stored as `queued`, sent by the job queue; its `status` becomes
  `sent` or `failed` with the `error`. The `channel` (default `email`) picks the record
  sender in the channel registry (`services.channels.registry`): `sms` stores an `sms_message`.
* `POST /api/v1/channels/email/inbound?mailbox=NAME` with a `message/rfc822` body signed
  `X-Metacrm-Signature: sha256=<HMAC-SHA256 of the body under the mailbox's
  inbound_secret>` -> 202 `{"data": {"id", "message_id", "duplicate"}}` (public: the
  signature is the authentication; a wrong or missing one is 401).
* `GET /api/v1/mailboxes`, `PUT/DELETE /api/v1/mailboxes/<name>` (administrators): the
  mailboxes; secrets are written only (`secrets_set` says which are set).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters
from metacrm.email import inbound_signature
from metacrm.email.install import EmailFeature
from metacrm.kernel.errors import ErrorDetail, Forbidden, MetacrmError, ValidationFailed

messages_api = Blueprint("metacrm_messages", __name__, url_prefix=API_PREFIX)
MAX_INBOUND_BYTES = 25 * 1024 * 1024
RFC822 = "message/rfc822"


class Unauthorized(MetacrmError):
    status = 401
    title = "Unauthorized"


def email_feature() -> EmailFeature:
    return web_runtime().services.email


@messages_api.post("/records/<entity>/<record_id>/messages")
def send_message(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    body = json_body()
    channel = body.get("channel", "email") if isinstance(body, dict) else "email"
    channels = web_runtime().services.channels
    sender = channels.record_sender(channel) if isinstance(channel, str) else None
    if sender is None:
        raise ValidationFailed("the message cannot be sent: unknown channel", [ErrorDetail(
            f"unknown channel {channel!r}; this CRM sends: "
            f"{', '.join(channels.record_channels()) or 'nothing'}", "/channel")])
    message = sender.send(subject, entity, record_id, body)
    response = jsonify({"data": message})
    response.status_code = 202
    return response


@messages_api.post("/channels/email/inbound")
def inbound_email() -> Response:
    reject_parameters((k, v) for k, v in request.args.items(multi=True) if k != "mailbox")
    name = request.args.get("mailbox", "")
    if request.mimetype != RFC822:
        raise ValidationFailed("the body must be a message/rfc822 email", [ErrorDetail(
            f"Content-Type is {request.mimetype or 'missing'}, not {RFC822}", "")])
    if (request.content_length or 0) > MAX_INBOUND_BYTES:
        raise ValidationFailed("the message is too large", [ErrorDetail(
            f"at most {MAX_INBOUND_BYTES} bytes", "")])
    body = request.get_data(cache=False)
    feature = email_feature()
    mailbox = feature.mailboxes.find(name) if name else None
    secret = mailbox.secret("inbound_secret") if mailbox is not None else None
    if mailbox is None or not inbound_signature.is_signed(
            secret, body, request.headers.get(inbound_signature.HEADER)):
        raise Unauthorized("the inbound message is not signed for this mailbox", [ErrorDetail(
            f"sign the body with the mailbox's inbound secret in {inbound_signature.HEADER}",
            "")])
    received = feature.intake.receive(mailbox, body)
    response = jsonify({"data": {"id": received.record_id, "message_id": received.message_id,
                                 "duplicate": received.duplicate}})
    response.status_code = 202
    return response


def _admin() -> None:
    _, subject = request_subject()
    if not web_runtime().services.records.runtime().policy.is_admin(subject):
        raise Forbidden("only administrators manage mailboxes",
                        [ErrorDetail("needs an admin role", "")])


@messages_api.get("/mailboxes")
def list_mailboxes() -> Response:
    _admin()
    reject_parameters(request.args.items(multi=True))
    return jsonify({"data": [box.to_json() for box in email_feature().mailboxes.all()]})


@messages_api.put("/mailboxes/<name>")
def save_mailbox(name: str) -> Response:
    _admin()
    reject_parameters(request.args.items(multi=True))
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationFailed("invalid mailbox", [ErrorDetail("must be a JSON object", "")])
    return jsonify({"data": email_feature().mailboxes.save(name, body).to_json()})


@messages_api.delete("/mailboxes/<name>")
def delete_mailbox(name: str) -> Response:
    _admin()
    reject_parameters(request.args.items(multi=True))
    email_feature().mailboxes.delete(name)
    return Response(status=204)
