"""The permission matrix of the new read paths: SMS messages and calls (the record, the
list, the record's timeline) for each shipped role. `sms_message` and `call` are read
through the scoped repository like every record: the sales rep sees their own and their
team's, the manager all, the service agent (no rights on them) none."""

from __future__ import annotations

from typing import Any

import pytest
from telephony_world import SALES_NUMBER, World, world

from twilio_harness import ACCOUNT_SID

__all__ = ["world"]

PAT_MOBILE = "+14155552671"
SMS_SID = "SM" + "f" * 32
CALL_SID = "CA" + "f" * 32


@pytest.fixture(scope="module")
def received(world: World) -> dict[str, str]:
    """One SMS and one call from Pat (Rita's contact), received over the webhooks."""
    world.webhook("/api/v1/channels/sms/inbound", {
        "MessageSid": SMS_SID, "AccountSid": ACCOUNT_SID, "From": PAT_MOBILE,
        "To": SALES_NUMBER, "Body": "matrix"})
    world.webhook("/api/v1/channels/voice/inbound", {
        "CallSid": CALL_SID, "AccountSid": ACCOUNT_SID, "From": PAT_MOBILE,
        "To": SALES_NUMBER, "CallStatus": "ringing"})
    [sms] = world.list("sms_message", "provider_id", SMS_SID)
    [call] = world.list("call", "provider_id", CALL_SID)
    return {"sms_message": str(sms["id"]), "call": str(call["id"])}


# (user, status of GET /records/<entity>/<id>, listed, on Pat's timeline (None: 404))
MATRIX = [
    ("root", 200, True, True),   # admin: everything
    ("rita", 200, True, True),   # sales_rep owning Pat: the message is hers
    ("max", 200, True, True),    # sales_manager: read all
    ("sam", 404, False, None),   # another rep: neither the message nor Pat exist for him
    ("val", 403, False, False),  # service_agent: reads Pat, no rights on either entity
]


@pytest.mark.parametrize("entity", ["sms_message", "call"])
@pytest.mark.parametrize(("user", "status", "listed", "on_timeline"), MATRIX,
                         ids=[row[0] for row in MATRIX])
def test_sms_and_calls_are_read_through_the_access_layer(
        world: World, received: dict[str, str], entity: str, user: str, status: int,
        listed: bool, on_timeline: bool | None) -> None:
    headers = world.headers[user]
    record_id = received[entity]

    world.call("GET", f"/records/{entity}/{record_id}", headers, status)

    listing = world.client.get(f"/api/v1/records/{entity}?limit=100", headers=headers)
    ids: list[Any] = [r["id"] for r in listing.get_json().get("data", [])] \
        if listing.status_code == 200 else []
    assert (record_id in ids) is listed
    answer = world.client.get(f"/api/v1/records/person/{world.pat['id']}/timeline"
                              f"?kind={entity}", headers=headers)
    if on_timeline is None:
        assert answer.status_code in (403, 404)
    else:
        assert answer.status_code == 200
        assert (record_id in [e["record"]["id"] for e in answer.get_json()["data"]]) is \
            on_timeline
