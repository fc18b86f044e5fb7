"""Issue 15's "done when" for email, on the shipped packs, a real IMAP server (dovecot) and
a local SMTP server: an email sent from a deal to its contact, the contact's reply (with a
colleague in Cc) fetched over IMAP and threaded on the deal's timeline, no lead for the
colleague, a lead for a stranger, and a message fetched twice stored once."""

from __future__ import annotations

import io
import re

import pytest
from email_world import CRM, IMAP_PASSWORD, INBOUND_SECRET, World, mail, now, world
from flask.testing import FlaskClient

from metacrm.email.imap_poll import POLL_INTERVAL
from metacrm.storage.system_tables import email_mailbox_sync
from smtp_harness import password_checker, smtp_server
from web_harness import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

__all__ = ["world"]


def send_from_deal(world: World, subject: str) -> dict[str, object]:
    answer = world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.root, 202, {
        "channel": "email", "to": ["pat@acme.example"], "subject": subject,
        "body": "Here is the plan."})
    return dict(answer["data"])


def test_a_reply_to_mail_sent_from_a_deal_is_threaded_on_its_timeline(world: World) -> None:
    sent = send_from_deal(world, "Rollout plan")
    delivered = world.smtp.messages[-1]
    reply = mail("Pat Lee <pat@acme.example>", CRM, "Re: Rollout plan", "Looks good.",
                 cc="Quinn <quinn@acme.example>", reply_to=delivered.message)

    world.imap.append("crm", reply)
    received = world.poll()

    assert sent["status"] == "sent" and sent["direction"] == "out"
    assert delivered.recipients == ["pat@acme.example"]
    assert delivered.message["Message-ID"] == sent["message_id"]
    assert [r.regarding for r in received] == [{"entity": "deal", "id": world.deal["id"]}]
    subjects = [e["record"]["subject"] for e in world.timeline("deal", world.deal["id"])]
    assert subjects[:2] == ["Re: Rollout plan", "Rollout plan"]
    assert world.list("lead", "email", "quinn@acme.example") == []  # the Cc'd colleague
    on_pat = [e["record"]["subject"] for e in world.timeline("person", world.pat["id"])]
    assert "Re: Rollout plan" in on_pat  # a participant: on the contact's timeline too


def test_mail_from_an_unknown_address_creates_a_lead(world: World) -> None:
    world.imap.append("crm", mail("Sam Stone <sam@stranger.example>", CRM, "Pricing?",
                                  "How much for 50 seats?"))

    received = world.poll()

    leads = world.list("lead", "email", "sam@stranger.example")
    assert [(lead["first_name"], lead["last_name"], lead["source"]) for lead in leads] == [
        ("Sam", "Stone", "other")]
    assert received[-1].lead_id == leads[0]["id"]
    assert [e["record"]["subject"] for e in world.timeline("lead", leads[0]["id"])] == [
        "Pricing?"]


def test_the_same_message_fetched_twice_is_stored_once(world: World) -> None:
    raw = mail("pat@acme.example", CRM, "Twice", "once", message_id="<twice@acme.example>")
    world.imap.append("crm", raw)
    first = world.poll()
    with world.services.engine.begin() as conn:  # the folder is read again from the start
        conn.execute(email_mailbox_sync.update().values(last_uid=0))

    again = world.poll()
    pushed = world.push(raw)

    assert [r.duplicate for r in first] == [False]
    assert again and all(r.duplicate for r in again)
    assert pushed.status_code == 202 and pushed.get_json()["data"]["duplicate"] is True
    assert len(world.list("email_message", "message_id", "<twice@acme.example>")) == 1
    assert world.poll() == []  # nothing new: UIDs already taken are not read again


def test_a_changed_uidvalidity_reads_the_folder_again_without_storing_twice(
        world: World) -> None:
    world.imap.append("crm", mail("pat@acme.example", CRM, "Validity", "v",
                                  message_id="<validity@acme.example>"))
    world.poll()
    with world.services.engine.begin() as conn:
        conn.execute(email_mailbox_sync.update().values(uidvalidity=1))

    again = world.poll()

    assert again and all(r.duplicate for r in again)
    assert len(world.list("email_message", "message_id", "<validity@acme.example>")) == 1


# --- sending: templates, failures, bad input -------------------------------------------


