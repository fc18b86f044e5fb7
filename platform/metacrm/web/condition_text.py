"""A criteria tree as a sentence in the user's language, for explaining a refused step:
`{"or": [{"field": "email", "op": "is_null", "value": false}, {"field": "phone", ...}]}`
reads "Email or Phone must be filled in.".

The transition service points at the parts of a condition the record failed
(`/condition/and/1`, see `transition_guards.GuardResult.failed`); `part_at` finds such a
part in the transition's condition and `condition_sentence` words it with the labels of
the fields as the user may see them (a hidden field reads "a field you cannot see", as
everywhere else its existence is not revealed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metacrm.metadata.model import EntityDef
from metacrm.web.i18n import label, t
from metacrm.web.values import ValueDisplay

CONDITION = "/condition"


def part_at(condition: Any, pointer: str) -> Any:
    """The part of `condition` at `pointer` (`/condition/and/0`…); None when it is not
    there."""
    if not pointer.startswith(CONDITION):
        return None
    part = condition
    for token in pointer.removeprefix(CONDITION).split("/")[1:]:
        if isinstance(part, Mapping) and token in part:
            part = part[token]
        elif isinstance(part, Sequence) and not isinstance(part, str) and token.isdigit() \
                and int(token) < len(part):
            part = part[int(token)]
        else:
            return None
    return part


def condition_fields(tree: Any) -> list[str]:
    """The fields a condition names, in order of appearance."""
    if isinstance(tree, Mapping):
        if "field" in tree:
            return [str(tree["field"])]
        return list(dict.fromkeys(name for part in tree.values()
                                  for name in condition_fields(part)))
    if isinstance(tree, Sequence) and not isinstance(tree, str):
        return list(dict.fromkeys(name for part in tree for name in condition_fields(part)))
    return []


def condition_sentence(tree: Any, entity: EntityDef, display: ValueDisplay) -> str:
    """The requirement `tree` states, as one sentence."""
    filled = _filled_fields(tree, entity)
    if filled:
        return t("%(fields)s must be filled in.", fields=f" {t('or')} ".join(filled))
    return t("This step needs: %(condition)s.", condition=_phrase(tree, entity, display))


def _filled_fields(tree: Any, entity: EntityDef) -> list[str]:
    """The labels when `tree` only asks for one of some fields to have a value."""
    leaves = tree.get("or") if isinstance(tree, Mapping) and "or" in tree else [tree]
    if not isinstance(leaves, Sequence) or not leaves:
        return []
    if all(isinstance(leaf, Mapping) and leaf.get("op") == "is_null"
           and leaf.get("value") is False for leaf in leaves):
        return [_field_label(leaf.get("field"), entity) for leaf in leaves]
    return []


def _phrase(tree: Any, entity: EntityDef, display: ValueDisplay) -> str:
    if not isinstance(tree, Mapping):
        return str(tree)
    for joiner, word in (("and", t("and")), ("or", t("or"))):
        if joiner in tree and isinstance(tree[joiner], Sequence):
            parts = [_phrase(part, entity, display) for part in tree[joiner]]
            text = f" {word} ".join(parts)
            return f"({text})" if len(parts) > 1 else text
    if "not" in tree:
        return t("not %(condition)s", condition=_phrase(tree["not"], entity, display))
    return _leaf(tree, entity, display)


def _leaf(leaf: Mapping[str, Any], entity: EntityDef, display: ValueDisplay) -> str:
    name = str(leaf.get("field", ""))
    field = _field_label(name, entity)
    op, value = leaf.get("op"), leaf.get("value")
    if op == "is_null":
        return (t("%(field)s is empty", field=field) if value
                else t("%(field)s is filled in", field=field))
    if op == "between" and isinstance(value, list | tuple) and len(value) == 2:
        shown = f" {t('and')} ".join(_value(name, item, entity, display) for item in value)
    else:
        shown = _value(name, value, entity, display)
    templates = {
        "eq": t("%(field)s is %(value)s", field=field, value=shown),
        "ne": t("%(field)s is not %(value)s", field=field, value=shown),
        "gt": t("%(field)s is greater than %(value)s", field=field, value=shown),
        "gte": t("%(field)s is at least %(value)s", field=field, value=shown),
        "lt": t("%(field)s is less than %(value)s", field=field, value=shown),
        "lte": t("%(field)s is at most %(value)s", field=field, value=shown),
        "in": t("%(field)s is one of %(value)s", field=field, value=shown),
        "not_in": t("%(field)s is none of %(value)s", field=field, value=shown),
        "contains": t("%(field)s contains %(value)s", field=field, value=shown),
        "starts_with": t("%(field)s starts with %(value)s", field=field, value=shown),
        "between": t("%(field)s is between %(value)s", field=field, value=shown),
    }
    return templates.get(str(op), f"{field} {op} {shown}")


def _variables() -> dict[str, str]:
    return {"$user": t("you"), "$team": t("your team"), "$now": t("now"),
            "$today": t("today")}


def _value(name: str, value: Any, entity: EntityDef, display: ValueDisplay) -> str:
    variables = _variables()
    if isinstance(value, str) and value in variables:
        return variables[value]
    if isinstance(value, Mapping) and len(value) == 1:
        (variable, offset), = value.items()
        if variable in variables and isinstance(offset, Mapping):
            moves = ", ".join(f"{amount:+} {unit}" for unit, amount in offset.items())
            return f"{variables[variable]} {moves}"
    if isinstance(value, list | tuple):
        return ", ".join(_value(name, item, entity, display) for item in value)
    fdef = entity.field(name)
    if fdef is None or value is None:
        return "—" if value is None else str(value)
    text = display.field_text(fdef, value)
    return f"“{text}”" if fdef.type in ("text", "textarea", "email", "url", "phone") else text


def _field_label(name: Any, entity: EntityDef) -> str:
    fdef = entity.field(str(name))
    return label(fdef.label, str(name)) if fdef is not None else t("a field you cannot see")
