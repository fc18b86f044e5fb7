"""What every built-in action needs: the services, templates, formulas and a few checks."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from metacrm.automation.actions import ActionContext
from metacrm.automation.formulas import Formulas
from metacrm.automation.templates import Templates, template_variables
from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.metadata.model import EntityDef
from metacrm.services.records.runtime import RecordsRuntime

if TYPE_CHECKING:
    from metacrm.composition import Services


def param_errors(
    params: Any, *, required: Collection[str] = (), optional: Collection[str] = ()
) -> list[ErrorDetail]:
    """`params` is an object with the `required` keys and no others than `optional`."""
    if not isinstance(params, Mapping):
        return [ErrorDetail("params must be an object", "")]
    errors = [ErrorDetail("is required", f"/{name}") for name in required if name not in params]
    known = set(required) | set(optional)
    errors += [ErrorDetail(f"unknown parameter; known: {', '.join(sorted(known))}", f"/{name}")
               for name in params if name not in known]
    return errors


def is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and len(value) <= 255


@dataclass
class ActionSupport:
    """Shared by the built-in actions of one process (one per `register_builtin_actions`)."""

    services: Services
    templates: Templates = field(default_factory=Templates)
    formulas: Formulas = field(init=False)

    def __post_init__(self) -> None:
        self.formulas = Formulas(self.services.registry)

    def runtime(self) -> RecordsRuntime:
        return self.services.records.runtime()

    def version(self) -> object:
        """The key that invalidates compiled templates and formulas: the metadata version."""
        return self.runtime().number

    def entity(self, name: str) -> EntityDef:
        entity = self.runtime().model.entity(name)
        if entity is None:
            raise NotFound(f"there is no entity {name!r}", [ErrorDetail("no such entity", "")])
        return entity

    def now(self, context: ActionContext) -> datetime:
        return context.now or self.services.clock()

    def variables(self, context: ActionContext) -> dict[str, Any]:
        """The template and formula variables of the record the action runs for."""
        return template_variables(
            self.entity(context.entity), self.services.registry, record=context.record,
            previous=context.previous, trigger=context.trigger, now=self.now(context))

    def render(
        self, context: ActionContext, text: str, pointer: str, *, html: bool = False,
        variables: Mapping[str, Any] | None = None,
    ) -> str:
        return self.templates.render(
            text, variables if variables is not None else self.variables(context),
            pointer=pointer, html=html, version=self.version())


def record_id(context: ActionContext) -> str:
    """The id of the record the action runs for."""
    value = context.record.get("id")
    if not isinstance(value, str) or not value:
        raise ValidationFailed("the trigger's record has no id",
                               [ErrorDetail("an action needs the record's id", "")])
    return value
