"""Size and time limits of the automation sandbox (issue 11, F6).

Jinja2's sandbox keeps templates away from Python's insides, not from its costs: once
`{{ lipsum(1000000) }}` or `{{ 'a'|center(200000000) }}` hung a request and grew memory.
So every way a template can make a long text is checked *before* the text is built:

* widths of `center`, `indent`, `wordwrap`, `format` and of `str.center/ljust/rjust/zfill`,
  `str.format` specs, `replace`, `join` and `~` estimate the result's size first;
* text made of lists (printing or joining `[s, s, s…]`) is sized without building it;
* `range` gives at most `MAX_RANGE` numbers and `lipsum` is gone.

Whatever slips through is still bounded: output is streamed and stops at `MAX_TEXT`, and a
render runs in its own thread for at most `TIME_LIMIT` seconds — then the caller gets an
error at once and the render thread is interrupted by an asynchronous exception (CPython's
`PyThreadState_SetAsyncExc`; a signal alarm would only work on the main thread, and a trace
function would slow every render several times over).
"""

from __future__ import annotations

import ctypes
import re
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from jinja2.filters import do_center, do_format, do_indent, do_replace, do_wordwrap, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.runtime import markup_join, str_join
from jinja2.utils import pass_environment, pass_eval_context

MAX_TEXT = 100_000
"""Characters a rendered text may have, and items/characters an operation may build."""
MAX_RANGE = 10_000
"""Numbers `range()` may give."""
TIME_LIMIT = 0.5
"""Seconds one render of a template or formula may take."""

T = TypeVar("T")

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_NUMBER = re.compile(r"\d+")


class SandboxLimit(ValueError):
    """An operation would build a value larger than the sandbox allows."""


class SandboxTimeout(SandboxLimit):
    """A render took longer than `TIME_LIMIT`."""


def text_size(value: Any, limit: int = MAX_TEXT) -> int:
    """About how many characters `value` prints as (a list as its repr), counted without
    building the text; stops counting once past `limit`."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, Mapping):
        items: Iterable[Any] = (part for pair in value.items() for part in pair)
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        return 0 if value is None else min(len(str(value)), limit + 1)
    total = 2
    for item in items:
        total += text_size(item, limit - total) + 4
        if total > limit:
            break
    return total


def check_text(size: int, what: str) -> None:
    if size > MAX_TEXT:
        raise SandboxLimit(f"{what} would make a text longer than {MAX_TEXT} characters")


def _width(value: Any, what: str) -> None:
    if isinstance(value, int) and value > MAX_TEXT:
        raise SandboxLimit(f"{what} is limited to {MAX_TEXT}")


def check_format_string(text: str) -> None:
    """Refuse `str.format` specs wider than `MAX_TEXT` and nested (computed) specs."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format reports the malformed text itself
    for _, _, spec, _ in parsed:
        if spec and "{" in spec:
            raise SandboxLimit("computed widths in format specs are not available")
        if spec and any(int(number) > MAX_TEXT for number in _NUMBER.findall(spec)):
            raise SandboxLimit(f"format widths are limited to {MAX_TEXT}")


def check_percent_format(text: str) -> None:
    """Refuse `%`-format widths and precisions above `MAX_TEXT`, and `*` (computed) ones."""
    for match in _PERCENT_SPEC.finditer(text):
        for number in match.groups():
            if number == "*":
                raise SandboxLimit("computed widths in format specs are not available")
            if number is not None and int(number) > MAX_TEXT:
                raise SandboxLimit(f"format widths are limited to {MAX_TEXT}")


def check_str_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse a call of a text method that would build a text longer than `MAX_TEXT`."""
    text = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if not isinstance(text, str):
        return
    arguments = [*args, *kwargs.values()]
    if name in ("center", "ljust", "rjust", "zfill") and arguments:
        _width(arguments[0], f"the width of {name}()")
    elif name == "expandtabs":
        size = arguments[0] if arguments and isinstance(arguments[0], int) else 8
        check_text(len(text) + text.count("\t") * size, "expandtabs()")
    elif name == "replace" and len(arguments) >= 2:
        _check_replace(text, arguments[0], arguments[1],
                       arguments[2] if len(arguments) > 2 else -1)
    elif name == "join" and arguments:
        raise SandboxLimit("str.join is not available; use the join filter")


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    text, old, new = str(text), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    check_text(len(text) + found * (len(new) - len(old)), "replace")


def limited_range(*args: int) -> range:
    """`range` of at most `MAX_RANGE` numbers."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SandboxLimit(f"range() gives at most {MAX_RANGE} numbers")
    return numbers


