"""The metadata API, for admins: change the running CRM one document at a time.

* `GET /api/v1/meta/<kind>` — the live version's documents of a kind;
* `GET|PUT|DELETE /api/v1/meta/<kind>/<name>` — one document, as in the metadata/ folders;
  PUT and DELETE apply a new metadata version (`?confirm_destructive=true` for plans that
  archive fields or entities, else 409 listing them; `?comment=` is kept with the version);
* `POST /api/v1/meta/plan` — dry run of one document or `{"documents": [...]}`;
* `GET /api/v1/meta/versions`, `POST /api/v1/meta/versions/<n>/restore`.

Optimistic locking: the ETag of the document reads is the live metadata version (`"v7"`).
`If-Match` with it on PUT, DELETE and restore makes the change fail with 412 when another
version went live since; without it a change still never drops a concurrent one (412 too).

Handlers: parse, require an admin, call one `MetadataAdmin` method, render `{"data": ...}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metacrm.api import API_PREFIX, web_runtime
from metacrm.api.etag import parse_tags
from metacrm.api.problems import json_body
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.identity.actor import Actor
from metacrm.identity.current import require_actor
from metacrm.kernel.errors import (
    ErrorDetail,
    Forbidden,
    NotFound,
    StaleRecord,
    ValidationFailed,
)
from metacrm.metadata.documents import KINDS
from metacrm.services.metadata.admin import MetadataAdmin, MetadataChange
from metacrm.storage.metadata_store import VersionSummary

DOCUMENT_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
"""What the OpenAPI document says a document name is (`openapi_meta`)."""
meta_api = Blueprint("metacrm_meta", __name__, url_prefix=f"{API_PREFIX}/meta")

MAX_COMMENT = 500


def require_admin() -> Actor:
    """The caller, who must hold an admin role of the live metadata (else 403)."""
    actor = require_actor()
    if not actor.is_admin:
        raise Forbidden("only administrators may do this")
    return actor


def _admin() -> MetadataAdmin:
    return MetadataAdmin(web_runtime().metadata)


@meta_api.get("/versions")
def list_versions() -> Response:
    require_admin()
    return jsonify({"data": [_version_json(v) for v in _admin().versions()]})


@meta_api.post("/versions/<int:number>/restore")
def restore_version(number: int) -> Response:
    actor = require_admin()
    flags = _change_flags()
    return _changed(_admin().restore(number, author=actor.username, if_match=_if_match(),
                                     **flags))


@meta_api.post("/plan")
def plan() -> Response:
    require_admin()
    body = json_body()
    if isinstance(body, Mapping) and set(body) == {"documents"}:
        documents = body["documents"]
        if not isinstance(documents, list):
            raise ValidationFailed("invalid plan request",
                                   [ErrorDetail("must be a list of documents", "/documents")])
        dry_run = _admin().plan(documents, pointer="/documents")
    else:
        dry_run = _admin().plan([body], pointer="")
    return jsonify({"data": dry_run.to_json()})


@meta_api.get("/<kind>")
def list_documents(kind: str) -> Response:
    require_admin()
    version, documents = _admin().documents(kind)
    return _tagged(jsonify({"data": [dict(d.body) for d in documents]}), version)


@meta_api.get("/<kind>/<name>")
def get_document(kind: str, name: str) -> Response:
    require_admin()
    version, document = _admin().document(kind, name)
    return _tagged(jsonify({"data": dict(document.body)}), version)


@meta_api.put("/<kind>/<name>")
def put_document(kind: str, name: str) -> Response:
    actor = require_admin()
    _check_path(kind, name, creating=True)
    flags = _change_flags()
    body = json_body()
    return _changed(_admin().put(kind, name, body, author=actor.username,
                                 if_match=_if_match(), **flags))


@meta_api.delete("/<kind>/<name>")
def delete_document(kind: str, name: str) -> Response:
    actor = require_admin()
    _check_path(kind, name, creating=False)
    flags = _change_flags()
    return _changed(_admin().delete(kind, name, author=actor.username, if_match=_if_match(),
                                    **flags))


def _check_path(kind: str, name: str, *, creating: bool) -> None:
    """A path that can name no document is refused before `If-Match` is judged (a stale
    tag must not hide it): an unknown kind is 404; a malformed name is 422 when putting
    (the name to create is wrong) and 404 when deleting (no document has it)."""
    if kind not in KINDS:
        raise NotFound(f"there is no metadata kind {kind!r}; kinds: {', '.join(KINDS)}")
    if DOCUMENT_NAME.fullmatch(name) is None:
        if not creating:
            raise NotFound(f"there is no {kind} {name!r}")
        raise ValidationFailed("invalid document name", [ErrorDetail(
            "must be 1 to 40 lower-case letters, digits and _, starting with a letter",
            "/name")])


def _change_flags() -> dict[str, Any]:
    """`confirm_destructive` and `comment` from the query string."""
    errors: list[ErrorDetail] = []
    unknown = sorted(set(request.args) - {"confirm_destructive", "comment"})
    errors += [ErrorDetail("unknown parameter; use confirm_destructive, comment", f"/{name}")
               for name in unknown]
    confirm = request.args.get("confirm_destructive", "false").strip().lower()
    if confirm not in ("true", "false"):
        errors.append(ErrorDetail("must be true or false", "/confirm_destructive"))
    comment = request.args.get("comment")
    if comment is not None and len(comment) > MAX_COMMENT:
        errors.append(ErrorDetail(f"is longer than {MAX_COMMENT} characters", "/comment"))
    if errors:
        raise ValidationFailed("invalid parameters", errors)
    return {"confirm_destructive": confirm == "true", "comment": comment or None}


def _if_match() -> int | None:
    """The metadata version `If-Match` requires (None: no header or `*`).

    Tags are `"v<number>"` (a weak `W/` form is accepted); one that names no metadata
    version can never match: 412 at once.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = parse_tags(header, "If-Match")
    if tags is None:
        return None
    numbers = {_version_of(tag) for tag in tags}
    numbers.discard(None)
    if not numbers:
        raise StaleRecord(
            "If-Match names no metadata version; read the document again for its ETag",
            [ErrorDetail('does not match the metadata ETag "v<version>"', "/If-Match",
                         "header")],
        )
    if len(numbers) > 1:
        raise ValidationFailed("invalid If-Match header", [
            ErrorDetail("names more than one metadata version", "/If-Match", "header")])
    (number,) = numbers
    return number


def _version_of(tag: str) -> int | None:
    digits = tag[1:] if tag.startswith("v") else ""
    if not digits.isascii() or not digits.isdigit() or len(digits) > 12:
        return None
    return int(digits)


def metadata_etag(version: int) -> str:
    """The ETag of metadata read at live version `version`."""
    return f'"v{version}"'


def _tagged(response: Response, version: int) -> Response:
    response.headers["ETag"] = metadata_etag(version)
    return response


def _changed(change: MetadataChange) -> Response:
    return _tagged(jsonify({"data": change.to_json()}), change.version)


def _version_json(version: VersionSummary) -> dict[str, Any]:
    return {
        "number": version.number,
        "checksum": version.checksum,
        "author": version.author,
        "comment": version.comment,
        "created_at": datetime_to_json(version.created_at),
        "plan": dict(version.plan) if version.plan is not None else None,
    }
