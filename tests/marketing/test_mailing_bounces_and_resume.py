"""Bounces and complaints read from the sender mailbox over IMAP (a real dovecot) suppress
the address and mark the recipient; a mailing interrupted mid-way resumes without mailing
anyone twice; pause, resume and cancel."""

from __future__ import annotations

import re
from datetime import timedelta

from mailing_reports import arf, dsn
from mailing_world import MailingWorld, world

from metacrm.marketing.mailings.ledger import INTERRUPTED

__all__ = ["world"]


def _rows(world: MailingWorld, mailing_id: str) -> dict[str, dict[str, object]]:
    system = world.services.records.runtime().system
    with world.services.engine.connect() as conn:
        rows = system.query(conn, "mailing_recipient", limit=100, criteria={
            "field": "mailing", "op": "eq", "value": mailing_id}).records
    return {str(row["email"]): dict(row) for row in rows}


def test_bounces_and_complaints_from_the_mailbox_suppress_the_address(
        world: MailingWorld) -> None:
    people = world.persons("bounce", 4)
    world.grant(people)
    segment = world.segment("bounce", "Bounce list")
    first = world.mailing(segment)
    world.smtp.messages.clear()
    assert world.send(first["id"])["sent_count"] == 4
    sent = {m.recipients[0]: m.message["Message-ID"] for m in world.smtp.messages}
    gone, angry = people[0]["email"], people[1]["email"]
    world.imap.append("news", dsn(gone, sent[gone]))
    world.imap.append("news", arf(angry, sent[angry]))
    world.imap.append("news", dsn(people[2]["email"], sent[people[2]["email"]],
                                  action="delayed", status="4.4.1"))
    received = world.services.email.poller.poll(world.services.email.mailboxes.get("news"))
    assert [r.report for r in received] == [True, True, False]

    rows = _rows(world, first["id"])
    assert (rows[gone]["status"], rows[angry]["status"]) == ("bounced", "complained")
    progress = world.call("GET", f"/records/mailing/{first['id']}/progress", world.mia, 200)
    assert (progress["bounced_count"], progress["complained_count"]) == (1, 1)

    world.smtp.messages.clear()
    again = world.send(world.mailing(segment, name="Again")["id"])
    assert again["sent_count"] == 2
    assert world.received_by(world.smtp.messages) == sorted(
        p["email"] for p in people[2:])


def test_an_interrupted_mailing_resumes_without_mailing_anyone_twice(
        world: MailingWorld) -> None:
    """A worker died after claiming one row (the crash window) and before sending the
    rest: the claimed row is failed as 'may have been sent', the rest are sent once."""
    people = world.persons("resume", 6)
    world.grant(people)
    mailing = world.mailing(world.segment("resume", "Resume list"))
    service = world.services.mailings
    # start it as the scheduler would, but with the queue not running the item
    world.call("POST", f"/records/mailing/{mailing['id']}/pause", world.mia, 409)
    dispatcher = world.services.dispatcher
    queue, dispatcher.queue = dispatcher.queue, _Stopped()
    try:
        world.call("POST", f"/records/mailing/{mailing['id']}/send", world.mia, 200)
    finally:
        dispatcher.queue = queue
    rows = _rows(world, mailing["id"])
    crashed = rows[people[0]["email"]]
    assert service.ledger.claim(crashed)  # claimed, then the worker died
    later = world.services.clock
    world.services.clock = lambda: later() + timedelta(minutes=5)  # the lease ran out
    try:
        world.smtp.messages.clear()
        dispatcher.sweep_once(later() + timedelta(minutes=5))
        dispatcher.kick()
        progress = world.call("GET", f"/records/mailing/{mailing['id']}/progress",
                              world.mia, 200)
    finally:
        world.services.clock = later
    assert (progress["status"], progress["sent_count"], progress["failed_count"]) == (
        "sent", 5, 1)
    assert world.received_by(world.smtp.messages) == sorted(p["email"] for p in people[1:])
    assert _rows(world, mailing["id"])[people[0]["email"]]["error"] == INTERRUPTED


def test_pause_resume_and_cancel(world: MailingWorld) -> None:
    people = world.persons("pausing", 3)
    world.grant(people)
    segment = world.segment("pausing", "Pausing list")
    later = world.mailing(segment)
    path = f"/records/mailing/{later['id']}"
    scheduled = world.call("POST", f"{path}/schedule", world.mia, 200,
                           {"at": "2099-01-01T09:00:00Z"})["data"]
    assert scheduled["status"] == "scheduled"
    assert scheduled["tracked_links"] == "https://shop.example/sale"
    assert world.call("POST", f"{path}/pause", world.mia, 200)["data"]["status"] == "paused"
    assert world.call("POST", f"{path}/resume", world.mia, 200)["data"]["status"] == (
        "scheduled")
    cancelled = world.call("POST", f"{path}/cancel", world.mia, 200)["data"]
    assert cancelled["status"] == "cancelled"
    problem = world.call("POST", f"{path}/send", world.mia, 409)
    assert problem["errors"][0]["pointer"] == "/status"
    bad = world.call("POST", f"{path}/schedule", world.mia, 422, {"at": "tomorrow"})
    assert bad["errors"][0]["pointer"] == "/at"


class _Stopped:
    """A job queue that takes items and runs none (the worker is down)."""

    def enqueue(self, item_ids: object) -> None:
        return None


