"""The record page's SMS and call panel (in Russian): a rep texts and calls a contact from
the person's page; the panel is not offered to who may not log SMS or calls."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from telephony_world import SALES_NUMBER, World, world

from twilio_harness import ACCOUNT_SID
from web_harness import PASSWORD

__all__ = ["world"]

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAT_MOBILE = "+14155552671"


def signed_in(world: World, username: str) -> FlaskClient:
    client = world.web.app.test_client()
    token = CSRF.search(client.get("/app/login").get_data(as_text=True))
    assert token is not None
    response = client.post("/app/login", data={"csrf_token": token.group(1),
                                                "username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_a_rep_texts_and_calls_a_contact_from_the_record_page(world: World) -> None:
    rita = signed_in(world, "rita")
    url = f"/app/r/person/{world.pat['id']}"
    page = rita.get(url, headers={"Accept-Language": "ru"}).get_data(as_text=True)
    token = CSRF.search(page)
    assert token is not None
    assert "data-phone-panel" in page and "SMS и звонки" in page and "Позвонить" in page
    assert f'name="to" required value="{PAT_MOBILE}"' in page  # the person's mobile

    texted = rita.post(f"{url}/sms", data={"csrf_token": token.group(1), "to": PAT_MOBILE,
                                           "body": "Running late, 10 minutes"},
                       headers={"Accept-Language": "ru"})
    sms_request = world.twilio.requests[-1]
    called = rita.post(f"{url}/call", data={"csrf_token": token.group(1),
                                            "agent": "+14155550177", "to": PAT_MOBILE},
                       headers={"Accept-Language": "ru"})
    call_request = world.twilio.requests[-1]
    after = rita.get(url, headers={"Accept-Language": "ru"}).get_data(as_text=True)

    assert texted.status_code == 302 and called.status_code == 302
    assert sms_request.path.endswith(f"{ACCOUNT_SID}/Messages.json")
    assert (sms_request.form["To"], sms_request.form["Body"]) == (
        PAT_MOBILE, "Running late, 10 minutes")
    assert call_request.path.endswith(f"{ACCOUNT_SID}/Calls.json")
    assert (call_request.form["From"], call_request.form["To"]) == (SALES_NUMBER,
                                                                    "+14155550177")
    assert "SMS передано оператору." in after and "Сейчас зазвонит ваш телефон" in after
    assert "Running late, 10 minutes" in after  # on the timeline


def test_a_bad_number_is_explained_on_the_page_and_nothing_is_sent(world: World) -> None:
    rita = signed_in(world, "rita")
    url = f"/app/r/person/{world.pat['id']}"
    token = CSRF.search(rita.get(url).get_data(as_text=True))
    assert token is not None
    before = len(world.twilio.requests)

    answer = rita.post(f"{url}/sms", data={"csrf_token": token.group(1), "to": "12",
                                           "body": "x"}, follow_redirects=True,
                       headers={"Accept-Language": "ru"})

    assert "SMS не отправлено" in answer.get_data(as_text=True)
    assert len(world.twilio.requests) == before


def test_the_panel_is_not_offered_to_who_may_not_log_sms_or_calls(world: World) -> None:
    val = signed_in(world, "val")  # service agent: reads people, no sms_message nor call
    page = val.get(f"/app/r/person/{world.pat['id']}").get_data(as_text=True)
    assert "data-phone-panel" not in page
