"""Conversion: a lead becomes a company, a person and a deal — all of them, or nothing.

`ConversionService.convert` runs one conversion (a `conversion` metadata document) on one
source record in ONE transaction: each target, in declared order, is skipped, taken from
an existing record the caller names (`use`), matched to an existing record (`match`), or
created with `RecordsService.create_in` as the caller — so every access rule of a plain
create applies (create scope, field security, readable references). Links set reference
fields to the earlier targets' records; `source_links` record on the source what it became
(written by the engine: such fields are read-only to users); finally the conversion's
transition closes the source through the transitions feature, whose guards and role rules
apply. Any error rolls everything back.

Errors point into the request: `/targets/<target>/<field>` for a target's values,
`/record/<field>` (or `/record/condition`) for the source's transition; converting a record
already in the transition's target state is a Conflict (409).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import (
    Conflict,
    ErrorDetail,
    MetacrmError,
    NotFound,
    StaleRecord,
    ValidationFailed,
)
from metacrm.metadata.model import ConversionDef, ConversionTargetDef, PipelineDef
from metacrm.services.conversion.matching import find_duplicate, find_match
from metacrm.services.conversion.request import (
    TargetChoice,
    check_request,
    choose_conversion,
    parse_request,
    pointer_token,
)
from metacrm.services.records.runtime import RecordsRuntime
from metacrm.services.records.service import RecordsService

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "conversion"
CREATED, MATCHED, USED, SKIPPED = "created", "matched", "used", "skipped"


class SourceTransitions(Protocol):
    """The port to the transitions feature: one transition inside the caller's transaction."""

    def transition_in(
        self, conn: sa.Connection, subject: AccessSubject, entity: str, record_id: str,
        name: str, values: Mapping[str, Any] | None = None, *,
        expected_version: int | None = None, conversion: str | None = None,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class TargetOutcome:
    """What happened to one target; `record` is its JSON form (None when skipped)."""

    action: str
    entity: str
    record: dict[str, Any] | None

    @property
    def record_id(self) -> str | None:
        return None if self.record is None else str(self.record["id"])

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "entity": self.entity, "record": self.record}


