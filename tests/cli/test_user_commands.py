"""`metacrm user create`, the first admin of `metacrm init`, and `metacrm serve`."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from metacrm.access.teams import TeamDirectory
from metacrm.app import create_app, dispose_app
from metacrm.cli.main import main
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine
from web_harness import role

ADMIN_PASSWORD = "first admin password"


class Install:
    """A pack with two roles (`boss` is the admin role) and the environment of a shell."""

    def __init__(self, root: Path, database_url: str) -> None:
        pack = root / "packs" / "crm"
        pack.mkdir(parents=True)
        for body in (role("boss", admin=True), role("clerk")):
            (pack / f"{body['name']}.json").write_text(json.dumps(body), encoding="utf-8")
        self.env = {
            "METACRM_DATABASE_URL": database_url,
            "METACRM_METADATA_PATH": str(root / "packs"),
            "METACRM_INSTANCE_PATH": str(root / "instance"),
        }

    def run(self, *args: str, input: str | None = None, **env: str) -> Result:
        return CliRunner().invoke(main, list(args), input=input, env={**self.env, **env},
                                  catch_exceptions=False)

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in through the web app; the who-am-I of the JWT, or the error document."""
        app = create_app(Settings.from_env(self.env))
        try:
            client = app.test_client()
            response = client.post("/api/v1/security/login", json={
                "username": username, "password": password, "provider": "db"})
            if response.status_code != 200:
                return {"status": response.status_code}
            jwt = response.get_json()["access_token"]
            listed = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {jwt}"})
            with app.app_context():
                user = app.extensions["appbuilder"].sm.find_user(username=username)
                return {"status": listed.status_code, "roles": [r.name for r in user.roles]}
        finally:
            dispose_app(app)


@pytest.fixture
def install(tmp_path: Path, isolated_database_url: str) -> Install:
    install = Install(tmp_path, isolated_database_url)
    assert install.run("init").exit_code == 0
    return install


def test_user_create_reads_the_password_from_stdin(install: Install) -> None:
    result = install.run("user", "create", "ann", "--role", "clerk", "--password-stdin",
                         input="ann's password\n")

    assert result.exit_code == 0, result.output
    assert "Created user 'ann'" in result.output
    assert install.login("ann", "ann's password") == {"status": 200, "roles": ["clerk"]}
    assert install.login("ann", "ann's password\n")["status"] == 401


def test_user_create_prompts_for_the_password_twice(install: Install) -> None:
    result = install.run("user", "create", "ann", "--role", "clerk",
                         input="typed password\ntyped password\n")

    assert result.exit_code == 0, result.output
    assert install.login("ann", "typed password")["status"] == 200


def test_a_role_not_in_the_metadata_is_refused(install: Install) -> None:
    result = install.run("user", "create", "ann", "--role", "superuser", "--password-stdin",
                         input="ann's password\n")

    assert result.exit_code == 1
    assert "role 'superuser' is not declared in the metadata" in result.output
    assert "boss, clerk" in result.output
    assert install.login("ann", "ann's password")["status"] == 401


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("--role", "clerk"), "short\n", "at least 8 characters"),
        (("--role", "clerk", "--email", "not-an-email"), "long enough\n", "not an email"),
    ],
)
def test_bad_user_input_is_refused_clearly(
    install: Install, args: tuple[str, ...], stdin: str, message: str
) -> None:
    result = install.run("user", "create", "ann", *args, "--password-stdin", input=stdin)

    assert result.exit_code == 1
    assert message in result.output


def test_an_existing_user_is_not_created_twice(install: Install) -> None:
    args = ("user", "create", "ann", "--role", "clerk", "--password-stdin")
    assert install.run(*args, input="first password\n").exit_code == 0

    again = install.run(*args, input="second password\n")

    assert again.exit_code == 1
    assert "already exists" in again.output
    assert install.login("ann", "first password")["status"] == 200


def test_user_create_joins_existing_teams_only(install: Install) -> None:
    engine = create_database_engine(install.env["METACRM_DATABASE_URL"])
    teams = TeamDirectory(engine)
    try:
        with engine.begin() as connection:
            teams.create_team(connection, "sales")
            teams.create_team(connection, "support")

        refused = install.run("user", "create", "bob", "--role", "clerk", "--team", "salse",
                              "--password-stdin", input="bob's password\n")
        joined = install.run("user", "create", "ann", "--role", "clerk", "--team", "sales",
                             "--team", "support", "--password-stdin",
                             input="ann's password\n")

        assert refused.exit_code == 1
        assert "unknown team 'salse'; existing teams: sales, support" in refused.output
        assert install.login("bob", "bob's password")["status"] == 401
        assert joined.exit_code == 0, joined.output
        user_id = joined.output.split("(id ")[1].split(")")[0]
        with engine.connect() as connection:
            assert teams.direct_teams_of(connection, user_id) == ("sales", "support")
    finally:
        engine.dispose()


def test_init_creates_the_first_admin_once(tmp_path: Path, isolated_database_url: str) -> None:
    install = Install(tmp_path, isolated_database_url)
    admin = {"METACRM_ADMIN_USER": "root", "METACRM_ADMIN_PASSWORD": ADMIN_PASSWORD}

    first = install.run("init", **admin)
    second = install.run("init", **{**admin, "METACRM_ADMIN_PASSWORD": "another password"})

    assert first.exit_code == 0, first.output
    assert "Created admin user 'root' with role 'boss'" in first.output
    assert second.exit_code == 0, second.output
    assert "already exists" in second.output
    assert install.login("root", ADMIN_PASSWORD) == {"status": 200, "roles": ["boss"]}


def test_init_without_admin_variables_creates_no_user(install: Install) -> None:
    assert install.login("root", ADMIN_PASSWORD)["status"] == 401


def test_init_refuses_an_admin_user_without_a_password(install: Install) -> None:
    result = install.run("init", METACRM_ADMIN_USER="root")

    assert result.exit_code == 1
    assert "METACRM_ADMIN_PASSWORD is not" in result.output


def test_serve_runs_the_app_on_the_given_address(
    install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[Flask, dict[str, Any]]] = []

    threads_while_serving: list[str] = []

    def fake_run(self: Flask, **options: Any) -> None:
        served.append((self, options))
        threads_while_serving.extend(t.name for t in threading.enumerate())

    monkeypatch.setattr(Flask, "run", fake_run)

    result = install.run("serve", "--host", "127.0.0.2", "--port", "8123")

    assert result.exit_code == 0, result.output
    # embedded (no Redis): retries and time triggers run in a scheduler thread of the server,
    # which stops with it
    assert "metacrm-scheduler" in threads_while_serving
    assert "metacrm-scheduler" not in [t.name for t in threading.enumerate()]
    [(app, options)] = served
    assert options == {"host": "127.0.0.2", "port": 8123}
    assert app.url_map.bind("localhost").match("/api/v1/security/login", method="POST")
