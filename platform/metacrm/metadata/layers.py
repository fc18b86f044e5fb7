"""Metadata in two layers: the packs' baseline and the admins' customisations on top.

The documents of a live metadata version are what the CRM runs on. They come from two
sources: the installed packs' files (the *baseline*) and what admins changed in the designer
or through the metadata API (the *customisations*). The store keeps both the live documents
and the baseline they were built on, so the customisations are always the difference between
the two — no separate record of admin edits can drift out of step with what actually runs.

When a pack's files change (`metacrm init` after an upgrade, `metacrm pack upgrade`), the
new live documents are a three-way merge: `base` = the old baseline, `ours` = the live
documents (baseline + customisations), `theirs` = the new baseline. What only one side
changed is taken from that side; what both sides changed the same way is kept; what both
sides changed differently is a `MergeConflict` — reported, never resolved silently, unless
the caller says which side wins (`take="pack"` or `take="admin"`).

Values merge structurally: objects key by key, and lists of named objects (fields, states,
transitions, sections…) item by item by `name`, so an admin's new field and a pack's new
field on the same entity both survive. Any other value (a string, a number, a plain list) is
atomic. Pure functions: no I/O, no SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.documents import Document, plain_json
from metacrm.metadata.schema_errors import json_pointer

Side = Literal["pack", "admin"]
"""Which side wins a conflict when the caller chooses: the new pack files or the admin."""

DocumentKey = tuple[str, str]
"""(kind, name): how documents are matched across versions."""


class _Missing:
    """The absence of a value (a key or document one side does not have)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class MergeConflict:
    """One place where the admin and the pack changed the same thing differently."""

    kind: str
    name: str
    pointer: str
    """JSON Pointer into the live (admin's) document, or the pack's when only it has it."""
    admin: Any
    """The admin's value (MISSING: the admin removed it)."""
    pack: Any
    """The new pack value (MISSING: the pack removed it)."""

    def describe(self) -> str:
        return (f"changed by an admin ({_show(self.admin)}) and by the pack "
                f"({_show(self.pack)}); choose which to keep")

    def to_error(self) -> ErrorDetail:
        return ErrorDetail(self.describe(), self.pointer, f"{self.kind} {self.name}")


@dataclass(frozen=True, slots=True)
class Customisation:
    """A document the live metadata has differently from the baseline."""

    kind: str
    name: str
    change: Literal["added", "changed", "removed"]
    pack: str
    """The pack whose baseline document was changed or removed ('' for an added one)."""

    def describe(self) -> str:
        owner = f" (pack {self.pack})" if self.pack else ""
        return f"{self.change} {self.kind} {self.name}{owner}"


@dataclass(frozen=True)
class Rebased:
    """The outcome of re-applying the customisations onto a new baseline."""

    documents: tuple[Document, ...]
    conflicts: tuple[MergeConflict, ...]
    carried: tuple[Customisation, ...]
    """The customisations found in the live documents (what was carried over)."""


def customisations(baseline: Sequence[Document], live: Sequence[Document]
                   ) -> list[Customisation]:
    """What admins changed: every live document that differs from the baseline, every
    document they added, every baseline document they removed — in a stable order."""
    base = _by_key(baseline)
    ours = _by_key(live)
    found: list[Customisation] = []
    for key in sorted(base.keys() | ours.keys()):
        before, after = base.get(key), ours.get(key)
        if before is None and after is not None:
            found.append(Customisation(key[0], key[1], "added", ""))
        elif before is not None and after is None:
            found.append(Customisation(key[0], key[1], "removed", before.pack))
        elif before is not None and after is not None and \
                plain_json(before.body) != plain_json(after.body):
            found.append(Customisation(key[0], key[1], "changed", before.pack))
    return found


def rebase(
    base: Sequence[Document],
    ours: Sequence[Document],
    theirs: Sequence[Document],
    *,
    take: Side | None = None,
) -> Rebased:
    """The live documents `ours` (built on baseline `base`) moved onto baseline `theirs`.

    Conflicts are listed in `conflicts`; when `take` is given they are resolved that way
    (and still listed, so the caller can say what it overrode), otherwise the admin's value
    stands in the returned documents and the caller must refuse to apply them.
    """
    base_docs, our_docs, their_docs = _by_key(base), _by_key(ours), _by_key(theirs)
    conflicts: list[MergeConflict] = []
    merged: list[Document] = []
    keys = list(their_docs) + [key for key in our_docs if key not in their_docs]
    for key in keys:
        mine, new = our_docs.get(key), their_docs.get(key)
        old = base_docs.get(key)
        found: list[tuple[str, Any, Any]] = []
        body = _merge(
            plain_json(old.body) if old is not None else MISSING,
            plain_json(mine.body) if mine is not None else MISSING,
            plain_json(new.body) if new is not None else MISSING,
            "", found, take,
        )
        conflicts.extend(MergeConflict(key[0], key[1], pointer, admin, pack)
                         for pointer, admin, pack in found)
        if body is MISSING:
            continue
        template = new if new is not None else mine
        assert template is not None  # a key comes from one of the two sides
        merged.append(Document(kind=template.kind, name=template.name, body=body,
                               source=template.source, pack=template.pack))
    return Rebased(tuple(merged), tuple(conflicts), tuple(customisations(base, ours)))


