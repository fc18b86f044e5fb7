"""Runtime migrations: plan the difference of two compiled models, apply it all or nothing.

    plan = plan_migration(old_model, new_model, registry)
    print(plan.describe())
    with begin_migration(engine) as connection:
        apply_plan(connection, plan, old_model=old_model, new_model=new_model,
                   registry=registry, version=7, confirm_destructive=False)
"""

from metacrm.storage.migration.apply import APPLIERS, apply_plan
from metacrm.storage.migration.archive import restorable
from metacrm.storage.migration.context import archive_name
from metacrm.storage.migration.operations import (
    AddChoices,
    AddColumn,
    AddForeignKey,
    ArchiveColumn,
    ArchiveTable,
    CreateIndex,
    CreateTable,
    DropIndex,
    Operation,
    RemoveChoices,
    ReplaceColumn,
    RestoreColumn,
    WidenColumn,
)
from metacrm.storage.migration.plan import MigrationPlan, RestorableField, plan_migration
from metacrm.storage.migration.session import begin_migration

__all__ = [
    "APPLIERS",
    "AddChoices",
    "AddColumn",
    "AddForeignKey",
    "ArchiveColumn",
    "ArchiveTable",
    "CreateIndex",
    "CreateTable",
    "DropIndex",
    "MigrationPlan",
    "Operation",
    "RemoveChoices",
    "ReplaceColumn",
    "RestorableField",
    "RestoreColumn",
    "WidenColumn",
    "apply_plan",
    "archive_name",
    "begin_migration",
    "plan_migration",
    "restorable",
]
