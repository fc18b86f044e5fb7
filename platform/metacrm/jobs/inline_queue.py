"""The embedded job queue: run each work item in this process, right away.

Without Redis (`METACRM_REDIS_URL` unset) the process that relays an event runs its work
items itself, in the relaying thread: after a web request's commit, in the scheduler's tick.
Retries and items of a process that died are picked up by the next sweep (`metacrm serve`
runs a scheduler thread; with another server, run `metacrm scheduler`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

_log = logging.getLogger(__name__)


class InlineQueue:
    """A `JobQueue` that runs `run(item_id)` for each item before `enqueue` returns."""

    def __init__(self, run: Callable[[str], None]) -> None:
        self._run = run

    def enqueue(self, item_ids: Sequence[str]) -> None:
        for item_id in item_ids:
            try:
                self._run(item_id)
            except Exception:  # the item stays in the database; the sweeper offers it again
                _log.exception("work item %s could not be run inline", item_id)
