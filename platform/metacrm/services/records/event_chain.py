"""The chain of automation runs a write belongs to, stamped on the events it produces.

When a trigger's actions change records, the events of those changes carry
`"chain": {"id": <root event id>, "depth": n, "ran": ["<trigger>:<record id>", ...]}` so the
automation engine can stop loops (a trigger runs at most once per record in one chain) and
cascades (a depth limit) — even when the chain continues in another process, from the job
queue. The automation engine sets the chain (`chain_scope`) while it runs actions;
`ChangeRecorder` stamps it (`with_chain`) on every event written meanwhile. Writes made
outside automation carry no chain: they start a fresh one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from metacrm.storage.outbox import OutboxEvent

CHAIN_KEY = "chain"
"""The payload key of the chain."""

_current: ContextVar[Mapping[str, Any] | None] = ContextVar("metacrm_event_chain",
                                                            default=None)


def current_chain() -> Mapping[str, Any] | None:
    """The chain (JSON form) of the automation run in progress in this context, if any."""
    return _current.get()


@contextmanager
def chain_scope(chain: Mapping[str, Any]) -> Iterator[None]:
    """Stamp `chain` on every event written inside the block (in this context)."""
    token = _current.set(dict(chain))
    try:
        yield
    finally:
        _current.reset(token)


def with_chain(events: Sequence[OutboxEvent]) -> list[OutboxEvent]:
    """`events` with the current chain in their payload (unchanged outside a chain)."""
    chain = _current.get()
    if chain is None:
        return list(events)
    return [dataclasses.replace(event, payload={**event.payload, CHAIN_KEY: dict(chain)})
            for event in events]
