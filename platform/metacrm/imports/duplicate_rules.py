"""The entity's duplicate rules as the import's duplicate check (`imports.duplicates`).

Each row of a batch is checked the way a save is (`services.duplicates.checks.DuplicateChecker`):
against the stored records — only the rules checking that kind of save (`on` create or
update), the row's own record excluded on an update — and, since the batch is not stored
yet, against the batch's earlier rows. A `block` rule's match fails the row with the
matches it may name (the importer sees only records they may read, the others are
counted); a `warn` rule's match is listed in the import's warnings and the row goes in.
Rows of one file compare their normalised keys exactly (a fuzzy rule is exact there);
rows of earlier batches are stored already, so they are found like any record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.imports.duplicates import DuplicateVerdict
from metacrm.services.duplicates.checks import DuplicateCheck, DuplicateChecker


class RulesCheck:
    """Duplicate rules over import batches (module docstring)."""

    def __init__(self, checker: DuplicateChecker) -> None:
        self.checker = checker

    def check(
        self, conn: sa.Connection, subject: AccessSubject, entity: str,
        rows: Sequence[tuple[str | None, Mapping[str, Any]]],
    ) -> Mapping[int, DuplicateVerdict]:
        if not self.checker.has_rules(entity):
            return {}
        verdicts: dict[int, DuplicateVerdict] = {}
        earlier: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        for index, (record_id, values) in enumerate(rows):
            event = "create" if record_id is None else "update"
            stored = self.checker.find(conn, subject, entity, values, event=event,
                                       exclude=(record_id,) if record_id else ())
            verdict = _stored_verdict(stored, entity)
            for rule, signature in self.checker.match_signatures(entity, values,
                                                                 event=event):
                first = earlier.setdefault((rule.name, signature), index)
                if first != index and verdict is None:
                    verdict = DuplicateVerdict(
                        f"duplicates an earlier row of the file under rule {rule.name}",
                        block=rule.action == "block", earlier=first)
            if verdict is not None:
                verdicts[index] = verdict
        return verdicts


def _stored_verdict(found: DuplicateCheck, entity: str) -> DuplicateVerdict | None:
    if found.blocked:
        return DuplicateVerdict("; ".join(d.message for d in found.refusal(entity).errors))
    if found.matches or found.hidden_count:
        named = [f"may duplicate {m.title or m.id} ({m.id}) under rule {m.rule}"
                 for m in found.matches]
        if found.hidden_count:
            named.append("may duplicate a record you cannot see")
        return DuplicateVerdict("; ".join(named), block=False)
    return None
