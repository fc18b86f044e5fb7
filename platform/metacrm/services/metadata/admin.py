"""The metadata API's use cases: one document at a time, on top of the live version.

An admin edits the running CRM document by document (`PUT /api/v1/meta/entity/deal`), but
a metadata version is always a whole set of documents. This service bridges the two: it
takes the live version's documents, adds, replaces or removes one, and applies the result
through `MetadataService.apply` as a new version — one migration, all or nothing, live for
every process at their next request. Restoring an old version applies its documents again
as a new version; nothing is ever rewritten in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metacrm.kernel.errors import ErrorDetail, MetadataInvalid, NotFound, ValidationFailed
from metacrm.metadata.documents import KINDS, Document
from metacrm.services.metadata.service import MetadataService, check_expected_version
from metacrm.storage import metadata_store
from metacrm.storage.metadata_store import VersionSummary
from metacrm.storage.migration import MigrationPlan

ADMIN_PACK = "admin"
MAX_VERSION_NUMBER = 2**31 - 1


@dataclass(frozen=True)
class MetadataChange:
    """The outcome of a change: the live version after it and the plan applied."""

    version: int
    changed: bool
    plan: MigrationPlan

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "changed": self.changed,
                "plan": plan_json(self.plan, self.version if self.changed else None)}


@dataclass(frozen=True)
class DryRun:
    """What applying some documents would do; `errors` when they do not compile."""

    live_version: int
    errors: tuple[ErrorDetail, ...] = ()
    unchanged: bool = False
    plan: MigrationPlan | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "valid": not self.errors,
            "errors": [_error_json(e) for e in self.errors],
            "live_version": self.live_version,
        }
        if self.plan is not None:
            data["unchanged"] = self.unchanged
            data["plan"] = plan_json(self.plan, self.live_version + 1)
        return data


def plan_json(plan: MigrationPlan, version: int | None) -> dict[str, Any]:
    return {**plan.to_json(version), "description": plan.describe(version)}


def _error_json(detail: ErrorDetail) -> dict[str, str]:
    entry = {"pointer": detail.pointer, "message": detail.message}
    if detail.source:
        entry["source"] = detail.source
    return entry


class MetadataAdmin:
    """List, read, put and delete single documents; plan, list and restore versions."""

    def __init__(self, metadata: MetadataService) -> None:
        self.metadata = metadata

    # --- reading -----------------------------------------------------------------------
    def live_documents(self) -> tuple[int, tuple[Document, ...]]:
        """The live version's number and documents (0 and none before the first apply)."""
        with self.metadata.engine.connect() as connection:
            version = metadata_store.current(connection)
        return (0, ()) if version is None else (version.number, version.documents)

    def documents(self, kind: str) -> tuple[int, list[Document]]:
        """The live version's number and its documents of one kind, by name."""
        _check_kind(kind)
        number, documents = self.live_documents()
        return number, sorted((d for d in documents if d.kind == kind), key=lambda d: d.name)

    def document(self, kind: str, name: str) -> tuple[int, Document]:
        """The live version's number and its document (kind, name); NotFound without it."""
        _check_kind(kind)
        number, documents = self.live_documents()
        return number, _find(documents, kind, name)

    def versions(self) -> list[VersionSummary]:
        return self.metadata.history()

    # --- changing ----------------------------------------------------------------------
    # Each change is built from the live version read here and applied with that number as
    # `expected_version`: if another admin applied a version in between, the apply fails
    # with StaleRecord (412) instead of silently dropping their change. `if_match` is the
    # version the client read (the ETag of its GET); None: the live one at this moment.
    def put(self, kind: str, name: str, body: Any, *, author: str | None,
            comment: str | None = None, confirm_destructive: bool = False,
            if_match: int | None = None) -> MetadataChange:
        """Add or replace document (kind, name) and apply the new version."""
        document = incoming_document(body, kind=kind, name=name, pointer="")
        number, documents = self._read_expecting(if_match)
        return self._apply(_replaced(documents, [document]), author=author,
                           comment=comment or f"put {kind} {name}",
                           confirm_destructive=confirm_destructive, expected_version=number)

    def put_all(self, bodies: Sequence[Any], *, author: str | None, comment: str,
                confirm_destructive: bool = False,
                if_match: int | None = None) -> MetadataChange:
        """Add or replace several documents as ONE new version (a designer change that
        touches an entity and its form, say): all applied or none."""
        incoming = [incoming_document(body, pointer=f"/{index}")
                    for index, body in enumerate(bodies)]
        number, documents = self._read_expecting(if_match)
        return self._apply(_replaced(documents, incoming), author=author, comment=comment,
                           confirm_destructive=confirm_destructive, expected_version=number)

    def delete(self, kind: str, name: str, *, author: str | None, comment: str | None = None,
               confirm_destructive: bool = False, if_match: int | None = None) -> MetadataChange:
        """Remove document (kind, name) and apply the new version."""
        _check_kind(kind)
        number, documents = self._read_expecting(if_match)
        _find(documents, kind, name)
        kept = [d for d in documents if (d.kind, d.name) != (kind, name)]
        return self._apply(kept, author=author, comment=comment or f"delete {kind} {name}",
                           confirm_destructive=confirm_destructive, expected_version=number)

    def restore(self, number: int, *, author: str | None, comment: str | None = None,
                confirm_destructive: bool = False,
                if_match: int | None = None) -> MetadataChange:
        """Apply the documents of version `number` as a new version.

        The result does not depend on the live documents, so only `if_match` (when given)
        must still be the live version."""
        if not 1 <= number <= MAX_VERSION_NUMBER:
            raise NotFound(f"metadata version {number} does not exist")
        with self.metadata.engine.connect() as connection:
            version = metadata_store.get(connection, number)
        return self._apply(version.documents, author=author,
                           comment=comment or f"restore version {number}",
                           confirm_destructive=confirm_destructive, expected_version=if_match)

    def plan(self, bodies: Sequence[Any], *, pointer: str) -> DryRun:
        """What putting these documents would do; changes nothing."""
        incoming = [incoming_document(body, pointer=f"{pointer}/{index}" if pointer else "")
                    for index, body in enumerate(bodies)]
        live_number, documents = self.live_documents()
        try:
            report = self.metadata.plan(_replaced(documents, incoming))
        except MetadataInvalid as exc:
            return DryRun(live_number, exc.errors or (ErrorDetail(exc.message),))
        return DryRun(report.live_version, (), report.unchanged, report.plan)

    def _read_expecting(self, if_match: int | None) -> tuple[int, tuple[Document, ...]]:
        """The live version, which must be `if_match` when given (else StaleRecord)."""
        number, documents = self.live_documents()
        check_expected_version(if_match, number)
        return number, documents

    def _apply(self, documents: Sequence[Document], *, author: str | None, comment: str,
               confirm_destructive: bool, expected_version: int | None) -> MetadataChange:
        applied = self.metadata.apply(documents, author=author, comment=comment,
                                      confirm_destructive=confirm_destructive,
                                      expected_version=expected_version)
        if applied is None:
            return MetadataChange(self.metadata.live().number, False, MigrationPlan())
        return MetadataChange(applied.number, True, applied.plan)


