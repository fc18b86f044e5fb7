"""Metadata versions as the admin sees them: planning and applying changes, the per-document
admin API, history and restore, the reports of plans, and the cached live compiled model.
"""
