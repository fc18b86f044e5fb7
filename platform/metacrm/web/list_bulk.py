"""Bulk actions of a list on the selected records: assign an owner, perform a transition,
delete. Each record is its own command (its own transaction), so one refused record does
not stop the others, and the page reports which ones failed and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import MetacrmError
from metacrm.metadata.model import CompiledModel
from metacrm.services.records.service import RecordsService
from metacrm.services.transitions.guards import conversion_of, entity_transitions, may_perform
from metacrm.services.transitions.service import TransitionService
from metacrm.web.i18n import label
from metacrm.web.values import ValueDisplay, record_reader

MAX_SELECTED = 500


@dataclass
class BulkOutcome:
    done: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(record title, why) of each record the action could not change."""


def error_text(error: MetacrmError) -> str:
    details = "; ".join(d.message for d in error.errors if d.message)
    return f"{error.message} ({details})" if details else error.message


def run_each(
    records: RecordsService, subject: AccessSubject, entity: str, ids: Sequence[str],
    command: Callable[[str], Any],
) -> BulkOutcome:
    """`command(id)` for every id; failures keep the record's title and the reason."""
    outcome = BulkOutcome()
    failed: list[tuple[str, str]] = []
    for record_id in ids:
        try:
            command(record_id)
        except MetacrmError as error:
            failed.append((record_id, error_text(error)))
        else:
            outcome.done += 1
    if failed:
        titles = titles_of(records, subject, entity, [record_id for record_id, _ in failed])
        outcome.failures = [(titles.get(record_id, record_id), why) for record_id, why in failed]
    return outcome


def titles_of(records: RecordsService, subject: AccessSubject, entity: str,
            ids: Sequence[str]) -> dict[str, str]:
    """Titles of the records the subject can still read (one query)."""
    definition = records.visible_entity(subject, entity)
    try:
        page = records.list(subject, entity, criteria={
            "field": "id", "op": "in", "value": list(ids)}, limit=len(ids))
    except MetacrmError:
        return {}
    display = ValueDisplay(records.runtime().model, fetch=record_reader(subject))
    display.prefetch(definition, page.records)
    return {str(r["id"]): display.title(definition, r) for r in page.records}


def transition_choices(
    model: CompiledModel, records: RecordsService, subject: AccessSubject, entity: str,
) -> list[tuple[str, str]]:
    """(name, label) of the transitions of the entity's pipelines the subject's roles may
    perform (whether each record's state and guards allow it is decided per record) —
    except those a conversion owns: converting is one record at a time, on its page."""
    runtime = records.runtime()
    admin = runtime.policy.is_admin(subject)
    return [(transition.name, label(transition.definition.label, transition.name))
            for transition in entity_transitions(runtime.states, entity)
            if may_perform(model, subject.roles, transition, admin=admin)
            and conversion_of(model, transition) is None]


def assign(records: RecordsService, subject: AccessSubject, entity: str,
           ids: Sequence[str], owner: str) -> BulkOutcome:
    return run_each(records, subject, entity, ids,
                    lambda record_id: records.update(subject, entity, record_id,
                                                     {"owner": owner}))


def transition(transitions: TransitionService, subject: AccessSubject, entity: str,
               ids: Sequence[str], name: str) -> BulkOutcome:
    return run_each(transitions.records, subject, entity, ids,
                    lambda record_id: transitions.transition(subject, entity, record_id, name))


def delete(records: RecordsService, subject: AccessSubject, entity: str,
           ids: Sequence[str]) -> BulkOutcome:
    return run_each(records, subject, entity, ids,
                    lambda record_id: records.delete(subject, entity, record_id))
