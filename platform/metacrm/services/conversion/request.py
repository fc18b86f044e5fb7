"""The body of a convert request, checked against a conversion before anything is written.

```json
{"conversion": "lead_conversion",
 "targets": {"company": {"skip": true},
             "person": {"use": "<id of an existing person>"},
             "deal": {"values": {"title": "Big deal"}}}}
```

`conversion` may be left out when the entity has exactly one; a target left out is made
from the mapping (or matched). Every problem is reported at once, pointing into the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from metacrm.kernel.errors import ErrorDetail, NotFound, ValidationFailed
from metacrm.metadata.model import EMPTY, CompiledModel, ConversionDef

REQUEST_KEYS = frozenset({"conversion", "targets"})
CHOICE_KEYS = frozenset({"skip", "use", "values"})
MAX_ID_LENGTH = 64
INVALID = "invalid conversion request"


def pointer_token(name: str) -> str:
    """`name` as one JSON Pointer reference token (RFC 6901 escaping)."""
    return name.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class TargetChoice:
    """What the caller wants for one target: skip it, use an existing record, or make it
    from the mapping with some `values` given instead."""

    skip: bool = False
    use: str | None = None
    values: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


NO_CHOICE = TargetChoice()


@dataclass(frozen=True, slots=True)
class ConversionRequest:
    conversion: str | None = None
    targets: Mapping[str, TargetChoice] = field(default_factory=lambda: EMPTY)

    def choice(self, target: str) -> TargetChoice:
        return self.targets.get(target, NO_CHOICE)


def parse_request(body: Any) -> ConversionRequest:
    """The request's shape (target names are checked by `check_request`)."""
    if body is None:
        return ConversionRequest()
    if not isinstance(body, Mapping):
        raise ValidationFailed(INVALID, [ErrorDetail("must be an object", "")])
    errors = [ErrorDetail(f"unknown key; keys: {', '.join(sorted(REQUEST_KEYS))}",
                          f"/{pointer_token(str(key))}")
              for key in body if key not in REQUEST_KEYS]
    name = body.get("conversion")
    if name is not None and not isinstance(name, str):
        errors.append(ErrorDetail("must be the name of a conversion", "/conversion"))
        name = None
    raw_targets = body.get("targets")
    targets: dict[str, TargetChoice] = {}
    if raw_targets is not None and not isinstance(raw_targets, Mapping):
        errors.append(ErrorDetail("must be an object: target name -> choice", "/targets"))
    elif raw_targets is not None:
        for key, raw in raw_targets.items():
            choice = _parse_choice(raw, f"/targets/{pointer_token(str(key))}", errors)
            if choice is not None:
                targets[str(key)] = choice
    if errors:
        raise ValidationFailed(INVALID, errors)
    return ConversionRequest(name, MappingProxyType(targets))


def _parse_choice(raw: Any, pointer: str, errors: list[ErrorDetail]) -> TargetChoice | None:
    if not isinstance(raw, Mapping):
        errors.append(ErrorDetail('must be {"skip": true}, {"use": "<id>"} or '
                                  '{"values": {...}}', pointer))
        return None
    count = len(errors)
    errors.extend(ErrorDetail(f"unknown key; keys: {', '.join(sorted(CHOICE_KEYS))}",
                              f"{pointer}/{pointer_token(str(key))}")
                  for key in raw if key not in CHOICE_KEYS)
    skip, use, values = raw.get("skip", False), raw.get("use"), raw.get("values")
    if not isinstance(skip, bool):
        errors.append(ErrorDetail("must be true or false", f"{pointer}/skip"))
    if use is not None and (not isinstance(use, str) or not 0 < len(use) <= MAX_ID_LENGTH):
        errors.append(ErrorDetail(f"must be a record id of 1 to {MAX_ID_LENGTH} characters",
                                  f"{pointer}/use"))
    if values is not None and not isinstance(values, Mapping):
        errors.append(ErrorDetail("must be an object of field values", f"{pointer}/values"))
    if skip is True and (use is not None or values is not None):
        errors.append(ErrorDetail("a skipped target takes no use or values", f"{pointer}/skip"))
    elif use is not None and values is not None:
        errors.append(ErrorDetail("an existing record is used as it is; values cannot be "
                                  "given with use", f"{pointer}/values"))
    if len(errors) > count:
        return None
    return TargetChoice(skip=skip is True, use=use,
                        values=MappingProxyType(dict(values)) if values else EMPTY)


def choose_conversion(model: CompiledModel, entity: str, name: str | None) -> ConversionDef:
    """The conversion the request names, or the entity's only one."""
    own = sorted(c.name for c in model.conversions.values() if c.entity == entity)
    if not own:
        raise NotFound(f"records of {entity!r} cannot be converted: no conversion is declared "
                       "for the entity")
    if name is None:
        if len(own) == 1:
            return model.conversions[own[0]]
        raise ValidationFailed(INVALID, [ErrorDetail(
            f"{entity!r} has several conversions; name one of: {', '.join(own)}",
            "/conversion")])
    found = model.conversions.get(name)
    if found is None or found.entity != entity:
        raise ValidationFailed(INVALID, [ErrorDetail(
            f"{name!r} is not a conversion of {entity!r}; conversions: {', '.join(own)}",
            "/conversion")])
    return found


def check_request(request: ConversionRequest, conversion: ConversionDef) -> None:
    """Target names exist; only optional targets are skipped."""
    errors: list[ErrorDetail] = []
    names = [t.name for t in conversion.targets]
    for name, choice in request.targets.items():
        pointer = f"/targets/{pointer_token(name)}"
        target = conversion.target(name)
        if target is None:
            errors.append(ErrorDetail(f"{conversion.name!r} has no target {name!r}; targets: "
                                      f"{', '.join(names)}", pointer))
        elif choice.skip and not target.optional:
            errors.append(ErrorDetail(f"the {target.entity} is required by this conversion "
                                      "and cannot be skipped", f"{pointer}/skip"))
    if errors:
        raise ValidationFailed(INVALID, errors)
