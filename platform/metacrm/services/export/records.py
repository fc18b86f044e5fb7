"""Exports of a list: the records a subject may both read and export, in one go.

A role grants `export` separately from `read` (a sales rep may browse the team's deals and
still not take them home in a spreadsheet). An export therefore reads the records inside
the read scope AND the export scope, with the list's criteria and quick search, hidden
fields stripped — the same conditions the list page uses, so an export never shows a row
or a field the list would not. It reads pages of 500 by keyset until `limit` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.criteria.tree import SYSTEM_FIELDS
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.services.records.service import RecordsService

EXPORT_LIMIT = 10_000
PAGE_SIZE = 500


@dataclass(frozen=True)
class ExportRows:
    """The exported records (JSON form), the visible field names in entity order, and
    whether more records matched than `limit`."""

    records: list[dict[str, Any]]
    fields: tuple[str, ...]
    truncated: bool


def export_records(
    records: RecordsService,
    subject: AccessSubject,
    entity: str,
    *,
    criteria: Any = None,
    q: str | None = None,
    sort: Sequence[str] = (),
    ids: Sequence[str] | None = None,
    limit: int = EXPORT_LIMIT,
) -> ExportRows:
    """Records of `entity` matching `criteria`, `q` (and `ids` when given) that `subject`
    may read and export. Forbidden (403) without an export grant; ValidationFailed for a
    criteria tree or sort naming a field the subject cannot see."""
    visible = exportable_entity(records, subject, entity, sort)
    runtime = records.runtime()
    scoped = runtime.scoped(subject)
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    truncated = False
    with records.engine.connect() as conn:
        while True:
            page = scoped.export_page(
                conn, entity, criteria=criteria, q=q, sort=sort, ids=ids,
                limit=min(PAGE_SIZE, limit - len(found) + 1), cursor=cursor)
            found.extend(runtime.json.record(entity, scoped.visible(entity, record))
                         for record in page.records)
            if len(found) > limit:
                truncated = True
                del found[limit:]
                break
            cursor = page.next_cursor
            if cursor is None or len(found) == limit:
                truncated = cursor is not None
                break
    return ExportRows(found, visible.field_names, truncated)


def exportable_entity(records: RecordsService, subject: AccessSubject, entity: str,
                      sort: Sequence[str]) -> EntityDef:
    """`entity` as `subject` sees it, once they may read AND export it: Forbidden (403)
    without both grants, ValidationFailed for a sort naming a field they cannot see.
    Every export (the screens' and the API's) is checked here before a row is read."""
    runtime = records.runtime()
    scoped = runtime.scoped(subject)
    scoped.require(entity, "read")
    scoped.require(entity, "export")
    visible = runtime.policy.visible_entity(subject, entity)
    check_sort(visible.field_names, sort)
    return visible


def check_sort(names: Sequence[str], sort: Sequence[str]) -> None:
    known = set(names) | set(SYSTEM_FIELDS)
    errors = [ErrorDetail(f"{item.lstrip('+-')!r} is not a field", f"/sort/{index}")
              for index, item in enumerate(sort) if item.lstrip("+-") not in known]
    if errors:
        raise ValidationFailed("invalid sort", errors)