def overlay(live: Sequence[Document], documents: Sequence[Document],
            removed: Sequence[DocumentKey] = ()) -> list[Document]:
    """`live` with `documents` put in place of (or beside) the ones of the same kind and name,
    and the `removed` ones left out: customisations exported from another instance."""
    replacing = _by_key(documents)
    gone = set(removed)
    result = [replacing.pop(key, doc) for key, doc in _by_key(live).items() if key not in gone]
    return result + list(replacing.values())


# --- the structural merge -------------------------------------------------------------------

def _merge(base: Any, ours: Any, theirs: Any, pointer: str,
           conflicts: list[tuple[str, Any, Any]], take: Side | None) -> Any:
    if ours == theirs:
        return ours
    if ours == base:
        return theirs
    if theirs == base:
        return ours
    if isinstance(ours, dict) and isinstance(theirs, dict) and \
            (base is MISSING or isinstance(base, dict)):
        return _merge_objects({} if base is MISSING else base, ours, theirs, pointer,
                              conflicts, take)
    if _named_list(ours) and _named_list(theirs) and (base is MISSING or _named_list(base)):
        return _merge_named(base if base is not MISSING else [], ours, theirs, pointer,
                            conflicts, take)
    conflicts.append((pointer, ours, theirs))
    return theirs if take == "pack" else ours


def _merge_objects(base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any],
                   pointer: str, conflicts: list[tuple[str, Any, Any]],
                   take: Side | None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key in _ordered_keys(ours, theirs):
        value = _merge(base.get(key, MISSING), ours.get(key, MISSING),
                       theirs.get(key, MISSING), pointer + json_pointer([key]), conflicts, take)
        if value is not MISSING:
            result[key] = value
    return result


def _merge_named(base: list[dict[str, Any]], ours: list[dict[str, Any]],
                 theirs: list[dict[str, Any]], pointer: str,
                 conflicts: list[tuple[str, Any, Any]], take: Side | None
                 ) -> list[dict[str, Any]]:
    """Lists of objects with unique names (fields, states…): merged item by item. The
    order is the admin's when they reordered the common items, else the pack's; items only
    one side added keep their place after the item that precedes them on that side."""
    old = {item["name"]: item for item in base}
    mine = {item["name"]: item for item in ours}
    new = {item["name"]: item for item in theirs}
    admin_reordered = [n for n in _names(ours) if n in old] != \
        [n for n in _names(base) if n in mine]
    first, second = (ours, theirs) if admin_reordered else (theirs, ours)
    order = _names(first)
    for index, name in enumerate(_names(second)):
        if name in order:
            continue
        before = _names(second)[:index]
        anchor = max((order.index(n) for n in before if n in order), default=-1)
        order.insert(anchor + 1, name)
    result: list[dict[str, Any]] = []
    for name in order:
        where = _names(ours).index(name) if name in mine else _names(theirs).index(name)
        value = _merge(old.get(name, MISSING), mine.get(name, MISSING), new.get(name, MISSING),
                       pointer + json_pointer([where]), conflicts, take)
        if value is not MISSING:
            result.append(value)
    return result


def _named_list(value: Any) -> bool:
    if not isinstance(value, list) or not value:
        return isinstance(value, list)
    names = [item.get("name") for item in value if isinstance(item, dict)]
    return (len(names) == len(value) and all(isinstance(n, str) for n in names)
            and len(set(names)) == len(names))


def _names(items: list[dict[str, Any]]) -> list[str]:
    return [str(item["name"]) for item in items]


def _ordered_keys(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    return list(theirs) + [key for key in ours if key not in theirs]


def _by_key(documents: Sequence[Document]) -> dict[DocumentKey, Document]:
    return {(doc.kind, doc.name): doc for doc in documents}


def _show(value: Any) -> str:
    if value is MISSING:
        return "removed"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
