"""Calendars: a user's meetings and tasks in a time range, their iCal feed behind a token, and
task due moments kept in step on save.
"""
