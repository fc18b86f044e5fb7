"""Whom trigger actions act as: the automation subject.

Actions go through the same records service (and access layer) as users do, as a subject
holding the model's admin roles — the access policy grants admin roles every operation on
every entity and field (`metacrm.access.policy`) — whose user id is `trigger:<name>`, so the
audit trail (`created_by`, `updated_by`, history entries) shows which trigger changed what.
"""

from __future__ import annotations

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, Forbidden
from metacrm.metadata.model import CompiledModel

ACTOR_PREFIX = "trigger:"


def automation_actor(trigger: str) -> str:
    """The user id trigger `trigger` acts as (at most 48 characters: names are <= 40)."""
    return f"{ACTOR_PREFIX}{trigger}"


def automation_subject(model: CompiledModel, trigger: str) -> AccessSubject:
    """The subject trigger `trigger`'s actions run as; Forbidden when the model has no admin
    role (nothing could grant the automation its rights)."""
    admin_roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
    if not admin_roles:
        raise Forbidden("triggers act with an admin role, and the metadata has none",
                        [ErrorDetail("add a role with \"admin\": true", "")])
    actor = automation_actor(trigger)
    return AccessSubject(user_id=actor, username=actor, roles=admin_roles, is_admin=True)
