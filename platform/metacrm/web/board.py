"""The kanban board of a pipeline: `/app/r/<entity>/board` (`?pipeline=<name>`).

Columns are the pipeline's states in order; each shows the first cards of the records the
user may read in that state (the records service applies the read scope), their count and
the sum of the entity's first money field (`services.transitions.board_totals`, through the
same scope).

Moving a card (`POST /app/r/<entity>/board/move`: id, version, to) performs the transition
that starts from the card's state and leads to the column's state, through the transitions
service — access, the transition's roles and its guards are decided there, so a forged post
is refused exactly like a drag. Scripts get JSON (`Accept: application/json`); a plain form
post is redirected back to the board with the outcome shown in the message area. A move
into the state a conversion leads to is the conversion's to make: the answer sends the user
to the record's conversion page (`convert_url` in JSON, a redirect for a plain form).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import jsonify, render_template, request, session
from flask import redirect as flask_redirect
from werkzeug.wrappers import Response as BaseResponse

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import (
    Conflict,
    ErrorDetail,
    Forbidden,
    MetacrmError,
    NotFound,
    StaleRecord,
    ValidationFailed,
)
from metacrm.metadata.model import EntityDef, FieldDef, PipelineDef, StateDef, TransitionDef
from metacrm.services.records.actions import records_actions
from metacrm.services.transitions.board_totals import CurrencySum, money_sums
from metacrm.services.transitions.guards import (
    ConversionRequired,
    EntityTransition,
    may_perform,
)
from metacrm.services.transitions.pipeline_states import leaves
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.condition_text import CONDITION, condition_sentence, part_at
from metacrm.web.context import login_required, services, web_subject
from metacrm.web.i18n import format_money, format_number, label, t
from metacrm.web.record_conversion import conversion_url
from metacrm.web.refusals import refusal_text
from metacrm.web.values import ValueDisplay, record_reader

web_board = screen_blueprint("web_board", __name__, url_prefix="/app/r")

CARDS_PER_COLUMN = 50
MESSAGE_KEY = "metacrm_board_message"
"""Where a plain-form move leaves its outcome for the board page it redirects to."""


@dataclass(frozen=True)
class Board:
    """What one board shows: the entity as the user may see it and its pipeline."""

    entity: EntityDef
    pipeline: PipelineDef
    state_field: str
    money_field: FieldDef | None
    pipelines: tuple[PipelineDef, ...]

    def state(self, name: Any) -> StateDef | None:
        return self.pipeline.state(str(name)) if name is not None else None

    def state_label(self, name: Any) -> str:
        found = self.state(name)
        return label(found.label, found.name) if found else str(name)

    def list_url(self, state: str) -> str:
        query = urlencode({f"filter[{self.state_field}][eq]": state})
        return f"/app/r/{self.entity.name}?{query}"

    def url(self) -> str:
        """The board's address (naming the pipeline only when the entity has several)."""
        if len(self.pipelines) > 1:
            return f"/app/r/{self.entity.name}/board?{urlencode({'pipeline': self.pipeline.name})}"
        return f"/app/r/{self.entity.name}/board"


@dataclass
class Card:
    id: str
    version: int
    title: str
    state: str
    owner: str
    money: Any
    targets: Sequence[tuple[str, str]] = ()


@dataclass
class Column:
    state: StateDef
    label: str
    color: str
    count: int
    estimate: bool
    sum_text: str
    more_url: str | None
    cards: list[Card] = field(default_factory=list)


# --- the board -----------------------------------------------------------------------------


def board_of(subject: AccessSubject, entity_name: str, pipeline_name: str | None) -> Board:
    """The board of the entity (NotFound without a pipeline; Forbidden when the state field
    is hidden from the user, as a board of it would show the field's values)."""
    runtime = services().records.runtime()
    if runtime.model.entity(entity_name) is None:
        raise NotFound(t("There is no such kind of record."))
    runtime.scoped(subject).require(entity_name, "read")
    pairs = runtime.states.fields(entity_name)
    if not pairs:
        raise NotFound(t("These records have no pipeline, so they have no board."))
    chosen = (next(((name, p) for name, p in pairs if p.name == pipeline_name), None)
              if pipeline_name else pairs[0])
    if chosen is None:
        raise NotFound(t("There is no such pipeline for these records."))
    visible = services().records.visible_entity(subject, entity_name)
    state_field, pipeline = chosen
    if visible.field(state_field) is None:
        raise Forbidden(t("Your roles do not let you see the stage of these records."))
    money = next((f for f in visible.fields if f.type == "money"), None)
    return Board(visible, pipeline, state_field, money, tuple(p for _n, p in pairs))