def concat(values: tuple[Any, ...], eval_ctx: EvalContext) -> str:
    """The `~` operator: sized before joining."""
    total = 0
    for value in values:
        total += text_size(value, MAX_TEXT - total)
        check_text(total, "'~'")
    return markup_join(values) if eval_ctx.autoescape else str_join(values)


def finalize_size(value: Any) -> Any:
    """A printed value's size is checked before it becomes text (a list prints its repr)."""
    if not isinstance(value, str):
        check_text(text_size(value), "printing this value")
    return value


# --- filters with their costs checked first -------------------------------------------------

def center(value: Any, width: int = 80) -> str:
    _width(width, "the width of center")
    return do_center(value, width)


def indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = str(s)
    step = len(width) if isinstance(width, str) else width
    if isinstance(step, int):
        check_text(len(text) + (text.count("\n") + 1) * step, "indent")
    return do_indent(text, width, first, blank)


@pass_environment
def wordwrap(environment: Any, s: Any, width: int = 79, break_long_words: bool = True,
             wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
    _width(width, "the width of wordwrap")
    text = str(s)
    glue = wrapstring if wrapstring is not None else environment.newline_sequence
    lines = text.count("\n") + 1 + (len(text) // width if isinstance(width, int)
                                    and width > 0 else len(text))
    check_text(len(text) + lines * len(str(glue)), "wordwrap")
    return do_wordwrap(environment, text, width, break_long_words, wrapstring,
                       break_on_hyphens)


def format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    check_percent_format(str(value))
    check_text(sum(text_size(item) for item in (*args, *kwargs.values())), "format")
    return do_format(value, *args, **kwargs)


@pass_eval_context
def replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    _check_replace(s, old, new, -1 if count is None else count)
    return do_replace(eval_ctx, s, old, new, count)


@pass_eval_context
def join(eval_ctx: EvalContext, value: Iterable[Any], d: str = "",
         attribute: str | int | None = None) -> str:
    items = list(value)
    total = len(str(d)) * max(len(items) - 1, 0)
    check_text(total, "join")
    if attribute is None:
        for item in items:
            total += text_size(item, MAX_TEXT - total)
            check_text(total, "join")
    result = sync_do_join(eval_ctx, items, d, attribute)
    check_text(len(result), "join")
    return str(result)


LIMITED_FILTERS: dict[str, Callable[..., Any]] = {
    "center": center, "indent": indent, "wordwrap": wordwrap, "format": format_filter,
    "replace": replace, "join": join,
}


# --- the time limit ---------------------------------------------------------------------------

class _Interrupted(BaseException):
    """Raised inside a render thread that ran out of time (BaseException: a template's
    own `except Exception` handling, if any, must not swallow it)."""


def within_time_limit(work: Callable[[], T], seconds: float = TIME_LIMIT) -> T:
    """`work()`, run in its own thread; SandboxTimeout when it takes longer than `seconds`."""
    outcome: list[tuple[bool, Any]] = []
    finished = threading.Lock()
    done = [False]

    def run() -> None:
        try:
            try:
                outcome.append((True, work()))
            except Exception as exc:  # handed to the caller, re-raised there
                outcome.append((False, exc))
            with finished:
                done[0] = True
        except _Interrupted:
            pass

    thread = threading.Thread(target=run, name="sandbox-render", daemon=True)
    thread.start()
    thread.join(seconds)
    with finished:
        if not done[0] and thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(_Interrupted))
            raise SandboxTimeout(f"took longer than {seconds:g} s and was stopped")
    thread.join()
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value  # type: ignore[no-any-return]
