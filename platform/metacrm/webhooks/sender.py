"""One signed POST to a webhook URL, through the SSRF guard, with a bounded answer.

* Every hop is checked by the `AddressGuard` right before it is made, and the connection goes
  to the address that was checked (the URL's host is kept for `Host`, TLS SNI and certificate
  checks), so DNS cannot change between the check and the connection.
* Redirects: at most `MAX_REDIRECTS` (3) are followed, each target checked like the first;
  the same body and signature headers are POSTed again (the signature covers the id,
  timestamp and body, not the URL). A fourth redirect is a failed attempt.
* Environment proxies are ignored (`trust_env=False`): a proxy would connect on our behalf to
  addresses the guard never saw.
* The answer is read up to `EXCERPT_BYTES` (1 KB) for the delivery log and then dropped.
* `timeout` (15 s) bounds connecting, each read and each write.
* Connections are kept alive and reused: one `httpx.Client` per checked target (scheme,
  host, port AND the pinned address), so a connection is only ever reused for the very
  host name and address it was opened (and its TLS certificate checked) for; at most
  `MAX_CLIENTS` are kept (the least recently used dropped first). The TLS trust store is loaded
  once per sender, not per delivery (loading it cost ~15 ms, most of a delivery's time).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from metacrm.webhooks.addresses import AddressGuard, Target, UnsafeTarget

TIMEOUT_SECONDS = 15.0
MAX_REDIRECTS = 3
EXCERPT_BYTES = 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_CLIENTS = 64
"""Kept-alive clients (one per target) a sender holds at most."""
KEEPALIVE_SECONDS = 5.0
"""An idle connection is closed after this long."""

ClientKey = tuple[str, str, int, str]


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one delivery attempt got: the final status (None: no answer), how long it
    took, the start of the answer's body and what went wrong (None: an answer came)."""

    status_code: int | None
    latency_ms: int
    excerpt: str | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.error is None and self.status_code is not None and (
            200 <= self.status_code < 300)

    def describe(self) -> str:
        if self.error is not None:
            return self.error
        return f"the receiver answered {self.status_code}"


class WebhookSender:
    """Sends signed POSTs through `guard`, over kept-alive connections (thread-safe)."""

    def __init__(self, guard: AddressGuard, *, timeout: float = TIMEOUT_SECONDS,
                 user_agent: str = "metacrm-webhooks/1") -> None:
        self.guard = guard
        self.timeout = timeout
        self.user_agent = user_agent
        self._ssl: ssl.SSLContext | None = None
        self._clients: OrderedDict[ClientKey, httpx.Client] = OrderedDict()
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        started = time.monotonic()

        def elapsed() -> int:
            return round((time.monotonic() - started) * 1000)

        current = url
        for hop in range(MAX_REDIRECTS + 1):
            try:
                target = self.guard.check(current)
            except UnsafeTarget as exc:
                where = "" if hop == 0 else f" (redirected to {current})"
                return PostResult(None, elapsed(), error=f"refused{where}: {exc}")
            try:
                status, location, excerpt = self._send(self._client(target), target, body,
                                                       headers)
            except httpx.HTTPError as exc:
                return PostResult(None, elapsed(), error=_transport_error(exc))
            except httpx.InvalidURL as exc:
                return PostResult(None, elapsed(), error=f"invalid URL: {exc}")
            if status in REDIRECT_STATUSES and location:
                if hop == MAX_REDIRECTS:
                    return PostResult(status, elapsed(), excerpt,
                                      f"more than {MAX_REDIRECTS} redirects")
                current = urljoin(current, location)
                continue
            return PostResult(status, elapsed(), excerpt)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close every kept-alive connection (the sender stays usable)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            client.close()

    def _client(self, target: Target) -> httpx.Client:
        """The kept-alive client of exactly this target (host name and pinned address)."""
        key: ClientKey = (target.scheme, target.host.lower(), target.port, target.address)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context(trust_env=False)  # as before: certifi
            client = httpx.Client(
                timeout=self.timeout, trust_env=False, follow_redirects=False,
                verify=self._ssl,
                limits=httpx.Limits(max_keepalive_connections=8,
                                    keepalive_expiry=KEEPALIVE_SECONDS))
            self._clients[key] = client
            if len(self._clients) > MAX_CLIENTS:
                # not closed here: another thread may be sending on it; its connections
                # close when it is garbage collected
                self._clients.popitem(last=False)
        return client

    def _send(
        self, client: httpx.Client, target: Target, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, str | None, str]:
        url = httpx.URL(target.url)
        pinned = url.copy_with(host=target.address)
        request_headers = {
            "content-type": "application/json",
            "user-agent": self.user_agent,
            **headers,
            "host": url.netloc.decode("ascii"),
        }
        extensions = {"sni_hostname": url.raw_host.decode("ascii")} if (
            target.scheme == "https") else {}
        request = client.build_request("POST", pinned, content=body, headers=request_headers,
                                       extensions=extensions)
        response = client.send(request, stream=True)
        try:
            excerpt = _read_excerpt(response)
        finally:
            response.close()
        return response.status_code, response.headers.get("location"), excerpt


def _read_excerpt(response: httpx.Response) -> str:
    collected = b""
    for chunk in response.iter_raw():
        collected += chunk
        if len(collected) >= EXCERPT_BYTES:
            break
    # "ignore" drops a character cut in half, so the text never grows past the limit; NUL
    # cannot be stored in a PostgreSQL text column
    return collected[:EXCERPT_BYTES].decode("utf-8", errors="ignore").replace("\x00", "")


def _transport_error(exc: httpx.HTTPError) -> str:
    kinds: dict[type[httpx.HTTPError], str] = {
        httpx.ConnectTimeout: "connecting timed out",
        httpx.ReadTimeout: "the receiver did not answer in time",
        httpx.WriteTimeout: "sending timed out",
        httpx.ConnectError: "could not connect",
    }
    kind = kinds.get(type(exc), "the request failed")
    detail = str(exc).strip()
    return f"{kind}: {detail}" if detail else kind