def targets_by_state(board: Board, subject: AccessSubject) -> dict[str, list[tuple[str, str]]]:
    """Per state: the states the user's roles may move a card to (target name, label)."""
    runtime = services().records.runtime()
    if not runtime.policy.scope(subject, board.entity.name, "update").allowed:
        return {}
    admin = runtime.policy.is_admin(subject)
    found: dict[str, list[tuple[str, str]]] = {}
    for state in board.pipeline.states:
        seen: dict[str, str] = {}
        for step in board.pipeline.transitions:
            if (step.to_state not in seen and leaves(step, state.name)
                    and _may(board, step, subject, admin)):
                seen[step.to_state] = board.state_label(step.to_state)
        found[state.name] = list(seen.items())
    return found


def _may(board: Board, step: TransitionDef, subject: AccessSubject, admin: bool) -> bool:
    transition = EntityTransition(board.state_field, board.pipeline, step)
    return may_perform(services().records.runtime().model, subject.roles, transition,
                       admin=admin)


def sums_text(board: Board, sums: Sequence[CurrencySum]) -> str:
    """The column's money total in the user's language ("" without a money field)."""
    if board.money_field is None:
        return ""
    if not sums:
        currency = board.money_field.option("currency")
        return format_money("0", currency if isinstance(currency, str) else None)
    return ", ".join(format_money(item.amount, item.currency) for item in sums)


def column_sums(board: Board, subject: AccessSubject, states: Sequence[str] | None = None
                ) -> Mapping[Any, Sequence[CurrencySum]]:
    if board.money_field is None:
        return {}
    criteria = None if states is None else {"field": board.state_field, "op": "in",
                                            "value": list(states)}
    return money_sums(services().records, subject, board.entity.name,
                      group_by=board.state_field, money_field=board.money_field.name,
                      criteria=criteria)


def card_fields(board: Board) -> list[str]:
    names = [board.entity.title_field, *board.entity.title_field_names, board.state_field,
             board.money_field.name if board.money_field else None]
    return list(dict.fromkeys(n for n in names if n and board.entity.field(n) is not None))


def movable_cards(board: Board, subject: AccessSubject, ids: Sequence[str]) -> set[str]:
    """The cards the user may move: records in their update scope (a transition is not an
    edit, so a locked state does not stop it — the transitions' roles decide, see
    `targets_by_state`)."""
    actions = records_actions(services().records, subject, board.entity.name, ids)
    return {record_id for record_id, allowed in actions.items() if allowed.transition}


def build_columns(board: Board, subject: AccessSubject) -> list[Column]:
    records = services().records
    targets = targets_by_state(board, subject)
    sums = column_sums(board, subject)
    display = ValueDisplay(records.runtime().model, fetch=record_reader(subject))
    pages = []
    for state in board.pipeline.states:
        page = records.list(subject, board.entity.name, criteria=_in_state(board, state.name),
                            sort=["-updated_at"], limit=CARDS_PER_COLUMN,
                            fields=card_fields(board))
        pages.append((state, page))
    display.load_users(records.engine, {uid for _s, page in pages
                                        for uid in ValueDisplay.user_ids(board.entity,
                                                                         page.records)})
    movable = movable_cards(board, subject, [str(record["id"]) for _s, page in pages
                                             for record in page.records]) if targets else set()
    display.prefetch(board.entity, [r for _s, page in pages for r in page.records])
    columns = []
    for state, page in pages:
        column = Column(state, label(state.label, state.name), state.color or "#9e9e9e",
                        page.count, page.count_is_estimate,
                        sums_text(board, sums.get(state.name, ())),
                        board.list_url(state.name) if page.next_cursor else None)
        for record in page.records:
            column.cards.append(Card(
                str(record["id"]), int(record["version"]), display.title(board.entity, record),
                state.name, display.text(board.entity, "owner", record),
                display.html(board.entity, board.money_field.name, record)
                if board.money_field else "",
                targets.get(state.name, ()) if str(record["id"]) in movable else ()))
        columns.append(column)
    return columns


def _in_state(board: Board, state: str) -> dict[str, Any]:
    return {"field": board.state_field, "op": "eq", "value": state}


@web_board.get("/<entity>/board")
@login_required
def board(entity: str) -> str:
    subject = web_subject()
    shown = board_of(subject, entity, request.args.get("pipeline") or None)
    message = session.pop(MESSAGE_KEY, None)
    return render_template("metacrm/board.html", board=shown,
                           columns=build_columns(shown, subject),
                           entity_label=label(shown.entity.plural_label, shown.entity.name),
                           pipeline_label=label(shown.pipeline.label, shown.pipeline.name),
                           message=message, count_text=count_text)


# --- moving a card -------------------------------------------------------------------------