def test_a_template_renders_the_record_in_the_language_asked_for(world: World) -> None:
    for language, subject in (("en", "About {{ record.title }}"),
                              ("ru", "По сделке {{ record.title }}")):
        world.create("email_template", name="deal_intro", language=language, subject=subject,
                     body="{{ record.title }}: {{ record.close_date or '-' }}")

    answer = world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.root, 202,
                        {"to": ["pat@acme.example"], "template": "deal_intro",
                         "language": "ru"})

    assert answer["data"]["subject"] == "По сделке Acme rollout"
    assert world.smtp.messages[-1].part("text/plain").strip() == "Acme rollout: -"


def test_a_template_breaking_out_of_the_sandbox_is_refused_with_a_pointer(
        world: World) -> None:
    world.create("email_template", name="evil", language="en", subject="x",
                 body="{{ record.__class__.__mro__ }}")

    problem = world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.root,
                         422, {"to": ["pat@acme.example"], "template": "evil"})

    assert problem["errors"][0]["pointer"] == "/template"


def test_a_refused_message_shows_the_failure_on_the_message(world: World) -> None:
    with smtp_server(authenticator=password_checker("crm", "right")) as strict:
        world.call("PUT", "/mailboxes/strict", world.root, 200, {
            "address": "strict@ourco.example", "smtp_password": "wrong",
            "smtp_url": f"smtp://crm@127.0.0.1:{strict.port}"})
        answer = world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.root,
                            202, {"to": ["pat@acme.example"], "subject": "Hi", "body": "x",
                                  "mailbox": "strict"})
    message = world.call("GET", f"/records/email_message/{answer['data']['id']}", world.root,
                         200)["data"]

    assert message["status"] == "failed"
    assert message["error"].startswith("535")
    assert strict.messages == []


@pytest.mark.parametrize(("body", "pointer"), [
    ({"subject": "x", "body": "y"}, "/to"),
    ({"to": ["not an address"], "subject": "x", "body": "y"}, "/to/0"),
    ({"to": ["pat@acme.example"], "subject": "x"}, "/body"),
    ({"to": ["pat@acme.example"], "template": "missing"}, "/template"),
    ({"to": ["pat@acme.example"], "subject": "x", "body": "y", "channel": "fax"}, "/channel"),
    ({"to": ["pat@acme.example"], "subject": "x", "body": "y", "mailbox": "nope"}, "/mailbox"),
    ({"to": ["pat@acme.example"], "subject": "x", "body": "y", "color": "red"}, "/color"),
])
def test_a_bad_message_is_refused_pointing_at_the_problem(
        world: World, body: dict[str, object], pointer: str) -> None:
    before = len(world.smtp.messages)

    problem = world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.root,
                         422, body)

    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert len(world.smtp.messages) == before


# --- the inbound webhook and attachments ------------------------------------------------


def test_a_pushed_message_is_stored_with_its_attachment(world: World) -> None:
    raw = mail("pat@acme.example", CRM, "Signed contract", "attached",
               attachment=("contract.pdf", b"%PDF-1.4 test contract"))

    pushed = world.push(raw)

    message_id = pushed.get_json()["data"]["id"]
    files = world.call("GET", f"/records/email_message/{message_id}/attachments", world.root,
                       200)["data"]
    assert pushed.status_code == 202
    assert [f["name"] for f in files] == ["contract.pdf"]



def test_a_file_of_the_record_goes_with_the_mail_and_stays_on_the_message(
        world: World) -> None:
    upload = world.web.client.post(
        f"/api/v1/records/deal/{world.deal['id']}/attachments", headers=world.root,
        data={"file": (io.BytesIO(b"%PDF-1.4 the quote"), "quote.pdf")},
        content_type="multipart/form-data")
    assert upload.status_code == 201, upload.get_json()
    file_id = upload.get_json()["data"]["id"]

    sent = world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.root, 202, {
        "to": ["pat@acme.example"], "subject": "Your quote", "body": "Attached.",
        "attachments": [file_id]})["data"]

    delivered = world.smtp.messages[-1].message
    assert [(part.get_filename(), part.get_content())
            for part in delivered.iter_attachments()] == [("quote.pdf", b"%PDF-1.4 the quote")]
    kept = world.call("GET", f"/records/email_message/{sent['id']}/attachments", world.root,
                      200)["data"]
    assert [(f["name"], f["sha256"]) for f in kept] == [
        ("quote.pdf", upload.get_json()["data"]["sha256"])]
    other = world.create("deal", title="Other", company=world.acme["id"])["id"]
    before = len(world.smtp.messages)
    problem = world.call("POST", f"/records/deal/{other}/messages", world.root, 422, {
        "to": ["pat@acme.example"], "subject": "x", "body": "y", "attachments": [file_id]})
    assert [e["pointer"] for e in problem["errors"]] == ["/attachments/0"]
    assert len(world.smtp.messages) == before

