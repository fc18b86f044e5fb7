"""IMAP IDLE on the dovecot harness: a watched mailbox stores a message as it arrives,
without the scheduler's poll, and by UID (the poll afterwards finds nothing new)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from email_world import CRM, World, mail, world

from metacrm.email.imap_idle import MailboxWatcher
from metacrm.email.intake import Received

__all__ = ["world"]


@pytest.fixture
def watched(world: World) -> Iterator[list[Received]]:
    """The `sales` mailbox watched in IDLE by a thread, until the test ends."""
    arrived: list[Received] = []
    stop = threading.Event()
    outcome: list[bool] = []
    watcher = MailboxWatcher(world.services.email.poller, arrived.extend)
    mailbox = world.services.email.mailboxes.get("sales")
    world.poll()  # what earlier tests left in the folder
    thread = threading.Thread(target=lambda: outcome.append(watcher.watch(mailbox, stop)),
                              daemon=True)
    thread.start()
    time.sleep(0.5)  # the watcher is in IDLE
    try:
        yield arrived
    finally:
        stop.set()
        thread.join(10)
    assert outcome == [True]  # dovecot announces IDLE: the watcher ran until stopped


def test_mail_arriving_in_a_watched_mailbox_is_stored_without_a_poll(
        world: World, watched: list[Received]) -> None:
    world.imap.append("crm", mail("Pat Lee <pat@acme.example>", CRM, "Pushed by IDLE",
                                  "New mail", message_id="<idle-1@acme.example>"))
    deadline = time.monotonic() + 10
    while not watched and time.monotonic() < deadline:
        time.sleep(0.1)

    assert [r.message_id for r in watched] == ["<idle-1@acme.example>"]
    assert len(world.list("email_message", "message_id", "<idle-1@acme.example>")) == 1
    assert world.poll() == []  # the UID mark moved: the scheduler's poll reads nothing again
