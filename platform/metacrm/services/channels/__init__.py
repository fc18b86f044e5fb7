"""Messaging channels: the registry of providers per channel type and the messages sent over a
pack's channel from a record.
"""
