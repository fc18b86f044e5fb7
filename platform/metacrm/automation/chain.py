"""Chains of trigger runs: what stops a trigger loop and a runaway cascade.

A change made by a user starts a chain (its id is the event's id, depth 0). When a trigger
runs for an event, the changes its actions make produce events one level deeper, carrying
the chain with the runs made so far (`"ran": ["<trigger>:<record id>", ...]`, stamped by
`ChangeRecorder` from `metacrm.services.records.event_chain`). Two rules, both reported in the runs
log as `skipped` with the reason:

* a trigger runs at most once per record in one chain (a trigger that changes the record it
  watches would otherwise fire itself forever);
* a chain is at most `depth_limit` runs deep (A changes B's record, B changes C's...).

The chain travels in event payloads, so it holds across sync and async runs and processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.services.records.event_chain import CHAIN_KEY

DEFAULT_DEPTH_LIMIT = 5
MAX_RAN = 200
"""Run keys a chain keeps; the depth limit keeps real chains far below this."""


def run_key(trigger: str, record_id: str) -> str:
    return f"{trigger}:{record_id}"


@dataclass(frozen=True, slots=True)
class EventChain:
    """The chain an event belongs to."""

    id: str
    depth: int = 0
    ran: tuple[str, ...] = ()

    @classmethod
    def of_event(cls, event_id: str, payload: Mapping[str, Any]) -> EventChain:
        """The chain in an event's payload; a fresh one (rooted at the event) without."""
        raw = payload.get(CHAIN_KEY)
        if not isinstance(raw, Mapping):
            return cls(event_id)
        depth = raw.get("depth")
        ran = raw.get("ran")
        return cls(
            id=str(raw.get("id") or event_id),
            depth=depth if isinstance(depth, int) and not isinstance(depth, bool)
            and depth >= 0 else 0,
            ran=tuple(str(key) for key in ran) if isinstance(ran, list | tuple) else (),
        )

    def refusal(self, trigger: str, record_id: str, depth_limit: int) -> str | None:
        """Why `trigger` must not run for `record_id` in this chain; None: it may."""
        if run_key(trigger, record_id) in self.ran:
            return (f"trigger '{trigger}' already ran for record {record_id} in this chain "
                    f"of changes (chain {self.id}); it runs once per record per chain")
        if self.depth >= depth_limit:
            return (f"the chain of changes is {self.depth} trigger runs deep (chain "
                    f"{self.id}); the limit is {depth_limit}")
        return None

    def child(self, trigger: str, record_id: str) -> EventChain:
        """The chain of the events `trigger`'s actions on `record_id` produce."""
        ran = (*self.ran, run_key(trigger, record_id))
        return EventChain(self.id, self.depth + 1, ran[-MAX_RAN:])

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "depth": self.depth, "ran": list(self.ran)}
