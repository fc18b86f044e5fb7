"""Issue 15's SMS and telephony, on the shipped packs and a Twilio-compatible API on
loopback: an SMS sent from a deal and its delivery callback, inbound SMS and calls reaching
the right person's timeline (or a new lead), signatures checked, click-to-call."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from telephony_world import PUBLIC_URL, SALES_NUMBER, SUPPORT_NUMBER, World, world

from metacrm.services.users.preferences import save_phone
from twilio_harness import ACCOUNT_SID, AUTH_TOKEN, sign

__all__ = ["world"]

MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
PAT_MOBILE = "+14155552671"


def inbound_sms(sid: str, sender: str, body: str, to: str = SALES_NUMBER) -> dict[str, str]:
    """The form Twilio posts for a received SMS (its documented parameters)."""
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
            "To": to, "Body": body, "NumMedia": "0", "NumSegments": "1",
            "ApiVersion": "2010-04-01"}


def inbound_call(sid: str, caller: str, to: str = SALES_NUMBER) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "From": caller, "To": to,
            "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}


def test_an_sms_sent_from_a_deal_goes_through_the_provider_and_its_status_follows(
        world: World) -> None:
    sent = world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.rita, 202, {
        "channel": "sms", "to": [PAT_MOBILE], "body": "Contract is on its way."})["data"]
    request = world.twilio.requests[-1]

    assert request.path == MESSAGES and request.authenticated
    assert request.form == {"From": SALES_NUMBER, "To": PAT_MOBILE,
                            "Body": "Contract is on its way.",
                            "StatusCallback": f"{PUBLIC_URL}/api/v1/channels/sms/status"}
    assert (sent["direction"], sent["status"], sent["to_number"]) == ("out", "queued",
                                                                       PAT_MOBILE)
    assert sent["provider_id"].startswith("SM")
    on_deal = world.timeline("deal", world.deal["id"], "sms_message", world.rita)
    assert [e["record"]["body"] for e in on_deal][:1] == ["Contract is on its way."]

    callback = world.webhook("/api/v1/channels/sms/status", {
        "MessageSid": sent["provider_id"], "MessageStatus": "delivered",
        "AccountSid": ACCOUNT_SID, "From": SALES_NUMBER, "To": PAT_MOBILE})
    assert callback.status_code == 204
    assert world.get("sms_message", sent["id"])["status"] == "delivered"

    failed = world.webhook("/api/v1/channels/sms/status", {
        "MessageSid": sent["provider_id"], "MessageStatus": "undelivered",
        "ErrorCode": "30003", "ErrorMessage": "Unreachable destination handset"})
    assert failed.status_code == 204
    stored = world.get("sms_message", sent["id"])
    assert (stored["status"], stored["error"]) == (
        "undelivered", "error 30003 Unreachable destination handset")


def test_a_refusal_by_the_provider_shows_on_the_message(world: World) -> None:
    world.twilio.refuse.add("+14155550199")
    try:
        sent = world.call("POST", f"/records/person/{world.pat['id']}/messages", world.root,
                          202, {"channel": "sms", "to": "+14155550199", "body": "Hello"})["data"]
    finally:
        world.twilio.refuse.clear()
    assert sent["status"] == "failed"
    assert sent["error"] == "The 'To' number +14155550199 is not a valid phone number."


@pytest.mark.parametrize(("body", "pointer"), [
    ({"channel": "fax", "to": [PAT_MOBILE], "body": "x"}, "/channel"),
    ({"channel": "sms", "to": ["12345"], "body": "x"}, "/to/0"),
    ({"channel": "sms", "to": [PAT_MOBILE, PAT_MOBILE], "body": "x"}, "/to"),
    ({"channel": "sms", "to": PAT_MOBILE, "body": " "}, "/body"),
    ({"channel": "sms", "to": PAT_MOBILE, "body": "x", "from": "+14155550100"}, "/from"),
    ({"channel": "sms", "to": PAT_MOBILE, "body": "x", "subject": "no"}, "/subject"),
])
def test_a_bad_sms_order_is_a_422_pointing_at_the_problem(
        world: World, body: dict[str, object], pointer: str) -> None:
    before = len(world.twilio.requests)
    problem = world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.root,
                         422, body)
    assert [error["pointer"] for error in problem["errors"]] == [pointer]
    assert len(world.twilio.requests) == before  # nothing reached the provider


def test_an_sms_about_a_record_the_sender_cannot_read_is_404(world: World) -> None:
    other = world.create("lead", last_name="Sam's lead", owner=world.user_ids["sam"])
    world.call("POST", f"/records/lead/{other['id']}/messages", world.rita, 404, {
        "channel": "sms", "to": PAT_MOBILE, "body": "hi"})


def test_an_inbound_sms_reaches_the_persons_timeline_once(world: World) -> None:
    form = inbound_sms("SM" + "a" * 32, PAT_MOBILE, "Yes, call me tomorrow")

    first = world.webhook("/api/v1/channels/sms/inbound", form)
    again = world.webhook("/api/v1/channels/sms/inbound", form)  # the provider retried

    assert first.status_code == 200 and first.mimetype == "text/xml"
    assert b"<Response/>" in first.data and again.status_code == 200
    stored = world.list("sms_message", "provider_id", "SM" + "a" * 32)
    assert [(m["direction"], m["status"], m["from_number"], m["owner"]) for m in stored] == [
        ("in", "received", PAT_MOBILE, world.user_ids["rita"])]
    on_pat = world.timeline("person", world.pat["id"], "sms_message", world.rita)
    assert "Yes, call me tomorrow" in [e["record"]["body"] for e in on_pat]
    assert world.list("lead", "phone", PAT_MOBILE) == []


def test_an_sms_from_an_unknown_number_creates_a_lead(world: World) -> None:
    answer = world.webhook("/api/v1/channels/sms/inbound",
                           inbound_sms("SM" + "b" * 32, "+14155550123", "Price for 20 seats?"))

    assert answer.status_code == 200
    leads = world.list("lead", "phone", "+14155550123")
    assert [(lead["last_name"], lead["source"], lead["owner"]) for lead in leads] == [
        ("+14155550123", "other", "telephony")]  # the manager (reads all leads) assigns it
    on_lead = world.timeline("lead", leads[0]["id"], "sms_message")
    assert [e["record"]["body"] for e in on_lead] == ["Price for 20 seats?"]


def test_a_number_set_not_to_create_leads_keeps_the_message_without_one(world: World) -> None:
    answer = world.webhook("/api/v1/channels/sms/inbound", inbound_sms(
        "SM" + "c" * 32, "+14155550124", "Is this support?", to=SUPPORT_NUMBER))

    assert answer.status_code == 200
    assert world.list("lead", "phone", "+14155550124") == []
    [stored] = world.list("sms_message", "provider_id", "SM" + "c" * 32)
    assert stored["regarding"] is None and stored["body"] == "Is this support?"


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl", "forged"])
@pytest.mark.parametrize("path", ["/api/v1/channels/sms/inbound",
                                  "/api/v1/channels/voice/inbound",
                                  "/api/v1/channels/sms/status"])
def test_an_unsigned_or_forged_webhook_is_refused_and_stores_nothing(
        world: World, path: str, signature: str | None) -> None:
    form = inbound_sms("SM" + "d" * 32, "+14155550125", "forged")
    form["CallSid"] = "CA" + "d" * 32
    answer = world.webhook(path, form, signature=signature)

    assert answer.status_code == 401
    assert answer.get_json()["title"] == "Unauthorized"
    assert world.list("sms_message", "provider_id", "SM" + "d" * 32) == []
    assert world.list("call", "provider_id", "CA" + "d" * 32) == []
    assert world.list("lead", "phone", "+14155550125") == []


def test_a_signature_for_other_parameters_is_refused(world: World) -> None:
    form = inbound_sms("SM" + "e" * 32, PAT_MOBILE, "original text")
    signature = sign(AUTH_TOKEN, PUBLIC_URL + "/api/v1/channels/sms/inbound", form)
    answer = world.webhook("/api/v1/channels/sms/inbound", {**form, "Body": "changed"},
                           signature=signature)
    assert answer.status_code == 401
    assert world.list("sms_message", "provider_id", "SM" + "e" * 32) == []


def test_an_inbound_call_from_an_unknown_number_creates_a_lead_with_the_call(
        world: World) -> None:
    answer = world.webhook("/api/v1/channels/voice/inbound",
                           inbound_call("CA" + "1" * 32, "+14155550126"))

    assert answer.status_code == 200 and b"<Say>" in answer.data
    [lead] = world.list("lead", "phone", "+14155550126")
    [call] = world.timeline("lead", lead["id"], "call")
    assert (call["record"]["direction"], call["record"]["phone"]) == ("in", "+14155550126")

    done = world.webhook("/api/v1/channels/voice/status", {
        "CallSid": "CA" + "1" * 32, "CallStatus": "completed", "CallDuration": "95"})
    assert done.status_code == 204
    stored = world.get("call", call["record"]["id"])
    assert (stored["outcome"], stored["duration"]) == ("connected", 2)


def test_an_inbound_call_from_a_known_number_is_logged_on_the_caller(world: World) -> None:
    world.webhook("/api/v1/channels/voice/inbound", inbound_call("CA" + "2" * 32, PAT_MOBILE))
    world.webhook("/api/v1/channels/voice/inbound", inbound_call("CA" + "2" * 32, PAT_MOBILE))

    calls = world.list("call", "provider_id", "CA" + "2" * 32)
    assert [(c["regarding"], c["owner"]) for c in calls] == [
        ({"entity": "person", "id": world.pat["id"]}, world.user_ids["rita"])]
    assert world.list("lead", "phone", PAT_MOBILE) == []


def test_click_to_call_rings_the_agent_then_dials_the_contact(world: World) -> None:
    call = world.call("POST", f"/records/person/{world.pat['id']}/calls", world.rita, 202, {
        "agent": "+14155550177"})["data"]
    request = world.twilio.requests[-1]

    assert request.path == CALLS and request.authenticated
    assert (request.form["From"], request.form["To"]) == (SALES_NUMBER, "+14155550177")
    assert request.form["Twiml"] == (f'<Response><Dial callerId="{SALES_NUMBER}"><Number>'
                                     f"{PAT_MOBILE}</Number></Dial></Response>")
    assert request.form["StatusCallback"] == f"{PUBLIC_URL}/api/v1/channels/voice/status"
    assert (call["direction"], call["phone"], call["owner"]) == (
        "out", PAT_MOBILE, world.user_ids["rita"])
    assert call["provider_id"].startswith("CA")
    on_pat = world.timeline("person", world.pat["id"], "call", world.rita)
    assert call["id"] in [e["record"]["id"] for e in on_pat]


def test_click_to_call_refused_by_the_provider_is_502_and_logs_nothing(world: World) -> None:
    before = len(world.list("call", "direction", "out"))
    world.twilio.refuse.add("+14155550178")
    try:
        problem = world.call("POST", f"/records/person/{world.pat['id']}/calls", world.rita,
                             502, {"agent": "+14155550178"})
    finally:
        world.twilio.refuse.clear()
    assert "not a valid phone number" in problem["errors"][0]["message"]
    assert len(world.list("call", "direction", "out")) == before


def test_the_channel_registry_has_the_core_providers(world: World) -> None:
    channels = world.services.channels
    assert channels.core_channels() == ("email", "sms")
    assert channels.record_channels() == ("email", "sms")
    with pytest.raises(LookupError, match="telegram"):
        channels.provider("telegram")  # no pack installed here


def twiml(answer: Any) -> ET.Element:
    assert answer.status_code == 200 and answer.mimetype == "text/xml"
    return ET.fromstring(answer.data)  # noqa: S314 - the CRM's own answer, not untrusted


def test_an_inbound_call_is_forwarded_to_the_phone_of_the_callers_owner(
        world: World) -> None:
    rita_phone = "+14155550199"
    save_phone(world.services.engine, world.user_ids["rita"], rita_phone)
    try:
        answer = twiml(world.webhook("/api/v1/channels/voice/inbound",
                                     inbound_call("CA" + "7" * 32, PAT_MOBILE)))
    finally:
        save_phone(world.services.engine, world.user_ids["rita"], None)

    [dial] = answer.findall("Dial")
    assert [number.text for number in dial.findall("Number")] == [rita_phone]
    assert dial.get("action") == PUBLIC_URL + "/api/v1/channels/voice/forwarded"
    [call] = world.list("call", "provider_id", "CA" + "7" * 32)
    assert call["regarding"] == {"entity": "person", "id": world.pat["id"]}  # still logged

    ended = {"CallSid": "CA" + "7" * 32, "AccountSid": ACCOUNT_SID, "DialCallStatus": ""}
    answered = twiml(world.webhook("/api/v1/channels/voice/forwarded",
                                   {**ended, "DialCallStatus": "completed"}))
    assert [child.tag for child in answered] == ["Hangup"]
    missed = twiml(world.webhook("/api/v1/channels/voice/forwarded",
                                 {**ended, "DialCallStatus": "no-answer"}))
    assert [child.tag for child in missed] == ["Say"]
    assert "call you back" in (missed[0].text or "")
    unsigned = world.webhook("/api/v1/channels/voice/forwarded",
                             {**ended, "DialCallStatus": "completed"}, signature=None)
    assert unsigned.status_code == 401


def test_a_call_with_nobody_to_forward_to_is_told_it_will_be_called_back(
        world: World) -> None:
    # Pat's owner keeps no phone; a stranger's new lead has no owner
    for sid, caller in (("CA" + "8" * 32, PAT_MOBILE), ("CA" + "9" * 32, "+14155550127")):
        answer = twiml(world.webhook("/api/v1/channels/voice/inbound", inbound_call(sid, caller)))
        assert [child.tag for child in answer] == ["Say"]
