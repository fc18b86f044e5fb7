"""Repeated rows of a designer form: states, transitions, actions, columns, sections.

A row is a group of inputs named `<kind>-<index>-<key>` (`state-3-name`). The index only
ties a row's inputs together; the row's place is its hidden `<kind>-<index>-position`
input, which the page's script rewrites when a row is dragged or moved with the up/down
buttons. Without scripts those buttons submit `move=<kind>-<index>-up|down` and the server
moves the row and shows the editor again (`is_refresh`), so every editor also works as a
plain form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

ACTION_FIELD = "action"
MOVE_FIELD = "move"
_ROW_KEY = re.compile(r"^(?P<kind>[a-z_]+)-(?P<index>\d+)-(?P<key>[a-z_0-9]+)$")


@dataclass
class FormRow:
    """The inputs of one row, by key (several values for multi-selects)."""

    kind: str
    index: int
    values: MultiDict[str, str] = field(default_factory=MultiDict)

    def get(self, key: str, default: str = "") -> str:
        return (self.values.get(key) or default).strip()

    def getlist(self, key: str) -> list[str]:
        return [value.strip() for value in self.values.getlist(key) if value.strip()]

    def checked(self, key: str) -> bool:
        return self.values.get(key) in ("on", "yes", "true", "1")

    def position(self) -> float:
        try:
            return float(self.values.get("position") or self.index)
        except ValueError:
            return float(self.index)


def form_rows(form: MultiDict[str, str], kind: str,
              same_group: Callable[[FormRow, FormRow], bool] | None = None) -> list[FormRow]:
    """The rows of `kind` in `form`, in their posted order, with a requested move applied.

    `same_group` limits a move to neighbours of the same group (fields of one section)."""
    rows: dict[int, FormRow] = {}
    for name in form:
        found = _ROW_KEY.match(name)
        if found is None or found["kind"] != kind:
            continue
        row = rows.setdefault(int(found["index"]), FormRow(kind, int(found["index"])))
        row.values.setlist(found["key"], form.getlist(name))
    ordered = sorted(rows.values(), key=lambda row: (row.position(), row.index))
    return apply_move(ordered, str(form.get(MOVE_FIELD) or ""), same_group)


def apply_move(rows: list[FormRow], move: str,
               same_group: Callable[[FormRow, FormRow], bool] | None = None) -> list[FormRow]:
    """`rows` with the row named by `move` (`state-3-up`) swapped with its neighbour."""
    kind, _, rest = move.partition("-")
    index_text, _, direction = rest.partition("-")
    if not rows or kind != rows[0].kind or not index_text.isdigit():
        return rows
    place = next((i for i, row in enumerate(rows) if row.index == int(index_text)), None)
    if place is None:
        return rows
    step = -1 if direction == "up" else 1 if direction == "down" else 0
    other = place + step
    while step and 0 <= other < len(rows):
        if same_group is None or same_group(rows[place], rows[other]):
            rows[place], rows[other] = rows[other], rows[place]
            break
        other += step
    return rows


def is_refresh(form: Mapping[str, Any]) -> bool:
    """Whether the admin asked to redraw the editor (a move, "Update form") rather than
    to preview the change."""
    return bool(form.get(MOVE_FIELD)) or form.get(ACTION_FIELD) == "refresh"


def labels_of(english: str, russian: str, fallback: str) -> dict[str, str]:
    """Labels from two inputs: a missing language takes the other's text, then `fallback`."""
    english, russian = english.strip(), russian.strip()
    return {"en": english or russian or fallback, "ru": russian or english or fallback}


def choice_list(values: Sequence[str]) -> list[str]:
    """Values of a multi-select without blanks and repeats, in order."""
    seen: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.append(value)
    return seen
