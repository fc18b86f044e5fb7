"""SMS and calls over HTTP (the telephony feature does the work).

Provider webhooks (public: Twilio has no metacrm login; `X-Twilio-Signature` over
`METACRM_PUBLIC_URL` + the path and the form parameters is the authentication, a wrong or
missing one is 401, and nothing is stored):

* `POST /api/v1/channels/sms/inbound` — an SMS to one of the CRM's numbers -> 200 TwiML
  (an empty `<Response/>`: no automatic answer);
* `POST /api/v1/channels/sms/status` — a sent SMS's status callback -> 204;
* `POST /api/v1/channels/voice/inbound` — a call to one of the CRM's numbers is logged ->
  200 TwiML forwarding it to the phone of the caller's record's owner (`<Dial>`), else
  telling the caller they will be called back;
* `POST /api/v1/channels/voice/forwarded` — the forwarded dial ended -> 200 TwiML: hang
  up when the person answered, else tell the caller they will be called back;
* `POST /api/v1/channels/voice/status` — a call's final status (duration, outcome) -> 204.

Click-to-call: `POST /api/v1/records/<entity>/<id>/calls` `{"agent", "to"?, "from"?}` ->
202 `{"data": <the call record>}`. Without a Twilio-compatible account every route is 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.context import live_entity, request_subject
from metacrm.api.messages import Unauthorized
from metacrm.api.problems import json_body
from metacrm.api.request_parsing import reject_parameters
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.telephony.forwarding import (
    CALL_BACK_TWIML,
    FORWARDED_PATH,
    after_dial_twiml,
    dial_twiml,
)
from metacrm.telephony.install import TelephonyFeature
from metacrm.telephony.twilio_signature import HEADER, is_signed

telephony_api = Blueprint("metacrm_telephony", __name__, url_prefix=API_PREFIX)
FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 64 * 1024
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def telephony() -> TelephonyFeature:
    feature = web_runtime().services.telephony
    if feature is None:
        raise NotFound("SMS and calls are not set up", [ErrorDetail(
            "an admin sets METACRM_TWILIO_ACCOUNT_SID and METACRM_TWILIO_AUTH_TOKEN", "")])
    return feature


def signed_form(feature: TelephonyFeature) -> dict[str, str]:
    """The webhook's form parameters, once its signature is checked (401 otherwise)."""
    if request.mimetype != FORM:
        raise ValidationFailed("the body must be a form", [ErrorDetail(
            f"Content-Type is {request.mimetype or 'missing'}, not {FORM}", "")])
    if (request.content_length or 0) > MAX_FORM_BYTES:
        raise ValidationFailed("the request is too large", [ErrorDetail(
            f"at most {MAX_FORM_BYTES} bytes", "")])
    params = [(name, value) for name, values in request.form.lists() for value in values]
    query = request.query_string.decode("utf-8", "replace")
    url = feature.public_url + request.path + (f"?{query}" if query else "")
    if not is_signed(feature.settings.auth_token, url, params, request.headers.get(HEADER)):
        raise Unauthorized("the request is not signed by the telephony provider", [
            ErrorDetail(f"{HEADER} must be the provider's signature of {url} and the form",
                        "")])
    return {name: value for name, value in params}


def _twiml(text: str) -> Response:
    return Response(text, status=200, mimetype="text/xml")


@telephony_api.post("/channels/sms/inbound")
def inbound_sms() -> Response:
    feature = telephony()
    feature.intake.receive_sms(signed_form(feature))
    return _twiml(EMPTY_TWIML)


@telephony_api.post("/channels/sms/status")
def sms_status() -> Response:
    feature = telephony()
    feature.intake.sms_status(signed_form(feature))
    return Response(status=204)


@telephony_api.post("/channels/voice/inbound")
def inbound_call() -> Response:
    feature = telephony()
    received = feature.intake.receive_call(signed_form(feature))
    number = feature.forwarding.number(received.owner) if feature.forwarding else None
    if number is None:
        return _twiml(CALL_BACK_TWIML)
    return _twiml(dial_twiml(number, feature.public_url + FORWARDED_PATH))


@telephony_api.post("/channels/voice/forwarded")
def forwarded_call() -> Response:
    feature = telephony()
    return _twiml(after_dial_twiml(signed_form(feature).get("DialCallStatus")))


@telephony_api.post("/channels/voice/status")
def call_status() -> Response:
    feature = telephony()
    feature.intake.call_status(signed_form(feature))
    return Response(status=204)


@telephony_api.post("/records/<entity>/<record_id>/calls")
def click_to_call(entity: str, record_id: str) -> Response:
    _, subject = request_subject()
    live_entity(entity)
    reject_parameters(request.args.items(multi=True))
    call = telephony().outbound.call(subject, entity, record_id, json_body())
    response = jsonify({"data": call})
    response.status_code = 202
    return response
