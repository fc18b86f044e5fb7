"""TEMPORARY stand-in for `MetadataService.rebase_onto` / `plan_rebase` (the lead's metadata
layers), with the same signatures; delete once main has them — the lifecycle then calls the
service's own methods. Without layers, the baseline simply becomes the live metadata (admin
customisations are not re-applied), in one transaction with `within`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from metacrm.kernel.errors import ErrorDetail, MetacrmError, MigrationFailed
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.services.metadata_service import AppliedVersion, MetadataService, PlanReport
from metacrm.storage import metadata_store
from metacrm.storage.migration import apply_plan, begin_migration, plan_migration
from metacrm.storage.migration.apply import failure_reason


@dataclass(frozen=True)
class RebasePlan:
    report: PlanReport
    conflicts: tuple[Any, ...] = ()
    carried: tuple[Any, ...] = ()


def plan_rebase(service: MetadataService, baseline: Sequence[Document], *,
                take: str | None = None) -> RebasePlan:
    real = getattr(service, "plan_rebase", None)
    if real is not None:  # pragma: no cover - once the layers are merged
        return real(baseline, take=take)  # type: ignore[no-any-return]
    return RebasePlan(service.plan(baseline))


def rebase_onto(
    service: MetadataService,
    baseline: Sequence[Document],
    *,
    author: str | None,
    comment: str | None,
    take: str | None = None,
    confirm_destructive: bool = False,
    within: Callable[[sa.Connection, int], None] | None = None,
) -> AppliedVersion | None:
    real = getattr(service, "rebase_onto", None)
    if real is not None:  # pragma: no cover - once the layers are merged
        return real(baseline, author=author, comment=comment,  # type: ignore[no-any-return]
                    take=take, confirm_destructive=confirm_destructive, within=within)
    model = compile_model(baseline, service.registry)
    service._validate(model)
    service.initialize()
    cache = service._cache
    try:
        with begin_migration(service.engine) as connection:
            service._lock_versions(connection)
            live = metadata_store.current(connection)
            live_number = live.number if live is not None else 0
            if live is not None and live.checksum == model.checksum:
                if within is not None:
                    within(connection, live_number)
                return None
            old_model = cache.model_of(live)
            plan = plan_migration(old_model, model, service.registry)
            number = live_number + 1
            apply_plan(connection, plan, old_model=old_model, new_model=model,
                       registry=service.registry, version=number,
                       confirm_destructive=confirm_destructive)
            stored = metadata_store.record_version(
                connection, documents=baseline, checksum=model.checksum, author=author,
                comment=comment, plan=plan.to_json(number), number=number)
            if within is not None:
                within(connection, number)
    except MetacrmError:
        raise
    except Exception as exc:
        raise MigrationFailed(
            f"applying the metadata failed, nothing was changed: {failure_reason(exc)}",
            [ErrorDetail(failure_reason(exc))]) from exc
    cache.remember(number, model)
    return AppliedVersion(number=stored.number, checksum=stored.checksum, plan=plan,
                          author=author, comment=comment, created_at=stored.created_at,
                          model=model)