class ConversionService:
    """Convert records of an entity with one of its conversions, as a subject."""

    def __init__(self, records: RecordsService, transitions: SourceTransitions) -> None:
        self.records = records
        self.transitions = transitions

    def convert(
        self, subject: AccessSubject, entity: str, record_id: str, request: Any = None, *,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Run the conversion `request` asks for (see conversion_request) on the record;
        returns `{"record": <source>, "targets": {name: {action, entity, record}}}`.
        `expected_version`: StaleRecord (412) when the source changed since."""
        with self.records.transaction() as conn:
            return self.convert_in(conn, subject, entity, record_id, request,
                                   expected_version=expected_version)

    def convert_in(
        self, conn: sa.Connection, subject: AccessSubject, entity: str, record_id: str,
        request: Any = None, *, expected_version: int | None = None,
    ) -> dict[str, Any]:
        """`convert` within the caller's transaction."""
        runtime = self.records.runtime()
        runtime.policy.entity(entity)
        parsed = parse_request(request)
        conversion = choose_conversion(runtime.model, entity, parsed.conversion)
        check_request(parsed, conversion)
        scoped = runtime.scoped(subject)
        source = scoped.load_for(conn, entity, record_id, "update")
        if expected_version is not None and source["version"] != expected_version:
            raise StaleRecord(
                f"{entity} record {record_id} changed since version {expected_version}",
                [ErrorDetail(f"the record is at version {source['version']}", "/version")])
        _check_state(runtime, conversion, source)
        values = runtime.json.record(entity, scoped.visible(entity, source))
        outcomes: dict[str, TargetOutcome] = {}
        for target in conversion.targets:
            with _pointing_into(f"/targets/{pointer_token(target.name)}"):
                outcomes[target.name] = self._target(
                    conn, subject, runtime, scoped, target, parsed.choice(target.name),
                    values, outcomes)
        self._link_source(conn, subject, runtime, conversion, source, outcomes)
        with _pointing_into("/record", strip="/values"):
            record = self.transitions.transition_in(conn, subject, entity, record_id,
                                                    conversion.transition,
                                                    conversion=conversion.name)
        return {"record": record,
                "targets": {name: outcome.to_json() for name, outcome in outcomes.items()}}

    def conversions(self, entity: str) -> list[ConversionDef]:
        """The conversions of `entity` in the live metadata, by name."""
        model = self.records.runtime().model
        return sorted((c for c in model.conversions.values() if c.entity == entity),
                      key=lambda c: c.name)

    # --- one target ------------------------------------------------------------------------

    def _target(
        self, conn: sa.Connection, subject: AccessSubject, runtime: RecordsRuntime,
        scoped: ScopedRepository, target: ConversionTargetDef, choice: TargetChoice,
        source: Mapping[str, Any], outcomes: Mapping[str, TargetOutcome],
    ) -> TargetOutcome:
        if choice.skip:
            return TargetOutcome(SKIPPED, target.entity, None)
        if choice.use is not None:
            return TargetOutcome(USED, target.entity,
                                 _existing(conn, runtime, scoped, target, choice.use))
        values = _mapped_values(target, source, outcomes)
        values.update(choice.values)
        definition = runtime.model.entities[target.entity]
        found = (find_match(conn, scoped, definition, target.match, values)
                 or find_duplicate(conn, scoped, self.records.duplicates, subject, definition,
                                   values))
        if found is not None:
            return TargetOutcome(MATCHED, target.entity,
                                 runtime.json.record(target.entity, found))
        payload = {name: value for name, value in values.items() if value is not None}
        return TargetOutcome(CREATED, target.entity,
                             self.records.create_in(conn, subject, target.entity, payload))

    def _link_source(
        self, conn: sa.Connection, subject: AccessSubject, runtime: RecordsRuntime,
        conversion: ConversionDef, source: dict[str, Any],
        outcomes: Mapping[str, TargetOutcome],
    ) -> None:
        """Set the source's `source_links` (read-only fields: the engine writes them)."""
        links = {field: outcomes[target].record_id
                 for field, target in conversion.source_links.items()
                 if outcomes[target].record_id is not None}
        if not links:
            return
        after = runtime.system.update(conn, conversion.entity, source["id"], links,
                                      actor=subject.user_id, trusted=True)
        runtime.changes.updated(conn, conversion.entity, [(source, after)], subject.user_id)


def _check_state(runtime: RecordsRuntime, conversion: ConversionDef,
                 source: Mapping[str, Any]) -> None:
    """Conflict when the source is already converted or in a state the transition does
    not start from (checked before anything is written, for a clear answer)."""
    for pipeline in runtime.model.pipelines.values():
        if pipeline.entity != conversion.entity:
            continue
        transition = next((t for t in pipeline.transitions
                           if t.name == conversion.transition), None)
        field = _state_field(runtime, pipeline)
        if transition is None or field is None:
            continue
        state = source.get(field)
        if state == transition.to_state:
            raise Conflict(f"this {conversion.entity} record is already converted",
                           [ErrorDetail(f"is already {state!r}", f"/record/{field}")])
        if transition.from_states != ("*",) and state not in transition.from_states:
            raise Conflict(
                f"a {conversion.entity} record in state {state!r} cannot be converted",
                [ErrorDetail(f"is {state!r}; conversion starts from "
                             f"{', '.join(transition.from_states)}", f"/record/{field}")])


def _state_field(runtime: RecordsRuntime, pipeline: PipelineDef) -> str | None:
    entity = runtime.model.entities.get(pipeline.entity)
    if entity is None:
        return None
    return next((f.name for f in entity.fields
                 if f.type == "state" and f.option("pipeline") == pipeline.name), None)


def _existing(conn: sa.Connection, runtime: RecordsRuntime, scoped: ScopedRepository,
              target: ConversionTargetDef, record_id: str) -> dict[str, Any]:
    """The record the caller chose to use; it must be one they may read."""
    try:
        record = scoped.get(conn, target.entity, record_id)
    except NotFound as exc:
        raise ValidationFailed(f"no {target.entity} record {record_id} to use", [ErrorDetail(
            f"refers to a {target.entity!r} record that does not exist", "/use")]) from exc
    return runtime.json.record(target.entity, record)


def _mapped_values(target: ConversionTargetDef, source: Mapping[str, Any],
                   outcomes: Mapping[str, TargetOutcome]) -> dict[str, Any]:
    """The target's values from the mapping: copied fields, constants, links."""
    values: dict[str, Any] = {name: source.get(field) for name, field in target.fields.items()}
    values.update(_thawed(target.constants))
    values.update({name: outcomes[other].record_id for name, other in target.links.items()})
    return values


def _thawed(value: Any) -> Any:
    """Frozen metadata JSON (read-only mappings, tuples) back to plain JSON."""
    if isinstance(value, Mapping):
        return {key: _thawed(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thawed(item) for item in value]
    return value


@contextmanager
def _pointing_into(prefix: str, *, strip: str = "") -> Iterator[None]:
    """Re-point the errors of one step into the request (`prefix` + their pointer, minus
    a leading `strip`)."""
    try:
        yield
    except MetacrmError as error:
        if not error.errors:
            raise
        moved = [ErrorDetail(e.message, prefix + _without(e.pointer, strip), e.source)
                 for e in error.errors]
        raise type(error)(error.message, moved) from error


def _without(pointer: str, prefix: str) -> str:
    if prefix and (pointer == prefix or pointer.startswith(prefix + "/")):
        return pointer[len(prefix):]
    return pointer


def install(services: Services) -> None:
    """Make the conversion feature available as `services.conversion.service` (after
    `services.transitions.service`: FEATURES installs transitions first)."""
    services.conversion = ConversionService(services.records, services.transitions)