def incoming_document(body: Any, *, kind: str | None = None, name: str | None = None,
                      pointer: str) -> Document:
    """A document sent by a client: an object whose `kind` and `name` (filled in from the
    URL when left out) agree with the URL. Its full validation is the compiler's."""
    if not isinstance(body, Mapping):
        raise ValidationFailed("a metadata document must be a JSON object",
                               [ErrorDetail("must be an object", pointer)])
    body = dict(body)
    errors: list[ErrorDetail] = []
    for key, expected in (("kind", kind), ("name", name)):
        given = body.setdefault(key, expected)
        if not isinstance(given, str):
            errors.append(ErrorDetail("must be a string", f"{pointer}/{key}"))
        elif expected is not None and given != expected:
            errors.append(ErrorDetail(f"is {given!r} but the URL says {expected!r}",
                                      f"{pointer}/{key}"))
    if not errors and body["kind"] not in KINDS:
        errors.append(ErrorDetail(f"must be one of: {', '.join(KINDS)}", f"{pointer}/kind"))
    if errors:
        raise ValidationFailed("invalid metadata document", errors)
    source = f"api:{body['kind']}/{body['name']}"
    return Document.from_body(body, source=source, pack=ADMIN_PACK)


def _replaced(documents: Sequence[Document], incoming: Sequence[Document]) -> list[Document]:
    """`documents` with each incoming one added, or replacing the one of its kind and name
    (which keeps its pack)."""
    result = list(documents)
    for new in incoming:
        for index, old in enumerate(result):
            if (old.kind, old.name) == (new.kind, new.name):
                result[index] = Document(new.kind, new.name, new.body, new.source, old.pack)
                break
        else:
            result.append(new)
    return result


def _find(documents: Sequence[Document], kind: str, name: str) -> Document:
    for document in documents:
        if document.kind == kind and document.name == name:
            return document
    raise NotFound(f"there is no {kind} {name!r} in the live metadata")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise NotFound(f"there is no metadata kind {kind!r}; kinds: {', '.join(KINDS)}")
