"""`services.subjects.subject_of(user_id)`: the access subject of a user outside any request
(a webhook owner), with the same roles, admin flag and teams a request of theirs gets."""

from __future__ import annotations

from pathlib import Path

from metacrm.api import RUNTIME_KEY
from metacrm.composition import Services
from web_harness import open_web


def test_subject_of_a_user_by_id(isolated_database_url: str, tmp_path: Path) -> None:
    with open_web(isolated_database_url, tmp_path) as web:
        services: Services = web.app.extensions[RUNTIME_KEY].services
        boss = web.create_user("root", "boss")
        clerk = web.create_user("ann", "clerk")
        with services.engine.begin() as conn:
            services.teams.create_team(conn, "east")
            services.teams.add_member(conn, "east", str(clerk.id))

        admin = services.subjects.subject_of(str(boss.id))
        member = services.subjects.subject_of(str(clerk.id))

        assert admin is not None and admin.is_admin and admin.roles == ("boss",)
        assert member is not None and not member.is_admin
        assert (member.user_id, member.username, member.roles) == (str(clerk.id), "ann",
                                                                   ("clerk",))
        assert member.team_ids == ("east",) and member.team_user_ids == (str(clerk.id),)
        for unknown in ("999999", "", "abc", "1" * 40, "٣"):
            assert services.subjects.subject_of(unknown) is None

        web.set_active("ann", False)
        assert services.subjects.subject_of(str(clerk.id)) is None, "deactivated"
