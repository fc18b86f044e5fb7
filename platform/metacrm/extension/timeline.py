"""Timeline sources: a pack's entries on a record's timeline (activity feed).

`ctx.timeline_source(name, kinds, provider)` registers a provider; the core calls it for a
record's timeline page, after checking that the viewer may read the record, with a
`TimelineQuery`: the record, the viewer, the kinds asked for (some of the declared ones),
the position to page before and how many entries are wanted. The provider returns up to
`limit` `TimelineItem`s of those kinds, strictly before `before` (`(at, key)`, newest first
— the core sorts, filters and trims what it gets), each one the viewer may see: a pack
reading records through `ctx.records` sees them as its service account, so it checks the
viewer itself (e.g. shows only items the viewer owns or that are public).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from metacrm.extension.records import Caller


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One entry: its `kind` (one the source declared), when (`at`, timezone-aware), a
    `key` unique among the pack's entries of this record, what to show (`title`, an
    optional link `url` — http(s) or site-relative — and `details`, JSON values)."""

    kind: str
    at: datetime
    key: str
    title: str
    url: str = ""
    actor: str | None = None
    """The user id of who did it, if anyone."""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineQuery:
    entity: str
    record_id: str
    viewer: Caller
    kinds: frozenset[str]
    before: tuple[datetime, str] | None
    """Entries strictly older than this `(at, key)`; None: the newest."""
    limit: int


TimelineProvider = Callable[[TimelineQuery], Sequence[TimelineItem]]

__all__ = ["TimelineItem", "TimelineProvider", "TimelineQuery"]