def test_ab_test_sends_the_sample_then_the_winner_to_the_rest(world: MailingWorld) -> None:
    people = world.persons("abtest", 40)
    world.grant(people)
    mailing = world.mailing(world.segment("abtest", "AB list"), subject="Subject A",
                            subject_b="Subject B", ab_sample_percent=50, ab_wait_hours=2,
                            ab_metric="opens")
    world.smtp.messages.clear()
    world.call("POST", f"/records/mailing/{mailing['id']}/send", world.mia, 200)
    sample = list(world.smtp.messages)
    subjects = {m.message["Subject"] for m in sample}
    assert subjects == {"Subject A", "Subject B"}
    rows = _rows(world, mailing["id"])
    waiting = [email for email, row in rows.items() if row["variant"] == "rest"]
    assert len(sample) + len(waiting) == 40 and waiting
    # the B messages get opened (their pixel is loaded), the A ones do not
    pixel = re.compile(r'src="https://crm\.ourco\.example(/m/o/[^"]+)"')
    for message in sample:
        if message.message["Subject"] == "Subject B":
            found = pixel.search(message.part("text/html"))
            assert found is not None
            assert world.web.client.get(found.group(1)).status_code == 200
    progress = world.call("GET", f"/records/mailing/{mailing['id']}/progress", world.mia, 200)
    assert progress["status"] == "sending" and progress["ab_winner"] is None

    later = world.services.clock
    world.services.clock = lambda: later() + timedelta(hours=3)
    try:
        world.smtp.messages.clear()
        world.services.dispatcher.sweep_once(later() + timedelta(hours=3))
        world.services.dispatcher.kick()
        progress = world.call("GET", f"/records/mailing/{mailing['id']}/progress",
                              world.mia, 200)
    finally:
        world.services.clock = later
    assert (progress["status"], progress["ab_winner"]) == ("sent", "b")
    assert world.received_by(world.smtp.messages) == sorted(waiting)
    assert {m.message["Subject"] for m in world.smtp.messages} == {"Subject B"}


def test_a_test_send_goes_to_one_address_and_records_nothing(world: MailingWorld) -> None:
    people = world.persons("testsend", 2)
    world.grant(people)
    mailing = world.mailing(world.segment("testsend", "Test send list"),
                            subject="Hi {{ name }}")
    path = f"/records/mailing/{mailing['id']}/test"
    world.smtp.messages.clear()
    world.call("POST", path, world.mia, 200, {"address": "me@ourco.example"})
    [message] = world.smtp.messages
    assert (message.recipients, message.message["Subject"]) == (
        ["me@ourco.example"], "[Test] Hi {{ name }}")
    assert message.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert world.call("GET", f"/records/mailing/{mailing['id']}", world.mia,
                      200)["data"]["status"] == "draft"
    assert _rows(world, mailing["id"]) == {}
    problem = world.call("POST", path, world.mia, 422, {"address": "not an address"})
    assert problem["errors"][0]["pointer"] == "/address"


def test_the_unsubscribe_page_offers_this_list_or_everything(world: MailingWorld) -> None:
    people = world.persons("pagechoice", 2)
    world.grant(people)
    segment = world.segment("pagechoice", "Page list")
    world.smtp.messages.clear()
    world.send(world.mailing(segment)["id"])
    message = next(m for m in world.smtp.messages if m.recipients == [people[0]["email"]])
    link = re.search(r"https://crm\.ourco\.example(/m/u/\S+)", message.part("text/plain"))
    assert link is not None
    page = world.web.client.get(link.group(1))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "pa…@example.org" in html and people[0]["email"] not in html
    csrf = re.search(r'name="([^"]+)" value="([^"]+)"', html)
    assert csrf is not None
    done = world.web.client.post(f"{link.group(1)}/choose", data={
        csrf.group(1): csrf.group(2), "scope": "all"})
    assert done.status_code == 200
    consent = world.services.marketing.consent
    assert not consent.may_email(people[0]["email"], list_id=None)
    assert consent.may_email(people[1]["email"], list_id=segment)
    assert world.web.client.get("/m/u/forged-token").status_code == 404


def test_the_mailbox_rate_limit_spreads_a_mailing_over_time(world: MailingWorld) -> None:
    world.call("PUT", "/mailboxes/slow", world.root, 200, {
        "address": "slow@ourco.example", "smtp_url": f"smtp://127.0.0.1:{world.smtp.port}",
        "send_per_minute": 2})
    people = world.persons("ratelimit", 5)
    world.grant(people)
    mailing = world.mailing(world.segment("ratelimit", "Rate list"), mailbox="slow")
    path = f"/records/mailing/{mailing['id']}/progress"
    world.smtp.messages.clear()
    world.call("POST", f"/records/mailing/{mailing['id']}/send", world.mia, 200)
    progress = world.call("GET", path, world.mia, 200)
    assert (progress["status"], progress["sent_count"]) == ("sending", 2)
    real = world.services.clock
    try:
        for minutes, sent in ((1, 4), (2, 5)):
            moment = real() + timedelta(minutes=minutes, seconds=5)
            world.services.clock = lambda moment=moment: moment
            world.services.dispatcher.sweep_once(moment)
            world.services.dispatcher.kick()
            assert world.call("GET", path, world.mia, 200)["sent_count"] == sent
    finally:
        world.services.clock = real
    assert world.call("GET", path, world.mia, 200)["status"] == "sent"
    assert world.received_by(world.smtp.messages) == sorted(p["email"] for p in people)
