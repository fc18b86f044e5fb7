"""The "possible duplicates" panel of record pages and forms: the records a duplicate rule
matches, as the signed-in user may know them (`services.duplicates.review`), a link to the
merge screen, and the merges into the record that can still be undone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import DuplicateFound, MetacrmError
from metacrm.services.duplicates.review import DuplicateReview
from metacrm.services.records.merge import MAX_RECORDS, MergeService
from metacrm.web.context import services


@dataclass
class DuplicatePanel:
    """What the "possible duplicates" panel shows."""

    entity: str
    matches: list[dict[str, str]] = field(default_factory=list)
    hidden: int = 0
    blocked: bool = False
    merge_url: str = ""
    undoable: list[dict[str, Any]] = field(default_factory=list)


def merge_url(entity: str, ids: Sequence[str]) -> str:
    return f"/app/r/{entity}/merge?" + urlencode([("ids", i) for i in ids[:MAX_RECORDS]])


def record_panel(subject: AccessSubject, entity: str, record_id: str) -> DuplicatePanel | None:
    """The panel of a record page: its duplicates and the merges into it that can be
    undone; None when the entity has no duplicate rules and nothing was merged."""
    records = services().records
    undoable = MergeService(records).undoable(subject, entity, record_id)
    if not records.duplicates.has_rules(entity) and not undoable:
        return None
    check = DuplicateReview(records).of_record(subject, entity, record_id)
    matches = [{"id": m.id, "title": m.title} for m in check.matches]
    return DuplicatePanel(
        entity, matches, check.hidden_count, check.blocked,
        merge_url(entity, [record_id, *(m["id"] for m in matches)]) if matches else "",
        undoable)


def error_panel(entity: str, error: MetacrmError | None) -> DuplicatePanel | None:
    """The panel of a form whose save a block rule refused."""
    if not isinstance(error, DuplicateFound):
        return None
    return DuplicatePanel(entity, [{"id": d["id"], "title": d["title"]}
                                   for d in error.duplicates], error.hidden, True)


