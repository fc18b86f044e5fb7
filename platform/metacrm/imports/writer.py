"""One batch of rows written in the caller's transaction: all its good rows or none.

For each batch: references, users and keys are resolved (`lookups`), duplicate rules are
asked (`duplicates`), then the new records are inserted with ONE executemany through the
importer's scoped repository — the same validation, field security, scopes, references
and save interceptors as the records API — and the matched ones updated one by one. A row
the repository refuses is taken out (its pointer names it) and the batch retried without
it, in a savepoint, so a failing row never leaves anything half-written. On PostgreSQL the
validated rows of a batch are written with COPY into a staging table and one INSERT ...
SELECT (`storage.copy_insert`) instead of a statement per row. Then the audit
trail (one whole-record row per created record), the events (not in silent mode) and the
ledger rows are written, each with one statement per table.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from metacrm.access.scoped_repository import KEEP, ScopedRepository, Unchanged
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.imports.conversion import ConvertedRow
from metacrm.imports.duplicates import DuplicateCheck
from metacrm.imports.ledger import CREATED, ROW_FAILED, UNCHANGED, UPDATED, LedgerRow
from metacrm.imports.lookups import Lookups, key_of
from metacrm.imports.mapping import OWNER, ImportMapping
from metacrm.kernel.errors import ErrorDetail, Forbidden, MetacrmError, ValidationFailed
from metacrm.services.records.runtime import RecordsRuntime
from metacrm.services.records.save_hooks import SaveInterceptors

MODES = ("create", "update", "upsert")
MAX_RETRIES = 3
"""Batch inserts retried without the rows the repository named; then row by row."""
POINTER = re.compile(r"^/(\d+)(?:/([^/]*))?")
MAX_ERRORS = 100
"""Row errors an import keeps in its summary (all of them are in the error file)."""


@dataclass
class BatchOutcome:
    ledger: list[LedgerRow] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    column_errors: Counter[str] = field(default_factory=Counter)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ImportPlan:
    """What one import does (checked before it starts)."""

    entity: str
    mapping: ImportMapping
    mode: str = "create"
    key: tuple[str, ...] = ()
    silent: bool = False


class BatchWriter:
    """Writes batches of converted rows of one import as one subject."""

    def __init__(self, runtime: RecordsRuntime, registry: FieldTypeRegistry,
                 subject: AccessSubject, plan: ImportPlan, lookups: Lookups,
                 duplicates: DuplicateCheck, interceptors: SaveInterceptors) -> None:
        self.runtime = runtime
        self.registry = registry
        self.subject = subject
        self.plan = plan
        self.lookups = lookups
        self.duplicates = duplicates
        self.interceptors = interceptors
        self.entity = runtime.model.entities[plan.entity]
        self._columns = {name: column for column, name in plan.mapping.columns.items()}

    def write(self, conn: sa.Connection, rows: Sequence[ConvertedRow], next_reference: int
              ) -> BatchOutcome:
        """Write `rows` on `conn` (the caller commits); `next_reference` is the ledger
        number of the first referenced record this batch may create (counting down)."""
        outcome = BatchOutcome()
        scoped = self.runtime.scoped(self.subject)
        publish = not self.plan.silent
        actor = self.subject.user_id
        counter = [next_reference]

        def create_references(entity: str, values: list[dict[str, Any]]
                              ) -> list[dict[str, Any]]:
            with conn.begin_nested():
                records = scoped.insert_many(conn, entity, values)
            self.runtime.changes.created(conn, entity, records, actor, publish=publish)
            for record in records:
                outcome.ledger.append(LedgerRow(counter[0], CREATED, entity,
                                                str(record["id"])))
                outcome.counts["references_created"] += 1
                counter[0] -= 1
            return records

        self.lookups.resolve(conn, scoped, rows, create_references)
        creates, updates = self._plan(conn, scoped, rows)
        self._ask_duplicates(conn, creates, updates, outcome)
        records = self._insert(conn, scoped, [r for r in creates if not r.failed])
        self.runtime.changes.created(conn, self.plan.entity, [rec for _r, rec in records],
                                     actor, publish=publish)
        for row, record in records:
            outcome.ledger.append(LedgerRow(row.number, CREATED, self.plan.entity,
                                            str(record["id"])))
            outcome.counts[CREATED] += 1
        pairs = self._update(conn, scoped, [(r, i) for r, i in updates if not r.failed],
                             outcome)
        self.runtime.changes.updated(conn, self.plan.entity, [p for _r, p in pairs], actor,
                                     publish=publish)
        for row in rows:
            if row.failed:
                self._fail(row, outcome)
        return outcome

    # --- planning ------------------------------------------------------------------------

    def _plan(self, conn: sa.Connection, scoped: ScopedRepository,
              rows: Sequence[ConvertedRow],
              ) -> tuple[list[ConvertedRow], list[tuple[ConvertedRow, str]]]:
        live = [row for row in rows if not row.failed]
        self._current: dict[str, dict[str, Any]] = {}
        if self.plan.mode == "create":
            return live, []
        keys: dict[int, tuple[Any, ...]] = {}
        for index, row in enumerate(live):
            key = key_of(self.registry, self.entity, self.plan.key, self._keyed(row))
            if isinstance(key, str):
                row.errors.append(("", key))
            else:
                keys[index] = key
        found: dict[tuple[Any, ...], list[str]] = {}
        for record in scoped.matching(conn, self.plan.entity, list(self.plan.key),
                                      set(keys.values()), whole=True):
            self._current[str(record["id"])] = record
            found.setdefault(tuple(record[name] for name in self.plan.key),
                             []).append(str(record["id"]))
        creates: list[ConvertedRow] = []
        updates: list[tuple[ConvertedRow, str]] = []
        for index, row in enumerate(live):
            if index not in keys:
                continue
            ids = found.get(keys[index], [])
            if len(ids) == 1:
                updates.append((row, ids[0]))
            elif len(ids) > 1:
                row.errors.append(("", f"{len(ids)} records have this key; the key must "
                                       "name one record"))
            elif self.plan.mode == "upsert":
                creates.append(row)
            else:
                row.errors.append(("", "no record has this key (mode update)"))
        return creates, updates

    def _keyed(self, row: ConvertedRow) -> dict[str, Any]:
        return {**row.values, **row.states}

    def _ask_duplicates(self, conn: sa.Connection, creates: list[ConvertedRow],
                        updates: list[tuple[ConvertedRow, str]], outcome: BatchOutcome,
                        ) -> None:
        asked = [(None, row) for row in creates if not row.failed] + [
            (record_id, row) for row, record_id in updates if not row.failed]
        if not asked:
            return
        verdicts = self.duplicates.check(
            conn, self.subject, self.plan.entity,
            [(record_id, self._keyed(row)) for record_id, row in asked])
        for index, verdict in verdicts.items():
            row = asked[index][1]
            reason = verdict.reason if verdict.earlier is None else \
                f"{verdict.reason} (row {asked[verdict.earlier][1].number})"
            if verdict.block:
                row.errors.append(("", reason))
            elif len(outcome.warnings) < MAX_ERRORS:
                outcome.warnings.append({"row": row.number, "reason": reason})

    # --- writes --------------------------------------------------------------------------

    def _create_args(self, row: ConvertedRow
                     ) -> tuple[dict[str, Any], str | Unchanged, dict[str, Any]]:
        values = dict(row.values)
        owner = values.pop(OWNER, KEEP)
        errors: list[ErrorDetail] = []
        engine = self.runtime.states.initial_values(self.plan.entity, values, "", errors)
        return values, owner, {**engine, **row.states}

    def _insert(self, conn: sa.Connection, scoped: ScopedRepository,
                rows: list[ConvertedRow]) -> list[tuple[ConvertedRow, dict[str, Any]]]:
        hook = self.interceptors.hook(conn, self.subject, self.plan.entity)
        pending = rows
        for _attempt in range(MAX_RETRIES):
            if not pending:
                return []
            args = [self._create_args(row) for row in pending]
            try:
                with conn.begin_nested():
                    records = scoped.insert_many(
                        conn, self.plan.entity, [a[0] for a in args],
                        owners=[a[1] for a in args], engine_values=[a[2] for a in args],
                        before_save=hook, bulk_copy=True)
                return list(zip(pending, records, strict=True))
            except (ValidationFailed, Forbidden) as exc:
                named = self._named_rows(exc, pending)
                if not named:
                    break
                pending = [row for row in pending if not row.failed]
            except MetacrmError:  # a unique value or the like: no row named
                break
        return self._insert_one_by_one(conn, scoped, pending, hook)

    def _named_rows(self, exc: MetacrmError, pending: list[ConvertedRow]) -> bool:
        named = False
        for detail in exc.errors:
            match = POINTER.match(detail.pointer)
            if match is None or int(match.group(1)) >= len(pending):
                continue
            row = pending[int(match.group(1))]
            name = match.group(2) or ""
            row.errors.append((self._columns.get(name, name), detail.message))
            named = True
        return named

    def _insert_one_by_one(self, conn: sa.Connection, scoped: ScopedRepository,
                           rows: list[ConvertedRow], hook: Any,
                           ) -> list[tuple[ConvertedRow, dict[str, Any]]]:
        written = []
        for row in rows:
            values, owner, engine = self._create_args(row)
            try:
                with conn.begin_nested():
                    record = scoped.insert(conn, self.plan.entity, values, owner=owner,
                                           engine_values=engine, before_save=hook)
                written.append((row, record))
            except MetacrmError as exc:
                self._refused(row, exc)
        return written

    def _refused(self, row: ConvertedRow, exc: MetacrmError) -> None:
        details = [(self._columns.get(d.pointer.strip("/").split("/")[-1], ""), d.message)
                   for d in exc.errors]
        row.errors.extend(details or [("", exc.message)])

    def _update(self, conn: sa.Connection, scoped: ScopedRepository,
                rows: list[tuple[ConvertedRow, str]], outcome: BatchOutcome,
                ) -> list[tuple[ConvertedRow, tuple[dict[str, Any], dict[str, Any]]]]:
        hook = self.interceptors.hook(conn, self.subject, self.plan.entity)
        states = self.runtime.states
        admin = self.runtime.policy.is_admin(self.subject)

        def locks_only(current: Mapping[str, Any], _planned: Mapping[str, Any]) -> None:
            # an import may set a stage (a migration), but not edit a locked record
            states.check_unlocked(self.plan.entity, current, self.subject.roles, admin=admin)

        pairs = []
        for row, record_id in rows:
            current = self._current.get(record_id)
            if current is not None and not scoped.changed_values(
                    self.plan.entity, current, self._keyed(row)):
                outcome.ledger.append(LedgerRow(row.number, UNCHANGED, self.plan.entity,
                                                record_id))
                outcome.counts[UNCHANGED] += 1
                continue
            try:
                with conn.begin_nested():
                    before, after = scoped.update(conn, self.plan.entity, record_id,
                                                  self._keyed(row), guard=locks_only,
                                                  before_save=hook)
            except MetacrmError as exc:
                self._refused(row, exc)
                continue
            if before["version"] == after["version"]:
                outcome.ledger.append(LedgerRow(row.number, UNCHANGED, self.plan.entity,
                                                record_id))
                outcome.counts[UNCHANGED] += 1
                continue
            old = self.runtime.changes.values(self.plan.entity, before)
            new = self.runtime.changes.values(self.plan.entity, after)
            previous = {name: old[name] for name in old if old[name] != new[name]}
            outcome.ledger.append(LedgerRow(row.number, UPDATED, self.plan.entity, record_id,
                                            previous=previous))
            outcome.counts[UPDATED] += 1
            pairs.append((row, (before, after)))
        return pairs

    def _fail(self, row: ConvertedRow, outcome: BatchOutcome) -> None:
        reason = row.reason()
        outcome.ledger.append(LedgerRow(row.number, ROW_FAILED, self.plan.entity,
                                        source=row.source, reason=reason))
        outcome.counts[ROW_FAILED] += 1
        for column, _message in row.errors:
            outcome.column_errors[column or "(row)"] += 1
        if len(outcome.errors) < MAX_ERRORS:
            outcome.errors.append({"row": row.number, "reason": reason})