@web_board.post("/<entity>/board/move")
@login_required
def move(entity: str) -> BaseResponse | tuple[BaseResponse, int]:
    subject = web_subject()
    shown = board_of(subject, entity, request.form.get("pipeline") or None)
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        record = _move(shown, subject)
    except ConversionRequired as refused:
        url = conversion_url(entity, refused.record_id)
        if wants_json:
            return jsonify({"ok": False, "convert_url": url,
                            "message": t("Converting shows what it will make first.")}), 200
        return flask_redirect(url)
    except MetacrmError as error:
        message = explain(error, shown)
        if wants_json:
            return jsonify({"ok": False, "message": message,
                            "missing": missing_labels(error, shown)}), error.status
        session[MESSAGE_KEY] = {"ok": False, "text": message}
        return flask_redirect(shown.url())
    state = str(record[shown.state_field])
    message = t("Moved to %(state)s.", state=shown.state_label(state))
    if not wants_json:
        session[MESSAGE_KEY] = {"ok": True, "text": message}
        return flask_redirect(shown.url())
    return jsonify({
        "ok": True, "message": message,
        "card": {"id": record["id"], "version": record["version"], "state": state,
                 "targets": [{"state": name, "label": text} for name, text
                             in targets_by_state(shown, subject).get(state, ())]},
        "columns": _totals(shown, subject),
    })


def _move(board: Board, subject: AccessSubject) -> dict[str, Any]:
    """Perform the transition the move stands for; the record as it now is."""
    record_id = request.form.get("id", "")
    to_state = request.form.get("to", "")
    version = _version(request.form.get("version"))
    if board.state(to_state) is None:
        raise ValidationFailed(t("Pick a column of this board."),
                               [ErrorDetail("not a state of the pipeline", "/to")])
    current = services().records.get(subject, board.entity.name, record_id)
    state = current.get(board.state_field)
    if state == to_state:
        return current
    name = transition_for(board, subject, state, to_state)
    service = services().services.transitions
    return service.transition(subject, board.entity.name, record_id, name,
                              expected_version=version)


def _version(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise ValidationFailed(t("The card's version is not a number; reload the board."),
                               [ErrorDetail("must be a whole number", "/version")])
    return int(text)


def transition_for(board: Board, subject: AccessSubject, state: Any, to_state: str) -> str:
    """The transition from `state` to `to_state` (one the user's roles may perform when
    there is such; otherwise another, which the service then refuses with 403)."""
    candidates = [step for step in board.pipeline.transitions
                  if step.to_state == to_state and leaves(step, state)]
    if not candidates:
        raise Conflict(t("No step of the pipeline leads from %(from)s to %(to)s.",
                         **{"from": board.state_label(state), "to": board.state_label(to_state)}))
    admin = services().records.runtime().policy.is_admin(subject)
    allowed = [step for step in candidates if _may(board, step, subject, admin)]
    return (allowed or candidates)[0].name


def _totals(board: Board, subject: AccessSubject) -> dict[str, dict[str, Any]]:
    """Count and sum of every column, to refresh the board after a move."""
    records = services().records
    sums = column_sums(board, subject)
    result = {}
    for state in board.pipeline.states:
        page = records.list(subject, board.entity.name, criteria=_in_state(board, state.name),
                            limit=1, fields=[board.state_field])
        result[state.name] = {"count": page.count, "estimate": page.count_is_estimate,
                              "count_text": count_text(page.count, page.count_is_estimate),
                              "sum_text": sums_text(board, sums.get(state.name, ()))}
    return result


def count_text(count: int, estimate: bool) -> str:
    return ("≈ " if estimate else "") + format_number(count)


# --- explaining a refusal ------------------------------------------------------------------


def missing_labels(error: MetacrmError, board: Board) -> list[str]:
    """The labels of the fields a guard found without a value (`/values/<field>`)."""
    found = []
    for detail in error.errors:
        if detail.pointer.startswith("/values/"):
            name = detail.pointer.removeprefix("/values/").split("/")[0]
            fdef = board.entity.field(name)
            found.append(label(fdef.label, name) if fdef else t("a field you cannot see"))
    return list(dict.fromkeys(found))


def explain(error: MetacrmError, board: Board) -> str:
    """What the user should know about a refused move, in their language."""
    if isinstance(error, ValidationFailed):
        parts = []
        missing = missing_labels(error, board)
        if missing:
            parts.append(t("Needs: %(fields)s", fields=", ".join(missing)))
        parts += [condition_reason(board, detail.pointer) for detail in error.errors
                  if detail.pointer.startswith(CONDITION)]
        return " ".join(dict.fromkeys(parts)) or t("The move was refused.")
    if isinstance(error, StaleRecord):
        return t("Someone changed this record meanwhile; reload the board and try again.")
    return refusal_text(error)


def condition_reason(board: Board, pointer: str) -> str:
    """The failed part of the condition of the move's transition, as a sentence."""
    to_state = request.form.get("to", "")
    for step in board.pipeline.transitions:
        part = part_at(step.condition, pointer) if step.to_state == to_state else None
        if part is not None:
            return condition_sentence(part, board.entity,
                                      ValueDisplay(services().records.runtime().model))
    return t("The record does not meet the condition of this step.")
