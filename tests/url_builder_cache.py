"""Werkzeug's URL builders compiled once per test process, not once per test app.

Every test app registers the same few hundred URL rules, and werkzeug compiles two Python
functions per rule (`Rule._compile_builder`: an AST built, compiled and exec'd) — a third
of an API test's time (cProfile of tests/api/test_records_api.py: 31 s of 95 s). The
function it makes depends only on the rule's parsed trace, the defaults it folds in and
whether unknown arguments are appended; it reaches the rule's converters through its
`self` argument at call time. So the function is memoised by exactly those inputs and
bound to each rule as werkzeug does. Test-only: a production process builds its app once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing.rules import Rule

_compile_builder = Rule._compile_builder
_BUILDERS: dict[tuple[Any, ...], Callable[..., tuple[str, str]]] = {}


def _builder_key(rule: Rule, append_unknown: bool) -> tuple[Any, ...] | None:
    defaults = rule.defaults or {}
    try:
        folded = tuple(sorted(
            (name, rule._converters[name].to_url(value) if name in rule._converters else value)
            for name, value in defaults.items()))
        hash(folded)
    except TypeError:  # an unhashable default: compile as werkzeug does
        return None
    return (rule.rule, tuple(rule._trace), folded, append_unknown)


def _cached_compile_builder(self: Rule, append_unknown: bool = True
                            ) -> Callable[..., tuple[str, str]]:
    key = _builder_key(self, append_unknown)
    if key is None:
        return _compile_builder(self, append_unknown)
    builder = _BUILDERS.get(key)
    if builder is None:
        builder = _BUILDERS[key] = _compile_builder(self, append_unknown)
    return builder


def install() -> None:
    """Route `Rule._compile_builder` through the memo (idempotent)."""
    Rule._compile_builder = _cached_compile_builder  # type: ignore[method-assign]
