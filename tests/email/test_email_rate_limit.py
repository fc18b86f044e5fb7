"""A mailbox's send rate limit (`send_per_minute`): a burst of messages from records is
spaced at the mailbox's pace — the first goes at once, the next stays queued until its slot
frees, then goes."""

from __future__ import annotations

from datetime import timedelta

from email_world import World, now, world

__all__ = ["world"]


def test_a_mailbox_limited_to_one_a_minute_sends_the_second_message_a_minute_later(
        world: World) -> None:
    world.call("PUT", "/mailboxes/slow", world.root, 200, {
        "address": "slow@ourco.example", "send_per_minute": 1,
        "smtp_url": f"smtp://127.0.0.1:{world.smtp.port}"})
    before = len(world.smtp.messages)

    sent = [world.call("POST", f"/records/deal/{world.deal['id']}/messages", world.root, 202,
                       {"to": ["pat@acme.example"], "subject": f"Burst {n}", "body": "x",
                        "mailbox": "slow"})["data"] for n in (1, 2)]

    assert [m["status"] for m in sent] == ["sent", "queued"]
    assert [m.message["Subject"] for m in world.smtp.messages[before:]] == ["Burst 1"]

    services = world.services
    later = now() + timedelta(seconds=61)
    original = services.clock
    services.clock = lambda: later
    try:
        services.dispatcher.sweep_once(later)
    finally:
        services.clock = original
    second = world.call("GET", f"/records/email_message/{sent[1]['id']}", world.root, 200)
    assert second["data"]["status"] == "sent"
    assert [m.message["Subject"] for m in world.smtp.messages[before:]] == [
        "Burst 1", "Burst 2"]


def test_the_rate_must_be_a_positive_whole_number(world: World) -> None:
    for rate in (0, -1, 1.5, "10", True):
        problem = world.call("PUT", "/mailboxes/bad", world.root, 422, {
            "address": "bad@ourco.example", "send_per_minute": rate})
        assert [e["pointer"] for e in problem["errors"]] == ["/send_per_minute"]
    shown = world.call("PUT", "/mailboxes/fine", world.root, 200, {
        "address": "fine@ourco.example", "send_per_minute": 30})["data"]
    assert shown["send_per_minute"] == 30
