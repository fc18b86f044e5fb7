"""Pipeline transitions: the only way a record's state moves.

`TransitionService.transition(subject, entity, id, name, values)` performs the transition
`name` (unique among the entity's pipelines) on one record, in this order of answers:

1. the entity and the transition exist (404), `values` is an object not naming a state field
   (422 at `/values/<field>`);
2. the caller may update the record (404 outside the read scope, 403 outside the update
   scope), and the record is still at `expected_version` when one is given (412);
3. the caller's roles may perform the transition (403 naming the roles that may; see
   `transition_guards`);
3a. a transition that a conversion owns (it leads to the state a conversion leads to) is
   performed only by that conversion: asked for directly it is a 409 `ConversionRequired`
   naming the conversion;
4. the record's state is one the transition starts from (409);
5. ONE update writes the new state and `values` (validated like a PATCH: 422/403 at
   `/values/<field>`), then the guards are checked on the record as written — missing
   required fields (422 at `/values/<field>`) and the condition (422 at `/condition`) —
   and a failure rolls the transaction back;
6. the audit trail gets `transitioned` rows and the outbox a `record.transitioned` event.

A locked state does not stop a transition out of it: a transition is not an edit, its own
role rules decide. `transition_in` does the same within the caller's transaction (record
conversion and automation compose it with other writes); like every `*_in` command, an
error leaves the transaction to be rolled back by the caller.

`available(subject, entity, id)` lists the transitions out of the record's current states
that the caller's roles may perform, with whether their guards pass now and, for a
transition a conversion owns, the conversion's name (screens offer the conversion instead).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import (
    Conflict,
    ErrorDetail,
    MetacrmError,
    StaleRecord,
    ValidationFailed,
)
from metacrm.services.records.runtime import RecordsRuntime
from metacrm.services.records.service import RecordsService
from metacrm.services.transitions.guards import (
    ConversionRequired,
    EntityTransition,
    check_guards,
    conversion_of,
    entity_transitions,
    find,
    may_perform,
    refuse_role,
)
from metacrm.storage.record_codec import Record

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "transitions"
VALUES = "/values"


class TransitionService:
    """Lists and performs pipeline transitions as a subject (see the module docstring)."""

    def __init__(self, records: RecordsService) -> None:
        self.records = records

    # --- reads ---------------------------------------------------------------------------

    def available(
        self, subject: AccessSubject, entity: str, record_id: str
    ) -> list[dict[str, Any]]:
        """The transitions out of the record's current state(s) the caller's roles may
        perform: `{name, label, pipeline, field, from, to, to_label, allowed, missing,
        condition_met, conversion}` — `allowed` when the caller may update the record and
        the guards pass on it as it is now; `conversion` names the conversion that owns the
        transition (None for the others). NotFound (404) outside the read scope."""
        runtime = self.records.runtime()
        scoped = runtime.scoped(subject)
        scoped.require(entity, "read")
        with self.records.engine.connect() as conn:
            record = scoped.readable(conn, entity, record_id)
        if record is None:
            raise scoped.not_found(entity, record_id)
        may_update = scoped.check(entity, "update")(record)
        admin = runtime.policy.is_admin(subject)
        context = subject.criteria_context(self.records.now())
        found = []
        for transition in entity_transitions(runtime.states, entity):
            if not transition.leaves(record) or not may_perform(
                    runtime.model, subject.roles, transition, admin=admin):
                continue
            guards = check_guards(runtime.model, self.records.registry, transition, record,
                                  context)
            owner = conversion_of(runtime.model, transition)
            found.append({**transition.describe(), "allowed": may_update and guards.passed,
                          "missing": list(guards.missing),
                          "condition_met": guards.condition_met,
                          "conversion": owner.name if owner is not None else None})
        return found

    # --- writes --------------------------------------------------------------------------

    def transition(
        self, subject: AccessSubject, entity: str, record_id: str, name: str,
        values: Mapping[str, Any] | None = None, *, expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Perform transition `name` on the record in a transaction of its own; returns the
        record (JSON form, field security applied)."""
        with self.records.transaction() as conn:
            return self.transition_in(conn, subject, entity, record_id, name, values,
                                      expected_version=expected_version)

    def transition_in(
        self, conn: sa.Connection, subject: AccessSubject, entity: str, record_id: str,
        name: str, values: Mapping[str, Any] | None = None, *,
        expected_version: int | None = None, conversion: str | None = None,
    ) -> dict[str, Any]:
        """`transition` within the caller's transaction; `conversion`: the conversion
        performing it (only that one may perform a transition it owns)."""
        runtime = self.records.runtime()
        runtime.policy.entity(entity)
        transition = find(runtime.states, entity, name)
        changes = _values(runtime, entity, values)
        scoped = runtime.scoped(subject)
        current = scoped.load_for(conn, entity, record_id, "update")
        if expected_version is not None and current["version"] != expected_version:
            raise _stale(record_id, expected_version, current["version"])
        if not may_perform(runtime.model, subject.roles, transition,
                           admin=runtime.policy.is_admin(subject)):
            raise refuse_role(runtime.model, transition)
        owner = conversion_of(runtime.model, transition)
        if owner is not None and owner.name != conversion:
            raise ConversionRequired(entity, record_id, transition, owner)
        if not transition.leaves(current):
            raise _wrong_state(entity, transition, current)
        with _into_values(set(changes)):
            before, after = scoped.update(
                conn, entity, record_id,
                {**changes, transition.field: transition.definition.to_state},
                expected_version=current["version"],
                before_save=self.records.before_save(conn, subject, entity))
        guards = check_guards(runtime.model, self.records.registry, transition, after,
                              subject.criteria_context(self.records.now()))
        if not guards.passed:
            raise ValidationFailed(f"transition {transition.name!r} is not possible yet",
                                   guards.errors(transition))
        runtime.changes.transitioned(conn, entity, before, after, subject.user_id,
                                     transition.facts(before.get(transition.field)))
        return runtime.json.record(entity, scoped.visible(entity, after))


