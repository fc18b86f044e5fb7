"""A pack's antivirus hook: registered with `ctx.register_file_scanner`, shown every upload
before it is stored, refusing an infected one with a clear error — and gone with the pack."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pack_harness import open_world, write_pack

from metacrm.extension import RegistrationClosed
from metacrm.extension.testing import FakeContext

SCANNER = '''
from metacrm.extension import ScannedFile

def install(ctx):
    def scan(file: ScannedFile):
        content = b"".join(file.chunks())
        return "Eicar-Test-Signature" if b"EICAR-STANDARD" in content else None
    ctx.register_file_scanner("eicar", scan)
'''
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def test_a_packs_scanner_refuses_an_infected_upload(isolated_database_url: str,
                                                   tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        world.host.sync([write_pack(tmp_path, "antivirus", SCANNER)])
        deal = world.create("deal", title="Scanned")
        path = f"/api/v1/records/deal/{deal['id']}/attachments"

        def upload(data: bytes) -> int:
            response = world.client.post(path, headers=world.clerk, data={
                "file": (io.BytesIO(data), "a.com")}, content_type="multipart/form-data")
            if response.status_code == 422:
                assert response.get_json()["detail"] == (
                    "the file was refused by the virus scanner antivirus.eicar: "
                    "Eicar-Test-Signature")
            return response.status_code

        assert upload(EICAR) == 422
        assert upload(b"clean") == 201
        world.host.sync([])
        assert upload(EICAR) == 201


def test_the_fake_context_records_a_scanner_and_closes_registration() -> None:
    ctx = FakeContext("antivirus")
    ctx.register_file_scanner("eicar", lambda file: None)
    assert list(ctx.file_scanners) == ["eicar"]
    ctx.closed = True
    with pytest.raises(RegistrationClosed):
        ctx.register_file_scanner("late", lambda file: None)
