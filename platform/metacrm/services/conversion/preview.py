"""What converting a record would do, shown before anything is written (the screens'
conversion page).

For each target of the conversion: the values its mapping gives (copied source fields and
constants; links to earlier targets by name) and the existing record the conversion would
reuse instead of creating one (the same `find_match` the conversion runs, so the preview
and the conversion agree and matching reveals nothing the user could not read). For the
source: the conversion's transition as `TransitionService.available` describes it — its
guards (missing fields, the condition), or None when the user may not perform it from the
record's state.

Read-only: one connection, no transaction; converting is `ConversionService.convert`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.metadata.model import ConversionDef, ConversionTargetDef
from metacrm.services.conversion.matching import find_duplicate, find_match
from metacrm.services.conversion.request import choose_conversion
from metacrm.services.conversion.service import ConversionService
from metacrm.services.records.service import RecordsService
from metacrm.services.transitions.service import TransitionService


@dataclass(frozen=True, slots=True)
class TargetPreview:
    """One target as the conversion would treat it now."""

    definition: ConversionTargetDef
    values: Mapping[str, Any]
    """Target field -> JSON value from the mapping (empty values left out)."""
    links: Mapping[str, str]
    """Target reference field -> the earlier target whose record it will name."""
    match: dict[str, Any] | None
    """The readable existing record that would be reused (JSON form), or None."""
    may_create: bool
    """Whether the user may create records of the target's entity."""


@dataclass(frozen=True, slots=True)
class ConversionPreview:
    conversion: ConversionDef
    record: dict[str, Any]
    """The source record (JSON form, field security applied)."""
    targets: tuple[TargetPreview, ...]
    transition: dict[str, Any] | None
    """The conversion's transition as `available` lists it; None when not offered."""


def preview_conversion(
    conversion: ConversionService, transitions: TransitionService, subject: AccessSubject,
    entity: str, record_id: str, name: str | None = None,
) -> ConversionPreview:
    """The preview of conversion `name` (or the entity's only one) of the record: NotFound
    (404) outside the read scope or without a conversion, like the conversion itself."""
    records: RecordsService = conversion.records
    runtime = records.runtime()
    chosen = choose_conversion(runtime.model, entity, name)
    source = records.get(subject, entity, record_id)
    options = transitions.available(subject, entity, record_id)
    step = next((o for o in options if o["name"] == chosen.transition), None)
    scoped = runtime.scoped(subject)
    targets = []
    with records.engine.connect() as conn:
        for target in chosen.targets:
            values = {field: source.get(origin) for field, origin in target.fields.items()}
            values.update(target.constants)
            definition = runtime.model.entities[target.entity]
            found = (find_match(conn, scoped, definition, target.match, values)
                     or find_duplicate(conn, scoped, records.duplicates, subject, definition,
                                       values))
            targets.append(TargetPreview(
                definition=target,
                values={k: v for k, v in values.items() if v is not None},
                links=dict(target.links),
                match=(runtime.json.record(target.entity, found)
                       if found is not None else None),
                may_create=scoped.scope(target.entity, "create").allowed))
    return ConversionPreview(chosen, source, tuple(targets), step)
