"""Mail as it arrives: IMAP IDLE (RFC 2177) where the server supports it, else polling.

`MailboxWatcher.watch(mailbox, stop)` keeps one connection to the mailbox's folder in IDLE;
each time the server announces new mail (`* n EXISTS`) it reads what is new through the
poller (`imap_poll`: by UID, so nothing is read twice, whichever of the watcher and the
scheduler's `email.poll` gets there first). IDLE is renewed every `RENEW` (servers drop an
idle client after 30 minutes). A server that does not announce IDLE makes `watch` return
False at once: that mailbox stays on the scheduler's polling, which keeps running either
way (it is the fallback and the catch-up after a lost connection).

`metacrm mail-watch` runs one watcher thread per mailbox with an IMAP URL.
"""

from __future__ import annotations

import imaplib
import logging
import re
import select
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from metacrm.email.imap_poll import ImapError, MailboxPoller, _connect, _quoted
from metacrm.email.intake import Received
from metacrm.email.mailboxes import Mailbox

log = logging.getLogger(__name__)
RENEW = timedelta(minutes=25)
STOP_CHECK_SECONDS = 0.5
"""How often a waiting watcher looks at its stop event."""
NEW_MAIL = re.compile(rb"^\* \d+ (EXISTS|RECENT)\b")


def _wait_in_idle(client: imaplib.IMAP4, renew: float, stop: threading.Event) -> bool:
    """One IDLE command: True when the server announced new mail before `renew` seconds
    passed or `stop` was set."""
    tag = client._new_tag()  # imaplib has no IDLE before Python 3.14
    client.send(tag + b" IDLE\r\n")
    if not client.readline().startswith(b"+"):
        raise ImapError("the server refused IDLE")
    deadline = time.monotonic() + renew
    changed = False
    while not changed and not stop.is_set() and time.monotonic() < deadline:
        ready, _, _ = select.select([client.socket()], [], [], STOP_CHECK_SECONDS)
        if ready:
            line = client.readline()
            if not line:
                raise ImapError("the server closed the connection")
            changed = bool(NEW_MAIL.match(line))
    client.send(b"DONE\r\n")
    while True:  # the untagged lines still coming, then the command's tagged answer
        line = client.readline()
        if not line:
            raise ImapError("the server closed the connection")
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"):
                raise ImapError(f"IDLE ended with {line!r}")
            return changed
        changed = changed or bool(NEW_MAIL.match(line))


class MailboxWatcher:
    def __init__(self, poller: MailboxPoller,
                 on_received: Callable[[list[Received]], None] = lambda _r: None) -> None:
        self.poller = poller
        self.on_received = on_received

    def watch(self, mailbox: Mailbox, stop: threading.Event, *,
              renew: timedelta = RENEW) -> bool:
        """Read `mailbox` as mail arrives until `stop` is set; False (at once) when its
        server has no IDLE. Connection errors propagate (the caller reconnects)."""
        parts = urlsplit(mailbox.imap_url or "")
        with _connect(mailbox) as client:
            if parts.username:
                client.login(unquote(parts.username), mailbox.secret("imap_password") or "")
            status, capabilities = client.capability()
            if status != "OK" or b"IDLE" not in b" ".join(
                    c for c in capabilities if isinstance(c, bytes)).upper().split():
                log.info("mailbox %s: the server has no IDLE; it is polled", mailbox.name)
                return False
            status, data = client.select(_quoted(mailbox.folder), readonly=True)
            if status != "OK":
                raise ImapError(f"folder {mailbox.folder!r}: {data!r}")
            self.on_received(self.poller.poll(mailbox))  # what came while nobody watched
            while not stop.is_set():
                if _wait_in_idle(client, renew.total_seconds(), stop):
                    self.on_received(self.poller.poll(mailbox))
        return True


def watch_forever(watcher: MailboxWatcher, mailbox: Mailbox, stop: threading.Event,
                  retry_seconds: float = 30.0) -> None:
    """`watch` with reconnection after errors, until `stop` (one thread per mailbox)."""
    while not stop.is_set():
        try:
            if not watcher.watch(mailbox, stop):
                return
        except (ImapError, OSError, imaplib.IMAP4.error) as exc:
            log.warning("mailbox %s: watching stopped (%s); again in %.0f s", mailbox.name,
                        exc, retry_seconds)
            stop.wait(retry_seconds)
