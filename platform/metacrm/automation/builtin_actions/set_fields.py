"""`set_fields`: change fields of the record the trigger runs for.

`{"values": {"<field>": <literal | {"template": "..."} | {"formula": "..."}>, ...}}` — one
update through the records service (audited, published, checked like an API PATCH).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.automation.actions import ActionContext
from metacrm.automation.builtin_actions.support import ActionSupport, param_errors, record_id
from metacrm.automation.builtin_actions.values import ValueForms
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.model import CompiledModel, EntityDef

VALUES = "values"


class SetFields:
    """The `set_fields` action."""

    name = "set_fields"

    def __init__(self, support: ActionSupport) -> None:
        self.support = support
        self.values = ValueForms(support)

    def check(
        self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
    ) -> list[ErrorDetail]:
        errors = param_errors(params, required=(VALUES,))
        if errors:
            return errors
        values = params[VALUES]
        if isinstance(values, Mapping) and not values:
            return [ErrorDetail("names no field to set", f"/{VALUES}")]
        return self.values.check(values, source=entity, target=entity, pointer=f"/{VALUES}")

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        entity = self.support.entity(context.entity)
        values = self.values.resolve(params[VALUES], target=entity,
                                     variables=self.support.variables(context),
                                     pointer=f"/{VALUES}")
        the_id = record_id(context)
        target = {"entity": context.entity, "id": the_id, "values": values}
        if context.dry_run:
            self.values.validate(values, target=entity, pointer=f"/{VALUES}")
            return {"would_update": target}
        record = self.support.services.records.update_in(
            context.conn, context.subject, context.entity, the_id, values)
        return {"updated": {**target, "version": record.get("version")}}
