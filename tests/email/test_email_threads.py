"""Issue 15's "done when" for email, on the shipped packs, a real IMAP server (dovecot) and
a local SMTP server: an email sent from a deal to its contact, the contact's reply (with a
colleague in Cc) fetched over IMAP and threaded on the deal's timeline, no lead for the
colleague, a lead for a stranger, and a message fetched twice stored once."""

from __future__ import annotations

from email_world import CRM, World, mail, world

from metacrm.storage.system_tables import email_mailbox_sync

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
