"""A pack's field type works like a built-in one: API validation and OpenAPI schema, the
form's input and the value's display on screens."""

from __future__ import annotations

from pathlib import Path

from pack_harness import entity, field_def, open_world, sign_in, write_pack

from web_harness import bearer

RATING = '''
from metacrm.extension import FieldTypeSpec

def stars(value):
    return "★" * int(value)

def install(ctx):
    ctx.register_field_type(FieldTypeSpec(
        name="rating", storage="integer",
        value_schema={"type": "integer", "minimum": 1, "maximum": 5},
        display=stars, widget="integer", label={"en": "Rating"}))
'''

REVIEW = entity("review", field_def("title", required=True), field_def("stars", "rating"))


def test_a_pack_field_type_validates_documents_and_renders(isolated_database_url: str,
                                                           tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        world.host.sync([write_pack(tmp_path, "ratings", RATING)])
        world.web.create_user("root", "boss")
        admin = bearer(world.web.login("root"))
        put = world.client.put("/api/v1/meta/entity/review", json=REVIEW, headers=admin)
        assert put.status_code == 200, put.get_json()

        created = world.post("/api/v1/records/review", {"title": "Good", "stars": 4}, admin)
        assert created.status_code == 201, created.get_json()
        assert created.get_json()["data"]["stars"] == 4
        for bad in (6, "many"):
            refused = world.post("/api/v1/records/review", {"title": "Bad", "stars": bad},
                                 admin)
            assert refused.status_code == 422, refused.get_json()
            assert [e["pointer"] for e in refused.get_json()["errors"]] == ["/stars"]

        spec = world.client.get("/api/v1/openapi.json", headers=admin).get_json()
        created_schema = spec["components"]["schemas"]["review.create"]
        stars_schema = str(created_schema["properties"]["stars"])
        assert "'maximum': 5" in stars_schema and "'minimum': 1" in stars_schema
        browser = sign_in(world, "root")
        record_id = created.get_json()["data"]["id"]
        page = browser.get(f"/app/r/review/{record_id}").get_data(as_text=True)
        assert "★★★★" in page
        form = browser.get("/app/r/review/new").get_data(as_text=True)
        stars_input = next(tag for tag in form.split("<input")[1:] if 'name="stars"' in tag)
        assert 'type="number"' in stars_input
        assert 'max="5"' in stars_input
