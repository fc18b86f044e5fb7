"""The RQ worker class `metacrm worker` runs: RQ's non-forking `SimpleWorker` that remembers
a stop request and stops promptly.

Prompt stop: RQ's worker listens on a Redis pub/sub channel (for `rq` commands such as
`stop-job`) in a thread that waits up to `sleep_time` for a message; RQ starts it with 60 s.
On shutdown RQ unsubscribes and then stops that thread, and redis-py (8.x) joins it without
a timeout. When the thread reads the unsubscribe confirmation before the main thread asks it
to stop — likely on a loaded machine — it goes back to waiting, now for a subscription, for
the full 60 s, and the worker cannot exit for up to a minute after SIGTERM (longer than the
usual grace period of a service manager, which then kills it). Waiting at most
`PUBSUB_POLL_SECONDS` per round bounds that delay; the cost is one idle socket poll a second.
"""

from __future__ import annotations

from types import FrameType

from rq import SimpleWorker

PUBSUB_POLL_SECONDS = 1.0
"""Seconds the pub/sub thread waits for a message per round: the most a stop waits for it."""


class MetacrmWorker(SimpleWorker):
    """SimpleWorker that remembers a stop request (SIGTERM/SIGINT) and stops within about a
    second of finishing its current job."""

    stop_requested = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_requested = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def subscribe(self) -> None:
        """RQ's `subscribe`, with a pub/sub thread that checks for a stop every
        `PUBSUB_POLL_SECONDS` instead of every 60 s."""
        self.log.info("Worker %s: subscribing to channel %s", self.name,
                      self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]  # RQ
            sleep_time=PUBSUB_POLL_SECONDS, daemon=True,  # annotates it as None
            exception_handler=self._pubsub_exception_handler)