@pytest.mark.parametrize(("secret", "mailbox"), [
    (None, "sales"), ("a-wrong-secret", "sales"), ("inbound-test-secret", "nosuch")])
def test_an_unsigned_or_wrongly_signed_push_is_refused(
        world: World, secret: str | None, mailbox: str) -> None:
    raw = mail("eve@evil.example", CRM, "Unsigned", "x")

    refused = world.push(raw, secret=secret, mailbox=mailbox)

    assert refused.status_code == 401
    assert world.list("lead", "email", "eve@evil.example") == []


# --- mailboxes and the permission matrix -------------------------------------------------


def test_mailbox_secrets_are_never_shown(world: World) -> None:
    listed = world.call("GET", "/mailboxes", world.root, 200)

    sales = next(box for box in listed["data"] if box["name"] == "sales")
    assert sales["secrets_set"] == ["imap_password", "inbound_secret"]
    assert IMAP_PASSWORD not in str(listed) and INBOUND_SECRET not in str(listed)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/mailboxes", None),
    ("PUT", "/mailboxes/mine", {"address": "rita@ourco.example"}),
    ("DELETE", "/mailboxes/sales", None),
])
def test_only_administrators_manage_mailboxes(world: World, method: str, path: str,
                                              body: object) -> None:
    world.call(method, path, world.rita, 403, body)


def test_messages_and_their_attachments_are_read_through_the_access_layer(
        world: World) -> None:
    """The matrix of email paths: a rep (the email pack's grant: own mail, send from what
    they read) emails from their own deal and reads that mail; another rep and a role the
    grant does not reach read none of it; mail that arrived for nobody stays the admins'."""
    pushed = world.push(mail("pat@acme.example", CRM, "For admins", "x",
                             attachment=("secret.pdf", b"%PDF-1.4 secret")))
    inbound = pushed.get_json()["data"]["id"]
    deal = world.create("deal", title="Rita's", company=world.acme["id"],
                        owner=world.user_ids["rita"])["id"]
    world.web.client.post(f"/api/v1/records/deal/{deal}/attachments", headers=world.rita,
                          data={"file": (io.BytesIO(b"%PDF-1.4 offer"), "offer.pdf")},
                          content_type="multipart/form-data")
    [offer] = world.call("GET", f"/records/deal/{deal}/attachments", world.rita, 200)["data"]

    sent = world.call("POST", f"/records/deal/{deal}/messages", world.rita, 202, {
        "to": ["pat@acme.example"], "subject": "Our offer", "body": "y",
        "attachments": [offer["id"]]})["data"]
    own = sent["id"]

    assert sent["owner"] == world.user_ids["rita"]
    assert world.smtp.messages[-1].message["Subject"] == "Our offer"
    assert world.call("GET", f"/records/email_message/{own}", world.rita, 200
                      )["data"]["subject"] == "Our offer"
    assert len(world.call("GET", f"/records/email_message/{own}/attachments", world.rita,
                          200)["data"]) == 1
    assert [m["id"] for m in world.timeline("deal", deal, world.rita)] == [own]
    # another rep: not their mail (own scope), on no path
    world.call("GET", f"/records/email_message/{own}", world.sam, 404)
    world.call("GET", f"/records/email_message/{own}/attachments", world.sam, 404)
    listed = world.call("GET", "/records/email_message", world.sam, 200)["data"]
    assert own not in {m["id"] for m in listed}
    # mail that arrived in the shared mailbox (no owner) is not the rep's
    world.call("GET", f"/records/email_message/{inbound}", world.rita, 404)
    world.call("GET", f"/records/email_message/{inbound}/attachments", world.rita, 404)
    # a role no grant reaches: no email rights at all
    world.call("GET", f"/records/email_message/{own}", world.kim, 403)
    world.call("GET", f"/records/email_message/{own}/attachments", world.kim, 403)
    world.call("POST", f"/records/deal/{deal}/messages", world.kim, 403,
               {"to": ["pat@acme.example"], "subject": "x", "body": "y"})
    assert {m["id"] for m in world.timeline("deal", deal)} >= {own}


