"""Install, upgrade, uninstall on a real database: all or nothing, nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from metacrm.extension import MigrationContext
from metacrm.extension_host.migration_steps import run_migration_step
from metacrm.kernel.errors import Conflict, StaleRecord, ValidationFailed
from metacrm.packs.lifecycle import PackLifecycle
from metacrm.packs.store import installed_packs, pack_generation
from metacrm.storage.system_tables import archive, pack_settings, packs, saved_views, webhooks
from packs_harness import (
    SECRET_KEY,
    columns,
    entity,
    field,
    installed_distribution,
    label,
    make_lifecycle,
    manifest,
    tables,
    write_pack,
)

SETTINGS = {"type": "object", "required": ["token"], "properties": {
    "rate": {"type": "number", "default": 20},
    "token": {"type": "string", "writeOnly": True}}}
NOTE_V1 = manifest("notes", "1.0.0", settings=SETTINGS, permissions={"note": ["read", "update"]})


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    return tmp_path / "packs"


@pytest.fixture
def lifecycle(engine: sa.Engine, roots: Path) -> PackLifecycle:
    write_pack(roots, NOTE_V1, entity("note", field("body", "textarea")))
    return make_lifecycle(engine, [roots])


def rows(engine: sa.Engine, table: sa.Table) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(sa.select(table)).mappings()]


def test_install_creates_tables_role_pack_row_and_encrypted_settings(
        lifecycle: PackLifecycle, engine: sa.Engine) -> None:
    result = lifecycle.install("notes", settings={"token": "s3cr3t-token"})

    assert "crm_note" in tables(engine)
    role = result.version.model.roles["pack_notes"]  # type: ignore[union-attr]
    assert (role.entities["note"].read, role.entities["note"].update,
            role.entities["note"].create) == ("all", "all", "none")
    assert [(r["name"], r["version"]) for r in rows(engine, packs)] == [("notes", "1.0.0")]
    stored = {r["key"]: r for r in rows(engine, pack_settings)}
    assert stored["rate"]["value"] == 20
    assert stored["token"]["value"] is None
    assert "s3cr3t" not in str(stored["token"]["secret"])
    with engine.connect() as connection:
        [spec] = installed_packs(connection, SECRET_KEY)
    assert dict(spec.settings) == {"rate": 20, "token": "s3cr3t-token"}
    assert spec.permissions == {"note": frozenset({"read", "update"})}


def test_secrets_are_shown_only_as_set_or_not_set(lifecycle: PackLifecycle) -> None:
    plan = lifecycle.plan_install("notes")
    assert plan.settings["notes"] == {"rate": 20, "token": "not set"}
    assert plan.missing_settings["notes"] == ("token",)

    lifecycle.install("notes")
    lifecycle.configure("notes", {"token": "abc"})

    assert lifecycle.settings_of("notes") == ({"rate": 20, "token": "set"}, [])


def test_settings_are_checked_against_the_pack_schema(lifecycle: PackLifecycle) -> None:
    lifecycle.install("notes")

    with pytest.raises(ValidationFailed) as caught:
        lifecycle.configure("notes", {"rate": "high", "rat": 1})

    assert sorted(str(detail) for detail in caught.value.errors) == [
        "notes /rat: pack notes has no setting 'rat' (did you mean 'rate'?)",
        "notes /rate: 'high' is not of type 'number'"]


def test_every_change_moves_the_pack_generation(lifecycle: PackLifecycle,
                                                engine: sa.Engine) -> None:
    def generation() -> int:
        with engine.connect() as connection:
            return pack_generation(connection)

    seen = [generation()]
    lifecycle.install("notes")
    seen.append(generation())
    lifecycle.configure("notes", {"rate": 7})
    seen.append(generation())
    lifecycle.uninstall("notes")
    seen.append(generation())

    assert len(set(seen)) == 4


def test_upgrade_keeps_data_and_runs_each_migration_once_in_version_order(
        lifecycle: PackLifecycle, engine: sa.Engine, roots: Path) -> None:
    lifecycle.install("notes", settings={"rate": 5})
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO crm_note (id, title, body, created_at, updated_at, version) "
            "VALUES ('0190a1b2-0000-7000-8000-000000000001', 'first', 'x', "
            ":now, :now, 1)"), {"now": "2026-01-01 00:00:00"})
    write_pack(roots, {**NOTE_V1, "version": "1.2.0"},
               entity("note", field("body", "textarea"), field("state", "text")),
               migrations={
                   "1.0.0": [{"op": "update", "entity": "note", "set": {"state": "never"}}],
                   "1.1.0": [{"op": "update", "entity": "note", "set": {"state": "one"}}],
                   "1.2.0": [{"op": "update", "entity": "note",
                              "where": {"field": "state", "op": "eq", "value": "one"},
                              "set": {"title": "migrated twice"}}],
                   "1.3.0": [{"op": "update", "entity": "note", "set": {"state": "future"}}]})

    plan = lifecycle.plan_upgrade("notes")
    assert [str(m.version) for m in plan.data_migrations] == ["1.1.0", "1.2.0"]
    lifecycle.upgrade("notes")

    [note] = rows(engine, sa.Table("crm_note", sa.MetaData(), autoload_with=engine))
    assert (note["title"], note["body"], note["state"]) == ("migrated twice", "x", "one")
    assert [r["version"] for r in rows(engine, packs)] == ["1.2.0"]
    assert {r["key"]: r["value"] for r in rows(engine, pack_settings)}["rate"] == 5

    lifecycle.upgrade("notes")  # same version again: no migration runs twice
    [again] = rows(engine, sa.Table("crm_note", sa.MetaData(), autoload_with=engine))
    assert again["version"] == note["version"]


def test_a_failing_migration_step_rolls_back_everything(
        lifecycle: PackLifecycle, engine: sa.Engine, roots: Path) -> None:
    lifecycle.install("notes")
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO crm_note (id, title, created_at, updated_at, version) VALUES "
            "('0190a1b2-0000-7000-8000-000000000001', 'a', :now, :now, 1)"),
            {"now": "2026-01-01 00:00:00"})
    versions_before = len(lifecycle.metadata.history())
    write_pack(roots, {**NOTE_V1, "version": "2.0.0"},
               entity("note", field("body", "textarea"), field("score", "integer")),
               migrations={"2.0.0": [
                   {"op": "update", "entity": "note", "set": {"score": 1}},
                   {"op": "update", "entity": "note", "set": {"score": "many"}}]})

    with pytest.raises(ValidationFailed) as caught:
        lifecycle.upgrade("notes")

    assert caught.value.errors[0].pointer == "/steps/1/set/score"
    assert caught.value.errors[0].source.endswith("migrations/2.0.0/steps.json")
    assert "score" not in columns(engine, "crm_note")
    assert len(lifecycle.metadata.history()) == versions_before
    assert [r["version"] for r in rows(engine, packs)] == ["1.0.0"]


def test_uninstall_archives_the_data_and_leaves_nothing_else(
        lifecycle: PackLifecycle, engine: sa.Engine) -> None:
    lifecycle.install("notes", settings={"token": "t"})
    with engine.begin() as connection:
        connection.execute(sa.insert(saved_views).values(
            id="v1", entity="note", name="mine", owner="u1", shared=False, definition={},
            created_at=sa.func.now()))

    plan = lifecycle.plan_uninstall("notes")
    assert [line.split(":")[0] for line in plan.archived] == ["remove entity note"]
    assert {c.change for c in plan.documents} == {"removed"}
    result = lifecycle.uninstall("notes")

    assert "crm_note" not in tables(engine)
    archived = f"arch_v{result.version.number}_crm_note"  # type: ignore[union-attr]
    assert archived in tables(engine)
    assert [r["archived_as"] for r in rows(engine, archive)] == [archived]
    assert rows(engine, packs) == rows(engine, pack_settings) == []
    assert rows(engine, saved_views) == rows(engine, webhooks) == []
    assert "pack_notes" not in result.version.model.roles  # type: ignore[union-attr]
    assert lifecycle.metadata.current_model().entities == {}


def test_reinstall_after_uninstall(lifecycle: PackLifecycle, engine: sa.Engine) -> None:
    lifecycle.install("notes")
    lifecycle.uninstall("notes")

    lifecycle.install("notes")

    assert "crm_note" in tables(engine)
    assert [r["name"] for r in rows(engine, packs)] == ["notes"]


def test_install_refuses_a_pack_already_installed_and_a_broken_dependency(
        lifecycle: PackLifecycle, roots: Path) -> None:
    lifecycle.install("notes")
    with pytest.raises(Conflict, match="already installed"):
        lifecycle.install("notes")

    write_pack(roots, manifest("extra", depends={"notes": ">=2"}), entity("extra_note"))
    with pytest.raises(Conflict) as caught:
        lifecycle.install("extra")
    assert caught.value.errors[0].pointer == "/depends/notes"


def test_uninstall_is_refused_while_an_installed_pack_needs_it(
        lifecycle: PackLifecycle, roots: Path) -> None:
    write_pack(roots, manifest("extra", depends={"notes": ">=1"}),
               entity("extra_note", field("note", "reference", entity="note")))
    lifecycle.install("extra")  # installs notes first, as its dependency

    assert [step.describe() for step in lifecycle.plan_uninstall("extra").steps] == [
        "uninstall extra 1.0.0"]
    with pytest.raises(Conflict, match="depend on it"):
        lifecycle.uninstall("notes")


def test_install_from_a_folder_outside_the_roots(engine: sa.Engine, tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "downloads", manifest("ledger"), entity("ledger_entry"))
    lifecycle = make_lifecycle(engine, [tmp_path / "empty"])

    lifecycle.install(folder)

    assert "crm_ledger_entry" in tables(engine)
    assert [r["source"] for r in rows(engine, packs)] == [str(folder.resolve())]


def test_fields_a_pack_adds_to_another_packs_entity_come_back_on_reinstall(
        lifecycle: PackLifecycle, engine: sa.Engine, roots: Path) -> None:
    extension = {"kind": "entity_extension", "name": "note_rating", "version": 1,
                 "entity": "note", "fields": [field("rating", "integer")]}
    write_pack(roots, manifest("rating", depends={"notes": ">=1.0"}), extension)
    lifecycle.install("rating")
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO crm_note (id, title, rating, created_at, updated_at, version) VALUES "
            "('0190a1b2-0000-7000-8000-000000000001', 'a', 4, :now, :now, 1)"),
            {"now": "2026-01-01 00:00:00"})

    plan = lifecycle.plan_uninstall("rating")
    assert [line.split(":")[0] for line in plan.archived] == ["remove field note.rating"]
    lifecycle.uninstall("rating")
    assert "rating" not in columns(engine, "crm_note")
    lifecycle.install("rating")

    assert [r["name"] for r in rows(engine, packs)] == ["notes", "rating"]
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT rating FROM crm_note")).scalar() == 4


def test_rights_a_pack_grants_to_another_packs_role_go_with_the_pack(
        lifecycle: PackLifecycle, roots: Path) -> None:
    writer = {"kind": "role", "name": "writer", "version": 1, "label": label("Writer"),
              "entities": {"note": {"read": "all", "create": "all"}}}
    write_pack(roots, manifest("desk", depends={"notes": ">=1.0"}), writer)
    grant = {"kind": "role_grant", "name": "writer_memos", "version": 1, "role": "writer",
             "entities": {"memo": {"read": "own", "create": "all"}}}
    write_pack(roots, manifest("memos", depends={"desk": ">=1.0"}), entity("memo"), grant)
    lifecycle.install("notes")
    lifecycle.install("desk")

    installed = lifecycle.install("memos").version
    assert installed is not None
    assert installed.model.roles["writer"].entities["memo"].read == "own"
    assert installed.model.roles["writer"].entities["note"].read == "all"

    removed = lifecycle.uninstall("memos").version
    assert removed is not None
    assert "memo" not in removed.model.roles["writer"].entities
    assert removed.model.roles["writer"].entities["note"].read == "all"


def test_a_change_planned_before_another_landed_is_refused_whole(
        lifecycle: PackLifecycle, engine: sa.Engine, roots: Path) -> None:
    write_pack(roots, manifest("ledger"), entity("ledger_entry"))
    planned_first = lifecycle._install_change("ledger", None)  # an admin reviewing...
    lifecycle.install("notes")  # ...while another one installs notes

    with pytest.raises(StaleRecord, match="changed meanwhile"):
        lifecycle._apply(planned_first, take=None, confirm_destructive=True)

    assert "crm_note" in tables(engine) and "crm_ledger_entry" not in tables(engine)
    assert [r["name"] for r in rows(engine, packs)] == ["notes"]


def test_a_pip_distribution_installs_by_name_and_loads_without_a_folder(
        engine: sa.Engine, tmp_path: Path) -> None:
    with installed_distribution(tmp_path / "site", "crm_points", "1.3.0",
                                entity("point_entry")) as module:
        lifecycle = make_lifecycle(engine, [])
        lifecycle.distributions = True

        lifecycle.install("crm_points")

    assert "crm_point_entry" in tables(engine)
    assert [r["source"] for r in rows(engine, packs)] == [f"distribution:{module.resolve()}"]
    with engine.connect() as connection:
        [spec] = installed_packs(connection, SECRET_KEY)
    assert (spec.name, spec.version, spec.root) == ("crm_points", "1.3.0", None)


def test_a_distribution_project_folder_installs_and_its_module_imports_from_it(
        engine: sa.Engine, tmp_path: Path) -> None:
    project = tmp_path / "extensions" / "points"  # pyproject.toml + the package, as for pip
    package = write_pack(project, manifest("points", module="crm_points"), entity("point"))
    package.rename(project / "crm_points")
    (project / "crm_points" / "__init__.py").write_text("", encoding="utf-8")
    (project / "pyproject.toml").write_text("[project]\nname = 'crm-points'\n")
    lifecycle = make_lifecycle(engine, [])

    lifecycle.install(project)

    with engine.connect() as connection:
        [spec] = installed_packs(connection, SECRET_KEY)
    assert (spec.module, spec.root) == ("crm_points", project.resolve())
    assert "crm_point" in tables(engine)


def test_a_python_migration_step_runs_through_the_host_inside_the_upgrade(
        engine: sa.Engine, roots: Path) -> None:
    write_pack(roots, NOTE_V1, entity("note"))
    without_host = make_lifecycle(engine, [roots])
    without_host.install("notes")
    folder = write_pack(roots, {**NOTE_V1, "version": "1.1.0"}, entity("note"))
    (folder / "migrations" / "1.1.0").mkdir(parents=True)
    (folder / "migrations" / "1.1.0" / "step.py").write_text("def run(ctx): ...\n")

    with pytest.raises(ValidationFailed, match="needs the extension host"):
        without_host.upgrade("notes")

    calls: list[tuple[str, str, str, str]] = []

    def run_step(path: Path, ctx: MigrationContext) -> None:
        calls.append((ctx.pack, path.name, ctx.from_version, ctx.to_version))
        assert ctx.records.list("note").records == ()

    make_lifecycle(engine, [roots], python_steps=run_step).upgrade("notes")

    assert calls == [("notes", "step.py", "1.0.0", "1.1.0")]


NOTE_WRITER = manifest("notes", "1.0.0", permissions={"note": ["read", "create", "update"]})


def upgrade_with_step(engine: sa.Engine, roots: Path, source: str) -> PackLifecycle:
    """notes 1.0.0 installed with two notes; 1.1.0 ships `source` as its step.py."""
    write_pack(roots, NOTE_WRITER, entity("note", field("body", "textarea")))
    lifecycle = make_lifecycle(engine, [roots], python_steps=run_migration_step)
    lifecycle.install("notes")
    with engine.begin() as connection:
        for title in ("first", "second"):
            connection.execute(sa.text(
                "INSERT INTO crm_note (id, title, version, created_at, updated_at) "
                "VALUES (:id, :title, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                {"id": f"0190a000-0000-7000-8000-00000000000{len(title)}", "title": title})
    folder = write_pack(roots, {**NOTE_WRITER, "version": "1.1.0"},
                        entity("note", field("body", "textarea")))
    (folder / "migrations" / "1.1.0").mkdir(parents=True)
    (folder / "migrations" / "1.1.0" / "step.py").write_text(source, encoding="utf-8")
    return lifecycle


def note_table(engine: sa.Engine) -> sa.Table:
    return sa.Table("crm_note", sa.MetaData(), autoload_with=engine)


def test_a_real_python_step_rewrites_records_as_the_pack_in_the_upgrade(
        engine: sa.Engine, roots: Path) -> None:
    lifecycle = upgrade_with_step(engine, roots, (
        "def run(ctx):\n"
        "    page = ctx.records.list('note', sort=['title'])\n"
        "    for note in page.records:\n"
        "        ctx.records.update('note', note['id'], {'body': note['title'].upper()})\n"))

    lifecycle.upgrade("notes")

    assert sorted((r["title"], r["body"]) for r in rows(engine, note_table(engine))) == [
        ("first", "FIRST"), ("second", "SECOND")]
    assert [r["version"] for r in rows(engine, packs)] == ["1.1.0"]


@pytest.mark.parametrize(("source", "message"), [
    ("import metacrm.storage\ndef run(ctx): ...\n", "imports 'metacrm.storage'"),
    ("def run(ctx):\n    ctx.records.update('note', ctx.records.list('note').records[0]['id'],"
     " {'body': 'half'})\n    raise RuntimeError('disk on fire')\n", "disk on fire"),
    ("def run(ctx):\n    ctx.records.delete('note', ctx.records.list('note').records[0]['id'])"
     "\n", "delete"),  # the pack may read, create and update notes, not delete them
    ("x = 1\n", r"no run\(ctx\)"),
])
def test_a_failing_or_forbidden_python_step_rolls_the_whole_upgrade_back(
        engine: sa.Engine, roots: Path, source: str, message: str) -> None:
    lifecycle = upgrade_with_step(engine, roots, source)

    with pytest.raises(ValidationFailed, match=message) as caught:
        lifecycle.upgrade("notes")

    assert caught.value.errors[0].source.endswith("step.py")
    assert [r["version"] for r in rows(engine, packs)] == ["1.0.0"]
    assert sorted((r["title"], r["body"]) for r in rows(engine, note_table(engine))) == [
        ("first", None), ("second", None)]


def test_data_migrations_act_as_the_pack_service_account(
        lifecycle: PackLifecycle, engine: sa.Engine, roots: Path) -> None:
    write_pack(roots, manifest("ledger"), entity("ledger_entry"))
    lifecycle.install("ledger")
    lifecycle.install("notes")
    write_pack(roots, {**NOTE_V1, "version": "1.1.0"}, entity("note", field("body", "textarea")),
               migrations={"1.1.0": [  # notes may read and update notes, nothing else
                   {"op": "insert", "entity": "ledger_entry", "values": {"title": "x"}}]})

    with pytest.raises(ValidationFailed) as caught:
        lifecycle.upgrade("notes")

    assert caught.value.errors[0].pointer == "/steps/0"
    assert "ledger_entry" in caught.value.message
    assert [r["version"] for r in rows(engine, packs) if r["name"] == "notes"] == ["1.0.0"]
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM crm_ledger_entry")).scalar() == 0
