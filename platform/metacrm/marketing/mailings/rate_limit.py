"""The per-mailbox send rate: how many messages a batch may send now.

A mailbox's limit is messages per hour (providers state their limits per hour or day).
The allowance is computed from the ledger — the recipient rows sent through that mailbox
in the last `WINDOW` — rather than kept in a process's memory, so two workers sending
two mailings from the same mailbox share one limit, and a restarted worker does not
start a fresh budget. The window is one minute of the hourly limit (`per_hour / 60`,
at least one), so a mailing spreads over the hour instead of bursting the whole budget
in its first minute, which is what gets a sender throttled.
"""

from __future__ import annotations

import math
from datetime import timedelta

WINDOW = timedelta(minutes=1)


def per_window(per_hour: int) -> int:
    return max(1, math.floor(per_hour * WINDOW.total_seconds() / 3600))


def allowance(per_hour: int | None, sent_in_window: int, batch_size: int) -> int:
    """How many to send now: at most `batch_size`, and within the window's share of
    `per_hour` (None: no limit)."""
    if per_hour is None or per_hour <= 0:
        return batch_size
    return max(0, min(batch_size, per_window(per_hour) - sent_in_window))
