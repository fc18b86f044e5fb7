"""The seam where duplicate rules check each imported row (issue 14, item 4).

The import engine asks a `DuplicateCheck` about every batch before writing it; a row it
blocks fails with the reason given (and goes to the error file), a warning is kept in the
import's summary. `imports.duplicate_rules.RulesCheck` runs the entity's duplicate rules;
`NoDuplicateCheck` lets every row through (an ImportService built without one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject


@dataclass(frozen=True, slots=True)
class DuplicateVerdict:
    """What a rule says about one row: `block` (the row fails) or a warning."""

    reason: str
    block: bool = True
    earlier: int | None = None
    """The index (into the checked rows) of an earlier row of the same batch that this
    one duplicates, when that is the match: the writer names it by its row number."""


class DuplicateCheck(Protocol):
    def check(
        self, conn: sa.Connection, subject: AccessSubject, entity: str,
        rows: Sequence[tuple[str | None, Mapping[str, Any]]],
    ) -> Mapping[int, DuplicateVerdict]:
        """Verdicts by index into `rows` — each (id of the record it would update or
        None for a create, the values to write) — for the rows a rule matches."""
        ...


class NoDuplicateCheck:
    """No duplicate rules: every row passes."""

    def check(
        self, conn: sa.Connection, subject: AccessSubject, entity: str,
        rows: Sequence[tuple[str | None, Mapping[str, Any]]],
    ) -> Mapping[int, DuplicateVerdict]:
        return {}
