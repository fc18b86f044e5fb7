"""The per-mailbox send rate: how many messages a batch may send now.

A mailbox's limit is its `send_per_minute` setting — the same one that spaces the mail
sent from records (`metacrm.email.smtp_send`), so an admin states a provider's limit once.
The allowance is computed from the ledger — the recipient rows sent through that mailbox
in the last `WINDOW` — rather than kept in a process's memory, so two workers sending
two mailings from the same mailbox share one limit, and a restarted worker does not
start a fresh budget. The window is one minute, so a mailing spreads over the hour
instead of bursting a whole hour's budget at once, which is what gets a sender throttled.
"""

from __future__ import annotations

from datetime import timedelta

WINDOW = timedelta(minutes=1)


def allowance(per_minute: int | None, sent_in_window: int, batch_size: int) -> int:
    """How many to send now: at most `batch_size`, and within `per_minute` less what was
    sent in the last minute (None: no limit)."""
    if per_minute is None or per_minute <= 0:
        return batch_size
    return max(0, min(batch_size, per_minute - sent_in_window))
