"""A pack's service account: the role generated from its manifest's `permissions`.

The role is a baseline document of the pack (installed and removed with it), so the access
layer treats the pack's code like any user holding exactly that role: `pack:<name>` with
role `pack_<name>`, scope `all` on each operation it asked for and nothing else.
"""

from __future__ import annotations

from metacrm.access.subject import AccessSubject
from metacrm.metadata.documents import Document
from metacrm.packs.manifest import OPERATIONS, PackManifest


def service_role_name(pack: str) -> str:
    return f"pack_{pack}"


def service_role(manifest: PackManifest) -> Document | None:
    """The generated role of a pack's service account: exactly its `permissions`, on every
    record (scope `all`), nothing else; None when it asks for none."""
    if not manifest.permissions:
        return None
    entities = {
        entity: {**{op: "all" if op in ops else "none" for op in OPERATIONS}, "export": "none"}
        for entity, ops in sorted(manifest.permissions.items())
    }
    body = {
        "kind": "role",
        "name": service_role_name(manifest.name),
        "version": 1,
        "label": {"en": f"Pack {manifest.name} (service account)",
                  "ru": f"Пакет {manifest.name} (служебная учётная запись)"},
        "entities": entities,
    }
    return Document.from_body(body, source=manifest.source, pack=manifest.name)


def service_subject(pack: str) -> AccessSubject:
    """The access subject the pack's code and data migrations act as: nobody in particular
    (no record is its "own"), holding only the pack's role."""
    return AccessSubject(user_id=None, username=f"pack:{pack}",
                         roles=(service_role_name(pack),))
