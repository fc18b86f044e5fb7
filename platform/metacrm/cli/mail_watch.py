"""`metacrm mail-watch`: read mail as it arrives, over IMAP IDLE (`metacrm.email.imap_idle`).

One thread per mailbox with an IMAP URL holds a connection in IDLE and stores new mail
within seconds; a mailbox whose server has no IDLE is left to the scheduler's `email.poll`
(once a minute), which keeps running beside this process as the fallback and catch-up.
Mailboxes added later are watched after a restart. Stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from metacrm.cli.errors import reports_errors
from metacrm.cli.jobs import LOG_LEVELS, _configure_logging
from metacrm.settings import Settings


@click.command("mail-watch")
@click.option("--log-level", type=LOG_LEVELS, default="INFO", show_default=True)
@reports_errors
def mail_watch(log_level: str) -> None:
    """Store mail of every IMAP mailbox as it arrives (IDLE), until stopped."""
    _configure_logging(log_level)
    from metacrm.composition import build_services
    from metacrm.email.imap_idle import MailboxWatcher, watch_forever

    services = build_services(Settings.from_env())
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        watcher = MailboxWatcher(services.email.poller)
        threads = [threading.Thread(target=watch_forever, args=(watcher, box, stop),
                                    name=f"mail-watch:{box.name}", daemon=True)
                   for box in services.email.mailboxes.all() if box.imap_url]
        click.echo(f"Watching {len(threads)} mailbox(es).")
        for thread in threads:
            thread.start()
        stop.wait()
        for thread in threads:
            thread.join(timeout=5)
    finally:
        services.close()
