"""The SSRF guard refuses every non-public target, however it is spelled, and redirects to one.

Names are resolved with the real `getaddrinfo` (`localhost`, odd IPv4 spellings); a DNS
answer that mixes public and private addresses is given by a resolver function standing in
for a DNS server.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from metacrm.webhooks.addresses import AddressGuard, UnsafeTarget
from metacrm.webhooks.sender import WebhookSender
from webhook_receiver import receiver

GUARD = AddressGuard()

REFUSED = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://localhost:8080/hook", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::127.0.0.1]/", "loopback"),
    ("http://[64:ff9b::7f00:1]/", "loopback"),
    ("http://[2002:7f00:1::]/", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://169.254.10.10/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://100.64.0.1/", "carrier-grade"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://192.0.2.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://[::ffff:169.254.169.254]/", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("http://METADATA.GOOGLE.INTERNAL./", "metadata"),
    ("ftp://8.8.8.8/", "http or https"),
    ("file:///etc/passwd", "http or https"),
    ("gopher://8.8.8.8/", "http or https"),
    ("http://user:secret@8.8.8.8/", "credentials"),
    ("http://user@8.8.8.8/", "credentials"),
    ("http:///nohost", "host"),
    ("http://8.8.8.8/a b", "spaces"),
    ("http://8.8.8.8:99999/", "valid URL"),
    ("http://no-such-host.invalid/", "cannot be resolved"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_non_public_targets_are_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeTarget, match=why):
        GUARD.check(url)


@pytest.mark.parametrize("url", [
    "https://8.8.8.8/hook", "http://93.184.216.34:8080/x?y=1", "https://[2606:4700::1111]/",
])
def test_public_addresses_pass(url: str) -> None:
    target = GUARD.check(url)
    assert ipaddress.ip_address(target.address).is_global


def test_a_name_is_refused_when_any_of_its_addresses_is_private() -> None:
    def dns(answers: Sequence[str]) -> AddressGuard:
        return AddressGuard(resolver=lambda host, port: list(answers))

    assert dns(["93.184.216.34"]).check("https://hooks.example.com/").address == (
        "93.184.216.34")
    with pytest.raises(UnsafeTarget, match=r"resolves to 10\.0\.0\.7"):
        dns(["93.184.216.34", "10.0.0.7"]).check("https://hooks.example.com/")
    with pytest.raises(UnsafeTarget, match="no address"):
        dns([]).check("https://hooks.example.com/")


def test_allowing_private_targets_never_allows_cloud_metadata() -> None:
    relaxed = AddressGuard(allow_private=True)
    for url in ("http://127.0.0.1/", "http://10.0.0.1/", "http://localhost/",
                "http://[::1]/"):
        relaxed.check(url)
    for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/",
                "http://metadata.google.internal/", "http://[::ffff:169.254.169.254]/"):
        with pytest.raises(UnsafeTarget, match="metadata"):
            relaxed.check(url)


def test_an_exception_network_allows_exactly_that_network() -> None:
    guard = AddressGuard(exceptions=(ipaddress.ip_network("127.0.0.1/32"),))
    guard.check("http://127.0.0.1:8080/")
    with pytest.raises(UnsafeTarget, match="loopback"):
        guard.check("http://127.0.0.2:8080/")


def test_a_redirect_to_loopback_is_refused_at_delivery_time() -> None:
    """The first hop (an allowed receiver) redirects to another loopback address: the
    redirect is checked like the first target, and nothing reaches the second server."""
    guard = AddressGuard(exceptions=(ipaddress.ip_network("127.0.0.1/32"),))
    sender = WebhookSender(guard)
    with receiver(host="127.0.0.1") as front, receiver(host="127.0.0.2") as inside:
        front.script.redirect_to = inside.url("/admin")

        result = sender.post(front.url(), b"{}", {"webhook-id": "msg_1"})

        assert not result.delivered
        assert result.status_code is None
        assert result.error is not None
        assert "redirected to http://127.0.0.2" in result.error
        assert "loopback" in result.error
        assert len(front.received()) == 1
        assert inside.deliveries == []


def test_redirects_are_followed_three_times_at_most() -> None:
    sender = WebhookSender(AddressGuard(allow_private=True))
    with receiver() as rx:
        rx.script.redirect_to = rx.url("/final")
        result = sender.post(rx.url(), b'{"a": 1}', {"webhook-id": "msg_2"})
        assert result.delivered
        assert [(d.path, d.body) for d in rx.deliveries] == [
            ("/hook", b'{"a": 1}'), ("/final", b'{"a": 1}')]

    with receiver() as rx:
        rx.script.redirect_to = rx.url("/hook")  # loops forever
        result = sender.post(rx.url(), b"{}", {"webhook-id": "msg_3"})
        assert not result.delivered
        assert result.error == "more than 3 redirects"
        assert len(rx.deliveries) == 4
