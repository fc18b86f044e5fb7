"""`copy_related`: copy one record's child records onto another record (a quote's lines
onto its deal when the quote is accepted, a quote's lines onto an invoice).

```json
{"from": {"entity": "quote_line", "via": "quote"},
 "to": {"entity": "deal_line", "via": "deal", "record": "deal"},
 "fields": {"product": "product", "quantity": "quantity", "unit_price": "unit_price"},
 "replace": true}
```

The children copied are the `from.entity` records whose reference `from.via` points at the
source parent; each becomes a `to.entity` record whose reference `to.via` points at the
target parent, with `fields` (target field <- source field) copied. The source and target
parents are the trigger's record, or the record its reference field `record` names.
`replace`: the target parent's existing children are deleted first. The copies belong to
the target parent's owner (so whoever sees the deal sees its new lines). Every write goes
through the records service as the automation subject (audited, published, computed fields
and rollups updated), in the trigger's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.automation.actions import ActionContext
from metacrm.automation.builtin_actions.support import ActionSupport, param_errors, record_id
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import CompiledModel, EntityDef

PAGE = 500
MAX_COPIED = 1_000
"""Children one action may copy."""


class CopyRelated:
    """The `copy_related` action."""

    name = "copy_related"

    def __init__(self, support: ActionSupport) -> None:
        self.support = support

    def check(
        self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
    ) -> list[ErrorDetail]:
        errors = param_errors(params, required=("from", "to", "fields"), optional=("replace",))
        if errors:
            return errors
        ends: dict[str, EntityDef] = {}
        for end in ("from", "to"):
            spec = params[end]
            if not isinstance(spec, Mapping) or set(spec) - {"entity", "via", "record"}:
                errors.append(ErrorDetail("must be {entity, via, record?}", f"/{end}"))
                continue
            child = model.entity(str(spec.get("entity")))
            if child is None:
                errors.append(ErrorDetail("unknown entity", f"/{end}/entity"))
                continue
            parent = entity
            record = spec.get("record")
            if record is not None:
                ref = entity.field(str(record))
                target = model.entity(ref.target_entity or "") if ref is not None else None
                if ref is None or ref.type != "reference" or target is None:
                    errors.append(ErrorDetail(f"not a reference field of {entity.name!r}",
                                              f"/{end}/record"))
                    continue
                parent = target
            via = child.field(str(spec.get("via")))
            if via is None or via.type != "reference" or via.target_entity != parent.name:
                errors.append(ErrorDetail(f"not a reference of {child.name!r} to "
                                          f"{parent.name!r}", f"/{end}/via"))
                continue
            ends[end] = child
        fields = params["fields"]
        if not isinstance(fields, Mapping) or not fields:
            errors.append(ErrorDetail("must map target fields to source fields", "/fields"))
        elif len(ends) == 2:
            for target_name, source_name in fields.items():
                if not ends["to"].has_field(str(target_name)):
                    errors.append(ErrorDetail(f"not a field of {ends['to'].name!r}",
                                              f"/fields/{target_name}"))
                if not ends["from"].has_field(str(source_name)):
                    errors.append(ErrorDetail(f"{source_name!r} is not a field of "
                                              f"{ends['from'].name!r}", f"/fields/{target_name}"))
        if not isinstance(params.get("replace", False), bool):
            errors.append(ErrorDetail("must be true or false", "/replace"))
        return errors

    def _parent(self, context: ActionContext, spec: Mapping[str, Any], end: str) -> str:
        if spec.get("record") is None:
            return record_id(context)
        value = context.record.get(str(spec["record"]))
        if not value:
            raise ValidationFailed(f"the record has no {spec['record']}", [ErrorDetail(
                f"is empty: there is no record to copy {'from' if end == 'from' else 'to'}",
                f"/{spec['record']}")])
        return str(value)

    def _children(self, context: ActionContext, entity: str, via: str,
                  parent: str) -> list[dict[str, Any]]:
        runtime = self.support.runtime()
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = runtime.system.query(context.conn, entity, criteria={
                "field": via, "op": "eq", "value": parent}, sort=("created_at",),
                limit=PAGE, cursor=cursor)
            found.extend(page.records)
            if len(found) > MAX_COPIED:
                raise ValidationFailed(f"more than {MAX_COPIED} {entity} records to copy",
                                       [ErrorDetail("too many records to copy", "")])
            cursor = page.next_cursor
            if cursor is None:
                return found

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        source, target = params["from"], params["to"]
        source_parent = self._parent(context, source, "from")
        target_parent = self._parent(context, target, "to")
        children = self._children(context, source["entity"], source["via"], source_parent)
        existing = (self._children(context, target["entity"], target["via"], target_parent)
                    if params.get("replace") else [])
        if context.dry_run:
            return {"would_copy": len(children), "would_delete": len(existing)}
        records = self.support.services.records
        runtime = self.support.runtime()
        json = runtime.json
        parent_entity = runtime.model.entities[target["entity"]].field(target["via"])
        parent = runtime.system.get(context.conn, parent_entity.target_entity or "",
                                    target_parent) if parent_entity is not None else None
        owner = parent.get("owner") if parent is not None else None
        for old in existing:
            records.delete_in(context.conn, context.subject, target["entity"], str(old["id"]))
        for child in children:
            values = {str(to_name): json.value(source["entity"], str(from_name),
                                               child.get(str(from_name)))
                      for to_name, from_name in params["fields"].items()}
            values[target["via"]] = target_parent
            if owner:
                values["owner"] = owner
            records.create_in(context.conn, context.subject, target["entity"], values)
        return {"copied": len(children), "deleted": len(existing),
                "to": {"entity": target["entity"], "parent": target_parent}}
