"""The record timeline: the activity feed service with its TimelineSource registry and the core
sources (audit trail, regarding records).
"""
