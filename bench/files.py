"""Benchmark: upload and download a large file through the attachments API in constant memory.

    python bench/files.py [--mb 100] [--store local|s3]

Serves metacrm in a child process (Werkzeug's WSGI server on loopback, SQLite, the local
file store in a temporary instance folder — or, with `--store s3`, a bucket of a local
`moto_server`), uploads a file of `--mb` MiB with httpx (streamed from disk, multipart),
downloads it back (streamed, hashed on the fly) and reports the time of each and the
server process's peak resident memory (VmHWM) before and after: constant memory means the
peak does not grow with the file's size.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from metacrm.app import create_app
from metacrm.fieldtypes import default_registry
from metacrm.identity.current import identity_state
from metacrm.identity.users import create_user
from metacrm.metadata.documents import Document
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import S3Settings, Settings
from metacrm.storage.engine import create_database_engine

PASSWORD = "bench-password-1"  # noqa: S105
SECRET_KEY = "bench-secret-key-that-is-long-enough-for-hs256"  # noqa: S105
LABEL = {"en": "Folder", "ru": "Папка"}
DOCUMENTS = (
    {"kind": "role", "name": "boss", "version": 1, "label": LABEL, "admin": True},
    {"kind": "entity", "name": "folder", "version": 1, "label": LABEL,
     "fields": [{"name": "title", "type": "text", "label": LABEL}]},
)
CHUNK = 1024 * 1024


def settings_for(root: Path, s3: S3Settings | None) -> Settings:
    return Settings(database_url=f"sqlite:///{root / 'bench.db'}", metadata_paths=(),
                    redis_url=None, secret_key=SECRET_KEY, instance_path=root / "instance",
                    rate_limit="10000000 per minute", upload_max_bytes=4 * 1024 ** 3,
                    file_store="s3" if s3 else "local", s3=s3)


def serve(root: str, port: int, s3: S3Settings | None) -> None:
    from werkzeug.serving import make_server

    app = create_app(settings_for(Path(root), s3),
                     FAB_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")  # noqa: S106
    with app.app_context():
        state = identity_state()
        create_user(state.appbuilder, state.metadata.live().model, username="bench",
                    role="boss", password=PASSWORD)
    make_server("127.0.0.1", port, app, threaded=False).serve_forever()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_file(path: Path, mib: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(CHUNK)
    with path.open("wb") as out:
        for index in range(mib):
            chunk = block[:-8] + index.to_bytes(8, "big")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_s3() -> tuple[subprocess.Popen[bytes], S3Settings]:
    import boto3

    binary = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    port = free_port()
    process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],  # noqa: S603
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                 aws_secret_access_key="x").create_bucket(Bucket="bench")  # noqa: S106
    return process, S3Settings(bucket="bench", endpoint_url=url, region="us-east-1",
                               access_key_id="x", secret_access_key="x")  # noqa: S106


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--store", choices=("local", "s3"), default="local")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="metacrm-bench-files-"))
    s3_process, s3 = start_s3() if args.store == "s3" else (None, None)
    engine = create_database_engine(settings_for(root, s3).database_url)
    documents = [Document.from_body(dict(body), source=f"{body['name']}.json", pack="bench")
                 for body in DOCUMENTS]
    MetadataService(engine, default_registry()).apply(documents, author="bench")
    engine.dispose()
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve,
                                                          args=(str(root), port, s3))
    server.start()
    try:
        return run(args, root, port, server.pid or 0)
    finally:
        server.kill()
        server.join()
        if s3_process is not None:
            s3_process.kill()
        shutil.rmtree(root, ignore_errors=True)


def run(args: Any, root: Path, port: int, pid: int) -> int:
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=600) as client:
        for _ in range(600):
            try:
                login = client.post("/api/v1/security/login", json={
                    "username": "bench", "password": PASSWORD, "provider": "db"})
                if login.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        record = client.post("/api/v1/records/folder", json={"title": "big"},
                             headers=auth).json()["data"]["id"]
        path = f"/api/v1/records/folder/{record}/attachments"
        small = client.post(path, headers=auth, files={"file": ("warm.bin", b"warm-up")})
        client.get(f"{path}/{small.json()['data']['id']}/content", headers=auth)
        before = peak_rss_mib(pid)
        source = root / "big.bin"
        expected = write_file(source, args.mb)
        started = time.perf_counter()
        with source.open("rb") as handle:
            uploaded = client.post(path, headers=auth, files={"file": ("big.bin", handle)})
        upload_s = time.perf_counter() - started
        if uploaded.status_code != 201:
            raise RuntimeError(f"upload failed: {uploaded.status_code} {uploaded.text[:300]}")
        after_upload = peak_rss_mib(pid)
        source.unlink()
        item = uploaded.json()["data"]
        digest = hashlib.sha256()
        started = time.perf_counter()
        with client.stream("GET", f"{path}/{item['id']}/content", headers=auth) as answer:
            for chunk in answer.iter_bytes(CHUNK):
                digest.update(chunk)
        download_s = time.perf_counter() - started
        after_download = peak_rss_mib(pid)
    ok = digest.hexdigest() == expected == item["sha256"]
    print(f"store: {args.store}; file: {args.mb} MiB; bytes intact: {ok}")
    print(f"upload:   {upload_s:.2f} s ({args.mb / upload_s:.0f} MiB/s)")
    print(f"download: {download_s:.2f} s ({args.mb / download_s:.0f} MiB/s)")
    print(f"server peak RSS: {before:.1f} MiB before, {after_upload:.1f} MiB after the upload, "
          f"{after_download:.1f} MiB after the download "
          f"(growth {after_download - before:+.1f} MiB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
