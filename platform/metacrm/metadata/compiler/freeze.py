"""Turn parsed JSON into the immutable values the compiled model holds."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from metacrm.metadata.model import EMPTY, Labels


def freeze(value: Any) -> Any:
    """Deep-freeze JSON: objects -> read-only mappings, arrays -> tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    return value


def labels(value: Any) -> Labels:
    """A labels object (language -> text) as a read-only mapping; empty when absent."""
    if not isinstance(value, Mapping) or not value:
        return EMPTY
    return MappingProxyType(dict(value))


def names(value: Any) -> tuple[str, ...]:
    """A list of names as a tuple; empty when absent."""
    return tuple(value) if isinstance(value, list | tuple) else ()