def test_an_admin_giving_a_rep_other_email_rights_than_the_grant_is_told_both_documents(
        world: World) -> None:
    role = world.call("GET", "/meta/role/sales_rep", world.root, 200)["data"]
    role["entities"]["email_message"] = {"read": "team", "create": "all"}

    problem = world.call("PUT", "/meta/role/sales_rep", world.root, 422, role)

    [error] = [e for e in problem["errors"] if e["pointer"] == "/entities/email_message"]
    assert error["source"].endswith("sales_rep_email.json")
    assert "role 'sales_rep' (api:role/sales_rep) already sets other rights" in error["message"]
    assert world.call("GET", "/meta/role/sales_rep", world.root, 200
                      )["data"]["entities"].get("email_message") is None  # nothing applied


# --- the record page's compose form --------------------------------------------------------


def signed_in(world: World, username: str) -> FlaskClient:
    client = world.web.app.test_client()
    token = CSRF.search(client.get("/app/login").get_data(as_text=True))
    assert token is not None
    response = client.post("/app/login", data={"csrf_token": token.group(1),
                                                "username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_the_record_page_composes_to_the_record_s_contacts_and_sends(world: World) -> None:
    root = signed_in(world, "root")
    page = root.get(f"/app/r/deal/{world.deal['id']}",
                    headers={"Accept-Language": "ru"}).get_data(as_text=True)
    token = CSRF.search(page)
    assert token is not None

    sent = root.post(f"/app/r/deal/{world.deal['id']}/messages", data={
        "csrf_token": token.group(1), "to": "pat@acme.example", "cc": "",
        "subject": "From the page", "body": "Hello"})

    assert "data-email-compose" in page and "Отправить письмо" in page
    assert '<option value="pat@acme.example">' in page  # the deal's contact
    assert sent.status_code == 302
    assert world.smtp.messages[-1].message["Subject"] == "From the page"



def test_the_compose_form_offers_the_record_s_files_and_sends_the_chosen_one(
        world: World) -> None:
    deal = world.create("deal", title="With files", company=world.acme["id"])["id"]
    ids = {}
    for name in ("quote.pdf", "notes.txt"):
        upload = world.web.client.post(
            f"/api/v1/records/deal/{deal}/attachments", headers=world.root,
            data={"file": (io.BytesIO(f"content of {name}".encode()), name)},
            content_type="multipart/form-data")
        assert upload.status_code == 201, upload.get_json()
        ids[name] = upload.get_json()["data"]["id"]
    root = signed_in(world, "root")
    page = root.get(f"/app/r/deal/{deal}", headers={"Accept-Language": "ru"}
                    ).get_data(as_text=True)
    token = CSRF.search(page)
    assert token is not None
    assert "Приложить файлы этой записи" in page
    assert all(f'name="attachments" value="{i}"' in page for i in ids.values())

    sent = root.post(f"/app/r/deal/{deal}/messages", data={
        "csrf_token": token.group(1), "to": "pat@acme.example", "subject": "Quote",
        "body": "Attached", "attachments": [ids["quote.pdf"]]})

    assert sent.status_code == 302
    delivered = world.smtp.messages[-1].message
    assert [part.get_filename() for part in delivered.iter_attachments()] == ["quote.pdf"]

def test_the_compose_form_is_offered_to_a_rep_on_their_own_deal(world: World) -> None:
    """Out of the box: the email pack's grant lets a sales rep email from their deal."""
    deal = world.create("deal", title="Rita's page", company=world.acme["id"],
                        owner=world.user_ids["rita"])["id"]

    page = signed_in(world, "rita").get(f"/app/r/deal/{deal}").get_data(as_text=True)

    assert "Rita&#39;s page" in page or "Rita's page" in page
    assert "data-email-compose" in page


def test_the_periodic_poll_passes_what_is_no_email_and_survives_a_broken_mailbox(
        world: World) -> None:
    world.call("PUT", "/mailboxes/broken", world.root, 200, {
        "address": "broken@ourco.example", "imap_url": world.imap.url("crm"),
        "imap_password": "wrong"})
    world.imap.append("crm", b"Subject: no sender at all\r\n\r\nnothing\r\n")
    world.imap.append("crm", mail("pat@acme.example", CRM, "After the junk", "x"))

    world.services.periodic["email.poll"](now() + 2 * POLL_INTERVAL)  # (polled just now)

    assert len(world.list("email_message", "subject", "After the junk")) == 1
    world.call("DELETE", "/mailboxes/broken", world.root, 204)
