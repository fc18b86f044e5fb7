"""Notifications: what a user is told about, and the bell that shows it.

A user is notified when a record is assigned to them by someone else (the `notifications`
consumer, fed from the outbox after the change commits) and when an automation's `notify`
action names them (inside the trigger's transaction). Notifications point at a record; when
they are listed, each goes through the reader's access scope, so a notification about a
record the reader cannot (or can no longer) read is not shown — not even its message.
"""
