"""The record page's email panel: compose an email about the record (to and cc offered from
the record's contacts, a text or an email template, files of the record to attach) and send
it through the messages service, as `POST /api/v1/records/<entity>/<id>/messages` does.

Thin: the email feature checks the rights (read the record, create `email_message`), the
addresses and the template; the panel is shown only when the model has the email pack,
the user may create messages and a mailbox can send.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import MetacrmError
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import t

web_record_email = screen_blueprint("web_record_email", __name__, url_prefix="/app/r")
MESSAGE_ENTITY = "email_message"
CONTACT_ENTITIES = ("person", "company", "lead")
MAX_SUGGESTED = 20


def _addresses(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").replace("\n", ",").split(",")
            if part.strip()]


def suggested_addresses(subject: AccessSubject, entity: str, record: Mapping[str, Any]
                        ) -> list[str]:
    """The record's own `email` and those of the people, companies and leads it refers
    to — each read as the user may (a record they may not read offers nothing)."""
    runtime = services().records.runtime()
    entity_def = runtime.model.entities[entity]
    found: list[str] = []
    if isinstance(record.get("email"), str) and record["email"]:
        found.append(record["email"])
    for fdef in entity_def.fields:
        target = fdef.options.get("entity") if fdef.type == "reference" else None
        value = record.get(fdef.name)
        if target not in CONTACT_ENTITIES or not isinstance(value, str):
            continue
        try:
            other = services().records.get(subject, str(target), value)
        except MetacrmError:
            continue
        if isinstance(other.get("email"), str) and other["email"] not in found:
            found.append(other["email"])
    return found[:MAX_SUGGESTED]


def email_panel(subject: AccessSubject, entity: str, record: Mapping[str, Any]
                ) -> Mapping[str, Any] | None:
    """What the compose form shows, or None when the user cannot send from here."""
    feature = services().services.email
    runtime = services().records.runtime()
    if MESSAGE_ENTITY not in runtime.model.entities or entity == MESSAGE_ENTITY:
        return None
    try:
        runtime.scoped(subject).require(MESSAGE_ENTITY, "create")
    except MetacrmError:
        return None
    mailboxes = [box.name for box in feature.mailboxes.all() if box.smtp_url]
    if not mailboxes:
        return None
    try:
        files = services().services.files.list(subject, entity, str(record["id"]))
    except MetacrmError:
        files = []
    return {"mailboxes": mailboxes,
            "addresses": suggested_addresses(subject, entity, record),
            "files": [{"id": item.id, "name": item.name} for item in files]}


@web_record_email.post("/<entity>/<record_id>/messages")
@login_required
def send(entity: str, record_id: str) -> BaseResponse:
    form = request.form
    body: dict[str, Any] = {"to": _addresses(form.get("to", "")),
                            "cc": _addresses(form.get("cc", ""))}
    for key in ("subject", "body", "template", "mailbox", "language"):
        if form.get(key):
            body[key] = form[key]
    if form.getlist("attachments"):
        body["attachments"] = form.getlist("attachments")
    try:
        message = services().services.email.outbound.send(web_subject(), entity, record_id,
                                                          body)
    except MetacrmError as exc:
        if exc.status == 404:
            raise
        details = "; ".join(f"{e.pointer}: {e.message}" for e in exc.errors) or exc.message
        flash(t("The email was not sent: %(reason)s", reason=details), "error")
    else:
        if message.get("status") == "failed":
            flash(t("The email could not be sent: %(reason)s",
                    reason=message.get("error") or ""), "error")
        elif message.get("status") == "sent":
            flash(t("The email was sent."), "success")
        else:
            flash(t("The email is queued; it is sent in a moment."), "success")
    return redirect(f"/app/r/{entity}/{record_id}")
