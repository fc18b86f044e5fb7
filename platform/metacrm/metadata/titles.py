"""Record title templates: how an entity names its records (`"{first_name} {last_name}"`).

A template is plain text with `{field}` placeholders and `{{`/`}}` for literal braces —
data, not code: no attribute access, indexing, conversions or format specs (what
`str.format` would allow), so an admin's template can neither reach into Python objects
nor fail at render time. The compiler parses every template once; screens and exports
render the parsed parts with their own value formatting (`render_title`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

PLACEHOLDER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class TitleTemplateError(ValueError):
    """A template that cannot be parsed; the message names the offending part."""


@dataclass(frozen=True, slots=True)
class TitlePart:
    """Literal text, or (when `field` is set) the value of that field."""

    text: str = ""
    field: str | None = None


def parse_title(template: str) -> tuple[TitlePart, ...]:
    """The parts of `template`; raises TitleTemplateError on a stray brace or a
    placeholder that is not a plain field name."""
    parts: list[TitlePart] = []
    literal: list[str] = []
    position = 0
    while position < len(template):
        char = template[position]
        pair = template[position:position + 2]
        if pair in ("{{", "}}"):
            literal.append(char)
            position += 2
            continue
        if char == "}":
            raise TitleTemplateError(f"unmatched '}}' at character {position + 1} "
                                     "(write '}}}}' for a literal brace)")
        if char != "{":
            literal.append(char)
            position += 1
            continue
        end = template.find("}", position)
        if end < 0:
            raise TitleTemplateError(f"unclosed '{{' at character {position + 1}")
        name = template[position + 1:end]
        if not PLACEHOLDER_NAME.match(name):
            raise TitleTemplateError(
                f"placeholder '{{{name}}}' must be a field name such as {{last_name}}: "
                "titles hold placeholders only, no expressions or formats")
        if literal:
            parts.append(TitlePart("".join(literal)))
            literal = []
        parts.append(TitlePart(field=name))
        position = end + 1
    if literal:
        parts.append(TitlePart("".join(literal)))
    return tuple(parts)


def title_fields(parts: tuple[TitlePart, ...]) -> tuple[str, ...]:
    """The field names the template's placeholders name, in order, without repeats."""
    return tuple(dict.fromkeys(part.field for part in parts if part.field is not None))


def render_title(parts: tuple[TitlePart, ...], value_text: Callable[[str], str]) -> str:
    """The title with each placeholder replaced by `value_text(field)`; empty when every
    placeholder is empty (a title of separators only names nothing), so callers can fall
    back to the record's id. Runs of spaces left by empty values are collapsed."""
    pieces: list[str] = []
    filled = False
    for part in parts:
        if part.field is None:
            pieces.append(part.text)
            continue
        text = value_text(part.field)
        filled = filled or bool(text.strip())
        pieces.append(text)
    if not filled:
        return ""
    return re.sub(r"\s{2,}", " ", "".join(pieces)).strip()
