"""The clock port: what "now" is for every component of a process.

A process has one clock, `Services.clock` (`metacrm.composition`); components take it (or
`Services.now`, which follows a clock replaced later) instead of reading the system time
themselves. So a test, a replay or a dry run that moves time moves it for the records'
stamps, schedules, reports and jobs alike, and no two components disagree on the time of
one change. Any callable answering an aware UTC `datetime` is a clock (`utc_now`, a
lambda, a bound method).

The webhook signature's `webhook-timestamp` is the one deliberate exception: receivers
check it against their own clock, so it is always the real time (`metacrm.webhooks`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Answers the current time as an aware UTC datetime."""

    def __call__(self) -> datetime: ...


def utc_now() -> datetime:
    """The system's time in UTC: the clock of a process nothing replaced."""
    return datetime.now(UTC)
