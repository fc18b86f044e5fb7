"""What every build step shares: the catalog, the errors found so far, lookups by name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from metacrm.criteria.tree import check_criteria
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.catalog import FieldTypeCatalog
from metacrm.metadata.model import SYSTEM_COLUMNS, EntityDef, PipelineDef
from metacrm.metadata.schema_errors import did_you_mean

CRITERIA_SYSTEM_COLUMNS: frozenset[str] = frozenset(SYSTEM_COLUMNS) - {"version"}
"""System columns views, reports and criteria may name (the lock counter is internal)."""


def suggestion(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a candidate is close to `word` (as schema errors say)."""
    return did_you_mean(word, candidates)


@dataclass
class Reporter:
    """Collects the errors of one document: each names the file, a JSON Pointer and why."""

    source: str
    errors: list[ErrorDetail]
    complete: bool = True

    def error(self, message: str, pointer: str) -> None:
        self.errors.append(ErrorDetail(message, pointer, self.source))

    def missing(self, message: str, pointer: str) -> None:
        """An error about something another document should declare. Skipped when some
        documents could not be loaded: the missing thing may be in one of them."""
        if self.complete:
            self.error(message, pointer)

    def extend(self, errors: Iterable[ErrorDetail]) -> None:
        self.errors.extend(errors)


@dataclass
class CompileContext:
    """State of one compilation: the catalog, the errors, what has been built so far."""

    catalog: FieldTypeCatalog
    errors: list[ErrorDetail] = field(default_factory=list)
    entities: dict[str, EntityDef] = field(default_factory=dict)
    pipelines: dict[str, PipelineDef] = field(default_factory=dict)
    role_names: frozenset[str] = frozenset()
    complete: bool = True
    """False when some documents failed to load: "unknown X" errors are then not reported."""

    def reporter(self, source: str) -> Reporter:
        return Reporter(source, self.errors, self.complete)

    def entity(self, name: Any, report: Reporter, pointer: str) -> EntityDef | None:
        """The entity `name`, or None after reporting that it does not exist."""
        found = self.entities.get(name) if isinstance(name, str) else None
        if found is None:
            report.missing(f"unknown entity '{name}'" + suggestion(str(name), self.entities),
                         pointer)
        return found

    def pipeline(self, name: Any, report: Reporter, pointer: str) -> PipelineDef | None:
        found = self.pipelines.get(name) if isinstance(name, str) else None
        if found is None:
            report.missing(f"unknown pipeline '{name}'" + suggestion(str(name), self.pipelines),
                         pointer)
        return found

    def check_field(
        self, entity: EntityDef, name: str, report: Reporter, pointer: str,
        *, system: bool = False,
    ) -> bool:
        """True if `entity` has field `name` (or it is a system column, when `system`)."""
        if entity.has_field(name) or (system and name in CRITERIA_SYSTEM_COLUMNS):
            return True
        candidates: list[str] = list(entity.field_names)
        if system:
            candidates.extend(CRITERIA_SYSTEM_COLUMNS)
        report.error(f"unknown field '{name}' of entity '{entity.name}'"
                     + suggestion(name, candidates), pointer)
        return False

    def check_roles(self, names: Iterable[str], report: Reporter, pointer: str) -> None:
        for index, name in enumerate(names):
            if name not in self.role_names:
                report.missing(f"unknown role '{name}'" + suggestion(name, self.role_names),
                             f"{pointer}/{index}")

    def check_criteria(
        self, tree: Any, entity: EntityDef, report: Reporter, pointer: str
    ) -> None:
        """Check a criteria tree against `entity` (fields exist, operators fit their types)."""
        report.extend(check_criteria(tree, entity, self.catalog, pointer=pointer,
                                     source=report.source))

