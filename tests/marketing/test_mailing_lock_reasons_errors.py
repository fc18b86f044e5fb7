"""What a marketer relies on around a mailing's send: its content cannot change once it
has started (API 409, the form shows it as text), every skipped recipient says why (and
the progress counts each reason, on the API and the page), and a test send to a mail
server that refuses it or is down is a clear 502, never a 500."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from mailing_world import MailingWorld, world
from test_mailing_screens import Screen

from metacrm.api.openapi_mailings import mailing_schemas
from smtp_harness import free_port, smtp_server

__all__ = ["world"]


def _sent_mailing(world: MailingWorld, tag: str) -> tuple[dict[str, Any], str]:
    people = world.persons(tag, 2)
    world.grant(people)
    segment = world.segment(tag, tag.title())
    mailing = world.mailing(segment)
    assert world.send(mailing["id"])["status"] == "sent"
    return mailing, segment


def _patch(world: MailingWorld, mailing_id: str, status: int, body: dict[str, Any]) -> Any:
    return world.call("PATCH", f"/records/mailing/{mailing_id}", world.mia, status, body)


def test_a_sent_mailings_content_cannot_be_changed(world: MailingWorld) -> None:
    mailing, _segment = _sent_mailing(world, "locked")
    other = world.segment("elsewhere", "Elsewhere")

    for field, value in (("subject", "Another subject"), ("body", "Another text"),
                         ("mailbox", "other"), ("segment", other)):
        problem = _patch(world, mailing["id"], 409, {field: value})
        assert [e["pointer"] for e in problem["errors"]] == [f"/{field}"]
        assert "cannot be changed once it has started sending" in problem["detail"]
        assert problem["errors"][0]["message"] == "cannot be changed: the mailing is sent"

    # the same values sent back, and fields that are not the content, still save
    _patch(world, mailing["id"], 200, {"subject": mailing["subject"],
                                       "body": mailing["body"]})
    renamed = _patch(world, mailing["id"], 200, {"name": "December sale (done)"})["data"]
    assert (renamed["name"], renamed["subject"], renamed["body"]) == (
        "December sale (done)", mailing["subject"], mailing["body"])


def test_a_draft_and_a_paused_mailing_before_its_start_may_be_edited(
        world: MailingWorld) -> None:
    world.grant(world.persons("drafting", 1))
    mailing = world.mailing(world.segment("drafting", "Drafting"))
    assert _patch(world, mailing["id"], 200, {"subject": "Better"})["data"]["subject"] == \
        "Better"
    world.call("POST", f"/records/mailing/{mailing['id']}/schedule", world.mia, 200,
               {"at": "2099-01-01T09:00:00Z"})
    world.call("POST", f"/records/mailing/{mailing['id']}/pause", world.mia, 200)
    assert _patch(world, mailing["id"], 200, {"body": "Reworded"})["data"]["body"] == \
        "Reworded"


def test_the_form_of_a_sent_mailing_shows_its_content_as_text(world: MailingWorld) -> None:
    mailing, _segment = _sent_mailing(world, "lockform")
    screen = Screen(world, "mia")

    page = screen.client.get(f"/app/r/mailing/{mailing['id']}/edit").get_data(as_text=True)

    assert re.search(r'<input[^>]*name="name"', page)
    for field in ("subject", "mailbox", "segment"):
        assert not re.search(rf'<(input|select)[^>]*name="{field}"', page), field
    assert not re.search(r'<textarea[^>]*name="body"', page)
    # a forged post of the subject is refused by the save and shown on the form
    response = screen.client.post(f"/app/r/mailing/{mailing['id']}/edit", data={
        "csrf_token": screen.csrf(f"/app/r/mailing/{mailing['id']}/edit"),
        "subject": "Forged"})
    assert response.status_code == 409
    assert "cannot be changed" in response.get_data(as_text=True)
    assert world.services.mailings.get(world.admin, mailing["id"])["subject"] == \
        mailing["subject"]


def test_skipped_recipients_record_the_true_reason(world: MailingWorld) -> None:
    people = world.persons("reasons", 8)
    world.grant([p for i, p in enumerate(people) if i != 1])
    segment = world.segment("reasons", "Reasons")
    consent = world.services.marketing.consent
    email = [str(p["email"]) for p in people]
    consent.unsubscribe(email[2], list_id=segment, source="test")
    consent.unsubscribe(email[3], list_id=None, source="test")
    consent.suppress(email[4], reason="bounce")
    consent.suppress(email[5], reason="complaint")
    system = world.services.records.runtime().system
    with world.services.records.transaction() as conn:
        system.update(conn, "person", str(people[6]["id"]), {"email_opt_out": True},
                      trusted=True)
        system.insert_many(conn, "email_suppression", [
            {"email": email[7], "reason": "manual", "source": "test"}], trusted=True)
        system.insert_many(conn, "person", [
            {"last_name": "Nomail", "job_title": "reasons"}], trusted=True)
    world.smtp.messages.clear()

    mailing = world.mailing(segment)
    progress = world.send(mailing["id"])

    assert world.received_by(world.smtp.messages) == [email[0]]
    with world.services.engine.connect() as conn:
        rows = system.query(conn, "mailing_recipient", limit=20, criteria={
            "field": "mailing", "op": "eq", "value": mailing["id"]}).records
    reasons = {row["email"]: row["skip_reason"] for row in rows}
    assert reasons == {
        email[0]: None, email[1]: "no_consent", email[2]: "list_unsubscribed",
        email[3]: "unsubscribed", email[4]: "bounced", email[5]: "complained",
        email[6]: "opted_out", email[7]: "blocked", None: "no_email"}
    assert progress["skipped_count"] == 8
    schema = mailing_schemas(world.services.records.runtime().model)["MailingProgress"]
    Draft202012Validator(schema).validate(progress)  # what the OpenAPI document says
    assert progress["skipped_by_reason"] == {
        "no_consent": 1, "list_unsubscribed": 1, "unsubscribed": 1, "opted_out": 1,
        "bounced": 1, "complained": 1, "blocked": 1, "no_email": 1}

    screen = Screen(world, "mia")
    page = screen.page(mailing["id"])[1]
    assert "<dt>Skipped: Unsubscribed from this list</dt><dd>1</dd>" in page
    assert "<dt>Skipped: Address bounced</dt><dd>1</dd>" in page
    russian = screen.client.get(f"/app/r/mailing/{mailing['id']}",
                                headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "<dt>Пропущено: Нет согласия</dt><dd>1</dd>" in russian


def test_a_mailing_with_nothing_skipped_reports_no_reasons(world: MailingWorld) -> None:
    mailing, _segment = _sent_mailing(world, "allsent")
    progress = world.call("GET", f"/records/mailing/{mailing['id']}/progress", world.mia, 200)
    assert (progress["skipped_count"], progress["skipped_by_reason"]) == (0, {})


def _mailing_through(world: MailingWorld, mailbox: str, smtp_url: str) -> str:
    world.call("PUT", f"/mailboxes/{mailbox}", world.root, 200, {
        "address": f"{mailbox}@ourco.example", "smtp_url": smtp_url})
    world.grant(world.persons(mailbox, 1))
    return str(world.mailing(world.segment(mailbox, mailbox.title()), mailbox=mailbox)["id"])


def test_a_test_send_to_a_refusing_server_is_a_502_with_its_answer(
        world: MailingWorld) -> None:
    with smtp_server(refusal="550 5.1.1 mailbox unavailable") as refusing:
        mailing = _mailing_through(world, "refusing", f"smtp://127.0.0.1:{refusing.port}")
        problem = world.call("POST", f"/records/mailing/{mailing}/test", world.mia, 502,
                             {"address": "proof@ourco.example"})
    assert problem["status"] == 502
    assert problem["errors"] == [{
        "pointer": "/mailbox", "message": "the mail server answered: proof@ourco.example: "
                                          "550 5.1.1 mailbox unavailable"}]
    assert refusing.messages == []


def test_a_test_send_to_a_closed_server_is_a_502_and_a_message_on_the_page(
        world: MailingWorld) -> None:
    mailing = _mailing_through(world, "closed", f"smtp://127.0.0.1:{free_port()}")
    problem = world.call("POST", f"/records/mailing/{mailing}/test", world.mia, 502,
                         {"address": "proof@ourco.example"})
    assert "could not be reached" in problem["errors"][0]["message"]
    assert "'closed'" in problem["detail"]

    status, page = Screen(world, "mia").act(mailing, "test", address="proof@ourco.example")
    assert status == 302
    assert "Not done: the mail server answered: it could not be reached" in page
