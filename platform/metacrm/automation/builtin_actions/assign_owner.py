"""`assign_owner`: give the record to a member of a team.

`{"strategy": "round_robin" | "least_loaded", "team": "<team name>"}`. The team's own members
take part (not those of its sub-teams: name the sub-team to assign within it).

* `round_robin` — the members in turn (ordered by user id), one rotation per team and entity
  kept in `metacrm_round_robin`;
* `least_loaded` — the member owning the fewest open records of the entity: records whose
  state (of the entity's first pipeline) is in a state of category `open`, or all records
  when the entity has no pipeline; the record being assigned does not count; ties go to the
  first member by user id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from metacrm.automation.actions import ActionContext
from metacrm.automation.builtin_actions.round_robin import next_position, peek_position
from metacrm.automation.builtin_actions.support import (
    ActionSupport,
    is_name,
    param_errors,
    record_id,
)
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import CompiledModel, EntityDef

ROUND_ROBIN = "round_robin"
LEAST_LOADED = "least_loaded"
STRATEGIES = (ROUND_ROBIN, LEAST_LOADED)


def open_states(entity: EntityDef, model: CompiledModel) -> tuple[str, tuple[str, ...]] | None:
    """(state field, its open states) of the entity's first pipeline, or None (no pipeline,
    or one without open states: every record counts)."""
    for fdef in entity.fields:
        pipeline = model.pipelines.get(str(fdef.option("pipeline", "")))
        if fdef.type == "state" and pipeline is not None:
            names = tuple(s.name for s in pipeline.states if s.category == "open")
            return (fdef.name, names) if names else None
    return None


class AssignOwner:
    """The `assign_owner` action."""

    name = "assign_owner"

    def __init__(self, support: ActionSupport) -> None:
        self.support = support

    def check(
        self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
    ) -> list[ErrorDetail]:
        errors = param_errors(params, required=("strategy", "team"))
        if not isinstance(params, Mapping):
            return errors
        if "strategy" in params and params["strategy"] not in STRATEGIES:
            errors.append(ErrorDetail(f"must be one of: {', '.join(STRATEGIES)}", "/strategy"))
        if "team" in params and not is_name(params["team"]):
            errors.append(ErrorDetail("must be a team name", "/team"))
        return errors

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        team, strategy = params["team"], params["strategy"]
        members = self._members(context.conn, team)
        if strategy == ROUND_ROBIN:
            take = peek_position if context.dry_run else next_position
            owner = members[take(context.conn, team, context.entity) % len(members)]
        else:
            owner = self._least_loaded(context, members)
        summary = {"entity": context.entity, "id": record_id(context), "owner": owner,
                   "strategy": strategy, "team": team}
        if context.dry_run:
            return {"would_assign": summary}
        self.support.services.records.update_in(
            context.conn, context.subject, context.entity, summary["id"], {"owner": owner})
        return {"assigned": summary}

    def _members(self, conn: sa.Connection, team: str) -> tuple[str, ...]:
        teams = self.support.services.teams
        if team not in {t.name for t in teams.list_teams(conn)}:
            raise ValidationFailed(f"there is no team {team!r}",
                                   [ErrorDetail("no such team", "/team")])
        members = teams.members_of(conn, [team])
        if not members:
            raise ValidationFailed(f"team {team!r} has no members to assign to",
                                   [ErrorDetail("the team has no members", "/team")])
        return members

    def _least_loaded(self, context: ActionContext, members: Sequence[str]) -> str:
        runtime = self.support.runtime()
        entity = self.support.entity(context.entity)
        repository = runtime.system
        table = repository.table(context.entity)
        states = open_states(entity, runtime.model)
        criteria = None if states is None else \
            {"field": states[0], "op": "in", "value": list(states[1])}
        loads = {}
        for member in members:
            count = repository.count(
                context.conn, context.entity, criteria=criteria,
                where=sa.and_(table.c.owner == member, table.c.id != record_id(context)))
            loads[member] = count.value
        return min(members, key=lambda member: (loads[member], member))
