"""Notifications: what a user is told about, and the bell that shows it.

A user is notified when a record is assigned to them by someone else (the `notifications`
consumer, fed from the outbox after the change commits), when an automation's `notify`
action names them (inside the trigger's transaction), and before a record of theirs falls
due (`reminders`: the scheduler's `notifications.reminders` task, from the entities'
declared reminders). Opted-in users are mailed their unread notifications once a day
(`digest`: the `notifications.digest` task). Notifications point at a record; when they
are listed (or mailed), each goes through the reader's access scope, so a notification
about a record the reader cannot (or can no longer) read is not shown — not even its
message.
"""
