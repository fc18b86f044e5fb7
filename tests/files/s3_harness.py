"""A local S3-compatible server process on loopback (moto's `moto_server`) for the S3
adapter's tests: started once per test module, killed at the end."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from database_harness import service_unavailable
from process_harness import free_port, wait_until


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def new_bucket(self) -> str:
        """A fresh, empty bucket on the server."""
        name = f"metacrm-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")


def _binary() -> str | None:
    beside = Path(sys.executable).with_name("moto_server")
    return str(beside) if beside.exists() else shutil.which("moto_server")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


@contextmanager
def s3_server() -> Iterator[S3Server]:
    binary = _binary()
    if binary is None:
        service_unavailable("moto_server is not installed (pip install 'moto[server]')")
    try:
        import boto3  # noqa: F401
    except ImportError:
        service_unavailable("boto3 is not installed (pip install 'metacrm[s3]')")
    port = free_port()
    process = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: process.poll() is not None or _answers(url), deadline=30,
                   what="moto_server to start")
        if process.poll() is not None:
            service_unavailable(f"moto_server exited with {process.returncode}")
        yield S3Server(url)
    finally:
        process.kill()
        process.wait(timeout=10)