def _values(runtime: RecordsRuntime, entity: str, values: Any) -> dict[str, Any]:
    """The field values set with the transition; a state field may not be among them."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValidationFailed("invalid transition values",
                               [ErrorDetail("must be an object of field values", VALUES)])
    state_fields = {field for field, _pipeline in runtime.states.fields(entity)}
    named = [ErrorDetail("is set by transitions, not among their values", f"{VALUES}/{key}")
             for key in values if key in state_fields]
    if named:
        raise ValidationFailed("invalid transition values", named)
    return dict(values)


@contextmanager
def _into_values(names: set[str]) -> Iterator[None]:
    """Re-point errors about the given values from `/<field>` to `/values/<field>`."""
    try:
        yield
    except MetacrmError as error:
        if not error.errors:
            raise
        details = [
            ErrorDetail(e.message, VALUES + e.pointer, e.source)
            if e.pointer[1:].split("/")[0] in names else e
            for e in error.errors
        ]
        raise type(error)(error.message, details) from error


def _stale(record_id: str, expected: int, current: int) -> StaleRecord:
    """As the repository answers a stale write (the version is checked before the state)."""
    return StaleRecord(
        f"record {record_id} was changed by someone else: version {current}, "
        f"expected {expected}; reload it and try again",
        [ErrorDetail(f"is {current}, not {expected}", "/version")])


def _wrong_state(entity: str, transition: EntityTransition, record: Record) -> Conflict:
    state = record.get(transition.field)
    starts = transition.describe()["from"]
    origin = ("any other state" if starts == "*" else ", ".join(starts))
    return Conflict(
        f"the {entity} record is in state {state!r}; transition {transition.name!r} "
        f"starts from {origin}",
        [ErrorDetail(f"is {state!r}, not a state transition {transition.name!r} starts from",
                     f"/{transition.field}")])


def install(services: Services) -> None:
    """Make the transition service available as feature `transitions`."""
    services.transitions = TransitionService(services.records)
