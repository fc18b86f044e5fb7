"""The record page's phone panel: send an SMS about the record, or call its number
(click-to-call: the provider rings the user's phone first), through the telephony feature
as `POST …/messages` (`channel: sms`) and `POST …/calls` do.

Thin: the telephony feature checks the rights (read the record, create `sms_message` or
`call`) and the numbers; each form is shown only when SMS and calls are set up, the record
may be their subject and the user may create them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.regarding import allowed_entities
from metacrm.kernel.errors import MetacrmError
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import t

web_record_phone = screen_blueprint("web_record_phone", __name__, url_prefix="/app/r")
PHONE_FIELDS = ("mobile", "phone")


def _may_log(subject: AccessSubject, entity: str, logged_as: str) -> bool:
    runtime = services().records.runtime()
    definition = runtime.model.entities.get(logged_as)
    field = definition.field("regarding") if definition is not None else None
    if field is None or entity not in allowed_entities(field):
        return False
    try:
        runtime.scoped(subject).require(logged_as, "create")
    except MetacrmError:
        return False
    return True


def phone_panel(subject: AccessSubject, entity: str, record: Mapping[str, Any]
                ) -> Mapping[str, Any] | None:
    """What the panel offers (`sms`, `call`, the record's `number`), or None."""
    if services().services.telephony is None:
        return None
    sms = _may_log(subject, entity, "sms_message")
    call = _may_log(subject, entity, "call")
    if not (sms or call):
        return None
    number = next((record[name] for name in PHONE_FIELDS
                   if isinstance(record.get(name), str) and record[name]), "")
    return {"sms": sms, "call": call, "number": number}


def _failure(exc: MetacrmError) -> str:
    return "; ".join(f"{e.pointer}: {e.message}" for e in exc.errors) or exc.message


@web_record_phone.post("/<entity>/<record_id>/sms")
@login_required
def send_sms(entity: str, record_id: str) -> BaseResponse:
    telephony = services().services.telephony
    if telephony is None:
        flash(t("SMS and calls are not set up."), "error")
        return redirect(f"/app/r/{entity}/{record_id}")
    body = {"channel": "sms", "to": request.form.get("to", "").strip(),
            "body": request.form.get("body", "")}
    try:
        message = telephony.outbound.send(web_subject(), entity, record_id, body)
    except MetacrmError as exc:
        if exc.status == 404:
            raise
        flash(t("The SMS was not sent: %(reason)s", reason=_failure(exc)), "error")
    else:
        if message.get("status") == "failed":
            flash(t("The SMS could not be sent: %(reason)s",
                    reason=message.get("error") or ""), "error")
        else:
            flash(t("The SMS was handed to the provider."), "success")
    return redirect(f"/app/r/{entity}/{record_id}")


@web_record_phone.post("/<entity>/<record_id>/call")
@login_required
def place_call(entity: str, record_id: str) -> BaseResponse:
    telephony = services().services.telephony
    if telephony is None:
        flash(t("SMS and calls are not set up."), "error")
        return redirect(f"/app/r/{entity}/{record_id}")
    body: dict[str, Any] = {"agent": request.form.get("agent", "").strip()}
    if request.form.get("to", "").strip():
        body["to"] = request.form["to"].strip()
    try:
        telephony.outbound.call(web_subject(), entity, record_id, body)
    except MetacrmError as exc:
        if exc.status == 404:
            raise
        flash(t("The call was not placed: %(reason)s", reason=_failure(exc)), "error")
    else:
        flash(t("Your phone rings now; answer it to be connected."), "success")
    return redirect(f"/app/r/{entity}/{record_id}")
