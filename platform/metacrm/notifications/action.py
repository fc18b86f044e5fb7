"""`notify`: an automation action that puts a message on users' bells.

```
{"to": "owner" | "<user field>" | ["owner", "<user field>", ...], "message": "<template>"}
```

`owner` is the record's owner; a user field (`type: user`) names whoever it holds. Empty
fields are left out, and with nobody left the action does nothing (a notice is no reason to
refuse the change that fired the trigger). The message is a sandboxed
template like `send_email`'s subject (one line, at most `MAX_MESSAGE` characters). It is
written in the trigger's transaction, once per trigger run and user (`source` =
trigger + event), so a retried async run does not notify twice. Readers see it only while
they may read the record (`NotificationService`), so a message cannot leak a record to
someone outside its read scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.automation.actions import ActionContext
from metacrm.automation.builtin_actions.support import (
    ActionSupport,
    is_name,
    param_errors,
    record_id,
)
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.model import CompiledModel, EntityDef
from metacrm.notifications import store

OWNER = "owner"
MAX_RECIPIENTS = 20
MAX_MESSAGE = 500


class NotifyAction:
    """The `notify` action."""

    name = "notify"

    def __init__(self, support: ActionSupport) -> None:
        self.support = support

    def check(self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
              ) -> list[ErrorDetail]:
        errors = param_errors(params, required=("to", "message"))
        if not isinstance(params, Mapping):
            return errors
        if "to" in params:
            to = params["to"]
            items = to if isinstance(to, list) else [to]
            if isinstance(to, list) and not 0 < len(to) <= MAX_RECIPIENTS:
                errors.append(ErrorDetail(f"lists 1 to {MAX_RECIPIENTS} recipients", "/to"))
            for index, item in enumerate(items):
                pointer = f"/to/{index}" if isinstance(to, list) else "/to"
                field = entity.field(item) if is_name(item) else None
                if item != OWNER and (field is None or field.type != "user"):
                    errors.append(ErrorDetail(
                        f"must be 'owner' or a user field of {entity.name}", pointer))
        if "message" in params:
            errors += self.support.templates.check(params["message"], "/message", entity)
        return errors

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        to = params["to"] if isinstance(params["to"], list) else [params["to"]]
        users = []
        for item in to:
            value = context.record.get(item)
            if isinstance(value, str) and value and value not in users:
                users.append(value)
        if not users:
            return {"notified": {"to": [], "skipped": "every recipient field is empty"}}
        message = " ".join(self.support.render(context, params["message"], "/message").split())
        message = message[:MAX_MESSAGE]
        summary = {"to": users, "message": message}
        if context.dry_run:
            return {"would_notify": summary}
        now = self.support.now(context)
        the_record = record_id(context)
        cause = context.event.id if context.event is not None else now.isoformat()
        for user in users:
            store.add(context.conn, user_id=user, kind=store.AUTOMATION,
                      source=f"trigger:{context.trigger.name}:{cause}", at=now,
                      entity=context.entity, record_id=the_record, message=message,
                      actor=f"trigger:{context.trigger.name}")
        return {"notified": summary}
