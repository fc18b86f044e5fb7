"""Automation: triggers that act on their own when records change or time passes.

See `actions.py` for the actions registry (the extension point for what triggers can do).
"""
