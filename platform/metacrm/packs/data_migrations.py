"""A pack's data migrations: `migrations/<version>/` steps run when upgrading to that version.

Declarative steps need no Python (`{"steps": [...]}` in any `*.json` of the folder, files in
name order):

* `{"op": "update", "entity": "deal_line", "where": <criteria>, "set": {...}}`
* `{"op": "insert", "entity": "product", "values": {...}}`
* `{"op": "delete", "entity": "task", "where": <criteria>}`

They run inside the upgrade's transaction, after the tables were migrated, as the pack's
service account through the access layer: only on the entities and operations its
`permissions` grant, with values normalised and checked like any write and references
enforced. A `step.py` with `run(ctx)` in the folder runs after the JSON steps, through the
extension host (`PythonStepRunner`); any failure rolls the whole upgrade back. Records
written here get no audit entries or events: they are the pack's own data fix-ups, not
business changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from jsonschema import Draft202012Validator
from packaging.version import Version

from metacrm.access.record_access import RecordAccess
from metacrm.access.scoped_repository import ScopedRepository
from metacrm.extension import MigrationContext
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, MetacrmError, MetadataInvalid, ValidationFailed
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.loader import read_json
from metacrm.metadata.schema_errors import json_pointer
from metacrm.packs.service_account import service_subject
from metacrm.packs.step_context import StepContext, StepRecords
from metacrm.services.records.json_values import RecordJson
from metacrm.storage import metadata_store
from metacrm.storage.tables import build_record_tables

PYTHON_STEP = "step.py"
PAGE = 500

PythonStepRunner = Callable[[Path, MigrationContext], None]
"""Imports a `step.py` and calls its `run(ctx)` (the extension host provides it, checking the
file's imports as for a pack's module); `ctx.records` acts as the pack's service account on
the upgrade's connection."""

_CRITERIA = {"type": ["object", "null"]}
STEPS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["steps"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string"},
        "description": {"type": "string"},
        "steps": {"type": "array", "items": {"oneOf": [
            {"type": "object", "additionalProperties": False,
             "required": ["op", "entity", "set"],
             "properties": {"op": {"const": "update"}, "entity": {"type": "string"},
                            "where": _CRITERIA, "set": {"type": "object"}}},
            {"type": "object", "additionalProperties": False,
             "required": ["op", "entity", "values"],
             "properties": {"op": {"const": "insert"}, "entity": {"type": "string"},
                            "values": {"type": "object"}}},
            {"type": "object", "additionalProperties": False,
             "required": ["op", "entity"],
             "properties": {"op": {"const": "delete"}, "entity": {"type": "string"},
                            "where": _CRITERIA}},
        ]}},
    },
}


@dataclass(frozen=True)
class DataMigration:
    """One `migrations/<version>/` folder of one pack."""

    pack: str
    version: Version
    folder: Path
    previous: Version
    """The version installed before the upgrade that runs this migration."""

    def files(self) -> list[Path]:
        return sorted(path for path in self.folder.glob("*.json") if path.is_file())

    @property
    def python_step(self) -> Path | None:
        path = self.folder / PYTHON_STEP
        return path if path.is_file() else None

    def describe(self) -> str:
        parts = [path.name for path in self.files()]
        if self.python_step is not None:
            parts.append(PYTHON_STEP)
        return f"{self.pack} {self.version}: {', '.join(parts) or 'no steps'}"


def pending_migrations(pack: str, folders: Sequence[tuple[Version, Path]], old: Version | None,
                       new: Version) -> list[DataMigration]:
    """The migrations an upgrade from `old` to `new` runs: old < version <= new, in order.
    A fresh install (old None) runs none: its documents already describe the new version."""
    if old is None:
        return []
    return [DataMigration(pack, version, folder, old) for version, folder in folders
            if old < version <= new]


def read_steps(migration: DataMigration) -> list[tuple[Path, int, Mapping[str, Any]]]:
    """(file, index, step) of every JSON step; MetadataInvalid lists every broken file."""
    validator = Draft202012Validator(STEPS_SCHEMA)
    steps: list[tuple[Path, int, Mapping[str, Any]]] = []
    errors: list[ErrorDetail] = []
    for path in migration.files():
        body, problems = read_json(path)
        if not problems:
            problems = [ErrorDetail(error.message, json_pointer(error.absolute_path), str(path))
                        for error in validator.iter_errors(body)]
        if problems:
            errors += problems
            continue
        steps += [(path, index, step) for index, step in enumerate(body["steps"])]
    if errors:
        raise MetadataInvalid(f"invalid data migration of pack {migration.pack} "
                              f"{migration.version}", errors)
    return steps


class MigrationRunner:
    """Runs data migrations on the connection of a pack change, against the model of the
    metadata version that change recorded."""

    def __init__(self, registry: FieldTypeRegistry,
                 python_steps: PythonStepRunner | None = None) -> None:
        self._registry = registry
        self._python_steps = python_steps

    def check(self, migrations: Sequence[DataMigration]) -> None:
        """Refuse before anything is applied: broken step files, or a `step.py` when no
        extension host can run it."""
        for migration in migrations:
            read_steps(migration)
            if migration.python_step is not None and self._python_steps is None:
                raise ValidationFailed(
                    f"pack {migration.pack} {migration.version} has a Python migration step, "
                    "which needs the extension host",
                    [ErrorDetail("cannot run here", "", str(migration.python_step))])

    def run(self, connection: sa.Connection, version: int,
            migrations: Sequence[DataMigration]) -> None:
        if not migrations:
            return
        documents = metadata_store.get(connection, version).documents
        model = compile_model(documents, self._registry)
        records = RecordAccess(model, build_record_tables(model, self._registry),
                               self._registry, clock=lambda: datetime.now(UTC))
        json = RecordJson(model, self._registry)
        for migration in migrations:
            scoped = records.scoped(service_subject(migration.pack))
            for path, index, step in read_steps(migration):
                try:
                    _run_step(connection, scoped, step)
                except MetacrmError as exc:
                    raise _located(exc, path, index, step) from exc
            if migration.python_step is not None and self._python_steps is not None:
                context = StepContext(migration.pack, str(migration.previous),
                                      str(migration.version),
                                      StepRecords(connection, scoped, json))
                self._python_steps(migration.python_step, context)


def _run_step(connection: sa.Connection, scoped: ScopedRepository,
              step: Mapping[str, Any]) -> None:
    entity = str(step["entity"])
    if step["op"] == "insert":
        scoped.insert(connection, entity, step["values"])
        return
    ids: list[str] = []
    cursor: str | None = None
    while True:  # every matching id first: the writes below must not move the pages
        page = scoped.page(connection, entity, criteria=step.get("where"), limit=PAGE,
                           cursor=cursor)
        ids += [str(record["id"]) for record in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break
    for record_id in ids:
        if step["op"] == "update":
            scoped.update(connection, entity, record_id, step["set"])
        else:
            scoped.delete(connection, entity, record_id)


def _located(exc: MetacrmError, path: Path, index: int, step: Mapping[str, Any]) -> MetacrmError:
    """The error of a step, each detail pointing into the migration file."""
    key = {"update": "set", "insert": "values"}.get(str(step.get("op")), "where")
    base = json_pointer(["steps", index])
    details = [ErrorDetail(detail.message, f"{base}/{key}{detail.pointer}"
                           if detail.pointer.startswith("/") else base, str(path))
               for detail in exc.errors] or [ErrorDetail(exc.message, base, str(path))]
    return ValidationFailed(f"data migration step failed: {exc.message}", details)
